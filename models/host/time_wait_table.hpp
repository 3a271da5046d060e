// A host's Linux TIME-WAIT mini-sockets: entries in fixed slots of a chunked array (they never
// move, so a pointer from demux() stays valid), a free list of slots, and the 4-tuple index.
// What one entry costs is in bytes_per_entry(); the issue-6 budget is 128 bytes.
#pragma once

#include "host/time_wait.hpp"
#include "host/tuple_index.hpp"

#include <tcpsim/chunked_vector.hpp>

#include <cstdint>
#include <vector>

namespace tcpsim::host {

class TimeWaitTable {
public:
    using Slot = std::uint32_t;
    static constexpr Slot kNone = TupleIndex::kNone;

    [[nodiscard]] std::size_t size() const { return index_.size(); }

    [[nodiscard]] TimeWaitSock* find(const FourTuple& t) {
        const Slot s = index_.find(t, key_of());
        return s == kNone ? nullptr : &slots_[s];
    }
    [[nodiscard]] const TimeWaitSock* find(const FourTuple& t) const {
        const Slot s = index_.find(t, key_of());
        return s == kNone ? nullptr : &slots_[s];
    }
    [[nodiscard]] Slot slot_of(const FourTuple& t) const { return index_.find(t, key_of()); }
    [[nodiscard]] TimeWaitSock& at(Slot s) { return slots_[s]; }
    [[nodiscard]] const TimeWaitSock& at(Slot s) const { return slots_[s]; }

    // A new entry (no entry with its 4-tuple may exist); returns its slot.
    Slot insert(const TimeWaitSock& e) {
        Slot s;
        if (!free_.empty()) {
            s = free_.back();
            free_.pop_back();
        } else {
            s = static_cast<Slot>(slots_.size());
            slots_.emplace_back();
        }
        slots_[s] = e;
        slots_[s].in_use = true;
        index_.insert(e.tuple, s, key_of());
        return s;
    }
    void erase(Slot s) {
        index_.erase(slots_[s].tuple, key_of());
        slots_[s].in_use = false;
        free_.push_back(s);
    }

    // Every live entry, in slot order (deterministic: slots are handed out in a fixed order).
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t i = 0; i < slots_.size(); ++i)
            if (slots_[i].in_use) f(slots_[i]);
    }

    // Bytes one entry costs here at most: the entry, its index slots at the lowest load (1/4),
    // its place in the free list once it is gone.
    [[nodiscard]] static constexpr std::size_t bytes_per_entry() { return sizeof(TimeWaitSock) + 5 * sizeof(Slot); }

private:
    struct KeyOf {
        const ChunkedVector<TimeWaitSock, 12>* slots;
        const FourTuple& operator()(Slot s) const { return (*slots)[s].tuple; }
    };
    [[nodiscard]] KeyOf key_of() const { return KeyOf{&slots_}; }

    ChunkedVector<TimeWaitSock, 12> slots_;
    std::vector<Slot> free_;
    TupleIndex index_;
};

}  // namespace tcpsim::host
