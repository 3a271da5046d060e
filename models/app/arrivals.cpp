#include "app/arrivals.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tcpsim::app {

double portable_log(double x) {
    // x = m * 2^e with m in [0.5, 1); move m to [sqrt(1/2), sqrt(2)) and use
    // ln(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172: the series converges fast.
    int e = 0;
    double m = std::frexp(x, &e);
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e -= 1;
    }
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    double term = s;
    double sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

// Gaps of 10^18 ns (31 years) and more are all "never" (INT64_MAX / 4): a double that large
// does not convert to int64 safely, and no run lasts that long (kMaxParsedDuration).
constexpr double kFarAway = 1e18;

Duration exponential(Rng& rng, Duration mean) {
    // u in (0, 1]: never 0, so the log is finite.
    const double u = (static_cast<double>(rng.next_u64() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    const double d = -portable_log(u) * static_cast<double>(mean.count());
    if (!(d < kFarAway)) return Duration::ns(INT64_MAX / 4);  // beyond any run (and any int64)
    return Duration::ns(std::max<std::int64_t>(1, static_cast<std::int64_t>(d + 0.5)));
}

Duration interval_at(double rate) {
    if (rate <= 0) return Duration::ns(INT64_MAX / 4);
    const double ns = 1e9 / rate;
    if (!(ns < kFarAway)) return Duration::ns(INT64_MAX / 4);  // a rate so low that no arrival comes
    return Duration::ns(std::max<std::int64_t>(1, static_cast<std::int64_t>(ns + 0.5)));
}

namespace {

// The gap after `prev` in which a ramp's expected count grows by one: the integral of its rate
// over [prev, prev + d] is 1 (linear up to ramp_end, flat after). 1 / rate(prev) would be far too
// long where the rate is still small, and infinite from rate 0.
Duration ramp_gap(const ArrivalSpec& s, SimTime prev) {
    if (prev >= s.ramp_end || s.ramp_end <= s.start) return interval_at(s.rate_to);
    const double span = static_cast<double>((s.ramp_end - s.start).count()) / 1e9;  // seconds
    const double x = static_cast<double>((prev - s.start).count()) / 1e9;
    const double slope = (s.rate_to - s.rate) / span;  // per second per second
    const double r = s.rate + slope * x;
    const double rest = span - x;
    const double on_ramp = r * rest + slope * rest * rest / 2;  // arrivals the rest of the ramp is worth
    double d;
    if (on_ramp >= 1) {
        // r d + slope d^2 / 2 = 1, solved without cancellation (sqrt is exact-rounded IEEE-754).
        d = 2.0 / (r + std::sqrt(std::max(0.0, r * r + 2.0 * slope)));
    } else {
        if (s.rate_to <= 0) return interval_at(0);
        d = rest + (1.0 - on_ramp) / s.rate_to;
    }
    const double ns = std::min(d * 1e9 + 0.5, static_cast<double>(INT64_MAX / 4));
    return Duration::ns(std::max<std::int64_t>(1, static_cast<std::int64_t>(ns)));
}

}  // namespace

SimTime ArrivalProcess::first() const {
    if (spec_.kind == ArrivalKind::ClosedLoop) return spec_.start;
    if (spec_.kind == ArrivalKind::Ramp && rate_at(spec_.start) <= 0) {
        // A ramp from 0: the first arrival once the ramp has been worth one.
        const SimTime t = spec_.start + ramp_gap(spec_, spec_.start);
        return t < spec_.stop ? t : SimTime::never();
    }
    for (SimTime t = spec_.start; t < spec_.stop;) {
        if (rate_at(t) > 0) return t;
        // A step schedule can start at rate 0: jump to the next step.
        SimTime nxt = SimTime::never();
        for (const RateStep& s : spec_.steps)
            if (s.at > t) {
                nxt = s.at;
                break;
            }
        if (nxt.is_never()) return SimTime::never();
        t = nxt;
        if (t >= spec_.stop) break;
        if (rate_at(t) > 0) return t;
    }
    return SimTime::never();
}

double ArrivalProcess::rate_at(SimTime t) const {
    switch (spec_.kind) {
        case ArrivalKind::Constant:
        case ArrivalKind::Poisson: return spec_.rate;
        case ArrivalKind::Ramp: {
            if (t >= spec_.ramp_end || spec_.ramp_end <= spec_.start) return spec_.rate_to;
            const double f = static_cast<double>((t - spec_.start).count()) / static_cast<double>((spec_.ramp_end - spec_.start).count());
            return spec_.rate + (spec_.rate_to - spec_.rate) * f;
        }
        case ArrivalKind::Steps: {
            double r = 0;
            for (const RateStep& s : spec_.steps)
                if (s.at <= t) r = s.rate;
            return r;
        }
        case ArrivalKind::ClosedLoop: return 0;
    }
    return 0;
}

SimTime ArrivalProcess::next(SimTime prev, Rng& rng) const {
    SimTime t;
    switch (spec_.kind) {
        case ArrivalKind::ClosedLoop: return SimTime::never();
        case ArrivalKind::Constant: t = prev + interval_at(spec_.rate); break;
        case ArrivalKind::Poisson: t = prev + exponential(rng, interval_at(spec_.rate)); break;
        case ArrivalKind::Ramp: t = prev + ramp_gap(spec_, prev); break;
        case ArrivalKind::Steps: {
            const double r = rate_at(prev);
            SimTime nxt_step = SimTime::never();
            for (const RateStep& s : spec_.steps)
                if (s.at > prev) {
                    nxt_step = s.at;
                    break;
                }
            t = r > 0 ? prev + interval_at(r) : nxt_step;
            // A new step starts the new rate at its own time.
            if (!nxt_step.is_never() && !t.is_never() && t > nxt_step) t = nxt_step;
            if (!t.is_never() && rate_at(t) <= 0) {
                SimTime after = SimTime::never();
                for (const RateStep& s : spec_.steps)
                    if (s.at > t && s.rate > 0) {
                        after = s.at;
                        break;
                    }
                t = after;
            }
            break;
        }
    }
    if (t.is_never() || t >= spec_.stop) return SimTime::never();
    return t;
}

}  // namespace tcpsim::app
