#include "forecast/forecast_app.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace tcpsim {

using host::SocketId;
using host::kNoSocket;

Workloads::Workloads(const Scenario& sc, World& w, Forecast& fc)
    : sc_(sc), w_(w), fc_(fc), rng_(Rng::substream(sc.seed, "workloads")), conns_(sc.hosts.size()),
      host_stopped_(sc.hosts.size(), 0) {
    const ForecastSpec& f = sc.forecast;
    for (const ServerSpec& s : f.servers) server_exchange_.push_back(Exchange{s.request_bytes, s.response_bytes});
    for (const ProxySpec& p : f.proxies) proxy_exchange_.push_back(exchange_for(p.upstream, sc.host_index(p.host)));
    proxy_src_next_.assign(f.proxies.size(), 0);
    for (const ClientSpec& c : f.clients) {
        client_host_.push_back(sc.host_index(c.host));
        client_exchange_.push_back(exchange_for(c.target, sc.host_index(c.host)));
        client_src_next_.push_back(0);
        next_arrival_.push_back(SimTime::never());
        client_pool_.emplace_back();
        loop_base_.push_back(loop_left_.size());
        if (c.arrival.kind == app::ArrivalKind::ClosedLoop)
            for (std::uint32_t p = 0; p < c.arrival.processes; ++p)
                loop_left_.push_back(c.arrival.requests == 0 ? UINT32_MAX : static_cast<std::uint32_t>(c.arrival.requests));
    }
    proxy_pool_.resize(f.proxies.size());
    server_listener_.assign(f.servers.size(), kNoSocket);
    proxy_listener_.assign(f.proxies.size(), kNoSocket);
}

// The request and response sizes toward a target: its server's, through proxies and balancers.
Workloads::Exchange Workloads::exchange_for(const TargetSpec& t, int from_host, int depth) const {
    const ForecastSpec& f = sc_.forecast;
    if (depth > 8) return Exchange{};
    const bool loop = (t.ip >> 24) == 127;
    auto host_ip = [&](const std::string& h) { return sc_.hosts[static_cast<std::size_t>(sc_.host_index(h))].ip; };
    for (std::size_t i = 0; i < f.servers.size(); ++i)
        if (f.servers[i].port == t.port && (loop ? sc_.host_index(f.servers[i].host) == from_host : host_ip(f.servers[i].host) == t.ip))
            return Exchange{f.servers[i].request_bytes, f.servers[i].response_bytes};
    for (const ProxySpec& p : f.proxies)
        if (p.port == t.port && (loop ? sc_.host_index(p.host) == from_host : host_ip(p.host) == t.ip))
            return exchange_for(p.upstream, sc_.host_index(p.host), depth + 1);
    for (const BalancerSpec& b : f.balancers)
        if (b.vip == t.ip && b.port == t.port) return exchange_for(b.backends.front(), -1, depth + 1);
    return Exchange{};
}

void Workloads::at(SimTime t, Ev ev) {
    std::uint32_t i;
    if (!ev_free_.empty()) {
        i = ev_free_.back();
        ev_free_.pop_back();
        evs_[i] = ev;
    } else {
        i = static_cast<std::uint32_t>(evs_.size());
        evs_.push_back(ev);
    }
    w_.schedule_app(t, i);
}

tcp::SockAddr Workloads::remote_of(int h, SocketId s) const { return w_.host(h).at(s).ep.tcb().remote; }
tcp::SockAddr Workloads::local_of(int h, SocketId s) const { return w_.host(h).at(s).ep.tcb().local; }

void Workloads::start() {
    const ForecastSpec& f = sc_.forecast;
    for (std::size_t i = 0; i < f.servers.size(); ++i) {
        const ServerSpec& s = f.servers[i];
        open_listener(sc_.host_index(s.host), s.port, s.reuseaddr, s.backlog, Role::Server, static_cast<std::uint32_t>(i));
    }
    for (std::size_t i = 0; i < f.proxies.size(); ++i) {
        const ProxySpec& p = f.proxies[i];
        open_listener(sc_.host_index(p.host), p.port, false, p.backlog, Role::ProxyFront, static_cast<std::uint32_t>(i));
    }
    for (std::size_t i = 0; i < f.clients.size(); ++i) {
        const ClientSpec& c = f.clients[i];
        const auto ci = static_cast<std::uint32_t>(i);
        if (c.arrival.kind == app::ArrivalKind::ClosedLoop) {
            for (std::uint32_t p = 0; p < c.arrival.processes; ++p)
                at(c.arrival.start, Ev{EvKind::LoopNext, ci, static_cast<std::int32_t>(p)});
        } else {
            const SimTime t = app::ArrivalProcess(c.arrival).first();
            if (!t.is_never()) at(t, Ev{EvKind::Arrive, ci});
        }
    }
    for (std::size_t i = 0; i < f.what_if.size(); ++i) at(f.what_if[i].at, Ev{EvKind::WhatIf, static_cast<std::uint32_t>(i)});
    at(SimTime::zero() + f.report_interval, Ev{EvKind::Sample});
}

void Workloads::open_listener(int h, std::uint16_t port, bool reuseaddr, std::uint32_t backlog, Role role, std::uint32_t index) {
    host::SocketOptions opt;
    opt.auto_read = false;
    opt.reuseaddr = reuseaddr;
    const SocketId id = w_.sock_create(h, fmt::format("L{}", port), opt);
    w_.host_mut(h).at(id).backlog = backlog;
    const Errno e = w_.sock_listen(h, id, port);
    if (e != Errno::Ok) {
        w_.sock_close(h, id);
        fc_.failure(std::string(to_string(e)), h, "listen", tcp::SockAddr{w_.host(h).ip(), port}, tcp::SockAddr{}, false);
        // A supervisor restarts the server every second until the port is free.
        at(w_.now() + Duration::s(1), Ev{EvKind::Listen, index, role == Role::Server ? 0 : 1, reuseaddr ? 1u : 0u, h});
        return;
    }
    listeners_[{h, id}] = {role, index};
    (role == Role::Server ? server_listener_ : proxy_listener_)[index] = id;
}

void Workloads::arm_response_timeout(int h, SocketId s, Conn& c, Duration after) {
    if (c.timeout == kNoTimer) c.timeout = w_.app_timer_create();
    c.timeout_gen = c.gen;
    w_.app_timer_arm(c.timeout, w_.now() + after, kTimeoutArg | (static_cast<std::uint64_t>(h) << 32) | s);
}

void Workloads::response_timeout(int h, SocketId s) {
    Conn& c = conn(h, s);
    if (c.gen != c.timeout_gen || !c.awaiting || !w_.host(h).at(s).alive) return;
    c.awaiting = false;
    if (c.role == Role::Client) {
        client_failed(c.owner, c.process, c.attempt, "ETIMEDOUT", "read", local_of(h, s), remote_of(h, s));
        abort_conn(h, s);
    }
}

void Workloads::on_app_event(World& w, std::uint64_t arg) {
    if (arg & kTimeoutArg) {
        response_timeout(static_cast<int>((arg >> 32) & 0x7FFFFFFFu), static_cast<SocketId>(arg & 0xFFFFFFFFu));
        return;
    }
    const Ev ev = evs_[arg];
    ev_free_.push_back(static_cast<std::uint32_t>(arg));
    const ForecastSpec& f = sc_.forecast;
    switch (ev.kind) {
        case EvKind::Arrive: {
            const ClientSpec& c = f.clients[ev.index];
            start_request(ev.index, -1, 0);
            const SimTime t = app::ArrivalProcess(c.arrival).next(w.now(), rng_);
            if (!t.is_never()) at(t, Ev{EvKind::Arrive, ev.index});
            return;
        }
        case EvKind::LoopNext: {
            std::uint32_t& left = loop_left_[loop_base_[ev.index] + static_cast<std::size_t>(ev.process)];
            if (left == 0) fc_.loop_process_done(ev.index);
            if (left == 0 || w.now() >= f.clients[ev.index].arrival.stop) return;
            if (left != UINT32_MAX) --left;
            start_request(ev.index, ev.process, 0);
            return;
        }
        case EvKind::Retry:
            --retries_pending_;
            start_request(ev.index, ev.process, ev.attempt);
            return;
        case EvKind::Respond: {
            if (host_stopped_[static_cast<std::size_t>(ev.host)]) return;
            Conn& c = conn(ev.host, ev.sock);
            if (c.gen != ev.gen || !w.host(ev.host).at(ev.sock).alive) return;
            const ServerSpec& s = f.servers[c.owner];
            c.awaiting = false;
            w.sock_send(ev.host, ev.sock, s.response_bytes);
            ++c.requests;
            const bool last = s.close == ServerClose::AfterResponse || (s.max_requests != 0 && c.requests >= s.max_requests);
            if (last) close_conn(ev.host, ev.sock, c);
            else if (s.close == ServerClose::IdleTimeout)
                at(w.now() + s.keep_alive_timeout, Ev{EvKind::IdleClose, 0, -1, 0, ev.host, ev.sock, c.gen});
            return;
        }
        case EvKind::IdleClose: {
            Conn& c = conn(ev.host, ev.sock);
            if (c.gen != ev.gen || !w.host(ev.host).at(ev.sock).alive || c.closing) return;
            if (c.role == Role::Client && c.idle) {
                auto& pool = client_pool_[c.owner];
                for (auto it = pool.begin(); it != pool.end(); ++it)
                    if (it->sock == ev.sock && it->serial == c.serial) {
                        pool.erase(it);
                        break;
                    }
            }
            if (c.role == Role::ProxyUp && c.idle) {
                auto& pool = proxy_pool_[c.owner];
                for (auto it = pool.begin(); it != pool.end(); ++it)
                    if (it->sock == ev.sock && it->serial == c.serial) {
                        pool.erase(it);
                        break;
                    }
            }
            close_conn(ev.host, ev.sock);
            return;
        }
        case EvKind::WhatIf: what_if(f.what_if[ev.index]); return;
        case EvKind::Listen:
            if (ev.process == 0) {
                const ServerSpec& s = f.servers[ev.index];
                open_listener(ev.host, s.port, ev.attempt != 0, s.backlog, Role::Server, ev.index);
            } else {
                const ProxySpec& p = f.proxies[ev.index];
                open_listener(ev.host, p.port, ev.attempt != 0, p.backlog, Role::ProxyFront, ev.index);
            }
            return;
        case EvKind::Sample:
            fc_.sample();
            at(w.now() + f.report_interval, Ev{EvKind::Sample});
            return;
    }
}

void Workloads::what_if(const WhatIfAction& a) {
    switch (a.kind) {
        case WhatIfKind::Sysctl: w_.set_sysctl(sc_.host_index(a.target), a.name, a.value); return;
        case WhatIfKind::RestartServer: {
            const int h = sc_.host_index(a.target);
            for (std::size_t i = 0; i < sc_.forecast.servers.size(); ++i) {
                const ServerSpec& s = sc_.forecast.servers[i];
                if (s.host != a.target || s.port != a.port) continue;
                // The process exits: its listener and its connections close (the kernel sends FINs
                // for them, and the server side keeps TIME-WAIT where it closed first).
                if (server_listener_[i] != kNoSocket) {
                    listeners_.erase({h, server_listener_[i]});
                    w_.sock_close(h, server_listener_[i]);
                    server_listener_[i] = kNoSocket;
                }
                // In the order the connections were made (slots are reused: ids are not that order).
                std::vector<SocketId> open;
                const auto n = static_cast<SocketId>(conns_[static_cast<std::size_t>(h)].size());
                for (SocketId sid = 0; sid < n; ++sid) {
                    if (!w_.host(h).at(sid).alive) continue;
                    const Conn& c = conn(h, sid);
                    if (c.role == Role::Server && c.owner == i && !c.closing) open.push_back(sid);
                }
                std::sort(open.begin(), open.end(), [&](SocketId x, SocketId y) { return w_.host(h).at(x).serial < w_.host(h).at(y).serial; });
                for (SocketId sid : open) close_conn(h, sid);
                at(w_.now() + a.down, Ev{EvKind::Listen, static_cast<std::uint32_t>(i), 0, a.reuseaddr ? 1u : 0u, h});
            }
            return;
        }
        case WhatIfKind::NatAddAddress:
        case WhatIfKind::NatRemoveAddress:
            for (std::size_t i = 0; i < w_.nat_count(); ++i)
                if (w_.nat_name(i) == a.target) {
                    if (a.kind == WhatIfKind::NatAddAddress) w_.nat_add_address(i, a.address);
                    else w_.nat_remove_address(i, a.address);
                }
            return;
        case WhatIfKind::StopHost: {
            const int h = sc_.host_index(a.target);
            host_stopped_[static_cast<std::size_t>(h)] = 1;
            w_.stop_host(h);
            return;
        }
    }
}

void Workloads::start_request(std::uint32_t ci, std::int32_t process, std::uint32_t attempt) {
    const int h = client_host_[ci];
    if (host_stopped_[static_cast<std::size_t>(h)]) return;
    fc_.offered(ci);
    auto& pool = client_pool_[ci];
    while (!pool.empty()) {
        const SocketId s = pool.back().sock;  // the most recently used idle connection (Go, curl)
        const std::uint64_t serial = pool.back().serial;
        pool.pop_back();
        if (w_.host(h).at(s).serial != serial) continue;  // gone, its slot reused
        Conn& c = conn(h, s);
        if (!w_.host(h).at(s).alive || c.peer_closed || c.closing) continue;
        c.idle = false;
        c.awaiting = true;
        c.process = process;
        c.attempt = attempt;
        c.received = 0;
        ++c.gen;
        w_.sock_send(h, s, client_exchange_[ci].request);
        arm_response_timeout(h, s, c, sc_.forecast.clients[ci].response_timeout);
        return;
    }
    open_client(ci, process, attempt);
}

bool Workloads::open_client(std::uint32_t ci, std::int32_t process, std::uint32_t attempt) {
    const ClientSpec& cs = sc_.forecast.clients[ci];
    const int h = client_host_[ci];
    host::SocketOptions opt;
    opt.auto_read = false;
    opt.reuseaddr = cs.reuseaddr;
    opt.linger_zero = cs.closer == Closer::Reset;
    opt.bind_no_port = cs.bind == BindMode::NoPort;
    const SocketId s = w_.sock_create(h, "c", opt);
    const tcp::SockAddr remote{cs.target.ip, cs.target.port};
    std::uint32_t src = 0;
    if (!cs.source_addresses.empty()) {
        src = cs.source_addresses[client_src_next_[ci] % cs.source_addresses.size()];
        ++client_src_next_[ci];
    }
    if (cs.bind != BindMode::None) {
        const Errno b = w_.sock_bind(h, s, cs.bind == BindMode::Fixed ? cs.local_port : 0, src);
        if (b != Errno::Ok) {
            w_.sock_close(h, s);
            client_failed(ci, process, attempt, std::string(to_string(b)), "bind",
                          tcp::SockAddr{src ? src : w_.host(h).ip(), cs.bind == BindMode::Fixed ? cs.local_port : std::uint16_t{0}}, remote);
            return false;
        }
    }
    const Errno e = w_.sock_connect(h, s, remote);
    if (e != Errno::Ok) {
        const host::Socket& so = w_.host(h).at(s);
        // The source address the route would give (as in Host::sys_connect_prepare).
        const std::uint32_t route_src = (remote.ip >> 24) == 127 ? 0x7F000001u : w_.host(h).owns(remote.ip) ? remote.ip : w_.host(h).ip();
        const tcp::SockAddr local{src ? src : route_src, so.bound_port};
        w_.sock_close(h, s);
        client_failed(ci, process, attempt, std::string(to_string(e)), "connect", local, remote);
        return false;
    }
    fc_.connection_opened();
    Conn& c = conn(h, s);
    renew(c);
    c.role = Role::Client;
    c.owner = ci;
    c.process = process;
    c.attempt = attempt;
    c.connect_at = w_.now();
    return true;
}

void Workloads::client_failed(std::uint32_t ci, std::int32_t process, std::uint32_t attempt, const std::string& kind,
                              const std::string& syscall, tcp::SockAddr local, tcp::SockAddr remote) {
    const ClientSpec& cs = sc_.forecast.clients[ci];
    fc_.failure(kind, client_host_[ci], syscall, local, remote, true, static_cast<int>(ci));
    if (attempt < cs.retry.attempts) {
        ++retries_pending_;
        at(w_.now() + cs.retry.backoff, Ev{EvKind::Retry, ci, process, attempt + 1});
        return;
    }
    next_in_loop(ci, process, true);
}

void Workloads::next_in_loop(std::uint32_t ci, std::int32_t process, bool failed) {
    if (process < 0) return;
    const ClientSpec& cs = sc_.forecast.clients[ci];
    // After a failure a process waits its retry back-off before its next request, so that a
    // process whose connect() fails at once cannot spin at one instant.
    const Duration wait = failed ? std::max(cs.think_time, cs.retry.backoff) : cs.think_time;
    at(w_.now() + wait, Ev{EvKind::LoopNext, ci, process});
}

void Workloads::close_conn(int h, SocketId s, Conn& c) {
    if (c.closing) return;
    c.closing = true;
    c.idle = false;
    ++c.gen;
    cancel_response_timeout(c);
    w_.sock_close(h, s);
}

void Workloads::abort_conn(int h, SocketId s, Conn& c) {
    c.closing = true;
    c.idle = false;
    ++c.gen;
    cancel_response_timeout(c);
    host::Socket& so = w_.host_mut(h).at(s);
    if (!so.alive) return;
    so.ep.set_linger_zero(true);
    w_.sock_close(h, s);
}

void Workloads::on_call_failed(World& w, int h, const char* syscall, Errno e, tcp::SockAddr local, tcp::SockAddr remote) {
    (void)w;
    fc_.failure(std::string(to_string(e)), h, syscall, local, remote, false);
}

void Workloads::on_middlebox_exhausted(World& w, int node, const tcp::Segment& syn) {
    (void)w;
    fc_.failure("NAT drop", node, "-", syn.src, syn.dst, false);
}

void Workloads::on_notice(World& w, int h, SocketId s, tcp::Notice n, Errno e) {
    // The world queues only these, but the list lives in one place (notices_heard()).
    if (!(notices_heard() & (1u << static_cast<unsigned>(n)))) return;
    const host::Socket& so = w.host(h).at(s);
    if (n == tcp::Notice::Connected && so.listener != kNoSocket) {
        auto it = listeners_.find({h, so.listener});
        if (it == listeners_.end()) return;
        Conn& c = conn(h, s);
        renew(c);
        c.role = it->second.first;
        c.owner = it->second.second;
        c.connected = true;
        return;
    }
    Conn& c = conn(h, s);
    switch (c.role) {
        case Role::None:
            // A socket of the scenario's scripted actions: its errors count too.
            if (n == tcp::Notice::Refused || n == tcp::Notice::TimedOut || n == tcp::Notice::Reset)
                fc_.failure(std::string(to_string(e)), h, n == tcp::Notice::Reset ? "read" : "connect",
                            local_of(h, s), remote_of(h, s), false);
            return;
        case Role::Client:
        case Role::ProxyUp: on_opener_notice(w, h, s, c, n, e); return;
        case Role::Server:
        case Role::ProxyFront: on_server_notice(w, h, s, c, n); return;
    }
}

// A notice on a connection a client or a proxy opened.
void Workloads::on_opener_notice(World& w, int h, SocketId s, Conn& c, tcp::Notice n, Errno e) {
    const bool up = c.role == Role::ProxyUp;
    switch (n) {
        case tcp::Notice::Connected: {
            c.connected = true;
            fc_.connect_latency(w.now() - c.connect_at, w.host(h).at(s).ep.tcb().handshake_retransmitted, h);
            c.awaiting = true;
            c.received = 0;
            const Exchange x = up ? proxy_exchange_[c.owner] : client_exchange_[c.owner];
            w.sock_send(h, s, x.request);
            if (!up)
                arm_response_timeout(h, s, c, sc_.forecast.clients[c.owner].response_timeout);
            return;
        }
        case tcp::Notice::Readable: {
            c.received += w.sock_receive(h, s, UINT32_MAX);
            const Exchange x = up ? proxy_exchange_[c.owner] : client_exchange_[c.owner];
            if (c.awaiting && c.received >= x.response) {
                c.awaiting = false;
                c.received -= x.response;
                if (up) proxy_response(h, s);
                else response_done(h, s, c);
            }
            return;
        }
        case tcp::Notice::PeerClosed:
            c.peer_closed = true;
            if (c.awaiting) {
                // The server closed before its response: the request failed.
                c.awaiting = false;
                if (up) {
                    if (c.peer != kNoSocket) abort_conn(c.peer_host, c.peer);
                } else {
                    client_failed(c.owner, c.process, c.attempt, "ECONNRESET", "read", local_of(h, s), remote_of(h, s));
                }
            }
            close_conn(h, s, c);
            return;
        case tcp::Notice::Refused:
        case tcp::Notice::TimedOut:
        case tcp::Notice::Reset: opener_failed(w, h, s, c, e); return;
        case tcp::Notice::ReturnedToListen:
        case tcp::Notice::TimeWait:
        case tcp::Notice::OrphanFinWait2:
        case tcp::Notice::Closed: return;
    }
}

// The connection a client or proxy opened was refused, timed out or reset: closed, and counted as
// a failure when a request was waiting on it.
void Workloads::opener_failed(World& w, int h, SocketId s, Conn& c, Errno e) {
    const bool up = c.role == Role::ProxyUp;
    const std::string kind(to_string(e));
    const bool was_waiting = !c.connected || c.awaiting;
    const tcp::SockAddr local = local_of(h, s), remote = remote_of(h, s);
    c.awaiting = false;
    c.closing = true;
    ++c.gen;
    cancel_response_timeout(c);
    w.sock_close(h, s);
    if (!was_waiting) return;
    if (up) {
        fc_.failure(kind, h, c.connected ? "read" : "connect", local, remote, false);
        if (c.peer != kNoSocket) abort_conn(c.peer_host, c.peer);
    } else {
        client_failed(c.owner, c.process, c.attempt, kind, c.connected ? "read" : "connect", local, remote);
    }
}

// A notice on a connection a server or a proxy's front accepted.
void Workloads::on_server_notice(World& w, int h, SocketId s, Conn& c, tcp::Notice n) {
    switch (n) {
        case tcp::Notice::Readable: {
            c.received += w.sock_receive(h, s, UINT32_MAX);
            const std::uint32_t need = c.role == Role::Server ? server_exchange_[c.owner].request : proxy_exchange_[c.owner].request;
            if (c.received >= need && !c.awaiting) {
                c.received -= need;
                c.awaiting = true;
                ++c.gen;
                if (c.role == Role::Server)
                    at(w.now() + sc_.forecast.servers[c.owner].response_time, Ev{EvKind::Respond, 0, -1, 0, h, s, c.gen});
                else
                    proxy_request(h, s);
            }
            return;
        }
        case tcp::Notice::PeerClosed:
            c.peer_closed = true;
            close_conn(h, s, c);
            return;
        default: return;
    }
}

// The work left at the end: client connections still opening or waiting for their response,
// retries waiting for their back-off, and closed-loop requests never sent.
Unfinished Workloads::unfinished() const {
    Unfinished u;
    for (std::size_t h = 0; h < conns_.size(); ++h) {
        const host::Host& hh = w_.host(static_cast<int>(h));
        for (std::size_t sid = 0; sid < conns_[h].size() && sid < hh.size(); ++sid) {
            const Conn& c = conns_[h][sid];
            const host::Socket& so = hh.at(static_cast<SocketId>(sid));
            if (c.role != Role::Client || !so.alive || so.serial != c.serial || c.closing) continue;
            if (!c.connected) {
                ++u.opening;
                if (so.ep.tcb().handshake_retransmitted) ++u.opening_retransmitted;
            } else if (c.awaiting) {
                ++u.awaiting;
            }
        }
    }
    u.retrying = retries_pending_;
    for (std::uint32_t left : loop_left_)
        if (left != UINT32_MAX) u.never_sent += left;
    return u;
}

void Workloads::response_done(int h, SocketId s, Conn& c) {
    const ClientSpec& cs = sc_.forecast.clients[c.owner];
    fc_.completed(c.owner);
    ++c.requests;
    ++c.gen;
    cancel_response_timeout(c);
    const std::int32_t process = c.process;
    const std::uint32_t ci = c.owner;
    const bool reusable = cs.pool.enabled && !c.peer_closed && (cs.pool.max_requests == 0 || c.requests < cs.pool.max_requests) &&
                          client_pool_[ci].size() < cs.pool.size;
    finish_client_conn(h, s, c, reusable);
    next_in_loop(ci, process, false);
}

void Workloads::finish_client_conn(int h, SocketId s, Conn& c, bool reusable) {
    const ClientSpec& cs = sc_.forecast.clients[c.owner];
    if (reusable) {
        c.idle = true;
        client_pool_[c.owner].push_back(Pooled{s, c.serial});
        at(w_.now() + cs.pool.idle_timeout, Ev{EvKind::IdleClose, 0, -1, 0, h, s, c.gen});
        return;
    }
    switch (cs.closer) {
        case Closer::Client: close_conn(h, s, c); return;
        case Closer::Reset: abort_conn(h, s, c); return;
        case Closer::Server:
            if (c.peer_closed) close_conn(h, s, c);  // else: on PeerClosed
            return;
    }
}

void Workloads::proxy_request(int h, SocketId front) {
    const std::uint32_t pi = conn(h, front).owner;
    const ProxySpec& ps = sc_.forecast.proxies[pi];
    auto& pool = proxy_pool_[pi];
    while (!pool.empty()) {
        const SocketId up = pool.back().sock;
        const std::uint64_t serial = pool.back().serial;
        pool.pop_back();
        if (w_.host(h).at(up).serial != serial) continue;  // gone, its slot reused
        Conn& u = conn(h, up);
        if (!w_.host(h).at(up).alive || u.peer_closed || u.closing) continue;
        u.idle = false;
        u.awaiting = true;
        u.received = 0;
        u.peer = front;
        u.peer_host = h;
        ++u.gen;
        conn(h, front).peer = up;
        conn(h, front).peer_host = h;
        w_.sock_send(h, up, proxy_exchange_[pi].request);
        return;
    }
    host::SocketOptions opt;
    opt.auto_read = false;
    opt.linger_zero = ps.upstream_closer == Closer::Reset;
    const tcp::SockAddr remote{ps.upstream.ip, ps.upstream.port};
    std::uint32_t src = 0;
    if (!ps.source_addresses.empty()) {
        src = ps.source_addresses[proxy_src_next_[pi] % ps.source_addresses.size()];
        ++proxy_src_next_[pi];
        opt.bind_no_port = true;
    }
    const SocketId up = w_.sock_create(h, "u", opt);
    if (src != 0) {
        const Errno b = w_.sock_bind(h, up, 0, src);
        if (b != Errno::Ok) {
            w_.sock_close(h, up);
            fc_.failure(std::string(to_string(b)), h, "bind", tcp::SockAddr{src, 0}, remote, false);
            abort_conn(h, front);
            return;
        }
    }
    const Errno e = w_.sock_connect(h, up, remote);
    if (e != Errno::Ok) {
        const tcp::SockAddr local{src ? src : w_.host(h).ip(), w_.host(h).at(up).bound_port};
        w_.sock_close(h, up);
        fc_.failure(std::string(to_string(e)), h, "connect", local, remote, false);
        abort_conn(h, front);  // the client sees its connection reset (a 502 would be the same)
        return;
    }
    fc_.connection_opened();
    Conn& u = conn(h, up);
    renew(u);
    u.role = Role::ProxyUp;
    u.owner = pi;
    u.connect_at = w_.now();
    u.peer = front;
    u.peer_host = h;
    conn(h, front).peer = up;
    conn(h, front).peer_host = h;
}

void Workloads::proxy_response(int h, SocketId up) {
    Conn& u = conn(h, up);
    const std::uint32_t pi = u.owner;
    const ProxySpec& ps = sc_.forecast.proxies[pi];
    const SocketId front = u.peer;
    u.peer = kNoSocket;
    ++u.requests;
    ++u.gen;
    if (front != kNoSocket && w_.host(h).at(front).alive) {
        Conn& fr = conn(h, front);
        fr.awaiting = false;
        fr.peer = kNoSocket;
        w_.sock_send(h, front, proxy_exchange_[pi].response);
        ++fr.requests;
        if (ps.close == ServerClose::AfterResponse) close_conn(h, front);
        else if (ps.close == ServerClose::IdleTimeout)
            at(w_.now() + ps.keep_alive_timeout, Ev{EvKind::IdleClose, 0, -1, 0, h, front, fr.gen});
    }
    const bool reusable = ps.pool.enabled && !u.peer_closed && (ps.pool.max_requests == 0 || u.requests < ps.pool.max_requests) &&
                          proxy_pool_[pi].size() < ps.pool.size;
    if (reusable) {
        u.idle = true;
        proxy_pool_[pi].push_back(Pooled{up, u.serial});
        at(w_.now() + ps.pool.idle_timeout, Ev{EvKind::IdleClose, 0, -1, 0, h, up, u.gen});
        return;
    }
    if (ps.upstream_closer == Closer::Reset) abort_conn(h, up);
    else if (ps.upstream_closer == Closer::Client || u.peer_closed) close_conn(h, up);
}

}  // namespace tcpsim
