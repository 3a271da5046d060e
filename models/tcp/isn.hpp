// Initial sequence numbers as RFC 6528 §3 recommends: ISN = M + F(localip, localport, remoteip,
// remoteport, secretkey), M a clock that ticks every 4 microseconds, F a keyed hash. F is
// SipHash-2-4 (Aumasson and Bernstein, 2012) keyed from the run's seed, so the same seed gives
// the same ISNs; tests and teaching scenarios can pin the ISN instead.
#pragma once

#include "tcp/segment.hpp"

#include <tcpsim/time.hpp>

#include <cstdint>

namespace tcpsim::tcp {

std::uint64_t siphash24(std::uint64_t k0, std::uint64_t k1, const std::uint8_t* data, std::size_t len);

class IsnGenerator {
public:
    IsnGenerator(std::uint64_t k0, std::uint64_t k1) : k0_(k0), k1_(k1) {}
    [[nodiscard]] Seq isn(SimTime now, const SockAddr& local, const SockAddr& remote) const;

private:
    std::uint64_t k0_;
    std::uint64_t k1_;
};

}  // namespace tcpsim::tcp
