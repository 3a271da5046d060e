// Verdicts (DESIGN.md §7): an errno is one kind of failure; latency past an objective and work
// left unfinished are others. The forecast judges each report interval against the scenario's
// service objectives ("slo", or --slo), or against the default judge when there are none: at
// most 1% of an interval's connects may need a retransmitted SYN, and no request may fail. The
// first breach of each objective is kept with where it was measured and why: the mechanism that
// dropped the SYNs, counted by the runner where the models drop them (WorldStats::syn_drops).
#include "forecast/forecast.hpp"

#include "base/text_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <cmath>

namespace tcpsim {

namespace {

std::string ms(std::int64_t ns) { return fmt::format("{:.3f} ms", static_cast<double>(ns) / 1e6); }
std::string percent(double share) { return fmt::format("{:g}%", share * 100); }
double round3(double x) { return std::round(x * 1000.0) / 1000.0; }


// The active objectives, in report order: (key, what it allows).
std::vector<std::pair<std::string, std::string>> objectives(const SloSpec& slo) {
    std::vector<std::pair<std::string, std::string>> out;
    if (slo.syn_retransmitted)
        out.emplace_back("syn_retransmitted",
                         fmt::format("at most {} of a report interval's connects need a retransmitted SYN", percent(*slo.syn_retransmitted)));
    if (slo.connect_p50) out.emplace_back("connect_p50", fmt::format("p50 connect latency at most {} in every report interval", format_duration(*slo.connect_p50)));
    if (slo.connect_p99) out.emplace_back("connect_p99", fmt::format("p99 connect latency at most {} in every report interval", format_duration(*slo.connect_p99)));
    if (slo.connect_max) out.emplace_back("connect_max", fmt::format("no connect slower than {}", format_duration(*slo.connect_max)));
    out.emplace_back("failed", slo.failed == 0 ? std::string("no request fails")
                                               : fmt::format("at most {} of a report interval's requests fail", percent(slo.failed)));
    if (slo.unfinished) out.emplace_back("unfinished", fmt::format("at most {} of the requests unfinished at the end", percent(*slo.unfinished)));
    return out;
}

nlohmann::ordered_json where_json(const std::vector<Place>& where) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const Place& p : where) a.push_back({{"node", p.node}, {"as", p.as}});
    return a;
}

}  // namespace

void Forecast::connect_latency(Duration d, bool /*syn_retransmitted*/, int host) {
    latencies_.add(d.count());
    interval_latencies_.add(d.count());
    ++cur_.connects;
    if (d.count() > interval_slowest_) {
        interval_slowest_ = d.count();
        interval_slowest_host_ = host;
    }
}

void Forecast::loop_process_done(std::uint32_t client) { ++loop_processes_done_[client]; }

std::optional<SimTime> Forecast::work_done_at() const {
    const auto& clients = sc_.forecast.clients;
    if (clients.empty()) return std::nullopt;
    for (std::size_t k = 0; k < clients.size(); ++k) {
        const app::ArrivalSpec& a = clients[k].arrival;
        if (a.kind != app::ArrivalKind::ClosedLoop || a.requests == 0 || loop_processes_done_[k] < a.processes) return std::nullopt;
    }
    return work_end_;
}

void Forecast::breach(const std::string& objective, SimTime from, int node, std::string measured, std::string why,
                      std::vector<Place> where) {
    for (const Breach& b : breaches_)
        if (b.objective == objective) return;
    breaches_.push_back(Breach{objective, from, w_.now(), node >= 0 ? w_.node_name(node) : std::string("-"), std::move(measured),
                               std::move(why), std::move(where)});
    if (sc_.forecast.stop.first_breach) w_.stop();
}

void Forecast::judge_interval(const Sample& s, SimTime from) {
    const SloSpec& slo = sc_.forecast.slo;
    // SYNs sent again in the interval against the connects begun in it (a stalled closed loop
    // begins none: then every retransmission counts).
    if (slo.syn_retransmitted && s.syn_retransmitted > 0) {
        const std::uint64_t base = std::max(s.opened, s.syn_retransmitted);
        const double share = static_cast<double>(s.syn_retransmitted) / static_cast<double>(base);
        const auto most = std::max_element(interval_retx_by_host_.begin(), interval_retx_by_host_.end());
        if (share > *slo.syn_retransmitted)
            breach("syn_retransmitted", from, static_cast<int>(most - interval_retx_by_host_.begin()),
                   fmt::format("{} connect(s) had to retransmit their SYN, {:.1f}% of the {} begun (at most {})", s.syn_retransmitted,
                               share * 100, s.opened, percent(*slo.syn_retransmitted)),
                   syn_drop_why(), syn_drop_places());
    }
    auto latency = [&](const char* key, const std::optional<Duration>& limit, const std::optional<std::int64_t>& v, const char* label) {
        if (limit && v && *v > limit->count())
            breach(key, from, interval_slowest_host_,
                   fmt::format("{} {} over {} connects (at most {})", label, ms(*v), s.connects, format_duration(*limit)), syn_drop_why(),
                   syn_drop_places());
    };
    latency("connect_p50", slo.connect_p50, s.p50, "p50");
    latency("connect_p99", slo.connect_p99, s.p99, "p99");
    latency("connect_max", slo.connect_max, s.max, "slowest");
    const std::uint64_t requests = s.completed + s.failed;
    if (s.failed > 0 && static_cast<double>(s.failed) > slo.failed * static_cast<double>(requests)) {
        const int node = last_ ? [&] {
            for (int n = 0; n < w_.node_count(); ++n)
                if (w_.node_name(n) == last_->node) return n;
            return -1;
        }()
                               : -1;
        breach("failed", from, node,
               fmt::format("{} of {} requests failed ({})", s.failed, requests,
                           slo.failed == 0 ? std::string("none allowed") : "at most " + percent(slo.failed)),
               failure_why(), last_ ? failure_places(last_->kind, last_->node) : syn_drop_places());
    }
}

// At the end of the run: the unfinished objective.
void Forecast::judge_end() {
    const SloSpec& slo = sc_.forecast.slo;
    const int where = sc_.forecast.clients.empty() ? -1 : sc_.host_index(sc_.forecast.clients.front().host);
    if (slo.unfinished && unfinished_.total() > 0) {
        const double planned = static_cast<double>(attempted_ + unfinished_.retrying + unfinished_.never_sent);
        const double share = static_cast<double>(unfinished_.total()) / std::max(1.0, planned);
        if (share > *slo.unfinished)
            breach("unfinished", end_, where,
                   fmt::format("{} of {:.0f} requests unfinished at the end (at most {})", unfinished_.total(), planned,
                               percent(*slo.unfinished)),
                   unfinished_.opening > 0 ? syn_drop_why() : unfinished_text(),
                   unfinished_.opening > 0 ? syn_drop_places() : std::vector<Place>{});
    }
}

// Why SYNs went unanswered so far, the biggest cause first: where and by which mechanism.
std::string Forecast::syn_drop_why() const {
    // Where the sender does not change the mechanism (a NAT without a port, an accept queue), the
    // drops of every sender add up into one cause; a TIME-WAIT's sender (a balancer's source NAT)
    // is part of its why.
    std::map<SynDropKey, std::uint64_t> merged;
    for (const auto& [k, n] : w_.stats().syn_drops)
        merged[SynDropKey{k.node, k.kind, k.kind == SynDrop::TimeWait ? k.from : -1}] += n;
    std::vector<std::pair<SynDropKey, std::uint64_t>> drops(merged.begin(), merged.end());
    std::stable_sort(drops.begin(), drops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string out;
    for (std::size_t i = 0; i < drops.size() && i < 2; ++i) {
        const auto& [k, n] = drops[i];
        const std::string node = w_.node_name(k.node);
        std::string one;
        switch (k.kind) {
            case SynDrop::TimeWait: {
                const HostSpec& h = sc_.hosts[static_cast<std::size_t>(k.node)];
                one = fmt::format("SYNs dropped by {}'s TIME-WAIT ({}): {} so far", node,
                                  h.tcp.time_wait_input == tcp::TimeWaitInput::FreeBsd ? "FreeBSD tcp_twcheck: SEQ not above RCV.NXT"
                                                                                        : "a SYN for a 4-tuple in TIME-WAIT, not answered",
                                  n);
                // A source-NAT balancer reused the 4-tuples: its ports come round sooner than the TIME-WAIT ends.
                const int lb = k.from - w_.host_count() - static_cast<int>(w_.nat_count());
                if (k.from >= 0 && lb >= 0 && static_cast<std::size_t>(lb) < sc_.forecast.balancers.size()) {
                    const net::NatConfig& nc = sc_.forecast.balancers[static_cast<std::size_t>(lb)].snat_config;
                    const double ports = static_cast<double>(nc.port_hi - nc.port_lo + 1) * static_cast<double>(nc.outer.size());
                    const Duration tw = h.time_wait();
                    one += fmt::format(", on 4-tuples that {}'s source NAT reused: {:.0f} SNAT ports / {} TIME-WAIT on {} = {:.1f}/s",
                                       w_.node_name(k.from), ports, format_duration(tw), node, ports / (static_cast<double>(tw.count()) / 1e9));
                }
                break;
            }
            case SynDrop::AcceptQueue: one = fmt::format("SYNs dropped by a full accept queue on {}: {} so far", node, n); break;
            case SynDrop::NatNoPort: one = fmt::format("SYNs dropped by {}: NAT had no port: {} so far", node, n); break;
            case SynDrop::TwRecycle:
                one = fmt::format("SYNs dropped by {}'s tcp_tw_recycle check (PAWSPassiveRejected): {} so far", node, n);
                break;
        }
        out += (out.empty() ? "" : "; ") + one;
    }
    if (!out.empty()) return out;
    if (w_.stats().segments_lost > 0) return fmt::format("segments lost on the links: {} so far (no SYN was dropped by a host or NAT)", w_.stats().segments_lost);
    return "no SYN was dropped by a host or NAT: the round trips themselves";
}

std::vector<Place> Forecast::syn_drop_places() const {
    // The same merge and order as syn_drop_why(); its first cause.
    std::map<SynDropKey, std::uint64_t> merged;
    for (const auto& [k, n] : w_.stats().syn_drops)
        merged[SynDropKey{k.node, k.kind, k.kind == SynDrop::TimeWait ? k.from : -1}] += n;
    const auto top = std::max_element(merged.begin(), merged.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    if (top == merged.end()) return {};
    const SynDropKey& k = top->first;
    if (k.kind == SynDrop::NatNoPort) return {Place{w_.node_name(k.node), "middlebox"}};
    std::vector<Place> out{Place{w_.node_name(k.node), "listener"}};
    // A NAT's or balancer's reused 4-tuples met the TIME-WAIT: its ports are part of the place.
    if (k.kind == SynDrop::TimeWait && k.from >= w_.host_count()) out.push_back(Place{w_.node_name(k.from), "middlebox"});
    return out;
}

std::vector<Place> Forecast::failure_places(const std::string& kind, const std::string& node) const {
    if (kind == "EADDRNOTAVAIL" || kind == "EADDRINUSE") return {Place{node, "opener"}};
    if (kind == "NAT drop") return {Place{node, "middlebox"}};
    return syn_drop_places();  // a timeout, refusal or reset: where the SYNs went, if they were dropped
}

std::string Forecast::failure_why() const {
    if (interval_failures_.empty()) return "";
    auto most = interval_failures_.begin();
    for (auto it = interval_failures_.begin(); it != interval_failures_.end(); ++it)
        if (it->second > most->second) most = it;
    const auto f = first_.find(most->first);
    std::string out = fmt::format("{} {} in the interval", most->second, most->first);
    if (f != first_.end())
        out += fmt::format("; the first {} at {} s on {}: {}", f->first, format_seconds(f->second.at), f->second.node, f->second.why);
    return out;
}

std::string Forecast::judge_text() const {
    const SloSpec& slo = sc_.forecast.slo;
    return slo.given ? "the scenario's slo" : "default judge: no slo given";
}

std::string Forecast::objectives_text() const {
    std::string out = fmt::format("Objectives ({}), judged per report interval of {}\n", judge_text(),
                                  format_duration(sc_.forecast.report_interval));
    for (const auto& [key, allows] : objectives(sc_.forecast.slo)) {
        const auto b = std::find_if(breaches_.begin(), breaches_.end(), [&](const Breach& x) { return x.objective == key; });
        if (b == breaches_.end()) {
            out += wrap(fmt::format("{:<18} met: {}", key, allows), 2, 21);
            continue;
        }
        const std::string when = b->from == b->at ? fmt::format("at the end, {} s,", format_seconds(b->at))
                                                  : fmt::format("in {}-{} s", format_seconds(b->from), format_seconds(b->at));
        out += wrap(fmt::format("{:<18} BREACHED {} on {}: {}", key, when, b->host, b->measured), 2, 21);
        out += wrap("why: " + b->why, 21);
    }
    return out;
}

std::string Forecast::unfinished_text() const {
    const Unfinished& u = unfinished_;
    if (u.total() == 0) return "none";
    std::string out;
    auto part = [&](std::uint64_t n, const std::string& what) {
        if (n) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", n, what);
    };
    part(u.opening, u.opening_retransmitted ? fmt::format("connections still opening (SYN-SENT; {} had retransmitted their SYN)",
                                                          u.opening_retransmitted)
                                            : std::string("connections still opening (SYN-SENT)"));
    part(u.awaiting, "requests waiting for a response");
    part(u.retrying, "failed requests waiting for their retry");
    part(u.never_sent, "requests never sent (closed-loop processes still waiting)");
    return out;
}

// Closed loops: when the work finished (or what was left), and the back-off after a failure.
std::string Forecast::closed_loop_text() const {
    std::string out;
    const auto& clients = sc_.forecast.clients;
    for (std::size_t k = 0; k < clients.size(); ++k) {
        const ClientSpec& c = clients[k];
        if (c.arrival.kind != app::ArrivalKind::ClosedLoop) continue;
        std::string line = fmt::format("Closed loop {}: {} processes x {}", c.name, c.arrival.processes,
                                       c.arrival.requests == 0 ? std::string("unbounded requests") : fmt::format("{} requests", c.arrival.requests));
        if (c.arrival.requests != 0 && loop_processes_done_[k] >= c.arrival.processes)
            line += fmt::format("; every request answered or failed by {} s", format_seconds(client_last_end_[k]));
        else if (c.arrival.requests != 0)
            line += fmt::format("; not finished at the end ({} of {} processes done)", loop_processes_done_[k], c.arrival.processes);
        const Duration wait = std::max(c.think_time, c.retry.backoff);
        line += fmt::format(". After a failure a process waits {} before its next request (retry back-off {}{}, {} retries)",
                            format_duration(wait), format_duration(c.retry.backoff),
                            c.retry.backoff == RetrySpec{}.backoff ? ", the default" : "", c.retry.attempts);
        out += wrap(line + ".", 0);
    }
    return out;
}

nlohmann::ordered_json Forecast::verdict_json() const {
    nlohmann::ordered_json j;
    const SloSpec& slo = sc_.forecast.slo;
    nlohmann::ordered_json o = nlohmann::ordered_json::object();
    o["default_judge"] = !slo.given;
    auto dur = [](const std::optional<Duration>& d) {
        return d ? nlohmann::ordered_json(static_cast<double>(d->count()) / 1e6) : nlohmann::ordered_json(nullptr);
    };
    o["connect_p50_ms"] = dur(slo.connect_p50);
    o["connect_p99_ms"] = dur(slo.connect_p99);
    o["connect_max_ms"] = dur(slo.connect_max);
    o["syn_retransmitted"] = slo.syn_retransmitted ? nlohmann::ordered_json(*slo.syn_retransmitted) : nlohmann::ordered_json(nullptr);
    o["failed"] = slo.failed;
    o["unfinished"] = slo.unfinished ? nlohmann::ordered_json(*slo.unfinished) : nlohmann::ordered_json(nullptr);
    j["slo"] = o;
    auto rec = [](const Breach& b) {
        return nlohmann::ordered_json{{"time_s", static_cast<double>(b.at.ns()) / 1e9},
                                      {"host", b.host},
                                      {"objective", b.objective},
                                      {"why", b.why},
                                      {"interval_from_s", static_cast<double>(b.from.ns()) / 1e9},
                                      {"measured", b.measured},
                                      {"where", where_json(b.where)}};
    };
    j["first_breach"] = breaches_.empty() ? nlohmann::ordered_json(nullptr) : rec(breaches_.front());
    nlohmann::ordered_json by = nlohmann::ordered_json::object();
    for (const Breach& b : breaches_) by[b.objective] = rec(b);
    j["breaches"] = by;
    const Unfinished& u = unfinished_;
    j["unfinished"] = {{"total", u.total()},           {"opening", u.opening},   {"opening_retransmitted", u.opening_retransmitted},
                       {"awaiting_response", u.awaiting}, {"retrying", u.retrying}, {"never_sent", u.never_sent}};
    const auto done = work_done_at();
    j["work_finished_s"] = done ? nlohmann::ordered_json(static_cast<double>(done->ns()) / 1e9) : nlohmann::ordered_json(nullptr);
    return j;
}

// When a closed loop answered (or failed) its last request; null for open arrivals and loops
// that did not finish.
nlohmann::ordered_json Forecast::loop_finished_json(std::size_t k) const {
    const app::ArrivalSpec& a = sc_.forecast.clients[k].arrival;
    if (a.kind != app::ArrivalKind::ClosedLoop || a.requests == 0 || loop_processes_done_[k] < a.processes) return nullptr;
    return static_cast<double>(client_last_end_[k].ns()) / 1e9;
}

// Per report interval: requests, connects and their latency percentiles (ms, nearest rank).
nlohmann::ordered_json Forecast::intervals_json() const {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    auto msv = [](const std::optional<std::int64_t>& ns) {
        return ns ? nlohmann::ordered_json(round3(static_cast<double>(*ns) / 1e6)) : nlohmann::ordered_json(nullptr);
    };
    for (const Sample& s : samples_)
        a.push_back({{"time_s", static_cast<double>(s.at.ns()) / 1e9},
                     {"offered", s.offered},
                     {"completed", s.completed},
                     {"failed", s.failed},
                     {"opened", s.opened},
                     {"syn_retransmitted", s.syn_retransmitted},
                     {"connects", s.connects},
                     {"connect_latency_ms", {{"p50", msv(s.p50)}, {"p99", msv(s.p99)}, {"max", msv(s.max)}}}});
    return a;
}

}  // namespace tcpsim
