// RFC 9293 endpoint: what does not go through an Io (segment construction, RTT and window
// arithmetic), and the calls of endpoint_impl.hpp instantiated for the abstract Io. Section
// numbers in comments refer to RFC 9293 unless another RFC is named.
#include "tcp/endpoint.hpp"

#include "tcp/endpoint_impl.hpp"
#include "tcp/linux_window.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

namespace tcpsim::tcp {

std::string_view to_string(TimerKind k) {
    switch (k) {
        case TimerKind::Retransmit: return "RTO";
        case TimerKind::TimeWait: return "2MSL";
        case TimerKind::FinWait2: return "FIN-WAIT-2";
        case TimerKind::DelayedAck: return "delayed ACK";
    }
    return "?";
}

std::string_view to_string(Notice n) {
    switch (n) {
        case Notice::Connected: return "connected";
        case Notice::Readable: return "readable";
        case Notice::PeerClosed: return "peer closed";
        case Notice::Refused: return "refused";
        case Notice::Reset: return "reset";
        case Notice::TimedOut: return "timed out";
        case Notice::ReturnedToListen: return "returned to LISTEN";
        case Notice::TimeWait: return "in TIME-WAIT";
        case Notice::OrphanFinWait2: return "orphaned in FIN-WAIT-2";
        case Notice::Closed: return "closed";
    }
    return "?";
}

bool reset_for_closed(const Segment& in, Segment& out) {
    // §3.10.7.1: an incoming RST is discarded; otherwise, if the ACK bit is off,
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, else <SEQ=SEG.ACK><CTL=RST>.
    if (in.rst()) return false;
    out = Segment{};
    out.src = in.dst;
    out.dst = in.src;
    if (in.ack_set()) {
        out.seq = in.ack;
        out.flags = flag::Rst;
    } else {
        out.seq = 0;
        out.ack = in.seq + in.seg_len();
        out.flags = flag::Rst | flag::Ack;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// The transition table's guard (endpoint_impl.hpp: transition_to()).

namespace detail {
void no_transition(State from, Trigger trigger, State to) {
    throw std::logic_error(std::string("tcpsim: no transition ") + std::string(to_string(from)) + " --" +
                           std::string(to_string(trigger)) + "--> " + std::string(to_string(to)));
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Segment construction.

Segment Endpoint::make_rst(SimTime now, Seq seq, bool with_ack) const {
    Segment r = make(now, with_ack ? (flag::Rst | flag::Ack) : flag::Rst, seq, 0);
    r.wnd = 0;  // an RST advertises no window (Linux tcp_v4_send_reset() leaves it 0)
    return r;
}

std::uint32_t Endpoint::unacked_bytes() const {
    return static_cast<std::uint32_t>(tcb_.data_end - tcb_.snd_una) - (seq_le(tcb_.snd_una, tcb_.iss) ? 1 : 0);
}

Seq Endpoint::choose_iss(SimTime now) const {
    if (pinned_iss_) return *pinned_iss_;
    if (isn_gen_ != nullptr) return isn_gen_->isn(now, tcb_.local, tcb_.remote);
    return 0;
}

int Endpoint::retry_limit() const {
    switch (state_) {
        case State::SynSent: return cfg_.syn_retries + cfg_.syn_linear_timeouts;
        case State::SynReceived: return cfg_.synack_retries;
        case State::Closed:
        case State::Listen:
        case State::Established:
        case State::FinWait1:
        case State::FinWait2:
        case State::CloseWait:
        case State::Closing:
        case State::LastAck:
        case State::TimeWait: return cfg_.data_retries;
    }
    return cfg_.data_retries;
}

bool Endpoint::retransmits_exhausted(SimTime now) const {
    if (tcb_.retransmits >= retry_limit()) return true;
    if (!cfg_.syn_expiry_by_time || state_ != State::SynSent || tcb_.syn_sent_at.is_never()) return false;
    // tcp_model_timeout(): linear_backoff_thresh = ilog2(TCP_RTO_MAX / rto_base).
    const Duration base = cfg_.rto_initial;
    const std::int64_t ratio = base.count() > 0 ? cfg_.rto_max.count() / base.count() : 1;
    const int thresh = ratio > 0 ? static_cast<int>(std::bit_width(static_cast<std::uint64_t>(ratio))) - 1 : 0;
    const int boundary = cfg_.syn_retries;
    const Duration timeout = boundary <= thresh ? base * ((std::int64_t{2} << boundary) - 1)
                                                : base * ((std::int64_t{2} << thresh) - 1) + cfg_.rto_max * (boundary - thresh);
    return now - tcb_.syn_sent_at >= timeout;
}

void Endpoint::learn_syn_options(SimTime now, const Segment& seg) {
    tcb_.peer_mss = seg.mss != 0 ? seg.mss : 536;
    tcb_.peer_syn_seen = true;
    // RFC 7323 §3.2: timestamps are in use when our SYN offered them and the peer's carried them.
    if (seg.has_ts && cfg_.timestamps) {
        tcb_.ts_ok = true;
        tcb_.ts_recent = seg.tsval;
        tcb_.ts_recent_age = now;
    } else {
        tcb_.ts_ok = false;
    }
    if (!cfg_.linux_wire) return;
    // tcp_parse_options(): SACK and window scaling are in use when the sysctl is on and the
    // peer's SYN offered them; the peer's shift is at most 14 ("Illegal window scaling value").
    tcb_.sack_ok = cfg_.sack && seg.sack_ok;
    tcb_.ws_ok = cfg_.window_scaling && seg.has_wscale();
    tcb_.snd_wscale = tcb_.ws_ok ? std::min<std::uint8_t>(seg.wscale, 14) : 0;
    tcb_.rcv_wup = seg.seq + 1;
    if (state_ == State::SynSent) {
        // tcp_rcv_synsent_state_process(): a SYN,ACK without a window scale turns ours off; a
        // crossed SYN leaves our shift as our SYN offered it (the window stays scaled).
        if (seg.ack_set() && !tcb_.ws_ok) tcb_.rcv_wscale = 0;
        return;
    }
    // A request socket (tcp_openreq_init_rwin()): the MSS less the timestamp option when in use.
    linux_initial_window(cfg_.mss - (tcb_.ts_ok ? 12u : 0u), tcb_.ws_ok);
}

void Endpoint::linux_initial_window(std::uint32_t mss, bool wscale_ok) {
    const LinuxInitialWindow w = tcp::linux_initial_window(cfg_, mss, wscale_ok);
    tcb_.adv_wnd = w.rcv_wnd;
    tcb_.rcv_ssthresh = w.rcv_wnd;
    tcb_.rcv_wscale = w.wscale;
}

std::uint32_t Endpoint::linux_window_field() const {
    LinuxWindowState s;
    s.adv_wnd = tcb_.adv_wnd;
    s.rcv_wup = tcb_.rcv_wup;
    s.rcv_nxt = tcb_.rcv_nxt;
    s.rcv_ssthresh = tcb_.rcv_ssthresh;
    s.free_space = tcb_.rcv_wnd;
    s.wscale = tcb_.rcv_wscale;
    s.queue_busy = tcb_.unread > 0 || tcb_.fin_unread;
    const LinuxWindowChoice c = linux_select_window(s);
    tcb_.adv_wnd = c.adv_wnd;
    tcb_.rcv_wup = tcb_.rcv_nxt;
    return c.field;
}

bool Endpoint::oow_rate_limited(SimTime now, const Segment& seg, bool challenge) {
    if (cfg_.oow_ack_ratelimit.count() == 0) return false;
    // "Data packets without SYNs are not likely part of an ACK loop."
    if (!challenge && seg.len + (seg.fin() ? 1u : 0u) > 0 && !seg.syn()) return false;
    if (!tcb_.last_oow_ack.is_never() && now - tcb_.last_oow_ack < cfg_.oow_ack_ratelimit) return true;
    tcb_.last_oow_ack = now;
    return false;
}

void Endpoint::ofo_insert(Seq start, Seq end, bool fin) {
    SackBlock merged{start, end};
    std::array<SackBlock, kMaxSackBlocks> kept{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < tcb_.ofo_n; ++i) {
        const SackBlock& b = tcb_.ofo[i];
        if (seq_le(b.start, merged.end) && seq_ge(b.end, merged.start)) {  // overlapping or adjacent
            if (seq_lt(b.start, merged.start)) merged.start = b.start;
            if (seq_gt(b.end, merged.end)) merged.end = b.end;
        } else {
            kept[n++] = b;
        }
    }
    tcb_.ofo[0] = merged;
    tcb_.ofo_n = 1;
    for (std::size_t i = 0; i < n && tcb_.ofo_n < kMaxSackBlocks; ++i) tcb_.ofo[tcb_.ofo_n++] = kept[i];
    if (fin) {
        tcb_.ofo_fin = true;
        tcb_.ofo_fin_seq = end - 1;
    }
}

std::uint32_t Endpoint::ofo_pull(bool& fin) {
    std::uint32_t taken = 0;
    fin = false;
    for (bool moved = true; moved;) {
        moved = false;
        for (std::size_t i = 0; i < tcb_.ofo_n; ++i) {
            SackBlock b = tcb_.ofo[i];
            if (seq_gt(b.start, tcb_.rcv_nxt)) continue;
            for (std::size_t j = i + 1; j < tcb_.ofo_n; ++j) tcb_.ofo[j - 1] = tcb_.ofo[j];
            --tcb_.ofo_n;
            moved = true;
            if (tcb_.ofo_fin && seq_lt(tcb_.ofo_fin_seq, b.end)) b.end = tcb_.ofo_fin_seq;  // the FIN is not text
            if (seq_gt(b.end, tcb_.rcv_nxt)) {
                const auto n = static_cast<std::uint32_t>(b.end - tcb_.rcv_nxt);
                tcb_.rcv_nxt = b.end;
                taken += n;
            }
            break;
        }
    }
    if (tcb_.ofo_fin && tcb_.ofo_fin_seq == tcb_.rcv_nxt) {
        fin = true;
        tcb_.ofo_fin = false;
    }
    return taken;
}

void Endpoint::add_sack_blocks(Segment& a) const {
    if (!cfg_.linux_wire || !tcb_.sack_ok) return;
    const std::size_t limit = a.has_ts ? 3 : kMaxSackBlocks;  // the option space left
    if (tcb_.dsack_end != tcb_.dsack_start && a.sack_n < limit) a.sack[a.sack_n++] = {tcb_.dsack_start, tcb_.dsack_end};
    for (std::size_t i = 0; i < tcb_.ofo_n && a.sack_n < limit; ++i) a.sack[a.sack_n++] = tcb_.ofo[i];
}

void Endpoint::note_dsack(const Segment& seg) {
    if (!cfg_.linux_wire || !cfg_.dsack || !tcb_.sack_ok || seg.rst() || seg.syn()) return;
    const Seq end = seg.seq + seg.seg_len();
    if (end == seg.seq || !seq_lt(seg.seq, tcb_.rcv_nxt)) return;
    tcb_.dsack_start = seg.seq;
    tcb_.dsack_end = seq_lt(end, tcb_.rcv_nxt) ? end : tcb_.rcv_nxt;
}

void Endpoint::round_rcv_buffer() {
    if (!cfg_.rcv_buffer_rounds_to_mss) return;
    const std::uint32_t mss = std::min<std::uint32_t>(tcb_.peer_mss, cfg_.mss);
    if (mss == 0) return;
    const std::uint32_t rounded = (tcb_.rcv_buffer + mss - 1) / mss * mss;
    tcb_.rcv_wnd += rounded - tcb_.rcv_buffer;
    tcb_.rcv_buffer = rounded;
}

// ---------------------------------------------------------------------------------------------
// A fresh TCB (user calls).

Duration Endpoint::fin_time() const {
    if (cfg_.fin_wait2_minisock_max.count() == 0) return cfg_.fin_wait2_timeout;
    // Linux tcp_fin_time() (include/net/tcp.h): never below (icsk_rto << 2) - (icsk_rto >> 1).
    const Duration floor = tcb_.rto * 4 - tcb_.rto / 2;
    return std::max(cfg_.fin_wait2_timeout, floor);
}

void Endpoint::reset_tcb(SockAddr local, SockAddr remote, bool remote_specified) {
    const std::uint32_t ts_offset = tcb_.ts_offset;  // set by the owner, kept across incarnations
    tcb_ = Tcb{};
    tcb_.local = local;
    tcb_.remote = remote;
    tcb_.remote_specified = remote_specified;
    tcb_.ts_offset = ts_offset;
    tcb_.rto = cfg_.rto_initial;
    tcb_.rcv_buffer = cfg_.linux_wire ? linux_full_space(cfg_) : cfg_.rcv_buffer;
    tcb_.rcv_wnd = tcb_.rcv_buffer;
}

// ---------------------------------------------------------------------------------------------
// SEGMENT ARRIVES (§3.10.7): the checks that need no Io.

bool Endpoint::time_wait_accepts_syn(const Segment& seg) const {
    switch (cfg_.syn_in_time_wait) {
        case SynInTimeWait::Never: return false;
        case SynInTimeWait::Rfc9293:
            // RFC 6191 §2 with timestamps on both incarnations: a newer TSval, or an equal TSval
            // with a greater SEQ.
            if (!tcb_.ts_ok || !seg.has_ts || !cfg_.timestamps) return false;
            return seq_gt(seg.tsval, tcb_.ts_recent) || (seg.tsval == tcb_.ts_recent && seq_gt(seg.seq, tcb_.rcv_nxt));
    }
    return false;
}

// The user calls and events for any Io seen through its abstract interface.
template Errno Endpoint::open_passive<Io>(SimTime, Io&, SockAddr, std::optional<SockAddr>);
template Errno Endpoint::open_active<Io>(SimTime, Io&, SockAddr, SockAddr);
template Errno Endpoint::send<Io>(SimTime, Io&, std::uint32_t);
template std::uint32_t Endpoint::receive<Io>(SimTime, Io&, std::uint32_t);
template Errno Endpoint::close<Io>(SimTime, Io&);
template Errno Endpoint::shutdown_write<Io>(SimTime, Io&);
template Errno Endpoint::abort<Io>(SimTime, Io&, std::string_view);
template void Endpoint::discard<Io>(SimTime, Io&, std::string_view);
template void Endpoint::on_segment<Io>(SimTime, Io&, const Segment&);
template void Endpoint::on_timer<Io>(SimTime, Io&, TimerKind);

}  // namespace tcpsim::tcp
