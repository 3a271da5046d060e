#include "scenario/scenario.hpp"

#include "scenario/forecast_spec.hpp"
#include "scenario/json_reader.hpp"
#include "scenario/profiles.hpp"
#include "base/read_file.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

namespace tcpsim {

using nlohmann::json;

std::string_view to_string(Call c) {
    switch (c) {
        case Call::Listen: return "listen";
        case Call::Accept: return "accept";
        case Call::Connect: return "connect";
        case Call::Send: return "send";
        case Call::Receive: return "receive";
        case Call::Close: return "close";
        case Call::Shutdown: return "shutdown";
        case Call::Abort: return "abort";
        case Call::SetLinger: return "setsockopt";
    }
    return "?";
}

int Scenario::node_index(const std::string& n) const {
    const int h = host_index(n);
    if (h >= 0) return h;
    const auto nh = static_cast<int>(hosts.size());
    for (std::size_t i = 0; i < forecast.nats.size(); ++i)
        if (forecast.nats[i].name == n) return nh + static_cast<int>(i);
    for (std::size_t i = 0; i < forecast.balancers.size(); ++i)
        if (forecast.balancers[i].name == n) return nh + static_cast<int>(forecast.nats.size() + i);
    return -1;
}

int Scenario::host_index(const std::string& n) const {
    // Hosts are appended (a copy of a Scenario copies the index with them); an index that does not
    // match the list any more is rebuilt. Lookup only: never iterated, so no order leaks out.
    if (indexed_ > hosts.size()) {
        name_index_.clear();
        indexed_ = 0;
    }
    for (; indexed_ < hosts.size(); ++indexed_) name_index_.emplace(hosts[indexed_].name, static_cast<int>(indexed_));
    const auto it = name_index_.find(n);
    if (it == name_index_.end()) return -1;
    if (static_cast<std::size_t>(it->second) < hosts.size() && hosts[static_cast<std::size_t>(it->second)].name == n) return it->second;
    name_index_.clear();  // a host was renamed in place: look it up the slow way once
    indexed_ = 0;
    for (std::size_t i = 0; i < hosts.size(); ++i)
        if (hosts[i].name == n) return static_cast<int>(i);
    return -1;
}

const HostGroup* Scenario::group(const std::string& n) const {
    for (const HostGroup& g : groups)
        if (g.name == n) return &g;
    return nullptr;
}

std::vector<std::string> Scenario::hosts_named(const std::string& n) const {
    const HostGroup* g = group(n);
    if (!g) return {n};
    std::vector<std::string> out;
    out.reserve(g->count);
    for (std::size_t i = 0; i < g->count; ++i) out.push_back(hosts[g->first + i].name);
    return out;
}

std::string member_name(const std::string& tmpl, std::size_t i) {
    std::string out = tmpl;
    for (std::size_t at = out.find("{i}"); at != std::string::npos; at = out.find("{i}", at))
        out.replace(at, 3, std::to_string(i));
    return out;
}

std::vector<std::string> Scenario::host_names() const {
    std::vector<std::string> names;
    for (const HostSpec& h : hosts) names.push_back(h.name);
    return names;
}

namespace {



void read_link_params(const Reader& r, const json& obj, const std::string& ptr, net::LinkParams& p) {
    p.latency = r.duration(obj, ptr, "latency", false, p.latency);
    p.jitter = r.duration(obj, ptr, "jitter", false, p.jitter);
    const double loss = r.fraction(obj, ptr, "loss", static_cast<double>(p.loss_ppm) / 1e6);
    p.loss_ppm = static_cast<std::uint32_t>(std::llround(loss * 1e6));
}

// A fleet's template: the name has "{i}"; one "address", a prefix ("10.1.0.0/16": members take
// its host addresses in order, from .1) or a first address (members take the next ones). Returns
// the first member's address.
std::uint32_t read_fleet(const Reader& r, const json& h, const std::string& p, const std::string& name, std::size_t count) {
    if (name.find("{i}") == std::string::npos)
        r.fail(p + "/name", fmt::format("a host with \"count\" needs \"{{i}}\" in its name (e.g. \"vm-{{i}}\"), found \"{}\"", name));
    if (!h.contains("address")) r.fail(p, "a host with \"count\" takes one \"address\": a prefix such as \"10.1.0.0/16\" or a first address");
    const std::string a = r.str(h, p, "address", true);
    const auto slash = a.find('/');
    std::uint32_t ip = 0;
    if (!parse_ipv4(a.substr(0, slash), ip)) r.fail(p + "/address", fmt::format("\"{}\" is not an IPv4 address or prefix", a));
    std::uint64_t first = ip, last = 0xFFFFFFFEull;
    if (slash != std::string::npos) {
        const std::string len = a.substr(slash + 1);
        if (len.empty() || len.size() > 2 || len.find_first_not_of("0123456789") != std::string::npos || std::stoul(len) > 30)
            r.fail(p + "/address", fmt::format("\"{}\": a prefix length is 0 to 30", a));
        const std::uint64_t size = 1ull << (32 - std::stoul(len));
        const std::uint64_t base = ip & ~(size - 1);
        if (base != ip) r.fail(p + "/address", fmt::format("\"{}\" has host bits set: the prefix is {}/{}", a, tcp::format_ip(static_cast<std::uint32_t>(base)), len));
        first = base + 1;       // not the network address
        last = base + size - 2; // nor the broadcast address
    }
    if (first + count - 1 > last)
        r.fail(p + "/count", fmt::format("{} members do not fit in {} ({} addresses)", count, a, last + 1 - first));
    if ((first >> 24) == 127 || ((first + count - 1) >> 24) == 127)
        r.fail(p + "/address", "127.0.0.0/8 is every host's loopback; give another address");
    return static_cast<std::uint32_t>(first);
}

}  // namespace

std::pair<std::string, std::uint16_t> split_host_port(const Reader& r, const std::string& s, const std::string& ptr) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
        r.fail(ptr, fmt::format("expected \"HOST:PORT\", found \"{}\"", s));
    const std::string port = s.substr(colon + 1);
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
        std::stoul(port) > 65535)
        r.fail(ptr, fmt::format("\"{}\" is not a port between 1 and 65535", port));
    return {s.substr(0, colon), static_cast<std::uint16_t>(std::stoul(port))};
}

namespace {

// "address": one, or "addresses": several (the first is the primary, used for connect()); a
// fleet's members take theirs from its template (read_fleet), checked when they are made.
void read_host_addresses(const Reader& r, const json& h, const std::string& p, bool fleet, std::set<std::uint32_t>& ips,
                         HostSpec& hs) {
    std::vector<std::pair<std::string, std::string>> addrs;  // (text, pointer)
    if (h.contains("address") == h.contains("addresses")) r.fail(p, "give either \"address\" or \"addresses\"");
    if (h.contains("address")) {
        addrs.emplace_back(r.str(h, p, "address", true), p + "/address");
    } else {
        const json& a = h.at("addresses");
        if (!a.is_array() || a.empty()) r.fail(p + "/addresses", "expected a non-empty array of IPv4 addresses");
        for (std::size_t k = 0; k < a.size(); ++k) {
            const std::string ap = fmt::format("{}/addresses/{}", p, k);
            if (!a[k].is_string()) r.fail(ap, "expected an IPv4 address");
            addrs.emplace_back(a[k].get<std::string>(), ap);
        }
    }
    for (std::size_t k = 0; k < addrs.size() && !fleet; ++k) {
        std::uint32_t ip = 0;
        if (!parse_ipv4(addrs[k].first, ip)) r.fail(addrs[k].second, fmt::format("\"{}\" is not an IPv4 address", addrs[k].first));
        if ((ip >> 24) == 127) r.fail(addrs[k].second, "127.0.0.0/8 is every host's loopback; give another address");
        if (!ips.insert(ip).second) r.fail(addrs[k].second, fmt::format("address {} is used twice", addrs[k].first));
        if (k == 0) hs.ip = ip;
        else hs.extra_ips.push_back(ip);
    }
}

// A host's "sysctls" applied to its profile, each checked against the profile's list.
void read_sysctls(const Reader& r, const json& sys, const std::string& p, const HostSpec& hs, host::Profile& prof) {
    if (!sys.is_object()) r.fail(p + "/sysctls", "expected an object of name: value");
    for (const auto& [k, v] : sys.items()) {
        if (!v.is_string() && !v.is_number_integer()) r.fail(p + "/sysctls/" + k, "expected a string or an integer");
        // A number as written (an unsigned one above 2^63 read as int64 would print -1).
        const std::string value = v.is_string() ? v.get<std::string>() : Reader::show(v);
        switch (host::set_sysctl(prof, k, value)) {
            case host::SysctlResult::Applied: break;
            case host::SysctlResult::Unknown:
                r.fail(p + "/sysctls/" + k, hs.profile.empty() ? std::string("sysctls need a profile (\"profile\": \"linux\", ...)")
                                                               : unknown_sysctl(hs.profile, prof, k));
            case host::SysctlResult::NotModelled:
                r.fail(p + "/sysctls/" + k,
                       fmt::format("{} is not modelled: only its default value ({}) can be simulated", k, prof.sysctls[k]));
            case host::SysctlResult::BadValue: r.fail(p + "/sysctls/" + k, fmt::format("\"{}\" is not a valid value for {}", value, k));
        }
    }
    // Windows' dynamic range: start + num - 1 must stay within 65535 (netsh refuses it).
    if (const auto st = prof.sysctls.find("netsh.int.ipv4.dynamicport.tcp.start"); st != prof.sysctls.end()) {
        const long long lo = std::stoll(st->second), num = std::stoll(prof.sysctls["netsh.int.ipv4.dynamicport.tcp.num"]);
        if (lo + num - 1 > 65535)
            r.fail(p + "/sysctls", fmt::format("the dynamic port range start={} num={} ends at {}, past 65535", lo, num, lo + num - 1));
    }
}

// Layers: the profile's defaults, the scenario's "tcp", the host's "tcp", the host's sysctls.
void read_host_stack(const Reader& r, const json& h, const std::string& p, const std::string& default_profile, const json* top_tcp,
                     HostSpec& hs) {
    hs.profile = r.str(h, p, "profile", false, default_profile);
    host::Profile prof;
    if (!hs.profile.empty()) {
        try {
            prof = load_profile(hs.profile);
        } catch (const ScenarioError& e) {
            r.fail(h.contains("profile") ? p + "/profile" : "/profile", e.what());
        }
    }
    hs.tcp = prof.tcp;
    if (top_tcp) read_tcp(r, *top_tcp, "/tcp", hs.tcp);
    if (const json* t = r.field(h, "tcp")) read_tcp(r, *t, p + "/tcp", hs.tcp);
    if (const json* sys = r.field(h, "sysctls")) {
        prof.tcp = hs.tcp;
        read_sysctls(r, *sys, p, hs, prof);
        hs.tcp = prof.tcp;
    }
    hs.stack = prof.stack;
    prof.tcp = hs.tcp;
    hs.profile_data = prof;
}

// A fleet's members: copies of its template, named and addressed in order.
void add_fleet(const Reader& r, const std::string& p, const HostSpec& hs, std::size_t count, std::uint32_t first,
               std::set<std::uint32_t>& ips, Scenario& sc) {
    HostSpec tmpl = hs;
    tmpl.group = static_cast<int>(sc.groups.size());
    sc.groups.push_back(HostGroup{hs.name, sc.hosts.size(), count, p});
    sc.hosts.reserve(sc.hosts.size() + count);
    for (std::size_t k = 0; k < count; ++k) {
        HostSpec m = tmpl;
        m.name = member_name(hs.name, k + 1);
        m.ip = first + static_cast<std::uint32_t>(k);
        if (sc.host_index(m.name) >= 0) r.fail(p + "/name", fmt::format("member {} is named \"{}\" like another host", k + 1, m.name));
        if (!ips.insert(m.ip).second)
            r.fail(p + "/address", fmt::format("member {}'s address {} is used twice", m.name, tcp::format_ip(m.ip)));
        sc.hosts.push_back(std::move(m));
    }
}

void read_hosts(const Reader& r, const json& doc, const std::string& default_profile, const json* top_tcp, Scenario& sc) {
    const json* hosts = r.field(doc, "hosts");
    if (!hosts) r.fail("", "missing required key \"hosts\"");
    if (!hosts->is_array() || hosts->empty()) r.fail("/hosts", "expected a non-empty array of hosts");
    std::set<std::uint32_t> ips;
    for (std::size_t i = 0; i < hosts->size(); ++i) {
        const std::string p = fmt::format("/hosts/{}", i);
        const json& h = (*hosts)[i];
        r.only_keys(h, p, {"name", "address", "addresses", "profile", "sysctls", "tcp", "isn", "ts_offset", "count", "comment"});
        HostSpec hs;
        hs.name = r.str(h, p, "name", true);
        if (hs.name.empty()) r.fail(p + "/name", "a host name cannot be empty");
        const std::size_t count = h.contains("count") ? static_cast<std::size_t>(r.uint(h, p, "count", true, 1, 1000000)) : 0;
        std::uint32_t fleet_first = 0;
        if (h.contains("count")) fleet_first = read_fleet(r, h, p, hs.name, count);
        if (count == 0 && sc.host_index(hs.name) >= 0) r.fail(p + "/name", fmt::format("duplicate host name \"{}\"", hs.name));
        read_host_addresses(r, h, p, count != 0, ips, hs);
        read_host_stack(r, h, p, default_profile, top_tcp, hs);
        if (h.contains("isn")) hs.isn = static_cast<std::uint32_t>(r.uint(h, p, "isn", true, 0, UINT32_MAX));
        hs.ts_offset = static_cast<std::uint32_t>(r.uint(h, p, "ts_offset", false, 0, UINT32_MAX));
        if (count == 0) sc.hosts.push_back(hs);
        else add_fleet(r, p, hs, count, fleet_first, ips, sc);
    }
}

void read_links(const Reader& r, const json& doc, Scenario& sc) {
    if (const json* dl = r.field(doc, "default_link")) {
        r.only_keys(*dl, "/default_link", {"latency", "jitter", "loss"});
        read_link_params(r, *dl, "/default_link", sc.default_link);
    }
    const json* links = r.field(doc, "links");
    if (!links) return;
    if (!links->is_array()) r.fail("/links", "expected an array");
    // A link joins two nodes: hosts, NAT gateways or balancers (named in "nats" and "balancers",
    // which are read later and checked there).
    auto node_ref = [&](const std::string& n, const std::string& np) {
        if (sc.host_index(n) >= 0 || sc.group(n)) return n;
        for (const char* section : {"nats", "balancers"})
            if (const json* boxes = r.field(doc, section); boxes && boxes->is_array())
                for (const json& x : *boxes)
                    if (x.is_object() && x.contains("name") && x["name"].is_string() && x["name"].get<std::string>() == n) return n;
        r.fail(np, fmt::format("no host, NAT or balancer named \"{}\"", n));
    };
    std::set<std::pair<std::string, std::string>> link_pairs;
    for (std::size_t i = 0; i < links->size(); ++i) {
        const std::string p = fmt::format("/links/{}", i);
        const json& l = (*links)[i];
        r.only_keys(l, p, {"between", "latency", "jitter", "loss"});
        const json* b = r.field(l, "between");
        if (!b || !b->is_array() || b->size() != 2 || !(*b)[0].is_string() || !(*b)[1].is_string())
            r.fail(p + "/between", "expected [\"NODE\", \"NODE\"] (hosts, NATs or balancers)");
        LinkSpec ls;
        ls.a = node_ref((*b)[0].get<std::string>(), p + "/between/0");
        ls.b = node_ref((*b)[1].get<std::string>(), p + "/between/1");
        if (ls.a == ls.b) r.fail(p + "/between", "a link joins two different nodes");
        if (sc.group(ls.a) && sc.group(ls.b)) r.fail(p + "/between", "a link joins a fleet to one node, not to another fleet");
        ls.params = sc.default_link;
        read_link_params(r, l, p, ls.params);
        // A fleet's end: one link per member.
        const bool a_fleet = sc.group(ls.a) != nullptr;
        for (const std::string& m : sc.hosts_named(a_fleet ? ls.a : ls.b)) {
            LinkSpec one = ls;
            (a_fleet ? one.a : one.b) = m;
            if (!link_pairs.insert(std::minmax(one.a, one.b)).second)
                r.fail(p + "/between", fmt::format("a second link between \"{}\" and \"{}\"", one.a, one.b));
            sc.links.push_back(std::move(one));
        }
    }
}

std::string host_ref(const Reader& r, const Scenario& sc, const std::string& n, const std::string& p) {
    if (sc.host_index(n) < 0) r.fail(p, unknown_name("host", n, sc.host_names()));
    return n;
}

void read_drops(const Reader& r, const json& doc, Scenario& sc) {
    const json* drops = r.field(doc, "drops");
    if (!drops) return;
    if (!drops->is_array()) r.fail("/drops", "expected an array");
    for (std::size_t i = 0; i < drops->size(); ++i) {
        const std::string p = fmt::format("/drops/{}", i);
        const json& d = (*drops)[i];
        r.only_keys(d, p, {"from", "to", "flags", "nth", "times", "delay", "comment"});
        DropSpec ds;
        ds.from = host_ref(r, sc, r.str(d, p, "from", true), p + "/from");
        ds.to = host_ref(r, sc, r.str(d, p, "to", true), p + "/to");
        if (ds.from == ds.to) r.fail(p + "/to", "a drop is between two different hosts");
        const std::string f = r.str(d, p, "flags", false, "*");
        if (f == "*") ds.match_any = true;
        else if (!tcp::parse_flags(f, ds.flags))
            r.fail(p + "/flags", fmt::format("\"{}\" is not a flag set such as \"S\", \"S.\", \".\", \"F.\", \"R\", \"P.\" or \"*\"", f));
        ds.nth = static_cast<std::uint32_t>(r.uint(d, p, "nth", false, 1, UINT32_MAX));
        if (ds.nth == 0) r.fail(p + "/nth", "nth counts from 1");
        ds.times = static_cast<std::uint32_t>(r.uint(d, p, "times", false, 1, UINT32_MAX));
        ds.delay = r.duration(d, p, "delay", false, Duration::ns(0));
        sc.drops.push_back(ds);
    }
}

// An action's "call", and the keys that call takes.
Call read_call(const Reader& r, const json& a, const std::string& p) {
    const std::string call = r.str(a, p, "call", true);
    static const std::pair<const char*, Call> calls[] = {
        {"listen", Call::Listen}, {"connect", Call::Connect}, {"send", Call::Send},         {"accept", Call::Accept},
        {"receive", Call::Receive}, {"close", Call::Close},   {"shutdown", Call::Shutdown}, {"abort", Call::Abort},
        {"setsockopt", Call::SetLinger}};
    std::optional<Call> found;
    for (const auto& [n, c] : calls)
        if (call == n) found = c;
    if (!found)
        r.fail(p + "/call", fmt::format("unknown call \"{}\" (expected listen, accept, connect, send, receive, "
                                        "close, shutdown, abort or setsockopt)",
                                        call));
    switch (*found) {
        case Call::Listen:
            r.only_keys(a, p, {"at", "host", "call", "sock", "port", "backlog", "accept", "linger", "auto_read", "reuseaddr", "reuseport", "comment"});
            break;
        case Call::Accept: r.only_keys(a, p, {"at", "host", "call", "sock", "comment"}); break;
        case Call::Connect:
            r.only_keys(a, p, {"at", "host", "call", "sock", "to", "port", "linger", "auto_read", "reuseaddr", "reuseport", "port_range", "comment"});
            break;
        case Call::Send:
        case Call::Receive: r.only_keys(a, p, {"at", "host", "call", "sock", "bytes", "comment"}); break;
        case Call::Close:
        case Call::Shutdown:
        case Call::Abort: r.only_keys(a, p, {"at", "host", "call", "sock", "comment"}); break;
        case Call::SetLinger: r.only_keys(a, p, {"at", "host", "call", "sock", "linger", "comment"}); break;
    }
    return *found;
}

// The socket options an action may set: auto_read, reuseaddr, reuseport, port_range, linger.
void read_socket_options(const Reader& r, const json& a, const std::string& p, ActionSpec& as) {
    as.options.auto_read = r.boolean(a, p, "auto_read", true);
    as.options.reuseaddr = r.boolean(a, p, "reuseaddr", false);
    as.options.reuseport = r.boolean(a, p, "reuseport", false);
    if (a.contains("port_range")) {
        const std::string v = r.str(a, p, "port_range", true);
        unsigned lo = 0, hi = 0;
        char tail = 0;
        if (std::sscanf(v.c_str(), "%u %u%c", &lo, &hi, &tail) != 2 || hi > 65535 || lo > 65535)
            r.fail(p + "/port_range", fmt::format("\"{}\" is not \"LOW HIGH\" (0 keeps the host's bound)", v));
        as.options.port_range_lo = static_cast<std::uint16_t>(lo);
        as.options.port_range_hi = static_cast<std::uint16_t>(hi);
    }
    if (a.contains("linger")) {
        const json& l = a["linger"];
        if (!l.is_number_integer() || l.get<std::int64_t>() != 0)
            r.fail(p + "/linger", "only SO_LINGER {on, 0} is modelled: write \"linger\": 0");
        as.options.linger_zero = true;
        as.linger_zero = true;
    }
}

// The keys of one call: listen's port and accept mode, connect's destination, send's bytes.
void read_call_arguments(const Reader& r, const json& a, const std::string& p, const Scenario& sc, ActionSpec& as) {
    if (as.call == Call::SetLinger && !as.linger_zero) r.fail(p, "setsockopt needs \"linger\": 0");
    if (as.call == Call::Listen) {
        as.port = static_cast<std::uint16_t>(r.uint(a, p, "port", true, 0, 65535));
        if (as.port == 0) r.fail(p + "/port", "listen needs a port between 1 and 65535");
        as.backlog = static_cast<std::uint32_t>(std::min<std::uint64_t>(r.uint(a, p, "backlog", false, 4096, UINT32_MAX), 4096));
        const std::string mode = r.str(a, p, "accept", false, "auto");
        if (mode != "auto" && mode != "manual") r.fail(p + "/accept", "expected \"auto\" or \"manual\"");
        as.manual_accept = mode == "manual";
    }
    if (as.call == Call::Connect) {
        const auto [h, port] = split_host_port(r, r.str(a, p, "to", true), p + "/to");
        as.to_host = host_ref(r, sc, h, p + "/to");
        as.to_port = port;
        as.port = static_cast<std::uint16_t>(r.uint(a, p, "port", false, 0, 65535));
    }
    if (as.call == Call::Send) {
        as.bytes = static_cast<std::uint32_t>(r.uint(a, p, "bytes", true, 0, 1u << 30));
        if (as.bytes == 0) r.fail(p + "/bytes", "send at least one byte");
    }
    if (as.call == Call::Receive) as.bytes = static_cast<std::uint32_t>(r.uint(a, p, "bytes", false, UINT32_MAX, UINT32_MAX));
}

// One scripted socket call ("call") of "actions".
ActionSpec read_call_action(const Reader& r, const json& a, const std::string& p, const Scenario& sc) {
    ActionSpec as;
    as.pointer = p;
    as.call = read_call(r, a, p);
    as.at = SimTime::zero() + r.duration(a, p, "at", true, Duration{});
    if (as.at > SimTime::zero() + sc.duration)
        r.fail(p + "/at", fmt::format("the action is at {} but the scenario lasts {}", format_seconds(as.at), format_duration(sc.duration)));
    as.host = host_ref(r, sc, r.str(a, p, "host", true), p + "/host");
    as.sock = r.str(a, p, "sock", true);
    if (as.sock.empty()) r.fail(p + "/sock", "a socket name cannot be empty");
    read_socket_options(r, a, p, as);
    read_call_arguments(r, a, p, sc, as);
    return as;
}

void read_actions(const Reader& r, const json& doc, Scenario& sc) {
    if (const json* actions = r.field(doc, "actions")) {
        if (!actions->is_array()) r.fail("/actions", "expected an array");
        for (std::size_t i = 0; i < actions->size(); ++i) {
            const std::string p = fmt::format("/actions/{}", i);
            const json& a = (*actions)[i];
            if (!a.is_object()) r.fail(p, "expected an object");
            if (a.contains("do")) {
                read_what_if(r, a, p, sc);
                continue;
            }
            if (!a.contains("call"))
                r.fail(p, "missing \"call\" (a socket call such as \"connect\") or \"do\" (a what-if change such as \"sysctl\")");
            sc.actions.push_back(read_call_action(r, a, p, sc));
        }
    }
    std::stable_sort(sc.actions.begin(), sc.actions.end(), [](const ActionSpec& x, const ActionSpec& y) { return x.at < y.at; });
    std::stable_sort(sc.forecast.what_if.begin(), sc.forecast.what_if.end(),
                     [](const WhatIfAction& x, const WhatIfAction& y) { return x.at < y.at; });
    check_what_if(r, sc);
}

// Consistency: every socket used by a call exists by then (created by listen/connect, or
// accepted from a listener "L" as "L.1", "L.2", ...).
void check_sockets(const Reader& r, const Scenario& sc) {
    std::set<std::pair<std::string, std::string>> created;
    for (const ActionSpec& a : sc.actions) {
        const auto key = std::make_pair(a.host, a.sock);
        if (a.call == Call::Listen || a.call == Call::Connect) {
            if (created.count(key)) r.fail(a.pointer + "/sock", fmt::format("socket \"{}\" on \"{}\" is created twice", a.sock, a.host));
            created.insert(key);
            continue;
        }
        const auto dot = a.sock.rfind('.');
        const bool child_of_listener = dot != std::string::npos && created.count({a.host, a.sock.substr(0, dot)}) > 0;
        if (!created.count(key) && !child_of_listener)
            r.fail(a.pointer + "/sock", fmt::format("no socket \"{}\" on \"{}\" at this time (create it with listen or "
                                                    "connect; accepted sockets are named LISTENER.1, LISTENER.2, ...)",
                                                    a.sock, a.host));
    }
}

Scenario parse_scenario_doc(const std::string& text, const std::string& name, const std::vector<Override>& sets) {
    Reader r(name);
    json doc = parse_json(text, name);
    apply_overrides(doc, sets, name);

    Scenario sc;
    sc.file = name;
    for (const Override& o : sets) sc.overrides.push_back(o.text());
    r.only_keys(doc, "", {"$schema", "name", "description", "seed", "duration", "profile", "tcp", "hosts", "links",
                          "default_link", "drops", "actions", "servers", "clients", "proxies", "nats", "balancers",
                          "stop", "slo", "report_interval"});
    sc.name = r.str(doc, "", "name", false, "");
    sc.description = r.str(doc, "", "description", false, "");
    sc.seed = r.uint(doc, "", "seed", false, 1, UINT64_MAX);
    sc.duration = r.duration(doc, "", "duration", false, sc.duration);
    if (sc.duration.count() <= 0) r.fail("/duration", "the duration must be positive");

    const std::string default_profile = r.str(doc, "", "profile", false, "");
    const json* top_tcp = r.field(doc, "tcp");
    if (top_tcp) {
        tcp::TcpConfig check;
        read_tcp(r, *top_tcp, "/tcp", check);  // errors are reported at /tcp once
    }
    read_hosts(r, doc, default_profile, top_tcp, sc);
    read_links(r, doc, sc);
    read_drops(r, doc, sc);
    read_forecast(r, doc, sc);
    read_actions(r, doc, sc);
    check_sockets(r, sc);
    return sc;
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& name, const std::vector<Override>& sets) {
    if (sets.empty()) return parse_scenario_doc(text, name, sets);
    try {
        return parse_scenario_doc(text, name, sets);
    } catch (const ScenarioError& e) {
        const std::string what = e.what();
        if (what.find("--set ") != std::string::npos) throw;
        // The place may hold an overridden value: say which values were not the file's.
        std::string with;
        for (const Override& o : sets) with += fmt::format("{}--set {}", with.empty() ? "" : " ", o.text());
        throw ScenarioError(fmt::format("{} (with {})", what, with));
    }
}

std::string read_scenario_text(const std::string& path) { return read_text_file(path); }

Scenario load_scenario(const std::string& path, const std::vector<Override>& sets) {
    return parse_scenario(read_scenario_text(path), path, sets);
}

}  // namespace tcpsim
