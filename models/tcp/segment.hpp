// A TCP segment at the level tcpsim simulates: header fields, the MSS and timestamp options, and
// a payload length (byte counts only, no content). RFC 9293 §3.1; RFC 7323 §3 (timestamps).
#pragma once

#include "tcp/seq.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tcpsim::tcp {

// An IPv4 address and port.
struct SockAddr {
    std::uint32_t ip = 0;
    std::uint16_t port = 0;
    constexpr auto operator<=>(const SockAddr&) const = default;
};

std::string format_ip(std::uint32_t ip);
std::string format_addr(const SockAddr& a);

namespace flag {
inline constexpr std::uint8_t Fin = 0x01;
inline constexpr std::uint8_t Syn = 0x02;
inline constexpr std::uint8_t Rst = 0x04;
inline constexpr std::uint8_t Psh = 0x08;
inline constexpr std::uint8_t Ack = 0x10;
}  // namespace flag

struct SackBlock {
    Seq start = 0;
    Seq end = 0;
};
// Four blocks fit the 40 bytes of options (three beside the timestamps; RFC 2018 §3).
inline constexpr std::size_t kMaxSackBlocks = 4;

struct Segment {
    SockAddr src;
    SockAddr dst;
    Seq seq = 0;
    Seq ack = 0;
    std::uint32_t wnd = 0;
    std::uint32_t len = 0;      // payload bytes
    std::uint32_t tsval = 0;    // valid when has_ts
    std::uint32_t tsecr = 0;
    std::uint16_t mss = 0;      // 0: no MSS option
    std::uint8_t flags = 0;
    bool has_ts = false;
    // RFC 7323 §2 window scale option (kNoWscale: absent) and RFC 2018 SACK-permitted, in SYNs.
    std::uint8_t wscale = kNoWscale;
    bool sack_ok = false;
    // SACK blocks (RFC 2018 §3; a D-SACK block first, RFC 2883 §4): sack_n of them.
    std::uint8_t sack_n = 0;
    std::array<SackBlock, kMaxSackBlocks> sack{};

    static constexpr std::uint8_t kNoWscale = 0xFF;
    [[nodiscard]] bool has_wscale() const { return wscale != kNoWscale; }
    [[nodiscard]] bool has_sack_block() const { return sack_n > 0; }

    [[nodiscard]] bool syn() const { return (flags & flag::Syn) != 0; }
    [[nodiscard]] bool ack_set() const { return (flags & flag::Ack) != 0; }
    [[nodiscard]] bool fin() const { return (flags & flag::Fin) != 0; }
    [[nodiscard]] bool rst() const { return (flags & flag::Rst) != 0; }
    // SEG.LEN: payload plus one for SYN and one for FIN (RFC 9293 §3.4).
    [[nodiscard]] std::uint32_t seg_len() const { return len + (syn() ? 1 : 0) + (fin() ? 1 : 0); }
};

// packetdrill/tcpdump-like flag spelling: "S", "S.", ".", "F.", "R", "R.", "P.", "FP." ...
std::string format_flags(std::uint8_t flags);
// Parses the spelling above; returns false on an unknown character.
bool parse_flags(const std::string& text, std::uint8_t& out);
// "S. 5000:5000(0) ack 1001 win 65535 <mss 1460,TS val 7 ecr 3>", absolute sequence numbers.
// The options are listed in the order Linux writes them (tcp_options_write()) when the segment
// has sackOK, wscale or a SACK block, else as "mss, TS".
std::string format_segment(const Segment& s);
// The option list alone, without the angle brackets ("" when the segment has none).
std::string format_options(const Segment& s);

}  // namespace tcpsim::tcp
