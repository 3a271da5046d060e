#include "teach/trace.hpp"

#include "tcp/transitions.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

namespace tcpsim {

namespace {

constexpr int kStateWidth = 12;
constexpr int kMiddleWidth = 60;

std::string short_ref(std::string_view ref) {
    std::string s(ref);
    const std::string prefix = "RFC 9293 ";
    if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
    const auto semi = s.find(';');
    if (semi != std::string::npos) s = s.substr(0, semi);
    return s;
}

// Word-wraps text into lines of at most `width` columns.
std::string wrap(const std::string& text, std::size_t width) {
    std::string out, line;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = text.find(' ', i);
        if (j == std::string::npos) j = text.size();
        const std::string word = text.substr(i, j - i);
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
        i = j + 1;
    }
    if (!line.empty()) out += line + "\n";
    return out;
}

std::string sock_prefix(const TraceRecord& r) { return r.socket.empty() ? "" : r.socket + ": "; }

// The event text and whether it sits on the left host's side.
std::string middle(const TraceRecord& r, bool left) {
    const std::string seg = tcp::format_segment(r.seg);
    switch (r.kind) {
        case RecordKind::Call: return sock_prefix(r) + r.text;
        case RecordKind::Send: {
            if (r.text.empty()) return left ? seg + " -->" : "<-- " + seg;
            return left ? seg + " --> (" + r.text + ")" : "(" + r.text + ") <-- " + seg;
        }
        case RecordKind::Drop: return left ? seg + " --X dropped" : "dropped X-- " + seg;
        case RecordKind::Lost: return left ? seg + " --X lost" : "lost X-- " + seg;
        case RecordKind::Arrive: return left ? seg + " <--" : "--> " + seg;
        case RecordKind::Transition: {
            const auto& row = tcp::kTransitions[static_cast<std::size_t>(r.row)];
            return fmt::format("{}{} -> {} ({}, {})", sock_prefix(r), tcp::to_string(r.from), tcp::to_string(r.to),
                               r.text, short_ref(row.rfc_ref));
        }
        case RecordKind::TimerSet:
            return fmt::format("{}timer {} set, fires at {}", sock_prefix(r), r.text, format_seconds(r.deadline));
        case RecordKind::TimerFire: return fmt::format("{}timer {} fired", sock_prefix(r), r.text);
        case RecordKind::Notice: return fmt::format("{}app told: {}", sock_prefix(r), r.text);
        case RecordKind::Stack: return sock_prefix(r) + r.text;
    }
    return "";
}

}  // namespace

std::string format_ladder(const TraceHeader& h, const std::vector<TraceRecord>& records) {
    std::string out;
    out += fmt::format("tcpsim trace: {} (seed {})\n", h.scenario, h.seed);
    if (!h.name.empty()) out += fmt::format("{}\n", h.name);
    if (!h.description.empty()) out += wrap(h.description, 98);
    if (h.all_hosts.size() > 2) {
        std::string others;
        for (std::size_t i = 2; i < h.all_hosts.size(); ++i) others += (i > 2 ? ", " : "") + h.all_hosts[i].first;
        out += wrap(fmt::format("This scenario has {} hosts: the columns show {} (left) and {} (right); the events of {} are "
                                "marked [NAME]. trace --svg FILE draws every host.",
                                h.all_hosts.size(), h.host_names[0], h.host_names[1], others),
                    98);
    }
    out += "\n";
    const std::string left_title = h.host_names[0];
    const std::string right_title = h.host_names[1];
    out += fmt::format("{:>10}  {:<{}} {:<{}}  {:>{}}\n", "time (s)", left_title, kStateWidth,
                       fmt::format("{}  <->  {}", h.host_addrs[0], h.host_addrs[1]), kMiddleWidth, right_title,
                       kStateWidth);
    out += fmt::format("{}\n", std::string(10 + 2 + kStateWidth + 1 + kMiddleWidth + 2 + kStateWidth, '-'));
    for (const TraceRecord& r : records) {
        const bool left = r.host == 0;
        std::string m = middle(r, left);
        if (r.host > 1)
            m = fmt::format("[{}] {}", static_cast<std::size_t>(r.host) < h.all_hosts.size() ? h.all_hosts[static_cast<std::size_t>(r.host)].first
                                                                                               : fmt::format("host {}", r.host),
                            m);
        const std::string cell = left ? fmt::format("{:<{}}", m, kMiddleWidth) : fmt::format("{:>{}}", m, kMiddleWidth);
        const std::string_view ls = h.has_state[0] ? tcp::to_string(r.states[0]) : "";
        const std::string_view rs = h.has_state[1] ? tcp::to_string(r.states[1]) : "";
        out += fmt::format("{:>10}  {:<{}} {}  {:>{}}\n", format_seconds(r.time), ls, kStateWidth, cell, rs, kStateWidth);
    }
    return out;
}

std::string format_trace_json(const TraceHeader& h, const std::vector<TraceRecord>& records) {
    using J = nlohmann::ordered_json;
    J doc;
    doc["scenario"] = h.scenario;
    doc["name"] = h.name;
    doc["seed"] = h.seed;
    doc["hosts"] = J::array();
    for (int i = 0; i < 2; ++i)
        doc["hosts"].push_back(J{{"name", h.host_names[static_cast<std::size_t>(i)]},
                                 {"address", h.host_addrs[static_cast<std::size_t>(i)]}});
    J events = J::array();
    for (const TraceRecord& r : records) {
        J e;
        e["time_ns"] = r.time.ns();
        e["time"] = format_seconds(r.time);
        e["kind"] = std::string(to_string(r.kind));
        e["host"] = r.host < 2 ? h.host_names[static_cast<std::size_t>(r.host)]
                    : static_cast<std::size_t>(r.host) < h.all_hosts.size() ? h.all_hosts[static_cast<std::size_t>(r.host)].first
                                                                            : fmt::format("host{}", r.host);
        e["socket"] = r.socket;
        switch (r.kind) {
            case RecordKind::Send:
            case RecordKind::Drop:
            case RecordKind::Lost:
            case RecordKind::Arrive: {
                J s;
                s["src"] = tcp::format_addr(r.seg.src);
                s["dst"] = tcp::format_addr(r.seg.dst);
                s["flags"] = tcp::format_flags(r.seg.flags);
                s["seq"] = r.seg.seq;
                s["ack"] = r.seg.ack_set() ? J(r.seg.ack) : J(nullptr);
                s["len"] = r.seg.len;
                s["win"] = r.seg.wnd;
                if (r.seg.mss != 0) s["mss"] = r.seg.mss;
                if (r.seg.has_ts) s["ts"] = J{{"val", r.seg.tsval}, {"ecr", r.seg.tsecr}};
                e["segment"] = s;
                if (!r.text.empty()) e["note"] = r.text;
                break;
            }
            case RecordKind::Transition: {
                const auto& row = tcp::kTransitions[static_cast<std::size_t>(r.row)];
                e["from"] = std::string(tcp::to_string(r.from));
                e["to"] = std::string(tcp::to_string(r.to));
                e["trigger"] = std::string(tcp::to_string(row.trigger));
                e["row"] = r.row;
                e["rfc"] = std::string(row.rfc_ref);
                e["why"] = r.text;
                break;
            }
            case RecordKind::TimerSet:
                e["timer"] = r.text;
                e["deadline_ns"] = r.deadline.ns();
                break;
            case RecordKind::TimerFire: e["timer"] = r.text; break;
            case RecordKind::Call:
            case RecordKind::Notice:
            case RecordKind::Stack: e["text"] = r.text; break;
        }
        e["states"] = J{{h.host_names[0], std::string(tcp::to_string(r.states[0]))},
                        {h.host_names[1], std::string(tcp::to_string(r.states[1]))}};
        events.push_back(e);
    }
    doc["events"] = events;
    return doc.dump(2) + "\n";
}

}  // namespace tcpsim
