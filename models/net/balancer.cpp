#include "net/balancer.hpp"

#include <tcpsim/rng.hpp>

namespace tcpsim::net {

Balancer::Balancer(BalancerConfig cfg, std::uint64_t seed)
    : cfg_(std::move(cfg)), active_(cfg_.backends.size(), 0), chosen_(cfg_.backends.size(), 0),
      hash_key_(Rng::substream(seed, "lb-hash").next_u64()) {
    if (cfg_.snat) snat_.emplace(cfg_.snat_config, Rng::substream(seed, "lb-snat").next_u64());
}

bool Balancer::owns(std::uint32_t ip) const {
    if (ip == cfg_.vip.ip) return true;
    if (snat_)
        for (std::uint32_t a : snat_->config().outer)
            if (a == ip) return true;
    return false;
}

std::size_t Balancer::active_flows() const {
    std::size_t n = 0;
    for (std::uint64_t a : active_) n += a;
    return n;
}

std::uint32_t Balancer::choose(const tcp::Segment& syn) {
    const auto n = static_cast<std::uint32_t>(cfg_.backends.size());
    switch (cfg_.policy) {
        case LbPolicy::RoundRobin: return static_cast<std::uint32_t>(rr_++ % n);
        case LbPolicy::Hash: {
            // A keyed hash of the client address and port (like IPVS "sh"/"mh" on the source).
            Rng h(hash_key_ ^ (static_cast<std::uint64_t>(syn.src.ip) << 16) ^ syn.src.port);
            return static_cast<std::uint32_t>(h.next_u64() % n);
        }
        case LbPolicy::LeastConnections: {
            std::uint32_t best = 0;
            for (std::uint32_t i = 1; i < n; ++i)
                if (active_[i] < active_[best]) best = i;
            return best;
        }
    }
    return 0;
}

void Balancer::track(Flow& f, const tcp::Segment& seg, bool from_client, SimTime now) {
    if (f.finished) {
        f.deadline = now + cfg_.flow_timeout;
        return;
    }
    if (seg.rst()) f.fin_client = f.fin_backend = true;
    if (seg.fin()) (from_client ? f.fin_client : f.fin_backend) = true;
    if (f.fin_client && f.fin_backend) {
        f.finished = true;
        --active_[f.backend];
        f.deadline = now + cfg_.flow_timeout;
    } else {
        f.deadline = now + cfg_.idle_timeout;
    }
}

void Balancer::expire(SimTime now) {
    for (auto it = flows_.begin(); it != flows_.end();) {
        if (it->second.deadline <= now) {
            if (!it->second.finished) --active_[it->second.backend];
            it = flows_.erase(it);
        } else {
            ++it;
        }
    }
}

Balancer::Result Balancer::from_client(SimTime now, const tcp::Segment& seg) {
    Result res;
    const Key key{seg.src.ip, seg.src.port};
    auto it = flows_.find(key);
    if (it != flows_.end() && it->second.deadline <= now) {
        if (!it->second.finished) --active_[it->second.backend];
        flows_.erase(it);
        it = flows_.end();
    }
    const bool new_syn = seg.syn() && !seg.ack_set() && !seg.rst();
    if (it != flows_.end() && it->second.finished && new_syn) {
        flows_.erase(it);  // a new connection on a finished flow's 4-tuple: a new flow
        it = flows_.end();
    }
    bool created = false;
    if (it == flows_.end()) {
        if (!new_syn) return res;  // no flow: dropped (IPVS drops such packets)
        created = true;
        Flow f;
        f.backend = choose(seg);
        ++active_[f.backend];
        ++chosen_[f.backend];
        it = flows_.emplace(key, f).first;
    }
    tcp::Segment out = seg;
    out.dst = cfg_.backends[it->second.backend];
    if (snat_) {
        const Nat::Outbound o = snat_->outbound(now, out);
        if (o.kind != Nat::Outbound::Kind::Forward) {
            res.exhausted = o.exhausted;
            if (new_syn && it->second.fin_client == false) {
                --active_[it->second.backend];
                if (created) --chosen_[it->second.backend];  // never given to the backend
                flows_.erase(it);
            }
            return res;
        }
        out = o.seg;
    }
    track(it->second, seg, true, now);
    res.seg = out;
    return res;
}

bool Balancer::is_backend_reply(const tcp::Segment& seg) const {
    if (snat_) return false;
    auto it = flows_.find(Key{seg.dst.ip, seg.dst.port});
    return it != flows_.end() && cfg_.backends[it->second.backend] == seg.src;
}

std::optional<tcp::Segment> Balancer::from_backend(SimTime now, const tcp::Segment& seg) {
    tcp::Segment out = seg;
    if (snat_) {
        auto in = snat_->inbound(now, seg);
        if (!in) return std::nullopt;
        out = *in;
    }
    auto it = flows_.find(Key{out.dst.ip, out.dst.port});
    if (it == flows_.end()) return std::nullopt;
    track(it->second, seg, false, now);
    out.src = cfg_.vip;
    return out;
}

}  // namespace tcpsim::net
