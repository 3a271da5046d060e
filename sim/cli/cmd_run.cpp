// tcpsim run: forecast a scenario (when, where and why ports run out or the service degrades),
// with its JSON, CSV, HTML report and capture beside the text.
#include "cli/command.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "forecast/forecast.hpp"
#include "forecast/html_report.hpp"
#include "forecast/run_size.hpp"
#include "teach/pcap.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <optional>

namespace tcpsim::cli {
namespace {

// Before a run: one line on stderr when it is estimated to take more than 10 minutes (unless
// -q); with --max-wall, a run estimated above it is refused (exit 1). nullopt: go ahead.
std::optional<int> check_run_size(const Scenario& sc, bool quiet, const std::string& max_wall) {
    const RunSize size = estimate_run_size(sc);
    double limit = 600;
    if (!max_wall.empty()) {
        Duration d;
        if (!parse_duration(max_wall, d) || d.count() <= 0)
            throw UsageError(fmt::format("run: --max-wall {}: expected a duration such as 10m or 1h (see --help)", max_wall));
        limit = static_cast<double>(d.count()) / 1e9;
    }
    const std::string warning = run_size_warning(sc, size, limit);
    if (warning.empty()) return std::nullopt;
    if (!max_wall.empty()) {
        std::fprintf(stderr, "%s\ntcpsim: error: the run is estimated above --max-wall %s: not started\n", warning.c_str(),
                     max_wall.c_str());
        return 1;
    }
    if (!quiet) std::fprintf(stderr, "%s\n", warning.c_str());
    return std::nullopt;
}

class RunCommand final : public Command {
public:
    explicit RunCommand(CLI::App& app) : c_(app.add_subcommand("run", "Run a scenario and forecast port exhaustion: when, where and why")) {
        c_->add_option("scenario", scenario_, "Scenario file (JSON)")->required();
        c_->add_option("-o,--output", o_.out, "Write the report to FILE (atomically) instead of stdout");
        c_->add_option("--json", o_.json, "Also write the forecast as JSON to FILE");
        c_->add_option("--csv", o_.csv, "Also write a time series (per report interval) as CSV to FILE");
        add_run_args(c_, runs_);
        add_progress_args(c_, progress_);
        c_->add_option("--max-wall", max_wall_,
                       "Refuse a run estimated to take longer than this wall time (10m, 1h): exit 1 before it starts");
        // Pictures and captures (issue #24).
        c_->add_option("--pcap", o_.pcap, "Also write the segments the run carried as a pcap capture to FILE (Wireshark)");
        c_->add_option("--pcap-filter", pcap_filter_,
                       "Capture only: host=NAME, tuple=A:P-B:P, from=TIME, to=TIME (comma-separated, all must hold)");
        c_->add_option("--html", o_.html, "Also write a self-contained HTML report with charts to FILE (works offline)");
        c_->add_option("--pcap-max", pcap_max_, "Stop capturing past this file size (100MB, 1GB, 500k)")->capture_default_str();
    }
    [[nodiscard]] CLI::App* app() const override { return c_; }
    [[nodiscard]] const Outputs& outputs() const override { return o_; }
    [[nodiscard]] bool interruptible() const override { return true; }
    void check() override { (void)runs_.overrides(); }

    int execute() override {
        const Scenario sc = load_scenario(scenario_, runs_.overrides());
        // Every output is computed before any is written, and written all or none: an error
        // leaves no file behind.
        if (!pcap_filter_.empty() && o_.pcap.empty())
            throw UsageError("run: --pcap-filter without --pcap: name the capture file (see --help)");
        std::uint64_t pcap_max = 0;
        if (!parse_byte_size(pcap_max_, pcap_max))
            throw UsageError(fmt::format("run: --pcap-max {}: expected a size such as 100MB or 1GB (see --help)", pcap_max_));
        const PcapFilter filter = pcap_filter_.empty() ? PcapFilter{} : parse_pcap_filter(pcap_filter_, sc);
        for (const std::string& warn : sc.warnings) std::fprintf(stderr, "tcpsim: warning: %s\n", warn.c_str());
        if (const std::optional<int> refused = check_run_size(sc, progress_.quiet, max_wall_)) return *refused;
        std::optional<PcapWriter> capture;
        std::optional<PcapTap> tap;
        if (!o_.pcap.empty()) {
            capture.emplace(pcap_max);
            tap.emplace(filter, *capture);
        }
        RunProgress bar("run", sc.duration, progress_.wanted());
        const ForecastRun fr = run_forecast(sc, [&](SimTime t, std::uint64_t n) { bar.tick(t, n); }, tap ? &*tap : nullptr);
        bar.finish();
        std::vector<std::pair<std::string, std::string>> files;
        if (capture) files.emplace_back(o_.pcap, finish_capture(*capture));
        if (!o_.json.empty()) files.emplace_back(o_.json, fr.json);
        if (!o_.csv.empty()) files.emplace_back(o_.csv, fr.csv);
        if (!o_.html.empty()) files.emplace_back(o_.html, html_report_run(sc, fr));
        files.emplace_back(o_.out, fr.text);
        write_outputs(files);
        return 0;
    }

private:
    std::string finish_capture(PcapWriter& capture) const {
        if (capture.full())
            std::fprintf(stderr,
                         "tcpsim: note: --pcap %s: capture stopped after %llu packets (%llu bytes): the next one would pass "
                         "--pcap-max %s (narrow it with --pcap-filter)\n",
                         o_.pcap.c_str(), static_cast<unsigned long long>(capture.packets()),
                         static_cast<unsigned long long>(capture.bytes()), pcap_max_.c_str());
        return capture.finish();
    }

    CLI::App* c_;
    std::string scenario_, max_wall_, pcap_filter_, pcap_max_ = kDefaultPcapMax;
    Outputs o_;
    RunArgs runs_;
    ProgressArgs progress_;
};

}  // namespace

std::unique_ptr<Command> make_run(CLI::App& app) { return std::make_unique<RunCommand>(app); }

}  // namespace tcpsim::cli
