#include "pkt/runner.hpp"

#include "host/host_input.hpp"
#include "pkt/script.hpp"
#include "scenario/profiles.hpp"
#include "tcp/endpoint.hpp"
#include "world/mini_socket_text.hpp"

#include <tcpsim/engine.hpp>

#include <fmt/format.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

namespace tcpsim::pkt {

std::string_view to_string(Verdict v) {
    switch (v) {
        case Verdict::Passed: return "passed";
        case Verdict::Failed: return "failed";
        case Verdict::Skipped: return "skipped";
        case Verdict::Error: return "error";
    }
    return "?";
}

namespace {

using host::kNoSocket;
using host::SocketId;

// packetdrill's default addresses: the system under test is 192.168.0.1, the script's peer
// 192.0.2.1; bind() takes port 8080 and connect() goes to the peer's port 8080.
constexpr std::uint32_t kLocalIp = 0xC0A80001;
constexpr std::uint32_t kRemoteIp = 0xC0000201;
constexpr std::uint16_t kScriptPort = 8080;
constexpr std::uint16_t kRemoteClientPort = 43210;  // the peer's port when it connects to us
constexpr tcp::Seq kRemoteIsn = 1'000'000;          // the peer's ISN: script SEQ 0 on inbound

// FreeBSD's values where the scripts read them (sys/sys/fcntl.h).
constexpr std::int64_t kORdwr = 0x2;
constexpr std::int64_t kONonblock = 0x4;

struct Failure {
    int lineno;
    std::string line, expected, actual, summary;
};
struct Skip {
    int lineno;
    std::string reason;
};

struct Fd {
    SocketId sock = kNoSocket;
    bool nonblock = false;
    bool bound = false;
    bool listening = false;
    bool eof = false;         // the peer's FIN arrived
    bool rd_shut = false;     // shutdown(SHUT_RD): read() returns 0 once nothing is queued
    bool connecting = false;  // connect() started (SS_CONNECTING until a later connect() sees it done)
    bool connected = false;   // a connect() returned 0 (SS_CONNECTED: the next one is EISCONN)
    bool was_open = false;    // connected or connecting once: a write after the end is EPIPE
    Errno so_error = Errno::Ok;
};

// A blocking system call in flight ("t...end call()"): packetdrill runs it in a thread while the
// script goes on; it must return at `end` (within the tolerance) with the expected result.
struct Blocking {
    ScriptLine line;
    int fd = -1;
    SimTime end;
    bool done = false;
    SimTime done_at;
    std::int64_t ret = 0;
    Errno err = Errno::Ok;
};

struct Outbound {
    SimTime time;
    tcp::Segment seg;
};

std::string_view freebsd_state_name(tcp::State s) {
    switch (s) {
        case tcp::State::Closed: return "CLOSED";
        case tcp::State::Listen: return "LISTEN";
        case tcp::State::SynSent: return "SYN_SENT";
        case tcp::State::SynReceived: return "SYN_RCVD";
        case tcp::State::Established: return "ESTABLISHED";
        case tcp::State::FinWait1: return "FIN_WAIT_1";
        case tcp::State::FinWait2: return "FIN_WAIT_2";
        case tcp::State::CloseWait: return "CLOSE_WAIT";
        case tcp::State::Closing: return "CLOSING";
        case tcp::State::LastAck: return "LAST_ACK";
        case tcp::State::TimeWait: return "TIME_WAIT";
    }
    return "?";
}

std::optional<tcp::State> tcpi_state(const std::string& name) {
    static const std::map<std::string, tcp::State> m = {
        {"TCPI_CLOSED", tcp::State::Closed},        {"TCPI_CLOSE", tcp::State::Closed},
        {"TCPI_LISTEN", tcp::State::Listen},        {"TCPI_SYN_SENT", tcp::State::SynSent},
        {"TCPI_SYN_RECEIVED", tcp::State::SynReceived}, {"TCPI_SYN_RECV", tcp::State::SynReceived},
        {"TCPI_ESTABLISHED", tcp::State::Established}, {"TCPI_FIN_WAIT_1", tcp::State::FinWait1},
        {"TCPI_FIN_WAIT1", tcp::State::FinWait1},   {"TCPI_FIN_WAIT_2", tcp::State::FinWait2},
        {"TCPI_FIN_WAIT2", tcp::State::FinWait2},   {"TCPI_CLOSE_WAIT", tcp::State::CloseWait},
        {"TCPI_CLOSING", tcp::State::Closing},      {"TCPI_LAST_ACK", tcp::State::LastAck},
        {"TCPI_TIME_WAIT", tcp::State::TimeWait},
    };
    auto it = m.find(name);
    if (it == m.end()) return std::nullopt;
    return it->second;
}

bool errno_equal(const std::string& a, Errno b) {
    const std::string bn(to_string(b));
    if (a == bn) return true;
    // FreeBSD (and Linux) define EWOULDBLOCK as EAGAIN.
    return (a == "EWOULDBLOCK" && bn == "EAGAIN") || (a == "EAGAIN" && bn == "EWOULDBLOCK");
}

// `sysctl [-w] [-q] NAME=VALUE ...` as a shell runs it: the NAME=VALUE words (a "quoted" value may
// hold spaces, $((a*b)) is expanded); nullopt when the command is not such a sysctl.
std::optional<std::vector<std::pair<std::string, std::string>>> sysctl_assignments(const std::string& cmd) {
    std::vector<std::string> words;
    std::string w;
    bool quoted = false, any = false;
    for (char ch : cmd) {
        if (ch == '"') {
            quoted = !quoted;
            any = true;
        } else if (!quoted && (ch == ' ' || ch == '\t')) {
            if (any) words.push_back(w);
            w.clear();
            any = false;
        } else {
            w += ch;
            any = true;
        }
    }
    if (any) words.push_back(w);
    if (quoted || words.empty() || words[0] != "sysctl") return std::nullopt;
    std::vector<std::pair<std::string, std::string>> out;
    static const std::regex arith(R"(\$\(\(([0-9*+ ]+)\)\))");
    for (std::size_t i = 1; i < words.size(); ++i) {
        if (words[i] == "-w" || words[i] == "-q" || words[i] == "-e") continue;
        const auto eq = words[i].find('=');
        if (eq == std::string::npos || eq == 0) return std::nullopt;
        std::string value = words[i].substr(eq + 1);
        std::smatch m;
        while (std::regex_search(value, m, arith)) {  // $((15*1024*1024)): products and sums
            std::int64_t sum = 0, prod = 1;
            std::string num;
            for (char ch : std::string(m[1]) + "+") {
                if (std::isdigit(static_cast<unsigned char>(ch))) num += ch;
                if (ch == '*' || ch == '+') {
                    if (num.empty() || num.size() > 9) return std::nullopt;
                    prod *= std::stoll(num);
                    num.clear();
                    if (ch == '+') {
                        sum += prod;
                        prod = 1;
                    }
                }
            }
            value = std::string(m.prefix()) + std::to_string(sum) + std::string(m.suffix());
        }
        out.emplace_back(words[i].substr(0, eq), value);
    }
    if (out.empty()) return std::nullopt;
    return out;
}

class Harness {
public:
    Harness(const Script& sc, host::Profile profile, std::vector<TraceRecord>* trace)
        : trace_(trace), sc_(sc), profile_(with_ip_version(std::move(profile), sc.ip_version)), host_("sut", kLocalIp, profile_.tcp, profile_.stack, 1),
          isn_(0x5eed5eed5eed5eedULL, 0x0123456789abcdefULL), tw_timer_(engine_.create_timer()) {
        if (trace_ != nullptr) host_.observe_mini_sockets(&mini_recorder_);
    }

    // The TCP model is address-family agnostic; IPv6 only changes the MSS a host announces
    // (an IPv6 header is 20 bytes longer than an IPv4 one: 1460 -> 1440 on a 1500-byte MTU).
    static host::Profile with_ip_version(host::Profile p, const std::string& version) {
        if (version == "ipv6" && p.tcp.mss > 20) p.tcp.mss = static_cast<std::uint16_t>(p.tcp.mss - 20);
        return p;
    }

    void run();

private:
    class SutIo;
    friend class SutIo;
    class HostEnv;

    // -- time
    void advance_to(SimTime t);
    bool step_until_outbound(SimTime deadline);
    void on_timer(const Event& ev);

    // -- lines
    void do_packet(const ScriptLine& l, SimTime t);
    void expect_packet(const ScriptLine& l, SimTime t, SimTime t_end, SimTime& actual_time);
    void merge_offload(std::size_t want_len);
    void compare_options(const ScriptLine& l, const tcp::Segment& s, const std::string& expected, const std::string& actual);
    void do_syscall(const ScriptLine& l);
    bool do_socket_call(const ScriptLine& l, std::int64_t& ret, Errno& err);
    void do_listen(const ScriptLine& l, Fd& f, Errno& err);
    void do_connect(const ScriptLine& l, Fd& f, Errno& err);
    void do_accept(const ScriptLine& l, Fd& f, std::int64_t& ret, Errno& err);
    int hand_out(SocketId child);
    void do_command(const ScriptLine& l);
    void do_sysctl(const ScriptLine& l, const std::string& name, const std::string& value);
    void do_init_script(const ScriptLine& l, const std::string& file);
    void do_python(const ScriptLine& l);
    // A blocking call: started by its line, finished when its socket says so (finish_blocking()),
    // checked once the script has gone past its end time (check_blocking()).
    void finish_blocking(std::int64_t ret, Errno err);
    void check_blocking(bool at_end);
    [[nodiscard]] tcp::Seq sut_isn() const;

    // -- the host
    void deliver(const tcp::Segment& seg);
    void send(const tcp::Segment& seg) {
        outbound_.push_back({engine_.now(), seg});
        ++sent_;
        record_segment(RecordKind::Send, 0, seg);
    }
    void reap(SocketId id);
    void notice(SocketId id, tcp::Notice n, Errno e);
    Fd& fd(const ScriptLine& l, const std::string& arg);
    int lowest_free_fd() const;
    std::uint32_t rcvbuf(const Fd& f) const;
    SocketId new_socket(const std::string& name);
    tcp::Endpoint& ep(SocketId id) { return host_.at(id).ep; }

    std::string describe(const tcp::Segment& s) const;
    std::string describe(const PktSegment& p) const;
    [[noreturn]] void fail(const ScriptLine& l, std::string expected, std::string actual, std::string summary) {
        throw Failure{l.lineno, l.text, std::move(expected), std::move(actual), std::move(summary)};
    }
    [[noreturn]] void skip(const ScriptLine& l, std::string reason) { throw Skip{l.lineno, std::move(reason)}; }

    // -- the ladder (pkt --trace, --pcap): host 0 the system under test, host 1 the script's peer
    std::vector<TraceRecord>* trace_;
    SocketId focus_ = kNoSocket;
    TraceRecord& record(RecordKind kind, SocketId sock) {
        TraceRecord r;
        r.time = engine_.now();
        r.kind = kind;
        r.host = 0;
        if (sock != kNoSocket) {
            r.socket = host_.socket_name(sock);
            focus_ = sock;
        }
        r.states = {focus_ == kNoSocket ? tcp::State::Closed : state_of(focus_), tcp::State::Closed};
        trace_->push_back(std::move(r));
        return trace_->back();
    }
    void record_segment(RecordKind kind, int from, const tcp::Segment& seg) {
        if (trace_ == nullptr) return;
        TraceRecord& r = record(kind, kNoSocket);
        r.host = from;
        r.seg = seg;
    }

    const Script& sc_;
    host::Profile profile_;
    host::Host host_;
    tcp::IsnGenerator isn_;
    Engine engine_;
    std::map<int, Fd> fds_;
    std::map<SocketId, bool> accepted_;  // children handed out by accept()
    std::deque<Outbound> outbound_;
    std::vector<tcp::Segment> redeliver_;
    std::uint64_t sent_ = 0;  // segments the host sent (Host::input() asks)
    // The system under test's ISN per connection (local port, peer port), learned from its first
    // SYN there: packetdrill keeps a 4-tuple's mapping when a SYN reopens it (run_packet.c
    // find_or_create_socket_for_script_packet()), so the new incarnation's ISN reads old SND.NXT
    // + 65537 in script numbers.
    std::map<std::pair<std::uint16_t, std::uint16_t>, tcp::Seq> isn_by_tuple_;
    std::optional<Blocking> blocking_;
    std::map<SocketId, Errno> child_error_;  // the reset of a child nobody accepted yet
    int connections_ = 0;                    // connections the script started (each from a new port)
    const Syscall* current_call_ = nullptr;  // the call being run (its expected descriptor number)
    std::vector<SocketId> pending_time_wait_;
    void settle();
    // The host's mini-sockets end on their timers (Host::expire_time_waits()).
    static constexpr std::uint32_t kTwExpiry = 2;
    TimerId tw_timer_;
    // pkt --trace: the host's mini-sockets, each change a record.
    class MiniSockRecorder final : public host::MiniSockObserver {
    public:
        explicit MiniSockRecorder(Harness& h) : h_(h) {}
        void on_mini_socket(const host::MiniSockEvent& e) override {
            for (std::string& line : mini_socket_lines(e)) h_.record(RecordKind::Stack, kNoSocket).text = std::move(line);
        }

    private:
        Harness& h_;
    } mini_recorder_{*this};
public:
    [[nodiscard]] int line() const { return current_line_; }  // the script line being run

private:
    [[nodiscard]] tcp::State state_of(SocketId id) const {
        const host::Socket& s = host_.at(id);
        return s.alive ? s.ep.state() : tcp::State::Closed;  // a TIME-WAIT handed to a mini-socket reads CLOSED
    }
    tcp::SockAddr local_{kLocalIp, kScriptPort};        // the connection the script plays
    tcp::SockAddr peer_{kRemoteIp, kRemoteClientPort};
    int last_fd_ = -1;
    int current_line_ = 0;
};

class Harness::SutIo final : public tcp::Io {
public:
    SutIo(Harness& h, SocketId s) : h_(h), s_(s) {}
    void send(const tcp::Segment& seg) override { h_.send(seg); }
    void set_timer(tcp::TimerKind kind, SimTime deadline) override {
        const TimerId t = h_.host_.at(s_).timers[static_cast<std::size_t>(kind)];
        if (deadline.is_never()) h_.engine_.cancel(t);
        else h_.engine_.arm(t, deadline, 1, s_, static_cast<std::uint64_t>(kind));
    }
    void transitioned(const tcp::Transition& row, std::string_view why) override {
        if (h_.trace_ == nullptr) return;
        h_.focus_ = s_;
        TraceRecord& r = h_.record(RecordKind::Transition, s_);
        r.states[0] = row.to;  // the endpoint changes state after telling
        r.row = row.id;
        r.from = row.from;
        r.to = row.to;
        r.text = std::string(why);
    }
    void notify(tcp::Notice n, Errno e) override { h_.notice(s_, n, e); }
    void redeliver(const tcp::Segment& seg) override { h_.redeliver_.push_back(seg); }

private:
    Harness& h_;
    SocketId s_;
};

// What the host's segment input needs from the harness (host/host_input.hpp). The script's
// peer sees the segments; nothing else observes the host here.
class Harness::HostEnv {
public:
    explicit HostEnv(Harness& h) : h_(h) {}
    SutIo io(SocketId sock, host::Socket&) { return SutIo(h_, sock); }
    void reply(std::string_view, const tcp::Segment& seg) { h_.send(seg); }
    void spawned(SocketId child) {
        for (auto& t : h_.host_.at(child).timers) t = h_.engine_.create_timer();
    }
    tcp::IsnGenerator* isn_source() { return &h_.isn_; }
    void arrived(SocketId, const tcp::Segment&) {}
    void arrived_time_wait(const tcp::Segment&) {}
    void dropped(host::InputDrop, SocketId, const tcp::Segment&) {}
    [[nodiscard]] std::uint64_t sent() const { return h_.sent_; }

private:
    Harness& h_;
};

SocketId Harness::new_socket(const std::string& name) {
    const SocketId id = host_.create(name, host::SocketOptions{});
    for (auto& t : host_.at(id).timers) t = engine_.create_timer();
    host_.at(id).ep.set_isn_source(&isn_, std::nullopt);
    return id;
}

void Harness::reap(SocketId id) {
    host::Socket& s = host_.at(id);
    if (!s.alive) return;
    s.alive = false;
    host_.release(id);  // its 4-tuple and its port (a bind bucket it owns) are free again
    for (TimerId t : s.timers) engine_.release_timer(t);
}

void Harness::notice(SocketId id, tcp::Notice n, Errno e) {
    Fd* f = nullptr;
    for (auto& [num, fdesc] : fds_)
        if (fdesc.sock == id) f = &fdesc;
    const bool blocked = blocking_ && !blocking_->done && blocking_->fd >= 0 && f == &fds_[blocking_->fd];
    switch (n) {
        case tcp::Notice::Refused:
        case tcp::Notice::Reset:
        case tcp::Notice::TimedOut:
            if (blocked && blocking_->line.call.name == "connect") finish_blocking(-1, e);  // the call reports it
            else if (f) f->so_error = e;
            else if (host_.at(id).listener != kNoSocket && !accepted_.count(id)) child_error_[id] = e;  // for accept()
            return;
        case tcp::Notice::PeerClosed:
            if (f) f->eof = true;
            return;
        case tcp::Notice::ReturnedToListen:
            if (host_.at(id).listener != kNoSocket) reap(id);
            return;
        case tcp::Notice::Closed:
            reap(id);
            return;
        case tcp::Notice::Connected:
            if (blocked && blocking_->line.call.name == "connect") {
                f->connected = true;
                finish_blocking(0, Errno::Ok);
            } else if (blocking_ && !blocking_->done && blocking_->line.call.name == "accept" &&
                       host_.at(id).listener == fds_[blocking_->fd].sock) {
                current_call_ = &blocking_->line.call;  // the descriptor number its line gives
                finish_blocking(hand_out(id), Errno::Ok);
            }
            return;
        case tcp::Notice::Readable:
        case tcp::Notice::TimeWait:
        case tcp::Notice::OrphanFinWait2:
            pending_time_wait_.push_back(id);  // converted once the endpoint call has returned
            return;
    }
}

void Harness::on_timer(const Event& ev) {
    if (ev.kind == kTwExpiry) {
        host_.expire_time_waits(engine_.now());
        settle();
        return;
    }
    const auto id = static_cast<SocketId>(ev.target);
    if (!host_.at(id).alive) return;
    if (trace_ != nullptr) record(RecordKind::TimerFire, id).text = std::string(tcp::to_string(static_cast<tcp::TimerKind>(ev.arg)));
    SutIo io(*this, id);
    ep(id).on_timer(engine_.now(), io, static_cast<tcp::TimerKind>(ev.arg));
    settle();
}

void Harness::advance_to(SimTime t) {
    engine_.run_until(t, [this](const Event& ev) { on_timer(ev); });
}

bool Harness::step_until_outbound(SimTime deadline) {
    while (outbound_.empty()) {
        if (engine_.next_time() > deadline) return false;
        engine_.step([this](const Event& ev) { on_timer(ev); });
    }
    return true;
}

void Harness::settle() {
    // Linux: a socket that entered TIME-WAIT or became an orphaned FIN-WAIT-2 becomes a
    // mini-socket (tcp_time_wait()).
    for (SocketId id : pending_time_wait_) {
        host::Socket& s = host_.at(id);
        if (host_.enter_time_wait(engine_.now(), id) == host::MiniSockOutcome::FullSocket) continue;
        s.alive = false;
        for (TimerId t : s.timers) engine_.release_timer(t);
    }
    pending_time_wait_.clear();
    const SimTime next = host_.next_time_wait_expiry();
    if (next.is_never()) engine_.cancel(tw_timer_);
    else engine_.arm(tw_timer_, next, kTwExpiry, 0);
}

void Harness::deliver(const tcp::Segment& seg) {
    HostEnv env(*this);
    host_.input(engine_.now(), seg, env);
    // A segment an endpoint gave back (FreeBSD: the SYN that ended a TIME-WAIT) is looked up again.
    while (!redeliver_.empty()) {
        const tcp::Segment again = redeliver_.front();
        redeliver_.erase(redeliver_.begin());
        deliver(again);
    }
    settle();
}

std::string Harness::describe(const tcp::Segment& s) const {
    const tcp::Seq base = sut_isn();
    std::string out = fmt::format("{} {}:{}({})", tcp::format_flags(s.flags), s.seq - base, s.seq - base + s.len, s.len);
    if (s.ack_set()) out += fmt::format(" ack {}", s.ack - kRemoteIsn);
    out += fmt::format(" win {}", s.wnd);
    tcp::Segment rel = s;  // a SACK block in the peer's numbers, as the script writes it
    for (std::size_t i = 0; i < rel.sack_n; ++i) {
        rel.sack[i].start -= kRemoteIsn;
        rel.sack[i].end -= kRemoteIsn;
    }
    const std::string opts = tcp::format_options(rel);
    if (!opts.empty()) out += " <" + opts + ">";
    return out;
}

std::string Harness::describe(const PktSegment& p) const {
    std::string out = p.flags + " ";
    out += p.any_seq ? fmt::format("...({})", p.len) : fmt::format("{}:{}({})", p.seq, p.end, p.len);
    if (p.has_ack) out += fmt::format(" ack {}", p.ack);
    if (p.has_win) out += fmt::format(" win {}", p.win);
    if (p.has_options) {
        std::string opts;
        for (const auto& o : p.options) {
            if (!opts.empty()) opts += ",";
            if (o.kind == "mss" || o.kind == "wscale") opts += fmt::format("{} {}", o.kind, o.value);
            else if (o.kind == "TS") opts += fmt::format("TS val {} ecr {}", o.value, o.value2);
            else if (o.kind == "sack") {
                opts += "sack";
                for (const auto& [a, b] : o.blocks) opts += fmt::format(" {}:{}", a, b);
            } else opts += o.kind;
        }
        out += " <" + opts + ">";
    }
    return out;
}

void Harness::do_packet(const ScriptLine& l, SimTime) {
    const PktSegment& p = l.seg;
    tcp::Segment s;
    // The peer talks to the connection's addresses: the listener's port, or the port that the
    // system under test's connect() chose.
    s.src = peer_;
    s.dst = local_;
    if (!tcp::parse_flags(p.flags, s.flags)) skip(l, fmt::format("flags \"{}\"", p.flags));
    if (p.any_seq) skip(l, "an inbound packet with \"...\" as its sequence number");
    s.seq = kRemoteIsn + p.seq;
    s.len = p.len;
    // An ack value goes into the header even without the ACK flag (packetdrill does the same).
    if (p.has_ack) s.ack = sut_isn() + p.ack;
    s.wnd = p.has_win ? p.win : 65535;
    for (const auto& o : p.options) {
        if (o.kind == "mss") s.mss = static_cast<std::uint16_t>(o.value);
        if (o.kind == "TS") {
            s.has_ts = true;
            s.tsval = o.value;
            s.tsecr = o.value2;
        }
        if (o.kind == "sackOK") s.sack_ok = true;
        if (o.kind == "wscale") s.wscale = static_cast<std::uint8_t>(o.value);
        // SACK blocks from the peer would steer a SACK-based retransmission, which is not modelled.
        if (o.kind == "sack") skip(l, "an inbound SACK block (SACK-based loss recovery is not modelled)");
        if (o.kind == "...") skip(l, "an inbound packet with \"<...>\" as its options");
    }
    record_segment(RecordKind::Send, 1, s);
    deliver(s);
}

// Outbound segments the kernel hands to packetdrill's tun device as one (TSO/GSO): a line that
// expects more payload than the next segment has takes the segments that continue it, sent at
// the same instant with the same ACK (the last one's flags: PSH, FIN).
void Harness::merge_offload(std::size_t want_len) {
    Outbound& first = outbound_.front();
    while (first.seg.len < want_len && outbound_.size() > 1) {
        const Outbound& next = outbound_[1];
        if (next.time != first.time || next.seg.seq != first.seg.seq + first.seg.len || next.seg.syn() ||
            next.seg.rst() || first.seg.fin() || next.seg.ack != first.seg.ack || next.seg.flags == tcp::flag::Ack ||
            next.seg.len == 0)
            return;
        first.seg.len += next.seg.len;
        first.seg.flags = next.seg.flags;
        outbound_.erase(outbound_.begin() + 1);
    }
}

void Harness::expect_packet(const ScriptLine& l, SimTime t, SimTime t_end, SimTime& actual_time) {
    const PktSegment& p = l.seg;
    const Duration tol = Duration::us(sc_.tolerance_us);
    const SimTime deadline = l.time_kind == TimeKind::Any ? t + Duration::s(3600) : t_end + tol;
    if (!step_until_outbound(deadline)) {
        advance_to(deadline);
        fail(l, "> " + describe(p), "no packet was sent",
             fmt::format("expected outbound packet not sent by {} s", format_seconds(deadline)));
    }
    merge_offload(p.len);
    const Outbound out = outbound_.front();
    outbound_.pop_front();
    actual_time = out.time;
    const tcp::Segment& s = out.seg;
    // The system under test's ISN is learned from its first SYN on the connection.
    if (s.syn()) isn_by_tuple_.try_emplace({s.src.port, s.dst.port}, s.seq);
    const std::string actual = fmt::format("> {} at {} s", describe(s), format_seconds(out.time));
    const std::string when = t_end == t ? format_seconds(t) : format_seconds(t) + "~" + format_seconds(t_end);
    const std::string expected = fmt::format("> {} at {} s", describe(p), when);
    std::uint8_t want_flags = 0;
    tcp::parse_flags(p.flags, want_flags);
    if (want_flags != s.flags) fail(l, expected, actual, "TCP flags differ");
    const tcp::Seq base = sut_isn();
    if (!p.any_seq && s.seq - base != p.seq) fail(l, expected, actual, "sequence number differs");
    if (s.len != p.len) fail(l, expected, actual, "payload length differs");
    if (p.has_ack && s.ack - kRemoteIsn != p.ack) fail(l, expected, actual, "ack number differs");
    if (p.has_win && s.wnd != p.win) fail(l, expected, actual, "advertised window differs");
    compare_options(l, s, expected, actual);
    if (l.time_kind != TimeKind::Any && (out.time < t - tol || out.time > t_end + tol))
        fail(l, expected, actual, fmt::format("sent at {} s, outside {} s +/- {} us", format_seconds(out.time),
                                              when, sc_.tolerance_us));
}

void Harness::compare_options(const ScriptLine& l, const tcp::Segment& s, const std::string& expected,
                              const std::string& actual) {
    // Options: compared by kind for those the model has (MSS, timestamps; with the Linux wire
    // model also SACK-permitted, the window scale and a SACK block, and the TSecr, which the
    // corpus checked on the live kernel). "<...>" accepts any options.
    const PktSegment& p = l.seg;
    const bool wire = profile_.tcp.linux_wire;
    bool want_mss = false, want_ts = false, want_sack_ok = false, want_block = false;
    std::optional<std::uint32_t> want_wscale;
    for (const auto& o : p.options) {
        if (o.kind == "...") return;
        if (o.kind == "mss") {
            want_mss = true;
            if (s.mss != 0 && s.mss != o.value) fail(l, expected, actual, "MSS option differs");
        }
        if (o.kind == "TS") {
            want_ts = true;
            if (wire && s.has_ts && s.tsecr != o.value2) fail(l, expected, actual, "timestamp echo (TSecr) differs");
        }
        if (o.kind == "sackOK") want_sack_ok = true;
        if (o.kind == "wscale") want_wscale = o.value;
        if (o.kind == "sack") {
            want_block = true;
            bool same = o.blocks.size() == s.sack_n;
            for (std::size_t i = 0; same && i < o.blocks.size(); ++i)
                same = s.sack[i].start - kRemoteIsn == o.blocks[i].first && s.sack[i].end - kRemoteIsn == o.blocks[i].second;
            if (wire && s.has_sack_block() && !same) fail(l, expected, actual, "SACK blocks differ");
        }
    }
    if (want_mss != (s.mss != 0)) fail(l, expected, actual, "MSS option present in one and not the other");
    if (want_ts != s.has_ts) fail(l, expected, actual, "timestamp option present in one and not the other");
    if (!wire) return;
    if (want_sack_ok != s.sack_ok) fail(l, expected, actual, "SACK-permitted option present in one and not the other");
    if (want_wscale.has_value() != s.has_wscale()) fail(l, expected, actual, "window scale option present in one and not the other");
    if (want_wscale && *want_wscale != s.wscale) fail(l, expected, actual, "window scale differs");
    if (want_block != s.has_sack_block()) fail(l, expected, actual, "SACK block present in one and not the other");
}

tcp::Seq Harness::sut_isn() const {
    const auto it = isn_by_tuple_.find({local_.port, peer_.port});
    return it == isn_by_tuple_.end() ? 0 : it->second;
}

Fd& Harness::fd(const ScriptLine& l, const std::string& arg) {
    char* end = nullptr;
    const long n = std::strtol(arg.c_str(), &end, 10);
    if (*end != '\0') skip(l, fmt::format("descriptor \"{}\"", arg));
    auto it = fds_.find(static_cast<int>(n));
    if (it == fds_.end()) fail(l, "an open descriptor", fmt::format("descriptor {} is not open", n), "bad descriptor");
    last_fd_ = static_cast<int>(n);
    return it->second;
}

int Harness::lowest_free_fd() const {
    // packetdrill maps the script's descriptor numbers to the live ones (run_system_call.c
    // insert_new_socket()): a new socket takes the number the script gives it.
    const Syscall& c = current_call_ != nullptr ? *current_call_ : Syscall{};
    if ((c.name == "socket" || c.name == "accept") && !c.result_any && c.result >= 0 && c.result < 1024 &&
        !fds_.count(static_cast<int>(c.result)))
        return static_cast<int>(c.result);
    int n = 3;
    while (fds_.count(n)) ++n;
    return n;
}

std::uint32_t Harness::rcvbuf(const Fd& f) const {
    const auto& e = host_.at(f.sock).ep;
    return e.tcb().rcv_buffer != 0 ? e.tcb().rcv_buffer : e.config().rcv_buffer;
}

// listen(): on the script's socket, LISTEN on port 8080, or a new backlog when it listens already
// (inet_listen(): sk_max_ack_backlog changes). On a socket never bound, it is packetdrill's device
// to begin a new connection: the socket listens on some other port, and the script's peer talks
// to port 8080 from a new port of its own (the corpus README, "Second connection").
void Harness::do_listen(const ScriptLine& l, Fd& f, Errno& err) {
    const std::uint32_t backlog = l.call.args.size() > 1 ? static_cast<std::uint32_t>(std::strtoul(l.call.args[1].c_str(), nullptr, 10)) : 0;
    if (f.listening) {
        host_.at(f.sock).backlog = backlog;
        return;
    }
    SutIo io(*this, f.sock);
    std::uint16_t port = kScriptPort;
    if (!f.bound) {
        port = host_.next_ephemeral_port();
        ++connections_;
        peer_ = tcp::SockAddr{kRemoteIp, static_cast<std::uint16_t>(kRemoteClientPort + connections_)};
        local_ = tcp::SockAddr{kLocalIp, kScriptPort};
    }
    if (f.bound) {
        err = host_.sys_listen_prepare(f.sock, port);
        if (err != Errno::Ok) return;
    } else {
        host_.bind_listener(f.sock, port);
    }
    host_.at(f.sock).backlog = backlog;
    host_.at(f.sock).manual_accept = true;
    err = ep(f.sock).open_passive(engine_.now(), io, tcp::SockAddr{kLocalIp, port}, std::nullopt);
    f.listening = true;
}

// connect(): Linux inet_stream_connect(): EINPROGRESS (non-blocking), EALREADY while the SYN is
// out, 0 once for a connection that completed meanwhile, then EISCONN. A blocking connect()
// returns when the handshake ends (Harness::notice()).
void Harness::do_connect(const ScriptLine& l, Fd& f, Errno& err) {
    if (f.connected) {
        err = Errno::IsConn;
        return;
    }
    if (f.connecting) {
        const tcp::State st = state_of(f.sock);
        if (st == tcp::State::SynSent || st == tcp::State::SynReceived) err = Errno::Already;
        else if (tcp::is_synchronized(st)) f.connected = true;
        else err = f.so_error != Errno::Ok ? std::exchange(f.so_error, Errno::Ok) : Errno::IsConn;
        return;
    }
    if (!f.nonblock && !blocking_) skip(l, "a blocking connect() without its end time (...)");
    const tcp::SockAddr local{kLocalIp, f.bound ? kScriptPort : host_.next_ephemeral_port()};
    const tcp::SockAddr remote{kRemoteIp, kScriptPort};
    host_.bind_connection(f.sock, host::FourTuple{local.ip, remote.ip, local.port, remote.port});
    local_ = local;
    peer_ = remote;
    f.connecting = true;
    f.was_open = true;
    if (!f.nonblock) blocking_->fd = last_fd_;
    SutIo io(*this, f.sock);
    err = ep(f.sock).open_active(engine_.now(), io, local, remote);
    if (err == Errno::Ok && f.nonblock) err = Errno::InProgress;
    if (err == Errno::Ok) err = Errno::InProgress;  // a blocking call: the result comes later
}

// accept(): the oldest queued connection, even one the peer reset meanwhile (Linux
// inet_csk_accept() does not look at its state); a blocking accept() waits for one.
void Harness::do_accept(const ScriptLine& l, Fd& f, std::int64_t& ret, Errno& err) {
    const SocketId listener = f.sock;
    SocketId ready = kNoSocket;
    for (std::size_t i = 0; i < host_.size(); ++i) {
        const auto id = static_cast<SocketId>(i);
        const host::Socket& s = host_.at(id);
        if (s.listener != listener || accepted_.count(id)) continue;
        const tcp::State st = s.ep.state();
        if (st == tcp::State::Listen || st == tcp::State::SynReceived) continue;
        if (!s.alive && st == tcp::State::Closed && !child_error_.count(id)) continue;
        ready = id;
        break;
    }
    if (ready != kNoSocket) {
        ret = hand_out(ready);
    } else if (f.nonblock) {
        err = Errno::Again;
    } else if (blocking_ && blocking_->line.lineno == l.lineno) {
        blocking_->fd = last_fd_;
        err = Errno::InProgress;  // the result comes later
    } else {
        skip(l, "a blocking accept() with no connection ready and no end time (...)");
    }
}

// A connection handed to the application: the lowest free descriptor.
int Harness::hand_out(SocketId child) {
    accepted_[child] = true;
    host_.at(child).accepted = true;  // it leaves the listener's accept queue
    const int n = lowest_free_fd();
    Fd nf;
    nf.sock = child;
    nf.was_open = true;
    nf.connected = true;
    const tcp::State st = host_.at(child).ep.state();
    nf.eof = tcp::is_synchronized(st) && st != tcp::State::Established;
    if (const auto e = child_error_.find(child); e != child_error_.end()) {
        nf.so_error = e->second;
        nf.eof = true;
        child_error_.erase(e);
    }
    fds_[n] = nf;
    return n;
}

void Harness::do_syscall(const ScriptLine& l) {
    const Syscall& c = l.call;
    current_call_ = &c;
    const SimTime now = engine_.now();
    std::int64_t ret = 0;
    Errno err = Errno::Ok;
    auto arg = [&](std::size_t i) -> const std::string& {
        if (i >= c.args.size()) skip(l, fmt::format("{}() with {} arguments", c.name, c.args.size()));
        return c.args[i];
    };
    if (c.name == "socket") {
        if (c.args.size() != 3 || c.args[1] != "SOCK_STREAM") skip(l, "a socket other than SOCK_STREAM");
        const int n = lowest_free_fd();
        Fd f;
        f.sock = new_socket(fmt::format("fd{}", n));
        fds_[n] = f;
        last_fd_ = n;
        ret = n;
    } else if (c.name == "fcntl") {
        Fd& f = fd(l, arg(0));
        if (arg(1) == "F_GETFL") {
            ret = kORdwr | (f.nonblock ? kONonblock : 0);
        } else if (arg(1) == "F_SETFL") {
            f.nonblock = arg(2).find("O_NONBLOCK") != std::string::npos;
        } else {
            skip(l, fmt::format("fcntl {}", arg(1)));
        }
    } else if (c.name == "setsockopt") {
        Fd& f = fd(l, arg(0));
        const std::string& level = arg(1);
        const std::string& opt = arg(2);
        tcp::Endpoint& e = ep(f.sock);
        if (level == "SOL_SOCKET" && (opt == "SO_REUSEADDR" || opt == "SO_REUSEPORT")) {
            // The host stack's bind rules read them (Host::sys_bind(), sys_listen_prepare()).
            const bool on = arg(3) != "[0]";
            if (opt == "SO_REUSEADDR") host_.at(f.sock).opt.reuseaddr = on;
            else host_.at(f.sock).opt.reuseport = on;
        } else if (level == "SOL_SOCKET" && opt == "SO_LINGER") {
            const std::string& v = arg(3);
            const bool zero = v.find("onoff=1") != std::string::npos && v.find("linger=0") != std::string::npos;
            if (!zero) skip(l, "SO_LINGER other than {onoff=1, linger=0}");
            host_.at(f.sock).opt.linger_zero = true;
            e.set_linger_zero(true);
        } else if (level == "IPPROTO_TCP" && opt == "TCP_NOOPT") {
            e.config().syn_options = arg(3) == "[0]";
        } else if (level == "IPPROTO_TCP" && opt == "TCP_NODELAY") {
            // Nagle is not modelled: segments already go out at once.
        } else {
            skip(l, fmt::format("setsockopt {} {}", level, opt));
        }
    } else if (c.name == "getsockopt") {
        Fd& f = fd(l, arg(0));
        const std::string& opt = arg(2);
        const std::string want = arg(3).size() >= 2 ? arg(3).substr(1, arg(3).size() - 2) : "";
        std::string got;
        if (opt == "SO_ERROR") {
            got = f.so_error == Errno::Ok ? "0" : std::string(to_string(f.so_error));
            f.so_error = Errno::Ok;  // reading SO_ERROR clears it
            if (want != got) fail(l, fmt::format("SO_ERROR {}", want), fmt::format("SO_ERROR {}", got), "SO_ERROR differs");
        } else if (opt == "SO_RCVBUF") {
            got = std::to_string(rcvbuf(f));
            if (want != got) fail(l, fmt::format("SO_RCVBUF {}", want), fmt::format("SO_RCVBUF {}", got), "SO_RCVBUF differs");
        } else {
            skip(l, fmt::format("getsockopt {}", opt));
        }
    } else if (c.name == "bind") {
        // Port 8080 on any address, under the profile's bind rules (a TIME-WAIT or a listener
        // may hold it: EADDRINUSE).
        Fd& f = fd(l, arg(0));
        err = host_.sys_bind(f.sock, 0, kScriptPort);
        f.bound = err == Errno::Ok;
    } else if (c.name == "listen") {
        do_listen(l, fd(l, arg(0)), err);
    } else if (c.name == "connect") {
        do_connect(l, fd(l, arg(0)), err);
    } else if (c.name == "accept") {
        do_accept(l, fd(l, arg(0)), ret, err);
    } else if (c.name == "read") {
        Fd& f = fd(l, arg(0));
        std::uint32_t max = 0;
        try {
            max = static_cast<std::uint32_t>(std::stoul(arg(2)));
        } catch (...) {
            skip(l, "read() without a byte count");
        }
        SutIo io(*this, f.sock);
        const std::uint32_t n = host_.at(f.sock).alive ? ep(f.sock).receive(now, io, max) : 0;
        if (n > 0) {
            ret = n;
        } else if (f.so_error != Errno::Ok) {
            err = f.so_error;
            f.so_error = Errno::Ok;
        } else if (f.eof || f.rd_shut || ep(f.sock).state() == tcp::State::Closed) {
            ret = 0;  // end of file; after shutdown(SHUT_RD) too, once nothing is queued
        } else if (f.nonblock) {
            err = Errno::Again;
        } else {
            skip(l, "a blocking read() with nothing to read");
        }
    } else if (c.name == "write") {
        Fd& f = fd(l, arg(0));
        std::uint32_t n = 0;
        try {
            n = static_cast<std::uint32_t>(std::stoul(arg(2)));
        } catch (...) {
            skip(l, "write() without a byte count");
        }
        SutIo io(*this, f.sock);
        if (f.so_error != Errno::Ok) {
            err = f.so_error;
            f.so_error = Errno::Ok;
        } else {
            err = ep(f.sock).send(now, io, n);
            if (err == Errno::Ok) ret = n;
            // A connection that has ended cannot send any more: EPIPE (Linux tcp_sendmsg() ->
            // sk_stream_wait_connect(); FreeBSD sosend(): SBS_CANTSENDMORE).
            if (err == Errno::NotConn && f.was_open) err = Errno::Pipe;
        }
    } else if (c.name == "shutdown") {
        Fd& f = fd(l, arg(0));
        const std::string& how = arg(1);
        if (how != "SHUT_WR" && how != "SHUT_RD" && how != "SHUT_RDWR") skip(l, fmt::format("shutdown {}", how));
        // SHUT_RD only makes read() return 0 once nothing is queued: data still arriving is ACKed
        // and can be read (Linux tcp_shutdown() acts on SEND_SHUTDOWN only; upstream packetdrill
        // shutdown-rd-wr-close.pkt).
        if (how != "SHUT_WR") f.rd_shut = true;
        if (how != "SHUT_RD") {
            SutIo io(*this, f.sock);
            err = ep(f.sock).shutdown_write(now, io);
        }
    } else if (c.name == "close") {
        Fd& f = fd(l, arg(0));
        const SocketId sid = f.sock;
        const int num = last_fd_;
        if (host_.at(sid).alive) {
            SutIo io(*this, sid);
            if (f.listening) {
                // Closing a listener aborts the connections nobody accepted (FreeBSD soclose():
                // soabort() on the incomplete and completed queues).
                for (std::size_t i = 0; i < host_.size(); ++i) {
                    const auto id = static_cast<SocketId>(i);
                    host::Socket& s = host_.at(id);
                    if (s.listener == sid && s.alive && !accepted_.count(id)) {
                        SutIo cio(*this, id);
                        s.ep.abort(now, cio, "listener closed");
                    }
                }
            }
            const tcp::State st = ep(sid).state();
            if (st != tcp::State::Closed) ep(sid).close(now, io);
        }
        fds_.erase(num);
    } else {
        skip(l, fmt::format("system call {}()", c.name));
    }

    // A blocking call: its result comes when its socket is done (or now, if it is already).
    if (blocking_ && blocking_->line.lineno == l.lineno) {
        if (err != Errno::InProgress) finish_blocking(ret, err);
        return;
    }
    // Compare with the expected result.
    if (c.result_any) return;
    if (err != Errno::Ok) {
        if (c.result != -1 || !errno_equal(c.errno_name, err))
            fail(l, fmt::format("{} = {}{}", c.name, c.result, c.errno_name.empty() ? "" : " " + c.errno_name),
                 fmt::format("{} = -1 {}", c.name, to_string(err)), "system call result differs");
    } else if (c.result != ret) {
        fail(l, fmt::format("{} = {}{}", c.name, c.result, c.errno_name.empty() ? "" : " " + c.errno_name),
             fmt::format("{} = {}", c.name, ret), "system call result differs");
    }
}

void Harness::do_command(const ScriptLine& l) {
    const std::string& cmd = l.command;
    std::smatch m;
    static const std::regex init_script(R"(^\s*((?:\.\.?/)[A-Za-z0-9_./-]*\.sh)\s*$)");
    static const std::regex sockstat(
        R"(^\s*sockstat\s+(.*?)\|\s*(?:grep\s+packetdril\s*\|\s*)?grep\s+-c\s+([A-Z_0-9]+)\s*\|\s*grep\s+([0-9]+)\s*$)");
    static const std::regex tcpdrop(R"(^\s*tcpdrop\s+-s\s+([A-Z_0-9]+)\s*$)");
    if (const auto assignments = sysctl_assignments(cmd)) {
        for (const auto& [name, value] : *assignments) do_sysctl(l, name, value);
        return;
    }
    if (std::regex_match(cmd, m, init_script)) {
        do_init_script(l, m[1]);
        return;
    }
    if (std::regex_match(cmd, m, sockstat)) {
        const std::string opts = m[1];
        const std::string state = m[2];
        if (m[3].length() > 9) skip(l, fmt::format("sockstat count {} is out of range", m[3].str()));
        const int want = std::stoi(m[3]);
        int port = -1;
        std::smatch pm;
        static const std::regex portre(R"(-p\s+([0-9]+))");
        if (std::regex_search(opts, pm, portre)) {
            if (pm[1].length() > 5 || std::stoi(pm[1]) > 65535) skip(l, fmt::format("sockstat port {} is out of range", pm[1].str()));
            port = std::stoi(pm[1]);
        }
        int count = 0;
        for (std::size_t i = 0; i < host_.size(); ++i) {
            const auto id = static_cast<SocketId>(i);
            const host::Socket& s = host_.at(id);
            bool open_fd = false;
            for (const auto& [n, f] : fds_) open_fd = open_fd || f.sock == id;
            if (!s.alive && !open_fd) continue;
            const auto& t = s.ep.tcb();
            if (port >= 0 && t.local.port != port && t.remote.port != port) continue;
            if (freebsd_state_name(state_of(id)) == state) ++count;
        }
        host_.for_each_time_wait([&](const host::TimeWaitSock& tw) {  // Linux mini-sockets (TIME_WAIT, FIN_WAIT_2)
            if (port >= 0 && tw.tuple.lport != port && tw.tuple.rport != port) return;
            if (freebsd_state_name(tw.state()) == state) ++count;
        });
        if (count != want)
            fail(l, fmt::format("{} socket(s) in {}", want, state), fmt::format("{} socket(s) in {}", count, state),
                 "socket state count differs");
        return;
    }
    if (std::regex_match(cmd, m, tcpdrop)) {
        const std::string state = m[1];
        if (state == "TIME_WAIT") {
            std::vector<host::FourTuple> all;
            host_.for_each_time_wait([&](const host::TimeWaitSock& tw) {
                if (tw.state() == tcp::State::TimeWait) all.push_back(tw.tuple);
            });
            for (const auto& tuple : all) host_.kill_time_wait(tuple);
        }
        for (std::size_t i = 0; i < host_.size(); ++i) {
            const auto id = static_cast<SocketId>(i);
            host::Socket& s = host_.at(id);
            if (!s.alive || freebsd_state_name(s.ep.state()) != state) continue;
            SutIo io(*this, id);
            if (s.ep.state() == tcp::State::TimeWait) s.ep.abort(engine_.now(), io, "tcpdrop");
            else skip(l, "tcpdrop of a state other than TIME_WAIT");
        }
        return;
    }
    skip(l, fmt::format("shell command `{}`", cmd));
}

void Harness::do_sysctl(const ScriptLine& l, const std::string& name, const std::string& value) {
    switch (host::set_sysctl(profile_, name, value)) {
        case host::SysctlResult::Applied: 
            host_.set_tcp_config(profile_.tcp);
            host_.set_stack_knobs(profile_.stack);
            return;
        case host::SysctlResult::Unknown: skip(l, fmt::format("sysctl {} is unknown to the {} profile", name, profile_.name));
        case host::SysctlResult::BadValue: skip(l, fmt::format("sysctl {}={}: not a valid value", name, value));
        case host::SysctlResult::NotModelled:
            skip(l, fmt::format("sysctl {}={} differs from the {} profile's default and is not modelled", name, value,
                                profile_.name));
    }
}

// An init command that runs a shell script beside the packetdrill script (the upstream suites'
// `../common/defaults.sh`, run from the script's folder): its sysctl lines are applied; `ip
// tcp_metrics flush` and `tc qdisc add` change nothing the model has (no TCP metrics cache, no
// queueing discipline: segments leave at once); any other line skips the script.
void Harness::do_init_script(const ScriptLine& l, const std::string& file) {
    const std::filesystem::path path = std::filesystem::path(sc_.path).parent_path() / file;
    std::ifstream in(path);
    if (!in) skip(l, fmt::format("shell command `{}`: cannot read {}", file, path.string()));
    static const std::regex noop(R"(^(ip\s+tcp_metrics\s+flush\b.*|tc\s+qdisc\s+add\s+dev\s+\S+\s+root\s+pfifo)$)");
    static const std::regex redirect(R"(\s*(>\s*/dev/null|2>&1)\s*)");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        std::string t = std::regex_replace(line, redirect, " ");
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
        const auto start = t.find_first_not_of(" \t");
        if (start == std::string::npos || t[start] == '#') continue;
        t = t.substr(start);
        if (const auto a = sysctl_assignments(t)) {
            for (const auto& [name, value] : *a) do_sysctl(l, name, value);
        } else if (!std::regex_match(t, noop)) {
            skip(l, fmt::format("{}:{}: shell command `{}`", file, n, t));
        }
    }
}

void Harness::do_python(const ScriptLine& l) {
    std::smatch m;
    static const std::regex re(R"(^\s*assert\s+tcpi_state\s*==\s*([A-Z_0-9]+)\s*$)");
    if (!std::regex_match(l.command, m, re)) skip(l, fmt::format("Python %{{ {} }}%", l.command));
    const auto want = tcpi_state(m[1]);
    if (!want) skip(l, fmt::format("Python state {}", std::string(m[1])));
    if (last_fd_ < 0 || !fds_.count(last_fd_)) skip(l, "tcpi_state without a socket");
    const tcp::State got = state_of(fds_[last_fd_].sock);
    if (got != *want)
        fail(l, fmt::format("tcpi_state {}", tcp::to_string(*want)), fmt::format("tcpi_state {}", tcp::to_string(got)),
             "connection state differs");
}

void Harness::run() {
    SimTime prev = SimTime::zero();
    SimTime last = SimTime::zero();
    const Duration tol = Duration::us(sc_.tolerance_us);
    // A close() with no packet line after it is the script's teardown: packetdrill never sniffs
    // what it sends (it stops at the last line, then closes every socket and resets the
    // connections: run.c close_all_sockets(), run_packet.c reset_connection()), so neither do we.
    std::size_t last_packet = 0;
    for (std::size_t i = 0; i < sc_.lines.size(); ++i)
        if (sc_.lines[i].kind == LineKind::Packet) last_packet = i + 1;
    for (std::size_t i = 0; i < sc_.lines.size(); ++i) {
        const ScriptLine& l = sc_.lines[i];
        current_line_ = l.lineno;
        if (l.untimed) {  // an init or cleanup command: no time of its own
            do_command(l);
            continue;
        }
        SimTime t = prev;
        if (l.time_kind == TimeKind::Absolute) t = SimTime::zero() + Duration::us(l.time_us);
        if (l.time_kind == TimeKind::Relative) t = prev + Duration::us(l.time_us);
        SimTime t_end = t;  // a range "a~b" ends here (run.c: the same offset as its start)
        if (l.time_end_us >= 0)
            t_end = (l.time_kind == TimeKind::Absolute ? SimTime::zero() : prev) + Duration::us(l.time_end_us);
        if (l.kind == LineKind::Packet && !l.seg.inbound) {
            SimTime actual = t;
            expect_packet(l, t, t_end, actual);
            prev = actual;
            last = std::max(last, actual);
            check_blocking(false);
            continue;
        }
        advance_to(t);
        // A packet the system under test sent well before this line, and that no line expected.
        if (!outbound_.empty() && outbound_.front().time < t - tol) {
            const Outbound& o = outbound_.front();
            fail(l, "no packet from the system under test before this line",
                 fmt::format("> {} at {} s", describe(o.seg), format_seconds(o.time)), "unexpected outbound packet");
        }
        switch (l.kind) {
            case LineKind::Packet: do_packet(l, t); break;
            case LineKind::Syscall: {
                const std::size_t before = outbound_.size();
                if (trace_ != nullptr) record(RecordKind::Call, kNoSocket).text = l.text;  // the line, before what it causes
                if (l.block_end_us >= 0) {
                    if (blocking_) skip(l, "a second blocking call while one is in flight");
                    blocking_.emplace();
                    blocking_->line = l;
                    blocking_->end = (l.time_kind == TimeKind::Absolute ? SimTime::zero() : prev) +
                                     Duration::us(l.block_end_us);
                }
                do_syscall(l);
                settle();
                if (i >= last_packet && l.call.name == "close")
                    outbound_.erase(outbound_.begin() + static_cast<std::ptrdiff_t>(before), outbound_.end());
                break;
            }
            case LineKind::Command: do_command(l); break;
            case LineKind::Python: do_python(l); break;
        }
        prev = t;
        last = std::max(last, t);
        check_blocking(false);
    }
    // After the last line the host runs on for one tolerance: a segment it sends by then (still
    // unmatched from before, in reply to the last inbound segment, or after the last call) is
    // one no line expected. Later ones (a retransmission after the RTO) are past the script.
    if (blocking_ && !blocking_->done) advance_to(std::max(last, blocking_->end + tol));
    check_blocking(true);
    const SimTime end = last + tol;
    advance_to(end);
    if (!outbound_.empty() && outbound_.front().time <= end) {
        const Outbound& o = outbound_.front();
        ScriptLine tail;
        tail.lineno = current_line_;
        tail.text = "(end of script)";
        fail(tail, fmt::format("no further packet up to {} s (the last line's time + {} us)", format_seconds(end),
                               sc_.tolerance_us),
             fmt::format("> {} at {} s", describe(o.seg), format_seconds(o.time)), "unexpected outbound packet");
    }
}

void Harness::finish_blocking(std::int64_t ret, Errno err) {
    if (!blocking_ || blocking_->done) return;
    blocking_->done = true;
    blocking_->done_at = engine_.now();
    blocking_->ret = ret;
    blocking_->err = err;
}

void Harness::check_blocking(bool at_end) {
    if (!blocking_) return;
    const Blocking& b = blocking_.value();
    const Duration tol = Duration::us(sc_.tolerance_us);
    const Syscall& c = b.line.call;
    const std::string want = fmt::format("{} = {}{} at {} s", c.name, c.result, c.errno_name.empty() ? "" : " " + c.errno_name,
                                         format_seconds(b.end));
    if (!b.done) {
        if (at_end || engine_.now() > b.end + tol)
            fail(b.line, want, fmt::format("{}() had not returned by {} s", c.name, format_seconds(engine_.now())),
                 "blocking call did not return in time");
        return;
    }
    const std::string got = b.err != Errno::Ok ? fmt::format("{} = -1 {} at {} s", c.name, to_string(b.err), format_seconds(b.done_at))
                                               : fmt::format("{} = {} at {} s", c.name, b.ret, format_seconds(b.done_at));
    if (!c.result_any && (b.err != Errno::Ok ? c.result != -1 || !errno_equal(c.errno_name, b.err) : c.result != b.ret))
        fail(b.line, want, got, "system call result differs");
    if (b.done_at < b.end - tol || b.done_at > b.end + tol)
        fail(b.line, want, got, fmt::format("returned at {} s, outside {} s +/- {} us", format_seconds(b.done_at),
                                            format_seconds(b.end), sc_.tolerance_us));
    blocking_.reset();
}

}  // namespace

TraceHeader script_trace_header(const std::string& path, const std::string& profile) {
    TraceHeader h;
    h.scenario = path;
    h.name = fmt::format("packetdrill script against the {} profile", profile);
    h.host_names = {"sut", "script"};
    h.host_addrs = {tcp::format_ip(kLocalIp), tcp::format_ip(kRemoteIp)};
    h.has_state = {true, false};
    return h;
}

ScriptResult run_script(const std::string& path, const RunOptions& opt) {
    ScriptResult r;
    r.path = path;
    host::Profile profile = load_profile(opt.profile);
    std::error_code ec;
    const bool folder = std::filesystem::is_directory(path, ec);
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    if (in && !folder) ss << in.rdbuf();
    if (!in || folder || in.bad()) {  // not a script at all: an error, never a skip
        r.verdict = Verdict::Error;
        r.reason = folder ? "cannot read the file: it is a folder" : "cannot read the file";
        return r;
    }
    try {
        const Script sc = parse_script(ss.str(), path, opt.defines);
        Harness h(sc, std::move(profile), opt.trace);
        try {
            h.run();
        } catch (const std::exception& e) {  // not one of ours (they are no std::exception): where it happened
            throw Skip{h.line(), std::string("the harness could not run it: ") + e.what()};
        }
        r.verdict = Verdict::Passed;
    } catch (const SyntaxError& e) {
        r.verdict = Verdict::Error;
        r.lineno = e.lineno;
        r.reason = e.reason;
    } catch (const Unsupported& u) {
        r.verdict = Verdict::Skipped;
        r.lineno = u.lineno;
        r.reason = "unsupported: " + u.reason;
    } catch (const Skip& s) {
        r.verdict = Verdict::Skipped;
        r.lineno = s.lineno;
        r.reason = s.reason;
    } catch (const std::exception& e) {
        r.verdict = Verdict::Skipped;  // a construct the harness could not handle, never a pass
        r.reason = std::string("the harness could not run it: ") + e.what();
    } catch (const Failure& f) {
        r.verdict = Verdict::Failed;
        r.lineno = f.lineno;
        r.line = f.line;
        r.expected = f.expected;
        r.actual = f.actual;
        r.reason = f.summary;
    }
    return r;
}

}  // namespace tcpsim::pkt
