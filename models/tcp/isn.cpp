#include "tcp/isn.hpp"

namespace tcpsim::tcp {

namespace {
constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
    std::uint64_t v0, v1, v2, v3;
    void round() {
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
    }
};

std::uint64_t load_le(const std::uint8_t* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
}
}  // namespace

// SipHash-2-4 as specified in the paper (and RFC 7693's neighbour, the reference C code).
std::uint64_t siphash24(std::uint64_t k0, std::uint64_t k1, const std::uint8_t* data, std::size_t len) {
    SipState s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
               k1 ^ 0x7465646279746573ULL};
    const std::size_t full = len & ~std::size_t{7};
    for (std::size_t i = 0; i < full; i += 8) {
        const std::uint64_t m = load_le(data + i, 8);
        s.v3 ^= m;
        s.round();
        s.round();
        s.v0 ^= m;
    }
    const std::uint64_t b = (static_cast<std::uint64_t>(len) << 56) | load_le(data + full, len - full);
    s.v3 ^= b;
    s.round();
    s.round();
    s.v0 ^= b;
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

Seq IsnGenerator::isn(SimTime now, const SockAddr& local, const SockAddr& remote) const {
    std::uint8_t buf[12];
    auto put32 = [&](std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) buf[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    put32(0, local.ip);
    put32(4, remote.ip);
    buf[8] = static_cast<std::uint8_t>(local.port);
    buf[9] = static_cast<std::uint8_t>(local.port >> 8);
    buf[10] = static_cast<std::uint8_t>(remote.port);
    buf[11] = static_cast<std::uint8_t>(remote.port >> 8);
    const auto f = static_cast<Seq>(siphash24(k0_, k1_, buf, sizeof buf));
    const auto m = static_cast<Seq>(now.ns() / 4'000);  // RFC 6528: 4 microsecond ticks
    return m + f;
}

}  // namespace tcpsim::tcp
