// tcpsim sweep: the scenario run for every combination of values, one row each, optionally one
// shard of the rows on this machine.
#include "base/read_file.hpp"
#include "cli/whatif_command.hpp"
#include "whatif/sweep.hpp"

#include <cstdio>

namespace tcpsim::cli {
namespace {

class SweepCommand final : public WhatIfCommand {
public:
    explicit SweepCommand(CLI::App& app)
        : WhatIfCommand(app.add_subcommand("sweep", "Run a scenario for every combination of values; one row each")) {
        c_->add_option("scenario", scenario_, "Scenario file (JSON)")->required();
        c_->add_option("--vary", vary_args_, "POINTER=v1,v2,... (repeatable; the first is the outermost loop)")->required();
        c_->add_option("--shard", shard_arg_, "Run only shard I of N (I/N): rows I, I+N, I+2N, ...; join with tcpsim merge");
        add_runs();
        add_outputs();
    }
    void check() override {
        WhatIfCommand::check();
        for (const std::string& a : vary_args_) vary_.push_back(parse_vary(a));
        if (!shard_arg_.empty()) shard_ = parse_shard(shard_arg_);
    }

    int execute() override {
        const std::string src = read_scenario_text(scenario_);
        SweepSpec spec;
        spec.file = scenario_;
        spec.sets = runs_.overrides();
        spec.seed = parse_scenario(src, scenario_, spec.sets).seed;  // checks the file before any run
        spec.vary = vary_;
        if (shard_.count > spec.runs())
            std::fprintf(stderr, "tcpsim: note: --shard %zu/%zu of %zu runs: some shards have no rows\n", shard_.index, shard_.count,
                         spec.runs());
        const SweepTable t = run_sweep(src, spec, shard_, worker_count(jobs_), !quiet_ && stderr_is_terminal());
        write_table_outputs(o_, "sweep", "tcpsim sweep: " + scenario_, sweep_text(t), sweep_json(t), sweep_csv(t));
        return 0;
    }

private:
    std::vector<std::string> vary_args_;
    std::string shard_arg_;
    std::vector<Vary> vary_;
    Shard shard_;
};

// tcpsim merge: the --json outputs of sweep shards joined into the one-machine table.
class MergeCommand final : public WhatIfCommand {
public:
    explicit MergeCommand(CLI::App& app)
        : WhatIfCommand(app.add_subcommand("merge", "Join the --json outputs of sweep shards into the one-machine table")) {
        c_->add_option("shards", inputs_, "The shards' JSON files")->required();
        add_outputs();
    }

    int execute() override {
        std::vector<std::pair<std::string, std::string>> in;
        for (const std::string& f : inputs_) in.emplace_back(f, read_text_file(f));
        const SweepTable t = merge_shards(in);
        write_table_outputs(o_, "sweep", "tcpsim sweep: merged shards", sweep_text(t), sweep_json(t), sweep_csv(t));
        return 0;
    }

private:
    std::vector<std::string> inputs_;
};

}  // namespace

std::unique_ptr<Command> make_sweep(CLI::App& app) { return std::make_unique<SweepCommand>(app); }
std::unique_ptr<Command> make_merge(CLI::App& app) { return std::make_unique<MergeCommand>(app); }

}  // namespace tcpsim::cli
