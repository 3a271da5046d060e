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
    TimerId create_timer() {
        if (!free_slots_.empty()) {
            const TimerId id = free_slots_.back();
            free_slots_.pop_back();
            return id;
        }
        generations_.push_back(0);
        return static_cast<TimerId>(generations_.size() - 1);
    }
    void release_timer(TimerId id) {
        ++generations_[id];  // any queued entry becomes stale
        free_slots_.push_back(id);
    }
    void arm(TimerId id, SimTime at, std::uint32_t kind, std::uint32_t target, std::uint64_t arg = 0) {
        const std::uint32_t gen = ++generations_[id];
        push(Event{std::max(at, now_), 0, kind, target, arg, id, gen});
    }
    void cancel(TimerId id) { ++generations_[id]; }

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
    void push(Event ev) {
        ev.seq = next_seq_++;
        heap_.push_back(ev);
        std::push_heap(heap_.begin(), heap_.end(), later);
        ++counters_.events_scheduled;
        counters_.peak_queue_size = std::max(counters_.peak_queue_size, heap_.size());
    }
    [[nodiscard]] bool stale(const Event& ev) const {
        return ev.timer != Event::kNoTimer && generations_[ev.timer] != ev.generation;
    }
    void drop_stale_top() {
        while (!heap_.empty() && stale(heap_.front())) {
            std::pop_heap(heap_.begin(), heap_.end(), later);
            heap_.pop_back();
            ++counters_.stale_skipped;
        }
    }
    bool pop_due(SimTime limit, Event& out) {
        drop_stale_top();
        if (heap_.empty() || heap_.front().time > limit) return false;
        std::pop_heap(heap_.begin(), heap_.end(), later);
        out = heap_.back();
        heap_.pop_back();
        now_ = out.time;
        ++counters_.events_processed;
        return true;
    }

    SimTime now_ = SimTime::zero();
    bool stopped_ = false;
    std::uint64_t next_seq_ = 0;
    std::vector<Event> heap_;
    std::vector<std::uint32_t> generations_;
    std::vector<TimerId> free_slots_;
    EngineCounters counters_;
};

}  // namespace tcpsim
