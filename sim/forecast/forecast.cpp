#include "forecast/forecast.hpp"

#include "base/text_table.hpp"


#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tcpsim {

namespace {

const char* state_label(tcp::State s) {
    switch (s) {
        case tcp::State::Closed: return "CLOSED";
        case tcp::State::Listen: return "LISTEN";
        case tcp::State::SynSent: return "SYN-SENT";
        case tcp::State::SynReceived: return "SYN-RECEIVED";
        case tcp::State::Established: return "ESTABLISHED";
        case tcp::State::FinWait1: return "FIN-WAIT-1";
        case tcp::State::FinWait2: return "FIN-WAIT-2";
        case tcp::State::CloseWait: return "CLOSE-WAIT";
        case tcp::State::Closing: return "CLOSING";
        case tcp::State::LastAck: return "LAST-ACK";
        case tcp::State::TimeWait: return "TIME-WAIT";
    }
    return "?";
}

// The states shown in reports, netstat's order without CLOSED.
constexpr std::array<tcp::State, 10> kShown = {tcp::State::Established, tcp::State::SynSent,  tcp::State::SynReceived,
                                               tcp::State::FinWait1,    tcp::State::FinWait2, tcp::State::TimeWait,
                                               tcp::State::CloseWait,   tcp::State::LastAck,  tcp::State::Closing,
                                               tcp::State::Listen};

// Connections per second with the precision a small rate needs (0.53/s, 0.017/s).
std::string rate(double r) {
    if (r == 0 || r >= 100) return fmt::format("{:.1f}/s", r);
    if (r >= 1) return fmt::format("{:.2f}/s", r);
    return fmt::format("{:.3f}/s", r);
}

std::string ms(std::int64_t ns) { return fmt::format("{:.3f} ms", static_cast<double>(ns) / 1e6); }

}  // namespace

Forecast::Forecast(const Scenario& sc, World& w)
    : sc_(sc), w_(w), member_failed_(sc.hosts.size(), SimTime::never()), peaks_(sc.hosts.size(), StateCounts{}),
      per_client_(sc.forecast.clients.size()), interval_retx_by_host_(sc.hosts.size(), 0),
      loop_processes_done_(sc.forecast.clients.size(), 0), client_last_end_(sc.forecast.clients.size(), SimTime::zero()) {}

void Forecast::failure(const std::string& kind, int node, const std::string& syscall, tcp::SockAddr local, tcp::SockAddr remote,
                       bool request_failed, int client) {
    ++by_errno_[kind];
    ++failures_total_;
    auto addr_key = [](tcp::SockAddr a) { return (static_cast<std::uint64_t>(a.ip) << 16) | a.port; };
    // The host whose request failed (a NAT's drop belongs to the inside host that sent the SYN).
    const int member = kind == "NAT drop" ? w_.node_of_ip(local.ip) : node;
    if (member >= 0 && member < w_.host_count() && sc_.hosts[static_cast<std::size_t>(member)].group >= 0) {
        auto& at = member_failed_[static_cast<std::size_t>(member)];
        if (at.is_never()) at = w_.now();
    }
    if (kind == "NAT drop") {
        NatDrops& d = nat_drops_[node];
        ++d.syns;
        d.flows.emplace(addr_key(local), addr_key(remote));
        d.members.insert(local.ip);
    }
    if (request_failed) {
        if (client >= 0) {
            ++per_client_[static_cast<std::size_t>(client)].failed;
            client_last_end_[static_cast<std::size_t>(client)] = w_.now();
        }
        work_end_ = w_.now();
        ++interval_failures_[kind];
        if (last_ok_) onsets_.push_back(Onset{w_.now(), attempted_, succeeded_, failed_, per_client_});
        last_ok_ = false;
        ++failed_;
        ++cur_.failed;
    }
    if (!first_.count(kind)) {
        FailureRecord r;
        r.at = w_.now();
        r.kind = kind;
        r.node = w_.node_name(node);
        r.syscall = syscall;
        r.local = local;
        r.remote = remote;
        const std::string dropped = kind == "ETIMEDOUT" ? nat_dropped_why(local, remote) : "";
        if (!dropped.empty()) r.why = dropped;  // the NAT's figures, not the host's
        else if (kind == "EADDRINUSE" && syscall == "bind" && local.port == 0) r.why = explain_bind_pool(node, local, r.held);
        else r.why = explain(node, kind == "NAT drop" ? tcp::SockAddr{} : remote, r.held);
        if (kind == "ETIMEDOUT" && dropped.empty()) {
            // SYNs that vanish: dropped by the peer's tw_recycle check or on a full accept queue.
            const int peer = w_.node_of_ip(remote.ip);
            if (peer >= 0 && peer < w_.host_count() && w_.host(peer).recycle_drops() > 0)
                r.why += fmt::format("; {} has dropped {} SYNs in silence so far (tcp_tw_recycle: a timestamp behind the one "
                                     "remembered for that address, PAWSPassiveRejected)", w_.node_name(peer), w_.host(peer).recycle_drops());
            if (w_.stats().listen_overflows > 0)
                r.why += fmt::format("; {} SYNs or handshake ACKs were dropped on full accept queues", w_.stats().listen_overflows);
        }
        if (kind == "ECONNREFUSED") r.why = fmt::format("{} answered the SYN with an RST: nothing listened there", tcp::format_addr(remote));
        // A reset or refusal that follows another node's own failure at once is its consequence.
        if ((kind == "ECONNRESET" || kind == "ECONNREFUSED") && last_ && last_->node != r.node && r.at - last_->at <= Duration::ms(10))
            r.why = fmt::format("{} gave up on the request after its own {} at {} s ({})", last_->node, last_->kind,
                                format_seconds(last_->at), last_->syscall == "-" ? "no port for the SYN" : last_->syscall + "()");
        first_.emplace(kind, r);
        if (!first_any_) first_any_ = r;
    }
    last_ = LastFailure{w_.now(), kind, w_.node_name(node), syscall};
    const StopSpec& st = sc_.forecast.stop;
    if ((st.first_failure && failures_total_ >= 1) || (st.failures != 0 && failures_total_ >= st.failures)) w_.stop();
}

// What held the ports when a failure happened: on a host, its connections toward the remote
// address by state (TIME-WAIT mini-sockets included); on a NAT or balancer, its mappings.
std::string Forecast::explain(int node, tcp::SockAddr remote, std::vector<std::pair<std::string, std::int64_t>>& held) const {
    if (node >= w_.host_count()) {
        const auto idx = static_cast<std::size_t>(node - w_.host_count());
        net::Nat* nat = nullptr;
        if (idx < w_.nat_count()) nat = &w_.nat(idx);
        else nat = w_.balancer(idx - w_.nat_count()).snat();
        if (!nat) return "no flow entry could be made";
        nat->expire(w_.now());
        const net::NatCounts c = nat->counts();
        held = {{"NAT established", static_cast<std::int64_t>(c.established)},
                {"NAT transitory", static_cast<std::int64_t>(c.transitory)},
                {"NAT time-wait", static_cast<std::int64_t>(c.time_wait)}};
        const std::string reason = nat->last_exhaustion_reason();
        return fmt::format("{}{}{} mappings held: {} established, {} transitory, {} time-wait", reason, reason.empty() ? "" : "; ",
                           c.total(), c.established, c.transitory, c.time_wait);
    }
    const host::Host& h = w_.host(node);
    StateCounts toward{};
    std::int64_t total = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
        const host::Socket& s = h.at(static_cast<host::SocketId>(i));
        if (!s.alive || s.is_listener || s.ep.state() == tcp::State::Closed) continue;
        if (remote.ip != 0 && !(s.ep.tcb().remote == remote)) continue;
        ++toward[static_cast<std::size_t>(s.ep.state())];
        ++total;
    }
    h.for_each_time_wait([&](const host::TimeWaitSock& tw) {
        const host::FourTuple& t = tw.tuple;
        if (remote.ip != 0 && !(t.rip == remote.ip && t.rport == remote.port)) return;
        ++toward[static_cast<std::size_t>(tw.state())];
        ++total;
    });
    std::string parts;
    for (tcp::State s : kShown) {
        const std::int64_t n = toward[static_cast<std::size_t>(s)];
        if (n == 0 && s != tcp::State::TimeWait && s != tcp::State::Established) continue;
        held.emplace_back(state_label(s), n);
        parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", n, state_label(s));
    }
    const HostSpec& hs = sc_.hosts[static_cast<std::size_t>(node)];
    const std::uint32_t range = static_cast<std::uint32_t>(hs.stack.ports.hi - hs.stack.ports.lo + 1);
    if (remote.ip == 0) return fmt::format("{} connections on {}: {}", total, hs.name, parts);
    return fmt::format("{} connections toward {} ({} ports in {}-{}): {}", total, tcp::format_addr(remote), range,
                       hs.stack.ports.lo, hs.stack.ports.hi, parts);
}

std::string Forecast::explain_bind_pool(int node, tcp::SockAddr local, std::vector<std::pair<std::string, std::int64_t>>& held) const {
    const host::Host& h = w_.host(node);
    const HostSpec& hs = sc_.hosts[static_cast<std::size_t>(node)];
    const std::uint16_t lo = hs.stack.ports.lo, hi = hs.stack.ports.hi;
    std::vector<bool> used(65536, false);
    StateCounts by{};
    auto take = [&](std::uint32_t ip, std::uint16_t port, tcp::State s) {
        if (port < lo || port > hi || (local.ip != 0 && ip != local.ip)) return;
        used[port] = true;
        ++by[static_cast<std::size_t>(s)];
    };
    for (std::size_t i = 0; i < h.size(); ++i) {
        const host::Socket& s = h.at(static_cast<host::SocketId>(i));
        if (!s.alive || s.is_listener || s.ep.state() == tcp::State::Closed) continue;
        take(s.ep.tcb().local.ip, s.ep.tcb().local.port, s.ep.state());
    }
    h.for_each_time_wait([&](const host::TimeWaitSock& tw) { take(tw.tuple.lip, tw.tuple.lport, tw.state()); });
    const auto ports = std::count(used.begin(), used.end(), true);
    std::string parts;
    for (tcp::State s : kShown) {
        const std::int64_t n = by[static_cast<std::size_t>(s)];
        if (n == 0 && s != tcp::State::TimeWait && s != tcp::State::Established) continue;
        held.emplace_back(state_label(s), n);
        parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", n, state_label(s));
    }
    return fmt::format("{} of the {} ports in {}-{} on {} are held, toward every destination (bind(ip, 0) picks a port "
                       "without the destination, so one pool serves them all): {}",
                       ports, hi - lo + 1, lo, hi, tcp::format_ip(local.ip), parts);
}

std::string Forecast::nat_dropped_why(tcp::SockAddr local, tcp::SockAddr remote) const {
    const auto key = std::make_pair((static_cast<std::uint64_t>(local.ip) << 16) | local.port,
                                    (static_cast<std::uint64_t>(remote.ip) << 16) | remote.port);
    for (const auto& [node, d] : nat_drops_)
        if (d.flows.count(key))
            return fmt::format("its SYNs were dropped by {}, which had no port for them (see NAT drop); {} has dropped {} SYNs "
                               "of {} connections from {} inside host{} so far",
                               w_.node_name(node), w_.node_name(node), d.syns, d.flows.size(), d.members.size(),
                               d.members.size() == 1 ? "" : "s");
    return "";
}

std::string Forecast::nat_drop_summary() const {
    std::string out;
    for (const auto& [node, d] : nat_drops_)
        out += fmt::format("NAT drops on {}: {} SYNs, of {} distinct connections from {} inside host{}\n", w_.node_name(node),
                           d.syns, d.flows.size(), d.members.size(), d.members.size() == 1 ? "" : "s");
    return out;
}

void Forecast::finish() {
    // A last sample at the end; when the interval's own sample fell on that instant, what
    // happened after it is folded into that row instead of a second row with the same time.
    if (!samples_.empty() && samples_.back().at == w_.now()) {
        const Sample last = samples_.back();
        samples_.pop_back();
        cur_.offered += last.offered;
        cur_.completed += last.completed;
        cur_.failed += last.failed;
        cur_.connects += last.connects;
        cur_.opened += last.opened;
        interval_latencies_.merge(last_interval_latencies_);
        for (std::size_t k = 0; k < last.clients.size() && k < per_client_at_sample_.size(); ++k) {
            per_client_at_sample_[k].offered -= last.clients[k].offered;
            per_client_at_sample_[k].completed -= last.clients[k].completed;
            per_client_at_sample_[k].failed -= last.clients[k].failed;
        }
    }
    sample();
    judge_end();
}

void Forecast::sample() {
    cur_.at = w_.now();
    const SimTime from = samples_.empty() ? SimTime::zero() : samples_.back().at;
    cur_.p50 = interval_latencies_.nearest_rank(0.50);
    cur_.p99 = interval_latencies_.nearest_rank(0.99);
    cur_.max = interval_latencies_.max();
    // SYN retransmissions since the last sample, per host (the world counts them).
    const std::vector<std::uint64_t>& retx = w_.stats().syn_retransmitted;
    retx_at_sample_.resize(retx.size(), 0);
    cur_.syn_retransmitted = 0;
    for (std::size_t h = 0; h < retx.size(); ++h) {
        interval_retx_by_host_[h] = retx[h] - retx_at_sample_[h];
        cur_.syn_retransmitted += interval_retx_by_host_[h];
        retx_at_sample_[h] = retx[h];
    }
    cur_.states.clear();
    for (int h = 0; h < w_.host_count(); ++h) {
        StateCounts c = w_.state_counts(h);
        c[static_cast<std::size_t>(tcp::State::TimeWait)] += static_cast<std::int64_t>(w_.host(h).time_wait_count());
        c[static_cast<std::size_t>(tcp::State::FinWait2)] += static_cast<std::int64_t>(w_.host(h).fin_wait2_minisock_count());
        const StateCounts& pk = w_.state_peaks(h);
        for (std::size_t k = 0; k < c.size(); ++k)
            peaks_[static_cast<std::size_t>(h)][k] = std::max({peaks_[static_cast<std::size_t>(h)][k], c[k], pk[k]});
        cur_.states.push_back(c);
    }
    cur_.nats.clear();
    cur_.nat_address_ports.clear();
    auto add_nat = [&](net::Nat& n) {
        n.expire(w_.now());
        const net::NatCounts c = n.counts();
        std::uint64_t ports = 0;
        auto& peak = nat_address_peak_[cur_.nats.size()];
        auto& per_address = cur_.nat_address_ports.emplace_back();
        for (std::uint32_t a : n.config().outer) {
            const std::uint64_t used = n.ports_in_use(a);
            ports += used;
            per_address.emplace_back(a, used);
            peak[a] = std::max(peak[a], used);
        }
        cur_.nats.push_back({c.transitory, c.established, c.time_wait, ports});
    };
    for (std::size_t i = 0; i < w_.nat_count(); ++i) add_nat(w_.nat(i));
    for (std::size_t i = 0; i < w_.balancer_count(); ++i) {
        w_.balancer(i).expire(w_.now());
        if (net::Nat* n = w_.balancer(i).snat()) add_nat(*n);
    }
    per_client_at_sample_.resize(per_client_.size());
    cur_.clients.clear();
    for (std::size_t k = 0; k < per_client_.size(); ++k) {
        cur_.clients.push_back(Counts{per_client_[k].offered - per_client_at_sample_[k].offered,
                                      per_client_[k].completed - per_client_at_sample_[k].completed,
                                      per_client_[k].failed - per_client_at_sample_[k].failed});
        per_client_at_sample_[k] = per_client_[k];
    }
    samples_.push_back(cur_);
    judge_interval(samples_.back(), from);
    cur_ = Sample{};
    last_interval_latencies_ = interval_latencies_;
    interval_latencies_.clear();
    std::fill(interval_retx_by_host_.begin(), interval_retx_by_host_.end(), 0);
    interval_slowest_host_ = -1;
    interval_slowest_ = -1;
    interval_failures_.clear();
    end_ = w_.now();
}

// Steady state. Without failures: the second half of the run. Once ports run out, completions
// can come in waves (every freed port is taken at once and held a whole hold time again), so a
// window must span whole waves: it runs from the first onset of failure (every port in use) to
// the last one in the run, the same phase of the pattern; counts are taken at those instants.
Forecast::Rates Forecast::steady() const {
    Rates r;
    if (samples_.empty()) return r;
    if (onsets_.size() >= 2 && onsets_.back().at - onsets_.front().at >= sc_.forecast.report_interval * 10) {
        const Onset& a = onsets_.front();
        const Onset& b = onsets_.back();
        const double secs = static_cast<double>((b.at - a.at).count()) / 1e9;
        r.from = a.at;
        r.to = b.at;
        r.offered = static_cast<double>(b.offered - a.offered) / secs;
        r.completed = static_cast<double>(b.completed - a.completed) / secs;
        r.failed = static_cast<double>(b.failed - a.failed) / secs;
        for (std::size_t i = 0; i < per_client_.size(); ++i) {
            r.client_offered.push_back(static_cast<double>(b.clients[i].offered - a.clients[i].offered) / secs);
            r.client_completed.push_back(static_cast<double>(b.clients[i].completed - a.clients[i].completed) / secs);
        }
        return r;
    }
    // Without failures: the second half of the active period (a closed loop that finished its
    // work early is judged while it worked, not over the idle rest of the run).
    std::size_t n = samples_.size();
    if (const auto done = work_done_at())
        while (n > 1 && samples_[n - 2].at >= *done) --n;
    const std::size_t begin = n / 2;
    std::uint64_t o = 0, c = 0, fl = 0;
    std::vector<std::uint64_t> co(per_client_.size(), 0), cc(per_client_.size(), 0);
    for (std::size_t i = begin; i < n; ++i) {
        o += samples_[i].offered;
        c += samples_[i].completed;
        fl += samples_[i].failed;
        for (std::size_t k = 0; k < co.size() && k < samples_[i].clients.size(); ++k) {
            co[k] += samples_[i].clients[k].offered;
            cc[k] += samples_[i].clients[k].completed;
        }
    }
    r.from = begin == 0 ? SimTime::zero() : samples_[begin - 1].at;
    r.to = samples_[n - 1].at;
    const double secs = static_cast<double>((r.to - r.from).count()) / 1e9;
    if (secs <= 0) return r;
    r.offered = static_cast<double>(o) / secs;
    r.completed = static_cast<double>(c) / secs;
    r.failed = static_cast<double>(fl) / secs;
    for (std::size_t k = 0; k < co.size(); ++k) {
        r.client_offered.push_back(static_cast<double>(co[k]) / secs);
        r.client_completed.push_back(static_cast<double>(cc[k]) / secs);
    }
    return r;
}

std::optional<std::int64_t> Forecast::percentile(double q) const { return latencies_.nearest_rank(q); }

// How TIME-WAITs ended before their timer, over all hosts (transition-table rows for full
// TCBs, the hosts' counters for Linux mini-sockets).
std::string Forecast::time_wait_endings() const {
    std::uint64_t rst = 0, syn = 0, taken = 0, expired = w_.stats().time_wait_expired;
    for (const tcp::Transition& t : tcp::kTransitions) {
        if (t.from != tcp::State::TimeWait) continue;
        const std::uint64_t n = w_.rows_hit()[t.id];
        if (t.trigger == tcp::Trigger::RcvRst) rst += n;
        else if (t.trigger == tcp::Trigger::SynInTimeWait || t.trigger == tcp::Trigger::RcvSynReset) syn += n;
        else if (t.trigger == tcp::Trigger::Timeout2Msl) expired += n;
    }
    for (int h = 0; h < w_.host_count(); ++h) {
        rst += w_.host(h).time_wait_ends().by_rst;
        syn += w_.host(h).time_wait_ends().by_syn;
        taken += w_.host(h).time_wait_ends().taken_over;
    }
    return fmt::format("{} expired, {} closed by an RST (TIME-WAIT assassination, RFC 1337), {} ended by a new SYN, "
                       "{} taken over by connect() (tcp_tw_reuse)", expired, rst, syn, taken);
}

std::string Forecast::text() const {
    const Rates st = steady();
    std::string out = header_text();
    out += "Answer: first failure of each kind\n";
    bool any = false;
    std::string none;
    for (const char* k : kFailureKinds) {
        auto it = first_.find(k);
        if (it == first_.end()) {
            none += fmt::format("{}{}", none.empty() ? "" : ", ", k);
            continue;
        }
        any = true;
        const FailureRecord& r = it->second;
        if (r.syscall == "-")
            out += fmt::format("  {:<13} at {} s on {}: SYN {} -> {} dropped, no port left\n", r.kind, format_seconds(r.at), r.node,
                               tcp::format_addr(r.local), tcp::format_addr(r.remote));
        else if (r.remote.ip == 0)
            out += fmt::format("  {:<13} at {} s on {}: {}() on {}\n", r.kind, format_seconds(r.at), r.node, r.syscall,
                               tcp::format_addr(r.local));
        else
            out += fmt::format("  {:<13} at {} s on {}: {}() {} -> {}\n", r.kind, format_seconds(r.at), r.node, r.syscall,
                               tcp::format_addr(r.local), tcp::format_addr(r.remote));
        out += wrap("why: " + r.why, 16);
    }
    for (const auto& [k, r] : first_) {
        if (std::find_if(kFailureKinds.begin(), kFailureKinds.end(), [&](const char* x) { return k == x; }) != kFailureKinds.end()) continue;
        any = true;
        out += fmt::format("  {:<13} at {} s on {}: {}() {} -> {}\n", r.kind, format_seconds(r.at), r.node, r.syscall,
                           tcp::format_addr(r.local), tcp::format_addr(r.remote));
        out += wrap("why: " + r.why, 16);
    }
    if (!any && breaches_.empty()) out += "  no failure: the workload ran to the end without an error\n";
    if (!any && !breaches_.empty()) out += "  no failure with an errno, but the service degraded: see Objectives\n";
    if (!none.empty() && any) out += fmt::format("  none of: {}\n", none);
    out += "\n";
    out += objectives_text();
    out += fmt::format("\nRequests: {} attempted, {} succeeded, {} failed, {} unfinished; {} connections opened\n", attempted_, succeeded_,
                       failed_, unfinished_.total(), connections_);
    out += wrap("Unfinished at the end: " + unfinished_text(), 0, 2);
    out += closed_loop_text();
    if (!by_errno_.empty()) {
        out += "Failures by kind:";
        for (const auto& [k, n] : by_errno_) out += fmt::format(" {} {}", k, n);
        out += "\n";
    }
    out += nat_drop_summary();
    out += fleet_summary();
    out += fmt::format("\nSteady state ({} s to {} s)\n", format_seconds(st.from), format_seconds(st.to));
    out += fmt::format("  offered   {:>12}\n  completed {:>12}\n  failed    {:>12}\n", rate(st.offered), rate(st.completed), rate(st.failed));
    const auto p50 = percentile(0.50), p99 = percentile(0.99);
    if (p50) {
        const std::int64_t mx = *latencies_.max();
        out += fmt::format("Connect latency: p50 {}, p99 {}, max {} ({} connects)\n", ms(*p50), ms(*p99), ms(mx), latencies_.size());
    } else {
        out += "Connect latency: no connection was established\n";
    }
    out += workload_rates_text(st);
    const Analytic an = analytic();
    out += budget_text(an);
    out += ceiling_text(an, st);
    out += wrap("TIME-WAIT endings: " + time_wait_endings() + ".", 0);
    out += "\nPeak states per host (TIME-WAIT includes the kernel's mini-sockets)\n";
    std::string head = fmt::format("  {:<12}", "host");
    for (tcp::State s : kShown) head += fmt::format(" {}", state_label(s));
    out += head + "\n";
    out += state_rows(peaks_, false);
    out += fmt::format("\nStates at the end ({} s), like netstat -tan | sort | uniq -c\n", format_seconds(end_));
    out += head + "\n";
    if (!samples_.empty()) {
        const Sample& last = samples_.back();
        out += state_rows(last.states, true);
        std::size_t k = 0;
        auto nat_line = [&](const std::string& name) {
            const auto& n = last.nats[k++];
            out += fmt::format("  NAT {}: {} established, {} transitory, {} time-wait mappings; {} ports in use\n", name, n[1], n[0],
                               n[2], n[3]);
        };
        for (std::size_t i = 0; i < w_.nat_count(); ++i) nat_line(w_.nat_name(i));
        for (std::size_t i = 0; i < w_.balancer_count(); ++i)
            if (w_.balancer(i).snat()) nat_line(w_.balancer_name(i) + " (source NAT)");
    }
    return out;
}

// The run: the file, its seed and overrides, its name and warnings, the simulated time.
std::string Forecast::header_text() const {
    std::string out;
    out += fmt::format("tcpsim run: {} (seed {})", sc_.file, sc_.seed);
    for (const std::string& o : sc_.overrides) out += fmt::format(" --set {}", o);
    out += "\n";
    if (!sc_.name.empty()) out += fmt::format("{}\n", sc_.name);
    for (const std::string& warn : sc_.warnings) out += wrap("Warning: " + warn, 2);
    out += fmt::format("simulated {} s{}\n\n", format_seconds(end_), w_.stopped() ? " (stopped by the stop condition)" : "");

    return out;
}

// Each client workload's offered and completed rate (a fleet's as one), when there are several.
std::string Forecast::workload_rates_text(const Rates& st) const {
    std::string out;
    if (sc_.forecast.clients.size() > 1 && st.client_completed.size() == sc_.forecast.clients.size()) {
        out += "  per workload:";
        for (std::size_t k = 0; k < sc_.forecast.clients.size(); ++k) {
            const ClientSpec& c = sc_.forecast.clients[k];
            if (c.group >= 0) {  // a fleet's workloads: one entry for them all, at the first
                if (k > 0 && sc_.forecast.clients[k - 1].group == c.group) continue;
                double o = 0, d = 0;
                std::size_t n = 0;
                for (std::size_t j = k; j < sc_.forecast.clients.size() && sc_.forecast.clients[j].group == c.group; ++j, ++n) {
                    o += st.client_offered[j];
                    d += st.client_completed[j];
                }
                out += fmt::format("{} {} workloads on {} offered {}, completed {}", k ? ";" : "", n,
                                   sc_.groups[static_cast<std::size_t>(c.group)].name, rate(o), rate(d));
                continue;
            }
            out += fmt::format("{} {} offered {}, completed {}", k ? ";" : "", c.name, rate(st.client_offered[k]), rate(st.client_completed[k]));
        }
        out += "\n";
    }
    return out;
}

// The concurrency budget: the time the ports last at the offered rate.
std::string Forecast::budget_text(const Analytic& an) const {
    std::string out;
    if (an.budget > 0 && an.budget_client >= 0) {
        const ClientSpec& c = sc_.forecast.clients[static_cast<std::size_t>(an.budget_client)];
        if (an.budget_rate > 0) {
            const double t = an.budget / an.budget_rate + static_cast<double>(c.arrival.start.ns()) / 1e9;
            out += wrap(fmt::format("Analytic time to exhaustion: {} / {} offered = {:.3f} s (valid while shorter than the hold time){}",
                                    an.budget_basis, rate(an.budget_rate), t,
                                    first_any_ ? fmt::format("; simulated first failure at {} s", format_seconds(first_any_->at)) : ""),
                        0);
        }
    }
    return out;
}

// The rate ceiling of the path, compared with what the simulation sustained.
std::string Forecast::ceiling_text(const Analytic& an, const Rates& st) const {
    std::string out;
    if (an.rate > 0) {
        out += fmt::format("Analytic ceiling: {} ({})\n", rate(an.rate), an.basis);
        // Compared with the workload whose path the ceiling limits.
        // Workloads that share the place add up (two workloads to one destination, a bind(0) pool).
        bool one = !an.clients.empty();
        double sim = 0, offered = 0;
        for (int k : an.clients) {
            one = one && static_cast<std::size_t>(k) < st.client_completed.size();
            if (!one) break;
            sim += st.client_completed[static_cast<std::size_t>(k)];
            offered += st.client_offered[static_cast<std::size_t>(k)];
        }
        if (!one) {
            sim = st.completed;
            offered = st.offered;
        }
        const std::string note = analytic_note(an, sim, offered);
        out += wrap(note, 2);
    } else {
        out += "Analytic ceiling: none (no TIME-WAIT or mapping holds a port per connection on this path)\n";
    }

    return out;
}

// Why the simulated rate differs from the ceiling, or that it agrees.
std::string Forecast::analytic_note(const Analytic& an, double sim, double offered) const {
    const double diff = std::abs(sim - an.rate) / an.rate;
    std::string note;
    const bool ran_out = by_errno_.count("EADDRNOTAVAIL") || by_errno_.count("EADDRINUSE") || by_errno_.count("NAT drop");
    if (offered < an.rate * 0.99 && !ran_out)
        note += fmt::format("The {} {}, below the ceiling: ports are not the limit.",
                            an.clients.size() > 1 ? fmt::format("{} workloads that share it offer", an.clients.size())
                                                  : std::string("workload offers"),
                            rate(offered));
    else if (sim == 0 && offered > 0)
        note += "No request completed in the steady window (the responses take longer than the run): connections pile up, "
                "so the concurrency budget and the time to exhaustion apply, not the rate ceiling.";
    else if (offered < an.rate * 0.99)
        note += fmt::format("Ports ran out although the average offered rate ({}) is below the ceiling: the load came in "
                            "bursts faster than the ceiling, before the first ports came back.", rate(offered));
    else if (diff <= 0.01)
        note += fmt::format("Simulated {} agrees with the estimate within 1%.", rate(sim));
    else if (sim < an.rate) {
        note += fmt::format("Simulated {} is {:.1f}% below the estimate.", rate(sim), diff * 100);
        const host::Host* th = an.tw_host >= 0 ? &w_.host(an.tw_host) : nullptr;
        const double nominal = static_cast<double>(an.hold.count()) / 1e9;
        if (th && th->time_wait_held_count() > 0) {
            const double held = static_cast<double>(th->time_wait_held().count()) / 1e9 /
                                static_cast<double>(th->time_wait_held_count());
            if (held > nominal * 1.002)
                note += fmt::format(" TIME-WAIT on {} lasted {:.2f} s on average, not {:.0f} s: Linux fires the TIME-WAIT timer on "
                                   "its timer wheel, at HZ={} up to {:.3f} s late. Ports freed together at one tick then wait "
                                   "their turn for a connect(): each port comes round every {:.2f} s ({:.0f} / {}).",
                                   th->name(), held, nominal, th->stack().hz, 512.0 / static_cast<double>(th->stack().hz),
                                   an.ports / sim, an.ports, rate(sim));
            else
                note += " The estimate ignores connect latency, retransmitted SYNs and failures elsewhere on the path.";
        } else {
            note += " The estimate ignores connect latency, retransmitted SYNs and failures elsewhere on the path.";
        }
    }
    else
        note += fmt::format("Simulated {} is {:.1f}% above: ports came back before the hold ended ({}).", rate(sim), diff * 100,
                            time_wait_endings());
    return note;
}

// The state table's rows: one per host, and one per fleet (the sum over its members at the end,
// the busiest member's figure for peaks), so that a fleet of hundreds fits a screen.
std::string Forecast::state_rows(const std::vector<StateCounts>& per_host, bool sum) const {
    std::string out;
    auto row = [&](const std::string& name, const StateCounts& c) {
        std::string line = fmt::format("  {:<12}", name);
        for (tcp::State s : kShown) line += fmt::format(" {:>{}}", c[static_cast<std::size_t>(s)], std::string_view(state_label(s)).size());
        out += line + "\n";
    };
    for (std::size_t h = 0; h < sc_.hosts.size() && h < per_host.size(); ++h) {
        const int g = sc_.hosts[h].group;
        if (g < 0) {
            row(sc_.hosts[h].name, per_host[h]);
            continue;
        }
        const HostGroup& gr = sc_.groups[static_cast<std::size_t>(g)];
        if (h != gr.first) continue;
        StateCounts c{};
        for (std::size_t m = gr.first; m < gr.first + gr.count; ++m)
            for (std::size_t k = 0; k < c.size(); ++k) c[k] = sum ? c[k] + per_host[m][k] : std::max(c[k], per_host[m][k]);
        row(gr.name, c);
        out += fmt::format("  {:<12} ({} members: {})\n", "", gr.count, sum ? "the sum over them" : "the busiest member's figure");
    }
    return out;
}

// Each fleet: how many members ran out and when, members without a NAT port block; each NAT with
// fleet members behind it: ports in use per outer address; requests per destination.
std::string Forecast::fleet_summary() const {
    if (sc_.groups.empty()) return "";
    std::string out;
    for (const HostGroup& g : sc_.groups) {
        std::size_t ran_out = 0, first = 0, last = 0;
        for (std::size_t m = g.first; m < g.first + g.count; ++m) {
            if (member_failed_[m].is_never()) continue;
            if (ran_out == 0 || member_failed_[m] < member_failed_[first]) first = m;
            if (ran_out == 0 || member_failed_[m] > member_failed_[last]) last = m;
            ++ran_out;
        }
        out += fmt::format("\nFleet {}: {} members, {} ran out", g.name, g.count, ran_out);
        if (ran_out > 0)
            out += fmt::format(" (first {} at {} s, last {} at {} s)", sc_.hosts[first].name, format_seconds(member_failed_[first]),
                               sc_.hosts[last].name, format_seconds(member_failed_[last]));
        out += "\n";
        for (std::size_t i = 0; i < w_.nat_count(); ++i) {
            const net::Nat& n = w_.nat(i);
            if (n.config().assign != net::NatAssign::Blocks) continue;
            std::size_t inside = 0, without = 0;
            for (const std::string& in : sc_.forecast.nats[i].inside) {
                const int h = sc_.host_index(in);
                if (sc_.hosts[static_cast<std::size_t>(h)].group != static_cast<int>(&g - sc_.groups.data())) continue;
                ++inside;
                if (!n.has_block(sc_.hosts[static_cast<std::size_t>(h)].ip)) ++without;
            }
            if (inside == 0) continue;
            out += fmt::format("  behind NAT {}: {} members, {} without a port block at the end ({} blocks of {} ports: {} "
                               "addresses x {})\n",
                               w_.nat_name(i), inside, without, static_cast<std::uint64_t>(n.blocks_per_address()) * n.config().outer.size(),
                               n.config().ports_per_host, n.config().outer.size(), n.blocks_per_address());
        }
    }
    out += nat_address_table();
    out += destination_table();
    return out;
}

std::string Forecast::nat_address_table() const {
    std::string out;
    for (std::size_t i = 0; i < w_.nat_count(); ++i) {
        const net::Nat& n = w_.nat(i);
        const auto peaks = nat_address_peak_.find(i);
        // Two addresses a line, so that a NAT of many addresses stays short.
        const bool blocks = n.config().assign == net::NatAssign::Blocks;
        const std::string col = fmt::format("{:<16} {:>10} {:>10}{}", "address", "at the end", "peak", blocks ? " blocks" : "");
        const auto& outer = n.config().outer;
        out += fmt::format("NAT {}: ports in use per outer address\n  {}{}\n", w_.nat_name(i), col, outer.size() > 1 ? "   " + col : "");
        for (std::size_t k = 0; k < outer.size(); ++k) {
            const std::uint32_t a = outer[k];
            std::uint64_t peak = 0;
            if (peaks != nat_address_peak_.end())
                if (auto it = peaks->second.find(a); it != peaks->second.end()) peak = it->second;
            out += fmt::format("{}{:<16} {:>10} {:>10}{}", k % 2 ? "   " : "  ", tcp::format_ip(a), n.ports_in_use(a), peak,
                               blocks ? fmt::format(" {:>6}", n.blocks_given(a)) : "");
            if (k % 2 || k + 1 == outer.size()) out += "\n";
        }
    }
    return out;
}

std::string Forecast::destination_table() const {
    struct Dest {
        std::size_t workloads = 0;
        Counts c;
    };
    std::map<std::string, Dest> by;  // by target as written: ordered, deterministic
    for (std::size_t k = 0; k < sc_.forecast.clients.size(); ++k) {
        Dest& d = by[sc_.forecast.clients[k].target.text];
        ++d.workloads;
        d.c.offered += per_client_[k].offered;
        d.c.completed += per_client_[k].completed;
        d.c.failed += per_client_[k].failed;
    }
    std::string out = "Per destination:\n";
    for (const auto& [t, d] : by)
        out += fmt::format("  {:<24} {} workloads: {} requests, {} succeeded, {} failed\n", t, d.workloads, d.c.offered, d.c.completed,
                           d.c.failed);
    return out;
}

std::string Forecast::json() const { return json_doc().dump(2) + "\n"; }

nlohmann::ordered_json Forecast::json_doc() const {
    nlohmann::ordered_json j;
    j["scenario"] = sc_.file;
    j["seed"] = sc_.seed;
    if (!sc_.overrides.empty()) j["overrides"] = sc_.overrides;
    std::string profile;
    for (const HostSpec& h : sc_.hosts)
        if (profile.empty()) profile = h.profile;
    j["profile"] = profile.empty() ? "rfc9293" : profile;
    j["simulated_s"] = static_cast<double>(end_.ns()) / 1e9;
    j["stopped_early"] = w_.stopped();
    add_failures_json(j);
    j["attempted"] = attempted_;
    j["succeeded"] = succeeded_;
    j["failed"] = failed_;
    j["connections_opened"] = connections_;
    nlohmann::ordered_json peaks = nlohmann::ordered_json::object();
    for (std::size_t h = 0; h < sc_.hosts.size(); ++h) {
        nlohmann::ordered_json p;
        for (tcp::State s : kShown) p[state_label(s)] = peaks_[h][static_cast<std::size_t>(s)];
        peaks[sc_.hosts[h].name] = p;
    }
    j["peak_states"] = peaks;
    const Rates st = steady();
    auto round1 = [](double x) { return std::round(x * 1000.0) / 1000.0; };  // rates to 0.001/s
    j["steady_state"] = {{"from_s", static_cast<double>(st.from.ns()) / 1e9}, {"to_s", static_cast<double>(st.to.ns()) / 1e9},
                         {"offered_per_s", round1(st.offered)}, {"completed_per_s", round1(st.completed)},
                         {"failed_per_s", round1(st.failed)}};
    j["sustained_rate_per_s"] = round1(st.completed);
    add_analytic_json(j);
    nlohmann::ordered_json wl = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < sc_.forecast.clients.size() && k < st.client_completed.size(); ++k)
        wl.push_back({{"name", sc_.forecast.clients[k].name}, {"offered_per_s", round1(st.client_offered[k])},
                      {"completed_per_s", round1(st.client_completed[k])},
                      {"finished_s", loop_finished_json(k)}});
    j["workloads"] = wl;
    nlohmann::ordered_json lat;
    const auto p50 = percentile(0.50), p99 = percentile(0.99);
    auto msv = [](std::int64_t ns) { return std::round(static_cast<double>(ns) / 1e3) / 1e3; };
    lat["p50"] = p50 ? nlohmann::ordered_json(msv(*p50)) : nlohmann::ordered_json(nullptr);
    lat["p99"] = p99 ? nlohmann::ordered_json(msv(*p99)) : nlohmann::ordered_json(nullptr);
    lat["max"] = latencies_.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(msv(*latencies_.max()));
    lat["count"] = latencies_.size();
    j["connect_latency_ms"] = lat;
    nlohmann::ordered_json end_states = nlohmann::ordered_json::object();
    if (!samples_.empty())
        for (std::size_t h = 0; h < sc_.hosts.size(); ++h) {
            nlohmann::ordered_json p;
            for (tcp::State s : kShown) p[state_label(s)] = samples_.back().states[h][static_cast<std::size_t>(s)];
            end_states[sc_.hosts[h].name] = p;
        }
    j["end_states"] = end_states;
    const nlohmann::ordered_json verdict = verdict_json();
    for (auto it = verdict.begin(); it != verdict.end(); ++it) j[it.key()] = *it;
    j["intervals"] = intervals_json();
    return j;
}

// The first failure, the first of each kind, and the failures counted by errno.
void Forecast::add_failures_json(nlohmann::ordered_json& j) const {
    auto rec = [](const FailureRecord& r) {
        nlohmann::ordered_json f;
        f["time_s"] = static_cast<double>(r.at.ns()) / 1e9;
        f["host"] = r.node;
        f["errno"] = r.kind;
        f["syscall"] = r.syscall;
        f["local"] = tcp::format_addr(r.local);
        f["remote"] = tcp::format_addr(r.remote);
        f["why"] = r.why;
        nlohmann::ordered_json held = nlohmann::ordered_json::object();
        for (const auto& [k, v] : r.held) held[k] = v;
        f["held"] = held;
        return f;
    };
    j["first_failure"] = first_any_ ? rec(*first_any_) : nlohmann::ordered_json(nullptr);
    nlohmann::ordered_json by_kind = nlohmann::ordered_json::object();
    for (const auto& [k, r] : first_) by_kind[k] = rec(r);
    j["first_failure_by_kind"] = by_kind;
    nlohmann::ordered_json fe = nlohmann::ordered_json::object();
    for (const auto& [k, n] : by_errno_) fe[k] = n;
    j["failures_by_errno"] = fe;
}

// The analytic ceiling and budget, and how long TIME-WAIT really held a port.
void Forecast::add_analytic_json(nlohmann::ordered_json& j) const {
    const Analytic an = analytic();
    auto round1 = [](double x) { return std::round(x * 1000.0) / 1000.0; };  // rates to 0.001/s
    j["analytic_rate_per_s"] = an.rate > 0 ? nlohmann::ordered_json(round1(an.rate)) : nlohmann::ordered_json(nullptr);
    j["analytic_basis"] = an.basis;
    j["analytic_workload"] = an.rate > 0 && an.client >= 0 ? nlohmann::ordered_json(an.client) : nlohmann::ordered_json(nullptr);
    nlohmann::ordered_json tte = nullptr;
    if (an.budget > 0 && an.budget_client >= 0 && an.budget_rate > 0) {
        const ClientSpec& c = sc_.forecast.clients[static_cast<std::size_t>(an.budget_client)];
        tte = std::round((an.budget / an.budget_rate + static_cast<double>(c.arrival.start.ns()) / 1e9) * 1e3) / 1e3;
    }
    j["analytic_first_failure_s"] = tte;
    j["analytic_budget"] = an.budget > 0 ? nlohmann::ordered_json(an.budget) : nlohmann::ordered_json(nullptr);
    j["analytic_budget_basis"] = an.budget_basis;
    // How long TIME-WAIT really held a port on the host whose TIME-WAIT sets the ceiling (on
    // Linux longer than its nominal 60 s: the timer wheel fires late).
    nlohmann::ordered_json hold = nullptr;
    if (an.rate > 0 && an.tw_host >= 0 && w_.host(an.tw_host).time_wait_held_count() > 0) {
        const host::Host& th = w_.host(an.tw_host);
        const double mean = static_cast<double>(th.time_wait_held().count()) / 1e9 / static_cast<double>(th.time_wait_held_count());
        hold = {{"host", th.name()}, {"ports", an.ports}, {"nominal_s", static_cast<double>(an.hold.count()) / 1e9},
                {"mean_s", std::round(mean * 1e3) / 1e3}, {"linux_timer_wheel_hz", th.stack().linux_minisock ? th.stack().hz : 0}};
    }
    j["time_wait_hold"] = hold;
}

std::string Forecast::csv() const {
    std::string out = "time_s,offered,completed,failed,opened,syn_retransmitted,connects,connect_p50_ms,connect_p99_ms,connect_max_ms";
    for (const HostSpec& h : sc_.hosts)
        for (tcp::State s : kShown) out += fmt::format(",{}.{}", h.name, state_label(s));
    for (std::size_t i = 0; i < w_.nat_count(); ++i)
        out += fmt::format(",{0}.transitory,{0}.established,{0}.time_wait,{0}.ports_in_use", w_.nat_name(i));
    for (std::size_t i = 0; i < w_.balancer_count(); ++i)
        if (w_.balancer(i).snat())
            out += fmt::format(",{0}.transitory,{0}.established,{0}.time_wait,{0}.ports_in_use", w_.balancer_name(i));
    // Then each one's outer addresses, NAME@ADDRESS.ports_in_use (last: the columns above keep their
    // places): every address it had at any sample, in the order they first appeared (what-if
    // actions add and remove addresses); 0 while it had not that address.
    std::vector<std::string> nat_names;
    for (std::size_t i = 0; i < w_.nat_count(); ++i) nat_names.push_back(w_.nat_name(i));
    for (std::size_t i = 0; i < w_.balancer_count(); ++i)
        if (w_.balancer(i).snat()) nat_names.push_back(w_.balancer_name(i));
    std::vector<std::vector<std::uint32_t>> addresses(nat_names.size());
    for (const Sample& s : samples_)
        for (std::size_t k = 0; k < s.nat_address_ports.size() && k < addresses.size(); ++k)
            for (const auto& [a, used] : s.nat_address_ports[k])
                if (std::find(addresses[k].begin(), addresses[k].end(), a) == addresses[k].end()) addresses[k].push_back(a);
    for (std::size_t k = 0; k < addresses.size(); ++k)
        for (std::uint32_t a : addresses[k]) out += fmt::format(",{}@{}.ports_in_use", nat_names[k], tcp::format_ip(a));
    out += "\n";
    for (const Sample& s : samples_) {
        out += fmt::format("{},{},{},{},{},{},{}", format_seconds(s.at), s.offered, s.completed, s.failed, s.opened, s.syn_retransmitted,
                           s.connects);
        for (const auto& v : {s.p50, s.p99, s.max}) out += v ? fmt::format(",{:.3f}", static_cast<double>(*v) / 1e6) : std::string(",");
        for (const StateCounts& c : s.states)
            for (tcp::State st : kShown) out += fmt::format(",{}", c[static_cast<std::size_t>(st)]);
        for (const auto& n : s.nats) out += fmt::format(",{},{},{},{}", n[0], n[1], n[2], n[3]);
        for (std::size_t k = 0; k < addresses.size(); ++k)
            for (std::uint32_t a : addresses[k]) {
                std::uint64_t used = 0;
                if (k < s.nat_address_ports.size())
                    for (const auto& [b, n] : s.nat_address_ports[k])
                        if (b == a) used = n;
                out += fmt::format(",{}", used);
            }
        out += "\n";
    }
    return out;
}

}  // namespace tcpsim
