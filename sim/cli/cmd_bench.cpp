// tcpsim bench: the fixed benchmark workloads, their speed and memory (cli/bench.hpp).
#include "base/did_you_mean.hpp"
#include "cli/bench.hpp"
#include "cli/command.hpp"
#include "cli/output.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace tcpsim::cli {
namespace {

class BenchCommand final : public Command {
public:
    explicit BenchCommand(CLI::App& app)
        : c_(app.add_subcommand("bench", "Run the fixed benchmark workloads and print their speed and memory")) {
        c_->add_option("-w,--workload", names_,
                       "Workloads to run (repeatable or comma list): churn, exhaust, nat, scale-1e4 .. scale-1e7 (default: all)")
            ->delimiter(',');
        c_->add_option("--scale", scale_, "Multiply every workload's connection count by this")->check(CLI::PositiveNumber);
        c_->add_flag("--tiny", tiny_, "A run of a second or two (--scale 0.001), for CI");
        c_->add_flag("--json", json_, "Print the figures as JSON");
        c_->add_flag("--no-fork", no_fork_, "Run every workload in this process (peak memory is then the largest so far)");
        c_->add_option("--cpu", cpu_, "Run on this CPU only (as taskset -c N): compare figures on one CPU");
        c_->add_option("--repeat", repeat_, "Run each workload N times; show the median run and the lowest and highest rate")
            ->check(CLI::Range(1, 1000));
        c_->add_option("-o,--output", o_.out, "Write to FILE (atomically) instead of stdout");
        add_progress_args(c_, progress_);
    }
    [[nodiscard]] CLI::App* app() const override { return c_; }
    [[nodiscard]] const Outputs& outputs() const override { return o_; }

    int execute() override {
        const std::vector<BenchWorkload> chosen = chosen_workloads();
        if (c_->count("--cpu") > 0) {
            if (const std::string e = pin_to_cpu(cpu_); !e.empty()) throw UsageError(fmt::format("bench --cpu {}: {}", cpu_, e));
        }
        const std::vector<BenchResult> rs = run_bench(chosen, !no_fork_, repeat_, progress_.wanted());
        write_output(o_.out, json_ ? format_bench_json(rs) : format_bench_table(rs));
        for (const BenchResult& r : rs)
            if (!r.ok) return 1;
        return 0;
    }

private:
    // The workloads named with -w (all without one); an unknown name is a usage error.
    std::vector<BenchWorkload> chosen_workloads() const {
        const std::vector<BenchWorkload> all = bench_workloads(tiny_ ? 0.001 : scale_);
        if (names_.empty()) return all;
        std::vector<std::string> known;
        for (const BenchWorkload& w : all) known.push_back(w.name);
        std::vector<BenchWorkload> chosen;
        for (const std::string& n : names_) {
            auto it = std::find_if(all.begin(), all.end(), [&](const BenchWorkload& w) { return w.name == n; });
            if (it == all.end())
                throw UsageError(fmt::format("bench -w: no workload \"{}\"{} (known: {})", n, did_you_mean(n, known), comma_list(known)));
            chosen.push_back(*it);
        }
        return chosen;
    }

    CLI::App* c_;
    std::vector<std::string> names_;
    bool tiny_ = false, no_fork_ = false, json_ = false;
    double scale_ = 1.0;
    int cpu_ = -1;
    int repeat_ = 1;
    Outputs o_;
    ProgressArgs progress_;
};

}  // namespace

std::unique_ptr<Command> make_bench(CLI::App& app) { return std::make_unique<BenchCommand>(app); }

}  // namespace tcpsim::cli
