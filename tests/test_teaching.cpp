// The teaching scenarios, checked against the RFC's own pictures rather than against our output:
// each socket's path through the states is the one RFC 9293 draws (Figure 5 for the diagram,
// Figure 8 simultaneous open, Figures 12/13 normal and simultaneous close), and the timing
// facts come from RFC 6298 and the reference file (SYN back-off, ETIMEDOUT at 127 s).
#include "fixture.hpp"

#include "scenario/scenario.hpp"
#include "world/world.hpp"

#include <fmt/format.h>

#include <map>

using namespace tcpsim;
using tcp::State;

namespace {

Scenario load(const std::string& name) {
    return load_scenario(std::string(TCPSIM_SOURCE_DIR) + "/scenarios/teaching/" + name + ".json");
}

// host name + "/" + socket name -> states in order (starting from the first "from").
std::map<std::string, std::vector<State>> paths(const World& w) {
    std::map<std::string, std::vector<State>> out;
    for (const TraceRecord& r : w.records()) {
        if (r.kind != RecordKind::Transition) continue;
        auto& p = out[w.scenario().hosts[static_cast<std::size_t>(r.host)].name + "/" + r.socket];
        if (p.empty()) p.push_back(r.from);
        p.push_back(r.to);
    }
    return out;
}

struct Run {
    Scenario sc;
    std::unique_ptr<World> w;
    explicit Run(const std::string& name) : sc(load(name)), w(std::make_unique<World>(sc, true)) {
        w->run();
        for (std::size_t i = 0; i < tcp::kTransitions.size(); ++i) test::rows_hit()[i] += w->rows_hit()[i];
    }
    std::vector<State> path(const std::string& key) { return paths(*w)[key]; }
    // Times of records of a kind on a host whose segment flags match exactly.
    std::vector<SimTime> times(RecordKind k, int host, const std::string& flags) {
        std::vector<SimTime> t;
        for (const TraceRecord& r : w->records())
            if (r.kind == k && r.host == host && tcp::format_flags(r.seg.flags) == flags) t.push_back(r.time);
        return t;
    }
    SimTime transition_time(const std::string& sock, State to) {
        for (const TraceRecord& r : w->records())
            if (r.kind == RecordKind::Transition && r.socket == sock && r.to == to) return r.time;
        return SimTime::never();
    }
};

const std::vector<State> kActiveOpenActiveClose = {State::Closed, State::SynSent, State::Established, State::FinWait1,
                                                   State::FinWait2, State::TimeWait, State::Closed};
const std::vector<State> kPassiveOpenPassiveClose = {State::Listen, State::SynReceived, State::Established,
                                                     State::CloseWait, State::LastAck, State::Closed};

}  // namespace

TEST_CASE("teaching: normal close follows RFC 9293 Figure 12 (client closes first)", "[teaching]") {
    Run r("normal-close");
    CHECK(r.path("client/c") == kActiveOpenActiveClose);
    CHECK(r.path("server/L.1") == kPassiveOpenPassiveClose);
    // TIME-WAIT lasts 2*MSL (MSL = 30 s in the scenario).
    CHECK(r.transition_time("c", State::Closed) - r.transition_time("c", State::TimeWait) == Duration::s(60));
}

TEST_CASE("teaching: server closes first puts TIME-WAIT on the server", "[teaching]") {
    Run r("server-closes-first");
    CHECK(r.path("server/L.1") == std::vector<State>{State::Listen, State::SynReceived, State::Established,
                                                     State::FinWait1, State::FinWait2, State::TimeWait, State::Closed});
    CHECK(r.path("client/c") == std::vector<State>{State::Closed, State::SynSent, State::Established,
                                                   State::CloseWait, State::LastAck, State::Closed});
}

TEST_CASE("teaching: simultaneous open follows RFC 9293 Figure 8", "[teaching]") {
    Run r("simultaneous-open");
    const std::vector<State> expected = {State::Closed, State::SynSent, State::SynReceived, State::Established};
    CHECK(r.path("a/s") == expected);
    CHECK(r.path("b/s") == expected);
    // Figure 8: the SYN,ACKs carry <SEQ=ISS><ACK=peer ISS+1> (ISNs 100 and 300).
    int synacks = 0;
    for (const TraceRecord& rec : r.w->records())
        if (rec.kind == RecordKind::Send && rec.seg.syn() && rec.seg.ack_set()) {
            ++synacks;
            CHECK(((rec.seg.seq == 100 && rec.seg.ack == 301) || (rec.seg.seq == 300 && rec.seg.ack == 101)));
        }
    CHECK(synacks == 2);
}

TEST_CASE("teaching: simultaneous close takes both ends through CLOSING to TIME-WAIT (Figure 13)", "[teaching]") {
    Run r("simultaneous-close");
    const std::vector<State> tail = {State::Established, State::FinWait1, State::Closing, State::TimeWait, State::Closed};
    auto c = r.path("client/c");
    auto s = r.path("server/L.1");
    REQUIRE(c.size() >= tail.size());
    REQUIRE(s.size() >= tail.size());
    CHECK(std::vector<State>(c.end() - 5, c.end()) == tail);
    CHECK(std::vector<State>(s.end() - 5, s.end()) == tail);
}

TEST_CASE("teaching: lost final ACK: TIME-WAIT re-ACKs the retransmitted FIN and restarts 2MSL", "[teaching]") {
    Run r("lost-final-ack");
    CHECK(r.path("client/c") == kActiveOpenActiveClose);
    CHECK(r.path("server/L.1") == kPassiveOpenPassiveClose);
    const auto server_fins = r.times(RecordKind::Send, 1, "F.");
    REQUIRE(server_fins.size() == 2);  // the FIN and its retransmission
    const SimTime tw_enter = r.transition_time("c", State::TimeWait);
    const SimTime tw_leave = r.transition_time("c", State::Closed);
    // 2*MSL counted from the retransmitted FIN's arrival (10 ms link), not from TIME-WAIT entry.
    CHECK(tw_leave - (server_fins[1] + Duration::ms(10)) == Duration::s(60));
    CHECK(tw_leave - tw_enter > Duration::s(60));
}

TEST_CASE("teaching: lost FIN is retransmitted after the RTO and the close completes", "[teaching]") {
    Run r("lost-fin");
    CHECK(r.path("client/c") == kActiveOpenActiveClose);
    const auto fins = r.times(RecordKind::Drop, 0, "F.");
    const auto sent = r.times(RecordKind::Send, 0, "F.");
    REQUIRE(fins.size() == 1);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] - fins[0] == Duration::s(1));  // RFC 6298 §2.4: the RTO is rounded up to 1 s
}

TEST_CASE("teaching: SO_LINGER 0 aborts with RST and leaves no TIME-WAIT", "[teaching]") {
    Run r("abort-linger-zero");
    CHECK(r.path("client/c") == std::vector<State>{State::Closed, State::SynSent, State::Established, State::Closed});
    CHECK(r.path("server/L.1") == std::vector<State>{State::Listen, State::SynReceived, State::Established, State::Closed});
    CHECK(r.times(RecordKind::Send, 0, "R").size() == 1);
    CHECK(r.times(RecordKind::Send, 0, "F.").empty());
}

TEST_CASE("teaching: close with unread data sends RST (RFC 1122 4.2.2.13)", "[teaching]") {
    Run r("close-unread-data");
    CHECK(r.path("client/c") == std::vector<State>{State::Closed, State::SynSent, State::Established, State::Closed});
    CHECK(r.times(RecordKind::Send, 0, "R").size() == 1);
    CHECK(r.times(RecordKind::Send, 0, "F.").empty());
}

TEST_CASE("teaching: an RST at exactly RCV.NXT assassinates TIME-WAIT (RFC 1337 H3)", "[teaching]") {
    Run r("time-wait-assassination");
    CHECK(r.path("client/c") == kActiveOpenActiveClose);
    const SimTime killed = r.transition_time("c", State::Closed);
    CHECK(killed - r.transition_time("c", State::TimeWait) < Duration::s(10));  // far short of 2*MSL = 60 s

    SECTION("with RFC 1337's fix the RST is ignored and TIME-WAIT lasts") {
        Scenario sc = load("time-wait-assassination");
        for (auto& h : sc.hosts) h.tcp.rst_in_time_wait = tcp::RstInTimeWait::Ignore;
        World w(sc, true);
        w.run();
        SimTime tw = SimTime::never(), closed = SimTime::never();
        for (const TraceRecord& rec : w.records())
            if (rec.kind == RecordKind::Transition && rec.socket == "c") {
                if (rec.to == State::TimeWait) tw = rec.time;
                if (rec.to == State::Closed) closed = rec.time;
            }
        CHECK(closed - tw >= Duration::s(60));
    }
}

TEST_CASE("teaching: half-close: data flows to the FIN-WAIT-2 side until the peer closes", "[teaching]") {
    Run r("half-close");
    CHECK(r.path("client/c") == kActiveOpenActiveClose);
    CHECK(r.path("server/L.1") == kPassiveOpenPassiveClose);
    std::uint32_t bytes_in_fin_wait_2 = 0;
    for (const TraceRecord& rec : r.w->records())
        if (rec.kind == RecordKind::Arrive && rec.host == 0 && rec.states[0] == State::FinWait2) bytes_in_fin_wait_2 += rec.seg.len;
    CHECK(bytes_in_fin_wait_2 == 2000);
}

TEST_CASE("teaching: connection refused: RST,ACK from CLOSED, ECONNREFUSED", "[teaching]") {
    Run r("connection-refused");
    CHECK(r.path("client/c") == std::vector<State>{State::Closed, State::SynSent, State::Closed});
    const auto rsts = r.times(RecordKind::Send, 1, "R.");
    REQUIRE(rsts.size() == 1);
    bool refused = false;
    for (const TraceRecord& rec : r.w->records())
        if (rec.kind == RecordKind::Notice && rec.text.find("ECONNREFUSED") != std::string::npos) refused = true;
    CHECK(refused);
}

TEST_CASE("teaching: SYN to a silent peer: SYNs at 0,1,3,7,15,31,63 s, ETIMEDOUT at 127 s", "[teaching]") {
    Run r("syn-timeout");
    const auto syns = r.times(RecordKind::Drop, 0, "S");
    std::vector<std::int64_t> secs;
    for (SimTime t : syns) secs.push_back(t.ns() / 1'000'000'000);
    CHECK(secs == std::vector<std::int64_t>{0, 1, 3, 7, 15, 31, 63});
    CHECK(r.transition_time("c", State::Closed) == SimTime::zero() + Duration::s(127));
}

namespace {
// The trace records of the host's stack (its mini-sockets) on one host, in order.
std::vector<const TraceRecord*> stack_records(const World& w, int host) {
    std::vector<const TraceRecord*> out;
    for (const TraceRecord& r : w.records())
        if (r.kind == RecordKind::Stack && r.host == host) out.push_back(&r);
    return out;
}
}  // namespace

TEST_CASE("teaching: linux: an orphaned FIN-WAIT-2 mini-socket ends on its timer-wheel timer", "[teaching][linux]") {
    // tcp_time_wait(sk, TCP_FIN_WAIT2, tmo) with tmo = tcp_fin_timeout = 5 s; a 5 s timer lies in
    // wheel level 2 (256 ms buckets at HZ=250): it ends 5.0 to 5.26 s after the ACK of the FIN
    // (kernel/time/timer.c; tools/kernel/results/fin-timeout-orphan.json: 5.0-5.4 s after the close).
    Run r("linux-fin-wait-2-orphan");
    CHECK(r.path("client/c") == std::vector<State>{State::Closed, State::SynSent, State::Established, State::FinWait1, State::FinWait2});
    const SimTime fw2 = r.transition_time("c", State::FinWait2);
    const auto st = stack_records(*r.w, 0);
    REQUIRE(st.size() == 3);
    CHECK(st[0]->time == fw2);
    CHECK(st[0]->text == "FIN-WAIT-2 mini-socket (tcp_time_wait())");
    CHECK_THAT(st[1]->text, Catch::Contains("tcp_fin_time() 5 s, on the wheel"));
    CHECK_THAT(st[2]->text, Catch::Contains("FIN-WAIT-2 mini-socket ends: its timer fired"));
    CHECK(st[2]->time >= fw2 + Duration::s(5));
    CHECK(st[2]->time <= fw2 + Duration::ms(5256 + 4));
    CHECK(st[2]->states[0] == State::Closed);  // the column shows the mini-socket gone
    // The server's FIN at 8 s finds no socket: RST (RFC 9293 §3.10.7.1), the server resets.
    CHECK(r.times(RecordKind::Send, 0, "R").size() == 1);
    CHECK(r.path("server/L.1").back() == State::Closed);
}

TEST_CASE("teaching: linux: a new SYN reopens a TIME-WAIT mini-socket with ISN = old SND.NXT + 65537", "[teaching][linux]") {
    // tcp_timewait_state_process(): TCP_TW_SYN for a SYN with a newer timestamp (SEQ is not
    // higher: the client's ISN is pinned); isn = tw_snd_nxt + 65535 + 2
    // (tools/kernel/results/syn-at-time-wait.json case C: SYN-ACK, ISN = old SND.NXT + 65537).
    Run r("linux-time-wait-reopen");
    // The server closed first: its orphaned FIN-WAIT-2 is a mini-socket (tcp_fin_timeout 60 s is
    // not above TCP_TIMEWAIT_LEN), the client's FIN makes it a TIME-WAIT, the new SYN ends it.
    const auto st = stack_records(*r.w, 1);
    REQUIRE(st.size() == 6);
    CHECK(st[0]->text == "FIN-WAIT-2 mini-socket (tcp_time_wait())");
    CHECK_THAT(st[2]->text, Catch::Contains("FIN: the FIN-WAIT-2 mini-socket is TIME-WAIT"));
    CHECK(st[2]->states[1] == State::TimeWait);
    CHECK_THAT(st[4]->text, Catch::Contains("TIME-WAIT mini-socket ends: SYN let through (TCP_TW_SYN)"));
    // The old connection's SND.NXT on the server: its FIN's SEQ + 1 (ISN 5000: 5001 + FIN = 5002).
    const tcp::Seq old_snd_nxt = 5002;
    CHECK_THAT(st[5]->text, Catch::Contains(fmt::format("ISN = old SND.NXT {} + 65537 = {}", old_snd_nxt, old_snd_nxt + 65537)));
    std::vector<tcp::Seq> synack_seqs;
    for (const TraceRecord& rec : r.w->records())
        if (rec.kind == RecordKind::Send && rec.host == 1 && tcp::format_flags(rec.seg.flags) == "S.") synack_seqs.push_back(rec.seg.seq);
    REQUIRE(synack_seqs.size() == 2);
    CHECK(synack_seqs[1] == old_snd_nxt + 65537);
    CHECK(r.path("server/L.2") == std::vector<State>{State::Listen, State::SynReceived, State::Established});
}
