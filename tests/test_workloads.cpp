// Forecast workloads end to end (sim/forecast/forecast_app.cpp on sim/world/world.cpp): small scenarios written
// inline, each with an outcome that follows from the scenario by arithmetic: request counts of a
// closed loop, stop conditions, what-if actions at a known time (a sysctl, a NAT address, a host
// switched off), retries, who holds TIME-WAIT under a server's keep-alive timeout, and
// determinism (DESIGN.md §5).
#include "forecast/forecast.hpp"
#include "scenario/scenario.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <sstream>
#include <cmath>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

// Two Linux hosts 1 ms apart, a server on web:80, and the given extra keys (clients, stop, ...).
std::string scenario(const std::string& client_sysctls, const std::string& rest, const std::string& duration = "20s",
                     const std::string& server = R"({"host": "web", "port": 80, "response_time": "1ms"})") {
    return R"({"seed": 1, "duration": ")" + duration + R"(", "profile": "linux",
      "hosts": [{"name": "client", "address": "10.0.0.1", "sysctls": {)" + client_sysctls + R"(}},
                {"name": "web", "address": "10.0.0.2"}],
      "default_link": {"latency": "1ms"},
      "servers": [)" + server + "], " + rest + "}";
}

tcpsim::ForecastRun run(const std::string& text) { return tcpsim::run_forecast(tcpsim::parse_scenario(text, "t.json")); }

json run_json(const std::string& text) { return json::parse(run(text).json); }

// The --csv time series: one row per report interval, columns by header name.
struct Csv {
    std::vector<std::string> header;
    std::vector<std::vector<double>> rows;
    [[nodiscard]] std::size_t col(const std::string& name) const {
        for (std::size_t i = 0; i < header.size(); ++i)
            if (header[i] == name) return i;
        FAIL("no CSV column " << name);
        return 0;
    }
};

Csv parse_csv(const std::string& text) {
    Csv c;
    std::istringstream in(text);
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::string cell;
        std::istringstream ls(line);
        while (std::getline(ls, cell, ',')) cells.push_back(cell);
        if (first) {
            c.header = cells;
            first = false;
            continue;
        }
        std::vector<double> row;
        for (const std::string& s : cells) row.push_back(s.empty() ? std::nan("") : std::stod(s));  // empty: no connect in the interval
        REQUIRE(row.size() == c.header.size());
        c.rows.push_back(row);
    }
    return c;
}

// The row of the interval ending at `t` seconds (the first one: the run's closing sample can repeat
// the last interval's time with an empty row).
const std::vector<double>& row_at(const Csv& c, double t) {
    for (const auto& row : c.rows)
        if (row[0] == t) return row;
    FAIL("no CSV row at " << t << " s");
    return c.rows.front();
}

std::uint64_t sum_errno(const json& j) {
    std::uint64_t n = 0;
    for (const auto& [k, v] : j.at("failures_by_errno").items()) n += v.get<std::uint64_t>();
    return n;
}

}  // namespace

TEST_CASE("workloads: a closed loop of 3 processes x 7 requests completes exactly 21 requests", "[workloads]") {
    const tcpsim::ForecastRun r = run(scenario("", R"("clients": [{"name": "loop", "host": "client", "to": "web:80",
        "arrival": {"type": "closed_loop", "processes": 3, "requests": 7}, "closer": "client"}])"));
    const json j = json::parse(r.json);
    CHECK(j["attempted"] == 21);
    CHECK(j["succeeded"] == 21);
    CHECK(j["failed"] == 0);
    CHECK(j["connections_opened"] == 21);  // no pool: one connection per request
    CHECK(j["first_failure"].is_null());
    CHECK(j["connect_latency_ms"]["count"] == 21);
    // The client closes first: all 21 connections sit in TIME-WAIT on the client (60 s > 20 s run).
    CHECK(j["peak_states"]["client"]["TIME-WAIT"] == 21);
    CHECK(j["peak_states"]["web"]["TIME-WAIT"] == 0);
    // One request takes a handshake (2 ms), the request and response (2 ms) and the 1 ms response
    // time: 7 sequential requests per process are done within the first second of 20.
    const Csv c = parse_csv(r.csv);
    CHECK(row_at(c, 1)[c.col("completed")] == 21);
    CHECK(row_at(c, 1)[c.col("offered")] == 21);
    for (const auto& row : c.rows)
        if (row[0] > 1) CHECK(row[c.col("offered")] == 0);
    CHECK(j["stopped_early"] == false);
    CHECK(j["simulated_s"].get<double>() == Approx(20.0));
}

TEST_CASE("workloads: stop at the first failure ends the run at that failure", "[workloads]") {
    // 10 ports (32768-32777), 10 connections per second, each held 60 s in TIME-WAIT: the 11th
    // connect(), at 1.0 s, finds no port.
    const json j = run_json(scenario(R"("net.ipv4.ip_local_port_range": "32768 32777", "net.ipv4.tcp_tw_reuse": 0)",
                                     R"("clients": [{"name": "c", "host": "client", "to": "web:80",
        "arrival": {"type": "constant", "rate": 10}, "closer": "client"}], "stop": {"first_failure": true})"));
    CHECK(j["stopped_early"] == true);
    REQUIRE(!j["first_failure"].is_null());
    CHECK(j["first_failure"]["errno"] == "EADDRNOTAVAIL");
    CHECK(j["first_failure"]["time_s"].get<double>() == Approx(1.0));
    CHECK(j["simulated_s"].get<double>() == j["first_failure"]["time_s"].get<double>());
    CHECK(sum_errno(j) == 1);
    CHECK(j["attempted"] == 11);
    CHECK(j["succeeded"] == 10);
}

TEST_CASE("workloads: stop after 5 failures ends the run at the fifth", "[workloads]") {
    const json j = run_json(scenario(R"("net.ipv4.ip_local_port_range": "32768 32777", "net.ipv4.tcp_tw_reuse": 0)",
                                     R"("clients": [{"name": "c", "host": "client", "to": "web:80",
        "arrival": {"type": "constant", "rate": 10}, "closer": "client"}], "stop": {"failures": 5})"));
    CHECK(j["stopped_early"] == true);
    CHECK(sum_errno(j) == 5);
    CHECK(j["failures_by_errno"]["EADDRNOTAVAIL"] == 5);
    // Failures at 1.0, 1.1, 1.2, 1.3 and 1.4 s.
    CHECK(j["first_failure"]["time_s"].get<double>() == Approx(1.0));
    CHECK(j["simulated_s"].get<double>() == Approx(1.4));
    CHECK(j["attempted"] == 15);
}

TEST_CASE("workloads: tcp_tw_reuse set to 1 at 30 s ends the EADDRNOTAVAIL failures of a 1,000-port client", "[workloads]") {
    // 1,000 ports (32768-33767) at 1,000 connections per second: the ports are gone after 1 s and
    // come back only 60 s later, unless TIME-WAIT can be taken over: tcp_tw_reuse=1 lets connect()
    // reuse a TIME-WAIT older than tcp_tw_reuse_delay (1,000 ms on Linux 6.14+; strictly older, on
    // the ms clock).
    const std::string clients = R"("clients": [{"name": "c", "host": "client", "to": "web:80",
        "arrival": {"type": "constant", "rate": 1000}, "closer": "client"}])";
    const std::string sysctls = R"("net.ipv4.ip_local_port_range": "32768 33767", "net.ipv4.tcp_tw_reuse": 0)";
    auto action = [](const char* name, int value) {
        return std::string(R"({"at": "30s", "do": "sysctl", "host": "client", "name": ")") + name +
               R"(", "value": )" + std::to_string(value) + "}";
    };
    auto check_before = [](const Csv& c) {
        const std::size_t failed = c.col("failed"), completed = c.col("completed"), offered = c.col("offered");
        // 1,000 ports for the first second's 1,000 arrivals; a request takes 5 ms (handshake 2 ms,
        // request 1 ms, response time 1 ms, response 1 ms): those of 0.995 s on complete after 1 s.
        CHECK(row_at(c, 1)[completed] == 995);
        CHECK(row_at(c, 2)[completed] == 5);
        for (int k = 2; k <= 30; ++k) {
            INFO("interval ending at " << k << " s");
            if (k > 2) CHECK(row_at(c, k)[completed] == 0);  // every port in TIME-WAIT (60 s)
            CHECK(row_at(c, k)[failed] == row_at(c, k)[offered]);
            CHECK(row_at(c, k)[failed] == 1000);
        }
    };
    SECTION("with a 100 ms reuse delay, a port comes back in ~0.11 s: every arrival completes after 31 s") {
        const tcpsim::ForecastRun r = run(scenario(sysctls, clients + R"(, "actions": [)" + action("net.ipv4.tcp_tw_reuse_delay", 100) +
                                                                ", " + action("net.ipv4.tcp_tw_reuse", 1) + "]",
                                                   "40s"));
        const Csv c = parse_csv(r.csv);
        check_before(c);
        for (const auto& row : c.rows) {
            INFO("interval ending at " << row[0] << " s");
            if (row[0] > 31) CHECK(row[c.col("failed")] == 0);
        }
        // The last row (40 s) also holds what completed at the final instant itself.
        for (int k = 32; k < 40; ++k) CHECK(row_at(c, k)[c.col("completed")] == 1000);
        CHECK(row_at(c, 40)[c.col("completed")] >= 1000);
        const json j = json::parse(r.json);
        CHECK(j["first_failure"]["errno"] == "EADDRNOTAVAIL");
        CHECK(j["first_failure"]["time_s"].get<double>() == Approx(1.0));
    }
    SECTION("with the default 1 s reuse delay, a port comes back every 1.008 s: 992 of 1,000 per second") {
        // A port's cycle: 7 ms from connect() to TIME-WAIT (handshake 2 ms, request 1 ms, response
        // time 1 ms, response 1 ms, FINs 2 ms at 1 ms a hop), then 1,001 ms (strictly more than
        // 1,000 on the ms clock): 1,000 ports / 1.008 s = 992 connections per second.
        const tcpsim::ForecastRun r = run(scenario(sysctls, clients + R"(, "actions": [)" + action("net.ipv4.tcp_tw_reuse", 1) + "]", "40s"));
        const Csv c = parse_csv(r.csv);
        check_before(c);
        for (int k = 32; k <= 40; ++k) {
            INFO("interval ending at " << k << " s");
            CHECK(row_at(c, k)[c.col("completed")] == Approx(1000 / 1.008).margin(1));
            CHECK(row_at(c, k)[c.col("failed")] == Approx(1000 - 1000 / 1.008).margin(1));
        }
    }
    SECTION("without the action the failures go on to the end (the first TIME-WAITs expire at 60 s)") {
        const Csv c = parse_csv(run(scenario(sysctls, clients, "40s")).csv);
        check_before(c);
        for (int k = 32; k <= 40; ++k) CHECK(row_at(c, k)[c.col("failed")] == 1000);
    }
}

TEST_CASE("workloads: a second NAT address at 20 s takes the flows the per-destination cap refused", "[workloads]") {
    // Connections held open (600 s responses) at 10/s through a NAT capped at 100 entries per
    // address toward one destination: the cap is full after 10 s; a second address at 20 s holds
    // 100 more.
    auto text = [](bool add) {
        return std::string(R"({"seed": 1, "duration": "30s", "profile": "linux",
          "hosts": [{"name": "client", "address": "10.0.1.10"}, {"name": "api", "address": "198.51.100.20"}],
          "default_link": {"latency": "1ms"},
          "nats": [{"name": "gw", "addresses": ["52.0.0.1"], "inside": ["client"], "per_destination_cap": 100}],
          "servers": [{"host": "api", "port": 443, "response_time": "600s"}],
          "clients": [{"name": "poll", "host": "client", "to": "api:443", "arrival": {"type": "constant", "rate": 10},
                       "closer": "client", "response_timeout": "900s"}])") +
               (add ? R"(, "actions": [{"at": "20s", "do": "nat_add_address", "nat": "gw", "address": "52.0.0.2"}])" : "") + "}";
    };
    const tcpsim::ForecastRun with = run(text(true)), without = run(text(false));
    const json j = json::parse(with.json);
    const json base = json::parse(without.json);
    // The 101st SYN (sent at 10.0 s) reaches the NAT 1 ms later and is the first drop.
    REQUIRE(j["first_failure_by_kind"].contains("NAT drop"));
    const double first_drop = j["first_failure_by_kind"]["NAT drop"]["time_s"].get<double>();
    CHECK(first_drop >= 10.0);
    CHECK(first_drop < 10.01);
    CHECK(base["first_failure_by_kind"]["NAT drop"]["time_s"].get<double>() == first_drop);
    CHECK(j["failures_by_errno"]["NAT drop"].get<std::uint64_t>() < base["failures_by_errno"]["NAT drop"].get<std::uint64_t>());
    CHECK(j["succeeded"] == 0);  // no 600 s response comes within 30 s
    // The NAT's entries: 100 from 10 s to 20 s, then 200 (two addresses x the cap), never more.
    const Csv c = parse_csv(with.csv);
    const std::size_t t = c.col("time_s"), est = c.col("gw.established"), tr = c.col("gw.transitory"),
                      ports = c.col("gw.ports_in_use");
    for (const auto& row : c.rows) {
        INFO("at " << row[t] << " s");
        const double entries = row[est] + row[tr];
        if (row[t] >= 11 && row[t] <= 20) CHECK(entries == 100);
        CHECK(entries <= 200);
        if (row[t] >= 11 && row[t] <= 20) CHECK(row[est] == 100);
    }
    CHECK(c.rows.back()[est] == 200);
    CHECK(c.rows.back()[ports] == 200);
    const Csv b = parse_csv(without.csv);
    CHECK(b.rows.back()[b.col("gw.established")] == 100);
}

TEST_CASE("workloads: a server host switched off at 10 s answers nothing: later requests time out", "[workloads]") {
    // tcp_syn_retries 2. Linux 6.5+ retransmits the first tcp_syn_linear_timeouts (4) SYNs at the
    // initial RTO, but tcp_write_timeout() also gives up once retransmits_timed_out() finds the
    // time tcp_model_timeout(2) = 7 s has passed: SYNs at 0, 1, 2, 3, 4 and 5 s, ETIMEDOUT at 7 s
    // (the live 6.18 kernel, tests/linux-pkt/syn-retries-2-etimedout.pkt). Linux 5.10: SYNs at 0, 1
    // and 3 s, ETIMEDOUT at 7 s.
    // Requests at 10/s from 10.0 s: those that time out by the end of the 30 s run fail.
    struct Case {
        const char* profile;
        double give_up;
        int failures;
    };
    for (const Case& k : {Case{"linux", 7, 131}, Case{"linux-5.10", 7, 131}}) {
        INFO("client profile " << k.profile);
        const tcpsim::ForecastRun r = run(std::string(R"({"seed": 1, "duration": "30s", "profile": "linux",
          "hosts": [{"name": "client", "address": "10.0.0.1", "profile": ")") + k.profile +
                                          R"(", "sysctls": {"net.ipv4.tcp_syn_retries": 2}},
                    {"name": "web", "address": "10.0.0.2"}],
          "default_link": {"latency": "1ms"},
          "servers": [{"host": "web", "port": 80, "response_time": "1ms"}],
          "clients": [{"name": "c", "host": "client", "to": "web:80", "arrival": {"type": "constant", "rate": 10}, "closer": "client"}],
          "actions": [{"at": "10s", "do": "stop_host", "host": "web"}]})");
        const json j = json::parse(r.json);
        CHECK(j["succeeded"] == 100);  // 10/s for the first 10 s, none after
        // Requests at 10.0 .. 30.0 - give_up s (the run's last instant included).
        CHECK(j["failures_by_errno"].value("ETIMEDOUT", 0) == (30 - k.give_up - 10) * 10 + 1);
        CHECK(j["failures_by_errno"].value("ETIMEDOUT", 0) == k.failures);
        CHECK(sum_errno(j) == static_cast<std::uint64_t>(k.failures));
        CHECK(j["first_failure"]["errno"] == "ETIMEDOUT");
        CHECK(j["first_failure"]["syscall"] == "connect");
        CHECK(j["first_failure"]["time_s"].get<double>() == Approx(10 + k.give_up).margin(0.05));
        const Csv c = parse_csv(r.csv);
        const std::size_t t = c.col("time_s"), completed = c.col("completed"), failed = c.col("failed");
        for (const auto& row : c.rows) {
            INFO("interval ending at " << row[t] << " s");
            if (row[t] > 10) CHECK(row[completed] == 0);
            if (row[t] < 10 + k.give_up) CHECK(row[failed] == 0);
        }
        for (int s = 1; s <= 10; ++s) CHECK(row_at(c, s)[completed] == 10);
    }
}

TEST_CASE("workloads: retry 2 attempts 1 s apart on a full port range fails each request 3 times", "[workloads]") {
    // 10 ports, 10 arrivals per second until 5 s: the 10 of the first second take every port for
    // 60 s; the 40 arrivals of 1.0 .. 4.9 s fail at t, t + 1 s and t + 2 s (before 10 s).
    const json j = run_json(scenario(R"("net.ipv4.ip_local_port_range": "32768 32777", "net.ipv4.tcp_tw_reuse": 0)",
                                     R"("clients": [{"name": "c", "host": "client", "to": "web:80",
        "arrival": {"type": "constant", "rate": 10, "stop": "5s"}, "closer": "client",
        "retry": {"attempts": 2, "backoff": "1s"}}])",
                                     "10s"));
    CHECK(j["succeeded"] == 10);
    CHECK(j["failures_by_errno"]["EADDRNOTAVAIL"] == 3 * 40);
    CHECK(sum_errno(j) == 3 * 40);
    // Each attempt is offered and counted: 50 arrivals + 2 retries for each of the 40.
    CHECK(j["attempted"] == 50 + 2 * 40);
    CHECK(j["failed"] == 3 * 40);
    CHECK(j["first_failure"]["time_s"].get<double>() == Approx(1.0));
}

TEST_CASE("workloads: a server's keep-alive timeout closes idle pooled connections: TIME-WAIT on the server", "[workloads]") {
    // One request every 5 s on a client pool; the server closes a connection 2 s after its response
    // (before the client's 90 s pool timeout), so the server closes first and holds the TIME-WAIT.
    const json j = run_json(scenario("", R"("clients": [{"name": "c", "host": "client", "to": "web:80",
        "arrival": {"type": "constant", "rate": 0.2}, "closer": "client", "pool": {"size": 4}}])",
                                     "30s", R"({"host": "web", "port": 80, "response_time": "1ms", "close": "idle_timeout", "keep_alive_timeout": "2s"})"));
    CHECK(j["succeeded"] == 6);  // at 0, 5, ..., 25 s
    CHECK(j["failed"] == 0);
    CHECK(j["connections_opened"] == 6);  // the pooled connection is always gone 3 s before the next request
    // Each closed at t + 2 s and held 60 s: all 6 still in TIME-WAIT at the end.
    CHECK(j["peak_states"]["web"]["TIME-WAIT"] == 6);
    CHECK(j["peak_states"]["client"]["TIME-WAIT"] == 0);
    CHECK(j["end_states"]["web"]["TIME-WAIT"] == 6);
}

TEST_CASE("workloads: a keep-alive pool faster than the server's timeout reuses one connection", "[workloads]") {
    // Requests every 1 s, the server's idle timeout 2 s: the connection never idles that long.
    const json j = run_json(scenario("", R"("clients": [{"name": "c", "host": "client", "to": "web:80",
        "arrival": {"type": "constant", "rate": 1}, "closer": "client", "pool": {"size": 4}}])",
                                     "10s", R"({"host": "web", "port": 80, "response_time": "1ms", "close": "idle_timeout", "keep_alive_timeout": "2s"})"));
    CHECK(j["succeeded"] == 10);
    CHECK(j["connections_opened"] == 1);
    CHECK(j["peak_states"]["web"]["TIME-WAIT"] == 0);
    CHECK(j["peak_states"]["client"]["TIME-WAIT"] == 0);
}

TEST_CASE("workloads: the same scenario twice gives identical text, JSON and CSV", "[workloads]") {
    const std::string text = R"({"seed": 11, "duration": "20s", "profile": "linux",
      "hosts": [{"name": "client", "address": "10.0.1.10", "sysctls": {"net.ipv4.ip_local_port_range": "40000 40499"}},
                {"name": "web", "address": "198.51.100.20"}, {"name": "web2", "address": "198.51.100.21"}],
      "default_link": {"latency": "1ms"},
      "nats": [{"name": "gw", "addresses": ["52.0.0.1"], "inside": ["client"], "port_range": [1024, 1523]}],
      "servers": [{"host": "web", "port": 80, "response_time": "5ms"}, {"host": "web2", "port": 80, "response_time": "5ms"}],
      "balancers": [{"name": "lb", "address": "198.51.100.100", "port": 80, "backends": ["web:80", "web2:80"], "algorithm": "hash"}],
      "clients": [{"name": "a", "host": "client", "to": "lb:80", "arrival": {"type": "poisson", "rate": 40}, "closer": "client"},
                  {"name": "b", "host": "client", "to": "web:80", "arrival": {"type": "poisson", "rate": 20}, "closer": "client",
                   "retry": {"attempts": 1, "backoff": "500ms"}}]})";
    const tcpsim::ForecastRun a = run(text), b = run(text);
    CHECK(a.text == b.text);
    CHECK(a.json == b.json);
    CHECK(a.csv == b.csv);
    const json j = json::parse(a.json);
    CHECK(j["attempted"].get<std::uint64_t>() > 0);
    // 60 arrivals/s x 20 s on 500 ports (NAT and client) held 60 s: the ports run out around 8 s.
    CHECK(j["failed"].get<std::uint64_t>() > 0);
    // Another seed draws other Poisson arrivals.
    std::string other = text;
    other.replace(other.find("\"seed\": 11"), 10, "\"seed\": 12");
    CHECK(run(other).json != a.json);
}

TEST_CASE("workloads: connect() from a port bound over a TIME-WAIT takes it over once per connection", "[workloads]") {
    // tools/kernel/experiments/explicit-bind-reuseaddr-both.json on Linux 6.18: six connects from
    // port 40000 with SO_REUSEADDR, 500 ms apart, all succeed: each of the five after the first
    // takes the previous one's TIME-WAIT over (reference T12). The count was doubled once.
    const tcpsim::ForecastRun r = run(R"({"seed": 1, "duration": "3s", "profile": "linux",
        "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.ipv4.tcp_tw_reuse": 0}}, {"name": "b", "address": "10.0.0.2"}],
        "default_link": {"latency": "250us"},
        "servers": [{"host": "b", "port": 80}],
        "clients": [{"host": "a", "to": "b:80", "arrival": {"type": "constant", "rate": 2}, "closer": "client",
                     "bind": "fixed", "local_port": 40000, "reuseaddr": true}]})");
    CHECK(r.doc["succeeded"] == 6);
    CHECK(r.text.find("5 taken over by connect()") != std::string::npos);
}
