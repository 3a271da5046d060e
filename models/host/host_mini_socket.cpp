// A Linux host's mini-sockets (inet_timewait_sock): a full socket handed over in TIME-WAIT or as
// an orphaned FIN-WAIT-2 (tcp_time_wait()), the count against tcp_max_tw_buckets, their timers
// on the kernel's timer wheel, what an arriving segment does to them, and how they end.
// Sources: net/ipv4/tcp_minisocks.c tcp_time_wait(), tcp_timewait_state_process();
// inet_timewait_sock.c inet_twsk_alloc(), inet_twsk_schedule(); reference/tcp-stack-semantics.md §2.2-2.3.
#include "host/host.hpp"

#include <algorithm>

namespace tcpsim::host {

TimeWaitSock Host::mini_socket_of(SimTime now, const Socket& s, bool fin_wait2) const {
    // tcp_time_wait(): tw_rcv_nxt, tw_snd_nxt, tw_rcv_wnd (the window last advertised: the
    // endpoint set rcv_wnd to it), tw_ts_recent, tw_ts_recent_stamp, tw_ts_offset, and the
    // socket's SO_REUSEADDR / SO_REUSEPORT (inet_twsk_alloc(): tw_reuse, tw_reuseport).
    const tcp::Tcb& t = s.ep.tcb();
    TimeWaitSock tw;
    tw.tuple = FourTuple{t.local.ip, t.remote.ip, t.local.port, t.remote.port};
    tw.snd_nxt = t.snd_nxt;
    tw.rcv_nxt = t.rcv_nxt;
    tw.rcv_wnd = t.rcv_wnd;
    tw.ts_offset = t.ts_offset;
    if (t.ts_ok) {
        tw.ts_recent = t.ts_recent;
        tw.ts_recent_stamp = t.ts_recent_age;
    }
    tw.entered = now;  // tw_entry_stamp (6.14+)
    tw.fin_wait2 = fin_wait2;
    tw.reuseaddr = s.opt.reuseaddr;
    tw.reuseport = s.opt.reuseport;
    tw.loopback = (t.local.ip >> 24) == 127 || (t.remote.ip >> 24) == 127;
    return tw;
}

void Host::remember_peer_stamp(SimTime now, const TimeWaitSock& tw) {
    // Keep the newest TSval per peer, or replace one older than TCP_PAWS_MSL.
    auto it = peer_ts_.find(tw.tuple.rip);
    if (it == peer_ts_.end() || tcp::seq_diff(it->second.ts, tw.ts_recent) <= 0 ||
        (now - it->second.stamp > Duration::s(60) && it->second.stamp <= tw.ts_recent_stamp))
        peer_ts_[tw.tuple.rip] = PeerStamp{tw.ts_recent, tw.ts_recent_stamp};
}

Duration Host::mini_socket_length(SimTime now, const Socket& s, TimeWaitSock& tw) {
    const Duration rto = s.ep.tcb().rto;
    const Duration rto35 = rto * 4 - rto / 2;  // tcp_time_wait(): (icsk_rto << 2) - (icsk_rto >> 1)
    // tw_recycle (<= 4.11, tcp_time_wait()): recycle_ok once the peer's timestamp is remembered
    // (tcp_remember_stamp()), in either substate; then tw_timeout = 3.5 RTO.
    const bool recycle_ok = stack_.tw_recycle && !tw.ts_recent_stamp.is_never();
    if (recycle_ok) {
        remember_peer_stamp(now, tw);
        tw.recycle_timeout_ms = static_cast<std::uint16_t>(std::min<std::int64_t>(rto35.whole_ms(), 65535));
        tw_.find(tw.tuple)->recycle_timeout_ms = tw.recycle_timeout_ms;
    }
    // tcp_time_wait(sk, TCP_FIN_WAIT2, timeo): "if (timeo < rto) timeo = rto".
    if (tw.fin_wait2) return std::max(s.ep.fin_wait2_minisock_timeout(), rto35);
    return recycle_ok ? rto35 : stack_.linux_tw.length;  // TCP_TIMEWAIT_LEN
}

SimTime Host::arm_time_wait_timer(SimTime now, TimeWaitTable::Slot slot, std::uint32_t generation, Duration length) {
    // inet_twsk_schedule(): mod_timer(&tw->tw_timer, jiffies + timeo), a timer-wheel timer.
    const TwTimer rec{linux_timer_fires(now, length, stack_.hz, boot_offset_), slot, generation};
    if (length == stack_.linux_tw.length) {
        tw_timers_.push_back(rec);
    } else {
        tw_timers_other_.push_back(rec);
        std::push_heap(tw_timers_other_.begin(), tw_timers_other_.end(), fires_later);
    }
    time_wait_changed();
    return rec.at;
}

MiniSockOutcome Host::enter_time_wait(SimTime now, SocketId id) {
    Socket& s = sockets_[id];
    const tcp::State st = s.ep.state();
    const bool fin_wait2 = st == tcp::State::FinWait2;
    if (!s.alive || !(st == tcp::State::TimeWait || (fin_wait2 && s.ep.orphaned()))) return MiniSockOutcome::FullSocket;
    if (!fin_wait2 && stack_.nolocaltimewait && owns(s.ep.tcb().remote.ip)) {
        release(id);  // the connection is closed outright: its 4-tuple and port are free at once
        return MiniSockOutcome::NoTimeWait;
    }
    if (!stack_.linux_minisock) return MiniSockOutcome::FullSocket;
    TimeWaitSock tw = mini_socket_of(now, s, fin_wait2);
    const FourTuple tuple = tw.tuple;
    // tcp_time_wait(): inet_twsk_alloc() returns NULL once tw_refcount - 1 >= tcp_max_tw_buckets
    // (both substates count); then no mini-socket is made, the socket just goes
    // (TCPTimeWaitOverflow) and its 4-tuple and port are free at once.
    if (tw_.size() >= stack_.max_tw_buckets) {
        ++tw_overflow_;
        release(id);
        log_mini(MiniSockEvent{.kind = MiniSockEvent::Kind::Overflow, .tuple = tuple, .fin_wait2 = fin_wait2,
                               .limit = stack_.max_tw_buckets});
        return MiniSockOutcome::Overflow;
    }
    tw.generation = ++tw_serial_;
    const std::uint16_t port = s.bound_port;
    kill_time_wait(tuple);  // an older entry of the same 4-tuple gives way (cannot happen in practice)
    const TimeWaitTable::Slot slot = tw_.insert(tw);
    if (fin_wait2) ++fin_wait2_minisocks_;
    // The socket's 4-tuple count and port pass to the entry in place (what release() then
    // adding the entry would leave behind).
    const bool same_tuple = s.registered == Socket::Registered::Connection && s.tuple == tuple;
    if (unbind(id, same_tuple) && same_tuple) move_tuple(tuple, true);
    else note_tuple(tuple, +1, true);
    // The mini-socket keeps the port's bucket (inet_twsk_bind_hash()).
    if (port != 0) {
        ports_.transfer_owner(port, id,
                              PortOwner{kTimeWaitOwnerBit | slot, s.bound_addr, tw.reuseaddr, tw.reuseport, false, true},
                              !s.explicit_port);
        s.bound_port = 0;
    }
    const Duration length = mini_socket_length(now, s, tw);
    const SimTime fires = arm_time_wait_timer(now, slot, tw.generation, length);
    log_mini(MiniSockEvent{.kind = MiniSockEvent::Kind::Kept, .tuple = tuple, .fin_wait2 = fin_wait2, .timeout = length, .fires = fires});
    // tcp_tw_reuse cannot take it over before tw_reuse_delay has passed (linux_twsk_unique()).
    if (!stack_.tw_reuse_seconds_clock) {
        DestPorts* d = find_dest(DestKey{tuple.lip, tuple.rip, tuple.rport});
        if (d != nullptr && !d->young.empty()) {
            d->young[tuple.lport >> 6] |= 1ull << (tuple.lport & 63);
            young_.push_back(YoungRecord{now + Duration::ms(stack_.tw_reuse_delay.whole_ms() + 1), tuple});
        }
    }
    return MiniSockOutcome::Kept;
}

void Host::take_over_time_wait(const FourTuple& t, TimeWaitTable::Slot slot, std::optional<tcp::Seq>& reuse_isn) {
    const TimeWaitSock& tw = tw_.at(slot);
    reuse_isn = linux_reuse_isn(tw);
    ++tw_ends_.taken_over;
    const MiniSockEvent e{.kind = MiniSockEvent::Kind::TakenOver, .tuple = t, .fin_wait2 = tw.fin_wait2, .snd_nxt = tw.snd_nxt,
                          .isn = *reuse_isn};
    kill_time_wait_at(t, slot, true);  // its count passes to the connection (bind_connection(..., true) next)
    log_mini(e);  // told once it is gone (a trace shows the state after the event)
}

void Host::kill_time_wait(const FourTuple& t) {
    const TimeWaitTable::Slot slot = tw_.slot_of(t);
    if (slot != TimeWaitTable::kNone) kill_time_wait_at(t, slot);
}

void Host::kill_time_wait_at(const FourTuple& t, TimeWaitTable::Slot slot, bool keep_count) {
    ports_.remove_owner(t.lport, kTimeWaitOwnerBit | slot);
    if (!keep_count) note_tuple(t, -1, true);
    if (tw_.at(slot).fin_wait2) --fin_wait2_minisocks_;
    tw_.erase(slot);
    time_wait_changed();
}

SimTime Host::restart_time_wait(SimTime now, TimeWaitSock& tw, bool fin_received) {
    // inet_twsk_reschedule(): a fresh TCP_TIMEWAIT_LEN from now; the older timer record goes
    // stale. tw_recycle: the FIN that ends the FIN_WAIT2 substate reschedules with tw_timeout
    // once the peer's timestamp is remembered (tcp_timewait_state_process(), 4.9).
    Duration length = stack_.linux_tw.length;
    if (fin_received && stack_.tw_recycle && tw.recycle_timeout_ms != 0 && !tw.ts_recent_stamp.is_never()) {
        remember_peer_stamp(now, tw);
        length = Duration::ms(tw.recycle_timeout_ms);
    }
    tw.generation = ++tw_serial_;
    return arm_time_wait_timer(now, tw_.slot_of(tw.tuple), tw.generation, length);
}

namespace {
// tcp_v4_timewait_ack(): <SEQ=snd_nxt><ACK=rcv_nxt>, the window and timestamps of the old connection.
tcp::Segment time_wait_ack(SimTime now, const TimeWaitSock& tw) {
    tcp::Segment a;
    a.src = tw.local();
    a.dst = tw.remote();
    a.flags = tcp::flag::Ack;
    a.seq = tw.snd_nxt;
    a.ack = tw.rcv_nxt;
    a.wnd = std::min<std::uint32_t>(tw.rcv_wnd, 65535);
    if (!tw.ts_recent_stamp.is_never()) {
        a.has_ts = true;
        a.tsval = static_cast<std::uint32_t>(now.ns() / 1'000'000) + tw.ts_offset;
        a.tsecr = tw.ts_recent;
    }
    return a;
}
}  // namespace

Host::TimeWaitResult Host::time_wait_segment(SimTime now, TimeWaitSock& tw, const tcp::Segment& seg) {
    TimeWaitResult r;
    const FourTuple t = tw.tuple;
    const bool was_fin_wait2 = tw.fin_wait2;
    const TwOutcome out = linux_time_wait_input(tw, seg, now, stack_.linux_tw);
    using Kind = MiniSockEvent::Kind;
    if (was_fin_wait2 && !tw.fin_wait2) --fin_wait2_minisocks_;  // FIN: the TIME_WAIT substate now
    if (out.restart_timer) {
        const SimTime fires = restart_time_wait(now, tw, was_fin_wait2);
        log_mini(MiniSockEvent{.kind = was_fin_wait2 ? Kind::FinReceived : Kind::Restarted, .tuple = t, .fin_wait2 = was_fin_wait2,
                               .timeout = stack_.linux_tw.length, .fires = fires});
    }
    switch (out.verdict) {
        case TwVerdict::Drop: break;
        case TwVerdict::SendAck:
        case TwVerdict::BecomeTimeWait: r.reply = time_wait_ack(now, tw); break;
        case TwVerdict::Kill:
            ++tw_ends_.by_rst;
            kill_time_wait(t);
            log_mini(MiniSockEvent{.kind = Kind::KilledByRst, .tuple = t, .fin_wait2 = was_fin_wait2});
            break;
        case TwVerdict::SendRst: {
            // TCP_TW_RST: tcp_v4_send_reset() answers the segment as if no socket had it.
            tcp::Segment rst;
            if (tcp::reset_for_closed(seg, rst)) r.reply = rst;
            kill_time_wait(t);
            log_mini(MiniSockEvent{.kind = Kind::ResetSent, .tuple = t, .fin_wait2 = was_fin_wait2});
            break;
        }
        case TwVerdict::AcceptSyn: {
            // TW_SYN: a listener takes the SYN and the TIME-WAIT goes; without one the TIME-WAIT
            // answers with an ACK and stays.
            const SocketId l = listener(seg.dst.ip, seg.dst.port);
            if (l == kNoSocket) {
                r.reply = time_wait_ack(now, tw);
                break;
            }
            r.accept_by = l;
            r.accept_isn = linux_reuse_isn(tw);
            ++tw_ends_.by_syn;
            const tcp::Seq old_snd_nxt = tw.snd_nxt;
            kill_time_wait(t);
            log_mini(MiniSockEvent{.kind = Kind::ReopenedBySyn, .tuple = t, .snd_nxt = old_snd_nxt, .isn = r.accept_isn});
            break;
        }
    }
    return r;
}

const Host::TwTimer* Host::next_tw_timer() const {
    // Records of entries taken over, killed or restarted are dropped from the fronts as they are
    // met, so each is looked at once.
    while (!tw_timers_.empty() && live_entry(tw_timers_.front()) == nullptr) tw_timers_.pop_front();
    while (!tw_timers_other_.empty() && live_entry(tw_timers_other_.front()) == nullptr) {
        std::pop_heap(tw_timers_other_.begin(), tw_timers_other_.end(), fires_later);
        tw_timers_other_.pop_back();
    }
    const TwTimer* a = tw_timers_.empty() ? nullptr : &tw_timers_.front();
    const TwTimer* b = tw_timers_other_.empty() ? nullptr : &tw_timers_other_.front();
    if (a == nullptr) return b;
    if (b == nullptr) return a;
    return fires_later(*a, *b) ? b : a;
}

std::size_t Host::expire_time_waits(SimTime now) {
    std::size_t n = 0;
    for (const TwTimer* next = next_tw_timer(); next != nullptr && next->at <= now; next = next_tw_timer()) {
        const TwTimer rec = *next;
        if (!tw_timers_.empty() && next == &tw_timers_.front()) {
            tw_timers_.pop_front();
        } else {
            std::pop_heap(tw_timers_other_.begin(), tw_timers_other_.end(), fires_later);
            tw_timers_other_.pop_back();
        }
        time_wait_changed();
        const TimeWaitSock& e = *live_entry(rec);  // next_tw_timer() returns live records only
        if (!e.fin_wait2) {
            tw_held_ += now - e.entered;
            ++tw_held_count_;
        }
        const MiniSockEvent ended{.kind = MiniSockEvent::Kind::Expired, .tuple = e.tuple, .fin_wait2 = e.fin_wait2};
        kill_time_wait(ended.tuple);
        log_mini(ended);
        ++n;
    }
    return n;
}

SimTime Host::next_time_wait_expiry() const {
    if (tw_checked_version_ == tw_version_) return tw_next_;
    tw_checked_version_ = tw_version_;
    const TwTimer* next = next_tw_timer();
    return tw_next_ = next == nullptr ? SimTime::never() : next->at;
}

}  // namespace tcpsim::host
