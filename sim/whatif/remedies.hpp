// `tcpsim remedies`: the scenario run as is and with each classic remedy for TIME-WAIT port
// exhaustion applied, one row each: first failure, sustained rate, and the hazard the remedy
// brings. Every remedy is a list of --set overrides derived from the scenario (printed under the
// table), so any row can be re-run by hand with `tcpsim run FILE --set ...` and gives the same
// figures. A remedy that does not apply (tw_recycle without a linux-4.9 host, a shorter
// TIME-WAIT on Linux) gets a row saying why.
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

// The remedies for a scenario (the first is "as is", without changes).
std::vector<Remedy> plan_remedies(const std::string& text, const std::string& file, const std::vector<Override>& sets);

struct RemedyRow {
    Remedy remedy;
    std::optional<Outcome> outcome;  // empty when not applicable or when the changed scenario is invalid
    std::string error;               // the scenario error of a remedy that could not be applied
};

struct RemedyTable {
    std::string file;
    std::uint64_t seed = 1;
    std::vector<Override> sets;
    std::vector<RemedyRow> rows;
};

RemedyTable run_remedies(const std::string& text, const std::string& file, const std::vector<Override>& sets, unsigned threads,
                         bool progress);

std::string remedies_text(const RemedyTable& t);
std::string remedies_json(const RemedyTable& t);
std::string remedies_csv(const RemedyTable& t);

}  // namespace tcpsim
