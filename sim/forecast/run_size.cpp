#include "forecast/run_size.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tcpsim {

namespace {

double seconds(SimTime t) { return static_cast<double>(t.ns()) / 1e9; }

// Connections an open arrival process offers between its start and min(its stop, the end).
double offered(const app::ArrivalSpec& a, SimTime end) {
    const SimTime stop = std::min(a.stop, end);
    if (stop <= a.start) return 0;
    const double from = seconds(a.start), to = seconds(stop);
    switch (a.kind) {
        case app::ArrivalKind::Constant:
        case app::ArrivalKind::Poisson: return a.rate * (to - from);
        case app::ArrivalKind::Ramp: {
            // Linear from rate to rate_to until ramp_end, then rate_to.
            const double ramp_end = std::clamp(seconds(a.ramp_end), from, to);
            const double span = seconds(a.ramp_end) - from;
            const double rate_at_end = span > 0 ? a.rate + (a.rate_to - a.rate) * (ramp_end - from) / span : a.rate_to;
            return (a.rate + rate_at_end) / 2 * (ramp_end - from) + a.rate_to * (to - ramp_end);
        }
        case app::ArrivalKind::Steps: {
            double n = 0, rate = 0, at = from;
            for (const app::RateStep& s : a.steps) {
                const double t = std::clamp(seconds(s.at), from, to);
                n += rate * (t - at);
                at = t;
                rate = s.rate;
            }
            return n + rate * (to - at);
        }
        case app::ArrivalKind::ClosedLoop:
            // P processes x N requests; without N, at most one request per process and millisecond.
            return a.requests > 0 ? static_cast<double>(a.processes) * static_cast<double>(a.requests)
                                  : static_cast<double>(a.processes) * (to - from) * 1000;
    }
    return 0;
}

std::string count(double n) {
    if (n >= 1e12) return fmt::format("{:.2g}", n);
    if (n >= 1e9) return fmt::format("{:.3g} billion", n / 1e9);
    if (n >= 1e6) return fmt::format("{:.3g} million", n / 1e6);
    return fmt::format("{:.0f}", n);
}

}  // namespace

RunSize estimate_run_size(const Scenario& sc) {
    RunSize r;
    const SimTime end = SimTime::zero() + sc.duration;
    for (const ClientSpec& c : sc.forecast.clients) {
        r.connections += offered(c.arrival, end);
        if (c.arrival.kind == app::ArrivalKind::ClosedLoop && c.arrival.requests == 0) r.bounded = false;
    }
    r.events = r.connections * kEventsPerConnection;
    r.wall_s = r.connections / kConnectionsPerWallSecond;
    return r;
}

std::string format_wall(double s) {
    if (!std::isfinite(s) || s >= 3600.0 * 24 * 365 * 100) return "more than a century";
    const auto t = static_cast<long long>(std::llround(s));
    if (t >= 86400) return fmt::format("{}d {}h", t / 86400, t % 86400 / 3600);
    if (t >= 3600) return fmt::format("{}h {:02}m", t / 3600, t % 3600 / 60);
    if (t >= 60) return fmt::format("{}m {:02}s", t / 60, t % 60);
    return fmt::format("{}s", t);
}

std::string run_size_warning(const Scenario& sc, const RunSize& size, double limit_s) {
    if (size.wall_s <= limit_s) return "";
    // The cheapest ways to shrink it: a duration that fits, stop at the first failure, or the
    // rate and pool scaled down together (the same ratio: the same answer, sooner).
    const double fit = std::max(1.0, seconds(SimTime::zero() + sc.duration) * limit_s / size.wall_s);
    std::string ways = fmt::format("--set /duration={:.0f}s", std::floor(fit));
    if (!sc.forecast.stop.first_failure) ways += ", --set /stop/first_failure=true";
    ways += ", or a lower rate with the same ratio to the port pool";
    return fmt::format("tcpsim: note: {}: about {} connections{} ({} events): about {} at ~{:.0f} connections/s; "
                       "to shrink it: {}",
                       sc.file, count(size.connections), size.bounded ? "" : " at most", count(size.events),
                       format_wall(size.wall_s), kConnectionsPerWallSecond, ways);
}

}  // namespace tcpsim
