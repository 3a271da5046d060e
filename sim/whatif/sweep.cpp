#include "whatif/sweep.hpp"

#include "scenario/json_reader.hpp"
#include "scenario/scenario.hpp"
#include "base/text_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace tcpsim {

using nlohmann::json;
using nlohmann::ordered_json;

Vary parse_vary(const std::string& arg) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq + 1 == arg.size())
        throw UsageError(fmt::format("--vary {}: expected POINTER=v1,v2,..., e.g. /clients/0/arrival/rate=200,400,800", arg));
    Override o;
    try {
        o = parse_override(arg.substr(0, eq) + "=0");  // checks the pointer
    } catch (const UsageError& e) {
        // Said of --vary, as typed, not of the --set it was checked as.
        const std::string what = e.what(), set = "--set " + arg.substr(0, eq) + "=0";
        throw UsageError("--vary " + arg + (what.rfind(set, 0) == 0 ? what.substr(set.size()) : ": " + what));
    }
    Vary v;
    v.pointer = o.pointer;
    for (const std::string& s : split_values(arg.substr(eq + 1))) {
        if (s.empty()) throw UsageError(fmt::format("--vary {}: an empty value in the list", arg));
        v.values.push_back(parse_checked_value(s, "--vary " + v.pointer));
    }
    return v;
}

Shard parse_shard(const std::string& arg) {
    const auto slash = arg.find('/');
    auto num = [&](const std::string& s) -> std::size_t {
        if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return 0;
        return std::stoul(s);
    };
    Shard sh;
    if (slash != std::string::npos) {
        sh.index = num(arg.substr(0, slash));
        sh.count = num(arg.substr(slash + 1));
    }
    if (slash == std::string::npos || sh.index == 0 || sh.count == 0 || sh.index > sh.count)
        throw UsageError(fmt::format("--shard {}: expected I/N with 1 <= I <= N, e.g. 1/4", arg));
    return sh;
}

std::size_t SweepSpec::runs() const {
    std::size_t n = 1;
    for (const Vary& v : vary) n *= v.values.size();
    return n;
}

std::vector<Override> SweepSpec::overrides_of(std::size_t index) const {
    std::vector<Override> out = sets;
    // Mixed radix, the last --vary fastest.
    std::vector<Override> row(vary.size());
    std::size_t rest = index;
    for (std::size_t k = vary.size(); k-- > 0;) {
        row[k] = Override{vary[k].pointer, vary[k].values[rest % vary[k].values.size()]};
        rest /= vary[k].values.size();
    }
    out.insert(out.end(), row.begin(), row.end());
    return out;
}

std::string cell(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

SweepTable run_sweep(const std::string& text, const SweepSpec& spec, Shard shard, unsigned threads, bool progress) {
    SweepTable t;
    t.spec = spec;
    t.shard = shard;
    std::vector<std::size_t> mine;
    for (std::size_t i = shard.index - 1; i < spec.runs(); i += shard.count) mine.push_back(i);
    ProgressBar bar("sweep", mine.size(), progress);
    const std::function<SweepRow(std::size_t)> job = [&](std::size_t k) {
        SweepRow r;
        r.index = mine[k];
        const std::vector<Override> o = spec.overrides_of(r.index);
        for (std::size_t v = spec.sets.size(); v < o.size(); ++v) r.values.push_back(o[v].value);
        r.outcome = run_outcome(text, spec.file, o);
        return r;
    };
    t.rows = run_all<SweepRow>(mine.size(), threads, job, [&](std::size_t done) { bar.update(done); });
    bar.finish();
    return t;
}

namespace {

std::string header_line(const SweepTable& t) {
    const bool seeds = std::any_of(t.spec.vary.begin(), t.spec.vary.end(), [](const Vary& v) { return v.pointer == "/seed"; });
    std::string h = seeds ? fmt::format("tcpsim sweep: {} (seed varied)", t.spec.file)
                          : fmt::format("tcpsim sweep: {} (seed {})", t.spec.file, t.spec.seed);
    for (const Override& o : t.spec.sets) h += " --set " + o.text();
    h += fmt::format(": {} run{}", t.spec.runs(), t.spec.runs() == 1 ? "" : "s");
    if (t.shard.count > 1) h += fmt::format(", shard {}/{} ({} of them)", t.shard.index, t.shard.count, t.rows.size());
    return h + "\n";
}

std::string rate_cell(double r) { return fmt::format("{:.1f}", r); }

}  // namespace

std::string sweep_text(const SweepTable& t) {
    std::vector<std::string> head = {"#"};
    for (const Vary& v : t.spec.vary) head.push_back(v.pointer);
    for (const char* c : {"first failure", "first breach", "failed", "unfinished", "p99 ms", "sustained/s", "ceiling/s"}) head.push_back(c);
    std::vector<std::vector<std::string>> body;
    for (const SweepRow& r : t.rows) {
        std::vector<std::string> line = {std::to_string(r.index + 1)};
        for (const json& v : r.values) line.push_back(cell(v));
        line.push_back(r.outcome.first_failure_text());
        line.push_back(r.outcome.first_breach_text());
        line.push_back(std::to_string(r.outcome.failed));
        line.push_back(std::to_string(r.outcome.unfinished));
        line.push_back(r.outcome.p99_text());
        line.push_back(rate_cell(r.outcome.sustained));
        line.push_back(r.outcome.analytic ? rate_cell(*r.outcome.analytic) : "-");
        body.push_back(line);
    }
    return header_line(t) + "\n" + format_table(head, body, {0, head.size() - 5, head.size() - 4, head.size() - 3, head.size() - 2, head.size() - 1});
}

std::string sweep_csv(const SweepTable& t) {
    std::string out = "run";
    for (const Vary& v : t.spec.vary) out += fmt::format(",{}", csv_cell(v.pointer));
    out += ",first_failure_s,first_failure_errno,first_failure_host,first_breach_s,first_breach_objective,first_breach_host,attempted,"
           "succeeded,failed,unfinished,connect_p99_ms,offered_per_s,sustained_per_s,"
           "ceiling_per_s\n";
    for (const SweepRow& r : t.rows) {
        out += std::to_string(r.index + 1);
        for (const json& v : r.values) out += fmt::format(",{}", csv_cell(cell(v)));
        const Outcome& o = r.outcome;
        out += o.first_failure_s ? fmt::format(",{:.6f},{},{}", *o.first_failure_s, o.first_errno, csv_cell(o.first_host)) : std::string(",,,");
        out += o.first_breach_s ? fmt::format(",{:.6f},{},{}", *o.first_breach_s, o.breach_objective, csv_cell(o.breach_host)) : std::string(",,,");
        out += fmt::format(",{},{},{},{},{},{:.3f},{:.3f},{}\n", o.attempted, o.succeeded, o.failed, o.unfinished,
                           o.connect_p99_ms ? fmt::format("{:.3f}", *o.connect_p99_ms) : "", o.offered, o.sustained,
                           o.analytic ? fmt::format("{:.3f}", *o.analytic) : "");
    }
    return out;
}

std::string sweep_json(const SweepTable& t) {
    ordered_json j = tool_json_head("sweep", t.spec.file, t.spec.seed, t.spec.sets);
    ordered_json vary = ordered_json::array();
    for (const Vary& v : t.spec.vary) vary.push_back({{"pointer", v.pointer}, {"values", v.values}});
    j["vary"] = vary;
    j["runs"] = t.spec.runs();
    if (t.shard.count > 1) j["shard"] = {{"index", t.shard.index}, {"count", t.shard.count}};
    ordered_json rows = ordered_json::array();
    for (const SweepRow& r : t.rows) {
        ordered_json row;
        row["run"] = r.index + 1;
        ordered_json set = ordered_json::object();
        for (std::size_t k = 0; k < r.values.size(); ++k) set[t.spec.vary[k].pointer] = r.values[k];
        row["set"] = set;
        const ordered_json o = r.outcome.to_json();
        for (auto it = o.begin(); it != o.end(); ++it) row[it.key()] = it.value();
        rows.push_back(row);
    }
    j["rows"] = rows;
    return j.dump(2) + "\n";
}

SweepTable merge_shards(const std::vector<std::pair<std::string, std::string>>& inputs) {
    if (inputs.empty()) throw ScenarioError("merge: no shard files given");
    SweepTable t;
    json spec_key;  // the first file's document without its shard and rows
    std::map<std::size_t, std::pair<SweepRow, std::string>> rows;  // by index
    std::size_t runs = 0;
    for (const auto& [file, text] : inputs) {
        // Every place named by its line:column or JSON pointer: a shard may have been cut or edited.
        const json j = parse_json(text, file);
        const Reader r(file);
        const json* tool = j.is_object() ? r.field(j, "tool") : nullptr;
        if (tool == nullptr || *tool != "sweep") r.fail("/tool", "not the --json output of tcpsim sweep");
        // Everything but the shard and its rows must be the same in every file.
        json key = j;
        key.erase("shard");
        key.erase("rows");
        if (spec_key.is_null()) {
            spec_key = key;
            t.spec.file = r.str(j, "", "scenario", true);
            t.spec.seed = r.uint(j, "", "seed", true, 0, UINT64_MAX);
            const json& sets = *r.array(j, "", "overrides", true);
            for (std::size_t k = 0; k < sets.size(); ++k) {
                const std::string at = fmt::format("/overrides/{}", k);
                if (!sets[k].is_string()) r.fail(at, fmt::format("expected a string, found {}", sets[k].type_name()));
                try {
                    t.spec.sets.push_back(parse_override(sets[k].get<std::string>()));
                } catch (const UsageError& e) {
                    r.fail(at, e.what());
                }
            }
            const json& vary = *r.array(j, "", "vary", true);
            for (std::size_t k = 0; k < vary.size(); ++k) {
                const std::string at = fmt::format("/vary/{}", k);
                const json& values = *r.array(vary[k], at, "values", true);
                if (values.empty()) r.fail(at + "/values", "expected at least one value");
                t.spec.vary.push_back(Vary{r.str(vary[k], at, "pointer", true), values.get<std::vector<json>>()});
            }
            runs = r.uint(j, "", "runs", true, 0, Reader::kMaxCount);
            if (runs != t.spec.runs()) throw ScenarioError(fmt::format("{}: /runs: {} does not match the --vary lists", file, runs));
        } else if (key != spec_key) {
            // The first member that differs (json objects iterate in key order: deterministic).
            std::string which;
            for (const auto& [k, v] : key.items())
                if (which.empty() && (!spec_key.contains(k) || spec_key.at(k) != v)) which = k;
            for (const auto& [k, v] : spec_key.items())
                if (which.empty() && !key.contains(k)) which = k;
            throw ScenarioError(fmt::format("{}: /{}: a shard of another sweep than {} (its \"{}\" differs)", file, which,
                                            inputs.front().first, which));
        }
        const json& rs = *r.array(j, "", "rows", true);
        for (std::size_t k = 0; k < rs.size(); ++k) {
            const std::string at = fmt::format("/rows/{}", k);
            SweepRow row;
            const std::uint64_t run = r.uint(rs[k], at, "run", true, 0, Reader::kMaxCount);
            if (run == 0 || run > runs) throw ScenarioError(fmt::format("{}: {}/run: {} is not between 1 and {}", file, at, run, runs));
            row.index = run - 1;
            const json& set = r.required(rs[k], at, "set");
            for (const Vary& v : t.spec.vary) row.values.push_back(r.required(set, at + "/set", v.pointer.c_str()));
            row.outcome = Outcome::from_json(rs[k], r, at);
            if (auto it = rows.find(row.index); it != rows.end())
                throw ScenarioError(fmt::format("{}: {}/run: run {} is also in {}", file, at, run, it->second.second));
            rows.emplace(row.index, std::make_pair(row, file));
        }
    }
    std::string missing;
    std::size_t n_missing = 0;
    for (std::size_t i = 0; i < runs; ++i)
        if (!rows.count(i)) {
            if (++n_missing <= 10) missing += fmt::format("{}{}", missing.empty() ? "" : ", ", i + 1);
        }
    if (n_missing > 0)
        throw ScenarioError(fmt::format("merge: {} of {} runs are in none of the files (runs {}{}): a shard is missing", n_missing, runs,
                                        missing, n_missing > 10 ? ", ..." : ""));
    for (auto& [i, r] : rows) t.rows.push_back(std::move(r.first));
    return t;
}

}  // namespace tcpsim
