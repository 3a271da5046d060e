#include "whatif/capacity.hpp"

#include "scenario/json_reader.hpp"

#include "scenario/scenario.hpp"
#include "base/text_table.hpp"

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

namespace {

// The value a probe sets at the knob: a number (whole when the scenario's is), or for an array of
// addresses that many of them (the scenario's first ones, then the addresses after its last).
json knob_value(const CapacityResult& res, const json& base, double x) {
    if (!res.array) return res.integer ? json(static_cast<std::int64_t>(std::llround(x))) : json(on_grid(x));
    json a = base;
    const auto n = static_cast<std::size_t>(std::llround(x));
    while (a.size() > n) a.erase(a.size() - 1);
    std::uint32_t last = 0;
    (void)parse_ipv4(a.empty() ? base.back().get<std::string>() : a.back().get<std::string>(), last);
    while (a.size() < n) a.push_back(tcp::format_ip(++last));
    return a;
}

// Reads what --rate or --search names; fills res.pointers/weights (rates) or res.knob (--search).
void read_search_target(const json& doc, const std::string& file, const CapacityOptions& opt, CapacityResult& res, json& knob_base) {
    if (!opt.search_pointer.empty()) {
        const json* v = value_at(doc, opt.search_pointer);
        if (!v) throw ScenarioError(fmt::format("{}: {}: no such value in the scenario (--search)", file, opt.search_pointer));
        res.knob = opt.search_pointer;
        res.array = v->is_array() && !v->empty() && (*v)[0].is_string();
        if (!res.array && (!v->is_number() || v->get<double>() <= 0))
            throw ScenarioError(fmt::format("{}: {}: --search needs a positive number or an array of addresses here, found {}", file,
                                            opt.search_pointer, Reader::show(*v)));
        res.integer = res.array || v->is_number_integer();
        res.base = res.array ? static_cast<double>(v->size()) : v->get<double>();
        knob_base = *v;
        return;
    }
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
    std::vector<double> base_rates;
    for (const std::string& p : res.pointers) {
        const json* v = value_at(doc, p);
        if (!v) throw ScenarioError(fmt::format("{}: {}: no such value in the scenario (--rate)", file, p));
        if (!v->is_number() || v->get<double>() <= 0)
            throw ScenarioError(fmt::format("{}: {}: --rate needs a positive number here, found {}", file, p, Reader::show(*v)));
        base_rates.push_back(v->get<double>());
        res.base += v->get<double>();
    }
    for (double r : base_rates) res.weights.push_back(r / res.base);
}

// What a probe must meet, in one line.
std::string judge_of(const SloSpec& slo) {
    std::string o;
    auto add = [&](const std::string& x) { o += (o.empty() ? "" : ", ") + x; };
    if (slo.syn_retransmitted) add(fmt::format("at most {:g}% of connects with a retransmitted SYN", *slo.syn_retransmitted * 100));
    if (slo.connect_p50) add("connect p50 <= " + format_duration(*slo.connect_p50));
    if (slo.connect_p99) add("connect p99 <= " + format_duration(*slo.connect_p99));
    if (slo.connect_max) add("connect max <= " + format_duration(*slo.connect_max));
    add(slo.failed == 0 ? std::string("no failed request") : fmt::format("at most {:g}% failed", slo.failed * 100));
    if (slo.unfinished) add(fmt::format("at most {:g}% unfinished", *slo.unfinished * 100));
    return fmt::format("{}: {}", slo.given ? "the slo" : "the default judge", o);
}

}  // namespace

namespace {

// The search: probes run in rounds (each round's probes at once on the thread pool), first to
// find which way helps (for a knob other than the rate), then to bracket the answer between a
// passing and a failing value, then to narrow the bracket to the tolerance.
class CapacitySearch {
public:
    CapacitySearch(const std::string& text, const std::string& file, const std::vector<Override>& sets, const CapacityOptions& opt,
                   CapacityResult& res)
        : text_(text), file_(file), sets_(sets), opt_(opt), res_(res) {
        json doc = json::parse(text, nullptr, false);
        const Scenario base = parse_scenario(text, file, sets);  // validates; errors name the file
        apply_overrides(doc, sets, file);
        res.seed = base.seed;
        res.duration_s = static_cast<double>(base.duration.count()) / 1e9;
        read_search_target(doc, file, opt, res, knob_base_);
        res.judge = judge_of(base.forecast.slo);
        grid_ = res.integer ? 1.0 : 0.001;
        // Upward the search stops at 16 times the scenario's value (a run at a million connections a
        // second for its whole duration would take long): raise it with --set to look further.
        lo_end_ = grid_;
        hi_end_ = snap(res.base * 16);
    }

    void run() {
        if (!res_.knob.empty()) find_direction();
        else run_round({on_grid(res_.base)}, true);
        bracket();
        narrow();
        if (opt_.progress && stderr_is_terminal()) std::fprintf(stderr, "\r%s\r", std::string(70, ' ').c_str());
    }

private:
    double snap(double x) const { return res_.integer ? std::max(1.0, std::round(x)) : std::max(0.001, on_grid(x)); }
    bool better(double a, double b) const { return res_.more_helps ? a < b : a > b; }  // a passes "further" than b
    double worse_way(double x, double f) const { return res_.more_helps ? snap(x / f) : snap(x * f); }
    double better_way(double x, double f) const { return res_.more_helps ? snap(x * f) : snap(x / f); }
    bool in_range(double x) const { return x > lo_end_ - grid_ / 2 && x < hi_end_ + grid_ / 2; }

    // One probe: the value(s) set, stopped at the first failure or breach of an objective. A value
    // the scenario does not accept (a port above 65535) is a failing probe that says so.
    CapacityProbe probe(double x) const {
        std::vector<Override> o = sets_;
        if (res_.knob.empty())
            for (std::size_t k = 0; k < res_.pointers.size(); ++k) o.push_back(Override{res_.pointers[k], on_grid(x * res_.weights[k])});
        else
            o.push_back(Override{res_.knob, knob_value(res_, knob_base_, x)});
        o.push_back(Override{"/stop/first_failure", true});
        o.push_back(Override{"/stop/first_breach", true});
        CapacityProbe p;
        p.total = x;
        try {
            p.outcome = run_outcome(text_, file_, o);
        } catch (const ScenarioError& e) {
            p.outcome.first_failure_s = 0;
            p.outcome.first_errno = "invalid";
            p.outcome.first_host = "-";
            p.outcome.first_why = e.what();
        }
        p.ok = p.outcome.ok();
        return p;
    }

    void record(const CapacityProbe& p) {
        if (p.ok && (!res_.pass || better(p.total, *res_.pass))) {
            res_.pass = p.total;
            res_.at_pass = p.outcome;
        }
        if (!p.ok && (!res_.fail || better(*res_.fail, p.total))) {
            res_.fail = p.total;
            res_.at_fail = p.outcome;
        }
    }

    // One round of probes at once; `keep`: they count for the bracket. Returns which passed.
    std::vector<bool> run_round(std::vector<double> xs, bool keep) {
        ++round_;
        if (opt_.progress && stderr_is_terminal())
            std::fprintf(stderr, "\rcapacity: round %zu, probing %s...            ", round_,
                         xs.size() == 2 ? fmt::format("{:g} and {:g}", xs[0], xs[1]).c_str() : fmt::format("{:g}", xs[0]).c_str());
        const std::function<CapacityProbe(std::size_t)> job = [&](std::size_t i) { return probe(xs[i]); };
        std::vector<CapacityProbe> got = run_all<CapacityProbe>(xs.size(), opt_.threads, job);
        std::vector<bool> ok;
        for (CapacityProbe& p : got) {
            if (keep) record(p);
            ok.push_back(p.ok);
            res_.probes.push_back(std::move(p));
        }
        return ok;
    }

    // The direction: does more of the knob help (ports, processes, addresses) or hurt?
    void find_direction() {
        const double up = res_.integer ? std::max(res_.base * 2, res_.base + 1) : res_.base * 2;
        const std::vector<bool> first = run_round({snap(res_.base), snap(up)}, false);
        std::optional<bool> helps;
        if (first[0] != first[1]) helps = first[1];
        for (double f = 2; !helps && f <= 16; f *= 2) {
            const double down = snap(res_.base / f);
            if (first[0] && first[1]) {  // both pass: does less fail?
                if (down == snap(res_.base / (f / 2)) && f > 2) break;
                if (!run_round({down}, false)[0]) helps = true;
            } else {  // both fail: which way passes?
                const std::vector<bool> ok = run_round({snap(up * f), down}, false);
                if (ok[0]) helps = true;
                else if (ok[1]) helps = false;
            }
        }
        res_.more_helps = helps.value_or(first[0]);
        for (const CapacityProbe& p : res_.probes) record(p);
    }

    // Bracket: two steps at a time away from the side found, until one side passes and the other fails.
    void bracket() {
        while (res_.pass && !res_.fail && in_range(worse_way(*res_.pass, 2)) && worse_way(*res_.pass, 2) != *res_.pass)
            run_round({worse_way(*res_.pass, 2), worse_way(*res_.pass, 4)}, true);
        while (res_.fail && !res_.pass && in_range(better_way(*res_.fail, 2)) && better_way(*res_.fail, 2) != *res_.fail)
            run_round({better_way(*res_.fail, 4), better_way(*res_.fail, 2)}, true);
    }

    // Narrow: probes at the thirds of the bracket.
    void narrow() {
        while (res_.pass && res_.fail && std::abs(*res_.fail - *res_.pass) / std::max(*res_.fail, *res_.pass) > opt_.tolerance) {
            const double lo = std::min(*res_.pass, *res_.fail), hi = std::max(*res_.pass, *res_.fail);
            if (res_.integer) {
                if (hi - lo <= 1) break;  // neighbours: the grid is reached
                const double step = std::max(1.0, std::floor((hi - lo) / 3));
                const double a = lo + step, b = hi - step;
                run_round(a < b ? std::vector<double>{a, b} : std::vector<double>{a}, true);
                continue;
            }
            const double a = on_grid(lo + (hi - lo) / 3), b = on_grid(lo + 2 * (hi - lo) / 3);
            if (a <= lo || b >= hi || a >= b) break;  // the grid is reached
            run_round({a, b}, true);
        }
    }

    const std::string& text_;
    const std::string& file_;
    const std::vector<Override>& sets_;
    const CapacityOptions& opt_;
    CapacityResult& res_;
    json knob_base_;
    double grid_ = 1, lo_end_ = 1, hi_end_ = 1;
    std::size_t round_ = 0;
};

}  // namespace

CapacityResult find_capacity(const std::string& text, const std::string& file, const std::vector<Override>& sets,
                             const CapacityOptions& opt) {
    CapacityResult res;
    res.file = file;
    res.sets = sets;
    CapacitySearch(text, file, sets, opt, res).run();
    return res;
}

namespace {

// The answer for --search: the least (or most) value of the knob that meets the objectives.
std::string knob_text(const CapacityResult& r) {
    auto v = [&](double x) { return r.integer ? fmt::format("{:.0f}", x) : fmt::format("{:g}", x); };
    std::string out = fmt::format("searched: {}{} (the scenario's: {}); more of it {}; each run {:g} s, stopped at its first "
                                  "failure or breach\nobjectives: {}\n\n",
                                  r.knob, r.array ? " (how many addresses)" : "", v(r.base), r.more_helps ? "helps" : "hurts", r.duration_s,
                                  r.judge);
    if (!r.pass) return out + fmt::format("No value tried meets the objectives (tried {} runs).\n", r.probes.size());
    if (!r.fail)
        return out + fmt::format("Every value tried meets the objectives, up to {} (raise the scenario's value with --set to look "
                                 "further).\n", v(*r.pass));
    return out + fmt::format("{} {} that meets the objectives: {}; {} does not ({} runs)\n", r.more_helps ? "Least" : "Most", r.knob,
                             v(*r.pass), v(*r.fail), r.probes.size());
}

// What bound the search: the first failure or breach of the probe just past the answer.
std::string binding_text(const CapacityResult& r, const std::string& at) {
    const Outcome& f = *r.at_fail;
    const bool breach_first = f.first_breach_s && (!f.first_failure_s || *f.first_breach_s <= *f.first_failure_s);
    if (breach_first)
        return fmt::format("\nBinding constraint (at {}): {} breached at {:.3f} s on {}\n", at, f.breach_objective, *f.first_breach_s,
                           f.breach_host) +
               wrap("why: " + f.breach_why, 2);
    if (f.first_errno == "invalid") return fmt::format("\nBinding constraint (at {}): the scenario is not valid there\n", at) + wrap(f.first_why, 2);
    return fmt::format("\nBinding constraint (at {}): {} at {:.3f} s on {}\n", at, f.first_errno, *f.first_failure_s, f.first_host) +
           wrap("why: " + f.first_why, 2);
}

}  // namespace

std::string capacity_text(const CapacityResult& r) {
    std::string out = fmt::format("tcpsim capacity: {} (seed {})", r.file, r.seed);
    for (const Override& o : r.sets) out += " --set " + o.text();
    out += "\n";
    if (!r.knob.empty()) {
        out += knob_text(r);
        if (r.pass && r.fail) out += binding_text(r, r.integer ? fmt::format("{:.0f}", *r.fail) : fmt::format("{:g}", *r.fail));
        return out;
    }
    std::string which;
    for (std::size_t k = 0; k < r.pointers.size(); ++k) which += fmt::format("{}{}", k ? ", " : "", r.pointers[k]);
    out += fmt::format("searched: the offered rate at {}{}, each run {} s, stopped at its first failure or breach\nobjectives: {}\n\n",
                       which, r.pointers.size() > 1 ? " (scaled together)" : "", fmt::format("{:g}", r.duration_s), r.judge);
    auto split = [&](double total) {
        if (r.pointers.size() == 1) return std::string();
        std::string s = " (";
        for (std::size_t k = 0; k < r.pointers.size(); ++k)
            s += fmt::format("{}{} {:.1f}/s", k ? ", " : "", r.pointers[k], total * r.weights[k]);
        return s + ")";
    };
    if (!r.pass) {
        out += fmt::format("No rate meets the objectives: even {:.3f}/s fails or breaches one.\n", *r.fail);
    } else if (!r.fail) {
        out += fmt::format("No failure or breach up to {:.1f}/s, 16 times the scenario's rate, the largest tried (raise the rate with "
                           "--set to look further).\n", *r.pass);
        return out;
    } else {
        out += fmt::format("Capacity: {:.1f} new connections/s{} run {} s within the objectives;\n", *r.pass, split(*r.pass),
                           fmt::format("{:g}", r.duration_s));
        out += fmt::format("          {:.1f}/s does not ({} runs, {:.2f}% apart)\n", *r.fail, r.probes.size(),
                           100.0 * (*r.fail - *r.pass) / *r.fail);
    }
    const Outcome& f = *r.at_fail;
    out += binding_text(r, fmt::format("{:.1f}/s", *r.fail));
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
    j["search_pointer"] = r.knob.empty() ? ordered_json(nullptr) : ordered_json(r.knob);
    j["more_helps"] = r.knob.empty() ? ordered_json(nullptr) : ordered_json(r.more_helps);
    j["objectives"] = r.judge;
    j["duration_s"] = r.duration_s;
    j["capacity_per_s"] = r.pass ? ordered_json(*r.pass) : ordered_json(nullptr);
    j["lowest_failing_per_s"] = r.fail ? ordered_json(*r.fail) : ordered_json(nullptr);
    if (r.pass && r.pointers.size() > 1) {
        ordered_json per = ordered_json::object();
        for (std::size_t k = 0; k < r.pointers.size(); ++k) per[r.pointers[k]] = *r.pass * r.weights[k];
        j["capacity_by_pointer"] = per;
    }
    ordered_json bind = nullptr;
    if (r.at_fail) {
        const Outcome& f = *r.at_fail;
        const bool breach_first = f.first_breach_s && (!f.first_failure_s || *f.first_breach_s <= *f.first_failure_s);
        bind = f.to_json()[breach_first ? "first_breach" : "first_failure"];
    }
    j["binding_constraint"] = bind;
    const Outcome* a = r.at_pass ? &*r.at_pass : r.at_fail ? &*r.at_fail : nullptr;
    j["analytic_per_s"] = a && a->analytic ? ordered_json(*a->analytic) : ordered_json(nullptr);
    j["analytic_basis"] = a ? a->analytic_basis : "";
    ordered_json probes = ordered_json::array();
    for (const CapacityProbe& p : r.probes)
        probes.push_back({{"rate_per_s", p.total}, {"ok", p.ok},
                          {"first_failure", p.outcome.first_failure_s ? ordered_json(p.outcome.first_failure_text()) : ordered_json(nullptr)},
                          {"first_breach", p.outcome.first_breach_s ? ordered_json(p.outcome.first_breach_text()) : ordered_json(nullptr)}});
    j["probes"] = probes;
    return j.dump(2) + "\n";
}

std::string capacity_csv(const CapacityResult& r) {
    std::string out = "probe,rate_per_s,ok,first_failure_s,first_failure_errno,first_failure_host,first_breach_s,first_breach_objective,"
                      "first_breach_host\n";
    for (std::size_t k = 0; k < r.probes.size(); ++k) {
        const CapacityProbe& p = r.probes[k];
        out += fmt::format("{},{:.3f},{},", k + 1, p.total, p.ok ? 1 : 0);
        out += p.outcome.first_failure_s ? fmt::format("{:.6f},{},{}", *p.outcome.first_failure_s, p.outcome.first_errno, p.outcome.first_host)
                                         : std::string(",,");
        out += p.outcome.first_breach_s
                   ? fmt::format(",{:.6f},{},{}\n", *p.outcome.first_breach_s, p.outcome.breach_objective, p.outcome.breach_host)
                   : std::string(",,,\n");
    }
    return out;
}

}  // namespace tcpsim
