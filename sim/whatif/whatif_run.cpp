#include "whatif/whatif_run.hpp"

#include "forecast/forecast.hpp"
#include "scenario/json_reader.hpp"
#include "scenario/scenario.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <thread>
#include <unistd.h>

namespace tcpsim {

std::string Outcome::first_failure_text() const {
    if (!first_failure_s) return "none";
    return fmt::format("{:.3f} s {} on {}", *first_failure_s, first_errno, first_host);
}

std::string Outcome::first_breach_text() const {
    if (!first_breach_s) return "none";
    return fmt::format("{:.3f} s {} on {}", *first_breach_s, breach_objective, breach_host);
}

std::string Outcome::p99_text() const { return connect_p99_ms ? fmt::format("{:.3f}", *connect_p99_ms) : std::string("-"); }

nlohmann::ordered_json Outcome::to_json() const {
    nlohmann::ordered_json j;
    if (first_failure_s) {
        j["first_failure"] = {{"time_s", *first_failure_s}, {"host", first_host}, {"errno", first_errno}, {"why", first_why}};
    } else {
        j["first_failure"] = nullptr;
    }
    j["attempted"] = attempted;
    j["succeeded"] = succeeded;
    j["failed"] = failed;
    nlohmann::ordered_json fe = nlohmann::ordered_json::object();
    for (const auto& [k, n] : failures_by_errno) fe[k] = n;
    j["failures_by_errno"] = fe;
    j["offered_per_s"] = offered;
    j["sustained_per_s"] = sustained;
    j["analytic_per_s"] = analytic ? nlohmann::ordered_json(*analytic) : nlohmann::ordered_json(nullptr);
    j["analytic_basis"] = analytic_basis;
    j["analytic_workload"] = analytic_workload ? nlohmann::ordered_json(*analytic_workload) : nlohmann::ordered_json(nullptr);
    j["time_wait_hold"] = time_wait_hold;
    j["simulated_s"] = simulated_s;
    if (first_breach_s)
        j["first_breach"] = {{"time_s", *first_breach_s}, {"host", breach_host}, {"objective", breach_objective}, {"why", breach_why}};
    else
        j["first_breach"] = nullptr;
    j["unfinished"] = unfinished;
    j["connect_p99_ms"] = connect_p99_ms ? nlohmann::ordered_json(*connect_p99_ms) : nlohmann::ordered_json(nullptr);
    return j;
}

Outcome Outcome::from_json(const nlohmann::json& j, const Reader& r, const std::string& ptr) {
    // Each field checked with its JSON pointer: a shard file may have been edited or cut.
    auto number = [&](const nlohmann::json& obj, const std::string& at, const char* key) {
        const nlohmann::json& v = r.required(obj, at, key);
        if (!v.is_number()) r.fail(at + "/" + key, fmt::format("expected a number, found {}", Reader::show(v)));
        return v.get<double>();
    };
    Outcome o;
    const nlohmann::json& f = r.required(j, ptr, "first_failure");
    if (!f.is_null()) {
        const std::string at = ptr + "/first_failure";
        if (!f.is_object()) r.fail(at, fmt::format("expected an object or null, found {}", f.type_name()));
        o.first_failure_s = number(f, at, "time_s");
        o.first_host = r.str(f, at, "host", true);
        o.first_errno = r.str(f, at, "errno", true);
        o.first_why = r.str(f, at, "why", true);
    }
    o.attempted = r.uint(j, ptr, "attempted", true, 0, Reader::kMaxCount);
    o.succeeded = r.uint(j, ptr, "succeeded", true, 0, Reader::kMaxCount);
    o.failed = r.uint(j, ptr, "failed", true, 0, Reader::kMaxCount);
    const nlohmann::json& fe = r.required(j, ptr, "failures_by_errno");
    r.only_object(fe, ptr + "/failures_by_errno");
    for (const auto& [k, v] : fe.items()) o.failures_by_errno[k] = r.uint(fe, ptr + "/failures_by_errno", k.c_str(), true, 0, Reader::kMaxCount);
    o.offered = number(j, ptr, "offered_per_s");
    o.sustained = number(j, ptr, "sustained_per_s");
    if (!r.required(j, ptr, "analytic_per_s").is_null()) o.analytic = number(j, ptr, "analytic_per_s");
    o.analytic_basis = r.str(j, ptr, "analytic_basis", true);
    if (!r.required(j, ptr, "analytic_workload").is_null())
        o.analytic_workload = static_cast<int>(r.uint(j, ptr, "analytic_workload", true, 0, INT32_MAX));
    o.time_wait_hold = r.required(j, ptr, "time_wait_hold");
    o.simulated_s = number(j, ptr, "simulated_s");
    const nlohmann::json& b = r.required(j, ptr, "first_breach");
    if (!b.is_null()) {
        const std::string at = ptr + "/first_breach";
        if (!b.is_object()) r.fail(at, fmt::format("expected an object or null, found {}", b.type_name()));
        o.first_breach_s = number(b, at, "time_s");
        o.breach_host = r.str(b, at, "host", true);
        o.breach_objective = r.str(b, at, "objective", true);
        o.breach_why = r.str(b, at, "why", true);
    }
    o.unfinished = r.uint(j, ptr, "unfinished", true, 0, Reader::kMaxCount);
    if (!r.required(j, ptr, "connect_p99_ms").is_null()) o.connect_p99_ms = number(j, ptr, "connect_p99_ms");
    return o;
}

Outcome outcome_of(const nlohmann::ordered_json& d) {
    Outcome o;
    const auto& f = d.at("first_failure");
    if (!f.is_null()) {
        o.first_failure_s = f.at("time_s").get<double>();
        o.first_errno = f.at("errno").get<std::string>();
        o.first_host = f.at("host").get<std::string>();
        o.first_why = f.at("why").get<std::string>();
    }
    o.attempted = d.at("attempted").get<std::uint64_t>();
    o.succeeded = d.at("succeeded").get<std::uint64_t>();
    o.failed = d.at("failed").get<std::uint64_t>();
    for (const auto& [k, v] : d.at("failures_by_errno").items()) o.failures_by_errno[k] = v.get<std::uint64_t>();
    o.offered = d.at("steady_state").at("offered_per_s").get<double>();
    o.sustained = d.at("sustained_rate_per_s").get<double>();
    if (!d.at("analytic_rate_per_s").is_null()) o.analytic = d.at("analytic_rate_per_s").get<double>();
    o.analytic_basis = d.at("analytic_basis").get<std::string>();
    if (!d.at("analytic_workload").is_null()) o.analytic_workload = d.at("analytic_workload").get<int>();
    o.time_wait_hold = d.at("time_wait_hold");
    o.simulated_s = d.at("simulated_s").get<double>();
    if (const auto& b = d.at("first_breach"); !b.is_null()) {
        o.first_breach_s = b.at("time_s").get<double>();
        o.breach_host = b.at("host").get<std::string>();
        o.breach_objective = b.at("objective").get<std::string>();
        o.breach_why = b.at("why").get<std::string>();
    }
    o.unfinished = d.at("unfinished").at("total").get<std::uint64_t>();
    if (const auto& p = d.at("connect_latency_ms").at("p99"); !p.is_null()) o.connect_p99_ms = p.get<double>();
    return o;
}

Outcome run_outcome(const std::string& text, const std::string& file, const std::vector<Override>& sets) {
    const Scenario sc = parse_scenario(text, file, sets);
    return outcome_of(run_forecast(sc).doc);
}

unsigned worker_count(unsigned requested) {
    if (requested > 0) return requested;
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : hw;
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, std::size_t total, bool enabled)
    : label_(std::move(label)), total_(total), on_(enabled && total > 1) {
    update(0);
}

void ProgressBar::update(std::size_t done) {
    if (!on_) return;
    constexpr std::size_t kWidth = 30;
    const std::size_t filled = total_ == 0 ? kWidth : done * kWidth / total_;
    std::fprintf(stderr, "\r%s %zu/%zu [%s%s]", label_.c_str(), done, total_, std::string(filled, '=').c_str(),
                 std::string(kWidth - filled, ' ').c_str());
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (!on_) return;
    std::fprintf(stderr, "\r%s\r", std::string(label_.size() + 50, ' ').c_str());
    std::fflush(stderr);
}

nlohmann::ordered_json tool_json_head(const char* tool, const std::string& file, std::uint64_t seed,
                                      const std::vector<Override>& sets) {
    nlohmann::ordered_json j;
    j["tool"] = tool;
    j["scenario"] = file;
    j["seed"] = seed;
    nlohmann::ordered_json texts = nlohmann::ordered_json::array();
    for (const Override& o : sets) texts.push_back(o.text());
    j["overrides"] = texts;
    return j;
}

}  // namespace tcpsim
