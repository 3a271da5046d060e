// Live-kernel experiments (tools/kernel/experiments/*.json) run in the simulator: the same
// schedule of connects on a client and a server host with the `linux` profile and the
// experiment's sysctls, summarised like the kernel harness summarises its run, so the two can be
// compared figure by figure (tools/kernel/results/*.json hold the kernel's figures).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tcpsim {

struct ExperimentSummary {
    std::uint64_t succeeded = 0;
    std::uint64_t failed = 0;
    std::map<std::string, std::uint64_t> failures_by_errno;
    std::optional<std::int64_t> first_failure_ms;
    std::optional<std::int64_t> first_recovery_ms;
    std::uint64_t max_client_time_wait = 0;
};

// Throws ScenarioError for a malformed or unsupported experiment (e.g. loopback ones).
ExperimentSummary run_experiment(const std::string& path, const std::string& profile, std::uint64_t seed);

// Reads the "summary" of a stored kernel result.
ExperimentSummary read_kernel_summary(const std::string& path, std::string& kernel_version);

// The comparison the issue asks for: identical counts and errnos; first failure and recovery
// within `tolerance_ms` (the timer-wheel granularity). Returns the table rows and whether all agree.
struct ComparisonRow {
    std::string figure, kernel, tcpsim;
    bool agrees;
};
std::vector<ComparisonRow> compare_summaries(const ExperimentSummary& kernel, const ExperimentSummary& sim,
                                             std::int64_t tolerance_ms);

}  // namespace tcpsim
