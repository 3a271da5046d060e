#include "capacity.hpp"

#include "json_reader.hpp"

#include "scenario.hpp"
#include "text_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tcpsim {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// Rates are searched on a grid of 1/1000 per second, so probes print exactly and repeat exactly.
double on_grid(double r) { return std::round(r * 1000.0) / 1000.0; }

}  // namespace

CapacityResult find_capacity(const std::string& text, const std::string& file, const std::vector<Override>& sets,
                             const CapacityOptions& opt) {
    CapacityResult res;
    res.file = file;
    res.sets = sets;
    json doc = json::parse(text, nullptr, false);
    const Scenario base = parse_scenario(text, file, sets);  // validates; errors name the file
    apply_overrides(doc, sets, file);
    res.seed = base.seed;
    res.duration_s = static_cast<double>(base.duration.count()) / 1e9;
    res.pointers = opt.rate_pointers;
    if (res.pointers.empty()) {
        // The default: the arrival rate of the one client workload that has one.
        const json* clients = value_at(doc, "/clients");
        std::vector<std::string> found;
        if (clients && clients->is_array())
            for (std::size_t i = 0; i < clients->size(); ++i)
                if ((*clients)[i].contains("arrival") && (*clients)[i]["arrival"].contains("rate"))
                    found.push_back(fmt::format("/clients/{}/arrival/rate", i));
        // The place is /clients (found by fuzzing: the message named the file alone), and the
        // candidates follow.
        if (found.size() != 1) {
            std::string which;
            for (const std::string& f : found) which += (which.empty() ? ": " : ", ") + f;
            throw UsageError(fmt::format("{}: /clients: {} client workloads have an arrival rate: name the one(s) to search with "
                                         "--rate POINTER{}",
                                         file, found.size(), which));
        }
        res.pointers = found;
    }
    double base_total = 0;
    std::vector<double> base_rates;
    for (const std::string& p : res.pointers) {
        const json* v = value_at(doc, p);
        if (!v) throw ScenarioError(fmt::format("{}: {}: no such value in the scenario (--rate)", file, p));
        if (!v->is_number() || v->get<double>() <= 0)
            throw ScenarioError(fmt::format("{}: {}: --rate needs a positive number here, found {}", file, p, Reader::show(*v)));
        base_rates.push_back(v->get<double>());
        base_total += v->get<double>();
    }
    for (double r : base_rates) res.weights.push_back(r / base_total);

    // One probe: the rates at the pointers scaled to `total`, stopped at the first failure.
    auto probe = [&](double total) {
        std::vector<Override> o = sets;
        for (std::size_t k = 0; k < res.pointers.size(); ++k) o.push_back(Override{res.pointers[k], on_grid(total * res.weights[k])});
        o.push_back(Override{"/stop/first_failure", true});
        CapacityProbe p;
        p.total = total;
        p.outcome = run_outcome(text, file, o);
        p.ok = !p.outcome.first_failure_s;
        return p;
    };
    std::size_t round = 0;
    auto run_round = [&](std::vector<double> totals) {
        ++round;
        if (opt.progress && stderr_is_terminal())
            std::fprintf(stderr, "\rcapacity: round %zu, probing %s...            ", round,
                         totals.size() == 2 ? fmt::format("{:.3f} and {:.3f}/s", totals[0], totals[1]).c_str()
                                            : fmt::format("{:.3f}/s", totals[0]).c_str());
        const std::function<CapacityProbe(std::size_t)> job = [&](std::size_t i) { return probe(totals[i]); };
        std::vector<CapacityProbe> got = run_all<CapacityProbe>(totals.size(), opt.threads, job);
        for (CapacityProbe& p : got) {
            if (p.ok && (!res.pass || p.total > *res.pass)) {
                res.pass = p.total;
                res.at_pass = p.outcome;
            }
            if (!p.ok && (!res.fail || p.total < *res.fail)) {
                res.fail = p.total;
                res.at_fail = p.outcome;
            }
            res.probes.push_back(std::move(p));
        }
    };
    // Upward the search stops at 16 times the scenario's rate (a run at a million connections a
    // second for its whole duration would take long): raise the rate with --set to look further.
    constexpr double kMin = 0.001;
    const double kMax = on_grid(base_total * 16);
    run_round({on_grid(base_total)});
    // Bracket: double (or halve) two steps at a time until one side passes and the other fails.
    while (!res.fail && *res.pass < kMax) run_round({on_grid(*res.pass * 2), on_grid(*res.pass * 4)});
    while (!res.pass && *res.fail > kMin) run_round({std::max(kMin, on_grid(*res.fail / 4)), std::max(kMin, on_grid(*res.fail / 2))});
    // Narrow: probes at the thirds of the bracket.
    while (res.pass && res.fail && (*res.fail - *res.pass) / *res.fail > opt.tolerance) {
        const double lo = *res.pass, hi = *res.fail;
        const double a = on_grid(lo + (hi - lo) / 3), b = on_grid(lo + 2 * (hi - lo) / 3);
        if (a <= lo || b >= hi || a >= b) break;  // the grid is reached
        run_round({a, b});
    }
    if (opt.progress && stderr_is_terminal()) std::fprintf(stderr, "\r%s\r", std::string(70, ' ').c_str());
    return res;
}

std::string capacity_text(const CapacityResult& r) {
    std::string out = fmt::format("tcpsim capacity: {} (seed {})", r.file, r.seed);
    for (const Override& o : r.sets) out += " --set " + o.text();
    out += "\n";
    std::string which;
    for (std::size_t k = 0; k < r.pointers.size(); ++k) which += fmt::format("{}{}", k ? ", " : "", r.pointers[k]);
    out += fmt::format("searched: the offered rate at {}{}, each run {} s, stopped at its first failure\n\n", which,
                       r.pointers.size() > 1 ? " (scaled together)" : "", fmt::format("{:g}", r.duration_s));
    auto split = [&](double total) {
        if (r.pointers.size() == 1) return std::string();
        std::string s = " (";
        for (std::size_t k = 0; k < r.pointers.size(); ++k)
            s += fmt::format("{}{} {:.1f}/s", k ? ", " : "", r.pointers[k], total * r.weights[k]);
        return s + ")";
    };
    if (!r.pass) {
        out += fmt::format("No rate runs without a failure: even {:.3f}/s fails.\n", *r.fail);
    } else if (!r.fail) {
        out += fmt::format("No failure up to {:.1f}/s, 16 times the scenario's rate, the largest tried (raise the rate with --set to "
                           "look further).\n", *r.pass);
        return out;
    } else {
        out += fmt::format("Capacity: {:.1f} new connections/s{} run {} s without a failure;\n", *r.pass, split(*r.pass),
                           fmt::format("{:g}", r.duration_s));
        out += fmt::format("          {:.1f}/s fails ({} runs, {:.2f}% apart)\n", *r.fail, r.probes.size(),
                           100.0 * (*r.fail - *r.pass) / *r.fail);
    }
    const Outcome& f = *r.at_fail;
    out += fmt::format("\nBinding constraint (at {:.1f}/s): {} at {:.3f} s on {}\n", *r.fail, f.first_errno, *f.first_failure_s, f.first_host);
    out += wrap("why: " + f.first_why, 2);
    const Outcome& a = r.at_pass ? *r.at_pass : f;
    // The ceiling is per client workload: compare it with the rate of that workload.
    std::optional<double> mine;
    std::string whose;
    if (r.pass && r.pointers.size() == 1) mine = *r.pass;
    if (r.pass && r.pointers.size() > 1 && a.analytic_workload)
        for (std::size_t k = 0; k < r.pointers.size(); ++k)
            if (r.pointers[k].rfind(fmt::format("/clients/{}/", *a.analytic_workload), 0) == 0) {
                mine = *r.pass * r.weights[k];
                whose = fmt::format(" (the rate at {}: {:.1f}/s)", r.pointers[k], *mine);
            }
    if (a.analytic && mine) {
        const double d = 100.0 * (*mine - *a.analytic) / *a.analytic;
        out += fmt::format("\nAnalytic ceiling: {:.1f}/s ({})\n", *a.analytic, a.analytic_basis);
        std::string note = fmt::format("The simulated capacity{} is {:.1f}% {} it", whose, std::abs(d), d < 0 ? "below" : "above");
        const nlohmann::json& h = a.time_wait_hold;
        if (std::abs(d) < 1.0) {
            note += ".";
        } else if (d < 0 && h.is_object()) {
            const double ports = h.at("ports").get<double>(), nominal = h.at("nominal_s").get<double>(), mean = h.at("mean_s").get<double>();
            const std::int64_t hz = h.at("linux_timer_wheel_hz").get<std::int64_t>();
            note += fmt::format(": {:.0f} ports / {:.1f}/s = {:.2f} s per port and connection, not {:g} s.", ports, *mine,
                                ports / *mine, nominal);
            if (hz > 0 && mean > nominal)
                // Linux (kernel/time/timer.c): a 60 s timer sits on wheel level 3, whose buckets are 512
                // ticks wide; it fires at the end of its bucket (2.048 s at HZ=250). The live kernel
                // fails below ports/60 s too: tools/kernel/experiments/rate-just-below-arithmetic.json.
                note += fmt::format(" TIME-WAIT on {} lasted {:.3f} s on average and up to {:.3f} s: Linux fires the TIME-WAIT timer on "
                                    "its timer wheel (HZ={}), at the end of a {:.3f} s bucket, and ports freed at one tick then wait "
                                    "their turn for a connect().",
                                    h.at("host").get<std::string>(), mean, nominal + 512.0 / static_cast<double>(hz), hz,
                                    512.0 / static_cast<double>(hz));
        } else {
            note += ".";
        }
        out += wrap(note, 2);
    }
    return out;
}

std::string capacity_json(const CapacityResult& r) {
    ordered_json j = tool_json_head("capacity", r.file, r.seed, r.sets);
    j["rate_pointers"] = r.pointers;
    j["duration_s"] = r.duration_s;
    j["capacity_per_s"] = r.pass ? ordered_json(*r.pass) : ordered_json(nullptr);
    j["lowest_failing_per_s"] = r.fail ? ordered_json(*r.fail) : ordered_json(nullptr);
    if (r.pass && r.pointers.size() > 1) {
        ordered_json per = ordered_json::object();
        for (std::size_t k = 0; k < r.pointers.size(); ++k) per[r.pointers[k]] = *r.pass * r.weights[k];
        j["capacity_by_pointer"] = per;
    }
    j["binding_constraint"] = r.at_fail ? r.at_fail->to_json()["first_failure"] : ordered_json(nullptr);
    const Outcome* a = r.at_pass ? &*r.at_pass : r.at_fail ? &*r.at_fail : nullptr;
    j["analytic_per_s"] = a && a->analytic ? ordered_json(*a->analytic) : ordered_json(nullptr);
    j["analytic_basis"] = a ? a->analytic_basis : "";
    ordered_json probes = ordered_json::array();
    for (const CapacityProbe& p : r.probes)
        probes.push_back({{"rate_per_s", p.total}, {"ok", p.ok},
                          {"first_failure", p.outcome.first_failure_s ? ordered_json(p.outcome.first_failure_text()) : ordered_json(nullptr)}});
    j["probes"] = probes;
    return j.dump(2) + "\n";
}

std::string capacity_csv(const CapacityResult& r) {
    std::string out = "probe,rate_per_s,ok,first_failure_s,first_failure_errno,first_failure_host\n";
    for (std::size_t k = 0; k < r.probes.size(); ++k) {
        const CapacityProbe& p = r.probes[k];
        out += fmt::format("{},{:.3f},{},", k + 1, p.total, p.ok ? 1 : 0);
        out += p.outcome.first_failure_s ? fmt::format("{:.6f},{},{}\n", *p.outcome.first_failure_s, p.outcome.first_errno, p.outcome.first_host)
                                         : std::string(",,\n");
    }
    return out;
}

}  // namespace tcpsim
