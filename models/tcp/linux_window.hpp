// Linux's receive window (net/ipv4/tcp_output.c, include/net/tcp.h), as plain arithmetic: the
// window and shift a connection starts with, and the window each later segment offers.
// Checked against the live kernel by ../shared/conformance/linux-packetdrill (SYN,ACK 64240 without
// timestamps and 65160 with them, wscale 10 with tcp_rmem[2] = 32 MiB and 8 with 15 MiB, win 63
// for 64240 bytes at shift 10, 64239 after a FIN, 64230 after 10 unread bytes).
#pragma once

#include "tcp/config.hpp"
#include "tcp/seq.hpp"

#include <cstdint>

namespace tcpsim::tcp {

// tcp_full_space() of a new socket: tcp_win_from_space(tcp_rmem[1]) at the default scaling
// ratio TCP_DEFAULT_SCALING_RATIO = 1 << (TCP_RMEM_TO_WIN_SCALE - 1), i.e. half the buffer.
[[nodiscard]] constexpr std::uint32_t linux_full_space(const TcpConfig& cfg) { return cfg.rmem_default / 2; }

struct LinuxInitialWindow {
    std::uint32_t rcv_wnd = 0;  // the window the SYN or SYN,ACK offers (never scaled)
    std::uint8_t wscale = 0;    // our shift, offered when wscale_ok
};

// tcp_select_initial_window(): the full space rounded down to a multiple of `mss` (the MSS less
// the timestamp option when timestamps are in use), at most 65535; the shift that lets the
// largest possible buffer (tcp_rmem[2], net.core.rmem_max) be offered: ilog2(space) - 15, 0 to 14.
[[nodiscard]] LinuxInitialWindow linux_initial_window(const TcpConfig& cfg, std::uint32_t mss, bool wscale_ok);

// What tcp_select_window() needs to know and keeps.
struct LinuxWindowState {
    std::uint32_t adv_wnd = 0;       // tp->rcv_wnd: the window last offered, in bytes
    Seq rcv_wup = 0;                 // tp->rcv_wup: RCV.NXT when it was offered
    Seq rcv_nxt = 0;
    std::uint32_t rcv_ssthresh = 0;  // the most the window may offer (tp->rcv_ssthresh)
    std::uint32_t free_space = 0;    // the receive buffer's room (tcp_space())
    std::uint32_t rcv_mss = 536;     // icsk_ack.rcv_mss (tcp_initialize_rcv_mss(): at most 536)
    std::uint8_t wscale = 0;
    // Something waits in the receive queue (unread bytes, or a FIN not read yet).
    bool queue_busy = false;
};

struct LinuxWindowChoice {
    std::uint32_t adv_wnd = 0;  // the new tp->rcv_wnd (tp->rcv_wup becomes RCV.NXT)
    std::uint32_t field = 0;    // the 16-bit window field
};

// tcp_select_window() with __tcp_select_window(): the window never moves its right edge back
// (a smaller choice is replaced by the current window, tcp_receive_window()); without scaling it
// stays where it was unless it is over the free space or an MSS below it (then the free space
// rounded down to an MSS); with scaling it is the free space rounded up to the shift's unit.
// While a segment waits in the receive queue its skb's truesize keeps the free space below the
// current window (on packetdrill's tun device every queued skb costs more than 2.5 KB of
// buffer), so the current window is offered: that is why 10 unread bytes make 64240 64230.
[[nodiscard]] LinuxWindowChoice linux_select_window(const LinuxWindowState& s);

}  // namespace tcpsim::tcp
