#include "cli/bench.hpp"
#include "whatif/whatif_run.hpp"

#include "forecast/forecast.hpp"
#include "forecast/forecast_app.hpp"
#include "world/world.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tcpsim {

namespace {

// Lifecycles offered at `rate` per second for `n` connections: the arrival window in seconds.
double window_s(std::uint64_t n, double rate) { return static_cast<double>(n) / rate; }

std::string seconds(double s) { return fmt::format("{}ms", static_cast<std::int64_t>(std::llround(s * 1000))); }

// One client, one server, 0.5 ms links, linux profile, the client closes first. The arrival
// window holds `n` connections; the run lasts long enough after it for every TIME-WAIT to end
// (60 s plus the timer wheel's 2 s), so each lifecycle is counted whole.
std::string two_host_json(const std::string& name, std::uint64_t n, double rate, int tw_reuse) {
    const double win = window_s(n, rate);
    return fmt::format(R"({{
  "name": "bench {0}",
  "seed": 1,
  "duration": "{1}",
  "profile": "linux",
  "hosts": [
    {{"name": "client", "address": "10.0.0.1", "sysctls": {{"net.ipv4.tcp_tw_reuse": {2}}}}},
    {{"name": "server", "address": "10.0.0.2"}}
  ],
  "default_link": {{"latency": "500us"}},
  "report_interval": "10s",
  "servers": [{{"host": "server", "port": 80, "response_time": "1ms"}}],
  "clients": [{{"name": "load", "host": "client", "to": "server:80",
                "arrival": {{"type": "constant", "rate": {3}, "stop": "{4}"}}, "closer": "client"}}]
}})",
                       name, seconds(win + 63), tw_reuse, rate, seconds(win));
}

// Clients behind a NAT gateway (two outer addresses) in front of a linux backend that closes
// first: the backend holds the TIME-WAITs, the NAT's ports come back to it and meet them.
std::string nat_json(std::uint64_t n, double rate) {
    const double win = window_s(n, rate);
    return fmt::format(R"({{
  "name": "bench nat",
  "seed": 1,
  "duration": "{0}",
  "profile": "linux",
  "hosts": [
    {{"name": "clients", "address": "10.0.1.1", "sysctls": {{"net.ipv4.ip_local_port_range": "1024 65535", "net.ipv4.tcp_tw_reuse": 1}}}},
    {{"name": "backend", "address": "10.0.0.20"}}
  ],
  "default_link": {{"latency": "500us"}},
  "report_interval": "10s",
  "nats": [{{"name": "nat", "addresses": ["52.0.0.1", "52.0.0.2"], "inside": ["clients"], "port_range": [1024, 65535]}}],
  "servers": [{{"host": "backend", "port": 80, "response_time": "1ms", "close": "after_response"}}],
  "clients": [{{"name": "users", "host": "clients", "to": "backend:80",
                "arrival": {{"type": "constant", "rate": {1}, "stop": "{2}"}}, "closer": "server"}}]
}})",
                       seconds(win + 63), rate, seconds(win));
}

// The scaling series: one client with 24 source addresses (IP_BIND_ADDRESS_NO_PORT, so that
// connect() picks the port per 4-tuple) at 10,000 connections/s to one server; it closes
// first, so 600,000 TIME-WAITs (10,000/s x 60 s) are alive at once from the 60th second on.
// The run ends with its arrival window: wall time and memory at the moment of most state.
std::string scale_json(std::uint64_t n, double rate) {
    const double win = window_s(n, rate);
    std::string addrs, src;
    for (int i = 0; i < 24; ++i) {
        const std::string a = fmt::format("10.0.1.{}", i + 1);
        addrs += fmt::format("{}\"{}\"", i ? ", " : "", a);
        src += fmt::format("{}\"{}\"", i ? ", " : "", a);
    }
    return fmt::format(R"({{
  "name": "bench scale",
  "seed": 1,
  "duration": "{0}",
  "profile": "linux",
  "hosts": [
    {{"name": "client", "addresses": [{1}], "sysctls": {{"net.ipv4.tcp_tw_reuse": 0, "net.ipv4.tcp_max_tw_buckets": 2000000}}}},
    {{"name": "server", "address": "10.0.0.2"}}
  ],
  "default_link": {{"latency": "500us"}},
  "report_interval": "10s",
  "servers": [{{"host": "server", "port": 80, "response_time": "1ms"}}],
  "clients": [{{"name": "load", "host": "client", "to": "server:80", "bind": "no_port", "source_addresses": [{2}],
                "arrival": {{"type": "constant", "rate": {3}, "stop": "{0}"}}, "closer": "client"}}]
}})",
                       seconds(win), addrs, src, rate);
}

std::int64_t proc_status_kib(const char* field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::size_t n = std::strlen(field);
    while (std::getline(f, line))
        if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') return std::stoll(line.substr(n + 1));
    return 0;
}

std::uint64_t scaled(std::uint64_t n, double scale) {
    return std::max<std::uint64_t>(100, static_cast<std::uint64_t>(std::llround(static_cast<double>(n) * scale)));
}

}  // namespace

std::vector<BenchWorkload> bench_workloads(double scale) {
    std::vector<BenchWorkload> ws;
    const double rate = 10000;
    {
        const std::uint64_t n = scaled(1'000'000, scale);
        ws.push_back({"churn", "tw_reuse=1, 10,000 conn/s, client closes first: nothing fails", n, two_host_json("churn", n, rate, 1)});
    }
    {
        const std::uint64_t n = scaled(1'000'000, scale);
        ws.push_back({"exhaust", "tw_reuse=0, 10,000 conn/s: ports run out at ~3 s, ~95% of connects fail", n,
                      two_host_json("exhaust", n, rate, 0)});
    }
    {
        const std::uint64_t n = scaled(500'000, scale);
        ws.push_back({"nat", "behind a 2-address NAT, 5,000 conn/s, backend closes first", n, nat_json(n, 5000)});
    }
    for (int e = 4; e <= 7; ++e) {
        const auto full = static_cast<std::uint64_t>(std::pow(10.0, e));
        const std::uint64_t n = scaled(full, scale);
        ws.push_back({fmt::format("scale-1e{}", e), "24 source addresses, 10,000 conn/s, up to 600,000 TIME-WAIT alive", n,
                      scale_json(n, rate)});
    }
    return ws;
}

BenchResult run_bench_workload(const BenchWorkload& wl) {
    BenchResult r;
    r.name = wl.name;
    try {
        const Scenario sc = parse_scenario(wl.scenario_json, "bench:" + wl.name);
        r.base_rss_kib = proc_status_kib("VmRSS");
        const auto t0 = std::chrono::steady_clock::now();
        World w(sc, false);
        w.set_socket_reuse(sc.actions.empty() && sc.forecast.proxies.empty());  // as run_forecast()
        Forecast fc(sc, w);
        Workloads app(sc, w, fc);
        w.set_app(&app);
        app.start();
        w.run();
        const auto t1 = std::chrono::steady_clock::now();
        r.wall_s = std::chrono::duration<double>(t1 - t0).count();
        r.sim_s = static_cast<double>(w.now().ns()) / 1e9;
        r.attempted = fc.attempted();
        r.succeeded = fc.succeeded();
        r.failed = fc.failed();
        r.events = w.engine_counters().events_processed;
        for (int h = 0; h < w.host_count(); ++h) {
            r.peak_time_wait += w.state_peaks(h)[static_cast<std::size_t>(tcp::State::TimeWait)];
            r.peak_established += w.state_peaks(h)[static_cast<std::size_t>(tcp::State::Established)];
            r.time_wait_taken_over += w.host(h).time_wait_ends().taken_over;
        }
        r.time_wait_expired = w.stats().time_wait_expired;
        if (fc.first_failure()) r.first_failure_s = static_cast<double>(fc.first_failure()->at.ns()) / 1e9;
        r.bytes_per_time_wait = static_cast<double>(host::Host::bytes_per_time_wait());
        r.bytes_per_established = static_cast<double>(2 * host::Host::bytes_per_connection() + Workloads::bytes_per_connection());
        r.peak_rss_kib = proc_status_kib("VmHWM");
        r.ok = true;
    } catch (const std::exception& e) {
        r.error = e.what();
    }
    return r;
}

std::string pin_to_cpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return fmt::format("no CPU {} (0 to {})", cpu, CPU_SETSIZE - 1);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        return fmt::format("CPU {} is not one this process may run on ({})", cpu, std::strerror(errno));
    return {};
}

namespace {

// One run of `wl`, in a forked child unless !fork_each.
BenchResult run_once(const BenchWorkload& wl, bool fork_each) {
    if (!fork_each) return run_bench_workload(wl);
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("bench: pipe() failed");
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("bench: fork() failed");
    if (pid == 0) {
        close(fds[0]);
        const BenchResult r = run_bench_workload(wl);
        nlohmann::json j;
        j["attempted"] = r.attempted;
        j["succeeded"] = r.succeeded;
        j["failed"] = r.failed;
        j["events"] = r.events;
        j["wall_s"] = r.wall_s;
        j["sim_s"] = r.sim_s;
        j["peak_rss_kib"] = r.peak_rss_kib;
        j["base_rss_kib"] = r.base_rss_kib;
        j["peak_time_wait"] = r.peak_time_wait;
        j["peak_established"] = r.peak_established;
        j["taken_over"] = r.time_wait_taken_over;
        j["expired"] = r.time_wait_expired;
        j["b_tw"] = r.bytes_per_time_wait;
        j["first_failure_s"] = r.first_failure_s;
        j["b_est"] = r.bytes_per_established;
        j["ok"] = r.ok;
        j["error"] = r.error;
        const std::string s = j.dump();
        std::size_t off = 0;
        while (off < s.size()) {
            const ssize_t k = write(fds[1], s.data() + off, s.size() - off);
            if (k <= 0) break;
            off += static_cast<std::size_t>(k);
        }
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    std::string s;
    char buf[4096];
    for (;;) {
        const ssize_t k = read(fds[0], buf, sizeof buf);
        if (k <= 0) break;
        s.append(buf, static_cast<std::size_t>(k));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    BenchResult r;
    r.name = wl.name;
    if (s.empty()) {
        r.error = fmt::format("the child process ended without a result (status {})", status);
    } else {
        const nlohmann::json j = nlohmann::json::parse(s);
        r.attempted = j["attempted"];
        r.succeeded = j["succeeded"];
        r.failed = j["failed"];
        r.events = j["events"];
        r.wall_s = j["wall_s"];
        r.sim_s = j["sim_s"];
        r.peak_rss_kib = j["peak_rss_kib"];
        r.base_rss_kib = j["base_rss_kib"];
        r.peak_time_wait = j["peak_time_wait"];
        r.peak_established = j["peak_established"];
        r.time_wait_taken_over = j["taken_over"];
        r.time_wait_expired = j["expired"];
        r.bytes_per_time_wait = j["b_tw"];
        r.first_failure_s = j["first_failure_s"];
        r.bytes_per_established = j["b_est"];
        r.ok = j["ok"];
        r.error = j["error"];
    }
    return r;
}

double rate_of(const BenchResult& r) { return static_cast<double>(r.attempted) / std::max(r.wall_s, 1e-9); }

}  // namespace

std::vector<BenchResult> run_bench(const std::vector<BenchWorkload>& ws, bool fork_each, int repeat, bool progress) {
    std::vector<BenchResult> out;
    // Progress by whole runs: a hook inside a run would be measured with it.
    ProgressBar bar("bench", ws.size() * static_cast<std::size_t>(std::max(repeat, 1)), progress);
    std::size_t done = 0;
    for (const BenchWorkload& wl : ws) {
        std::vector<BenchResult> runs;
        for (int i = 0; i < std::max(repeat, 1); ++i) {
            runs.push_back(run_once(wl, fork_each));
            bar.update(++done);
            if (!runs.back().ok) break;
        }
        if (!runs.back().ok) {
            out.push_back(runs.back());
            continue;
        }
        // The median by wall time (of an even number, the faster of the middle two).
        std::stable_sort(runs.begin(), runs.end(), [](const BenchResult& a, const BenchResult& b) { return a.wall_s < b.wall_s; });
        BenchResult r = runs[(runs.size() - 1) / 2];
        r.runs = static_cast<int>(runs.size());
        r.rate_min = rate_of(runs.back());
        r.rate_max = rate_of(runs.front());
        out.push_back(r);
    }
    bar.finish();
    return out;
}


namespace {
// Measured: the run's growth in resident memory over the live entries at the peak.
double rss_per_live(const BenchResult& r) {
    const double live = static_cast<double>(r.peak_time_wait + r.peak_established);
    return live > 0 ? static_cast<double>(r.peak_rss_kib - r.base_rss_kib) * 1024.0 / live : 0;
}
}  // namespace

std::string format_bench_table(const std::vector<BenchResult>& rs) {
    std::string out = fmt::format("{:<10} {:>10} {:>9} {:>8} {:>12} {:>11} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>10}\n", "workload",
                                  "lifecycles", "failed", "wall s", "lifecycles/s", "events/s", "sim/wall", "peak MiB",
                                  "B/TW", "B/ESTAB", "peak TW", "peak EST", "RSS B/live");
    for (const BenchResult& r : rs) {
        if (!r.ok) {
            out += fmt::format("{:<10} error: {}\n", r.name, r.error);
            continue;
        }
        const double wall = std::max(r.wall_s, 1e-9);
        out += fmt::format("{:<10} {:>10} {:>9} {:>8.2f} {:>12.0f} {:>11.0f} {:>9.1f} {:>9.1f} {:>8.0f} {:>8.0f} {:>9} {:>9} {:>10.0f}\n", r.name,
                           r.attempted, r.failed, r.wall_s, rate_of(r),
                           static_cast<double>(r.events) / wall, r.sim_s / wall, static_cast<double>(r.peak_rss_kib) / 1024.0,
                           r.bytes_per_time_wait, r.bytes_per_established, r.peak_time_wait, r.peak_established, rss_per_live(r));
    }
    for (const BenchResult& r : rs)
        if (r.ok && r.runs > 1)
            out += fmt::format("{}: {} runs, lifecycles/s lowest {:.0f}, median {:.0f} (the row above), highest {:.0f}\n", r.name, r.runs,
                               r.rate_min, rate_of(r), r.rate_max);
    out +=
        "lifecycles: connection attempts (handshake, request/response, teardown, TIME-WAIT end, at segment level), failed\n"
        "ones included; peak MiB: VmHWM of the child process that ran the workload; B/TW, B/ESTAB: bytes one live\n"
        "TIME-WAIT entry / one live connection (both ends) costs in the simulator's tables (structural figure);\n"
        "RSS B/live: measured, (peak RSS - RSS before the run) / (peak TIME-WAIT + peak ESTABLISHED), everything included.\n";
    return out;
}

std::string format_bench_json(const std::vector<BenchResult>& rs) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::array();
    for (const BenchResult& r : rs) {
        nlohmann::ordered_json j;
        j["workload"] = r.name;
        j["ok"] = r.ok;
        if (!r.ok) {
            j["error"] = r.error;
            doc.push_back(j);
            continue;
        }
        const double wall = std::max(r.wall_s, 1e-9);
        j["lifecycles"] = r.attempted;
        j["succeeded"] = r.succeeded;
        j["failed"] = r.failed;
        j["events"] = r.events;
        j["wall_s"] = r.wall_s;
        j["sim_s"] = r.sim_s;
        j["lifecycles_per_s"] = rate_of(r);
        j["runs"] = r.runs;
        j["lifecycles_per_s_lowest"] = r.rate_min;
        j["lifecycles_per_s_highest"] = r.rate_max;
        j["events_per_s"] = static_cast<double>(r.events) / wall;
        j["sim_over_wall"] = r.sim_s / wall;
        j["peak_rss_kib"] = r.peak_rss_kib;
        j["bytes_per_time_wait"] = r.bytes_per_time_wait;
        j["bytes_per_established"] = r.bytes_per_established;
        j["rss_bytes_per_live_entry"] = rss_per_live(r);
        j["peak_time_wait"] = r.peak_time_wait;
        j["peak_established"] = r.peak_established;
        j["time_wait_taken_over"] = r.time_wait_taken_over;
        j["time_wait_expired"] = r.time_wait_expired;
        j["first_failure_s"] = r.first_failure_s;
        doc.push_back(j);
    }
    return doc.dump(2) + "\n";
}

}  // namespace tcpsim
