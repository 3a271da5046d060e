// The lookup tables under the host model: the open-addressing 4-tuple index, the chunked array
// and the TIME-WAIT table, each checked against a plain std::map / std::vector reference over
// long random sequences of operations (the reference is the ground truth here).
#include "host/time_wait_table.hpp"
#include "host/tuple_index.hpp"

#include <tcpsim/chunked_vector.hpp>
#include <tcpsim/rng.hpp>

#include <catch2/catch.hpp>

#include <map>
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
