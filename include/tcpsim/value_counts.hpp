// A multiset of integer samples kept as (value, count) pairs in value order: exact order
// statistics in memory that grows with the distinct values, not with the samples.
//
// Simulated latencies take few distinct values (whole round trips, retransmission back-offs),
// so a run of 10^7 connections keeps a handful of entries where a vector of samples would hold
// 80 MB. Adding the same value as the previous add costs no lookup.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>

namespace tcpsim {

class ValueCounts {
public:
    ValueCounts() = default;
    // A copy forgets the last-added shortcut (it points into the other map).
    ValueCounts(const ValueCounts& o) : counts_(o.counts_), total_(o.total_) {}
    ValueCounts& operator=(const ValueCounts& o) {
        if (this != &o) {
            counts_ = o.counts_;
            total_ = o.total_;
            last_ = nullptr;
        }
        return *this;
    }

    void add(std::int64_t v) {
        ++total_;
        if (last_ != nullptr && last_value_ == v) {
            ++*last_;
            return;
        }
        last_ = &counts_[v];
        last_value_ = v;
        ++*last_;
    }
    void merge(const ValueCounts& o) {
        for (const auto& [v, n] : o.counts_) counts_[v] += n;
        total_ += o.total_;
        last_ = nullptr;
    }
    void clear() {
        counts_.clear();
        total_ = 0;
        last_ = nullptr;
    }
    [[nodiscard]] std::uint64_t size() const { return total_; }
    [[nodiscard]] bool empty() const { return total_ == 0; }
    [[nodiscard]] std::size_t distinct() const { return counts_.size(); }
    [[nodiscard]] std::optional<std::int64_t> max() const {
        if (counts_.empty()) return std::nullopt;
        return counts_.rbegin()->first;
    }
    // Nearest rank: the smallest value with at least q of the samples at or below it
    // (q in [0, 1]; the first value for q = 0).
    [[nodiscard]] std::optional<std::int64_t> nearest_rank(double q) const {
        if (total_ == 0) return std::nullopt;
        const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
        const std::uint64_t k = rank == 0 ? 0 : rank - 1;  // 0-based index of the sample
        std::uint64_t below = 0;
        for (const auto& [v, n] : counts_) {
            below += n;
            if (below > k) return v;
        }
        return counts_.rbegin()->first;  // not reached: k < total_
    }

private:
    std::map<std::int64_t, std::uint64_t> counts_;
    std::uint64_t total_ = 0;
    std::uint64_t* last_ = nullptr;  // the count of the last value added (map nodes never move)
    std::int64_t last_value_ = 0;
};

}  // namespace tcpsim
