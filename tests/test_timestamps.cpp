// RFC 7323 timestamps: negotiation (§3.2), PAWS (§5.3 R1, §5.5), TS.Recent update (§4.3, §5.3 R3)
// and the timestamp clock (§5.4).
#include "fixture.hpp"

using namespace tcpsim;
using namespace tcpsim::test;
using tcp::State;
using tcp::TimerKind;

namespace {

tcp::TcpConfig ts_config() {
    tcp::TcpConfig c = Fixture::default_config();
    c.timestamps = true;
    return c;
}

// ESTABLISHED with timestamps in use; the peer's segments carry TSval 100 (TS.Recent = 100).
void to_established_ts(Fixture& f) {
    f.peer_tsval = 100;
    f.to_established();
    REQUIRE(f.ep.tcb().ts_ok);
    REQUIRE(f.ep.tcb().ts_recent == 100u);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Negotiation (§3.2)

TEST_CASE("timestamps: our SYN offers TSopt with TSecr 0; a SYN,ACK with TSopt turns them on [RFC 7323 §3.2]",
          "[timestamps][syn-sent]") {
    Fixture f(ts_config());
    f.ep.set_ts_offset(7000);
    REQUIRE(f.ep.open_active(f.now, f.io, f.local, f.remote) == Errno::Ok);
    REQUIRE(f.io.sent.size() == 1);
    const tcp::Segment syn = f.io.sent[0];
    CHECK(syn.has_ts);
    CHECK(syn.tsecr == 0u);
    f.io.clear();
    f.advance(Duration::ms(10));
    f.peer_tsval = 500;
    f.deliver("S.", f.peer_iss, f.iss + 1);
    REQUIRE(f.ep.state() == State::Established);
    CHECK(f.ep.tcb().ts_ok);
    const tcp::Segment ack = expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(ack.has_ts);
    CHECK(ack.tsecr == 500u);  // TSecr echoes TS.Recent, the SYN,ACK's TSval
    // Every later non-RST segment carries TSopt too.
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 10) == Errno::Ok);
    REQUIRE(f.io.sent.size() == 1);
    CHECK(f.io.sent[0].has_ts);
    CHECK(f.io.sent[0].tsecr == 500u);
}

TEST_CASE("timestamps: a SYN,ACK without TSopt leaves them off, no later segment carries TSopt [RFC 7323 §3.2]",
          "[timestamps][syn-sent]") {
    Fixture f(ts_config());
    f.to_syn_sent();
    f.deliver("S.", f.peer_iss, f.iss + 1);  // no timestamp option
    REQUIRE(f.ep.state() == State::Established);
    CHECK_FALSE(f.ep.tcb().ts_ok);
    REQUIRE(f.io.sent.size() == 1);
    CHECK_FALSE(f.io.sent[0].has_ts);
    f.io.clear();
    REQUIRE(f.ep.send(f.now, f.io, 10) == Errno::Ok);
    REQUIRE(f.io.sent.size() == 1);
    CHECK_FALSE(f.io.sent[0].has_ts);
}

TEST_CASE("timestamps: not offered by us, a SYN,ACK with TSopt does not turn them on [RFC 7323 §3.2]",
          "[timestamps][syn-sent]") {
    Fixture f;  // timestamps off
    REQUIRE(f.ep.open_active(f.now, f.io, f.local, f.remote) == Errno::Ok);
    REQUIRE(f.io.sent.size() == 1);
    CHECK_FALSE(f.io.sent[0].has_ts);
    f.io.clear();
    f.peer_tsval = 500;
    f.deliver("S.", f.peer_iss, f.iss + 1);
    REQUIRE(f.ep.state() == State::Established);
    CHECK_FALSE(f.ep.tcb().ts_ok);
    REQUIRE(f.io.sent.size() == 1);
    CHECK_FALSE(f.io.sent[0].has_ts);
}

TEST_CASE("timestamps: LISTEN answers a SYN with TSopt by a SYN,ACK with TSopt echoing its TSval [RFC 7323 §3.2]",
          "[timestamps][listen]") {
    Fixture f(ts_config());
    f.to_listen();
    f.peer_tsval = 4242;
    f.deliver("S", f.peer_iss);
    REQUIRE(f.ep.state() == State::SynReceived);
    const tcp::Segment sa = expect_sent(f.io, "S.", f.iss, f.peer_iss + 1);
    CHECK(sa.has_ts);
    CHECK(sa.tsecr == 4242u);
    CHECK(f.ep.tcb().ts_ok);
}

TEST_CASE("timestamps: LISTEN answers a SYN without TSopt by a SYN,ACK without TSopt [RFC 7323 §3.2]",
          "[timestamps][listen]") {
    Fixture f(ts_config());
    f.to_listen();
    f.deliver("S", f.peer_iss);
    REQUIRE(f.ep.state() == State::SynReceived);
    const tcp::Segment sa = expect_sent(f.io, "S.", f.iss, f.peer_iss + 1);
    CHECK_FALSE(sa.has_ts);
    CHECK_FALSE(f.ep.tcb().ts_ok);
}

TEST_CASE("timestamps: a listener with timestamps disabled does not echo TSopt [RFC 7323 §3.2]",
          "[timestamps][listen]") {
    Fixture f;  // timestamps off
    f.to_listen();
    f.peer_tsval = 4242;
    f.deliver("S", f.peer_iss);
    const tcp::Segment sa = expect_sent(f.io, "S.", f.iss, f.peer_iss + 1);
    CHECK_FALSE(sa.has_ts);
    CHECK_FALSE(f.ep.tcb().ts_ok);
}

TEST_CASE("timestamps: the TSval clock ticks between 1 ms and 1 s and never goes back [RFC 7323 §5.4]",
          "[timestamps]") {
    Fixture f(ts_config());
    to_established_ts(f);
    REQUIRE(f.ep.send(f.now, f.io, 10) == Errno::Ok);
    REQUIRE(f.io.sent.size() == 1);
    const std::uint32_t t1 = f.io.sent[0].tsval;
    f.io.clear();
    f.deliver(".", f.peer_iss + 1, f.iss + 11);
    f.advance(Duration::s(1));
    REQUIRE(f.ep.send(f.now, f.io, 10) == Errno::Ok);
    REQUIRE(f.io.sent.size() == 1);
    const std::uint32_t t2 = f.io.sent[0].tsval;
    CHECK(t2 - t1 >= 1u);
    CHECK(t2 - t1 <= 1000u);
}

// ---------------------------------------------------------------------------------------------
// PAWS (§5.3 R1) and TS.Recent (§5.3 R3)

TEST_CASE("timestamps: PAWS drops a segment with an older TSval and sends an ACK [RFC 7323 §5.3 R1]",
          "[timestamps][established]") {
    Fixture f(ts_config());
    to_established_ts(f);
    f.peer_tsval = 90;  // older than TS.Recent = 100
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 100);
    const tcp::Segment a = expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
    CHECK(a.has_ts);
    CHECK(a.tsecr == 100u);  // TS.Recent unchanged
    CHECK(f.rcv_nxt() == f.peer_iss + 1);
    CHECK(f.ep.tcb().unread == 0u);
    CHECK(f.ep.tcb().ts_recent == 100u);
}

TEST_CASE("timestamps: PAWS drops an old FIN too: no CLOSE-WAIT [RFC 7323 §5.3 R1]", "[timestamps][established]") {
    Fixture f(ts_config());
    to_established_ts(f);
    f.peer_tsval = 50;
    f.deliver("F.", f.peer_iss + 1, f.iss + 1);
    CHECK(f.ep.state() == State::Established);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 1);
}

TEST_CASE("timestamps: an RST is not subject to PAWS [RFC 7323 §5.3 R1: 'the RST bit is not set']",
          "[timestamps][established]") {
    Fixture f(ts_config());
    to_established_ts(f);
    f.peer_tsval = 10;
    f.deliver("R", f.peer_iss + 1);
    CHECK(f.ep.state() == State::Closed);
}

TEST_CASE("timestamps: in-order segment with a newer TSval updates TS.Recent, echoed in TSecr [RFC 7323 §4.3, §5.3 R3]",
          "[timestamps][established]") {
    Fixture f(ts_config());
    to_established_ts(f);
    f.peer_tsval = 200;
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 100);
    const tcp::Segment a = expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 101);
    CHECK(f.ep.tcb().ts_recent == 200u);
    CHECK(a.tsecr == 200u);
}

TEST_CASE("timestamps: a segment beyond Last.ACK.sent does not update TS.Recent [RFC 7323 §4.3 (2), §5.3 R3]",
          "[timestamps][established]") {
    Fixture f(ts_config());
    to_established_ts(f);
    f.peer_tsval = 300;
    f.deliver(".", f.peer_iss + 1001, f.iss + 1, 100);  // out of order: SEG.SEQ > RCV.NXT
    CHECK(f.ep.tcb().ts_recent == 100u);
}

TEST_CASE("timestamps: TSval comparison is modulo 2^32 [RFC 7323 §5.2]", "[timestamps][established]") {
    Fixture f(ts_config());
    f.peer_tsval = 0xFFFFFFF0u;
    f.to_established();
    REQUIRE(f.ep.tcb().ts_ok);
    f.peer_tsval = 0x10u;  // wrapped: newer
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 100);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 101);
    CHECK(f.ep.tcb().ts_recent == 0x10u);
}

TEST_CASE("timestamps: TS.Recent idle for more than 24 days is invalid: PAWS does not drop [RFC 7323 §5.5]",
          "[timestamps][established]") {
    Fixture f(ts_config());
    to_established_ts(f);
    f.advance(Duration::s(25LL * 24 * 3600));
    f.peer_tsval = 90;
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 100);
    expect_sent(f.io, ".", f.iss + 1, f.peer_iss + 101);
    CHECK(f.ep.tcb().unread == 100u);
}

TEST_CASE("timestamps: after negotiation a non-RST segment without TSopt is dropped silently [RFC 7323 §3.2 SHOULD]",
          "[timestamps][established]") {
    // §3.2: "Once TSopt has been successfully negotiated ... If a non-<RST> segment is received
    // without a TSopt, a TCP SHOULD silently drop the segment."
    Fixture f(ts_config());
    to_established_ts(f);
    f.peer_tsval.reset();
    f.deliver("P.", f.peer_iss + 1, f.iss + 1, 100);
    expect_silent(f.io);
    CHECK(f.ep.tcb().unread == 0u);
}
