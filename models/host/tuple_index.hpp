// The 4-tuple of a connection as a host sees it, and an index from 4-tuples to small integer
// ids (socket ids, TIME-WAIT slots) like the kernel's established hash (inet_ehash_bucket).
//
// The index is an open-addressing table with linear probing that stores only the 4-byte ids;
// the key of an id is asked from the owner of the entries (key_of), so a TIME-WAIT entry costs
// 8 to 16 bytes of index (load factor between 1/4 and 1/2) instead of a 48-byte map node.
// Removal shifts the following entries back (no tombstones), so lookups stay short under churn.
// Nothing iterates the index: the order of its slots never reaches any output.
#pragma once

#include <algorithm>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcpsim::host {

struct FourTuple {
    std::uint32_t lip = 0, rip = 0;
    std::uint16_t lport = 0, rport = 0;
    auto operator<=>(const FourTuple&) const = default;
};

// The table takes the top bits (Fibonacci hashing, Knuth TAOCP 6.4): a product's high bits
// depend on every bit of its factor, so 4-tuples that differ only in a port's low bits spread
// over the whole table, without a finalizer's extra rounds.
inline std::uint64_t hash_tuple(const FourTuple& t) {
    const std::uint64_t x = ((static_cast<std::uint64_t>(t.lip) << 32) | t.rip) * 0x9E3779B97F4A7C15ull;
    return (x ^ ((static_cast<std::uint64_t>(t.lport) << 16) | t.rport)) * 0xC2B2AE3D27D4EB4Full;
}

class TupleIndex {
public:
    static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

    [[nodiscard]] std::size_t size() const { return count_; }
    [[nodiscard]] std::size_t capacity_bytes() const { return slots_.size() * sizeof(std::uint32_t); }

    // The id whose key is t, or kNone. KeyOf: FourTuple(std::uint32_t id).
    template <class KeyOf>
    [[nodiscard]] std::uint32_t find(const FourTuple& t, const KeyOf& key_of) const {
        if (count_ == 0) return kNone;
        for (std::size_t i = home(t);; i = (i + 1) & mask_) {
            const std::uint32_t id = slots_[i];
            if (id == kNone) return kNone;
            if (key_of(id) == t) return id;
        }
    }
    // Adds id under key t (no id with that key may be present).
    template <class KeyOf>
    void insert(const FourTuple& t, std::uint32_t id, const KeyOf& key_of) {
        if ((count_ + 1) * 2 > slots_.size()) grow(key_of);
        std::size_t i = home(t);
        while (slots_[i] != kNone) i = (i + 1) & mask_;
        slots_[i] = id;
        ++count_;
    }
    // Points key t at another id (the key must be present).
    template <class KeyOf>
    void replace(const FourTuple& t, std::uint32_t id, const KeyOf& key_of) {
        for (std::size_t i = home(t);; i = (i + 1) & mask_)
            if (slots_[i] != kNone && key_of(slots_[i]) == t) {
                slots_[i] = id;
                return;
            }
    }
    // Removes the entry with key t; false when there is none.
    template <class KeyOf>
    bool erase(const FourTuple& t, const KeyOf& key_of) {
        return erase_if_id(t, kNone, key_of);
    }
    // Removes the entry with key t when it is `id` (kNone: whatever its id); false otherwise.
    template <class KeyOf>
    bool erase_if_id(const FourTuple& t, std::uint32_t id, const KeyOf& key_of) {
        if (count_ == 0) return false;
        std::size_t i = home(t);
        for (;; i = (i + 1) & mask_) {
            if (slots_[i] == kNone) return false;
            if (key_of(slots_[i]) == t) break;
        }
        if (id != kNone && slots_[i] != id) return false;
        // Backward-shift deletion: an entry further on moves into the hole when its home slot
        // does not lie between the hole and itself (cyclically).
        std::size_t hole = i;
        for (std::size_t j = (i + 1) & mask_; slots_[j] != kNone; j = (j + 1) & mask_) {
            const std::size_t h = home(key_of(slots_[j]));
            if (((j - h) & mask_) >= ((j - hole) & mask_)) {
                slots_[hole] = slots_[j];
                hole = j;
            }
        }
        slots_[hole] = kNone;
        --count_;
        return true;
    }
    void clear() {
        slots_.clear();
        count_ = 0;
        mask_ = 0;
        shift_ = 63;
    }

private:
    [[nodiscard]] std::size_t home(const FourTuple& t) const {
        return static_cast<std::size_t>(hash_tuple(t) >> shift_);
    }
    template <class KeyOf>
    void grow(const KeyOf& key_of) {
        std::vector<std::uint32_t> old = std::move(slots_);
        slots_.assign(std::max<std::size_t>(16, old.size() * 2), kNone);
        mask_ = slots_.size() - 1;
        shift_ = 64 - std::countr_zero(slots_.size());
        for (std::uint32_t id : old) {
            if (id == kNone) continue;
            std::size_t i = home(key_of(id));
            while (slots_[i] != kNone) i = (i + 1) & mask_;
            slots_[i] = id;
        }
    }

    std::vector<std::uint32_t> slots_;
    std::size_t count_ = 0;
    std::size_t mask_ = 0;
    int shift_ = 63;  // 64 - log2(slots): home() is the hash's top bits (no slots: never asked)
};

}  // namespace tcpsim::host
