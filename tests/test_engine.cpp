// Engine, time and PRNG: ordering, cancellable timers, counters, determinism; the PRNG and the
// ISN hash against published reference values.
#include "fixture.hpp"

#include "tcp/isn.hpp"

#include <tcpsim/engine.hpp>
#include <tcpsim/rng.hpp>

#include <set>

using namespace tcpsim;
using namespace tcpsim::literals;

TEST_CASE("engine: events run in (time, scheduling order), ties in the order they were scheduled", "[engine]") {
    Engine e;
    e.schedule(SimTime::zero() + 5_ms, 1, 0, 3);
    e.schedule(SimTime::zero() + 1_ms, 1, 0, 1);
    e.schedule(SimTime::zero() + 5_ms, 1, 0, 4);  // same time as the first: runs after it
    e.schedule(SimTime::zero() + 2_ms, 1, 0, 2);
    std::vector<std::uint64_t> order;
    std::vector<std::int64_t> times;
    e.run_until(SimTime::never(), [&](const Event& ev) {
        order.push_back(ev.arg);
        times.push_back(ev.time.ns());
    });
    CHECK(order == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(times == std::vector<std::int64_t>{1'000'000, 2'000'000, 5'000'000, 5'000'000});
    CHECK(e.counters().events_processed == 4);
    CHECK(e.counters().peak_queue_size == 4);
}

TEST_CASE("engine: run_until stops at the limit and leaves now() there; step runs one event", "[engine]") {
    Engine e;
    e.schedule(SimTime::zero() + 1_s, 1, 0, 1);
    e.schedule(SimTime::zero() + 3_s, 1, 0, 2);
    int n = 0;
    e.run_until(SimTime::zero() + 2_s, [&](const Event&) { ++n; });
    CHECK(n == 1);
    CHECK(e.now() == SimTime::zero() + 2_s);
    CHECK(e.step([&](const Event& ev) { CHECK(ev.arg == 2); }));
    CHECK(e.now() == SimTime::zero() + 3_s);
    CHECK_FALSE(e.step([](const Event&) {}));
}

TEST_CASE("engine: a cancelled or re-armed timer fires once, at its last deadline", "[engine]") {
    Engine e;
    const TimerId a = e.create_timer();
    const TimerId b = e.create_timer();
    e.arm(a, SimTime::zero() + 1_s, 7, 0, 1);
    e.arm(a, SimTime::zero() + 4_s, 7, 0, 2);  // re-arm replaces the deadline
    e.arm(b, SimTime::zero() + 2_s, 7, 0, 3);
    e.cancel(b);
    std::vector<std::uint64_t> fired;
    e.run_until(SimTime::never(), [&](const Event& ev) { fired.push_back(ev.arg); });
    CHECK(fired == std::vector<std::uint64_t>{2});
    CHECK(e.counters().stale_skipped == 2);
}

TEST_CASE("engine: a released timer slot is reused and its old entries stay dead", "[engine]") {
    Engine e;
    const TimerId a = e.create_timer();
    e.arm(a, SimTime::zero() + 1_s, 7, 0, 1);
    e.release_timer(a);
    const TimerId b = e.create_timer();
    CHECK(b == a);
    e.arm(b, SimTime::zero() + 2_s, 7, 0, 2);
    std::vector<std::uint64_t> fired;
    e.run_until(SimTime::never(), [&](const Event& ev) { fired.push_back(ev.arg); });
    CHECK(fired == std::vector<std::uint64_t>{2});
}

TEST_CASE("engine: two engines side by side do not share anything", "[engine]") {
    Engine x, y;
    x.schedule(SimTime::zero() + 1_s, 1, 0, 1);
    y.schedule(SimTime::zero() + 2_s, 1, 0, 2);
    int nx = 0, ny = 0;
    x.run_until(SimTime::never(), [&](const Event&) { ++nx; });
    CHECK(nx == 1);
    CHECK(y.queue_size() == 1);
    y.run_until(SimTime::never(), [&](const Event&) { ++ny; });
    CHECK(ny == 1);
}

TEST_CASE("time: durations parse with units and print exactly", "[time]") {
    Duration d;
    REQUIRE(parse_duration("60s", d));
    CHECK(d == 60_s);
    REQUIRE(parse_duration("250ms", d));
    CHECK(d == 250_ms);
    REQUIRE(parse_duration("1.5s", d));
    CHECK(d == 1500_ms);
    REQUIRE(parse_duration("2m", d));
    CHECK(d == 120_s);
    REQUIRE(parse_duration("7ns", d));
    CHECK(d == 7_ns);
    CHECK_FALSE(parse_duration("60", d));
    CHECK_FALSE(parse_duration("s", d));
    CHECK_FALSE(parse_duration("1.5xs", d));
    CHECK_FALSE(parse_duration("-1s", d));
    CHECK_FALSE(parse_duration("0.0000000001s", d));  // finer than a nanosecond
    CHECK(format_duration(60_s) == "60s");
    CHECK(format_duration(250_ms) == "250ms");
    CHECK(format_seconds(SimTime::zero() + 1500_ms) == "1.500000");
}

TEST_CASE("rng: SplitMix64 matches the reference implementation's outputs", "[rng]") {
    // Reference values of splitmix64.c (Vigna, public domain) seeded with 1234567.
    Rng r(1234567);
    CHECK(r.next_u64() == 6457827717110365317ULL);
    CHECK(r.next_u64() == 3203168211198807973ULL);
    CHECK(r.next_u64() == 9817491932198370423ULL);
    CHECK(r.next_u64() == 4593380528125082431ULL);
    CHECK(r.next_u64() == 16408922859458223821ULL);
}

TEST_CASE("rng: below() stays in range and covers it; substreams are independent and repeatable", "[rng]") {
    Rng r(42);
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 10'000; ++i) seen.insert(r.below(10));
    CHECK(seen.size() == 10);
    CHECK(*seen.rbegin() == 9);
    Rng a = Rng::substream(7, "isn"), b = Rng::substream(7, "isn"), c = Rng::substream(7, "links");
    const std::uint64_t va = a.next_u64();
    CHECK(va == b.next_u64());
    CHECK(va != c.next_u64());
    // chance_ppm is an integer probability: 0 never, 1e6 always, about right in between.
    Rng p(9);
    int hits = 0;
    for (int i = 0; i < 100'000; ++i) hits += p.chance_ppm(250'000) ? 1 : 0;
    CHECK(hits > 24'000);
    CHECK(hits < 26'000);
    CHECK_FALSE(p.chance_ppm(0));
    CHECK(p.chance_ppm(1'000'000));
}

TEST_CASE("isn: SipHash-2-4 matches the paper's test vector", "[isn]") {
    // Aumasson & Bernstein, "SipHash: a fast short-input PRF", Appendix A: key 00..0f,
    // message 00..0e (15 bytes) -> a129ca6149be45e5.
    std::uint8_t msg[15];
    for (int i = 0; i < 15; ++i) msg[i] = static_cast<std::uint8_t>(i);
    const std::uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    CHECK(tcp::siphash24(k0, k1, msg, sizeof msg) == 0xa129ca6149be45e5ULL);
}

TEST_CASE("isn: F is SipHash-2-4 over local ip, remote ip, local port, remote port (little-endian)", "[isn]") {
    // IsnGenerator feeds the 4-tuple to the hash as two words; it must equal the byte-wise hash.
    const std::uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    const tcp::IsnGenerator g(k0, k1);
    const tcp::SockAddr local{0xC0A80A01, 54321}, remote{0x0A0000FE, 443};
    const std::uint8_t msg[12] = {0x01, 0x0A, 0xA8, 0xC0, 0xFE, 0x00, 0x00, 0x0A, 0x31, 0xD4, 0xBB, 0x01};
    CHECK(g.isn(SimTime::zero(), local, remote) == static_cast<tcp::Seq>(tcp::siphash24(k0, k1, msg, sizeof msg)));
}

TEST_CASE("isn: RFC 6528 clock ticks every 4 microseconds; the hash separates 4-tuples", "[isn]") {
    const tcp::IsnGenerator g(1, 2);
    const tcp::SockAddr l{0x0A000001, 40000}, r{0x0A000002, 80}, r2{0x0A000002, 81};
    const SimTime t = SimTime::zero() + 1_s;
    CHECK(g.isn(t + 4_us, l, r) - g.isn(t, l, r) == 1);
    CHECK(g.isn(t + 4_ms, l, r) - g.isn(t, l, r) == 1000);
    CHECK(g.isn(t, l, r) != g.isn(t, l, r2));
    const tcp::IsnGenerator other_key(3, 4);
    CHECK(g.isn(t, l, r) != other_key.isn(t, l, r));
}
