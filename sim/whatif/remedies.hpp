// `tcpsim remedies`: the scenario run as is and with each classic remedy for TIME-WAIT port
// exhaustion applied, one row each: first failure, sustained rate, and the hazard the remedy
// brings. Every remedy is a list of --set overrides derived from the scenario (printed under the
// table), so any row can be re-run by hand with `tcpsim run FILE --set ...` and gives the same
// figures. The scenario as is runs first: each remedy acts only where it failed or degraded (a
// host's own ports, a NAT or balancer, a host that dropped SYNs: RemedyPlace). A remedy that does
// not apply (tw_recycle without a linux-4.9 host, a shorter TIME-WAIT on Linux, nothing to change
// at that place) gets a row saying why.
#pragma once

#include "scenario/overrides.hpp"
#include "whatif/whatif_run.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tcpsim {

struct Remedy {
    std::string name;             // "tcp_tw_reuse=1"
    std::vector<Override> sets;   // beyond the command line's own --set values
    std::string hazard_short;     // for the table
    std::string hazard;           // the long form, with its source
    std::string not_applicable;   // non-empty: why the remedy is not run
};

// Where the scenario as is failed or degraded (its first failure, its first breach's mechanism):
// a host whose own ports ran out ("opener"), a NAT or balancer ("middlebox"), a host that dropped
// the SYNs sent to it ("listener"). Remedies act there and only there.
struct RemedyPlace {
    std::string node, as;
    bool operator==(const RemedyPlace&) const = default;
};
// The places of a forecast's JSON document (first_failure, first_breach.where), in that order.
std::vector<RemedyPlace> places_of(const nlohmann::ordered_json& forecast);

// The remedies for a scenario (the first is "as is", without changes), each acting at `where`
// (empty: everywhere it can act).
std::vector<Remedy> plan_remedies(const std::string& text, const std::string& file, const std::vector<Override>& sets,
                                  const std::vector<RemedyPlace>& where);

struct RemedyRow {
    Remedy remedy;
    std::optional<Outcome> outcome;  // empty when not applicable or when the changed scenario is invalid
    std::string error;               // the scenario error of a remedy that could not be applied
};

struct RemedyTable {
    std::string file;
    std::uint64_t seed = 1;
    std::vector<Override> sets;
    std::vector<RemedyPlace> where;  // where row 0 failed or degraded
    std::vector<RemedyRow> rows;
};

RemedyTable run_remedies(const std::string& text, const std::string& file, const std::vector<Override>& sets, unsigned threads,
                         bool progress);

std::string remedies_text(const RemedyTable& t);
std::string remedies_json(const RemedyTable& t);
std::string remedies_csv(const RemedyTable& t);

}  // namespace tcpsim
