// `tcpsim capacity`: the highest offered rate that runs the scenario's whole duration without a
// failure, found by search over the rate(s) at the given pointers (scaled together, keeping their
// ratios), and the constraint that binds just above it: the first failure of the lowest failing
// rate, with what held the ports. Each probe is `tcpsim run` with the rates set and the run
// stopped at its first failure (a failing probe costs only the time to that failure).
//
// The search schedule is fixed (two probes per round, at the thirds of the bracket), whatever
// the number of threads, so the answer is the same bytes on any machine.
#pragma once

#include "scenario/overrides.hpp"
#include "whatif/whatif_run.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tcpsim {

struct CapacityOptions {
    std::vector<std::string> rate_pointers;  // empty: the only client workload's arrival rate
    std::string search_pointer;              // --search: any numeric value (or an array's length) instead of the rate
    double tolerance = 0.002;                 // stop when (fail - pass) / fail is below this
    unsigned threads = 1;
    bool progress = false;
};

struct CapacityProbe {
    double total = 0;  // the sum of the rates at the pointers
    bool ok = false;
    Outcome outcome;
};

struct CapacityResult {
    std::string file;
    std::string knob;                       // --search POINTER ("" : the offered rate)
    bool integer = false;                   // the knob takes whole values
    bool array = false;                     // the knob is an array's length (addresses added after the last)
    bool more_helps = false;                // a higher value meets the objectives (ports, processes, addresses)
    double base = 0;                        // the scenario's own value
    std::string judge;                      // "the default judge (...)" or "the slo: connect_p99 1s, ..."
    std::uint64_t seed = 1;
    double duration_s = 0;
    std::vector<Override> sets;
    std::vector<std::string> pointers;
    std::vector<double> weights;            // each pointer's share of the total
    std::optional<double> pass, fail;       // highest passing, lowest failing total
    std::optional<Outcome> at_pass, at_fail;
    std::vector<CapacityProbe> probes;      // in the order of the schedule
};

CapacityResult find_capacity(const std::string& text, const std::string& file, const std::vector<Override>& sets,
                             const CapacityOptions& opt);

std::string capacity_text(const CapacityResult& r);
std::string capacity_json(const CapacityResult& r);
std::string capacity_csv(const CapacityResult& r);  // the probes

}  // namespace tcpsim
