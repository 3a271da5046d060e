// A sans-IO TCP endpoint (DESIGN.md §3): it never reads a clock and never schedules anything.
// Every entry point takes `now` and an Io through which it sends segments, sets or clears
// its timers (one absolute deadline per kind), reports state transitions and notifies the
// application. The runner and the unit tests are the only callers.
//
// The calls that take an Io are templates over its type (their bodies are in endpoint_impl.hpp):
// with a final Io class every call to it is direct; Io below is the interface such a class
// implements, and endpoint.cpp instantiates the calls for Io itself (virtual dispatch).
#pragma once

#include "tcp/config.hpp"
#include "tcp/isn.hpp"
#include "tcp/segment.hpp"
#include "tcp/state.hpp"
#include "tcp/transitions.hpp"

#include <tcpsim/errno.hpp>
#include <tcpsim/time.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tcpsim::tcp {

enum class TimerKind : std::uint8_t { Retransmit, TimeWait, FinWait2, DelayedAck };
inline constexpr std::size_t kTimerKinds = 4;
std::string_view to_string(TimerKind k);

// What the endpoint tells its application (the RFC's "signal the user").
enum class Notice : std::uint8_t {
    Connected,         // ESTABLISHED reached
    Readable,          // new in-order bytes are waiting
    PeerClosed,        // the peer's FIN arrived (end of file after the unread bytes)
    Refused,           // ECONNREFUSED
    Reset,             // ECONNRESET (or EPIPE in CLOSE-WAIT)
    TimedOut,          // ETIMEDOUT
    ReturnedToListen,  // a passively opened SYN-RECEIVED went back to LISTEN
    TimeWait,          // TIME-WAIT entered: the host may keep it as a mini-socket instead
    // An orphaned FIN-WAIT-2 for the host to keep as a mini-socket for fin_wait2_minisock_timeout()
    // (Linux, TcpConfig::fin_wait2_minisock_max); its FIN-WAIT-2 timer stays armed for that long
    // in case the host keeps the full socket.
    OrphanFinWait2,
    Closed,            // the TCB is gone (state CLOSED): the owner may reap the endpoint
};
std::string_view to_string(Notice n);

class Io {
public:
    virtual ~Io() = default;
    virtual void send(const Segment& seg) = 0;
    // deadline == SimTime::never() clears the timer.
    virtual void set_timer(TimerKind kind, SimTime deadline) = 0;
    virtual void transitioned(const Transition& row, std::string_view why) = 0;
    virtual void notify(Notice notice, Errno err) = 0;
    // The segment is no longer this endpoint's: demultiplex it again once this call returns
    // (FreeBSD hands a SYN that ended a TIME-WAIT to the listener).
    virtual void redeliver(const Segment& seg) = 0;
};

// The transmission control block, RFC 9293 §3.3.1, plus RFC 7323 and RFC 6298 state.
struct Tcb {
    SockAddr local;
    SockAddr remote;
    bool remote_specified = false;

    Seq iss = 0;
    Seq snd_una = 0;
    Seq snd_nxt = 0;
    std::uint32_t snd_wnd = 0;
    Seq snd_wl1 = 0;
    Seq snd_wl2 = 0;
    std::uint32_t max_snd_wnd = 0;  // RFC 5961 §5.2 MAX.SND.WND

    Seq irs = 0;
    Seq rcv_nxt = 0;
    std::uint32_t rcv_wnd = 0;
    std::uint32_t rcv_buffer = 0;  // the receive buffer behind RCV.WND (SO_RCVBUF)

    // RFC 7323: negotiated when both SYNs carried the option.
    bool ts_ok = false;
    std::uint32_t ts_recent = 0;
    SimTime ts_recent_age = SimTime::zero();
    std::uint32_t ts_offset = 0;  // our TSval = now in ms + ts_offset

    std::uint16_t peer_mss = 536;  // RFC 9293 §3.7.1: 536 when the SYN had no MSS option
    bool peer_syn_seen = false;    // the peer's SYN (and its options) has been taken

    // The byte stream: data occupies [iss+1, data_end); our FIN, once requested, sits at data_end.
    Seq data_end = 0;
    bool fin_queued = false;
    bool fin_sent = false;
    // After a retransmission timeout: the next byte to send again (go-back-N up to SND.NXT).
    Seq rtx_nxt = 0;
    bool rtx_active = false;

    std::uint32_t unread = 0;    // received bytes the application has not read
    std::uint32_t syn_data = 0;  // text that came with the peer's SYN, queued until ESTABLISHED
    bool handshake_retransmitted = false;  // our SYN or SYN,ACK was sent again (RFC 6298 §5.7)
    SimTime syn_sent_at = SimTime::never();  // our first SYN (Linux retrans_stamp, syn_expiry_by_time)
    // When cfg.handshake_timeout drops the connection if it is still opening (XNU TCPT_KEEP).
    SimTime handshake_deadline = SimTime::never();

    // Linux on the wire (cfg.linux_wire; models/tcp/linux_window.hpp): the options agreed in the
    // SYNs and the receive window as tcp_select_window() keeps it. adv_wnd and rcv_wup are
    // tp->rcv_wnd and tp->rcv_wup: the window last offered and RCV.NXT when it was, updated as
    // each segment is built.
    bool sack_ok = false;          // both SYNs carried SACK-permitted (tcp_sack)
    bool ws_ok = false;            // both SYNs carried a window scale
    std::uint8_t rcv_wscale = 0;   // our shift (tp->rx_opt.rcv_wscale)
    std::uint8_t snd_wscale = 0;   // the peer's shift, applied to its windows after the SYN
    mutable std::uint32_t adv_wnd = 0;
    mutable Seq rcv_wup = 0;
    std::uint32_t rcv_ssthresh = 0;  // tp->rcv_ssthresh: the window offered at most (never grown here)
    bool fin_unread = false;         // the peer's FIN still sits in the receive queue (not read)
    bool data_received = false;      // tcp_event_data_recv() ran once: icsk_ack.ato is TCP_ATO_MIN
    mutable Seq ack_sent = 0;        // RCV.NXT as the last segment with ACK carried it
    SimTime last_oow_ack = SimTime::never();  // tp->last_oow_ack_time (cfg.oow_ack_ratelimit)
    Seq dsack_start = 0;  // a D-SACK block for the next ACK (RFC 2883), when dsack_end != dsack_start
    Seq dsack_end = 0;
    // Linux's out-of-order queue (tcp_data_queue_ofo(), cfg.linux_wire) as ranges of sequence
    // space, the most recently grown first: the order of its SACK blocks (tcp_sack_new_ofo_skb()).
    // A FIN in it ends its range (ofo_fin_seq). The data waits there until the hole is filled.
    std::array<SackBlock, kMaxSackBlocks> ofo{};
    std::uint8_t ofo_n = 0;
    bool ofo_fin = false;
    Seq ofo_fin_seq = 0;

    // RFC 6298
    Duration rto = Duration::s(1);
    Duration srtt = Duration::ns(0);
    Duration rttvar = Duration::ns(0);
    bool have_rtt = false;
    int retransmits = 0;
    bool timing = false;  // an RTT measurement is running (Karn: never on a retransmission)
    Seq timed_seq = 0;
    SimTime timed_at = SimTime::zero();
};

class Endpoint {
public:
    explicit Endpoint(const TcpConfig& cfg) : cfg_(cfg) {}

    // -- identity and options set by the owner before the connection starts
    void set_isn_source(const IsnGenerator* gen, std::optional<Seq> pinned) { isn_gen_ = gen; pinned_iss_ = pinned; }
    void set_ts_offset(std::uint32_t off) { tcb_.ts_offset = off; }
    void set_linger_zero(bool on) { linger_zero_ = on; }
    TcpConfig& config() { return cfg_; }
    [[nodiscard]] const TcpConfig& config() const { return cfg_; }

    // -- user calls (RFC 9293 §3.10.1-§3.10.6)
    template <class IoT>
    Errno open_passive(SimTime now, IoT& io, SockAddr local, std::optional<SockAddr> remote);
    template <class IoT>
    Errno open_active(SimTime now, IoT& io, SockAddr local, SockAddr remote);
    template <class IoT>
    Errno send(SimTime now, IoT& io, std::uint32_t bytes);
    template <class IoT>
    std::uint32_t receive(SimTime now, IoT& io, std::uint32_t max_bytes);
    template <class IoT>
    Errno close(SimTime now, IoT& io);
    template <class IoT>
    Errno shutdown_write(SimTime now, IoT& io);
    template <class IoT>
    Errno abort(SimTime now, IoT& io, std::string_view why = "ABORT");
    // The owner drops the connection without a word to the peer (Linux
    // inet_csk_reqsk_queue_drop() for a request the accept queue refuses).
    template <class IoT>
    void discard(SimTime now, IoT& io, std::string_view why);

    // -- events
    template <class IoT>
    void on_segment(SimTime now, IoT& io, const Segment& seg);
    template <class IoT>
    void on_timer(SimTime now, IoT& io, TimerKind kind);

    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] const Tcb& tcb() const { return tcb_; }
    [[nodiscard]] bool passive() const { return passive_; }
    [[nodiscard]] bool orphaned() const { return orphaned_; }
    [[nodiscard]] SimTime deadline(TimerKind k) const { return deadlines_[static_cast<std::size_t>(k)]; }
    // The timer an orphaned FIN-WAIT-2 mini-socket gets (Notice::OrphanFinWait2): tcp_time_wait()'s
    // timeo, before its floor of 3.5 RTO.
    [[nodiscard]] Duration fin_wait2_minisock_timeout() const { return fin_wait2_minisock_timeout_; }
    // Linux tcp_fin_time(): max(tcp_fin_timeout, 3.5 RTO); other stacks: fin_wait2_timeout.
    [[nodiscard]] Duration fin_time() const;
    // Bytes the application wrote that the peer has not acknowledged yet.
    [[nodiscard]] std::uint32_t unacked_bytes() const;

private:
    void reset_tcb(SockAddr local, SockAddr remote, bool remote_specified);
    // The one writer of state_ (DESIGN.md §3).
    template <class IoT>
    void transition_to(IoT& io, State next, Trigger trigger, std::string_view why);

    template <class IoT>
    void on_segment_listen(SimTime now, IoT& io, const Segment& seg);
    template <class IoT>
    void on_segment_syn_sent(SimTime now, IoT& io, const Segment& seg);
    template <class IoT>
    void on_segment_synchronized(SimTime now, IoT& io, Segment seg);
    // The common segment that the first four steps of §3.10.7.4 would let through unchanged.
    [[nodiscard]] bool header_predicted(const Segment& seg) const;
    // §3.10.7.4 from the fifth step (ACK) on; need_ack: an ACK is due for text not taken.
    template <class IoT>
    void on_segment_accepted(SimTime now, IoT& io, const Segment& seg, bool need_ack);
    template <class IoT>
    void on_segment_time_wait_freebsd(SimTime now, IoT& io, const Segment& seg);
    template <class IoT>
    void on_segment_time_wait_xnu(SimTime now, IoT& io, Segment seg);
    bool time_wait_accepts_syn(const Segment& seg) const;
    template <class IoT>
    void reopen_from_time_wait(SimTime now, IoT& io, const Segment& seg);

    // CLOSE or shutdown(SHUT_WR) with the FIN to send (§3.10.4): ESTABLISHED, SYN-RECEIVED, CLOSE-WAIT.
    template <class IoT>
    void queue_fin(SimTime now, IoT& io, std::string_view why);
    template <class IoT>
    void on_established(IoT& io);
    template <class IoT>
    void return_to_listen(IoT& io);
    template <class IoT>
    void enter_time_wait(SimTime now, IoT& io, Trigger trigger, std::string_view why);
    // An orphaned FIN-WAIT-2 begins (close() in FIN-WAIT-2, or the ACK of our FIN after close()).
    // fin_in_segment: the ACK of our FIN came with a FIN that is not processed now.
    template <class IoT>
    void orphan_fin_wait2(SimTime now, IoT& io, bool fin_in_segment);
    // Hands the orphan to the host as a mini-socket with a timer of `tmo`.
    template <class IoT>
    void hand_fin_wait2_to_host(SimTime now, IoT& io, Duration tmo);
    template <class IoT>
    void enter_closed(IoT& io, Trigger trigger, std::string_view why, Notice notice, Errno err,
                      const Segment* last = nullptr);
    void learn_syn_options(SimTime now, const Segment& seg);
    // The peer's SYN taken (§3.10.7.2 third, §3.10.7.3 fourth): IRS, RCV.NXT, its options, and
    // the send window it offers.
    void take_peer_syn(SimTime now, const Segment& seg) {
        tcb_.irs = seg.seq;
        tcb_.rcv_nxt = seg.seq + 1;
        learn_syn_options(now, seg);
        tcb_.snd_wnd = seg.wnd;
        tcb_.max_snd_wnd = seg.wnd;
        tcb_.snd_wl1 = seg.seq;
    }
    // Our SYN's sequence number (§3.10.1): SND.UNA = ISS, SND.NXT = ISS + 1; no data queued yet.
    void set_iss(Seq iss) {
        tcb_.iss = iss;
        tcb_.snd_una = iss;
        tcb_.snd_nxt = iss + 1;
        tcb_.data_end = iss + 1;
    }
    void round_rcv_buffer();
    // Linux: the initial window and shift of a connection (tcp_connect_init(),
    // tcp_openreq_init_rwin()), for an MSS of `mss` bytes of payload.
    void linux_initial_window(std::uint32_t mss, bool wscale_ok);
    // Linux tcp_select_window(): the window field of a segment we send now (updates adv_wnd, rcv_wup).
    [[nodiscard]] std::uint32_t linux_window_field() const;
    // A window the peer sent: scaled by its shift except in a SYN (RFC 7323 §2.2).
    [[nodiscard]] std::uint32_t peer_window(const Segment& seg) const {
        return seg.syn() ? seg.wnd : seg.wnd << tcb_.snd_wscale;
    }
    // Linux tcp_oow_rate_limited() (challenge: __tcp_oow_rate_limited(), which exempts nothing):
    // true when the reply to `seg` must be skipped; otherwise the reply's time is noted.
    bool oow_rate_limited(SimTime now, const Segment& seg, bool challenge);
    // The D-SACK block for an arriving segment that repeats bytes below RCV.NXT (Linux
    // tcp_send_dupack(), tcp_data_queue(): tcp_dsack_set()), when SACK is in use.
    void note_dsack(const Segment& seg);
    // Linux tcp_data_queue_ofo(): [start, end) (and a FIN at `end` - 1 when fin) waits in the
    // out-of-order queue; merged ranges move to the front; the oldest is forgotten past four.
    void ofo_insert(Seq start, Seq end, bool fin);
    // Linux tcp_ofo_queue(): after RCV.NXT moved, the ranges it reached join the stream. Returns
    // the bytes of text taken; fin: the queued FIN is next.
    std::uint32_t ofo_pull(bool& fin);
    // The SACK blocks of an ACK (tcp_established_options()): the D-SACK block, then the queue's.
    void add_sack_blocks(Segment& a) const;
    [[nodiscard]] std::uint32_t receive_window() const;
    void update_ts_recent(SimTime now, const Segment& seg);
    template <class IoT>
    void ack_advanced(SimTime now, IoT& io, Seq ack);

    Seq choose_iss(SimTime now) const;
    [[nodiscard]] std::uint32_t tsval(SimTime now) const;
    [[nodiscard]] Segment make(SimTime now, std::uint8_t flags, Seq seq, std::uint32_t len) const;
    template <class IoT>
    void send_ack(SimTime now, IoT& io, bool challenge = false);
    [[nodiscard]] Segment make_rst(SimTime now, Seq seq, bool with_ack) const;
    template <class IoT>
    void send_rst(SimTime now, IoT& io, Seq seq, bool with_ack);
    // Sends what the window allows from SND.NXT (new data, then our FIN). Most segments that
    // arrive leave nothing to send: that case is decided inline, without the call.
    template <class IoT>
    bool output(SimTime now, IoT& io) { return has_unsent() && output_unsent(now, io); }
    // A retransmission to continue, data not sent yet or a FIN queued and not sent.
    [[nodiscard]] bool has_unsent() const {
        return tcb_.rtx_active || seq_lt(tcb_.snd_nxt, tcb_.data_end) || (tcb_.fin_queued && !tcb_.fin_sent);
    }
    template <class IoT>
    bool output_unsent(SimTime now, IoT& io);
    // (Re)sends the earliest unacknowledged unit: SYN, SYN-ACK, data or FIN.
    template <class IoT>
    void retransmit(SimTime now, IoT& io);
    [[nodiscard]] Segment segment_at(SimTime now, Seq seq, std::uint32_t max_len) const;
    template <class IoT>
    void set_timer(IoT& io, TimerKind kind, SimTime deadline);
    template <class IoT>
    void arm_rto(SimTime now, IoT& io) {
        SimTime at = now + tcb_.rto;
        if (cfg_.handshake_timeout.count() > 0 && (state_ == State::SynSent || state_ == State::SynReceived)) {
            // XNU: TCPT_KEEP, armed with the first SYN (or SYN,ACK), ends the handshake even
            // between two retransmissions; the retransmit timer fires there and gives up.
            if (tcb_.handshake_deadline.is_never()) tcb_.handshake_deadline = now + cfg_.handshake_timeout;
            if (tcb_.handshake_deadline < at) at = tcb_.handshake_deadline;
        }
        set_timer(io, TimerKind::Retransmit, at);
    }
    void rtt_sample(Duration r);
    // cfg.handshake_rtt_sample: time our SYN or SYN,ACK (ack_advanced() takes the sample).
    void time_handshake(SimTime now) {
        if (!cfg_.handshake_rtt_sample) return;
        tcb_.timing = true;
        tcb_.timed_seq = tcb_.iss + 1;
        tcb_.timed_at = now;
    }
    [[nodiscard]] int retry_limit() const;
    // Whether the retransmission timer firing now ends the connection (ETIMEDOUT).
    [[nodiscard]] bool retransmits_exhausted(SimTime now) const;
    [[nodiscard]] bool our_fin_acked() const { return tcb_.fin_sent && tcb_.snd_una == tcb_.data_end + 1; }
    [[nodiscard]] std::uint32_t advertised_window() const;

    TcpConfig cfg_;
    State state_ = State::Closed;
    Tcb tcb_;
    bool passive_ = false;      // the connection came from a passive OPEN (RFC 9293 §3.10.7.4)
    bool orphaned_ = false;     // close() was called: no application holds the socket
    bool linger_zero_ = false;  // SO_LINGER {1, 0}
    bool close_pending_ = false;  // CLOSE in SYN-RECEIVED waiting for ESTABLISHED (§3.10.4)
    bool fin_wait2_handed_ = false;  // Notice::OrphanFinWait2 given
    Duration fin_wait2_minisock_timeout_ = Duration::ns(0);
    std::optional<SockAddr> listen_remote_;  // the foreign socket of the passive OPEN
    const IsnGenerator* isn_gen_ = nullptr;
    std::optional<Seq> pinned_iss_;
    std::array<SimTime, kTimerKinds> deadlines_{SimTime::never(), SimTime::never(), SimTime::never(),
                                                 SimTime::never()};
};

// RFC 9293 §3.10.7.1: the reply of a host that has no connection for a segment (CLOSED).
// Returns false when no reply is due (the segment is itself an RST).
bool reset_for_closed(const Segment& in, Segment& out);

}  // namespace tcpsim::tcp
