// Engine, time and PRNG: ordering, cancellable timers, counters, determinism; the PRNG and the
// ISN hash against published reference values.
#include "fixture.hpp"

#include "tcp/isn.hpp"

#include <tcpsim/engine.hpp>
#include <tcpsim/rng.hpp>

#include <functional>
#include <iterator>
#include <queue>
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

TEST_CASE("engine: a re-armed timer re-queued behind a lane's tail at the same time runs first", "[engine]") {
    // The lazy re-insert keeps the seq of its arming, older than events scheduled since for the
    // same instant: it must still run before them.
    Engine e;
    const TimerId a = e.create_timer();
    e.arm(a, SimTime::zero() + 1500_ms, 7, 0, 1);  // seq 0: the entry in the queue
    e.arm(a, SimTime::zero() + 2_s, 7, 0, 2);      // seq 1: later, lazy (no new entry)
    e.schedule(SimTime::zero() + 1_s, 1, 0, 3);    // seq 2, 1 s after now
    std::vector<std::uint64_t> fired;
    e.run_until(SimTime::never(), [&](const Event& ev) {
        fired.push_back(ev.arg);
        if (ev.arg == 3) e.schedule(e.now() + 1_s, 1, 0, 4);  // seq 3 at 2 s, 1 s after now
    });
    // At 1.5 s the entry of seq 0 comes up early and goes back at (2 s, seq 1), 1 s after the
    // clock (1 s): the lane of that delay already ends with (2 s, seq 3).
    CHECK(fired == std::vector<std::uint64_t>{3, 2, 4});
    CHECK(e.counters().stale_skipped == 1);
    CHECK(e.queue_size() == 0);
}

TEST_CASE("engine: a lane that grows while its ring buffer has wrapped keeps its order", "[engine]") {
    // 40 events of one delay, 30 of them run, then 100 more of the same delay: the lane's ring
    // buffer (64 entries at first) wraps and fills, and grows with its front in the middle.
    Engine e;
    for (std::uint64_t i = 0; i < 40; ++i) e.schedule(SimTime::zero() + 1_ms, 1, 0, i);
    std::vector<std::uint64_t> fired;
    for (int i = 0; i < 30; ++i) CHECK(e.step([&](const Event& ev) { fired.push_back(ev.arg); }));
    for (std::uint64_t i = 40; i < 140; ++i) e.schedule(e.now() + 1_ms, 1, 0, i);
    CHECK(e.queue_size() == 110);
    e.run_until(SimTime::never(), [&](const Event& ev) { fired.push_back(ev.arg); });
    std::vector<std::uint64_t> want(140);
    for (std::uint64_t i = 0; i < 140; ++i) want[i] = i;
    CHECK(fired == want);
    CHECK(e.counters().peak_queue_size == 110);
    CHECK(e.queue_size() == 0);
}

namespace {

// The reference queue: one std::priority_queue entry per schedule and per arming, ordered by
// (time, seq); a timer entry runs only for its slot's last arming while the slot is armed.
struct RefQueue {
    struct Entry {
        SimTime time;
        std::uint64_t seq = 0;
        std::uint32_t kind = 0, target = 0;
        std::uint64_t arg = 0;
        std::int64_t slot = -1;
        bool operator>(const Entry& o) const { return time != o.time ? time > o.time : seq > o.seq; }
    };
    struct Slot {
        std::uint64_t seq = ~std::uint64_t{0};
        bool armed = false;
    };
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> q;
    std::vector<Slot> slots;  // by the engine's TimerId
    SimTime now = SimTime::zero();
    std::uint64_t next_seq = 0, processed = 0;

    void schedule(SimTime at, std::uint32_t kind, std::uint32_t target, std::uint64_t arg) {
        q.push(Entry{std::max(at, now), next_seq++, kind, target, arg, -1});
    }
    void arm(TimerId id, SimTime at, std::uint32_t kind, std::uint32_t target, std::uint64_t arg) {
        if (id >= slots.size()) slots.resize(id + 1);
        slots[id] = Slot{next_seq, true};
        q.push(Entry{std::max(at, now), next_seq++, kind, target, arg, static_cast<std::int64_t>(id)});
    }
    void cancel(TimerId id) { slots[id].armed = false; }
    bool live(const Entry& en) const {
        if (en.slot < 0) return true;
        const Slot& s = slots[static_cast<std::size_t>(en.slot)];
        return s.armed && s.seq == en.seq;
    }
    SimTime next_time() {
        while (!q.empty() && !live(q.top())) q.pop();
        return q.empty() ? SimTime::never() : q.top().time;
    }
    Entry pop() {
        next_time();
        const Entry en = q.top();
        q.pop();
        if (en.slot >= 0) slots[static_cast<std::size_t>(en.slot)].armed = false;
        now = en.time;
        ++processed;
        return en;
    }
};

// Drives an Engine and the reference with the same random schedules, arms, re-arms (earlier and
// later), cancels and releases, from outside and from the handlers; counts the events that came
// out differently.
struct QueueFuzz {
    Engine e;
    RefQueue r;
    Rng rng;
    std::vector<TimerId> timers;
    std::uint64_t serial = 0, mismatches = 0;
    bool stop_now = false;
    bool dense = false;  // delays of 0 to 29 ms only: many events at one instant, many ties

    QueueFuzz(std::uint64_t seed, bool dense_times) : rng(seed), dense(dense_times) {}

    Duration delay() {
        if (dense) return Duration::ms(rng.between(rng.below(50) == 0 ? -5 : 0, 29));
        // 24 fixed delays (more than the engine has lanes), some arbitrary ones, some in the past;
        // whole milliseconds often, so that events of different delays tie in time.
        static constexpr std::int64_t kFixed[] = {
            0,          1,          10'000,      500'000,     1'000'000,     2'000'000,
            3'000'000,  5'000'000,  7'000'000,   10'000'000,  20'000'000,    40'000'000,
            50'000'000, 100'000'000, 200'000'000, 300'000'000, 400'000'000,  500'000'000,
            800'000'000, 1'000'000'000, 1'500'000'000, 2'000'000'000, 3'000'000'000, 60'000'000'000};
        const std::uint64_t pick = rng.below(100);
        if (pick < 70) return Duration::ns(kFixed[rng.below(std::size(kFixed))]);
        if (pick < 85) return Duration::ms(rng.between(0, 3000));
        if (pick < 97) return Duration::ns(rng.between(0, 3'000'000'000));
        return Duration::ms(-rng.between(1, 1000));  // in the past: clamped to now
    }
    void op() {
        const SimTime at = e.now() + delay();
        const auto kind = static_cast<std::uint32_t>(rng.below(8));
        const auto target = static_cast<std::uint32_t>(rng.below(1000));
        const std::uint64_t pick = rng.below(100);
        if (pick < 45) {
            e.schedule(at, kind, target, ++serial);
            r.schedule(at, kind, target, serial);
        } else if (pick < 80 || timers.empty()) {
            if (timers.size() < 64 && (timers.empty() || rng.below(4) == 0)) {
                timers.push_back(e.create_timer());
                if (timers.back() >= r.slots.size()) r.slots.resize(timers.back() + 1);
            }
            const TimerId id = timers[rng.below(timers.size())];
            e.arm(id, at, kind, target, ++serial);
            r.arm(id, at, kind, target, serial);
        } else if (pick < 93) {
            const TimerId id = timers[rng.below(timers.size())];
            e.cancel(id);
            r.cancel(id);
        } else {
            const std::size_t i = rng.below(timers.size());
            e.release_timer(timers[i]);
            r.cancel(timers[i]);
            timers[i] = timers.back();
            timers.pop_back();
        }
    }
    void on_event(const Event& ev) {
        const RefQueue::Entry want = r.pop();
        if (ev.time != want.time || ev.seq != want.seq || ev.kind != want.kind || ev.target != want.target ||
            ev.arg != want.arg)
            ++mismatches;
        if (e.now() != ev.time) ++mismatches;
        const std::uint64_t n = rng.below(7);  // 0 to 3 operations, 12/7 on average
        for (std::uint64_t i = 0; i < (n < 4 ? n : n - 3); ++i) op();
        if (rng.below(500) == 0) {
            e.stop();
            stop_now = true;
        }
    }
    void run(std::uint64_t events) {
        while (r.processed < events) {
            if (r.next_time().is_never() || rng.below(20) == 0)
                for (int i = 0; i < 20; ++i) op();
            if (e.next_time() != r.next_time()) ++mismatches;
            if (rng.below(4) == 0) {
                const bool due = !r.next_time().is_never();
                const bool ran = e.step([&](const Event& ev) { on_event(ev); });
                if (ran != due) ++mismatches;
                continue;
            }
            const SimTime limit = e.now() + Duration::ms(rng.between(0, 2000));
            stop_now = false;
            e.run_until(limit, [&](const Event& ev) { on_event(ev); });
            if (!stop_now && limit > r.now) r.now = limit;
            if (e.now() != r.now) ++mismatches;
            if (!stop_now && r.next_time() <= limit) ++mismatches;  // it left a due event behind
        }
        // Drain everything left.
        e.run_until(SimTime::never(), [&](const Event& ev) {
            if (ev.time != r.pop().time) ++mismatches;
        });
        if (!r.next_time().is_never()) ++mismatches;
    }
};

}  // namespace

TEST_CASE("engine: the queue runs events in exactly the (time, seq) order of a reference heap", "[engine]") {
    for (const std::uint64_t seed : {1ULL, 2ULL, 3ULL, 0xC0FFEEULL, 5ULL, 6ULL}) {
        QueueFuzz f(seed, seed > 4);
        f.run(40'000);
        INFO("seed " << seed);
        CHECK(f.mismatches == 0);
        CHECK(f.e.counters().events_processed == f.r.processed);
        CHECK(f.e.counters().events_scheduled == f.r.next_seq);
        CHECK(f.e.queue_size() == 0);
        CHECK(f.e.counters().stale_skipped > 0);
    }
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
    // Nine decimals of minutes or hours: exact (their product overflowed 64 bits once).
    REQUIRE(parse_duration("0.999999999m", d));
    CHECK(d == Duration::ns(59'999'999'940));
    REQUIRE(parse_duration("1.999999999h", d));
    CHECK(d == Duration::ns(7'199'999'996'400));
    // Up to kMaxParsedDuration (100,000 h), not beyond.
    REQUIRE(parse_duration("100000h", d));
    CHECK(d == kMaxParsedDuration);
    CHECK_FALSE(parse_duration("100000.000000001h", d));
    CHECK_FALSE(parse_duration("2562046h", d));
    CHECK_FALSE(parse_duration("9223372036854775807ns", d));
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
