// The lookup tables under the host and NAT models: the open-addressing 4-tuple index, the
// chunked array, the TIME-WAIT table and the NAT's deadline queue, each checked against a plain
// std::map / std::set / std::vector reference over long random sequences of operations (the
// reference is the ground truth here).
#include "host/time_wait_table.hpp"
#include "host/tuple_index.hpp"
#include "net/deadline_queue.hpp"

#include <tcpsim/chunked_vector.hpp>
#include <tcpsim/rng.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <utility>
#include <vector>

using namespace tcpsim;
using namespace tcpsim::host;

namespace {

// A small key space so that probe sequences collide, wrap around the table's end and are cut
// by deletions in every possible place.
FourTuple random_tuple(Rng& rng, std::uint64_t spread) {
    return FourTuple{0x0A000001, static_cast<std::uint32_t>(0x0A000100 + rng.below(3)),
                     static_cast<std::uint16_t>(32768 + rng.below(spread)), static_cast<std::uint16_t>(80 + rng.below(2))};
}

}  // namespace

TEST_CASE("tuple index: find/insert/replace/erase agree with std::map over random operations", "[tables]") {
    for (std::uint64_t spread : {4u, 60u, 2000u}) {
        Rng rng(spread);
        std::vector<FourTuple> keys;  // id -> key (ids are never reused here)
        TupleIndex index;
        std::map<FourTuple, std::uint32_t> ref;
        auto key_of = [&](std::uint32_t id) -> const FourTuple& { return keys[id]; };
        for (int step = 0; step < 60000; ++step) {
            const FourTuple t = random_tuple(rng, spread);
            const std::uint64_t op = rng.below(10);
            auto it = ref.find(t);
            if (op < 4) {  // insert or replace
                const auto id = static_cast<std::uint32_t>(keys.size());
                keys.push_back(t);
                if (it == ref.end()) {
                    index.insert(t, id, key_of);
                    ref.emplace(t, id);
                } else {
                    index.replace(t, id, key_of);
                    it->second = id;
                }
            } else if (op < 6) {
                REQUIRE(index.erase(t, key_of) == (it != ref.end()));
                if (it != ref.end()) ref.erase(it);
            } else if (op < 8) {
                // Removal only when the key leads to a given id: the present one, or a stale one
                // (an id the key led to before it was replaced or erased and inserted again).
                const bool present = it != ref.end();
                const std::uint32_t want = present && rng.below(2) == 0 ? it->second : static_cast<std::uint32_t>(rng.below(keys.size() + 1));
                const bool match = present && want == it->second;
                REQUIRE(index.erase_if_id(t, want, key_of) == match);
                if (match) ref.erase(it);
            } else {
                REQUIRE(index.find(t, key_of) == (it == ref.end() ? TupleIndex::kNone : it->second));
            }
            REQUIRE(index.size() == ref.size());
        }
        // Every key still present is found; every key once present and now gone is not.
        for (const auto& [t, id] : ref) REQUIRE(index.find(t, key_of) == id);
        for (std::uint32_t id = 0; id < keys.size(); ++id)
            if (!ref.count(keys[id])) REQUIRE(index.find(keys[id], key_of) == TupleIndex::kNone);
    }
}

TEST_CASE("chunked vector: elements keep their address while it grows", "[tables]") {
    ChunkedVector<std::vector<int>, 3> v;  // chunks of 8: many chunk boundaries
    std::vector<const std::vector<int>*> addr;
    for (int i = 0; i < 1000; ++i) {
        v.emplace_back(std::vector<int>{i, i * 2});
        addr.push_back(&v[static_cast<std::size_t>(i)]);
    }
    REQUIRE(v.size() == 1000);
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(addr[static_cast<std::size_t>(i)] == &v[static_cast<std::size_t>(i)]);
        REQUIRE(v[static_cast<std::size_t>(i)] == std::vector<int>{i, i * 2});
    }
    ChunkedVector<std::vector<int>, 3> moved = std::move(v);
    REQUIRE(moved.size() == 1000);
    REQUIRE(v.size() == 0);  // NOLINT(bugprone-use-after-move): a moved-from table is empty
    REQUIRE(&moved[999] == addr[999]);
}

TEST_CASE("TIME-WAIT table: entries, slots and iteration agree with a map reference", "[tables]") {
    Rng rng(7);
    TimeWaitTable table;
    std::map<FourTuple, std::uint32_t> ref;  // tuple -> snd_nxt written into the entry
    for (int step = 0; step < 40000; ++step) {
        const FourTuple t = random_tuple(rng, 500);
        auto it = ref.find(t);
        if (rng.below(2) == 0) {
            if (it != ref.end()) continue;
            TimeWaitSock e;
            e.tuple = t;
            e.snd_nxt = static_cast<std::uint32_t>(step);
            const TimeWaitTable::Slot s = table.insert(e);
            REQUIRE(table.at(s).tuple == t);
            ref.emplace(t, e.snd_nxt);
        } else {
            const TimeWaitTable::Slot s = table.slot_of(t);
            REQUIRE((s != TimeWaitTable::kNone) == (it != ref.end()));
            if (it == ref.end()) continue;
            REQUIRE(table.find(t)->snd_nxt == it->second);
            table.erase(s);
            ref.erase(it);
            REQUIRE(table.find(t) == nullptr);
        }
        REQUIRE(table.size() == ref.size());
    }
    std::map<FourTuple, std::uint32_t> seen;
    table.for_each([&](const TimeWaitSock& e) { seen.emplace(e.tuple, e.snd_nxt); });
    REQUIRE(seen == ref);
    REQUIRE(TimeWaitTable::bytes_per_entry() <= 84);
}

TEST_CASE("deadline queue: ids come due in the (deadline, key) order of a std::set over random operations", "[tables]") {
    // Coarse times so that deadlines tie often (the key decides), moves both ways (later: lazy,
    // earlier: in place), and ids reused under new keys after they leave, as the NAT's flows are.
    for (std::uint64_t spread : {3u, 40u, 5000u}) {
        Rng rng(spread + 11);
        net::DeadlineQueue q;
        std::vector<std::uint32_t> key;  // by id: its key (unique among queued ids)
        std::vector<std::uint32_t> free_ids;
        std::set<std::pair<SimTime, std::uint32_t>> ref;  // (deadline, key)
        std::map<std::uint32_t, std::uint32_t> id_of;     // key -> queued id
        auto tie = [&](std::uint32_t a, std::uint32_t b) { return key[a] < key[b]; };
        std::int64_t now = 0;
        auto at = [&](std::int64_t t) { return SimTime::from_ns(t); };
        auto ref_deadline = [&](std::uint32_t id) {
            for (const auto& [t, k] : ref)
                if (k == key[id]) return t;
            return SimTime::never();
        };
        for (int step = 0; step < 30000; ++step) {
            const std::uint64_t op = rng.below(10);
            if (op < 3 || id_of.empty()) {  // a new id, under a new key (keys in random order)
                std::uint32_t id;
                if (!free_ids.empty() && rng.below(2) == 0) {
                    id = free_ids.back();
                    free_ids.pop_back();
                } else {
                    id = static_cast<std::uint32_t>(key.size());
                    key.push_back(0);
                }
                do {
                    key[id] = static_cast<std::uint32_t>(rng.below(1u << 20));
                } while (id_of.count(key[id]) != 0);
                const SimTime d = at(now + static_cast<std::int64_t>(rng.below(spread)));
                q.set(id, d, tie);
                ref.emplace(d, key[id]);
                id_of.emplace(key[id], id);
            } else if (op < 6) {  // move a queued id's deadline, later or earlier
                auto it = std::next(id_of.begin(), static_cast<std::ptrdiff_t>(rng.below(id_of.size())));
                const std::uint32_t id = it->second;
                const SimTime d = at(now + static_cast<std::int64_t>(rng.below(spread)));
                ref.erase({ref_deadline(id), key[id]});
                ref.emplace(d, key[id]);
                q.set(id, d, tie);
            } else if (op < 7) {  // remove one
                auto it = std::next(id_of.begin(), static_cast<std::ptrdiff_t>(rng.below(id_of.size())));
                const std::uint32_t id = it->second;
                ref.erase({ref_deadline(id), key[id]});
                id_of.erase(it);
                q.erase(id, tie);
                REQUIRE(!q.contains(id));
                free_ids.push_back(id);
            } else if (op < 9) {  // time passes: everything due leaves in the set's order
                now += static_cast<std::int64_t>(rng.below(spread / 2 + 1));
                for (std::uint32_t id; (id = q.pop_due(at(now), tie)) != net::DeadlineQueue::kNone;) {
                    REQUIRE(!ref.empty());
                    REQUIRE(ref.begin()->first <= at(now));
                    REQUIRE(ref.begin()->second == key[id]);
                    ref.erase(ref.begin());
                    id_of.erase(key[id]);
                    free_ids.push_back(id);
                }
                REQUIRE((ref.empty() || ref.begin()->first > at(now)));
            } else {
                REQUIRE(q.next(tie) == (ref.empty() ? SimTime::never() : ref.begin()->first));
            }
            REQUIRE(q.size() == ref.size());
        }
        for (const auto& [k, id] : id_of) REQUIRE(q.deadline(id) == ref_deadline(id));
    }
}
