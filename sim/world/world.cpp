#include "world/world.hpp"

#include "host/host_input.hpp"

#include <fmt/format.h>

namespace tcpsim {

using host::SocketId;
using host::kNoSocket;

void World::set_timer(int h, SocketId sock, host::Socket& s, tcp::TimerKind kind, SimTime deadline) {
    const TimerId t = s.timers[static_cast<std::size_t>(kind)];
    if (deadline.is_never()) {
        engine_.cancel(t);
        return;
    }
    engine_.arm(t, deadline, kTimer, static_cast<std::uint32_t>(h),
                (static_cast<std::uint64_t>(sock) << 2) | static_cast<std::uint64_t>(kind));
    if (recording_) [[unlikely]] record_timer_set(h, sock, kind, deadline);
}

void World::record_timer_set(int h, SocketId sock, tcp::TimerKind kind, SimTime deadline) {
    auto& r = records_[record(RecordKind::TimerSet, h, sock)];
    r.text = std::string(tcp::to_string(kind));
    r.deadline = deadline;
}

void World::record_send(int h, std::string_view sock, const tcp::Segment& seg) {
    auto& r = records_[record(RecordKind::Send, h, kNoSocket)];
    r.socket = std::string(sock);
    r.seg = seg;
}

void World::observe_send(int h, std::string_view sock, const tcp::Segment& seg) {
    if (recording_) record_send(h, sock, seg);
    if (tap_ != nullptr) tap_->on_wire(engine_.now(), h, seg);
}

void World::tap_forward(int node, const tcp::Segment& seg) { tap_->on_wire(engine_.now(), node, seg); }

void World::record_held_back(Duration extra) { records_.back().text = fmt::format("held back {}", format_duration(extra)); }

void World::record_notice(int h, SocketId sock, tcp::Notice n, Errno err) {
    records_[record(RecordKind::Notice, h, sock)].text =
        err == Errno::Ok ? std::string(tcp::to_string(n)) : fmt::format("{} ({})", tcp::to_string(n), to_string(err));
}

void World::record_transition(int h, SocketId sock, const tcp::Transition& row, std::string_view why) {
    focus(h, sock);
    auto& r = records_[record(RecordKind::Transition, h, sock)];
    r.row = row.id;
    r.from = row.from;
    r.to = row.to;
    r.text = std::string(why);
}

void World::on_notice(int h, SocketId sock, host::Socket& s, tcp::Notice n, Errno err) {
    if (n == tcp::Notice::TimeWait || n == tcp::Notice::OrphanFinWait2) {  // for the host, not the application
        pending_time_wait_.emplace_back(h, sock);
        return;
    }
    if (recording_) [[unlikely]] record_notice(h, sock, n, err);
    // The application hears of it once the endpoint's call has returned (never re-entrantly).
    if (app_notices_ & (1u << static_cast<unsigned>(n))) pending_app_notices_.push_back(AppNotice{h, sock, n, err});
    switch (n) {
        case tcp::Notice::TimeWait:
        case tcp::Notice::OrphanFinWait2: return;
        case tcp::Notice::Readable:
            if (s.opt.auto_read)
                engine_.schedule(engine_.now(), kAppRead, static_cast<std::uint32_t>(h), ((s.serial & 0xFFFFFFFFu) << 32) | sock);
            return;
        case tcp::Notice::ReturnedToListen:
            // A listener's child whose handshake was reset: the listener keeps listening.
            if (s.listener != kNoSocket) reap(h, sock);
            return;
        case tcp::Notice::Closed: reap(h, sock); return;
        case tcp::Notice::Connected:
            // A listener in automatic mode accepts every connection as soon as it is established.
            if (s.listener != kNoSocket && !hosts_[static_cast<std::size_t>(h)].at(s.listener).manual_accept)
                s.accepted = true;
            return;
        case tcp::Notice::PeerClosed:
        case tcp::Notice::Refused:
        case tcp::Notice::Reset:
        case tcp::Notice::TimedOut: return;
    }
}

// The Io an endpoint sees during one call: which host and socket it is.
class World::SocketIo final : public tcp::Io {
public:
    // The socket's slot stays put for the whole call: a slot is only given back at the end of
    // settle(), after the event.
    SocketIo(World& w, int host, SocketId sock)
        : w_(w), host_(host), sock_(sock), s_(w.hosts_[static_cast<std::size_t>(host)].at(sock)) {}
    SocketIo(World& w, int host, SocketId sock, host::Socket& s) : w_(w), host_(host), sock_(sock), s_(s) {}

    [[gnu::always_inline]] void send(const tcp::Segment& seg) override {
        if (!w_.recording_) w_.transmit(host_, {}, seg);  // the name is only read for a trace record
        else w_.transmit(host_, w_.hosts_[static_cast<std::size_t>(host_)].socket_name(sock_), seg);
    }
    [[gnu::always_inline]] void set_timer(tcp::TimerKind kind, SimTime deadline) override { w_.set_timer(host_, sock_, s_, kind, deadline); }
    [[gnu::always_inline]] void transitioned(const tcp::Transition& row, std::string_view why) override {
        ++w_.rows_hit_[row.id];
        ++w_.stats_.transitions;
        w_.count_state(host_, row.from, -1);
        w_.count_state(host_, row.to, +1);
        if (w_.recording_) [[unlikely]] w_.record_transition(host_, sock_, row, why);
    }
    [[gnu::always_inline]] void notify(tcp::Notice n, Errno err) override { w_.on_notice(host_, sock_, s_, n, err); }
    void redeliver(const tcp::Segment& seg) override { w_.enqueue_delivery(host_, seg, w_.engine_.now()); }

private:
    World& w_;
    int host_;
    SocketId sock_;
    host::Socket& s_;
};

// What a host's segment input needs from the world (host/host_input.hpp): the endpoint's Io,
// the sends of sockets that are not full sockets, timers for children, and the observers.
class World::HostEnv {
public:
    HostEnv(World& w, int host) : w_(w), host_(host) {}

    [[gnu::always_inline]] SocketIo io(SocketId sock, host::Socket& s) { return SocketIo(w_, host_, sock, s); }
    void reply(std::string_view who, const tcp::Segment& seg) { w_.transmit(host_, who, seg); }
    void spawned(SocketId child) {
        w_.new_socket_timers(host_, child);
        // The child is a copy of the listener for an instant (it leaves LISTEN at once): counted
        // for the balance of the next transition, not as a listener at its peak.
        ++w_.state_counts_[static_cast<std::size_t>(host_)][static_cast<std::size_t>(tcp::State::Listen)];
    }
    tcp::IsnGenerator* isn_source() { return &w_.isn_; }
    [[gnu::always_inline]] void arrived(SocketId sock, const tcp::Segment& seg) {
        if (!w_.recording_) [[likely]] return;
        w_.focus(host_, sock);
        w_.records_[w_.record(RecordKind::Arrive, host_, sock)].seg = seg;
    }
    void arrived_time_wait(const tcp::Segment& seg) {
        if (!w_.recording_) return;
        auto& r = w_.records_[w_.record(RecordKind::Arrive, host_, kNoSocket)];
        r.socket = "(time-wait)";
        r.seg = seg;
    }
    void dropped(host::InputDrop why, SocketId sock, const tcp::Segment& seg) {
        switch (why) {
            case host::InputDrop::TimeWait: w_.count_syn_drop(host_, SynDrop::TimeWait, seg); return;
            case host::InputDrop::TwRecycle: w_.count_syn_drop(host_, SynDrop::TwRecycle, seg); return;
            case host::InputDrop::AcceptQueue:
                ++w_.stats_.listen_overflows;
                w_.count_syn_drop(host_, SynDrop::AcceptQueue, seg);
                if (w_.recording_) {
                    auto& r = w_.records_[w_.record(RecordKind::Drop, host_, sock)];
                    r.seg = seg;
                    r.text = "accept queue full";
                }
                return;
        }
    }
    [[nodiscard]] std::uint64_t sent() const { return w_.stats_.segments_sent; }

private:
    World& w_;
    int host_;
};

World::World(const Scenario& sc, bool record)
    : sc_(sc),
      recording_(record),
      link_rng_(Rng::substream(sc.seed, "links")),
      isn_(Rng::substream(sc.seed, "isn").next_u64(), Rng::substream(sc.seed, "isn-k1").next_u64()),
      rows_hit_(tcp::kTransitions.size(), 0),
      observe_sends_(record) {
    hosts_.reserve(sc.hosts.size());
    stats_.syn_retransmitted.assign(sc.hosts.size(), 0);
    for (std::size_t i = 0; i < sc.hosts.size(); ++i) {
        hosts_.emplace_back(sc.hosts[i].name, sc.hosts[i].ip, sc.hosts[i].tcp, sc.hosts[i].stack,
                            Rng::substream(sc.seed, "host:" + sc.hosts[i].name).next_u64());
        for (std::uint32_t extra : sc.hosts[i].extra_ips) {
            hosts_.back().add_address(extra);
            set_ip_owner(extra, static_cast<int>(i));
        }
        hosts_.back().watch_time_wait(&tw_changes_);
        if (recording_) {
            mini_recorders_.push_back(std::make_unique<MiniSockRecorder>(*this, static_cast<int>(i)));
            hosts_.back().observe_mini_sockets(mini_recorders_.back().get());
        }
        tw_timer_.push_back(engine_.create_timer());
        tw_armed_.push_back(SimTime::never());
        tw_seen_.push_back(~std::uint64_t{0});
        set_ip_owner(sc.hosts[i].ip, static_cast<int>(i));
    }
    state_counts_.assign(hosts_.size(), StateCounts{});
    state_peaks_.assign(hosts_.size(), StateCounts{});
    stopped_hosts_.assign(hosts_.size(), 0);
    nat_of_host_.assign(hosts_.size(), -1);
    for (const HostSpec& hs : sc.hosts) profiles_.push_back(hs.profile_data);
    const int nh = static_cast<int>(hosts_.size());
    for (std::size_t i = 0; i < sc.forecast.nats.size(); ++i) {
        const NatSpec& ns = sc.forecast.nats[i];
        nats_.push_back(NatBox{ns.name, net::Nat(ns.config, Rng::substream(sc.seed, "nat:" + ns.name).next_u64())});
        for (const std::string& in : ns.inside) nat_of_host_[static_cast<std::size_t>(sc.host_index(in))] = static_cast<int>(i);
        for (std::uint32_t a : ns.config.outer) set_ip_owner(a, nh + static_cast<int>(i));
    }
    for (std::size_t i = 0; i < sc.forecast.balancers.size(); ++i) {
        const BalancerSpec& bs = sc.forecast.balancers[i];
        net::BalancerConfig cfg;
        cfg.vip = tcp::SockAddr{bs.vip, bs.port};
        for (const TargetSpec& t : bs.backends) cfg.backends.push_back(tcp::SockAddr{t.ip, t.port});
        cfg.policy = static_cast<net::LbPolicy>(bs.algorithm);
        cfg.snat = bs.snat;
        cfg.snat_config = bs.snat_config;
        cfg.flow_timeout = bs.flow_timeout;
        lbs_.push_back(LbBox{bs.name, net::Balancer(cfg, Rng::substream(sc.seed, "lb:" + bs.name).next_u64())});
        const int node = nh + static_cast<int>(nats_.size() + i);
        set_ip_owner(bs.vip, node);
        if (bs.snat)
            for (std::uint32_t a : bs.snat_config.outer) set_ip_owner(a, node);
    }
    route_cache_.assign(static_cast<std::size_t>(node_count()), Route{});
    link_of_.reserve(sc.links.size() * 2);
    for (const LinkSpec& l : sc.links) {
        const int a = sc.node_index(l.a), b = sc.node_index(l.b);
        link_of_[pair_key(a, b)] = static_cast<std::int32_t>(links_.size());
        links_.emplace_back(a, b, l.params);
    }
    // Pairs without an explicit link get the default link when first used (link_between).
    for (const DropSpec& d : sc.drops) {
        const int from = sc.host_index(d.from), to = sc.host_index(d.to);
        net::Link& link = link_between(from, to);
        link.add_rule(net::DropRule{link.end(0) == from ? 0 : 1, d.match_any, d.flags, d.nth, d.times, 0, d.delay});
    }
    for (std::size_t i = 0; i < sc.actions.size(); ++i)
        engine_.schedule(SimTime::zero() + (sc.actions[i].at - SimTime::zero()), kAction, 0, i);
}

World::~World() = default;

void World::run() {
    const SimTime end = SimTime::zero() + sc_.duration;
    if (!progress_) {
        engine_.run_until(end, [this](const Event& ev) { dispatch(ev); });
        return;
    }
    std::uint64_t n = 0;
    engine_.run_until(end, [this, &n](const Event& ev) {
        dispatch(ev);
        if (++n % kProgressEvents == 0) progress_(ev.time);
    });
}

void World::dispatch(const Event& ev) {
    dispatch_one(ev);
    settle();
}

void World::notify_app() {
    // Notices for the application, in order; its calls may raise more, which are heard in turn.
    for (std::size_t i = 0; i < pending_app_notices_.size(); ++i) {
        const AppNotice an = pending_app_notices_[i];
        app_->on_notice(*this, an.host, an.sock, an.notice, an.err);
    }
    pending_app_notices_.clear();
}

void World::settle_pending() {
    // Sockets that entered TIME-WAIT or became orphaned FIN-WAIT-2s during the event (or during
    // the application's calls after it): a Linux host keeps a mini-socket instead (the host
    // records it in a trace: record_mini_socket()).
    for (std::size_t i = 0; i < pending_time_wait_.size(); ++i) {
        const auto [h, sock] = pending_time_wait_[i];
        host::Host& hh = hosts_[static_cast<std::size_t>(h)];
        host::Socket& s = hh.at(sock);
        if (hh.enter_time_wait(engine_.now(), sock) == host::MiniSockOutcome::FullSocket) continue;
        s.alive = false;
        count_state(h, s.ep.state(), -1);
        for (TimerId t : s.timers) engine_.release_timer(t);
        if (hh.socket_reuse()) pending_free_.emplace_back(h, sock);
    }
    pending_time_wait_.clear();
    // Each Linux host's next TIME-WAIT expiry has one engine timer.
    for (std::size_t h = 0; h < hosts_.size() && tw_changes_ != tw_changes_seen_; ++h) {
        if (hosts_[h].time_wait_version() == tw_seen_[h] || !hosts_[h].stack().linux_minisock) continue;
        tw_seen_[h] = hosts_[h].time_wait_version();
        // A mini-socket may have changed substate (FIN-WAIT-2 -> TIME-WAIT) without any full
        // socket's transition: the peaks count it here (count_state() counts the others).
        note_mini_socket_peaks(h);
        const SimTime next = hosts_[h].next_time_wait_expiry();
        if (next == tw_armed_[h]) continue;
        tw_armed_[h] = next;
        if (next.is_never()) engine_.cancel(tw_timer_[h]);
        else engine_.arm(tw_timer_[h], next, kTwExpiry, static_cast<std::uint32_t>(h));
    }
    tw_changes_seen_ = tw_changes_;
    // Slots of sockets that went during the event: nothing refers to them any more (their
    // notices have been heard, their timers released).
    for (const auto& [h, sock] : pending_free_) hosts_[static_cast<std::size_t>(h)].free_socket(sock);
    pending_free_.clear();
}

void World::deliver(int h, const tcp::Segment& seg) {
    if (stopped_hosts_[static_cast<std::size_t>(h)]) return;
    ++stats_.segments_delivered;
    HostEnv env(*this, h);
    hosts_[static_cast<std::size_t>(h)].input(engine_.now(), seg, env);
}

void World::dispatch_one(const Event& ev) {
    switch (ev.kind) {
        case kDeliver: {
            const tcp::Segment& seg = pool_[ev.arg];
            if (ev.target >= hosts_.size()) middlebox_deliver(static_cast<int>(ev.target), seg);
            else deliver(static_cast<int>(ev.target), seg);
            pool_free_.push_back(static_cast<std::uint32_t>(ev.arg));
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
            // A connect's first SYN retransmission is counted (the verdict's default judge).
            const bool first_syn = s.ep.state() == tcp::State::SynSent && !s.ep.tcb().handshake_retransmitted;
            SocketIo io(*this, h, sock, s);
            s.ep.on_timer(engine_.now(), io, kind);
            if (first_syn && hosts_[static_cast<std::size_t>(h)].at(sock).ep.tcb().handshake_retransmitted)
                ++stats_.syn_retransmitted[static_cast<std::size_t>(h)];
            return;
        }
        case kAction: do_action(sc_.actions[ev.arg]); return;
        case kTwExpiry: {
            const std::size_t h = ev.target;
            tw_armed_[h] = SimTime::never();
            stats_.time_wait_expired += hosts_[h].expire_time_waits(engine_.now());
            return;
        }
        case kApp:
            if (app_) app_->on_app_event(*this, ev.arg);
            return;
        case kAppRead: {
            const int h = static_cast<int>(ev.target);
            const auto sock = static_cast<SocketId>(ev.arg & 0xFFFFFFFFu);
            host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(sock);
            if (!s.alive || (s.serial & 0xFFFFFFFFu) != ev.arg >> 32) return;  // gone (its slot may hold another)
            SocketIo io(*this, h, sock, s);
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
    if (sock != kNoSocket) r.socket = hosts_[static_cast<std::size_t>(host)].socket_name(sock);
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
    const host::Host& h = hosts_[static_cast<std::size_t>(i)];
    const host::Socket& sock = h.at(s);
    if (sock.alive || (sock.ep.state() != tcp::State::TimeWait && sock.ep.state() != tcp::State::FinWait2)) return sock.ep.state();
    // A socket the host handed to a mini-socket: the mini-socket's state while it lasts, CLOSED
    // once it is gone (or when none was kept: tcp_max_tw_buckets, nolocaltimewait).
    const tcp::Tcb& t = sock.ep.tcb();
    const host::TimeWaitSock* tw = h.find_time_wait(host::FourTuple{t.local.ip, t.remote.ip, t.local.port, t.remote.port});
    return tw == nullptr ? tcp::State::Closed : tw->state();
}

SocketId World::new_socket_timers(int h, SocketId id) {
    host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(id);
    for (auto& t : s.timers) t = engine_.create_timer();
    return id;
}

void World::reap(int h, SocketId sock) {
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    host::Socket& s = hh.at(sock);
    if (!s.alive) return;
    s.alive = false;
    if (s.ep.state() != tcp::State::Closed) count_state(h, s.ep.state(), -1);
    hh.release(sock);
    for (TimerId t : s.timers) engine_.release_timer(t);
    if (hh.socket_reuse()) pending_free_.emplace_back(h, sock);
}

void World::transmit(int from_host, std::string_view sock, const tcp::Segment& seg) {
    if (stopped_hosts_[static_cast<std::size_t>(from_host)]) return;
    ++stats_.segments_sent;
    if (observe_sends_) [[unlikely]] observe_send(from_host, sock, seg);
    // A destination the sender owns (127/8 or one of its addresses) goes over the loopback.
    if (hosts_[static_cast<std::size_t>(from_host)].owns(seg.dst.ip)) {
        enqueue_delivery(from_host, seg, engine_.now() + Duration::us(10));
        return;
    }
    net::Link* lp = nullptr;
    const int to = route(from_host, seg, lp);
    if (to < 0) return;  // no such host: the segment vanishes
    net::Link& link = *lp;
    SimTime arrival;
    const net::Fate fate = link.transmit(engine_.now(), from_host, seg, link_rng_, arrival);
    if (fate == net::Fate::Delayed) {
        if (recording_) [[unlikely]] record_held_back(arrival - engine_.now() - link.params().latency);
    } else if (fate != net::Fate::Delivered) {
        if (fate == net::Fate::DroppedByRule) ++stats_.segments_dropped;
        else ++stats_.segments_lost;
        // The send record becomes the drop record: one line per segment on the wire.
        if (recording_) records_.back().kind = fate == net::Fate::DroppedByRule ? RecordKind::Drop : RecordKind::Lost;
        return;
    }
    enqueue_delivery(to, seg, arrival);
}

net::Link& World::link_between(int a, int b) {
    const int lo = std::min(a, b), hi = std::max(a, b);
    const auto [it, fresh] = link_of_.try_emplace(pair_key(a, b), -1);
    std::int32_t& idx = it->second;
    if (fresh) {
        idx = static_cast<std::int32_t>(links_.size());
        links_.emplace_back(lo, hi, sc_.default_link);
    }
    return links_[static_cast<std::size_t>(idx)];
}

// The first entry of ip_owner_ whose address is not below ip.
static auto ip_lower_bound(auto& v, std::uint32_t ip) {
    return std::lower_bound(v.begin(), v.end(), ip, [](const auto& e, std::uint32_t a) { return e.first < a; });
}

int World::node_of_ip(std::uint32_t ip) const {
    auto it = ip_lower_bound(ip_owner_, ip);
    return it != ip_owner_.end() && it->first == ip ? it->second : -1;
}

int World::route_miss(int from_node, const tcp::Segment& seg, net::Link*& link) {
    Route& r = route_cache_[static_cast<std::size_t>(from_node)];
    r = Route{};
    if (node_of_ip(seg.dst.ip) < 0) return -1;
    const int to = next_hop(from_node, seg);
    link_between(from_node, to);
    r = Route{seg.dst.ip, to, link_of_.at(pair_key(from_node, to)),
              route_epoch_};
    link = &links_[static_cast<std::size_t>(r.link)];
    return r.to;
}

void World::set_ip_owner(std::uint32_t ip, int node) {
    ++route_epoch_;
    auto it = ip_lower_bound(ip_owner_, ip);
    if (it != ip_owner_.end() && it->first == ip) it->second = node;
    else ip_owner_.insert(it, {ip, node});
}

void World::erase_ip_owner(std::uint32_t ip) {
    ++route_epoch_;
    auto it = ip_lower_bound(ip_owner_, ip);
    if (it != ip_owner_.end() && it->first == ip) ip_owner_.erase(it);
}

std::string World::node_name(int node) const {
    const auto nh = static_cast<int>(hosts_.size());
    if (node < nh) return hosts_[static_cast<std::size_t>(node)].name();
    if (node < nh + static_cast<int>(nats_.size())) return nats_[static_cast<std::size_t>(node - nh)].name;
    return lbs_[static_cast<std::size_t>(node - nh - static_cast<int>(nats_.size()))].name;
}

// Routing: a host behind a NAT reaches every node outside it through the NAT; a backend of a
// balancer in plain NAT mode sends its replies to the balancer's clients through the balancer
// (its gateway); everything else goes straight to the node that owns the destination address.
int World::next_hop(int from_node, const tcp::Segment& seg) const {
    const int dst = node_of_ip(seg.dst.ip);
    const auto nh = static_cast<int>(hosts_.size());
    if (from_node < nh) {
        const int n = nat_of_host_[static_cast<std::size_t>(from_node)];
        if (n >= 0 && !(dst >= 0 && dst < nh && nat_of_host_[static_cast<std::size_t>(dst)] == n)) return nh + n;
        for (std::size_t i = 0; i < lbs_.size(); ++i)
            if (lbs_[i].lb.is_backend_reply(seg)) return nh + static_cast<int>(nats_.size() + i);
    }
    return dst;
}

void World::forward(int from_node, const tcp::Segment& seg) {
    ++stats_.segments_sent;
    if (tap_ != nullptr) [[unlikely]] tap_forward(from_node, seg);
    const int to = next_hop(from_node, seg);
    if (to < 0 || to == from_node) return;  // no route: the segment vanishes
    net::Link& link = link_between(from_node, to);
    SimTime arrival;
    const net::Fate fate = link.transmit(engine_.now(), from_node, seg, link_rng_, arrival);
    if (fate == net::Fate::DroppedByRule) ++stats_.segments_dropped;
    if (fate == net::Fate::Lost) ++stats_.segments_lost;
    if (fate == net::Fate::Delivered || fate == net::Fate::Delayed) enqueue_delivery(to, seg, arrival);
}

// A segment at a NAT gateway or a balancer: translated and sent on, or dropped.
void World::middlebox_deliver(int node, const tcp::Segment& seg) {
    ++stats_.segments_delivered;
    const SimTime now = engine_.now();
    const auto idx = static_cast<std::size_t>(node) - hosts_.size();
    if (idx < nats_.size()) {
        net::Nat& nat = nats_[idx].nat;
        bool outer = false;
        for (std::uint32_t a : nat.config().outer) outer = outer || a == seg.dst.ip;
        if (outer) {
            if (auto in = nat.inbound(now, seg)) forward(node, *in);
            return;
        }
        const net::Nat::Outbound o = nat.outbound(now, seg);
        if (o.exhausted) {
            ++stats_.middlebox_drops;
            count_syn_drop(node, SynDrop::NatNoPort, seg);
            if (app_) app_->on_middlebox_exhausted(*this, node, seg);
        }
        if (o.kind != net::Nat::Outbound::Kind::Drop) forward(node, o.seg);
        return;
    }
    net::Balancer& lb = lbs_[idx - nats_.size()].lb;
    if (seg.dst == lb.config().vip) {
        const net::Balancer::Result r = lb.from_client(now, seg);
        if (r.seg) forward(node, *r.seg);
        else if (r.exhausted) {
            ++stats_.middlebox_drops;
            count_syn_drop(node, SynDrop::NatNoPort, seg);
            if (app_) app_->on_middlebox_exhausted(*this, node, seg);
        }
        return;
    }
    if (auto out = lb.from_backend(now, seg)) forward(node, *out);
}

void World::set_sysctl(int h, const std::string& name, const std::string& value) {
    host::Profile& p = profiles_[static_cast<std::size_t>(h)];
    (void)host::set_sysctl(p, name, value);
    hosts_[static_cast<std::size_t>(h)].set_tcp_config(p.tcp);
    hosts_[static_cast<std::size_t>(h)].set_stack(p.stack);
}

void World::enqueue_delivery(int to, const tcp::Segment& seg, SimTime at) {
    std::uint32_t slot;
    if (!pool_free_.empty()) {
        slot = pool_free_.back();
        pool_free_.pop_back();
        pool_[slot] = seg;
    } else {
        slot = static_cast<std::uint32_t>(pool_.size());
        pool_.emplace_back(seg);
    }
    engine_.schedule(at, kDeliver, static_cast<std::uint32_t>(to), slot);
}

SocketId World::sock_create(int h, const std::string& name, host::SocketOptions opt) {
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    const HostSpec& spec = sc_.hosts[static_cast<std::size_t>(h)];
    const SocketId sid = new_socket_timers(h, hh.create(name, opt));
    hh.at(sid).ep.set_isn_source(&isn_, spec.isn);
    hh.at(sid).ep.set_ts_offset(spec.ts_offset);
    return sid;
}

Errno World::sock_bind(int h, SocketId id, std::uint16_t port, std::uint32_t addr) {
    return hosts_[static_cast<std::size_t>(h)].sys_bind(id, addr, port);
}

Errno World::sock_listen(int h, SocketId id, std::uint16_t port) {
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    const Errno e = hh.sys_listen_prepare(id, port);
    if (e != Errno::Ok) return e;
    SocketIo io(*this, h, id);
    const std::uint32_t addr = hh.at(id).bound_addr != 0 ? hh.at(id).bound_addr : hh.ip();  // bind(addr, port) first
    return hh.at(id).ep.open_passive(engine_.now(), io, tcp::SockAddr{addr, port}, std::nullopt);
}

Errno World::sock_connect(int h, SocketId id, const tcp::SockAddr& remote) {
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    tcp::SockAddr local;
    std::optional<tcp::Seq> reuse_isn;
    const Errno e = hh.sys_connect_prepare(engine_.now(), id, remote, local, reuse_isn);
    if (e != Errno::Ok) return e;
    if (reuse_isn) hh.at(id).ep.set_isn_source(&isn_, reuse_isn);  // takes over a TIME-WAIT
    SocketIo io(*this, h, id);
    return hh.at(id).ep.open_active(engine_.now(), io, local, remote);
}

Errno World::sock_send(int h, SocketId id, std::uint32_t bytes) {
    host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(id);
    if (!s.alive) return Errno::BadF;
    SocketIo io(*this, h, id, s);
    return s.ep.send(engine_.now(), io, bytes);
}

std::uint32_t World::sock_receive(int h, SocketId id, std::uint32_t max) {
    host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(id);
    if (!s.alive) return 0;
    SocketIo io(*this, h, id, s);
    return s.ep.receive(engine_.now(), io, max);
}

Errno World::sock_close(int h, SocketId id) {
    host::Socket& s = hosts_[static_cast<std::size_t>(h)].at(id);
    if (!s.alive) return Errno::Ok;  // the connection is already gone: the descriptor just goes
    if (s.ep.state() == tcp::State::Closed) {
        reap(h, id);  // never connected (or failed): its port is free again
        return Errno::Ok;
    }
    SocketIo io(*this, h, id, s);
    return s.ep.close(engine_.now(), io);
}

// A scripted call's trace record (none when not recording): the call, its result added later.
std::size_t World::call_record(int h, SocketId sid, const ActionSpec& a, const std::string& text) {
    if (!recording_) return 0;
    focus(h, sid);
    const std::size_t i = record(RecordKind::Call, h, sid);
    records_[i].socket = a.sock;
    records_[i].text = text;
    return i;
}

void World::call_result(std::size_t rec, const std::string& result) {
    if (recording_) records_[rec].text += result;
}

void World::do_listen(int h, const ActionSpec& a) {
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    const SocketId sid = sock_create(h, a.sock, a.options);
    const std::size_t rec = call_record(h, sid, a, fmt::format("listen(:{})", a.port));
    hh.at(sid).backlog = a.backlog;
    hh.at(sid).manual_accept = a.manual_accept;
    const Errno e = sock_listen(h, sid, a.port);
    call_result(rec, fmt::format(" = {}", e == Errno::Ok ? "0" : std::string(to_string(e))));
    if (e != Errno::Ok) {
        if (app_) app_->on_call_failed(*this, h, "listen", e, tcp::SockAddr{hh.ip(), a.port}, tcp::SockAddr{});
        sock_close(h, sid);
    }
}

void World::do_connect(int h, const ActionSpec& a) {
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    const SocketId sid = sock_create(h, a.sock, a.options);
    const int peer = sc_.host_index(a.to_host);
    const tcp::SockAddr remote{sc_.hosts[static_cast<std::size_t>(peer)].ip, a.to_port};
    if (a.port != 0) {
        const Errno b = sock_bind(h, sid, a.port);
        if (b != Errno::Ok) {
            call_record(h, sid, a, fmt::format("bind(:{}) = {}", a.port, to_string(b)));
            ++stats_.failures[std::string(to_string(b))];
            if (app_) app_->on_call_failed(*this, h, "bind", b, tcp::SockAddr{hh.ip(), a.port}, remote);
            sock_close(h, sid);
            return;
        }
    }
    const std::size_t rec = call_record(h, sid, a, fmt::format("connect({})", tcp::format_addr(remote)));
    const Errno e = sock_connect(h, sid, remote);
    if (e == Errno::Ok) {
        call_result(rec, fmt::format(" from :{} = EINPROGRESS", hh.at(sid).ep.tcb().local.port));
        return;
    }
    call_result(rec, fmt::format(" = {}", to_string(e)));
    ++stats_.failures[std::string(to_string(e))];
    if (app_) app_->on_call_failed(*this, h, "connect", e, tcp::SockAddr{hh.ip(), hh.at(sid).bound_port}, remote);
    sock_close(h, sid);
}

void World::do_action(const ActionSpec& a) {
    const int h = sc_.host_index(a.host);
    if (a.call == Call::Listen) return do_listen(h, a);
    if (a.call == Call::Connect) return do_connect(h, a);
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    const auto found = hh.find_by_name(a.sock);
    if (!found || !hh.at(*found).alive) {
        // The socket was never accepted, or its connection is gone: like a closed descriptor.
        call_record(h, kNoSocket, a, fmt::format("{}() = EBADF (no socket \"{}\")", to_string(a.call), a.sock));
        return;
    }
    do_socket_call(h, *found, a);
}

// A call on an existing socket: send, read, close, shutdown, abort, accept, SO_LINGER.
void World::do_socket_call(int h, SocketId sid, const ActionSpec& a) {
    host::Host& hh = hosts_[static_cast<std::size_t>(h)];
    const SimTime now = engine_.now();
    host::Socket& s = hh.at(sid);
    SocketIo io(*this, h, sid, s);
    auto result = [](Errno e) { return e == Errno::Ok ? std::string(" = 0") : fmt::format(" = {}", to_string(e)); };
    switch (a.call) {
        case Call::Send: {
            const std::size_t rec = call_record(h, sid, a, fmt::format("send({})", a.bytes));
            const Errno e = s.ep.send(now, io, a.bytes);
            call_result(rec, e == Errno::Ok ? fmt::format(" = {}", a.bytes) : fmt::format(" = {}", to_string(e)));
            return;
        }
        case Call::Receive: {
            const std::size_t rec = call_record(h, sid, a, "read()");
            const std::uint32_t n = s.ep.receive(now, io, a.bytes);
            call_result(rec, fmt::format(" = {}", n));
            return;
        }
        case Call::Close: {
            const std::size_t rec = call_record(h, sid, a, "close()");
            call_result(rec, result(s.ep.close(now, io)));
            return;
        }
        case Call::Shutdown: {
            const std::size_t rec = call_record(h, sid, a, "shutdown(SHUT_WR)");
            call_result(rec, result(s.ep.shutdown_write(now, io)));
            return;
        }
        case Call::Abort: {
            const std::size_t rec = call_record(h, sid, a, "abort()");
            call_result(rec, result(s.ep.abort(now, io)));
            return;
        }
        case Call::Accept: {
            const SocketId child = hh.accept(sid);
            call_record(h, sid, a, child == kNoSocket ? std::string("accept() = EAGAIN") : fmt::format("accept() = {}", hh.socket_name(child)));
            return;
        }
        case Call::SetLinger:
            call_record(h, sid, a, "setsockopt(SO_LINGER, {1, 0}) = 0");
            s.opt.linger_zero = true;
            s.ep.set_linger_zero(true);
            return;
        case Call::Listen:
        case Call::Connect: return;
    }
}

}  // namespace tcpsim
