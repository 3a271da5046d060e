// ESTABLISHED: data transfer, ACK processing, the RST and SYN rules of RFC 5961 for every
// synchronized state, unacceptable segments, abortive close (RFC 1122 4.2.2.13, SO_LINGER 0) and
// retransmission (RFC 6298). Expected values come from RFC 9293 §3.10.7.4 and the RFCs cited.
#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;
using tcp::State;
using tcp::Trigger;
using tcp::TimerKind;

namespace {


// A synchronized state, how the fixture reaches it, and SND.NXT / RCV.NXT there (worked out by
// hand: ISS 1000, peer ISS 5000; our FIN takes 1001, the peer's FIN takes 5001).
struct SyncCase {
    const char* name;
    void (Fixture::*setup)();
    State state;
    tcp::Seq snd_nxt;
    tcp::Seq rcv_nxt;
};

const std::vector<SyncCase>& synchronized_cases() {
    static const std::vector<SyncCase> cases = {
        {"ESTABLISHED", &Fixture::to_established, State::Established, 1001, 5001},
        {"FIN-WAIT-1", &Fixture::to_fin_wait_1, State::FinWait1, 1002, 5001},
        {"FIN-WAIT-2", &Fixture::to_fin_wait_2, State::FinWait2, 1002, 5001},
        {"CLOSE-WAIT", &Fixture::to_close_wait, State::CloseWait, 1001, 5002},
        {"CLOSING", &Fixture::to_closing, State::Closing, 1002, 5002},
        {"LAST-ACK", &Fixture::to_last_ack, State::LastAck, 1002, 5002},
        {"TIME-WAIT", &Fixture::to_time_wait, State::TimeWait, 1002, 5002},
        // Reached by a simultaneous open: handled "per the directions for synchronized states".
        {"SYN-RECEIVED (active)", &Fixture::to_syn_received_active, State::SynReceived, 1001, 5001},
    };
    return cases;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Receiving data

TEST_CASE("ESTABLISHED: rcv in-order data advances RCV.NXT and sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> [RFC 9293 §3.10.7.4 seventh]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 500);
    const tcp::Segment a = expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1 + 500);
    CHECK(a.len == 0u);
    // RCV.WND shrinks by the bytes the application has not read (65535 - 500).
    CHECK(a.wnd == 65035u);
    CHECK(f.ep.tcb().unread == 500u);
    CHECK(f.io.notified(tcp::Notice::Readable));

    // A second segment continues the stream.
    f.io.clear();
    f.deliver(".", f.peer_iss + 501, f.iss + 1, 1000);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1501);
    CHECK(f.ep.tcb().unread == 1500u);

    // The application reads 1200 of the 1500 bytes.
    f.io.clear();
    CHECK(f.ep.receive(f.now, f.io, 1200) == 1200u);
    CHECK(f.ep.tcb().unread == 300u);
    CHECK(f.ep.receive(f.now, f.io, 1000) == 300u);
    CHECK(f.ep.receive(f.now, f.io, 1000) == 0u);
}

TEST_CASE("ESTABLISHED: segment overlapping RCV.NXT: only the new part is taken [RFC 9293 §3.10.7.4 first]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver(".", f.peer_iss + 1, f.iss + 1, 100);
    f.io.clear();
    // Bytes 5051..5200: the first 50 are old.
    f.deliver(".", f.peer_iss + 51, f.iss + 1, 150);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 201);
    CHECK(f.ep.tcb().unread == 200u);
}

TEST_CASE("ESTABLISHED: segment straddling the right window edge: only the in-window part is taken [RFC 9293 §3.10.7.4 first]",
          "[established]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rcv_buffer = 1000;
    Fixture f(cfg);
    f.to_established();
    f.deliver(".", f.peer_iss + 1, f.iss + 1, 1500);
    const tcp::Segment a = expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1001);
    CHECK(a.wnd == 0u);
    CHECK(f.ep.tcb().unread == 1000u);
}

TEST_CASE("ESTABLISHED: out-of-order data does not advance RCV.NXT and draws an immediate ACK [RFC 9293 §3.10.7.4, RFC 1122 4.2.2.21]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver(".", f.peer_iss + 101, f.iss + 1, 100);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);
}

TEST_CASE("ESTABLISHED: unacceptable segment (old duplicate) draws <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> [RFC 9293 §3.10.7.4 first]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver(".", f.peer_iss + 1, f.iss + 1, 200);
    f.io.clear();
    // Entirely before RCV.NXT.
    f.deliver(".", f.peer_iss + 1, f.iss + 1, 200);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 201);
    CHECK(f.ep.tcb().unread == 200u);
    // A zero-length segment with SEQ < RCV.NXT is unacceptable too.
    f.io.clear();
    f.deliver(".", f.peer_iss + 100, f.iss + 1);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 201);
    CHECK(f.ep.state() == State::Established);
}

TEST_CASE("ESTABLISHED: unacceptable segment (beyond the window) draws an ACK and is dropped [RFC 9293 §3.10.7.4 first]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver(".", f.peer_iss + 1 + 70000, f.iss + 1, 100);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);
    CHECK(f.ep.tcb().unread == 0u);
}

// ---------------------------------------------------------------------------------------------
// Sending data and ACK processing

TEST_CASE("ESTABLISHED: SEND is cut into MSS-sized segments, PSH on the last [RFC 9293 §3.7.1, §3.9.1.2]",
          "[established]") {
    Fixture f;
    f.to_established();  // the peer's SYN,ACK carried MSS 1460
    REQUIRE(f.ep.send(f.now, f.io, 3000) == Errno::Ok);
    REQUIRE(f.io.sent.size() == 3);
    CHECK(f.io.sent[0].seq == f.iss + 1);
    CHECK(f.io.sent[0].len == 1460u);
    CHECK(f.io.sent[1].seq == f.iss + 1461);
    CHECK(f.io.sent[1].len == 1460u);
    CHECK(f.io.sent[2].seq == f.iss + 2921);
    CHECK(f.io.sent[2].len == 80u);
    CHECK(tcp::format_flags(f.io.sent[2].flags) == "P.");
    for (const auto& s : f.io.sent) CHECK(s.ack == f.peer_iss + 1);
    CHECK(f.snd_nxt() == f.iss + 3001);
    CHECK(f.ep.unacked_bytes() == 3000u);
}

TEST_CASE("ESTABLISHED: without an MSS option the peer's MSS is 536 [RFC 9293 §3.7.1]", "[established]") {
    Fixture f;
    f.to_syn_sent();
    tcp::Segment synack = f.peer_seg("S.", f.peer_iss, f.iss + 1);
    synack.mss = 0;
    f.deliver(synack);
    REQUIRE(f.ep.state() == State::Established);
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 1000) == Errno::Ok);
    REQUIRE(f.io.sent.size() == 2);
    CHECK(f.io.sent[0].len == 536u);
    CHECK(f.io.sent[1].len == 464u);
}

TEST_CASE("ESTABLISHED: the sender stays within SND.UNA + SND.WND [RFC 9293 §3.8.6, §3.10.7.4 fifth window update]",
          "[established]") {
    Fixture f;
    f.to_established();
    // Window update: SND.WL1 (5000, the SYN) < SEG.SEQ.
    f.deliver(".", f.peer_iss + 1, f.iss + 1, 0, 1000);
    CHECK(f.ep.tcb().snd_wnd == 1000u);
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 3000) == Errno::Ok);
    const tcp::Segment s = expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(s.len == 1000u);
    // Acking the first 1000 with the window still 1000 lets the next 1000 go.
    f.io.clear();
    f.deliver(".", f.peer_iss + 1, f.iss + 1001, 0, 1000);
    const tcp::Segment s2 = expect_sent(f.io, ".", f.iss + 1001, f.peer_iss + 1);
    CHECK(s2.len == 1000u);
}

TEST_CASE("ESTABLISHED: ACK of new data advances SND.UNA; RTO restarted on partial ACK, stopped on full ACK [RFC 9293 §3.10.7.4 fifth, RFC 6298 §5.2-5.3]",
          "[established]") {
    Fixture f;
    f.to_established();
    REQUIRE(f.ep.send(f.now, f.io, 1000) == Errno::Ok);
    const SimTime first_deadline = f.io.timer(TimerKind::Retransmit);
    CHECK(first_deadline == f.now + Duration::s(1));
    f.io.clear();
    f.advance(Duration::ms(200));
    f.deliver(".", f.peer_iss + 1, f.iss + 501);
    CHECK(f.ep.tcb().snd_una == f.iss + 501);
    CHECK(f.ep.unacked_bytes() == 500u);
    expect_silent(f.io);  // a pure ACK is not acknowledged
    // §5.3: restarted so that it expires after RTO (at least 1 s, §2.4) from now.
    CHECK(f.io.timer(TimerKind::Retransmit) > first_deadline);
    CHECK(f.io.timer(TimerKind::Retransmit) >= f.now + Duration::s(1));
    f.deliver(".", f.peer_iss + 1, f.iss + 1001);
    CHECK(f.ep.tcb().snd_una == f.iss + 1001);
    CHECK(f.ep.unacked_bytes() == 0u);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("ESTABLISHED: ACK of data not yet sent draws an ACK and is dropped [RFC 9293 §3.10.7.4 fifth]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver(".", f.peer_iss + 1, f.iss + 500, 100);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.ep.tcb().snd_una == f.iss + 1);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);  // the segment's data is dropped with it
}

TEST_CASE("ESTABLISHED: duplicate ACK is ignored [RFC 9293 §3.10.7.4 fifth]", "[established]") {
    Fixture f;
    f.to_established();
    f.deliver(".", f.peer_iss + 1, f.iss + 1);
    expect_silent(f.io);
    CHECK(f.ep.state() == State::Established);
}

TEST_CASE("ESTABLISHED: ACK older than SND.UNA - MAX.SND.WND draws an ACK [RFC 5961 §5.2]", "[established]") {
    Fixture f;
    f.to_established();  // MAX.SND.WND = 65535 from the SYN,ACK
    f.deliver(".", f.peer_iss + 1, f.iss + 1 - 65535 - 10, 100);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);  // dropped: its data is not taken
}

// ---------------------------------------------------------------------------------------------
// RST (RFC 9293 §3.10.7.4 second; RFC 5961 §3.2)

TEST_CASE("ESTABLISHED: rcv RST at exactly RCV.NXT -> CLOSED, ECONNRESET [RFC 9293 §3.10.7.4 second, RFC 5961 §3.2]",
          "[established]") {
    Fixture f;
    f.to_established();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.io.clear();
    f.deliver("R", f.peer_iss + 1);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Established, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.errno_of(tcp::Notice::Reset) == Errno::ConnReset);
    CHECK(f.io.notified(tcp::Notice::Closed));
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());  // queues flushed
}

TEST_CASE("ESTABLISHED: in-window RST not at RCV.NXT draws a challenge ACK, stays ESTABLISHED [RFC 5961 §3.2]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver("R", f.peer_iss + 1 + 1000);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.ep.state() == State::Established);
    expect_no_transition(f.io);
}

TEST_CASE("ESTABLISHED: RST outside the window is dropped silently [RFC 9293 §3.10.7.4 first, RFC 5961 §3.2]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver("R", f.peer_iss + 1 + 70000);
    f.deliver("R.", f.peer_iss - 10, f.iss + 1);
    expect_silent(f.io);
    CHECK(f.ep.state() == State::Established);
}

TEST_CASE("ESTABLISHED: without RFC 5961 any in-window RST resets [RFC 9293 §3.10.7.4 second, RFC 793]",
          "[established]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rfc5961_rst = false;
    cfg.rfc5961_syn = false;
    Fixture f(cfg);
    f.to_established();
    f.deliver("R", f.peer_iss + 1 + 1000);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Established, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.errno_of(tcp::Notice::Reset) == Errno::ConnReset);
}

// ---------------------------------------------------------------------------------------------
// SYN in a synchronized state (RFC 9293 §3.10.7.4 fourth; RFC 5961 §4)

TEST_CASE("synchronized states: rcv SYN draws a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT> with RFC 5961 [RFC 5961 §4.2]",
          "[established][fin-wait-1][fin-wait-2][close-wait][closing][last-ack][time-wait][syn-received]") {
    for (const SyncCase& c : synchronized_cases()) {
        DYNAMIC_SECTION(c.name) {
            Fixture f;
            (f.*c.setup)();
            REQUIRE(f.ep.state() == c.state);
            // In the window: SEQ = RCV.NXT.
            f.deliver("S", c.rcv_nxt);
            expect_sent(f.io, ".", c.snd_nxt, c.rcv_nxt);
            CHECK(f.ep.state() == c.state);
            expect_no_transition(f.io);
            // "irrespective of the sequence number": below the window too.
            f.io.clear();
            f.deliver("S", c.rcv_nxt - 3000);
            expect_sent(f.io, ".", c.snd_nxt, c.rcv_nxt);
            CHECK(f.ep.state() == c.state);
        }
    }
}

TEST_CASE("synchronized states: rcv SYN in window without RFC 5961 -> CLOSED, sends RST, 'connection reset' [RFC 9293 §3.10.7.4 fourth, RFC 793]",
          "[established][fin-wait-1][fin-wait-2][close-wait][closing][last-ack][time-wait][syn-received]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rfc5961_rst = false;
    cfg.rfc5961_syn = false;
    for (const SyncCase& c : synchronized_cases()) {
        DYNAMIC_SECTION(c.name) {
            Fixture f(cfg);
            (f.*c.setup)();
            REQUIRE(f.ep.state() == c.state);
            f.deliver("S", c.rcv_nxt);
            CHECK(f.ep.state() == State::Closed);
            expect_transition(f.io, c.state, Trigger::RcvSynReset, State::Closed);
            // RFC 9293 says only "send a reset"; the form is the one the FreeBSD suite's
            // rcv-syn-*-left-edge-insecure scripts expect: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>,
            // window 0, and SO_ERROR ECONNRESET.
            const tcp::Segment r = expect_sent(f.io, "R.", c.snd_nxt, c.rcv_nxt);
            CHECK(r.wnd == 0u);
            CHECK(f.io.errno_of(tcp::Notice::Reset) == Errno::ConnReset);
            CHECK(f.io.notified(tcp::Notice::Closed));
            for (std::size_t k = 0; k < tcp::kTimerKinds; ++k)
                CHECK(f.io.timers[k].is_never());
        }
    }
}

TEST_CASE("synchronized states: without RFC 5961 a SYN outside the window draws an ACK, not a reset [RFC 9293 §3.10.7.4 first]",
          "[established]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rfc5961_rst = false;
    cfg.rfc5961_syn = false;
    Fixture f(cfg);
    f.to_established();
    f.deliver("S", f.peer_iss - 3000);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(f.ep.state() == State::Established);
}

// ---------------------------------------------------------------------------------------------
// CLOSE, ABORT, FIN

TEST_CASE("ESTABLISHED: CLOSE -> FIN-WAIT-1, sends FIN after the data [RFC 9293 §3.10.4]", "[established]") {
    Fixture f;
    f.to_established();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.io.clear();
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::FinWait1);
    expect_transition(f.io, State::Established, Trigger::Close, State::FinWait1);
    // The FIN follows the 100 bytes: it takes sequence number ISS+101.
    expect_sent(f.io, "F.", f.iss + 101, f.peer_iss + 1);
    CHECK(f.snd_nxt() == f.iss + 102);
    CHECK_FALSE(f.io.timer(TimerKind::Retransmit).is_never());
    // SEND after CLOSE: "error: connection closing".
    CHECK(f.ep.send(f.now, f.io, 10) != Errno::Ok);
}

TEST_CASE("ESTABLISHED: rcv FIN -> CLOSE-WAIT, ACKs the FIN, signals 'connection closing' [RFC 9293 §3.10.7.4 eighth]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver("F.", f.peer_iss + 1, f.iss + 1);
    CHECK(f.ep.state() == State::CloseWait);
    expect_transition(f.io, State::Established, Trigger::RcvFin, State::CloseWait);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 2);
    CHECK(f.io.notified(tcp::Notice::PeerClosed));
}

TEST_CASE("ESTABLISHED: rcv data+FIN takes the data, then the FIN, with one ACK [RFC 9293 §3.10.7.4 seventh, eighth]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver("FP.", f.peer_iss + 1, f.iss + 1, 100);
    CHECK(f.ep.state() == State::CloseWait);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 102);
    CHECK(f.ep.tcb().unread == 100u);
}

TEST_CASE("ESTABLISHED: FIN beyond RCV.NXT (a gap before it) is not processed [RFC 9293 §3.10.7.4 eighth]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.deliver("F.", f.peer_iss + 101, f.iss + 1);
    CHECK(f.ep.state() == State::Established);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);
}

TEST_CASE("ESTABLISHED: ABORT -> CLOSED, sends <SEQ=SND.NXT><CTL=RST> [RFC 9293 §3.10.5]", "[established]") {
    Fixture f;
    f.to_established();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.io.clear();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Established, Trigger::Abort, State::Closed);
    expect_sent(f.io, "R", f.iss + 101);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("ESTABLISHED: CLOSE with unread data sends RST and skips TIME-WAIT [RFC 1122 4.2.2.13]", "[established]") {
    Fixture f;
    f.to_established();
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 1);
    REQUIRE(f.ep.tcb().unread == 1u);
    f.io.clear();
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Established, Trigger::Abort, State::Closed);
    expect_sent(f.io, "R", f.iss + 1);  // the ABORT form, <SEQ=SND.NXT><CTL=RST>
    for (const auto& t : f.io.transitions) CHECK(t.to != State::TimeWait);
    CHECK(f.io.timer(TimerKind::TimeWait).is_never());
}

TEST_CASE("ESTABLISHED: CLOSE with SO_LINGER {1,0} sends RST, no FIN, no TIME-WAIT [RFC 9293 §3.10.5 ABORT]",
          "[established]") {
    Fixture f;
    f.to_established();
    f.ep.set_linger_zero(true);
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Established, Trigger::Abort, State::Closed);
    expect_sent(f.io, "R", f.iss + 1);
    CHECK(f.io.timer(TimerKind::TimeWait).is_never());
}

// ---------------------------------------------------------------------------------------------
// Retransmission (RFC 6298)

TEST_CASE("ESTABLISHED: RTO retransmits the earliest unacknowledged segment with binary back-off [RFC 6298 §5.4-5.6]",
          "[established]") {
    Fixture f;
    f.to_established();
    const SimTime t0 = f.now;
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.io.clear();
    // RTO 1 s (no RTT sample yet, §2.1), then 2, 4, 8 s.
    const std::int64_t expected_ms[] = {1000, 3000, 7000, 15000};
    for (std::int64_t at : expected_ms) {
        f.fire(TimerKind::Retransmit);
        CHECK((f.now - t0) == Duration::ms(at));
        const tcp::Segment s = expect_sent(f.io, "P.", f.iss + 1, f.peer_iss + 1);
        CHECK(s.len == 100u);
        f.io.clear();
    }
    CHECK(f.io.timer(TimerKind::Retransmit) == t0 + Duration::ms(31000));
    CHECK(f.ep.state() == State::Established);
    // The ACK stops the timer.
    f.deliver(".", f.peer_iss + 1, f.iss + 101);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
    CHECK(f.ep.unacked_bytes() == 0u);
}

TEST_CASE("ESTABLISHED: retransmissions exhausted -> CLOSED, ETIMEDOUT [RFC 9293 §3.8.3, RFC 1122 4.2.3.5]",
          "[established]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.data_retries = 3;
    Fixture f(cfg);
    f.to_established();
    const SimTime t0 = f.now;
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.io.clear();
    int retransmissions = 0;
    while (f.ep.state() == State::Established && retransmissions < 10) {
        f.fire(TimerKind::Retransmit);
        if (f.ep.state() == State::Established) {
            ++retransmissions;
            f.io.clear();
        }
    }
    CHECK(retransmissions == 3);
    CHECK((f.now - t0) == Duration::s(1 + 2 + 4 + 8));
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Established, Trigger::RetransmitLimit, State::Closed);
    CHECK(f.io.errno_of(tcp::Notice::TimedOut) == Errno::TimedOut);
}

TEST_CASE("ESTABLISHED: RTO from RTT samples: first R gives R + 4*(R/2), second per alpha=1/8, beta=1/4 [RFC 6298 §2.2-2.3]",
          "[established]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rto_min = Duration::ms(1);  // let the computed value show (§2.4's 1 s floor is a SHOULD)
    Fixture f(cfg);
    f.to_established();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.advance(Duration::ms(100));
    f.deliver(".", f.peer_iss + 1, f.iss + 101);  // R = 100 ms
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    // SRTT = 100, RTTVAR = 50, RTO = 100 + 4*50 = 300 ms.
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::ms(300));
    f.advance(Duration::ms(200));
    f.deliver(".", f.peer_iss + 1, f.iss + 201);  // R' = 200 ms
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5;
    // RTO = 112.5 + 4*62.5 = 362.5 ms.
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::us(362500));
}

TEST_CASE("ESTABLISHED: the backed-off RTO is kept until a new RTT sample (Karn) [RFC 6298 §3, §5 note after 5.7]",
          "[established]") {
    // RFC 6298 §5: "once a new RTT measurement is obtained (which can only happen when new data
    // has been sent and acknowledged), the computations outlined in Section 2 are performed,
    // including the computation of RTO, which may result in 'collapsing' RTO back down after it
    // has been subject to exponential back off (rule 5.5)". The ACK of a retransmitted segment
    // gives no sample (§3, Karn), so RTO stays backed off.
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rto_min = Duration::ms(1);
    Fixture f(cfg);
    f.to_established();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.advance(Duration::ms(100));
    f.deliver(".", f.peer_iss + 1, f.iss + 101);  // sample: RTO = 300 ms
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.fire(TimerKind::Retransmit);  // back off: RTO = 600 ms
    f.advance(Duration::ms(50));
    f.deliver(".", f.peer_iss + 1, f.iss + 201);  // ACK of the retransmission: no sample
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::ms(600));
}

TEST_CASE("ESTABLISHED: with RCV.WND = 0 the ACK of a data segment at RCV.NXT is still processed [RFC 9293 §3.10.7.4 first]",
          "[established]") {
    // §3.10.7.4 first: "If the RCV.WND is zero, no segments will be acceptable, but special
    // allowance should be made to accept valid ACKs, URGs, and RSTs."
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rcv_buffer = 1000;
    Fixture f(cfg);
    f.to_established();
    f.deliver(".", f.peer_iss + 1, f.iss + 1, 1000);  // fills the window, nothing read
    REQUIRE(f.ep.tcb().rcv_wnd == 0u);
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.io.clear();
    // The peer sends more data (it has not seen the zero window yet) and acks our 100 bytes.
    f.deliver(".", f.peer_iss + 1001, f.iss + 101, 100);
    CHECK(f.ep.tcb().snd_una == f.iss + 101);  // the ACK is taken
    CHECK(f.rcv_nxt() == f.peer_iss + 1001);   // the data is not
    expect_sent(f.io, ".", f.iss + 101, f.peer_iss + 1001);
}
