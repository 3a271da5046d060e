// What a run records, one record per event (user call, segment sent / lost / arrived, state
// transition, timer started / fired, notification), with the states of the two traced endpoints
// after the event. The world writes them; the printers of teach/trace.hpp turn them into a ladder
// for people and JSON for tools, and neither changes the world (DESIGN.md §1).
#pragma once

#include "tcp/segment.hpp"
#include "tcp/state.hpp"

#include <tcpsim/time.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tcpsim {

enum class RecordKind : std::uint8_t {
    Call,        // a user call and its result
    Send,        // a segment leaves a host
    Drop,        // a segment is dropped by a targeted drop rule
    Lost,        // a segment is lost at random on a link
    Arrive,      // a segment reaches a host
    Transition,  // a state change, with its table row
    TimerSet,    // a timer started (or restarted)
    TimerFire,   // a timer fired
    Notice,      // what the application is told
    Stack,       // what the host's stack does without a full socket (its mini-sockets)
};
constexpr std::string_view to_string(RecordKind k) {
    switch (k) {
        case RecordKind::Call: return "call";
        case RecordKind::Send: return "send";
        case RecordKind::Drop: return "drop";
        case RecordKind::Lost: return "lost";
        case RecordKind::Arrive: return "arrive";
        case RecordKind::Transition: return "transition";
        case RecordKind::TimerSet: return "timer-set";
        case RecordKind::TimerFire: return "timer-fire";
        case RecordKind::Notice: return "notice";
        case RecordKind::Stack: return "stack";
    }
    return "?";
}

struct TraceRecord {
    SimTime time;
    RecordKind kind = RecordKind::Call;
    int host = 0;             // host index in the scenario
    std::string socket;       // socket name on that host
    std::string text;         // call, notice, timer or transition text
    tcp::Segment seg;         // Send, Drop, Lost, Arrive
    int row = -1;             // Transition: table row id
    tcp::State from = tcp::State::Closed, to = tcp::State::Closed;  // Transition
    SimTime deadline;         // TimerSet
    std::array<tcp::State, 2> states{tcp::State::Closed, tcp::State::Closed};  // traced endpoints after the event
};

struct TraceHeader {
    std::string scenario;
    std::string name;
    std::string description;
    std::uint64_t seed = 0;
    std::array<std::string, 2> host_names;
    std::array<std::string, 2> host_addrs;
    std::array<bool, 2> has_state{true, true};  // false: a peer with no TCP state (a script's peer)
    // Every host of the scenario (name, address), for more than two (the SVG ladder draws them all).
    std::vector<std::pair<std::string, std::string>> all_hosts;
};

}  // namespace tcpsim
