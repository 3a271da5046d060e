// The state diagram as a Boost.Graph graph built from the transition table: Graphviz export
// (optionally marking the edges a run exercised) and reachability checks.
#pragma once

#include "tcp/state.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <cstdint>
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

// Graphviz DOT. With `hits` (one count per table row), exercised edges are drawn bold and
// labelled with their count; the others are grey.
std::string to_dot(const StateGraph& g, const std::vector<std::uint64_t>* hits);

}  // namespace tcpsim
