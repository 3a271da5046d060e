#include "world.hpp"

#include <fmt/format.h>

namespace tcpsim {

using host::SocketId;
using host::kNoSocket;

// The Io an endpoint sees during one call: which host and socket it is.
class World::SocketIo final : public tcp::Io {
public:
    SocketIo(World& w, int host, SocketId sock) : w_(w), host_(host), sock_(sock) {}

    void send(const tcp::Segment& seg) override {
        w_.transmit(host_, w_.hosts_[static_cast<std::size_t>(host_)].at(sock_).name, seg);
    }
    void set_timer(tcp::TimerKind kind, SimTime deadline) override { w_.set_timer(host_, sock_, kind, deadline); }
    void transitioned(const tcp::Transition& row, std::string_view why) override {
        ++w_.rows_hit_[row.id];
        ++w_.stats_.transitions;
        if (!w_.recording_) return;
        w_.focus(host_, sock_);
        auto& r = w_.records_[w_.record(RecordKind::Transition, host_, sock_)];
        r.row = row.id;
        r.from = row.from;
        r.to = row.to;
        r.text = std::string(why);
    }
    void notify(tcp::Notice n, Errno err) override { w_.on_notice(host_, sock_, n, err); }
    void redeliver(const tcp::Segment& seg) override { w_.enqueue_delivery(host_, seg, w_.engine_.now()); }

private:
    World& w_;
    int host_;
    SocketId sock_;
};

World::World(const Scenario& sc, bool record)
    : sc_(sc),
      recording_(record),
      link_rng_(Rng::substream(sc.seed, "links")),
      isn_(Rng::substream(sc.seed, "isn").next_u64(), Rng::substream(sc.seed, "isn-k1").next_u64()),
      rows_hit_(tcp::kTransitions.size(), 0) {
    hosts_.reserve(sc.hosts.size());
    for (std::size_t i = 0; i < sc.hosts.size(); ++i) {
        hosts_.emplace_back(sc.hosts[i].name, sc.hosts[i].ip, sc.hosts[i].tcp);
        host_of_ip_[sc.hosts[i].ip] = static_cast<int>(i);
    }
    for (const LinkSpec& l : sc.links) {
        const int a = sc.host_index(l.a), b = sc.host_index(l.b);
        link_of_[{std::min(a, b), std::max(a, b)}] = links_.size();
        links_.emplace_back(a, b, l.params);
    }
    // Pairs without an explicit link get the default link.
    for (int a = 0; a < static_cast<int>(hosts_.size()); ++a)
        for (int b = a + 1; b < static_cast<int>(hosts_.size()); ++b)
            if (!link_of_.count({a, b})) {
                link_of_[{a, b}] = links_.size();
                links_.emplace_back(a, b, sc.default_link);
            }
    for (const DropSpec& d : sc.drops) {
        const int from = sc.host_index(d.from), to = sc.host_index(d.to);
        net::Link& link = links_[link_of_.at({std::min(from, to), std::max(from, to)})];
        link.add_rule(net::DropRule{link.end(0) == from ? 0 : 1, d.match_any, d.flags, d.nth, d.times, 0, d.delay});
    }
    for (std::size_t i = 0; i < sc.actions.size(); ++i)
        engine_.schedule(SimTime::zero() + (sc.actions[i].at - SimTime::zero()), kAction, 0, i);
}

World::~World() = default;

void World::run() {
    engine_.run_until(SimTime::zero() + sc_.duration, [this](const Event& ev) { dispatch(ev); });
}

void World::dispatch(const Event& ev) {
    switch (ev.kind) {
        case kDeliver: {
            const tcp::Segment seg = pool_[ev.arg];
            pool_free_.push_back(static_cast<std::uint32_t>(ev.arg));
            deliver(static_cast<int>(ev.target), seg);
            return;
        }
        case kTimer: {
            const int h = static_cast<int>(ev.target);
            const auto sock = static_cast<SocketId>(ev.arg >> 2);
            const auto kind = static_cast<tcp::TimerKind>(ev.arg & 3);
            host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(sock);
            if (!s.alive) return;
            if (recording_) {
                focus(h, sock);
                records_[record(RecordKind::TimerFire, h, sock)].text = std::string(tcp::to_string(kind));
            }
            SocketIo io(*this, h, sock);
            s.ep.on_timer(engine_.now(), io, kind);
            return;
        }
        case kAction: do_action(sc_.actions[ev.arg]); return;
        case kAppRead: {
            const int h = static_cast<int>(ev.target);
            const auto sock = static_cast<SocketId>(ev.arg);
            host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(sock);
            if (!s.alive) return;
            SocketIo io(*this, h, sock);
            const std::uint32_t n = s.ep.receive(engine_.now(), io, UINT32_MAX);
            if (n > 0 && recording_) records_[record(RecordKind::Call, h, sock)].text = fmt::format("read() = {}", n);
            return;
        }
        default: return;
    }
}

std::size_t World::record(RecordKind kind, int host, SocketId sock) {
    TraceRecord r;
    r.time = engine_.now();
    r.kind = kind;
    r.host = host;
    if (sock != kNoSocket) r.socket = hosts_[static_cast<std::size_t>(host)].at(sock).name;
    r.states = {focused_state(0), focused_state(1)};
    records_.push_back(std::move(r));
    return records_.size() - 1;
}

void World::focus(int host, SocketId sock) {
    if (host < 2 && sock != kNoSocket) focus_[static_cast<std::size_t>(host)] = sock;
}

tcp::State World::focused_state(int i) const {
    if (i >= static_cast<int>(hosts_.size())) return tcp::State::Closed;
    const SocketId s = focus_[static_cast<std::size_t>(i)];
    if (s == kNoSocket) return tcp::State::Closed;
    const host::Socket& sock = hosts_[static_cast<std::size_t>(i)].at(s);
    return sock.ep.state();
}

SocketId World::new_socket_timers(int h, SocketId id) {
    host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(id);
    for (auto& t : s.timers) t = engine_.create_timer();
    return id;
}

void World::set_timer(int h, SocketId sock, tcp::TimerKind kind, SimTime deadline) {
    host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(sock);
    const TimerId t = s.timers[static_cast<std::size_t>(kind)];
    if (deadline.is_never()) {
        engine_.cancel(t);
        return;
    }
    engine_.arm(t, deadline, kTimer, static_cast<std::uint32_t>(h),
                (static_cast<std::uint64_t>(sock) << 2) | static_cast<std::uint64_t>(kind));
    if (recording_) {
        auto& r = records_[record(RecordKind::TimerSet, h, sock)];
        r.text = std::string(tcp::to_string(kind));
        r.deadline = deadline;
    }
}

void World::reap(int h, SocketId sock) {
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    host::Socket& s = hh.at(sock);
    if (!s.alive) return;
    s.alive = false;
    hh.unbind(sock);
    for (TimerId t : s.timers) engine_.release_timer(t);
}

void World::on_notice(int h, SocketId sock, tcp::Notice n, Errno err) {
    if (recording_) {
        auto& r = records_[record(RecordKind::Notice, h, sock)];
        r.text = err == Errno::Ok ? std::string(tcp::to_string(n))
                                  : fmt::format("{} ({})", tcp::to_string(n), to_string(err));
    }
    host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(sock);
    switch (n) {
        case tcp::Notice::Readable:
            if (s.opt.auto_read) engine_.schedule(engine_.now(), kAppRead, static_cast<std::uint32_t>(h), sock);
            return;
        case tcp::Notice::ReturnedToListen:
            // A listener's child whose handshake was reset: the listener keeps listening.
            if (s.listener != kNoSocket) reap(h, sock);
            return;
        case tcp::Notice::Closed: reap(h, sock); return;
        case tcp::Notice::Connected:
        case tcp::Notice::PeerClosed:
        case tcp::Notice::Refused:
        case tcp::Notice::Reset:
        case tcp::Notice::TimedOut: return;
    }
}

void World::transmit(int from_host, const std::string& sock, const tcp::Segment& seg) {
    ++stats_.segments_sent;
    auto dst = host_of_ip_.find(seg.dst.ip);
    if (recording_) {
        auto& r = records_[record(RecordKind::Send, from_host, kNoSocket)];
        r.socket = sock;
        r.seg = seg;
    }
    if (dst == host_of_ip_.end()) return;  // no such host: the segment vanishes
    const int to = dst->second;
    net::Link& link = links_[link_of_.at({std::min(from_host, to), std::max(from_host, to)})];
    SimTime arrival;
    const net::Fate fate = link.transmit(engine_.now(), from_host, seg, link_rng_, arrival);
    if (fate == net::Fate::Delayed) {
        if (recording_) records_.back().text = fmt::format("held back {}", format_duration(arrival - engine_.now() - link.params().latency));
    } else if (fate != net::Fate::Delivered) {
        if (fate == net::Fate::DroppedByRule) ++stats_.segments_dropped;
        else ++stats_.segments_lost;
        // The send record becomes the drop record: one line per segment on the wire.
        if (recording_) records_.back().kind = fate == net::Fate::DroppedByRule ? RecordKind::Drop : RecordKind::Lost;
        return;
    }
    enqueue_delivery(to, seg, arrival);
}

void World::enqueue_delivery(int to, const tcp::Segment& seg, SimTime at) {
    std::uint32_t slot;
    if (!pool_free_.empty()) {
        slot = pool_free_.back();
        pool_free_.pop_back();
        pool_[slot] = seg;
    } else {
        slot = static_cast<std::uint32_t>(pool_.size());
        pool_.push_back(seg);
    }
    engine_.schedule(at, kDeliver, static_cast<std::uint32_t>(to), slot);
}

void World::deliver(int h, const tcp::Segment& seg) {
    ++stats_.segments_delivered;
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    SocketId sid = hh.lookup(seg);
    if (sid != kNoSocket && hh.at(sid).is_listener && seg.syn() && !seg.ack_set() && !seg.rst()) {
        // A SYN for a listener: a child takes it (BSD sonewconn(), Linux request sockets).
        const SocketId child = hh.spawn_child(sid);
        new_socket_timers(h, child);
        hh.bind_connection(child, host::FourTuple{seg.dst.ip, seg.src.ip, seg.dst.port, seg.src.port});
        sid = child;
    }
    if (recording_) {
        focus(h, sid);
        auto& r = records_[record(RecordKind::Arrive, h, sid)];
        r.seg = seg;
    }
    if (sid == kNoSocket) {
        // No connection and no listener: the reply of the CLOSED state (RFC 9293 §3.10.7.1).
        tcp::Segment rst;
        if (tcp::reset_for_closed(seg, rst)) transmit(h, "-", rst);
        return;
    }
    SocketIo io(*this, h, sid);
    hh.at(sid).ep.on_segment(engine_.now(), io, seg);
}

void World::do_action(const ActionSpec& a) {
    const int h = sc_.host_index(a.host);
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    const HostSpec& spec = sc_.hosts[static_cast<std::size_t>(h)];
    const SimTime now = engine_.now();

    auto call_record = [&](SocketId sid, const std::string& text) -> std::size_t {
        if (!recording_) return 0;
        focus(h, sid);
        const std::size_t i = record(RecordKind::Call, h, sid);
        records_[i].socket = a.sock;
        records_[i].text = text;
        return i;
    };
    auto set_result = [&](std::size_t i, const std::string& result) {
        if (recording_) records_[i].text += result;
    };

    if (a.call == Call::Listen || a.call == Call::Connect) {
        const SocketId sid = new_socket_timers(h, hh.create(a.sock, a.options));
        host::Socket& s = hh.at(sid);
        s.ep.set_isn_source(&isn_, spec.isn);
        s.ep.set_ts_offset(spec.ts_offset);
        SocketIo io(*this, h, sid);
        if (a.call == Call::Listen) {
            const std::size_t rec = call_record(sid, fmt::format("listen(:{})", a.port));
            hh.bind_listener(sid, a.port);
            const Errno e = s.ep.open_passive(now, io, tcp::SockAddr{hh.ip(), a.port}, std::nullopt);
            set_result(rec, fmt::format(" = {}", e == Errno::Ok ? "0" : std::string(to_string(e))));
        } else {
            const int peer = sc_.host_index(a.to_host);
            const std::uint16_t port = a.port != 0 ? a.port : hh.next_ephemeral_port();
            const tcp::SockAddr local{hh.ip(), port};
            const tcp::SockAddr remote{sc_.hosts[static_cast<std::size_t>(peer)].ip, a.to_port};
            const std::size_t rec = call_record(sid, fmt::format("connect({}) from :{}", tcp::format_addr(remote), port));
            hh.bind_connection(sid, host::FourTuple{local.ip, remote.ip, local.port, remote.port});
            const Errno e = s.ep.open_active(now, io, local, remote);
            set_result(rec, fmt::format(" = {}", e == Errno::Ok ? "EINPROGRESS" : std::string(to_string(e))));
        }
        return;
    }

    const auto found = hh.find_by_name(a.sock);
    if (!found || !hh.at(*found).alive) {
        // The socket was never accepted, or its connection is gone: like a closed descriptor.
        call_record(kNoSocket, fmt::format("{}() = EBADF (no socket \"{}\")", to_string(a.call), a.sock));
        return;
    }
    const SocketId sid = *found;
    host::Socket& s = hh.at(sid);
    SocketIo io(*this, h, sid);
    switch (a.call) {
        case Call::Send: {
            const std::size_t rec = call_record(sid, fmt::format("send({})", a.bytes));
            const Errno e = s.ep.send(now, io, a.bytes);
            set_result(rec, e == Errno::Ok ? fmt::format(" = {}", a.bytes) : fmt::format(" = {}", to_string(e)));
            return;
        }
        case Call::Receive: {
            const std::size_t rec = call_record(sid, "read()");
            const std::uint32_t n = s.ep.receive(now, io, a.bytes);
            set_result(rec, fmt::format(" = {}", n));
            return;
        }
        case Call::Close: {
            const std::size_t rec = call_record(sid, "close()");
            const Errno e = s.ep.close(now, io);
            set_result(rec, e == Errno::Ok ? " = 0" : fmt::format(" = {}", to_string(e)));
            return;
        }
        case Call::Shutdown: {
            const std::size_t rec = call_record(sid, "shutdown(SHUT_WR)");
            const Errno e = s.ep.shutdown_write(now, io);
            set_result(rec, e == Errno::Ok ? " = 0" : fmt::format(" = {}", to_string(e)));
            return;
        }
        case Call::Abort: {
            const std::size_t rec = call_record(sid, "abort()");
            const Errno e = s.ep.abort(now, io);
            set_result(rec, e == Errno::Ok ? " = 0" : fmt::format(" = {}", to_string(e)));
            return;
        }
        case Call::SetLinger:
            call_record(sid, "setsockopt(SO_LINGER, {1, 0}) = 0");
            s.opt.linger_zero = true;
            s.ep.set_linger_zero(true);
            return;
        case Call::Listen:
        case Call::Connect: return;
    }
}

}  // namespace tcpsim
