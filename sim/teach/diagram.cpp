#include "teach/diagram.hpp"

#include "tcp/transitions.hpp"

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>

#include <fmt/format.h>

#include <map>

namespace tcpsim {

StateGraph build_state_graph() {
    StateGraph g(tcp::kStateCount);
    for (tcp::State s : tcp::kAllStates) g[static_cast<std::size_t>(s)] = s;
    for (const tcp::Transition& t : tcp::kTransitions)
        boost::add_edge(static_cast<std::size_t>(t.from), static_cast<std::size_t>(t.to), EdgeProps{t.id}, g);
    return g;
}

namespace {
template <class Graph>
std::vector<tcp::State> bfs_states(const Graph& g, tcp::State start) {
    std::vector<boost::default_color_type> color(boost::num_vertices(g));
    auto cmap = boost::make_iterator_property_map(color.begin(), boost::get(boost::vertex_index, g));
    boost::breadth_first_search(g, static_cast<std::size_t>(start), boost::color_map(cmap));
    std::vector<tcp::State> out;
    for (tcp::State s : tcp::kAllStates)
        if (color[static_cast<std::size_t>(s)] != boost::white_color) out.push_back(s);
    return out;
}
}  // namespace

std::vector<tcp::State> reachable_from(const StateGraph& g, tcp::State from) { return bfs_states(g, from); }

std::vector<tcp::State> reaching(const StateGraph& g, tcp::State to) {
    return bfs_states(boost::make_reverse_graph(g), to);
}

std::vector<std::uint64_t> self_loop_hits(const std::vector<TraceRecord>& records) {
    std::vector<std::uint64_t> hits(kSelfLoops.size(), 0);
    std::map<std::pair<int, std::string>, tcp::State> state;  // (host, socket) -> its state
    std::map<std::pair<int, std::string>, bool> tw_timer;      // 2*MSL already set in this TIME-WAIT
    auto count = [&](tcp::State st, bool time_wait) {
        for (std::size_t i = 0; i < kSelfLoops.size(); ++i)
            if (kSelfLoops[i].state == st && (kSelfLoops[i].trigger == "RTO") != time_wait) ++hits[i];
    };
    for (const TraceRecord& r : records) {
        const auto key = std::make_pair(r.host, r.socket);
        if (r.kind == RecordKind::Transition) {
            state[key] = r.to;
            tw_timer[key] = false;
        } else if (r.kind == RecordKind::TimerFire && r.text == "RTO" && state.count(key)) {
            count(state[key], false);
        } else if (r.kind == RecordKind::TimerSet && r.text == "2MSL" && state.count(key) && state[key] == tcp::State::TimeWait) {
            if (tw_timer[key]) count(tcp::State::TimeWait, true);
            tw_timer[key] = true;
        }
    }
    return hits;
}

namespace {
const char* kHitStyle = ", penwidth=2.5, color=\"#c0392b\", fontcolor=\"#c0392b\"";
const char* kMissStyle = ", color=\"#b0b0b0\", fontcolor=\"#b0b0b0\"";

std::string row_item(std::uint16_t row, const std::vector<std::uint64_t>* hits) {
    const tcp::Transition& t = tcp::kTransitions[row];
    std::string item = fmt::format("{} / {}", tcp::to_string(t.trigger), t.action);
    if (t.profile_only) item += " *";
    if (hits && (*hits)[row] > 0) item += fmt::format(" [x{}]", (*hits)[row]);
    return item;
}

// One drawn edge for `rows` (all between one pair of states).
std::string edge(std::pair<std::size_t, std::size_t> st, const std::vector<std::uint16_t>& rows, const std::vector<std::uint64_t>* hits,
                 bool hit) {
    std::string label, tooltip;
    bool all_profile = true;
    for (std::uint16_t row : rows) {
        const tcp::Transition& t = tcp::kTransitions[row];
        all_profile = all_profile && t.profile_only;
        label += (label.empty() ? "" : "\\n") + row_item(row, hits);
        tooltip += fmt::format("{}row {}: {}", tooltip.empty() ? "" : "; ", row, t.rfc_ref);
    }
    std::string attrs;
    if (all_profile) attrs += ", style=dashed";
    if (hits) attrs += hit ? kHitStyle : kMissStyle;
    return fmt::format("  s{} -> s{} [label=\"{}\", tooltip=\"{}\"{}];\n", st.first, st.second, label, tooltip, attrs);
}
}  // namespace

std::string to_dot(const StateGraph& g, const std::vector<std::uint64_t>* hits, const std::vector<std::uint64_t>* loop_hits) {
    std::string out = "digraph tcp {\n";
    out += "  graph [label=\"TCP connection states (RFC 9293)";
    out += hits ? ": bold edges are the rules the run took, [xN] how often" : "";
    out += "\\n(trigger / action; * only in some profiles; loops: the state stays)";
    out += "\", labelloc=t, fontname=\"Helvetica\", rankdir=TB];\n";
    out += "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
    out += "  edge [fontname=\"Helvetica\", fontsize=9];\n";
    for (tcp::State s : tcp::kAllStates)
        out += fmt::format("  s{} [label=\"{}\"];\n", static_cast<int>(s), tcp::to_string(s));
    // One drawn edge per (from, to) pair, its label listing every row between them, in row
    // order, so the output never depends on container order. (The graph keeps one edge per row.)
    // Marked by a run, each row it took is an edge of its own: the rule, not the merged pair.
    std::map<std::pair<std::size_t, std::size_t>, std::vector<std::uint16_t>> pairs;
    std::map<std::uint16_t, std::pair<std::size_t, std::size_t>> by_row;
    for (auto [e, end] = boost::edges(g); e != end; ++e) by_row[g[*e].row] = {boost::source(*e, g), boost::target(*e, g)};
    for (const auto& [row, st] : by_row) pairs[st].push_back(row);
    for (const auto& [st, rows] : pairs) {
        std::vector<std::uint16_t> missed;
        for (std::uint16_t row : rows) {
            if (hits && (*hits)[row] > 0) out += edge(st, {row}, hits, true);
            else missed.push_back(row);
        }
        if (!missed.empty()) out += edge(st, missed, hits, false);
    }
    // Self-loops: events that keep the state.
    for (std::size_t i = 0; i < kSelfLoops.size(); ++i) {
        const SelfLoop& l = kSelfLoops[i];
        const auto n = static_cast<int>(l.state);
        const std::uint64_t k = loop_hits && i < loop_hits->size() ? (*loop_hits)[i] : 0;
        std::string label = fmt::format("{} / {}", l.trigger, l.action);
        if (k > 0) label += fmt::format(" [x{}]", k);
        std::string attrs = ", style=dotted";
        if (hits || loop_hits) attrs = k > 0 ? std::string(", style=bold") + kHitStyle : std::string(", style=dotted") + kMissStyle;
        out += fmt::format("  s{} -> s{} [label=\"{}\", tooltip=\"{}\"{}];\n", n, n, label, l.rfc_ref, attrs);
    }
    out += "}\n";
    return out;
}

}  // namespace tcpsim
