#include "net/link.hpp"

#include <algorithm>

namespace tcpsim::net {

Fate Link::transmit_general(SimTime now, int from, const tcp::Segment& seg, Rng& rng, SimTime& arrival) {
    const int dir = ends_[0] == from ? 0 : 1;
    for (DropRule& r : rules_) {
        if (r.from_end != dir) continue;
        if (!r.match_any && r.flags != seg.flags) continue;
        ++r.seen;
        if (r.seen >= r.nth && (r.times == 0 || r.seen < r.nth + r.times)) {
            if (r.delay.count() == 0) return Fate::DroppedByRule;
            arrival = now + p_.latency + r.delay;  // held back: outside the FIFO order
            return Fate::Delayed;
        }
    }
    if (rng.chance_ppm(p_.loss_ppm)) return Fate::Lost;
    Duration d = p_.latency;
    if (p_.jitter.count() > 0) d += Duration::ns(rng.between(0, p_.jitter.count()));
    auto& last = last_arrival_[static_cast<std::size_t>(dir)];
    arrival = std::max(now + d, last);
    last = arrival;
    return Fate::Delivered;
}

}  // namespace tcpsim::net
