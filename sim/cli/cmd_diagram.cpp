// tcpsim diagram: the TCP state diagram as Graphviz DOT, the edges a run exercised marked.
#include "cli/command.hpp"
#include "cli/output.hpp"
#include "teach/diagram.hpp"
#include "world/world.hpp"

namespace tcpsim::cli {
namespace {

class DiagramCommand final : public Command {
public:
    explicit DiagramCommand(CLI::App& app) : c_(app.add_subcommand("diagram", "Write the TCP state diagram as Graphviz DOT")) {
        c_->add_option("--scenario", scenario_, "Mark the edges a run of this scenario exercised");
        c_->add_option("-o,--output", o_.out, "Write to FILE (atomically) instead of stdout");
        add_run_args(c_, runs_, false);
    }
    [[nodiscard]] CLI::App* app() const override { return c_; }
    [[nodiscard]] const Outputs& outputs() const override { return o_; }
    void check() override { (void)runs_.overrides(); }

    int execute() override {
        const StateGraph g = build_state_graph();
        if (scenario_.empty()) {
            write_output(o_.out, to_dot(g, nullptr));
            return 0;
        }
        const Scenario sc = load_scenario(scenario_, runs_.overrides());
        World w(sc, true);  // the records show the self-loops a run took
        w.run();
        const std::vector<std::uint64_t> loops = self_loop_hits(w.records());
        write_output(o_.out, to_dot(g, &w.rows_hit(), &loops));
        return 0;
    }

private:
    CLI::App* c_;
    std::string scenario_;
    Outputs o_;
    RunArgs runs_;
};

}  // namespace

std::unique_ptr<Command> make_diagram(CLI::App& app) { return std::make_unique<DiagramCommand>(app); }

}  // namespace tcpsim::cli
