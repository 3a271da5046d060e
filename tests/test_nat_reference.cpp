// net::Nat against the map-based NAT it replaced (tests/reference/nat_maps.hpp, commit b1bc349):
// the slot tables, 4-tuple indexes and deadline queue of the fourth round were meant to change
// the cost only. Both are driven with the same random segments, under random configurations
// (mapping kinds, port assignments, blocks, per-destination caps, small port ranges that run
// out, short timeouts, addresses added and removed), and every answer must be the same: each
// translation or drop, each exhaustion message, and after each step the entry counts by state,
// the mappings, the ports in use, the next expiry and the lookups.
#include <catch2/catch.hpp>

#include "net/nat.hpp"
#include "reference/nat_maps.hpp"

#include <cstdint>
#include <string>
#include <vector>

using namespace tcpsim;
using namespace tcpsim::net;
using tcp::Segment;
using tcp::SockAddr;

namespace {

// The test's own generator (xorshift64): a fixed sequence, independent of the simulator's Rng.
struct Gen {
    std::uint64_t s = 88172645463325252ULL;
    std::uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

bool same(const Segment& a, const Segment& b) {
    return a.src == b.src && a.dst == b.dst && a.seq == b.seq && a.ack == b.ack && a.flags == b.flags && a.len == b.len &&
           a.wnd == b.wnd && a.tsval == b.tsval && a.tsecr == b.tsecr && a.mss == b.mss && a.has_ts == b.has_ts;
}
std::string show(const Segment& s) { return tcp::format_addr(s.src) + " > " + tcp::format_addr(s.dst) + " " + tcp::format_segment(s); }

NatConfig random_config(Gen& g) {
    NatConfig c;
    const std::uint32_t naddr = 1 + g.below(3);
    for (std::uint32_t i = 0; i < naddr; ++i) c.outer.push_back(0x34000001u + i);
    c.port_lo = static_cast<std::uint16_t>(1024 + g.below(3));
    c.port_hi = static_cast<std::uint16_t>(c.port_lo + 4 + (g.below(2) ? g.below(40) : g.below(400)));
    c.mapping = static_cast<NatMapping>(g.below(3));
    c.assign = static_cast<NatAssign>(g.below(4));
    c.ports_per_host = 2 + g.below(8);
    c.fill_first = g.below(2) == 1;
    c.established_timeout = Duration::ms(1000 + g.below(20000));
    c.transitory_timeout = Duration::ms(200 + g.below(3000));
    c.time_wait_timeout = Duration::ms(200 + g.below(5000));
    c.per_destination_cap = g.below(3) == 0 ? 1 + g.below(6) : 0;
    c.on_exhaustion = static_cast<NatOnExhaustion>(g.below(2));
    return c;
}

// What the run went through, so that the test shows it reached every kind of answer.
struct Seen {
    std::uint64_t forwarded = 0, dropped = 0, reset = 0, exhausted = 0, inbound_ok = 0, inbound_refused = 0;
    std::uint64_t time_wait = 0, established = 0, expired_steps = 0, address_changes = 0;
};

// One configuration: `steps` random steps on both NATs; the first difference fails the test.
void compare_one(Gen& g, int config_no, int steps, Seen& seen) {
    const NatConfig c = random_config(g);
    const std::uint64_t seed = g.next();
    Nat a(c, seed);
    reference::MapNat b(c, seed);
    struct Conn {
        SockAddr inner, remote;
        int phase;
    };
    std::vector<Conn> conns;
    SimTime now = SimTime::zero();
    std::string where;
    auto out_seg = [&](SockAddr in, SockAddr rem, std::uint8_t flags) {
        Segment s;
        s.src = in;
        s.dst = rem;
        s.flags = flags;
        s.seq = static_cast<tcp::Seq>(g.next());
        s.ack = static_cast<tcp::Seq>(g.next());
        const Nat::Outbound oa = a.outbound(now, s);
        const reference::MapNat::Outbound ob = b.outbound(now, s);
        INFO(where << "outbound " << show(s) << ": " << static_cast<int>(oa.kind) << " " << show(oa.seg) << " against "
                   << static_cast<int>(ob.kind) << " " << show(ob.seg));
        REQUIRE(static_cast<int>(oa.kind) == static_cast<int>(ob.kind));
        REQUIRE(oa.exhausted == ob.exhausted);
        if (oa.kind != Nat::Outbound::Kind::Drop) REQUIRE(same(oa.seg, ob.seg));
        ++(oa.kind == Nat::Outbound::Kind::Forward ? seen.forwarded : oa.kind == Nat::Outbound::Kind::Drop ? seen.dropped : seen.reset);
        seen.exhausted += oa.exhausted ? 1 : 0;
    };
    auto in_seg = [&](SockAddr in, SockAddr rem, std::uint8_t flags) {
        Segment s;
        s.src = rem;
        const auto mapped = a.outer_of(in, rem);
        if (mapped && g.below(10) != 0) {
            s.dst = *mapped;
        } else {  // any port of any outer address
            const auto& outer = a.config().outer;
            s.dst = SockAddr{outer[g.below(static_cast<std::uint32_t>(outer.size()))],
                             static_cast<std::uint16_t>(c.port_lo + g.below(c.port_hi - c.port_lo + 1u))};
        }
        if (g.below(20) == 0) s.src.port = 8080;        // another remote port (filtering)
        if (g.below(20) == 0) s.src.ip = 0x5D000009u;   // another remote address
        s.flags = flags;
        s.seq = static_cast<tcp::Seq>(g.next());
        const auto ia = a.inbound(now, s);
        const auto ib = b.inbound(now, s);
        INFO(where << "inbound " << show(s) << ": " << (ia ? show(*ia) : "refused") << " against " << (ib ? show(*ib) : "refused"));
        REQUIRE(ia.has_value() == ib.has_value());
        if (ia) REQUIRE(same(*ia, *ib));
        ++(ia ? seen.inbound_ok : seen.inbound_refused);
    };
    for (int i = 0; i < steps; ++i) {
        where = "configuration " + std::to_string(config_no) + ", step " + std::to_string(i) + ": ";
        now = now + Duration::us(g.below(20) == 0 ? g.below(3000000) : g.below(5000));
        const std::uint32_t op = g.below(100);
        const SockAddr inner{0x0A000001u + g.below(5), static_cast<std::uint16_t>(1000 + g.below(12))};
        const SockAddr remote{0x5D000001u + g.below(3), static_cast<std::uint16_t>(g.below(2) ? 80 : 443)};
        if (op < 25 || conns.empty()) {
            conns.push_back(Conn{inner, remote, 0});
            out_seg(inner, remote, tcp::flag::Syn);
        } else if (op < 80) {  // the next segment of a connection, now and then an RST
            const std::size_t k = g.below(static_cast<std::uint32_t>(conns.size()));
            Conn& cn = conns[k];
            const int step = g.below(12) == 0 ? 9 : cn.phase + 1;
            const bool from_inside = g.below(2) == 0;
            switch (step) {
                case 1: in_seg(cn.inner, cn.remote, tcp::flag::Syn | tcp::flag::Ack); break;
                case 2: out_seg(cn.inner, cn.remote, tcp::flag::Ack); break;
                case 3: in_seg(cn.inner, cn.remote, tcp::flag::Ack); break;
                case 4:
                case 5:
                    if (from_inside) out_seg(cn.inner, cn.remote, tcp::flag::Fin | tcp::flag::Ack);
                    else in_seg(cn.inner, cn.remote, tcp::flag::Fin | tcp::flag::Ack);
                    break;
                case 6: out_seg(cn.inner, cn.remote, tcp::flag::Ack); break;
                default:
                    if (from_inside) out_seg(cn.inner, cn.remote, tcp::flag::Rst);
                    else in_seg(cn.inner, cn.remote, tcp::flag::Rst);
                    break;
            }
            cn.phase = step;
            if (step >= 6) {
                conns[k] = conns.back();
                conns.pop_back();
            }
        } else if (op < 92) {
            a.expire(now);
            b.expire(now);
            ++seen.expired_steps;
        } else if (op < 94 && c.assign != NatAssign::Blocks) {
            const std::uint32_t addr = 0x34000001u + g.below(5);
            if (g.below(2) == 0) {
                a.add_address(addr);
                b.add_address(addr);
                ++seen.address_changes;
            } else if (a.config().outer.size() > 1) {
                a.remove_address(addr);
                b.remove_address(addr);
                ++seen.address_changes;
            }
        }
        INFO(where << "after the step");
        REQUIRE(a.next_expiry() == b.next_expiry());
        REQUIRE(a.entries() == b.entries());
        REQUIRE(a.mappings() == b.mappings());
        REQUIRE(a.exhaustion_drops() == b.exhaustion_drops());
        REQUIRE(a.last_exhaustion_reason() == b.last_exhaustion_reason());
        REQUIRE(a.last_exhaustion_time() == b.last_exhaustion_time());
        REQUIRE(a.hosts_with_block() == b.hosts_with_block());
        const NatCounts ca = a.counts(), cb = b.counts();
        REQUIRE(ca.transitory == cb.transitory);
        REQUIRE(ca.established == cb.established);
        REQUIRE(ca.time_wait == cb.time_wait);
        for (std::uint32_t o : a.config().outer) REQUIRE(a.ports_in_use(o) == b.ports_in_use(o));
        REQUIRE(a.outer_of(inner, remote) == b.outer_of(inner, remote));
        REQUIRE(a.state_of(inner, remote) == b.state_of(inner, remote));
        seen.time_wait += ca.time_wait;
        seen.established += ca.established;
    }
}

}  // namespace

TEST_CASE("nat: the slot tables answer as the map-based NAT they replaced, on random segments and configurations", "[nat]") {
    Gen g;
    Seen seen;
    for (int k = 0; k < 100; ++k) compare_one(g, k, 2000 + static_cast<int>(g.below(2000)), seen);
    // The walk reached every kind of answer (else a difference there could not show).
    CHECK(seen.forwarded > 1000);
    CHECK(seen.dropped > 1000);
    CHECK(seen.reset > 100);
    CHECK(seen.exhausted > 100);
    CHECK(seen.inbound_ok > 1000);
    CHECK(seen.inbound_refused > 1000);
    CHECK(seen.time_wait > 1000);
    CHECK(seen.established > 1000);
    CHECK(seen.address_changes > 100);
}
