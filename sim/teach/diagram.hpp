// The state diagram as a Boost.Graph graph built from the transition table: Graphviz export
// (optionally marking the edges a run exercised) and reachability checks.
#pragma once

#include "tcp/state.hpp"
#include "world/trace_record.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <array>
#include <cstdint>
#include <string_view>
#include <string>
#include <vector>

namespace tcpsim {

struct EdgeProps {
    std::uint16_t row = 0;  // transition-table row id
};
using StateGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, tcp::State, EdgeProps>;

// One vertex per state (vertex index == static_cast<int>(State)), one edge per table row.
StateGraph build_state_graph();

// States reachable from `from` following edges forward.
std::vector<tcp::State> reachable_from(const StateGraph& g, tcp::State from);
// States from which `to` can be reached.
std::vector<tcp::State> reaching(const StateGraph& g, tcp::State to);

// Events that leave a socket in its state (no table row: the state does not change), drawn as
// self-loops: a retransmission on RTO, and TIME-WAIT re-ACKing a retransmitted FIN and restarting
// its 2*MSL timer (RFC 9293 §3.10.7.4).
struct SelfLoop {
    tcp::State state;
    std::string_view trigger, action, rfc_ref;
};
inline constexpr std::array<SelfLoop, 7> kSelfLoops{{
    {tcp::State::SynSent, "RTO", "resend SYN", "RFC 9293 §3.8.1; RFC 6298"},
    {tcp::State::SynReceived, "RTO", "resend SYN,ACK", "RFC 9293 §3.8.1; RFC 6298"},
    {tcp::State::Established, "RTO", "resend data", "RFC 9293 §3.8.1; RFC 6298"},
    {tcp::State::FinWait1, "RTO", "resend FIN", "RFC 9293 §3.8.1; RFC 6298"},
    {tcp::State::Closing, "RTO", "resend FIN", "RFC 9293 §3.8.1; RFC 6298"},
    {tcp::State::LastAck, "RTO", "resend FIN", "RFC 9293 §3.8.1; RFC 6298"},
    {tcp::State::TimeWait, "FIN again", "snd ACK, restart 2*MSL", "RFC 9293 §3.10.7.4"},
}};
// How often a traced run took each self-loop (one count per kSelfLoops entry), read from its
// records: an RTO that fired in the state, a 2*MSL timer set again while in TIME-WAIT.
std::vector<std::uint64_t> self_loop_hits(const std::vector<TraceRecord>& records);

// Graphviz DOT. With `hits` (one count per table row), each row a run took is its own bold edge
// labelled with its count, and the rows it did not take are grey (merged per pair of states).
// `loop_hits` (one per kSelfLoops entry) marks the self-loops the same way.
std::string to_dot(const StateGraph& g, const std::vector<std::uint64_t>* hits,
                   const std::vector<std::uint64_t>* loop_hits = nullptr);

}  // namespace tcpsim
