// RFC 9293 endpoint: what does not go through an Io (segment construction, RTT and window
// arithmetic), and the calls of endpoint_impl.hpp instantiated for the abstract Io. Section
// numbers in comments refer to RFC 9293 unless another RFC is named.
#include "tcp/endpoint.hpp"

#include "tcp/endpoint_impl.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace tcpsim::tcp {

std::string_view to_string(TimerKind k) {
    switch (k) {
        case TimerKind::Retransmit: return "RTO";
        case TimerKind::TimeWait: return "2MSL";
        case TimerKind::FinWait2: return "FIN-WAIT-2";
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
    tcb_.rcv_buffer = cfg_.rcv_buffer;
    tcb_.rcv_wnd = cfg_.rcv_buffer;
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
template void Endpoint::on_segment<Io>(SimTime, Io&, const Segment&);
template void Endpoint::on_timer<Io>(SimTime, Io&, TimerKind);

}  // namespace tcpsim::tcp
