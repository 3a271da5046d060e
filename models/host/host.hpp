// A host's socket table: listeners, connected sockets demultiplexed by 4-tuple, children
// spawned by listeners. This is the core version: one address per host, ports given by the
// scenario or taken in order from the ephemeral range. (The OS profiles, port allocators, bind
// rules and TIME-WAIT mini-sockets of the host-stack issue build on it.)
#pragma once

#include "tcp/endpoint.hpp"

#include <tcpsim/engine.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace tcpsim::host {

using SocketId = std::uint32_t;
inline constexpr SocketId kNoSocket = 0xFFFFFFFFu;

struct SocketOptions {
    bool linger_zero = false;  // SO_LINGER {1, 0}
    bool auto_read = true;     // the application reads everything as soon as it arrives
};

struct Socket {
    std::string name;  // the scenario's name for it ("client", "L", "L.1", ...)
    tcp::Endpoint ep;
    SocketOptions opt;
    SocketId listener = kNoSocket;  // the listener that spawned this child
    bool is_listener = false;
    std::uint32_t children_spawned = 0;
    bool alive = true;  // false once the TCB is gone and the socket has been reaped
    std::array<TimerId, tcp::kTimerKinds> timers{};
};

struct FourTuple {
    std::uint32_t lip = 0, rip = 0;
    std::uint16_t lport = 0, rport = 0;
    auto operator<=>(const FourTuple&) const = default;
};

class Host {
public:
    Host(std::string name, std::uint32_t ip, const tcp::TcpConfig& cfg) : name_(std::move(name)), ip_(ip), cfg_(cfg) {}

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] std::uint32_t ip() const { return ip_; }
    [[nodiscard]] const tcp::TcpConfig& tcp_config() const { return cfg_; }
    // For sockets created from now on (a sysctl changed).
    void set_tcp_config(const tcp::TcpConfig& cfg) { cfg_ = cfg; }

    // A new socket in CLOSED state (not yet in any lookup table).
    SocketId create(std::string name, SocketOptions opt);
    // A child of `listener`: a copy of the listener's endpoint (in LISTEN) that will take the SYN.
    SocketId spawn_child(SocketId listener);

    Socket& at(SocketId id) { return sockets_[id]; }
    [[nodiscard]] const Socket& at(SocketId id) const { return sockets_[id]; }
    [[nodiscard]] std::size_t size() const { return sockets_.size(); }
    [[nodiscard]] std::optional<SocketId> find_by_name(const std::string& name) const;

    // Registration in the lookup tables.
    void bind_listener(SocketId id, std::uint16_t port);
    void bind_connection(SocketId id, const FourTuple& t);
    void unbind(SocketId id);

    // Demultiplexing of an arriving segment: the connection for its 4-tuple, else a listener
    // on its destination port, else none (the caller answers as CLOSED).
    [[nodiscard]] SocketId lookup(const tcp::Segment& seg) const;

    // The next port of a simple sequential allocator (replaced by the profiles' allocators).
    std::uint16_t next_ephemeral_port();

private:
    std::string name_;
    std::uint32_t ip_;
    tcp::TcpConfig cfg_;
    std::deque<Socket> sockets_;  // stable addresses: a socket never moves
    std::map<FourTuple, SocketId> connections_;
    std::map<std::uint16_t, SocketId> listeners_;
    std::map<SocketId, std::tuple<bool, FourTuple, std::uint16_t>> bound_;  // id -> (listener?, tuple, port)
    std::uint16_t next_port_ = 32768;
};

}  // namespace tcpsim::host
