#include "whatif/remedies.hpp"

#include "forecast/forecast.hpp"
#include "scenario/scenario.hpp"
#include "base/text_table.hpp"
#include "tcp/segment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace tcpsim {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

bool is_linux(const HostSpec& h) { return h.profile_data.sysctls.count("net.ipv4.tcp_tw_reuse") > 0; }
bool has_sysctl(const HostSpec& h, const char* name) { return h.profile_data.sysctls.count(name) > 0; }

std::string list_names(const Scenario& sc, const std::vector<int>& hosts) {
    std::string s;
    for (int h : hosts) s += fmt::format("{}{}", s.empty() ? "" : ", ", sc.hosts[static_cast<std::size_t>(h)].name);
    return s;
}

std::string places_text(const std::vector<RemedyPlace>& where) {
    std::string s;
    for (const RemedyPlace& p : where) {
        const char* role = p.as == "opener" ? "its own ports" : p.as == "middlebox" ? "its translated ports" : "dropped the SYNs sent to it";
        s += fmt::format("{}{} ({})", s.empty() ? "" : ", ", p.node, role);
    }
    return s;
}

// The scenario as the remedies see it: who opens connections, who closes first, and where the
// servers and proxies that answer a target are.
struct View {
    const Scenario& sc;
    const json& doc;
    const std::vector<RemedyPlace>& where;  // empty: every place a remedy can act on
    std::vector<std::string> host_pointers;  // per host (fleet members: their fleet's entry)

    [[nodiscard]] const std::string& host_ptr(int h) const { return host_pointers[static_cast<std::size_t>(h)]; }

    // Is `node` a place of the failure, in the role `as`? Always, without places.
    [[nodiscard]] bool at(const std::string& node, const char* as) const {
        if (where.empty()) return true;
        return std::any_of(where.begin(), where.end(), [&](const RemedyPlace& p) { return p.node == node && p.as == as; });
    }
    [[nodiscard]] bool at_host(int h, const char* as) const { return at(sc.hosts[static_cast<std::size_t>(h)].name, as); }
    // Do a workload's own connections (from `host` to `t`) pass a place of the failure? Its host
    // opens them, its NAT or the balancer it targets translates them, or the host answering them
    // dropped their SYNs.
    [[nodiscard]] bool through(const std::string& host, const TargetSpec& t) const {
        if (where.empty() || at(host, "opener")) return true;
        for (const NatSpec& n : sc.forecast.nats)
            if (std::find(n.inside.begin(), n.inside.end(), host) != n.inside.end() && at(n.name, "middlebox")) return true;
        for (const BalancerSpec& b : sc.forecast.balancers)
            if (b.vip == t.ip && b.port == t.port && at(b.name, "middlebox")) return true;
        for (const std::string& l : listeners(t.ip, t.port, sc.host_index(host)))
            if (at(listener_host(l), "listener")) return true;
        return false;
    }
    // Why a remedy has nothing to change: `everywhere` without places, else where it would act.
    [[nodiscard]] std::string nothing(const std::string& everywhere, const std::string& acts_on) const {
        if (where.empty()) return everywhere;
        return fmt::format("it acts on {}, and the scenario failed or degraded at {}", acts_on, places_text(where));
    }
    [[nodiscard]] std::string listener_host(const std::string& listener) const {
        const std::size_t j = std::stoul(listener.substr(listener.rfind('/') + 1));
        return listener.rfind("/servers/", 0) == 0 ? sc.forecast.servers[j].host : sc.forecast.proxies[j].host;
    }

    // Hosts that open connections: client workloads' hosts and proxies' hosts, in host order.
    [[nodiscard]] std::vector<int> openers() const {
        std::set<int> s;
        for (const ClientSpec& c : sc.forecast.clients) s.insert(sc.host_index(c.host));
        for (const ProxySpec& p : sc.forecast.proxies) s.insert(sc.host_index(p.host));
        return {s.begin(), s.end()};
    }
    // The listeners (as "/servers/j" or "/proxies/j") that answer connections to ip:port.
    [[nodiscard]] std::vector<std::string> listeners(std::uint32_t ip, std::uint16_t port, int self) const {
        std::vector<std::pair<std::string, std::uint16_t>> hosts;  // (host, port)
        if ((ip >> 24) == 127 && self >= 0) hosts.emplace_back(sc.hosts[static_cast<std::size_t>(self)].name, port);
        for (const HostSpec& h : sc.hosts)
            if (h.ip == ip || std::find(h.extra_ips.begin(), h.extra_ips.end(), ip) != h.extra_ips.end()) hosts.emplace_back(h.name, port);
        for (const BalancerSpec& b : sc.forecast.balancers)
            if (b.vip == ip && b.port == port)
                for (std::size_t k = 0; k < b.backends.size(); ++k) hosts.emplace_back(b.backend_hosts[k], b.backends[k].port);
        std::vector<std::string> out;
        for (const auto& [h, p] : hosts) {
            for (std::size_t j = 0; j < sc.forecast.servers.size(); ++j)
                if (sc.forecast.servers[j].host == h && sc.forecast.servers[j].port == p) out.push_back(fmt::format("/servers/{}", j));
            for (std::size_t j = 0; j < sc.forecast.proxies.size(); ++j)
                if (sc.forecast.proxies[j].host == h && sc.forecast.proxies[j].port == p) out.push_back(fmt::format("/proxies/{}", j));
        }
        return out;
    }
    [[nodiscard]] ServerClose close_of(const std::string& listener) const {
        const std::size_t j = std::stoul(listener.substr(listener.rfind('/') + 1));
        return listener.rfind("/servers/", 0) == 0 ? sc.forecast.servers[j].close : sc.forecast.proxies[j].close;
    }
    // Hosts that close first, so hold the TIME-WAIT.
    [[nodiscard]] std::vector<int> closers_first() const {
        std::set<int> s;
        auto listener_hosts = [&](const TargetSpec& t, int self) {
            for (const std::string& l : listeners(t.ip, t.port, self)) {
                const std::size_t j = std::stoul(l.substr(l.rfind('/') + 1));
                s.insert(sc.host_index(l.rfind("/servers/", 0) == 0 ? sc.forecast.servers[j].host : sc.forecast.proxies[j].host));
            }
        };
        for (const ClientSpec& c : sc.forecast.clients) {
            if (c.closer == Closer::Client) s.insert(sc.host_index(c.host));
            if (c.closer == Closer::Server) listener_hosts(c.target, sc.host_index(c.host));
        }
        for (const ProxySpec& p : sc.forecast.proxies) {
            if (p.upstream_closer == Closer::Client) s.insert(sc.host_index(p.host));
            if (p.upstream_closer == Closer::Server) listener_hosts(p.upstream, sc.host_index(p.host));
        }
        for (const ServerSpec& v : sc.forecast.servers)
            if (v.close == ServerClose::AfterResponse) s.insert(sc.host_index(v.host));
        return {s.begin(), s.end()};
    }
};

const char* kPool = R"({"size": 64, "max_requests": 1000, "idle_timeout": "60s"})";

Remedy tw_reuse(const View& v) {
    Remedy r{"tcp_tw_reuse=1", {}, "needs timestamps on both ends",
             "connect() takes over a TIME-WAIT port toward the same destination once it is 1 s old (tcp_tw_reuse_delay); "
             "safe only while TCP timestamps are on at both ends, so PAWS drops the old connection's duplicates (RFC 7323); "
             "helps outgoing connections only (Linux Documentation/networking/ip-sysctl.rst, tcp_tw_reuse)",
             ""};
    for (int h : v.openers()) {
        const HostSpec& hs = v.sc.hosts[static_cast<std::size_t>(h)];
        if (is_linux(hs) && hs.stack.tw_reuse != 1 && v.at_host(h, "opener"))
            r.sets.push_back(Override{v.host_ptr(h) + "/sysctls/net.ipv4.tcp_tw_reuse", 1});
    }
    if (r.sets.empty())
        r.not_applicable = v.nothing("no Linux host that opens connections has tcp_tw_reuse other than 1",
                                     "a Linux host's own ports for the connections it opens (with tcp_tw_reuse other than 1)");
    return r;
}

Remedy wider_range(const View& v) {
    Remedy r{"ports 1024-65535", {}, "ephemeral ports take service ports",
             "ephemeral ports now include ports that services may want to bind later (their bind() fails with EADDRINUSE: "
             "reserve them with ip_local_reserved_ports) and that firewalls may treat as service ports",
             ""};
    for (int h : v.openers()) {
        const HostSpec& hs = v.sc.hosts[static_cast<std::size_t>(h)];
        if ((hs.stack.ports.lo <= 1024 && hs.stack.ports.hi >= 65535) || !v.at_host(h, "opener")) continue;
        if (has_sysctl(hs, "net.ipv4.ip_local_port_range")) {
            r.sets.push_back(Override{v.host_ptr(h) + "/sysctls/net.ipv4.ip_local_port_range", "1024 65535"});
        } else if (has_sysctl(hs, "net.inet.ip.portrange.first")) {
            r.sets.push_back(Override{v.host_ptr(h) + "/sysctls/net.inet.ip.portrange.first", 1024});
            r.sets.push_back(Override{v.host_ptr(h) + "/sysctls/net.inet.ip.portrange.last", 65535});
        }
    }
    for (std::size_t k = 0; k < v.sc.forecast.nats.size(); ++k) {
        const net::NatConfig& c = v.sc.forecast.nats[k].config;
        if (!v.at(v.sc.forecast.nats[k].name, "middlebox")) continue;
        const json* pph = value_at(v.doc, fmt::format("/nats/{}/ports_per_host", k));
        if (c.assign == net::NatAssign::Blocks) {
            // Cloud NAT: "minimum ports per VM" (64 by default) can be raised.
            if (pph && pph->is_number() && c.ports_per_host < 1024)
                r.sets.push_back(Override{fmt::format("/nats/{}/ports_per_host", k), 1024});
        } else if (c.port_lo > 1024 || c.port_hi < 65535) {
            r.sets.push_back(Override{fmt::format("/nats/{}/port_range", k), json::array({1024, 65535})});
        }
    }
    for (std::size_t k = 0; k < v.sc.forecast.balancers.size(); ++k) {
        const BalancerSpec& b = v.sc.forecast.balancers[k];
        if (b.snat && v.at(b.name, "middlebox") && (b.snat_config.port_lo > 1024 || b.snat_config.port_hi < 65535))
            r.sets.push_back(Override{fmt::format("/balancers/{}/port_range", k), json::array({1024, 65535})});
    }
    if (r.sets.empty())
        r.not_applicable = v.nothing("every port range on the way is already 1024-65535 (or not settable in the model)",
                                     "the port range of a host that opens connections, a NAT or a source-NAT balancer, where it is "
                                     "not 1024-65535 already");
    return r;
}

Remedy more_addresses(const View& v) {
    Remedy r{"a second source address", {}, "must route back; one more IP",
             "each added address must route back to this host and pass the peer's filters; ports are per (source, "
             "destination), so without IP_BIND_ADDRESS_NO_PORT a bind() before connect() still spends one port per "
             "connection across all destinations",
             ""};
    std::set<std::uint32_t> used;
    for (const HostSpec& h : v.sc.hosts) {
        used.insert(h.ip);
        used.insert(h.extra_ips.begin(), h.extra_ips.end());
    }
    for (const NatSpec& n : v.sc.forecast.nats) used.insert(n.config.outer.begin(), n.config.outer.end());
    for (const BalancerSpec& b : v.sc.forecast.balancers) {
        used.insert(b.vip);
        used.insert(b.snat_config.outer.begin(), b.snat_config.outer.end());
    }
    auto fresh = [&](std::uint32_t from) {
        std::uint32_t a = from;
        do {
            ++a;
        } while (used.count(a) || (a & 0xFF) == 0 || (a & 0xFF) == 255);
        used.insert(a);
        return a;
    };
    std::map<int, std::uint32_t> added;  // host -> its new address
    auto host_address = [&](int h) {
        if (auto it = added.find(h); it != added.end()) return it->second;
        const HostSpec& hs = v.sc.hosts[static_cast<std::size_t>(h)];
        const std::uint32_t a = fresh(std::max(hs.ip, hs.extra_ips.empty() ? 0u : *std::max_element(hs.extra_ips.begin(), hs.extra_ips.end())));
        added[h] = a;
        if (value_at(v.doc, v.host_ptr(h) + "/address")) {
            r.sets.push_back(Override{v.host_ptr(h) + "/address", nullptr});
            r.sets.push_back(Override{v.host_ptr(h) + "/addresses", json::array({tcp::format_ip(hs.ip), tcp::format_ip(a)})});
        } else {
            r.sets.push_back(Override{v.host_ptr(h) + "/addresses/-", tcp::format_ip(a)});
        }
        return a;
    };
    auto sources = [&](const std::vector<std::uint32_t>& now, int h) {
        const HostSpec& hs = v.sc.hosts[static_cast<std::size_t>(h)];
        json list = json::array();
        for (std::uint32_t a : now.empty() ? std::vector<std::uint32_t>{hs.ip} : now) list.push_back(tcp::format_ip(a));
        list.push_back(tcp::format_ip(host_address(h)));
        return list;
    };
    for (std::size_t k = 0; k < v.sc.forecast.clients.size(); ++k) {
        const ClientSpec& c = v.sc.forecast.clients[k];
        const int h = v.sc.host_index(c.host);
        if ((c.target.ip >> 24) == 127 || c.bind == BindMode::Fixed || !v.at(c.host, "opener")) continue;
        if (v.sc.hosts[static_cast<std::size_t>(h)].group >= 0) continue;  // a fleet's addresses come from its template
        const json list = sources(c.source_addresses, h);
        r.sets.push_back(Override{c.pointer + "/source_addresses", list});
        // Bind with IP_BIND_ADDRESS_NO_PORT, so connect() picks the port per destination.
        if (c.bind == BindMode::None) r.sets.push_back(Override{c.pointer + "/bind", "no_port"});
    }
    for (std::size_t k = 0; k < v.sc.forecast.proxies.size(); ++k) {
        const ProxySpec& p = v.sc.forecast.proxies[k];
        if (!v.at(p.host, "opener") || v.sc.hosts[static_cast<std::size_t>(v.sc.host_index(p.host))].group >= 0) continue;
        r.sets.push_back(Override{fmt::format("/proxies/{}/source_addresses", k), sources(p.source_addresses, v.sc.host_index(p.host))});
    }
    for (std::size_t k = 0; k < v.sc.forecast.nats.size(); ++k) {
        const auto& outer = v.sc.forecast.nats[k].config.outer;
        if (!v.at(v.sc.forecast.nats[k].name, "middlebox")) continue;
        r.sets.push_back(Override{fmt::format("/nats/{}/addresses/-", k), tcp::format_ip(fresh(*std::max_element(outer.begin(), outer.end())))});
    }
    for (std::size_t k = 0; k < v.sc.forecast.balancers.size(); ++k) {
        const BalancerSpec& b = v.sc.forecast.balancers[k];
        if (!b.snat || !v.at(b.name, "middlebox")) continue;
        if (value_at(v.doc, fmt::format("/balancers/{}/snat_addresses", k))) {
            r.sets.push_back(Override{fmt::format("/balancers/{}/snat_addresses/-", k), tcp::format_ip(fresh(b.snat_config.outer.back()))});
        } else {
            const std::uint32_t a = fresh(b.vip), c = fresh(a);
            r.sets.push_back(Override{fmt::format("/balancers/{}/snat_addresses", k), json::array({tcp::format_ip(a), tcp::format_ip(c)})});
        }
    }
    if (r.sets.empty())
        r.not_applicable = v.nothing("no client, proxy, NAT or source-NAT balancer to give an address",
                                     "a client or proxy whose own ports ran out, a NAT or a source-NAT balancer");
    return r;
}

Remedy pooling(const View& v) {
    Remedy r{"keep-alive pool of 64", {}, "idle pooled conns can die",
             "a pooled connection can be closed by the server or a middlebox while idle, and the next request on it fails "
             "(retry idempotent requests only); load spreads per connection, not per request; a server that closed after "
             "each response must keep the connection open for its keep-alive timeout (HTTP/1.1 persistent connections, "
             "RFC 9112 9.3)",
             ""};
    // A server that closes after each response would end every pooled connection: it keeps them
    // for its keep_alive_timeout instead.
    std::set<std::string> kept;
    auto keep_alive = [&](std::uint32_t ip, std::uint16_t port, const std::string& host) {
        for (const std::string& l : v.listeners(ip, port, v.sc.host_index(host)))
            if (v.close_of(l) == ServerClose::AfterResponse && kept.insert(l).second) r.sets.push_back(Override{l + "/close", "idle_timeout"});
    };
    for (std::size_t k = 0; k < v.sc.forecast.clients.size(); ++k) {
        const ClientSpec& c = v.sc.forecast.clients[k];
        if (c.pool.enabled || c.closer == Closer::Reset || !v.through(c.host, c.target)) continue;
        r.sets.push_back(Override{c.pointer + "/pool", json::parse(kPool)});
        // A pooled connection is ended by its client (after max_requests, or idle).
        if (c.closer != Closer::Client) r.sets.push_back(Override{c.pointer + "/closer", "client"});
        keep_alive(c.target.ip, c.target.port, c.host);
    }
    for (std::size_t k = 0; k < v.sc.forecast.proxies.size(); ++k) {
        const ProxySpec& p = v.sc.forecast.proxies[k];
        if (p.pool.enabled || p.upstream_closer == Closer::Reset || !v.through(p.host, p.upstream)) continue;
        r.sets.push_back(Override{fmt::format("/proxies/{}/pool", k), json::parse(kPool)});
        keep_alive(p.upstream.ip, p.upstream.port, p.host);
    }
    if (r.sets.empty())
        r.not_applicable = v.nothing("every client and proxy that closes with a FIN already pools its connections",
                                     "clients and proxies without a pool that close with a FIN, whose connections pass there");
    return r;
}

Remedy other_side_closes(const View& v) {
    Remedy r{"the other side closes first", {}, "TIME-WAIT moves to the peer",
             "the TIME-WAIT moves to the other host: cheap on a server's listening port, but a NAT or balancer that reuses "
             "4-tuples then meets it with new SYNs (RFC 6191 reopening, or dropped SYNs), and the client must wait for the "
             "server's FIN",
             ""};
    std::set<std::string> done;
    auto set_close = [&](const std::string& listener, const char* close) {
        if (!done.insert(listener).second) return;
        r.sets.push_back(Override{listener + "/close", close});
    };
    for (std::size_t k = 0; k < v.sc.forecast.clients.size(); ++k) {
        const ClientSpec& c = v.sc.forecast.clients[k];
        if (c.pool.enabled || c.closer == Closer::Reset || !v.through(c.host, c.target)) continue;
        const bool to_server = c.closer == Closer::Client;
        r.sets.push_back(Override{c.pointer + "/closer", to_server ? "server" : "client"});
        for (const std::string& l : v.listeners(c.target.ip, c.target.port, v.sc.host_index(c.host)))
            if (to_server && v.close_of(l) == ServerClose::WaitForClient) set_close(l, "after_response");
            else if (!to_server && v.close_of(l) == ServerClose::AfterResponse) set_close(l, "wait_for_client");
    }
    for (std::size_t k = 0; k < v.sc.forecast.proxies.size(); ++k) {
        const ProxySpec& p = v.sc.forecast.proxies[k];
        if (p.pool.enabled || p.upstream_closer == Closer::Reset || !v.through(p.host, p.upstream)) continue;
        const bool to_server = p.upstream_closer == Closer::Client;
        r.sets.push_back(Override{fmt::format("/proxies/{}/upstream_closer", k), to_server ? "server" : "proxy"});
        for (const std::string& l : v.listeners(p.upstream.ip, p.upstream.port, v.sc.host_index(p.host)))
            if (to_server && v.close_of(l) == ServerClose::WaitForClient) set_close(l, "after_response");
            else if (!to_server && v.close_of(l) == ServerClose::AfterResponse) set_close(l, "wait_for_client");
    }
    if (r.sets.empty())
        r.not_applicable = v.nothing("no connection without a pool closes with a FIN", "connections without a pool that close with a FIN and pass there");
    return r;
}

Remedy linger_zero(const View& v) {
    Remedy r{"SO_LINGER 0 (close with RST)", {}, "RST: data lost, ECONNRESET",
             "close() sends an RST instead of a FIN: data not yet delivered is thrown away and the peer's next read() fails "
             "with ECONNRESET; no TIME-WAIT is left to absorb the old connection's delayed segments (RFC 9293 3.6; RFC 1337)",
             ""};
    for (std::size_t k = 0; k < v.sc.forecast.clients.size(); ++k) {
        const ClientSpec& c = v.sc.forecast.clients[k];
        if (c.closer == Closer::Client && !c.pool.enabled && v.through(c.host, c.target)) r.sets.push_back(Override{c.pointer + "/closer", "rst"});
    }
    for (std::size_t k = 0; k < v.sc.forecast.proxies.size(); ++k) {
        const ProxySpec& p = v.sc.forecast.proxies[k];
        if (p.upstream_closer == Closer::Client && !p.pool.enabled && v.through(p.host, p.upstream))
            r.sets.push_back(Override{fmt::format("/proxies/{}/upstream_closer", k), "rst"});
    }
    if (r.sets.empty())
        r.not_applicable = v.nothing("no client or proxy closes first without a pool", "clients and proxies that close first without a pool, "
                                                                                      "whose connections pass there");
    return r;
}

Remedy shorter_time_wait(const View& v) {
    Remedy r{"a shorter TIME-WAIT", {}, "old duplicates reach new conns",
             "a TIME-WAIT shorter than 2 x MSL lets a delayed segment of the old connection land in a new one on the same "
             "4-tuple (RFC 9293 3.4.2; RFC 1337)",
             ""};
    std::vector<int> fixed;
    for (int h : v.closers_first()) {
        const HostSpec& hs = v.sc.hosts[static_cast<std::size_t>(h)];
        if (!v.at_host(h, "opener") && !v.at_host(h, "listener")) continue;  // its TIME-WAIT is not what ran out
        if (has_sysctl(hs, "TcpTimedWaitDelay")) {
            // Windows: TcpTimedWaitDelay takes 30 to 300 s.
            if (hs.tcp.time_wait > Duration::s(30)) r.sets.push_back(Override{v.host_ptr(h) + "/sysctls/TcpTimedWaitDelay", 30});
        } else if (has_sysctl(hs, "net.inet.tcp.msl")) {
            // FreeBSD / macOS: net.inet.tcp.msl in ms; 1000 gives a 2 s TIME-WAIT (capacity-cases.md case 6).
            if (hs.tcp.time_wait_length() > Duration::s(2))
                r.sets.push_back(Override{v.host_ptr(h) + "/sysctls/net.inet.tcp.msl", 1000});
        } else {
            fixed.push_back(h);
        }
    }
    if (r.sets.empty())
        r.not_applicable = fixed.empty() ? v.nothing("no host closes first", "the TIME-WAIT of a host that closes first")
                                         : fmt::format("not settable on {}: Linux's TIME-WAIT is TCP_TIMEWAIT_LEN, 60 s at compile time "
                                                       "(include/net/tcp.h; tcp_fin_timeout is FIN-WAIT-2's), a strict RFC stack keeps 2 x MSL",
                                                       list_names(v.sc, fixed));
    return r;
}

Remedy tw_recycle(const View& v) {
    Remedy r{"tcp_tw_recycle=1 (linux-4.9)", {}, "drops SYNs from behind NAT",
             "a host remembers each peer address's last TCP timestamp and drops SYNs carrying an older one, so clients behind "
             "one NAT address lose connects (PAWSPassiveRejected); removed in Linux 4.12",
             ""};
    bool any = false;
    for (std::size_t h = 0; h < v.sc.hosts.size(); ++h) {
        const HostSpec& hs = v.sc.hosts[h];
        any = any || has_sysctl(hs, "net.ipv4.tcp_tw_recycle");
        if (has_sysctl(hs, "net.ipv4.tcp_tw_recycle") && !hs.stack.tw_recycle &&
            (v.at(hs.name, "opener") || v.at(hs.name, "listener")))
            r.sets.push_back(Override{v.host_ptr(static_cast<int>(h)) + "/sysctls/net.ipv4.tcp_tw_recycle", 1});
    }
    if (r.sets.empty())
        r.not_applicable = !any ? "no linux-4.9 host: tcp_tw_recycle was removed in Linux 4.12"
                                : v.nothing("every linux-4.9 host has it on already (row 0 is the remedy)",
                                            "the TIME-WAIT of a linux-4.9 host without it");
    return r;
}

// Google Cloud NAT lets its TCP TIME_WAIT timeout be set (gcloud compute routers nats update
// --tcp-time-wait-timeout; 120 s by default, 30 s for gateways made after September 2026, as
// Google announced): a port it held after FINs both ways comes back sooner. Other NAT products
// keep theirs fixed (AWS NAT gateway: 350 s idle; Azure NAT gateway: 65 s after a FIN).
Remedy nat_time_wait(const View& v) {
    Remedy r{"NAT TIME_WAIT timeout 30 s", {}, "port reused while peer in TIME-WAIT",
             "Cloud NAT gives the port to another connection to the same destination 30 s after the FINs, while a server "
             "that closed first may still hold the old 4-tuple in TIME-WAIT (60 s on Linux and FreeBSD, 120-240 s on Windows): "
             "its SYN is then answered by the server's TIME-WAIT rules (reopened, ACKed, or dropped in silence) "
             "(Google Cloud NAT, Tune NAT configuration: NAT timeouts)",
             ""};
    for (std::size_t k = 0; k < v.sc.forecast.nats.size(); ++k) {
        const NatSpec& n = v.sc.forecast.nats[k];
        const json* pph = value_at(v.doc, fmt::format("/nats/{}/ports_per_host", k));
        const bool cloud_nat = n.config.assign == net::NatAssign::Blocks && !(pph && pph->is_string());  // not Azure's table
        if (!cloud_nat || !v.at(n.name, "middlebox") || n.config.time_wait_timeout <= Duration::s(30)) continue;
        if (value_at(v.doc, fmt::format("/nats/{}/timeouts", k)))
            r.sets.push_back(Override{fmt::format("/nats/{}/timeouts/time_wait", k), "30s"});
        else
            r.sets.push_back(Override{fmt::format("/nats/{}/timeouts", k), json{{"time_wait", "30s"}}});
    }
    if (r.sets.empty())
        r.not_applicable = v.nothing("no Cloud NAT (assignment blocks) with a TIME_WAIT timeout above 30 s; other NAT products keep theirs fixed",
                                     "a Cloud NAT (assignment blocks) whose TIME_WAIT timeout is above 30 s");
    return r;
}

}  // namespace

std::vector<RemedyPlace> places_of(const ordered_json& d) {
    std::vector<RemedyPlace> out;
    auto add = [&](RemedyPlace p) {
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(std::move(p));
    };
    if (const auto& f = d.at("first_failure"); !f.is_null()) {
        const std::string e = f.at("errno").get<std::string>(), node = f.at("host").get<std::string>();
        if (e == "EADDRNOTAVAIL" || e == "EADDRINUSE") add(RemedyPlace{node, "opener"});
        if (e == "NAT drop") add(RemedyPlace{node, "middlebox"});
    }
    for (const auto& b : d.at("breaches"))
        for (const auto& w : b.at("where")) add(RemedyPlace{w.at("node").get<std::string>(), w.at("as").get<std::string>()});
    return out;
}

std::vector<Remedy> plan_remedies(const std::string& text, const std::string& file, const std::vector<Override>& sets,
                                  const std::vector<RemedyPlace>& where) {
    const Scenario sc = parse_scenario(text, file, sets);
    json doc = json::parse(text);
    apply_overrides(doc, sets, file);
    // A fleet is one entry of the file's "hosts" for all its members.
    std::vector<std::string> host_pointers;
    if (const json* hosts = value_at(doc, "/hosts"); hosts && hosts->is_array())
        for (std::size_t j = 0; j < hosts->size(); ++j) {
            const std::string ptr = fmt::format("/hosts/{}", j);
            const auto g = std::find_if(sc.groups.begin(), sc.groups.end(), [&](const HostGroup& x) { return x.pointer == ptr; });
            host_pointers.insert(host_pointers.end(), g == sc.groups.end() ? 1 : g->count, ptr);
        }
    if (host_pointers.size() != sc.hosts.size())
        throw std::logic_error("remedies: the hosts of the file and of the scenario differ in number");
    const View v{sc, doc, where, std::move(host_pointers)};
    std::vector<Remedy> out;
    out.push_back(Remedy{"as is", {}, "-", "", ""});
    out.push_back(tw_reuse(v));
    out.push_back(wider_range(v));
    out.push_back(more_addresses(v));
    out.push_back(pooling(v));
    out.push_back(other_side_closes(v));
    out.push_back(linger_zero(v));
    out.push_back(shorter_time_wait(v));
    out.push_back(tw_recycle(v));
    out.push_back(nat_time_wait(v));
    // A fleet's members share one entry of the file: its override once.
    for (Remedy& r : out) {
        std::vector<Override> once;
        for (const Override& o : r.sets)
            if (std::none_of(once.begin(), once.end(), [&](const Override& x) { return x.text() == o.text(); })) once.push_back(o);
        r.sets = std::move(once);
    }
    return out;
}

RemedyTable run_remedies(const std::string& text, const std::string& file, const std::vector<Override>& sets, unsigned threads,
                         bool progress) {
    RemedyTable t;
    t.file = file;
    t.sets = sets;
    const Scenario sc = parse_scenario(text, file, sets);
    t.seed = sc.seed;
    // Row 0 first: where it fails or degrades is where the remedies act.
    const ordered_json as_is = run_forecast(sc).doc;
    t.where = places_of(as_is);
    const std::vector<Remedy> plan = plan_remedies(text, file, sets, t.where);
    ProgressBar bar("remedies", plan.size(), progress);
    bar.update(1);
    const std::function<RemedyRow(std::size_t)> job = [&](std::size_t i) {
        RemedyRow row;
        row.remedy = plan[i];
        if (i == 0) {
            row.outcome = outcome_of(as_is);
            return row;
        }
        if (!row.remedy.not_applicable.empty()) return row;
        std::vector<Override> all = sets;
        all.insert(all.end(), plan[i].sets.begin(), plan[i].sets.end());
        try {
            row.outcome = run_outcome(text, file, all);
        } catch (const ScenarioError& e) {
            if (i == 0) throw;
            row.error = e.what();
        }
        return row;
    };
    t.rows = run_all<RemedyRow>(plan.size(), threads, job, [&](std::size_t done) { bar.update(done); });
    bar.finish();
    return t;
}

namespace {

// An argument as a POSIX shell would need it: bare when it has only safe characters.
std::string shell_word(const std::string& s) {
    if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._=:,+-@%") == std::string::npos)
        return s;
    std::string o = "'";
    for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return o + "'";
}

std::string sets_text(const std::vector<Override>& sets, const char* sep = " ") {
    std::string s;
    for (const Override& o : sets) s += fmt::format("{}--set {}", s.empty() ? "" : sep, shell_word(o.text()));
    return s;
}

}  // namespace

std::string remedies_text(const RemedyTable& t) {
    std::string out = fmt::format("tcpsim remedies: {} (seed {})", t.file, t.seed);
    for (const Override& o : t.sets) out += " --set " + o.text();
    out += "\n";
    out += wrap(t.where.empty() ? std::string("Row 0 neither fails nor degrades: each remedy acts wherever it can.")
                                : "Each remedy acts where row 0 failed or degraded: " + places_text(t.where) + ".",
                0, 2);
    out += "\n";
    std::vector<std::vector<std::string>> body;
    const std::vector<std::string> head = {"#", "remedy", "first failure", "first breach", "failed", "unfinished", "p99 ms", "sustained/s", "hazard"};
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
        const RemedyRow& r = t.rows[i];
        std::vector<std::string> l = {std::to_string(i), r.remedy.name};
        if (r.outcome) {
            l.push_back(r.outcome->first_failure_text());
            l.push_back(r.outcome->first_breach_text());
            l.push_back(std::to_string(r.outcome->failed));
            l.push_back(std::to_string(r.outcome->unfinished));
            l.push_back(r.outcome->p99_text());
            l.push_back(fmt::format("{:.1f}", r.outcome->sustained));
        } else {
            l.push_back(r.error.empty() ? "not applicable" : "could not apply");
            for (int k = 0; k < 5; ++k) l.push_back("-");
        }
        l.push_back(r.outcome ? r.remedy.hazard_short : "");
        body.push_back(l);
    }
    out += format_table(head, body, {0, 4, 5, 6, 7});
    out += "\nHow each row was run (tcpsim run FILE with these --set values gives the same figures), and its hazard:\n";
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
        const RemedyRow& r = t.rows[i];
        if (i == 0) {
            out += wrap(fmt::format("{}. {}: the scenario{}", i, r.remedy.name, t.sets.empty() ? " unchanged" : " with the command line's --set values"), 2, 4);
            continue;
        }
        if (!r.remedy.not_applicable.empty()) {
            out += wrap(fmt::format("{}. {}: not applicable: {}.", i, r.remedy.name, r.remedy.not_applicable), 2, 4);
            continue;
        }
        out += fmt::format("  {}. {}\n", i, r.remedy.name);
        for (const Override& o : r.remedy.sets) out += fmt::format("       --set {}\n", shell_word(o.text()));
        if (!r.error.empty()) out += wrap(fmt::format("could not apply: {}", r.error), 5, 7);
        else out += wrap(fmt::format("hazard: {}.", r.remedy.hazard), 5, 7);
    }
    return out;
}

std::string remedies_json(const RemedyTable& t) {
    ordered_json j = tool_json_head("remedies", t.file, t.seed, t.sets);
    ordered_json where = ordered_json::array();
    for (const RemedyPlace& p : t.where) where.push_back({{"node", p.node}, {"as", p.as}});
    j["where"] = where;
    ordered_json rows = ordered_json::array();
    for (const RemedyRow& r : t.rows) {
        ordered_json row;
        row["remedy"] = r.remedy.name;
        ordered_json rs = ordered_json::array();
        for (const Override& o : r.remedy.sets) rs.push_back(o.text());
        row["set"] = rs;
        row["applicable"] = r.remedy.not_applicable.empty();
        if (!r.remedy.not_applicable.empty()) row["why_not"] = r.remedy.not_applicable;
        if (!r.error.empty()) row["error"] = r.error;
        if (r.outcome) {
            const ordered_json o = r.outcome->to_json();
            for (auto it = o.begin(); it != o.end(); ++it) row[it.key()] = it.value();
        }
        row["hazard"] = r.remedy.hazard;
        rows.push_back(row);
    }
    j["rows"] = rows;
    return j.dump(2) + "\n";
}

std::string remedies_csv(const RemedyTable& t) {
    std::string out = "remedy,set,applicable,first_failure_s,first_failure_errno,first_failure_host,first_breach_s,"
                      "first_breach_objective,first_breach_host,attempted,succeeded,failed,unfinished,connect_p99_ms,"
                      "offered_per_s,sustained_per_s,hazard\n";
    for (const RemedyRow& r : t.rows) {
        out += fmt::format("{},{},{}", csv_cell(r.remedy.name), csv_cell(sets_text(r.remedy.sets)), r.outcome ? 1 : 0);
        if (r.outcome) {
            const Outcome& o = *r.outcome;
            out += o.first_failure_s ? fmt::format(",{:.6f},{},{}", *o.first_failure_s, o.first_errno, csv_cell(o.first_host)) : std::string(",,,");
            out += o.first_breach_s ? fmt::format(",{:.6f},{},{}", *o.first_breach_s, o.breach_objective, csv_cell(o.breach_host))
                                    : std::string(",,,");
            out += fmt::format(",{},{},{},{},{},{:.3f},{:.3f}", o.attempted, o.succeeded, o.failed, o.unfinished,
                               o.connect_p99_ms ? fmt::format("{:.3f}", *o.connect_p99_ms) : "", o.offered, o.sustained);
        } else {
            out += ",,,,,,,,,,,,,";
        }
        out += fmt::format(",{}\n", csv_cell(r.remedy.hazard));
    }
    return out;
}

}  // namespace tcpsim
