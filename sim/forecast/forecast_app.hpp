// The workloads of a forecast scenario as one application on the world's socket calls: client
// workloads (open arrivals or closed loops, keep-alive pools, bind modes, retries, who closes
// first), servers (request/response, close policies, keep-alive timeouts), L7 proxies (a client
// side and an upstream side, with or without an upstream pool) and the timed what-if actions.
// It sees errno exactly as an application would and reports to the Forecast.
#pragma once

#include "forecast/forecast.hpp"
#include "world/world.hpp"

#include <tcpsim/rng.hpp>

#include <algorithm>
#include <deque>
#include <vector>

namespace tcpsim {

class Workloads final : public App {
public:
    Workloads(const Scenario& sc, World& w, Forecast& fc);
    void start();
    void on_app_event(World& w, std::uint64_t arg) override;
    void on_notice(World& w, int host, host::SocketId sock, tcp::Notice n, Errno e) override;
    // No role acts on Closed, TimeWait or ReturnedToListen (see on_notice()).
    [[nodiscard]] std::uint32_t notices_heard() const override {
        return ~((1u << static_cast<unsigned>(tcp::Notice::Closed)) | (1u << static_cast<unsigned>(tcp::Notice::TimeWait)) |
                 (1u << static_cast<unsigned>(tcp::Notice::ReturnedToListen)));
    }
    void on_middlebox_exhausted(World& w, int node, const tcp::Segment& syn) override;
    [[nodiscard]] Unfinished unfinished() const;
    void on_call_failed(World& w, int host, const char* syscall, Errno e, tcp::SockAddr local, tcp::SockAddr remote) override;
    // What the application keeps per live connection (bench figures).
    [[nodiscard]] static std::size_t bytes_per_connection() { return 2 * sizeof(Conn); }

private:
    enum class Role : std::uint8_t { None, Client, Server, ProxyFront, ProxyUp };
    enum class EvKind : std::uint8_t { Arrive, LoopNext, Retry, Respond, IdleClose, WhatIf, Listen, Sample };
    struct Conn {
        Role role = Role::None;
        std::uint32_t owner = 0;        // client, server or proxy index
        std::int32_t process = -1;      // closed loop process of a client connection
        std::uint32_t attempt = 0;
        SimTime connect_at;
        std::uint64_t received = 0;     // bytes toward the current message
        std::uint32_t expect = 0;       // bytes of the message awaited
        std::uint32_t requests = 0;
        std::uint32_t gen = 0;          // invalidates pending timers of this connection
        bool connected = false, awaiting = false, idle = false, peer_closed = false, closing = false;
        int peer_host = -1;             // proxy: the other half
        host::SocketId peer = host::kNoSocket;
        std::uint64_t serial = 0;       // the socket's serial: a reused slot starts a fresh Conn
        // The client's response timeout while a request waits: a cancellable timer (kept
        // across renew()), armed for the generation `timeout_gen` of the request it guards, and
        // given back to the engine once that request is answered or the connection ends.
        TimerId timeout = kNoTimer;
        std::uint32_t timeout_gen = 0;
    };
    static constexpr TimerId kNoTimer = 0xFFFFFFFFu;
    // on_app_event() args with this bit are response timeouts: host << 32 | socket id.
    static constexpr std::uint64_t kTimeoutArg = std::uint64_t{1} << 63;
    // A fresh Conn for the same socket: its generation moves on, so that no pending event of
    // the slot's earlier uses matches it.
    static void renew(Conn& c) {
        const std::uint32_t g = c.gen;
        const std::uint64_t s = c.serial;
        const TimerId t = c.timeout;
        c = Conn{};
        c.gen = g + 1;
        c.serial = s;
        c.timeout = t;
    }
    struct Pooled {
        host::SocketId sock;
        std::uint64_t serial;
    };
    struct Ev {
        EvKind kind;
        std::uint32_t index = 0;   // client / server / proxy / what-if index
        std::int32_t process = -1;
        std::uint32_t attempt = 0;
        int host = -1;
        host::SocketId sock = host::kNoSocket;
        std::uint32_t gen = 0;
    };
    struct Exchange {
        std::uint32_t request = 100, response = 1000;
    };

    void at(SimTime t, Ev ev);
    // The client waits at most its response_timeout for the response to the request of this
    // generation; the timer is cancelled as soon as the generation moves on (it could not act).
    void arm_response_timeout(int h, host::SocketId s, Conn& c, Duration after);
    void cancel_response_timeout(Conn& c) {
        if (c.timeout == kNoTimer) return;
        w_.app_timer_release(c.timeout);
        c.timeout = kNoTimer;
    }
    void response_timeout(int h, host::SocketId s);
    Conn& conn(int h, host::SocketId s) {
        auto& v = conns_[static_cast<std::size_t>(h)];
        if (s >= v.size()) v.resize(std::max<std::size_t>(s + 1, v.size() * 2));
        Conn& c = v[s];
        const std::uint64_t serial = w_.host(h).at(s).serial;
        if (c.serial != serial) {  // the slot holds another socket now
            renew(c);
            c.serial = serial;
        }
        return c;
    }
    void start_request(std::uint32_t client, std::int32_t process, std::uint32_t attempt);
    bool open_client(std::uint32_t client, std::int32_t process, std::uint32_t attempt);
    void client_failed(std::uint32_t client, std::int32_t process, std::uint32_t attempt, const std::string& kind,
                       const std::string& syscall, tcp::SockAddr local, tcp::SockAddr remote);
    void next_in_loop(std::uint32_t client, std::int32_t process, bool failed);
    // The functions below that take a Conn& take conn(h, s), which the caller holds already
    // (conn() costs a socket lookup; a lifecycle goes through them several times).
    void response_done(int h, host::SocketId s, Conn& c);
    void finish_client_conn(int h, host::SocketId s, Conn& c, bool reusable);
    void server_request(int h, host::SocketId s, Conn& c);
    void proxy_request(int h, host::SocketId front);
    void proxy_response(int h, host::SocketId up);
    void close_conn(int h, host::SocketId s, Conn& c);
    void on_opener_notice(World& w, int h, host::SocketId s, Conn& c, tcp::Notice n, Errno e);
    void opener_failed(World& w, int h, host::SocketId s, Conn& c, Errno e);
    void on_server_notice(World& w, int h, host::SocketId s, Conn& c, tcp::Notice n);
    void close_conn(int h, host::SocketId s) { close_conn(h, s, conn(h, s)); }
    void abort_conn(int h, host::SocketId s, Conn& c);
    void abort_conn(int h, host::SocketId s) { abort_conn(h, s, conn(h, s)); }
    void open_listener(int h, std::uint16_t port, bool reuseaddr, std::uint32_t backlog, Role role, std::uint32_t index);
    void what_if(const WhatIfAction& a);
    [[nodiscard]] Exchange exchange_for(const TargetSpec& t, int from_host, int depth = 0) const;
    [[nodiscard]] tcp::SockAddr remote_of(int h, host::SocketId s) const;
    [[nodiscard]] tcp::SockAddr local_of(int h, host::SocketId s) const;

    const Scenario& sc_;
    World& w_;
    Forecast& fc_;
    Rng rng_;
    std::vector<std::vector<Conn>> conns_;      // per host, by socket id
    std::vector<Ev> evs_;
    std::vector<std::uint32_t> ev_free_;
    std::vector<Exchange> client_exchange_;
    std::vector<int> client_host_;
    std::vector<std::uint32_t> client_src_next_;
    std::vector<std::uint32_t> proxy_src_next_;  // per proxy: the next of its source addresses
    std::vector<SimTime> next_arrival_;
    std::vector<std::deque<Pooled>> client_pool_;   // idle keep-alive connections per client
    std::vector<std::deque<Pooled>> proxy_pool_;    // idle upstream connections per proxy
    std::vector<std::uint32_t> loop_left_;                  // closed loop: requests left per (client, process)
    std::vector<std::size_t> loop_base_;
    std::vector<Exchange> server_exchange_;
    std::vector<Exchange> proxy_exchange_;
    std::vector<host::SocketId> server_listener_, proxy_listener_;
    std::map<std::pair<int, host::SocketId>, std::pair<Role, std::uint32_t>> listeners_;
    std::vector<std::uint8_t> host_stopped_;  // 1: the what-if switched the host off
    std::uint64_t sock_serial_ = 0;
    std::uint64_t retries_pending_ = 0;  // Retry events scheduled and not yet fired
};

}  // namespace tcpsim
