// tcpsim trace: the ladder diagram of a scenario's scripted actions (text, JSON, SVG, pcap).
#include "cli/command.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "teach/pcap.hpp"
#include "world/world.hpp"

#include <cstdio>

namespace tcpsim::cli {
namespace {

class TraceCommand final : public Command {
public:
    explicit TraceCommand(CLI::App& app) : c_(app.add_subcommand("trace", "Print a ladder diagram of a two-host scenario")) {
        c_->add_option("scenario", scenario_, "Scenario file (JSON)")->required();
        c_->add_flag("--json", json_, "Print the events as JSON instead of a ladder");
        c_->add_option("-o,--output", o_.out, "Write to FILE (atomically) instead of stdout");
        c_->add_option("--pcap", o_.pcap, "Also write the segments as a pcap capture to FILE (Wireshark)");
        c_->add_option("--svg", o_.svg, "Also draw the ladder as an SVG sequence chart to FILE (every host a lifeline)");
        add_run_args(c_, runs_, false);
        add_progress_args(c_, progress_);
    }
    [[nodiscard]] CLI::App* app() const override { return c_; }
    [[nodiscard]] const Outputs& outputs() const override { return o_; }
    [[nodiscard]] bool interruptible() const override { return true; }
    void check() override { (void)runs_.overrides(); }

    int execute() override {
        const Scenario sc = load_scenario(scenario_, runs_.overrides());
        // A trace shows the scenario's scripted actions; workloads (clients, servers) are the
        // forecast's: a scenario with only those would print an empty ladder.
        if (sc.actions.empty()) {
            std::fprintf(stderr,
                         "tcpsim: error: %s: /actions: nothing to trace: a trace shows a scenario's scripted actions, and "
                         "this one has none (its traffic comes from workloads). Forecast it with tcpsim run, and see its "
                         "segments with tcpsim run %s --pcap FILE --pcap-filter to=1s\n",
                         sc.file.c_str(), sc.file.c_str());
            return 1;
        }
        if (sc.hosts.size() < 2) {
            std::fprintf(stderr, "tcpsim: error: %s: /hosts: a trace shows two hosts or more; this scenario has %zu\n",
                         sc.file.c_str(), sc.hosts.size());
            return 1;
        }
        World w(sc, true);
        RunProgress bar("trace", sc.duration, progress_.wanted());
        w.set_progress([&](SimTime t) { bar.tick(t, 0); });
        w.run();
        bar.finish();
        std::vector<std::pair<std::string, std::string>> files;
        if (!o_.pcap.empty()) files.emplace_back(o_.pcap, pcap_of_records(w.records()));
        if (!o_.svg.empty()) files.emplace_back(o_.svg, format_ladder_svg(header_of(sc), w.records()));
        files.emplace_back(o_.out, json_ ? format_trace_json(header_of(sc), w.records()) : format_ladder(header_of(sc), w.records()));
        write_outputs(files);
        return 0;
    }

private:
    CLI::App* c_;
    std::string scenario_;
    bool json_ = false;
    Outputs o_;
    RunArgs runs_;
    ProgressArgs progress_;
};

}  // namespace

std::unique_ptr<Command> make_trace(CLI::App& app) { return std::make_unique<TraceCommand>(app); }

}  // namespace tcpsim::cli
