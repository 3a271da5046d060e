// The TCP state machine as data: one row per edge of RFC 9293's diagram (Figure 5) and of the
// SEGMENT ARRIVES / user-call text that the figure leaves out (§3.10), plus the edges that
// only a profile enables. The endpoint changes state only through Endpoint::transition_to(),
// which looks the edge up here; the same table builds the Boost.Graph diagram.
#pragma once

#include "tcp/state.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace tcpsim::tcp {

enum class Trigger : std::uint8_t {
    PassiveOpen,    // user OPEN, passive
    ActiveOpen,     // user OPEN, active
    Send,           // user SEND in LISTEN with a foreign socket
    Close,          // user CLOSE
    Abort,          // user ABORT (also close() with SO_LINGER {1,0} or unread data)
    RcvSyn,         // SYN without ACK
    RcvSynAck,      // SYN,ACK acknowledging our SYN
    RcvAck,         // ACK acknowledging our SYN or our FIN
    RcvFin,         // FIN (our FIN, if any, not acknowledged by it)
    RcvFinAck,      // FIN in a segment that also acknowledges our FIN
    RcvRst,         // acceptable RST
    RcvSynReset,    // SYN in the window of a synchronized state without RFC 5961: reset
    Timeout2Msl,    // TIME-WAIT timer
    FinWait2Timeout,  // orphaned FIN-WAIT-2 timer (tcp_fin_timeout)
    RetransmitLimit,  // retransmissions exhausted (user timeout, R2 / tcp_*retries)
    SynInTimeWait,    // SYN accepted in TIME-WAIT as a new incarnation (profile behaviour)
    RcvDataAfterClose,  // new data for a socket the application has closed (XNU: reset)
};
inline constexpr std::size_t kTriggerCount = 17;
static_assert(static_cast<std::size_t>(Trigger::RcvDataAfterClose) + 1 == kTriggerCount, "kTriggerCount: one per Trigger");

std::string_view to_string(Trigger t);

struct Transition {
    std::uint16_t id;          // index in kTransitions
    State from;
    Trigger trigger;
    State to;
    std::string_view action;   // what the RFC says to do on this edge ("snd SYN,ACK")
    std::string_view rfc_ref;  // the section that defines the edge
    bool profile_only;         // not an RFC 9293 default edge: only some profiles take it
};

namespace detail {
using S = State;
using T = Trigger;
inline constexpr std::array<Transition, 60> kTable = {{
    // -- OPEN, SEND, CLOSE, ABORT from the idle and handshake states (§3.10.1-§3.10.5)
    {0, S::Closed, T::PassiveOpen, S::Listen, "create TCB", "RFC 9293 §3.10.1", false},
    {0, S::Closed, T::ActiveOpen, S::SynSent, "snd SYN", "RFC 9293 §3.10.1", false},
    {0, S::Listen, T::Send, S::SynSent, "snd SYN", "RFC 9293 §3.10.2", false},
    {0, S::Listen, T::Close, S::Closed, "delete TCB", "RFC 9293 §3.10.4", false},
    {0, S::Listen, T::Abort, S::Closed, "delete TCB", "RFC 9293 §3.10.5", false},
    {0, S::SynSent, T::Close, S::Closed, "delete TCB", "RFC 9293 §3.10.4", false},
    {0, S::SynSent, T::Abort, S::Closed, "delete TCB", "RFC 9293 §3.10.5", false},
    {0, S::SynReceived, T::Close, S::FinWait1, "snd FIN", "RFC 9293 §3.10.4", false},
    {0, S::SynReceived, T::Abort, S::Closed, "snd RST", "RFC 9293 §3.10.5", false},
    // -- handshake (§3.10.7.2, §3.10.7.3, §3.10.7.4 fifth step)
    {0, S::Listen, T::RcvSyn, S::SynReceived, "snd SYN,ACK", "RFC 9293 §3.10.7.2", false},
    {0, S::SynSent, T::RcvSynAck, S::Established, "snd ACK", "RFC 9293 §3.10.7.3", false},
    {0, S::SynSent, T::RcvSyn, S::SynReceived, "snd SYN,ACK (simultaneous open)", "RFC 9293 §3.10.7.3", false},
    {0, S::SynSent, T::RcvRst, S::Closed, "ECONNREFUSED", "RFC 9293 §3.10.7.3", false},
    {0, S::SynSent, T::RetransmitLimit, S::Closed, "ETIMEDOUT", "RFC 9293 §3.8.3; RFC 1122 4.2.3.5", false},
    {0, S::SynReceived, T::RcvAck, S::Established, "-", "RFC 9293 §3.10.7.4", false},
    {0, S::SynReceived, T::RcvRst, S::Listen, "return to LISTEN (passive OPEN)", "RFC 9293 §3.10.7.4", false},
    {0, S::SynReceived, T::RcvRst, S::Closed, "ECONNREFUSED (active OPEN)", "RFC 9293 §3.10.7.4", false},
    {0, S::SynReceived, T::RcvSyn, S::Listen, "return to LISTEN (passive OPEN)", "RFC 9293 §3.10.7.4", false},
    {0, S::SynReceived, T::RetransmitLimit, S::Closed, "ETIMEDOUT", "RFC 9293 §3.8.3", false},
    // -- ESTABLISHED and the active close
    {0, S::Established, T::Close, S::FinWait1, "snd FIN", "RFC 9293 §3.10.4", false},
    {0, S::Established, T::RcvFin, S::CloseWait, "snd ACK", "RFC 9293 §3.10.7.4", false},
    {0, S::Established, T::RcvRst, S::Closed, "ECONNRESET", "RFC 9293 §3.10.7.4", false},
    {0, S::Established, T::Abort, S::Closed, "snd RST", "RFC 9293 §3.10.5", false},
    {0, S::Established, T::RetransmitLimit, S::Closed, "ETIMEDOUT", "RFC 9293 §3.8.3", false},
    {0, S::Established, T::RcvSynReset, S::Closed, "snd RST", "RFC 9293 §3.10.7.4 (without RFC 5961)", true},
    {0, S::FinWait1, T::RcvAck, S::FinWait2, "-", "RFC 9293 §3.10.7.4", false},
    {0, S::FinWait1, T::RcvFin, S::Closing, "snd ACK (simultaneous close)", "RFC 9293 §3.10.7.4", false},
    {0, S::FinWait1, T::RcvFinAck, S::TimeWait, "snd ACK", "RFC 9293 §3.10.7.4", false},
    {0, S::FinWait1, T::RcvRst, S::Closed, "ECONNRESET", "RFC 9293 §3.10.7.4", false},
    {0, S::FinWait1, T::Abort, S::Closed, "snd RST", "RFC 9293 §3.10.5", false},
    {0, S::FinWait1, T::RetransmitLimit, S::Closed, "ETIMEDOUT", "RFC 9293 §3.8.3", false},
    {0, S::FinWait1, T::RcvSynReset, S::Closed, "snd RST", "RFC 9293 §3.10.7.4 (without RFC 5961)", true},
    {0, S::FinWait2, T::RcvFin, S::TimeWait, "snd ACK", "RFC 9293 §3.10.7.4", false},
    {0, S::FinWait2, T::RcvRst, S::Closed, "ECONNRESET", "RFC 9293 §3.10.7.4", false},
    {0, S::FinWait2, T::Abort, S::Closed, "snd RST", "RFC 9293 §3.10.5", false},
    {0, S::FinWait2, T::FinWait2Timeout, S::Closed, "orphan timeout", "Linux tcp_fin_timeout (ip-sysctl.rst)", false},
    {0, S::FinWait2, T::RcvSynReset, S::Closed, "snd RST", "RFC 9293 §3.10.7.4 (without RFC 5961)", true},
    {0, S::Closing, T::RcvAck, S::TimeWait, "-", "RFC 9293 §3.10.7.4", false},
    {0, S::Closing, T::RcvRst, S::Closed, "-", "RFC 9293 §3.10.7.4", false},
    {0, S::Closing, T::Abort, S::Closed, "-", "RFC 9293 §3.10.5", false},
    {0, S::Closing, T::RetransmitLimit, S::Closed, "ETIMEDOUT", "RFC 9293 §3.8.3", false},
    {0, S::Closing, T::RcvSynReset, S::Closed, "snd RST", "RFC 9293 §3.10.7.4 (without RFC 5961)", true},
    {0, S::TimeWait, T::Timeout2Msl, S::Closed, "delete TCB", "RFC 9293 §3.10.8", false},
    {0, S::TimeWait, T::RcvRst, S::Closed, "TIME-WAIT assassination (RFC 1337 H3)", "RFC 9293 §3.10.7.4", false},
    {0, S::TimeWait, T::Abort, S::Closed, "-", "RFC 9293 §3.10.5", false},
    {0, S::TimeWait, T::SynInTimeWait, S::SynReceived, "snd SYN,ACK (new incarnation)", "RFC 9293 §3.10.7.4; RFC 6191; RFC 1122 4.2.2.13", true},
    {0, S::TimeWait, T::RcvSynReset, S::Closed, "snd RST", "RFC 9293 §3.10.7.4 (without RFC 5961)", true},
    {0, S::TimeWait, T::SynInTimeWait, S::Closed, "look the SYN up again", "FreeBSD tcp_twcheck()", true},
    // -- the passive close
    {0, S::CloseWait, T::Close, S::LastAck, "snd FIN", "RFC 9293 §3.10.4", false},
    {0, S::CloseWait, T::RcvRst, S::Closed, "ECONNRESET", "RFC 9293 §3.10.7.4", false},
    {0, S::CloseWait, T::Abort, S::Closed, "snd RST", "RFC 9293 §3.10.5", false},
    {0, S::CloseWait, T::RetransmitLimit, S::Closed, "ETIMEDOUT", "RFC 9293 §3.8.3", false},
    {0, S::CloseWait, T::RcvSynReset, S::Closed, "snd RST", "RFC 9293 §3.10.7.4 (without RFC 5961)", true},
    {0, S::LastAck, T::RcvAck, S::Closed, "delete TCB", "RFC 9293 §3.10.7.4", false},
    {0, S::LastAck, T::RcvRst, S::Closed, "-", "RFC 9293 §3.10.7.4", false},
    {0, S::LastAck, T::Abort, S::Closed, "-", "RFC 9293 §3.10.5", false},
    {0, S::LastAck, T::RetransmitLimit, S::Closed, "ETIMEDOUT", "RFC 9293 §3.8.3", false},
    {0, S::LastAck, T::RcvSynReset, S::Closed, "snd RST", "RFC 9293 §3.10.7.4 (without RFC 5961)", true},
    // -- SYN-RECEIVED reached by a simultaneous open, reset by a SYN without RFC 5961
    {0, S::SynReceived, T::RcvSynReset, S::Closed, "snd RST (active OPEN)", "RFC 9293 §3.10.7.4 (without RFC 5961)", true},
    // -- XNU: new data reaching a TIME-WAIT whose socket is closed (tcp_input() tcps_rcvafterclose)
    {0, S::TimeWait, T::RcvDataAfterClose, S::Closed, "snd RST", "XNU tcp_input() (dropwithreset)", true},
}};

constexpr std::array<Transition, kTable.size()> numbered() {
    auto t = kTable;
    for (std::size_t i = 0; i < t.size(); ++i) t[i].id = static_cast<std::uint16_t>(i);
    return t;
}
}  // namespace detail

inline constexpr std::array<Transition, detail::kTable.size()> kTransitions = detail::numbered();

namespace detail {
// Every transition_to() looks its row up, so the lookup is one load: a dense index by
// (from, trigger, to) -> row id, built from kTransitions at compile time (11 x 17 x 11 bytes).
inline constexpr std::uint8_t kNoRow = 0xFF;
static_assert(kTransitions.size() < kNoRow, "row ids must fit the index's bytes");

constexpr std::size_t edge_key(State from, Trigger trigger, State to) {
    return (static_cast<std::size_t>(from) * kTriggerCount + static_cast<std::size_t>(trigger)) * kStateCount +
           static_cast<std::size_t>(to);
}

constexpr std::array<std::uint8_t, kStateCount * kTriggerCount * kStateCount> edge_index() {
    std::array<std::uint8_t, kStateCount * kTriggerCount * kStateCount> index{};
    for (auto& slot : index) slot = kNoRow;
    for (const Transition& t : kTransitions) {
        auto& slot = index[edge_key(t.from, t.trigger, t.to)];
        // A (from, trigger, to) twice in the table would make the lookup ambiguous: this throw
        // in a constant expression stops the build.
        if (slot != kNoRow) throw "tcpsim: duplicate (from, trigger, to) in the transition table";
        slot = static_cast<std::uint8_t>(t.id);
    }
    return index;
}

inline constexpr auto kEdgeIndex = edge_index();
}  // namespace detail

// The row for (from, trigger, to), or nullptr when the table has none.
constexpr const Transition* find_transition(State from, Trigger trigger, State to) {
    const std::uint8_t row = detail::kEdgeIndex[detail::edge_key(from, trigger, to)];
    return row == detail::kNoRow ? nullptr : &kTransitions[row];
}

}  // namespace tcpsim::tcp
