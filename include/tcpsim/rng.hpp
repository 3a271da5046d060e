// One seeded PRNG per run, a fixed algorithm and our own distributions (DESIGN.md §5).
//
// The generator is SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014): 64 bits of state, a fixed output function, the same sequence on
// every platform. Named substreams derive their own state from (run seed, name) so that adding
// draws in one model does not shift the draws of another.
#pragma once

#include <cstdint>
#include <string_view>

namespace tcpsim {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang extension, exact on every platform

class Rng {
public:
    explicit constexpr Rng(std::uint64_t seed) : state_(seed) {}

    constexpr std::uint64_t next_u64() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    constexpr std::uint32_t next_u32() { return static_cast<std::uint32_t>(next_u64() >> 32); }

    // Uniform integer in [0, bound), bound > 0, without modulo bias (rejection on the 64-bit
    // multiply-high, Lemire 2019, "Fast random integer generation in an interval").
    constexpr std::uint64_t below(std::uint64_t bound) {
        if (bound <= 1) return 0;
        for (;;) {
            const Uint128 m = static_cast<Uint128>(next_u64()) * bound;
            const auto low = static_cast<std::uint64_t>(m);
            if (low >= bound || low >= (0 - bound) % bound) return static_cast<std::uint64_t>(m >> 64);
        }
    }
    // Uniform integer in [lo, hi] (inclusive), lo <= hi.
    constexpr std::int64_t between(std::int64_t lo, std::int64_t hi) {
        return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
    }
    // True with probability ppm / 1,000,000 (integer probability: no floating point in draws).
    constexpr bool chance_ppm(std::uint32_t ppm) {
        if (ppm == 0) return false;
        if (ppm >= 1'000'000) return true;
        return below(1'000'000) < ppm;
    }

    // A named substream: independent of every other name for the same seed.
    [[nodiscard]] static constexpr Rng substream(std::uint64_t seed, std::string_view name) {
        // FNV-1a of the name, mixed with the seed through one SplitMix64 step.
        std::uint64_t h = 0xcbf29ce484222325ULL;
        for (char c : name) {
            h ^= static_cast<unsigned char>(c);
            h *= 0x100000001b3ULL;
        }
        Rng mix(seed ^ h);
        return Rng(mix.next_u64());
    }

private:
    std::uint64_t state_;
};

}  // namespace tcpsim
