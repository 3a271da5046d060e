// The L4 load balancer (models/net/balancer.hpp) in Linux IPVS NAT mode
// (https://www.linuxvirtualserver.org/VS-NAT.html): scheduling of new flows (round-robin, source
// hash, least connections), destination NAT toward the backend and the rewrite of the backend's
// replies back to the virtual address, source NAT, and flows that end and are reused.
#include <catch2/catch.hpp>

#include "net/balancer.hpp"

#include <array>
#include <map>
#include <optional>
#include <vector>

using namespace tcpsim;
using namespace tcpsim::net;
using tcp::Segment;
using tcp::SockAddr;

namespace {

constexpr std::uint32_t ip4(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}
constexpr SockAddr kVip{ip4(192, 0, 2, 10), 80};
constexpr std::uint32_t kLbOwn = ip4(192, 0, 2, 11);  // the balancer's own address for source NAT
constexpr std::array<SockAddr, 3> kBackends{SockAddr{ip4(10, 1, 0, 1), 8080}, SockAddr{ip4(10, 1, 0, 2), 8080},
                                            SockAddr{ip4(10, 1, 0, 3), 8080}};
constexpr std::uint32_t kClient = ip4(198, 51, 100, 7);

BalancerConfig config(LbPolicy policy, bool snat = false) {
    BalancerConfig c;
    c.vip = kVip;
    c.backends.assign(kBackends.begin(), kBackends.end());
    c.policy = policy;
    c.snat = snat;
    if (snat) {
        c.snat_config.outer = {kLbOwn};
        c.snat_config.port_lo = 20000;
        c.snat_config.port_hi = 29999;
    }
    return c;
}

Segment seg(SockAddr src, SockAddr dst, std::uint8_t flags, std::uint32_t seq = 1000, std::uint32_t ack = 0) {
    Segment s;
    s.src = src;
    s.dst = dst;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.wnd = 65535;
    return s;
}

SockAddr client(std::uint16_t port, std::uint32_t ip = kClient) { return SockAddr{ip, port}; }

// Index of the backend a forwarded segment went to.
int backend_of(const std::optional<Segment>& s) {
    if (!s) return -1;
    for (std::size_t i = 0; i < kBackends.size(); ++i)
        if (s->dst == kBackends[i]) return static_cast<int>(i);
    return -2;
}

int syn(Balancer& lb, SimTime now, SockAddr from) { return backend_of(lb.from_client(now, seg(from, kVip, tcp::flag::Syn)).seg); }

// Ends a flow in plain NAT mode: FIN from each side (the backend's reply goes through the balancer).
void fin_both(Balancer& lb, SimTime now, SockAddr from, int backend) {
    REQUIRE(lb.from_client(now, seg(from, kVip, tcp::flag::Fin | tcp::flag::Ack)).seg);
    REQUIRE(lb.from_backend(now, seg(kBackends[static_cast<std::size_t>(backend)], from, tcp::flag::Fin | tcp::flag::Ack)));
}

const SimTime t0 = SimTime::zero() + Duration::s(1);

}  // namespace

TEST_CASE("balancer: round-robin gives 3 backends the SYNs of 30 client ports in turn", "[balancer]") {
    Balancer lb(config(LbPolicy::RoundRobin), 1);
    std::array<int, 3> n{};
    for (int i = 0; i < 30; ++i) {
        const int b = syn(lb, t0, client(static_cast<std::uint16_t>(40000 + i)));
        REQUIRE(b == i % 3);  // 0, 1, 2, 0, 1, 2, ...
        ++n[static_cast<std::size_t>(b)];
    }
    CHECK(n == std::array<int, 3>{10, 10, 10});
    CHECK(lb.flows_per_backend() == std::vector<std::uint64_t>{10, 10, 10});
    CHECK(lb.active_flows() == 30);
}

TEST_CASE("balancer: a retransmitted SYN stays on its backend and does not advance round-robin", "[balancer]") {
    Balancer lb(config(LbPolicy::RoundRobin), 1);
    CHECK(syn(lb, t0, client(40000)) == 0);
    CHECK(syn(lb, t0 + Duration::s(1), client(40000)) == 0);  // the SYN again, 1 s later (RTO)
    CHECK(syn(lb, t0 + Duration::s(1), client(40001)) == 1);
    CHECK(lb.flows() == 2);
}

TEST_CASE("balancer: hash sends a client address and port to the same backend every time", "[balancer]") {
    Balancer lb(config(LbPolicy::Hash), 9);
    Balancer twin(config(LbPolicy::Hash), 9);
    std::map<std::uint16_t, int> first;
    for (std::uint16_t port = 50000; port < 50050; ++port) {
        const int b = syn(lb, t0, client(port));
        REQUIRE(b >= 0);
        first[port] = b;
        CHECK(syn(twin, t0, client(port)) == b);  // another balancer with the same key agrees
        // The flow is reset and opened again from the same port: the same backend.
        REQUIRE(lb.from_client(t0, seg(client(port), kVip, tcp::flag::Rst)).seg);
        CHECK(syn(lb, t0 + Duration::s(1), client(port)) == b);
    }
    // The order of arrival does not matter: the ports again, backwards, on a fresh balancer.
    Balancer again(config(LbPolicy::Hash), 9);
    for (std::uint16_t port = 50049; port >= 50000; --port) CHECK(syn(again, t0, client(port)) == first[port]);
}

TEST_CASE("balancer: hash spreads 3,000 client ports over 3 backends, each 25-42%", "[balancer]") {
    Balancer lb(config(LbPolicy::Hash), 3);
    std::array<int, 3> n{};
    for (int i = 0; i < 3000; ++i) {
        const int b = syn(lb, t0, client(static_cast<std::uint16_t>(30000 + i)));
        REQUIRE(b >= 0);
        ++n[static_cast<std::size_t>(b)];
    }
    for (int k : n) {
        CHECK(k >= 750);   // 25%
        CHECK(k <= 1260);  // 42%
    }
    // And over client addresses with one port (a NAT'd fleet: many addresses, the same port).
    Balancer lb2(config(LbPolicy::Hash), 3);
    std::array<int, 3> m{};
    for (std::uint32_t i = 0; i < 3000; ++i) ++m[static_cast<std::size_t>(syn(lb2, t0, client(40000, ip4(100, 64, 0, 0) + i)))];
    for (int k : m) {
        CHECK(k >= 750);
        CHECK(k <= 1260);
    }
}

TEST_CASE("balancer: least-connections picks the backend with the fewest unfinished flows", "[balancer]") {
    Balancer lb(config(LbPolicy::LeastConnections), 1);
    // One flow each: every backend has 0 at its turn.
    const int a = syn(lb, t0, client(1001));
    const int b = syn(lb, t0, client(1002));
    const int c = syn(lb, t0, client(1003));
    CHECK(std::array<int, 3>{a, b, c} == std::array<int, 3>{0, 1, 2});
    // Flow b ends with a FIN each way: its backend has the fewest, and takes the next flow.
    fin_both(lb, t0, client(1002), b);
    CHECK(lb.active_flows() == 2);
    CHECK(syn(lb, t0, client(1004)) == b);
    // Flow c is reset by the client: its backend takes the next.
    REQUIRE(lb.from_client(t0, seg(client(1003), kVip, tcp::flag::Rst)).seg);
    CHECK(syn(lb, t0, client(1005)) == c);
    // A reset from the backend ends a flow too.
    REQUIRE(lb.from_backend(t0, seg(kBackends[static_cast<std::size_t>(a)], client(1001), tcp::flag::Rst | tcp::flag::Ack)));
    CHECK(syn(lb, t0, client(1006)) == a);
    CHECK(lb.active_flows() == 3);
    // A half-closed flow is unfinished: a fourth flow gives one backend 2 (vs 1 and 1); after the
    // client's FIN alone on it, that backend still has 2, and the next flow goes elsewhere.
    const int d = syn(lb, t0, client(1007));
    REQUIRE(d >= 0);
    REQUIRE(lb.from_client(t0, seg(client(1007), kVip, tcp::flag::Fin | tcp::flag::Ack)).seg);
    CHECK(lb.active_flows() == 4);
    CHECK(syn(lb, t0, client(1008)) != d);
}

TEST_CASE("balancer: a segment without a SYN and without a flow is dropped", "[balancer]") {
    Balancer lb(config(LbPolicy::RoundRobin), 1);
    for (std::uint8_t flags : {tcp::flag::Ack, std::uint8_t(tcp::flag::Ack | tcp::flag::Psh), std::uint8_t(tcp::flag::Fin | tcp::flag::Ack),
                               tcp::flag::Rst, std::uint8_t(tcp::flag::Syn | tcp::flag::Ack)}) {
        INFO("flags " << int(flags));
        const Balancer::Result r = lb.from_client(t0, seg(client(40000), kVip, flags));
        CHECK(!r.seg);
        CHECK(!r.exhausted);
    }
    CHECK(lb.flows() == 0);
    CHECK(lb.flows_per_backend() == std::vector<std::uint64_t>{0, 0, 0});
    // A backend's segment for a client with no flow is dropped too.
    CHECK(!lb.from_backend(t0, seg(kBackends[0], client(40000), tcp::flag::Syn | tcp::flag::Ack)));
}

TEST_CASE("balancer: NAT mode rewrites the destination to the backend and the reply's source to the VIP", "[balancer]") {
    Balancer lb(config(LbPolicy::RoundRobin), 1);
    Segment s = seg(client(40000), kVip, tcp::flag::Syn, 123456);
    s.mss = 1460;
    const Balancer::Result r = lb.from_client(t0, s);
    REQUIRE(r.seg);
    CHECK(r.seg->dst == kBackends[0]);
    CHECK(r.seg->src == client(40000));  // no source NAT: the backend sees the client
    CHECK(r.seg->seq == s.seq);
    CHECK(r.seg->flags == s.flags);
    CHECK(r.seg->mss == 1460);
    // The backend answers the client directly (its gateway is the balancer).
    const Segment synack = seg(kBackends[0], client(40000), tcp::flag::Syn | tcp::flag::Ack, 999, 123457);
    CHECK(lb.is_backend_reply(synack));
    const auto back = lb.from_backend(t0, synack);
    REQUIRE(back);
    CHECK(back->src == kVip);
    CHECK(back->dst == client(40000));
    CHECK(back->seq == synack.seq);
    CHECK(back->ack == synack.ack);
    // Not replies: another backend to that client, the backend to another port of the client or to
    // another client, and the backend's own connection to elsewhere.
    CHECK(!lb.is_backend_reply(seg(kBackends[1], client(40000), tcp::flag::Ack)));
    CHECK(!lb.is_backend_reply(seg(kBackends[0], client(40001), tcp::flag::Ack)));
    CHECK(!lb.is_backend_reply(seg(kBackends[0], client(40000, kClient + 1), tcp::flag::Ack)));
    CHECK(!lb.is_backend_reply(seg(SockAddr{kBackends[0].ip, 8081}, client(40000), tcp::flag::Ack)));
    CHECK(lb.owns(kVip.ip));
    CHECK(!lb.owns(kLbOwn));
}

TEST_CASE("balancer: with source NAT the backend sees the balancer's address and the client the VIP", "[balancer]") {
    Balancer lb(config(LbPolicy::RoundRobin, true), 1);
    CHECK(lb.owns(kLbOwn));
    const Balancer::Result r = lb.from_client(t0, seg(client(40000), kVip, tcp::flag::Syn, 5000));
    REQUIRE(r.seg);
    CHECK(r.seg->dst == kBackends[0]);
    CHECK(r.seg->src.ip == kLbOwn);
    CHECK(r.seg->src.port >= 20000);
    CHECK(r.seg->src.port <= 29999);
    // The reply is routed to the balancer's own address; it is not a NAT-mode return path.
    const Segment synack = seg(kBackends[0], r.seg->src, tcp::flag::Syn | tcp::flag::Ack, 777, 5001);
    CHECK(!lb.is_backend_reply(synack));
    const auto back = lb.from_backend(t0, synack);
    REQUIRE(back);
    CHECK(back->src == kVip);
    CHECK(back->dst == client(40000));
    CHECK(back->ack == 5001);
    // Two clients on the same port are told apart by the outer port.
    const Balancer::Result r2 = lb.from_client(t0, seg(client(40000, kClient + 1), kVip, tcp::flag::Syn));
    REQUIRE(r2.seg);
    CHECK(r2.seg->src.ip == kLbOwn);
    CHECK(r2.seg->src.port != r.seg->src.port);
    // A segment to the balancer's address on a port it never gave out goes nowhere.
    CHECK(!lb.from_backend(t0, seg(kBackends[0], SockAddr{kLbOwn, 19999}, tcp::flag::Ack)));
}

TEST_CASE("balancer: a finished flow's 4-tuple opened again gets a new backend choice", "[balancer]") {
    Balancer lb(config(LbPolicy::RoundRobin), 1);
    CHECK(syn(lb, t0, client(40000)) == 0);
    fin_both(lb, t0, client(40000), 0);
    CHECK(lb.active_flows() == 0);
    // The same client port connects again (TIME-WAIT reuse on the client): round-robin moves on.
    CHECK(syn(lb, t0 + Duration::s(2), client(40000)) == 1);
    CHECK(lb.flows_per_backend() == std::vector<std::uint64_t>{1, 1, 0});
    CHECK(lb.active_flows() == 1);
    // A flow ended by a reset, likewise.
    REQUIRE(lb.from_client(t0 + Duration::s(3), seg(client(40000), kVip, tcp::flag::Rst)).seg);
    CHECK(syn(lb, t0 + Duration::s(4), client(40000)) == 2);
    // A finished flow's entry lives flow_timeout (120 s): late segments still pass until then.
    fin_both(lb, t0 + Duration::s(5), client(40000), 2);
    CHECK(lb.from_client(t0 + Duration::s(100), seg(client(40000), kVip, tcp::flag::Ack)).seg);
    // ... and the entry is gone flow_timeout after the last segment.
    CHECK(!lb.from_client(t0 + Duration::s(221), seg(client(40000), kVip, tcp::flag::Ack)).seg);
}

TEST_CASE("balancer: source NAT out of ports refuses a new SYN without keeping a flow for it", "[balancer]") {
    BalancerConfig cfg = config(LbPolicy::RoundRobin, true);
    cfg.snat_config.port_lo = 20000;
    cfg.snat_config.port_hi = 20001;  // 2 ports toward each backend (mappings are per destination)
    Balancer lb(cfg, 1);
    for (int i = 0; i < 6; ++i) REQUIRE(syn(lb, t0, client(static_cast<std::uint16_t>(41000 + i))) == i % 3);
    CHECK(lb.active_flows() == 6);
    // The 7th: backend 0 again, whose 2 ports are taken.
    const Balancer::Result r = lb.from_client(t0, seg(client(41006), kVip, tcp::flag::Syn));
    CHECK(!r.seg);
    CHECK(r.exhausted);
    CHECK(lb.active_flows() == 6);
    CHECK(lb.flows() == 6);
    CHECK(lb.flows_per_backend() == std::vector<std::uint64_t>{2, 2, 2});  // the refused SYN was given to none
    // A segment of an existing flow still passes.
    CHECK(lb.from_client(t0, seg(client(41000), kVip, tcp::flag::Ack)).seg);
}
