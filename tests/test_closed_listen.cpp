// CLOSED and LISTEN: the OPEN, SEND, CLOSE and ABORT user calls (RFC 9293 §3.10.1-§3.10.5) and
// SEGMENT ARRIVES in CLOSED (§3.10.7.1) and LISTEN (§3.10.7.2). Expected segments are written from
// the RFC text, not from the endpoint's output.
#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;
using tcp::State;
using tcp::Trigger;
using tcp::TimerKind;

namespace {
constexpr tcp::SockAddr kC{0x0A000003, 41000};  // 10.0.0.3:41000, a third host
}  // namespace

// ---------------------------------------------------------------------------------------------
// CLOSED: user calls

TEST_CASE("CLOSED: passive OPEN -> LISTEN, sends nothing [RFC 9293 §3.10.1]", "[closed]") {
    Fixture f;
    REQUIRE(f.ep.open_passive(f.now, f.io, kB, std::nullopt) == Errno::Ok);
    CHECK(f.ep.state() == State::Listen);
    expect_transition(f.io, State::Closed, Trigger::PassiveOpen, State::Listen);
    expect_silent(f.io);
    CHECK(f.ep.passive());
    // No timer runs in LISTEN.
    CHECK(f.io.timer(TimerKind::Retransmit).is_never());
}

TEST_CASE("CLOSED: active OPEN -> SYN-SENT, sends <SEQ=ISS><CTL=SYN> and starts the RTO [RFC 9293 §3.10.1, RFC 6298 §2.1]",
          "[closed]") {
    Fixture f;
    f.advance(Duration::ms(250));
    REQUIRE(f.ep.open_active(f.now, f.io, f.local, f.remote) == Errno::Ok);
    CHECK(f.ep.state() == State::SynSent);
    expect_transition(f.io, State::Closed, Trigger::ActiveOpen, State::SynSent);
    const tcp::Segment s = expect_sent(f.io, "S", f.iss);
    CHECK(s.dst == f.remote);
    CHECK(s.len == 0);
    CHECK(s.mss == f.cfg.mss);  // RFC 9293 §3.7.1: the MSS option goes in the SYN
    // §3.10.1: SND.UNA = ISS, SND.NXT = ISS+1.
    CHECK(f.ep.tcb().snd_una == f.iss);
    CHECK(f.snd_nxt() == f.iss + 1);
    // RFC 6298 §2.1: initial RTO 1 s.
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::s(1));
}

TEST_CASE("CLOSED: OPEN on an existing connection fails with 'connection already exists' [RFC 9293 §3.10.1]",
          "[closed][listen]") {
    Fixture f;
    f.to_listen();
    CHECK(f.ep.open_passive(f.now, f.io, kB, std::nullopt) != Errno::Ok);
    CHECK(f.ep.open_active(f.now, f.io, kB, kA) != Errno::Ok);
    CHECK(f.ep.state() == State::Listen);
    expect_silent(f.io);
    expect_no_transition(f.io);
}

TEST_CASE("CLOSED: SEND, CLOSE and ABORT fail with 'connection does not exist' [RFC 9293 §3.10.2-§3.10.5]",
          "[closed]") {
    Fixture f;
    CHECK(f.ep.send(f.now, f.io, 10) != Errno::Ok);
    CHECK(f.ep.close(f.now, f.io) != Errno::Ok);
    CHECK(f.ep.abort(f.now, f.io) != Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_silent(f.io);
    expect_no_transition(f.io);
}

// ---------------------------------------------------------------------------------------------
// CLOSED: SEGMENT ARRIVES (§3.10.7.1) through tcp::reset_for_closed and through an endpoint

TEST_CASE("CLOSED: segment with ACK draws <SEQ=SEG.ACK><CTL=RST> [RFC 9293 §3.10.7.1]", "[closed]") {
    tcp::Segment out;
    const tcp::Segment in = seg(kA, kB, ".", 7000, 123456, 10);
    REQUIRE(tcp::reset_for_closed(in, out));
    CHECK(tcp::format_flags(out.flags) == "R");
    CHECK(out.seq == 123456u);
    CHECK(out.src == kB);
    CHECK(out.dst == kA);
}

TEST_CASE("CLOSED: SYN without ACK draws <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> [RFC 9293 §3.10.7.1]",
          "[closed]") {
    tcp::Segment out;
    REQUIRE(tcp::reset_for_closed(seg(kA, kB, "S", 5000), out));
    CHECK(tcp::format_flags(out.flags) == "R.");
    CHECK(out.seq == 0u);
    CHECK(out.ack == 5001u);  // SEG.LEN counts the SYN
    CHECK(out.dst == kA);
}

TEST_CASE("CLOSED: SEG.LEN in the RST,ACK counts data, SYN and FIN [RFC 9293 §3.10.7.1, §3.4]", "[closed]") {
    tcp::Segment out;
    REQUIRE(tcp::reset_for_closed(seg(kA, kB, "P", 100, 0, 40), out));
    CHECK(out.ack == 140u);
    REQUIRE(tcp::reset_for_closed(seg(kA, kB, "F", 100, 0, 40), out));
    CHECK(out.ack == 141u);
    REQUIRE(tcp::reset_for_closed(seg(kA, kB, "FS", 100), out));
    CHECK(out.ack == 102u);
    // Wraps modulo 2^32 (§3.4).
    REQUIRE(tcp::reset_for_closed(seg(kA, kB, "S", 0xFFFFFFFFu), out));
    CHECK(out.ack == 0u);
}

TEST_CASE("CLOSED: an incoming RST is discarded, no reply [RFC 9293 §3.10.7.1]", "[closed]") {
    tcp::Segment out;
    CHECK_FALSE(tcp::reset_for_closed(seg(kA, kB, "R", 5000), out));
    CHECK_FALSE(tcp::reset_for_closed(seg(kA, kB, "R.", 5000, 42), out));
}

TEST_CASE("CLOSED: an endpoint with no TCB answers a SYN with RST,ACK and an ACK with RST [RFC 9293 §3.10.7.1]",
          "[closed]") {
    Fixture f;
    f.deliver("S", 5000);
    expect_sent(f.io, "R.", 0, 5001);
    f.io.clear();
    f.deliver(".", 5001, 777);
    expect_sent(f.io, "R", 777);
    f.io.clear();
    f.deliver("R", 5001);
    expect_silent(f.io);
    CHECK(f.ep.state() == State::Closed);
    expect_no_transition(f.io);
}

// ---------------------------------------------------------------------------------------------
// LISTEN: SEGMENT ARRIVES (§3.10.7.2)

TEST_CASE("LISTEN: rcv RST is ignored [RFC 9293 §3.10.7.2 first]", "[listen]") {
    Fixture f;
    f.to_listen();
    f.deliver("R", 5000);
    f.deliver("R.", 5000, 1234);
    CHECK(f.ep.state() == State::Listen);
    expect_silent(f.io);
    expect_no_transition(f.io);
}

TEST_CASE("LISTEN: rcv ACK draws <SEQ=SEG.ACK><CTL=RST>, stays LISTEN [RFC 9293 §3.10.7.2 second]", "[listen]") {
    Fixture f;
    f.to_listen();
    f.deliver(".", 5001, 424242);
    const tcp::Segment r = expect_sent(f.io, "R", 424242);
    CHECK(r.dst == kA);
    CHECK(f.ep.state() == State::Listen);
    expect_no_transition(f.io);
}

TEST_CASE("LISTEN: rcv SYN,ACK is an ACK first: RST <SEQ=SEG.ACK>, no SYN-RECEIVED [RFC 9293 §3.10.7.2 second]",
          "[listen]") {
    Fixture f;
    f.to_listen();
    f.deliver("S.", 5000, 9999);
    expect_sent(f.io, "R", 9999);
    CHECK(f.ep.state() == State::Listen);
}

TEST_CASE("LISTEN: rcv SYN -> SYN-RECEIVED, sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> [RFC 9293 §3.10.7.2 third]",
          "[listen]") {
    Fixture f;
    f.to_listen();
    f.advance(Duration::ms(5));
    f.deliver("S", f.peer_iss);
    CHECK(f.ep.state() == State::SynReceived);
    expect_transition(f.io, State::Listen, Trigger::RcvSyn, State::SynReceived);
    const tcp::Segment s = expect_sent(f.io, "S.", f.iss, f.peer_iss + 1);
    CHECK(s.dst == kA);
    CHECK(s.mss == f.cfg.mss);
    // RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, SND.NXT = ISS+1, SND.UNA = ISS.
    CHECK(f.ep.tcb().irs == f.peer_iss);
    CHECK(f.rcv_nxt() == f.peer_iss + 1);
    CHECK(f.ep.tcb().snd_una == f.iss);
    CHECK(f.snd_nxt() == f.iss + 1);
    CHECK(f.ep.passive());
    // The SYN,ACK is retransmitted on the RTO (RFC 6298 §2.1: 1 s).
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::s(1));
}

TEST_CASE("LISTEN: segment with neither SYN, RST nor ACK is dropped [RFC 9293 §3.10.7.2 fourth]", "[listen]") {
    Fixture f;
    f.to_listen();
    f.deliver("F", 5000);
    f.deliver("P", 5000, 0, 100);
    CHECK(f.ep.state() == State::Listen);
    expect_silent(f.io);
    expect_no_transition(f.io);
}

TEST_CASE("LISTEN: returned to LISTEN by an RST, an unspecified LISTEN still accepts a SYN from any peer [RFC 9293 §3.10.7.4]",
          "[listen][syn-received]") {
    // §3.10.7.4 second, SYN-RECEIVED: "return this connection to LISTEN state". The LISTEN it
    // returns to is the one the user opened: foreign socket unspecified (§3.10.1), so the next
    // SYN may come from anyone and the SYN,ACK goes back to that SYN's sender.
    Fixture f;
    f.to_syn_received_passive();  // SYN from kA
    f.deliver("R", f.peer_iss + 1);
    REQUIRE(f.ep.state() == State::Listen);
    f.io.clear();
    f.ep.on_segment(f.now, f.io, seg(kC, kB, "S", 90000));
    REQUIRE(f.ep.state() == State::SynReceived);
    const tcp::Segment s = expect_sent(f.io, "S.", f.iss, 90001);
    CHECK(s.dst == kC);
    CHECK(f.ep.tcb().remote == kC);
}

TEST_CASE("LISTEN: returned to LISTEN by an RST, SEND still needs a foreign socket [RFC 9293 §3.10.2]",
          "[listen][syn-received]") {
    // The listener was opened with the foreign socket unspecified; going back to LISTEN must not
    // leave it "fully specified" with the reset peer's address.
    Fixture f;
    f.to_syn_received_passive();
    f.deliver("R", f.peer_iss + 1);
    REQUIRE(f.ep.state() == State::Listen);
    f.io.clear();
    CHECK(f.ep.send(f.now, f.io, 10) != Errno::Ok);
    CHECK(f.ep.state() == State::Listen);
    expect_silent(f.io);
}

// ---------------------------------------------------------------------------------------------
// LISTEN: user calls

TEST_CASE("LISTEN: SEND with the foreign socket specified -> SYN-SENT, sends <SEQ=ISS><CTL=SYN> [RFC 9293 §3.10.2]",
          "[listen]") {
    Fixture f;
    f.local = kB;
    f.remote = kA;
    REQUIRE(f.ep.open_passive(f.now, f.io, kB, kA) == Errno::Ok);
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 300) == Errno::Ok);
    CHECK(f.ep.state() == State::SynSent);
    expect_transition(f.io, State::Listen, Trigger::Send, State::SynSent);
    const tcp::Segment s = expect_sent(f.io, "S", f.iss);
    CHECK(s.dst == kA);
    CHECK(f.ep.tcb().snd_una == f.iss);
    CHECK(f.snd_nxt() == f.iss + 1);
    CHECK_FALSE(f.ep.passive());  // "change the connection from passive to active"
    CHECK(f.io.timer(TimerKind::Retransmit) == f.now + Duration::s(1));

    // The data is "queued for transmission after entering ESTABLISHED": it follows the
    // SYN,ACK, at ISS+1, carrying the ACK of the peer's SYN.
    f.io.clear();
    f.advance(Duration::ms(20));
    f.deliver("S.", f.peer_iss, f.iss + 1);
    CHECK(f.ep.state() == State::Established);
    const tcp::Segment d = expect_sent(f.io, "P.", f.iss + 1, f.peer_iss + 1);
    CHECK(d.len == 300u);
}

TEST_CASE("LISTEN: SEND without a foreign socket is an error, stays LISTEN [RFC 9293 §3.10.2]", "[listen]") {
    Fixture f;
    f.to_listen();
    CHECK(f.ep.send(f.now, f.io, 300) != Errno::Ok);
    CHECK(f.ep.state() == State::Listen);
    expect_silent(f.io);
    expect_no_transition(f.io);
}

TEST_CASE("LISTEN: CLOSE -> CLOSED, deletes the TCB, sends nothing [RFC 9293 §3.10.4]", "[listen]") {
    Fixture f;
    f.to_listen();
    REQUIRE(f.ep.close(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Listen, Trigger::Close, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.notified(tcp::Notice::Closed));
    // The TCB is gone: a SYN now draws the CLOSED reply (§3.10.7.1).
    f.io.clear();
    f.deliver("S", f.peer_iss);
    expect_sent(f.io, "R.", 0, f.peer_iss + 1);
}

TEST_CASE("LISTEN: ABORT -> CLOSED, sends nothing [RFC 9293 §3.10.5]", "[listen]") {
    Fixture f;
    f.to_listen();
    REQUIRE(f.ep.abort(f.now, f.io) == Errno::Ok);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::Listen, Trigger::Abort, State::Closed);
    expect_silent(f.io);
    CHECK(f.io.notified(tcp::Notice::Closed));
}
