#include "pkt/script.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <utility>

namespace tcpsim::pkt {

namespace {

// The grammar cited below is packetdrill's parser.y and lexer.l (google/packetdrill, and the
// nplab/packetdrill fork the FreeBSD suite runs with).
[[noreturn]] void unsupported(int lineno, const std::string& why) { throw Unsupported{lineno, why}; }
[[noreturn]] void syntax(int lineno, const std::string& why) { throw SyntaxError{lineno, why}; }

std::string trim(const std::string& s) {
    std::size_t a = 0, b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return s.substr(a, b - a);
}

// A piece of the script in a message: quoted, bytes that are not printable ASCII as \xHH, and
// at most 40 characters of it (a line of binary junk stays one readable line).
std::string quote(const std::string& s) {
    std::string out = "\"";
    std::size_t shown = 0;
    for (char c : s) {
        if (++shown > 40) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') out += fmt::format("\\x{:02x}", u);
        else out += c;
    }
    return out + "\"";
}

std::string first_word(const std::string& s) {
    const std::string t = trim(s);
    return t.substr(0, t.find_first_of(" \t"));
}

bool is_identifier(const std::string& s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

// Removes // and /* */ comments, keeping line breaks so line numbers stay right. A /* that is
// never closed is not packetdrill (lexer.l: c_comment needs its */).
std::string strip_comments(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    bool block = false, backtick = false;
    int line = 1, block_line = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const char n = i + 1 < text.size() ? text[i + 1] : '\0';
        if (c == '\n') ++line;
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
            block_line = line;
            ++i;
            continue;
        }
        if (!backtick && c == '/' && n == '/') {
            while (i < text.size() && text[i] != '\n') ++i;
            if (i < text.size()) ++line;
            out += '\n';
            continue;
        }
        out += c;
    }
    if (block) syntax(block_line, "a /* comment that is never closed with */");
    return out;
}

enum class Num : std::uint8_t { Ok, NotANumber, TooBig };

// A decimal or 0x number no larger than max.
Num parse_num(const std::string& s, std::uint64_t max, std::uint32_t& out) {
    if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return Num::NotANumber;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (*end != '\0') return Num::NotANumber;
    if (errno == ERANGE || v > max) return Num::TooBig;
    out = static_cast<std::uint32_t>(v);
    return Num::Ok;
}

// A number the script must get right: anything else is not packetdrill (parser.y checks each
// field's range: is_valid_u32/u16/u8).
std::uint32_t number(const std::string& s, std::uint64_t max, int lineno, const std::string& what) {
    std::uint32_t v = 0;
    if (is_identifier(s))  // a name packetdrill replaces by its value (--define=MSS=1460, -D MSS=1460)
        unsupported(lineno, fmt::format("{} \"{}\" (a symbol defined with --define)", what, s));
    switch (parse_num(s, max, v)) {
        case Num::Ok: return v;
        case Num::NotANumber: syntax(lineno, fmt::format("{}: {} is not a number", what, quote(s)));
        case Num::TooBig: syntax(lineno, fmt::format("{}: {} is out of range (at most {})", what, quote(s), max));
    }
    return v;
}

// packetdrill's INTEGER or FLOAT (lexer.l), without a sign: "12", "12.345", ".5".
bool is_time_syntax(const std::string& s) {
    bool digits = false, dot = false;
    for (char c : s) {
        if (c == '.' && !dot) dot = true;
        else if (std::isdigit(static_cast<unsigned char>(c))) digits = true;
        else return false;
    }
    return digits;
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

// The event time (parser.y event_time): "12.3", "+0.1", "*"; ranges "1~2" and "+1~+2" are
// packetdrill the harness does not run.
void parse_time(const std::string& ts, int lineno, ScriptLine& ev) {
    if (ts == "*") {
        ev.time_kind = TimeKind::Any;
        return;
    }
    if (const auto tilde = ts.find('~'); tilde != std::string::npos) {
        // parser.y event_time: "time '~' time" (absolute) or "'+' time '~' '+' time" (relative).
        std::string a = ts.substr(0, tilde), b = ts.substr(tilde + 1);
        const bool rel = !a.empty() && a[0] == '+';
        if (rel && !b.empty() && b[0] == '+') {
            a.erase(0, 1);
            b.erase(0, 1);
        }
        if (!is_time_syntax(a) || !is_time_syntax(b))
            syntax(lineno, fmt::format("time {} is not a time or a time range", quote(ts)));
        if (!parse_seconds(a, ev.time_us) || !parse_seconds(b, ev.time_end_us))
            unsupported(lineno, fmt::format("time \"{}\" is 10^8 s or more", ts));
        if (ev.time_end_us < ev.time_us)
            syntax(lineno, fmt::format("time range {} ends before it starts", quote(ts)));
        ev.time_kind = rel ? TimeKind::Relative : TimeKind::Absolute;
        return;
    }
    const bool rel = ts[0] == '+';
    const std::string num = rel ? ts.substr(1) : ts;
    ev.time_kind = rel ? TimeKind::Relative : TimeKind::Absolute;
    if (!is_time_syntax(num)) syntax(lineno, fmt::format("time {} is not a number of seconds", quote(ts)));
    if (!parse_seconds(num, ev.time_us)) unsupported(lineno, fmt::format("time \"{}\" is 10^8 s or more", ts));
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

// One of the TCP options between < and > (parser.y tcp_option).
PktOption parse_option(const std::string& item, int lineno) {
    std::istringstream in(item);
    PktOption o;
    in >> o.kind;
    std::string v, extra;
    if (o.kind.empty()) syntax(lineno, "an empty TCP option between commas");
    if (o.kind == "mss" || o.kind == "wscale") {
        in >> v;
        o.value = number(v, o.kind == "mss" ? 0xFFFF : 0xFF, lineno, fmt::format("TCP option {}", o.kind));
    } else if (o.kind == "TS") {
        std::string val, v1, ecr, v2;
        in >> val >> v1 >> ecr >> v2;
        if (val != "val" || ecr != "ecr" || v1.empty() || v2.empty())
            syntax(lineno, fmt::format("TCP option {}: expected \"TS val N ecr N\"", quote(item)));
        if (v1 == "*" || v2.back() == '!') unsupported(lineno, fmt::format("TCP option {}", quote(item)));
        o.value = number(v1, 0xFFFFFFFF, lineno, "TS val");
        o.value2 = number(v2, 0xFFFFFFFF, lineno, "TS ecr");
    } else if (o.kind == "sack") {
        // parser.y sack_block_list: "sack start:end start:end ..." (at least one block).
        std::string block;
        while (in >> block) {
            const auto colon = block.find(':');
            if (colon == std::string::npos) syntax(lineno, fmt::format("TCP option {}: expected sack START:END", quote(item)));
            o.blocks.emplace_back(number(block.substr(0, colon), 0xFFFFFFFF, lineno, "SACK block start"),
                                  number(block.substr(colon + 1), 0xFFFFFFFF, lineno, "SACK block end"));
        }
        if (o.blocks.empty()) syntax(lineno, fmt::format("TCP option {}: expected sack START:END", quote(item)));
        if (o.blocks.size() > 4) syntax(lineno, fmt::format("TCP option {}: more than 4 SACK blocks", quote(item)));
    } else if (o.kind == "nop" || o.kind == "eol" || o.kind == "sackOK" || o.kind == "...") {
        // no value ("<...>": any options, parser.y opt_tcp_options ELLIPSIS)
    } else {
        // md5, FO, gen-N, exp-N, AccECN, a raw hex blob: packetdrill, not modelled.
        bool word = true;
        for (char c : o.kind)
            word = word && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
        if (!word) syntax(lineno, fmt::format("TCP option {} is not an option", quote(item)));
        unsupported(lineno, fmt::format("TCP option \"{}\"", item));
    }
    if (in >> extra) syntax(lineno, fmt::format("TCP option {}: {} after it", quote(item), quote(extra)));
    return o;
}

std::vector<PktOption> parse_options(const std::string& body, int lineno) {
    if (trim(body).empty()) syntax(lineno, "empty TCP options <>");
    std::vector<PktOption> opts;
    for (const std::string& item : split_top_level(body, ',')) opts.push_back(parse_option(item, lineno));
    return opts;
}

// The first word after < or >: TCP flags (tcp_packet.c valid_tcp_flags, upper case), or the
// start of a packet the harness does not run: a lower-case keyword (udp, icmp, sctp, gre, encap,
// ...: packetdrill's keywords are lower case, and newer versions add more), IP information
// in () or [], or ports.
void check_flags(const std::string& flags, int lineno) {
    if (flags.find_first_not_of("SFRP.") == std::string::npos) return;
    if (flags.find_first_not_of(".FSRPEWAU01234567-") == std::string::npos)
        unsupported(lineno, fmt::format("TCP flags \"{}\" (ECN, URG and AccECN are not modelled)", flags));
    std::size_t w = 0;
    while (w < flags.size() && std::islower(static_cast<unsigned char>(flags[w]))) ++w;
    if (w > 0) unsupported(lineno, fmt::format("a packet that is not plain TCP ({})", flags.substr(0, w)));
    if (flags[0] == '(' || flags[0] == '[') unsupported(lineno, fmt::format("IP information {}", quote(flags)));
    if (std::isdigit(static_cast<unsigned char>(flags[0])) && flags.find('>') != std::string::npos)
        unsupported(lineno, fmt::format("port numbers {}", quote(flags)));
    syntax(lineno, fmt::format("expected TCP flags (S, F, R, P, .) after the direction, found {}", quote(flags)));
}

// "seq:end(len)", "...(len)", or "seq:end(len)!" (absolute, not run); parser.y seq.
void parse_seq(const std::string& tok, int lineno, PktSegment& seg) {
    if (tok.back() == '!') unsupported(lineno, fmt::format("absolute sequence numbers {}", quote(tok)));
    const auto paren = tok.find('(');
    if (paren == std::string::npos || tok.back() != ')')
        syntax(lineno, fmt::format("expected sequence numbers as start:end(length) or ...(length), found {}", quote(tok)));
    seg.len = number(tok.substr(paren + 1, tok.size() - paren - 2), 0xFFFF, lineno, "TCP payload length");
    const std::string range = tok.substr(0, paren);
    if (range == "...") {
        seg.any_seq = true;
        return;
    }
    const auto colon = range.find(':');
    if (colon == std::string::npos)
        syntax(lineno, fmt::format("expected sequence numbers as start:end(length) or ...(length), found {}", quote(tok)));
    seg.seq = number(range.substr(0, colon), 0xFFFFFFFF, lineno, "TCP start sequence number");
    seg.end = number(range.substr(colon + 1), 0xFFFFFFFF, lineno, "TCP end sequence number");
    if (std::uint64_t{seg.seq} + seg.len != seg.end)
        syntax(lineno, fmt::format("inconsistent TCP sequence numbers and payload size: {} + {} is not {}", seg.seq,
                                   seg.len, seg.end));
}

PktSegment parse_packet(const std::string& rest, bool inbound, int lineno) {
    PktSegment seg;
    seg.inbound = inbound;
    std::string s = rest;
    // Options at the end: <...>
    const auto lt = s.find('<');
    if (lt != std::string::npos) {
        const auto gt = s.rfind('>');
        if (gt == std::string::npos || gt < lt) syntax(lineno, "TCP options with < and no >");
        seg.has_options = true;
        seg.options = parse_options(s.substr(lt + 1, gt - lt - 1), lineno);
        s = s.substr(0, lt);
    }
    std::istringstream in(s);
    std::string tok;
    if (!(in >> seg.flags)) syntax(lineno, "a packet without flags and sequence numbers");
    check_flags(seg.flags, lineno);
    if (!(in >> tok)) syntax(lineno, "a TCP packet without sequence numbers");
    parse_seq(tok, lineno, seg);
    while (in >> tok) {
        std::string v;
        if (tok == "ack") {
            in >> v;
            seg.ack = number(v, 0xFFFFFFFF, lineno, "TCP ack");
            seg.has_ack = true;
        } else if (tok == "win") {
            in >> v;
            seg.win = number(v, 0xFFFF, lineno, "TCP window");
            seg.has_win = true;
        } else if (tok == "urg") {
            unsupported(lineno, "an urgent pointer (urg)");
        } else {
            syntax(lineno, fmt::format("{} is not a field of a TCP packet (ack, win, <options>)", quote(tok)));
        }
    }
    return seg;
}

// parser.y syscall_spec: name(args) = result [ERRNO] [(note)].
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
    if (close == std::string::npos) syntax(lineno, fmt::format("{}( without its closing parenthesis", c.name));
    c.args = split_top_level(s.substr(open + 1, close - open - 1), ',');
    std::string rest = trim(s.substr(close + 1));
    if (rest.empty() || rest[0] != '=') syntax(lineno, fmt::format("system call {}() without \"= result\"", c.name));
    rest = trim(rest.substr(1));
    std::istringstream in(rest);
    std::string res;
    in >> res;
    if (res == "...") {
        c.result_any = true;
        return c;
    }
    errno = 0;
    char* end = nullptr;
    c.result = std::strtoll(res.c_str(), &end, 0);
    if (res.empty() || *end != '\0' || errno == ERANGE) {
        if (is_identifier(res)) unsupported(lineno, fmt::format("result \"{}\" (a symbol)", res));
        syntax(lineno, fmt::format("system call {}(): result {} is not a number", c.name, quote(res)));
    }
    if (c.result == -1) {
        std::string e;
        in >> e;
        if (e.empty() || e[0] != 'E') unsupported(lineno, "result -1 without an errno");
        c.errno_name = e;
    }
    return c;
}

// A --name=value line before the events (parser.y option; config.c options[]).
void parse_option_line(const std::string& t, int lineno, Script& sc) {
    const auto eq = t.find('=');
    const std::string name = t.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string value = eq == std::string::npos ? "" : t.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    bool word = !name.empty();
    for (char c : name) word = word && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
    if (!word) syntax(lineno, fmt::format("{} is not an option --name=value", quote(t)));
    if (name == "ip_version") {
        if (value == "ipv4-mapped-ipv6" || value == "ipv4_mapped_ipv6")
            unsupported(lineno, fmt::format("--ip_version={}", value));
        if (value != "ipv4" && value != "ipv6")
            syntax(lineno, fmt::format("--ip_version={}: expected ipv4, ipv4-mapped-ipv6 or ipv6", quote(value)));
        sc.ip_version = value;
    } else if (name == "mss") {
        // config.c --mss: the MSS packetdrill uses to split the kernel's TSO/GSO super-packets
        // into the segments the script expects; the simulated host sends MSS-sized segments
        // already, so the value changes nothing here.
        number(value, 0xFFFF, lineno, "--mss");
    } else if (name == "tolerance_usecs") {
        if (is_identifier(value)) syntax(lineno, fmt::format("--tolerance_usecs={} is not a number", quote(value)));
        sc.tolerance_us = number(value, 0xFFFFFFFF, lineno, "--tolerance_usecs");
    } else {
        unsupported(lineno, fmt::format("option --{}", name));
    }
}

// Whether an event goes on to the next line: it leaves a bracket open ((), [] or {} outside
// "strings", or a packet's <options without the closing >), ends in ',' or ';' (SCTP chunks),
// or is a system call whose "= result" is still to come. `Commands` and %{ code }% have their
// own ends.
bool open_statement(const std::string& t) {
    if (t.find('`') != std::string::npos || t.find("%{") != std::string::npos) return false;
    if (t.back() == ',' || t.back() == ';') return true;
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        if (c == '"' && (i == 0 || t[i - 1] != '\\')) quoted = !quoted;
        if (quoted) continue;
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') --depth;
    }
    if (depth > 0 || quoted) return true;
    const auto start = t.find_first_not_of(" \t+*.~0123456789");
    if (start == std::string::npos) return false;
    if (t[start] == '<' || t[start] == '>') {
        const auto lt = t.find('<', start + 1);
        return lt != std::string::npos && t.find('>', lt) == std::string::npos;
    }
    const auto open = t.find('(', start);
    if (open == std::string::npos || !is_identifier(trim(t.substr(start, open - start)))) return false;
    int level = 0;  // name(args) and no "= result" yet: the call's ')' ends the line
    for (std::size_t i = open; i < t.size(); ++i) {
        if (t[i] == '(') ++level;
        if (t[i] == ')' && --level == 0) return i + 1 == t.size();
    }
    return false;
}

struct Parser {
    explicit Parser(const std::set<std::string>& d) : defines(d) {}
    const std::set<std::string>& defines;
    Script sc;
    // Preprocessor stack: whether each enclosing block is active, and whether #else is allowed.
    std::vector<std::pair<bool, bool>> stack;  // (active, parent_active)
    std::vector<int> stack_lines;              // where each #ifdef was
    std::string python;
    int python_line = 0, command_line = 0;
    bool in_python = false;
    ScriptLine python_event;
    int inactive_lines = 0;  // lines left out by #ifdef
    std::string pending;     // an event over several lines, so far
    int pending_line = 0;

    bool active() const { return stack.empty() || stack.back().first; }
    void directive(const std::string& t, int lineno);
    void line(const std::string& raw, int lineno);
    void event(const std::string& t, int lineno);
};

// nplab's lexer.l knows #ifdef NAME ... #endif; #ifndef, #else and nesting are this harness's.
void Parser::directive(const std::string& t, int lineno) {
    std::istringstream d(t);
    std::string dir, sym;
    d >> dir >> sym;
    if (dir == "#ifdef" || dir == "#ifndef") {
        if (!is_identifier(sym)) syntax(lineno, fmt::format("{} must be followed by a name", dir));
        const bool def = defines.count(sym) > 0;
        const bool on = dir == "#ifdef" ? def : !def;
        stack.emplace_back(active() && on, active());
        stack_lines.push_back(lineno);
    } else if (dir == "#else") {
        if (stack.empty()) syntax(lineno, "#else without #ifdef");
        stack.back().first = stack.back().second && !stack.back().first;
    } else if (dir == "#endif") {
        if (stack.empty()) syntax(lineno, "#endif without #ifdef");
        stack.pop_back();
        stack_lines.pop_back();
    } else {
        syntax(lineno, fmt::format("{} is not a directive (#ifdef, #ifndef, #else, #endif)", quote(dir)));
    }
}

void Parser::line(const std::string& raw, int lineno) {
    const std::string t = trim(raw);
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
        return;
    }
    if (command_line != 0) {  // inside a command over several lines (already reported)
        if (t.find('`') != std::string::npos) command_line = 0;
        return;
    }
    if (t.empty()) return;
    if (t[0] == '#') return directive(t, lineno);
    if (!active()) {
        ++inactive_lines;
        return;
    }
    if (t.rfind("--", 0) == 0) return parse_option_line(t, lineno, sc);
    if (pending_line != 0) {
        pending += " " + t;
        if (open_statement(pending)) return;
        const int at = std::exchange(pending_line, 0);
        return event(std::exchange(pending, {}), at);
    }
    if (t[0] == '`') {  // parser.y init_command / cleanup_command: a command without a time
        if (t.size() == 1 || t.find('`', 1) == std::string::npos) {
            command_line = lineno;
            unsupported(lineno, "a command over several lines");
        }
        ScriptLine ev;
        ev.lineno = lineno;
        ev.text = t;
        ev.kind = LineKind::Command;
        ev.untimed = true;
        ev.time_kind = TimeKind::Relative;  // no time of its own: it runs at the current time
        ev.command = t.substr(1, t.find('`', 1) - 1);
        if (!trim(t.substr(t.find('`', 1) + 1)).empty())
            syntax(lineno, fmt::format("{} after the command's closing `", quote(trim(t.substr(t.find('`', 1) + 1)))));
        sc.lines.push_back(ev);
        return;
    }
    // Newlines are white space to packetdrill (lexer.l): a system call or packet goes on while
    // its brackets are open.
    if (open_statement(t)) {
        pending = t;
        pending_line = lineno;
        return;
    }
    event(t, lineno);
}

void Parser::event(const std::string& t, int lineno) {
    ScriptLine ev;
    ev.lineno = lineno;
    ev.text = t;
    std::size_t n = 0;  // the time ends at white space, the event, or "..." (a blocking call's end time)
    while (n < t.size() && std::string("+*.~0123456789").find(t[n]) != std::string::npos && t.compare(n, 3, "...") != 0)
        ++n;
    if (n == 0)
        syntax(lineno,
               fmt::format("expected a time (0.1, +0.1 or *) at the start of the line, found {}", quote(first_word(t))));
    parse_time(t.substr(0, n), lineno, ev);
    const std::string rest = trim(t.substr(n));
    if (rest.empty()) syntax(lineno, "a time without an event");
    if (rest[0] == '<' || rest[0] == '>') {
        ev.kind = LineKind::Packet;
        ev.seg = parse_packet(trim(rest.substr(1)), rest[0] == '<', lineno);
    } else if (rest[0] == '`') {
        const auto end = rest.rfind('`');
        if (end == 0) {
            command_line = lineno;
            unsupported(lineno, "a command over several lines");
        }
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
            return;
        }
        ev.command = trim(rest.substr(2, endp - 2));
    } else if (rest.rfind("...", 0) == 0) {
        // parser.y: "time ELLIPSIS time syscall": a blocking call and the time it returns.
        std::size_t e = 3;
        while (e < rest.size() && std::string(".0123456789").find(rest[e]) != std::string::npos) ++e;
        const std::string end = rest.substr(3, e - 3);
        if (!is_time_syntax(end)) syntax(lineno, fmt::format("a blocking call's end time {} is not a time", quote(end)));
        if (!parse_seconds(end, ev.block_end_us)) unsupported(lineno, fmt::format("time \"{}\" is 10^8 s or more", end));
        const std::string call = trim(rest.substr(e));
        const auto open = call.find('(');
        if (open == std::string::npos || !is_identifier(trim(call.substr(0, open))))
            syntax(lineno, fmt::format("a blocking end time must be followed by a system call, found {}", quote(call)));
        ev.kind = LineKind::Syscall;
        ev.call = parse_syscall(call, lineno);
    } else if (const auto open = rest.find('('); open != std::string::npos && is_identifier(trim(rest.substr(0, open)))) {
        ev.kind = LineKind::Syscall;
        ev.call = parse_syscall(rest, lineno);
    } else {
        syntax(lineno, fmt::format("expected a packet (< or >), a system call, a `command` or %{{ code }}% after the time, "
                                   "found {}",
                                   quote(rest)));
    }
    sc.lines.push_back(ev);
}

}  // namespace

Script parse_script(const std::string& raw, const std::string& path, const std::set<std::string>& defines) {
    Parser p(defines);
    p.sc.path = path;
    const std::string text = strip_comments(raw);
    std::istringstream in(text);
    std::string line;
    int lineno = 0;
    // Every line is read, past the first unsupported one: a line further down that is not
    // packetdrill makes the script an error, not a skip.
    std::optional<Unsupported> first;
    while (std::getline(in, line)) {
        ++lineno;
        try {
            p.line(line, lineno);
        } catch (const Unsupported& u) {
            if (!first) first = u;
        }
    }
    if (p.in_python) syntax(p.python_line, "a %{ code block that is never closed with }%");
    if (p.pending_line != 0) {  // the event's own parse names what is missing, if it can
        try {
            p.event(p.pending, p.pending_line);
        } catch (const Unsupported&) {  // a dangling ',' or ';' is not packetdrill, whatever came before
        }
        syntax(p.pending_line, fmt::format("a bracket opened on this line is never closed: {}", quote(p.pending)));
    }
    if (p.command_line != 0) syntax(p.command_line, "a `command that is never closed with `");
    if (!p.stack.empty()) syntax(p.stack_lines.back(), "#ifdef without #endif");
    if (first) throw *first;
    // parser.y: script needs at least one event.
    if (p.sc.lines.empty())
        syntax(0, p.inactive_lines > 0 ? "no events outside the #ifdef blocks of symbols not defined (-D)"
                                       : "no events: a packetdrill script has at least one line with a time");
    return p.sc;
}

}  // namespace tcpsim::pkt
