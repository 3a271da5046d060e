#include "host/host.hpp"

namespace tcpsim::host {

SocketId Host::create(std::string name, SocketOptions opt) {
    Socket s{.name = std::move(name), .ep = tcp::Endpoint(cfg_), .opt = opt};
    s.ep.set_linger_zero(opt.linger_zero);
    sockets_.push_back(std::move(s));
    return static_cast<SocketId>(sockets_.size() - 1);
}

SocketId Host::spawn_child(SocketId listener) {
    Socket& l = sockets_[listener];
    ++l.children_spawned;
    Socket child{.name = l.name + "." + std::to_string(l.children_spawned), .ep = l.ep, .opt = l.opt,
                 .listener = listener};
    sockets_.push_back(std::move(child));
    return static_cast<SocketId>(sockets_.size() - 1);
}

std::optional<SocketId> Host::find_by_name(const std::string& name) const {
    // The latest socket with that name (names are unique per host in a scenario).
    for (std::size_t i = sockets_.size(); i-- > 0;)
        if (sockets_[i].name == name) return static_cast<SocketId>(i);
    return std::nullopt;
}

void Host::bind_listener(SocketId id, std::uint16_t port) {
    listeners_[port] = id;
    sockets_[id].is_listener = true;
    bound_[id] = {true, FourTuple{}, port};
}

void Host::bind_connection(SocketId id, const FourTuple& t) {
    connections_[t] = id;
    bound_[id] = {false, t, 0};
}

void Host::unbind(SocketId id) {
    auto it = bound_.find(id);
    if (it == bound_.end()) return;
    const auto& [is_listener, tuple, port] = it->second;
    if (is_listener) {
        auto l = listeners_.find(port);
        if (l != listeners_.end() && l->second == id) listeners_.erase(l);
    } else {
        auto c = connections_.find(tuple);
        if (c != connections_.end() && c->second == id) connections_.erase(c);
    }
    bound_.erase(it);
}

SocketId Host::lookup(const tcp::Segment& seg) const {
    const FourTuple t{seg.dst.ip, seg.src.ip, seg.dst.port, seg.src.port};
    if (auto c = connections_.find(t); c != connections_.end()) return c->second;
    if (auto l = listeners_.find(seg.dst.port); l != listeners_.end()) return l->second;
    return kNoSocket;
}

std::uint16_t Host::next_ephemeral_port() {
    const std::uint16_t p = next_port_;
    next_port_ = next_port_ >= 60999 ? 32768 : static_cast<std::uint16_t>(next_port_ + 1);
    return p;
}

}  // namespace tcpsim::host
