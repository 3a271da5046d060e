// Live-kernel experiments (tools/kernel/experiments/*.json) run in the simulator: the same
// schedule of connects on a client and a server host with the `linux` profile and the
// experiment's sysctls, addresses and listeners, summarised like the kernel harness summarises
// its run, so the two can be compared figure by figure (tools/kernel/results/*.json hold the
// kernel's figures). Every field the kernel harness reads is read here; one the simulator cannot
// model refuses the file with its JSON pointer.
#pragma once

#include <tcpsim/time.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tcpsim {

// What a run (on the kernel or in the simulator) amounts to, figure by figure.
struct ExperimentSummary {
    std::uint64_t succeeded = 0;
    std::uint64_t failed = 0;
    std::map<std::string, std::uint64_t> failures_by_errno;  // "EADDRNOTAVAIL" -> count
    // Which call failed, with its errno: "bind EADDRINUSE", "connect EADDRNOTAVAIL", "listen ...".
    std::map<std::string, std::uint64_t> failures_by_call;
    std::optional<std::int64_t> first_failure_ms;
    std::optional<std::int64_t> first_recovery_ms;
    // Per side ("client", "server"): the most sockets in each state at any sample (state names of
    // /proc/net/tcp: TIME_WAIT, FIN_WAIT2, ...; a state no sample saw is absent).
    std::map<std::string, std::map<std::string, std::uint64_t>> max_states;
};

// What ends the holds of an experiment, for the time tolerance of a comparison: which timers
// can end a hold within the run, their lengths, and the spacing of the schedule.
struct ToleranceFacts {
    std::int64_t observe_ms = 0;
    std::int64_t hz = 250;                   // CONFIG_HZ of the kernel (its result's, else the profile's)
    bool client_time_wait = false;           // some connection closes client-first
    bool server_time_wait = false;           // some connection closes server-first
    bool orphan_fin_wait2 = false;           // some connection closes client-only (tcp_fin_timeout ends it)
    // Linux mini-sockets on the client: an orphan whose tcp_fin_timeout exceeds TCP_TIMEWAIT_LEN
    // is a full socket for the difference, then a mini-socket for the difference again.
    bool fin_wait2_minisock = false;
    bool tw_reuse = false;                   // tcp_tw_reuse can take a client TIME-WAIT over
    bool tw_reuse_seconds_clock = false;     // before 6.14: ktime_get_seconds(), not tcp_clock_ms()
    Duration time_wait = Duration::s(60);    // TCP_TIMEWAIT_LEN
    Duration fin_timeout = Duration::s(60);  // the client's tcp_fin_timeout
    Duration tw_reuse_delay = Duration::ms(1000);
    std::int64_t largest_gap_ms = 0;         // between two consecutive scheduled operations
};

// How far apart the kernel's and the simulator's first failure and first recovery may lie.
struct TimeTolerance {
    std::int64_t ms = 0;
    std::string why;  // for people: which timer, its granularity, the schedule's step
};
TimeTolerance time_tolerance(const ToleranceFacts& f);

struct ExperimentRun {
    std::string name;    // the experiment's "name"
    std::string digest;  // include/tcpsim/experiment_digest.hpp
    ExperimentSummary summary;
    ToleranceFacts facts;
};

// Throws ScenarioError naming the file and the JSON pointer for a malformed experiment, or one
// with a field the simulator cannot model.
ExperimentRun run_experiment(const std::string& path, const std::string& profile, std::uint64_t seed);

// A stored kernel result (tcpsim-kernel's JSON output).
struct KernelResult {
    std::string experiment;  // the name it was measured for
    std::string digest;      // of the experiment it was measured for
    std::string kernel = "?";
    std::optional<std::int64_t> hz;  // harness.hz, when the result records it
    ExperimentSummary summary;
};
KernelResult read_kernel_result(const std::string& path);

// Throws ScenarioError naming both when the result was measured for another experiment (its
// name or its digest differs from the experiment's).
void check_same_experiment(const ExperimentRun& run, const std::string& experiment_path, const KernelResult& k,
                           const std::string& result_path);

// The comparison, one row per figure: identical counts, errnos and failing calls, first failure
// and recovery within `tolerance_ms`, all from sims.front() (the run of the chosen seed); each
// peak state count within the range of sims (runs of other seeds): a peak that differs between
// seeds depends on the random choice of ports (which ports a server's TIME-WAITs or tcp_tw_reuse
// see again), one that does not must be equal.
struct ComparisonRow {
    std::string figure, kernel, tcpsim;
    bool agrees;
};
std::vector<ComparisonRow> compare_summaries(const ExperimentSummary& kernel, const std::vector<ExperimentSummary>& sims,
                                             std::int64_t tolerance_ms);

// `tcpsim experiment PATH [--compare RESULT]`: the text to print, and whether every figure agrees
// (always true without a result). A comparison runs the seeds seed .. seed+63 for the peaks' ranges,
// and more (up to 1024) while a kernel peak lies outside a range that varies.
struct ExperimentReport {
    std::string text;
    bool agrees = true;
};
// `progress`: a bar on stderr over the runs (--compare runs 64 seeds or more for the peaks).
ExperimentReport experiment_report(const std::string& path, const std::string& profile, std::uint64_t seed,
                                   const std::string& compare_path, bool progress = false);

}  // namespace tcpsim
