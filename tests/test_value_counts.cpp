// ValueCounts (the forecast's connect latencies) against the definition it replaces: a vector
// of every sample, std::nth_element for the nearest rank, std::max_element for the maximum.
#include <tcpsim/rng.hpp>
#include <tcpsim/value_counts.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace tcpsim;

namespace {

std::int64_t reference_rank(std::vector<std::int64_t> v, double q) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    const std::size_t k = rank == 0 ? 0 : rank - 1;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

}  // namespace

TEST_CASE("value counts: nearest rank, max and count agree with the sorted samples", "[tables]") {
    Rng rng(20261206);
    const double qs[] = {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0};
    // Few distinct values with runs (as latencies are), then many distinct values.
    for (std::uint64_t spread : {1u, 3u, 50u, 100000u}) {
        ValueCounts vc;
        std::vector<std::int64_t> ref;
        CHECK(vc.empty());
        CHECK_FALSE(vc.nearest_rank(0.5).has_value());
        CHECK_FALSE(vc.max().has_value());
        for (int i = 0; i < 5000; ++i) {
            const std::int64_t v = 1'000'000 + static_cast<std::int64_t>(rng.below(spread)) * 1000 - 7000;
            const int run = 1 + static_cast<int>(rng.below(4));
            for (int r = 0; r < run; ++r) {
                vc.add(v);
                ref.push_back(v);
            }
            if (i % 997 == 0 || i == 4999) {
                REQUIRE(vc.size() == ref.size());
                CHECK(*vc.max() == *std::max_element(ref.begin(), ref.end()));
                for (double q : qs) CHECK(*vc.nearest_rank(q) == reference_rank(ref, q));
            }
        }
        CHECK(vc.distinct() <= spread);
        // A copy holds the same samples and goes on counting on its own.
        ValueCounts copy = vc;
        copy.add(-5);
        CHECK(copy.size() == vc.size() + 1);
        CHECK(*copy.nearest_rank(0.0) == -5);
        CHECK(*vc.nearest_rank(0.0) == reference_rank(ref, 0.0));
    }
}
