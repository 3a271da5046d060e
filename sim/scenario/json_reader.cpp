#include "scenario/json_reader.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tcpsim {

bool parse_ipv4(const std::string& s, std::uint32_t& out) {
    unsigned a, b, c, d;
    char tail;
    if (std::sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4) return false;
    if (a > 255 || b > 255 || c > 255 || d > 255) return false;
    out = (a << 24) | (b << 16) | (c << 8) | d;
    return true;
}

namespace {

std::string line_col(const std::string& text, std::size_t byte) {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return fmt::format("{}:{}", line, col);
}

}  // namespace

namespace {

// RFC 6901: "~" and "/" in a key are escaped in a JSON pointer.
std::string pointer_token(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

}  // namespace

namespace {

// The number token that starts at byte `at` of `text`.
std::string number_at(const std::string& text, std::size_t at) {
    std::size_t end = at;
    while (end < text.size() && std::strchr("+-0123456789.eE", text[end]) != nullptr && text[end] != '\0') ++end;
    return text.substr(at, end - at);
}

// Calls visit(i) for each byte i of `text` that is outside JSON strings, in order; visit
// returns true to stop there. Returns the byte it stopped at, npos if it never did.
template <class Visit>
std::size_t find_outside_strings(const std::string& text, Visit visit) {
    bool quoted = false, escaped = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (visit(i)) {
            return i;
        }
    }
    return std::string::npos;
}

// The byte where the first number starts that a double cannot hold (its value would be
// infinite), npos if none does. (A token's later digits are looked at again: harmless.)
std::size_t first_overflowing_number(const std::string& text) {
    return find_outside_strings(text, [&](std::size_t i) {
        const char c = text[i];
        const bool starts = (c == '-' || (c >= '0' && c <= '9')) && (i == 0 || std::strchr("+-0123456789.eE", text[i - 1]) == nullptr);
        return starts && std::isinf(std::strtod(number_at(text, i).c_str(), nullptr));
    });
}

}  // namespace

std::size_t json_too_deep(const std::string& text) {
    int depth = 0;
    return find_outside_strings(text, [&](std::size_t i) {
        const char c = text[i];
        if (c == '[' || c == '{') return ++depth > kMaxJsonDepth;
        if ((c == ']' || c == '}') && depth > 0) --depth;
        return false;
    });
}

json parse_json(const std::string& text, const std::string& name) {
    // A NUL byte would end the text early for some readers: refused wherever it is.
    if (const auto nul = text.find('\0'); nul != std::string::npos)
        throw ScenarioError(fmt::format("{}:{}: invalid JSON: a NUL byte", name, line_col(text, nul)));
    // The JSON library writes and compares documents recursively: a document nested 100,000 deep
    // overflowed the stack when the scenario was echoed into the --json output (found by fuzzing).
    if (const auto deep = json_too_deep(text); deep != std::string::npos)
        throw ScenarioError(fmt::format("{}:{}: invalid JSON: nested deeper than {} arrays and objects", name, line_col(text, deep),
                                        kMaxJsonDepth));
    // A key given twice in one object: RFC 8259 §4 leaves its meaning open and the parser would
    // keep the last silently, so it is refused with its JSON pointer. The parser's callback
    // walks the document: one frame per open object or array, with the keys seen so far or the
    // index of the element being read.
    struct Frame {
        bool object;
        std::set<std::string> keys;
        std::string key;
        std::size_t index = 0;
    };
    std::vector<Frame> open;
    auto element_done = [&] {
        if (!open.empty() && !open.back().object) ++open.back().index;
    };
    const json::parser_callback_t check = [&](int, json::parse_event_t ev, json& parsed) {
        switch (ev) {
            case json::parse_event_t::object_start: open.push_back(Frame{true, {}, {}, 0}); break;
            case json::parse_event_t::array_start: open.push_back(Frame{false, {}, {}, 0}); break;
            case json::parse_event_t::key: {
                Frame& f = open.back();
                f.key = parsed.get<std::string>();
                if (!f.keys.insert(f.key).second) {
                    std::string ptr;
                    for (const Frame& x : open) {
                        ptr += '/';
                        ptr += x.object ? pointer_token(x.key) : std::to_string(x.index);
                    }
                    throw ScenarioError(fmt::format("{}: {}: the key \"{}\" is given twice in this object", name, ptr, f.key));
                }
                break;
            }
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                open.pop_back();
                element_done();
                break;
            case json::parse_event_t::value: element_done(); break;
        }
        return true;
    };
    try {
        return json::parse(text, check);
    } catch (const json::out_of_range& e) {
        // A number beyond a double's range (1e400): the library names the number, not its place.
        const std::size_t at = first_overflowing_number(text);
        throw ScenarioError(fmt::format("{}:{}: invalid JSON: a number beyond the range of a double ({})", name,
                                        line_col(text, at == std::string::npos ? 0 : at),
                                        at == std::string::npos ? std::string(e.what()) : number_at(text, at)));
    } catch (const json::parse_error& e) {
        // e.what() is "[json.exception.parse_error.101] parse error at line L, column C: ..."
        std::string what = e.what();
        const auto colon = what.find(": ");
        const std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
        throw ScenarioError(fmt::format("{}:{}: invalid JSON: {}", name, line_col(text, e.byte == 0 ? 0 : e.byte - 1), detail));
    }
}

namespace {
// The Linux behaviours of a TCP configuration (models/tcp/config.hpp says what each one does).
void read_tcp_linux(const Reader& r, const json& obj, const std::string& ptr, tcp::TcpConfig& cfg) {
    cfg.linux_wire = r.boolean(obj, ptr, "linux_wire", cfg.linux_wire);
    cfg.sack = r.boolean(obj, ptr, "sack", cfg.sack);
    cfg.dsack = r.boolean(obj, ptr, "dsack", cfg.dsack);
    cfg.window_scaling = r.boolean(obj, ptr, "window_scaling", cfg.window_scaling);
    if (obj.contains("rmem")) {  // tcp_rmem: "min default max", bytes
        const std::string v = r.str(obj, ptr, "rmem", true);
        unsigned long long lo = 0, def = 0, hi = 0;
        char extra = 0;
        if (std::sscanf(v.c_str(), "%llu %llu %llu %c", &lo, &def, &hi, &extra) != 3 || def == 0 || hi == 0 ||
            lo > def || def > hi || hi > 0x7fffffffULL)
            r.fail(ptr + "/rmem", fmt::format("expected \"MIN DEFAULT MAX\" in bytes (MIN <= DEFAULT <= MAX), found \"{}\"", v));
        cfg.rmem_default = static_cast<std::uint32_t>(def);
        cfg.rmem_max = static_cast<std::uint32_t>(hi);
    }
    cfg.oow_ack_ratelimit = r.duration(obj, ptr, "oow_ack_ratelimit", false, cfg.oow_ack_ratelimit);
    cfg.syn_recv_resends_synack = r.boolean(obj, ptr, "syn_recv_resends_synack", cfg.syn_recv_resends_synack);
    cfg.fin_ack_delay_no_data = r.duration(obj, ptr, "fin_ack_delay_no_data", false, cfg.fin_ack_delay_no_data);
    cfg.fin_ack_delay = r.duration(obj, ptr, "fin_ack_delay", false, cfg.fin_ack_delay);
    cfg.data_after_close_reset_replies =
        r.boolean(obj, ptr, "data_after_close_reset_replies", cfg.data_after_close_reset_replies);
    cfg.rto_min_adds_to_srtt = r.boolean(obj, ptr, "rto_min_adds_to_srtt", cfg.rto_min_adds_to_srtt);
    cfg.synack_text_dropped = r.boolean(obj, ptr, "synack_text_dropped", cfg.synack_text_dropped);
    cfg.handshake_rtt_sample = r.boolean(obj, ptr, "handshake_rtt_sample", cfg.handshake_rtt_sample);
    cfg.syn_expiry_by_time = r.boolean(obj, ptr, "syn_expiry_by_time", cfg.syn_expiry_by_time);
    cfg.drop_synfin_only_opening = r.boolean(obj, ptr, "drop_synfin_only_opening", cfg.drop_synfin_only_opening);
}
}  // namespace

void read_tcp(const Reader& r, const json& obj, const std::string& ptr, tcp::TcpConfig& cfg) {
    r.only_keys(obj, ptr,
                {"msl", "time_wait", "fin_timeout", "rto_initial", "rto_min", "rto_max", "syn_retries", "syn_linear_timeouts", "syn_sent_bad_ack_retry",
                 "synack_retries", "retries", "mss", "rcv_buffer", "timestamps", "ts_required", "rfc5961", "rfc5961_rst", "rfc5961_syn",
                 "drop_synfin", "syn_options", "time_wait_input", "resend_fin_in_acks", "rcv_buffer_rounds_to_mss", "bsd_input", "listen_ignores_syn_ack",
                 "rst_in_time_wait", "syn_in_time_wait", "abort_rst_with_ack", "handshake_timeout", "linux_wire", "sack",
                 "dsack", "window_scaling", "rmem", "oow_ack_ratelimit", "syn_recv_resends_synack", "fin_ack_delay_no_data",
                 "fin_ack_delay", "data_after_close_reset_replies", "rto_min_adds_to_srtt", "synack_text_dropped", "handshake_rtt_sample", "syn_expiry_by_time", "drop_synfin_only_opening"});
    read_tcp_linux(r, obj, ptr, cfg);
    cfg.handshake_timeout = r.duration(obj, ptr, "handshake_timeout", false, cfg.handshake_timeout);
    cfg.msl = r.duration(obj, ptr, "msl", false, cfg.msl);
    cfg.time_wait = r.duration(obj, ptr, "time_wait", false, cfg.time_wait);
    cfg.fin_wait2_timeout = r.duration(obj, ptr, "fin_timeout", false, cfg.fin_wait2_timeout);
    cfg.rto_initial = r.duration(obj, ptr, "rto_initial", false, cfg.rto_initial);
    cfg.rto_min = r.duration(obj, ptr, "rto_min", false, cfg.rto_min);
    cfg.rto_max = r.duration(obj, ptr, "rto_max", false, cfg.rto_max);
    cfg.syn_retries = static_cast<int>(r.uint(obj, ptr, "syn_retries", false, static_cast<std::uint64_t>(cfg.syn_retries), 255));
    cfg.syn_sent_bad_ack_retry = r.duration(obj, ptr, "syn_sent_bad_ack_retry", false, cfg.syn_sent_bad_ack_retry);
    cfg.syn_linear_timeouts = static_cast<int>(r.uint(obj, ptr, "syn_linear_timeouts", false, static_cast<std::uint64_t>(cfg.syn_linear_timeouts), 255));
    cfg.synack_retries = static_cast<int>(r.uint(obj, ptr, "synack_retries", false, static_cast<std::uint64_t>(cfg.synack_retries), 255));
    cfg.data_retries = static_cast<int>(r.uint(obj, ptr, "retries", false, static_cast<std::uint64_t>(cfg.data_retries), 255));
    cfg.mss = static_cast<std::uint16_t>(r.uint(obj, ptr, "mss", false, cfg.mss, 65535));
    if (cfg.mss == 0) r.fail(ptr + "/mss", "the MSS must be at least 1");
    cfg.rcv_buffer = static_cast<std::uint32_t>(r.uint(obj, ptr, "rcv_buffer", false, cfg.rcv_buffer, 1u << 30));
    cfg.timestamps = r.boolean(obj, ptr, "timestamps", cfg.timestamps);
    if (obj.contains("rfc5961")) cfg.rfc5961_rst = cfg.rfc5961_syn = r.boolean(obj, ptr, "rfc5961", true);
    cfg.rfc5961_rst = r.boolean(obj, ptr, "rfc5961_rst", cfg.rfc5961_rst);
    cfg.rfc5961_syn = r.boolean(obj, ptr, "rfc5961_syn", cfg.rfc5961_syn);
    cfg.drop_synfin = r.boolean(obj, ptr, "drop_synfin", cfg.drop_synfin);
    cfg.syn_options = r.boolean(obj, ptr, "syn_options", cfg.syn_options);
    cfg.resend_fin_in_acks = r.boolean(obj, ptr, "resend_fin_in_acks", cfg.resend_fin_in_acks);
    cfg.bsd_input = r.boolean(obj, ptr, "bsd_input", cfg.bsd_input);
    cfg.listen_ignores_syn_ack = r.boolean(obj, ptr, "listen_ignores_syn_ack", cfg.listen_ignores_syn_ack);
    cfg.rcv_buffer_rounds_to_mss = r.boolean(obj, ptr, "rcv_buffer_rounds_to_mss", cfg.rcv_buffer_rounds_to_mss);
    if (obj.contains("time_wait_input")) {
        const std::string v = r.str(obj, ptr, "time_wait_input", true);
        if (v == "rfc9293") cfg.time_wait_input = tcp::TimeWaitInput::Rfc9293;
        else if (v == "freebsd") cfg.time_wait_input = tcp::TimeWaitInput::FreeBsd;
        else if (v == "xnu") cfg.time_wait_input = tcp::TimeWaitInput::Xnu;
        else r.fail(ptr + "/time_wait_input", fmt::format("expected \"rfc9293\", \"freebsd\" or \"xnu\", found \"{}\"", v));
    }
    cfg.ts_required = r.boolean(obj, ptr, "ts_required", cfg.ts_required);
    cfg.abort_rst_with_ack = r.boolean(obj, ptr, "abort_rst_with_ack", cfg.abort_rst_with_ack);
    if (obj.contains("rst_in_time_wait")) {
        const std::string v = r.str(obj, ptr, "rst_in_time_wait", true);
        if (v == "close") cfg.rst_in_time_wait = tcp::RstInTimeWait::Close;
        else if (v == "ignore") cfg.rst_in_time_wait = tcp::RstInTimeWait::Ignore;
        else r.fail(ptr + "/rst_in_time_wait", fmt::format("expected \"close\" or \"ignore\", found \"{}\"", v));
    }
    if (obj.contains("syn_in_time_wait")) {
        const std::string v = r.str(obj, ptr, "syn_in_time_wait", true);
        if (v == "rfc9293") cfg.syn_in_time_wait = tcp::SynInTimeWait::Rfc9293;
        else if (v == "never") cfg.syn_in_time_wait = tcp::SynInTimeWait::Never;
        else r.fail(ptr + "/syn_in_time_wait", fmt::format("expected \"rfc9293\" or \"never\", found \"{}\"", v));
    }
    if (cfg.rto_min > cfg.rto_max) r.fail(ptr + "/rto_min", "rto_min is larger than rto_max");
    if (cfg.rto_initial.count() <= 0) r.fail(ptr + "/rto_initial", "rto_initial must be positive");
    if (cfg.msl.count() <= 0) r.fail(ptr + "/msl", "msl must be positive");
}

std::string unknown_name(const std::string& what, const std::string& name, const std::vector<std::string>& known) {
    std::string list;
    for (std::size_t i = 0; i < known.size() && i < 12; ++i) list += fmt::format("{}{}", i ? ", " : "", known[i]);
    if (known.size() > 12) list += fmt::format(", ... ({} in all)", known.size());
    return fmt::format("no {} named \"{}\"{} ({})", what, name, did_you_mean(name, known),
                       known.empty() ? std::string("there are none") : "known: " + list);
}

}  // namespace tcpsim
