// The active close: FIN-WAIT-1, FIN-WAIT-2, CLOSING, TIME-WAIT (RFC 9293 §3.10.4, §3.10.5,
// §3.10.7.4, §3.10.8; RFC 1337; RFC 6191; RFC 1122 4.2.2.13; RFC 6298). The fixture's MSL is 30 s,
// so 2*MSL is 60 s. Sequence numbers: our FIN takes ISS+1 = 1001, the peer's FIN 5001.
#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;
using tcp::State;
using tcp::Trigger;
using tcp::TimerKind;

namespace {


// ESTABLISHED + shutdown(SHUT_WR): FIN-WAIT-1 with the application still holding the socket.
void to_fin_wait_1_half_closed(Fixture& f) {
    f.to_established();
    REQUIRE(f.ep.shutdown_write(f.now, f.io) == Errno::Ok);
    REQUIRE(f.ep.state() == State::FinWait1);
    f.io.clear();
}

// Two endpoints connected by a three-way handshake, A active (ISS 1000), B passive (ISS 5000).
void connect(Pair& p) {
    REQUIRE(p.b.open_passive(p.now, p.ib, kB, std::nullopt) == Errno::Ok);
    REQUIRE(p.a.open_active(p.now, p.ia, kA, kB) == Errno::Ok);
    p.run();
    REQUIRE(p.a.state() == State::Established);
    REQUIRE(p.b.state() == State::Established);
    p.ia.clear();
    p.ib.clear();
    p.wire_a_to_b.clear();
    p.wire_b_to_a.clear();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Two endpoints

TEST_CASE("FIN-WAIT-1 .. TIME-WAIT: normal close between two endpoints, only the active closer holds TIME-WAIT [RFC 9293 Figure 12]",
          "[fin-wait-1][fin-wait-2][time-wait]") {
    Pair p;
    connect(p);
    REQUIRE(p.a.close(p.now, p.ia) == Errno::Ok);
    CHECK(p.a.state() == State::FinWait1);
    p.exchange();  // FIN to B; B ACKs it
    CHECK(p.b.state() == State::CloseWait);
    p.exchange();  // the ACK reaches A
    CHECK(p.a.state() == State::FinWait2);
    REQUIRE(p.b.close(p.now, p.ib) == Errno::Ok);
    CHECK(p.b.state() == State::LastAck);
    p.run();
    CHECK(p.a.state() == State::TimeWait);
    CHECK(p.b.state() == State::Closed);
    expect_transition(p.ia, State::Established, Trigger::Close, State::FinWait1);
    expect_transition(p.ia, State::FinWait1, Trigger::RcvAck, State::FinWait2);
    expect_transition(p.ia, State::FinWait2, Trigger::RcvFin, State::TimeWait);
    expect_transition(p.ib, State::Established, Trigger::RcvFin, State::CloseWait);
    expect_transition(p.ib, State::CloseWait, Trigger::Close, State::LastAck);
    expect_transition(p.ib, State::LastAck, Trigger::RcvAck, State::Closed);
    CHECK(p.ia.timer(TimerKind::TimeWait) == p.now + Duration::s(60));
    // Figure 12: FIN <SEQ=100>, ACK 101; FIN <SEQ=300><ACK=101>; ACK <SEQ=101><ACK=301>.
    REQUIRE(p.wire_a_to_b.size() == 2);
    REQUIRE(p.wire_b_to_a.size() == 2);
    CHECK(tcp::format_flags(p.wire_a_to_b[0].flags) == "F.");
    CHECK(p.wire_a_to_b[0].seq == 1001u);
    CHECK(p.wire_b_to_a[0].ack == 1002u);
    CHECK(tcp::format_flags(p.wire_b_to_a[1].flags) == "F.");
    CHECK(p.wire_b_to_a[1].seq == 5001u);
    CHECK(p.wire_a_to_b[1].seq == 1002u);
    CHECK(p.wire_a_to_b[1].ack == 5002u);
}

TEST_CASE("FIN-WAIT-1 -> CLOSING -> TIME-WAIT: simultaneous close leaves BOTH ends in TIME-WAIT [RFC 9293 Figure 13]",
          "[fin-wait-1][closing][time-wait]") {
    Pair p;
    connect(p);
    REQUIRE(p.a.close(p.now, p.ia) == Errno::Ok);
    REQUIRE(p.b.close(p.now, p.ib) == Errno::Ok);
    p.exchange();  // the FINs cross
    CHECK(p.a.state() == State::Closing);
    CHECK(p.b.state() == State::Closing);
    expect_sent(p.ia, ".", 1002, 5002);
    expect_sent(p.ib, ".", 5002, 1002);
    p.run();
    CHECK(p.a.state() == State::TimeWait);
    CHECK(p.b.state() == State::TimeWait);
    for (RecordingIo* io : {&p.ia, &p.ib}) {
        expect_transition(*io, State::FinWait1, Trigger::RcvFin, State::Closing);
        expect_transition(*io, State::Closing, Trigger::RcvAck, State::TimeWait);
        CHECK(io->timer(TimerKind::TimeWait) == p.now + Duration::s(60));
    }
}

// ---------------------------------------------------------------------------------------------
// FIN-WAIT-1

TEST_CASE("FIN-WAIT-1: rcv ACK of our FIN -> FIN-WAIT-2 [RFC 9293 §3.10.7.4 fifth]", "[fin-wait-1]") {
    Fixture f;
    f.to_fin_wait_1();
    f.deliver(".", f.peer_iss + 1, f.iss + 2);
    CHECK(f.ep.state() == State::FinWait2);
    expect_transition(f.io, State::FinWait1, Trigger::RcvAck, State::FinWait2);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("FIN-WAIT-1: rcv ACK of data but not of our FIN stays FIN-WAIT-1 [RFC 9293 §3.10.7.4 fifth]",
          "[fin-wait-1]") {
    Fixture f;
    f.to_established();
    REQUIRE(f.ep.send(f.now, f.io, 100) == Errno::Ok);
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    f.io.clear();
    f.deliver(".", f.peer_iss + 1, f.iss + 101);
    CHECK(f.ep.state() == State::FinWait1);
    expect_no_transition(f.io);
    CHECK_FALSE(f.io.timer(TimerKind::Retransmit).is_never());  // the FIN is still outstanding
}

TEST_CASE("FIN-WAIT-1: rcv FIN not acking our FIN -> CLOSING, sends ACK [RFC 9293 §3.10.7.4 eighth]",
          "[fin-wait-1]") {
    Fixture f;
    f.to_fin_wait_1();
    f.deliver("F.", f.peer_iss + 1, f.iss + 1);
    CHECK(f.ep.state() == State::Closing);
    expect_transition(f.io, State::FinWait1, Trigger::RcvFin, State::Closing);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.io.notified(tcp::Notice::PeerClosed));
    CHECK(f.io.timer(TimerKind::TimeWait).is_never());
}

TEST_CASE("FIN-WAIT-1: rcv FIN,ACK acking our FIN -> TIME-WAIT directly, sends ACK [RFC 9293 §3.10.7.4 eighth]",
          "[fin-wait-1][time-wait]") {
    Fixture f;
    f.to_fin_wait_1();
    f.advance(Duration::ms(40));
    f.deliver("F.", f.peer_iss + 1, f.iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    expect_transition(f.io, State::FinWait1, Trigger::RcvFinAck, State::TimeWait);
    for (const auto& t : f.io.transitions) CHECK(t.to != State::FinWait2);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    // "start the time-wait timer, turn off the other timers"
    CHECK(f.io.timer(TimerKind::TimeWait) == f.now + Duration::s(60));
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
    CHECK(f.io.timer(TimerKind::FinWait2).is_never());
}

TEST_CASE("FIN-WAIT-1: rcv RST at RCV.NXT -> CLOSED, ECONNRESET [RFC 9293 §3.10.7.4 second]", "[fin-wait-1]") {
    Fixture f;
    f.to_fin_wait_1();
    f.deliver("R", f.peer_iss + 1);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::FinWait1, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.errno_of(tcp::Notice::Reset) == Errno::ConnReset);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("FIN-WAIT-1: ABORT -> CLOSED, sends <SEQ=SND.NXT><CTL=RST> [RFC 9293 §3.10.5]", "[fin-wait-1]") {
    Fixture f;
    f.to_fin_wait_1();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::FinWait1, Trigger::Abort, State::Closed);
    expect_sent(f.io, "R", f.iss + 2);  // SND.NXT is past our FIN
}

TEST_CASE("FIN-WAIT-1: FIN retransmitted with back-off, ETIMEDOUT when retransmissions run out [RFC 6298 §5.5, RFC 9293 §3.8.3]",
          "[fin-wait-1]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.data_retries = 2;
    Fixture f(cfg);
    f.to_fin_wait_1();
    const SimTime t0 = f.now;
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(1));
    expect_sent(f.io, "F.", f.iss + 1, f.peer_iss + 1);
    f.io.clear();
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(3));
    expect_sent(f.io, "F.", f.iss + 1, f.peer_iss + 1);
    f.io.clear();
    f.fire(TimerKind::Retransmit);
    CHECK((f.now - t0) == Duration::s(7));
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::FinWait1, Trigger::RetransmitLimit, State::Closed);
    CHECK(f.io.errno_of(tcp::Notice::TimedOut) == Errno::TimedOut);
    expect_silent(f.io);
}

TEST_CASE("FIN-WAIT-1: after shutdown(SHUT_WR) data still arrives and is ACKed [RFC 9293 §3.10.7.4 seventh]",
          "[fin-wait-1]") {
    Fixture f;
    to_fin_wait_1_half_closed(f);
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 100);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 101);
    CHECK(f.ep.tcb().unread == 100u);
    CHECK(f.ep.state() == State::FinWait1);
}

TEST_CASE("FIN-WAIT-1: SEND after CLOSE is refused with 'connection closing' [RFC 9293 §3.10.2]", "[fin-wait-1]") {
    Fixture f;
    f.to_fin_wait_1();
    CHECK(f.ep.send(f.now, f.io, 10) != Errno::Ok);
    expect_silent(f.io);
    CHECK(f.ep.state() == State::FinWait1);
}

// ---------------------------------------------------------------------------------------------
// FIN-WAIT-2

TEST_CASE("FIN-WAIT-2: rcv FIN -> TIME-WAIT, sends ACK, 2MSL timer [RFC 9293 §3.10.7.4 eighth]", "[fin-wait-2]") {
    Fixture f;
    f.to_fin_wait_2();
    f.advance(Duration::s(5));
    f.deliver("F.", f.peer_iss + 1, f.iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    expect_transition(f.io, State::FinWait2, Trigger::RcvFin, State::TimeWait);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.io.notified(tcp::Notice::PeerClosed));
    // TIME-WAIT starts when the FIN arrives, not when our FIN was acknowledged.
    CHECK(f.io.timer(TimerKind::TimeWait) == f.now + Duration::s(60));
    CHECK(f.io.timer(TimerKind::FinWait2).is_never());
}

TEST_CASE("FIN-WAIT-2: rcv RST at RCV.NXT -> CLOSED, ECONNRESET [RFC 9293 §3.10.7.4 second]", "[fin-wait-2]") {
    Fixture f;
    f.to_fin_wait_2();
    f.deliver("R", f.peer_iss + 1);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::FinWait2, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.errno_of(tcp::Notice::Reset) == Errno::ConnReset);
    CHECK(f.io.timer(TimerKind::FinWait2).is_never());
}

TEST_CASE("FIN-WAIT-2: ABORT -> CLOSED, sends <SEQ=SND.NXT><CTL=RST> [RFC 9293 §3.10.5]", "[fin-wait-2]") {
    Fixture f;
    f.to_fin_wait_2();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::FinWait2, Trigger::Abort, State::Closed);
    expect_sent(f.io, "R", f.iss + 2);
}

TEST_CASE("FIN-WAIT-2: orphaned (after close()) -> CLOSED after fin_wait2_timeout, silently [Linux tcp_fin_timeout]",
          "[fin-wait-2]") {
    Fixture f;  // fin_wait2_timeout 60 s
    f.to_fin_wait_1();
    f.advance(Duration::ms(30));
    f.deliver(".", f.peer_iss + 1, f.iss + 2);
    REQUIRE(f.ep.state() == State::FinWait2);
    const SimTime entered = f.now;
    CHECK(f.io.timer(TimerKind::FinWait2) == entered + Duration::s(60));
    f.io.clear();
    f.fire(TimerKind::FinWait2);
    CHECK(f.now == entered + Duration::s(60));
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::FinWait2, Trigger::FinWait2Timeout, State::Closed);
    expect_silent(f.io);
}

TEST_CASE("FIN-WAIT-2: fin_wait2_timeout follows the configuration [Linux tcp_fin_timeout]", "[fin-wait-2]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.fin_wait2_timeout = Duration::s(5);
    Fixture f(cfg);
    f.to_fin_wait_2();
    CHECK(f.io.timer(TimerKind::FinWait2) == f.now + Duration::s(5));
}

TEST_CASE("FIN-WAIT-2: half-closed (shutdown_write) never times out, still receives, then FIN -> TIME-WAIT [RFC 9293 §3.10.7.4]",
          "[fin-wait-2]") {
    Fixture f;
    to_fin_wait_1_half_closed(f);
    f.deliver(".", f.peer_iss + 1, f.iss + 2);
    REQUIRE(f.ep.state() == State::FinWait2);
    CHECK(f.io.timer(TimerKind::FinWait2).is_never());
    CHECK(f.ep.deadline(TimerKind::FinWait2).is_never());
    // An hour later the peer is still sending: the data is taken and ACKed.
    f.advance(Duration::s(3600));
    f.io.clear();
    f.deliver("P.", f.peer_iss + 1, f.iss + 2, 100);
    CHECK(f.ep.state() == State::FinWait2);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 101);
    CHECK(f.ep.tcb().unread == 100u);
    f.io.clear();
    f.deliver("F.", f.peer_iss + 101, f.iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 102);
}

TEST_CASE("FIN-WAIT-2: half-closed, then close() starts the orphan timeout [Linux tcp_close()]", "[fin-wait-2]") {
    Fixture f;
    to_fin_wait_1_half_closed(f);
    f.deliver(".", f.peer_iss + 1, f.iss + 2);
    REQUIRE(f.ep.state() == State::FinWait2);
    f.advance(Duration::s(100));
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.io.timer(TimerKind::FinWait2) == f.now + Duration::s(60));
    f.io.clear();
    f.fire(TimerKind::FinWait2);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::FinWait2, Trigger::FinWait2Timeout, State::Closed);
}

TEST_CASE("FIN-WAIT-2: orphaned, data arriving after close() draws RST [RFC 1122 4.2.2.13]", "[fin-wait-2]") {
    Fixture f;
    f.to_fin_wait_2();
    f.deliver("P.", f.peer_iss + 1, f.iss + 2, 100);
    CHECK(f.ep.state() == State::Closed);
    REQUIRE(f.io.sent.size() == 1);
    CHECK((f.io.sent[0].flags & tcp::flag::Rst) != 0);
    CHECK(f.io.sent[0].seq == f.iss + 2);
}

// ---------------------------------------------------------------------------------------------
// CLOSING

TEST_CASE("CLOSING: rcv ACK of our FIN -> TIME-WAIT [RFC 9293 §3.10.7.4 fifth]", "[closing]") {
    Fixture f;
    f.to_closing();
    f.deliver(".", f.peer_iss + 2, f.iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    expect_transition(f.io, State::Closing, Trigger::RcvAck, State::TimeWait);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::TimeWait) == f.now + Duration::s(60));
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("CLOSING: ACK not acking our FIN is ignored [RFC 9293 §3.10.7.4 fifth: 'otherwise, ignore the segment']",
          "[closing]") {
    Fixture f;
    f.to_closing();
    f.deliver(".", f.peer_iss + 2, f.iss + 1);
    CHECK(f.ep.state() == State::Closing);
    expect_silent(f.io);
    expect_no_transition(f.io);
}

TEST_CASE("CLOSING: rcv RST at RCV.NXT -> CLOSED [RFC 9293 §3.10.7.4 second]", "[closing]") {
    Fixture f;
    f.to_closing();
    f.deliver("R", f.peer_iss + 2);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Closing, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("CLOSING: ABORT -> CLOSED, sends nothing [RFC 9293 §3.10.5: 'respond with ok and delete the TCB']",
          "[closing]") {
    Fixture f;
    f.to_closing();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Closing, Trigger::Abort, State::Closed);
    expect_silent(f.io);
}

TEST_CASE("CLOSING: FIN retransmitted, ETIMEDOUT when retransmissions run out [RFC 6298 §5.4, RFC 9293 §3.8.3]",
          "[closing]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.data_retries = 1;
    Fixture f(cfg);
    f.to_closing();
    f.fire(TimerKind::Retransmit);
    expect_sent(f.io, "F.", f.iss + 1, f.peer_iss + 2);  // now acking the peer's FIN
    f.io.clear();
    f.fire(TimerKind::Retransmit);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Closing, Trigger::RetransmitLimit, State::Closed);
    CHECK(f.io.errno_of(tcp::Notice::TimedOut) == Errno::TimedOut);
}

// ---------------------------------------------------------------------------------------------
// TIME-WAIT

TEST_CASE("TIME-WAIT: lasts 2*MSL, then CLOSED silently [RFC 9293 §3.10.8]", "[time-wait]") {
    Fixture f;  // MSL 30 s
    f.to_fin_wait_2();
    f.advance(Duration::s(2));
    f.deliver("F.", f.peer_iss + 1, f.iss + 2);
    REQUIRE(f.ep.state() == State::TimeWait);
    const SimTime entered = f.now;
    f.io.clear();
    // Not yet: a timer event before the deadline changes nothing.
    f.ep.on_timer(entered + Duration::s(59), f.io, TimerKind::TimeWait);
    CHECK(f.ep.state() == State::TimeWait);
    f.fire(TimerKind::TimeWait);
    CHECK(f.now == entered + Duration::s(60));
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::TimeWait, Trigger::Timeout2Msl, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.notified(tcp::Notice::Closed));
}

TEST_CASE("TIME-WAIT: with the RFC's MSL of 2 minutes it lasts 4 minutes [RFC 9293 §3.4.2, §3.10.8]",
          "[time-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.msl = Duration::s(120);
    Fixture f(cfg);
    f.to_time_wait();
    CHECK(f.io.timer(TimerKind::TimeWait) == f.now + Duration::s(240));
}

TEST_CASE("TIME-WAIT: retransmitted FIN is re-ACKed and restarts the 2MSL timer [RFC 9293 §3.10.7.4 eighth]",
          "[time-wait]") {
    Fixture f;
    f.to_time_wait();
    f.advance(Duration::s(20));
    f.deliver("F.", f.peer_iss + 1, f.iss + 2);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    CHECK(f.io.timer(TimerKind::TimeWait) == f.now + Duration::s(60));
    // The restarted timer, not the first one, ends it.
    f.io.clear();
    f.fire(TimerKind::TimeWait);
    CHECK(f.now == SimTime::zero() + Duration::ms(10) + Duration::s(80));
    CHECK(f.ep.state() == State::Closed);
}

TEST_CASE("TIME-WAIT: rcv RST at RCV.NXT -> CLOSED with rst_in_time_wait=Close [RFC 9293 §3.10.7.4 second, RFC 1337 H3]",
          "[time-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rst_in_time_wait = tcp::RstInTimeWait::Close;
    Fixture f(cfg);
    f.to_time_wait();
    f.deliver("R", f.peer_iss + 2);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::TimeWait, Trigger::RcvRst, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::TimeWait).is_never());
}

TEST_CASE("TIME-WAIT: rcv RST is ignored with rst_in_time_wait=Ignore [RFC 1337 F1]", "[time-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.rst_in_time_wait = tcp::RstInTimeWait::Ignore;
    Fixture f(cfg);
    f.to_time_wait();
    const SimTime deadline = f.io.timer(TimerKind::TimeWait);
    f.advance(Duration::s(1));
    f.deliver("R", f.peer_iss + 2);
    f.deliver("R.", f.peer_iss + 2, f.iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    expect_silent(f.io);
    expect_no_transition(f.io);
    CHECK(f.io.timer(TimerKind::TimeWait) == deadline);  // not restarted either
}

TEST_CASE("TIME-WAIT: in-window RST not at RCV.NXT draws a challenge ACK, TIME-WAIT survives [RFC 5961 §3.2]",
          "[time-wait]") {
    Fixture f;
    f.to_time_wait();
    f.deliver("R", f.peer_iss + 500);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
}

TEST_CASE("TIME-WAIT: ABORT -> CLOSED, sends nothing [RFC 9293 §3.10.5]", "[time-wait]") {
    Fixture f;
    f.to_time_wait();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::TimeWait, Trigger::Abort, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::TimeWait).is_never());
}

TEST_CASE("TIME-WAIT: SEND is refused with 'connection closing' [RFC 9293 §3.10.2]", "[time-wait]") {
    Fixture f;
    f.to_time_wait();
    CHECK(f.ep.send(f.now, f.io, 10) != Errno::Ok);
    expect_silent(f.io);
}

// -- SYN in TIME-WAIT (RFC 9293 §3.10.7.4 fourth; RFC 6191 §2; RFC 1122 4.2.2.13)

namespace {
// TIME-WAIT of a connection that used timestamps: every peer segment carried TSval 100, so
// TS.Recent = 100; RCV.NXT = 5002, SND.NXT = 1002.
void to_time_wait_with_timestamps(Fixture& f) {
    f.peer_tsval = 100;
    f.to_time_wait();
    REQUIRE(f.ep.tcb().ts_ok);
    REQUIRE(f.ep.tcb().ts_recent == 100u);
}

tcp::Segment syn_with_ts(const Fixture& f, tcp::Seq seq, std::uint32_t tsval) {
    tcp::Segment s = seg(f.remote, f.local, "S", seq);
    s.has_ts = true;
    s.tsval = tsval;
    s.tsecr = 0;
    return s;
}
}  // namespace

TEST_CASE("TIME-WAIT: SYN with newer TSval -> SYN-RECEIVED, ISS = old SND.NXT + 65537 [RFC 6191 §2, RFC 1122 4.2.2.13]",
          "[time-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.timestamps = true;
    Fixture f(cfg);
    to_time_wait_with_timestamps(f);
    const tcp::Seq old_snd_nxt = f.iss + 2;
    f.advance(Duration::s(3));
    // A lower SEQ than RCV.NXT: the timestamp alone decides.
    f.deliver(syn_with_ts(f, 3000, 101));
    CHECK(f.ep.state() == State::SynReceived);
    expect_transition(f.io, State::TimeWait, Trigger::SynInTimeWait, State::SynReceived);
    const tcp::Seq new_iss = old_snd_nxt + 65537;
    const tcp::Segment sa = expect_sent(f.io, "S.", new_iss, 3001);
    // RFC 1122 4.2.2.13 (1): the new ISN is above every sequence number of the old incarnation.
    CHECK(tcp::seq_gt(sa.seq, old_snd_nxt));
    // RFC 7323 §3.2: the SYN,ACK carries TSopt, echoing the SYN's TSval.
    CHECK(sa.has_ts);
    CHECK(sa.tsecr == 101u);
    CHECK(f.io.timer(TimerKind::TimeWait).is_never());
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::s(1));
    // The new incarnation completes its handshake.
    f.io.clear();
    tcp::Segment ack = seg(f.remote, f.local, ".", 3001, new_iss + 1);
    ack.has_ts = true;
    ack.tsval = 102;
    ack.tsecr = sa.tsval;
    f.deliver(ack);
    CHECK(f.ep.state() == State::Established);
}

TEST_CASE("TIME-WAIT: SYN with older TSval is rejected with a challenge ACK, TIME-WAIT stays [RFC 6191 §2, RFC 9293 §3.10.7.4 fourth]",
          "[time-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.timestamps = true;
    Fixture f(cfg);
    to_time_wait_with_timestamps(f);
    // Even with a higher SEQ (reference T6: PAWS rejects it).
    f.deliver(syn_with_ts(f, f.peer_iss + 100000, 99));
    CHECK(f.ep.state() == State::TimeWait);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    expect_no_transition(f.io);
}

TEST_CASE("TIME-WAIT: SYN with equal TSval is accepted only with a higher SEQ [RFC 6191 §2]", "[time-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.timestamps = true;
    SECTION("higher SEQ -> SYN-RECEIVED") {
        Fixture f(cfg);
        to_time_wait_with_timestamps(f);
        f.deliver(syn_with_ts(f, f.peer_iss + 100000, 100));
        CHECK(f.ep.state() == State::SynReceived);
        expect_sent(f.io, "S.", f.iss + 2 + 65537, f.peer_iss + 100001);
    }
    SECTION("lower SEQ -> challenge ACK") {
        Fixture f(cfg);
        to_time_wait_with_timestamps(f);
        f.deliver(syn_with_ts(f, f.peer_iss - 100, 100));
        CHECK(f.ep.state() == State::TimeWait);
        expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    }
}

TEST_CASE("TIME-WAIT: without timestamps a higher-SEQ SYN is no new connection: ACK, TIME-WAIT stays [RFC 9293 §3.10.7.4 fourth]",
          "[time-wait]") {
    // §3.10.7.4 fourth, TIME-WAIT: "new connections can be accepted if the Timestamp Option is
    // used and meets expectations (per RFC 6191). For all other cases, RFC 5961 recommends that
    // a challenge ACK be sent".
    Fixture f;  // timestamps off
    f.to_time_wait();
    SECTION("outside the window: the first step's ACK") {
        f.deliver("S", f.peer_iss + 100000);
    }
    SECTION("in the window: a challenge ACK") {
        f.deliver("S", f.peer_iss + 10);
    }
    CHECK(f.ep.state() == State::TimeWait);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    expect_no_transition(f.io);
}

TEST_CASE("TIME-WAIT: timestamps on the old incarnation, SYN without TSopt is rejected [RFC 9293 §3.10.7.4 fourth, RFC 6191 §2]",
          "[time-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.timestamps = true;
    Fixture f(cfg);
    to_time_wait_with_timestamps(f);
    f.deliver(seg(f.remote, f.local, "S", f.peer_iss + 10));
    CHECK(f.ep.state() == State::TimeWait);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
}

TEST_CASE("TIME-WAIT: SYN with a lower SEQ and no timestamps is rejected [RFC 9293 §3.10.7.4, RFC 6191 §2]",
          "[time-wait]") {
    Fixture f;
    f.to_time_wait();
    f.deliver("S", f.peer_iss - 100);
    CHECK(f.ep.state() == State::TimeWait);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
}

TEST_CASE("TIME-WAIT: syn_in_time_wait=Never: even a newer-TSval SYN is not a new connection [RFC 793]",
          "[time-wait]") {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.timestamps = true;
    cfg.syn_in_time_wait = tcp::SynInTimeWait::Never;
    Fixture f(cfg);
    to_time_wait_with_timestamps(f);
    f.deliver(syn_with_ts(f, f.peer_iss + 100000, 101));  // outside the window: an ACK (first step)
    CHECK(f.ep.state() == State::TimeWait);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
}

TEST_CASE("TIME-WAIT: duplicate ACK is dropped silently [RFC 9293 §3.10.7.4 fifth, TIME-WAIT]", "[time-wait]") {
    Fixture f;
    f.to_time_wait();
    const SimTime deadline = f.io.timer(TimerKind::TimeWait);
    f.advance(Duration::s(1));
    f.deliver(".", f.peer_iss + 2, f.iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    expect_silent(f.io);
    CHECK(f.io.timer(TimerKind::TimeWait) == deadline);
}
