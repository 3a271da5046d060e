// Live-kernel experiments in the simulator (sim/experiment.*): every field the kernel harness
// reads changes the simulated run as it changes the kernel's; a kernel result is compared only
// with a run of its own experiment, figure by figure; the time tolerance follows the kernel's
// timers. Expected figures come from the experiments' arithmetic, from kernel/time/timer.c and
// from the FNV reference vectors, never from a run of the code under test.
#include <catch2/catch.hpp>

#include "experiment/experiment.hpp"
#include "host/time_wait.hpp"
#include "scenario/scenario.hpp"

#include <tcpsim/experiment_digest.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace tcpsim;
using nlohmann::json;

namespace {
const std::string kExperiments = std::string(TCPSIM_SOURCE_DIR) + "/tools/kernel/experiments/";

json load(const std::string& name) {
    std::ifstream in(kExperiments + name + ".json");
    return json::parse(in, nullptr, true, true);
}

// Writes `doc` to a temporary file for the duration of a test.
struct TempExperiment {
    std::string path;
    explicit TempExperiment(const json& doc, const std::string& tag)
        : path("/tmp/tcpsim-test-" + std::to_string(getpid()) + "-" + tag + ".json") {
        std::ofstream(path) << doc.dump(1);
    }
    ~TempExperiment() { std::remove(path.c_str()); }
    TempExperiment(const TempExperiment&) = delete;
    TempExperiment& operator=(const TempExperiment&) = delete;
};

ExperimentSummary run(const json& doc, const std::string& tag) {
    const TempExperiment t(doc, tag);
    return run_experiment(t.path, "linux", 1).summary;
}

std::string refusal(const json& doc, const std::string& tag) {
    const TempExperiment t(doc, tag);
    try {
        (void)run_experiment(t.path, "linux", 1);
    } catch (const ScenarioError& e) {
        return e.what();
    }
    return "(accepted)";
}
}  // namespace

TEST_CASE("experiment: each connect goes to its own destination: three server addresses, 3 x 8 ports", "[experiment]") {
    // 8 client ports (40000-40007), round-robin over three server addresses: a local port serves
    // each destination once, so 24 connects succeed and the 25th (at 2400 ms) fails. Every
    // connect sent to the first address (how the loader read the file before) gives 8.
    json doc = load("three-server-addresses");
    const ExperimentSummary s = run(doc, "three");
    CHECK(s.succeeded == 3 * 8);
    CHECK(s.failures_by_call == std::map<std::string, std::uint64_t>{{"connect EADDRNOTAVAIL", 120 - 24}});
    CHECK(s.first_failure_ms == 24 * 100);
    CHECK(s.max_states.at("client").at("TIME_WAIT") == 24);
    CHECK(s.max_states.at("server").at("LISTEN") == 3);
    // The same schedule, every connect to 10.77.0.2: one destination's 8 ports.
    for (auto& e : doc["schedule"]) e["to"] = "10.77.0.2:80";
    const ExperimentSummary one = run(doc, "three-to-one");
    CHECK(one.succeeded == 8);
    CHECK(one.first_failure_ms == 8 * 100);
}

TEST_CASE("experiment: a listener takes SYNs to its own address only; the others are refused", "[experiment]") {
    // Listener on 10.77.0.2:80 only; connects alternate .2 and .3 (10 each).
    json doc = load("listener-on-one-address");
    const ExperimentSummary s = run(doc, "listener");
    CHECK(s.succeeded == 10);
    CHECK(s.failures_by_call == std::map<std::string, std::uint64_t>{{"connect ECONNREFUSED", 10}});
    CHECK(s.first_failure_ms == 100);
    // On 0.0.0.0 it takes both addresses.
    doc["server"]["listeners"][0]["address"] = "0.0.0.0";
    const ExperimentSummary any = run(doc, "listener-any");
    CHECK(any.succeeded == 20);
    CHECK(any.failed == 0);
}

TEST_CASE("experiment: the client's addresses: the route's source, the bind address, refusals by pointer", "[experiment]") {
    json doc = load("three-server-addresses");
    // The second address first, in another subnet: connects still leave from 10.77.0.1 (the
    // only address in the servers' /24), one source address: 24 again, not 48.
    doc["client"]["addresses"] = {"10.77.9.1", "10.77.0.1"};
    CHECK(run(doc, "route").succeeded == 24);
    // bind() goes to client.addresses[0]: 10.77.9.1, from which the server has no way back.
    doc["schedule"][1]["bind"] = "port0-no-port";
    CHECK_THAT(refusal(doc, "bind-elsewhere"),
               Catch::Contains("/schedule/1/to: a connect to 10.77.0.3 leaves from 10.77.9.1, which is in none of the server's subnets"));
    // A server address in no client subnet: no route (ENETUNREACH), refused with its pointer.
    json far = load("listener-on-one-address");
    far["server"]["addresses"] = {"10.77.0.2", "10.78.0.3"};
    far["schedule"][1]["to"] = "10.78.0.3:80";
    CHECK_THAT(refusal(far, "no-route"), Catch::Contains("/schedule/1/to: 10.78.0.3 is in none of the client's subnets"));
    // A connect to an address the experiment does not own, as the kernel tool refuses it.
    json stray = load("listener-on-one-address");
    stray["schedule"][1]["to"] = "10.77.0.9:80";
    CHECK_THAT(refusal(stray, "stray"), Catch::Contains("/schedule/1/to: must be one of the experiment's own addresses"));
    // A listener on an address the server does not have.
    json lst = load("listener-on-one-address");
    lst["server"]["listeners"][0]["address"] = "10.77.0.7";
    CHECK_THAT(refusal(lst, "listener-addr"), Catch::Contains("/server/listeners/0/address: 10.77.0.7 is not one of server.addresses"));
}

TEST_CASE("experiment: loopback: the server's sysctls apply to the one namespace too", "[experiment]") {
    // tw-reuse-2-loopback with its sysctls on the server side: the same namespace, the same run
    // (16 ports: 50 to 127.0.0.1 reused after 1 s, then 16 of 50 to 10.77.0.2). Ignored, the
    // default 28,232-port range would let all 100 succeed.
    json doc = load("tw-reuse-2-loopback");
    doc["server"]["sysctls"] = doc["client"]["sysctls"];
    doc["client"]["sysctls"] = json::object();
    const ExperimentSummary s = run(doc, "loopback-server-sysctls");
    CHECK(s.succeeded == 50 + 16);
    CHECK(s.failed == 50 - 16);
    doc["client"]["sysctls"] = doc["server"]["sysctls"];
    CHECK_THAT(refusal(doc, "loopback-twice"), Catch::Contains("/server/sysctls/net.ipv4.ip_local_port_range: loopback: one namespace, set it once"));
}

TEST_CASE("experiment: sample_every_ms decides what the peaks can see", "[experiment]") {
    // fin-timeout-orphan: an orphaned FIN-WAIT-2 lasts 5 s; 16 ports are held from 1.5 s. A
    // sample every 4 s (0, 4, 8 s) sees 16 at 4 s; one every 180 s only the empty start.
    json doc = load("fin-timeout-orphan");
    doc["sample_every_ms"] = 4000;
    CHECK(run(doc, "sample-4s").max_states.at("client").at("FIN_WAIT2") == 16);
    doc["sample_every_ms"] = 180000;
    CHECK(run(doc, "sample-180s").max_states.at("client").count("FIN_WAIT2") == 0);
}

TEST_CASE("experiment digest: FNV-1a 64 reference vectors; defaults written out; keys sorted", "[experiment]") {
    // The FNV reference test vectors (Fowler/Noll/Vo, "FNV-1a 64-bit" of "", "a", "foobar").
    CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
    CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
    const json doc = json::parse(R"({"name": "x", "description": "prose", "observe_ms": 1000,
        "client": {"addresses": ["10.77.0.1"], "sysctls": {"net.b": "2", "net.a": "1"}},
        "server": {"addresses": ["10.77.0.2"], "listeners": [{"address": "10.77.0.2", "port": 80}]},
        "schedule": [{"to": "10.77.0.2:80"}]})");
    CHECK(experiment_canonical_text(doc) ==
          R"({"client":{"addresses":["10.77.0.1"],"sysctls":{"net.a":"1","net.b":"2"}},"loopback":false,"observe_ms":1000,)"
          R"("sample_every_ms":500,"schedule":[{"at_ms":0,"bind":"none","close":"client-first","every_ms":0,"op":"connect",)"
          R"("repeat":1,"reuseaddr":false,"server_close_delay_ms":0,"to":"10.77.0.2:80"}],)"
          R"("server":{"addresses":["10.77.0.2"],"listeners":[{"address":"10.77.0.2","port":80,"reuseaddr":false}],"sysctls":{}}})");
    json same = doc;
    same["schedule"][0]["repeat"] = 1;  // a default written out
    same["name"] = "y";                 // the name is checked on its own
    same["description"] = "other prose";
    CHECK(experiment_digest(same) == experiment_digest(doc));
    json other = doc;
    other["server"]["addresses"].push_back("10.77.0.3");
    CHECK(experiment_digest(other) != experiment_digest(doc));
    CHECK(experiment_digest(doc).rfind("fnv1a64:", 0) == 0);
    CHECK(experiment_digest(doc).size() == 8 + 16);
}

TEST_CASE("experiment --compare: a result of another experiment is refused, naming both", "[experiment]") {
    ExperimentRun run;
    run.name = "client-closes-first";
    run.digest = "fnv1a64:1111111111111111";
    KernelResult k;
    k.experiment = "two-destinations";
    k.digest = "fnv1a64:2222222222222222";
    try {
        check_same_experiment(run, "e.json", k, "r.json");
        FAIL("accepted a result of another experiment");
    } catch (const ScenarioError& e) {
        const std::string m = e.what();
        CHECK_THAT(m, Catch::StartsWith("r.json: /experiment:"));
        CHECK_THAT(m, Catch::Contains("\"two-destinations\" (fnv1a64:2222222222222222)"));
        CHECK_THAT(m, Catch::Contains("e.json is experiment \"client-closes-first\" (fnv1a64:1111111111111111)"));
    }
    k.experiment = run.name;  // the same name, another schedule
    try {
        check_same_experiment(run, "e.json", k, "r.json");
        FAIL("accepted a result of a changed experiment");
    } catch (const ScenarioError& e) {
        const std::string m = e.what();
        CHECK_THAT(m, Catch::StartsWith("r.json: /experiment_digest:"));
        CHECK_THAT(m, Catch::Contains("fnv1a64:2222222222222222"));
        CHECK_THAT(m, Catch::Contains("fnv1a64:1111111111111111"));
    }
    k.digest = run.digest;
    CHECK_NOTHROW(check_same_experiment(run, "e.json", k, "r.json"));
}

TEST_CASE("experiment --compare: a result without a digest cannot say what it measured", "[experiment]") {
    const std::string path = "/tmp/tcpsim-test-" + std::to_string(getpid()) + "-nodigest.json";
    std::ofstream(path) << R"({"experiment": "x", "kernel": "6.18", "attempts": [],
        "summary": {"succeeded": 0, "failed": 0, "failures_by_errno": {}, "first_failure_ms": null,
                    "first_recovery_ms": null, "max_states": {"client": {}, "server": {}}}})";
    CHECK_THROWS_WITH(read_kernel_result(path), Catch::Contains("missing required key \"experiment_digest\""));
    std::remove(path.c_str());
}

namespace {
ExperimentSummary summary_16_ports() {
    ExperimentSummary s;
    s.succeeded = 16;
    s.failed = 64;
    s.failures_by_errno = {{"EADDRINUSE", 64}};
    s.failures_by_call = {{"bind EADDRINUSE", 64}};
    s.first_failure_ms = 1600;
    s.max_states = {{"client", {{"TIME_WAIT", 16}}}, {"server", {{"LISTEN", 2}}}};
    return s;
}
bool agrees(const std::vector<ComparisonRow>& rows, const std::string& figure) {
    for (const ComparisonRow& r : rows)
        if (r.figure == figure) return r.agrees;
    FAIL("no row " << figure);
    return false;
}
}  // namespace

TEST_CASE("experiment --compare: which call failed and the peak state counts are compared, not only errnos", "[experiment]") {
    const ExperimentSummary k = summary_16_ports();
    CHECK(agrees(compare_summaries(k, {k}, 0), "failed calls"));
    // The same errnos from connect() instead of bind().
    ExperimentSummary s = k;
    s.failures_by_call = {{"connect EADDRINUSE", 64}};
    auto rows = compare_summaries(k, {s}, 0);
    CHECK(agrees(rows, "failed"));
    CHECK_FALSE(agrees(rows, "failed calls"));
    // One TIME-WAIT fewer at the peak; a FIN-WAIT-2 the kernel never had.
    s = k;
    s.max_states["client"]["TIME_WAIT"] = 15;
    s.max_states["client"]["FIN_WAIT2"] = 3;
    rows = compare_summaries(k, {s}, 0);
    CHECK(agrees(rows, "succeeded"));
    CHECK_FALSE(agrees(rows, "peak client TIME_WAIT"));
    CHECK_FALSE(agrees(rows, "peak client FIN_WAIT2"));
    CHECK(agrees(rows, "peak server LISTEN"));
    // A peak that varies between seeds (the random port choice) must hold the kernel's within its range.
    ExperimentSummary lo = k, hi = k;
    lo.max_states["client"]["TIME_WAIT"] = 14;
    hi.max_states["client"]["TIME_WAIT"] = 17;
    CHECK(agrees(compare_summaries(k, {lo, hi}, 0), "peak client TIME_WAIT"));
    hi.max_states["client"]["TIME_WAIT"] = 15;
    CHECK_FALSE(agrees(compare_summaries(k, {lo, hi}, 0), "peak client TIME_WAIT"));
    // Times: within the tolerance, not beyond.
    s = k;
    s.first_failure_ms = 1700;
    CHECK(agrees(compare_summaries(k, {s}, 100), "first failure"));
    CHECK_FALSE(agrees(compare_summaries(k, {s}, 99), "first failure"));
}

TEST_CASE("experiment tolerance: the timer-wheel granularity of kernel/time/timer.c", "[experiment]") {
    // The table in kernel/time/timer.c: HZ 250 level 1 32 ms (256-2047 ms), level 2 256 ms
    // (2048-16383 ms), level 3 2048 ms (16384-131071 ms); HZ 1000 level 4 4096 ms (32768-262143
    // ms); HZ 100 level 3 5120 ms (40960-327670 ms); HZ 300 level 3 1706 ms (13653-109223 ms).
    using host::linux_timer_granularity;
    CHECK(linux_timer_granularity(Duration::s(60), 250) == Duration::ms(2048));
    CHECK(linux_timer_granularity(Duration::s(5), 250) == Duration::ms(256));
    CHECK(linux_timer_granularity(Duration::s(3), 250) == Duration::ms(256));
    CHECK(linux_timer_granularity(Duration::s(1), 250) == Duration::ms(32));
    CHECK(linux_timer_granularity(Duration::s(60), 1000) == Duration::ms(4096));
    CHECK(linux_timer_granularity(Duration::s(60), 100) == Duration::ms(5120));
    CHECK(linux_timer_granularity(Duration::s(60), 300).whole_ms() == 1706);
}

TEST_CASE("experiment tolerance: derived from what ends the holds and the schedule's step", "[experiment]") {
    ToleranceFacts f;
    f.observe_ms = 70000;
    f.largest_gap_ms = 100;
    f.client_time_wait = true;
    // TIME-WAIT ends within the run: a 2048 ms bucket at HZ=250 and the 4 ms jiffy it counts
    // from, seen by the next operation: 2100 ms.
    TimeTolerance t = time_tolerance(f);
    CHECK(t.ms == 2100);
    CHECK_THAT(t.why, Catch::Contains("2048 ms wide"));
    CHECK_THAT(t.why, Catch::Contains("15000 jiffies"));
    f.hz = 1000;
    CHECK(time_tolerance(f).ms == 4100);  // 4096 + 1
    f.hz = 250;
    // A run shorter than TIME-WAIT: nothing timed ends a hold; the times must be equal.
    f.observe_ms = 10000;
    CHECK(time_tolerance(f).ms == 0);
    // tcp_tw_reuse after its delay (tcp_clock_ms(): 1 ms), a connect every 120 ms.
    f.tw_reuse = true;
    f.tw_reuse_delay = Duration::ms(5000);
    f.largest_gap_ms = 120;
    CHECK(time_tolerance(f).ms == 120);
    f.tw_reuse_seconds_clock = true;  // before 6.14: whole seconds
    CHECK(time_tolerance(f).ms == 1080);
    // An orphaned FIN-WAIT-2 with tcp_fin_timeout 5 s: a 256 ms bucket + 4 ms, and the peer's
    // delayed ACK of the FIN that starts it (TCP_DELACK_MIN 40 ms + 4 ms): 304 ms; every 100 ms: 400 ms.
    ToleranceFacts o;
    o.observe_ms = 10000;
    o.largest_gap_ms = 100;
    o.orphan_fin_wait2 = true;
    o.fin_timeout = Duration::s(5);
    CHECK(time_tolerance(o).ms == 400);
    o.largest_gap_ms = 0;  // a single operation
    CHECK(time_tolerance(o).ms == 304);
    // tcp_fin_timeout 70 s with mini-sockets: the keep-alive timer for 10 s, then the
    // mini-socket's 10 s (tcp_rcv_state_process(), tcp_keepalive_timer()): two 256 ms buckets
    // + 2 jiffies + the delayed ACK's 44 ms = 564 ms; every 500 ms: 1000 ms.
    o.fin_timeout = Duration::s(70);
    o.fin_wait2_minisock = true;
    o.observe_ms = 30000;
    o.largest_gap_ms = 500;
    CHECK(time_tolerance(o).ms == 1000);
    CHECK_THAT(time_tolerance(o).why, Catch::Contains("two timers of 10000 ms"));
    o.observe_ms = 20000;  // both timers cannot end within the run
    CHECK(time_tolerance(o).ms == 0);
}

TEST_CASE("experiment tolerance: the facts read from the shipped experiments", "[experiment]") {
    const ToleranceFacts ccf = run_experiment(kExperiments + "client-closes-first.json", "linux", 1).facts;
    CHECK(ccf.client_time_wait);
    CHECK_FALSE(ccf.tw_reuse);  // tcp_tw_reuse 0
    CHECK(ccf.observe_ms == 70000);
    CHECK(ccf.largest_gap_ms == 100);
    CHECK(ccf.time_wait == Duration::s(60));
    const ToleranceFacts delay = run_experiment(kExperiments + "tw-reuse-1-delay-5000.json", "linux", 1).facts;
    CHECK(delay.tw_reuse);
    CHECK(delay.tw_reuse_delay == Duration::ms(5000));
    CHECK(delay.largest_gap_ms == 120);
    CHECK_FALSE(run_experiment(kExperiments + "tw-reuse-1-timestamps-off.json", "linux", 1).facts.tw_reuse);
    CHECK(run_experiment(kExperiments + "tw-reuse-2-loopback.json", "linux", 1).facts.tw_reuse);  // toward 127.0.0.1
    const ToleranceFacts orphan = run_experiment(kExperiments + "fin-timeout-orphan.json", "linux", 1).facts;
    CHECK(orphan.orphan_fin_wait2);
    CHECK(orphan.fin_timeout == Duration::s(5));
    CHECK(orphan.fin_wait2_minisock);
    CHECK(run_experiment(kExperiments + "two-destinations.json", "linux", 1).facts.largest_gap_ms == 100);  // two entries interleaved
}
