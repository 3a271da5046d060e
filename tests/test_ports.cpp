// Local ports against the reference's test cases (reference/tcp-stack-semantics.md §2.4, §2.6,
// T8-T10, T13-T15) and the live kernel's observations (linux-kernel-observations.md): counts,
// errnos, parity and sharing; exact port numbers depend on the secret and are not checked.
#include "fixture.hpp"

#include "host/ports.hpp"

#include <set>

using namespace tcpsim;
using namespace tcpsim::host;

namespace {
constexpr std::uint32_t kSrc = 0x0A000001, kA = 0x0A000002, kB = 0x0A000003;

// The 4-tuples in use, per destination: one bit per local port.
struct Tuples {
    std::map<std::pair<std::uint32_t, std::uint16_t>, std::vector<bool>> used;
    std::vector<bool>& dest(std::uint32_t daddr, std::uint16_t dport) {
        auto& v = used[{daddr, dport}];
        if (v.empty()) v.resize(65536);
        return v;
    }
    auto checker(std::uint32_t daddr, std::uint16_t dport) {
        std::vector<bool>* v = &dest(daddr, dport);
        return [v](std::uint16_t p) { return (*v)[p] ? TupleCheck::Busy : TupleCheck::Free; };
    }
};

Errno connect_one(PortTable& t, Tuples& u, OwnerId id, std::uint32_t daddr, std::uint16_t dport, std::uint16_t& port) {
    bool reuse = false;
    const Errno e = t.connect_port(SimTime::zero(), PortOwner{id, kSrc}, daddr, dport, u.checker(daddr, dport), port, reuse);
    if (e == Errno::Ok) u.dest(daddr, dport)[port] = true;
    return e;
}
}  // namespace

TEST_CASE("ports [linux]: T8: 28,232 connections fill one destination, another still gets a port", "[ports][linux]") {
    PortTable t(PortPolicy{}, 1);
    Tuples u;
    std::uint16_t port = 0;
    for (OwnerId i = 0; i < 28'232; ++i) REQUIRE(connect_one(t, u, i, kA, 80, port) == Errno::Ok);
    CHECK(connect_one(t, u, 99'999, kA, 80, port) == Errno::AddrNotAvail);
    CHECK(connect_one(t, u, 100'000, kB, 80, port) == Errno::Ok);   // one source port, many destinations
    CHECK(connect_one(t, u, 100'001, kA, 81, port) == Errno::Ok);   // another destination port too
}

TEST_CASE("ports [linux]: T10: the first 14,116 connects to one destination take even ports", "[ports][linux]") {
    PortTable t(PortPolicy{}, 7);
    Tuples u;
    std::uint16_t port = 0;
    int odd = 0;
    for (OwnerId i = 0; i < 14'116; ++i) {
        REQUIRE(connect_one(t, u, i, kA, 80, port) == Errno::Ok);
        odd += port % 2;
    }
    CHECK(odd == 0);
    REQUIRE(connect_one(t, u, 20'000, kA, 80, port) == Errno::Ok);
    CHECK(port % 2 == 1);  // the even half is full: the other parity now
}

TEST_CASE("ports [linux]: T9: bind(0) takes odd ports first; connect() never takes a bound port", "[ports][linux]") {
    PortTable t(PortPolicy{}, 3);
    std::set<std::uint16_t> bound;
    std::uint16_t port = 0;
    int odd_first = 0;
    for (OwnerId i = 0; i < 20'000; ++i) {
        REQUIRE(t.bind_any(PortOwner{i, kSrc}, port) == Errno::Ok);
        if (i < 14'116) odd_first += port % 2;
        bound.insert(port);
    }
    CHECK(odd_first == 14'116);
    CHECK(bound.size() == 20'000);
    Tuples u;
    int connects = 0;
    while (connect_one(t, u, 50'000 + static_cast<OwnerId>(connects), kA, 80, port) == Errno::Ok) {
        CHECK_FALSE(bound.count(port));
        ++connects;
    }
    CHECK(connects == 28'232 - 20'000);  // "about 8,232 ports left"
}

TEST_CASE("ports [linux]: bind(0) exhaustion is EADDRINUSE; reserved ports are skipped", "[ports][linux]") {
    PortPolicy p;
    p.lo = 40000;
    p.hi = 40015;
    p.reserved = {40003};
    PortTable t(p, 5);
    std::uint16_t port = 0;
    int n = 0;
    while (t.bind_any(PortOwner{static_cast<OwnerId>(n), kSrc}, port) == Errno::Ok) {
        CHECK(port != 40003);
        ++n;
    }
    CHECK(n == 15);
    CHECK(t.bind_any(PortOwner{99, kSrc}, port) == Errno::AddrInUse);
    CHECK(t.bind_port(PortOwner{100, kSrc}, 40003) == Errno::Ok);  // an explicit bind may use a reserved port
}

TEST_CASE("ports [linux]: T14/T15: explicit bind needs SO_REUSEADDR on both, never over a listener", "[ports][linux]") {
    PortTable t(PortPolicy{}, 1);
    // Old server's accepted connections, now in TIME-WAIT, without SO_REUSEADDR.
    t.add_owner(80, PortOwner{1, kSrc, false, false, false, true}, false);
    CHECK(t.bind_port(PortOwner{2, 0, true}, 80) == Errno::AddrInUse);  // T14 on Linux
    t.remove_owner(80, 1);
    // With the flag on the old one too, the new server binds.
    t.add_owner(80, PortOwner{3, kSrc, true, false, false, true}, false);
    CHECK(t.bind_port(PortOwner{4, 0, true}, 80) == Errno::Ok);
    // T15: two listeners on 0.0.0.0:80 with SO_REUSEADDR, no SO_REUSEPORT.
    PortTable l(PortPolicy{}, 1);
    REQUIRE(l.bind_port(PortOwner{1, 0, true, false, true}, 8080) == Errno::Ok);
    CHECK(l.bind_port(PortOwner{2, 0, true}, 8080) == Errno::AddrInUse);
    // SO_REUSEPORT on both shares the port.
    REQUIRE(l.bind_port(PortOwner{3, 0, false, true, true}, 9090) == Errno::Ok);
    CHECK(l.bind_port(PortOwner{4, 0, false, true}, 9090) == Errno::Ok);
    // Different specific addresses do not overlap.
    CHECK(l.bind_port(PortOwner{5, kA}, 7070) == Errno::Ok);
    CHECK(l.bind_port(PortOwner{6, kB}, 7070) == Errno::Ok);
    CHECK(l.bind_port(PortOwner{7, 0}, 7070) == Errno::AddrInUse);
}

TEST_CASE("ports [freebsd]: T14 on BSD: SO_REUSEADDR on the new socket alone is enough", "[ports][freebsd]") {
    PortPolicy p;
    p.bind_rule = BindRule::Bsd;
    p.connect_algo = ConnectPortAlgo::RandomStart;
    p.lo = 10000;
    p.hi = 65535;
    PortTable t(p, 1);
    t.add_owner(80, PortOwner{1, kSrc, false, false, false, true}, false);
    CHECK(t.bind_port(PortOwner{2, 0, true}, 80) == Errno::Ok);
    CHECK(t.bind_port(PortOwner{3, 0, false}, 80) == Errno::AddrInUse);
}

TEST_CASE("ports [freebsd]: algorithm 1 shares ports across destinations and exhausts per destination", "[ports][freebsd]") {
    PortPolicy p;
    p.connect_algo = ConnectPortAlgo::RandomStart;
    p.bind_rule = BindRule::Bsd;
    p.lo = 40000;
    p.hi = 40015;
    PortTable t(p, 9);
    Tuples u;
    std::uint16_t port = 0;
    for (OwnerId i = 0; i < 16; ++i) REQUIRE(connect_one(t, u, i, kA, 80, port) == Errno::Ok);
    CHECK(connect_one(t, u, 100, kA, 80, port) == Errno::AddrNotAvail);
    for (OwnerId i = 0; i < 16; ++i) REQUIRE(connect_one(t, u, 200 + i, kB, 80, port) == Errno::Ok);
}

TEST_CASE("ports [linux]: IP_LOCAL_PORT_RANGE narrows the walk to the socket's range, both parities (6.8+)", "[ports][linux]") {
    PortTable t(PortPolicy{}, 11);
    Tuples u;
    std::set<std::uint16_t> got;
    for (OwnerId i = 0; i < 10; ++i) {
        std::uint16_t port = 0;
        bool reuse = false;
        REQUIRE(t.connect_port(SimTime::zero(), PortOwner{i, kSrc}, kA, 80, u.checker(kA, 80), port, reuse, {40000, 40009}) ==
                Errno::Ok);
        u.dest(kA, 80)[port] = true;
        got.insert(port);
    }
    CHECK(*got.begin() == 40000);
    CHECK(*got.rbegin() == 40009);  // all ten, odd and even: step 1 once the socket sets a range
    std::uint16_t port = 0;
    bool reuse = false;
    CHECK(t.connect_port(SimTime::zero(), PortOwner{50, kSrc}, kA, 80, u.checker(kA, 80), port, reuse, {40000, 40009}) ==
          Errno::AddrNotAvail);
    // A bound outside the netns range is ignored (inet_sk_get_local_port_range()).
    CHECK(t.connect_port(SimTime::zero(), PortOwner{51, kSrc}, kA, 80, u.checker(kA, 80), port, reuse, {1000, 2000}) ==
          Errno::Ok);
    CHECK(port >= 32768);
}

TEST_CASE("ports: transfer_owner leaves every port as remove_owner then add_owner would", "[ports]") {
    // A socket becoming a TIME-WAIT entry hands its owner entry over in one step. Checked against
    // the two steps it replaces on random buckets of 0 to 4 owners (bound or connect()-made,
    // with and without SO_REUSEADDR): which ports are in use, and what bind() and connect()
    // answer on every port (each probe's owner is removed again).
    Rng rng(7);
    PortPolicy pol;
    pol.lo = 40000;
    pol.hi = 40007;
    constexpr OwnerId kTimeWait = 0x80000000u;  // Host's kTimeWaitOwnerBit
    auto same_answers = [](PortTable& a, PortTable& b, OwnerId probe_id) {
        REQUIRE(a.bucket_count() == b.bucket_count());
        for (std::uint16_t p = 40000; p <= 40007; ++p) {
            REQUIRE(a.in_use(p) == b.in_use(p));
            for (bool reuse : {false, true}) {
                const PortOwner probe{probe_id, 0, reuse, false, false, false};
                const Errno ea = a.bind_port(probe, p);
                REQUIRE(ea == b.bind_port(probe, p));
                if (ea == Errno::Ok) {
                    a.remove_owner(p, probe_id);
                    b.remove_owner(p, probe_id);
                }
            }
        }
        std::uint16_t pa = 0, pb = 0;
        bool ra = false, rb = false;
        auto free_tuple = [](std::uint16_t) { return TupleCheck::Free; };
        const Errno ea = a.connect_port(SimTime::zero(), PortOwner{probe_id, kSrc}, kA, 80, free_tuple, pa, ra);
        REQUIRE(ea == b.connect_port(SimTime::zero(), PortOwner{probe_id, kSrc}, kA, 80, free_tuple, pb, rb));
        REQUIRE(pa == pb);
        if (ea == Errno::Ok) {
            a.remove_owner(pa, probe_id);
            b.remove_owner(pb, probe_id);
        }
    };
    int transfers = 0;
    for (int round = 0; round < 300; ++round) {
        PortTable one(pol, 3), two(pol, 3);
        std::vector<std::pair<std::uint16_t, PortOwner>> owners;
        OwnerId next = 1;
        for (std::uint16_t port = 40000; port <= 40007; ++port) {
            const auto n = rng.below(5);
            for (std::uint64_t k = 0; k < n; ++k) {
                const PortOwner o{next++, 0, rng.below(2) == 0, false, false, false};
                const bool by_connect = rng.below(2) == 0;
                one.add_owner(port, o, by_connect);
                two.add_owner(port, o, by_connect);
                owners.emplace_back(port, o);
            }
        }
        if (owners.empty()) continue;
        const auto [port, from] = owners[rng.below(owners.size())];
        const PortOwner to{kTimeWait | next, 0, rng.below(2) == 0, false, false, true};
        const bool by_connect = rng.below(2) == 0;
        one.transfer_owner(port, from.id, to, by_connect);
        two.remove_owner(port, from.id);
        two.add_owner(port, to, by_connect);
        ++transfers;
        same_answers(one, two, next + 1);
        // And once the entry has gone too (its bucket may go with it or stay).
        one.remove_owner(port, to.id);
        two.remove_owner(port, to.id);
        same_answers(one, two, next + 1);
    }
    CHECK(transfers > 250);
}

// XNU in_pcbbind() (apple-oss-distributions/xnu bsd/netinet/in_pcb.c) for lport 0, with
// tcp_use_randomport = 0 (tcp_subr.c, net.inet.tcp.randomize_ports): "++*lastport; if
// (*lastport < first || *lastport > last) *lastport = first;" from ipi_lastport (zero at boot),
// and a candidate only when in_pcblookup_local_and_cleanup(..., wild = 1) finds no PCB with
// that port; "if (count-- < 0) ... error = EADDRNOTAVAIL".
namespace {
PortPolicy xnu_policy(std::uint16_t lo, std::uint16_t hi) {
    PortPolicy p;
    p.connect_algo = ConnectPortAlgo::Sequential;
    p.autobind_port_per_host = true;
    p.bind_rule = BindRule::Bsd;
    p.lo = lo;
    p.hi = hi;
    return p;
}
}  // namespace

TEST_CASE("ports [xnu]: connect() takes ports in order from the first, one cursor per host", "[ports][xnu]") {
    PortTable t(xnu_policy(49152, 65535), 3);
    Tuples u;
    std::uint16_t port = 0;
    REQUIRE(connect_one(t, u, 1, kA, 80, port) == Errno::Ok);
    CHECK(port == 49152);  // cursor 0 -> 1 -> below first -> first
    REQUIRE(connect_one(t, u, 2, kB, 443, port) == Errno::Ok);
    CHECK(port == 49153);  // the same cursor, whatever the destination
    std::uint16_t bound = 0;
    REQUIRE(t.bind_any(PortOwner{3, 0}, bound) == Errno::Ok);
    CHECK(bound == 49154);  // bind(0) is in_pcbbind() with lport 0 too
    t.remove_owner(49152, 1);  // the first connection is gone: its port is free again, but the
    REQUIRE(connect_one(t, u, 4, kA, 81, port) == Errno::Ok);
    CHECK(port == 49155);  // cursor moves on and does not go back
}

TEST_CASE("ports [xnu]: a port serves one connection per host: 16 ports, 16 connections, any destinations", "[ports][xnu]") {
    PortTable t(xnu_policy(40000, 40015), 3);
    Tuples u;
    std::uint16_t port = 0;
    for (OwnerId i = 0; i < 16; ++i) REQUIRE(connect_one(t, u, i, i % 2 ? kA : kB, 80, port) == Errno::Ok);
    // Linux and FreeBSD would give kB its own 16 (T8); XNU's wildcard lookup finds every port held.
    CHECK(connect_one(t, u, 100, kB, 8080, port) == Errno::AddrNotAvail);
    std::uint16_t bound = 0;
    CHECK(t.bind_any(PortOwner{101, 0}, bound) == Errno::AddrNotAvail);
    // A wrap: the cursor returns to the first port once one is free.
    t.remove_owner(40003, 3);
    REQUIRE(connect_one(t, u, 102, kB, 9090, port) == Errno::Ok);
    CHECK(port == 40003);
}

TEST_CASE("ports [windows]: SO_REUSEADDR binds over any owner, a listener included", "[ports][windows]") {
    // learn.microsoft.com "Using SO_REUSEADDR and SO_EXCLUSIVEADDRUSE": "The SO_REUSEADDR socket
    // option allows a socket to forcibly bind to a port in use by another socket."
    PortPolicy p;
    p.bind_rule = BindRule::Windows;
    p.connect_algo = ConnectPortAlgo::RandomStart;
    p.lo = 49152;
    p.hi = 65535;
    PortTable t(p, 1);
    t.add_owner(80, PortOwner{1, 0, false, false, true}, false);  // a listener on *:80
    CHECK(t.bind_port(PortOwner{2, 0, false}, 80) == Errno::AddrInUse);
    CHECK(t.bind_port(PortOwner{3, 0, true}, 80) == Errno::Ok);  // BSD would refuse (a listener)
}
