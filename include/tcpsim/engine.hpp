// Discrete-event engine: a binary heap of small POD events ordered by (time, sequence number),
// cancellable timers through generation-checked slots, no per-event heap allocation once the
// queue and the slot table have grown to their working size (DESIGN.md §3, §6).
//
// The engine knows nothing about TCP: an event carries a kind, a target and a 64-bit argument
// that the runner interprets. Two engines can run side by side: there is no global state.
#pragma once

#include <tcpsim/time.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace tcpsim {

struct Event {
    SimTime time;
    std::uint64_t seq = 0;        // scheduling order: ties in time run in this order
    std::uint32_t kind = 0;       // interpreted by the runner
    std::uint32_t target = 0;     // interpreted by the runner
    std::uint64_t arg = 0;        // interpreted by the runner
    std::uint32_t timer = kNoTimer;  // slot of a cancellable timer, or kNoTimer
    std::uint32_t generation = 0;    // the slot's generation when armed

    static constexpr std::uint32_t kNoTimer = 0xFFFFFFFFu;
};

using TimerId = std::uint32_t;

struct EngineCounters {
    std::uint64_t events_processed = 0;
    std::uint64_t events_scheduled = 0;
    std::uint64_t stale_skipped = 0;  // cancelled or re-armed timer entries popped and ignored
    std::size_t peak_queue_size = 0;
};

class Engine {
public:
    Engine() { heap_.reserve(1024); }

    [[nodiscard]] SimTime now() const { return now_; }
    [[nodiscard]] std::size_t queue_size() const { return heap_.size(); }
    [[nodiscard]] const EngineCounters& counters() const { return counters_; }

    // One-shot event at an absolute time (never in the past: clamped to now).
    void schedule(SimTime at, std::uint32_t kind, std::uint32_t target, std::uint64_t arg = 0) {
        push(Event{std::max(at, now_), 0, kind, target, arg, Event::kNoTimer, 0});
    }

    // A cancellable timer slot. Arming replaces any earlier deadline of the same slot.
    //
    // Re-arming is lazy (DESIGN.md §6): a slot keeps at most one live queue entry, the earliest.
    // A later deadline only updates the slot; when that entry comes up early, it goes back into
    // the queue with the deadline and the sequence number the arming took. Events therefore run
    // in exactly the (time, seq) order that one queue entry per arming would give, while the
    // queue holds one entry per slot instead of one per arming.
    TimerId create_timer() {
        if (!free_slots_.empty()) {
            const TimerId id = free_slots_.back();
            free_slots_.pop_back();
            return id;
        }
        slots_.emplace_back();
        return static_cast<TimerId>(slots_.size() - 1);
    }
    void release_timer(TimerId id) {
        slots_[id].armed = false;  // any queued entry becomes stale
        free_slots_.push_back(id);
    }
    void arm(TimerId id, SimTime at, std::uint32_t kind, std::uint32_t target, std::uint64_t arg = 0) {
        Slot& s = slots_[id];
        s.due = std::max(at, now_);
        s.seq = next_seq_++;
        s.kind = kind;
        s.target = target;
        s.arg = arg;
        s.armed = true;
        ++counters_.events_scheduled;
        if (s.queued_seq != kNone && s.queued_time <= s.due) return;  // the entry in the queue comes first
        s.queued_time = s.due;
        s.queued_seq = s.seq;
        insert(Event{s.due, s.seq, kind, target, arg, id, 0});
    }
    void cancel(TimerId id) { slots_[id].armed = false; }

    // Runs events with time <= limit; leaves now() at limit. Handler: void(const Event&).
    template <class Handler>
    void run_until(SimTime limit, Handler&& handler) {
        Event ev;
        stopped_ = false;
        while (!stopped_ && pop_due(limit, ev)) handler(ev);
        if (!stopped_ && limit > now_ && !limit.is_never()) now_ = limit;
    }

    // Ends run_until() after the current event (a stop condition was met).
    void stop() { stopped_ = true; }
    [[nodiscard]] bool stopped() const { return stopped_; }

    // Runs exactly one live event; returns false when the queue is empty.
    template <class Handler>
    bool step(Handler&& handler) {
        Event ev;
        if (!pop_due(SimTime::never(), ev)) return false;
        handler(ev);
        return true;
    }

    [[nodiscard]] SimTime next_time() {
        drop_stale_top();
        return heap_.empty() ? SimTime::never() : heap_.front().time;
    }

private:
    static bool later(const Event& a, const Event& b) {
        if (a.time != b.time) return a.time > b.time;
        return a.seq > b.seq;
    }
    static constexpr std::uint64_t kNone = ~std::uint64_t{0};
    struct Slot {
        SimTime due;
        std::uint64_t seq = 0;
        std::uint32_t kind = 0, target = 0;
        std::uint64_t arg = 0;
        bool armed = false;
        SimTime queued_time;               // the slot's entry in the queue (the earliest one)
        std::uint64_t queued_seq = kNone;  // kNone: none
    };
    void push(Event ev) {
        ev.seq = next_seq_++;
        ++counters_.events_scheduled;
        insert(ev);
    }
    void insert(const Event& ev) {
        heap_.push_back(ev);
        std::push_heap(heap_.begin(), heap_.end(), later);
        counters_.peak_queue_size = std::max(counters_.peak_queue_size, heap_.size());
    }
    // The top entry is a timer entry that must not run now: superseded by an earlier arming, for
    // a cancelled or fired slot, or early (the slot was re-armed later: it is queued again).
    [[nodiscard]] bool top_is_stale() {
        const TimerId id = heap_.front().timer;
        const std::uint64_t seq = heap_.front().seq;
        if (id == Event::kNoTimer) return false;
        Slot& s = slots_[id];
        if (seq != s.queued_seq) return true;  // an older entry of the slot
        if (s.armed && s.seq == seq) return false;  // its own deadline: it runs
        s.queued_seq = kNone;
        if (s.armed) {  // re-armed later: back in the queue at that deadline and sequence number
            std::pop_heap(heap_.begin(), heap_.end(), later);
            heap_.pop_back();
            s.queued_time = s.due;
            s.queued_seq = s.seq;
            insert(Event{s.due, s.seq, s.kind, s.target, s.arg, id, 0});
            ++counters_.stale_skipped;
            return false;  // the top changed; look again
        }
        return true;
    }
    void drop_stale_top() {
        while (!heap_.empty()) {
            const std::uint64_t seq = heap_.front().seq;
            const SimTime t = heap_.front().time;
            if (top_is_stale()) {
                std::pop_heap(heap_.begin(), heap_.end(), later);
                heap_.pop_back();
                ++counters_.stale_skipped;
                continue;
            }
            if (heap_.front().seq == seq && heap_.front().time == t) return;  // live
        }
    }
    bool pop_due(SimTime limit, Event& out) {
        drop_stale_top();
        if (heap_.empty() || heap_.front().time > limit) return false;
        std::pop_heap(heap_.begin(), heap_.end(), later);
        out = heap_.back();
        heap_.pop_back();
        if (out.timer != Event::kNoTimer) {  // a timer fires once
            Slot& s = slots_[out.timer];
            s.armed = false;
            s.queued_seq = kNone;
        }
        now_ = out.time;
        ++counters_.events_processed;
        return true;
    }

    SimTime now_ = SimTime::zero();
    bool stopped_ = false;
    std::uint64_t next_seq_ = 0;
    std::vector<Event> heap_;
    std::vector<Slot> slots_;
    std::vector<TimerId> free_slots_;
    EngineCounters counters_;
};

}  // namespace tcpsim
