// How big a run is before it starts (issue #27): the connections its client workloads offer and
// the events that takes, so that a runaway scenario is named before the user waits for it.
#pragma once

#include "scenario/scenario.hpp"

#include <cstdint>
#include <string>

namespace tcpsim {

struct RunSize {
    double connections = 0;  // offered by the client workloads over the run (open loops: rate x time)
    bool bounded = true;     // false: a closed loop without a request count (estimated at its most)
    double events = 0;       // about kEventsPerConnection per connection
    double wall_s = 0;       // at kConnectionsPerWallSecond
};

// A connection's life (handshake, request, response, teardown, TIME-WAIT) is about 13 events
// (bench -w churn: events per lifecycle, docs/performance.md).
inline constexpr double kEventsPerConnection = 13;
// A conservative rate of this program on the 2-core reference machine: bench -w churn ran
// 448,000-814,000 lifecycles/s in the release build (docs/performance.md); scenarios with NATs,
// proxies or many hosts run slower, so the estimate takes 250,000/s.
inline constexpr double kConnectionsPerWallSecond = 250'000;

RunSize estimate_run_size(const Scenario& sc);

// One line for stderr when the run is estimated to take longer than `limit_s` of wall time:
// its size, its expected wall time, and the cheapest ways to shrink it. Empty when it is not.
std::string run_size_warning(const Scenario& sc, const RunSize& size, double limit_s);

// "1h 23m", "4m 10s", "12s"
std::string format_wall(double seconds);

}  // namespace tcpsim
