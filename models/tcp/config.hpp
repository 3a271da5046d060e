// Per-endpoint parameters. The defaults are strict RFC 9293 with RFC 5961 and RFC 6298; OS
// profiles (models/host) override them and switch on their named behaviours.
#pragma once

#include <tcpsim/time.hpp>

#include <cstdint>

namespace tcpsim::tcp {

// What a TIME-WAIT endpoint does with an RST whose SEQ is exactly RCV.NXT.
enum class RstInTimeWait : std::uint8_t {
    Close,   // RFC 9293 §3.10.7.4 second step: enter CLOSED (the RFC 1337 H3 hazard)
    Ignore,  // RFC 1337 F1; FreeBSD tcp_twcheck() drops every RST; Linux with tcp_rfc1337=1
};

// How a TIME-WAIT endpoint processes segments.
enum class TimeWaitInput : std::uint8_t {
    Rfc9293,  // the generic SEGMENT ARRIVES steps (§3.10.7.4) with the options below
    // FreeBSD tcp_twcheck() (sys/netinet/tcp_timewait.c): every RST is dropped; a SYN without
    // ACK whose SEQ is above RCV.NXT closes the TIME-WAIT and is looked up again (a listener
    // takes it, or it draws an RST); any other segment without ACK is dropped silently; a
    // retransmitted FIN restarts the 2MSL timer; anything but an exact duplicate ACK is ACKed.
    FreeBsd,
    // XNU tcp_input() (bsd/netinet/tcp_input.c): no tcp_twcheck(); the full TCB stays in
    // TIME_WAIT and takes the generic BSD input path (Stevens vol. 2 with RFC 5961 added). See
    // Endpoint::on_segment_time_wait_xnu() for its steps.
    Xnu,
};

// What a TIME-WAIT endpoint does with a SYN (no ACK) that arrives for its 4-tuple.
enum class SynInTimeWait : std::uint8_t {
    // RFC 9293 §3.10.7.4 fourth step: "new connections can be accepted if the Timestamp Option
    // is used and meets expectations (per RFC 6191)": both incarnations use timestamps and the
    // SYN's TSval is newer (or equal with a greater SEQ). Otherwise the SYN is handled like any
    // SYN in a synchronized state (an ACK outside the window; in it, a challenge ACK under
    // RFC 5961 or a reset without). The FreeBSD suite's STANDARD branches expect exactly this.
    Rfc9293,
    // RFC 793: a SYN in the window resets, outside draws an ACK; never a new connection.
    Never,
};

struct TcpConfig {
    // RFC 9293 §3.4.2: MSL 2 minutes; TIME-WAIT lasts 2*MSL unless time_wait is set.
    Duration msl = Duration::s(120);
    Duration time_wait = Duration::ns(0);  // 0: 2*msl
    // Orphaned FIN-WAIT-2 lifetime (Linux tcp_fin_timeout, default 60 s). 0: never times out
    // (Linux: 0 leaves the floor of 3.5 RTO, see fin_wait2_minisock_max).
    Duration fin_wait2_timeout = Duration::s(60);
    // Linux: the host keeps an orphaned FIN-WAIT-2 as a mini-socket (tcp_time_wait(sk,
    // TCP_FIN_WAIT2, tmo)) whose timer is at most TCP_TIMEWAIT_LEN, this value. The lifetime is
    // tcp_fin_time() = max(tcp_fin_timeout, 3.5 RTO) (include/net/tcp.h); when it is longer than
    // TCP_TIMEWAIT_LEN, the full socket waits the difference first (tcp_close(),
    // tcp_rcv_state_process(): tcp_reset_keepalive_timer(sk, tmo - TCP_TIMEWAIT_LEN)), then
    // becomes a mini-socket for tcp_fin_time() - TCP_TIMEWAIT_LEN (tcp_keepalive_timer()).
    // 0 (not Linux): the endpoint's FIN-WAIT-2 timer ends the orphan after fin_wait2_timeout.
    // The host sets it from its stack (Host::Host(), set_stack(), set_tcp_config()).
    Duration fin_wait2_minisock_max = Duration::ns(0);

    // RFC 6298 §2: initial RTO 1 s; RTO min 1 s (2.4); a maximum of at least 60 s (2.5).
    Duration rto_initial = Duration::s(1);
    Duration rto_min = Duration::s(1);
    Duration rto_max = Duration::s(120);
    // Retransmissions before giving up (Linux tcp_syn_retries=6, tcp_synack_retries=5,
    // tcp_retries2=15; RFC 1122 4.2.3.5 asks R2 to be at least 100 s).
    int syn_retries = 6;
    // Linux 6.5+ tcp_syn_linear_timeouts (4): the first N SYN retransmissions keep the initial
    // RTO (no back-off) and come on top of syn_retries: SYNs at 0,1,2,3,4,5,7,11,19,35,67 s
    // (tcp_retransmit_timer(); linux-kernel-observations.md).
    int syn_linear_timeouts = 0;
    // Linux: a SYN-SENT endpoint that answers a bad ACK with an RST re-sends its SYN after
    // TCP_TIMEOUT_MIN (2 jiffies, 8 ms at HZ=250) if it has not retransmitted yet; the peer's
    // TIME-WAIT or stale connection is gone by then (linux-kernel-observations.md: "re-sends its
    // SYN after about 10 ms"). 0: wait for the RTO.
    Duration syn_sent_bad_ack_retry = Duration::ns(0);
    int synack_retries = 5;
    int data_retries = 15;

    std::uint16_t mss = 1460;          // our MSS option
    std::uint32_t rcv_buffer = 65535;  // receive buffer: RCV.WND = rcv_buffer - unread bytes
    bool timestamps = true;            // offer RFC 7323 timestamps in our SYN
    // RFC 5961: an in-window RST not at RCV.NXT (§3.2) and a SYN in a synchronized state (§4.2)
    // draw a challenge ACK. Off: RFC 793 (any in-window RST resets; an in-window SYN resets).
    // FreeBSD switches them with net.inet.tcp.insecure_rst / insecure_syn.
    bool rfc5961_rst = true;
    bool rfc5961_syn = true;
    // Drop a SYN that also carries FIN when it reaches a listener (FreeBSD net.inet.tcp.drop_synfin).
    bool drop_synfin = false;
    // drop_synfin only in LISTEN and SYN-SENT: RFC 9293 has no such filter, and in a synchronized
    // state its SYN check (§3.10.7.4 fourth step) answers a SYN,FIN like any SYN: a challenge ACK
    // (RFC 5961 §4.2) or, with insecure_syn, a reset when it is in the window. The FreeBSD
    // suite's STANDARD branches expect exactly this in TIME-WAIT (rcv-syn-fin-time-wait) and the
    // drop in LISTEN and SYN-SENT (rcv-syn-fin-listen, rcv-syn-fin-syn-sent).
    bool drop_synfin_only_opening = false;
    // Send the MSS and timestamp options in our SYN (off: TCP_NOOPT, no options at all).
    bool syn_options = true;
    // FreeBSD tcp_output(): while our FIN is unacknowledged, every segment we send repeats it
    // (snd_nxt is stepped back onto the FIN), so the ACK of a crossing FIN reads F. not . .
    bool resend_fin_in_acks = false;
    // FreeBSD tcp_mss(): once the peer's SYN gives the MSS, the receive buffer is rounded up
    // to a multiple of it (65536 -> 65700 with MSS 1460); RCV.WND follows the buffer.
    bool rcv_buffer_rounds_to_mss = false;
    // BSD input processing (FreeBSD tcp_input(), Stevens vol. 2 ch. 28-29) where it differs from
    // RFC 9293 §3.10.7.4's order: (1) a SYN in a synchronized state is answered before the
    // sequence check: a reset when insecure_syn allows and SEG.SEQ is in the window, else a
    // challenge ACK; (2) a segment wholly to the left of the window is a duplicate, but "keep
    // on processing for RST or ACK": its ACK field is processed, then an ACK is sent; (3) the
    // window tested is the receive buffer's free space, which may exceed the 65535 advertised
    // without window scaling (tp->rcv_wnd = max(sbspace, rcv_adv - rcv_nxt)), except in a
    // SYN-RECEIVED reached from LISTEN (the syncache uses the advertised window).
    bool bsd_input = false;
    // FreeBSD tcp_input(): a listener drops a SYN,ACK silently ("SYN|ACK invalid, segment
    // rejected"); RFC 9293 §3.10.7.2 answers any ACK in LISTEN with <SEQ=SEG.ACK><CTL=RST>.
    bool listen_ignores_syn_ack = false;
    bool ts_required = true;           // drop non-RST segments without TS once negotiated (RFC 7323 §3.2)

    // Linux on the wire (net/ipv4/tcp_output.c). Our SYN also offers SACK-permitted (tcp_sack)
    // and a window scale (tcp_window_scaling) in tcp_options_write() order; a SYN,ACK to a
    // peer's SYN carries only what that SYN offered (tcp_synack_options()); the receive window
    // is tcp_select_initial_window()'s, then tcp_select_window()'s (models/tcp/linux_window.hpp);
    // windows the peer sends after its SYN are scaled by its shift. Off: MSS and timestamps only,
    // and the advertised window is the free receive buffer capped at 65535.
    bool linux_wire = false;
    bool sack = true;            // net.ipv4.tcp_sack (linux_wire)
    bool dsack = true;           // net.ipv4.tcp_dsack: report a duplicate in a D-SACK block (RFC 2883)
    bool window_scaling = true;  // net.ipv4.tcp_window_scaling (linux_wire)
    std::uint32_t rmem_default = 131072;   // net.ipv4.tcp_rmem[1]: a new socket's receive buffer
    std::uint32_t rmem_max = 33554432;     // net.ipv4.tcp_rmem[2]: the scale is chosen for it
    std::uint32_t core_rmem_max = 212992;  // net.core.rmem_max: counted by the scale choice too
    // Linux tcp_invalid_ratelimit (tcp_oow_rate_limited()): ACKs to out-of-window segments
    // without data, challenge ACKs and SYN-RECEIVED's replies go out at most once per this
    // interval per connection. 0: no limit.
    Duration oow_ack_ratelimit = Duration::ns(0);
    // Linux tcp_check_req(): SYN-RECEIVED answers a retransmitted SYN (SEQ = IRS) with the SYN,ACK
    // at once (inet_rtx_syn_ack(), under the rate limit above) and restarts the SYN,ACK timer.
    bool syn_recv_resends_synack = false;
    // Linux tcp_fin(): the FIN that moves ESTABLISHED to CLOSE-WAIT enters pingpong mode, so its ACK
    // waits for the delayed-ACK timer (tcp_send_delayed_ack()): icsk_ack.ato is 0 until data has
    // been received (the timer fires at the next tick: fin_ack_delay_no_data) and TCP_ATO_MIN
    // (HZ/25, 40 ms) once tcp_event_data_recv() has set it (fin_ack_delay). 0 and 0: ACK at once.
    Duration fin_ack_delay_no_data = Duration::ns(0);
    Duration fin_ack_delay = Duration::ns(0);
    // Linux tcp_rcv_state_process() step 7: new data after close() in FIN-WAIT-1/2 resets the
    // connection (tcp_reset()) and tcp_v4_do_rcv() answers the segment itself with
    // tcp_v4_send_reset() (<SEQ=SEG.ACK><CTL=RST>). Off: ABORT's <SEQ=SND.NXT> reset.
    bool data_after_close_reset_replies = false;
    // Linux __tcp_set_rto(): RTO = SRTT + max(4 * RTTVAR, tcp_rto_min) (tcp_rtt_estimator()
    // keeps rttvar_us at least tcp_rto_min_us). Off: RFC 6298 max(SRTT + 4 * RTTVAR, RTO.min).
    bool rto_min_adds_to_srtt = false;
    // Linux tcp_rcv_synsent_state_process(): text on the SYN,ACK is not taken (RCV.NXT =
    // SEG.SEQ + 1, no Fast Open); the peer sends it again. Off: §3.10.7.3 takes it.
    bool synack_text_dropped = false;
    // Linux takes an RTT sample from the handshake: the SYN's (tcp_clean_rtx_queue() when the
    // SYN,ACK acknowledges it) and the SYN,ACK's (tcp_synack_rtt_meas()), unless it was sent
    // again (Karn). RFC 6298 §2 starts with none (the RTO stays at its initial value).
    bool handshake_rtt_sample = false;
    // Linux tcp_write_timeout(): SYN-SENT also gives up once retransmits_timed_out() says the
    // time since the first SYN has reached tcp_model_timeout(syn_retries, initial RTO), the
    // time the classic doubling schedule would take ((2 << syn_retries) - 1 initial RTOs while
    // that stays under TCP_RTO_MAX): with tcp_syn_retries=1 SYNs go at 0, 1, 2 s (linear
    // phase) and connect() fails at 3 s. Off: only the retransmission count.
    bool syn_expiry_by_time = false;

    // ABORT sends <SEQ=SND.NXT><CTL=RST> (§3.10.5); Linux adds the ACK bit
    // (tcp_send_active_reset()).
    bool abort_rst_with_ack = false;

    TimeWaitInput time_wait_input = TimeWaitInput::Rfc9293;
    RstInTimeWait rst_in_time_wait = RstInTimeWait::Close;
    SynInTimeWait syn_in_time_wait = SynInTimeWait::Rfc9293;
    // ISS of a connection accepted from TIME-WAIT: old SND.NXT + this (Linux
    // tcp_timewait_state_process(): tw_snd_nxt + 65535 + 2; RFC 1122 4.2.2.13 asks only for
    // an ISN above the old sequence space).
    std::uint32_t reopen_iss_increment = 65537;

    // XNU TCPTV_KEEP_INIT (tcp_timer.h, 75 s; net.inet.tcp.keepinit): the keep-alive timer armed at
    // connect() and on a SYN at a listener drops a connection still in SYN-SENT or SYN-RECEIVED
    // this long after it began (tcp_timer.c tcp_timers() TCPT_KEEP: "if (tp->t_state <
    // TCPS_ESTABLISHED) goto dropit"), whatever the retransmission count. 0: no such timer.
    Duration handshake_timeout = Duration::ns(0);

    [[nodiscard]] Duration time_wait_length() const { return time_wait.count() > 0 ? time_wait : msl * 2; }
};

}  // namespace tcpsim::tcp
