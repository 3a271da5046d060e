// The Linux host stack in whole runs, against the reference's cases T1, T2, T3, T13 and the
// kernel observations (a TIME-WAIT lasts 60 s from the FIN that started it, counted on the wheel).
#include "fixture.hpp"

#include "scenario/scenario.hpp"
#include "world/world.hpp"

#include <fmt/format.h>

#include <map>

using namespace tcpsim;
using namespace tcpsim::literals;

namespace {
Scenario linux_pair(const std::string& duration, const std::string& client_sysctls, const std::string& actions) {
    return parse_scenario(fmt::format(R"({{"seed": 4, "duration": "{}", "profile": "linux",
        "hosts": [{{"name": "a", "address": "10.0.0.1", "sysctls": {{{}}}}}, {{"name": "b", "address": "10.0.0.2"}}],
        "links": [{{"between": ["a", "b"], "latency": "1ms"}}],
        "actions": [{}]}})",
                                      duration, client_sysctls, actions),
                          "t.json");
}
const char* kListen = R"({"at": "0s", "host": "b", "call": "listen", "sock": "L", "port": 80})";
}  // namespace

TEST_CASE("linux host: T1: TIME-WAIT counts from the peer's FIN, not from our FIN's ACK", "[host][linux]") {
    // a closes at 1 s; b closes 5 s later: a's TIME-WAIT starts at about 6 s and lasts 60-62 s.
    const std::string acts = fmt::format(R"({}, {{"at": "10ms", "host": "a", "call": "connect", "sock": "c", "to": "b:80"}},
        {{"at": "1s", "host": "a", "call": "close", "sock": "c"}}, {{"at": "6s", "host": "b", "call": "close", "sock": "L.1"}})",
                                         kListen);
    for (const auto& [duration, expected] : {std::pair{"64s", 1u}, std::pair{"65900ms", 1u}, std::pair{"68200ms", 0u}}) {
        const Scenario sc = linux_pair(duration, "", acts);
        World w(sc, false);
        w.run();
        INFO("at " << duration);
        CHECK(w.host(0).time_wait_count() == expected);
    }
}

TEST_CASE("linux host: T2: past tcp_max_tw_buckets no TIME-WAIT is kept and the ports are free at once", "[host][linux]") {
    std::string acts = kListen;
    for (int i = 0; i < 20; ++i)
        acts += fmt::format(R"(, {{"at": "{}ms", "host": "a", "call": "connect", "sock": "c{}", "to": "b:80"}},
            {{"at": "{}ms", "host": "a", "call": "close", "sock": "c{}"}}, {{"at": "{}ms", "host": "b", "call": "close", "sock": "L.{}"}})",
                            10 + 100 * i, i, 50 + 100 * i, i, 60 + 100 * i, i + 1);
    const Scenario sc = linux_pair("10s", R"("net.ipv4.tcp_max_tw_buckets": 10)", acts);
    World w(sc, false);
    w.run();
    CHECK(w.host(0).time_wait_count() == 10);
    CHECK(w.host(0).time_wait_overflows() == 10);
    CHECK(w.stats().failures.empty());
}

TEST_CASE("linux host: T3: close() with unread data sends RST and leaves no TIME-WAIT", "[host][linux]") {
    const std::string acts = fmt::format(R"({}, {{"at": "10ms", "host": "a", "call": "connect", "sock": "c", "to": "b:80", "auto_read": false}},
        {{"at": "100ms", "host": "b", "call": "send", "sock": "L.1", "bytes": 1}}, {{"at": "200ms", "host": "a", "call": "close", "sock": "c"}})",
                                         kListen);
    const Scenario sc = linux_pair("5s", "", acts);
    World w(sc, true);
    w.run();
    CHECK(w.host(0).time_wait_count() == 0);
    bool rst = false;
    for (const TraceRecord& r : w.records()) rst = rst || (r.kind == RecordKind::Send && r.host == 0 && r.seg.rst());
    CHECK(rst);
}

TEST_CASE("linux host: T13: a second socket bound to the same port connecting to the same peer gets EADDRNOTAVAIL", "[host][linux]") {
    const Scenario sc = linux_pair("1s", "", kListen);
    World w(sc, false);
    host::SocketOptions opt;
    opt.reuseaddr = true;
    const tcp::SockAddr peer{0x0A000002, 80};
    const auto s1 = w.sock_create(0, "s1", opt);
    REQUIRE(w.sock_bind(0, s1, 40000) == Errno::Ok);
    const auto s2 = w.sock_create(0, "s2", opt);
    REQUIRE(w.sock_bind(0, s2, 40000) == Errno::Ok);  // both have SO_REUSEADDR, neither listens
    REQUIRE(w.sock_connect(0, s1, peer) == Errno::Ok);
    CHECK(w.sock_connect(0, s2, peer) == Errno::AddrNotAvail);
    CHECK(w.sock_connect(0, s2, tcp::SockAddr{0x0A000002, 81}) == Errno::Ok);  // another 4-tuple
    const auto s3 = w.sock_create(0, "s3", host::SocketOptions{});
    CHECK(w.sock_bind(0, s3, 40000) == Errno::AddrInUse);  // no SO_REUSEADDR on the new one
}

TEST_CASE("freebsd host: T18: with nolocaltimewait a connection to a local address leaves no TIME-WAIT", "[host][freebsd]") {
    // One host talks to itself (its own address, over the loopback) and to a remote host.
    const Scenario sc = parse_scenario(R"({"seed": 2, "duration": "5s", "profile": "freebsd",
        "hosts": [{"name": "a", "address": "10.0.0.1"}, {"name": "b", "address": "10.0.0.2"}],
        "actions": [{"at": "0s", "host": "a", "call": "listen", "sock": "L", "port": 80},
                    {"at": "0s", "host": "b", "call": "listen", "sock": "L", "port": 80},
                    {"at": "10ms", "host": "a", "call": "connect", "sock": "self", "to": "a:80"},
                    {"at": "10ms", "host": "a", "call": "connect", "sock": "far", "to": "b:80"},
                    {"at": "100ms", "host": "a", "call": "close", "sock": "self"},
                    {"at": "100ms", "host": "a", "call": "close", "sock": "far"},
                    {"at": "200ms", "host": "a", "call": "close", "sock": "L.1"},
                    {"at": "200ms", "host": "b", "call": "close", "sock": "L.1"}]})",
                                       "t.json");
    World w(sc, false);
    w.run();
    int time_wait = 0;
    for (std::size_t i = 0; i < w.host(0).size(); ++i) {
        const auto& s = w.host(0).at(static_cast<host::SocketId>(i));
        if (s.alive && s.ep.state() == tcp::State::TimeWait) {
            ++time_wait;
            CHECK(s.ep.tcb().remote.ip == 0x0A000002);  // only the remote connection's
        }
    }
    CHECK(time_wait == 1);
}

namespace {
// Connects one more socket with its own timestamp clock at a given time; notes when it connects.
struct LateConnect final : App {
    std::uint32_t ts_offset = 0;
    SimTime connected = SimTime::never();
    host::SocketId sock = host::kNoSocket;
    void on_app_event(World& w, std::uint64_t) override {
        sock = w.sock_create(0, "late", host::SocketOptions{});
        w.host_mut(0).at(sock).ep.set_ts_offset(ts_offset);
        REQUIRE(w.sock_connect(0, sock, tcp::SockAddr{0x0A000002, 80}) == Errno::Ok);
    }
    void on_notice(World& w, int h, host::SocketId s, tcp::Notice n, Errno) override {
        if (h == 0 && s == sock && n == tcp::Notice::Connected) connected = w.now();
    }
};
}  // namespace

TEST_CASE("linux-4.9 host: T16: tw_recycle drops SYNs from a peer address whose timestamp went back", "[host][linux]") {
    // Host a plays two clients behind one NAT address: the first connection's clock is far ahead
    // (ts_offset), the second starts near 0. The server closes first, with tcp_tw_recycle=1.
    auto run = [](bool recycle) {
        const Scenario sc = parse_scenario(fmt::format(R"({{"seed": 3, "duration": "90s", "profile": "linux-4.9",
            "hosts": [{{"name": "a", "address": "10.0.0.1", "ts_offset": 100000000}},
                      {{"name": "b", "address": "10.0.0.2", "sysctls": {{"net.ipv4.tcp_tw_recycle": {}}}}}],
            "actions": [{{"at": "0s", "host": "b", "call": "listen", "sock": "L", "port": 80}},
                        {{"at": "10ms", "host": "a", "call": "connect", "sock": "c", "to": "b:80"}},
                        {{"at": "100ms", "host": "b", "call": "close", "sock": "L.1"}},
                        {{"at": "200ms", "host": "a", "call": "close", "sock": "c"}}]}})",
                                                       recycle ? 1 : 0),
                                           "t.json");
        World w(sc, false);
        LateConnect app;
        w.set_app(&app);
        w.schedule_app(SimTime::zero() + 2_s, 0);
        w.run();
        return std::make_pair(app.connected, w.host(1).recycle_drops());
    };
    const auto [with, drops] = run(true);
    // SYNs at 2, 3, 5, 9, 17, 33, 65 s (exponential back-off on 4.9): the one at 65 s is the
    // first more than 60 s after the stored timestamp (taken at about 0.1 s).
    CHECK(drops == 6);
    CHECK(with >= SimTime::zero() + 60_s);
    CHECK(with < SimTime::zero() + 66_s);
    const auto [without, none] = run(false);
    CHECK(none == 0);
    CHECK(without < SimTime::zero() + 3_s);
}

TEST_CASE("host: a host with several addresses answers on each; each destination address has its own ports", "[host][linux]") {
    const Scenario sc = parse_scenario(R"({"seed": 1, "duration": "2s", "profile": "linux",
        "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.ipv4.ip_local_port_range": "40000 40001"}},
                  {"name": "b", "addresses": ["10.0.0.2", "10.0.0.3"]}],
        "actions": [{"at": "0s", "host": "b", "call": "listen", "sock": "L", "port": 80}]})",
                                       "t.json");
    World w(sc, false);
    w.run();
    // Two ports toward each server address: four connections from a two-port range (T8's sharing).
    int ok = 0;
    for (std::uint32_t dst : {0x0A000002u, 0x0A000003u})
        for (int i = 0; i < 3; ++i) {
            const auto s = w.sock_create(0, "c", host::SocketOptions{});
            if (w.sock_connect(0, s, tcp::SockAddr{dst, 80}) == Errno::Ok) ++ok;
        }
    CHECK(ok == 4);
    CHECK_THROWS_AS(parse_scenario(R"({"hosts": [{"name": "a", "addresses": ["10.0.0.1", "10.0.0.1"]}]})", "t.json"),
                    ScenarioError);
    CHECK_THROWS_AS(parse_scenario(R"({"hosts": [{"name": "a", "address": "10.0.0.1", "addresses": ["10.0.0.2"]}]})", "t.json"),
                    ScenarioError);
}

TEST_CASE("linux host: a full accept queue drops SYNs; accept() makes room (sk_acceptq_is_full)", "[host][linux]") {
    // include/net/sock.h sk_acceptq_is_full(): sk_ack_backlog > sk_max_ack_backlog, so with
    // backlog 1 two connections wait in the queue and the third SYN is dropped (LISTENOVERFLOWS);
    // the client retransmits its SYN after 1 s.
    auto run = [](bool accept_at_500ms) {
        std::string acts = R"({"at": "0s", "host": "b", "call": "listen", "sock": "L", "port": 80, "backlog": 1, "accept": "manual"},
            {"at": "10ms", "host": "a", "call": "connect", "sock": "c1", "to": "b:80"},
            {"at": "20ms", "host": "a", "call": "connect", "sock": "c2", "to": "b:80"},
            {"at": "30ms", "host": "a", "call": "connect", "sock": "c3", "to": "b:80"})";
        if (accept_at_500ms) acts += R"(, {"at": "500ms", "host": "b", "call": "accept", "sock": "L"})";
        const Scenario sc = linux_pair("5s", "", acts);
        World w(sc, true);
        w.run();
        SimTime c3 = SimTime::never();
        for (const TraceRecord& r : w.records())
            if (r.kind == RecordKind::Notice && r.host == 0 && r.socket == "c3" && r.text == "connected") c3 = r.time;
        return std::make_pair(c3, w.stats().listen_overflows);
    };
    const auto [with_accept, overflows] = run(true);
    CHECK(overflows == 1);
    CHECK(with_accept > SimTime::zero() + 1_s);
    CHECK(with_accept < SimTime::zero() + 1100_ms);
    const auto [never, more] = run(false);
    CHECK(never.is_never());  // its SYNs keep meeting a full queue (linear retries at 1, 2, 3, 4 s)
    CHECK(more >= 4);
}

namespace {
// Connects sockets of host 0 to given destinations at given times; notes how each ended.
struct Connects final : App {
    std::vector<std::pair<SimTime, tcp::SockAddr>> plan;
    std::map<host::SocketId, std::string> outcome;  // "connected", "refused", or the errno of connect()
    void schedule(World& w) {
        for (std::size_t i = 0; i < plan.size(); ++i) w.schedule_app(plan[i].first, i);
    }
    void on_app_event(World& w, std::uint64_t i) override {
        const auto s = w.sock_create(0, fmt::format("c{}", i), host::SocketOptions{});
        const Errno e = w.sock_connect(0, s, plan[i].second);
        outcome[s] = e == Errno::Ok ? "pending" : std::string(to_string(e));
    }
    void on_notice(World&, int h, host::SocketId s, tcp::Notice n, Errno) override {
        if (h != 0 || !outcome.count(s)) return;
        if (n == tcp::Notice::Connected) outcome[s] = "connected";
        if (n == tcp::Notice::Refused) outcome[s] = "refused";
    }
};
}  // namespace

TEST_CASE("linux host: a listener bound to an address takes SYNs to that address only; 0.0.0.0 takes the rest",
          "[host][linux]") {
    // Linux __inet_lookup_listener(): a listener's bound address must match the SYN's
    // destination; one bound to the exact address scores above one on INADDR_ANY. A SYN that no
    // listener takes draws an RST (ECONNREFUSED).
    const Scenario sc = parse_scenario(R"({"seed": 1, "duration": "2s", "profile": "linux",
        "hosts": [{"name": "a", "address": "10.0.0.1"}, {"name": "b", "addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]})",
                                       "t.json");
    World w(sc, false);
    host::SocketOptions opt;
    opt.reuseport = true;  // both listeners on port 81 (an exact address and 0.0.0.0) need it
    const auto l80 = w.sock_create(1, "L80", opt);
    REQUIRE(w.sock_bind(1, l80, 80, 0x0A000002) == Errno::Ok);
    REQUIRE(w.sock_listen(1, l80, 80) == Errno::Ok);
    const auto l81 = w.sock_create(1, "L81", opt);
    REQUIRE(w.sock_bind(1, l81, 81, 0x0A000003) == Errno::Ok);
    REQUIRE(w.sock_listen(1, l81, 81) == Errno::Ok);
    const auto any81 = w.sock_create(1, "any81", opt);
    REQUIRE(w.sock_bind(1, any81, 81, 0) == Errno::Ok);
    REQUIRE(w.sock_listen(1, any81, 81) == Errno::Ok);
    CHECK(w.host(1).listener(0x0A000003, 81) == l81);
    CHECK(w.host(1).listener(0x0A000004, 81) == any81);
    CHECK(w.host(1).listener(0x0A000003, 80) == host::kNoSocket);
    Connects app;
    app.plan = {{SimTime::zero() + 10_ms, {0x0A000002, 80}}, {SimTime::zero() + 20_ms, {0x0A000003, 80}},
                {SimTime::zero() + 30_ms, {0x0A000003, 81}}, {SimTime::zero() + 40_ms, {0x0A000004, 81}}};
    w.set_app(&app);
    app.schedule(w);
    w.run();
    std::vector<std::string> got;
    for (const auto& [s, o] : app.outcome) got.push_back(o);
    CHECK(got == std::vector<std::string>{"connected", "refused", "connected", "connected"});
    // The connections to port 81 went to the listener of their address.
    int children_l81 = 0, children_any = 0;
    for (std::size_t i = 0; i < w.host(1).size(); ++i) {
        const auto& s = w.host(1).at(static_cast<host::SocketId>(i));
        children_l81 += s.listener == l81;
        children_any += s.listener == any81;
    }
    CHECK(children_l81 == 1);
    CHECK(children_any == 1);
}

TEST_CASE("linux host: with connected routes connect() leaves from the route's source; no route is ENETUNREACH",
          "[host][linux]") {
    // Linux adds a prefix route with each address (src: the first address of that subnet; a
    // second one in the same subnet is secondary); ip_route_connect() picks the longest prefix
    // and its preferred source, and fails with ENETUNREACH when no route holds the destination.
    const Scenario sc = parse_scenario(R"({"seed": 1, "duration": "1s", "profile": "linux",
        "hosts": [{"name": "a", "addresses": ["10.0.0.1", "10.0.0.9", "10.1.0.1"]},
                  {"name": "b", "addresses": ["10.0.0.2", "10.1.0.2", "10.2.0.2"]}]})",
                                       "t.json");
    World w(sc, false);
    w.host_mut(0).add_route(0x0A000000, 24, 0x0A000001);  // 10.0.0.0/24 src 10.0.0.1 (10.0.0.9 secondary)
    w.host_mut(0).add_route(0x0A010000, 16, 0x0A010001);  // 10.1.0.0/16 src 10.1.0.1
    auto source = [&](std::uint32_t dst) -> std::string {
        const auto s = w.sock_create(0, "c", host::SocketOptions{});
        const Errno e = w.sock_connect(0, s, tcp::SockAddr{dst, 80});
        if (e != Errno::Ok) return std::string(to_string(e));
        return tcp::format_ip(w.host(0).at(s).ep.tcb().local.ip);
    };
    CHECK(source(0x0A000002) == "10.0.0.1");
    CHECK(source(0x0A010002) == "10.1.0.1");
    CHECK(source(0x0A020002) == "ENETUNREACH");
    CHECK(source(0x0A000009) == "10.0.0.9");     // an own address: over loopback, from itself
    CHECK(source(0x7F000001) == "127.0.0.1");
    // A bound address is kept, whatever the route's source.
    const auto b = w.sock_create(0, "b", host::SocketOptions{});
    REQUIRE(w.sock_bind(0, b, 0, 0x0A000009) == Errno::Ok);
    REQUIRE(w.sock_connect(0, b, tcp::SockAddr{0x0A000002, 80}) == Errno::Ok);
    CHECK(w.host(0).at(b).ep.tcb().local.ip == 0x0A000009);
}
