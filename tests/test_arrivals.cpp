// Arrival processes of open workloads (models/app/arrivals.hpp) against arithmetic and the
// properties of the distributions they claim: ln(x) against the C library, the exponential's mean
// and tail, the counts of constant, ramp and step schedules in a window, and determinism of the
// seeded draws (DESIGN.md §5).
#include <catch2/catch.hpp>

#include "app/arrivals.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

using namespace tcpsim;
using namespace tcpsim::app;

namespace {

SimTime at_s(double s) { return SimTime::from_ns(static_cast<std::int64_t>(std::llround(s * 1e9))); }

// Every arrival of a process from first() on, up to a safety limit.
std::vector<SimTime> all_arrivals(const ArrivalSpec& spec, std::uint64_t seed = 1, std::size_t limit = 1'000'000) {
    const ArrivalProcess p(spec);
    Rng rng(seed);
    std::vector<SimTime> out;
    for (SimTime t = p.first(); !t.is_never() && out.size() < limit; t = p.next(t, rng)) out.push_back(t);
    return out;
}

std::size_t count_in(const std::vector<SimTime>& ts, SimTime from, SimTime to) {
    std::size_t n = 0;
    for (SimTime t : ts) n += (t >= from && t < to) ? 1 : 0;
    return n;
}

}  // namespace

TEST_CASE("arrivals: portable_log agrees with std::log to 1e-14 relative from 1e-300 to 1e300", "[arrivals]") {
    CHECK(portable_log(1.0) == 0.0);
    // Log-spaced over the whole normal range (a factor that is not a power of 2, so mantissas vary).
    std::size_t n = 0;
    for (double x = 1e-300; x < 1e300; x *= 1.0137) {
        const double want = std::log(x);
        INFO("x = " << x);
        REQUIRE(std::fabs(portable_log(x) - want) <= 1e-14 * std::fabs(want));
        ++n;
    }
    CHECK(n > 100'000);
    // Near 1, where ln(x) is tiny and only a relative error says anything.
    for (int k = 1; k <= 2000; ++k) {
        for (double x : {1.0 + k * 0x1p-52, 1.0 - k * 0x1p-53, 1.0 + k * 1e-9, 1.0 - k * 1e-9, 1.0 + k * 1e-4, 1.0 - k * 1e-4}) {
            const double want = std::log(x);
            INFO("x = " << x);
            REQUIRE(std::fabs(portable_log(x) - want) <= 1e-14 * std::fabs(want));
        }
    }
    // Exact values: ln 2^k = k ln 2, e, and the extremes of the doubles.
    CHECK(portable_log(0.5) == Approx(-0.6931471805599453).epsilon(1e-15));
    CHECK(portable_log(1024.0) == Approx(10 * 0.6931471805599453).epsilon(1e-15));
    CHECK(portable_log(2.718281828459045) == Approx(1.0).epsilon(1e-15));
    CHECK(portable_log(0x1p-1074) == Approx(-1074 * 0.6931471805599453).epsilon(1e-14));  // smallest subnormal
    CHECK(portable_log(0x1p-53) == Approx(-53 * 0.6931471805599453).epsilon(1e-15));    // smallest uniform draw
}

TEST_CASE("arrivals: exponential draws have the mean and the e^-1 tail of the exponential distribution", "[arrivals]") {
    const Duration mean = Duration::ms(2);
    Rng rng(42);
    constexpr int kDraws = 200'000;
    double sum = 0;
    int above = 0;
    std::int64_t smallest = INT64_MAX;
    for (int i = 0; i < kDraws; ++i) {
        const Duration d = exponential(rng, mean);
        smallest = std::min(smallest, d.count());
        sum += static_cast<double>(d.count());
        above += d > mean ? 1 : 0;
    }
    CHECK(smallest >= 1);  // never 0 ns: a Poisson process never has two arrivals at one instant
    CHECK(sum / kDraws == Approx(static_cast<double>(mean.count())).epsilon(0.01));
    // P(X > mean) = e^-1 for an exponential variable (std. error here 0.3% of e^-1).
    CHECK(static_cast<double>(above) / kDraws == Approx(std::exp(-1.0)).epsilon(0.01));
    // The median of an exponential is mean * ln 2: half of the draws lie below it.
    Rng rng2(43);
    int below_median = 0;
    const double median = static_cast<double>(mean.count()) * std::log(2.0);
    for (int i = 0; i < kDraws; ++i) below_median += static_cast<double>(exponential(rng2, mean).count()) < median ? 1 : 0;
    CHECK(static_cast<double>(below_median) / kDraws == Approx(0.5).epsilon(0.01));
}

TEST_CASE("arrivals: exponential draws repeat for a seed and differ between seeds", "[arrivals]") {
    auto draws = [](std::uint64_t seed) {
        Rng rng(seed);
        std::vector<std::int64_t> v;
        for (int i = 0; i < 1000; ++i) v.push_back(exponential(rng, Duration::ms(1)).count());
        return v;
    };
    CHECK(draws(7) == draws(7));
    CHECK(draws(7) != draws(8));
    const auto a = draws(7), b = draws(8);
    int same = 0;
    for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i] ? 1 : 0;
    CHECK(same < 10);  // not a shifted copy: nearly every draw differs
}

TEST_CASE("arrivals: constant 470.5/s arrives every round(1e9 / 470.5) ns inside [start, stop)", "[arrivals]") {
    // 1e9 / 470.5 = 2,125,398.51 ns: rounded to 2,125,399 ns.
    CHECK(interval_at(470.5) == Duration::ns(2'125'399));
    ArrivalSpec spec;
    spec.kind = ArrivalKind::Constant;
    spec.rate = 470.5;
    spec.start = at_s(1);
    spec.stop = at_s(11);
    const auto ts = all_arrivals(spec);
    REQUIRE(!ts.empty());
    CHECK(ts.front() == spec.start);
    for (std::size_t i = 1; i < ts.size(); ++i) REQUIRE(ts[i] - ts[i - 1] == Duration::ns(2'125'399));
    // Arrivals at start + k * 2,125,399 ns below start + 10 s: k = 0 .. 4704
    // (4,704 * 2,125,399 = 9,997,876,896 < 1e10 <= 4,705 * 2,125,399 = 10,000,002,295).
    CHECK(ts.size() == 4705);
    CHECK(ts.back() == spec.start + Duration::ns(4704LL * 2'125'399));
    CHECK(ts.back() < spec.stop);
    Rng rng(1);
    CHECK(ArrivalProcess(spec).next(ts.back(), rng).is_never());
    // Nothing at stop itself: with stop on an arrival instant, that arrival is not made.
    ArrivalSpec exact = spec;
    exact.stop = spec.start + Duration::ns(10LL * 2'125'399);
    const auto te = all_arrivals(exact);
    CHECK(te.size() == 10);
    CHECK(te.back() == exact.start + Duration::ns(9LL * 2'125'399));
}

TEST_CASE("arrivals: a ramp from 0 to 100/s over 10 s makes ~500 arrivals (the integral), then 100/s", "[arrivals]") {
    ArrivalSpec spec;
    spec.kind = ArrivalKind::Ramp;
    spec.rate = 0;
    spec.rate_to = 100;
    spec.start = SimTime::zero();
    spec.ramp_end = at_s(10);
    spec.stop = at_s(20);
    const ArrivalProcess p(spec);
    CHECK(p.rate_at(at_s(5)) == Approx(50));
    CHECK(p.rate_at(at_s(10)) == 100);
    CHECK(p.rate_at(at_s(15)) == 100);
    const auto ts = all_arrivals(spec);
    // The integral of a linear ramp from 0 to 100/s over 10 s: 10 * 100 / 2 = 500 arrivals.
    const double ramp = static_cast<double>(count_in(ts, SimTime::zero(), at_s(10)));
    CHECK(ramp == Approx(500).epsilon(0.02));
    // In the first 5 s the rate goes 0 -> 50/s: 5 * 50 / 2 = 125 (a quarter of the ramp's arrivals).
    CHECK(static_cast<double>(count_in(ts, SimTime::zero(), at_s(5))) == Approx(125).epsilon(0.04));
    // After the ramp: exactly every 10 ms, 100 per second.
    CHECK(count_in(ts, at_s(12), at_s(20)) == 800);
    for (std::size_t i = 1; i < ts.size(); ++i)
        if (ts[i - 1] >= at_s(10)) REQUIRE(ts[i] - ts[i - 1] == Duration::ms(10));
    for (std::size_t i = 1; i < ts.size(); ++i) REQUIRE(ts[i] > ts[i - 1]);
}

TEST_CASE("arrivals: a ramp from 0.5/s to 100/s over 10 s makes the integral 502.5 arrivals", "[arrivals]") {
    // 1 / rate at each arrival would wait 2 s after the first and undercount the ramp by 4%.
    ArrivalSpec spec;
    spec.kind = ArrivalKind::Ramp;
    spec.rate = 0.5;
    spec.rate_to = 100;
    spec.ramp_end = at_s(10);
    spec.stop = at_s(10);
    const auto ts = all_arrivals(spec);
    REQUIRE(!ts.empty());
    CHECK(ts.front() == SimTime::zero());
    CHECK(static_cast<double>(ts.size()) == Approx(502.5).epsilon(0.01));
    // Over the first 2 s: (0.5 + 20.4) / 2 * 2 = 20.9 arrivals.
    CHECK(static_cast<double>(count_in(ts, SimTime::zero(), at_s(2))) == Approx(20.9).margin(1.5));
}

TEST_CASE("arrivals: a ramp down from 100/s to 10/s over 9 s makes the integral 495 arrivals", "[arrivals]") {
    ArrivalSpec spec;
    spec.kind = ArrivalKind::Ramp;
    spec.rate = 100;
    spec.rate_to = 10;
    spec.start = at_s(1);
    spec.ramp_end = at_s(10);
    spec.stop = at_s(12);
    const auto ts = all_arrivals(spec);
    REQUIRE(!ts.empty());
    CHECK(ts.front() == spec.start);
    // (100 + 10) / 2 * 9 s = 495.
    CHECK(static_cast<double>(count_in(ts, at_s(1), at_s(10))) == Approx(495).epsilon(0.02));
    CHECK(count_in(ts, at_s(10.5), at_s(12)) == 15);
}

TEST_CASE("arrivals: steps 0, 10/s at 5 s, 0 at 10 s, 20/s at 15 s arrive only where the rate is above 0", "[arrivals]") {
    ArrivalSpec spec;
    spec.kind = ArrivalKind::Steps;
    spec.steps = {{at_s(0), 0}, {at_s(5), 10}, {at_s(10), 0}, {at_s(15), 20}};
    spec.start = SimTime::zero();
    spec.stop = at_s(20);
    const auto ts = all_arrivals(spec);
    REQUIRE(!ts.empty());
    CHECK(ts.front() == at_s(5));
    CHECK(count_in(ts, SimTime::zero(), at_s(5)) == 0);
    CHECK(count_in(ts, at_s(5), at_s(10)) == 50);   // 10/s for 5 s
    CHECK(count_in(ts, at_s(10), at_s(15)) == 0);
    CHECK(count_in(ts, at_s(15), at_s(20)) == 100);  // 20/s for 5 s
    CHECK(ts.size() == 150);
    CHECK(ts.back() == at_s(19.95));
    // A rate change mid-interval starts the new rate at the step: 1/s, then 4/s from 2.5 s.
    ArrivalSpec mid;
    mid.kind = ArrivalKind::Steps;
    mid.steps = {{at_s(0), 1}, {at_s(2.5), 4}};
    mid.stop = at_s(4);
    const auto tm = all_arrivals(mid);
    CHECK(tm == std::vector<SimTime>{at_s(0), at_s(1), at_s(2), at_s(2.5), at_s(2.75), at_s(3), at_s(3.25), at_s(3.5), at_s(3.75)});
}

TEST_CASE("arrivals: Poisson arrivals repeat for a seed, differ between seeds, and average the rate", "[arrivals]") {
    ArrivalSpec spec;
    spec.kind = ArrivalKind::Poisson;
    spec.rate = 200;
    spec.stop = at_s(100);
    const auto a = all_arrivals(spec, 5), b = all_arrivals(spec, 5), c = all_arrivals(spec, 6);
    CHECK(a == b);
    CHECK(a != c);
    // 200/s for 100 s: 20,000 expected, standard deviation sqrt(20,000) = 141 (0.7%).
    CHECK(static_cast<double>(a.size()) == Approx(20000).epsilon(0.03));
    CHECK(static_cast<double>(c.size()) == Approx(20000).epsilon(0.03));
    for (std::size_t i = 1; i < a.size(); ++i) REQUIRE(a[i] > a[i - 1]);
}

TEST_CASE("arrivals: a rate so low that its gap does not fit in int64 nanoseconds never arrives again", "[arrivals]") {
    // 1e9 / 1e-12 = 1e21 ns: beyond int64, which once wrapped to a gap of 1 ns (found by fuzzing).
    for (double rate : {1e-12, 1e-300, 5e-324}) {
        INFO(rate);
        CHECK(interval_at(rate) == Duration::ns(INT64_MAX / 4));
    }
    CHECK(interval_at(1e-8) == Duration::s(100'000'000));  // still exact below the limit
    Rng rng(7);
    // A mean near the int64 limit: draws above 1e18 ns are "never", none wraps below zero.
    int never = 0;
    for (int i = 0; i < 100; ++i) {
        const Duration d = exponential(rng, Duration::ns(INT64_MAX / 2));
        CHECK(d > Duration::ns(0));
        never += d == Duration::ns(INT64_MAX / 4) ? 1 : 0;
    }
    CHECK(never > 50);  // P(draw > 1e18 ns) = e^(-1e18 / 4.6e18) = 0.80
    ArrivalSpec spec;
    spec.kind = ArrivalKind::Constant;
    spec.rate = 1e-12;
    spec.start = SimTime::zero();
    spec.stop = SimTime::zero() + Duration::s(2);
    CHECK(ArrivalProcess(spec).next(SimTime::zero(), rng).is_never());
}
