// TIME-WAIT input as XNU does it (apple-oss-distributions/xnu bsd/netinet/tcp_input.c tcp_input(),
// xnu-11417.101.15; macos profile): XNU has no tcp_twcheck(), the full TCB takes the generic input
// path. Each expectation below is the code's, quoted in the test; the fixture's receive window is
// 65535 (the free buffer, tcp_sbspace()).
#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;
using tcp::State;

namespace {
Fixture xnu_time_wait() {
    tcp::TcpConfig cfg = Fixture::default_config();
    cfg.time_wait_input = tcp::TimeWaitInput::Xnu;
    cfg.rst_in_time_wait = tcp::RstInTimeWait::Ignore;
    Fixture f(cfg);
    f.to_time_wait();  // RCV.NXT = peer_iss + 2, SND.NXT = iss + 2
    return f;
}
}  // namespace

TEST_CASE("TIME-WAIT [xnu]: RST at Last.ACK.sent (or one below) is dropped, TIME-WAIT survives", "[time-wait][xnu]") {
    // tcp_input(): "case TCPS_TIME_WAIT: break;" for th_seq == last_ack_sent or last_ack_sent - 1.
    Fixture f = xnu_time_wait();
    f.deliver("R", f.peer_iss + 2);
    f.deliver("R", f.peer_iss + 1);
    CHECK(f.ep.state() == State::TimeWait);
    expect_silent(f.io);
}

TEST_CASE("TIME-WAIT [xnu]: RST elsewhere in the window draws a challenge ACK, outside it silence", "[time-wait][xnu]") {
    // tcp_input(): "tcps_badrst ... Send challenge ACK ... goto dropafterack" (RFC 5961 §3.2);
    // outside the window "goto drop".
    Fixture f = xnu_time_wait();
    f.deliver("R", f.peer_iss + 2 + 100);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    f.io.clear();
    f.deliver("R", f.peer_iss + 2 + 70000);
    expect_silent(f.io);
    CHECK(f.ep.state() == State::TimeWait);
}

TEST_CASE("TIME-WAIT [xnu]: SYN above RCV.NXT + RCV.WND -> CLOSED and looked up again", "[time-wait][xnu]") {
    // "If a new connection request is received while in TIME_WAIT, drop the old connection and
    // start over if the sequence numbers are above the previous ones": only reached when the
    // segment ends after the window (todrop >= tlen), i.e. SEQ > RCV.NXT + RCV.WND.
    Fixture f = xnu_time_wait();
    const tcp::Segment syn = seg(f.remote, f.local, "S", f.peer_iss + 2 + 65535 + 1);
    f.deliver(syn);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::TimeWait, tcp::Trigger::SynInTimeWait, State::Closed);
    REQUIRE(f.io.redelivered.size() == 1);
    CHECK(f.io.redelivered[0].seq == syn.seq);
}

TEST_CASE("TIME-WAIT [xnu]: SYN in the window or below RCV.NXT draws an ACK, no new connection", "[time-wait][xnu]") {
    // In the window: "RFC 5961 Section 4.2 Send challenge ACK for any SYN in synchronized state";
    // below RCV.NXT: the SYN is trimmed as old ("tcps_synchallenge", TF_ACKNOW). FreeBSD's
    // tcp_twcheck() reopens on any SEQ > RCV.NXT and is silent below it: XNU differs on both.
    Fixture f = xnu_time_wait();
    f.deliver("S", f.peer_iss + 2 + 1000);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    f.io.clear();
    f.deliver("S", f.peer_iss - 1000);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.ep.state() == State::TimeWait);
    CHECK(f.io.redelivered.empty());
}

TEST_CASE("TIME-WAIT [xnu]: a retransmitted FIN is ACKed but does not restart the 2MSL timer", "[time-wait][xnu]") {
    // The FIN one below RCV.NXT is a whole duplicate ("todrop > tlen"): FIN cleared, TF_ACKNOW;
    // the duplicate-ACK path "break"s past "case TCPS_TIME_WAIT: add_to_time_wait()", and the
    // FIN step never sees the FIN. Linux and FreeBSD restart the timer here.
    Fixture f = xnu_time_wait();
    const SimTime first = f.io.timer(tcp::TimerKind::TimeWait);
    f.advance(Duration::s(5));
    f.deliver("F.", f.peer_iss + 1, f.iss + 2);
    expect_sent(f.io, ".", f.iss + 2, f.peer_iss + 2);
    CHECK(f.io.timer(tcp::TimerKind::TimeWait) == first);
}

TEST_CASE("TIME-WAIT [xnu]: new data after close -> RST and CLOSED", "[time-wait][xnu]") {
    // "If new data are received on a connection after the user processes are gone, then RST the
    // other end": SS_NOFDREF / SS_CANTRCVMORE -> tcp_close(), dropwithreset (RST at SEG.ACK).
    Fixture f = xnu_time_wait();
    f.deliver("P.", f.peer_iss + 2, f.iss + 2, 100);
    expect_sent(f.io, "R", f.iss + 2);
    CHECK(f.ep.state() == State::Closed);
    expect_transition(f.io, State::TimeWait, tcp::Trigger::RcvDataAfterClose, State::Closed);
}

TEST_CASE("TIME-WAIT [xnu]: the exact duplicate ACK is not answered", "[time-wait][xnu]") {
    // SEQ = RCV.NXT, nothing to trim: no TF_ACKNOW; a duplicate ACK with no outstanding data
    // resets t_dupacks and "break"s to step 6 with nothing to send.
    Fixture f = xnu_time_wait();
    f.deliver(".", f.peer_iss + 2, f.iss + 2);
    expect_silent(f.io);
}
