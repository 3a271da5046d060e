// `tcpsim bench`: fixed, named workloads run through the real forecast path (World, Workloads,
// Forecast), each in a child process of its own so that its peak resident memory is its own.
// It prints what DESIGN.md §6 asks to be measured: lifecycles and events per wall second, peak
// RSS, bytes per live TIME-WAIT entry and per live connection, simulated/wall time.
// Benchmarks are not tests: nothing here asserts a speed.
#pragma once

#include "scenario/scenario.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tcpsim {

struct BenchWorkload {
    std::string name;         // churn, exhaust, nat, scale-1e4 ...
    std::string description;  // one line for people
    std::uint64_t connections = 0;  // connection attempts offered
    std::string scenario_json;      // the scenario, as a file would give it
};

struct BenchResult {
    std::string name;
    std::uint64_t attempted = 0, succeeded = 0, failed = 0;  // requests the workloads reported
    std::uint64_t events = 0;
    double wall_s = 0;
    double sim_s = 0;
    std::int64_t peak_rss_kib = 0;   // VmHWM of the child that ran it
    std::int64_t base_rss_kib = 0;   // VmRSS of the child before the world was built
    std::int64_t peak_time_wait = 0, peak_established = 0;  // all hosts, at their peaks
    std::uint64_t time_wait_taken_over = 0, time_wait_expired = 0;
    double first_failure_s = -1;      // simulated time of the first failure (-1: none)
    double bytes_per_time_wait = 0;   // structural: what one entry costs in the host's tables
    double bytes_per_established = 0; // structural: both ends of one live connection
    // With --repeat: how many runs there were (this result is the median one by wall time) and
    // the lowest and highest lifecycles per wall second among them.
    int runs = 1;
    double rate_min = 0, rate_max = 0;
    bool ok = false;
    std::string error;
};

// The named workloads at `scale` (1: the full sizes; CI uses --tiny, 0.001).
std::vector<BenchWorkload> bench_workloads(double scale);

// Runs one workload in this process.
BenchResult run_bench_workload(const BenchWorkload& w);

// Runs each in a forked child (its own peak RSS), `repeat` times in a row; for each workload the
// result of its median run by wall time, with the spread of all of them (a machine that is
// shared, or whose clock drifts, gives figures apart by tens of percent from one run to the
// next). The table or JSON for people and tools.
std::vector<BenchResult> run_bench(const std::vector<BenchWorkload>& ws, bool fork_each, int repeat = 1, bool progress = false);
// Pins this process (and the workload processes it forks) to one CPU, as `taskset -c cpu` does:
// on a machine whose CPUs run at different speeds, figures compare only on the same CPU.
// Returns what went wrong, or an empty string.
std::string pin_to_cpu(int cpu);
std::string format_bench_table(const std::vector<BenchResult>& rs);
std::string format_bench_json(const std::vector<BenchResult>& rs);

}  // namespace tcpsim
