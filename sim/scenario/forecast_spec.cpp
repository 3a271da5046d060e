// Reading the forecast sections of a scenario (docs/scenario-format.md): every error names the
// file, the JSON pointer and what is wrong (DESIGN.md, non-negotiable 4).
#include "scenario/forecast_spec.hpp"
#include "scenario/profiles.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace tcpsim {

namespace {

template <class E>
E choice(const Reader& r, const json& obj, const std::string& p, const char* key, E dflt,
         std::initializer_list<std::pair<const char*, E>> options) {
    const json* v = r.field(obj, key);
    if (!v) return dflt;
    std::string list;
    for (const auto& [n, e] : options) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", n);
    if (!v->is_string()) r.fail(p + "/" + key, fmt::format("expected one of {}, found {}", list, Reader::show(*v)));
    for (const auto& [n, e] : options)
        if (v->get<std::string>() == n) return e;
    r.fail(p + "/" + key, fmt::format("\"{}\" is not one of {}", v->get<std::string>(), list));
}

double positive_rate(const Reader& r, const json& obj, const std::string& p, const char* key, bool required, double dflt,
                     bool allow_zero = false) {
    const json* v = r.field(obj, key);
    if (!v) {
        if (required) r.fail(p, fmt::format("missing required key \"{}\"", key));
        return dflt;
    }
    if (!v->is_number()) r.fail(p + "/" + key, fmt::format("expected a rate in connections per second, found {}", Reader::show(*v)));
    const double x = v->get<double>();
    if (!(x > 0 || (allow_zero && x == 0)) || x > 1e8)
        r.fail(p + "/" + key, fmt::format("{} is out of range (a rate {} and at most 100000000 per second)", Reader::show(*v),
                                          allow_zero ? "of 0 or more" : "above 0"));
    return x;
}

std::vector<std::uint32_t> address_list(const Reader& r, const json& obj, const std::string& p, const char* key) {
    std::vector<std::uint32_t> out;
    const json* v = r.field(obj, key);
    if (!v) return out;
    if (!v->is_array()) r.fail(p + "/" + key, "expected an array of IPv4 addresses");
    for (std::size_t k = 0; k < v->size(); ++k) {
        std::uint32_t ip = 0;
        const std::string ap = fmt::format("{}/{}/{}", p, key, k);
        if (!(*v)[k].is_string() || !parse_ipv4((*v)[k].get<std::string>(), ip))
            r.fail(ap, fmt::format("{} is not an IPv4 address", Reader::show((*v)[k])));
        out.push_back(ip);
    }
    return out;
}

std::pair<std::uint16_t, std::uint16_t> port_range(const Reader& r, const json& obj, const std::string& p, const char* key,
                                                   std::pair<std::uint16_t, std::uint16_t> dflt) {
    const json* v = r.field(obj, key);
    if (!v) return dflt;
    const std::string q = p + "/" + key;
    if (!v->is_array() || v->size() != 2 || !(*v)[0].is_number_integer() || !(*v)[1].is_number_integer())
        r.fail(q, fmt::format("expected [LOW, HIGH], found {}", Reader::show(*v)));
    auto port_at = [&](std::size_t k) -> std::int64_t {
        const json& x = (*v)[k];
        // A number above INT64_MAX is unsigned in nlohmann: compare it as such (as int64 it wraps).
        const bool ok = x.is_number_unsigned() ? x.get<std::uint64_t>() >= 1 && x.get<std::uint64_t>() <= 65535
                                               : x.get<std::int64_t>() >= 1 && x.get<std::int64_t>() <= 65535;
        if (!ok) r.fail(fmt::format("{}/{}", q, k), fmt::format("{} is not a port between 1 and 65535", Reader::show(x)));
        return x.get<std::int64_t>();
    };
    const auto lo = port_at(0), hi = port_at(1);
    if (lo > hi) r.fail(q, fmt::format("the range is reversed: {} is above {}", lo, hi));
    return {static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
}

// Azure Load Balancer's default SNAT port pre-allocation by backend pool size (Microsoft Learn
// "Source Network Address Translation (SNAT) for outbound connections", reference case 9).
std::uint32_t azure_default_ports(std::uint64_t pool) {
    if (pool <= 50) return 1024;
    if (pool <= 100) return 512;
    if (pool <= 200) return 256;
    if (pool <= 400) return 128;
    if (pool <= 800) return 64;
    return 32;  // 801-1000
}

void read_nat_config(const Reader& r, const json& n, const std::string& p, net::NatConfig& c, std::size_t inside_hosts) {
    const auto [lo, hi] = port_range(r, n, p, "port_range", {c.port_lo, c.port_hi});
    c.port_lo = lo;
    c.port_hi = hi;
    c.mapping = choice(r, n, p, "mapping", c.mapping,
                       {{"endpoint-independent", net::NatMapping::EndpointIndependent},
                        {"address-dependent", net::NatMapping::AddressDependent},
                        {"address-and-port-dependent", net::NatMapping::AddressAndPortDependent}});
    c.assign = choice(r, n, p, "assignment", c.assign,
                      {{"preserve", net::NatAssign::Preserve}, {"sequential", net::NatAssign::Sequential},
                       {"random", net::NatAssign::Random}, {"blocks", net::NatAssign::Blocks}});
    c.fill_first = r.boolean(n, p, "fill_first", c.fill_first);
    const std::uint32_t range = static_cast<std::uint32_t>(c.port_hi - c.port_lo + 1);
    if (const json* pp = r.field(n, "ports_per_host")) {
        if (pp->is_string() && pp->get<std::string>() == "azure-default") {
            const std::uint64_t pool = r.uint(n, p, "pool_size", false, inside_hosts, 1000);
            if (pool == 0) r.fail(p + "/pool_size", "the backend pool has at least one instance");
            c.ports_per_host = azure_default_ports(pool);
        } else {
            if (!pp->is_number_integer())
                r.fail(p + "/ports_per_host", fmt::format("expected a number of ports or \"azure-default\", found {}", Reader::show(*pp)));
            c.ports_per_host = static_cast<std::uint32_t>(r.uint(n, p, "ports_per_host", true, 64, 65535));
            if (c.ports_per_host == 0) r.fail(p + "/ports_per_host", "a block has at least one port");
        }
        if (c.ports_per_host > range)
            r.fail(p + "/ports_per_host", fmt::format("{} ports per host do not fit in the port range of {} ports", c.ports_per_host, range));
    } else if (n.contains("pool_size")) {
        r.fail(p + "/pool_size", "pool_size goes with \"ports_per_host\": \"azure-default\"");
    }
    // Google Cloud NAT dynamic port allocation (capacity-cases.md case 15): minimum ports per VM
    // (ports_per_host, default 32 here) and maximum, both powers of 2, the maximum up to 65536.
    if (n.contains("max_ports_per_host")) {
        if (c.assign != net::NatAssign::Blocks) r.fail(p + "/max_ports_per_host", "dynamic port allocation goes with \"assignment\": \"blocks\"");
        if (!n.contains("ports_per_host")) c.ports_per_host = std::min<std::uint32_t>(32, range);
        c.max_ports_per_host = static_cast<std::uint32_t>(r.uint(n, p, "max_ports_per_host", true, 0, 65536));
        auto pow2 = [](std::uint32_t x) { return x != 0 && (x & (x - 1)) == 0; };
        if (!pow2(c.ports_per_host)) r.fail(p + "/ports_per_host", "with dynamic port allocation the minimum ports per host is a power of 2");
        if (!pow2(c.max_ports_per_host) || c.max_ports_per_host < c.ports_per_host)
            r.fail(p + "/max_ports_per_host", fmt::format("the maximum ports per host is a power of 2 from ports_per_host ({}) to 65536",
                                                          c.ports_per_host));
    }
    if (const json* t = r.field(n, "timeouts")) {
        const std::string tp = p + "/timeouts";
        r.only_keys(*t, tp, {"established", "transitory", "time_wait"});
        c.established_timeout = r.duration(*t, tp, "established", false, c.established_timeout);
        c.transitory_timeout = r.duration(*t, tp, "transitory", false, c.transitory_timeout);
        c.time_wait_timeout = r.duration(*t, tp, "time_wait", false, c.time_wait_timeout);
    }
    c.per_destination_cap = static_cast<std::uint32_t>(r.uint(n, p, "per_destination_cap", false, 0, 65535));
    c.on_exhaustion = choice(r, n, p, "on_exhaustion", c.on_exhaustion,
                             {{"drop", net::NatOnExhaustion::Drop}, {"rst", net::NatOnExhaustion::Reset}});
}

PoolSpec read_pool(const Reader& r, const json& obj, const std::string& p) {
    PoolSpec ps;
    const json* v = r.field(obj, "pool");
    if (!v) return ps;
    const std::string q = p + "/pool";
    r.only_keys(*v, q, {"size", "max_requests", "idle_timeout"});
    ps.enabled = true;
    ps.size = static_cast<std::uint32_t>(r.uint(*v, q, "size", true, 0, 1'000'000));
    if (ps.size == 0) r.fail(q + "/size", "a pool keeps at least one connection (leave \"pool\" out for none)");
    ps.max_requests = static_cast<std::uint32_t>(r.uint(*v, q, "max_requests", false, 0, UINT32_MAX));
    ps.idle_timeout = r.duration(*v, q, "idle_timeout", false, ps.idle_timeout);
    return ps;
}

ServerClose read_close(const Reader& r, const json& obj, const std::string& p) {
    return choice(r, obj, p, "close", ServerClose::WaitForClient,
                  {{"after_response", ServerClose::AfterResponse}, {"wait_for_client", ServerClose::WaitForClient},
                   {"idle_timeout", ServerClose::IdleTimeout}});
}

}  // namespace

namespace {

// The forecast sections read in order, with what they share: the name space of nodes (hosts,
// NATs and balancers), the addresses in use, the hosts already behind a NAT.
struct ForecastReader {
    const Reader& r;
    const json& doc;
    Scenario& sc;
    ForecastSpec& f;
    std::set<std::string> names;
    std::set<std::uint32_t> addresses;
    std::set<std::string> behind_nat;

    ForecastReader(const Reader& reader, const json& d, Scenario& s) : r(reader), doc(d), sc(s), f(s.forecast) {
        for (const HostSpec& h : sc.hosts) {
            names.insert(h.name);
            addresses.insert(h.ip);
            for (std::uint32_t a : h.extra_ips) addresses.insert(a);
        }
    }

    std::string host_ref(const std::string& n, const std::string& p) const {
        if (sc.host_index(n) < 0) r.fail(p, unknown_name("host", n, sc.host_names()));
        return n;
    }
    // A host or a fleet (its name template, "vm-{i}"): the hosts it names.
    std::vector<std::string> hosts_ref(const std::string& n, const std::string& p) const {
        if (!sc.group(n)) host_ref(n, p);
        return sc.hosts_named(n);
    }
    const json* array(const char* key) const {
        const json* v = r.field(doc, key);
        if (v && !v->is_array()) r.fail(std::string("/") + key, "expected an array");
        return v;
    }
    void new_name(const std::string& n, const std::string& p) {
        if (n.empty()) r.fail(p, "a name cannot be empty");
        if (!names.insert(n).second) r.fail(p, fmt::format("the name \"{}\" is already used by a host, NAT or balancer", n));
    }
    void new_address(std::uint32_t a, const std::string& p) {
        if ((a >> 24) == 127) r.fail(p, "127.0.0.0/8 is every host's loopback; give another address");
        if (!addresses.insert(a).second) r.fail(p, fmt::format("address {} is used twice", tcp::format_ip(a)));
    }
    // What a server and a proxy share: the host, the listening port and the backlog.
    void read_listener(const json& obj, const std::string& p, const char* what, std::string& host, std::uint16_t& port,
                       std::uint32_t& backlog) const {
        host = host_ref(r.str(obj, p, "host", true), p + "/host");
        port = static_cast<std::uint16_t>(r.uint(obj, p, "port", false, 80, 65535));
        if (port == 0) r.fail(p + "/port", fmt::format("a {} listens on a port between 1 and 65535", what));
        backlog = static_cast<std::uint32_t>(r.uint(obj, p, "backlog", false, 4096, 65535));
    }
    std::optional<std::uint32_t> balancer_ip(const std::string& n) const;
    TargetSpec target(const std::string& text, const std::string& p, bool allow_balancer) const;
    bool has_listener(const TargetSpec& t) const;
    void check_source_addresses(const std::string& p, const std::vector<std::uint32_t>& addrs, const std::string& host,
                                const TargetSpec& to) const;

    void read_nats();
    void read_nat(const json& n, const std::string& p);
    void read_servers();
    void read_proxies();
    void read_balancers();
    void check_upstreams() const;
    void read_clients();
    void read_arrival(const json& c, const std::string& p, ClientSpec& cs) const;
    void check_server_closes(const std::string& p, const ClientSpec& cs) const;
    void read_limits();
};

// Targets: "HOST:PORT", "BALANCER:PORT" or "IP:PORT".
std::optional<std::uint32_t> ForecastReader::balancer_ip(const std::string& n) const {
    if (const json* bs = r.field(doc, "balancers"); bs && bs->is_array())
        for (const json& b : *bs)
            if (b.is_object() && b.value("name", std::string()) == n && b.contains("address") && b["address"].is_string()) {
                std::uint32_t ip = 0;
                if (parse_ipv4(b["address"].get<std::string>(), ip)) return ip;
            }
    return std::nullopt;
}

TargetSpec ForecastReader::target(const std::string& text, const std::string& p, bool allow_balancer) const {
    TargetSpec t;
    t.text = text;
    const auto [h, port] = split_host_port(r, text, p);
    t.port = port;
    if (parse_ipv4(h, t.ip)) return t;
    if (const int hi = sc.host_index(h); hi >= 0) {
        t.ip = sc.hosts[static_cast<std::size_t>(hi)].ip;
        return t;
    }
    if (allow_balancer)
        if (auto ip = balancer_ip(h)) {
            t.ip = *ip;
            return t;
        }
    std::vector<std::string> known = sc.host_names();
    if (allow_balancer)
        if (const json* bs = r.field(doc, "balancers"); bs && bs->is_array())
            for (const json& b : *bs)
                if (b.is_object() && b.contains("name") && b["name"].is_string()) known.push_back(b["name"].get<std::string>());
    r.fail(p, unknown_name(allow_balancer ? "host or balancer" : "host", h, known));
}

bool ForecastReader::has_listener(const TargetSpec& t) const {
    for (const ServerSpec& s : f.servers)
        if (sc.hosts[static_cast<std::size_t>(sc.host_index(s.host))].ip == t.ip && s.port == t.port) return true;
    for (const ProxySpec& s : f.proxies)
        if (sc.hosts[static_cast<std::size_t>(sc.host_index(s.host))].ip == t.ip && s.port == t.port) return true;
    for (const BalancerSpec& b : f.balancers)
        if (b.vip == t.ip && b.port == t.port) return true;
    return false;
}

// Source addresses a workload binds: its host's own, or 127.0.0.0/8 (every host owns it: a
// sidecar binds 127.0.0.6) only toward the loopback.
void ForecastReader::check_source_addresses(const std::string& p, const std::vector<std::uint32_t>& addrs, const std::string& host,
                                            const TargetSpec& to) const {
    const HostSpec& hs = sc.hosts[static_cast<std::size_t>(sc.host_index(host))];
    for (std::size_t k = 0; k < addrs.size(); ++k) {
        const std::uint32_t a = addrs[k];
        if ((a >> 24) == 127 && (to.ip >> 24) != 127)
            r.fail(fmt::format("{}/source_addresses/{}", p, k),
                   fmt::format("{} is a loopback address: it reaches only 127.0.0.0/8, not {}", tcp::format_ip(a), to.text));
        if ((a >> 24) == 127) continue;
        if (a != hs.ip && std::find(hs.extra_ips.begin(), hs.extra_ips.end(), a) == hs.extra_ips.end())
            r.fail(fmt::format("{}/source_addresses/{}", p, k), fmt::format("{} is not an address of host \"{}\"", tcp::format_ip(a), host));
    }
}

// NAT gateways.
void ForecastReader::read_nats() {
    if (const json* nats = array("nats"))
        for (std::size_t i = 0; i < nats->size(); ++i) read_nat((*nats)[i], fmt::format("/nats/{}", i));
}

void ForecastReader::read_nat(const json& n, const std::string& p) {
    r.only_keys(n, p, {"name", "addresses", "inside", "port_range", "mapping", "assignment", "ports_per_host",
                       "max_ports_per_host", "pool_size", "fill_first", "timeouts", "per_destination_cap", "on_exhaustion", "comment"});
    NatSpec ns;
    ns.pointer = p;
    ns.name = r.str(n, p, "name", true);
    new_name(ns.name, p + "/name");
    if (!n.contains("addresses")) r.fail(p, "missing required key \"addresses\" (the pool of outer addresses)");
    ns.config.outer = address_list(r, n, p, "addresses");
    if (ns.config.outer.empty()) r.fail(p + "/addresses", "the NAT pool is empty: give at least one outer address");
    for (std::size_t k = 0; k < ns.config.outer.size(); ++k) new_address(ns.config.outer[k], fmt::format("{}/addresses/{}", p, k));
    const json* in = r.field(n, "inside");
    if (!in || !in->is_array() || in->empty()) r.fail(p + "/inside", "expected a non-empty array of host names behind the NAT");
    for (std::size_t k = 0; k < in->size(); ++k) {
        const std::string ip = fmt::format("{}/inside/{}", p, k);
        if (!(*in)[k].is_string()) r.fail(ip, "expected a host name");
        for (const std::string& h : hosts_ref((*in)[k].get<std::string>(), ip)) {
            if (!behind_nat.insert(h).second) r.fail(ip, fmt::format("host \"{}\" is already behind a NAT", h));
            ns.inside.push_back(h);
        }
    }
    // Defaults of a Linux conntrack MASQUERADE gateway (nf_conntrack-sysctl docs): the
    // port range 1024-65535, TIME_WAIT kept 120 s.
    ns.config.established_timeout = Duration::s(432000);
    ns.config.transitory_timeout = Duration::s(120);
    read_nat_config(r, n, p, ns.config, ns.inside.size());
    // More hosts than blocks: Google Cloud NAT and Azure refuse such an allocation
    // (capacity-cases.md cases 10, 11, 15); the simulation runs it and the extra hosts get none.
    if (ns.config.assign == net::NatAssign::Blocks) {
        const std::uint64_t per = (static_cast<std::uint64_t>(ns.config.port_hi - ns.config.port_lo) + 1) / ns.config.ports_per_host;
        const std::uint64_t blocks = per * ns.config.outer.size();
        if (ns.inside.size() > blocks)
            sc.warnings.push_back(fmt::format(
                "{}: {}: {} hosts behind {} with {} port blocks ({} addresses x {} blocks of {} ports): {} hosts get no block; "
                "Google Cloud NAT and Azure refuse such a configuration",
                r.file(), p, ns.inside.size(), ns.name, blocks, ns.config.outer.size(), per, ns.config.ports_per_host,
                ns.inside.size() - blocks));
    }
    f.nats.push_back(ns);
}

// Servers.
void ForecastReader::read_servers() {
    if (const json* servers = array("servers"))
        for (std::size_t i = 0; i < servers->size(); ++i) {
            const std::string p = fmt::format("/servers/{}", i);
            const json& s = (*servers)[i];
            r.only_keys(s, p, {"host", "port", "backlog", "response_time", "request_bytes", "response_bytes", "close",
                               "keep_alive_timeout", "max_requests", "reuseaddr", "comment"});
            ServerSpec ss;
            ss.pointer = p;
            read_listener(s, p, "server", ss.host, ss.port, ss.backlog);
            ss.response_time = r.duration(s, p, "response_time", false, ss.response_time);
            ss.request_bytes = static_cast<std::uint32_t>(r.uint(s, p, "request_bytes", false, 100, 1u << 30));
            if (ss.request_bytes == 0) r.fail(p + "/request_bytes", "a request has at least one byte");
            ss.response_bytes = static_cast<std::uint32_t>(r.uint(s, p, "response_bytes", false, 1000, 1u << 30));
            if (ss.response_bytes == 0) r.fail(p + "/response_bytes", "a response has at least one byte");
            ss.close = read_close(r, s, p);
            ss.keep_alive_timeout = r.duration(s, p, "keep_alive_timeout", false, ss.keep_alive_timeout);
            ss.max_requests = static_cast<std::uint32_t>(r.uint(s, p, "max_requests", false, 0, UINT32_MAX));
            ss.reuseaddr = r.boolean(s, p, "reuseaddr", false);
            for (const ServerSpec& o : f.servers)
                if (o.host == ss.host && o.port == ss.port)
                    r.fail(p + "/port", fmt::format("a second server on {}:{}", ss.host, ss.port));
            f.servers.push_back(ss);
        }
}

// Proxies.
void ForecastReader::read_proxies() {
    if (const json* proxies = array("proxies"))
        for (std::size_t i = 0; i < proxies->size(); ++i) {
            const std::string p = fmt::format("/proxies/{}", i);
            const json& x = (*proxies)[i];
            r.only_keys(x, p, {"host", "port", "backlog", "upstream", "close", "keep_alive_timeout", "pool",
                               "upstream_closer", "source_addresses", "comment"});
            ProxySpec ps;
            ps.pointer = p;
            read_listener(x, p, "proxy", ps.host, ps.port, ps.backlog);
            ps.upstream = target(r.str(x, p, "upstream", true), p + "/upstream", true);
            ps.close = read_close(r, x, p);
            ps.keep_alive_timeout = r.duration(x, p, "keep_alive_timeout", false, ps.keep_alive_timeout);
            ps.pool = read_pool(r, x, p);
            // "rst": close upstream connections with SO_LINGER 0 (HAProxy "option nolinger" in a
            // backend: the server side is reset instead of closed, leaving no TIME-WAIT).
            ps.upstream_closer = choice(r, x, p, "upstream_closer", Closer::Client,
                                        {{"proxy", Closer::Client}, {"server", Closer::Server}, {"rst", Closer::Reset}});
            if (ps.upstream_closer == Closer::Reset && ps.pool.enabled)
                r.fail(p + "/upstream_closer", "\"rst\" resets every upstream connection after its response: it does not go with a \"pool\"");
            // Upstream connections from several local addresses in turn (nginx: proxy_bind with a
            // variable from split_clients; nginx binds with IP_BIND_ADDRESS_NO_PORT on Linux, so the
            // port is chosen at connect() per destination, src/event/ngx_event_connect.c).
            ps.source_addresses = address_list(r, x, p, "source_addresses");
            check_source_addresses(p, ps.source_addresses, ps.host, ps.upstream);
            for (const ServerSpec& o : f.servers)
                if (o.host == ps.host && o.port == ps.port)
                    r.fail(p + "/port", fmt::format("a server already listens on {}:{}", ps.host, ps.port));
            for (const ProxySpec& o : f.proxies)
                if (o.host == ps.host && o.port == ps.port)
                    r.fail(p + "/port", fmt::format("a second proxy on {}:{}", ps.host, ps.port));
            f.proxies.push_back(ps);
        }
}

// Balancers.
void ForecastReader::read_balancers() {
    if (const json* bals = array("balancers"))
        for (std::size_t i = 0; i < bals->size(); ++i) {
            const std::string p = fmt::format("/balancers/{}", i);
            const json& b = (*bals)[i];
            r.only_keys(b, p, {"name", "address", "port", "backends", "algorithm", "snat", "snat_addresses", "port_range",
                               "mapping", "assignment", "timeouts", "per_destination_cap", "on_exhaustion",
                               "flow_timeout", "snat_address_choice", "comment"});
            BalancerSpec bs;
            bs.pointer = p;
            bs.name = r.str(b, p, "name", true);
            new_name(bs.name, p + "/name");
            const std::string vip = r.str(b, p, "address", true);
            if (!parse_ipv4(vip, bs.vip)) r.fail(p + "/address", fmt::format("\"{}\" is not an IPv4 address", vip));
            new_address(bs.vip, p + "/address");
            bs.port = static_cast<std::uint16_t>(r.uint(b, p, "port", false, 80, 65535));
            if (bs.port == 0) r.fail(p + "/port", "a balancer listens on a port between 1 and 65535");
            const json* be = r.field(b, "backends");
            if (!be || !be->is_array() || be->empty()) r.fail(p + "/backends", "expected a non-empty array of \"HOST:PORT\"");
            for (std::size_t k = 0; k < be->size(); ++k) {
                const std::string bp = fmt::format("{}/backends/{}", p, k);
                if (!(*be)[k].is_string()) r.fail(bp, "expected \"HOST:PORT\"");
                const auto [h, port] = split_host_port(r, (*be)[k].get<std::string>(), bp);
                host_ref(h, bp);
                TargetSpec t;
                t.text = (*be)[k].get<std::string>();
                t.ip = sc.hosts[static_cast<std::size_t>(sc.host_index(h))].ip;
                t.port = port;
                bs.backends.push_back(t);
                bs.backend_hosts.push_back(h);
            }
            bs.algorithm = choice(r, b, p, "algorithm", LbAlgorithm::RoundRobin,
                                  {{"round-robin", LbAlgorithm::RoundRobin}, {"hash", LbAlgorithm::Hash},
                                   {"least-connections", LbAlgorithm::LeastConnections}});
            bs.snat = r.boolean(b, p, "snat", false);
            bs.snat_config.outer = address_list(r, b, p, "snat_addresses");
            for (std::size_t k = 0; k < bs.snat_config.outer.size(); ++k)
                new_address(bs.snat_config.outer[k], fmt::format("{}/snat_addresses/{}", p, k));
            if (!bs.snat && b.contains("snat_addresses")) r.fail(p + "/snat_addresses", "snat_addresses needs \"snat\": true");
            if (bs.snat_config.outer.empty()) bs.snat_config.outer.push_back(bs.vip);
            bs.snat_config.established_timeout = Duration::s(432000);
            bs.snat_config.transitory_timeout = Duration::s(120);
            // A balancer stands for many clients: its new flows go out from its source addresses
            // one after the other (full-NAT local addresses, DPVS ip_vs_laddr.c __get_laddr());
            // "per_client" keeps a client address on one (Linux nf_nat find_best_ips_proto() hashes it).
            bs.snat_config.round_robin = choice(r, b, p, "snat_address_choice", true, {{"round_robin", true}, {"per_client", false}});
            if (!bs.snat && b.contains("snat_address_choice")) r.fail(p + "/snat_address_choice", "snat_address_choice needs \"snat\": true");
            read_nat_config(r, b, p, bs.snat_config, 1);
            bs.flow_timeout = r.duration(b, p, "flow_timeout", false, bs.snat_config.time_wait_timeout);
            f.balancers.push_back(bs);
        }
}

// Every backend and upstream has a listener.
void ForecastReader::check_upstreams() const {
    for (const BalancerSpec& b : f.balancers)
        for (std::size_t k = 0; k < b.backends.size(); ++k)
            if (!has_listener(b.backends[k]))
                r.fail(fmt::format("{}/backends/{}", b.pointer, k), fmt::format("no server or proxy listens on {}", b.backends[k].text));
    for (const ProxySpec& x : f.proxies)
        if (!has_listener(x.upstream)) r.fail(x.pointer + "/upstream", fmt::format("no server, proxy or balancer listens on {}", x.upstream.text));
}

void ForecastReader::read_arrival(const json& c, const std::string& p, ClientSpec& cs) const {
    const json* a = r.field(c, "arrival");
    if (!a) r.fail(p, "missing required key \"arrival\"");
    const std::string ap = p + "/arrival";
    r.only_keys(*a, ap, {"type", "rate", "rate_to", "ramp", "steps", "processes", "requests", "start", "stop"});
    app::ArrivalSpec& as = cs.arrival;
    as.kind = choice(r, *a, ap, "type", app::ArrivalKind::Constant,
                     {{"constant", app::ArrivalKind::Constant}, {"poisson", app::ArrivalKind::Poisson},
                      {"ramp", app::ArrivalKind::Ramp}, {"steps", app::ArrivalKind::Steps},
                      {"closed_loop", app::ArrivalKind::ClosedLoop}});
    // Each arrival type takes its own keys: another type's key would be ignored silently.
    {
        using K = app::ArrivalKind;
        struct Owner {
            const char* key;
            const char* types;
            bool (*takes)(K);
        };
        static const Owner owners[] = {
            {"rate", "constant, poisson, ramp", [](K k) { return k == K::Constant || k == K::Poisson || k == K::Ramp; }},
            {"rate_to", "ramp", [](K k) { return k == K::Ramp; }},
            {"ramp", "ramp", [](K k) { return k == K::Ramp; }},
            {"steps", "steps", [](K k) { return k == K::Steps; }},
            {"processes", "closed_loop", [](K k) { return k == K::ClosedLoop; }},
            {"requests", "closed_loop", [](K k) { return k == K::ClosedLoop; }},
        };
        for (const Owner& o : owners)
            if (a->contains(o.key) && !o.takes(as.kind))
                r.fail(ap + "/" + o.key, fmt::format("\"{}\" belongs to arrival type {}", o.key, o.types));
    }
    as.start = SimTime::zero() + r.duration(*a, ap, "start", false, Duration::ns(0));
    const Duration stop = r.duration(*a, ap, "stop", false, sc.duration);
    as.stop = SimTime::zero() + stop;
    if (as.stop <= as.start) r.fail(ap + "/stop", "the workload stops before it starts");
    switch (as.kind) {
        case app::ArrivalKind::Constant:
        case app::ArrivalKind::Poisson:
            as.rate = positive_rate(r, *a, ap, "rate", true, 1);
            break;
        case app::ArrivalKind::Ramp:
            as.rate = positive_rate(r, *a, ap, "rate", true, 1, true);
            as.rate_to = positive_rate(r, *a, ap, "rate_to", true, 1);
            as.ramp_end = as.start + r.duration(*a, ap, "ramp", true, Duration::s(1));
            break;
        case app::ArrivalKind::Steps: {
            const json* st = r.field(*a, "steps");
            if (!st || !st->is_array() || st->empty()) r.fail(ap + "/steps", "expected a non-empty array of {\"at\": ..., \"rate\": ...}");
            for (std::size_t k = 0; k < st->size(); ++k) {
                const std::string sp = fmt::format("{}/steps/{}", ap, k);
                r.only_keys((*st)[k], sp, {"at", "rate"});
                app::RateStep rs;
                rs.at = SimTime::zero() + r.duration((*st)[k], sp, "at", true, Duration{});
                rs.rate = positive_rate(r, (*st)[k], sp, "rate", true, 0, true);
                if (!as.steps.empty() && rs.at <= as.steps.back().at) r.fail(sp + "/at", "steps must be in increasing time order");
                as.steps.push_back(rs);
            }
            break;
        }
        case app::ArrivalKind::ClosedLoop:
            as.processes = static_cast<std::uint32_t>(r.uint(*a, ap, "processes", true, 1, 100000));
            if (as.processes == 0) r.fail(ap + "/processes", "a closed loop has at least one process");
            as.requests = r.uint(*a, ap, "requests", false, 0, 1'000'000'000);
            break;
    }
}

// The client waits for the server's FIN: a server that never closes would hang it. What
// answers: a server or proxy on the target's host (the client's own host for 127.0.0.0/8), or
// through a balancer, its backends.
void ForecastReader::check_server_closes(const std::string& p, const ClientSpec& cs) const {
    auto check = [&](const std::string& host, std::uint16_t port, const std::string& where) {
        for (const ServerSpec& s : f.servers)
            if (s.host == host && s.port == port && s.close == ServerClose::WaitForClient)
                r.fail(p + "/closer", fmt::format("\"closer\": \"server\" but the server at {} waits for the client to close "
                                                  "(set its \"close\" to \"after_response\" or \"idle_timeout\")", where));
        for (const ProxySpec& s : f.proxies)
            if (s.host == host && s.port == port && s.close == ServerClose::WaitForClient)
                r.fail(p + "/closer", fmt::format("\"closer\": \"server\" but the proxy at {} waits for the client to close "
                                                  "(set its \"close\" to \"after_response\" or \"idle_timeout\")", where));
    };
    if ((cs.target.ip >> 24) == 127) check(cs.host, cs.target.port, cs.target.text);
    for (const HostSpec& h : sc.hosts)
        if (h.ip == cs.target.ip) check(h.name, cs.target.port, cs.target.text);
    for (const BalancerSpec& b : f.balancers)
        if (b.vip == cs.target.ip && b.port == cs.target.port)
            for (std::size_t k = 0; k < b.backends.size(); ++k)
                check(b.backend_hosts[k], b.backends[k].port, fmt::format("{} (behind {})", b.backends[k].text, cs.target.text));
}

// Client workloads.
void ForecastReader::read_clients() {
    if (const json* clients = array("clients"))
        for (std::size_t i = 0; i < clients->size(); ++i) {
            const std::string p = fmt::format("/clients/{}", i);
            const json& c = (*clients)[i];
            r.only_keys(c, p, {"name", "host", "to", "arrival", "closer", "think_time", "pool", "bind", "local_port",
                               "reuseaddr", "source_addresses", "retry", "response_timeout", "comment"});
            ClientSpec cs;
            cs.pointer = p;
            const std::vector<std::string> members = hosts_ref(r.str(c, p, "host", true), p + "/host");
            const HostGroup* fleet = sc.group(r.str(c, p, "host", true));
            cs.host = members.front();
            cs.name = r.str(c, p, "name", false, fleet ? std::string("{i}") : fmt::format("{}#{}", cs.host, i));
            cs.target = target(r.str(c, p, "to", true), p + "/to", true);
            if ((cs.target.ip >> 24) == 127) {
                // The loopback: the client's own host serves it.
                bool ok = false;
                for (const ServerSpec& s : f.servers) ok = ok || (s.host == cs.host && s.port == cs.target.port);
                for (const ProxySpec& s : f.proxies) ok = ok || (s.host == cs.host && s.port == cs.target.port);
                if (!ok) r.fail(p + "/to", fmt::format("no server on {} listens on port {}", cs.host, cs.target.port));
            } else if (!has_listener(cs.target)) {
                r.fail(p + "/to", fmt::format("no server, proxy or balancer listens on {}", cs.target.text));
            }
            read_arrival(c, p, cs);
            cs.closer = choice(r, c, p, "closer", Closer::Client,
                               {{"client", Closer::Client}, {"server", Closer::Server}, {"rst", Closer::Reset}});
            cs.think_time = r.duration(c, p, "think_time", false, cs.think_time);
            cs.pool = read_pool(r, c, p);
            cs.bind = choice(r, c, p, "bind", BindMode::None,
                             {{"none", BindMode::None}, {"port0", BindMode::Port0}, {"no_port", BindMode::NoPort},
                              {"fixed", BindMode::Fixed}});
            cs.local_port = static_cast<std::uint16_t>(r.uint(c, p, "local_port", cs.bind == BindMode::Fixed, 0, 65535));
            if (cs.bind == BindMode::Fixed && cs.local_port == 0) r.fail(p + "/local_port", "a fixed local port is between 1 and 65535");
            if (cs.bind != BindMode::Fixed && c.contains("local_port")) r.fail(p + "/local_port", "local_port needs \"bind\": \"fixed\"");
            cs.reuseaddr = r.boolean(c, p, "reuseaddr", false);
            cs.source_addresses = address_list(r, c, p, "source_addresses");
            check_source_addresses(p, cs.source_addresses, cs.host, cs.target);
            if (!cs.source_addresses.empty() && cs.bind == BindMode::None) cs.bind = BindMode::Port0;
            if (const json* rt = r.field(c, "retry")) {
                r.only_keys(*rt, p + "/retry", {"attempts", "backoff"});
                cs.retry.attempts = static_cast<std::uint32_t>(r.uint(*rt, p + "/retry", "attempts", true, 0, 1000));
                cs.retry.backoff = r.duration(*rt, p + "/retry", "backoff", false, cs.retry.backoff);
                // A closed-loop process waits its back-off after a failure (Workloads::next_in_loop());
                // with none, a process whose connect() fails at once would retry at one instant.
                if (cs.arrival.kind == app::ArrivalKind::ClosedLoop && cs.retry.backoff <= Duration::ns(0))
                    r.fail(p + "/retry/backoff", "a closed-loop client needs a back-off above 0 (its processes would retry at one instant)");
            }
            cs.response_timeout = r.duration(c, p, "response_timeout", false, cs.response_timeout);
            if (cs.closer == Closer::Server) check_server_closes(p, cs);
            if (cs.pool.enabled && cs.closer != Closer::Client)
                r.fail(p + "/pool", "a keep-alive pool keeps connections open: it goes with \"closer\": \"client\"");
            if (!fleet) {
                f.clients.push_back(cs);
                continue;
            }
            // One workload per member of the fleet, named from the template ("{i}": the member's
            // number; a name without it gets "@member").
            const std::string tmpl = cs.name.find("{i}") == std::string::npos ? cs.name + "@" + fleet->name : cs.name;
            cs.group = static_cast<int>(fleet - sc.groups.data());
            for (std::size_t k = 0; k < members.size(); ++k) {
                ClientSpec m = cs;
                m.host = members[k];
                m.name = tmpl.find("{i}") == std::string::npos ? tmpl : member_name(tmpl, k + 1);
                f.clients.push_back(std::move(m));
            }
        }
}

// "stop", "slo" and "report_interval".
void ForecastReader::read_limits() {
    if (const json* st = r.field(doc, "stop")) {
        r.only_keys(*st, "/stop", {"first_failure", "first_breach", "failures"});
        f.stop.first_failure = r.boolean(*st, "/stop", "first_failure", false);
        f.stop.first_breach = r.boolean(*st, "/stop", "first_breach", false);
        f.stop.failures = r.uint(*st, "/stop", "failures", false, 0, UINT64_MAX);
    }
    if (const json* so = r.field(doc, "slo")) read_slo(r, *so, f.slo);
    else f.slo.syn_retransmitted = SloSpec::kDefaultSynRetransmitted;
    f.report_interval = r.duration(doc, "", "report_interval", false, f.report_interval);
    if (f.report_interval.count() <= 0) r.fail("/report_interval", "the report interval must be positive");
}

}  // namespace

void read_forecast(const Reader& r, const json& doc, Scenario& sc) {
    ForecastReader fr(r, doc, sc);
    fr.read_nats();
    fr.read_servers();
    fr.read_proxies();
    fr.read_balancers();
    fr.check_upstreams();
    fr.read_clients();
    fr.read_limits();
}

void read_slo(const Reader& r, const json& so, SloSpec& slo) {
    r.only_keys(so, "/slo", {"connect_p50", "connect_p99", "connect_max", "syn_retransmitted", "failed", "unfinished"});
    slo.given = true;
    auto latency = [&](const char* key, std::optional<Duration>& out) {
        if (so.contains(key)) out = r.duration(so, "/slo", key, true, Duration::ns(0));
    };
    latency("connect_p50", slo.connect_p50);
    latency("connect_p99", slo.connect_p99);
    latency("connect_max", slo.connect_max);
    if (so.contains("syn_retransmitted")) slo.syn_retransmitted = r.fraction(so, "/slo", "syn_retransmitted", 0);
    slo.failed = r.fraction(so, "/slo", "failed", 0);
    if (so.contains("unfinished")) slo.unfinished = r.fraction(so, "/slo", "unfinished", 0);
}

void read_what_if(const Reader& r, const json& a, const std::string& p, Scenario& sc) {
    WhatIfAction w;
    w.pointer = p;
    w.kind = choice(r, a, p, "do", WhatIfKind::Sysctl,
                    {{"sysctl", WhatIfKind::Sysctl}, {"restart_server", WhatIfKind::RestartServer},
                     {"nat_add_address", WhatIfKind::NatAddAddress}, {"nat_remove_address", WhatIfKind::NatRemoveAddress},
                     {"stop_host", WhatIfKind::StopHost}});
    switch (w.kind) {
        case WhatIfKind::Sysctl: r.only_keys(a, p, {"at", "do", "host", "name", "value", "comment"}); break;
        case WhatIfKind::RestartServer: r.only_keys(a, p, {"at", "do", "host", "port", "reuseaddr", "down", "comment"}); break;
        case WhatIfKind::NatAddAddress:
        case WhatIfKind::NatRemoveAddress: r.only_keys(a, p, {"at", "do", "nat", "address", "comment"}); break;
        case WhatIfKind::StopHost: r.only_keys(a, p, {"at", "do", "host", "comment"}); break;
    }
    w.at = SimTime::zero() + r.duration(a, p, "at", true, Duration{});
    if (w.at > SimTime::zero() + sc.duration)
        r.fail(p + "/at", fmt::format("the action is at {} but the scenario lasts {}", format_seconds(w.at), format_duration(sc.duration)));
    if (w.kind == WhatIfKind::NatAddAddress || w.kind == WhatIfKind::NatRemoveAddress) {
        w.target = r.str(a, p, "nat", true);
        const auto it = std::find_if(sc.forecast.nats.begin(), sc.forecast.nats.end(), [&](const NatSpec& n) { return n.name == w.target; });
        if (it == sc.forecast.nats.end()) r.fail(p + "/nat", fmt::format("no NAT named \"{}\"", w.target));
        const std::string addr = r.str(a, p, "address", true);
        if (!parse_ipv4(addr, w.address)) r.fail(p + "/address", fmt::format("\"{}\" is not an IPv4 address", addr));
        if (w.kind == WhatIfKind::NatAddAddress) {
            // Pools change over time (check_what_if); hosts' and balancers' addresses do not.
            if ((w.address >> 24) == 127) r.fail(p + "/address", "127.0.0.0/8 is every host's loopback; give another address");
            for (const HostSpec& h : sc.hosts)
                if (h.ip == w.address || std::find(h.extra_ips.begin(), h.extra_ips.end(), w.address) != h.extra_ips.end())
                    r.fail(p + "/address", fmt::format("{} is already used by host \"{}\"", addr, h.name));
            for (const BalancerSpec& b : sc.forecast.balancers)
                if (b.vip == w.address || (b.snat && std::find(b.snat_config.outer.begin(), b.snat_config.outer.end(), w.address) !=
                                                         b.snat_config.outer.end()))
                    r.fail(p + "/address", fmt::format("{} is already used by balancer \"{}\"", addr, b.name));
        }
        sc.forecast.what_if.push_back(w);
        return;
    }
    w.target = r.str(a, p, "host", true);
    const int h = sc.host_index(w.target);
    if (h < 0) r.fail(p + "/host", unknown_name("host", w.target, sc.host_names()));
    if (w.kind == WhatIfKind::Sysctl) {
        w.name = r.str(a, p, "name", true);
        const json* v = r.field(a, "value");
        if (!v || (!v->is_string() && !v->is_number_integer())) r.fail(v ? p + "/value" : p, "expected \"value\": a string or an integer");
        w.value = v->is_string() ? v->get<std::string>() : std::to_string(v->get<std::int64_t>());
        host::Profile prof = sc.hosts[static_cast<std::size_t>(h)].profile_data;
        switch (host::set_sysctl(prof, w.name, w.value)) {
            case host::SysctlResult::Applied: break;
            case host::SysctlResult::Unknown:
                r.fail(p + "/name", sc.hosts[static_cast<std::size_t>(h)].profile.empty()
                                        ? std::string("sysctls need a profile on the host")
                                        : unknown_sysctl(sc.hosts[static_cast<std::size_t>(h)].profile, prof, w.name));
            case host::SysctlResult::NotModelled:
                r.fail(p + "/name", fmt::format("{} is not modelled: only its default value can be simulated", w.name));
            case host::SysctlResult::BadValue:
                r.fail(p + "/value", fmt::format("\"{}\" is not a valid value for {}", w.value, w.name));
        }
    }
    if (w.kind == WhatIfKind::RestartServer) {
        w.port = static_cast<std::uint16_t>(r.uint(a, p, "port", true, 0, 65535));
        const bool found = std::any_of(sc.forecast.servers.begin(), sc.forecast.servers.end(),
                                       [&](const ServerSpec& s) { return s.host == w.target && s.port == w.port; });
        if (!found) r.fail(p + "/port", fmt::format("no server on {}:{} to restart", w.target, w.port));
        // The restarted program sets what the server sets, unless the action says otherwise.
        bool server_reuse = false;
        for (const ServerSpec& s : sc.forecast.servers)
            if (s.host == w.target && s.port == w.port) server_reuse = s.reuseaddr;
        w.reuseaddr = r.boolean(a, p, "reuseaddr", server_reuse);
        w.down = r.duration(a, p, "down", false, Duration::ms(0));
    }
    sc.forecast.what_if.push_back(w);
}

void check_what_if(const Reader& r, const Scenario& sc) {
    // Who holds each outer address as time goes on: added addresses can be removed later, and
    // an address is in one pool at a time.
    std::map<std::uint32_t, std::string> owner;
    for (const NatSpec& n : sc.forecast.nats)
        for (std::uint32_t a : n.config.outer) owner[a] = n.name;
    for (const WhatIfAction& w : sc.forecast.what_if) {
        if (w.kind != WhatIfKind::NatAddAddress && w.kind != WhatIfKind::NatRemoveAddress) continue;
        const auto it = owner.find(w.address);
        const std::string addr = tcp::format_ip(w.address);
        if (w.kind == WhatIfKind::NatAddAddress) {
            if (it != owner.end())
                r.fail(w.pointer + "/address", fmt::format("{} is already in the pool of NAT \"{}\" at {}", addr, it->second, format_seconds(w.at)));
            owner[w.address] = w.target;
        } else {
            if (it == owner.end() || it->second != w.target)
                r.fail(w.pointer + "/address", fmt::format("{} is not in the pool of NAT \"{}\" at {}", addr, w.target, format_seconds(w.at)));
            owner.erase(it);
        }
    }
}

}  // namespace tcpsim
