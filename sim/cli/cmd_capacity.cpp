// tcpsim capacity: the highest rate (or value of any numeric knob) that meets the objectives,
// and the constraint that binds it.
#include "cli/whatif_command.hpp"
#include "whatif/capacity.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tcpsim::cli {
namespace {

class CapacityCommand final : public WhatIfCommand {
public:
    explicit CapacityCommand(CLI::App& app)
        : WhatIfCommand(app.add_subcommand("capacity", "Find the highest rate that runs without a failure, and what binds it")) {
        c_->add_option("scenario", scenario_, "Scenario file (JSON)")->required();
        c_->add_option("--rate", rate_args_,
                       "Pointer of a rate to search (repeatable: scaled together); default: the one client's arrival rate");
        c_->add_option("--search", search_arg_,
                       "Pointer of any numeric value (or an array of addresses: its length) to search instead of the rate");
        c_->add_option("--tolerance", tolerance_, "Stop when the passing and failing rates are this many percent apart")
            ->check(CLI::Range(0.001, 50.0))
            ->capture_default_str();
        add_runs();
        add_outputs();
    }
    void check() override {
        WhatIfCommand::check();
        for (const std::string& a : rate_args_) (void)parse_override(a + "=0");  // a pointer
        if (!search_arg_.empty()) (void)parse_override(search_arg_ + "=0");
        if (!search_arg_.empty() && !rate_args_.empty()) throw UsageError("--search and --rate: search one thing at a time");
        // CLI::Range lets NaN through (every comparison with it is false).
        if (!std::isfinite(tolerance_)) throw UsageError(fmt::format("--tolerance: {} is not a number from 0.001 to 50", tolerance_));
    }

    int execute() override {
        const std::string src = read_scenario_text(scenario_);
        CapacityOptions opt;
        opt.rate_pointers = rate_args_;
        opt.search_pointer = search_arg_;
        opt.tolerance = tolerance_ / 100.0;
        opt.threads = worker_count(jobs_);
        opt.progress = !quiet_;
        const CapacityResult r = find_capacity(src, scenario_, runs_.overrides(), opt);
        write_table_outputs(o_, "capacity", "tcpsim capacity: " + scenario_, capacity_text(r), capacity_json(r), capacity_csv(r));
        return 0;
    }

private:
    std::vector<std::string> rate_args_;
    std::string search_arg_;
    double tolerance_ = 0.2;
};

}  // namespace

std::unique_ptr<Command> make_capacity(CLI::App& app) { return std::make_unique<CapacityCommand>(app); }

}  // namespace tcpsim::cli
