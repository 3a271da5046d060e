// Arrival processes of open client workloads: constant rate, Poisson, a linear ramp and a step
// schedule, drawn from the run's seeded PRNG with tcpsim's own distributions (DESIGN.md §5: no
// std::*_distribution, whose output differs between standard libraries). Closed loops (P
// processes x N requests) are driven by the workload itself, not by a clock.
#pragma once

#include <tcpsim/rng.hpp>
#include <tcpsim/time.hpp>

#include <cstdint>
#include <vector>

namespace tcpsim::app {

enum class ArrivalKind : std::uint8_t { Constant, Poisson, Ramp, Steps, ClosedLoop };

struct RateStep {
    SimTime at;
    double rate = 0;  // connections per second from `at` on
};

struct ArrivalSpec {
    ArrivalKind kind = ArrivalKind::Constant;
    double rate = 1;          // Constant, Poisson; Ramp: the starting rate
    double rate_to = 1;       // Ramp: the rate at ramp_end
    SimTime ramp_end = SimTime::zero();
    std::vector<RateStep> steps;  // Steps: sorted by time
    std::uint32_t processes = 1;  // ClosedLoop
    std::uint64_t requests = 0;   // ClosedLoop: requests per process (0: until the end)
    SimTime start = SimTime::zero();
    SimTime stop = SimTime::never();
};

// ln(x) for x > 0 with IEEE-754 basic operations only (frexp, +, -, *, /), so that the result is
// the same bits on every machine and C library.
double portable_log(double x);

// An exponential draw with the given mean, by inversion of a 53-bit uniform in (0, 1].
Duration exponential(Rng& rng, Duration mean);

// The interval between arrivals at `rate` per second, in integer nanoseconds (at least 1 ns).
Duration interval_at(double rate);

class ArrivalProcess {
public:
    explicit ArrivalProcess(const ArrivalSpec& spec) : spec_(spec) {}
    // The first arrival (start), or never.
    [[nodiscard]] SimTime first() const;
    // The arrival after one at `prev`, or never once past `stop`.
    SimTime next(SimTime prev, Rng& rng) const;
    // The offered rate at time t (connections per second).
    [[nodiscard]] double rate_at(SimTime t) const;

private:
    const ArrivalSpec& spec_;
};

}  // namespace tcpsim::app
