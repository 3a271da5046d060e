// The endpoint's calls that go through an Io (RFC 9293 §3.10 user calls, segment arrival and
// timeouts), as templates over the Io type. The simulator's runner instantiates them with its
// own final Io, so that every send, timer and notice of the endpoint is a direct call the
// compiler can inline; the tests and the packetdrill harness instantiate them with theirs, and
// endpoint.cpp with the abstract Io itself. Include this only where an endpoint is driven.
// Section numbers in comments refer to RFC 9293 unless another RFC is named.
#pragma once

#include "tcp/endpoint.hpp"

#include <algorithm>
#include <string_view>

namespace tcpsim::tcp {

namespace detail {
// Out of line and cold: the message is built only when the endpoint tries an edge that the
// table does not have (a bug), never on the way of a legal transition.
[[noreturn, gnu::cold, gnu::noinline]] void no_transition(State from, Trigger trigger, State to);
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Inline: segment construction and the per-segment checks (every arriving segment passes them).

inline std::uint32_t Endpoint::tsval(SimTime now) const {
    // RFC 7323 §5.4: a timestamp clock between 1 ms and 1 s per tick; 1 ms as in Linux.
    return static_cast<std::uint32_t>(now.ns() / 1'000'000) + tcb_.ts_offset;
}

inline std::uint32_t Endpoint::advertised_window() const {
    // No window scaling: the 16-bit field caps the window (RFC 9293 §3.1).
    return std::min<std::uint32_t>(tcb_.rcv_wnd, 65535);
}

inline Segment Endpoint::make(SimTime now, std::uint8_t flags, Seq seq, std::uint32_t len) const {
    Segment s;
    s.src = tcb_.local;
    s.dst = tcb_.remote;
    s.seq = seq;
    s.len = len;
    s.flags = flags;
    if (flags & flag::Ack) {
        s.ack = tcb_.rcv_nxt;
        tcb_.ack_sent = tcb_.rcv_nxt;
    }
    if (cfg_.linux_wire) {
        // SYNs offer their window unscaled (RFC 7323 §2.2); later segments follow
        // tcp_select_window(); a reset carries no window (made by make_rst()).
        if (flags & flag::Syn) s.wnd = std::min<std::uint32_t>(tcb_.adv_wnd, 65535);
        else if (!(flags & flag::Rst)) s.wnd = linux_window_field();
    } else {
        s.wnd = advertised_window();
    }
    if ((flags & flag::Syn) && cfg_.syn_options && cfg_.linux_wire) {
        s.mss = cfg_.mss;
        if ((flags & flag::Ack) && passive_) {
            // tcp_synack_options(): what the peer's SYN offered and we allow.
            s.sack_ok = tcb_.sack_ok;
            if (tcb_.ws_ok) s.wscale = tcb_.rcv_wscale;
            if (tcb_.ts_ok) {
                s.has_ts = true;
                s.tsval = tsval(now);
                s.tsecr = tcb_.ts_recent;
            }
        } else {
            // tcp_syn_options(), also for the SYN,ACK of crossed SYNs (tcp_send_synack() on a
            // full socket): everything the sysctls allow, TSecr the peer's TSval if any.
            s.sack_ok = cfg_.sack;
            if (cfg_.window_scaling) s.wscale = tcb_.rcv_wscale;
            if (cfg_.timestamps) {
                s.has_ts = true;
                s.tsval = tsval(now);
                s.tsecr = (flags & flag::Ack) ? tcb_.ts_recent : 0;
            }
        }
    } else if ((flags & flag::Syn) && cfg_.syn_options) {
        s.mss = cfg_.mss;
        // RFC 7323 §3.2: send the option in a SYN when we want it, in a SYN,ACK only when
        // the peer's SYN had it.
        const bool offer = (flags & flag::Ack) ? tcb_.ts_ok : cfg_.timestamps;
        if (offer) {
            s.has_ts = true;
            s.tsval = tsval(now);
            s.tsecr = (flags & flag::Ack) ? tcb_.ts_recent : 0;
        }
    } else if (tcb_.ts_ok) {
        s.has_ts = true;
        s.tsval = tsval(now);
        s.tsecr = tcb_.ts_recent;
    }
    return s;
}

inline Segment Endpoint::segment_at(SimTime now, Seq seq, std::uint32_t max_len) const {
    // The unit that starts at `seq` in our sequence space: the SYN at ISS, data in
    // [ISS+1, data_end), the FIN at data_end.
    if (seq == tcb_.iss) {
        // Once the peer's SYN has been taken (every state but SYN-SENT), ours goes as SYN,ACK.
        const bool syn_ack = state_ != State::SynSent;
        return make(now, syn_ack ? (flag::Syn | flag::Ack) : flag::Syn, tcb_.iss, 0);
    }
    const std::uint32_t left = static_cast<std::uint32_t>(tcb_.data_end - seq);
    const std::uint32_t len = std::min<std::uint32_t>({left, max_len, tcb_.peer_mss});
    std::uint8_t flags = flag::Ack;
    if (len > 0 && seq + len == tcb_.data_end) flags |= flag::Psh;
    if (tcb_.fin_queued && seq + len == tcb_.data_end) flags |= flag::Fin;
    return make(now, flags, seq, len);
}

inline std::uint32_t Endpoint::receive_window() const {
    // Linux tcp_receive_window(): what is left of the window last offered.
    if (cfg_.linux_wire) {
        const std::int32_t left = seq_diff(tcb_.rcv_wup + tcb_.adv_wnd, tcb_.rcv_nxt);
        return left > 0 ? static_cast<std::uint32_t>(left) : 0;
    }
    // RFC 9293: RCV.WND is the window we advertise, at most 65535 without window scaling.
    // BSD tests against the free buffer space (bsd_input), except in the syncache.
    if (cfg_.bsd_input && !(state_ == State::SynReceived && passive_)) return tcb_.rcv_wnd;
    return std::min<std::uint32_t>(tcb_.rcv_wnd, 65535);
}

inline void Endpoint::update_ts_recent(SimTime now, const Segment& seg) {
    // RFC 7323 §4.3: TS.Recent <- SEG.TSval when SEG.TSval >= TS.Recent and SEG.SEQ <=
    // Last.ACK.sent (our RCV.NXT as last advertised).
    if (tcb_.ts_ok && seg.has_ts && seq_ge(seg.tsval, tcb_.ts_recent) && seq_le(seg.seq, tcb_.rcv_nxt)) {
        tcb_.ts_recent = seg.tsval;
        tcb_.ts_recent_age = now;
    }
}

inline bool Endpoint::header_predicted(const Segment& seg) const {
    // Van Jacobson's header prediction (FreeBSD tcp_input() "Header prediction", Linux
    // tcp_rcv_established() fast path), in the narrower sense that it changes nothing: it only
    // recognises the segments for which the first four steps of §3.10.7.4 below are known to
    // let the segment through unchanged, so that they can go straight to the fifth step.
    //  - a synchronized state other than TIME-WAIT (no SYN-RECEIVED trim, no TIME-WAIT rules);
    //  - ACK without SYN or RST (no RST or SYN step, no BSD SYN check);
    //  - no timestamp to drop it for (RFC 7323 §3.2) and none older than TS.Recent (PAWS);
    //  - SEG.SEQ = RCV.NXT with the window open: acceptable in all four cases of the sequence
    //    check (a zero window, which trims the segment, is left to the general steps).
    if (!(is_synchronized(state_) && state_ != State::TimeWait)) return false;
    if ((seg.flags & (flag::Syn | flag::Rst | flag::Ack)) != flag::Ack) return false;
    if (tcb_.ts_ok && !(seg.has_ts && seq_ge(seg.tsval, tcb_.ts_recent))) return false;
    const Seq rnxt = tcb_.rcv_nxt;
    return seg.seq == rnxt && seq_lt(rnxt, rnxt + receive_window());
}

inline void Endpoint::rtt_sample(Duration r) {
    // RFC 6298 §2.2-2.3 with alpha = 1/8, beta = 1/4, K = 4, clock granularity 1 ms.
    if (!tcb_.have_rtt) {
        tcb_.srtt = r;
        tcb_.rttvar = r / 2;
        tcb_.have_rtt = true;
    } else {
        const Duration diff = tcb_.srtt > r ? tcb_.srtt - r : r - tcb_.srtt;
        tcb_.rttvar = (tcb_.rttvar * 3 + diff) / 4;
        tcb_.srtt = (tcb_.srtt * 7 + r) / 8;
    }
    Duration rto = tcb_.srtt + std::max(Duration::ms(1), tcb_.rttvar * 4);
    // Linux __tcp_set_rto(): srtt + rttvar_us, which tcp_rtt_estimator() keeps at or above
    // tcp_rto_min_us (a 10 ms RTT gives 210 ms, not 200 ms).
    if (cfg_.rto_min_adds_to_srtt) rto = tcb_.srtt + std::max(tcb_.rttvar * 4, cfg_.rto_min);
    tcb_.rto = std::clamp(rto, cfg_.rto_min, cfg_.rto_max);
}

// ---------------------------------------------------------------------------------------------
// The single writer of state_, timers, the ways out of a connection.

template <class IoT>
void Endpoint::transition_to(IoT& io, State next, Trigger trigger, std::string_view why) {
    const Transition* row = find_transition(state_, trigger, next);
    if (row == nullptr) detail::no_transition(state_, trigger, next);
    state_ = next;
    io.transitioned(*row, why);
}

template <class IoT>
void Endpoint::set_timer(IoT& io, TimerKind kind, SimTime deadline) {
    auto& d = deadlines_[static_cast<std::size_t>(kind)];
    if (d == deadline) return;
    d = deadline;
    io.set_timer(kind, deadline);
}

template <class IoT>
void Endpoint::enter_closed(IoT& io, Trigger trigger, std::string_view why, Notice notice, Errno err,
                            const Segment* last) {
    for (std::size_t k = 0; k < kTimerKinds; ++k) set_timer(io, static_cast<TimerKind>(k), SimTime::never());
    transition_to(io, State::Closed, trigger, why);
    if (last != nullptr) io.send(*last);  // the segment the edge sends (an RST)
    if (notice != Notice::Closed) io.notify(notice, err);
    io.notify(Notice::Closed, Errno::Ok);
}

template <class IoT>
void Endpoint::enter_time_wait(SimTime now, IoT& io, Trigger trigger, std::string_view why) {
    // §3.10.7.4 eighth step: "start the time-wait timer, turn off the other timers".
    set_timer(io, TimerKind::Retransmit, SimTime::never());
    set_timer(io, TimerKind::FinWait2, SimTime::never());
    // From now on the window is the one last advertised (Linux tw_rcv_wnd; FreeBSD's TIME-WAIT
    // checks against it too): no buffer remains behind it.
    tcb_.rcv_wnd = cfg_.linux_wire ? receive_window() : advertised_window();
    set_timer(io, TimerKind::DelayedAck, SimTime::never());
    transition_to(io, State::TimeWait, trigger, why);
    set_timer(io, TimerKind::TimeWait, now + cfg_.time_wait_length());
    io.notify(Notice::TimeWait, Errno::Ok);
}

template <class IoT>
void Endpoint::orphan_fin_wait2(SimTime now, IoT& io, bool fin_in_segment) {
    const Duration max = cfg_.fin_wait2_minisock_max;
    if (max.count() == 0) {
        if (cfg_.fin_wait2_timeout.count() > 0) set_timer(io, TimerKind::FinWait2, now + cfg_.fin_wait2_timeout);
        return;
    }
    // Linux tcp_close() and tcp_rcv_state_process() (TCP_FIN_WAIT1, SOCK_DEAD): tmo =
    // tcp_fin_time(); longer than TCP_TIMEWAIT_LEN, or a FIN in this segment ("we could lose such
    // FIN otherwise"): the full socket stays, on its keep-alive timer (tcp_reset_keepalive_timer());
    // otherwise tcp_time_wait(sk, TCP_FIN_WAIT2, tmo).
    const Duration tmo = fin_time();
    if (tmo > max) set_timer(io, TimerKind::FinWait2, now + (tmo - max));
    else if (fin_in_segment) set_timer(io, TimerKind::FinWait2, now + tmo);
    else hand_fin_wait2_to_host(now, io, tmo);
}

template <class IoT>
void Endpoint::hand_fin_wait2_to_host(SimTime now, IoT& io, Duration tmo) {
    fin_wait2_handed_ = true;
    fin_wait2_minisock_timeout_ = tmo;
    // The mini-socket checks segments against the window last advertised (tw_rcv_wnd =
    // tcp_receive_window(), tcp_time_wait()), as a TIME-WAIT does.
    tcb_.rcv_wnd = advertised_window();
    set_timer(io, TimerKind::FinWait2, now + tmo);
    io.notify(Notice::OrphanFinWait2, Errno::Ok);
}

// ---------------------------------------------------------------------------------------------
// Sending.

template <class IoT>
void Endpoint::send_ack(SimTime now, IoT& io, bool challenge) {
    // A challenge ACK is formed on its own (FreeBSD tcp_send_challenge_ack() -> tcp_respond()),
    // every other ACK goes through the output path.
    if (!challenge && cfg_.resend_fin_in_acks && tcb_.fin_sent && !our_fin_acked()) {
        io.send(make(now, flag::Fin | flag::Ack, tcb_.data_end, 0));
        return;
    }
    Segment a = make(now, flag::Ack, tcb_.snd_nxt, 0);
    add_sack_blocks(a);
    tcb_.dsack_end = tcb_.dsack_start;  // RFC 2883: the D-SACK block goes on the next ACK only
    io.send(a);
}

template <class IoT>
void Endpoint::send_rst(SimTime now, IoT& io, Seq seq, bool with_ack) { io.send(make_rst(now, seq, with_ack)); }

template <class IoT>
bool Endpoint::output_unsent(SimTime now, IoT& io) {
    // §3.10.2 / §3.8.6: send what the peer's window allows: first what a retransmission timeout
    // asked to send again (go-back-N from SND.UNA, one segment per RTO and then clocked by the
    // ACKs, as BSD's tcp_timer_rexmt() rewinds snd_nxt), then new data, then the FIN.
    bool sent = false;
    if (!(state_ == State::Established || state_ == State::CloseWait || state_ == State::FinWait1 ||
          state_ == State::LastAck || state_ == State::Closing))
        return sent;
    while (tcb_.rtx_active) {
        if (seq_lt(tcb_.rtx_nxt, tcb_.snd_una)) tcb_.rtx_nxt = tcb_.snd_una;
        if (!seq_lt(tcb_.rtx_nxt, tcb_.snd_nxt)) {
            tcb_.rtx_active = false;
            break;
        }
        const std::int32_t r = seq_diff(tcb_.snd_una + tcb_.snd_wnd, tcb_.rtx_nxt);
        if (r <= 0) return sent;
        const auto limit = std::min(static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(tcb_.snd_nxt - tcb_.rtx_nxt));
        const Segment s = segment_at(now, tcb_.rtx_nxt, limit);
        tcb_.rtx_nxt += s.seg_len();
        io.send(s);
        sent = true;
    }
    for (;;) {
        const Seq fin_seq = tcb_.data_end;
        const bool data_left = seq_lt(tcb_.snd_nxt, fin_seq);
        const bool fin_left = tcb_.fin_queued && !tcb_.fin_sent;
        if (!data_left && !fin_left) return sent;
        std::uint32_t room = 0;
        if (data_left) {
            const std::int32_t r = seq_diff(tcb_.snd_una + tcb_.snd_wnd, tcb_.snd_nxt);
            room = r > 0 ? static_cast<std::uint32_t>(r) : 0;
            if (room == 0) return sent;  // zero window: zero-window probing is not modelled
        }
        Segment s = segment_at(now, tcb_.snd_nxt, room);
        const Seq start = tcb_.snd_nxt;
        tcb_.snd_nxt = start + s.seg_len();
        if (s.fin()) tcb_.fin_sent = true;
        if (!tcb_.timing && tcb_.retransmits == 0) {
            tcb_.timing = true;
            tcb_.timed_seq = tcb_.snd_nxt;
            tcb_.timed_at = now;
        }
        io.send(s);
        sent = true;
        if (deadline(TimerKind::Retransmit).is_never()) arm_rto(now, io);  // RFC 6298 §5.1
    }
}

template <class IoT>
void Endpoint::retransmit(SimTime now, IoT& io) {
    // RFC 6298 §5.4: retransmit the earliest segment not acknowledged; what follows it is sent
    // again as the ACKs come back (output()).
    const std::uint32_t window = std::max<std::uint32_t>(tcb_.snd_wnd, 1);
    const Segment s = segment_at(now, tcb_.snd_una, window);
    tcb_.rtx_nxt = tcb_.snd_una + s.seg_len();
    tcb_.rtx_active = seq_lt(tcb_.rtx_nxt, tcb_.snd_nxt);
    tcb_.timing = false;  // Karn's algorithm (RFC 6298 §3)
    io.send(s);
}

// ---------------------------------------------------------------------------------------------
// Entering and leaving states.

template <class IoT>
void Endpoint::on_established(IoT& io) {
    // A passive opener's socket exists from here on (FreeBSD syncache_socket() -> tcp_mss()).
    if (passive_) round_rcv_buffer();
    io.notify(Notice::Connected, Errno::Ok);
    // RFC 6298 §5.7: after a retransmitted SYN without an RTT sample, the RTO starts at 3 s.
    if (tcb_.handshake_retransmitted && !tcb_.have_rtt)
        tcb_.rto = std::clamp(Duration::s(3), cfg_.rto_min, cfg_.rto_max);
    // Text that came with the peer's SYN was queued "for processing after the ESTABLISHED state
    // has been reached" (§3.10.7.3 fourth, §3.10.7.2 third).
    if (tcb_.syn_data > 0) {
        const std::uint32_t take = std::min(tcb_.syn_data, tcb_.rcv_wnd);
        tcb_.syn_data = 0;
        if (take > 0) {
            tcb_.rcv_nxt += take;
            tcb_.unread += take;
            tcb_.rcv_wnd -= take;
            io.notify(Notice::Readable, Errno::Ok);
        }
    }
    // A CLOSE issued in SYN-RECEIVED with data queued waited for this moment (§3.10.4).
    if (close_pending_) {
        close_pending_ = false;
        tcb_.fin_queued = true;
        transition_to(io, State::FinWait1, Trigger::Close, "close() queued in SYN-RECEIVED");
    }
}

template <class IoT>
void Endpoint::return_to_listen(IoT& io) {
    // §3.10.7.4: "return this connection to the LISTEN state": the TCB is the passive OPEN's
    // again, with its foreign socket as the OPEN gave it (unspecified for an open listener).
    set_timer(io, TimerKind::Retransmit, SimTime::never());
    reset_tcb(tcb_.local, listen_remote_.value_or(SockAddr{}), listen_remote_.has_value());
}

// ---------------------------------------------------------------------------------------------
// User calls.

template <class IoT>
Errno Endpoint::open_passive(SimTime, IoT& io, SockAddr local, std::optional<SockAddr> remote) {
    if (state_ != State::Closed) return Errno::IsConn;  // §3.10.1: "connection already exists"
    listen_remote_ = remote;
    reset_tcb(local, remote.value_or(SockAddr{}), remote.has_value());
    passive_ = true;
    transition_to(io, State::Listen, Trigger::PassiveOpen, "listen()");
    return Errno::Ok;
}

template <class IoT>
Errno Endpoint::open_active(SimTime now, IoT& io, SockAddr local, SockAddr remote) {
    if (state_ != State::Closed) return Errno::IsConn;
    reset_tcb(local, remote, true);
    passive_ = false;
    // Linux tcp_connect_init(): the full MSS (no timestamps agreed yet), the scale if allowed.
    if (cfg_.linux_wire) linux_initial_window(cfg_.mss, cfg_.window_scaling);
    // §3.10.1: select an ISS, send <SEQ=ISS><CTL=SYN>, SND.UNA = ISS, SND.NXT = ISS+1.
    set_iss(choose_iss(now));
    transition_to(io, State::SynSent, Trigger::ActiveOpen, "connect()");
    io.send(make(now, flag::Syn, tcb_.iss, 0));
    tcb_.syn_sent_at = now;
    time_handshake(now);
    arm_rto(now, io);
    return Errno::Ok;
}

template <class IoT>
Errno Endpoint::send(SimTime now, IoT& io, std::uint32_t bytes) {
    switch (state_) {
        case State::Closed: return Errno::NotConn;  // "connection does not exist"
        case State::Listen:
            // §3.10.2: with a foreign socket specified, become active and send a SYN.
            if (!tcb_.remote_specified) return Errno::NotConn;
            set_iss(choose_iss(now));
            tcb_.data_end += bytes;
            passive_ = false;
            transition_to(io, State::SynSent, Trigger::Send, "send() on a fully specified LISTEN");
            io.send(make(now, flag::Syn, tcb_.iss, 0));
            arm_rto(now, io);
            return Errno::Ok;
        case State::SynSent:
        case State::SynReceived:
            tcb_.data_end += bytes;  // queued until ESTABLISHED
            return Errno::Ok;
        case State::Established:
        case State::CloseWait:
            if (tcb_.fin_queued) return Errno::Pipe;  // after shutdown(SHUT_WR)
            tcb_.data_end += bytes;
            output(now, io);
            return Errno::Ok;
        case State::FinWait1:
        case State::FinWait2:
        case State::Closing:
        case State::LastAck:
        case State::TimeWait: return Errno::Pipe;  // "connection closing"
    }
    return Errno::Inval;
}

template <class IoT>
std::uint32_t Endpoint::receive(SimTime now, IoT& io, std::uint32_t max_bytes) {
    const std::uint32_t n = std::min(max_bytes, tcb_.unread);
    if (n == 0) {
        tcb_.fin_unread = false;  // a read that meets the FIN consumes it (tcp_recvmsg(): found_fin_ok)
        return 0;
    }
    const std::uint32_t before = advertised_window();
    tcb_.unread -= n;
    tcb_.rcv_wnd = tcb_.rcv_buffer - tcb_.unread;
    // A window update when the window reopens from below one MSS (RFC 9293 §3.8.6.2.2,
    // receiver-side silly window syndrome avoidance).
    if (before < cfg_.mss && advertised_window() >= cfg_.mss && is_synchronized(state_) &&
        state_ != State::TimeWait)
        send_ack(now, io);
    return n;
}

template <class IoT>
void Endpoint::queue_fin(SimTime now, IoT& io, std::string_view why) {
    // §3.10.4: queue a FIN after the data; ESTABLISHED (or SYN-RECEIVED) enters FIN-WAIT-1,
    // CLOSE-WAIT enters LAST-ACK.
    tcb_.fin_queued = true;
    transition_to(io, state_ == State::CloseWait ? State::LastAck : State::FinWait1, Trigger::Close, why);
    output(now, io);
}

template <class IoT>
Errno Endpoint::close(SimTime now, IoT& io) {
    // RFC 1122 4.2.2.13: closing with received data unread SHOULD send RST; SO_LINGER {1, 0}
    // aborts as well (Linux tcp_close(): "data_was_unread" and sock_flag(SOCK_LINGER) && !linger).
    const bool sync_or_rcvd = is_synchronized(state_) || state_ == State::SynReceived;
    if (sync_or_rcvd && state_ != State::TimeWait && (tcb_.unread > 0 || linger_zero_)) {
        orphaned_ = true;
        return abort(now, io, tcb_.unread > 0 ? "close() with unread data" : "close() with SO_LINGER 0");
    }
    if (linger_zero_ && state_ == State::TimeWait) {
        orphaned_ = true;
        return abort(now, io, "close() with SO_LINGER 0");
    }
    const bool was_orphaned = orphaned_;
    orphaned_ = true;
    tcb_.fin_unread = false;  // tcp_close() purges the receive queue
    switch (state_) {
        case State::Closed: return Errno::BadF;
        case State::Listen:
            enter_closed(io, Trigger::Close, "close()", Notice::Closed, Errno::Ok);
            return Errno::Ok;
        case State::SynSent:
            enter_closed(io, Trigger::Close, "close()", Notice::Closed, Errno::Ok);
            return Errno::Ok;
        case State::SynReceived:
            // §3.10.4: with data still to send, the CLOSE waits for ESTABLISHED.
            if (tcb_.data_end != tcb_.iss + 1) {
                close_pending_ = true;
                return Errno::Ok;
            }
            [[fallthrough]];
        case State::Established:
        case State::CloseWait: queue_fin(now, io, "close()"); return Errno::Ok;
        case State::FinWait2:
            // Orphaned FIN-WAIT-2 gets a lifetime (Linux tcp_close(): tcp_fin_time()).
            if (!was_orphaned) orphan_fin_wait2(now, io, false);
            return Errno::Ok;
        case State::FinWait1:
        case State::Closing:
        case State::LastAck:
        case State::TimeWait: return Errno::Ok;  // the close is already under way
    }
    return Errno::Inval;
}

template <class IoT>
Errno Endpoint::shutdown_write(SimTime now, IoT& io) {
    switch (state_) {
        case State::Closed:
        case State::Listen: return Errno::NotConn;
        case State::SynSent:
            enter_closed(io, Trigger::Close, "shutdown(SHUT_WR)", Notice::Closed, Errno::Ok);
            return Errno::Ok;
        case State::SynReceived:
        case State::Established:
        case State::CloseWait: queue_fin(now, io, "shutdown(SHUT_WR)"); return Errno::Ok;
        case State::FinWait1:
        case State::FinWait2:
        case State::Closing:
        case State::LastAck:
        case State::TimeWait: return Errno::Ok;
    }
    return Errno::Inval;
}

template <class IoT>
Errno Endpoint::abort(SimTime now, IoT& io, std::string_view why) {
    // §3.10.5 ABORT.
    switch (state_) {
        case State::Closed: return Errno::NotConn;
        case State::Listen:
        case State::SynSent:
            enter_closed(io, Trigger::Abort, why, Notice::Closed, Errno::Ok);
            return Errno::Ok;
        case State::SynReceived:
        case State::Established:
        case State::FinWait1:
        case State::FinWait2:
        case State::CloseWait:
            {
                // <SEQ=SND.NXT><CTL=RST>; Linux sends RST with ACK (tcp_send_active_reset()).
                const Segment rst = make_rst(now, tcb_.snd_nxt, cfg_.abort_rst_with_ack);
                enter_closed(io, Trigger::Abort, why, Notice::Closed, Errno::Ok, &rst);
            }
            return Errno::Ok;
        case State::Closing:
        case State::LastAck:
        case State::TimeWait:
            enter_closed(io, Trigger::Abort, why, Notice::Closed, Errno::Ok);
            return Errno::Ok;
    }
    return Errno::Inval;
}

template <class IoT>
void Endpoint::discard(SimTime, IoT& io, std::string_view why) {
    if (state_ == State::Closed) return;
    enter_closed(io, Trigger::Abort, why, Notice::Closed, Errno::Ok);
}

// ---------------------------------------------------------------------------------------------
// Timers.

template <class IoT>
void Endpoint::on_timer(SimTime now, IoT& io, TimerKind kind) {
    auto& d = deadlines_[static_cast<std::size_t>(kind)];
    if (d != now) return;  // stale: re-armed or cleared since
    d = SimTime::never();
    switch (kind) {
        case TimerKind::Retransmit: {
            const bool handshake_over = (state_ == State::SynSent || state_ == State::SynReceived) &&
                                        !tcb_.handshake_deadline.is_never() && now >= tcb_.handshake_deadline;
            if (retransmits_exhausted(now) || handshake_over) {
                // §3.8.3 / RFC 1122 4.2.3.5: give up after R2; the user sees ETIMEDOUT.
                enter_closed(io, Trigger::RetransmitLimit,
                             "retransmissions exhausted", Notice::TimedOut, Errno::TimedOut);
                return;
            }
            ++tcb_.retransmits;
            if (state_ == State::SynSent || state_ == State::SynReceived) tcb_.handshake_retransmitted = true;
            if (!(state_ == State::SynSent && tcb_.retransmits <= cfg_.syn_linear_timeouts))
                tcb_.rto = std::min(tcb_.rto * 2, cfg_.rto_max);  // RFC 6298 §5.5: back off
            retransmit(now, io);
            arm_rto(now, io);  // RFC 6298 §5.6
            return;
        }
        case TimerKind::TimeWait:
            enter_closed(io, Trigger::Timeout2Msl, "2MSL timer", Notice::Closed, Errno::Ok);
            return;
        case TimerKind::FinWait2:
            if (cfg_.fin_wait2_minisock_max.count() > 0 && !fin_wait2_handed_) {
                // Linux tcp_keepalive_timer() for an orphaned FIN_WAIT2: the full socket's part
                // is over; a mini-socket for tcp_fin_time() - TCP_TIMEWAIT_LEN, or, when that is
                // not positive, an RST (tcp_send_active_reset()) and the socket is gone.
                const Duration tmo = fin_time() - cfg_.fin_wait2_minisock_max;
                if (tmo.count() > 0) {
                    hand_fin_wait2_to_host(now, io, tmo);
                    return;
                }
                const Segment rst = make_rst(now, tcb_.snd_nxt, cfg_.abort_rst_with_ack);
                enter_closed(io, Trigger::FinWait2Timeout, "orphaned FIN-WAIT-2 timeout (tcp_keepalive_timer())", Notice::Closed,
                             Errno::Ok, &rst);
                return;
            }
            // Linux tcp_fin_timeout: the orphan vanishes without sending anything.
            enter_closed(io, Trigger::FinWait2Timeout, "orphaned FIN-WAIT-2 timeout", Notice::Closed, Errno::Ok);
            return;
        case TimerKind::DelayedAck:
            // Linux tcp_delack_timer_handler(): the ACK still owed, unless a segment carried it.
            if (tcb_.ack_sent != tcb_.rcv_nxt && is_synchronized(state_)) send_ack(now, io);
            return;
    }
}

// ---------------------------------------------------------------------------------------------
// SEGMENT ARRIVES (§3.10.7).

template <class IoT>
void Endpoint::on_segment(SimTime now, IoT& io, const Segment& seg) {
    // FreeBSD net.inet.tcp.drop_synfin: segments with both SYN and FIN are dropped on input.
    if (cfg_.drop_synfin && seg.syn() && seg.fin() &&
        !(cfg_.drop_synfin_only_opening && state_ != State::Listen && state_ != State::SynSent))
        return;
    // Most segments are the next ACK or data of an open connection: they skip the first four
    // steps of §3.10.7.4, which would let them through unchanged (header_predicted()).
    if (header_predicted(seg)) {
        update_ts_recent(now, seg);  // §3.10.7.4 first step, as the general path does it
        on_segment_accepted(now, io, seg, false);
        return;
    }
    switch (state_) {
        case State::Closed: {
            Segment rst;
            if (reset_for_closed(seg, rst)) io.send(rst);
            return;
        }
        case State::Listen: on_segment_listen(now, io, seg); return;
        case State::SynSent: on_segment_syn_sent(now, io, seg); return;
        case State::SynReceived:
        case State::Established:
        case State::FinWait1:
        case State::FinWait2:
        case State::CloseWait:
        case State::Closing:
        case State::LastAck:
        case State::TimeWait:
            on_segment_synchronized(now, io, seg);
            tcb_.dsack_end = tcb_.dsack_start;  // a D-SACK block is for this segment's reply only
            return;
    }
}

template <class IoT>
void Endpoint::on_segment_listen(SimTime now, IoT& io, const Segment& seg) {
    // §3.10.7.2 first: an incoming RST is ignored.
    if (seg.rst()) return;
    // second: any acknowledgment is bad: <SEQ=SEG.ACK><CTL=RST>.
    if (seg.ack_set()) {
        if (seg.syn() && cfg_.listen_ignores_syn_ack) return;
        Segment r = make_rst(now, seg.ack, false);
        r.dst = seg.src;
        r.has_ts = false;
        io.send(r);
        return;
    }
    // third: SYN.
    if (!seg.syn()) return;  // fourth: other text or control: drop
    if (!tcb_.remote_specified) tcb_.remote = seg.src;
    tcb_.remote_specified = true;
    // The local socket becomes the one the SYN was addressed to (a listener may be bound to any
    // of the host's addresses; Linux's request sock takes ir_loc_addr from the SYN).
    tcb_.local = seg.dst;
    take_peer_syn(now, seg);
    set_iss(choose_iss(now));
    // Text in the SYN waits for ESTABLISHED; a FIN in it is dropped (the FreeBSD suite's
    // rcv-syn-fin-* scripts expect the FIN to be sent again, in both of their modes).
    tcb_.syn_data = seg.len;
    passive_ = true;
    transition_to(io, State::SynReceived, Trigger::RcvSyn, "SYN");
    io.send(make(now, flag::Syn | flag::Ack, tcb_.iss, 0));
    time_handshake(now);
    arm_rto(now, io);
}

template <class IoT>
void Endpoint::on_segment_syn_sent(SimTime now, IoT& io, const Segment& seg) {
    // §3.10.7.3 first: check the ACK bit.
    bool ack_ok = false;
    if (seg.ack_set()) {
        if (seq_le(seg.ack, tcb_.iss) || seq_gt(seg.ack, tcb_.snd_nxt)) {
            if (!seg.rst()) send_rst(now, io, seg.ack, false);  // <SEQ=SEG.ACK><CTL=RST>
            // Linux tcp_rcv_synsent_state_process(): "Previous FIN/ACK or RST/ACK might be
            // ignored": before any retransmission, send the SYN again after TCP_TIMEOUT_MIN
            // (for a bad RST,ACK as well: the check comes before the RST's).
            if (cfg_.syn_sent_bad_ack_retry.count() > 0 && tcb_.retransmits == 0)
                set_timer(io, TimerKind::Retransmit, now + cfg_.syn_sent_bad_ack_retry);
            return;
        }
        ack_ok = seq_lt(tcb_.snd_una, seg.ack) && seq_le(seg.ack, tcb_.snd_nxt);
    }
    // second: RST. Acceptable only when it acknowledges our SYN (also RFC 5961 §3.2).
    if (seg.rst()) {
        if (ack_ok) enter_closed(io, Trigger::RcvRst, "RST: connection refused", Notice::Refused, Errno::ConnRefused);
        return;
    }
    // fourth: SYN (only reached when the ACK is acceptable or absent).
    if (!seg.syn()) return;  // fifth: neither SYN nor RST: drop
    take_peer_syn(now, seg);
    round_rcv_buffer();  // an active opener's socket learns the MSS from the SYN (FreeBSD tcp_mss())
    tcb_.snd_wl2 = seg.ack;
    if (ack_ok) {
        ack_advanced(now, io, seg.ack);
        transition_to(io, State::Established, Trigger::RcvSynAck, "SYN,ACK");
        on_established(io);
        // "continue processing at the sixth step": text, then FIN.
        const std::uint32_t take = cfg_.synack_text_dropped ? 0 : std::min(seg.len, tcb_.rcv_wnd);
        if (take > 0) {
            tcb_.rcv_nxt += take;
            tcb_.unread += take;
            tcb_.rcv_wnd -= take;
            io.notify(Notice::Readable, Errno::Ok);
        }
        if (seg.fin() && take == seg.len && !cfg_.synack_text_dropped) {
            tcb_.rcv_nxt += 1;
            transition_to(io, State::CloseWait, Trigger::RcvFin, "FIN with the SYN,ACK");
            io.notify(Notice::PeerClosed, Errno::Ok);
        }
        // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with queued data if the window allows.
        if (!output(now, io)) send_ack(now, io);
        return;
    }
    // Simultaneous open: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, SYN-RECEIVED. Text waits for
    // ESTABLISHED; a FIN in the SYN is dropped, as in LISTEN.
    tcb_.syn_data = seg.len;
    passive_ = false;
    transition_to(io, State::SynReceived, Trigger::RcvSyn, "crossing SYN");
    io.send(make(now, flag::Syn | flag::Ack, tcb_.iss, 0));
    tcb_.retransmits = 0;
    tcb_.timing = false;
    arm_rto(now, io);
}

template <class IoT>
void Endpoint::ack_advanced(SimTime now, IoT& io, Seq ack) {
    // SND.UNA < SEG.ACK =< SND.NXT: advance, sample the RTT, restart or stop the timer.
    if (tcb_.timing && seq_ge(ack, tcb_.timed_seq)) {
        rtt_sample(now - tcb_.timed_at);
        tcb_.timing = false;
    }
    tcb_.snd_una = ack;
    tcb_.retransmits = 0;
    // The RTO keeps its backed-off value until a new RTT sample recomputes it (RFC 6298 §5,
    // the note after 5.7; Karn's algorithm, §3).
    // RFC 6298 §5.2/5.3: all acknowledged: stop the timer; else restart it.
    if (tcb_.snd_una == tcb_.snd_nxt) set_timer(io, TimerKind::Retransmit, SimTime::never());
    else arm_rto(now, io);
}

template <class IoT>
void Endpoint::reopen_from_time_wait(SimTime now, IoT& io, const Segment& seg) {
    // A new incarnation on the same 4-tuple: act as LISTEN receiving the SYN, with an ISS above
    // the old sequence space (RFC 1122 4.2.2.13 (1); Linux uses old SND.NXT + 65537).
    const Seq old_snd_nxt = tcb_.snd_nxt;
    set_timer(io, TimerKind::TimeWait, SimTime::never());
    const SockAddr local = tcb_.local;
    const SockAddr remote = tcb_.remote;
    reset_tcb(local, remote, true);
    take_peer_syn(now, seg);
    Seq iss = old_snd_nxt + cfg_.reopen_iss_increment;
    if (iss == 0) iss = 1;
    set_iss(iss);
    passive_ = true;
    orphaned_ = false;
    transition_to(io, State::SynReceived, Trigger::SynInTimeWait, "SYN accepted in TIME-WAIT");
    io.send(make(now, flag::Syn | flag::Ack, tcb_.iss, 0));
    arm_rto(now, io);
}

template <class IoT>
void Endpoint::on_segment_time_wait_freebsd(SimTime now, IoT& io, const Segment& seg) {
    // FreeBSD tcp_twcheck() (sys/netinet/tcp_timewait.c), step by step.
    // RFC 1337 F1: an RST never ends TIME-WAIT.
    if (seg.rst()) return;
    // "If a new connection request is received while in TIME_WAIT, drop the old connection and
    // start over if the sequence numbers are above the previous ones."
    if (seg.syn() && !seg.ack_set() && seq_gt(seg.seq, tcb_.rcv_nxt)) {
        set_timer(io, TimerKind::TimeWait, SimTime::never());
        transition_to(io, State::Closed, Trigger::SynInTimeWait, "SYN above RCV.NXT: looked up again");
        io.redeliver(seg);
        io.notify(Notice::Closed, Errno::Ok);
        return;
    }
    // Drop the segment if it does not contain an ACK.
    if (!seg.ack_set()) return;
    // With timestamps negotiated, a segment without one is dropped.
    if (tcb_.ts_ok && !seg.has_ts) return;
    // A duplicate FIN restarts the 2MSL timer.
    if (seg.fin() && seg.seq + seg.len + (seg.syn() ? 1u : 0u) + 1 == tcb_.rcv_nxt)
        set_timer(io, TimerKind::TimeWait, now + cfg_.time_wait_length());
    // Acknowledge the segment if it has data or is not a duplicate ACK.
    if (seg.flags != flag::Ack || seg.len != 0 || seg.seq != tcb_.rcv_nxt || seg.ack != tcb_.snd_nxt)
        send_ack(now, io);
}

template <class IoT>
void Endpoint::on_segment_time_wait_xnu(SimTime now, IoT& io, Segment seg) {
    // XNU tcp_input() (bsd/netinet/tcp_input.c, xnu-11417) for a TCB in TIME_WAIT whose socket the
    // application has closed, in the order of the code. Last.ACK.sent is RCV.NXT (our ACK of the
    // peer's FIN); RCV.WND is the free receive buffer (tcp_sbspace()), as bsd_input reads it.
    const Seq rnxt = tcb_.rcv_nxt;
    const std::uint32_t wnd = tcb_.rcv_wnd;
    // RST: "TIME_WAIT STATE: Drop the segment - see Stevens, vol. 2, p. 964 and RFC 1337" when
    // SEQ is Last.ACK.sent or one below it; another SEQ in the window draws a challenge ACK
    // (RFC 5961 §3.2, tcps_rstchallenge); anything else is dropped.
    if (seg.rst()) {
        const bool at_edge = seg.seq == rnxt || seg.seq + 1 == rnxt;
        if (!at_edge && seq_ge(seg.seq, rnxt) && seq_lt(seg.seq, rnxt + wnd)) send_ack(now, io, true);
        return;
    }
    // PAWS (RFC 1323): a TSval older than TS.Recent (not 24 days stale) is dropped, ACKed when it
    // carries data. A SYN is no exception: it never reaches the reopening step below.
    if (tcb_.ts_ok && seg.has_ts && seq_lt(seg.tsval, tcb_.ts_recent) &&
        now - tcb_.ts_recent_age < Duration::s(24LL * 24 * 3600)) {
        if (seg.len > 0) send_ack(now, io);
        return;
    }
    bool ack_now = false;
    // Old data at the start: "todrop = tp->rcv_nxt - th->th_seq". A SYN there is stripped (and
    // answered with a rate-limited ACK, tcps_synchallenge); a wholly duplicate segment loses its
    // FIN and draws an ACK: a retransmitted FIN is ACKed, but the 2MSL timer is NOT restarted
    // (its FIN never reaches the "case TCPS_TIME_WAIT: add_to_time_wait()" of the FIN step).
    std::int32_t todrop = static_cast<std::int32_t>(rnxt - seg.seq);
    if (todrop > 0) {
        if (seg.syn()) {
            seg.flags = static_cast<std::uint8_t>(seg.flags & ~flag::Syn);
            seg.seq += 1;
            --todrop;
        }
        const auto tlen = static_cast<std::int32_t>(seg.len);
        if (todrop > tlen || (todrop == tlen && !seg.fin())) {
            seg.flags = static_cast<std::uint8_t>(seg.flags & ~flag::Fin);
            ack_now = true;
            todrop = tlen;
        }
        seg.seq += static_cast<std::uint32_t>(todrop);
        seg.len -= static_cast<std::uint32_t>(todrop);
    }
    // New data after the application closed (SS_NOFDREF, SS_CANTRCVMORE): "tp = tcp_close(tp);
    // ... goto dropwithreset" (tcps_rcvafterclose): the TIME-WAIT ends with an RST.
    if (seg.len > 0) {
        const Segment rst = seg.ack_set() ? make_rst(now, seg.ack, false) : make_rst(now, Seq{0}, true);
        enter_closed(io, Trigger::RcvDataAfterClose, "data after close in TIME-WAIT", Notice::Closed, Errno::Ok, &rst);
        return;
    }
    // Beyond the window: "If a new connection request is received while in TIME_WAIT, drop the
    // old connection and start over if the sequence numbers are above the previous ones": a SYN
    // with SEQ > RCV.NXT + RCV.WND closes the TCB and is looked up again (findpcb: a listener
    // takes it). Anything else out there is dropped after an ACK.
    if (seq_gt(seg.seq, rnxt + wnd)) {
        if (seg.syn() && !seg.ack_set()) {
            set_timer(io, TimerKind::TimeWait, SimTime::never());
            transition_to(io, State::Closed, Trigger::SynInTimeWait, "SYN above the window: looked up again");
            io.redeliver(seg);
            io.notify(Notice::Closed, Errno::Ok);
            return;
        }
        send_ack(now, io);
        return;
    }
    // A SYN left in the window: "RFC 5961 Section 4.2: Send challenge ACK for any SYN in
    // synchronized state" (tcp_syn_data_valid() is false without data).
    if (seg.syn()) {
        send_ack(now, io, true);
        return;
    }
    // Without ACK: dropped, after an ACK if one is due.
    if (!seg.ack_set()) {
        if (ack_now) send_ack(now, io);
        return;
    }
    // ACK above SND.MAX, or older than SND.UNA - MAX.SND.WND: an ACK (RFC 5961 §5.2).
    if (seq_gt(seg.ack, tcb_.snd_nxt) || seq_lt(seg.ack, tcb_.snd_una - tcb_.max_snd_wnd)) {
        send_ack(now, io);
        return;
    }
    // Everything of ours is acknowledged, so this is a duplicate ACK (no timer restart). A FIN
    // still here sits at RCV.NXT: the FIN step's "case TCPS_TIME_WAIT: add_to_time_wait(tp, 2 *
    // tcp_msl)" restarts the timer (no ACK: TF_ACKNOW is set only for a first FIN).
    if (seg.fin()) set_timer(io, TimerKind::TimeWait, now + cfg_.time_wait_length());
    if (ack_now) send_ack(now, io);
}

template <class IoT>
void Endpoint::on_segment_synchronized(SimTime now, IoT& io, Segment seg) {
    if (state_ == State::TimeWait && cfg_.time_wait_input == TimeWaitInput::FreeBsd) {
        on_segment_time_wait_freebsd(now, io, seg);
        return;
    }
    if (state_ == State::TimeWait && cfg_.time_wait_input == TimeWaitInput::Xnu) {
        on_segment_time_wait_xnu(now, io, seg);
        return;
    }
    // TIME-WAIT specifics that precede the generic steps.
    if (state_ == State::TimeWait && !seg.rst()) {
        // BSD: a segment with neither ACK nor SYN is dropped here without a reply (FreeBSD
        // tcp_twcheck(); the suite's rcv-fin-time-wait scripts expect it in STANDARD runs too).
        if (cfg_.bsd_input && !seg.ack_set() && !seg.syn()) return;
        // A retransmission of the peer's FIN (it ends exactly at RCV.NXT): acknowledge it and
        // restart the 2 MSL timer (§3.10.7.4 fifth step, TIME-WAIT; FreeBSD tcp_twcheck(),
        // Linux tcp_timewait_state_process()).
        if (seg.fin() && seg.ack_set() && seg.seq + seg.seg_len() == tcb_.rcv_nxt) {
            send_ack(now, io);
            set_timer(io, TimerKind::TimeWait, now + cfg_.time_wait_length());
            return;
        }
        // §3.10.7.4 fourth step, TIME-WAIT: a new connection may be accepted when the
        // timestamp option meets RFC 6191's expectations.
        if (seg.syn() && !seg.ack_set() && time_wait_accepts_syn(seg)) {
            reopen_from_time_wait(now, io, seg);
            return;
        }
    }

    // Linux tcp_check_req(): a retransmission of the peer's SYN gets our SYN,ACK again (at most
    // once per tcp_invalid_ratelimit), and the SYN,ACK timer starts over from it.
    if (cfg_.syn_recv_resends_synack && state_ == State::SynReceived && passive_ && seg.syn() && !seg.ack_set() &&
        !seg.rst() && seg.seq == tcb_.irs) {
        if (!oow_rate_limited(now, seg, false)) {
            io.send(make(now, flag::Syn | flag::Ack, tcb_.iss, 0));
            arm_rto(now, io);
        }
        return;
    }
    note_dsack(seg);

    // RFC 7323 §3.2: once timestamps are in use, a non-RST segment of the connection without the
    // option SHOULD be dropped silently (FreeBSD tcp_input() does; Linux does not: ts_required =
    // false). A SYN without ACK is not part of this connection (it may open the next one).
    const bool new_syn = seg.syn() && !seg.ack_set();
    if (tcb_.ts_ok && !seg.has_ts && !seg.rst() && !new_syn && cfg_.ts_required) return;

    // RFC 7323 §5.3 R1 (PAWS): a non-RST segment whose TSval is older than TS.Recent is not
    // acceptable: send an ACK and drop it. TS.Recent older than 24 days is invalid (§5.5).
    if (tcb_.ts_ok && seg.has_ts && !seg.rst() && seq_lt(seg.tsval, tcb_.ts_recent) &&
        now - tcb_.ts_recent_age < Duration::s(24LL * 24 * 3600)) {
        if (!oow_rate_limited(now, seg, false)) send_ack(now, io);  // Linux: tcp_send_dupack(), rate limited
        return;
    }

    // The SYN,ACK of a simultaneous open repeats the SYN we already took (SEG.SEQ = IRS): only
    // its new part is processed (§3.10.7.4 "trim"; Linux tcp_validate_incoming() exempts it
    // too; RFC 9293 Figure 8 line 6 shows it moving SYN-RECEIVED to ESTABLISHED).
    if (state_ == State::SynReceived && seg.syn() && seg.ack_set() && seg.seq + 1 == tcb_.rcv_nxt) {
        seg.flags = static_cast<std::uint8_t>(seg.flags & ~flag::Syn);
        seg.seq += 1;
    }

    // BSD: a SYN in a synchronized state is dealt with before the sequence check (bsd_input).
    if (cfg_.bsd_input && seg.syn() && !seg.rst() && is_synchronized(state_)) {
        const bool in_window = seq_in(seg.seq, tcb_.rcv_nxt, tcb_.rcv_nxt + receive_window());
        if (cfg_.rfc5961_syn || !in_window) {
            send_ack(now, io, true);  // challenge ACK (tcp_send_challenge_ack())
            return;
        }
        const Segment rst = make_rst(now, tcb_.snd_nxt, true);
        enter_closed(io, Trigger::RcvSynReset, "SYN in window", Notice::Reset, Errno::ConnReset, &rst);
        return;
    }

    // first: check the sequence number (the four cases of §3.10.7.4).
    const std::uint32_t seglen = seg.seg_len();
    const std::uint32_t wnd = receive_window();
    const Seq rnxt = tcb_.rcv_nxt;
    bool acceptable = false;
    bool zero_window_control = false;
    if (seglen == 0) {
        acceptable = wnd == 0 ? seg.seq == rnxt : seq_in(seg.seq, rnxt, rnxt + wnd);
    } else if (wnd > 0) {
        acceptable = seq_in(seg.seq, rnxt, rnxt + wnd) || seq_in(seg.seq + seglen - 1, rnxt, rnxt + wnd);
    } else if (seg.seq == rnxt) {
        // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should
        // be made to accept valid ACKs, URGs, and RSTs": keep the controls, not the text or FIN.
        acceptable = true;
        zero_window_control = true;
        seg.len = 0;
        seg.flags = static_cast<std::uint8_t>(seg.flags & ~flag::Fin);
    }
    bool old_duplicate = false;
    // FreeBSD's test: after stepping over a SYN, the text ends before RCV.NXT, or at it with no
    // FIN ("todrop > tlen || (todrop == tlen && !FIN)").
    const Seq text_end = seg.seq + (seg.syn() ? 1u : 0u) + seg.len;
    if (!acceptable && cfg_.bsd_input && !seg.rst() && seq_lt(seg.seq, rnxt) &&
        (seq_lt(text_end, rnxt) || (text_end == rnxt && !seg.fin()))) {
        // A duplicate (bsd_input): forget its text, SYN and FIN, keep its ACK.
        acceptable = true;
        old_duplicate = true;
        seg.len = 0;
        seg.flags = static_cast<std::uint8_t>(seg.flags & ~(flag::Fin | flag::Syn));
    }
    if (!acceptable) {
        // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. Linux tcp_validate_incoming(): a SYN here draws a
        // challenge ACK, anything else a duplicate ACK, both under tcp_invalid_ratelimit.
        if (!seg.rst() && !oow_rate_limited(now, seg, seg.syn())) send_ack(now, io);
        return;
    }
    update_ts_recent(now, seg);

    // second: check the RST bit (RFC 5961 §3.2: only SEQ = RCV.NXT resets; another in-window
    // SEQ draws a challenge ACK).
    if (seg.rst()) {
        if (cfg_.rfc5961_rst && seg.seq != rnxt) {
            if (!oow_rate_limited(now, seg, true)) send_ack(now, io, true);  // challenge ACK
            return;
        }
        switch (state_) {
            case State::SynReceived:
                if (passive_) {
                    return_to_listen(io);
                    transition_to(io, State::Listen, Trigger::RcvRst, "RST");
                    io.notify(Notice::ReturnedToListen, Errno::Ok);
                } else {
                    enter_closed(io, Trigger::RcvRst, "RST: connection refused", Notice::Refused, Errno::ConnRefused);
                }
                return;
            case State::Established:
            case State::FinWait1:
            case State::FinWait2:
                enter_closed(io, Trigger::RcvRst, "RST", Notice::Reset, Errno::ConnReset);
                return;
            case State::CloseWait:
                // §3.10.7.4: "connection reset" (Linux reports EPIPE here: a profile matter).
                enter_closed(io, Trigger::RcvRst, "RST", Notice::Reset, Errno::ConnReset);
                return;
            case State::Closing:
            case State::LastAck:
                // The RFC signals nothing here; stacks report the reset (FreeBSD tcp_drop():
                // ECONNRESET, which the suite's rcv-rst-last-ack scripts read from SO_ERROR).
                enter_closed(io, Trigger::RcvRst, "RST", Notice::Reset, Errno::ConnReset);
                return;
            case State::TimeWait:
                if (cfg_.rst_in_time_wait == RstInTimeWait::Ignore) return;  // RFC 1337 F1
                enter_closed(io, Trigger::RcvRst, "RST: assassination", Notice::Closed, Errno::Ok);
                return;
            case State::Closed:
            case State::Listen:
            case State::SynSent: return;
        }
        return;
    }

    // fourth: check the SYN bit.
    if (seg.syn()) {
        if (state_ == State::SynReceived && passive_) {
            return_to_listen(io);
            transition_to(io, State::Listen, Trigger::RcvSyn, "SYN in SYN-RECEIVED");
            io.notify(Notice::ReturnedToListen, Errno::Ok);
            return;
        }
        if (cfg_.rfc5961_syn) {
            if (!oow_rate_limited(now, seg, true)) send_ack(now, io, true);  // RFC 5961 §4.2: challenge ACK, drop
            return;
        }
        // "send a reset": <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> as the FreeBSD suite's
        // STANDARD branches expect it.
        const Segment rst = make_rst(now, tcb_.snd_nxt, true);
        enter_closed(io, Trigger::RcvSynReset, "SYN in window", Notice::Reset, Errno::ConnReset, &rst);
        return;
    }

    // fifth: check the ACK field.
    if (!seg.ack_set()) return;
    on_segment_accepted(now, io, seg, zero_window_control || old_duplicate);
}

template <class IoT>
void Endpoint::on_segment_accepted(SimTime now, IoT& io, const Segment& seg, bool need_ack) {
    // §3.10.7.4 from the fifth step on, for a segment with ACK that passed the first four.
    // RFC 5961 §5.2: acceptable when SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT.
    if (state_ != State::SynReceived &&
        (seq_gt(seg.ack, tcb_.snd_nxt) || seq_lt(seg.ack, tcb_.snd_una - tcb_.max_snd_wnd))) {
        // Linux tcp_ack(): a challenge ACK (tcp_send_challenge_ack(), rate limited), data dropped.
        if (!oow_rate_limited(now, seg, true)) send_ack(now, io);
        return;
    }
    // Whether this segment's FIN will be processed in the eighth step (it must be in order).
    // In order when everything before the FIN is at or before RCV.NXT and fits the window.
    bool has_fin_next = false;
    if (seg.fin()) {
        const Seq fin_seq = seg.seq + seg.len;
        has_fin_next = seq_le(seg.seq, tcb_.rcv_nxt) && seq_ge(fin_seq, tcb_.rcv_nxt) &&
                       seq_le(fin_seq, tcb_.rcv_nxt + tcb_.rcv_wnd);
    }

    switch (state_) {
        case State::SynReceived:
            if (seq_lt(tcb_.snd_una, seg.ack) && seq_le(seg.ack, tcb_.snd_nxt)) {
                tcb_.snd_wnd = peer_window(seg);
                tcb_.max_snd_wnd = std::max(tcb_.max_snd_wnd, tcb_.snd_wnd);
                tcb_.snd_wl1 = seg.seq;
                tcb_.snd_wl2 = seg.ack;
                ack_advanced(now, io, seg.ack);
                transition_to(io, State::Established, Trigger::RcvAck, "ACK of SYN");
                on_established(io);
            } else {
                send_rst(now, io, seg.ack, false);  // <SEQ=SEG.ACK><CTL=RST>
                return;
            }
            break;
        case State::Established:
        case State::FinWait1:
        case State::FinWait2:
        case State::CloseWait:
        case State::Closing:
        case State::LastAck:
            if (seq_lt(tcb_.snd_una, seg.ack) && seq_le(seg.ack, tcb_.snd_nxt)) ack_advanced(now, io, seg.ack);
            // Window update (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)).
            if (seq_le(tcb_.snd_una, seg.ack) &&
                (seq_lt(tcb_.snd_wl1, seg.seq) || (tcb_.snd_wl1 == seg.seq && seq_le(tcb_.snd_wl2, seg.ack)))) {
                tcb_.snd_wnd = peer_window(seg);
                tcb_.max_snd_wnd = std::max(tcb_.max_snd_wnd, tcb_.snd_wnd);
                tcb_.snd_wl1 = seg.seq;
                tcb_.snd_wl2 = seg.ack;
            }
            if (state_ == State::FinWait1 && our_fin_acked() && !has_fin_next) {
                transition_to(io, State::FinWait2, Trigger::RcvAck, "ACK of FIN");
                if (orphaned_) orphan_fin_wait2(now, io, seg.fin());
            } else if (state_ == State::Closing) {
                if (our_fin_acked()) enter_time_wait(now, io, Trigger::RcvAck, "ACK of FIN");
                return;  // otherwise ignore the segment
            } else if (state_ == State::LastAck) {
                if (our_fin_acked()) enter_closed(io, Trigger::RcvAck, "ACK of FIN", Notice::Closed, Errno::Ok);
                return;
            }
            break;
        case State::TimeWait: {
            // §3.10.7.4 fifth, TIME-WAIT: "acknowledge it" (the retransmitted FIN was handled
            // above); an exact duplicate of our last ACK's reply is not answered (FreeBSD
            // tcp_twcheck(): "acknowledge the segment if it has data or is not a duplicate ACK";
            // the suite's rcv-ack-time-wait scripts expect the same in their STANDARD runs).
            const bool exact_duplicate = (seg.flags & ~flag::Psh) == flag::Ack && seg.len == 0 &&
                                         seg.seq == tcb_.rcv_nxt && seg.ack == tcb_.snd_nxt;
            if (!exact_duplicate) send_ack(now, io);
            return;
        }
        case State::Closed:
        case State::Listen:
        case State::SynSent: return;
    }

    // seventh: segment text (in order only; an out-of-order segment is dropped and re-ACKed, or
    // with linux_wire queued, and a FIN with it). need_ack: answer what we could not take (a zero
    // window's text, an old duplicate).
    bool ofo_fin_next = false;
    const bool had_ofo = tcb_.ofo_n > 0;
    if (seg.len > 0 || (cfg_.linux_wire && seg.fin() && seq_gt(seg.seq, tcb_.rcv_nxt))) {
        switch (state_) {
            case State::Established:
            case State::FinWait1:
            case State::FinWait2: {
                if (orphaned_ && (state_ == State::FinWait1 || state_ == State::FinWait2)) {
                    // Data after close(): Linux tcp_rcv_state_process() resets
                    // (LINUX_MIB_TCPABORTONDATA).
                    if (cfg_.data_after_close_reset_replies) {
                        Segment rst;
                        reset_for_closed(seg, rst);  // tcp_v4_send_reset() for the segment
                        enter_closed(io, Trigger::Abort, "data arrived after close()", Notice::Reset, Errno::ConnReset, &rst);
                        return;
                    }
                    abort(now, io, "data arrived after close()");
                    return;
                }
                if (seq_le(seg.seq, tcb_.rcv_nxt)) {
                    const std::uint32_t skip = static_cast<std::uint32_t>(tcb_.rcv_nxt - seg.seq);
                    const std::uint32_t fresh = skip < seg.len ? seg.len - skip : 0;
                    std::uint32_t take = std::min(fresh, tcb_.rcv_wnd);
                    if (take > 0) {
                        tcb_.rcv_nxt += take;
                        if (tcb_.ofo_n > 0) take += ofo_pull(ofo_fin_next);  // the hole is filled
                        tcb_.unread += take;
                        tcb_.rcv_wnd -= std::min(take, tcb_.rcv_wnd);
                        tcb_.data_received = true;
                        io.notify(Notice::Readable, Errno::Ok);
                    }
                } else if (cfg_.linux_wire) {
                    ofo_insert(seg.seq, seg.seq + seg.len + (seg.fin() ? 1u : 0u), seg.fin());
                }
                need_ack = true;
                break;
            }
            case State::SynReceived:
            case State::CloseWait:
            case State::Closing:
            case State::LastAck:
            case State::TimeWait:
            case State::Closed:
            case State::Listen:
            case State::SynSent: break;  // after a FIN: ignore the text
        }
    }

    // eighth: check the FIN bit (only when it is the next byte expected).
    if ((seg.fin() && seg.seq + seg.len == tcb_.rcv_nxt) || ofo_fin_next) {
        tcb_.rcv_nxt += 1;
        need_ack = false;
        tcb_.fin_unread = true;
        tcb_.dsack_end = tcb_.dsack_start;  // Linux tcp_fin(): tcp_sack_reset()
        switch (state_) {
            case State::Established: {
                transition_to(io, State::CloseWait, Trigger::RcvFin, "FIN");
                const Duration delay = tcb_.data_received ? cfg_.fin_ack_delay : cfg_.fin_ack_delay_no_data;
                // tcp_fin(): pingpong; but a filled hole is ACKed at once (tcp_data_queue(): ICSK_ACK_NOW).
                const bool hole_filled = had_ofo && tcb_.ofo_n == 0;
                if (delay.count() > 0 && !hole_filled) set_timer(io, TimerKind::DelayedAck, now + delay);
                else send_ack(now, io);
                io.notify(Notice::PeerClosed, Errno::Ok);
                break;
            }
            case State::FinWait1:
                if (our_fin_acked()) {
                    enter_time_wait(now, io, Trigger::RcvFinAck, "FIN acknowledging our FIN");
                    send_ack(now, io);
                } else {
                    transition_to(io, State::Closing, Trigger::RcvFin, "crossing FIN");
                    send_ack(now, io);
                }
                io.notify(Notice::PeerClosed, Errno::Ok);
                break;
            case State::FinWait2:
                enter_time_wait(now, io, Trigger::RcvFin, "FIN");
                send_ack(now, io);
                io.notify(Notice::PeerClosed, Errno::Ok);
                break;
            case State::CloseWait:
            case State::Closing:
            case State::LastAck:
            case State::TimeWait:
                send_ack(now, io);
                break;
            case State::SynReceived:  // unreachable: the ACK check moved it to ESTABLISHED or returned
            case State::Closed:
            case State::Listen:
            case State::SynSent: break;
        }
        return;
    }
    // Data to send (the window may have opened), else a bare ACK for received text.
    const bool sent = output(now, io);
    if (need_ack && !sent) send_ack(now, io);
}

}  // namespace tcpsim::tcp
