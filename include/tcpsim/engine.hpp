// Discrete-event engine: small POD events run in (time, sequence number) order, cancellable
// timers through slots, no per-event heap allocation once the queue and the slot table have grown
// to their working size (DESIGN.md §3, §6).
//
// The queue is a few FIFO "lanes" plus a fallback binary heap (see "The queue" below): almost
// every event is scheduled a fixed delay after now, and the events of one delay come out of a
// FIFO in order, so most inserts and pops are O(1) instead of O(log n).
//
// The engine knows nothing about TCP: an event carries a kind, a target and a 64-bit argument
// that the runner interprets. Two engines can run side by side: there is no global state.
#pragma once

#include <tcpsim/time.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcpsim {

// 32 bytes. Kind 0xFFFFFFFF is reserved (the engine marks its timer entries with it).
struct Event {
    SimTime time;
    std::uint64_t seq = 0;     // scheduling order: ties in time run in this order
    std::uint64_t arg = 0;     // interpreted by the runner
    std::uint32_t kind = 0;    // interpreted by the runner
    std::uint32_t target = 0;  // interpreted by the runner
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
    // Entries in the queue, stale timer entries included.
    [[nodiscard]] std::size_t queue_size() const { return size_; }
    [[nodiscard]] const EngineCounters& counters() const { return counters_; }

    // One-shot event at an absolute time (never in the past: clamped to now).
    void schedule(SimTime at, std::uint32_t kind, std::uint32_t target, std::uint64_t arg = 0) {
        ++counters_.events_scheduled;
        insert(Event{std::max(at, now_), next_seq_++, arg, kind, target}, true);
    }

    // A cancellable timer slot. Arming replaces any earlier deadline of the same slot.
    //
    // Re-arming is lazy (DESIGN.md §6): a slot keeps at most one live queue entry, the earliest.
    // A later deadline only updates the slot; when that entry comes up early, it goes back into
    // the queue with the deadline and the sequence number the arming took. Events therefore run
    // in exactly the (time, seq) order that one queue entry per arming would give, while the
    // queue holds one entry per slot instead of one per arming. A queue entry of a timer names
    // only its slot (kind kTimerEntry, target the slot); the kind, target and argument the
    // handler sees are the slot's, which are those of the arming the entry runs for.
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
        insert(Event{s.due, s.seq, 0, kTimerEntry, id}, true);
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
        const int src = live_top();
        return src < 0 ? SimTime::never() : front(src).time;
    }

private:
    // The queue.
    //
    // Sources: source 0 is a binary heap ordered by (time, seq); sources 1..kLanes are FIFO lanes,
    // each a ring buffer of the entries scheduled with one exact delay d = time - now (in ns, at
    // the moment of the insert). An insert goes to the lane of its delay when that lane's last
    // entry is <= the new one in (time, seq); a delay without a lane takes an empty lane, which
    // is then keyed by that delay; anything else goes to the heap. So every lane is sorted by
    // (time, seq) at all times: it is only ever appended to behind a smaller entry. For a fresh
    // schedule the check always holds: now never decreases and seq always increases, so the
    // entries of one delay arrive in (time, seq) order. It fails only for the lazy re-insert of
    // a re-armed timer (it keeps the older seq of its arming, which may sort before the lane's
    // tail at the same time): that entry goes to the heap.
    //
    // Each source is sorted, so the earliest entry of the queue is the smallest of the source
    // heads (the heap's top and each lane's front): pop takes that one. (time, seq) pairs are
    // unique (seq is unique per schedule or arming, and a timer slot has at most one entry per
    // arming in the queue), so this is exactly the total order one heap of all entries would
    // give, whatever lane or heap each entry went to: which source holds an entry changes only
    // the cost, never the order. Heads are kept as 128-bit keys (time << 64 | seq) in one small
    // array with a bit mask of the sources that are not empty; pop scans those heads linearly
    // (at most kLanes + 1 compares, usually a handful).
    //
    // Stale timer entries (a cancelled, released or re-armed timer) stay where they are until
    // they come up, then are skipped (or re-queued at the re-armed deadline) in O(1) in a lane.
    __extension__ typedef unsigned __int128 Key;  // GCC/Clang extension, exact everywhere
    static constexpr int kLanes = 16;
    static constexpr std::uint32_t kLaneBits = ((1u << kLanes) - 1) << 1;  // sources 1..kLanes
    static constexpr std::uint32_t kTimerEntry = 0xFFFFFFFFu;  // Event::kind of a timer entry
    static constexpr std::uint64_t kNone = ~std::uint64_t{0};

    static Key key(const Event& e) {
        return (static_cast<Key>(static_cast<std::uint64_t>(e.time.ns())) << 64) | e.seq;
    }
    static bool later(const Event& a, const Event& b) {
        if (a.time != b.time) return a.time > b.time;
        return a.seq > b.seq;
    }

    // A FIFO of events in a power-of-two ring buffer; it grows by doubling and never shrinks.
    struct Lane {
        std::vector<Event> buf;
        std::size_t head = 0;
        std::size_t size = 0;

        [[nodiscard]] const Event& front() const { return buf[head]; }
        [[nodiscard]] const Event& back() const { return buf[(head + size - 1) & (buf.size() - 1)]; }
        void push(const Event& e) {
            if (size == buf.size()) grow();
            buf[(head + size) & (buf.size() - 1)] = e;
            ++size;
        }
        void pop() {
            head = (head + 1) & (buf.size() - 1);
            --size;
        }
        void grow() {
            std::vector<Event> bigger(buf.empty() ? 64 : buf.size() * 2);
            for (std::size_t i = 0; i < size; ++i) bigger[i] = buf[(head + i) & (buf.size() - 1)];
            buf.swap(bigger);
            head = 0;
        }
    };

    struct Slot {
        SimTime due;
        std::uint64_t seq = 0;
        std::uint32_t kind = 0, target = 0;
        std::uint64_t arg = 0;
        bool armed = false;
        SimTime queued_time;               // the slot's entry in the queue (the earliest one)
        std::uint64_t queued_seq = kNone;  // kNone: none
    };

    // Adds an entry. may_claim: a delay without a lane may take an empty lane (fresh schedules);
    // the lazy re-insert of a timer does not, its delay is rarely seen twice.
    //
    // The lane of a delay is found through a small direct-mapped table (hash of the delay ->
    // lane), else by a scan of the lanes' delays. Which lane or heap an entry goes to changes
    // the cost only, never the order.
    void insert(const Event& ev, bool may_claim) {
        counters_.peak_queue_size = std::max(counters_.peak_queue_size, ++size_);
        const Key k = key(ev);
        const std::int64_t d = ev.time.ns() - now_.ns();
        const std::size_t h = static_cast<std::size_t>(static_cast<std::uint64_t>(d) * 0x9E3779B97F4A7C15ULL >> 58);
        std::size_t li = lane_of_[h];
        if (delay_[li] != d) li = find_lane(d, h);
        if (li != 0) {
            Lane& lane = lanes_[li];
            if (lane.size == 0) {
                head_[li] = k;
                busy_ |= 1u << li;
            } else if (key(lane.back()) > k) {
                heap_insert(ev);  // would be out of order in the lane
                return;
            }
            lane.push(ev);
            return;
        }
        const std::uint32_t empty = ~busy_ & kLaneBits;
        if (!may_claim || empty == 0) {
            heap_insert(ev);
            return;
        }
        li = static_cast<std::size_t>(std::countr_zero(empty));
        lane_of_[h] = static_cast<std::uint8_t>(li);
        delay_[li] = d;
        head_[li] = k;
        busy_ |= 1u << li;
        lanes_[li].push(ev);
    }
    // The lane keyed by delay d, or 0; remembered in lane_of_[h] (h: d's hash).
    std::size_t find_lane(std::int64_t d, std::size_t h) {
        for (std::size_t i = 1; i <= kLanes; ++i) {
            if (delay_[i] == d) {
                lane_of_[h] = static_cast<std::uint8_t>(i);
                return i;
            }
        }
        return 0;
    }
    void heap_insert(const Event& ev) {
        heap_.push_back(ev);
        std::push_heap(heap_.begin(), heap_.end(), later);
        head_[0] = key(heap_.front());
        busy_ |= 1u;
    }

    // The source with the smallest head, or -1 when the queue is empty: a scan of the busy ones.
    [[nodiscard]] int min_source() const {
        std::uint32_t bits = busy_;
        if (bits == 0) return -1;
        int best = std::countr_zero(bits);
        Key k = head_[static_cast<std::size_t>(best)];
        for (bits &= bits - 1; bits != 0; bits &= bits - 1) {
            const int i = std::countr_zero(bits);
            if (head_[static_cast<std::size_t>(i)] < k) {
                k = head_[static_cast<std::size_t>(i)];
                best = i;
            }
        }
        return best;
    }
    [[nodiscard]] const Event& front(int src) const {
        return src == 0 ? heap_.front() : lanes_[static_cast<std::size_t>(src)].front();
    }
    void pop_front(int src) {
        --size_;
        if (src == 0) {
            std::pop_heap(heap_.begin(), heap_.end(), later);
            heap_.pop_back();
            if (heap_.empty()) busy_ &= ~1u;
            else head_[0] = key(heap_.front());
            return;
        }
        Lane& lane = lanes_[static_cast<std::size_t>(src)];
        lane.pop();
        if (lane.size == 0) busy_ &= ~(1u << src);
        else head_[static_cast<std::size_t>(src)] = key(lane.front());
    }

    // The source whose head is the earliest live entry (-1: none). On the way, drops timer
    // entries that must not run: superseded by an earlier arming, for a cancelled, released or
    // fired slot, or early (the slot was re-armed later: the entry goes back into the queue at
    // that deadline and sequence number).
    [[nodiscard]] int live_top() {
        for (;;) {
            const int src = min_source();
            if (src < 0) return src;
            const Event& top = front(src);
            if (top.kind != kTimerEntry) return src;
            const TimerId id = top.target;
            const std::uint64_t seq = top.seq;
            Slot& s = slots_[id];
            bool requeue = false;
            if (seq == s.queued_seq) {  // else an older entry of the slot
                if (s.armed && s.seq == seq) return src;  // its own deadline: it runs
                s.queued_seq = kNone;
                requeue = s.armed;
            }
            pop_front(src);
            ++counters_.stale_skipped;
            if (requeue) {  // re-armed later: back in the queue
                s.queued_time = s.due;
                s.queued_seq = s.seq;
                insert(Event{s.due, s.seq, 0, kTimerEntry, id}, false);
            }
        }
    }
    bool pop_due(SimTime limit, Event& out) {
        const int src = live_top();
        if (src < 0) return false;
        const Event& top = front(src);
        if (top.time > limit) return false;
        if (top.kind == kTimerEntry) {  // a timer fires once
            Slot& s = slots_[top.target];
            out = Event{top.time, top.seq, s.arg, s.kind, s.target};
            s.armed = false;
            s.queued_seq = kNone;
        } else {
            out = top;
        }
        pop_front(src);
        now_ = out.time;
        ++counters_.events_processed;
        return true;
    }

    SimTime now_ = SimTime::zero();
    bool stopped_ = false;
    std::uint64_t next_seq_ = 0;
    std::size_t size_ = 0;  // entries in the heap and the lanes
    std::vector<Event> heap_;
    std::uint32_t busy_ = 0;                        // bit i: source i is not empty
    std::array<Key, kLanes + 1> head_{};            // index 0: the heap's top; i: lane i's front
    std::array<std::int64_t, kLanes + 1> delay_ = [] {  // lane i's delay; -1: none (index 0 never has one)
        std::array<std::int64_t, kLanes + 1> a{};
        a.fill(-1);
        return a;
    }();
    std::array<Lane, kLanes + 1> lanes_;            // lanes 1..kLanes (index 0 unused)
    std::array<std::uint8_t, 64> lane_of_{};        // hash of a delay -> its lane (0: none)
    std::vector<Slot> slots_;
    std::vector<TimerId> free_slots_;
    EngineCounters counters_;
};

}  // namespace tcpsim
