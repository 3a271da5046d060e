// An L4 load balancer in NAT mode: a virtual address:port in front of backends. A new flow (a
// SYN from a client 4-tuple) is given a backend by round-robin, a hash of the client address and
// port, or least connections; its segments are rewritten to the backend (destination NAT) and,
// with source NAT, from one of the balancer's own addresses (then the backend's replies come back
// to the balancer by routing alone). Without source NAT the backends see the clients' addresses
// and send their replies through the balancer, which rewrites the source back to the virtual
// address (the "NAT mode" of Linux IPVS, where the balancer is the real servers' gateway:
// https://www.linuxvirtualserver.org/VS-NAT.html).
#pragma once

#include "net/nat.hpp"
#include "tcp/segment.hpp"

#include <tcpsim/time.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace tcpsim::net {

enum class LbPolicy : std::uint8_t { RoundRobin, Hash, LeastConnections };

struct BalancerConfig {
    tcp::SockAddr vip;
    std::vector<tcp::SockAddr> backends;
    LbPolicy policy = LbPolicy::RoundRobin;
    bool snat = false;
    NatConfig snat_config;  // used when snat: outer addresses are the balancer's own
    Duration flow_timeout = Duration::s(120);  // a finished flow's entry is kept this long (conntrack TIME_WAIT)
    Duration idle_timeout = Duration::s(7440);
};

class Balancer {
public:
    Balancer(BalancerConfig cfg, std::uint64_t seed);

    struct Result {
        std::optional<tcp::Segment> seg;  // the rewritten segment to forward
        bool exhausted = false;           // a SYN refused because source NAT had no port
    };
    // A segment from a client to the virtual address.
    Result from_client(SimTime now, const tcp::Segment& seg);
    // A segment from a backend (to a source-NAT address, or to a client in plain NAT mode).
    std::optional<tcp::Segment> from_backend(SimTime now, const tcp::Segment& seg);

    // Does a segment from `src` to `dst` belong to the balancer's return path (plain NAT mode:
    // a backend's reply to a client of one of its flows)?
    [[nodiscard]] bool is_backend_reply(const tcp::Segment& seg) const;
    [[nodiscard]] bool owns(std::uint32_t ip) const;
    [[nodiscard]] const BalancerConfig& config() const { return cfg_; }
    [[nodiscard]] std::size_t active_flows() const;
    [[nodiscard]] std::size_t flows() const { return flows_.size(); }
    [[nodiscard]] const std::vector<std::uint64_t>& flows_per_backend() const { return chosen_; }
    [[nodiscard]] const Nat* snat() const { return snat_ ? &*snat_ : nullptr; }
    Nat* snat() { return snat_ ? &*snat_ : nullptr; }
    void expire(SimTime now);

private:
    struct Flow {
        std::uint32_t backend = 0;
        bool fin_client = false, fin_backend = false, finished = false;
        SimTime deadline;
    };
    using Key = std::pair<std::uint32_t, std::uint16_t>;  // client address and port
    std::uint32_t choose(const tcp::Segment& syn);
    void track(Flow& f, const tcp::Segment& seg, bool from_client, SimTime now);

    BalancerConfig cfg_;
    std::optional<Nat> snat_;
    std::map<Key, Flow> flows_;
    std::vector<std::uint64_t> active_;  // unfinished flows per backend
    std::vector<std::uint64_t> chosen_;  // flows given to each backend
    std::uint64_t rr_ = 0;
    std::uint64_t hash_key_;
};

}  // namespace tcpsim::net
