#include "cli/command.hpp"

#include "cli/output.hpp"
#include "forecast/html_report.hpp"
#include "whatif/whatif_run.hpp"

namespace tcpsim::cli {

const char* const kSetHelp = "Override a scenario value: POINTER=VALUE (JSON pointer; VALUE as JSON, else a string), repeatable";
const char* const kSloHelp = "A service objective: KEY=VALUE (connect_p50, connect_p99, connect_max: a duration; syn_retransmitted, "
                             "failed, unfinished: a share 0-1), repeatable; the same as --set /slo/KEY=VALUE";
const char* const kSeedHelp = "Seed of the run (the scenario's \"seed\" otherwise; the same as --set /seed=N)";

std::vector<std::pair<std::string, std::string>> Outputs::named() const {
    std::vector<std::pair<std::string, std::string>> o{{"-o", out}};  // "": stdout
    if (!json.empty()) o.emplace_back("--json", json);
    if (!csv.empty()) o.emplace_back("--csv", csv);
    if (!pcap.empty()) o.emplace_back("--pcap", pcap);
    if (!svg.empty()) o.emplace_back("--svg", svg);
    if (!html.empty()) o.emplace_back("--html", html);
    return o;
}

std::vector<Override> RunArgs::overrides() const {
    std::vector<Override> out;
    for (const std::string& a : sets) out.push_back(parse_override(a));
    // --slo KEY=VALUE is --set /slo/KEY=VALUE: every run of every tool carries it.
    for (const std::string& a : slos) out.push_back(parse_override("/slo/" + a));
    // --seed after every --set: it is the last word on /seed.
    if (seed_given) out.push_back(Override{"/seed", seed});
    return out;
}

void add_run_args(CLI::App* c, RunArgs& a, bool slo) {
    c->add_option("--set", a.sets, kSetHelp);
    if (slo) c->add_option("--slo", a.slos, kSloHelp);
    c->add_option("--seed", a.seed, kSeedHelp)->each([&a](const std::string&) { a.seed_given = true; });
}

bool ProgressArgs::wanted() const { return !quiet && (force || stderr_is_terminal()); }

void add_progress_args(CLI::App* c, ProgressArgs& a) {
    c->add_flag("-q,--quiet", a.quiet, "No progress bar and no size estimate on stderr");
    c->add_flag("--progress", a.force, "Draw the progress bar on stderr even when it is not a terminal (logs)");
}

TraceHeader header_of(const Scenario& sc) {
    TraceHeader h;
    h.scenario = sc.file;
    h.name = sc.name;
    h.description = sc.description;
    h.seed = sc.seed;
    for (std::size_t i = 0; i < 2 && i < sc.hosts.size(); ++i) {
        h.host_names[i] = sc.hosts[i].name;
        h.host_addrs[i] = tcp::format_ip(sc.hosts[i].ip);
    }
    for (const HostSpec& hs : sc.hosts) h.all_hosts.emplace_back(hs.name, tcp::format_ip(hs.ip));
    return h;
}

void write_table_outputs(const Outputs& o, const std::string& tool, const std::string& title, const std::string& text,
                         const std::string& json, const std::string& csv) {
    std::vector<std::pair<std::string, std::string>> files;
    if (!o.json.empty()) files.emplace_back(o.json, json);
    if (!o.csv.empty()) files.emplace_back(o.csv, csv);
    if (!o.html.empty()) files.emplace_back(o.html, html_report_table(tool, title, text, csv));
    files.emplace_back(o.out, text);
    write_outputs(files);
}

}  // namespace tcpsim::cli
