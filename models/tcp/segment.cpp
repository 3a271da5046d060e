#include "tcp/segment.hpp"

#include <fmt/format.h>

namespace tcpsim::tcp {

std::string format_ip(std::uint32_t ip) {
    return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xFF, (ip >> 8) & 0xFF, ip & 0xFF);
}

std::string format_addr(const SockAddr& a) { return fmt::format("{}:{}", format_ip(a.ip), a.port); }

std::string format_flags(std::uint8_t f) {
    std::string s;
    if (f & flag::Fin) s += 'F';
    if (f & flag::Syn) s += 'S';
    if (f & flag::Rst) s += 'R';
    if (f & flag::Psh) s += 'P';
    if (f & flag::Ack) s += '.';
    return s;
}

bool parse_flags(const std::string& text, std::uint8_t& out) {
    out = 0;
    for (char c : text) {
        switch (c) {
            case 'F': out |= flag::Fin; break;
            case 'S': out |= flag::Syn; break;
            case 'R': out |= flag::Rst; break;
            case 'P': out |= flag::Psh; break;
            case '.': out |= flag::Ack; break;
            default: return false;
        }
    }
    return !text.empty();
}

std::string format_segment(const Segment& s) {
    std::string out = fmt::format("{} {}:{}({})", format_flags(s.flags), s.seq, s.seq + s.len, s.len);
    if (s.ack_set()) out += fmt::format(" ack {}", s.ack);
    out += fmt::format(" win {}", s.wnd);
    if (s.mss != 0 || s.has_ts) {
        out += " <";
        if (s.mss != 0) out += fmt::format("mss {}", s.mss);
        if (s.mss != 0 && s.has_ts) out += ",";
        if (s.has_ts) out += fmt::format("TS val {} ecr {}", s.tsval, s.tsecr);
        out += ">";
    }
    return out;
}

}  // namespace tcpsim::tcp
