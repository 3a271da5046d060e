// SYN-SENT and SYN-RECEIVED: the three-way handshake, simultaneous open, RST and SYN handling
// before synchronization, and the SYN / SYN,ACK retransmission schedule (RFC 9293 §3.10.7.3,
// §3.10.7.4, §3.10.4, §3.10.5; RFC 5961 §3; RFC 6298 §5; RFC 1122 4.2.3.5).
#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;
using tcp::State;
using tcp::Trigger;
using tcp::TimerKind;

// ---------------------------------------------------------------------------------------------
// SYN-SENT

TEST_CASE("SYN-SENT: rcv SYN,ACK acking our SYN -> ESTABLISHED, sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> [RFC 9293 §3.10.7.3]",
          "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    f.advance(Duration::ms(30));
    f.deliver("S.", f.peer_iss, f.iss + 1, 0, 20000);
    CHECK(f.ep.state() == State::Established);
    expect_transition(f.io, State::SynSent, Trigger::RcvSynAck, State::Established);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.io.notified(tcp::Notice::Connected));
    // IRS = SEG.SEQ, RCV.NXT = SEG.SEQ+1, SND.UNA = SEG.ACK, SND.WND = SEG.WND.
    CHECK(f.ep.tcb().irs == f.peer_iss);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);
    CHECK(f.ep.tcb().snd_una == f.iss + 1);
    CHECK(f.ep.tcb().snd_wnd == 20000u);
    // Nothing outstanding: the retransmission timer is off (RFC 6298 §5.2).
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("SYN-SENT: data queued by SEND goes out with the handshake's ACK [RFC 9293 §3.10.2, §3.10.7.3]",
          "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    expect_silent(f.io);  // queued until ESTABLISHED
    f.deliver("S.", f.peer_iss, f.iss + 1);
    REQUIRE(f.ep.state() == State::Established);
    const tcp::Segment s = expect_sent(f.io, "P.", f.iss + 1, f.peer_iss + 1);
    CHECK(s.len == 100u);
}

TEST_CASE("SYN-SENT: rcv ACK with SEG.ACK =< ISS draws <SEQ=SEG.ACK><CTL=RST>, stays SYN-SENT [RFC 9293 §3.10.7.3 first]",
          "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    f.deliver("S.", f.peer_iss, f.iss);  // SEG.ACK = ISS: acks nothing we sent
    expect_sent(f.io, "R", f.iss);
    CHECK(f.ep.state() == State::SynSent);
    expect_no_transition(f.io);
    f.io.clear();
    f.deliver(".", f.peer_iss, f.iss - 500);
    expect_sent(f.io, "R", f.iss - 500);
    CHECK(f.ep.state() == State::SynSent);
}

TEST_CASE("SYN-SENT: rcv ACK with SEG.ACK > SND.NXT draws <SEQ=SEG.ACK><CTL=RST> [RFC 9293 §3.10.7.3 first]",
          "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    f.deliver("S.", f.peer_iss, f.iss + 2);
    expect_sent(f.io, "R", f.iss + 2);
    CHECK(f.ep.state() == State::SynSent);
    CHECK(f.ep.tcb().snd_una == f.iss);  // nothing was taken from the segment
}

TEST_CASE("SYN-SENT: RST with an unacceptable ACK is dropped without reply [RFC 9293 §3.10.7.3 first]",
          "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    f.deliver("R.", 0, f.iss + 7);
    expect_silent(f.io);
    CHECK(f.ep.state() == State::SynSent);
    expect_no_transition(f.io);
}

TEST_CASE("SYN-SENT: rcv RST acking our SYN -> CLOSED, ECONNREFUSED [RFC 9293 §3.10.7.3 second, RFC 5961 §3]",
          "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    f.deliver("R.", 0, f.iss + 1);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::SynSent, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);  // never answer an RST
    CHECK(f.io.notified(tcp::Notice::Refused));
    bool refused = false;
    for (const auto& [n, e] : f.io.notices)
        if (n == tcp::Notice::Refused) refused = e == Errno::ConnRefused;
    CHECK(refused);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("SYN-SENT: rcv RST without ACK is dropped, stays SYN-SENT [RFC 9293 §3.10.7.3 second]", "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    f.deliver("R", f.peer_iss);
    CHECK(f.ep.state() == State::SynSent);
    expect_silent(f.io);
    expect_no_transition(f.io);
}

TEST_CASE("SYN-SENT: ACK-only segment acking our SYN is dropped [RFC 9293 §3.10.7.3 fifth]", "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    f.deliver(".", f.peer_iss, f.iss + 1);
    CHECK(f.ep.state() == State::SynSent);
    expect_silent(f.io);
}

TEST_CASE("SYN-SENT: rcv SYN (simultaneous open) -> SYN-RECEIVED, sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> [RFC 9293 §3.10.7.3 fourth]",
          "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    f.deliver("S", f.peer_iss);
    CHECK(f.ep.state() == State::SynReceived);
    expect_transition(f.io, State::SynSent, Trigger::RcvSyn, State::SynReceived);
    expect_sent(f.io, "S.", f.iss, f.peer_iss + 1);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);
    CHECK_FALSE(f.ep.passive());
    // The peer's ACK of our SYN completes it (§3.10.7.4 fifth, SYN-RECEIVED).
    f.io.clear();
    f.deliver(".", f.peer_iss + 1, f.iss + 1);
    CHECK(f.ep.state() == State::Established);
    expect_transition(f.io, State::SynReceived, Trigger::RcvAck, State::Established);
}

TEST_CASE("SYN-SENT: simultaneous open of two endpoints: both reach ESTABLISHED [RFC 9293 §3.5 Figure 8]",
          "[syn-sent][syn-received]") {
    Pair p;
    REQUIRE(p.a.open_active(p.now, p.ia, kA, kB) == Errno::Ok);
    REQUIRE(p.b.open_active(p.now, p.ib, kB, kA) == Errno::Ok);
    // Both SYNs are in flight at once.
    REQUIRE(p.exchange());
    CHECK(p.a.state() == State::SynReceived);
    CHECK(p.b.state() == State::SynReceived);
    // Each answered with <SEQ=ISS><ACK=peer ISS+1><CTL=SYN,ACK> (Figure 8 lines 5-6).
    expect_sent(p.ia, "S.", 1000, 5001);
    expect_sent(p.ib, "S.", 5000, 1001);
    p.run();
    CHECK(p.a.state() == State::Established);
    CHECK(p.b.state() == State::Established);
    expect_transition(p.ia, State::SynSent, Trigger::RcvSyn, State::SynReceived);
    expect_transition(p.ia, State::SynReceived, Trigger::RcvAck, State::Established);
    expect_transition(p.ib, State::SynReceived, Trigger::RcvAck, State::Established);
    CHECK(p.a.tcb().snd_una == 1001u);
    CHECK(p.a.tcb().rcv_nxt == 5001u);
    CHECK(p.b.tcb().snd_una == 5001u);
    CHECK(p.b.tcb().rcv_nxt == 1001u);
    CHECK(p.ia.notified(tcp::Notice::Connected));
    CHECK(p.ib.notified(tcp::Notice::Connected));
}

TEST_CASE("SYN-SENT: client and listener: three-way handshake reaches ESTABLISHED on both [RFC 9293 §3.5 Figure 6]",
          "[syn-sent][listen]") {
    Pair p;
    REQUIRE(p.b.open_passive(p.now, p.ib, kB, std::nullopt) == Errno::Ok);
    REQUIRE(p.a.open_active(p.now, p.ia, kA, kB) == Errno::Ok);
    p.run();
    CHECK(p.a.state() == State::Established);
    CHECK(p.b.state() == State::Established);
    REQUIRE(p.wire_a_to_b.size() == 2);
    REQUIRE(p.wire_b_to_a.size() == 1);
    CHECK(tcp::format_flags(p.wire_a_to_b[0].flags) == "S");
    CHECK(p.wire_a_to_b[0].seq == 1000u);
    CHECK(tcp::format_flags(p.wire_b_to_a[0].flags) == "S.");
    CHECK(p.wire_b_to_a[0].seq == 5000u);
    CHECK(p.wire_b_to_a[0].ack == 1001u);
    CHECK(tcp::format_flags(p.wire_a_to_b[1].flags) == ".");
    CHECK(p.wire_a_to_b[1].seq == 1001u);
    CHECK(p.wire_a_to_b[1].ack == 5001u);
}

TEST_CASE("SYN-SENT: CLOSE -> CLOSED, deletes the TCB, sends nothing [RFC 9293 §3.10.4]", "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::SynSent, Trigger::Close, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("SYN-SENT: ABORT -> CLOSED, sends nothing [RFC 9293 §3.10.5]", "[syn-sent]") {
    Fixture f;
    f.to_syn_sent();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::SynSent, Trigger::Abort, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("SYN-SENT: syn_retries=6: SYNs at 0,1,3,7,15,31,63 s, ETIMEDOUT at 127 s [RFC 6298 §5.5, RFC 1122 4.2.3.5]",
          "[syn-sent]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.syn_retries = 6;
    Fixture f(cfg);
    f.to_syn_sent();  // first SYN at t = 0
    std::vector<std::int64_t> syn_at_s;
    while (f.ep.state() == State::SynSent) {
        f.fire(TimerKind::Retransmit);
        for (const auto& s : f.io.sent) {
            CHECK(tcp::format_flags(s.flags) == "S");
            CHECK(s.seq == f.iss);  // the same SYN: SEQ = ISS
            syn_at_s.push_back(f.now.ns() / 1'000'000'000);
            CHECK(f.now.ns() % 1'000'000'000 == 0);
        }
        if (f.ep.state() == State::SynSent) f.io.clear();
        REQUIRE(syn_at_s.size() <= 6);
    }
    CHECK(syn_at_s == std::vector<std::int64_t>{1, 3, 7, 15, 31, 63});
    CHECK(f.now == SimTime::zero() + Duration::s(127));
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::SynSent, Trigger::RetransmitLimit, State::Closed);
    CHECK(f.io.notified(tcp::Notice::TimedOut));
    bool timed_out = false;
    for (const auto& [n, e] : f.io.notices)
        if (n == tcp::Notice::TimedOut) timed_out = e == Errno::TimedOut;
    CHECK(timed_out);
    expect_silent(f.io);  // giving up sends nothing
}

TEST_CASE("SYN-SENT: RTO re-initialized to 3 s for data after a retransmitted SYN [RFC 6298 §5.7]",
          "[syn-sent][established]") {
    // RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN segment and the TCP
    // implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3
    // seconds when data transmission begins (i.e., after the three-way handshake completes)."
    // The retransmitted SYN gives no RTT sample (Karn), so RTO is exactly 3 s.
    Fixture f;
    f.to_syn_sent();
    f.fire(TimerKind::Retransmit);  // SYN retransmitted at 1 s
    f.io.clear();
    f.advance(Duration::ms(100));
    f.deliver("S.", f.peer_iss, f.iss + 1);
    REQUIRE(f.ep.state() == State::Established);
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::s(3));
}

// ---------------------------------------------------------------------------------------------
// SYN-RECEIVED

TEST_CASE("SYN-RECEIVED: rcv ACK of our SYN -> ESTABLISHED [RFC 9293 §3.10.7.4 fifth]", "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    f.deliver(".", f.peer_iss + 1, f.iss + 1, 0, 30000);
    CHECK(f.ep.state() == State::Established);
    expect_transition(f.io, State::SynReceived, Trigger::RcvAck, State::Established);
    expect_silent(f.io);  // an ACK is not acknowledged
    CHECK(f.io.notified(tcp::Notice::Connected));
    CHECK(f.ep.tcb().snd_una == f.iss + 1);
    CHECK(f.ep.tcb().snd_wnd == 30000u);  // SND.WND <- SEG.WND
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("SYN-RECEIVED: ACK completing the handshake may carry data, which is accepted [RFC 9293 §3.10.7.4 seventh]",
          "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 200);
    CHECK(f.ep.state() == State::Established);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1 + 200);
    CHECK(f.ep.tcb().unread == 200u);
}

TEST_CASE("SYN-RECEIVED: unacceptable ACK draws <SEQ=SEG.ACK><CTL=RST>, stays SYN-RECEIVED [RFC 9293 §3.10.7.4 fifth]",
          "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    f.deliver(".", f.peer_iss + 1, f.iss + 50);
    expect_sent(f.io, "R", f.iss + 50);
    CHECK(f.ep.state() == State::SynReceived);
    expect_no_transition(f.io);
    f.io.clear();
    f.deliver(".", f.peer_iss + 1, f.iss);  // acks nothing (SEG.ACK = SND.UNA)
    expect_sent(f.io, "R", f.iss);
    CHECK(f.ep.state() == State::SynReceived);
}

TEST_CASE("SYN-RECEIVED: segment without ACK is dropped [RFC 9293 §3.10.7.4 fifth: 'if the ACK bit is off drop']",
          "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    f.deliver("P", f.peer_iss + 1, 0, 10);
    CHECK(f.ep.state() == State::SynReceived);
    expect_silent(f.io);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);
}

TEST_CASE("SYN-RECEIVED (passive): rcv RST at RCV.NXT -> LISTEN, no reply [RFC 9293 §3.10.7.4 second]",
          "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    f.deliver("R", f.peer_iss + 1);
    CHECK(f.ep.state() == State::Listen);
    expect_transition(f.io, State::SynReceived, Trigger::RcvRst, State::Listen);
    expect_silent(f.io);
    CHECK(f.io.notified(tcp::Notice::ReturnedToListen));
    CHECK_FALSE(f.io.notified(tcp::Notice::Closed));  // "the user need not be informed"
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());  // retransmission queue flushed
}

TEST_CASE("SYN-RECEIVED (active): rcv RST at RCV.NXT -> CLOSED, ECONNREFUSED [RFC 9293 §3.10.7.4 second]",
          "[syn-received]") {
    Fixture f;
    f.to_syn_received_active();
    f.deliver("R", f.peer_iss + 1);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::SynReceived, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    bool refused = false;
    for (const auto& [n, e] : f.io.notices)
        if (n == tcp::Notice::Refused) refused = e == Errno::ConnRefused;
    CHECK(refused);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("SYN-RECEIVED: in-window RST not at RCV.NXT draws a challenge ACK [RFC 5961 §3.2]", "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    f.deliver("R", f.peer_iss + 10);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.ep.state() == State::SynReceived);
    expect_no_transition(f.io);
}

TEST_CASE("SYN-RECEIVED: out-of-window RST is dropped silently [RFC 9293 §3.10.7.4 first, RFC 5961 §3.2]",
          "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    f.deliver("R", f.peer_iss + 1 + 70000);
    expect_silent(f.io);
    CHECK(f.ep.state() == State::SynReceived);
}

TEST_CASE("SYN-RECEIVED (passive): rcv SYN -> LISTEN [RFC 9293 §3.10.7.4 fourth]", "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    f.deliver("S", f.peer_iss + 1);  // in the window
    CHECK(f.ep.state() == State::Listen);
    expect_transition(f.io, State::SynReceived, Trigger::RcvSyn, State::Listen);
    expect_silent(f.io);
    CHECK(f.io.notified(tcp::Notice::ReturnedToListen));
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("SYN-RECEIVED (active): rcv SYN draws a challenge ACK with RFC 5961 [RFC 9293 §3.10.7.4 fourth]",
          "[syn-received]") {
    Fixture f;
    f.to_syn_received_active();
    f.deliver("S", f.peer_iss + 1);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.ep.state() == State::SynReceived);
}

TEST_CASE("SYN-RECEIVED: CLOSE with nothing queued -> FIN-WAIT-1, sends FIN [RFC 9293 §3.10.4]", "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::FinWait1);
    expect_transition(f.io, State::SynReceived, Trigger::Close, State::FinWait1);
    // The FIN occupies ISS+1, right after our SYN.
    const tcp::Segment s = expect_sent(f.io, "F.", f.iss + 1, f.peer_iss + 1);
    CHECK(s.len == 0u);
    CHECK(f.snd_nxt() == f.iss + 2);
    // The peer's ACK of SYN and FIN ends in FIN-WAIT-2.
    f.io.clear();
    f.deliver(".", f.peer_iss + 1, f.iss + 2);
    CHECK(f.ep.state() == State::FinWait2);
}

TEST_CASE("SYN-RECEIVED: CLOSE with data queued is held until ESTABLISHED [RFC 9293 §3.10.4]",
          "[syn-received]") {
    // §3.10.4 SYN-RECEIVED: "If no SENDs have been issued and there is no pending data to send,
    // then form a FIN segment and send it, and enter FIN-WAIT-1 state; otherwise, queue for
    // processing after entering ESTABLISHED state." §3.10.2 SYN-RECEIVED: SEND data is queued
    // "for transmission after entering ESTABLISHED state".
    Fixture f;
    f.to_syn_received_passive();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::SynReceived);
    expect_silent(f.io);
}

TEST_CASE("SYN-RECEIVED: ABORT -> CLOSED, sends <SEQ=SND.NXT><CTL=RST> [RFC 9293 §3.10.5]", "[syn-received]") {
    Fixture f;
    f.to_syn_received_passive();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::SynReceived, Trigger::Abort, State::Closed);
    expect_sent(f.io, "R", f.iss + 1);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("SYN-RECEIVED: SYN,ACK retransmitted with back-off, ETIMEDOUT after synack_retries [RFC 6298 §5.5, RFC 9293 §3.8.3]",
          "[syn-received]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.synack_retries = 5;
    Fixture f(cfg);
    f.to_syn_received_passive();  // SYN,ACK at t = 0
    std::vector<std::int64_t> at_s;
    while (f.ep.state() == State::SynReceived) {
        f.fire(TimerKind::Retransmit);
        for (const auto& s : f.io.sent) {
            CHECK(tcp::format_flags(s.flags) == "S.");
            CHECK(s.seq == f.iss);
            CHECK(s.ack == f.peer_iss + 1);
            at_s.push_back(f.now.ns() / 1'000'000'000);
        }
        if (f.ep.state() == State::SynReceived) f.io.clear();
        REQUIRE(at_s.size() <= 5);
    }
    // 5 retransmissions at 1, 3, 7, 15, 31 s; the last RTO (32 s) expires at 63 s.
    CHECK(at_s == std::vector<std::int64_t>{1, 3, 7, 15, 31});
    CHECK(f.now == SimTime::zero() + Duration::s(63));
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::SynReceived, Trigger::RetransmitLimit, State::Closed);
    CHECK(f.io.notified(tcp::Notice::TimedOut));
}

TEST_CASE("SYN-RECEIVED: simultaneous-open SYN,ACK is retransmitted as SYN,ACK [RFC 9293 §3.10.7.3, RFC 6298 §5.4]",
          "[syn-received]") {
    Fixture f;
    f.to_syn_received_active();
    f.fire(TimerKind::Retransmit);
    expect_sent(f.io, "S.", f.iss, f.peer_iss + 1);
    CHECK(f.ep.state() == State::SynReceived);
}

TEST_CASE("SYN-SENT: text in the SYN,ACK is processed after ESTABLISHED [RFC 9293 §3.10.7.3 fourth]",
          "[syn-sent]") {
    // §3.10.7.3 fourth: "If there are other controls or text in the segment, then continue
    // processing at the sixth step under Section 3.10.7.4"; the seventh step takes the text.
    Fixture f;
    f.to_syn_sent();
    f.deliver("S.", f.peer_iss, f.iss + 1, 100);
    REQUIRE(f.ep.state() == State::Established);
    CHECK(f.rcv_nxt() == f.peer_iss + 101);
    CHECK(f.ep.tcb().unread == 100u);
    REQUIRE_FALSE(f.io.sent.empty());
    CHECK(f.io.sent.back().ack == f.peer_iss + 101);
}

TEST_CASE("SYN-SENT [linux]: a bad ACK draws an RST and the SYN goes again after TCP_TIMEOUT_MIN", "[syn-sent][linux]") {
    // linux-kernel-observations.md: the client in SYN-SENT answers a TIME-WAIT's ACK with RST
    // and "re-sends its SYN after about 10 ms, not after the 1 s RTO".
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.syn_sent_bad_ack_retry = Duration::ms(8);
    Fixture f(cfg);
    f.to_syn_sent();
    f.deliver(".", f.peer_iss + 77, f.iss + 500);  // an ACK for some other connection's data
    expect_sent(f.io, "R", f.iss + 500);
    CHECK(f.io.timer(tcp::TimerKind::Retransmit) == f.now + Duration::ms(8));
    f.io.clear();
    f.fire(tcp::TimerKind::Retransmit);
    expect_sent(f.io, "S", f.iss);
}
