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
#include <memory>
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
    // Not copyable (a lane points into its own buffer); movable (the buffers stay where they are).
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;
    Engine(Engine&&) = default;
    Engine& operator=(Engine&&) = default;

    [[nodiscard]] SimTime now() const { return now_; }
    // Entries in the queue, stale timer entries included.
    [[nodiscard]] std::size_t queue_size() const { return size_; }
    // events_scheduled is brought up to date by this call (it is the number of sequence numbers
    // given out: one per schedule and per arming), not by each schedule.
    [[nodiscard]] const EngineCounters& counters() const {
        counters_.events_scheduled = next_seq_;
        return counters_;
    }

    // One-shot event at an absolute time (never in the past: clamped to now).
    void schedule(SimTime at, std::uint32_t kind, std::uint32_t target, std::uint64_t arg = 0) {
        insert<true>(Event{std::max(at, now_), next_seq_++, arg, kind, target});
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
        slots_[id].seq = kNone;  // disarmed: any queued entry becomes stale
        free_slots_.push_back(id);
    }
    void arm(TimerId id, SimTime at, std::uint32_t kind, std::uint32_t target, std::uint64_t arg = 0) {
        Slot& s = slots_[id];
        s.due = std::max(at, now_);
        s.seq = next_seq_++;
        s.kind = kind;
        s.target = target;
        s.arg = arg;
        if (s.queued_seq != kNone && s.queued_time <= s.due) return;  // the entry in the queue comes first
        s.queued_time = s.due;
        s.queued_seq = s.seq;
        insert<true>(Event{s.due, s.seq, 0, kTimerEntry, id});
    }
    void cancel(TimerId id) { slots_[id].seq = kNone; }

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
        const Event* top = live_top();
        return top == nullptr ? SimTime::never() : top->time;
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
    // schedule or arming the check always holds, so insert<true> does not make it: now never
    // decreases and seq always increases, so the entries of one delay arrive in (time, seq)
    // order (a re-inserted timer entry in a lane was also placed at now + d, with a seq older
    // than any fresh one). It can fail only for the lazy re-insert of a re-armed timer
    // (insert<false>: it keeps the older seq of its arming, which may sort before the lane's
    // tail at the same time): that entry goes to the heap.
    //
    // Each source is sorted, so the earliest entry of the queue is the smallest of the source
    // heads (the heap's top and each lane's front): pop takes that one. (time, seq) pairs are
    // unique (seq is unique per schedule or arming, and a timer slot has at most one entry per
    // arming in the queue), so this is exactly the total order one heap of all entries would
    // give, whatever lane or heap each entry went to: which source holds an entry changes only
    // the cost, never the order.
    //
    // The source order: the non-empty sources are kept sorted by their head, as 128-bit keys
    // (time << 64 | seq), latest first, in ord_key_[1..nsrc_] with the source numbers in
    // ord_src_; the earliest entry of the queue is the head of source ord_src_[nsrc_], "the
    // first source". ord_key_[0] is a sentinel above every real key (a real key's time is >= 0,
    // so its top bit is 0) that stops the scans. A pop changes only the head of the first
    // source, and only upwards: its new key moves down the order past the smaller heads
    // (sift_first). In the event mix of a busy run the popped lane usually stays first, which
    // costs one compare; a lane that empties leaves the order in O(1) from its end
    // (drop_first); a source that becomes non-empty enters it from that end (add_source: a
    // short delay, which empties and refills its lane most often, has few heads to pass); a new
    // top of the heap moves the heap towards the end (raise_source). A fresh insert behind a
    // lane's tail leaves the heads as they are.
    //
    // Stale timer entries (a cancelled, released or re-armed timer) stay where they are until
    // they come up, then are skipped (or re-queued at the re-armed deadline) in O(1) in a lane.
    //
    // The hot paths (an insert behind a lane's tail, a pop of a plain event that leaves its lane
    // first) are inline and short; everything else is in out-of-line functions.
    __extension__ typedef unsigned __int128 Key;  // GCC/Clang extension, exact everywhere
    static constexpr int kLanes = 16;
    static constexpr std::uint32_t kLaneBits = ((1u << kLanes) - 1) << 1;  // sources 1..kLanes
    static constexpr std::uint32_t kTimerEntry = 0xFFFFFFFFu;  // Event::kind of a timer entry
    static constexpr std::uint64_t kNone = ~std::uint64_t{0};
    static constexpr Key kEndKey = ~Key{0};  // ord_key_[0]: the sentinel above every head

    static Key key(const Event& e) {
        return (static_cast<Key>(static_cast<std::uint64_t>(e.time.ns())) << 64) | e.seq;
    }
    static bool later(const Event& a, const Event& b) {
        if (a.time != b.time) return a.time > b.time;
        return a.seq > b.seq;
    }
    static std::uint64_t delay_hash(std::int64_t d) {
        return static_cast<std::uint64_t>(d) * 0x9E3779B97F4A7C15ULL;
    }

    // A FIFO of events in a ring buffer [begin, end) of 64 entries at first; it grows by doubling
    // and never shrinks. head: the front; tail: where the next entry goes; empty when head == tail (a push
    // that fills the buffer grows it at once). Lane 0 is not a lane: its head is the heap's top
    // (heap_.data()) while the heap is not empty, so that the first entry of any source is
    // *lanes_[src].head.
    struct Lane {
        Event* head = nullptr;
        Event* tail = nullptr;
        Event* end = nullptr;
        std::unique_ptr<Event[]> begin;

        [[nodiscard]] bool empty() const { return head == tail; }
        [[nodiscard]] const Event& back() const { return tail == begin.get() ? end[-1] : tail[-1]; }
        void push(const Event& e) {  // not empty
            *tail = e;
            if (++tail == end) tail = begin.get();
            if (tail == head) [[unlikely]] grow();
        }
        void push_first(const Event& e) {  // empty
            if (begin == nullptr) [[unlikely]] {
                begin = std::make_unique<Event[]>(64);
                end = begin.get() + 64;
            }
            head = begin.get();
            *head = e;
            tail = head + 1;
        }
        void pop() {  // then maybe empty
            if (++head == end) head = begin.get();
        }
        [[gnu::noinline]] void grow() {  // full: head == tail
            const std::size_t n = static_cast<std::size_t>(end - begin.get());
            std::unique_ptr<Event[]> bigger = std::make_unique<Event[]>(2 * n);
            Event* out = std::copy(head, end, bigger.get());
            out = std::copy(begin.get(), tail, out);
            begin = std::move(bigger);
            head = begin.get();
            tail = out;
            end = head + 2 * n;
        }
    };

    // A timer slot: the deadline, kind, target and argument of its last arming; seq is that
    // arming's sequence number, kNone when the slot is not armed (cancelled, released, fired).
    struct Slot {
        SimTime due;
        std::uint64_t seq = kNone;
        std::uint64_t arg = 0;
        SimTime queued_time;               // the slot's entry in the queue (the earliest one)
        std::uint64_t queued_seq = kNone;  // kNone: none
        std::uint32_t kind = 0, target = 0;
    };

    // Adds an entry. kFresh: a schedule or an arming (fresh seq, time >= now), which may take an
    // empty lane for a delay without one, and is always in order behind its lane's tail; not
    // fresh: the lazy re-insert of a timer, which does not claim a lane (its delay is rarely
    // seen twice) and is checked against the lane's tail.
    //
    // The lane of a delay is found through a small table (hash of the delay -> lane) with two
    // buckets per delay, a first and a second choice, else by a scan of the lanes' delays. A
    // bucket is only a hint, checked against the lane's delay. Which lane or heap an entry goes
    // to changes the cost only, never the order.
    template <bool kFresh>
    void insert(const Event ev) {  // by value: the fast path writes it straight into the lane
        if (++size_ > counters_.peak_queue_size) counters_.peak_queue_size = size_;
        const std::int64_t d = ev.time.ns() - now_.ns();
        const std::uint64_t hd = delay_hash(d);
        std::size_t li = lane_of_[hd >> 58];
        if (delay_[li] != d) [[unlikely]] li = lane_of_[(hd >> 52) & 63];
        if (kFresh && delay_[li] == d && !lanes_[li].empty()) [[likely]] {
            lanes_[li].push(ev);
            return;
        }
        insert_slow(ev, kFresh, d, hd, li);
    }
    // li: the lane of d's second bucket if d's first one is not d's lane, else the first one.
    [[gnu::noinline]] void insert_slow(const Event& ev, bool fresh, std::int64_t d, std::uint64_t hd, std::size_t li) {
        if (delay_[li] != d) li = find_lane(d, hd);
        if (li != 0) {
            Lane& lane = lanes_[li];
            if (lane.empty()) {
                lane.push_first(ev);
                add_source(li, key(ev));
            } else if (fresh || key(lane.back()) < key(ev)) {
                lane.push(ev);
            } else {
                heap_insert(ev);  // would be out of order in the lane
            }
            return;
        }
        const std::uint32_t empty = ~busy_ & kLaneBits;
        if (!fresh || empty == 0) {
            heap_insert(ev);
            return;
        }
        li = static_cast<std::size_t>(std::countr_zero(empty));
        delay_[li] = d;
        remember(d, hd, li);
        lanes_[li].push_first(ev);
        add_source(li, key(ev));
    }
    // The lane keyed by delay d, or 0; remembered in the table (hd: d's hash).
    std::size_t find_lane(std::int64_t d, std::uint64_t hd) {
        for (std::size_t i = 1; i <= kLanes; ++i) {
            if (delay_[i] == d) {
                remember(d, hd, i);
                return i;
            }
        }
        return 0;
    }
    // Notes lane li as the lane of delay d: in d's first bucket, unless that bucket holds the lane
    // of another delay whose first choice it is too; then in d's second bucket.
    void remember(std::int64_t d, std::uint64_t hd, std::size_t li) {
        const std::size_t first = hd >> 58;
        const std::size_t other = lane_of_[first];
        if (other != 0 && delay_[other] != d && (delay_hash(delay_[other]) >> 58) == first)
            lane_of_[(hd >> 52) & 63] = static_cast<std::uint8_t>(li);
        else
            lane_of_[first] = static_cast<std::uint8_t>(li);
    }
    void heap_insert(const Event& ev) {
        heap_.push_back(ev);
        std::push_heap(heap_.begin(), heap_.end(), later);
        lanes_[0].head = heap_.data();
        if (heap_.size() == 1) add_source(0, key(ev));
        else if (heap_.front().seq == ev.seq && heap_.front().time == ev.time) raise_source(0, key(ev));
    }

    // The source order (see "The queue"). A source that was empty enters with head k.
    void add_source(std::size_t src, Key k) {
        busy_ |= 1u << src;
        std::size_t i = ++nsrc_;
        for (; ord_key_[i - 1] < k; --i) {
            ord_key_[i] = ord_key_[i - 1];
            ord_src_[i] = ord_src_[i - 1];
        }
        ord_key_[i] = k;
        ord_src_[i] = static_cast<std::uint8_t>(src);
    }
    // The head of source src (in the order) went down to k: it moves towards the first place.
    void raise_source(std::size_t src, Key k) {
        std::size_t i = nsrc_;
        while (ord_src_[i] != src) --i;
        for (; i < nsrc_ && ord_key_[i + 1] > k; ++i) {
            ord_key_[i] = ord_key_[i + 1];
            ord_src_[i] = ord_src_[i + 1];
        }
        ord_key_[i] = k;
        ord_src_[i] = static_cast<std::uint8_t>(src);
    }
    // The head of the first source went up to k: it stays first if k is below the second head,
    // else it moves behind the smaller heads (the sentinel stops the scan).
    void sift_first(Key k) {
        if (k < ord_key_[nsrc_ - 1]) [[likely]] {
            ord_key_[nsrc_] = k;
            return;
        }
        sift_first_slow(k);
    }
    [[gnu::noinline]] void sift_first_slow(Key k) {
        std::size_t i = nsrc_;
        const std::uint8_t src = ord_src_[i];
        for (; ord_key_[i - 1] < k; --i) {
            ord_key_[i] = ord_key_[i - 1];
            ord_src_[i] = ord_src_[i - 1];
        }
        ord_key_[i] = k;
        ord_src_[i] = src;
    }
    // The first source became empty: it leaves the order.
    void drop_first() {
        busy_ &= ~(1u << ord_src_[nsrc_]);
        --nsrc_;
    }

    // Removes the earliest entry (the head of the first source).
    void pop_first() {
        --size_;
        const std::size_t src = ord_src_[nsrc_];
        if (src == 0) [[unlikely]] return pop_heap_top();
        Lane& lane = lanes_[src];
        lane.pop();
        if (lane.empty()) [[unlikely]] return drop_first();
        sift_first(key(*lane.head));
    }
    [[gnu::noinline]] void pop_heap_top() {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        heap_.pop_back();
        if (heap_.empty()) return drop_first();
        sift_first(key(heap_.front()));
    }

    // The earliest live entry, the head of the first source (nullptr: none). On the way, drops
    // timer entries that must not run (see timer_entry_runs).
    [[nodiscard]] const Event* live_top() {
        for (;;) {
            if (nsrc_ == 0) return nullptr;
            const Event* top = lanes_[ord_src_[nsrc_]].head;
            if (top->kind != kTimerEntry || timer_entry_runs(*top)) [[likely]] return top;
        }
    }
    // For the earliest entry, a timer entry: true if it runs (its slot's own deadline); else pops
    // it: superseded by an earlier arming, for a cancelled, released or fired slot, or early (the
    // slot was re-armed later: the entry goes back into the queue at that deadline and sequence
    // number).
    [[gnu::noinline]] bool timer_entry_runs(const Event& top) {
        const TimerId id = top.target;
        const std::uint64_t seq = top.seq;
        Slot& s = slots_[id];
        bool requeue = false;
        if (seq == s.queued_seq) {  // else an older entry of the slot
            if (s.seq == seq) return true;  // armed, and its own deadline: it runs
            s.queued_seq = kNone;
            requeue = s.seq != kNone;
        }
        pop_first();
        ++counters_.stale_skipped;
        if (requeue) {  // re-armed later: back in the queue
            s.queued_time = s.due;
            s.queued_seq = s.seq;
            insert<false>(Event{s.due, s.seq, 0, kTimerEntry, id});
        }
        return false;
    }
    bool pop_due(SimTime limit, Event& out) {
        const Event* top = live_top();
        if (top == nullptr || top->time > limit) return false;
        if (top->kind == kTimerEntry) [[unlikely]] {  // a timer fires once
            Slot& s = slots_[top->target];
            out = Event{top->time, top->seq, s.arg, s.kind, s.target};
            s.seq = kNone;
            s.queued_seq = kNone;
        } else {
            out = *top;
        }
        pop_first();
        now_ = out.time;
        ++counters_.events_processed;
        return true;
    }

    SimTime now_ = SimTime::zero();
    bool stopped_ = false;
    std::uint64_t next_seq_ = 0;
    std::size_t size_ = 0;  // entries in the heap and the lanes
    std::vector<Event> heap_;
    std::uint32_t busy_ = 0;  // bit i: source i is not empty
    std::size_t nsrc_ = 0;    // sources that are not empty
    std::array<Key, kLanes + 2> ord_key_ = [] {  // [0]: kEndKey; [1..nsrc_]: heads, latest first
        std::array<Key, kLanes + 2> a{};
        a[0] = kEndKey;
        return a;
    }();
    std::array<std::uint8_t, kLanes + 2> ord_src_{};  // the source of ord_key_[i]
    std::array<std::int64_t, kLanes + 1> delay_ = [] {  // lane i's delay; -1: none (index 0 never has one)
        std::array<std::int64_t, kLanes + 1> a{};
        a.fill(-1);
        return a;
    }();
    std::array<Lane, kLanes + 1> lanes_;            // lanes 1..kLanes; index 0: the heap's top (head only)
    std::array<std::uint8_t, 64> lane_of_{};        // bucket of a delay's hash -> its lane (0: none)
    std::vector<Slot> slots_;
    std::vector<TimerId> free_slots_;
    mutable EngineCounters counters_;  // events_scheduled is filled in by counters()
};

}  // namespace tcpsim
