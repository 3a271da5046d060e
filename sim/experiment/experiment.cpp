#include "experiment/experiment.hpp"

#include "host/time_wait.hpp"
#include "scenario/json_reader.hpp"
#include "base/read_file.hpp"
#include "whatif/whatif_run.hpp"
#include "scenario/profiles.hpp"
#include "scenario/scenario.hpp"
#include "world/world.hpp"

#include <tcpsim/experiment_digest.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace tcpsim {

namespace {

using host::SocketId;

// ---- the experiment, as tools/kernel/experiment.cpp reads it -----------------------------------

// The kernel tool's limits and harness constants (tools/kernel/experiment.hpp).
constexpr std::uint64_t kMaxObserveMs = 180000;
constexpr std::uint64_t kMaxAttempts = 5000;
constexpr std::int64_t kConnectTimeoutMs = 3000;
constexpr std::int64_t kReplyTimeoutMs = 3000;

struct Address {
    std::uint32_t ip = 0;
    int prefix = 0;  // as written, else the tool's default: /24 on the veth, /32 on lo (loopback mode)
};

struct Side {
    std::vector<Address> addresses;
    std::vector<std::pair<std::string, std::string>> sysctls;  // in file order
};

struct Listener {
    tcp::SockAddr at;  // ip 0: 0.0.0.0
    bool reuseaddr = false;
};

struct Step {
    std::int64_t at_ms = 0;
    std::int64_t repeat = 1;
    std::int64_t every_ms = 0;
    std::string op = "connect";
    tcp::SockAddr to;
    std::string close = "client-first";
    std::string bind = "none";  // none | port0 | port0-no-port | port
    std::uint16_t bind_port = 0;
    bool reuseaddr = false;
    std::int64_t server_close_delay_ms = 0;
};

struct Spec {
    std::string name, digest;
    bool loopback = false;
    Side client, server;
    std::vector<Listener> listeners;
    std::vector<Step> steps;
    std::int64_t observe_ms = 0;
    std::int64_t sample_every_ms = 500;
    std::uint32_t client_bind_ip = 0;  // client.addresses[0], or 127.0.0.1 in loopback mode without one
};

bool is_loopback(std::uint32_t ip) { return (ip >> 24) == 127; }

std::uint32_t mask_of(int prefix) { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }

// "A.B.C.D:PORT" with PORT 1..65535.
bool parse_endpoint(const std::string& s, tcp::SockAddr& out) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon + 1 == s.size() || colon + 6 < s.size()) return false;
    std::uint32_t ip = 0;
    if (!parse_ipv4(s.substr(0, colon), ip)) return false;
    std::uint32_t port = 0;
    for (std::size_t i = colon + 1; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        port = port * 10 + static_cast<std::uint32_t>(s[i] - '0');
    }
    if (port < 1 || port > 65535) return false;
    out = tcp::SockAddr{ip, static_cast<std::uint16_t>(port)};
    return true;
}

// "client" or "server": addresses ("A" or "A/prefix", prefix 8..32) and sysctls (net.* strings).
Side read_side(const Reader& r, const json& doc, const char* key, bool loopback) {
    const std::string p = std::string("/") + key;
    const json& obj = r.required(doc, "", key);
    r.only_keys(obj, p, {"addresses", "sysctls", "listeners"});
    Side s;
    if (const json* a = r.array(obj, p, "addresses", false)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const json& v = (*a)[i];
            const std::string ap = fmt::format("{}/addresses/{}", p, i);
            if (!v.is_string()) r.fail(ap, fmt::format("expected an address \"A.B.C.D\" or \"A.B.C.D/PREFIX\", found {}", Reader::show(v)));
            const std::string text = v.get<std::string>();
            const auto slash = text.find('/');
            Address x;
            x.prefix = loopback ? 32 : 24;  // tools/kernel/netns.cpp with_prefix()
            if (!parse_ipv4(text.substr(0, slash), x.ip))
                r.fail(ap, fmt::format("expected an address \"A.B.C.D\" or \"A.B.C.D/PREFIX\", found {}", Reader::show(v)));
            if (slash != std::string::npos) {
                const std::string pre = text.substr(slash + 1);
                if (pre.empty() || pre.size() > 2 || pre.find_first_not_of("0123456789") != std::string::npos ||
                    std::stoi(pre) < 8 || std::stoi(pre) > 32)
                    r.fail(ap, fmt::format("\"{}\": the prefix must be 8 to 32", text));
                x.prefix = std::stoi(pre);
            }
            for (const Address& y : s.addresses)
                if (y.ip == x.ip) r.fail(ap, fmt::format("{} is given twice", tcp::format_ip(x.ip)));
            s.addresses.push_back(x);
        }
    }
    if (const json* sy = r.field(obj, "sysctls")) {
        r.only_object(*sy, p + "/sysctls");
        for (const auto& [k, v] : sy->items()) {
            if (!v.is_string()) r.fail(p + "/sysctls/" + k, fmt::format("expected a string (the value as sysctl -w takes it), found {}", Reader::show(v)));
            if (k.rfind("net.", 0) != 0) r.fail(p + "/sysctls/" + k, "only net.* sysctls (those of a network namespace)");
            s.sysctls.emplace_back(k, v.get<std::string>());
        }
    }
    return s;
}

std::vector<Listener> read_listeners(const Reader& r, const json& server, const std::vector<std::uint32_t>& reachable) {
    std::vector<Listener> out;
    const json* ls = r.array(server, "/server", "listeners", false);
    if (ls == nullptr) return out;
    for (std::size_t i = 0; i < ls->size(); ++i) {
        const json& l = (*ls)[i];
        const std::string p = fmt::format("/server/listeners/{}", i);
        r.only_keys(l, p, {"address", "port", "reuseaddr"});
        Listener x;
        const std::string addr = r.str(l, p, "address", true);
        if (!parse_ipv4(addr, x.at.ip)) r.fail(p + "/address", fmt::format("expected an address \"A.B.C.D\", found \"{}\"", addr));
        x.at.port = static_cast<std::uint16_t>(r.uint(l, p, "port", true, 0, 65535));
        if (x.at.port == 0) r.fail(p + "/port", "expected a port from 1 to 65535, found 0");
        if (x.at.ip != 0 && !is_loopback(x.at.ip) && std::find(reachable.begin(), reachable.end(), x.at.ip) == reachable.end())
            r.fail(p + "/address", fmt::format("{} is not one of server.addresses, 0.0.0.0 or 127.x", addr));
        x.reuseaddr = r.boolean(l, p, "reuseaddr", false);
        for (const Listener& y : out)
            if (y.at == x.at) r.fail(p, fmt::format("a second listener on {}", tcp::format_addr(x.at)));
        out.push_back(x);
    }
    return out;
}

Step read_step(const Reader& r, const json& s, const std::string& p, const Spec& x, const std::vector<std::uint32_t>& reachable) {
    r.only_keys(s, p, {"at_ms", "repeat", "every_ms", "op", "to", "close", "bind", "reuseaddr", "server_close_delay_ms"});
    Step st;
    st.at_ms = static_cast<std::int64_t>(r.uint(s, p, "at_ms", false, 0, kMaxObserveMs));
    st.repeat = static_cast<std::int64_t>(r.uint(s, p, "repeat", false, 1, kMaxAttempts));
    if (st.repeat == 0) r.fail(p + "/repeat", "expected at least 1, found 0");
    st.every_ms = static_cast<std::int64_t>(r.uint(s, p, "every_ms", false, 0, kMaxObserveMs));
    if (st.repeat > 1 && st.every_ms == 0) r.fail(p + "/every_ms", "needed (above 0) when repeat is above 1");
    st.op = r.str(s, p, "op", false, "connect");
    if (st.op != "connect" && st.op != "listen_restart" && st.op != "bind_only")
        r.fail(p + "/op", fmt::format("expected one of connect, bind_only, listen_restart, found \"{}\"", st.op));
    st.close = r.str(s, p, "close", false, "client-first");
    if (st.close != "client-first" && st.close != "server-first" && st.close != "client-abort" && st.close != "client-only" &&
        st.close != "none")
        r.fail(p + "/close", fmt::format("expected one of client-first, server-first, none, client-abort, client-only, found \"{}\"", st.close));
    if (const json* b = r.field(s, "bind"); b != nullptr && b->is_object()) {
        r.only_keys(*b, p + "/bind", {"port"});
        st.bind = "port";
        st.bind_port = static_cast<std::uint16_t>(r.uint(*b, p + "/bind", "port", true, 0, 65535));
        if (st.bind_port == 0) r.fail(p + "/bind/port", "expected a port from 1 to 65535, found 0");
    } else {
        st.bind = r.str(s, p, "bind", false, "none");
        if (st.bind != "none" && st.bind != "port0" && st.bind != "port0-no-port")
            r.fail(p + "/bind", fmt::format("expected \"none\", \"port0\", \"port0-no-port\" or {{\"port\": N}}, found \"{}\"", st.bind));
    }
    if (st.op == "bind_only" && st.bind == "none") r.fail(p + "/bind", "bind_only needs a bind other than \"none\"");
    st.reuseaddr = r.boolean(s, p, "reuseaddr", false);
    st.server_close_delay_ms = static_cast<std::int64_t>(r.uint(s, p, "server_close_delay_ms", false, 0, kMaxObserveMs));
    if (st.op != "bind_only" || r.field(s, "to") != nullptr) {
        if (!parse_endpoint(r.str(s, p, "to", true), st.to)) r.fail(p + "/to", "expected \"A.B.C.D:PORT\"");
    }
    if (st.op == "connect" && !is_loopback(st.to.ip) && std::find(reachable.begin(), reachable.end(), st.to.ip) == reachable.end())
        r.fail(p + "/to", "must be one of the experiment's own addresses or 127.x (no other traffic)");
    if (st.op == "listen_restart" &&
        std::none_of(x.listeners.begin(), x.listeners.end(), [&](const Listener& l) { return l.at == st.to; }))
        r.fail(p + "/to", "listen_restart names a listener of server.listeners");
    const std::int64_t last = st.at_ms + (st.repeat - 1) * st.every_ms;
    if (last >= x.observe_ms) r.fail(p, fmt::format("its last operation ({} ms) is not before observe_ms", last));
    // What the simulator does not model (the kernel tool runs these).
    if (st.op == "bind_only") r.fail(p + "/op", "op \"bind_only\" is not modelled");
    if (st.close == "none") r.fail(p + "/close", "close \"none\" is not modelled");
    return st;
}

// The connected routes of a veth side: a prefix route per address whose (network, prefix) no
// earlier address has (a later one in the same subnet is secondary: Linux inet_insert_ifa()),
// none for a /32 (fib_add_ifaddr()). Each: {network, prefix, source}.
std::vector<std::tuple<std::uint32_t, int, std::uint32_t>> connected_routes(const Side& s) {
    std::vector<std::tuple<std::uint32_t, int, std::uint32_t>> out;
    for (const Address& a : s.addresses) {
        if (a.prefix >= 32) continue;
        const std::uint32_t net = a.ip & mask_of(a.prefix);
        if (std::none_of(out.begin(), out.end(), [&](const auto& r) { return std::get<0>(r) == net && std::get<1>(r) == a.prefix; }))
            out.emplace_back(net, a.prefix, a.ip);
    }
    return out;
}

// The source of a route to `dst`: longest prefix first; 0 if none holds it.
std::uint32_t route_source(const std::vector<std::tuple<std::uint32_t, int, std::uint32_t>>& routes, std::uint32_t dst) {
    int best = -1;
    std::uint32_t src = 0;
    for (const auto& [net, prefix, s] : routes)
        if ((dst & mask_of(prefix)) == net && prefix > best) best = prefix, src = s;
    return src;
}

// Two namespaces joined by a veth: each connect needs a client route to its destination (else
// the kernel's connect() fails with ENETUNREACH) and a server route back to its source (else the
// server cannot answer the SYN and the connect times out). Neither is modelled: such a file is
// refused at the connect that would meet it.
void check_routes(const Reader& r, const Spec& x) {
    if (x.loopback) return;
    const auto client_routes = connected_routes(x.client), server_routes = connected_routes(x.server);
    for (std::size_t i = 0; i < x.steps.size(); ++i) {
        const Step& s = x.steps[i];
        if (s.op != "connect" || is_loopback(s.to.ip)) continue;
        const std::string p = fmt::format("/schedule/{}/to", i);
        const std::uint32_t via = route_source(client_routes, s.to.ip);
        if (via == 0)
            r.fail(p, fmt::format("{} is in none of the client's subnets: the kernel's connect() would fail with ENETUNREACH "
                                  "(no route); not modelled", tcp::format_ip(s.to.ip)));
        const std::uint32_t src = s.bind != "none" ? x.client_bind_ip : via;
        if (route_source(server_routes, src) == 0)
            r.fail(p, fmt::format("a connect to {} leaves from {}, which is in none of the server's subnets: the kernel's server "
                                  "could not answer it; not modelled", tcp::format_ip(s.to.ip), tcp::format_ip(src)));
    }
}

// Reads and checks an experiment like tools/kernel/experiment.cpp load_experiment() (the same
// fields, defaults and limits), every error with its JSON pointer.
Spec read_spec(const std::string& path) {
    const json doc = parse_json(read_text_file(path), path);
    Reader r(path);
    r.only_keys(doc, "", {"name", "description", "client", "server", "loopback", "schedule", "observe_ms", "sample_every_ms"});
    (void)r.array(doc, "", "schedule", true);  // a file without one is not an experiment: said first
    Spec x;
    x.name = r.str(doc, "", "name", true);
    if (x.name.empty() || x.name.size() > 80 || x.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos)
        r.fail("/name", "1 to 80 characters of [a-z0-9-_.]");
    (void)r.str(doc, "", "description", false);  // prose for people
    x.loopback = r.boolean(doc, "", "loopback", false);
    x.client = read_side(r, doc, "client", x.loopback);
    if (r.field(doc.at("client"), "listeners")) r.fail("/client/listeners", "listeners belong to the server");
    x.server = read_side(r, doc, "server", x.loopback);
    x.observe_ms = static_cast<std::int64_t>(r.uint(doc, "", "observe_ms", true, 0, kMaxObserveMs));
    if (x.observe_ms == 0) r.fail("/observe_ms", "expected 1 to 180000 ms, found 0");
    x.sample_every_ms = static_cast<std::int64_t>(r.uint(doc, "", "sample_every_ms", false, 500, kMaxObserveMs));
    if (x.sample_every_ms < 10) r.fail("/sample_every_ms", fmt::format("expected 10 to 180000 ms, found {}", x.sample_every_ms));
    if (!x.loopback && (x.client.addresses.empty() || x.server.addresses.empty()))
        r.fail("", "client and server need at least one address each (or \"loopback\": true)");
    for (std::size_t i = 0; i < x.server.addresses.size(); ++i)
        for (const Address& c : x.client.addresses)
            if (c.ip == x.server.addresses[i].ip) r.fail(fmt::format("/server/addresses/{}", i), "client and server share an address");
    if (x.loopback)
        for (const auto& [k, v] : x.server.sysctls)
            for (const auto& kv : x.client.sysctls)
                if (kv.first == k) r.fail("/server/sysctls/" + k, "loopback: one namespace, set it once");
    x.client_bind_ip = x.client.addresses.empty() ? 0x7F000001 : x.client.addresses.front().ip;
    // Where traffic may go: the namespaces' own addresses and their loopback, nothing else.
    std::vector<std::uint32_t> reachable;
    for (const Address& a : x.server.addresses) reachable.push_back(a.ip);
    if (x.loopback)
        for (const Address& a : x.client.addresses) reachable.push_back(a.ip);
    x.listeners = read_listeners(r, r.required(doc, "", "server"), reachable);
    const json* sched = r.array(doc, "", "schedule", true);
    if (sched->empty()) r.fail("/schedule", "expected at least one entry");
    std::int64_t total = 0;
    for (std::size_t i = 0; i < sched->size(); ++i) {
        x.steps.push_back(read_step(r, (*sched)[i], fmt::format("/schedule/{}", i), x, reachable));
        total += x.steps.back().repeat;
        if (total > static_cast<std::int64_t>(kMaxAttempts)) r.fail("/schedule", fmt::format("more than {} operations", kMaxAttempts));
    }
    check_routes(r, x);
    x.digest = experiment_digest(doc);
    return x;
}

// ---- the simulated world ----------------------------------------------------------------------

// One host per namespace (one in loopback mode) with the side's addresses, its sysctls applied
// to the profile (loopback: the client's then the server's, one namespace), and on the client
// the connected routes that choose a connection's source address.
struct Built {
    Scenario sc;
    std::array<host::Profile, 2> profiles;  // client's, server's (the same in loopback mode)
};

host::Profile apply_sysctls(const Reader& r, host::Profile prof, const std::string& profile, const Side& s, const char* key) {
    for (const auto& [k, v] : s.sysctls)
        if (host::set_sysctl(prof, k, v) != host::SysctlResult::Applied)
            r.fail(fmt::format("/{}/sysctls/{}", key, k), fmt::format("the {} profile cannot apply {}={}", profile, k, v));
    return prof;
}

HostSpec host_spec(const char* name, const std::string& profile, const host::Profile& prof, const std::vector<std::uint32_t>& ips) {
    HostSpec hs;
    hs.name = name;
    hs.ip = ips.empty() ? 0x7F000001 : ips.front();
    hs.extra_ips.assign(ips.begin() + (ips.empty() ? 0 : 1), ips.end());
    hs.profile = profile;
    hs.tcp = prof.tcp;
    hs.stack = prof.stack;
    hs.profile_data = prof;
    return hs;
}

Built build(const std::string& path, const Spec& x, const std::string& profile, std::uint64_t seed) {
    const Reader r(path);
    Built b;
    b.sc.file = path;
    b.sc.name = x.name;
    b.sc.seed = seed;
    b.sc.duration = Duration::ms(x.observe_ms);  // the harness stops at observe_ms
    b.sc.default_link.latency = Duration::us(50);  // a veth pair between two namespaces
    auto ips = [](const Side& s) {
        std::vector<std::uint32_t> v;
        for (const Address& a : s.addresses) v.push_back(a.ip);
        return v;
    };
    const host::Profile base = load_profile(profile);
    b.profiles[0] = apply_sysctls(r, base, profile, x.client, "client");
    if (x.loopback) {
        b.profiles[0] = apply_sysctls(r, b.profiles[0], profile, x.server, "server");
        b.profiles[1] = b.profiles[0];
        std::vector<std::uint32_t> all = ips(x.server);
        for (std::uint32_t a : ips(x.client)) all.push_back(a);
        b.sc.hosts.push_back(host_spec("host", profile, b.profiles[0], all));
    } else {
        b.profiles[1] = apply_sysctls(r, base, profile, x.server, "server");
        b.sc.hosts.push_back(host_spec("client", profile, b.profiles[0], ips(x.client)));
        b.sc.hosts.push_back(host_spec("server", profile, b.profiles[1], ips(x.server)));
    }
    return b;
}

// /proc/net/tcp's name of a state (include/net/tcp_states.h without TCP_); "" for CLOSED, which
// it never lists (a socket that is not connected is in no hash table it walks).
const char* proc_state_name(tcp::State s) {
    switch (s) {
        case tcp::State::Closed: return "";
        case tcp::State::Listen: return "LISTEN";
        case tcp::State::SynSent: return "SYN_SENT";
        case tcp::State::SynReceived: return "SYN_RECV";
        case tcp::State::Established: return "ESTABLISHED";
        case tcp::State::FinWait1: return "FIN_WAIT1";
        case tcp::State::FinWait2: return "FIN_WAIT2";
        case tcp::State::CloseWait: return "CLOSE_WAIT";
        case tcp::State::Closing: return "CLOSING";
        case tcp::State::LastAck: return "LAST_ACK";
        case tcp::State::TimeWait: return "TIME_WAIT";
    }
    return "";
}

// The kernel harness's application (tools/kernel/tcpsim_kernel.cpp Runner), here: connect, send
// a byte, the server replies a byte, the side named by "close" closes first and the other closes
// when it sees the end of the stream; a connect not established within 3 s fails with ETIMEDOUT,
// a reply not read within 3 s aborts the connection; samples of the state counts every
// sample_every_ms, each taken before the operations due at the same millisecond.
class ExperimentApp final : public App {
public:
    ExperimentApp(const Spec& x, int client_host, int server_host) : x_(x), kClient(client_host), kServer(server_host) {
        for (const Listener& l : x.listeners) listener_ports_.insert(l.at.port);
    }

    static constexpr std::uint64_t kStart = ~0ull;
    static constexpr std::uint64_t kCloseBit = 1ull << 62;     // | socket: the server's delayed close
    static constexpr std::uint64_t kSampleBit = 1ull << 61;    // | sample index
    static constexpr std::uint64_t kDeadlineBit = 1ull << 60;  // | attempt: the harness's 3 s timeouts

    void schedule(World& w) {
        w.schedule_app(SimTime::zero(), kStart);
        for (std::int64_t t = 0, k = 0; t <= x_.observe_ms; t += x_.sample_every_ms, ++k)
            w.schedule_app(SimTime::zero() + Duration::ms(t), kSampleBit | static_cast<std::uint64_t>(k));
        for (std::size_t i = 0; i < x_.steps.size(); ++i)
            for (std::int64_t k = 0; k < x_.steps[i].repeat; ++k)
                w.schedule_app(SimTime::zero() + Duration::ms(x_.steps[i].at_ms + k * x_.steps[i].every_ms),
                               (static_cast<std::uint64_t>(i) << 32) | static_cast<std::uint64_t>(k));
    }

    void on_app_event(World& w, std::uint64_t arg) override {
        if (arg == kStart) {
            for (const Listener& l : x_.listeners) {
                const auto [e, call] = open_listener(w, l.at, l.reuseaddr);
                if (e != Errno::Ok)
                    throw ScenarioError(fmt::format("{}: listener {}: {} failed: {}", x_.name, tcp::format_addr(l.at), call, to_string(e)));
            }
            return;
        }
        if (arg & kCloseBit) return close(w, kServer, static_cast<SocketId>(arg & 0xFFFFFFFFu));
        if (arg & kSampleBit) return take_sample(w);
        if (arg & kDeadlineBit) return on_deadline(w, static_cast<std::size_t>(arg & 0xFFFFFFFFu));
        start(w, x_.steps[arg >> 32]);
    }

    void on_notice(World& w, int h, SocketId sock, tcp::Notice n, Errno e) override {
        if (auto it = client_attempt_.find(sock); h == kClient && it != client_attempt_.end()) return on_client(w, it->second, n, e);
        if (h == kServer) on_server(w, sock, n);
    }

    void finish_run() {
        // Connects still pending when the run ends (tcpsim_kernel.cpp: "still pending").
        for (Attempt& a : attempts_)
            if (!a.done) finish(a, Errno::TimedOut, "connect");
    }

    ExperimentSummary summary() const {
        ExperimentSummary r;
        r.max_states = max_states_;
        for (const Attempt& a : attempts_) {
            if (a.ok) {
                ++r.succeeded;
                if (r.first_failure_ms && !r.first_recovery_ms) r.first_recovery_ms = a.t_ms;
            } else {
                ++r.failed;
                ++r.failures_by_errno[a.err];
                ++r.failures_by_call[a.call + " " + a.err];
                if (!r.first_failure_ms) r.first_failure_ms = a.t_ms;
            }
        }
        return r;
    }

private:
    enum class Phase : std::uint8_t { Connecting, AwaitReply, Open };
    struct Attempt {
        std::int64_t t_ms = 0;
        const Step* step = nullptr;
        bool done = false, ok = false;
        std::string err, call;
        SocketId sock = host::kNoSocket;
        Phase phase = Phase::Connecting;
        SimTime deadline = SimTime::never();  // of the current phase (an earlier one's event is stale)
    };
    using Tuple = std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>;  // client ip, port; server ip, port

    void start(World& w, const Step& s) {
        Attempt next;
        next.t_ms = w.now().ns() / 1'000'000;
        next.step = &s;
        attempts_.push_back(next);
        const std::size_t a = attempts_.size() - 1;
        if (s.op == "listen_restart") {
            if (auto it = listener_of_.find(s.to); it != listener_of_.end()) close(w, kServer, it->second);
            listener_of_.erase(s.to);
            const Listener* spec = nullptr;
            for (const Listener& l : x_.listeners) spec = l.at == s.to ? &l : spec;
            const auto [e, call] = open_listener(w, spec->at, s.reuseaddr);
            if (e == Errno::Ok) succeed(attempts_[a]);
            else finish(attempts_[a], e, call);
            return;
        }
        host::SocketOptions opt;
        opt.auto_read = false;
        opt.reuseaddr = s.reuseaddr;
        opt.bind_no_port = s.bind == "port0-no-port";
        opt.linger_zero = s.close == "client-abort";
        const SocketId id = w.sock_create(kClient, fmt::format("c{}", a), opt);
        attempts_[a].sock = id;
        if (s.bind != "none") {
            // bind(client.addresses[0], port): 0 for port0 and port0-no-port.
            if (const Errno b = w.sock_bind(kClient, id, s.bind_port, x_.client_bind_ip); b != Errno::Ok) {
                finish(attempts_[a], b, "bind");
                w.sock_close(kClient, id);
                return;
            }
        }
        if (const Errno e = w.sock_connect(kClient, id, s.to); e != Errno::Ok) {
            finish(attempts_[a], e, "connect");
            w.sock_close(kClient, id);
            return;
        }
        client_attempt_[id] = a;
        const tcp::SockAddr local = w.host(kClient).at(id).ep.tcb().local;
        by_tuple_[{local.ip, local.port, s.to.ip, s.to.port}] = a;
        arm_deadline(w, a, kConnectTimeoutMs);
    }

    void arm_deadline(World& w, std::size_t a, std::int64_t ms) {
        attempts_[a].deadline = w.now() + Duration::ms(ms);
        w.schedule_app(attempts_[a].deadline, kDeadlineBit | a);
    }

    void on_client(World& w, std::size_t a, tcp::Notice n, Errno e) {
        Attempt& at = attempts_[a];
        switch (n) {
            case tcp::Notice::Connected:
                succeed(at);
                at.phase = Phase::AwaitReply;
                w.sock_send(kClient, at.sock, 1);
                arm_deadline(w, a, kReplyTimeoutMs);
                return;
            case tcp::Notice::Readable:
                w.sock_receive(kClient, at.sock, UINT32_MAX);
                if (at.phase == Phase::AwaitReply) {
                    at.phase = Phase::Open;
                    if (at.step->close != "server-first") close(w, kClient, at.sock);
                }
                return;
            case tcp::Notice::PeerClosed: close(w, kClient, at.sock); return;
            case tcp::Notice::Refused:
            case tcp::Notice::TimedOut:
            case tcp::Notice::Reset:
                if (!at.done) finish(at, e, "connect");
                close(w, kClient, at.sock);
                return;
            case tcp::Notice::ReturnedToListen:
            case tcp::Notice::Closed:
            case tcp::Notice::TimeWait:
            case tcp::Notice::OrphanFinWait2: return;
        }
    }

    void on_server(World& w, SocketId sock, tcp::Notice n) {
        const host::Socket& s = w.host(kServer).at(sock);
        if (s.listener == host::kNoSocket) return;
        const auto& t = s.ep.tcb();
        const auto it = by_tuple_.find({t.remote.ip, t.remote.port, t.local.ip, t.local.port});
        const Step* step = it == by_tuple_.end() ? nullptr : attempts_[it->second].step;
        switch (n) {
            case tcp::Notice::Readable:
                w.sock_receive(kServer, sock, UINT32_MAX);
                if (!replied_.insert({kServer, sock}).second) return;
                w.sock_send(kServer, sock, 1);
                if (step != nullptr && step->close == "server-first") {
                    if (step->server_close_delay_ms > 0) w.schedule_app(w.now() + Duration::ms(step->server_close_delay_ms), kCloseBit | sock);
                    else close(w, kServer, sock);
                }
                return;
            case tcp::Notice::PeerClosed:
                // "client-only": the server never closes; the client's FIN-WAIT-2 is orphaned.
                if (step != nullptr && step->close == "client-only") return;
                close(w, kServer, sock);
                return;
            case tcp::Notice::Connected:
            case tcp::Notice::Refused:
            case tcp::Notice::TimedOut:
            case tcp::Notice::Reset:
            case tcp::Notice::ReturnedToListen:
            case tcp::Notice::Closed:
            case tcp::Notice::TimeWait:
            case tcp::Notice::OrphanFinWait2: return;
        }
    }

    // The harness's timeouts (tcpsim_kernel.cpp kConnectTimeoutMs, kReplyTimeoutMs).
    void on_deadline(World& w, std::size_t a) {
        Attempt& at = attempts_[a];
        if (w.now() != at.deadline) return;  // armed for a phase that is over
        if (at.phase == Phase::Connecting && !at.done) {
            finish(at, Errno::TimedOut, "connect");
            close(w, kClient, at.sock);
        } else if (at.phase == Phase::AwaitReply) {
            at.phase = Phase::Open;
            w.host_mut(kClient).at(at.sock).opt.linger_zero = true;  // finish_client(c, true): SO_LINGER {1, 0}
            close(w, kClient, at.sock);
        }
    }

    // socket(), SO_REUSEADDR, bind(address, port), listen(): which call failed, if one did.
    std::pair<Errno, const char*> open_listener(World& w, const tcp::SockAddr& at, bool reuseaddr) {
        host::SocketOptions opt;
        opt.auto_read = false;
        opt.reuseaddr = reuseaddr;
        const SocketId id = w.sock_create(kServer, fmt::format("L{}", tcp::format_addr(at)), opt);
        const char* call = "bind";
        Errno e = w.sock_bind(kServer, id, at.port, at.ip);
        if (e == Errno::Ok) {
            call = "listen";
            e = w.sock_listen(kServer, id, at.port);
        }
        if (e != Errno::Ok) {
            w.sock_close(kServer, id);
            return {e, call};
        }
        listener_of_[at] = id;
        return {Errno::Ok, ""};
    }

    void take_sample(const World& w) {
        std::array<std::map<std::string, std::uint64_t>, 2> counts;  // client, server
        if (kClient != kServer) {
            for (int side = 0; side < 2; ++side) {
                const int h = side == 0 ? kClient : kServer;
                const StateCounts& c = w.state_counts(h);
                for (std::size_t i = 0; i < c.size(); ++i) {
                    std::int64_t n = c[i];
                    // /proc/net/tcp lists the mini-sockets under their substate (tw_substate).
                    if (static_cast<tcp::State>(i) == tcp::State::TimeWait) n += static_cast<std::int64_t>(w.host(h).time_wait_count());
                    if (static_cast<tcp::State>(i) == tcp::State::FinWait2) n += static_cast<std::int64_t>(w.host(h).fin_wait2_minisock_count());
                    if (n > 0 && *proc_state_name(static_cast<tcp::State>(i))) counts[side][proc_state_name(static_cast<tcp::State>(i))] += static_cast<std::uint64_t>(n);
                }
            }
        } else {
            // One namespace: the sockets on a listener's port are the server's (tcpsim_kernel.cpp take_sample()).
            const host::Host& h = w.host(kClient);
            for (std::size_t i = 0; i < h.size(); ++i) {
                const host::Socket& s = h.at(static_cast<SocketId>(i));
                if (!s.alive || s.ep.state() == tcp::State::Closed) continue;
                ++counts[listener_ports_.count(s.ep.tcb().local.port) ? 1 : 0][proc_state_name(s.ep.state())];
            }
            h.for_each_time_wait([&](const host::TimeWaitSock& tw) {
                ++counts[listener_ports_.count(tw.tuple.lport) ? 1 : 0][proc_state_name(tw.state())];
            });
        }
        for (int side = 0; side < 2; ++side) {
            auto& peak = max_states_[side == 0 ? "client" : "server"];
            for (const auto& [state, n] : counts[side]) peak[state] = std::max(peak[state], n);
        }
    }

    void close(World& w, int h, SocketId id) {
        if (!closed_[h == kClient ? 0 : 1].insert(id).second) return;
        w.sock_close(h, id);
    }
    static void succeed(Attempt& a) {
        a.done = true;
        a.ok = true;
    }
    static void finish(Attempt& a, Errno e, const char* call) {
        a.done = true;
        a.ok = false;
        a.err = std::string(to_string(e));
        a.call = call;
    }

    const Spec& x_;
    std::vector<Attempt> attempts_;
    std::map<SocketId, std::size_t> client_attempt_;
    std::map<Tuple, std::size_t> by_tuple_;
    std::map<tcp::SockAddr, SocketId> listener_of_;
    std::set<std::uint16_t> listener_ports_;
    std::array<std::set<SocketId>, 2> closed_;
    std::set<std::pair<int, SocketId>> replied_;
    std::map<std::string, std::map<std::string, std::uint64_t>> max_states_{{"client", {}}, {"server", {}}};
    const int kClient, kServer;  // host indices (the same host in a loopback experiment)
};

ToleranceFacts facts_of(const Spec& x, const Built& b) {
    ToleranceFacts f;
    f.observe_ms = x.observe_ms;
    const host::Profile& c = b.profiles[0];
    const host::Profile& s = b.profiles[1];
    f.hz = c.stack.hz;
    f.time_wait = c.stack.linux_minisock ? c.stack.linux_tw.length : c.tcp.time_wait_length();
    f.fin_timeout = c.tcp.fin_wait2_timeout;
    f.fin_wait2_minisock = c.stack.linux_minisock;
    f.tw_reuse_delay = c.stack.tw_reuse_delay;
    f.tw_reuse_seconds_clock = c.stack.tw_reuse_seconds_clock;
    bool toward_loopback = is_loopback(x.client_bind_ip) && std::any_of(x.steps.begin(), x.steps.end(), [](const Step& st) { return st.bind != "none"; });
    std::vector<std::int64_t> times;
    for (const Step& st : x.steps) {
        if (st.op == "connect") {
            f.client_time_wait = f.client_time_wait || st.close == "client-first";
            f.server_time_wait = f.server_time_wait || st.close == "server-first";
            f.orphan_fin_wait2 = f.orphan_fin_wait2 || st.close == "client-only";
            toward_loopback = toward_loopback || is_loopback(st.to.ip);
        }
        for (std::int64_t k = 0; k < st.repeat; ++k) times.push_back(st.at_ms + k * st.every_ms);
    }
    // tcp_twsk_unique(): reuse needs timestamps seen on the old connection (both sides send
    // them) and tcp_tw_reuse 1, or 2 with loopback traffic.
    f.tw_reuse = c.stack.linux_minisock && c.tcp.timestamps && s.tcp.timestamps &&
                 (c.stack.tw_reuse == 1 || (c.stack.tw_reuse == 2 && toward_loopback));
    std::sort(times.begin(), times.end());
    for (std::size_t i = 1; i < times.size(); ++i) f.largest_gap_ms = std::max(f.largest_gap_ms, times[i] - times[i - 1]);
    return f;
}

std::string errno_list(const std::map<std::string, std::uint64_t>& m) {
    std::string out;
    for (const auto& [e, n] : m) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", n, e);
    return out.empty() ? std::string("-") : out;
}

}  // namespace

// ---- the tolerance ----------------------------------------------------------------------------

TimeTolerance time_tolerance(const ToleranceFacts& f) {
    // What ends a hold within the run decides when ports come back. Each is a kernel timer: the
    // kernel's and the simulator's versions of it may end up to its spread apart.
    // - TIME-WAIT (TCP_TIMEWAIT_LEN, 60 s) and the orphaned FIN-WAIT-2 (tcp_fin_timeout: the
    //   minisock's timer, inet_twsk_schedule()) are timer-wheel timers: kernel/time/timer.c puts a
    //   timer `delta` jiffies ahead in the level L with LVL_START(L) <= delta < LVL_START(L+1),
    //   LVL_START(n) = 63 << 3(n-1), and fires it at the end of its bucket, LVL_GRAN(L) = 8^L
    //   jiffies wide (its table, HZ 250: level 2 256 ms for 2048-16383 ms, level 3 2048 ms for
    //   16384-131071 ms); it counts from the current jiffy, up to 1 jiffy behind the clock. The
    //   simulator draws the wheel's phase at random (linux_timer_fires()).
    // - An orphaned FIN-WAIT-2 begins when the peer ACKs our FIN, which the peer (going to
    //   CLOSE_WAIT) may delay by its delayed-ACK timer: TCP_DELACK_MIN = HZ/25 jiffies, 40 ms
    //   (include/net/tcp.h; reference/linux-kernel-observations.md: "ACKed after a short
    //   delayed-ACK pause"), a jiffy-counted timer as well.
    // - tcp_tw_reuse's delay is counted by tcp_clock_ms() since 6.14 (tcp_twsk_unique():
    //   tcp_clock_ms() > tw_entry_stamp + tcp_tw_reuse_delay; reference/tcp-stack-semantics.md
    //   §2.5): 1 ms; before, by ktime_get_seconds(): 1 s.
    // A timer that cannot end within observe_ms decides nothing. The figures are the times of
    // scheduled operations, so a port back up to the spread later is seen by an operation up to
    // the spread rounded up to the schedule's step later. Nothing timed: the times must be equal.
    struct Part {
        std::int64_t spread_ns;
        std::string what;
    };
    std::vector<Part> parts;
    const Duration observe = Duration::ms(f.observe_ms);
    const std::int64_t jiffy_ns = 1'000'000'000 / f.hz;
    auto ms_text = [](std::int64_t ns) { return ns % 1'000'000 == 0 ? fmt::format("{}", ns / 1'000'000) : fmt::format("{:.1f}", static_cast<double>(ns) / 1e6); };
    auto wheel = [&](const char* what, const char* length, Duration timeout, std::int64_t extra_ns, const std::string& extra_why) {
        const Duration g = host::linux_timer_granularity(timeout, f.hz);
        const std::int64_t gran_jiffies = g.count() / jiffy_ns;
        int level = 0;
        while ((std::int64_t{1} << (3 * level)) < gran_jiffies) ++level;
        const std::int64_t spread = g.count() + jiffy_ns + extra_ns;
        parts.push_back({spread, fmt::format("{} ({} {} ms = {} jiffies at HZ={}) fires at the end of its timer-wheel bucket, level {}: "
                                             "{} jiffies = {} ms wide, + 1 jiffy{}: {} ms",
                                             what, length, timeout.whole_ms(), (timeout.count() + jiffy_ns - 1) / jiffy_ns, f.hz, level,
                                             gran_jiffies, ms_text(g.count()), extra_why, ms_text(spread))});
    };
    if (f.client_time_wait && f.tw_reuse && f.tw_reuse_delay < observe)
        parts.push_back({f.tw_reuse_seconds_clock ? 1'000'000'000 : 1'000'000,
                         fmt::format("tcp_tw_reuse takes a TIME-WAIT over after tcp_tw_reuse_delay ({} ms), counted {}",
                                     f.tw_reuse_delay.whole_ms(), f.tw_reuse_seconds_clock ? "in whole seconds: 1000 ms" : "in whole ms by tcp_clock_ms(): 1 ms")});
    if ((f.client_time_wait || f.server_time_wait) && f.time_wait < observe) wheel("TIME-WAIT", "TCP_TIMEWAIT_LEN", f.time_wait, 0, "");
    const std::int64_t delack = (f.hz / 25) * jiffy_ns + jiffy_ns;  // TCP_DELACK_MIN, counted in jiffies
    const std::string delack_why = fmt::format(
        ", + {} ms for the peer's delayed ACK of the FIN that starts it (TCP_DELACK_MIN = HZ/25 jiffies, + 1 jiffy)", ms_text(delack));
    if (f.orphan_fin_wait2 && f.fin_wait2_minisock && f.fin_timeout > f.time_wait) {
        // tcp_rcv_state_process(): the keep-alive timer for tcp_fin_time() - TCP_TIMEWAIT_LEN,
        // then tcp_keepalive_timer(): a mini-socket for tcp_fin_time() - TCP_TIMEWAIT_LEN again;
        // two timer-wheel timers in a row (tools/kernel/results/fin-timeout-70-orphan.json).
        const Duration part = f.fin_timeout - f.time_wait;
        if (part * 2 < observe) {
            const Duration g = host::linux_timer_granularity(part, f.hz);
            const std::int64_t spread = 2 * (g.count() + jiffy_ns) + delack;
            parts.push_back({spread, fmt::format("an orphaned FIN-WAIT-2 with tcp_fin_timeout {} ms above TCP_TIMEWAIT_LEN lasts two "
                                                 "timers of {} ms (the full socket's keep-alive timer, then the mini-socket's), each "
                                                 "at the end of a {} ms timer-wheel bucket + 1 jiffy{}: {} ms",
                                                 f.fin_timeout.whole_ms(), part.whole_ms(), ms_text(g.count()), delack_why,
                                                 ms_text(spread))});
        }
    } else if (f.orphan_fin_wait2 && f.fin_timeout < observe) {
        wheel("an orphaned FIN-WAIT-2", "tcp_fin_timeout", f.fin_timeout, delack, delack_why);
    }
    TimeTolerance t;
    if (parts.empty()) {
        t.why = fmt::format("no timer ends a hold within the run ({} ms), so they must be equal", f.observe_ms);
        return t;
    }
    std::int64_t g = 0;
    for (const Part& p : parts) {
        g = std::max(g, (p.spread_ns + 999'999) / 1'000'000);
        t.why += (t.why.empty() ? "" : "; ") + p.what;
    }
    const std::int64_t step = f.largest_gap_ms;
    t.ms = step == 0 ? g : (g + step - 1) / step * step;
    if (step != 0) t.why += fmt::format("; {} ms rounded up to whole steps of the schedule ({} ms at most between operations)", g, step);
    return t;
}

// ---- running ----------------------------------------------------------------------------------

ExperimentRun run_experiment(const std::string& path, const std::string& profile, std::uint64_t seed) {
    const Spec x = read_spec(path);
    const Built b = build(path, x, profile, seed);
    World w(b.sc, false);
    if (!x.loopback)
        for (const auto& [net, prefix, src] : connected_routes(x.client)) w.host_mut(0).add_route(net, prefix, src);
    ExperimentApp app(x, 0, x.loopback ? 0 : 1);
    w.set_app(&app);
    app.schedule(w);
    w.run();
    app.finish_run();
    return ExperimentRun{x.name, x.digest, app.summary(), facts_of(x, b)};
}

// ---- the kernel's result ----------------------------------------------------------------------

KernelResult read_kernel_result(const std::string& path) {
    // The kernel tool's JSON output: every place named by its JSON pointer.
    const json doc = parse_json(read_text_file(path), path);
    const Reader r(path);
    if (!doc.is_object()) r.fail("", fmt::format("expected an object (the JSON output of the kernel tool), found {}", doc.type_name()));
    KernelResult k;
    k.kernel = r.str(doc, "", "kernel", false, "?");
    if (r.field(doc, "summary") == nullptr) r.fail("", "missing required key \"summary\" (is this the JSON output of the kernel tool?)");
    if (const json* h = r.field(doc, "harness"); h != nullptr && r.field(*h, "hz") != nullptr && !(*h)["hz"].is_null())
        k.hz = static_cast<std::int64_t>(r.uint(*h, "/harness", "hz", true, 0, 100000));
    const json& s = r.required(doc, "", "summary");
    r.only_object(s, "/summary");
    ExperimentSummary& out = k.summary;
    out.succeeded = r.uint(s, "/summary", "succeeded", true, 0, Reader::kMaxCount);
    out.failed = r.uint(s, "/summary", "failed", true, 0, Reader::kMaxCount);
    const json& by = r.required(s, "/summary", "failures_by_errno");
    r.only_object(by, "/summary/failures_by_errno");
    for (const auto& [e, v] : by.items()) out.failures_by_errno[e] = r.uint(by, "/summary/failures_by_errno", e.c_str(), true, 0, Reader::kMaxCount);
    auto ms = [&](const char* key) -> std::optional<std::int64_t> {
        if (r.required(s, "/summary", key).is_null()) return std::nullopt;
        return static_cast<std::int64_t>(r.uint(s, "/summary", key, true, 0, Reader::kMaxCount));  // ms into the run
    };
    out.first_failure_ms = ms("first_failure_ms");
    out.first_recovery_ms = ms("first_recovery_ms");
    const json& st = r.required(s, "/summary", "max_states");
    r.only_object(st, "/summary/max_states");
    for (const char* side : {"client", "server"}) {
        const std::string p = std::string("/summary/max_states/") + side;
        const json& m = r.required(st, "/summary/max_states", side);
        r.only_object(m, p);
        auto& peaks = out.max_states[side];
        for (const auto& [state, v] : m.items()) peaks[state] = r.uint(m, p, state.c_str(), true, 0, Reader::kMaxCount);
    }
    // Which call failed: the attempts' "syscall" (the summary counts errnos only).
    const json* attempts = r.array(doc, "", "attempts", true);
    for (std::size_t i = 0; i < attempts->size(); ++i) {
        const json& a = (*attempts)[i];
        const std::string p = fmt::format("/attempts/{}", i);
        r.only_object(a, p);
        if (r.field(a, "ok") == nullptr) r.fail(p, "missing required key \"ok\"");
        if (r.boolean(a, p, "ok", false)) continue;
        ++out.failures_by_call[r.str(a, p, "syscall", true) + " " + r.str(a, p, "errno", true)];
    }
    // What it measured: the experiment's name and digest.
    k.experiment = r.str(doc, "", "experiment", true);
    if (r.field(doc, "experiment_digest") == nullptr)
        r.fail("", "missing required key \"experiment_digest\": the result cannot show which experiment it measured "
                   "(run it again with tcpsim-kernel, which writes the digest)");
    k.digest = r.str(doc, "", "experiment_digest", true);
    return k;
}

void check_same_experiment(const ExperimentRun& run, const std::string& experiment_path, const KernelResult& k,
                           const std::string& result_path) {
    if (k.experiment == run.name && k.digest == run.digest) return;
    if (k.experiment != run.name)
        throw ScenarioError(fmt::format("{}: /experiment: the result is of experiment \"{}\" ({}), but {} is experiment \"{}\" ({}): "
                                        "refusing to compare them",
                                        result_path, k.experiment, k.digest, experiment_path, run.name, run.digest));
    throw ScenarioError(fmt::format("{}: /experiment_digest: the result of \"{}\" was measured for the experiment with digest {}, but {} "
                                    "now has digest {} (its addresses, listeners, sysctls or schedule changed since): refusing to "
                                    "compare them (run it again with tcpsim-kernel)",
                                    result_path, k.experiment, k.digest, experiment_path, run.digest));
}

// ---- comparing and reporting ------------------------------------------------------------------

namespace {
using PeakRange = std::pair<std::uint64_t, std::uint64_t>;  // lowest, highest over the runs

// Per side and state: the range of the peak over the runs (absent in a run: 0).
std::map<std::pair<std::string, std::string>, PeakRange> peak_ranges(const ExperimentSummary& k, const std::vector<ExperimentSummary>& sims) {
    std::map<std::pair<std::string, std::string>, PeakRange> out;
    auto states_of = [&](const ExperimentSummary& x) {
        for (const auto& [side, states] : x.max_states)
            for (const auto& [state, n] : states) out.emplace(std::pair{side, state}, PeakRange{~std::uint64_t{0}, 0});
    };
    states_of(k);
    for (const ExperimentSummary& x : sims) states_of(x);
    for (auto& [key, range] : out)
        for (const ExperimentSummary& x : sims) {
            std::uint64_t n = 0;
            if (auto side = x.max_states.find(key.first); side != x.max_states.end())
                if (auto it = side->second.find(key.second); it != side->second.end()) n = it->second;
            range = {std::min(range.first, n), std::max(range.second, n)};
        }
    return out;
}

std::uint64_t peak_of(const ExperimentSummary& x, const std::string& side, const std::string& state) {
    auto s = x.max_states.find(side);
    if (s == x.max_states.end()) return 0;
    auto it = s->second.find(state);
    return it == s->second.end() ? 0 : it->second;
}

// Kernel peaks outside a range that varies between seeds (the case where more seeds may tell).
bool peaks_uncovered(const ExperimentSummary& k, const std::vector<ExperimentSummary>& sims) {
    for (const auto& [key, range] : peak_ranges(k, sims)) {
        const std::uint64_t kv = peak_of(k, key.first, key.second);
        if (range.first < range.second && (kv < range.first || kv > range.second)) return true;
    }
    return false;
}
}  // namespace

std::vector<ComparisonRow> compare_summaries(const ExperimentSummary& k, const std::vector<ExperimentSummary>& sims,
                                             std::int64_t tol) {
    if (sims.empty()) throw std::invalid_argument("compare_summaries: no simulator run");
    const ExperimentSummary& s = sims.front();
    std::vector<ComparisonRow> rows;
    auto opt = [](const std::optional<std::int64_t>& v) { return v ? fmt::format("{} ms", *v) : std::string("-"); };
    auto close_enough = [&](const std::optional<std::int64_t>& a, const std::optional<std::int64_t>& b) {
        if (!a || !b) return a.has_value() == b.has_value();
        return std::abs(*a - *b) <= tol;
    };
    rows.push_back({"succeeded", std::to_string(k.succeeded), std::to_string(s.succeeded), k.succeeded == s.succeeded});
    rows.push_back({"failed", errno_list(k.failures_by_errno), errno_list(s.failures_by_errno),
                    k.failures_by_errno == s.failures_by_errno && k.failed == s.failed});
    rows.push_back({"failed calls", errno_list(k.failures_by_call), errno_list(s.failures_by_call), k.failures_by_call == s.failures_by_call});
    rows.push_back({"first failure", opt(k.first_failure_ms), opt(s.first_failure_ms), close_enough(k.first_failure_ms, s.first_failure_ms)});
    rows.push_back({"first recovery", opt(k.first_recovery_ms), opt(s.first_recovery_ms),
                    close_enough(k.first_recovery_ms, s.first_recovery_ms)});
    // Peak state counts: every state either side saw (absent: none).
    for (const auto& [key, range] : peak_ranges(k, sims)) {
        const std::uint64_t kv = peak_of(k, key.first, key.second), sv = peak_of(s, key.first, key.second);
        std::string shown = std::to_string(sv);
        if (range.first < range.second) shown += fmt::format(" ({}-{} over {} seeds)", range.first, range.second, sims.size());
        rows.push_back({fmt::format("peak {} {}", key.first, key.second), std::to_string(kv), shown,
                        kv >= range.first && kv <= range.second});
    }
    return rows;
}

ExperimentReport experiment_report(const std::string& path, const std::string& profile, std::uint64_t seed,
                                   const std::string& compare_path, bool progress) {
    ExperimentReport out;
    if (compare_path.empty()) {
        const ExperimentRun run = run_experiment(path, profile, seed);
        const ExperimentSummary& s = run.summary;
        out.text = fmt::format("{}: {} succeeded, {} failed", path, s.succeeded, s.failed);
        for (const auto& [e, n] : s.failures_by_call) out.text += fmt::format(" ({} {})", n, e);
        out.text += s.first_failure_ms ? fmt::format(", first failure {} ms", *s.first_failure_ms) : "";
        out.text += s.first_recovery_ms ? fmt::format(", first recovery {} ms", *s.first_recovery_ms) : "";
        std::string peaks;
        for (const auto& [side, states] : s.max_states)
            for (const auto& [state, n] : states) peaks += fmt::format("{}{} {} {}", peaks.empty() ? "" : ", ", side, state, n);
        out.text += fmt::format("\n  peak states: {}\n", peaks.empty() ? "none" : peaks);
        return out;
    }
    // The result first: a malformed one is reported before anything runs.
    const KernelResult k = read_kernel_result(compare_path);
    ExperimentRun run = run_experiment(path, profile, seed);
    check_same_experiment(run, path, k, compare_path);
    std::vector<ExperimentSummary> sims{run.summary};
    constexpr std::uint64_t kPeakSeeds = 64, kMaxPeakSeeds = 1024;
    ProgressBar bar("experiment", kPeakSeeds, progress);
    for (std::uint64_t i = 1; i < kMaxPeakSeeds && (i < kPeakSeeds || peaks_uncovered(k.summary, sims)); ++i) {
        sims.push_back(run_experiment(path, profile, seed + i).summary);
        bar.update(std::min<std::size_t>(i + 1, kPeakSeeds));
    }
    bar.finish();
    if (k.hz) run.facts.hz = *k.hz;  // the kernel's own tick, when its result records it
    const TimeTolerance tol = time_tolerance(run.facts);
    out.text = fmt::format("{} (experiment {} {}; kernel {}, tcpsim profile {})\n", path, run.name, run.digest, k.kernel, profile);
    out.text += fmt::format("  first failure and recovery within {} ms: {}\n", tol.ms, tol.why);
    out.text += fmt::format("  tcpsim: the figures of seed {}, the peak state counts over seeds {}-{}\n", seed, seed, seed + sims.size() - 1);
    const std::vector<ComparisonRow> rows = compare_summaries(k.summary, sims, tol.ms);
    std::size_t w0 = 6, w1 = 6, w2 = 6;
    for (const ComparisonRow& r : rows) w0 = std::max(w0, r.figure.size()), w1 = std::max(w1, r.kernel.size()), w2 = std::max(w2, r.tcpsim.size());
    out.text += fmt::format("  {:<{}}  {:<{}}  {}\n", "figure", w0, "kernel", w1, "tcpsim");
    for (const ComparisonRow& r : rows) {
        out.text += fmt::format("  {:<{}}  {:<{}}  {:<{}}  {}\n", r.figure, w0, r.kernel, w1, r.tcpsim, w2, r.agrees ? "ok" : "DIFFERS");
        out.agrees = out.agrees && r.agrees;
    }
    return out;
}

}  // namespace tcpsim
