// The runner: determinism (same seed, same bytes; another seed, other ISNs), links (latency,
// jitter without reordering, seeded loss), RFC 9293 §3.10.7.1 replies for unknown ports.
#include "fixture.hpp"

#include "scenario/scenario.hpp"
#include "teach/trace.hpp"
#include "world/world.hpp"

#include <fmt/format.h>

using namespace tcpsim;

namespace {
std::string two_hosts(int seed, const std::string& link, const std::string& actions) {
    return fmt::format(R"({{"seed": {}, "duration": "30s", "hosts": [{{"name": "a", "address": "10.0.0.1"}},
        {{"name": "b", "address": "10.0.0.2"}}], "links": [{{"between": ["a", "b"], {}}}], "actions": [{}]}})",
                       seed, link, actions);
}

std::string run_json(const std::string& text) {
    const Scenario sc = parse_scenario(text, "t.json");
    World w(sc, true);
    w.run();
    TraceHeader h;
    h.host_names = {"a", "b"};
    return format_trace_json(h, w.records());
}

const std::string kActions =
    R"({"at": "0s", "host": "b", "call": "listen", "sock": "L", "port": 80},
       {"at": "1ms", "host": "a", "call": "connect", "sock": "c", "to": "b:80"},
       {"at": "5ms", "host": "a", "call": "send", "sock": "c", "bytes": 20000},
       {"at": "2s", "host": "a", "call": "close", "sock": "c"},
       {"at": "2s", "host": "b", "call": "close", "sock": "L.1"})";
}  // namespace

TEST_CASE("world: the same scenario and seed give identical events; another seed other ISNs", "[world]") {
    const std::string link = R"("latency": "5ms", "jitter": "3ms", "loss": 0.05)";
    const std::string a = run_json(two_hosts(1, link, kActions));
    CHECK(a == run_json(two_hosts(1, link, kActions)));
    const std::string b = run_json(two_hosts(2, link, kActions));
    CHECK(a != b);
}

TEST_CASE("world: jitter delays but never reorders segments in one direction", "[world]") {
    const Scenario sc = parse_scenario(two_hosts(3, R"("latency": "5ms", "jitter": "4ms")", kActions), "t.json");
    World w(sc, true);
    w.run();
    // Arrivals at b from a come in the order they were sent (sequence numbers of data never go back).
    tcp::Seq last = 0;
    bool first = true;
    int arrivals = 0;
    for (const TraceRecord& r : w.records()) {
        if (r.kind != RecordKind::Arrive || r.host != 1 || r.seg.len == 0) continue;
        if (!first) CHECK(tcp::seq_gt(r.seg.seq, last));
        last = r.seg.seq;
        first = false;
        ++arrivals;
    }
    CHECK(arrivals >= 14);  // 20000 bytes in 1460-byte segments
}

TEST_CASE("world: random loss is drawn from the seed and recovered by retransmission", "[world]") {
    const std::string text = two_hosts(5, R"("latency": "5ms", "loss": 0.2)", kActions);
    const Scenario sc = parse_scenario(text, "t.json");
    World w1(sc, false), w2(sc, false);
    w1.run();
    w2.run();
    CHECK(w1.stats().segments_lost > 0);
    CHECK(w1.stats().segments_lost == w2.stats().segments_lost);
    CHECK(w1.stats().segments_sent == w2.stats().segments_sent);
}

TEST_CASE("world: a SYN to a port nobody listens on draws RST,ACK <SEQ=0><ACK=SEG.SEQ+1>", "[world]") {
    const Scenario sc = parse_scenario(
        two_hosts(1, R"("latency": "5ms")", R"({"at": "0s", "host": "a", "call": "connect", "sock": "c", "to": "b:81"})"),
        "t.json");
    World w(sc, true);
    w.run();
    tcp::Seq syn_seq = 0;
    bool saw_rst = false;
    for (const TraceRecord& r : w.records()) {
        if (r.kind == RecordKind::Send && r.host == 0 && r.seg.syn()) syn_seq = r.seg.seq;
        if (r.kind == RecordKind::Send && r.host == 1 && r.seg.rst()) {
            saw_rst = true;
            CHECK(tcp::format_flags(r.seg.flags) == "R.");
            CHECK(r.seg.seq == 0);
            CHECK(r.seg.ack == syn_seq + 1);
        }
    }
    CHECK(saw_rst);
}
