// Deadlines of table entries (small integer ids) that come due in (deadline, tie) order, where
// `tie` is a strict order of the ids given by the owner of the entries (the NAT orders its flows
// by their key), like a std::set<std::pair<SimTime, Key>> but without a node per entry.
//
// It is an indexed binary heap with one record per id, found through its position, and lazy in
// the way the engine's timers are (DESIGN.md §6, include/tcpsim/engine.hpp): when an id's
// deadline moves later only the id's deadline changes, and when its record comes up early it is
// put back at the real deadline. A deadline that moves earlier moves the record up in place (no
// second record, so the queue holds as many records as ids, however long the old deadline was).
// Records are ordered by (queued time, tie); an id's queued time is never after its deadline.
// So the record at the top, once put back at its real deadline if it came up early, is the id
// with the smallest (deadline, tie): ids come due in exactly the order the set would give.
// Nothing iterates the heap's array: the positions of records never reach any output.
#pragma once

#include <tcpsim/time.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tcpsim::net {

class DeadlineQueue {
public:
    static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

    [[nodiscard]] bool empty() const { return heap_.empty(); }
    [[nodiscard]] std::size_t size() const { return heap_.size(); }
    [[nodiscard]] bool contains(std::uint32_t id) const { return id < pos_.size() && pos_[id] != kNone; }
    // The deadline of a queued id.
    [[nodiscard]] SimTime deadline(std::uint32_t id) const { return due_[id]; }

    // Queues id with this deadline, or moves its deadline. TieLess: bool(std::uint32_t, std::uint32_t).
    template <class TieLess>
    void set(std::uint32_t id, SimTime due, const TieLess& tie_less) {
        if (id >= pos_.size()) {
            pos_.resize(id + 1, kNone);
            due_.resize(id + 1);
        }
        due_[id] = due;
        if (pos_[id] == kNone) {
            heap_.push_back(Record{due, id});
            pos_[id] = static_cast<std::uint32_t>(heap_.size() - 1);
            sift_up(heap_.size() - 1, tie_less);
            return;
        }
        Record& r = heap_[pos_[id]];
        if (due >= r.at) return;  // later: the record comes up early and is put back then
        r.at = due;
        sift_up(pos_[id], tie_less);
    }
    // Removes id (no-op when it is not queued).
    template <class TieLess>
    void erase(std::uint32_t id, const TieLess& tie_less) {
        if (!contains(id)) return;
        remove_at(pos_[id], tie_less);
    }
    // Removes and returns the id with the smallest (deadline, tie) when its deadline is <= now;
    // kNone when there is none.
    template <class TieLess>
    std::uint32_t pop_due(SimTime now, const TieLess& tie_less) {
        while (!heap_.empty() && heap_[0].at <= now) {
            if (requeue_top(tie_less)) continue;
            const std::uint32_t id = heap_[0].id;
            remove_at(0, tie_less);
            return id;
        }
        return kNone;
    }
    // The smallest deadline; SimTime::never() when empty. Puts early records back on the way,
    // which changes where records sit, never which ids are queued or their deadlines.
    template <class TieLess>
    SimTime next(const TieLess& tie_less) {
        while (!heap_.empty() && requeue_top(tie_less)) {
        }
        return heap_.empty() ? SimTime::never() : heap_[0].at;
    }

private:
    struct Record {
        SimTime at;  // queued time: <= due_[id]
        std::uint32_t id;
    };

    template <class TieLess>
    static bool before(const Record& a, const Record& b, const TieLess& tie_less) {
        return a.at < b.at || (a.at == b.at && tie_less(a.id, b.id));
    }
    // The top record came up before its id's deadline: put it back there; false when it is due.
    template <class TieLess>
    bool requeue_top(const TieLess& tie_less) {
        Record& top = heap_[0];
        const SimTime due = due_[top.id];
        if (due <= top.at) return false;
        top.at = due;
        sift_down(0, tie_less);
        return true;
    }
    template <class TieLess>
    void remove_at(std::size_t i, const TieLess& tie_less) {
        pos_[heap_[i].id] = kNone;
        const Record last = heap_.back();
        heap_.pop_back();
        if (i == heap_.size()) return;
        heap_[i] = last;
        pos_[last.id] = static_cast<std::uint32_t>(i);
        if (i > 0 && before(last, heap_[(i - 1) / 2], tie_less))
            sift_up(i, tie_less);
        else
            sift_down(i, tie_less);
    }
    template <class TieLess>
    void sift_up(std::size_t i, const TieLess& tie_less) {
        const Record r = heap_[i];
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!before(r, heap_[parent], tie_less)) break;
            heap_[i] = heap_[parent];
            pos_[heap_[i].id] = static_cast<std::uint32_t>(i);
            i = parent;
        }
        heap_[i] = r;
        pos_[r.id] = static_cast<std::uint32_t>(i);
    }
    template <class TieLess>
    void sift_down(std::size_t i, const TieLess& tie_less) {
        const Record r = heap_[i];
        const std::size_t n = heap_.size();
        for (;;) {
            std::size_t child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n && before(heap_[child + 1], heap_[child], tie_less)) ++child;
            if (!before(heap_[child], r, tie_less)) break;
            heap_[i] = heap_[child];
            pos_[heap_[i].id] = static_cast<std::uint32_t>(i);
            i = child;
        }
        heap_[i] = r;
        pos_[r.id] = static_cast<std::uint32_t>(i);
    }

    std::vector<Record> heap_;
    std::vector<std::uint32_t> pos_;  // by id: index of its record in heap_, or kNone
    std::vector<SimTime> due_;        // by id: its deadline (valid while queued)
};

}  // namespace tcpsim::net
