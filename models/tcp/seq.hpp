// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4: "comparisons ... use modulo 2**32
// arithmetic"; the signed-difference form is RFC 1982-style serial comparison).
#pragma once

#include <cstdint>

namespace tcpsim::tcp {

using Seq = std::uint32_t;

constexpr std::int32_t seq_diff(Seq a, Seq b) { return static_cast<std::int32_t>(a - b); }
constexpr bool seq_lt(Seq a, Seq b) { return seq_diff(a, b) < 0; }
constexpr bool seq_le(Seq a, Seq b) { return seq_diff(a, b) <= 0; }
constexpr bool seq_gt(Seq a, Seq b) { return seq_diff(a, b) > 0; }
constexpr bool seq_ge(Seq a, Seq b) { return seq_diff(a, b) >= 0; }
// lo <= x < hi, all modulo 2^32.
constexpr bool seq_in(Seq x, Seq lo, Seq hi) { return seq_le(lo, x) && seq_lt(x, hi); }

}  // namespace tcpsim::tcp
