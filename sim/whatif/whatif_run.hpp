// What the what-if tools (sweep, capacity, remedies) take from one forecast run, and how they
// run many: each run is the scenario file with a list of --set overrides, forecast by the same
// code as `tcpsim run`, so a row of a table is exactly what `tcpsim run FILE --set ...` reports.
// Runs are independent; they go to a pool of threads and their results come back in input
// order, so the output does not depend on the number of threads or their timing.
#pragma once

#include "scenario/overrides.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tcpsim {

class Reader;

struct Outcome {
    std::optional<double> first_failure_s;  // the first failure of any kind
    std::string first_errno, first_host, first_why;
    std::uint64_t attempted = 0, succeeded = 0, failed = 0;
    std::map<std::string, std::uint64_t> failures_by_errno;
    double offered = 0, sustained = 0;      // steady state, per second
    std::optional<double> analytic;         // the back-of-the-envelope ceiling
    std::string analytic_basis;
    std::optional<int> analytic_workload;   // the index of the client workload the ceiling limits
    nlohmann::json time_wait_hold;          // the forecast's "time_wait_hold" (null when none)
    double simulated_s = 0;
    // The first breach of an objective (the scenario's slo, or the default judge).
    std::optional<double> first_breach_s;
    std::string breach_objective, breach_host, breach_why;
    std::uint64_t unfinished = 0;           // work left at the end (opening, awaiting, retrying, never sent)
    std::optional<double> connect_p99_ms;   // over the whole run

    // "28.232 s EADDRNOTAVAIL on client", or "none"
    [[nodiscard]] std::string first_failure_text() const;
    // "52.000 s syn_retransmitted on clients", or "none"
    [[nodiscard]] std::string first_breach_text() const;
    [[nodiscard]] std::string p99_text() const;  // "1.000", or "-" without a connect
    // Met every objective and failed nothing (the capacity tools' test of a probe).
    [[nodiscard]] bool ok() const { return !first_failure_s && !first_breach_s; }
    [[nodiscard]] nlohmann::ordered_json to_json() const;
    // The inverse of to_json (merge reads shards): j is at `ptr` of r's file; a field missing or
    // of the wrong kind throws ScenarioError with its JSON pointer.
    static Outcome from_json(const nlohmann::json& j, const Reader& r, const std::string& ptr);
    bool operator==(const Outcome&) const = default;
};

// The head every what-if tool's JSON starts with: tool, scenario, seed, overrides (as typed).
nlohmann::ordered_json tool_json_head(const char* tool, const std::string& file, std::uint64_t seed,
                                      const std::vector<Override>& sets);

// Reads the rows' figures out of a forecast's JSON document.
Outcome outcome_of(const nlohmann::ordered_json& forecast);

// The scenario text with `sets` applied, forecast; ScenarioError names the file and overrides.
Outcome run_outcome(const std::string& text, const std::string& file, const std::vector<Override>& sets);

// How many threads to use: --jobs N, or 0 for every core (at least 1).
unsigned worker_count(unsigned requested);

// Runs job(0..n-1) on `threads` threads; returns the results in index order. The first
// exception by index (not by time) is rethrown after every job has finished. `progress`, if
// given, is called (under a lock) after each job with the number done.
template <class R>
std::vector<R> run_all(std::size_t n, unsigned threads, const std::function<R(std::size_t)>& job,
                       const std::function<void(std::size_t)>& progress = {});

// A progress bar on stderr ("sweep  12/40 [=======        ]"), drawn only when stderr is a
// terminal, so logs and tests see nothing.
class ProgressBar {
public:
    ProgressBar(std::string label, std::size_t total, bool enabled);
    void update(std::size_t done);
    void finish();

private:
    std::string label_;
    std::size_t total_;
    bool on_;
};

bool stderr_is_terminal();

}  // namespace tcpsim

#include "whatif/whatif_run_impl.hpp"
