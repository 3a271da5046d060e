// tcpsim remedies: the scenario run with each classic remedy; a table with their hazards.
#include "cli/whatif_command.hpp"
#include "whatif/remedies.hpp"

namespace tcpsim::cli {
namespace {

class RemediesCommand final : public WhatIfCommand {
public:
    explicit RemediesCommand(CLI::App& app)
        : WhatIfCommand(app.add_subcommand("remedies", "Run the scenario with each classic remedy, where it fails or degrades; a table with their hazards")) {
        c_->add_option("scenario", scenario_, "Scenario file (JSON)")->required();
        add_runs();
        add_outputs();
    }

    int execute() override {
        const RemedyTable r = run_remedies(read_scenario_text(scenario_), scenario_, runs_.overrides(), worker_count(jobs_),
                                           !quiet_ && stderr_is_terminal());
        write_table_outputs(o_, "remedies", "tcpsim remedies: " + scenario_, remedies_text(r), remedies_json(r), remedies_csv(r));
        return 0;
    }
};

}  // namespace

std::unique_ptr<Command> make_remedies(CLI::App& app) { return std::make_unique<RemediesCommand>(app); }

}  // namespace tcpsim::cli
