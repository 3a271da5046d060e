// TIME-WAIT input as FreeBSD's tcp_twcheck() does it (reference/tcp-stack-semantics.md §3 and the
// FreeBSD suite's rcv-*-time-wait scripts): RSTs never end it, a SYN above RCV.NXT closes it and
// is looked up again, other ACK-less segments are dropped silently, a duplicate FIN restarts the
// timer, and everything but an exact duplicate ACK is ACKed.
#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;
using tcp::State;

namespace {
Fixture freebsd_time_wait() {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.time_wait_input = tcp::TimeWaitInput::FreeBsd;
    return Fixture(cfg);
}
}  // namespace

TEST_CASE("TIME-WAIT [freebsd]: RST at RCV.NXT is dropped, TIME-WAIT survives [RFC 1337 F1]", "[time-wait][freebsd]") {
    Fixture f = freebsd_time_wait();
    f.to_time_wait();
    f.deliver("R", f.peer_iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    expect_silent(f.io);
}

TEST_CASE("TIME-WAIT [freebsd]: SYN with SEQ > RCV.NXT -> CLOSED and looked up again", "[time-wait][freebsd]") {
    Fixture f = freebsd_time_wait();
    f.to_time_wait();
    const tcp::Segment syn = seg(f.remote, f.local, "S", f.peer_iss + 2 + 65535);
    f.deliver(syn);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::TimeWait, tcp::Trigger::SynInTimeWait, State::Closed);
    REQUIRE(f.io.redelivered.size() == 1);
    CHECK(f.io.redelivered[0].seq == syn.seq);
    expect_silent(f.io);  // the listener, not this endpoint, answers
}

TEST_CASE("TIME-WAIT [freebsd]: SYN with SEQ <= RCV.NXT is dropped silently", "[time-wait][freebsd]") {
    Fixture f = freebsd_time_wait();
    f.to_time_wait();
    f.deliver("S", f.peer_iss + 2);  // SEQ = RCV.NXT
    f.deliver("S", f.peer_iss);      // below
    CHECK(f.ep.state() == State::TimeWait);
    expect_silent(f.io);
    CHECK(f.io.redelivered.empty());
}

TEST_CASE("TIME-WAIT [freebsd]: an ACK that is not an exact duplicate is ACKed", "[time-wait][freebsd]") {
    Fixture f = freebsd_time_wait();
    f.to_time_wait();
    f.deliver(".", f.peer_iss + 1, f.iss + 2);  // SEQ one below RCV.NXT
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    f.io.clear();
    f.deliver(".", f.peer_iss + 2, f.iss + 2);  // the exact duplicate: silence
    expect_silent(f.io);
}

TEST_CASE("TIME-WAIT [freebsd]: a duplicate FIN restarts the 2MSL timer and is ACKed", "[time-wait][freebsd]") {
    Fixture f = freebsd_time_wait();
    f.to_time_wait();
    const SimTime first = f.io.timer(tcp::TimerKind::TimeWait);
    f.advance(Duration::s(5));
    f.deliver("F.", f.peer_iss + 1, f.iss + 2);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.io.timer(tcp::TimerKind::TimeWait) == first + Duration::s(5));
}
