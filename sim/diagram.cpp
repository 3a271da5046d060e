#include "diagram.hpp"

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

std::string to_dot(const StateGraph& g, const std::vector<std::uint64_t>* hits) {
    std::string out = "digraph tcp {\n";
    out += "  graph [label=\"TCP connection states (RFC 9293)";
    out += hits ? ": bold edges were exercised by the run, [xN] how often" : "";
    out += "\\n(trigger / action; * only in some profiles)";
    out += "\", labelloc=t, fontname=\"Helvetica\", rankdir=TB];\n";
    out += "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
    out += "  edge [fontname=\"Helvetica\", fontsize=9];\n";
    for (tcp::State s : tcp::kAllStates)
        out += fmt::format("  s{} [label=\"{}\"];\n", static_cast<int>(s), tcp::to_string(s));
    // One drawn edge per (from, to) pair, its label listing every row between them, in row
    // order, so the output never depends on container order. (The graph keeps one edge per row.)
    std::map<std::pair<std::size_t, std::size_t>, std::vector<std::uint16_t>> pairs;
    std::map<std::uint16_t, std::pair<std::size_t, std::size_t>> by_row;
    for (auto [e, end] = boost::edges(g); e != end; ++e) by_row[g[*e].row] = {boost::source(*e, g), boost::target(*e, g)};
    for (const auto& [row, st] : by_row) pairs[st].push_back(row);
    for (const auto& [st, rows] : pairs) {
        std::string label, tooltip;
        bool all_profile = true, any_hit = false;
        for (std::uint16_t row : rows) {
            const tcp::Transition& t = tcp::kTransitions[row];
            all_profile = all_profile && t.profile_only;
            std::string item = fmt::format("{} / {}", tcp::to_string(t.trigger), t.action);
            if (t.profile_only) item += " *";
            if (hits && (*hits)[row] > 0) {
                item += fmt::format(" [x{}]", (*hits)[row]);
                any_hit = true;
            }
            label += (label.empty() ? "" : "\\n") + item;
            tooltip += fmt::format("{}row {}: {}", tooltip.empty() ? "" : "; ", row, t.rfc_ref);
        }
        std::string attrs;
        if (all_profile) attrs += ", style=dashed";
        if (hits) {
            attrs += any_hit ? ", penwidth=2.5, color=\"#c0392b\", fontcolor=\"#c0392b\""
                             : ", color=\"#b0b0b0\", fontcolor=\"#b0b0b0\"";
        }
        out += fmt::format("  s{} -> s{} [label=\"{}\", tooltip=\"{}\"{}];\n", st.first, st.second, label, tooltip, attrs);
    }
    out += "}\n";
    return out;
}

}  // namespace tcpsim
