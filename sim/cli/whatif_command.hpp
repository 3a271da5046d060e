// What the what-if subcommands share (sweep, merge, capacity, remedies): --set, --slo, --seed,
// -j, -q, and the table's outputs (-o, --json, --csv, --html). Every run is `tcpsim run` with
// --set values; outputs are the same bytes for the same scenario, seed and options, whatever the
// number of threads.
#pragma once

#include "cli/command.hpp"

namespace tcpsim::cli {

class WhatIfCommand : public Command {
public:
    [[nodiscard]] CLI::App* app() const override { return c_; }
    [[nodiscard]] const Outputs& outputs() const override { return o_; }
    void check() override { (void)runs_.overrides(); }

protected:
    explicit WhatIfCommand(CLI::App* c) : c_(c) {}
    void add_runs() {
        add_run_args(c_, runs_);
        c_->add_option("-j,--jobs", jobs_, "Runs at once (default: one per core)");
        c_->add_flag("-q,--quiet", quiet_, "No progress bar on stderr");
    }
    void add_outputs() {
        c_->add_option("-o,--output", o_.out, "Write the table to FILE (atomically) instead of stdout");
        c_->add_option("--json", o_.json, "Also write it as JSON to FILE");
        c_->add_option("--csv", o_.csv, "Also write it as CSV to FILE");
        c_->add_option("--html", o_.html, "Also write a self-contained HTML page with charts to FILE (works offline)");
    }

    CLI::App* c_;
    std::string scenario_;
    Outputs o_;
    RunArgs runs_;
    unsigned jobs_ = 0;
    bool quiet_ = false;
};

}  // namespace tcpsim::cli
