// The NAT translation table against published figures (reference/capacity-cases.md part B:
// AWS NAT gateway case 8, Azure LB case 9, Cloud NAT case 15, conntrack case 7) and the RFCs it
// follows (RFC 4787 §4.1/§5 mapping and filtering, RFC 5382 timeouts, RFC 9293 §3.10.7.1 resets).
#include <catch2/catch.hpp>

#include "net/nat.hpp"

#include <string>
#include <vector>

using namespace tcpsim;
using namespace tcpsim::net;
using tcp::SockAddr;
using tcp::Segment;

namespace {
constexpr std::uint32_t ip4(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}
constexpr std::uint32_t kNat1 = ip4(198, 51, 100, 1), kNat2 = ip4(198, 51, 100, 2);
constexpr std::uint32_t kVmA = ip4(10, 0, 0, 5), kVmB = ip4(10, 0, 0, 6);
constexpr SockAddr kDst{ip4(203, 0, 113, 9), 443}, kDst2{ip4(203, 0, 113, 10), 443};

SimTime at_s(std::int64_t s) { return SimTime::zero() + Duration::s(s); }

Segment seg(SockAddr from, SockAddr to, std::uint8_t flags, tcp::Seq seq = 1000, tcp::Seq ack = 0) {
    Segment s;
    s.src = from;
    s.dst = to;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.wnd = 65535;
    return s;
}

Nat::Outbound::Kind syn(Nat& n, SimTime now, SockAddr inner, SockAddr remote) {
    return n.outbound(now, seg(inner, remote, tcp::flag::Syn)).kind;
}

// The i-th of many distinct inner endpoints (60,000 ports per inner address).
SockAddr endpoint(std::uint32_t i) {
    return SockAddr{ip4(10, 1, 0, 0) + i / 60'000, static_cast<std::uint16_t>(1024 + i % 60'000)};
}

// SYN out, SYN,ACK in, ACK out: returns the outer endpoint the flow got.
SockAddr handshake(Nat& n, SimTime now, SockAddr inner, SockAddr remote) {
    const auto out = n.outbound(now, seg(inner, remote, tcp::flag::Syn, 1000));
    REQUIRE(out.kind == Nat::Outbound::Kind::Forward);
    const auto in = n.inbound(now, seg(remote, out.seg.src, tcp::flag::Syn | tcp::flag::Ack, 5000, 1001));
    REQUIRE(in.has_value());
    REQUIRE(n.outbound(now, seg(inner, remote, tcp::flag::Ack, 1001, 5001)).kind == Nat::Outbound::Kind::Forward);
    return out.seg.src;
}

// The inner host closes first: FIN out, FIN,ACK in, last ACK out.
void close_both_ways(Nat& n, SimTime now, SockAddr inner, SockAddr remote, SockAddr outer) {
    REQUIRE(n.outbound(now, seg(inner, remote, tcp::flag::Fin | tcp::flag::Ack, 1001, 5001)).kind ==
            Nat::Outbound::Kind::Forward);
    REQUIRE(n.inbound(now, seg(remote, outer, tcp::flag::Fin | tcp::flag::Ack, 5001, 1002)).has_value());
    REQUIRE(n.outbound(now, seg(inner, remote, tcp::flag::Ack, 1002, 5002)).kind == Nat::Outbound::Kind::Forward);
}

NatConfig one_address() {
    NatConfig c;
    c.outer = {kNat1};
    return c;
}
}  // namespace

TEST_CASE("NAT: Cloud NAT blocks of 64: the 65th connection from one VM to one destination fails, another VM's does not",
          "[nat]") {
    NatConfig c = one_address();
    c.assign = NatAssign::Blocks;
    c.ports_per_host = 64;  // Cloud NAT "minimum ports per VM" default (case 15)
    Nat n(c, 1);
    for (std::uint16_t p = 0; p < 64; ++p) REQUIRE(syn(n, at_s(0), SockAddr{kVmA, std::uint16_t(40000 + p)}, kDst) == Nat::Outbound::Kind::Forward);
    CHECK(syn(n, at_s(1), SockAddr{kVmA, 50000}, kDst) == Nat::Outbound::Kind::Drop);
    CHECK(n.exhaustion_drops() == 1);
    CHECK(n.last_exhaustion_reason() ==
          "all 64 ports of 10.0.0.5's block (198.51.100.1:1024-1087) hold a mapping to 203.0.113.9:443 (64 transitory)");
    CHECK(syn(n, at_s(1), SockAddr{kVmB, 50000}, kDst) == Nat::Outbound::Kind::Forward);   // its own block
    CHECK(syn(n, at_s(1), SockAddr{kVmA, 50001}, kDst2) == Nat::Outbound::Kind::Forward);  // one port per destination
    CHECK(n.hosts_with_block() == 2);
}

TEST_CASE("NAT: Cloud NAT: floor(64,512 / 64) = 1,008 VMs get a block per address, the 1,009th does not", "[nat]") {
    NatConfig c = one_address();
    c.assign = NatAssign::Blocks;
    SECTION("one address, 64 ports per VM: 1,008 VMs") {
        Nat n(c, 1);
        CHECK(n.blocks_per_address() == 1008);
        for (std::uint32_t vm = 0; vm < 1008; ++vm) REQUIRE(syn(n, at_s(0), SockAddr{ip4(10, 2, 0, 0) + vm, 40000}, kDst) == Nat::Outbound::Kind::Forward);
        CHECK(syn(n, at_s(0), SockAddr{ip4(10, 3, 0, 0), 40000}, kDst) == Nat::Outbound::Kind::Drop);
        CHECK(n.last_exhaustion_reason().find("no port block left for 10.3.0.0") == 0);
        CHECK(n.ports_in_use(kNat1) == 1008);
    }
    SECTION("two addresses: 2,016 VMs") {
        c.outer = {kNat1, kNat2};
        Nat n(c, 1);
        for (std::uint32_t vm = 0; vm < 2016; ++vm) REQUIRE(syn(n, at_s(0), SockAddr{ip4(10, 2, 0, 0) + vm, 40000}, kDst) == Nat::Outbound::Kind::Forward);
        CHECK(syn(n, at_s(0), SockAddr{ip4(10, 3, 0, 0), 40000}, kDst) == Nat::Outbound::Kind::Drop);
    }
    SECTION("4,096 ports per VM: 15 VMs per address") {
        c.ports_per_host = 4096;
        Nat n(c, 1);
        CHECK(n.blocks_per_address() == 15);
        for (std::uint32_t vm = 0; vm < 15; ++vm) REQUIRE(syn(n, at_s(0), SockAddr{ip4(10, 2, 0, 0) + vm, 40000}, kDst) == Nat::Outbound::Kind::Forward);
        CHECK(syn(n, at_s(0), SockAddr{ip4(10, 3, 0, 0), 40000}, kDst) == Nat::Outbound::Kind::Drop);
    }
}

TEST_CASE("NAT: AWS: the 55,001st concurrent flow to one destination on one address is refused, another destination is not",
          "[nat]") {
    NatConfig c = one_address();
    c.per_destination_cap = 55'000;  // AWS NAT gateway, per address per unique destination (case 8)
    SECTION("one address") {
        Nat n(c, 3);
        for (std::uint32_t i = 0; i < 55'000; ++i) REQUIRE(syn(n, at_s(0), endpoint(i), kDst) == Nat::Outbound::Kind::Forward);
        CHECK(syn(n, at_s(0), endpoint(55'000), kDst) == Nat::Outbound::Kind::Drop);
        CHECK(n.last_exhaustion_reason() ==
              "198.51.100.1 holds 55000 entries to 203.0.113.9:443, the per-destination cap (55000 transitory)");
        CHECK(syn(n, at_s(0), endpoint(55'001), kDst2) == Nat::Outbound::Kind::Forward);
        CHECK(syn(n, at_s(0), endpoint(55'002), SockAddr{kDst.ip, 80}) == Nat::Outbound::Kind::Forward);  // another dst port
        CHECK(n.exhaustion_drops() == 1);
    }
    SECTION("the default two addresses: 110,000 to one destination") {
        c.outer = {kNat1, kNat2};
        Nat n(c, 3);
        for (std::uint32_t i = 0; i < 110'000; ++i) REQUIRE(syn(n, at_s(0), endpoint(i), kDst) == Nat::Outbound::Kind::Forward);
        CHECK(syn(n, at_s(0), endpoint(110'000), kDst) == Nat::Outbound::Kind::Drop);
        CHECK(n.last_exhaustion_reason().find("198.51.100.1, 198.51.100.2 each hold 55000 entries") != std::string::npos);
    }
}

TEST_CASE("NAT: APDM reuses an outer port for another destination: 64,512 ports x 2 destinations = 129,024 flows", "[nat]") {
    Nat n(one_address(), 5);  // address-and-port-dependent mapping, random ports (defaults)
    CHECK(n.capacity_ports() == 64'512);
    std::uint32_t i = 0;
    for (; i < 64'512; ++i) REQUIRE(syn(n, at_s(0), endpoint(i), kDst) == Nat::Outbound::Kind::Forward);
    for (; i < 129'024; ++i) REQUIRE(syn(n, at_s(0), endpoint(i), kDst2) == Nat::Outbound::Kind::Forward);
    CHECK(n.counts().total() == 129'024);
    CHECK(n.ports_in_use(kNat1) == 64'512);
    CHECK(syn(n, at_s(0), endpoint(i), kDst) == Nat::Outbound::Kind::Drop);
    CHECK(syn(n, at_s(0), endpoint(i + 1), kDst2) == Nat::Outbound::Kind::Drop);
    CHECK(n.last_exhaustion_reason() ==
          "all 64512 ports of 198.51.100.1 hold a mapping to 203.0.113.10:443 (64512 transitory)");
    CHECK(syn(n, at_s(0), endpoint(i + 2), SockAddr{kDst.ip, 8443}) == Nat::Outbound::Kind::Forward);
}

TEST_CASE("NAT: EIM: one mapping per inner endpoint, 64,512 in all whatever the destinations", "[nat]") {
    NatConfig c = one_address();
    c.mapping = NatMapping::EndpointIndependent;
    Nat n(c, 5);
    for (std::uint32_t i = 0; i < 64'512; ++i) REQUIRE(syn(n, at_s(0), endpoint(i), kDst) == Nat::Outbound::Kind::Forward);
    CHECK(syn(n, at_s(0), endpoint(64'512), kDst2) == Nat::Outbound::Kind::Drop);  // a new endpoint: no port left
    // RFC 4787 REQ-1: an endpoint with a mapping keeps it for every destination.
    const auto first = n.outer_of(endpoint(0), kDst);
    REQUIRE(first.has_value());
    CHECK(syn(n, at_s(0), endpoint(0), kDst2) == Nat::Outbound::Kind::Forward);
    CHECK(n.outer_of(endpoint(0), kDst2) == first);
    CHECK(n.mappings() == 64'512);
    CHECK(n.counts().total() == 64'513);
    // Endpoint-independent filtering: any remote reaches the mapping.
    const auto in = n.inbound(at_s(0), seg(SockAddr{ip4(192, 0, 2, 77), 9999}, *first, tcp::flag::Syn));
    REQUIRE(in.has_value());
    CHECK(in->dst == endpoint(0));
}

TEST_CASE("NAT: TIME-WAIT holds the port 120 s: a flow needing it fails at 119 s and succeeds at 121 s", "[nat]") {
    NatConfig c = one_address();
    c.port_lo = c.port_hi = 5000;      // one port: the next flow to this destination needs it
    c.time_wait_timeout = Duration::s(120);  // conntrack / Cloud NAT TIME_WAIT (cases 7, 15)
    Nat n(c, 1);
    const SockAddr a{kVmA, 40000}, b{kVmB, 40000};
    const SockAddr outer = handshake(n, at_s(0), a, kDst);
    CHECK(outer == SockAddr{kNat1, 5000});
    CHECK(n.state_of(a, kDst) == NatEntryState::Established);
    close_both_ways(n, at_s(10), a, kDst, outer);
    CHECK(n.state_of(a, kDst) == NatEntryState::TimeWait);
    CHECK(n.next_expiry() == at_s(130));
    CHECK(syn(n, at_s(10 + 119), b, kDst) == Nat::Outbound::Kind::Drop);
    CHECK(n.last_exhaustion_reason() == "all 1 ports of 198.51.100.1 hold a mapping to 203.0.113.9:443 (1 time-wait)");
    CHECK(syn(n, at_s(10 + 121), b, kDst) == Nat::Outbound::Kind::Forward);
    CHECK(n.outer_of(b, kDst) == outer);
    CHECK(n.counts().time_wait == 0);
    CHECK(n.counts().transitory == 1);
}

TEST_CASE("NAT: a SYN on a TIME-WAIT entry's 4-tuple reopens it with the same outer port (conntrack)", "[nat]") {
    NatConfig c = one_address();
    c.port_lo = c.port_hi = 5000;
    Nat n(c, 1);
    const SockAddr a{kVmA, 40000};
    const SockAddr outer = handshake(n, at_s(0), a, kDst);
    close_both_ways(n, at_s(1), a, kDst, outer);
    REQUIRE(n.counts().time_wait == 1);
    const auto again = n.outbound(at_s(5), seg(a, kDst, tcp::flag::Syn, 90'000));
    REQUIRE(again.kind == Nat::Outbound::Kind::Forward);
    CHECK(again.seg.src == outer);
    CHECK(n.state_of(a, kDst) == NatEntryState::Transitory);
    CHECK(n.counts().time_wait == 0);
    CHECK(n.counts().total() == 1);
    CHECK(n.exhaustion_drops() == 0);
    CHECK(n.next_expiry() == at_s(5 + 30));  // transitory again
    handshake(n, at_s(6), a, kDst);
    CHECK(n.state_of(a, kDst) == NatEntryState::Established);
}

TEST_CASE("NAT: Reset mode answers a refused SYN with RST|ACK acking SEQ + 1 (RFC 9293 3.10.7.1)", "[nat]") {
    NatConfig c = one_address();
    c.port_lo = c.port_hi = 5000;
    c.on_exhaustion = NatOnExhaustion::Reset;
    Nat n(c, 1);
    REQUIRE(syn(n, at_s(0), SockAddr{kVmA, 40000}, kDst) == Nat::Outbound::Kind::Forward);
    const SockAddr b{kVmB, 41000};
    const auto r = n.outbound(at_s(0), seg(b, kDst, tcp::flag::Syn, 777'000));
    REQUIRE(r.kind == Nat::Outbound::Kind::Reset);
    CHECK(r.seg.src == kDst);
    CHECK(r.seg.dst == b);
    CHECK(r.seg.flags == (tcp::flag::Rst | tcp::flag::Ack));
    CHECK(r.seg.seq == 0);
    CHECK(r.seg.ack == 777'001);
    CHECK(n.exhaustion_drops() == 1);
    CHECK(n.counts().total() == 1);
}

TEST_CASE("NAT: inbound filtering follows the mapping (RFC 4787 section 5); unknown mappings are dropped", "[nat]") {
    const SockAddr a{kVmA, 40000};
    SECTION("no mapping: nothing gets in") {
        Nat n(one_address(), 1);
        CHECK_FALSE(n.inbound(at_s(0), seg(kDst, SockAddr{kNat1, 5000}, tcp::flag::Syn)).has_value());
        CHECK_FALSE(n.inbound(at_s(0), seg(kDst, SockAddr{ip4(1, 2, 3, 4), 5000}, tcp::flag::Ack)).has_value());
        // nor does an inner host's mid-stream segment create one
        CHECK(n.outbound(at_s(0), seg(a, kDst, tcp::flag::Ack)).kind == Nat::Outbound::Kind::Drop);
        CHECK(n.counts().total() == 0);
    }
    SECTION("APDM: only the remote address and port") {
        Nat n(one_address(), 1);
        const SockAddr outer = n.outbound(at_s(0), seg(a, kDst, tcp::flag::Syn)).seg.src;
        const auto ok = n.inbound(at_s(0), seg(kDst, outer, tcp::flag::Syn | tcp::flag::Ack));
        REQUIRE(ok.has_value());
        CHECK(ok->dst == a);
        CHECK(ok->src == kDst);
        CHECK_FALSE(n.inbound(at_s(0), seg(SockAddr{kDst.ip, 444}, outer, tcp::flag::Ack)).has_value());
        CHECK_FALSE(n.inbound(at_s(0), seg(kDst2, outer, tcp::flag::Ack)).has_value());
    }
    SECTION("ADM: any port of the remote address") {
        NatConfig c = one_address();
        c.mapping = NatMapping::AddressDependent;
        Nat n(c, 1);
        const SockAddr outer = n.outbound(at_s(0), seg(a, kDst, tcp::flag::Syn)).seg.src;
        CHECK(n.inbound(at_s(0), seg(SockAddr{kDst.ip, 444}, outer, tcp::flag::Ack)).has_value());
        CHECK_FALSE(n.inbound(at_s(0), seg(kDst2, outer, tcp::flag::Ack)).has_value());
    }
}

TEST_CASE("NAT: remove_address drops its entries; the others stay", "[nat]") {
    NatConfig c;
    c.outer = {kNat1, kNat2};
    c.port_lo = c.port_hi = 5000;
    c.fill_first = true;
    Nat n(c, 1);
    const SockAddr a{kVmA, 40000}, b{kVmB, 40000};
    const SockAddr oa = handshake(n, at_s(0), a, kDst);
    const SockAddr ob = handshake(n, at_s(0), b, kDst);
    CHECK(oa.ip == kNat1);
    CHECK(ob.ip == kNat2);
    n.remove_address(kNat1);
    CHECK(n.capacity_ports() == 1);
    CHECK(n.counts().total() == 1);
    CHECK(n.ports_in_use(kNat1) == 0);
    CHECK_FALSE(n.outer_of(a, kDst).has_value());
    CHECK_FALSE(n.inbound(at_s(1), seg(kDst, oa, tcp::flag::Ack)).has_value());
    CHECK(n.outbound(at_s(1), seg(a, kDst, tcp::flag::Ack, 1001, 5001)).kind == Nat::Outbound::Kind::Drop);
    CHECK(n.inbound(at_s(1), seg(kDst, ob, tcp::flag::Ack)).has_value());
    CHECK(n.config().outer == std::vector<std::uint32_t>{kNat2});
    CHECK(syn(n, at_s(1), SockAddr{kVmA, 40001}, kDst) == Nat::Outbound::Kind::Drop);  // kNat2 is full
    n.add_address(kNat1);
    CHECK(syn(n, at_s(1), SockAddr{kVmA, 40001}, kDst) == Nat::Outbound::Kind::Forward);
}

TEST_CASE("NAT: fill_first uses the second address only when the first is full (Azure LB, case 9)", "[nat]") {
    NatConfig c;
    c.outer = {kNat1, kNat2};
    c.port_lo = 1024;
    c.port_hi = 1033;  // 10 ports per address
    SECTION("fill_first") {
        c.fill_first = true;
        Nat n(c, 1);
        for (std::uint16_t p = 0; p < 10; ++p) REQUIRE(n.outbound(at_s(0), seg(SockAddr{std::uint32_t(kVmA + p), 40000}, kDst, tcp::flag::Syn)).seg.src.ip == kNat1);
        CHECK(n.outbound(at_s(0), seg(SockAddr{kVmB + 100, 40000}, kDst, tcp::flag::Syn)).seg.src.ip == kNat2);
    }
    SECTION("otherwise one inner host keeps one address while it has room") {
        Nat n(c, 1);
        const std::uint32_t home = n.outbound(at_s(0), seg(SockAddr{kVmA, 40000}, kDst, tcp::flag::Syn)).seg.src.ip;
        for (std::uint16_t p = 1; p < 10; ++p) CHECK(n.outbound(at_s(0), seg(SockAddr{kVmA, std::uint16_t(40000 + p)}, kDst, tcp::flag::Syn)).seg.src.ip == home);
        const auto spill = n.outbound(at_s(0), seg(SockAddr{kVmA, 50000}, kDst, tcp::flag::Syn));
        REQUIRE(spill.kind == Nat::Outbound::Kind::Forward);
        CHECK(spill.seg.src.ip != home);
    }
}

TEST_CASE("NAT: round_robin gives one inner host's new flows the addresses in turn, refused only when all are full (DPVS laddr)", "[nat]") {
    // DPVS src/ipvs/ip_vs_laddr.c: __get_laddr() moves to the next local address for every new
    // connection; dp_vs_laddr_bind() tries the next one when an address has no port.
    NatConfig c;
    c.outer = {kNat1, kNat2};
    c.port_lo = 1024;
    c.port_hi = 1025;  // 2 ports per address toward one destination
    c.assign = NatAssign::Sequential;
    c.round_robin = true;
    Nat n(c, 1);
    std::vector<std::uint32_t> got;
    for (std::uint16_t p = 0; p < 4; ++p) got.push_back(n.outbound(at_s(0), seg(SockAddr{kVmA, std::uint16_t(40000 + p)}, kDst, tcp::flag::Syn)).seg.src.ip);
    CHECK(got == std::vector<std::uint32_t>{kNat1, kNat2, kNat1, kNat2});
    CHECK(n.ports_in_use(kNat1) == 2);
    CHECK(n.ports_in_use(kNat2) == 2);
    // Both full toward kDst: refused; another destination still has all 4 (APDM).
    CHECK(syn(n, at_s(0), SockAddr{kVmA, 40010}, kDst) == Nat::Outbound::Kind::Drop);
    CHECK(syn(n, at_s(0), SockAddr{kVmA, 40011}, kDst2) == Nat::Outbound::Kind::Forward);
}

TEST_CASE("NAT: timeouts: transitory 30 s, RST as configured, established refreshed by traffic", "[nat]") {
    NatConfig c = one_address();
    c.transitory_timeout = Duration::s(30);  // Cloud NAT tcp_transitory (case 15)
    const SockAddr a{kVmA, 40000};
    SECTION("a SYN nobody answers lives 30 s") {
        Nat n(c, 1);
        REQUIRE(syn(n, at_s(0), a, kDst) == Nat::Outbound::Kind::Forward);
        n.expire(at_s(29));
        CHECK(n.counts().transitory == 1);
        n.expire(at_s(30));
        CHECK(n.counts().total() == 0);
        CHECK(n.ports_in_use(kNat1) == 0);
        CHECK(n.next_expiry() == SimTime::never());
    }
    SECTION("an established flow lives 7,440 s idle (RFC 5382 REQ-5), each segment restarts it") {
        Nat n(c, 1);
        const SockAddr outer = handshake(n, at_s(0), a, kDst);
        CHECK(n.next_expiry() == at_s(7440));
        REQUIRE(n.inbound(at_s(7000), seg(kDst, outer, tcp::flag::Ack | tcp::flag::Psh, 5001, 1001)).has_value());
        n.expire(at_s(7441));
        CHECK(n.counts().established == 1);
        n.expire(at_s(14'440));
        CHECK(n.counts().total() == 0);
    }
    SECTION("after a RST: the transitory timeout (here Azure NAT gateway's 16 s)") {
        c.transitory_timeout = Duration::s(16);
        Nat n(c, 1);
        const SockAddr outer = handshake(n, at_s(0), a, kDst);
        REQUIRE(n.inbound(at_s(1), seg(kDst, outer, tcp::flag::Rst, 5001)).has_value());
        CHECK(n.state_of(a, kDst) == NatEntryState::Transitory);
        n.expire(at_s(16));
        CHECK(n.counts().transitory == 1);
        n.expire(at_s(17));
        CHECK(n.counts().total() == 0);
    }
    SECTION("one FIN only: transitory") {
        Nat n(c, 1);
        handshake(n, at_s(0), a, kDst);
        REQUIRE(n.outbound(at_s(1), seg(a, kDst, tcp::flag::Fin | tcp::flag::Ack, 1001, 5001)).kind == Nat::Outbound::Kind::Forward);
        CHECK(n.state_of(a, kDst) == NatEntryState::Transitory);
        CHECK(n.next_expiry() == at_s(31));
    }
}

TEST_CASE("NAT: Preserve keeps the inner port; APDM lets two hosts share it toward different destinations", "[nat]") {
    NatConfig c = one_address();
    c.assign = NatAssign::Preserve;
    Nat n(c, 1);
    CHECK(n.outbound(at_s(0), seg(SockAddr{kVmA, 40000}, kDst, tcp::flag::Syn)).seg.src.port == 40000);
    CHECK(n.outbound(at_s(0), seg(SockAddr{kVmB, 40000}, kDst2, tcp::flag::Syn)).seg.src.port == 40000);
    const auto clash = n.outbound(at_s(0), seg(SockAddr{kVmB, 40000}, kDst, tcp::flag::Syn));
    REQUIRE(clash.kind == Nat::Outbound::Kind::Forward);
    CHECK(clash.seg.src.port != 40000);
    CHECK(n.ports_in_use(kNat1) == 2);
}

TEST_CASE("NAT: Sequential gives the next free port after the last one, wrapping", "[nat]") {
    NatConfig c = one_address();
    c.assign = NatAssign::Sequential;
    c.port_lo = 2000;
    c.port_hi = 2003;
    Nat n(c, 1);
    std::vector<std::uint16_t> got;
    for (std::uint16_t p = 0; p < 4; ++p) got.push_back(n.outbound(at_s(0), seg(SockAddr{kVmA, std::uint16_t(40000 + p)}, kDst, tcp::flag::Syn)).seg.src.port);
    CHECK(got == std::vector<std::uint16_t>{2000, 2001, 2002, 2003});
    n.expire(at_s(30));  // all four transitory entries time out
    CHECK(n.outbound(at_s(30), seg(SockAddr{kVmA, 41000}, kDst, tcp::flag::Syn)).seg.src.port == 2000);
}

TEST_CASE("NAT: Random ports: the same seed gives the same ports, another seed others", "[nat]") {
    auto ports = [](std::uint64_t seed) {
        Nat n(one_address(), seed);
        std::vector<std::uint16_t> v;
        for (std::uint32_t i = 0; i < 50; ++i) v.push_back(n.outbound(at_s(0), seg(endpoint(i), kDst, tcp::flag::Syn)).seg.src.port);
        return v;
    };
    CHECK(ports(42) == ports(42));
    CHECK(ports(42) != ports(43));
}

TEST_CASE("NAT: Sequential on a busy pool wraps to the ports freed by expiry, and refuses once all are held", "[nat]") {
    NatConfig c = one_address();
    c.assign = NatAssign::Sequential;
    c.port_lo = 1024;
    c.port_hi = 3071;  // 2,048 ports
    Nat n(c, 1);
    std::uint32_t i = 0;
    for (; i < 1024; ++i) REQUIRE(n.outbound(at_s(0), seg(endpoint(i), kDst, tcp::flag::Syn)).seg.src.port == 1024 + i);
    for (; i < 2048; ++i) REQUIRE(n.outbound(at_s(10), seg(endpoint(i), kDst, tcp::flag::Syn)).seg.src.port == 1024 + i);
    CHECK(syn(n, at_s(29), endpoint(i++), kDst) == Nat::Outbound::Kind::Drop);
    // At 30 s the first 1,024 SYNs' transitory entries are gone: the cursor wraps to them.
    for (std::uint32_t k = 0; k < 1024; ++k)
        REQUIRE(n.outbound(at_s(30), seg(endpoint(i++), kDst, tcp::flag::Syn)).seg.src.port == 1024 + k);
    CHECK(syn(n, at_s(30), endpoint(i++), kDst) == Nat::Outbound::Kind::Drop);
    CHECK(n.last_exhaustion_reason() == "all 2048 ports of 198.51.100.1 hold a mapping to 203.0.113.9:443 (2048 transitory)");
    CHECK(n.exhaustion_drops() == 2);
}

TEST_CASE("NAT: Cloud NAT dynamic port allocation doubles a VM's ports from 32 to its maximum of 128 (case 15)", "[nat]") {
    NatConfig c = one_address();
    c.assign = NatAssign::Blocks;
    c.ports_per_host = 32;        // case 15: dynamic minimum ports per VM, 32 by default (a power of 2)
    c.max_ports_per_host = 128;   // the maximum: 32 -> 64 -> 128
    Nat n(c, 1);
    // 32 flows fill the first block; the 33rd gets a second block (64 ports), the 65th two more
    // (128); the 129th finds the maximum reached.
    for (std::uint16_t p = 0; p < 128; ++p) REQUIRE(syn(n, at_s(0), SockAddr{kVmA, std::uint16_t(40000 + p)}, kDst) == Nat::Outbound::Kind::Forward);
    CHECK(n.blocks_of(kVmA) == 4);
    CHECK(n.blocks_given(kNat1) == 4);
    CHECK(syn(n, at_s(1), SockAddr{kVmA, 50000}, kDst) == Nat::Outbound::Kind::Drop);
    CHECK(n.last_exhaustion_reason().find("all 128 ports of 10.0.0.5's 4 blocks of 32 (its max_ports_per_host)") == 0);
    // Another VM starts again from the minimum.
    CHECK(syn(n, at_s(1), SockAddr{kVmB, 50000}, kDst) == Nat::Outbound::Kind::Forward);
    CHECK(n.blocks_of(kVmB) == 1);
}
