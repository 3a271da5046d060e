// tcpsim command line: one Command per subcommand (cli/cmd_*.cpp), parsed with CLI11, run, and
// every error turned into a message and an exit code: 0 ok, 1 a scenario or output error, 2 a
// usage error, 130 interrupted (DESIGN.md §7).
#include "base/did_you_mean.hpp"
#include "cli/command.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace {

using namespace tcpsim;
using namespace tcpsim::cli;

// The subcommand chosen on the command line ("" before parsing or without one).
std::string chosen_name(const CLI::App& app) {
    std::string sub;
    for (const CLI::App* s : app.get_subcommands()) sub = s->get_name();
    return sub;
}

// Every command-line error: "tcpsim: error: SUBCOMMAND: what (naming the option)", then where the
// options are listed.
std::string usage_failure(const CLI::App* app, const CLI::Error& e) {
    const std::string sub = chosen_name(*app);
    return fmt::format("tcpsim: error: {}{}\nRun 'tcpsim{}{} --help' for the options.\n", sub.empty() ? "" : sub + ": ", e.what(),
                       sub.empty() ? "" : " ", sub);
}

// A usage error found after parsing: "tcpsim: error: WHAT", then where the options are listed.
int usage_error(const CLI::App& app, const std::string& what) {
    const std::string sub = chosen_name(app);
    std::fprintf(stderr, "tcpsim: error: %s\nRun 'tcpsim%s%s --help' for the options.\n", what.c_str(), sub.empty() ? "" : " ",
                 sub.c_str());
    return 2;
}

// A first argument that is no subcommand: "did you mean" the nearest one. Empty when it is one.
std::string unknown_subcommand(const CLI::App& app, const std::string& word) {
    std::vector<std::string> names;
    for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(s->get_name());
    for (const std::string& n : names)
        if (n == word) return "";
    return fmt::format("tcpsim: error: unknown command \"{}\"{} (commands: {})\nRun 'tcpsim --help' for the commands.\n", word,
                       did_you_mean(word, names), comma_list(names));
}

// Parses the command line; nullopt to go on, else the exit code (help, version, a usage error).
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
    app.failure_message(usage_failure);
    if (argc > 1 && argv[1][0] != '-') {
        if (const std::string unknown = unknown_subcommand(app, argv[1]); !unknown.empty()) {
            std::fputs(unknown.c_str(), stderr);
            return 2;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    }
    return std::nullopt;
}

// Runs the chosen command; every error becomes a message on stderr and an exit code.
int execute(const CLI::App& app, Command& cmd) {
    try {
        cmd.check();
        // Two outputs naming one file (or both standard output) are refused before any run.
        check_distinct_outputs(cmd.outputs().named());
    } catch (const UsageError& e) {
        return usage_error(app, e.what());
    }
    // run and trace stop between events on Ctrl-C and write nothing (the other subcommands keep the
    // default action: they have written nothing either until they end).
    if (cmd.interruptible()) install_interrupt_handlers();
    try {
        return cmd.execute();
    } catch (const Interrupted& e) {
        std::fprintf(stderr, "\ntcpsim: %s\n", e.what());
        return 130;
    } catch (const UsageError& e) {
        return usage_error(app, e.what());
    } catch (const std::exception& e) {
        // ScenarioError, OutputError, and anything unexpected: reported, never a crash.
        std::fprintf(stderr, "tcpsim: error: %s\n", e.what());
        return 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"tcpsim: a deterministic TCP state-machine simulator"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "tcpsim 0.1.0");
    std::vector<std::unique_ptr<Command>> commands;
    for (auto make : {make_run, make_trace, make_diagram, make_pkt, make_experiment, make_sweep, make_merge, make_capacity,
                      make_remedies, make_profiles, make_bench})
        commands.push_back(make(app));
    if (const std::optional<int> code = parse(app, argc, argv)) return *code;
    for (const auto& cmd : commands)
        if (*cmd->app()) return execute(app, *cmd);
    return 2;  // require_subcommand(1) makes this unreachable
}
