// A point-to-point link between two hosts: one-way latency, optional jitter and random loss
// drawn from the run's seeded PRNG, and targeted drops for teaching ("drop the 1st FIN from A").
// Segments in one direction never overtake each other: jitter delays, it does not reorder.
#pragma once

#include "tcp/segment.hpp"

#include <tcpsim/rng.hpp>
#include <tcpsim/time.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace tcpsim::net {

// Drops the `nth` (1-based) segment sent from `from_end` (0 or 1) whose flags equal `flags`
// exactly (any flags when match_any), and the `times - 1` matching segments after it
// (times = 0: every match from the nth on). With a delay, the matched segments are held back
// that long instead of dropped (and may arrive after later segments: a delayed duplicate).
struct DropRule {
    int from_end = 0;
    bool match_any = false;
    std::uint8_t flags = 0;
    std::uint32_t nth = 1;
    std::uint32_t times = 1;
    std::uint32_t seen = 0;
    Duration delay = Duration::ns(0);
};

struct LinkParams {
    Duration latency = Duration::ms(10);
    Duration jitter = Duration::ns(0);  // uniform in [0, jitter], added to latency
    std::uint32_t loss_ppm = 0;         // random loss, parts per million
};

enum class Fate : std::uint8_t { Delivered, Delayed, DroppedByRule, Lost };

class Link {
public:
    Link(int host_a, int host_b, LinkParams p) : ends_{host_a, host_b}, p_(p) {}

    [[nodiscard]] int end(int i) const { return ends_[static_cast<std::size_t>(i)]; }
    [[nodiscard]] bool joins(int a, int b) const {
        return (ends_[0] == a && ends_[1] == b) || (ends_[0] == b && ends_[1] == a);
    }
    [[nodiscard]] const LinkParams& params() const { return p_; }
    void add_rule(const DropRule& r) { rules_.push_back(r); }

    // Decides the fate of a segment sent at `now` from host `from`; on delivery `arrival` is set.
    // Inline: every segment goes through it, and the plain-link case is a few instructions.
    Fate transmit(SimTime now, int from, const tcp::Segment& seg, Rng& rng, SimTime& arrival) {
        // A plain link (no rules, no loss, no jitter) draws nothing: FIFO after its latency.
        if (rules_.empty() && p_.loss_ppm == 0 && p_.jitter.count() == 0) {
            SimTime& last = last_arrival_[ends_[0] == from ? 0 : 1];
            arrival = std::max(now + p_.latency, last);
            last = arrival;
            return Fate::Delivered;
        }
        return transmit_general(now, from, seg, rng, arrival);
    }

private:
    Fate transmit_general(SimTime now, int from, const tcp::Segment& seg, Rng& rng, SimTime& arrival);
    std::array<int, 2> ends_;
    LinkParams p_;
    std::vector<DropRule> rules_;
    std::array<SimTime, 2> last_arrival_{SimTime::zero(), SimTime::zero()};
};

}  // namespace tcpsim::net
