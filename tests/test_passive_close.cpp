// The passive close: CLOSE-WAIT and LAST-ACK, and the half-close in which the peer has shut down
// its sending side while we keep sending (RFC 9293 §3.10.2, §3.10.4, §3.10.5, §3.10.7.4; RFC 1122
// 4.2.2.13; RFC 6298). In CLOSE-WAIT RCV.NXT is 5002 (past the peer's FIN at 5001).
#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;
using tcp::State;
using tcp::Trigger;
using tcp::TimerKind;


// ---------------------------------------------------------------------------------------------
// CLOSE-WAIT

TEST_CASE("CLOSE-WAIT: CLOSE -> LAST-ACK, sends FIN <SEQ=SND.NXT><ACK=RCV.NXT> [RFC 9293 §3.10.4]", "[close-wait]") {
    Fixture f;
    f.to_close_wait();
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::LastAck);
    expect_transition(f.io, State::CloseWait, Trigger::Close, State::LastAck);
    expect_sent(f.io, "F.", f.iss + 1, f.peer_iss + 2);
    CHECK(f.snd_nxt() == f.iss + 2);
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::s(1));
}

TEST_CASE("CLOSE-WAIT: half-close: after the peer's FIN we keep sending data, then close [RFC 9293 §3.10.2 CLOSE-WAIT, §3.10.4]",
          "[close-wait][last-ack]") {
    Fixture f;
    f.to_established();
    f.deliver("F.", f.peer_iss + 1, f.iss + 1);  // the peer shuts down its sending side
    REQUIRE(f.ep.state() == State::CloseWait);
    f.io.clear();
    // §3.10.2 CLOSE-WAIT: "Segmentize the buffer and send it".
    REQUIRE(f.ep.send(f.now, f.io, 200) == Errno::Ok);
    const tcp::Segment d1 = expect_sent(f.io, "P.", f.iss + 1, f.peer_iss + 2);
    CHECK(d1.len == 200u);
    f.io.clear();
    f.deliver(".", f.peer_iss + 2, f.iss + 201);
    CHECK(f.ep.tcb().snd_una == f.iss + 201);
    expect_silent(f.io);
    REQUIRE(f.ep.send(f.now, f.io, 300) == Errno::Ok);
    const tcp::Segment d2 = expect_sent(f.io, "P.", f.iss + 201, f.peer_iss + 2);
    CHECK(d2.len == 300u);
    f.io.clear();
    // CLOSE with the 300 bytes still unacknowledged: the FIN follows them.
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::LastAck);
    expect_sent(f.io, "F.", f.iss + 501, f.peer_iss + 2);
    f.io.clear();
    f.deliver(".", f.peer_iss + 2, f.iss + 502);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::LastAck, Trigger::RcvAck, State::Closed);
    expect_silent(f.io);
}

TEST_CASE("CLOSE-WAIT: half-close between two endpoints: the FIN-WAIT-2 side keeps receiving [RFC 9293 §3.10.7.4]",
          "[close-wait][fin-wait-2]") {
    Pair p;
    REQUIRE(p.b.open_passive(p.now, p.ib, kB, std::nullopt) == Errno::Ok);
    REQUIRE(p.a.open_active(p.now, p.ia, kA, kB) == Errno::Ok);
    p.run();
    REQUIRE(p.a.shutdown_write(p.now, p.ia) == Errno::Ok);
    p.run();
    CHECK(p.a.state() == State::FinWait2);
    CHECK(p.b.state() == State::CloseWait);
    REQUIRE(p.b.send(p.now, p.ib, 1000) == Errno::Ok);
    p.run();
    CHECK(p.a.tcb().unread == 1000u);
    CHECK(p.b.tcb().snd_una == 6001u);  // ISS 5000 + SYN + 1000 bytes
    CHECK(p.a.state() == State::FinWait2);
    REQUIRE(p.b.close(p.now, p.ib) == Errno::Ok);
    p.run();
    CHECK(p.a.state() == State::TimeWait);
    CHECK(p.b.state() == State::Closed);
}

TEST_CASE("CLOSE-WAIT: data after the peer's FIN is ignored [RFC 9293 §3.10.7.4 seventh]", "[close-wait]") {
    Fixture f;
    f.to_close_wait();
    f.deliver("P.", f.peer_iss + 2, f.iss + 1, 100);
    CHECK(f.ep.tcb().unread == 0u);
    CHECK(f.rcv_nxt() == f.peer_iss + 2);
    CHECK(f.ep.state() == State::CloseWait);
}

TEST_CASE("CLOSE-WAIT: retransmitted FIN is unacceptable and draws an ACK [RFC 9293 §3.10.7.4 first]",
          "[close-wait]") {
    Fixture f;
    f.to_close_wait();
    f.deliver("F.", f.peer_iss + 1, f.iss + 1);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 2);
    CHECK(f.ep.state() == State::CloseWait);
    expect_no_transition(f.io);
}

TEST_CASE("CLOSE-WAIT: rcv RST at RCV.NXT -> CLOSED, signals 'connection reset' [RFC 9293 §3.10.7.4 second]",
          "[close-wait]") {
    Fixture f;
    f.to_close_wait();
    f.deliver("R", f.peer_iss + 2);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::CloseWait, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.notified(tcp::Notice::Reset));
}

TEST_CASE("CLOSE-WAIT: rcv RST reports ECONNRESET as the table row says [RFC 9293 §3.10.7.4 second]",
          "[close-wait]") {
    // §3.10.7.4 second, ESTABLISHED/FIN-WAIT-1/FIN-WAIT-2/CLOSE-WAIT: "any outstanding RECEIVEs
    // and SEND should receive 'reset' responses ... unsolicited general 'connection reset'
    // signal". The transition row (CLOSE-WAIT --rcv RST--> CLOSED) names ECONNRESET. EPIPE is
    // Linux's tcp_reset() choice and belongs in a profile, not in the RFC default; the FreeBSD
    // suite's rcv-rst-close-wait scripts expect SO_ERROR ECONNRESET as well.
    Fixture f;
    f.to_close_wait();
    f.deliver("R", f.peer_iss + 2);
    REQUIRE(f.ep.state() == State::Closed);
    CHECK(f.io.errno_of(tcp::Notice::Reset) == Errno::ConnReset);
}

TEST_CASE("CLOSE-WAIT: in-window RST not at RCV.NXT draws a challenge ACK [RFC 5961 §3.2]", "[close-wait]") {
    Fixture f;
    f.to_close_wait();
    f.deliver("R", f.peer_iss + 50);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 2);
    CHECK(f.ep.state() == State::CloseWait);
}

TEST_CASE("CLOSE-WAIT: ABORT -> CLOSED, sends <SEQ=SND.NXT><CTL=RST> [RFC 9293 §3.10.5]", "[close-wait]") {
    Fixture f;
    f.to_close_wait();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::CloseWait, Trigger::Abort, State::Closed);
    expect_sent(f.io, "R", f.iss + 1);
}

TEST_CASE("CLOSE-WAIT: CLOSE with unread data sends RST instead of FIN [RFC 1122 4.2.2.13]", "[close-wait]") {
    Fixture f;
    f.to_established();
    f.deliver("FP.", f.peer_iss + 1, f.iss + 1, 100);
    REQUIRE(f.ep.state() == State::CloseWait);
    REQUIRE(f.ep.tcb().unread == 100u);
    f.io.clear();
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::CloseWait, Trigger::Abort, State::Closed);
    expect_sent(f.io, "R", f.iss + 1);
}

TEST_CASE("CLOSE-WAIT: data retransmitted on RTO, ETIMEDOUT when retransmissions run out [RFC 6298 §5.4-5.5, RFC 9293 §3.8.3]",
          "[close-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.data_retries = 2;
    Fixture f(cfg);
    f.to_close_wait();
    const SimTime t0 = f.now;
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    f.io.clear();
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(1));
    const tcp::Segment r = expect_sent(f.io, "P.", f.iss + 1, f.peer_iss + 2);
    CHECK(r.len == 100u);
    f.io.clear();
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(3));
    f.io.clear();
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(7));
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::CloseWait, Trigger::RetransmitLimit, State::Closed);
    CHECK(f.io.errno_of(tcp::Notice::TimedOut) == Errno::TimedOut);
}

// ---------------------------------------------------------------------------------------------
// LAST-ACK

TEST_CASE("LAST-ACK: rcv ACK of our FIN -> CLOSED, no TIME-WAIT for the passive closer [RFC 9293 §3.10.7.4 fifth]",
          "[last-ack]") {
    Fixture f;
    f.to_last_ack();
    f.deliver(".", f.peer_iss + 2, f.iss + 2);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::LastAck, Trigger::RcvAck, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.notified(tcp::Notice::Closed));
    for (std::size_t k = 0; k < tcp::kTimerKinds; ++k) CHECK(f.io.timers[k].is_never());
}

TEST_CASE("LAST-ACK: ACK not acking our FIN leaves LAST-ACK [RFC 9293 §3.10.7.4 fifth]", "[last-ack]") {
    Fixture f;
    f.to_last_ack();
    f.deliver(".", f.peer_iss + 2, f.iss + 1);
    CHECK(f.ep.state() == State::LastAck);
    expect_no_transition(f.io);
    expect_silent(f.io);
}

TEST_CASE("LAST-ACK: retransmitted FIN from the peer draws an ACK [RFC 9293 §3.10.7.4 first]", "[last-ack]") {
    Fixture f;
    f.to_last_ack();
    f.deliver("F.", f.peer_iss + 1, f.iss + 1);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.ep.state() == State::LastAck);
}

TEST_CASE("LAST-ACK: rcv RST at RCV.NXT -> CLOSED [RFC 9293 §3.10.7.4 second]", "[last-ack]") {
    Fixture f;
    f.to_last_ack();
    f.deliver("R", f.peer_iss + 2);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::LastAck, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("LAST-ACK: ABORT -> CLOSED, sends nothing [RFC 9293 §3.10.5: 'respond with ok and delete the TCB']",
          "[last-ack]") {
    Fixture f;
    f.to_last_ack();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::LastAck, Trigger::Abort, State::Closed);
    expect_silent(f.io);
}

TEST_CASE("LAST-ACK: FIN retransmitted with back-off, ETIMEDOUT when retransmissions run out [RFC 6298 §5.5, RFC 9293 §3.8.3]",
          "[last-ack]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.data_retries = 2;
    Fixture f(cfg);
    f.to_last_ack();
    const SimTime t0 = f.now;
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(1));
    expect_sent(f.io, "F.", f.iss + 1, f.peer_iss + 2);
    f.io.clear();
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(3));
    expect_sent(f.io, "F.", f.iss + 1, f.peer_iss + 2);
    f.io.clear();
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(7));
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::LastAck, Trigger::RetransmitLimit, State::Closed);
    CHECK(f.io.errno_of(tcp::Notice::TimedOut) == Errno::TimedOut);
}

TEST_CASE("LAST-ACK: SEND is refused with 'connection closing' [RFC 9293 §3.10.2]", "[last-ack]") {
    Fixture f;
    f.to_last_ack();
    CHECK(f.ep.send(f.now, f.io, 10) != Errno::Ok);
    expect_silent(f.io);
}
