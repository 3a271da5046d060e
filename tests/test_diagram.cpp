// The state diagram built from the transition table: every state is reachable from CLOSED and
// CLOSED is reachable from every state (RFC 9293 Figure 5 has no dead ends), and the DOT export
// has one edge per row, marking exercised rows.
#include "fixture.hpp"

#include "teach/diagram.hpp"

#include <fmt/format.h>

#include <set>

using namespace tcpsim;
using tcp::State;

TEST_CASE("diagram: every state is reachable from CLOSED", "[diagram]") {
    const StateGraph g = build_state_graph();
    CHECK(boost::num_vertices(g) == tcp::kStateCount);
    CHECK(boost::num_edges(g) == tcp::kTransitions.size());
    const auto r = reachable_from(g, State::Closed);
    CHECK(r.size() == tcp::kStateCount);
}

TEST_CASE("diagram: CLOSED is reachable from every state", "[diagram]") {
    const StateGraph g = build_state_graph();
    const auto r = reaching(g, State::Closed);
    CHECK(r.size() == tcp::kStateCount);
}

TEST_CASE("diagram: the RFC 9293 Figure 5 edges are all in the table", "[diagram]") {
    // Figure 5, edge by edge (from, to).
    const std::pair<State, State> figure5[] = {
        {State::Closed, State::Listen},          {State::Closed, State::SynSent},
        {State::Listen, State::Closed},          {State::Listen, State::SynReceived},
        {State::Listen, State::SynSent},         {State::SynReceived, State::Established},
        {State::SynReceived, State::FinWait1},   {State::SynSent, State::SynReceived},
        {State::SynSent, State::Established},    {State::SynSent, State::Closed},
        {State::Established, State::FinWait1},   {State::Established, State::CloseWait},
        {State::FinWait1, State::FinWait2},      {State::FinWait1, State::Closing},
        {State::FinWait2, State::TimeWait},      {State::Closing, State::TimeWait},
        {State::TimeWait, State::Closed},        {State::CloseWait, State::LastAck},
        {State::LastAck, State::Closed},         {State::SynReceived, State::Listen},
    };
    for (const auto& [from, to] : figure5) {
        bool found = false;
        for (const auto& t : tcp::kTransitions) found = found || (t.from == from && t.to == to);
        INFO(tcp::to_string(from) << " -> " << tcp::to_string(to));
        CHECK(found);
    }
}

TEST_CASE("diagram: every row has an RFC reference, and no (from, trigger, to) appears twice", "[diagram]") {
    for (const auto& t : tcp::kTransitions) {
        CHECK_FALSE(t.rfc_ref.empty());
        CHECK(tcp::find_transition(t.from, t.trigger, t.to)->id == t.id);
    }
}

TEST_CASE("diagram: DOT output draws every row (one edge per state pair) and marks exercised rows", "[diagram]") {
    const StateGraph g = build_state_graph();
    const std::string plain = to_dot(g, nullptr);
    std::set<std::pair<State, State>> pairs;
    for (const auto& t : tcp::kTransitions) pairs.insert({t.from, t.to});
    std::size_t edges = 0;
    for (std::size_t p = plain.find(" -> s"); p != std::string::npos; p = plain.find(" -> s", p + 1)) ++edges;
    CHECK(edges == pairs.size() + kSelfLoops.size());  // and the self-loops (issue #24)
    for (const auto& t : tcp::kTransitions) {
        INFO("row " << t.id);
        CHECK(plain.find(fmt::format("row {}: ", t.id)) != std::string::npos);
    }
    std::vector<std::uint64_t> hits(tcp::kTransitions.size(), 0);
    hits[0] = 3;
    const std::string marked = to_dot(g, &hits);
    CHECK(marked.find("[x3]") != std::string::npos);
    CHECK(marked.find("penwidth=2.5") != std::string::npos);
    CHECK(to_dot(g, &hits) == marked);  // deterministic
}
