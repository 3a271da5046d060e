#include <tcpsim/time.hpp>

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

namespace tcpsim {

std::string format_seconds(SimTime t) {
    const std::int64_t ns = t.ns();
    const char* sign = ns < 0 ? "-" : "";
    const std::int64_t a = ns < 0 ? -ns : ns;
    return fmt::format("{}{}.{:06d}", sign, a / 1'000'000'000, (a % 1'000'000'000) / 1'000);
}

std::string format_duration(Duration d) {
    const std::int64_t v = d.count();
    if (v != 0 && v % 1'000'000'000 == 0) return fmt::format("{}s", v / 1'000'000'000);
    if (v != 0 && v % 1'000'000 == 0) return fmt::format("{}ms", v / 1'000'000);
    if (v != 0 && v % 1'000 == 0) return fmt::format("{}us", v / 1'000);
    return fmt::format("{}ns", v);
}

bool parse_duration(const std::string& text, Duration& out) {
    // integer part, optional fraction, unit. Computed in integer nanoseconds.
    std::size_t i = 0;
    const std::size_t n = text.size();
    std::int64_t whole = 0;
    std::int64_t frac = 0;
    std::int64_t frac_scale = 1;
    bool digits = false;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (whole > 1'000'000'000'000LL) return false;
        whole = whole * 10 + (text[i] - '0');
        ++i;
        digits = true;
    }
    if (i < n && text[i] == '.') {
        ++i;
        while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) {
            if (frac_scale >= 1'000'000'000) return false;  // more than 9 decimals
            frac = frac * 10 + (text[i] - '0');
            frac_scale *= 10;
            ++i;
            digits = true;
        }
    }
    if (!digits) return false;
    const std::string unit = text.substr(i);
    std::int64_t mult = 0;
    if (unit == "ns") mult = 1;
    else if (unit == "us") mult = 1'000;
    else if (unit == "ms") mult = 1'000'000;
    else if (unit == "s") mult = 1'000'000'000;
    else if (unit == "m" || unit == "min") mult = 60LL * 1'000'000'000;
    else if (unit == "h") mult = 3600LL * 1'000'000'000;
    else return false;
    // In 128 bits: up to 9 decimals of hours (frac * mult) do not fit in 64.
    __extension__ typedef __int128 Wide;
    const Wide frac_ns = static_cast<Wide>(frac) * mult;
    if (frac_ns % frac_scale != 0) return false;  // finer than a nanosecond
    const Wide total = static_cast<Wide>(whole) * mult + frac_ns / frac_scale;
    if (total > kMaxParsedDuration.count()) return false;
    out = Duration::ns(static_cast<std::int64_t>(total));
    return true;
}

}  // namespace tcpsim
