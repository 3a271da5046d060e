#include "host/host.hpp"

#include <memory>

namespace tcpsim::host {

// The socket `make()` returns, built straight into a slot (no temporary, no move).
template <class Make>
SocketId Host::place(Make&& make) {
    SocketId id;
    Socket* s;
    if (!free_sockets_.empty()) {
        id = free_sockets_.back();
        free_sockets_.pop_back();
        s = &sockets_[id];
        // Only running out of memory could throw here: that ends the run (noexcept) rather
        // than leave a destroyed socket in the slot.
        [&]() noexcept {
            std::destroy_at(s);
            ::new (static_cast<void*>(s)) Socket(make());
        }();
    } else {
        id = static_cast<SocketId>(sockets_.size());
        s = &sockets_.emplace_back_with(make);
    }
    s->serial = next_serial_++;
    return id;
}

SocketId Host::create(std::string name, SocketOptions opt) {
    const SocketId id = place([&] { return Socket{.name = std::move(name), .ep = tcp::Endpoint(cfg_), .opt = opt}; });
    sockets_[id].ep.set_linger_zero(opt.linger_zero);
    return id;
}

SocketId Host::spawn_child(SocketId listener, const tcp::Segment& syn) {
    Socket& l = sockets_[listener];  // a stable address: sockets never move
    ++l.children_spawned;
    const SocketId id = place([&] {
        Socket child{.name = {}, .child_no = l.children_spawned, .ep = l.ep, .opt = l.opt, .listener = listener};
        // An accepted connection joins its listener's bind bucket (Linux __inet_inherit_port()):
        // its TIME-WAIT later keeps the port "in use" for bind().
        child.bound_addr = l.bound_addr;
        child.bound_port = l.bound_port;
        child.explicit_port = l.bound_port != 0;
        child.is_listener = false;
        return child;
    });
    if (l.bound_port != 0) ports_.add_owner(l.bound_port, owner_of(id), false);
    bind_connection(id, FourTuple{syn.dst.ip, syn.src.ip, syn.dst.port, syn.src.port});
    return id;
}

std::uint32_t Host::accept_queue_length(SocketId listener) const {
    // A listener in automatic mode hands each connection to the application the moment it is
    // established (World::on_notice): its queue is always empty.
    if (!sockets_[listener].manual_accept) return 0;
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
        const Socket& s = sockets_[i];
        if (s.listener != listener || s.accepted || !s.alive) continue;
        if (tcp::is_synchronized(s.ep.state())) ++n;
    }
    return n;
}

Host::Overflow Host::listen_overflow(SocketId sid, const tcp::Segment& seg) const {
    if (seg.rst()) return Overflow::None;
    const Socket& s = sockets_[sid];
    const SocketId l = s.is_listener ? sid : s.listener;
    if (l == kNoSocket || !sockets_[l].is_listener) return Overflow::None;
    const bool new_syn = s.is_listener && seg.syn() && !seg.ack_set();
    const bool handshake_ack = !s.is_listener && s.ep.state() == tcp::State::SynReceived && seg.ack_set() && !seg.syn();
    if (!(new_syn || handshake_ack) || !accept_queue_full(l)) return Overflow::None;
    return handshake_ack && stack_.abort_on_overflow ? Overflow::Reset : Overflow::Drop;
}

SocketId Host::accept(SocketId listener) {
    // The oldest ready child (the lowest serial: slots may be reused, so not the lowest id).
    SocketId best = kNoSocket;
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
        Socket& s = sockets_[i];
        if (s.listener != listener || s.accepted) continue;
        if (!s.alive || !tcp::is_synchronized(s.ep.state())) continue;
        if (best == kNoSocket || s.serial < sockets_[best].serial) best = static_cast<SocketId>(i);
    }
    if (best != kNoSocket) sockets_[best].accepted = true;
    return best;
}

std::optional<SocketId> Host::find_by_name(const std::string& name) const {
    // The latest socket with that name (names are unique per host in a scenario).
    std::optional<SocketId> best;
    for (std::size_t i = sockets_.size(); i-- > 0;)
        if (socket_name(static_cast<SocketId>(i)) == name && (!best || sockets_[i].serial > sockets_[*best].serial)) best = static_cast<SocketId>(i);
    return best;
}

void Host::bind_listener(SocketId id, std::uint16_t port) {
    if (sockets_[id].registered != Socket::Registered::None) unbind(id);
    listeners_[{port, sockets_[id].bound_addr}] = id;
    sockets_[id].is_listener = true;
    sockets_[id].registered = Socket::Registered::Listener;
    sockets_[id].listen_port = port;
}

void Host::note_tuple(const FourTuple& t, int delta, bool time_wait) {
    const DestKey key{t.lip, t.rip, t.rport};
    const bool in_range = t.lport >= stack_.ports.lo && t.lport <= stack_.ports.hi;
    if (dest_.empty() && (!in_range || delta < 0)) return;  // nothing to count (a server's accepted connections)
    DestPorts* dp = find_dest(key);
    if (dp == nullptr) {
        if (!in_range || delta < 0) return;
        dp = &dest_.emplace(key, DestPorts{}).first->second;
        dest_last_.valid = false;
    }
    DestPorts& d = *dp;
    if (in_range) d.in_range = static_cast<std::uint32_t>(static_cast<std::int64_t>(d.in_range) + delta);
    if (!d.conn.empty()) {
        auto& bits = time_wait ? d.tw : d.conn;
        const std::uint64_t m = 1ull << (t.lport & 63);
        if (delta > 0) bits[t.lport >> 6] |= m;
        else bits[t.lport >> 6] &= ~m;
        if (time_wait && delta < 0) d.young[t.lport >> 6] &= ~m;
    }
    if (d.in_range == 0 && d.conn.empty()) {
        dest_.erase(key);
        dest_last_.valid = false;
    }
}

void Host::move_tuple(const FourTuple& t, bool to_time_wait) {
    DestPorts* d = dest_.empty() ? nullptr : find_dest(DestKey{t.lip, t.rip, t.rport});
    if (d == nullptr) {  // not counted: the two steps decide whether it is now
        note_tuple(t, -1, !to_time_wait);
        note_tuple(t, +1, to_time_wait);
        return;
    }
    // The entry stays: its count does not change, and an entry that exists has a count or bits.
    if (d->conn.empty()) return;
    const std::uint64_t m = 1ull << (t.lport & 63);
    const std::size_t w = t.lport >> 6;
    if (to_time_wait) {
        d->conn[w] &= ~m;
        d->tw[w] |= m;
    } else {
        d->tw[w] &= ~m;
        d->young[w] &= ~m;
        d->conn[w] |= m;
    }
}

void Host::recount_tuples() {
    dest_.clear();
    dest_last_.valid = false;
    young_.clear();
    for (std::size_t i = 0; i < sockets_.size(); ++i)
        if (sockets_[i].registered == Socket::Registered::Connection && connection(sockets_[i].tuple) == i)
            note_tuple(sockets_[i].tuple, +1, false);
    tw_.for_each([&](const TimeWaitSock& e) { note_tuple(e.tuple, +1, true); });
}

Host::DestPorts& Host::dest_bits(std::uint32_t saddr, const tcp::SockAddr& remote) {
    const DestKey key{saddr, remote.ip, remote.port};
    DestPorts* dp = find_dest(key);
    if (dp == nullptr) {
        dp = &dest_[key];
        dest_last_.valid = false;
    }
    DestPorts& d = *dp;
    if (d.conn.empty()) {
        // First connect() toward this destination: one bit per local port, kept from now on.
        d.conn.assign(1024, 0);
        d.tw.assign(1024, 0);
        d.young.assign(1024, 0);
        auto toward = [&](const FourTuple& t) { return t.lip == saddr && t.rip == remote.ip && t.rport == remote.port; };
        for (std::size_t i = 0; i < sockets_.size(); ++i) {
            const FourTuple& t = sockets_[i].tuple;
            if (sockets_[i].registered == Socket::Registered::Connection && toward(t) && connection(t) == i)
                d.conn[t.lport >> 6] |= 1ull << (t.lport & 63);
        }
        tw_.for_each([&](const TimeWaitSock& e) {
            if (toward(e.tuple)) d.tw[e.tuple.lport >> 6] |= 1ull << (e.tuple.lport & 63);
        });
    }
    return d;
}

void Host::age_young(SimTime now) {
    while (!young_.empty() && young_.front().clear_at <= now) {
        const FourTuple& t = young_.front().tuple;
        DestPorts* d = find_dest(DestKey{t.lip, t.rip, t.rport});
        if (d != nullptr && !d->young.empty()) d->young[t.lport >> 6] &= ~(1ull << (t.lport & 63));
        young_.pop_front();
    }
}

std::size_t Host::bytes_per_time_wait() {
    // The entry and its 4-tuple index slots at the index's lowest load, its timer record, its
    // owner entry in the port's bucket.
    return TimeWaitTable::bytes_per_entry() + sizeof(TwTimer) + PortTable::bytes_per_owner();
}

std::size_t Host::bytes_per_connection() {
    // The socket, its 4-tuple index slots (lowest load 1/4), its port owner entry, the engine's
    // timer slots.
    return sizeof(Socket) + 4 * sizeof(std::uint32_t) + PortTable::bytes_per_owner() + tcp::kTimerKinds * sizeof(std::uint32_t);
}

bool Host::range_full_toward(std::uint32_t saddr, const tcp::SockAddr& remote) {
    // Only when no TIME-WAIT could be taken over (tcp_twsk_unique() needs tcp_tw_reuse).
    if (stack_.linux_minisock && stack_.tw_reuse != 0) return false;
    const DestPorts* d = find_dest(DestKey{saddr, remote.ip, remote.port});
    if (d == nullptr) return false;
    std::uint32_t usable = static_cast<std::uint32_t>(stack_.ports.hi - stack_.ports.lo + 1);
    for (std::uint16_t r : stack_.ports.reserved)
        if (r >= stack_.ports.lo && r <= stack_.ports.hi) --usable;
    return d->in_range >= usable;
}

void Host::bind_connection(SocketId id, const FourTuple& t, bool from_time_wait) {
    Socket& s = sockets_[id];
    if (s.registered != Socket::Registered::None) unbind(id);  // its key changes: out of the index first
    const SocketId current = connection(t);
    s.tuple = t;
    s.registered = Socket::Registered::Connection;
    if (current == kNoSocket) {
        if (from_time_wait) move_tuple(t, false);
        else note_tuple(t, +1, false);
        connections_.insert(t, id, conn_key());
    } else {
        if (from_time_wait) note_tuple(t, -1, true);
        connections_.replace(t, id, conn_key());  // the 4-tuple now leads to this socket
    }
}

bool Host::unbind(SocketId id, bool keep_count) {
    Socket& s = sockets_[id];
    bool removed = false;
    if (s.registered == Socket::Registered::Listener) {
        auto l = listeners_.find({s.listen_port, s.bound_addr});
        if (l != listeners_.end() && l->second == id) listeners_.erase(l);
    } else if (s.registered == Socket::Registered::Connection && connections_.erase_if_id(s.tuple, id, conn_key())) {
        removed = true;
        if (!keep_count) note_tuple(s.tuple, -1, false);
    }
    s.registered = Socket::Registered::None;
    return removed;
}

SocketId Host::lookup(const tcp::Segment& seg) const {
    const FourTuple t{seg.dst.ip, seg.src.ip, seg.dst.port, seg.src.port};
    if (const SocketId c = connection(t); c != kNoSocket) return c;
    return listener(seg.dst.ip, seg.dst.port);
}

std::uint32_t Host::source_for(std::uint32_t dst) const {
    if ((dst >> 24) == 127) return 0x7F000001;
    if (owns(dst)) return dst;  // the local table: the destination itself
    if (routes_.empty()) return ip_;
    const Route* best = nullptr;
    for (const Route& r : routes_) {
        const std::uint32_t mask = r.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - r.prefix);
        if ((dst & mask) == (r.net & mask) && (best == nullptr || r.prefix > best->prefix)) best = &r;
    }
    return best == nullptr ? 0 : best->src;
}

std::uint16_t Host::next_ephemeral_port() {
    const std::uint16_t p = next_port_;
    next_port_ = next_port_ >= 60999 ? 32768 : static_cast<std::uint16_t>(next_port_ + 1);
    return p;
}

}  // namespace tcpsim::host

namespace tcpsim::host {

namespace {
struct DestSkip {
    static constexpr bool kEnabled = true;
    const std::uint64_t* conn;
    const std::uint64_t* tw;
    std::uint64_t operator()(std::uint32_t w) const { return conn[w] | tw[w]; }
};
}  // namespace

PortOwner Host::owner_of(SocketId id) const {
    const Socket& s = sockets_[id];
    return PortOwner{id, s.bound_addr, s.opt.reuseaddr, s.opt.reuseport, s.is_listener, false};
}

Errno Host::sys_bind(SocketId id, std::uint32_t addr, std::uint16_t port) {
    Socket& s = sockets_[id];
    if (s.bound_port != 0 || s.explicit_port) return Errno::Inval;  // already bound
    if (addr != 0 && !owns(addr)) return Errno::AddrNotAvail;       // not one of our addresses
    s.bound_addr = addr;
    if (port == 0 && s.opt.bind_no_port) return Errno::Ok;  // IP_BIND_ADDRESS_NO_PORT: the port comes at connect()
    const PortOwner o = owner_of(id);
    std::uint16_t chosen = port;
    const Errno e = port == 0 ? ports_.bind_any(o, chosen) : ports_.bind_port(o, port);
    if (e != Errno::Ok) return e;
    s.bound_port = chosen;
    s.explicit_port = true;
    return Errno::Ok;
}

TupleCheck Host::check_tuple(SimTime now, const FourTuple& t, bool explicit_port, TimeWaitTable::Slot& tw_slot) const {
    if (connection(t) != kNoSocket) return TupleCheck::Busy;
    tw_slot = tw_.slot_of(t);
    if (tw_slot == TimeWaitTable::kNone) return TupleCheck::Free;
    // __inet_check_established() -> tcp_twsk_unique(); on other profiles a TIME-WAIT holds its 4-tuple.
    if (!stack_.linux_minisock) return TupleCheck::Busy;
    return linux_twsk_unique(tw_.at(tw_slot), now, stack_.tw_reuse, stack_.tw_reuse_delay, explicit_port,
                             stack_.tw_reuse_seconds_clock)
               ? TupleCheck::ReuseTimeWait
               : TupleCheck::Busy;
}

Errno Host::sys_connect_prepare(SimTime now, SocketId id, const tcp::SockAddr& remote, tcp::SockAddr& local,
                                std::optional<tcp::Seq>& reuse_isn) {
    Socket& s = sockets_[id];
    // The source address: the bound one, else the route's: loopback for 127/8, the destination
    // itself when it is one of ours, the primary address otherwise.
    const std::uint32_t route_src = source_for(remote.ip);
    if (route_src == 0) return Errno::NetUnreach;  // no route to the destination
    const std::uint32_t saddr = s.bound_addr != 0 ? s.bound_addr : route_src;
    reuse_isn.reset();
    if (s.bound_port != 0) {
        // A port from bind(): only the 4-tuple is checked (twp == NULL in __inet_check_established).
        const FourTuple t{saddr, remote.ip, s.bound_port, remote.port};
        TimeWaitTable::Slot tw_slot = TimeWaitTable::kNone;
        const TupleCheck c = check_tuple(now, t, true, tw_slot);
        // Linux __inet_check_established() -> EADDRNOTAVAIL (reference T13); FreeBSD
        // in_pcbconnect_setup() finds the 4-tuple and returns EADDRINUSE for a bound port
        // (tcp-stack-semantics.md §3 "Ports" and misconception 10).
        if (c == TupleCheck::Busy) return stack_.ports.bind_rule != BindRule::Linux ? Errno::AddrInUse : Errno::AddrNotAvail;
        const bool reuse = c == TupleCheck::ReuseTimeWait;
        if (reuse) take_over_time_wait(t, tw_slot, reuse_isn);
        local = tcp::SockAddr{saddr, s.bound_port};
        bind_connection(id, t, reuse);
        return Errno::Ok;
    }
    age_young(now);
    PortOwner o = owner_of(id);
    o.addr = saddr;
    std::uint16_t port = 0;
    bool reuse = false;
    TimeWaitTable::Slot tw_slot = TimeWaitTable::kNone;  // the entry a ReuseTimeWait answer found
    // Every port of the range already holds a 4-tuple toward this destination: the walk would
    // find none (the same answer, without visiting each port; the allocator's state advances the
    // same way).
    const bool full = s.opt.port_range_lo == 0 && s.opt.port_range_hi == 0 && range_full_toward(saddr, remote);
    const DestPorts& d = dest_bits(saddr, remote);
    // A TIME-WAIT can only be taken over with tcp_tw_reuse (2: loopback traffic only).
    const bool tw_may_reuse = stack_.linux_minisock && (stack_.tw_reuse == 1 || (stack_.tw_reuse == 2 &&
                              ((saddr >> 24) == 127 || (remote.ip >> 24) == 127 || owns(remote.ip))));
    // Ports the walk can pass over a word at a time: a connection holds the 4-tuple, or a
    // TIME-WAIT that cannot be taken over (all of them without reuse, the young ones with it).
    const Errno e = ports_.connect_port(
        now, o, remote.ip, remote.port,
        [&](std::uint16_t p) {
            // check_tuple() with the destination's port bits in front of the two maps.
            const std::uint64_t m = 1ull << (p & 63);
            if (d.conn[p >> 6] & m) return TupleCheck::Busy;
            if (!(d.tw[p >> 6] & m)) return TupleCheck::Free;
            if (!tw_may_reuse) return TupleCheck::Busy;
            return check_tuple(now, FourTuple{saddr, remote.ip, p, remote.port}, false, tw_slot);
        },
        port, reuse, {s.opt.port_range_lo, s.opt.port_range_hi}, full,
        DestSkip{d.conn.data(), tw_may_reuse ? d.young.data() : d.tw.data()});
    if (e != Errno::Ok) return e;
    const FourTuple t{saddr, remote.ip, port, remote.port};
    if (reuse) take_over_time_wait(t, tw_slot, reuse_isn);
    s.bound_addr = saddr;
    s.bound_port = port;
    s.explicit_port = false;
    local = tcp::SockAddr{saddr, port};
    bind_connection(id, t, reuse);
    return Errno::Ok;
}

Errno Host::sys_listen_prepare(SocketId id, std::uint16_t port) {
    Socket& s = sockets_[id];
    if (s.bound_port == 0) {
        s.is_listener = true;
        const Errno e = ports_.bind_port(owner_of(id), port);
        if (e != Errno::Ok) {
            s.is_listener = false;
            return e;
        }
        s.bound_port = port;
        s.explicit_port = true;
    } else {
        // listen() checks the bind conflict again, now as a listener (T15).
        s.is_listener = true;
        ports_.remove_owner(s.bound_port, id);
        const Errno e = ports_.bind_port(owner_of(id), s.bound_port);
        if (e != Errno::Ok) {
            s.is_listener = false;
            ports_.add_owner(s.bound_port, owner_of(id), false);
            return e;
        }
    }
    bind_listener(id, s.bound_port);
    return Errno::Ok;
}

void Host::release(SocketId id) {
    Socket& s = sockets_[id];
    unbind(id);
    if (s.bound_port != 0) ports_.remove_owner(s.bound_port, id);
    s.bound_port = 0;
}

bool Host::recycle_drops_syn(SimTime now, const tcp::Segment& syn) const {
    if (!stack_.tw_recycle) return false;
    auto it = peer_ts_.find(syn.src.ip);
    if (it == peer_ts_.end() || now - it->second.stamp >= Duration::s(60)) return false;  // TCP_PAWS_MSL
    // tcp_peer_is_proven(): not proven when the stored TSval is more than TCP_PAWS_WINDOW (1)
    // ahead of the SYN's, or when the SYN carries no timestamp (since 2014).
    return !syn.has_ts || tcp::seq_diff(it->second.ts, syn.tsval) > 1;
}

Demux Host::demux_other(const FourTuple& t) {
    if (TimeWaitSock* w = tw_.find(t)) return Demux{Demux::Kind::TimeWait, kNoSocket, w};
    if (const SocketId l = listener(t.lip, t.lport); l != kNoSocket) return Demux{Demux::Kind::Listener, l, nullptr};
    return Demux{};
}

}  // namespace tcpsim::host
