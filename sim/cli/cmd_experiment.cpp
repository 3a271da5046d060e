// tcpsim experiment: a live-kernel experiment's schedule run in the simulator, compared with a
// stored kernel result when one is given.
#include "cli/command.hpp"
#include "cli/output.hpp"
#include "experiment/experiment.hpp"

namespace tcpsim::cli {
namespace {

class ExperimentCommand final : public Command {
public:
    explicit ExperimentCommand(CLI::App& app)
        : c_(app.add_subcommand("experiment", "Run a live-kernel experiment's schedule in the simulator")) {
        c_->add_option("experiment", path_, "Experiment file (tools/kernel/experiments/*.json)")->required();
        c_->add_option("--profile", profile_, "OS profile of both hosts")->capture_default_str();
        c_->add_option("--seed", seed_, "Seed of the run")->capture_default_str();
        c_->add_option("--compare", compare_,
                       "A stored kernel result of this experiment (name and digest checked): print both and exit 1 if they disagree");
        add_progress_args(c_, progress_);
    }
    [[nodiscard]] CLI::App* app() const override { return c_; }
    [[nodiscard]] const Outputs& outputs() const override { return o_; }

    int execute() override {
        const ExperimentReport r = experiment_report(path_, profile_, seed_, compare_, progress_.wanted());
        write_output(o_.out, r.text);
        return r.agrees ? 0 : 1;
    }

private:
    CLI::App* c_;
    std::string path_, profile_ = "linux", compare_;
    std::uint64_t seed_ = 1;
    Outputs o_;
    ProgressArgs progress_;
};

}  // namespace

std::unique_ptr<Command> make_experiment(CLI::App& app) { return std::make_unique<ExperimentCommand>(app); }

}  // namespace tcpsim::cli
