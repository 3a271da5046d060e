// tcpsim command line. Exit codes: 0 ok, 1 scenario error, 2 usage error (DESIGN.md §7).
#include "cli/bench.hpp"
#include "whatif/capacity.hpp"
#include "teach/diagram.hpp"
#include "base/did_you_mean.hpp"
#include "experiment/experiment.hpp"
#include "forecast/forecast.hpp"
#include "forecast/html_report.hpp"
#include "pkt/runner.hpp"
#include "scenario/profiles.hpp"
#include "cli/progress.hpp"
#include "base/read_file.hpp"
#include "whatif/remedies.hpp"
#include "forecast/run_size.hpp"
#include "scenario/profiles_data.hpp"
#include "cli/output.hpp"
#include "teach/pcap.hpp"
#include "scenario/scenario.hpp"
#include "whatif/sweep.hpp"
#include "tcp/segment.hpp"
#include "teach/trace.hpp"
#include "world/world.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <iostream>
#include <map>
#include <optional>

namespace {

using namespace tcpsim;

TraceHeader header_of(const Scenario& sc) {
    TraceHeader h;
    h.scenario = sc.file;
    h.name = sc.name;
    h.description = sc.description;
    h.seed = sc.seed;
    for (std::size_t i = 0; i < 2; ++i) {
        if (i < sc.hosts.size()) {
            h.host_names[i] = sc.hosts[i].name;
            h.host_addrs[i] = tcp::format_ip(sc.hosts[i].ip);
        }
    }
    for (const HostSpec& hs : sc.hosts) h.all_hosts.emplace_back(hs.name, tcp::format_ip(hs.ip));
    return h;
}

// `tcpsim pkt`: runs scripts (files, or folders searched for *.pkt in sorted order), prints
// packetdrill-like failures and one summary line. A file that is not packetdrill is an ERROR
// (also on stderr, as every bad input is) and counts as failed: the closing line keeps its
// `N passed, N failed, N skipped` shape, and "0 failed" still means all is well.
struct PktTotals {
    int passed = 0, failed = 0, skipped = 0;  // failed includes errors
    int errors = 0;
};

std::string run_pkt(const std::vector<std::string>& inputs, const std::string& profile,
                    const std::vector<std::string>& defines, bool json, bool verbose, PktTotals& totals,
                    std::vector<TraceRecord>* trace = nullptr) {
    std::vector<std::string> files;
    for (const std::string& in : inputs) {
        std::error_code ec;
        if (!std::filesystem::exists(in, ec))
            throw ScenarioError(fmt::format("{}: cannot read: {}", in, ec ? ec.message() : std::strerror(ENOENT)));
        if (std::filesystem::is_directory(in)) {
            std::vector<std::string> found;
            for (const auto& e : std::filesystem::recursive_directory_iterator(in))
                if (e.is_regular_file() && e.path().extension() == ".pkt") found.push_back(e.path().string());
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else {
            files.push_back(in);
        }
    }
    pkt::RunOptions opt;
    opt.profile = profile;
    opt.defines = std::set<std::string>(defines.begin(), defines.end());
    opt.trace = trace;
    load_profile(profile);  // a bad name is a usage problem reported before any script runs
    int passed = 0, skipped = 0, failed = 0, errors = 0;
    std::string out;
    nlohmann::ordered_json table = nlohmann::ordered_json::array();
    for (const std::string& f : files) {
        const pkt::ScriptResult r = pkt::run_script(f, opt);
        switch (r.verdict) {
            case pkt::Verdict::Passed:
                ++passed;
                if (verbose) out += fmt::format("PASS {}\n", f);
                break;
            case pkt::Verdict::Skipped:
                ++skipped;
                out += fmt::format("SKIP {}:{}: {}\n", f, r.lineno, r.reason);
                break;
            case pkt::Verdict::Failed:
                ++failed;
                out += fmt::format("FAIL {}:{}: {}\n  line:     {}\n  expected: {}\n  actual:   {}\n", f, r.lineno,
                                   r.reason, r.line, r.expected, r.actual);
                break;
            case pkt::Verdict::Error: {
                ++failed;
                ++errors;
                const std::string where = r.lineno > 0 ? fmt::format("{}:{}", f, r.lineno) : f;
                out += fmt::format("ERROR {}: {}\n", where, r.reason);
                std::fprintf(stderr, "tcpsim: error: %s: %s\n", where.c_str(), r.reason.c_str());
                break;
            }
        }
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
        table.push_back(row);
    }
    if (json) {
        nlohmann::ordered_json doc;
        doc["profile"] = profile;
        doc["defines"] = defines;
        doc["passed"] = passed;
        doc["failed"] = failed;
        doc["skipped"] = skipped;
        doc["errors"] = errors;  // of the failed, the files that are not packetdrill
        doc["scripts"] = table;
        totals = {passed, failed, skipped, errors};
        // A script's reason quotes its line, which may hold any bytes: invalid UTF-8 is replaced.
        return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    }
    out += fmt::format("{} passed, {} failed, {} skipped\n", passed, failed, skipped);
    totals = {passed, failed, skipped, errors};
    return out;
}

std::string profiles_table() {
    std::string out = fmt::format("{:<15} {:>10} {:<12} {:<16} {:<9} {:<14} {}\n", "profile", "TIME-WAIT", "ports",
                                  "connect ports", "tw_reuse", "RST in TW", "SYN in TIME-WAIT");
    for (const std::string& n : profile_names()) {
        const host::Profile p = load_profile(n);
        const Duration tw = p.stack.linux_minisock ? p.stack.linux_tw.length : p.tcp.time_wait_length();
        const char* algo = p.stack.ports.connect_algo == host::ConnectPortAlgo::LinuxDoubleHash ? "RFC6056 alg 4"
                           : p.stack.ports.connect_algo == host::ConnectPortAlgo::LinuxHash     ? "RFC6056 alg 3"
                           : p.stack.ports.connect_algo == host::ConnectPortAlgo::Sequential    ? "in order/host"
                                                                                                : "RFC6056 alg 1";
        std::string reuse = "-";
        if (p.stack.linux_minisock) reuse = std::to_string(p.stack.tw_reuse);
        std::string rst, syn;
        if (p.stack.linux_minisock) {
            rst = p.stack.linux_tw.rfc1337 ? "ignored" : "kills at NXT";
            syn = "SEQ or TSval newer, else ACK";
        } else if (p.tcp.time_wait_input == tcp::TimeWaitInput::FreeBsd) {
            rst = "ignored";
            syn = "SEQ > RCV.NXT, else silence";
        } else if (p.tcp.time_wait_input == tcp::TimeWaitInput::Xnu) {
            rst = "ignored at NXT";
            syn = "SEQ > RCV.NXT+WND, else ACK";
        } else {
            rst = p.tcp.rst_in_time_wait == tcp::RstInTimeWait::Ignore ? "ignored" : "kills at NXT";
            syn = p.tcp.syn_in_time_wait == tcp::SynInTimeWait::Never ? "never (ACK/RST)" : "RFC 6191 timestamps";
        }
        out += fmt::format("{:<15} {:>9}s {:<12} {:<16} {:<9} {:<14} {}\n", n, tw.count() / 1'000'000'000,
                           fmt::format("{}-{}", p.stack.ports.lo, p.stack.ports.hi), algo, reuse, rst, syn);
    }
    return out;
}

// Every command-line error: "tcpsim: error: SUBCOMMAND: what (naming the option)", then where the
// options are listed.
std::string usage_failure(const CLI::App* app, const CLI::Error& e) {
    std::string sub;
    for (const CLI::App* s : app->get_subcommands()) sub = s->get_name();
    return fmt::format("tcpsim: error: {}{}\nRun 'tcpsim{}{} --help' for the options.\n", sub.empty() ? "" : sub + ": ", e.what(),
                       sub.empty() ? "" : " ", sub);
}

// A usage error found after parsing: "tcpsim: error: WHAT", then where the options are listed.
int usage_error(const CLI::App& app, const std::string& what) {
    std::string sub;
    for (const CLI::App* s : app.get_subcommands()) sub = s->get_name();
    std::fprintf(stderr, "tcpsim: error: %s\nRun 'tcpsim%s%s --help' for the options.\n", what.c_str(), sub.empty() ? "" : " ",
                 sub.c_str());
    return 2;
}

std::vector<std::string> known_names(const std::vector<BenchWorkload>& all) {
    std::vector<std::string> names;
    for (const BenchWorkload& w : all) names.push_back(w.name);
    return names;
}

// A first argument that is no subcommand: "did you mean" the nearest one.
std::string unknown_subcommand(const CLI::App& app, const std::string& word) {
    std::vector<std::string> names;
    for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(s->get_name());
    return fmt::format("tcpsim: error: unknown command \"{}\"{} (commands: {})\nRun 'tcpsim --help' for the commands.\n", word,
                       did_you_mean(word, names), comma_list(names));
}

// The bar is drawn on a terminal, or anywhere with --progress; never with -q.
bool progress_wanted(bool quiet, bool force) { return !quiet && (force || stderr_is_terminal()); }

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

int fail_scenario(const std::exception& e) {
    std::fprintf(stderr, "tcpsim: error: %s\n", e.what());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"tcpsim: a deterministic TCP state-machine simulator"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "tcpsim 0.1.0");

    std::string scenario_path;
    std::string out_path;
    bool json = false;

    std::string json_path, csv_path;
    std::vector<std::string> set_args, slo_args;
    const char* slo_help = "A service objective: KEY=VALUE (connect_p50, connect_p99, connect_max: a duration; syn_retransmitted, "
                           "failed, unfinished: a share 0-1), repeatable; the same as --set /slo/KEY=VALUE";
    const char* set_help = "Override a scenario value: POINTER=VALUE (JSON pointer; VALUE as JSON, else a string), repeatable";
    std::uint64_t seed = 0;
    const char* seed_help = "Seed of the run (the scenario's \"seed\" otherwise; the same as --set /seed=N)";
    CLI::App* run = app.add_subcommand("run", "Run a scenario and forecast port exhaustion: when, where and why");
    run->add_option("scenario", scenario_path, "Scenario file (JSON)")->required();
    run->add_option("-o,--output", out_path, "Write the report to FILE (atomically) instead of stdout");
    run->add_option("--json", json_path, "Also write the forecast as JSON to FILE");
    run->add_option("--csv", csv_path, "Also write a time series (per report interval) as CSV to FILE");
    run->add_option("--set", set_args, set_help);
    run->add_option("--slo", slo_args, slo_help);
    run->add_option("--seed", seed, seed_help);
    bool quiet_run = false, force_progress = false;
    std::string max_wall_arg;
    auto add_progress = [&](CLI::App* c) {
        c->add_flag("-q,--quiet", quiet_run, "No progress bar and no size estimate on stderr");
        c->add_flag("--progress", force_progress, "Draw the progress bar on stderr even when it is not a terminal (logs)");
    };
    add_progress(run);
    run->add_option("--max-wall", max_wall_arg,
                    "Refuse a run estimated to take longer than this wall time (10m, 1h): exit 1 before it starts");
    // Pictures and captures (issue #24).
    std::string pcap_path, pcap_filter_arg, pcap_max_arg = kDefaultPcapMax;
    run->add_option("--pcap", pcap_path, "Also write the segments the run carried as a pcap capture to FILE (Wireshark)");
    run->add_option("--pcap-filter", pcap_filter_arg,
                    "Capture only: host=NAME, tuple=A:P-B:P, from=TIME, to=TIME (comma-separated, all must hold)");
    std::string html_path;
    run->add_option("--html", html_path, "Also write a self-contained HTML report with charts to FILE (works offline)");
    run->add_option("--pcap-max", pcap_max_arg, "Stop capturing past this file size (100MB, 1GB, 500k)")->capture_default_str();

    CLI::App* trace = app.add_subcommand("trace", "Print a ladder diagram of a two-host scenario");
    trace->add_option("scenario", scenario_path, "Scenario file (JSON)")->required();
    trace->add_flag("--json", json, "Print the events as JSON instead of a ladder");
    trace->add_option("-o,--output", out_path, "Write to FILE (atomically) instead of stdout");
    trace->add_option("--pcap", pcap_path, "Also write the segments as a pcap capture to FILE (Wireshark)");
    std::string svg_path;
    trace->add_option("--svg", svg_path, "Also draw the ladder as an SVG sequence chart to FILE (every host a lifeline)");
    trace->add_option("--set", set_args, set_help);
    trace->add_option("--seed", seed, seed_help);
    add_progress(trace);

    CLI::App* diagram = app.add_subcommand("diagram", "Write the TCP state diagram as Graphviz DOT");
    diagram->add_option("--scenario", scenario_path, "Mark the edges a run of this scenario exercised");
    diagram->add_option("-o,--output", out_path, "Write to FILE (atomically) instead of stdout");
    diagram->add_option("--set", set_args, set_help);
    diagram->add_option("--seed", seed, seed_help);

    std::string profile = "linux";
    std::vector<std::string> defines;
    std::vector<std::string> scripts;
    bool verbose = false;
    bool require_all = false;
    double min_pass_rate = 0.0;
    CLI::App* pkt = app.add_subcommand("pkt", "Run packetdrill scripts against a simulated host");
    pkt->add_option("--profile", profile, "OS profile of the system under test")->capture_default_str();
    // One symbol per -D (repeatable: -D A -D B, or -DA): a vector option would otherwise take
    // every following word, scripts included.
    pkt->add_option("-D", defines, "Define a preprocessor symbol (#ifdef SYMBOL); one per -D, repeatable")
        ->allow_extra_args(false);
    pkt->add_flag("--json", json, "Print a per-script table as JSON");
    pkt->add_flag("-v,--verbose", verbose, "Also list passed scripts");
    pkt->add_flag("--require-all", require_all, "Exit non-zero when any script is skipped, too");
    pkt->add_option("--min-pass-rate", min_pass_rate, "Exit non-zero when fewer than this percentage of scripts pass")
        ->check(CLI::Range(0.0, 100.0));
    pkt->add_option("scripts", scripts, "Scripts (.pkt) or folders to search for them")->required();
    pkt->add_option("-o,--output", out_path, "Write to FILE (atomically) instead of stdout");
    pkt->add_option("--pcap", pcap_path, "Write the script run's segments as a pcap capture to FILE (one script)");
    bool pkt_trace = false;
    pkt->add_flag("--trace", pkt_trace, "Print the ladder diagram of the script run before the result (one script)");
    pkt->add_option("--svg", svg_path, "Draw the ladder of the script run as an SVG sequence chart to FILE (one script)");

    std::string exp_path, compare_path;
    std::uint64_t exp_seed = 1;
    CLI::App* experiment = app.add_subcommand("experiment", "Run a live-kernel experiment's schedule in the simulator");
    experiment->add_option("experiment", exp_path, "Experiment file (tools/kernel/experiments/*.json)")->required();
    experiment->add_option("--profile", profile, "OS profile of both hosts")->capture_default_str();
    experiment->add_option("--seed", exp_seed, "Seed of the run")->capture_default_str();
    experiment->add_option("--compare", compare_path,
                           "A stored kernel result of this experiment (name and digest checked): print both and exit 1 if they disagree");
    add_progress(experiment);

    // The what-if tools: every run is `tcpsim run` with --set values; outputs are the same bytes
    // for the same scenario, seed and options, whatever the number of threads.
    std::vector<std::string> vary_args, rate_args, shard_inputs;
    std::string shard_arg, search_arg;
    unsigned jobs = 0;
    bool quiet = false;
    double tolerance = 0.2;
    auto add_outputs = [&](CLI::App* c) {
        c->add_option("-o,--output", out_path, "Write the table to FILE (atomically) instead of stdout");
        c->add_option("--json", json_path, "Also write it as JSON to FILE");
        c->add_option("--csv", csv_path, "Also write it as CSV to FILE");
        c->add_option("--html", html_path, "Also write a self-contained HTML page with charts to FILE (works offline)");
    };
    auto add_runs = [&](CLI::App* c) {
        c->add_option("--set", set_args, set_help);
        c->add_option("--slo", slo_args, slo_help);
        c->add_option("--seed", seed, seed_help);
        c->add_option("-j,--jobs", jobs, "Runs at once (default: one per core)");
        c->add_flag("-q,--quiet", quiet, "No progress bar on stderr");
    };
    CLI::App* sweep = app.add_subcommand("sweep", "Run a scenario for every combination of values; one row each");
    sweep->add_option("scenario", scenario_path, "Scenario file (JSON)")->required();
    sweep->add_option("--vary", vary_args, "POINTER=v1,v2,... (repeatable; the first is the outermost loop)")->required();
    sweep->add_option("--shard", shard_arg, "Run only shard I of N (I/N): rows I, I+N, I+2N, ...; join with tcpsim merge");
    add_runs(sweep);
    add_outputs(sweep);
    CLI::App* merge = app.add_subcommand("merge", "Join the --json outputs of sweep shards into the one-machine table");
    merge->add_option("shards", shard_inputs, "The shards' JSON files")->required();
    add_outputs(merge);
    CLI::App* capacity = app.add_subcommand("capacity", "Find the highest rate that runs without a failure, and what binds it");
    capacity->add_option("scenario", scenario_path, "Scenario file (JSON)")->required();
    capacity->add_option("--rate", rate_args,
                         "Pointer of a rate to search (repeatable: scaled together); default: the one client's arrival rate");
    capacity->add_option("--search", search_arg,
                         "Pointer of any numeric value (or an array of addresses: its length) to search instead of the rate");
    capacity->add_option("--tolerance", tolerance, "Stop when the passing and failing rates are this many percent apart")
        ->check(CLI::Range(0.001, 50.0))
        ->capture_default_str();
    add_runs(capacity);
    add_outputs(capacity);
    CLI::App* remedies = app.add_subcommand("remedies", "Run the scenario with each classic remedy, where it fails or degrades; a table with their hazards");
    remedies->add_option("scenario", scenario_path, "Scenario file (JSON)")->required();
    add_runs(remedies);
    add_outputs(remedies);

    CLI::App* profiles = app.add_subcommand("profiles", "List the OS profiles with their key values");
    std::string profile_name;
    CLI::App* profiles_show = profiles->add_subcommand("show", "Print one profile (its data file)");
    profiles_show->add_option("name", profile_name, "Profile name")->required();

    // ---- tcpsim bench (issue #6) ----
    std::vector<std::string> bench_names;
    bool bench_tiny = false, bench_no_fork = false;
    double bench_scale = 1.0;
    int bench_cpu = -1;
    int bench_repeat = 1;
    CLI::App* bench = app.add_subcommand("bench", "Run the fixed benchmark workloads and print their speed and memory");
    bench->add_option("-w,--workload", bench_names,
                      "Workloads to run (repeatable or comma list): churn, exhaust, nat, scale-1e4 .. scale-1e7 (default: all)")
        ->delimiter(',');
    bench->add_option("--scale", bench_scale, "Multiply every workload's connection count by this")->check(CLI::PositiveNumber);
    bench->add_flag("--tiny", bench_tiny, "A run of a second or two (--scale 0.001), for CI");
    bench->add_flag("--json", json, "Print the figures as JSON");
    bench->add_flag("--no-fork", bench_no_fork, "Run every workload in this process (peak memory is then the largest so far)");
    bench->add_option("--cpu", bench_cpu, "Run on this CPU only (as taskset -c N): compare figures on one CPU");
    bench->add_option("--repeat", bench_repeat, "Run each workload N times; show the median run and the lowest and highest rate")
        ->check(CLI::Range(1, 1000));
    bench->add_option("-o,--output", out_path, "Write to FILE (atomically) instead of stdout");
    add_progress(bench);
    // ---- end tcpsim bench ----

    app.failure_message(usage_failure);
    if (argc > 1 && argv[1][0] != '-') {
        bool known = false;
        for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; })) known = known || s->get_name() == argv[1];
        if (!known) {
            std::fputs(unknown_subcommand(app, argv[1]).c_str(), stderr);
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

    std::vector<Override> sets;
    std::vector<Vary> vary;
    Shard shard;
    try {
        for (const std::string& a : set_args) sets.push_back(parse_override(a));
        // --slo KEY=VALUE is --set /slo/KEY=VALUE: every run of every tool carries it.
        for (const std::string& a : slo_args) sets.push_back(parse_override("/slo/" + a));
        // --seed after every --set: it is the last word on /seed.
        for (const CLI::App* c : app.get_subcommands())
            if (c->get_option_no_throw("--seed") != nullptr && c->count("--seed") > 0 && c->get_name() != "experiment")
                sets.push_back(Override{"/seed", seed});
        for (const std::string& a : vary_args) vary.push_back(parse_vary(a));
        if (!shard_arg.empty()) shard = parse_shard(shard_arg);
        for (const std::string& a : rate_args) (void)parse_override(a + "=0");  // a pointer
        if (!search_arg.empty()) (void)parse_override(search_arg + "=0");
        if (!search_arg.empty() && !rate_args.empty()) throw UsageError("--search and --rate: search one thing at a time");
        // CLI::Range lets NaN through (every comparison with it is false).
        if (!std::isfinite(tolerance)) throw UsageError(fmt::format("--tolerance: {} is not a number from 0.001 to 50", tolerance));
        // Two outputs naming one file (or both standard output) are refused before any run.
        std::vector<std::pair<std::string, std::string>> outputs{{"-o", out_path}};  // "": stdout
        if (!json_path.empty()) outputs.emplace_back("--json", json_path);
        if (!csv_path.empty()) outputs.emplace_back("--csv", csv_path);
        if (!pcap_path.empty()) outputs.emplace_back("--pcap", pcap_path);
        if (!svg_path.empty()) outputs.emplace_back("--svg", svg_path);
        if (!html_path.empty()) outputs.emplace_back("--html", html_path);
        check_distinct_outputs(outputs);
    } catch (const UsageError& e) {
        return usage_error(app, e.what());
    }

    // run and trace stop between events on Ctrl-C and write nothing (the other subcommands keep the
    // default action: they have written nothing either until they end).
    if (*run || *trace) install_interrupt_handlers();
    try {
        std::string text;
        // ---- tcpsim bench (issue #6) ----
        if (*bench) {
            std::vector<BenchWorkload> all = bench_workloads(bench_tiny ? 0.001 : bench_scale), chosen;
            if (bench_names.empty()) chosen = all;
            for (const std::string& n : bench_names) {
                auto it = std::find_if(all.begin(), all.end(), [&](const BenchWorkload& w) { return w.name == n; });
                if (it == all.end()) {
                    std::string known;
                    for (const BenchWorkload& w : all) known += (known.empty() ? "" : ", ") + w.name;
                    return usage_error(app, fmt::format("bench -w: no workload \"{}\"{} (known: {})", n,
                                                        did_you_mean(n, known_names(all)), known));
                }
                chosen.push_back(*it);
            }
            if (bench->count("--cpu") > 0) {
                if (const std::string e = pin_to_cpu(bench_cpu); !e.empty()) {
                    return usage_error(app, fmt::format("bench --cpu {}: {}", bench_cpu, e));
                }
            }
            const std::vector<BenchResult> rs = run_bench(chosen, !bench_no_fork, bench_repeat,
                                                        progress_wanted(quiet_run, force_progress));
            write_output(out_path, json ? format_bench_json(rs) : format_bench_table(rs));
            for (const BenchResult& r : rs)
                if (!r.ok) return 1;
            return 0;
        }
        // ---- end tcpsim bench ----
        if (*experiment) {
            const ExperimentReport r =
                experiment_report(exp_path, profile, exp_seed, compare_path, progress_wanted(quiet_run, force_progress));
            write_output(out_path, r.text);
            return r.agrees ? 0 : 1;
        }
        if (*sweep || *merge || *capacity || *remedies) {
            // Every output is computed before any is written: an error leaves no file behind.
            std::string js, cs;
            if (*remedies) {
                const RemedyTable r = run_remedies(read_scenario_text(scenario_path), scenario_path, sets, worker_count(jobs),
                                                   !quiet && stderr_is_terminal());
                text = remedies_text(r);
                js = remedies_json(r);
                cs = remedies_csv(r);
            } else if (*capacity) {
                const std::string src = read_scenario_text(scenario_path);
                CapacityOptions opt;
                opt.rate_pointers = rate_args;
                opt.search_pointer = search_arg;
                opt.tolerance = tolerance / 100.0;
                opt.threads = worker_count(jobs);
                opt.progress = !quiet;
                const CapacityResult r = find_capacity(src, scenario_path, sets, opt);
                text = capacity_text(r);
                js = capacity_json(r);
                cs = capacity_csv(r);
            } else {
                SweepTable t;
                if (*sweep) {
                    const std::string src = read_scenario_text(scenario_path);
                    SweepSpec spec;
                    spec.file = scenario_path;
                    spec.seed = parse_scenario(src, scenario_path, sets).seed;  // checks the file before any run
                    spec.sets = sets;
                    spec.vary = vary;
                    if (shard.count > spec.runs())
                        std::fprintf(stderr, "tcpsim: note: --shard %zu/%zu of %zu runs: some shards have no rows\n", shard.index,
                                     shard.count, spec.runs());
                    t = run_sweep(src, spec, shard, worker_count(jobs), !quiet && stderr_is_terminal());
                } else {
                    std::vector<std::pair<std::string, std::string>> in;
                    for (const std::string& f : shard_inputs) in.emplace_back(f, read_text_file(f));
                    t = merge_shards(in);
                }
                text = sweep_text(t);
                js = sweep_json(t);
                cs = sweep_csv(t);
            }
            std::vector<std::pair<std::string, std::string>> files;
            if (!json_path.empty()) files.emplace_back(json_path, js);
            if (!csv_path.empty()) files.emplace_back(csv_path, cs);
            if (!html_path.empty()) {
                const std::string tool = *remedies ? "remedies" : *capacity ? "capacity" : "sweep";
                files.emplace_back(html_path, html_report_table(tool, "tcpsim " + tool + ": " + (scenario_path.empty() ? std::string("merged shards") : scenario_path), text, cs));
            }
            files.emplace_back(out_path, text);
            write_outputs(files);
            return 0;
        }
        if (*profiles) {
            if (*profiles_show) {
                load_profile(profile_name);  // validates, and names the known ones on a typo
                for (const auto& e : embedded_profiles())
                    if (e.name == profile_name) text = std::string(e.text);
            } else {
                text = profiles_table();
            }
            write_output(out_path, text);
            return 0;
        }
        if (*pkt) {
            PktTotals t;
            const bool keep = pkt_trace || !pcap_path.empty() || !svg_path.empty();
            if (keep && (scripts.size() != 1 || std::filesystem::is_directory(scripts[0])))
                throw UsageError("pkt: --trace, --svg and --pcap show one script run: name one script file (see --help)");
            if (pkt_trace && json) throw UsageError("pkt: --trace prints a ladder, --json a table: give one of them (see --help)");
            std::vector<TraceRecord> recs;
            text = run_pkt(scripts, profile, defines, json, verbose, t, keep ? &recs : nullptr);
            if (pkt_trace) text = format_ladder(pkt::script_trace_header(scripts[0], profile), recs) + "\n" + text;
            std::vector<std::pair<std::string, std::string>> files;
            if (!pcap_path.empty()) files.emplace_back(pcap_path, pcap_of_records(recs));
            if (!svg_path.empty()) files.emplace_back(svg_path, format_ladder_svg(pkt::script_trace_header(scripts[0], profile), recs));
            files.emplace_back(out_path, text);
            write_outputs(files);
            const int total = t.passed + t.failed + t.skipped;
            bool ok = t.failed == 0 && (!require_all || t.skipped == 0);
            if (total == 0) {
                std::fprintf(stderr, "tcpsim: error: no .pkt scripts found\n");
                ok = false;
            } else if (100.0 * t.passed < min_pass_rate * total) {
                std::fprintf(stderr, "tcpsim: %d of %d scripts passed (%.1f%%), below --min-pass-rate %.1f\n", t.passed,
                             total, 100.0 * t.passed / total, min_pass_rate);
                ok = false;
            }
            return ok ? 0 : 1;
        }
        if (*diagram) {
            const StateGraph g = build_state_graph();
            if (scenario_path.empty()) {
                text = to_dot(g, nullptr);
            } else {
                const Scenario sc = load_scenario(scenario_path, sets);
                World w(sc, true);  // the records show the self-loops a run took
                w.run();
                const std::vector<std::uint64_t> loops = self_loop_hits(w.records());
                text = to_dot(g, &w.rows_hit(), &loops);
            }
        } else {
            const Scenario sc = load_scenario(scenario_path, sets);
            std::vector<std::pair<std::string, std::string>> files;
            if (*trace) {
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
                RunProgress bar("trace", sc.duration, progress_wanted(quiet_run, force_progress));
                w.set_progress([&](SimTime t) { bar.tick(t, 0); });
                w.run();
                bar.finish();
                text = json ? format_trace_json(header_of(sc), w.records()) : format_ladder(header_of(sc), w.records());
                if (!pcap_path.empty()) files.emplace_back(pcap_path, pcap_of_records(w.records()));
                if (!svg_path.empty()) files.emplace_back(svg_path, format_ladder_svg(header_of(sc), w.records()));
            } else {
                // Every output is computed before any is written, and written all or none: an
                // error leaves no file behind.
                if (!pcap_filter_arg.empty() && pcap_path.empty())
                    throw UsageError("run: --pcap-filter without --pcap: name the capture file (see --help)");
                std::uint64_t pcap_max = 0;
                if (!parse_byte_size(pcap_max_arg, pcap_max))
                    throw UsageError(fmt::format("run: --pcap-max {}: expected a size such as 100MB or 1GB (see --help)", pcap_max_arg));
                const PcapFilter pcap_filter = pcap_filter_arg.empty() ? PcapFilter{} : parse_pcap_filter(pcap_filter_arg, sc);
                for (const std::string& warn : sc.warnings) std::fprintf(stderr, "tcpsim: warning: %s\n", warn.c_str());
                if (const std::optional<int> refused = check_run_size(sc, quiet_run, max_wall_arg)) return *refused;
                std::optional<PcapWriter> capture;
                std::optional<PcapTap> tap;
                if (!pcap_path.empty()) {
                    capture.emplace(pcap_max);
                    tap.emplace(pcap_filter, *capture);
                }
                RunProgress bar("run", sc.duration, progress_wanted(quiet_run, force_progress));
                const ForecastRun fr = run_forecast(sc, [&](SimTime t, std::uint64_t n) { bar.tick(t, n); }, tap ? &*tap : nullptr);
                bar.finish();
                if (capture) {
                    if (capture->full())
                        std::fprintf(stderr,
                                     "tcpsim: note: --pcap %s: capture stopped after %llu packets (%llu bytes): the next one would pass "
                                     "--pcap-max %s (narrow it with --pcap-filter)\n",
                                     pcap_path.c_str(), static_cast<unsigned long long>(capture->packets()),
                                     static_cast<unsigned long long>(capture->bytes()), pcap_max_arg.c_str());
                    files.emplace_back(pcap_path, capture->finish());
                }
                if (!json_path.empty()) files.emplace_back(json_path, fr.json);
                if (!csv_path.empty()) files.emplace_back(csv_path, fr.csv);
                if (!html_path.empty()) files.emplace_back(html_path, html_report_run(sc, fr));
                text = fr.text;
            }
            files.emplace_back(out_path, text);
            write_outputs(files);
            return 0;
        }
        write_output(out_path, text);
    } catch (const Interrupted& e) {
        std::fprintf(stderr, "\ntcpsim: %s\n", e.what());
        return 130;
    } catch (const ScenarioError& e) {
        return fail_scenario(e);
    } catch (const UsageError& e) {
        return usage_error(app, e.what());
    } catch (const OutputError& e) {
        std::fprintf(stderr, "tcpsim: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        // Never a crash: anything unexpected is reported and the exit status says so.
        std::fprintf(stderr, "tcpsim: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
