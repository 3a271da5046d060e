// Simulated time: integer nanoseconds in strong types (DESIGN.md §5: no floating-point time).
#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <string>

namespace tcpsim {

// A span of simulated time in nanoseconds.
class Duration {
public:
    constexpr Duration() = default;
    static constexpr Duration ns(std::int64_t v) { return Duration{v}; }
    static constexpr Duration us(std::int64_t v) { return Duration{v * 1'000}; }
    static constexpr Duration ms(std::int64_t v) { return Duration{v * 1'000'000}; }
    static constexpr Duration s(std::int64_t v) { return Duration{v * 1'000'000'000}; }
    static constexpr Duration max() { return Duration{std::numeric_limits<std::int64_t>::max()}; }

    [[nodiscard]] constexpr std::int64_t count() const { return ns_; }
    [[nodiscard]] constexpr std::int64_t whole_ms() const { return ns_ / 1'000'000; }

    constexpr auto operator<=>(const Duration&) const = default;
    constexpr Duration operator+(Duration o) const { return Duration{ns_ + o.ns_}; }
    constexpr Duration operator-(Duration o) const { return Duration{ns_ - o.ns_}; }
    constexpr Duration operator*(std::int64_t k) const { return Duration{ns_ * k}; }
    constexpr Duration operator/(std::int64_t k) const { return Duration{ns_ / k}; }
    constexpr Duration& operator+=(Duration o) { ns_ += o.ns_; return *this; }

private:
    constexpr explicit Duration(std::int64_t v) : ns_(v) {}
    std::int64_t ns_ = 0;
};

// A point on the simulated clock, nanoseconds since the start of the run.
class SimTime {
public:
    constexpr SimTime() = default;
    static constexpr SimTime from_ns(std::int64_t v) { return SimTime{v}; }
    static constexpr SimTime zero() { return SimTime{0}; }
    static constexpr SimTime never() { return SimTime{std::numeric_limits<std::int64_t>::max()}; }

    [[nodiscard]] constexpr std::int64_t ns() const { return ns_; }
    [[nodiscard]] constexpr bool is_never() const { return ns_ == never().ns_; }

    constexpr auto operator<=>(const SimTime&) const = default;
    constexpr SimTime operator+(Duration d) const {
        // Saturate so that "now + a long timeout" never wraps into the past. The sum overflows
        // upwards exactly when d > 0 and ns_ > max - d; the add's overflow flag tells it (this
        // runs for every segment and timer: the compares it replaces were 1.1% of the churn
        // benchmark's instructions).
        std::int64_t sum;
        if (__builtin_add_overflow(ns_, d.count(), &sum)) [[unlikely]]
            return d.count() > 0 ? never() : SimTime{std::numeric_limits<std::int64_t>::min()};
        return SimTime{sum};
    }
    constexpr SimTime operator-(Duration d) const { return SimTime{ns_ - d.count()}; }
    constexpr Duration operator-(SimTime o) const { return Duration::ns(ns_ - o.ns_); }

private:
    constexpr explicit SimTime(std::int64_t v) : ns_(v) {}
    std::int64_t ns_ = 0;
};

namespace literals {
constexpr Duration operator""_ns(unsigned long long v) { return Duration::ns(static_cast<std::int64_t>(v)); }
constexpr Duration operator""_us(unsigned long long v) { return Duration::us(static_cast<std::int64_t>(v)); }
constexpr Duration operator""_ms(unsigned long long v) { return Duration::ms(static_cast<std::int64_t>(v)); }
constexpr Duration operator""_s(unsigned long long v) { return Duration::s(static_cast<std::int64_t>(v)); }
}  // namespace literals

// "12.345678" seconds with exactly six decimals (microseconds), integer arithmetic only.
std::string format_seconds(SimTime t);
// "1.5s", "250ms", "30us", "7ns": the shortest exact unit.
std::string format_duration(Duration d);
// The longest duration a scenario, profile or command line may give: 100,000 hours (11 years).
// Far beyond any TCP timer or run, and far enough below the 292 years of int64 nanoseconds that
// the model's sums and doublings of such values (2 * MSL, a deadline after a run) cannot overflow.
inline constexpr Duration kMaxParsedDuration = Duration::s(100'000LL * 3600);

// Parses "60s", "250ms", "10us", "5ns", "2m", "1h" (integer with unit, or a decimal like "1.5s").
// Returns false on a malformed string, or one longer than kMaxParsedDuration.
bool parse_duration(const std::string& text, Duration& out);

}  // namespace tcpsim
