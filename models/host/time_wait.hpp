// TIME-WAIT as a mini-socket (Linux inet_timewait_sock / tcp_timewait_sock): the few fields a
// closed connection still needs, not a TCB. What a segment does to it follows Linux
// tcp_timewait_state_process() (reference/tcp-stack-semantics.md §2.3); who may take its 4-tuple
// over follows tcp_twsk_unique() (§2.5).
#pragma once

#include "host/tuple_index.hpp"
#include "tcp/segment.hpp"
#include "tcp/state.hpp"

#include <tcpsim/time.hpp>

#include <cstdint>

namespace tcpsim::host {

// 64 bytes (checked below): the issue-6 budget of 128 bytes per TIME-WAIT entry covers this,
// its slot in the 4-tuple index, its timer record and its owner entry in the port's bucket.
// Its timer deadline lives only in the timer record.
struct TimeWaitSock {
    FourTuple tuple;                             // local address and port, remote address and port
    tcp::Seq snd_nxt = 0;
    tcp::Seq rcv_nxt = 0;
    std::uint32_t rcv_wnd = 0;
    std::uint32_t ts_recent = 0;
    std::uint32_t ts_offset = 0;                 // our timestamp clock offset
    std::uint32_t generation = 0;                // bumps when the timer restarts
    bool fin_wait2 : 1 = false;                  // substate: an orphaned FIN-WAIT-2 minisock
    bool reuseaddr : 1 = false;                  // inherited SO_REUSEADDR (tw_reuse)
    bool reuseport : 1 = false;
    bool loopback : 1 = false;                   // bound to lo / a loopback address (tw_reuse=2)
    bool in_use : 1 = false;                     // the table slot holds a live entry
    // tw_recycle (<= 4.11): tw_timeout, the TIME-WAIT's length once the peer's timestamp was
    // remembered (3.5 RTO), in ms, at most 65535; 0: TCP_TIMEWAIT_LEN. tcp_time_wait() sets it,
    // and a FIN-WAIT-2 substate that gets its FIN uses it (tcp_timewait_state_process()).
    std::uint16_t recycle_timeout_ms = 0;
    SimTime ts_recent_stamp = SimTime::never();  // never: no timestamp was received
    SimTime entered;                             // tw_entry_stamp (6.14+: the reuse delay counts from here)
    SimTime last_oow_ack = SimTime::never();     // for the 500 ms out-of-window ACK rate limit

    [[nodiscard]] tcp::SockAddr local() const { return tcp::SockAddr{tuple.lip, tuple.lport}; }
    [[nodiscard]] tcp::SockAddr remote() const { return tcp::SockAddr{tuple.rip, tuple.rport}; }
    // What /proc/net/tcp and netstat show for it (tw_substate).
    [[nodiscard]] tcp::State state() const { return fin_wait2 ? tcp::State::FinWait2 : tcp::State::TimeWait; }
};
static_assert(sizeof(TimeWaitSock) <= 64, "a TIME-WAIT entry must stay within 64 bytes");

struct LinuxTimeWaitParams {
    Duration length = Duration::s(60);            // TCP_TIMEWAIT_LEN
    bool rfc1337 = false;                         // tcp_rfc1337
    Duration ack_ratelimit = Duration::ms(500);   // tcp_invalid_ratelimit
    bool timestamps = true;
};

enum class TwVerdict : std::uint8_t {
    Drop,         // nothing to send
    SendAck,      // <SEQ=snd_nxt><ACK=rcv_nxt>
    SendRst,      // and kill
    Kill,         // an RST at RCV.NXT with tcp_rfc1337 = 0: the entry is gone, nothing sent
    AcceptSyn,    // TW_SYN: hand the SYN to a listener, ISN = snd_nxt + 65537
    BecomeTimeWait,  // FIN-WAIT-2 minisock got its FIN: now TIME-WAIT (fresh timer), send ACK
};

struct TwOutcome {
    TwVerdict verdict = TwVerdict::Drop;
    bool restart_timer = false;
};

// Linux tcp_timewait_state_process() for a segment that matched the entry's 4-tuple.
TwOutcome linux_time_wait_input(TimeWaitSock& tw, const tcp::Segment& seg, SimTime now, const LinuxTimeWaitParams& p);

// Linux tcp_twsk_unique(): may connect() take over this 4-tuple? `explicit_port`: the socket
// was bound to its port by bind() (the sysctl and the delay do not apply then).
bool linux_twsk_unique(const TimeWaitSock& tw, SimTime now, int tw_reuse, Duration tw_reuse_delay, bool explicit_port,
                       bool seconds_clock = false);

// The ISN of a connection that takes over a TIME-WAIT (reuse or an accepted SYN):
// tw_snd_nxt + 65535 + 2, and never 0 (Linux tcp_twsk_unique(), tcp_timewait_state_process()).
tcp::Seq linux_reuse_isn(const TimeWaitSock& tw);

// Linux timers (kernel/time/timer.c): a 60 s timer at HZ=250 lands in level 3 of the timer wheel,
// whose buckets are 512 jiffies (2.048 s) wide, and fires at the first bucket boundary after its
// deadline: TIME-WAIT lasts 60 to 62 s, ports come back in bursts.
SimTime linux_timer_fires(SimTime armed_at, Duration timeout, std::int64_t hz, Duration boot_offset);

// The width of the timer-wheel bucket a Linux timer of `timeout` lands in: LVL_GRAN(level) =
// 8^level jiffies (kernel/time/timer.c). linux_timer_fires() is armed_at + timeout rounded up to
// the end of such a bucket, so it fires 0 to one granularity after its deadline (HZ=250: 2048 ms
// for the 60 s TIME-WAIT, 256 ms for a 2 to 16 s timer).
Duration linux_timer_granularity(Duration timeout, std::int64_t hz);

}  // namespace tcpsim::host
