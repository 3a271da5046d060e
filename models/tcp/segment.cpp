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

std::string format_options(const Segment& s) {
    std::string out;
    auto add = [&](const std::string& o) { out += (out.empty() ? "" : ",") + o; };
    if (!s.sack_ok && !s.has_wscale() && !s.has_sack_block()) {
        if (s.mss != 0) add(fmt::format("mss {}", s.mss));
        if (s.has_ts) add(fmt::format("TS val {} ecr {}", s.tsval, s.tsecr));
        return out;
    }
    // Linux tcp_options_write(): MSS; SACK-permitted in the two bytes before the timestamps (or
    // after two NOPs without them); NOP and window scale; NOP, NOP and the SACK blocks.
    if (s.mss != 0) add(fmt::format("mss {}", s.mss));
    if (s.has_ts) {
        add(s.sack_ok ? "sackOK" : "nop,nop");
        add(fmt::format("TS val {} ecr {}", s.tsval, s.tsecr));
    } else if (s.sack_ok) {
        add("nop,nop,sackOK");
    }
    if (s.has_wscale()) add(fmt::format("nop,wscale {}", s.wscale));
    if (s.has_sack_block()) {
        std::string blocks;
        for (std::size_t i = 0; i < s.sack_n; ++i) blocks += fmt::format(" {}:{}", s.sack[i].start, s.sack[i].end);
        add("nop,nop,sack" + blocks);
    }
    return out;
}

std::string format_segment(const Segment& s) {
    std::string out = fmt::format("{} {}:{}({})", format_flags(s.flags), s.seq, s.seq + s.len, s.len);
    if (s.ack_set()) out += fmt::format(" ack {}", s.ack);
    out += fmt::format(" win {}", s.wnd);
    const std::string opts = format_options(s);
    if (!opts.empty()) out += " <" + opts + ">";
    return out;
}

}  // namespace tcpsim::tcp
