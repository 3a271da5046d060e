#include "forecast.hpp"

#include "text_table.hpp"

#include "forecast_app.hpp"

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

// TIME-WAIT length of a host: Linux's fixed TCP_TIMEWAIT_LEN for its mini-sockets, else 2*MSL.
Duration time_wait_of(const HostSpec& h) {
    return h.stack.linux_minisock ? h.stack.linux_tw.length : h.tcp.time_wait_length();
}

// Does a TIME-WAIT on this host let a new SYN for its 4-tuple open a connection (Linux
// tcp_timewait_state_process() TW_SYN, FreeBSD tcp_twcheck(), RFC 6191 with timestamps)?
bool reopens_time_wait(const HostSpec& h) {
    return h.stack.linux_minisock || h.tcp.time_wait_input == tcp::TimeWaitInput::FreeBsd ||
           (h.tcp.syn_in_time_wait == tcp::SynInTimeWait::Rfc9293 && h.tcp.timestamps);
}

}  // namespace

Forecast::Forecast(const Scenario& sc, World& w)
    : sc_(sc), w_(w), peaks_(sc.hosts.size(), StateCounts{}), per_client_(sc.forecast.clients.size()) {}

void Forecast::failure(const std::string& kind, int node, const std::string& syscall, tcp::SockAddr local, tcp::SockAddr remote,
                       bool request_failed, int client) {
    ++by_errno_[kind];
    ++failures_total_;
    if (request_failed) {
        if (client >= 0) ++per_client_[static_cast<std::size_t>(client)].failed;
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
        r.why = explain(node, kind == "NAT drop" ? tcp::SockAddr{} : remote, r.held);
        if (kind == "ETIMEDOUT") {
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
        ++toward[static_cast<std::size_t>(tcp::State::TimeWait)];
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

void Forecast::finish() {
    // A last sample at the end; when the interval's own sample fell on that instant, what
    // happened after it is folded into that row instead of a second row with the same time.
    if (!samples_.empty() && samples_.back().at == w_.now()) {
        const Sample last = samples_.back();
        samples_.pop_back();
        cur_.offered += last.offered;
        cur_.completed += last.completed;
        cur_.failed += last.failed;
        for (std::size_t k = 0; k < last.clients.size() && k < per_client_at_sample_.size(); ++k) {
            per_client_at_sample_[k].offered -= last.clients[k].offered;
            per_client_at_sample_[k].completed -= last.clients[k].completed;
            per_client_at_sample_[k].failed -= last.clients[k].failed;
        }
    }
    sample();
}

void Forecast::sample() {
    cur_.at = w_.now();
    cur_.states.clear();
    for (int h = 0; h < w_.host_count(); ++h) {
        StateCounts c = w_.state_counts(h);
        c[static_cast<std::size_t>(tcp::State::TimeWait)] += static_cast<std::int64_t>(w_.host(h).time_wait_count());
        const StateCounts& pk = w_.state_peaks(h);
        for (std::size_t k = 0; k < c.size(); ++k)
            peaks_[static_cast<std::size_t>(h)][k] = std::max({peaks_[static_cast<std::size_t>(h)][k], c[k], pk[k]});
        cur_.states.push_back(c);
    }
    cur_.nats.clear();
    auto add_nat = [&](net::Nat& n) {
        n.expire(w_.now());
        const net::NatCounts c = n.counts();
        std::uint64_t ports = 0;
        for (std::uint32_t a : n.config().outer) ports += n.ports_in_use(a);
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
    cur_ = Sample{};
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
    const std::size_t n = samples_.size();
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
    r.to = samples_.back().at;
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

// The back-of-the-envelope ceiling: usable 4-tuples (ports) divided by how long each is held
// after a connection (capacity-cases.md conventions: max_new_conn_per_s = usable_ports /
// time_wait_seconds), for the tightest place on each workload's path.
Forecast::Analytic Forecast::analytic() const {
    Analytic best;
    int cur_client = -1;
    auto consider = [&](double r, std::string basis, int tw_host = -1, double ports = 0, Duration hold = Duration::ns(0)) {
        if (r <= 0) return;
        if (best.rate == 0 || r < best.rate) {
            best.rate = r;
            best.basis = std::move(basis);
            best.tw_host = tw_host;
            best.ports = ports;
            best.hold = hold;
            best.client = cur_client;
        }
    };
    // The concurrency budget: how many connections a workload can hold open to its destination.
    auto budget = [&](double ports, std::string basis, double against, double hold_s) {
        // Ports fill up at the offered rate only while each is held longer than it takes to fill
        // them all (t_fail = ports / R is valid while shorter than the hold).
        if (against > 0 && ports / against >= hold_s) return;
        // The budget that runs out first: fewest ports per offered connection per second.
        const bool first = best.budget == 0;
        const bool sooner = against > 0 && (best.budget_rate <= 0 || ports / against < best.budget / best.budget_rate);
        if (first || sooner || (against <= 0 && best.budget_rate <= 0 && ports < best.budget)) {
            best.budget = ports;
            best.budget_basis = std::move(basis);
            best.budget_client = cur_client;
            best.budget_rate = against;
        }
    };
    auto open_rate = [](const ClientSpec& c) {
        return c.arrival.kind == app::ArrivalKind::Constant || c.arrival.kind == app::ArrivalKind::Poisson ? c.arrival.rate : 0.0;
    };
    const ForecastSpec& f = sc_.forecast;
    auto secs = [](Duration d) { return static_cast<double>(d.count()) / 1e9; };
    for (std::size_t ci = 0; ci < f.clients.size(); ++ci) {
        const ClientSpec& c = f.clients[ci];
        cur_client = static_cast<int>(ci);
        const HostSpec& h = sc_.hosts[static_cast<std::size_t>(sc_.host_index(c.host))];
        // A fixed local port is one port; otherwise the range, once per source address.
        const double ports = c.bind == BindMode::Fixed ? 1.0
                                                       : static_cast<double>(h.stack.ports.hi - h.stack.ports.lo + 1) *
                                                             static_cast<double>(std::max<std::size_t>(1, c.source_addresses.size()));
        const std::string what = c.bind == BindMode::Fixed ? fmt::format("local port {}", c.local_port) : fmt::format("{:.0f} ports", ports);
        const bool pooled = c.pool.enabled;  // connections are reused: no per-connection hold
        const bool loop = (c.target.ip >> 24) == 127;
        // How long a connection holds its port: its life (the response time of the service it
        // reaches, at least), plus TIME-WAIT when the client closes first.
        double life = 0;
        for (const ServerSpec& sv : f.servers) life = std::max(life, secs(sv.response_time));
        const double tw_hold = c.closer == Closer::Client && !pooled ? secs(time_wait_of(h)) : 0;
        const double hold_s = pooled ? 1e18 : life + tw_hold;
        if (c.bind == BindMode::Port0 && c.source_addresses.empty()) {
            // bind(ip, 0) picks a port without the destination: one pool for every such socket on
            // the host, whatever the destination (capacity-cases.md case 16).
            double rate_all = 0;
            for (const ClientSpec& o : f.clients)
                if (o.host == c.host && o.bind == BindMode::Port0) rate_all += open_rate(o);
            budget(ports, fmt::format("{} on {} shared by every bind(0) socket", what, h.name), rate_all, hold_s);
        } else {
            budget(ports, fmt::format("{} on {} toward {}", what, h.name, c.target.text), open_rate(c), hold_s);
        }
        // Where the TIME-WAIT sits: the closer's side.
        if (c.closer == Closer::Client && !pooled) {
            const bool reuse = h.stack.linux_minisock && c.bind != BindMode::Fixed &&
                               (h.stack.tw_reuse == 1 || (h.stack.tw_reuse == 2 && loop));
            if (reuse && h.tcp.timestamps) {
                consider(ports / std::max(1e-3, secs(h.stack.tw_reuse_delay)),
                         fmt::format("{} / {} tw_reuse delay on {} toward {}", what, format_duration(h.stack.tw_reuse_delay), h.name,
                                     c.target.text));
            } else {
                consider(ports / secs(time_wait_of(h)),
                         fmt::format("{} / {} TIME-WAIT on {} toward {}", what, format_duration(time_wait_of(h)), h.name, c.target.text),
                         sc_.host_index(c.host), ports, time_wait_of(h));
            }
        }
        // A NAT on the way holds its mapping for its own TIME_WAIT timeout.
        for (const NatSpec& n : f.nats) {
            if (std::find(n.inside.begin(), n.inside.end(), c.host) == n.inside.end()) continue;
            const net::NatConfig& nc = n.config;
            const double range = static_cast<double>(nc.port_hi - nc.port_lo + 1);
            double cap = nc.assign == net::NatAssign::Blocks ? static_cast<double>(nc.ports_per_host)
                                                              : range * static_cast<double>(nc.outer.size());
            if (nc.per_destination_cap != 0 && nc.assign != net::NatAssign::Blocks)
                cap = std::min(cap, static_cast<double>(nc.per_destination_cap) * static_cast<double>(nc.outer.size()));
            const std::string nat_what = fmt::format("{:.0f} {}", cap,
                                                     nc.assign == net::NatAssign::Blocks ? "ports per host"
                                                     : nc.per_destination_cap != 0      ? "connections per destination"
                                                                                        : "ports");
            const double nat_hold = life + (pooled ? 1e18 : secs(c.closer == Closer::Reset ? nc.transitory_timeout : nc.time_wait_timeout));
            budget(cap, fmt::format("{} on NAT {} toward {}", nat_what, n.name, c.target.text), open_rate(c), nat_hold);
            if (pooled) continue;
            const Duration hold = c.closer == Closer::Reset ? nc.transitory_timeout : nc.time_wait_timeout;
            consider(cap / secs(hold), fmt::format("{} / {} hold on NAT {} toward {}", nat_what, format_duration(hold), n.name, c.target.text));
        }
    }
    cur_client = -1;
    // A proxy that opens and closes an upstream connection per request holds TIME-WAIT itself.
    for (const ProxySpec& p : f.proxies) {
        if (p.pool.enabled || p.upstream_closer != Closer::Client) continue;
        const HostSpec& h = sc_.hosts[static_cast<std::size_t>(sc_.host_index(p.host))];
        const double ports = static_cast<double>(h.stack.ports.hi - h.stack.ports.lo + 1);
        // Its upstream ports fill at the rate of the requests its clients send it.
        double through = 0;
        const std::uint32_t pip = h.ip;
        for (std::size_t ci = 0; ci < f.clients.size(); ++ci)
            if (f.clients[ci].target.ip == pip && f.clients[ci].target.port == p.port) {
                through += open_rate(f.clients[ci]);
                if (cur_client < 0) cur_client = static_cast<int>(ci);
            }
        budget(ports, fmt::format("{:.0f} ports on the proxy host {} toward {}", ports, h.name, p.upstream.text), through,
               secs(time_wait_of(h)));
        cur_client = -1;
        consider(ports / secs(time_wait_of(h)),
                 fmt::format("{:.0f} ports / {} TIME-WAIT on the proxy host {} toward {}", ports, format_duration(time_wait_of(h)), h.name,
                             p.upstream.text),
                 sc_.host_index(p.host), ports, time_wait_of(h));
    }
    // A balancer with source NAT toward backends that close first: each SNAT port's 4-tuple sits
    // in the backend's TIME-WAIT, and a backend that cannot reopen it refuses the port.
    for (const BalancerSpec& b : f.balancers) {
        if (!b.snat) continue;
        const net::NatConfig& nc = b.snat_config;
        const double ports = static_cast<double>(nc.port_hi - nc.port_lo + 1) * static_cast<double>(nc.outer.size());
        for (std::size_t k = 0; k < b.backends.size(); ++k) {
            const HostSpec& h = sc_.hosts[static_cast<std::size_t>(sc_.host_index(b.backend_hosts[k]))];
            bool closes_first = false;
            for (const ServerSpec& s : f.servers)
                if (s.host == h.name && s.port == b.backends[k].port) closes_first = s.close == ServerClose::AfterResponse;
            if (closes_first && !reopens_time_wait(h))
                consider(ports * static_cast<double>(b.backends.size()) / secs(time_wait_of(h)),
                         fmt::format("{:.0f} SNAT ports x {} backends / {} TIME-WAIT on {} ({} cannot reopen a TIME-WAIT)", ports,
                                     b.backends.size(), format_duration(time_wait_of(h)), h.name, h.profile.empty() ? "rfc9293" : h.profile));
        }
    }
    return best;
}

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
    std::string out;
    const Rates st = steady();
    out += fmt::format("tcpsim run: {} (seed {})", sc_.file, sc_.seed);
    for (const std::string& o : sc_.overrides) out += fmt::format(" --set {}", o);
    out += "\n";
    if (!sc_.name.empty()) out += fmt::format("{}\n", sc_.name);
    out += fmt::format("simulated {} s{}\n\n", format_seconds(end_), w_.stopped() ? " (stopped by the stop condition)" : "");

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
    if (!any) out += "  no failure: the workload ran to the end without an error\n";
    if (!none.empty() && any) out += fmt::format("  none of: {}\n", none);

    out += fmt::format("\nRequests: {} attempted, {} succeeded, {} failed; {} connections opened\n", attempted_, succeeded_, failed_,
                       connections_);
    if (!by_errno_.empty()) {
        out += "Failures by kind:";
        for (const auto& [k, n] : by_errno_) out += fmt::format(" {} {}", k, n);
        out += "\n";
    }
    out += fmt::format("\nSteady state ({} s to {} s)\n", format_seconds(st.from), format_seconds(st.to));
    out += fmt::format("  offered   {:>12}\n  completed {:>12}\n  failed    {:>12}\n", rate(st.offered), rate(st.completed), rate(st.failed));
    const auto p50 = percentile(0.50), p99 = percentile(0.99);
    if (p50) {
        const std::int64_t mx = *latencies_.max();
        out += fmt::format("Connect latency: p50 {}, p99 {}, max {} ({} connects)\n", ms(*p50), ms(*p99), ms(mx), latencies_.size());
    } else {
        out += "Connect latency: no connection was established\n";
    }
    const Analytic an = analytic();
    if (sc_.forecast.clients.size() > 1 && st.client_completed.size() == sc_.forecast.clients.size()) {
        out += "  per workload:";
        for (std::size_t k = 0; k < sc_.forecast.clients.size(); ++k)
            out += fmt::format("{} {} offered {}, completed {}", k ? ";" : "", sc_.forecast.clients[k].name, rate(st.client_offered[k]),
                               rate(st.client_completed[k]));
        out += "\n";
    }
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
    if (an.rate > 0) {
        out += fmt::format("Analytic ceiling: {} ({})\n", rate(an.rate), an.basis);
        // Compared with the workload whose path the ceiling limits.
        const bool one = an.client >= 0 && static_cast<std::size_t>(an.client) < st.client_completed.size();
        const double sim = one ? st.client_completed[static_cast<std::size_t>(an.client)] : st.completed;
        const double offered = one ? st.client_offered[static_cast<std::size_t>(an.client)] : st.offered;
        const double diff = std::abs(sim - an.rate) / an.rate;
        std::string note;
        const bool ran_out = by_errno_.count("EADDRNOTAVAIL") || by_errno_.count("EADDRINUSE") || by_errno_.count("NAT drop");
        if (offered < an.rate * 0.99 && !ran_out)
            note += fmt::format("The workload offers {}, below the ceiling: ports are not the limit.", rate(offered));
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
        out += wrap(note, 2);
    } else {
        out += "Analytic ceiling: none (no TIME-WAIT or mapping holds a port per connection on this path)\n";
    }

    out += wrap("TIME-WAIT endings: " + time_wait_endings() + ".", 0);
    out += "\nPeak states per host (TIME-WAIT includes the kernel's mini-sockets)\n";
    std::string head = fmt::format("  {:<12}", "host");
    for (tcp::State s : kShown) head += fmt::format(" {}", state_label(s));
    out += head + "\n";
    for (std::size_t h = 0; h < sc_.hosts.size(); ++h) {
        std::string line = fmt::format("  {:<12}", sc_.hosts[h].name);
        for (tcp::State s : kShown) line += fmt::format(" {:>{}}", peaks_[h][static_cast<std::size_t>(s)], std::string_view(state_label(s)).size());
        out += line + "\n";
    }
    out += fmt::format("\nStates at the end ({} s), like netstat -tan | sort | uniq -c\n", format_seconds(end_));
    out += head + "\n";
    if (!samples_.empty()) {
        const Sample& last = samples_.back();
        for (std::size_t h = 0; h < sc_.hosts.size(); ++h) {
            std::string line = fmt::format("  {:<12}", sc_.hosts[h].name);
            for (tcp::State s : kShown) line += fmt::format(" {:>{}}", last.states[h][static_cast<std::size_t>(s)], std::string_view(state_label(s)).size());
            out += line + "\n";
        }
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
    const Analytic an = analytic();
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
    nlohmann::ordered_json wl = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < sc_.forecast.clients.size() && k < st.client_completed.size(); ++k)
        wl.push_back({{"name", sc_.forecast.clients[k].name}, {"offered_per_s", round1(st.client_offered[k])},
                      {"completed_per_s", round1(st.client_completed[k])}});
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
    return j;
}

std::string Forecast::csv() const {
    std::string out = "time_s,offered,completed,failed";
    for (const HostSpec& h : sc_.hosts)
        for (tcp::State s : kShown) out += fmt::format(",{}.{}", h.name, state_label(s));
    for (std::size_t i = 0; i < w_.nat_count(); ++i)
        out += fmt::format(",{0}.transitory,{0}.established,{0}.time_wait,{0}.ports_in_use", w_.nat_name(i));
    for (std::size_t i = 0; i < w_.balancer_count(); ++i)
        if (w_.balancer(i).snat())
            out += fmt::format(",{0}.transitory,{0}.established,{0}.time_wait,{0}.ports_in_use", w_.balancer_name(i));
    out += "\n";
    for (const Sample& s : samples_) {
        out += fmt::format("{},{},{},{}", format_seconds(s.at), s.offered, s.completed, s.failed);
        for (const StateCounts& c : s.states)
            for (tcp::State st : kShown) out += fmt::format(",{}", c[static_cast<std::size_t>(st)]);
        for (const auto& n : s.nats) out += fmt::format(",{},{},{},{}", n[0], n[1], n[2], n[3]);
        out += "\n";
    }
    return out;
}

ForecastRun run_forecast(const Scenario& sc, const std::function<void(SimTime, std::uint64_t)>& progress,
                         SegmentTap* tap) {
    World w(sc, false);
    w.set_tap(tap);
    // The workloads keep no socket id past its connection except through proxies' two halves
    // and scripted actions' socket names: without those, gone sockets give their slots back.
    w.set_socket_reuse(sc.actions.empty() && sc.forecast.proxies.empty());
    Forecast fc(sc, w);
    Workloads app(sc, w, fc);
    w.set_app(&app);
    if (progress) w.set_progress([&](SimTime t) { progress(t, fc.attempted()); });
    app.start();
    w.run();
    fc.finish();
    ForecastRun fr{fc.text(), "", fc.csv(), fc.json_doc()};
    fr.json = fr.doc.dump(2) + "\n";
    return fr;
}

}  // namespace tcpsim
