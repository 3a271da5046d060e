// The command line's pieces shared by every subcommand (cli/main.cpp wires them): a subcommand
// is a Command that adds its options to CLI11, names its outputs, and runs once parsed. Exit
// codes: 0 ok, 1 a scenario or output error, 2 a usage error (DESIGN.md §7).
#pragma once

#include "scenario/overrides.hpp"
#include "scenario/scenario.hpp"
#include "teach/trace.hpp"

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tcpsim::cli {

// Outputs a subcommand may write: "" for -o is standard output; the others are written only
// when named. Every output is computed before any is written (cli/output.hpp).
struct Outputs {
    std::string out, json, csv, html, pcap, svg;
    // The named ones, for the check that no two name one file (before any run).
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> named() const;
};

// --set, --slo and --seed: what every run of a scenario carries.
struct RunArgs {
    std::vector<std::string> sets, slos;
    std::uint64_t seed = 0;
    bool seed_given = false;
    // The overrides in the order they apply: --set, then --slo, then --seed (the last word on /seed).
    [[nodiscard]] std::vector<Override> overrides() const;
};
// --set and --seed, and --slo unless the subcommand judges no objectives (trace, diagram).
void add_run_args(CLI::App* c, RunArgs& a, bool slo = true);

// -q and --progress: the bar is drawn on a terminal, or anywhere with --progress; never with -q.
struct ProgressArgs {
    bool quiet = false, force = false;
    [[nodiscard]] bool wanted() const;
};
void add_progress_args(CLI::App* c, ProgressArgs& a);

class Command {
public:
    virtual ~Command() = default;
    [[nodiscard]] virtual CLI::App* app() const = 0;
    // Checks that need the parsed options (throws UsageError), before anything runs.
    virtual void check() {}
    [[nodiscard]] virtual const Outputs& outputs() const = 0;
    // Runs the subcommand; returns the exit code. Throws ScenarioError, UsageError, OutputError.
    virtual int execute() = 0;
    // run and trace stop between events on Ctrl-C and write nothing.
    [[nodiscard]] virtual bool interruptible() const { return false; }
};

// One per subcommand, each in its own file (cli/cmd_*.cpp).
std::unique_ptr<Command> make_run(CLI::App& app);
std::unique_ptr<Command> make_trace(CLI::App& app);
std::unique_ptr<Command> make_diagram(CLI::App& app);
std::unique_ptr<Command> make_pkt(CLI::App& app);
std::unique_ptr<Command> make_experiment(CLI::App& app);
std::unique_ptr<Command> make_sweep(CLI::App& app);
std::unique_ptr<Command> make_merge(CLI::App& app);
std::unique_ptr<Command> make_capacity(CLI::App& app);
std::unique_ptr<Command> make_remedies(CLI::App& app);
std::unique_ptr<Command> make_profiles(CLI::App& app);
std::unique_ptr<Command> make_bench(CLI::App& app);

// The help texts shared by the subcommands that take them.
extern const char* const kSetHelp;
extern const char* const kSloHelp;
extern const char* const kSeedHelp;

// The header of a scenario's ladder (trace, its SVG).
TraceHeader header_of(const Scenario& sc);

// A what-if tool's outputs (sweep, merge, capacity, remedies): the table as text on -o, with
// --json, --csv and --html beside it, all written or none.
void write_table_outputs(const Outputs& o, const std::string& tool, const std::string& title, const std::string& text,
                         const std::string& json, const std::string& csv);

}  // namespace tcpsim::cli
