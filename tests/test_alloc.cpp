// "No per-event heap allocation in the hot path" (DESIGN.md §6), measured: the test binary counts
// every operator new; a long transfer runs tens of thousands of events with recording off, and
// the allocations during the run stay a small constant (container growth), not one per event.
#include "fixture.hpp"

#include "scenario/scenario.hpp"
#include "world/world.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}

// Every unaligned form is replaced, so that each allocation and its release meet in malloc/free
// (sanitizers check that they pair up).
void* operator new(std::size_t n) {
    ++g_allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++g_allocations;
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace tcpsim;

TEST_CASE("engine hot path: allocations do not grow with the number of events", "[alloc]") {
    // 20 MB over a lossy, jittery link: every segment, ACK, retransmission and timer is an event.
    const Scenario sc = parse_scenario(R"({"seed": 3, "duration": "600s",
        "hosts": [{"name": "a", "address": "10.0.0.1"}, {"name": "b", "address": "10.0.0.2"}],
        "links": [{"between": ["a", "b"], "latency": "1ms", "jitter": "1ms", "loss": 0.01}],
        "actions": [{"at": "0s", "host": "b", "call": "listen", "sock": "L", "port": 80},
                    {"at": "1ms", "host": "a", "call": "connect", "sock": "c", "to": "b:80"},
                    {"at": "10ms", "host": "a", "call": "send", "sock": "c", "bytes": 20000000},
                    {"at": "590s", "host": "a", "call": "close", "sock": "c"}]})",
                                       "alloc.json");
    World w(sc, false);
    const std::uint64_t before = g_allocations.load();
    w.run();
    const std::uint64_t during = g_allocations.load() - before;
    const std::uint64_t events = w.engine_counters().events_processed;
    INFO("events " << events << ", allocations during the run " << during);
    CHECK(events > 20'000);
    CHECK(during < 200);
}
