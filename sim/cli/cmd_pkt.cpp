// tcpsim pkt: runs packetdrill scripts (files, or folders searched for *.pkt in sorted order)
// against a simulated host, prints packetdrill-like failures and one summary line. A file that
// is not packetdrill is an ERROR (also on stderr, as every bad input is) and counts as failed:
// the closing line keeps its `N passed, N failed, N skipped` shape, and "0 failed" still means
// all is well.
#include "cli/command.hpp"
#include "cli/output.hpp"
#include "pkt/runner.hpp"
#include "scenario/profiles.hpp"
#include "teach/pcap.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

namespace tcpsim::cli {
namespace {

struct PktTotals {
    int passed = 0, failed = 0, skipped = 0;  // failed includes errors
    int errors = 0;
};

// The scripts named: files as given, folders searched for *.pkt in sorted order.
std::vector<std::string> script_files(const std::vector<std::string>& inputs) {
    std::vector<std::string> files;
    for (const std::string& in : inputs) {
        std::error_code ec;
        if (!std::filesystem::exists(in, ec))
            throw ScenarioError(fmt::format("{}: cannot read: {}", in, ec ? ec.message() : std::strerror(ENOENT)));
        if (!std::filesystem::is_directory(in)) {
            files.push_back(in);
            continue;
        }
        std::vector<std::string> found;
        for (const auto& e : std::filesystem::recursive_directory_iterator(in))
            if (e.is_regular_file() && e.path().extension() == ".pkt") found.push_back(e.path().string());
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

// One script's line of the text report (none for a pass unless verbose), counted in `t`.
std::string result_line(const std::string& f, const pkt::ScriptResult& r, bool verbose, PktTotals& t) {
    switch (r.verdict) {
        case pkt::Verdict::Passed: ++t.passed; return verbose ? fmt::format("PASS {}\n", f) : "";
        case pkt::Verdict::Skipped: ++t.skipped; return fmt::format("SKIP {}:{}: {}\n", f, r.lineno, r.reason);
        case pkt::Verdict::Failed:
            ++t.failed;
            return fmt::format("FAIL {}:{}: {}\n  line:     {}\n  expected: {}\n  actual:   {}\n", f, r.lineno, r.reason, r.line,
                               r.expected, r.actual);
        case pkt::Verdict::Error: {
            ++t.failed;
            ++t.errors;
            const std::string where = r.lineno > 0 ? fmt::format("{}:{}", f, r.lineno) : f;
            std::fprintf(stderr, "tcpsim: error: %s: %s\n", where.c_str(), r.reason.c_str());
            return fmt::format("ERROR {}: {}\n", where, r.reason);
        }
    }
    return "";
}

nlohmann::ordered_json result_row(const std::string& f, const pkt::ScriptResult& r) {
    nlohmann::ordered_json row;
    row["script"] = f;
    row["result"] = std::string(pkt::to_string(r.verdict));
    if (r.verdict != pkt::Verdict::Passed) {
        row["line"] = r.lineno;  // 0: the file as a whole
        row["reason"] = r.reason;
    }
    if (r.verdict == pkt::Verdict::Failed) {
        row["expected"] = r.expected;
        row["actual"] = r.actual;
    }
    return row;
}

class PktCommand final : public Command {
public:
    explicit PktCommand(CLI::App& app) : c_(app.add_subcommand("pkt", "Run packetdrill scripts against a simulated host")) {
        c_->add_option("--profile", profile_, "OS profile of the system under test")->capture_default_str();
        // One symbol per -D (repeatable: -D A -D B, or -DA): a vector option would otherwise take
        // every following word, scripts included.
        c_->add_option("-D", defines_, "Define a preprocessor symbol (#ifdef SYMBOL); one per -D, repeatable")
            ->allow_extra_args(false);
        c_->add_flag("--json", json_, "Print a per-script table as JSON");
        c_->add_flag("-v,--verbose", verbose_, "Also list passed scripts");
        c_->add_flag("--require-all", require_all_, "Exit non-zero when any script is skipped, too");
        c_->add_option("--min-pass-rate", min_pass_rate_, "Exit non-zero when fewer than this percentage of scripts pass")
            ->check(CLI::Range(0.0, 100.0));
        c_->add_option("scripts", scripts_, "Scripts (.pkt) or folders to search for them")->required();
        c_->add_option("-o,--output", o_.out, "Write to FILE (atomically) instead of stdout");
        c_->add_option("--pcap", o_.pcap, "Write the script run's segments as a pcap capture to FILE (one script)");
        c_->add_flag("--trace", trace_, "Print the ladder diagram of the script run before the result (one script)");
        c_->add_option("--svg", o_.svg, "Draw the ladder of the script run as an SVG sequence chart to FILE (one script)");
    }
    [[nodiscard]] CLI::App* app() const override { return c_; }
    [[nodiscard]] const Outputs& outputs() const override { return o_; }

    int execute() override {
        const bool keep = trace_ || !o_.pcap.empty() || !o_.svg.empty();
        if (keep && (scripts_.size() != 1 || std::filesystem::is_directory(scripts_[0])))
            throw UsageError("pkt: --trace, --svg and --pcap show one script run: name one script file (see --help)");
        if (trace_ && json_) throw UsageError("pkt: --trace prints a ladder, --json a table: give one of them (see --help)");
        std::vector<TraceRecord> recs;
        PktTotals t;
        std::string text = run_scripts(keep ? &recs : nullptr, t);
        if (trace_) text = format_ladder(pkt::script_trace_header(scripts_[0], profile_), recs) + "\n" + text;
        std::vector<std::pair<std::string, std::string>> files;
        if (!o_.pcap.empty()) files.emplace_back(o_.pcap, pcap_of_records(recs));
        if (!o_.svg.empty()) files.emplace_back(o_.svg, format_ladder_svg(pkt::script_trace_header(scripts_[0], profile_), recs));
        files.emplace_back(o_.out, text);
        write_outputs(files);
        return verdict(t);
    }

private:
    std::string run_scripts(std::vector<TraceRecord>* trace, PktTotals& t) const {
        const std::vector<std::string> files = script_files(scripts_);
        pkt::RunOptions opt;
        opt.profile = profile_;
        opt.defines = std::set<std::string>(defines_.begin(), defines_.end());
        opt.trace = trace;
        load_profile(profile_);  // a bad name is a usage problem reported before any script runs
        std::string out;
        nlohmann::ordered_json table = nlohmann::ordered_json::array();
        for (const std::string& f : files) {
            const pkt::ScriptResult r = pkt::run_script(f, opt);
            out += result_line(f, r, verbose_, t);
            table.push_back(result_row(f, r));
        }
        if (!json_) return out + fmt::format("{} passed, {} failed, {} skipped\n", t.passed, t.failed, t.skipped);
        nlohmann::ordered_json doc;
        doc["profile"] = profile_;
        doc["defines"] = defines_;
        doc["passed"] = t.passed;
        doc["failed"] = t.failed;
        doc["skipped"] = t.skipped;
        doc["errors"] = t.errors;  // of the failed, the files that are not packetdrill
        doc["scripts"] = table;
        // A script's reason quotes its line, which may hold any bytes: invalid UTF-8 is replaced.
        return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    }

    int verdict(const PktTotals& t) const {
        const int total = t.passed + t.failed + t.skipped;
        if (total == 0) {
            std::fprintf(stderr, "tcpsim: error: no .pkt scripts found\n");
            return 1;
        }
        if (100.0 * t.passed < min_pass_rate_ * total) {
            std::fprintf(stderr, "tcpsim: %d of %d scripts passed (%.1f%%), below --min-pass-rate %.1f\n", t.passed, total,
                         100.0 * t.passed / total, min_pass_rate_);
            return 1;
        }
        return t.failed == 0 && (!require_all_ || t.skipped == 0) ? 0 : 1;
    }

    CLI::App* c_;
    std::string profile_ = "linux";
    std::vector<std::string> defines_, scripts_;
    bool json_ = false, verbose_ = false, require_all_ = false, trace_ = false;
    double min_pass_rate_ = 0.0;
    Outputs o_;
};

}  // namespace

std::unique_ptr<Command> make_pkt(CLI::App& app) { return std::make_unique<PktCommand>(app); }

}  // namespace tcpsim::cli
