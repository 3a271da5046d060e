// What happens to a Linux host's mini-sockets (inet_timewait_sock in its two substates,
// TIME_WAIT and FIN_WAIT2), as the host reports it: what became of a full socket handed to it
// (Host::enter_time_wait()), and each later change of a mini-socket, for a trace to show.
#pragma once

#include "host/tuple_index.hpp"
#include "tcp/seq.hpp"

#include <tcpsim/time.hpp>

#include <cstdint>

namespace tcpsim::host {

// What became of a socket that entered TIME-WAIT or became an orphaned FIN-WAIT-2.
enum class MiniSockOutcome : std::uint8_t {
    FullSocket,  // it stays a full socket (no mini-sockets on this host, or not one of those states)
    Kept,        // a mini-socket took its 4-tuple and port over: the full socket goes
    // tcp_max_tw_buckets reached: no mini-socket; the socket is destroyed and its 4-tuple and
    // port are free at once (tcp_time_wait(): inet_twsk_alloc() NULL, TCPTimeWaitOverflow).
    Overflow,
    NoTimeWait,  // FreeBSD nolocaltimewait: closed outright, no TIME-WAIT at all
};

// One change of a mini-socket. The cited kernel functions are Linux 6.x net/ipv4.
struct MiniSockEvent {
    enum class Kind : std::uint8_t {
        Kept,           // made from a full socket (tcp_time_wait()): `fires` is its timer
        Overflow,       // not made: tcp_max_tw_buckets (tcp_time_wait(), TCPTimeWaitOverflow)
        Expired,        // its timer fired (tw_timer_handler() -> inet_twsk_kill())
        FinReceived,    // FIN-WAIT-2 substate got the peer's FIN: TIME-WAIT now, timer `fires`
        Restarted,      // a segment restarted the TIME-WAIT timer (inet_twsk_reschedule())
        KilledByRst,    // an RST ended it (tcp_timewait_state_process(): TCP_TW_SUCCESS after kill)
        ResetSent,      // it answered with an RST and is gone (TCP_TW_RST)
        ReopenedBySyn,  // a SYN opened a new connection (TCP_TW_SYN): `isn` = `snd_nxt` + 65537
        TakenOver,      // connect() took its 4-tuple (tcp_twsk_unique()): `isn` = `snd_nxt` + 65537
    };
    Kind kind = Kind::Kept;
    FourTuple tuple;
    bool fin_wait2 = false;   // the substate before the event
    Duration timeout = Duration::ns(0);  // Kept, FinReceived, Restarted: the timer's length
    SimTime fires = SimTime::never();    // Kept, FinReceived, Restarted: when it fires on the timer wheel
    tcp::Seq snd_nxt = 0;     // ReopenedBySyn, TakenOver: the old connection's SND.NXT
    tcp::Seq isn = 0;         // ReopenedBySyn, TakenOver: the new connection's ISN
    std::uint32_t limit = 0;  // Overflow: tcp_max_tw_buckets
};

// Told of every MiniSockEvent as it happens (Host::observe_mini_sockets()): a trace's records.
class MiniSockObserver {
public:
    virtual ~MiniSockObserver() = default;
    virtual void on_mini_socket(const MiniSockEvent& e) = 0;
};

}  // namespace tcpsim::host
