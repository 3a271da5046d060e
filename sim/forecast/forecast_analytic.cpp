// The back-of-the-envelope ceiling of the forecast (docs/user-guide.md): for every
// place that holds a port per connection (a host's ephemeral range toward a destination, a
// bind(0) pool, a NAT's ports or a VM's block, a balancer's SNAT ports meeting a backend's
// TIME-WAIT), usable ports divided by how long each is held (capacity-cases.md conventions:
// max_new_conn_per_s = usable_ports / time_wait_seconds). Workloads that draw on one place add
// their rates up against it.
#include "forecast/forecast.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace tcpsim {

namespace {

double secs(Duration d) { return static_cast<double>(d.count()) / 1e9; }


// Why a TIME-WAIT on this host cannot be reopened by a SYN that reuses its 4-tuple from a
// source-NAT port: that SYN's ISN was chosen for another connection (the client's own 4-tuple),
// so it is above the old RCV.NXT only by chance; only a newer timestamp reopens it reliably.
// Empty when the host reopens it. Each rule is the profile's (models/host, models/tcp):
// - Linux tcp_timewait_state_process() (models/host/time_wait.cpp): TW_SYN for a SEQ above
//   RCV.NXT or, with timestamps, a newer TSval: reopens while tcp_timestamps is on.
// - FreeBSD tcp_twcheck() (TimeWaitInput::FreeBsd): only a SYN whose SEQ is above RCV.NXT; any
//   other SYN is dropped in silence.
// - XNU tcp_input() (TimeWaitInput::Xnu; macOS keeps the full TCB): only a SYN whose SEQ is above
//   RCV.NXT + RCV.WND starts a new connection; any other draws an ACK.
// - RFC 9293 §3.10.7.4 with RFC 6191 (SynInTimeWait::Rfc9293): a newer TSval reopens it.
// - RFC 793 and the Windows profiles (SynInTimeWait::Never): never.
std::string snat_syn_refused(const HostSpec& h) {
    const std::string prof = h.profile.empty() ? "rfc9293" : h.profile;
    if (h.stack.linux_minisock)
        return h.stack.linux_tw.timestamps && h.tcp.timestamps
                   ? ""
                   : fmt::format("{} without timestamps: tcp_timewait_state_process() reopens it only for a SEQ above RCV.NXT", prof);
    if (h.tcp.time_wait_input == tcp::TimeWaitInput::FreeBsd)
        return fmt::format("{} tcp_twcheck() reopens it only for a SYN whose SEQ is above RCV.NXT and drops any other in silence", prof);
    if (h.tcp.time_wait_input == tcp::TimeWaitInput::Xnu)
        return fmt::format("{} tcp_input() reopens it only for a SYN whose SEQ is above RCV.NXT + RCV.WND and ACKs any other", prof);
    if (h.tcp.syn_in_time_wait == tcp::SynInTimeWait::Rfc9293 && h.tcp.timestamps) return "";
    return fmt::format("{}: a SYN never reopens a TIME-WAIT", prof);
}

double open_rate(const ClientSpec& c) {
    return c.arrival.kind == app::ArrivalKind::Constant || c.arrival.kind == app::ArrivalKind::Poisson ? c.arrival.rate : 0.0;
}

// One place that holds a port per connection, and the workloads that draw on it.
struct Pool {
    double ports = 0;
    std::string what;          // "28232 ports", "64 ports per host"
    std::string where;         // "on client toward 10.0.0.2:80"
    std::string budget_where;  // the same for the concurrency budget
    double hold_s = 0;         // life + hold after close: how long a connection keeps its port
    double rate = 0;           // the rate ceiling (0: none)
    std::string basis;         // its explanation
    int tw_host = -1;
    Duration hold = Duration::ns(0);
    std::vector<int> clients;
    double offered = 0;
    bool no_budget = false;  // a rate ceiling only
    bool anonymous = false;  // the ceiling is compared with every workload's completions
};

struct Pools {
    std::vector<Pool> list;
    std::map<std::string, std::size_t> index;
    // The pool with this key, made by `make` the first time; the client is added to it.
    template <typename Make>
    void add(const std::string& key, int client, double rate, Make make) {
        auto [it, fresh] = index.emplace(key, list.size());
        if (fresh) list.push_back(make());
        Pool& p = list[it->second];
        p.clients.push_back(client);
        p.offered += rate;
    }
};

std::string names_of(const ForecastSpec& f, const std::vector<int>& clients) {
    std::string s;
    const std::size_t shown = std::min<std::size_t>(clients.size(), 3);
    for (std::size_t i = 0; i < shown; ++i) s += fmt::format("{}{}", i ? ", " : "", f.clients[static_cast<std::size_t>(clients[i])].name);
    if (clients.size() > shown) s += fmt::format(" and {} more", clients.size() - shown);
    return s;
}

// The host's own ports: one range toward each destination, or one pool for every bind(0) socket.
void host_pool(const Scenario& sc, std::size_t ci, double life, Pools& pools) {
    const ClientSpec& c = sc.forecast.clients[ci];
    const int hi = sc.host_index(c.host);
    const HostSpec& h = sc.hosts[static_cast<std::size_t>(hi)];
    const bool pooled = c.pool.enabled;  // connections are reused: no per-connection hold
    const bool bind0 = c.bind == BindMode::Port0 && c.source_addresses.empty();
    std::string sources;
    for (std::uint32_t a : c.source_addresses) sources += fmt::format(",{}", a);
    const std::string dest = c.bind == BindMode::Fixed ? fmt::format("fixed{}>{}:{}", c.local_port, c.target.ip, c.target.port)
                             : bind0                   ? std::string("bind0")
                                                       : fmt::format("{}:{}", c.target.ip, c.target.port);
    pools.add(fmt::format("host|{}|{}|{}|{}", c.host, dest, sources, pooled), static_cast<int>(ci), open_rate(c), [&] {
        Pool p;
        // A fixed local port is one port; otherwise the range, once per source address.
        p.ports = c.bind == BindMode::Fixed ? 1.0
                                            : static_cast<double>(h.stack.ports.hi - h.stack.ports.lo + 1) *
                                                  static_cast<double>(std::max<std::size_t>(1, c.source_addresses.size()));
        p.what = c.bind == BindMode::Fixed ? fmt::format("local port {}", c.local_port) : fmt::format("{:.0f} ports", p.ports);
        p.where = bind0 ? fmt::format("on {}, one pool for every bind(0) socket whatever the destination", h.name)
                        : fmt::format("on {} toward {}", h.name, c.target.text);
        p.budget_where = bind0 ? fmt::format("on {} shared by every bind(0) socket", h.name) : p.where;
        const bool closes = c.closer == Closer::Client && !pooled;
        const Duration tw = h.time_wait();
        p.hold_s = pooled ? 1e18 : life + (closes ? secs(tw) : 0);
        if (!closes) return p;
        const bool loop = (c.target.ip >> 24) == 127;
        const bool reuse = h.stack.linux_minisock && c.bind != BindMode::Fixed && (h.stack.tw_reuse == 1 || (h.stack.tw_reuse == 2 && loop));
        if (reuse && h.tcp.timestamps) {
            p.rate = p.ports / std::max(1e-3, secs(h.stack.tw_reuse_delay));
            p.basis = fmt::format("{} / {} tw_reuse delay {}", p.what, format_duration(h.stack.tw_reuse_delay), p.where);
        } else if (h.stack.linux_minisock && static_cast<double>(h.stack.max_tw_buckets) < p.ports) {
            // tcp_time_wait(): past tcp_max_tw_buckets the socket goes without a mini-socket
            // (TCPTimeWaitOverflow) and its port is free at once: TIME-WAIT never holds them all.
            if (life <= 0) return p;
            p.rate = p.ports / life;
            p.basis = fmt::format("{} / {} connection life {}; TIME-WAIT holds at most tcp_max_tw_buckets = {} of them: past "
                                  "that the kernel keeps no TIME-WAIT (TCPTimeWaitOverflow), which keeps ports free",
                                  p.what, format_duration(Duration::ns(static_cast<std::int64_t>(life * 1e9))), p.where,
                                  h.stack.max_tw_buckets);
        } else {
            p.rate = p.ports / secs(tw);
            p.basis = fmt::format("{} / {} TIME-WAIT {}", p.what, format_duration(tw), p.where);
            p.tw_host = hi;
            p.hold = tw;
        }
        return p;
    });
}

// A NAT on the way holds its mapping for its own timeout: a VM's block (Cloud NAT), or the
// gateway's ports, per destination unless the mapping is endpoint-independent.
void nat_pools(const Scenario& sc, std::size_t ci, double life, Pools& pools) {
    const ClientSpec& c = sc.forecast.clients[ci];
    const bool pooled = c.pool.enabled;
    for (const NatSpec& n : sc.forecast.nats) {
        if (std::find(n.inside.begin(), n.inside.end(), c.host) == n.inside.end()) continue;
        const net::NatConfig& nc = n.config;
        const bool blocks = nc.assign == net::NatAssign::Blocks;
        const std::string scope = nc.mapping == net::NatMapping::EndpointIndependent ? std::string("*")
                                  : nc.mapping == net::NatMapping::AddressDependent  ? fmt::format("{}", c.target.ip)
                                                                                     : fmt::format("{}:{}", c.target.ip, c.target.port);
        const Duration hold = c.closer == Closer::Reset ? nc.transitory_timeout : nc.time_wait_timeout;
        const std::string key = fmt::format("nat|{}|{}|{}|{}|{}", n.name, blocks ? c.host : "", scope, pooled, hold.count());
        pools.add(key, static_cast<int>(ci), open_rate(c), [&] {
            Pool p;
            const double range = static_cast<double>(nc.port_hi - nc.port_lo + 1);
            // A VM's block; with dynamic allocation, as many ports as it may grow to.
            const double per_host = nc.max_ports_per_host != 0 ? std::min(static_cast<double>(nc.max_ports_per_host), range * static_cast<double>(nc.outer.size()))
                                                               : static_cast<double>(nc.ports_per_host);
            p.ports = blocks ? per_host : range * static_cast<double>(nc.outer.size());
            if (nc.per_destination_cap != 0 && !blocks)
                p.ports = std::min(p.ports, static_cast<double>(nc.per_destination_cap) * static_cast<double>(nc.outer.size()));
            p.what = fmt::format("{:.0f} {}", p.ports, blocks ? "ports per host" : nc.per_destination_cap != 0 ? "connections per destination" : "ports");
            p.where = nc.mapping == net::NatMapping::EndpointIndependent
                          ? fmt::format("on NAT {} toward every destination (endpoint-independent mapping)", n.name)
                          : fmt::format("on NAT {} toward {}", n.name, c.target.text);
            p.budget_where = p.where;
            p.hold_s = life + (pooled ? 1e18 : secs(hold));
            if (pooled) return p;
            p.rate = p.ports / secs(hold);
            p.basis = fmt::format("{} / {} hold {}", p.what, format_duration(hold), p.where);
            return p;
        });
    }
}

// A proxy that opens and closes an upstream connection per request holds TIME-WAIT itself; its
// upstream ports fill at the rate of the requests its clients send it.
void proxy_pools(const Scenario& sc, Pools& pools) {
    const ForecastSpec& f = sc.forecast;
    for (const ProxySpec& px : f.proxies) {
        if (px.pool.enabled || px.upstream_closer != Closer::Client) continue;
        const int hi = sc.host_index(px.host);
        const HostSpec& h = sc.hosts[static_cast<std::size_t>(hi)];
        Pool p;
        p.ports = static_cast<double>(h.stack.ports.hi - h.stack.ports.lo + 1);
        p.what = fmt::format("{:.0f} ports", p.ports);
        p.budget_where = fmt::format("on the proxy host {} toward {}", h.name, px.upstream.text);
        p.hold = h.time_wait();
        p.hold_s = secs(p.hold);
        p.rate = p.ports / p.hold_s;
        p.basis = fmt::format("{} / {} TIME-WAIT on the proxy host {} toward {}", p.what, format_duration(p.hold), h.name, px.upstream.text);
        p.tw_host = hi;
        p.anonymous = true;
        for (std::size_t ci = 0; ci < f.clients.size(); ++ci)
            if (f.clients[ci].target.ip == h.ip && f.clients[ci].target.port == px.port) {
                p.offered += open_rate(f.clients[ci]);
                p.clients.push_back(static_cast<int>(ci));
            }
        pools.list.push_back(p);
    }
}

// A balancer with source NAT toward backends that close first: each SNAT port's 4-tuple sits in
// the backend's TIME-WAIT for its whole length, and a backend that cannot reopen it for the
// port's next SYN (snat_syn_refused) holds the port that long.
void balancer_pools(const Scenario& sc, Pools& pools) {
    const ForecastSpec& f = sc.forecast;
    for (const BalancerSpec& b : f.balancers) {
        if (!b.snat) continue;
        const net::NatConfig& nc = b.snat_config;
        const double ports = static_cast<double>(nc.port_hi - nc.port_lo + 1) * static_cast<double>(nc.outer.size());
        for (std::size_t k = 0; k < b.backends.size(); ++k) {
            const int hi = sc.host_index(b.backend_hosts[k]);
            const HostSpec& h = sc.hosts[static_cast<std::size_t>(hi)];
            bool closes_first = false;
            for (const ServerSpec& s : f.servers)
                if (s.host == h.name && s.port == b.backends[k].port) closes_first = s.close == ServerClose::AfterResponse;
            const std::string refused = snat_syn_refused(h);
            if (!closes_first || refused.empty()) continue;
            Pool p;
            p.no_budget = p.anonymous = true;
            p.ports = ports;
            p.hold = h.time_wait();
            p.rate = ports * static_cast<double>(b.backends.size()) / secs(p.hold);
            p.basis = fmt::format("{:.0f} SNAT ports x {} backends / {} TIME-WAIT on {}: {}, and a reused SNAT port's SYN "
                                  "carries an ISN chosen for another connection",
                                  ports, b.backends.size(), format_duration(p.hold), h.name, refused);
            p.tw_host = hi;
            pools.list.push_back(p);
        }
    }
}

}  // namespace

Forecast::Analytic Forecast::analytic() const {
    Analytic best;
    double best_offered = 0;
    auto consider = [&](double r, std::string basis, const std::vector<int>& clients, double offered, int tw_host = -1,
                        double ports = 0, Duration hold = Duration::ns(0)) {
        if (r <= 0) return;
        // The lowest ceiling; of equal ones, the one offered the most.
        if (best.rate == 0 || r < best.rate || (r == best.rate && offered > best_offered)) {
            best.rate = r;
            best.basis = std::move(basis);
            best.tw_host = tw_host;
            best.ports = ports;
            best.hold = hold;
            best.clients = clients;
            best.client = clients.empty() ? -1 : clients.front();
            best_offered = offered;
        }
    };
    // The concurrency budget: how many connections a workload can hold open to its destination.
    auto budget = [&](double ports, std::string basis, double against, double hold_s, int client) {
        // Ports fill up at the offered rate only while each is held longer than it takes to fill
        // them all (t_fail = ports / R is valid while shorter than the hold).
        if (against > 0 && ports / against >= hold_s) return;
        // The budget that runs out first: fewest ports per offered connection per second.
        const bool first = best.budget == 0;
        const bool sooner = against > 0 && (best.budget_rate <= 0 || ports / against < best.budget / best.budget_rate);
        if (first || sooner || (against <= 0 && best.budget_rate <= 0 && ports < best.budget)) {
            best.budget = ports;
            best.budget_basis = std::move(basis);
            best.budget_client = client;
            best.budget_rate = against;
        }
    };
    const ForecastSpec& f = sc_.forecast;
    // How long a connection holds its port: its life (the response time of the service it
    // reaches, at least), plus TIME-WAIT or the NAT's hold when the client closes first.
    double life = 0;
    for (const ServerSpec& sv : f.servers) life = std::max(life, secs(sv.response_time));
    Pools pools;
    for (std::size_t ci = 0; ci < f.clients.size(); ++ci) {
        host_pool(sc_, ci, life, pools);
        nat_pools(sc_, ci, life, pools);
    }
    proxy_pools(sc_, pools);
    balancer_pools(sc_, pools);
    for (const Pool& p : pools.list) {
        const bool many = p.clients.size() > 1 && !p.anonymous;
        const std::string shared =
            many ? fmt::format(" ({} workloads add up: {})", p.clients.size(), names_of(f, p.clients)) : "";
        if (!p.no_budget)
            budget(p.ports, fmt::format("{} {}{}", p.what, p.budget_where, shared), p.offered, p.hold_s,
                   p.clients.empty() ? -1 : p.clients.front());
        consider(p.rate, p.basis + shared, p.anonymous ? std::vector<int>{} : p.clients, p.offered, p.tw_host, p.ports, p.hold);
    }
    return best;
}

}  // namespace tcpsim
