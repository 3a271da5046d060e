#include "experiment.hpp"

#include "json_reader.hpp"
#include "profiles.hpp"
#include "scenario.hpp"
#include "world.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace tcpsim {

namespace {

using host::SocketId;

struct Step {
    std::int64_t at_ms = 0;
    std::int64_t repeat = 1;
    std::int64_t every_ms = 0;
    std::string op;
    tcp::SockAddr to;
    std::string close = "client-first";
    std::string bind = "none";
    std::uint16_t bind_port = 0;
    bool reuseaddr = false;
    std::int64_t server_close_delay_ms = 0;
};

struct Listener {
    std::uint16_t port = 0;
    bool reuseaddr = false;
};

bool parse_addr(const std::string& s, tcp::SockAddr& out) {
    unsigned a, b, c, d, p;
    char tail;
    if (std::sscanf(s.c_str(), "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &p, &tail) != 5) return false;
    if (a > 255 || b > 255 || c > 255 || d > 255 || p > 65535) return false;
    out = tcp::SockAddr{(a << 24) | (b << 16) | (c << 8) | d, static_cast<std::uint16_t>(p)};
    return true;
}

// The kernel harness's application, here: connect, send a byte, the server replies a byte, the
// side named by "close" closes first and the other closes when it sees the end of the stream.
class ExperimentApp final : public App {
public:
    ExperimentApp(std::vector<Step> steps, std::vector<Listener> listeners, int client_host, int server_host)
        : steps_(std::move(steps)), listeners_(std::move(listeners)), kClient(client_host), kServer(server_host) {}

    static constexpr std::uint64_t kStart = ~0ull;
    static constexpr std::uint64_t kCloseBit = 1ull << 62;

    void schedule(World& w) {
        w.schedule_app(SimTime::zero(), kStart);
        for (std::size_t i = 0; i < steps_.size(); ++i)
            for (std::int64_t k = 0; k < steps_[i].repeat; ++k)
                w.schedule_app(SimTime::zero() + Duration::ms(steps_[i].at_ms + k * steps_[i].every_ms),
                               (static_cast<std::uint64_t>(i) << 32) | static_cast<std::uint64_t>(k));
    }

    void on_app_event(World& w, std::uint64_t arg) override {
        if (arg == kStart) {
            for (const Listener& l : listeners_) open_listener(w, l.port, l.reuseaddr);
            return;
        }
        if (arg & kCloseBit) {
            close(w, kServer, static_cast<SocketId>(arg & 0xFFFFFFFFu));
            return;
        }
        const Step& s = steps_[arg >> 32];
        const std::int64_t t_ms = w.now().ns() / 1'000'000;
        max_tw_ = std::max<std::uint64_t>(max_tw_, w.host(kClient).time_wait_count());
        const std::size_t a = attempts_.size();
        attempts_.push_back(Attempt{t_ms, false, false, "", &s});
        if (s.op == "listen_restart") {
            auto it = listener_of_.find(s.to.port);
            if (it != listener_of_.end()) close(w, kServer, it->second);
            listener_of_.erase(s.to.port);
            const Errno e = open_listener(w, s.to.port, s.reuseaddr);
            finish(a, e == Errno::Ok, e);
            return;
        }
        host::SocketOptions opt;
        opt.auto_read = false;
        opt.reuseaddr = s.reuseaddr;
        opt.bind_no_port = s.bind == "port0-no-port";
        opt.linger_zero = s.close == "client-abort";
        const SocketId id = w.sock_create(kClient, fmt::format("c{}", a), opt);
        if (s.bind != "none") {
            const Errno b = w.sock_bind(kClient, id, s.bind_port);
            if (b != Errno::Ok) {
                finish(a, false, b);
                w.sock_close(kClient, id);
                return;
            }
        }
        const Errno e = w.sock_connect(kClient, id, s.to);
        if (e != Errno::Ok) {
            finish(a, false, e);
            w.sock_close(kClient, id);
            return;
        }
        client_attempt_[id] = a;
        const auto& t = w.host(kClient).at(id).ep.tcb();
        by_tuple_[{t.local.port, s.to.port}] = a;
    }

    void on_notice(World& w, int h, SocketId sock, tcp::Notice n, Errno e) override {
        if (auto it = client_attempt_.find(sock); h == kClient && it != client_attempt_.end()) {
            const std::size_t a = it->second;
            switch (n) {
                case tcp::Notice::Connected:
                    finish(a, true, Errno::Ok);
                    w.sock_send(kClient, sock, 1);
                    return;
                case tcp::Notice::Readable:
                    w.sock_receive(kClient, sock, UINT32_MAX);
                    if (attempts_[a].step->close != "server-first") close(w, kClient, sock);
                    return;
                case tcp::Notice::PeerClosed: close(w, kClient, sock); return;
                case tcp::Notice::Refused:
                case tcp::Notice::TimedOut:
                case tcp::Notice::Reset:
                    if (!attempts_[a].done) finish(a, false, e);
                    return;
                case tcp::Notice::ReturnedToListen:
                case tcp::Notice::Closed:
                case tcp::Notice::TimeWait: return;
            }
            return;
        }
        if (h != kServer) return;
        const host::Socket& s = w.host(kServer).at(sock);
        if (s.listener == host::kNoSocket) return;
        switch (n) {
            case tcp::Notice::Readable: {
                w.sock_receive(kServer, sock, UINT32_MAX);
                w.sock_send(kServer, sock, 1);
                auto it = by_tuple_.find({s.ep.tcb().remote.port, s.ep.tcb().local.port});
                if (it != by_tuple_.end() && attempts_[it->second].step->close == "server-first") {
                    const std::int64_t delay = attempts_[it->second].step->server_close_delay_ms;
                    if (delay > 0) w.schedule_app(w.now() + Duration::ms(delay), kCloseBit | sock);
                    else close(w, kServer, sock);
                }
                return;
            }
            case tcp::Notice::PeerClosed: {
                // "client-only": the server never closes; the client's FIN-WAIT-2 is orphaned.
                auto it = by_tuple_.find({s.ep.tcb().remote.port, s.ep.tcb().local.port});
                if (it != by_tuple_.end() && attempts_[it->second].step->close == "client-only") return;
                close(w, kServer, sock);
                return;
            }
            case tcp::Notice::Connected:
            case tcp::Notice::Refused:
            case tcp::Notice::TimedOut:
            case tcp::Notice::Reset:
            case tcp::Notice::ReturnedToListen:
            case tcp::Notice::Closed:
            case tcp::Notice::TimeWait: return;
        }
    }

    ExperimentSummary summary() const {
        ExperimentSummary r;
        r.max_client_time_wait = max_tw_;
        for (const Attempt& a : attempts_) {
            if (!a.done) continue;
            if (a.ok) {
                ++r.succeeded;
                if (r.first_failure_ms && !r.first_recovery_ms && a.t_ms > *r.first_failure_ms) r.first_recovery_ms = a.t_ms;
            } else {
                ++r.failed;
                ++r.failures_by_errno[a.err];
                if (!r.first_failure_ms) r.first_failure_ms = a.t_ms;
            }
        }
        return r;
    }

private:
    struct Attempt {
        std::int64_t t_ms;
        bool done;
        bool ok;
        std::string err;
        const Step* step;
    };

    Errno open_listener(World& w, std::uint16_t port, bool reuseaddr) {
        host::SocketOptions opt;
        opt.auto_read = false;
        opt.reuseaddr = reuseaddr;
        const SocketId id = w.sock_create(kServer, fmt::format("L{}", port), opt);
        const Errno e = w.sock_listen(kServer, id, port);
        if (e != Errno::Ok) {
            w.sock_close(kServer, id);
            return e;
        }
        listener_of_[port] = id;
        return Errno::Ok;
    }
    void close(World& w, int h, SocketId id) {
        if (!closed_[h].insert(id).second) return;
        w.sock_close(h, id);
    }
    void finish(std::size_t a, bool ok, Errno e) {
        attempts_[a].done = true;
        attempts_[a].ok = ok;
        attempts_[a].err = ok ? "" : std::string(to_string(e));
    }

    std::vector<Step> steps_;
    std::vector<Listener> listeners_;
    std::vector<Attempt> attempts_;
    std::map<SocketId, std::size_t> client_attempt_;
    std::map<std::pair<std::uint16_t, std::uint16_t>, std::size_t> by_tuple_;  // (client port, server port)
    std::map<std::uint16_t, SocketId> listener_of_;
    std::array<std::set<SocketId>, 2> closed_;
    std::uint64_t max_tw_ = 0;
    const int kClient, kServer;  // host indices (the same host in a loopback experiment)
};

}  // namespace

ExperimentSummary run_experiment_unchecked(const std::string& path, const std::string& profile, std::uint64_t seed);

ExperimentSummary run_experiment(const std::string& path, const std::string& profile, std::uint64_t seed) {
    try {
        return run_experiment_unchecked(path, profile, seed);
    } catch (const json::exception& e) {
        // A missing or mistyped field: name the file (json's message names the field).
        throw ScenarioError(fmt::format("{}: {}", path, e.what()));
    }
}

ExperimentSummary run_experiment_unchecked(const std::string& path, const std::string& profile, std::uint64_t seed) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ScenarioError(fmt::format("{}: cannot open the file", path));
    std::ostringstream ss;
    ss << in.rdbuf();
    const json doc = parse_json(ss.str(), path);
    // The format of tools/kernel/experiment.cpp (which runs the same file against the kernel),
    // with the same limits; every error names the JSON pointer.
    Reader r(path);
    constexpr std::uint64_t kMaxMs = 180000;      // tools/kernel kMaxObserveMs
    constexpr std::uint64_t kMaxRepeat = 5000;    // tools/kernel kMaxAttempts
    r.only_keys(doc, "", {"name", "description", "client", "server", "loopback", "schedule", "observe_ms", "sample_every_ms"});
    const bool loopback = r.boolean(doc, "", "loopback", false);
    (void)r.str(doc, "", "description", false);
    (void)r.uint(doc, "", "sample_every_ms", false, 500, kMaxMs);
    auto side = [&](const char* key) -> const json& {
        const json* v = r.field(doc, key);
        if (v == nullptr) r.fail("", fmt::format("missing required key \"{}\"", key));
        r.only_keys(*v, std::string("/") + key, {"addresses", "sysctls", "listeners"});
        return *v;
    };
    const json& client = side("client");
    const json& server = side("server");
    if (r.field(client, "listeners")) r.fail("/client/listeners", "listeners belong to the server");

    Scenario sc;
    sc.file = path;
    sc.name = r.str(doc, "", "name", true);
    sc.seed = seed;
    const std::int64_t observe_ms = static_cast<std::int64_t>(r.uint(doc, "", "observe_ms", true, 0, kMaxMs));
    sc.duration = Duration::ms(observe_ms + 5000);
    sc.default_link.latency = Duration::us(50);  // a veth pair between two namespaces
    // Two hosts joined by a veth-like link, or (loopback) one host playing both roles, whose
    // addresses are the server's and whose sysctls are the client's (one namespace).
    // Each side's addresses, checked and read once; the server's first one is its address.
    auto addresses = [&](const json& obj, const char* key) {
        std::vector<std::uint32_t> out;
        if (const json* a = r.array(obj, std::string("/") + key, "addresses", false)) {
            for (std::size_t i = 0; i < a->size(); ++i) {
                tcp::SockAddr x;
                if (!(*a)[i].is_string() || !parse_addr((*a)[i].get<std::string>() + ":0", x))
                    r.fail(fmt::format("/{}/addresses/{}", key, i), fmt::format("expected an address \"A.B.C.D\", found {}", Reader::show((*a)[i])));
                out.push_back(x.ip);
            }
        }
        return out;
    };
    (void)addresses(client, "client");
    const std::vector<std::uint32_t> server_addrs = addresses(server, "server");
    const std::uint32_t server_ip = server_addrs.empty() ? 0x0A4D0002 : server_addrs.front();  // 10.77.0.2
    auto make_host = [&](const char* name, std::uint32_t ip, const json& side_obj, const std::string& p) {
        HostSpec hs;
        hs.name = name;
        hs.ip = ip;
        hs.profile = profile;
        host::Profile prof = load_profile(profile);
        if (const json* sysctls = r.field(side_obj, "sysctls")) {
            if (!sysctls->is_object()) r.fail(p + "/sysctls", fmt::format("expected an object, found {}", sysctls->type_name()));
            for (const auto& [k, v] : sysctls->items()) {
                const std::string value = v.is_string() ? v.get<std::string>() : v.dump();
                if (host::set_sysctl(prof, k, value) != host::SysctlResult::Applied)
                    r.fail(p + "/sysctls/" + k, fmt::format("the {} profile cannot apply {}={}", profile, k, value));
            }
        }
        hs.tcp = prof.tcp;
        hs.stack = prof.stack;
        sc.hosts.push_back(hs);
    };
    if (loopback) {
        make_host("host", server_ip, client, "/client");
    } else {
        make_host("client", 0x0A4D0001, client, "/client");  // 10.77.0.1
        make_host("server", server_ip, server, "/server");
    }
    std::vector<Listener> listeners;
    if (const json* ls = r.array(server, "/server", "listeners", false)) {
        for (std::size_t i = 0; i < ls->size(); ++i) {
            const json& l = (*ls)[i];
            const std::string p = fmt::format("/server/listeners/{}", i);
            r.only_keys(l, p, {"address", "port", "reuseaddr"});
            (void)r.str(l, p, "address", false);
            const auto port = static_cast<std::uint16_t>(r.uint(l, p, "port", true, 0, 65535));
            if (port == 0) r.fail(p + "/port", "expected a port from 1 to 65535, found 0");
            listeners.push_back(Listener{port, r.boolean(l, p, "reuseaddr", false)});
        }
    }
    std::vector<Step> steps;
    const json* sched = r.array(doc, "", "schedule", false);
    if (sched == nullptr) r.fail("", "missing required key \"schedule\"");
    for (std::size_t i = 0; i < sched->size(); ++i) {
        const json& s = (*sched)[i];
        const std::string p = fmt::format("/schedule/{}", i);
        r.only_keys(s, p, {"at_ms", "repeat", "every_ms", "op", "to", "close", "bind", "reuseaddr", "server_close_delay_ms"});
        Step st;
        st.at_ms = static_cast<std::int64_t>(r.uint(s, p, "at_ms", false, 0, kMaxMs));
        st.repeat = static_cast<std::int64_t>(r.uint(s, p, "repeat", false, 1, kMaxRepeat));
        if (st.repeat == 0) r.fail(p + "/repeat", "expected at least 1, found 0");
        st.every_ms = static_cast<std::int64_t>(r.uint(s, p, "every_ms", false, 0, kMaxMs));
        st.op = r.str(s, p, "op", false, "connect");
        if (st.op != "connect" && st.op != "listen_restart") r.fail(p + "/op", fmt::format("op \"{}\" is not modelled", st.op));
        if (!parse_addr(r.str(s, p, "to", true), st.to)) r.fail(p + "/to", "expected \"A.B.C.D:PORT\"");
        if (!loopback) st.to.ip = server_ip;  // the server host
        st.close = r.str(s, p, "close", false, "client-first");
        // The kernel tool's "none" (nobody closes) is not modelled here: the client would close.
        if (st.close == "none") r.fail(p + "/close", "close \"none\" is not modelled");
        if (st.close != "client-first" && st.close != "server-first" && st.close != "client-abort" && st.close != "client-only")
            r.fail(p + "/close", fmt::format("expected one of client-first, server-first, client-abort, client-only, found \"{}\"", st.close));
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
        st.reuseaddr = r.boolean(s, p, "reuseaddr", false);
        st.server_close_delay_ms = static_cast<std::int64_t>(r.uint(s, p, "server_close_delay_ms", false, 0, kMaxMs));
        steps.push_back(st);
    }
    ExperimentApp app(std::move(steps), std::move(listeners), 0, loopback ? 0 : 1);
    World w(sc, false);
    w.set_app(&app);
    app.schedule(w);
    w.run();
    return app.summary();
}

ExperimentSummary read_kernel_summary(const std::string& path, std::string& kernel_version) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ScenarioError(fmt::format("{}: cannot open the file", path));
    std::ostringstream ss;
    ss << in.rdbuf();
    // The kernel tool's JSON output: every place named by its JSON pointer (the fields were read
    // with nlohmann's at()/get(), whose messages named neither the file's place nor the field).
    const json doc = parse_json(ss.str(), path);
    const Reader r(path);
    if (!doc.is_object()) r.fail("", fmt::format("expected an object (the JSON output of the kernel tool), found {}", doc.type_name()));
    kernel_version = r.str(doc, "", "kernel", false, "?");
    if (r.field(doc, "summary") == nullptr) r.fail("", "missing required key \"summary\" (is this the JSON output of the kernel tool?)");
    const json* s = &r.required(doc, "", "summary");
    r.only_object(*s, "/summary");
    ExperimentSummary out;
    out.succeeded = r.uint(*s, "/summary", "succeeded", true, 0, Reader::kMaxCount);
    out.failed = r.uint(*s, "/summary", "failed", true, 0, Reader::kMaxCount);
    const json* by = &r.required(*s, "/summary", "failures_by_errno");
    r.only_object(*by, "/summary/failures_by_errno");
    for (const auto& [k, v] : by->items()) out.failures_by_errno[k] = r.uint(*by, "/summary/failures_by_errno", k.c_str(), true, 0, Reader::kMaxCount);
    auto ms = [&](const char* key) -> std::optional<std::int64_t> {
        if (r.required(*s, "/summary", key).is_null()) return std::nullopt;
        return static_cast<std::int64_t>(r.uint(*s, "/summary", key, true, 0, Reader::kMaxCount));  // ms into the run
    };
    out.first_failure_ms = ms("first_failure_ms");
    out.first_recovery_ms = ms("first_recovery_ms");
    if (const json* st = r.field(*s, "max_states"); st != nullptr) {
        r.only_object(*st, "/summary/max_states");
        if (const json* c = r.field(*st, "client"); c != nullptr) {
            r.only_object(*c, "/summary/max_states/client");
            out.max_client_time_wait = r.uint(*c, "/summary/max_states/client", "TIME_WAIT", false, 0, Reader::kMaxCount);
        }
    }
    return out;
}

std::vector<ComparisonRow> compare_summaries(const ExperimentSummary& k, const ExperimentSummary& s, std::int64_t tol) {
    std::vector<ComparisonRow> rows;
    auto opt = [](const std::optional<std::int64_t>& v) { return v ? fmt::format("{} ms", *v) : std::string("-"); };
    auto close_enough = [&](const std::optional<std::int64_t>& a, const std::optional<std::int64_t>& b) {
        if (!a || !b) return a.has_value() == b.has_value();
        return std::abs(*a - *b) <= tol;
    };
    auto errnos = [](const ExperimentSummary& x) {
        std::string out;
        for (const auto& [e, n] : x.failures_by_errno) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", n, e);
        return out.empty() ? std::string("-") : out;
    };
    rows.push_back({"succeeded", std::to_string(k.succeeded), std::to_string(s.succeeded), k.succeeded == s.succeeded});
    rows.push_back({"failed", errnos(k), errnos(s), k.failures_by_errno == s.failures_by_errno});
    rows.push_back({"first failure", opt(k.first_failure_ms), opt(s.first_failure_ms),
                    close_enough(k.first_failure_ms, s.first_failure_ms)});
    rows.push_back({"first recovery", opt(k.first_recovery_ms), opt(s.first_recovery_ms),
                    close_enough(k.first_recovery_ms, s.first_recovery_ms)});
    return rows;
}

}  // namespace tcpsim
