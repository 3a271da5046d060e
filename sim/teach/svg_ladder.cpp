// The ladder as a picture (issue #24): an SVG sequence chart for slides. Hosts are lifelines
// coloured by the state of their socket; segments are slanted arrows from the moment they are
// sent to the moment they arrive, labelled as in the text ladder; a dropped or lost segment ends
// in a red cross half way. Time runs down, one band per distinct simulated time (not to scale:
// a long quiet stretch such as TIME-WAIT's 2*MSL is a break marked with its length).
#include "tcp/transitions.hpp"
#include "teach/trace.hpp"

#include "base/xml_escape.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

namespace tcpsim {
namespace {

constexpr int kSlot = 14;          // one annotation line or arrow end
constexpr int kBandPad = 10;       // space between time bands
constexpr int kGap = 480;          // between lifelines
constexpr int kOuter = 330;        // room for the outer hosts' annotations
constexpr int kTimeCol = 90;       // the time labels
constexpr int kTop = 96;           // title and host names
constexpr double kCharW = 6.7;     // 11 px monospace

std::string esc(std::string_view s) { return xml_escape(s); }

const char* state_colour(tcp::State s) {
    switch (s) {
        case tcp::State::Closed: return "#b0b0b0";
        case tcp::State::Listen: return "#7fb3e0";
        case tcp::State::SynSent:
        case tcp::State::SynReceived: return "#e8c547";
        case tcp::State::Established: return "#4caf50";
        case tcp::State::FinWait1:
        case tcp::State::FinWait2:
        case tcp::State::Closing: return "#f39c34";
        case tcp::State::CloseWait:
        case tcp::State::LastAck: return "#9b6cc4";
        case tcp::State::TimeWait: return "#d9443a";
    }
    return "#b0b0b0";
}

bool same_segment(const tcp::Segment& a, const tcp::Segment& b) {
    return a.src == b.src && a.dst == b.dst && a.seq == b.seq && a.ack == b.ack && a.flags == b.flags && a.len == b.len &&
           a.wnd == b.wnd && a.tsval == b.tsval;
}

bool shown(const TraceRecord& r) {
    switch (r.kind) {
        case RecordKind::Send:
        case RecordKind::Drop:
        case RecordKind::Lost:
        case RecordKind::Arrive:
        case RecordKind::Transition:
        case RecordKind::Call:
        case RecordKind::TimerFire:
        case RecordKind::Stack: return true;
        case RecordKind::TimerSet: return r.text == "2MSL";  // TIME-WAIT's clock (re)started
        case RecordKind::Notice: return false;
    }
    return false;
}

std::string short_ref(std::string_view ref) {
    std::string s(ref);
    if (s.rfind("RFC 9293 ", 0) == 0) s = s.substr(9);
    if (const auto semi = s.find(';'); semi != std::string::npos) s = s.substr(0, semi);
    return s;
}

// The picture, drawn in layers: lifelines and their state bars, time labels, arrows, marks
// and notes, the legend. Layout first: one band per distinct time, one slot per shown event of a
// host within its band, a break before a band long after the one before it.
class SvgLadder {
public:
    SvgLadder(const TraceHeader& h, const std::vector<TraceRecord>& records) : h_(h) {
        hosts_ = h.all_hosts;
        if (hosts_.empty())
            for (std::size_t i = 0; i < 2; ++i) hosts_.emplace_back(h.host_names[i], h.host_addrs[i]);
        nh_ = static_cast<int>(hosts_.size());
        for (const TraceRecord& r : records) nh_ = std::max(nh_, r.host + 1);
        while (static_cast<int>(hosts_.size()) < nh_) hosts_.emplace_back(fmt::format("host{}", hosts_.size()), "");
        width_ = kTimeCol + 2 * kOuter + (nh_ - 1) * kGap;
        for (const TraceRecord& r : records)
            if (shown(r)) ev_.push_back(&r);
        assign_bands();
        place_bands();
        state_.assign(static_cast<std::size_t>(nh_), tcp::State::Closed);
        state_from_.assign(static_cast<std::size_t>(nh_), kTop + 10);
    }

    std::string draw() {
        std::string out = head();
        out += lifelines();
        out += time_labels();
        std::vector<bool> arrived(ev_.size(), false);
        for (std::size_t i = 0; i < ev_.size(); ++i) event(i, arrived);
        for (int i = 0; i < nh_; ++i) bar(i, state_from_[static_cast<std::size_t>(i)], height_ - 30);
        out += bars_ + arrows_ + marks_ + notes_;
        out += legend();
        out += "</svg>\n";
        return out;
    }

private:
    int x_of(int host) const { return kTimeCol + kOuter + host * kGap; }
    int y_of(std::size_t i) const { return band_y_[static_cast<std::size_t>(band_[i])] + slot_[i] * kSlot + 7; }
    int host_of_ip(std::uint32_t ip) const {
        for (int i = 0; i < nh_; ++i)
            if (hosts_[static_cast<std::size_t>(i)].second == tcp::format_ip(ip)) return i;
        return -1;
    }

    // Bands: one per distinct time; slots: one per shown event of a host within its band.
    void assign_bands() {
        band_.resize(ev_.size());
        slot_.resize(ev_.size());
        std::map<int, int> used;  // host -> slots used in the current band
        for (std::size_t i = 0; i < ev_.size(); ++i) {
            if (band_time_.empty() || band_time_.back() != ev_[i]->time) {
                band_time_.push_back(ev_[i]->time);
                band_slots_.push_back(1);
                used.clear();
            }
            band_[i] = static_cast<int>(band_time_.size()) - 1;
            slot_[i] = used[ev_[i]->host]++;
            band_slots_.back() = std::max(band_slots_.back(), used[ev_[i]->host]);
        }
    }

    // A break before a band that comes long after the one before it (1 s and 20 times the
    // median step): the picture is not to scale there.
    void place_bands() {
        for (std::size_t b = 1; b < band_time_.size(); ++b) steps_.push_back(band_time_[b] - band_time_[b - 1]);
        Duration median = Duration::ns(0);
        if (!steps_.empty()) {
            std::vector<Duration> sorted = steps_;
            std::sort(sorted.begin(), sorted.end());
            median = sorted[sorted.size() / 2];
        }
        band_y_.resize(band_time_.size());
        break_before_.assign(band_time_.size(), false);
        int y = kTop + 20;
        for (std::size_t b = 0; b < band_time_.size(); ++b) {
            if (b > 0 && steps_[b - 1] >= Duration::s(1) && steps_[b - 1].count() > 20 * median.count()) {
                break_before_[b] = true;
                y += 30;
            }
            band_y_[b] = y;
            y += band_slots_[b] * kSlot + kBandPad;
        }
        height_ = y + 40;
    }

    std::string head() const {
        std::string out = fmt::format(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
            "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"11\">\n",
            width_, height_);
        out += fmt::format("<title>{}</title>\n", esc(h_.name.empty() ? h_.scenario : h_.name));
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
        out += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
               "orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#222\"/></marker></defs>\n";
        out += fmt::format("<text x=\"12\" y=\"24\" font-size=\"16\" font-weight=\"bold\" font-family=\"DejaVu Sans, sans-serif\">{}</text>\n",
                           esc(h_.name.empty() ? h_.scenario : h_.name));
        out += fmt::format("<text x=\"12\" y=\"42\" fill=\"#555\">tcpsim trace {} (seed {}); time in seconds, not to scale</text>\n",
                           esc(h_.scenario), h_.seed);
        return out;
    }

    // Lifelines: a thin grey line, and over it a bar coloured by the state of the host's socket.
    std::string lifelines() const {
        std::string out;
        for (int i = 0; i < nh_; ++i) {
            const int x = x_of(i);
            const auto& [name, addr] = hosts_[static_cast<std::size_t>(i)];
            out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\" "
                               "font-family=\"DejaVu Sans, sans-serif\">{}</text>\n",
                               x, kTop - 30, esc(name));
            out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n", x, kTop - 14, esc(addr));
            out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#999\" stroke-width=\"1\"/>\n", x, kTop,
                               height_ - 30);
        }
        return out;
    }

    // Time labels and breaks.
    std::string time_labels() const {
        std::string out;
        for (std::size_t b = 0; b < band_time_.size(); ++b) {
            if (break_before_[b]) {
                const int yb = band_y_[b] - 18;
                out += fmt::format("<text x=\"12\" y=\"{}\" fill=\"#a00\" font-style=\"italic\">... {} s later</text>\n", yb - 4,
                                   format_seconds(SimTime::zero() + steps_[b - 1]));
                out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#a00\" stroke-dasharray=\"4,4\"/>\n", kTimeCol,
                                   yb + 2, width_ - 10, yb + 2);
            }
            out += fmt::format("<text x=\"12\" y=\"{}\" fill=\"#333\">{}</text>\n", band_y_[b] + 11, format_seconds(band_time_[b]));
        }
        return out;
    }

    void bar(int hh, int y1, int y2) {
        const bool stateless = hh < 2 && !h_.has_state[static_cast<std::size_t>(hh)];
        if (y2 <= y1 || stateless) return;
        const tcp::State st = state_[static_cast<std::size_t>(hh)];
        bars_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"6\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>\n", x_of(hh) - 3, y1,
                             y2 - y1, state_colour(st), tcp::to_string(st));
    }

    // An annotation beside the lifeline (left of host 0, right of the others).
    void note(std::size_t i, const std::string& text, const char* colour, bool bold) {
        const TraceRecord& r = *ev_[i];
        const bool left = r.host == 0;
        const int hx = x_of(r.host);
        notes_ += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" fill=\"{}\"{}>{}</text>\n", left ? hx - 10 : hx + 10, y_of(i) + 4,
                              left ? "end" : "start", colour, bold ? " font-weight=\"bold\"" : "", esc(text));
    }

    // Events: arrows from each send to its arrival; annotations beside the lifeline.
    void event(std::size_t i, std::vector<bool>& arrived) {
        const TraceRecord& r = *ev_[i];
        const std::string sock = r.socket.empty() ? "" : r.socket + ": ";
        switch (r.kind) {
            case RecordKind::Send:
            case RecordKind::Drop:
            case RecordKind::Lost: segment(i, arrived); return;
            case RecordKind::Arrive: return;  // the arrow's end
            case RecordKind::Transition: {
                const auto hi = static_cast<std::size_t>(r.host);
                const int yy = y_of(i);
                bar(r.host, state_from_[hi], yy);
                state_[hi] = r.to;
                state_from_[hi] = yy;
                const auto& row = tcp::kTransitions[static_cast<std::size_t>(r.row)];
                note(i, fmt::format("{}{} ({}, {})", sock, tcp::to_string(r.to), r.text, short_ref(row.rfc_ref)),
                     r.to == tcp::State::TimeWait ? "#b0281f" : "#0b5394", true);
                marks_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\" stroke=\"#222\"/>\n", x_of(r.host), yy,
                                      state_colour(r.to));
                return;
            }
            case RecordKind::Call: note(i, sock + r.text, "#333", false); return;
            case RecordKind::TimerFire: note(i, fmt::format("{}timer {} fired", sock, r.text), "#a05a00", false); return;
            case RecordKind::TimerSet:
                note(i, fmt::format("{}timer {} set, fires at {}", sock, r.text, format_seconds(r.deadline)), "#a05a00", false);
                return;
            case RecordKind::Notice: return;
            case RecordKind::Stack: {
                // A mini-socket's change: its state is the socket's column state from now on.
                const auto hi = static_cast<std::size_t>(r.host);
                if (r.host < 2 && r.states[hi] != state_[hi]) {
                    const int yy = y_of(i);
                    bar(r.host, state_from_[hi], yy);
                    state_[hi] = r.states[hi];
                    state_from_[hi] = yy;
                }
                note(i, sock + r.text, "#6a1b9a", false);
                return;
            }
        }
    }

    // A segment: an arrow from its send to its arrival, or half way with a red cross when it was
    // dropped, lost, or never arrived in the run; labelled along the arrow.
    void segment(std::size_t i, std::vector<bool>& arrived) {
        const TraceRecord& r = *ev_[i];
        const int hx = x_of(r.host), yy = y_of(i);
        std::optional<std::size_t> to;
        if (r.kind == RecordKind::Send)
            for (std::size_t j = i + 1; j < ev_.size() && !to; ++j)
                if (ev_[j]->kind == RecordKind::Arrive && !arrived[j] && ev_[j]->host != r.host && same_segment(ev_[j]->seg, r.seg)) to = j;
        int peer = to ? ev_[*to]->host : host_of_ip(r.seg.dst.ip);
        if (peer < 0 || peer == r.host) peer = r.host == 0 ? 1 : r.host - 1;
        double x1 = hx, y1 = yy, x2 = x_of(peer), y2 = yy + 2 * kSlot;
        if (to) {
            arrived[*to] = true;
            y2 = y_of(*to);
        } else {
            x2 = (x1 + x2) / 2;  // dropped, lost, or never arrived in the run: half way
            y2 = yy + kSlot;
        }
        const bool lostit = r.kind != RecordKind::Send;
        arrows_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1.3\"{}{}/>\n", x1, y1, x2, y2,
                               lostit ? "#c0392b" : "#222", lostit ? " stroke-dasharray=\"5,3\"" : "",
                               lostit || !to ? "" : " marker-end=\"url(#arrow)\"");
        std::string label = tcp::format_segment(r.seg);
        if (r.kind == RecordKind::Drop) label += "  DROPPED";
        if (r.kind == RecordKind::Lost) label += "  LOST";
        if (!r.text.empty()) label += " (" + r.text + ")";
        if (lostit)
            arrows_ += fmt::format("<path d=\"M{0:.1f},{1} m-6,-6 l12,12 m0,-12 l-12,12\" stroke=\"#c0392b\" stroke-width=\"2.5\"/>\n", x2, y2);
        // The label along the arrow, above it, reading left to right.
        const double dx = x2 - x1, dy = y2 - y1;
        const double angle = std::atan2(dx < 0 ? -dy : dy, dx < 0 ? -dx : dx) * 180.0 / M_PI;
        const double mx = (x1 + x2) / 2, my = (y1 + y2) / 2;
        arrows_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" transform=\"rotate({:.2f} {:.1f} {:.1f})\" "
                               "fill=\"{}\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>\n",
                               mx, my - 4, angle, mx, my, lostit ? "#c0392b" : "#111", esc(label));
    }

    // The colours of the states.
    std::string legend() const {
        static const std::pair<const char*, tcp::State> kLegend[] = {
            {"CLOSED", tcp::State::Closed},           {"LISTEN", tcp::State::Listen},
            {"SYN-SENT/RECEIVED", tcp::State::SynSent}, {"ESTABLISHED", tcp::State::Established},
            {"FIN-WAIT/CLOSING", tcp::State::FinWait1}, {"CLOSE-WAIT/LAST-ACK", tcp::State::CloseWait},
            {"TIME-WAIT", tcp::State::TimeWait}};
        std::string out;
        int lx = 12;
        for (const auto& [name, st] : kLegend) {
            out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n", lx,
                               height_ - 20, state_colour(st), lx + 14, height_ - 11, name);
            lx += 14 + static_cast<int>(kCharW * static_cast<double>(std::string_view(name).size())) + 18;
        }
        return out;
    }

    const TraceHeader& h_;
    std::vector<std::pair<std::string, std::string>> hosts_;
    int nh_ = 0, width_ = 0, height_ = 0;
    std::vector<const TraceRecord*> ev_;  // the records shown
    std::vector<int> band_, slot_;        // per shown record
    std::vector<SimTime> band_time_;
    std::vector<int> band_slots_, band_y_;
    std::vector<Duration> steps_;  // between consecutive bands
    std::vector<bool> break_before_;
    std::vector<tcp::State> state_;  // per host, the state its bar shows since state_from_
    std::vector<int> state_from_;
    std::string bars_, arrows_, marks_, notes_;
};

}  // namespace

std::string format_ladder_svg(const TraceHeader& h, const std::vector<TraceRecord>& records) { return SvgLadder(h, records).draw(); }

}  // namespace tcpsim
