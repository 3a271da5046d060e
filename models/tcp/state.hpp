// The eleven connection states of RFC 9293 §3.3.2, Figure 5.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tcpsim::tcp {

enum class State : std::uint8_t {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
};
inline constexpr std::size_t kStateCount = 11;
static_assert(static_cast<std::size_t>(State::TimeWait) + 1 == kStateCount, "kStateCount: one per State");

inline constexpr std::array<State, kStateCount> kAllStates = {
    State::Closed,    State::Listen,   State::SynSent,   State::SynReceived,
    State::Established, State::FinWait1, State::FinWait2, State::CloseWait,
    State::Closing,   State::LastAck,  State::TimeWait,
};

// RFC spelling, as people read it ("SYN-RECEIVED", "TIME-WAIT").
constexpr std::string_view to_string(State s) {
    switch (s) {
        case State::Closed: return "CLOSED";
        case State::Listen: return "LISTEN";
        case State::SynSent: return "SYN-SENT";
        case State::SynReceived: return "SYN-RECEIVED";
        case State::Established: return "ESTABLISHED";
        case State::FinWait1: return "FIN-WAIT-1";
        case State::FinWait2: return "FIN-WAIT-2";
        case State::CloseWait: return "CLOSE-WAIT";
        case State::Closing: return "CLOSING";
        case State::LastAck: return "LAST-ACK";
        case State::TimeWait: return "TIME-WAIT";
    }
    return "?";
}

// RFC 9293 §3.3.2: "synchronized" states are ESTABLISHED and after.
constexpr bool is_synchronized(State s) {
    switch (s) {
        case State::Closed:
        case State::Listen:
        case State::SynSent:
        case State::SynReceived: return false;
        case State::Established:
        case State::FinWait1:
        case State::FinWait2:
        case State::CloseWait:
        case State::Closing:
        case State::LastAck:
        case State::TimeWait: return true;
    }
    return false;
}

}  // namespace tcpsim::tcp
