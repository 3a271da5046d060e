#include "tcp/isn.hpp"

namespace tcpsim::tcp {

namespace {
constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

// SipHash-2-4 as specified in the paper (Aumasson and Bernstein, 2012; the reference C code):
// the message goes in as little-endian 64-bit words, the last one carrying the length in its
// top byte.
class SipHash24 {
public:
    SipHash24(std::uint64_t k0, std::uint64_t k1)
        : v0_(k0 ^ 0x736f6d6570736575ULL), v1_(k1 ^ 0x646f72616e646f6dULL), v2_(k0 ^ 0x6c7967656e657261ULL),
          v3_(k1 ^ 0x7465646279746573ULL) {}
    // One 8-byte word of the message (c = 2 rounds).
    void word(std::uint64_t m) {
        v3_ ^= m;
        round();
        round();
        v0_ ^= m;
    }
    // The last word ((length mod 256) << 56 | the 0..7 remaining bytes), then d = 4 rounds.
    std::uint64_t finish(std::uint64_t last) {
        word(last);
        v2_ ^= 0xff;
        for (int i = 0; i < 4; ++i) round();
        return v0_ ^ v1_ ^ v2_ ^ v3_;
    }

private:
    void round() {
        v0_ += v1_; v1_ = rotl(v1_, 13); v1_ ^= v0_; v0_ = rotl(v0_, 32);
        v2_ += v3_; v3_ = rotl(v3_, 16); v3_ ^= v2_;
        v0_ += v3_; v3_ = rotl(v3_, 21); v3_ ^= v0_;
        v2_ += v1_; v1_ = rotl(v1_, 17); v1_ ^= v2_; v2_ = rotl(v2_, 32);
    }
    std::uint64_t v0_, v1_, v2_, v3_;
};

std::uint64_t load_le(const std::uint8_t* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
}
}  // namespace

std::uint64_t siphash24(std::uint64_t k0, std::uint64_t k1, const std::uint8_t* data, std::size_t len) {
    SipHash24 h(k0, k1);
    const std::size_t full = len & ~std::size_t{7};
    for (std::size_t i = 0; i < full; i += 8) h.word(load_le(data + i, 8));
    return h.finish((static_cast<std::uint64_t>(len) << 56) | load_le(data + full, len - full));
}

Seq IsnGenerator::isn(SimTime now, const SockAddr& local, const SockAddr& remote) const {
    // F hashes the 12 bytes local ip, remote ip, local port, remote port (each little-endian),
    // fed straight in as the hash's two words: the same value as siphash24() over that buffer.
    SipHash24 h(k0_, k1_);
    h.word(static_cast<std::uint64_t>(local.ip) | (static_cast<std::uint64_t>(remote.ip) << 32));
    const std::uint64_t ports = static_cast<std::uint64_t>(local.port) | (static_cast<std::uint64_t>(remote.port) << 16);
    const auto f = static_cast<Seq>(h.finish((std::uint64_t{12} << 56) | ports));
    const auto m = static_cast<Seq>(now.ns() / 4'000);  // RFC 6528: 4 microsecond ticks
    return m + f;
}

}  // namespace tcpsim::tcp
