// The shipped capacity scenarios against the figures their sources publish
// (../shared/reference/capacity-cases.md): port counts, hold times, caps and the arithmetic on
// them. Each check names the case it comes from; none restates tcpsim's own output.
#include "capacity.hpp"
#include "forecast.hpp"
#include "scenario.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace {

using nlohmann::json;

json forecast(const std::string& rel) {
    const tcpsim::Scenario sc = tcpsim::load_scenario(std::string(TCPSIM_SOURCE_DIR) + "/scenarios/" + rel);
    return json::parse(tcpsim::run_forecast(sc).json);
}

double first_failure_s(const json& j, const std::string& kind) { return j.at("first_failure_by_kind").at(kind).at("time_s").get<double>(); }

double workload_rate(const json& j, const std::string& name) {
    for (const json& w : j.at("workloads"))
        if (w.at("name") == name) return w.at("completed_per_s").get<double>();
    FAIL("no workload " << name);
    return 0;
}

}  // namespace

TEST_CASE("forecast: Linux default range, 28,232 ports / 60 s = 470.5 conn/s (case 1)", "[forecast]") {
    const json j = forecast("capacity/linux-default-range.json");
    // Published: 60999 + 1 - 32768 = 28,232 usable ports; derived ceiling 470.5/s.
    CHECK(j["analytic_rate_per_s"].get<double>() == Approx(28232.0 / 60).epsilon(0.01));
    CHECK(j["first_failure"]["errno"] == "EADDRNOTAVAIL");
    CHECK(j["first_failure"]["syscall"] == "connect");
    // t_fail = usable_ports / R while it is shorter than TIME-WAIT: 28,232 / 1,000 per second.
    CHECK(j["first_failure"]["time_s"].get<double>() == Approx(28.232).epsilon(0.01));
    CHECK(j["peak_states"]["client"]["TIME-WAIT"] == 28232);
    // Simulated: the Linux timer wheel holds TIME-WAIT 60 to 62.048 s (HZ=250), so the sustained
    // rate sits between 28,232/62.048 and 28,232/60.
    const double sim = j["sustained_rate_per_s"].get<double>();
    CHECK(sim >= 28232.0 / 62.1);
    CHECK(sim <= 28232.0 / 60 * 1.001);
}

TEST_CASE("forecast: 4 x 10,000 requests over 32768-61000 run out after 28,233 ports", "[forecast]") {
    const json j = forecast("capacity/closed-loop-4x10000.json");
    CHECK(j["first_failure"]["errno"] == "EADDRNOTAVAIL");
    std::int64_t held = 0;
    for (const auto& [state, n] : j["first_failure"]["held"].items()) held += n.get<std::int64_t>();
    CHECK(held == 61000 - 32768 + 1);
    CHECK(j["attempted"].get<std::int64_t>() >= 40000);
}

TEST_CASE("forecast: loopback load test, tw_reuse 0 fails at 28,232 / 2,000 s; the default 2 never does", "[forecast]") {
    const json off = forecast("capacity/loopback-load-test.json");
    CHECK(off["first_failure"]["errno"] == "EADDRNOTAVAIL");
    CHECK(off["first_failure"]["time_s"].get<double>() == Approx(28232.0 / 2000).epsilon(0.01));
    const json on = forecast("what-if/loopback-tw-reuse-default.json");
    CHECK(on["first_failure"].is_null());
    CHECK(on["sustained_rate_per_s"].get<double>() == Approx(2000).epsilon(0.01));
}

TEST_CASE("forecast: Windows 16,384 ports at 120 s and 240 s, Linux for the same workload (case 5)", "[forecast]") {
    const json w120 = forecast("capacity/windows-client.json");
    CHECK(w120["first_failure"]["time_s"].get<double>() == Approx(16384.0 / 200).epsilon(0.01));
    CHECK(w120["analytic_rate_per_s"].get<double>() == Approx(136.5).epsilon(0.01));
    CHECK(w120["sustained_rate_per_s"].get<double>() == Approx(136.5).epsilon(0.01));
    const json w240 = forecast("what-if/windows-tcptimedwaitdelay-240.json");
    CHECK(w240["sustained_rate_per_s"].get<double>() == Approx(68.3).epsilon(0.01));
    const json lin = forecast("what-if/windows-vs-linux.json");
    CHECK(lin["first_failure"].is_null());
    CHECK(lin["analytic_rate_per_s"].get<double>() == Approx(470.5).epsilon(0.01));
}

TEST_CASE("forecast: macOS msl 15000 -> 546 conn/s ceiling; msl 1000 lets the benchmark pass (case 6)", "[forecast]") {
    const json slow = forecast("capacity/macos-redis-benchmark.json");
    CHECK(slow["first_failure"]["errno"] == "EADDRNOTAVAIL");
    CHECK(slow["sustained_rate_per_s"].get<double>() == Approx(546).epsilon(0.01));
    const json fast = forecast("what-if/macos-msl-1000.json");
    CHECK(fast["first_failure"].is_null());
    CHECK(fast["analytic_rate_per_s"].get<double>() == Approx(8192).epsilon(0.01));
}

TEST_CASE("forecast: Cloud NAT 64 ports per VM, 120 s TIME_WAIT: 0.53 conn/s per VM (case 15)", "[forecast]") {
    const json j = forecast("capacity/cloud-nat-64-ports.json");
    CHECK(first_failure_s(j, "NAT drop") == Approx(64.0).epsilon(0.01));
    CHECK(j["first_failure_by_kind"]["NAT drop"]["host"] == "cloud-nat");
    CHECK(j["analytic_rate_per_s"].get<double>() == Approx(64.0 / 120).epsilon(0.01));
    CHECK(workload_rate(j, "busy") == Approx(64.0 / 120).epsilon(0.05));
    CHECK(workload_rate(j, "quiet") == Approx(0.2).epsilon(0.05));  // the other VM's block is its own
}

TEST_CASE("forecast: AWS NAT gateway, 55,000 simultaneous connections per destination per address (case 8)", "[forecast]") {
    const json one = forecast("capacity/aws-nat-55000-per-destination.json");
    CHECK(first_failure_s(one, "NAT drop") == Approx(55.0).epsilon(0.01));
    CHECK(one["first_failure_by_kind"]["NAT drop"]["held"]["NAT established"].get<std::int64_t>() +
              one["first_failure_by_kind"]["NAT drop"]["held"]["NAT transitory"].get<std::int64_t>() ==
          55000);
    const json two = forecast("what-if/aws-nat-two-addresses.json");
    CHECK_FALSE(two["first_failure_by_kind"].contains("NAT drop"));  // 110,000 > 100 s x 1,000/s
}

TEST_CASE("forecast: Azure default SNAT table gives 512 ports per VM in a pool of 51-100 (case 9)", "[forecast]") {
    const json j = forecast("capacity/azure-default-snat.json");
    CHECK(first_failure_s(j, "NAT drop") == Approx(512.0 / 20).epsilon(0.01));
    CHECK(j["analytic_budget"].get<double>() == 512);
}

TEST_CASE("forecast: reverse proxy without upstream keep-alive runs out at 470.5/s; with a pool it does not", "[forecast]") {
    const json j = forecast("capacity/reverse-proxy.json");
    CHECK(j["first_failure_by_kind"]["EADDRNOTAVAIL"]["host"] == "proxy");
    CHECK(j["first_failure_by_kind"].contains("ECONNRESET"));  // what the clients see
    CHECK(j["analytic_rate_per_s"].get<double>() == Approx(470.5).epsilon(0.01));
    // 28,232 upstream ports filled by 600 requests per second (Poisson: within 2%).
    CHECK(j["analytic_first_failure_s"].get<double>() == Approx(28232.0 / 600).epsilon(0.001));
    CHECK(first_failure_s(j, "EADDRNOTAVAIL") == Approx(28232.0 / 600).epsilon(0.02));
    const json k = forecast("what-if/reverse-proxy-keepalive.json");
    CHECK(k["first_failure"].is_null());
    CHECK(k["peak_states"]["proxy"]["TIME-WAIT"].get<std::int64_t>() < 1000);
}

TEST_CASE("forecast: server restart, EADDRINUSE without SO_REUSEADDR on both sockets, none with it (T15, §2.6)", "[forecast]") {
    const json no = forecast("capacity/server-restart.json");
    CHECK(no["first_failure_by_kind"]["EADDRINUSE"]["syscall"] == "listen");
    const json yes = forecast("what-if/server-restart-reuseaddr.json");
    CHECK_FALSE(yes["first_failure_by_kind"].contains("EADDRINUSE"));
}

TEST_CASE("forecast: SO_LINGER 0 leaves no TIME-WAIT and no failure", "[forecast]") {
    const json j = forecast("capacity/linger-zero.json");
    CHECK(j["first_failure"].is_null());
    CHECK(j["peak_states"]["client"]["TIME-WAIT"] == 0);
}

TEST_CASE("forecast: a reserved port with SO_REUSEADDR meets its TIME-WAIT: EADDRINUSE on FreeBSD", "[forecast]") {
    const json j = forecast("capacity/reserved-port-reuseaddr.json");
    CHECK(j["first_failure"]["errno"] == "EADDRINUSE");
    CHECK(j["first_failure"]["syscall"] == "connect");
    CHECK(j["first_failure"]["time_s"].get<double>() == Approx(10.0));  // the second attempt, within 2 x MSL
}

TEST_CASE("forecast: tcp_tw_recycle behind a NAT drops SYNs and connects time out (§2.7)", "[forecast]") {
    const json j = forecast("capacity/tw-recycle-behind-nat.json");
    CHECK(j["first_failure"]["errno"] == "ETIMEDOUT");
    CHECK(j["first_failure"]["why"].get<std::string>().find("PAWSPassiveRejected") != std::string::npos);
}

TEST_CASE("forecast: NAT load balancer in front of a backend that closes first", "[forecast]") {
    // RFC 793 lets the client's RST close the TIME-WAIT (RFC 1337 hazard H3): no ceiling.
    const json rfc793 = forecast("capacity/nat-lb-backend-closes-first.json");
    CHECK(rfc793["first_failure"].is_null());
    CHECK(rfc793["analytic_rate_per_s"].get<double>() == Approx(20000.0 / 240).epsilon(0.001));
    // With RSTs ignored in TIME-WAIT a SYN that meets one waits: connects time out, the retrying
    // flows hold the balancer's SNAT ports, and far fewer than the 400/s offered get through.
    const json rfc1337 = forecast("what-if/nat-lb-backend-rfc1337.json");
    CHECK(rfc1337["failures_by_errno"].contains("ETIMEDOUT"));
    CHECK(rfc1337["failures_by_errno"].contains("NAT drop"));
    CHECK(rfc1337["sustained_rate_per_s"].get<double>() < 400.0 / 2);
    // Linux and FreeBSD backends: no failure. Linux accepts each SYN (the client's timestamps,
    // offset per address pair since 4.10, only grow: TW_SYN); FreeBSD's tcp_twcheck() drops a SYN
    // below RCV.NXT in silence, so about half the connects wait for the TIME-WAIT to end.
    const json lin = forecast("what-if/nat-lb-backend-linux.json");
    CHECK(lin["first_failure"].is_null());
    CHECK(lin["connect_latency_ms"]["p99"].get<double>() < 100);
    const json bsd = forecast("what-if/nat-lb-backend-freebsd.json");
    CHECK(bsd["first_failure"].is_null());
    CHECK(bsd["connect_latency_ms"]["p99"].get<double>() > 1000);
}

TEST_CASE("forecast: same scenario and seed give the same bytes", "[forecast]") {
    const tcpsim::Scenario sc = tcpsim::load_scenario(std::string(TCPSIM_SOURCE_DIR) + "/scenarios/capacity/cloud-nat-64-ports.json");
    const auto a = tcpsim::run_forecast(sc), b = tcpsim::run_forecast(sc);
    CHECK(a.text == b.text);
    CHECK(a.json == b.json);
    CHECK(a.csv == b.csv);
}

TEST_CASE("forecast: bind(ip, 0) before connect() shares 28,232 ports across destinations; NO_PORT does not (case 16)", "[forecast]") {
    const json j = forecast("capacity/bind-before-connect.json");
    CHECK(j["first_failure"]["errno"] == "EADDRINUSE");
    CHECK(j["first_failure"]["syscall"] == "bind");
    CHECK(j["connections_opened"] == 28232);
    CHECK(j["first_failure"]["time_s"].get<double>() == Approx(28232.0 / 500).epsilon(0.01));
    const json k = forecast("what-if/bind-no-port.json");
    CHECK(k["first_failure"].is_null());
    CHECK(k["connections_opened"] == 50000);
}

TEST_CASE("forecast: two destinations give the Linux client two ranges of 28,232 ports (case 1, per 4-tuple)", "[forecast]") {
    const json one = forecast("capacity/linux-default-range.json");
    const json two = forecast("what-if/linux-two-destinations.json");
    // Each destination's 28,232 ports fill at 1,000/s: the first failure comes at the same
    // 28.232 s; the rate sustained in all doubles.
    CHECK(two["first_failure"]["time_s"].get<double>() == Approx(28.232).epsilon(0.01));
    CHECK(two["sustained_rate_per_s"].get<double>() == Approx(2 * one["sustained_rate_per_s"].get<double>()).epsilon(0.01));
    CHECK(two["peak_states"]["client"]["TIME-WAIT"].get<int>() == 2 * 28232);
}

TEST_CASE("forecast: a client gives up on a silent server after its response_timeout (scenario semantics)", "[forecast]") {
    // The server answers after 2 s; the client waits at most 500 ms after its request, which
    // leaves once the handshake is done (two 0.5 ms hops after the connect at t = 0). The ground
    // truth is the scenario's definition of response_timeout and the link latency.
    const auto scenario = [](const char* response_time) {
        return std::string(R"({"name": "response timeout", "seed": 1, "duration": "5s", "profile": "linux",
          "hosts": [{"name": "client", "address": "10.0.0.1"}, {"name": "server", "address": "10.0.0.2"}],
          "default_link": {"latency": "500us"},
          "servers": [{"host": "server", "port": 80, "response_time": ")") +
               response_time + R"("}],
          "clients": [{"name": "load", "host": "client", "to": "server:80", "response_timeout": "500ms",
                       "arrival": {"type": "constant", "rate": 10, "stop": "1s"}, "closer": "client"}]})";
    };
    const json slow = json::parse(tcpsim::run_forecast(tcpsim::parse_scenario(scenario("2s"), "slow")).json);
    CHECK(slow["first_failure"]["errno"] == "ETIMEDOUT");
    CHECK(slow["first_failure"]["syscall"] == "read");
    CHECK(slow["first_failure"]["time_s"].get<double>() == Approx(0.501).margin(1e-9));
    CHECK(slow["failures_by_errno"]["ETIMEDOUT"] == 10);  // every request, at 0.0, 0.1, ..., 0.9 s
    CHECK(slow["succeeded"] == 0);
    // An answer within the timeout: the timer of each request is cancelled, nothing fails.
    const json fast = json::parse(tcpsim::run_forecast(tcpsim::parse_scenario(scenario("400ms"), "fast")).json);
    CHECK(fast["first_failure"].is_null());
    CHECK(fast["succeeded"] == 10);
}

// ---------------------------------------------------------------------------------------------
// Verdicts (issue 21): degradation before failure, objectives, unfinished work.

namespace {

json forecast_with(const std::string& rel, const std::vector<tcpsim::Override>& sets) {
    const std::string path = std::string(TCPSIM_SOURCE_DIR) + "/scenarios/" + rel;
    const tcpsim::Scenario sc = tcpsim::parse_scenario(tcpsim::read_scenario_text(path), rel, sets);
    return json::parse(tcpsim::run_forecast(sc).json);
}

// The balancer in nat-lb-backend-*.json: ports 45536-65535 on one SNAT address = 20,000 4-tuples
// toward the one backend:80; FreeBSD's TIME-WAIT is 2 x net.inet.tcp.msl = 2 x 30 s = 60 s
// (freebsd-src sys/netinet/tcp_timewait.c). A planner's knee: 20,000 / 60 s = 333.3 new
// connections per second; above it a SNAT port comes round (20,000 / R s) before the backend's
// TIME-WAIT on its 4-tuple ends. Operators report "about 300 new connections/s" (issue 21).
constexpr double kSnatPorts = 65535 - 45536 + 1;
constexpr double kFreeBsdTimeWait = 2 * 30.0;

}  // namespace

TEST_CASE("verdict: FreeBSD backend behind a SNAT balancer degrades at 400/s without an errno", "[forecast]") {
    const json j = forecast("what-if/nat-lb-backend-freebsd.json");
    CHECK(j["first_failure"].is_null());
    // The default judge (no slo): more than 1% of an interval's connects retransmit their SYN.
    CHECK(j["slo"]["default_judge"] == true);
    CHECK(j["slo"]["syn_retransmitted"].get<double>() == 0.01);
    const json& b = j["first_breach"];
    REQUIRE(b.is_object());
    CHECK(b["objective"] == "syn_retransmitted");
    CHECK(b["host"] == "clients");
    // The ports come round after 20,000 / 400 = 50 s; the dropped SYN is sent again 1 s later
    // (RFC 6298 initial RTO): the breach is in the report interval that ends at 51 or 52 s.
    CHECK(b["time_s"].get<double>() >= kSnatPorts / 400 + 1);
    CHECK(b["time_s"].get<double>() <= kSnatPorts / 400 + 2);
    const std::string why = b["why"].get<std::string>();
    CHECK(why.find("SYNs dropped by backend's TIME-WAIT (FreeBSD tcp_twcheck: SEQ not above RCV.NXT)") != std::string::npos);
    CHECK(why.find("lb's source NAT") != std::string::npos);
    // Unfinished work is counted and named: connects still in SYN-SENT at the end.
    CHECK(j["unfinished"]["opening"].get<std::uint64_t>() > 0);
    CHECK(j["unfinished"]["total"].get<std::uint64_t>() + j["succeeded"].get<std::uint64_t>() + j["failed"].get<std::uint64_t>() ==
          j["attempted"].get<std::uint64_t>());
    // Per-interval latency: the interval of the breach has connects that waited a retransmission.
    bool slow = false;
    for (const json& i : j["intervals"])
        if (!i["connect_latency_ms"]["max"].is_null() && i["connect_latency_ms"]["max"].get<double>() >= 1000) slow = true;
    CHECK(slow);
}

TEST_CASE("verdict: below 20,000 / 60 s the FreeBSD balancer meets the objectives; above it the p99 objective breaks", "[forecast]") {
    using tcpsim::Override;
    // 320/s: a port comes round after 62.5 s, after the 60 s TIME-WAIT. Issue 21: p99 1 ms.
    const json below = forecast_with("what-if/nat-lb-backend-freebsd.json",
                                     {Override{"/clients/0/arrival/rate", 320}, Override{"/slo/connect_p99", "1s"}});
    CHECK(below["first_breach"].is_null());
    CHECK(below["connect_latency_ms"]["p99"].get<double>() < 10);
    // 340/s: after 58.8 s, inside the TIME-WAIT: about half the SYNs (SEQ below RCV.NXT) are
    // dropped, and those connects wait 1 s, 3 s, ... (issue 21: p99 7 s).
    const json above = forecast_with("what-if/nat-lb-backend-freebsd.json",
                                     {Override{"/clients/0/arrival/rate", 340}, Override{"/slo/connect_p99", "1s"}});
    REQUIRE(above["first_breach"].is_object());
    CHECK(above["breaches"].contains("connect_p99"));
    CHECK(above["connect_latency_ms"]["p99"].get<double>() > 1000);
    CHECK_FALSE(above["breaches"].contains("syn_retransmitted"));  // an slo replaces the default judge
}

TEST_CASE("verdict: a Linux backend with timestamps reopens TIME-WAIT: no knee at 20,000 / 60 s", "[forecast]") {
    // Linux tcp_timewait_state_process(): a SYN with a newer TSval reopens the TIME-WAIT (TW_SYN).
    const json j = forecast("what-if/nat-lb-backend-linux.json");
    CHECK(j["first_breach"].is_null());
    CHECK(j["unfinished"]["opening"] == 0);
    const json twice = forecast_with("what-if/nat-lb-backend-linux.json", {tcpsim::Override{"/clients/0/arrival/rate", 2 * 333}});
    CHECK(twice["first_failure"].is_null());
    CHECK(twice["first_breach"].is_null());
}

TEST_CASE("capacity: the FreeBSD balancer's knee is 20,000 SNAT ports / 60 s TIME-WAIT = 333/s, named", "[capacity]") {
    const std::string path = std::string(TCPSIM_SOURCE_DIR) + "/scenarios/what-if/nat-lb-backend-freebsd.json";
    tcpsim::CapacityOptions opt;
    opt.threads = 2;
    opt.tolerance = 0.005;
    const tcpsim::CapacityResult r = tcpsim::find_capacity(tcpsim::read_scenario_text(path), "nat-lb-backend-freebsd.json", {}, opt);
    REQUIRE(r.pass);
    CHECK(*r.pass == Approx(kSnatPorts / kFreeBsdTimeWait).epsilon(0.03));  // issue 21: within 3%
    REQUIRE(r.at_fail);
    CHECK(r.at_fail->breach_objective == "syn_retransmitted");
    CHECK(r.at_fail->breach_why.find("backend's TIME-WAIT") != std::string::npos);
    CHECK(r.at_fail->breach_why.find("20000 SNAT ports / 60s TIME-WAIT on backend = 333.3/s") != std::string::npos);
}

TEST_CASE("capacity --search: Cloud NAT ports per VM for 1 conn/s at 120 s TIME_WAIT (case 15)", "[capacity]") {
    // Case 15: a VM with N ports churns N / 120 s to one destination; the busy VM offers 1/s, so
    // it needs 1/s x 120 s = 120 ports (plus the few its connections hold while open).
    const std::string path = std::string(TCPSIM_SOURCE_DIR) + "/scenarios/capacity/cloud-nat-64-ports.json";
    tcpsim::CapacityOptions opt;
    opt.threads = 2;
    opt.search_pointer = "/nats/0/ports_per_host";
    const tcpsim::CapacityResult r = tcpsim::find_capacity(tcpsim::read_scenario_text(path), "cloud-nat-64-ports.json", {}, opt);
    CHECK(r.more_helps);
    REQUIRE(r.pass);
    CHECK(*r.pass >= 120);
    CHECK(*r.pass <= 125);
    REQUIRE(r.fail);
    CHECK(*r.fail == *r.pass - 1);
}

TEST_CASE("verdict: a closed loop says when its work finished; its steady window lies in the active period", "[forecast]") {
    // 4 processes x 10,000 requests: 40,000 connections for 28,233 ports (32768-61000); the
    // first TIME-WAITs end 60 s after they began, so the work ends after about a minute.
    const json j = forecast("capacity/closed-loop-4x10000.json");
    const json& w = j["workloads"][0];
    REQUIRE(w["finished_s"].is_number());
    CHECK(w["finished_s"].get<double>() > 60);
    CHECK(w["finished_s"].get<double>() < 120);
    CHECK(j["work_finished_s"] == w["finished_s"]);
    CHECK(j["steady_state"]["to_s"].get<double>() <= w["finished_s"].get<double>() + 1);
    CHECK(j["steady_state"]["completed_per_s"].get<double>() > 0);
    CHECK(j["unfinished"]["total"] == 0);
    // Without failures a short closed loop is judged while it works, not over the idle rest.
    const json quick = forecast_with("capacity/closed-loop-4x10000.json", {tcpsim::Override{"/clients/0/arrival/requests", 1000}});
    CHECK(quick["first_failure"].is_null());
    CHECK(quick["steady_state"]["completed_per_s"].get<double>() > 0);
}
