#include "pkt_script.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace tcpsim::pkt {

namespace {

[[noreturn]] void unsupported(int lineno, const std::string& why) { throw Unsupported{lineno, why}; }

std::string trim(const std::string& s) {
    std::size_t a = 0, b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return s.substr(a, b - a);
}

// Removes // and /* */ comments, keeping line breaks so line numbers stay right.
std::string strip_comments(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    bool block = false, backtick = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const char n = i + 1 < text.size() ? text[i + 1] : '\0';
        if (block) {
            if (c == '*' && n == '/') {
                block = false;
                ++i;
            } else if (c == '\n') {
                out += '\n';
            }
            continue;
        }
        if (c == '`') backtick = !backtick;
        if (c == '\n') backtick = false;
        if (!backtick && c == '/' && n == '*') {
            block = true;
            ++i;
            continue;
        }
        if (!backtick && c == '/' && n == '/') {
            while (i < text.size() && text[i] != '\n') ++i;
            out += '\n';
            continue;
        }
        out += c;
    }
    return out;
}

bool parse_u32(const std::string& s, std::uint32_t& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (*end != '\0' || v > 0xFFFFFFFFull) return false;
    out = static_cast<std::uint32_t>(v);
    return true;
}

// "12.345" seconds -> microseconds.
bool parse_seconds(const std::string& s, std::int64_t& us) {
    std::size_t i = 0;
    std::int64_t whole = 0, frac = 0, scale = 1;
    bool digits = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (whole >= 100'000'000) return false;  // 3 years and more: no script waits that long
        whole = whole * 10 + (s[i++] - '0');
        digits = true;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
            if (scale < 1'000'000) {
                frac = frac * 10 + (s[i] - '0');
                scale *= 10;
            }
            ++i;
            digits = true;
        }
    }
    if (!digits || i != s.size()) return false;
    us = whole * 1'000'000 + frac * (1'000'000 / scale);
    return true;
}

std::vector<std::string> split_top_level(const std::string& s, char sep) {
    std::vector<std::string> out;
    int depth = 0;
    std::string cur;
    for (char c : s) {
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') --depth;
        if (c == sep && depth == 0) {
            out.push_back(trim(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!trim(cur).empty() || !out.empty()) out.push_back(trim(cur));
    return out;
}

std::vector<PktOption> parse_options(const std::string& body, int lineno) {
    std::vector<PktOption> opts;
    for (const std::string& item : split_top_level(body, ',')) {
        std::istringstream in(item);
        std::string kind;
        in >> kind;
        PktOption o;
        o.kind = kind;
        if (kind == "mss" || kind == "wscale") {
            std::string v;
            in >> v;
            if (!parse_u32(v, o.value)) unsupported(lineno, fmt::format("option \"{}\"", item));
        } else if (kind == "TS") {
            std::string val, v1, ecr, v2;
            in >> val >> v1 >> ecr >> v2;
            if (val != "val" || ecr != "ecr" || !parse_u32(v1, o.value) || !parse_u32(v2, o.value2))
                unsupported(lineno, fmt::format("option \"{}\"", item));
        } else if (kind == "nop" || kind == "eol" || kind == "sackOK") {
            // no value
        } else {
            unsupported(lineno, fmt::format("TCP option \"{}\"", item));
        }
        opts.push_back(o);
    }
    return opts;
}

PktSegment parse_packet(const std::string& rest, bool inbound, int lineno) {
    PktSegment seg;
    seg.inbound = inbound;
    std::string s = rest;
    // Options at the end: <...>
    const auto lt = s.find('<');
    if (lt != std::string::npos) {
        const auto gt = s.rfind('>');
        if (gt == std::string::npos || gt < lt) unsupported(lineno, "unterminated TCP options");
        seg.has_options = true;
        seg.options = parse_options(s.substr(lt + 1, gt - lt - 1), lineno);
        s = s.substr(0, lt);
    }
    std::istringstream in(s);
    std::string tok;
    if (!(in >> seg.flags)) unsupported(lineno, "packet without flags");
    for (char c : seg.flags)
        if (std::string("SFRP.").find(c) == std::string::npos)
            unsupported(lineno, fmt::format("TCP flags \"{}\"", seg.flags));
    if (!(in >> tok)) unsupported(lineno, "packet without sequence numbers");
    // seq:end(len) or ...(len)
    const auto paren = tok.find('(');
    if (paren == std::string::npos || tok.back() != ')') unsupported(lineno, fmt::format("sequence \"{}\"", tok));
    if (!parse_u32(tok.substr(paren + 1, tok.size() - paren - 2), seg.len))
        unsupported(lineno, fmt::format("length in \"{}\"", tok));
    const std::string range = tok.substr(0, paren);
    if (range == "...") {
        seg.any_seq = true;
    } else {
        const auto colon = range.find(':');
        if (colon == std::string::npos || !parse_u32(range.substr(0, colon), seg.seq) ||
            !parse_u32(range.substr(colon + 1), seg.end))
            unsupported(lineno, fmt::format("sequence \"{}\"", tok));
    }
    while (in >> tok) {
        std::string v;
        if (tok == "ack") {
            in >> v;
            if (!parse_u32(v, seg.ack)) unsupported(lineno, fmt::format("ack \"{}\"", v));
            seg.has_ack = true;
        } else if (tok == "win") {
            in >> v;
            if (!parse_u32(v, seg.win)) unsupported(lineno, fmt::format("win \"{}\"", v));
            seg.has_win = true;
        } else {
            unsupported(lineno, fmt::format("packet field \"{}\"", tok));
        }
    }
    return seg;
}

Syscall parse_syscall(const std::string& s, int lineno) {
    Syscall c;
    const auto open = s.find('(');
    c.name = trim(s.substr(0, open));
    int depth = 0;
    std::size_t close = std::string::npos;
    for (std::size_t i = open; i < s.size(); ++i) {
        if (s[i] == '(') ++depth;
        if (s[i] == ')' && --depth == 0) {
            close = i;
            break;
        }
    }
    if (close == std::string::npos) unsupported(lineno, "unbalanced parentheses");
    c.args = split_top_level(s.substr(open + 1, close - open - 1), ',');
    std::string rest = trim(s.substr(close + 1));
    if (rest.empty() || rest[0] != '=') unsupported(lineno, "system call without an expected result");
    rest = trim(rest.substr(1));
    std::istringstream in(rest);
    std::string res;
    in >> res;
    if (res == "...") {
        c.result_any = true;
        return c;
    }
    char* end = nullptr;
    c.result = std::strtoll(res.c_str(), &end, 0);
    if (*end != '\0') unsupported(lineno, fmt::format("result \"{}\"", res));
    if (c.result == -1) {
        std::string e;
        in >> e;
        if (e.empty() || e[0] != 'E') unsupported(lineno, "result -1 without an errno");
        c.errno_name = e;
    }
    return c;
}

}  // namespace

Script parse_script(const std::string& raw, const std::string& path, const std::set<std::string>& defines) {
    Script sc;
    sc.path = path;
    const std::string text = strip_comments(raw);
    std::istringstream in(text);
    std::string line;
    int lineno = 0;
    // Preprocessor stack: whether each enclosing block is active, and whether #else is allowed.
    std::vector<std::pair<bool, bool>> stack;  // (active, parent_active)
    auto active = [&] { return stack.empty() || stack.back().first; };
    std::string python;
    int python_line = 0;
    bool in_python = false;
    ScriptLine python_event;

    while (std::getline(in, line)) {
        ++lineno;
        std::string t = trim(line);
        if (in_python) {
            const auto endp = t.find("}%");
            python.push_back(' ');
            python.append(endp == std::string::npos ? t : t.substr(0, endp));
            if (endp != std::string::npos) {
                in_python = false;
                if (active()) {
                    python_event.command = trim(python);
                    sc.lines.push_back(python_event);
                }
            }
            continue;
        }
        if (t.empty()) continue;
        if (t[0] == '#') {
            std::istringstream d(t);
            std::string dir, sym;
            d >> dir >> sym;
            if (dir == "#ifdef" || dir == "#ifndef") {
                const bool def = defines.count(sym) > 0;
                const bool on = dir == "#ifdef" ? def : !def;
                stack.emplace_back(active() && on, active());
            } else if (dir == "#else") {
                if (stack.empty()) unsupported(lineno, "#else without #ifdef");
                stack.back().first = stack.back().second && !stack.back().first;
            } else if (dir == "#endif") {
                if (stack.empty()) unsupported(lineno, "#endif without #ifdef");
                stack.pop_back();
            } else {
                unsupported(lineno, fmt::format("preprocessor directive \"{}\"", dir));
            }
            continue;
        }
        if (!active()) continue;
        if (t.rfind("--", 0) == 0) {
            const auto eq = t.find('=');
            const std::string name = t.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            const std::string value = eq == std::string::npos ? "" : t.substr(eq + 1);
            if (name == "ip_version") {
                if (value != "ipv4" && value != "ipv6") unsupported(lineno, fmt::format("--ip_version={}", value));
                sc.ip_version = value;
            } else if (name == "tolerance_usecs") {
                std::uint32_t v = 0;
                if (!parse_u32(value, v)) unsupported(lineno, fmt::format("--tolerance_usecs={}", value));
                sc.tolerance_us = v;
            } else {
                unsupported(lineno, fmt::format("option --{}", name));
            }
            continue;
        }
        // An event: a time, then a packet, a system call, a command or Python.
        ScriptLine ev;
        ev.lineno = lineno;
        ev.text = t;
        std::size_t sp = t.find_first_of(" \t");
        if (sp == std::string::npos) unsupported(lineno, fmt::format("line \"{}\"", t));
        const std::string ts = t.substr(0, sp);
        std::string rest = trim(t.substr(sp));
        if (ts == "*") {
            ev.time_kind = TimeKind::Any;
        } else if (ts[0] == '+') {
            ev.time_kind = TimeKind::Relative;
            if (!parse_seconds(ts.substr(1), ev.time_us)) unsupported(lineno, fmt::format("time \"{}\"", ts));
        } else {
            ev.time_kind = TimeKind::Absolute;
            if (!parse_seconds(ts, ev.time_us)) unsupported(lineno, fmt::format("time \"{}\"", ts));
        }
        if (rest.empty()) unsupported(lineno, "time without an event");
        if (rest[0] == '<' || rest[0] == '>') {
            ev.kind = LineKind::Packet;
            ev.seg = parse_packet(trim(rest.substr(1)), rest[0] == '<', lineno);
        } else if (rest[0] == '`') {
            const auto end = rest.rfind('`');
            if (end == 0) unsupported(lineno, "unterminated command");
            ev.kind = LineKind::Command;
            ev.command = rest.substr(1, end - 1);
        } else if (rest.rfind("%{", 0) == 0) {
            ev.kind = LineKind::Python;
            const auto endp = rest.find("}%");
            if (endp == std::string::npos) {
                in_python = true;
                python = rest.substr(2);
                python_line = lineno;
                python_event = ev;
                continue;
            }
            ev.command = trim(rest.substr(2, endp - 2));
        } else if (rest.find('(') != std::string::npos &&
                   std::isalpha(static_cast<unsigned char>(rest[0]))) {
            ev.kind = LineKind::Syscall;
            ev.call = parse_syscall(rest, lineno);
        } else {
            unsupported(lineno, fmt::format("event \"{}\"", rest));
        }
        sc.lines.push_back(ev);
    }
    if (in_python) unsupported(python_line, "unterminated %{ }% block");
    if (!stack.empty()) unsupported(lineno, "#ifdef without #endif");
    return sc;
}

}  // namespace tcpsim::pkt
