#include "net/nat.hpp"

#include <algorithm>
#include <bit>
#include <iterator>

namespace tcpsim::net {

namespace {

constexpr std::size_t idx(NatEntryState s) { return static_cast<std::size_t>(s); }

// "(12 established, 52 time-wait)": the entries holding the ports, non-zero states only.
std::string state_phrase(const std::array<std::uint64_t, 3>& n) {
    std::string s;
    auto add = [&](std::uint64_t v, const char* name) {
        if (v == 0) return;
        s += s.empty() ? " (" : ", ";
        s += std::to_string(v) + " " + name;
    };
    add(n[idx(NatEntryState::Established)], "established");
    add(n[idx(NatEntryState::Transitory)], "transitory");
    add(n[idx(NatEntryState::TimeWait)], "time-wait");
    if (!s.empty()) s += ")";
    return s;
}

std::string address_list(const std::vector<std::uint32_t>& ips) {
    std::string s;
    for (std::size_t i = 0; i < ips.size() && i < 4; ++i) s += (i == 0 ? "" : ", ") + tcp::format_ip(ips[i]);
    if (ips.size() > 4) s += " and " + std::to_string(ips.size() - 4) + " more";
    return s;
}

}  // namespace

std::string_view to_string(NatMapping m) {
    switch (m) {
        case NatMapping::EndpointIndependent: return "endpoint-independent";
        case NatMapping::AddressDependent: return "address-dependent";
        case NatMapping::AddressAndPortDependent: return "address-and-port-dependent";
    }
    return "?";
}

std::string_view to_string(NatAssign a) {
    switch (a) {
        case NatAssign::Preserve: return "preserve";
        case NatAssign::Sequential: return "sequential";
        case NatAssign::Random: return "random";
        case NatAssign::Blocks: return "blocks";
    }
    return "?";
}

std::string_view to_string(NatEntryState s) {
    switch (s) {
        case NatEntryState::Transitory: return "transitory";
        case NatEntryState::Established: return "established";
        case NatEntryState::TimeWait: return "time-wait";
    }
    return "?";
}

Nat::Nat(NatConfig cfg, std::uint64_t seed)
    : cfg_(std::move(cfg)),
      port_rng_(Rng::substream(seed, "nat-ports")),
      addr_key_(Rng::substream(seed, "nat-address").next_u64()) {
    std::vector<std::uint32_t> pool;
    pool.swap(cfg_.outer);
    for (std::uint32_t a : pool) add_address(a);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

Nat::Scope Nat::scope_of(tcp::SockAddr remote) const {
    // RFC 4787 §4.1: EIM reuses the mapping for every remote endpoint; ADM for one remote address;
    // APDM for one remote address and port (so an outer port is free again for any other
    // destination: port overloading, RFC 4787 §4.2.1, what gives per-destination budgets).
    switch (cfg_.mapping) {
        case NatMapping::EndpointIndependent: return Scope{};
        case NatMapping::AddressDependent: return Scope{remote.ip, 0};
        case NatMapping::AddressAndPortDependent: return Scope{remote.ip, remote.port};
    }
    return Scope{remote.ip, remote.port};
}

Duration Nat::timeout(NatEntryState s) const {
    switch (s) {
        case NatEntryState::Transitory: return cfg_.transitory_timeout;
        case NatEntryState::Established: return cfg_.established_timeout;
        case NatEntryState::TimeWait: return cfg_.time_wait_timeout;
    }
    return cfg_.transitory_timeout;
}

std::uint32_t Nat::blocks_per_address() const {
    if (cfg_.ports_per_host == 0 || cfg_.port_hi < cfg_.port_lo) return 0;
    return (static_cast<std::uint32_t>(cfg_.port_hi - cfg_.port_lo) + 1) / cfg_.ports_per_host;
}

std::uint32_t Nat::blocks_given(std::uint32_t outer) const {
    const Outer* o = find_outer(outer);
    return o ? o->blocks_given : 0;
}

bool Nat::give_block(std::vector<Block>& blocks) {
    // Blocks in order of first appearance on the lowest-index address that has one left.
    const std::uint32_t per = blocks_per_address();
    for (Outer& o : outer_) {
        if (o.blocks_given >= per) continue;
        const std::uint32_t index = o.blocks_given++;
        blocks.push_back(Block{o.ip, index, static_cast<std::uint16_t>(cfg_.port_lo + (index + 1) * cfg_.ports_per_host - 1)});
        return true;
    }
    return false;
}

std::uint32_t Nat::block_id(std::uint16_t port) const {
    if (cfg_.assign != NatAssign::Blocks || cfg_.ports_per_host == 0) return 0;
    return static_cast<std::uint32_t>(port - cfg_.port_lo) / cfg_.ports_per_host;
}

Nat::Outer* Nat::find_outer(std::uint32_t ip) {
    for (Outer& o : outer_)
        if (o.ip == ip) return &o;
    return nullptr;
}

const Nat::Outer* Nat::find_outer(std::uint32_t ip) const {
    for (const Outer& o : outer_)
        if (o.ip == ip) return &o;
    return nullptr;
}

std::uint64_t Nat::dest_entries(std::uint32_t outer_ip, tcp::SockAddr remote) const {
    auto it = dest_stats_.find(DestKey{outer_ip, remote.ip, remote.port});
    return it == dest_stats_.end() ? 0 : it->second.entries();
}

bool Nat::port_free(std::uint32_t outer_ip, Scope s, std::uint16_t port) const {
    return find_owner(outer_ip, s, port) == kNoMapping;
}

std::uint32_t Nat::find_mapping(const MapKey& k) const { return map_index_.find(tuple_of(k), map_tuple()); }

std::uint32_t Nat::find_owner(std::uint32_t outer_ip, Scope s, std::uint16_t port) const {
    return owner_index_.find(owner_tuple(outer_ip, s, port), owner_of());
}

void Nat::PortBits::set(std::uint16_t p) {
    std::uint64_t& w = word[p >> 6];
    w |= std::uint64_t{1} << (p & 63);
    if (w == ~std::uint64_t{0}) full[p >> 12] |= std::uint64_t{1} << ((p >> 6) & 63);
}

void Nat::PortBits::clear(std::uint16_t p) {
    word[p >> 6] &= ~(std::uint64_t{1} << (p & 63));
    full[p >> 12] &= ~(std::uint64_t{1} << ((p >> 6) & 63));
}

std::optional<std::uint16_t> Nat::PortBits::next_free(std::uint32_t from, std::uint32_t to) const {
    if (from > to) return std::nullopt;
    std::uint32_t wi = from >> 6;
    // The first word, from `from` on.
    if (const std::uint64_t free = ~word[wi] & (~std::uint64_t{0} << (from & 63)); free != 0) {
        const std::uint32_t p = (wi << 6) + static_cast<std::uint32_t>(std::countr_zero(free));
        return p <= to ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(p)) : std::nullopt;
    }
    // Then the first word after it that is not full, through the summary.
    for (std::uint32_t w = wi + 1; w < 1024 && (w << 6) <= to;) {
        const std::uint64_t not_full = ~full[w >> 6] & (~std::uint64_t{0} << (w & 63));
        if (not_full == 0) {
            w = ((w >> 6) + 1) << 6;
            continue;
        }
        const std::uint32_t nw = ((w >> 6) << 6) + static_cast<std::uint32_t>(std::countr_zero(not_full));
        const std::uint32_t p = (nw << 6) + static_cast<std::uint32_t>(std::countr_zero(~word[nw]));
        return p <= to ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(p)) : std::nullopt;
    }
    return std::nullopt;
}

std::optional<std::uint16_t> Nat::first_free(std::uint32_t outer_ip, Scope s, const PortBits* bits, std::uint16_t lo,
                                             std::uint16_t hi, std::uint16_t start) const {
    // Busy scopes have a bitmap: a word-at-a-time search. Otherwise look the ports up one by one
    // from `start`: the first free one is the answer, after at most (ports in use + 1) lookups,
    // few since such scopes hold fewer than kBitsAt ports (or the range is that narrow).
    auto scan = [&](std::uint32_t from, std::uint32_t to) -> std::optional<std::uint16_t> {
        if (bits != nullptr) return bits->next_free(from, to);
        for (std::uint32_t p = from; p <= to; ++p)
            if (port_free(outer_ip, s, static_cast<std::uint16_t>(p))) return static_cast<std::uint16_t>(p);
        return std::nullopt;
    };
    if (auto p = scan(start, hi)) return p;
    if (start > lo) return scan(lo, static_cast<std::uint32_t>(start) - 1);
    return std::nullopt;
}

std::optional<std::uint16_t> Nat::pick_port(Outer& o, Scope s, std::uint16_t inner_port, std::uint16_t lo,
                                            std::uint16_t hi, std::uint16_t& cursor) {
    const std::uint32_t range = static_cast<std::uint32_t>(hi - lo) + 1;
    const PortBits* bits = nullptr;
    if (auto st = scope_stats_.find(ScopeStatKey{o.ip, block_id(lo), s}); st != scope_stats_.end()) {
        if (st->second.ports >= range) return std::nullopt;  // every port of the scope is held: no scan
        if (st->second.bits.active()) bits = &st->second.bits;
    }
    auto sequential = [&]() -> std::optional<std::uint16_t> {
        // The next free port after the last one given, wrapping (RFC 4787 §4.2.1 leaves the
        // order to the NAT; this is the simple "next port" allocator).
        const std::uint16_t start = (cursor < lo || cursor >= hi) ? lo : static_cast<std::uint16_t>(cursor + 1);
        auto p = first_free(o.ip, s, bits, lo, hi, start);
        if (p) cursor = *p;
        return p;
    };
    switch (cfg_.assign) {
        case NatAssign::Preserve:
            // RFC 4787 §4.2.1 port preservation: the inner port when it is free on this address
            // for this scope; otherwise the next free one.
            if (inner_port >= lo && inner_port <= hi && port_free(o.ip, s, inner_port)) return inner_port;
            return sequential();
        case NatAssign::Sequential:
        case NatAssign::Blocks:  // inside the host's own block
            return sequential();
        case NatAssign::Random: {
            // Uniform draws (RFC 6056-style randomisation as Azure NAT gateway and AWS describe
            // "random port"); after a few busy draws, scan from the last one so a free port is
            // always found when there is one. Deterministic: one seeded substream.
            std::uint16_t p = lo;
            for (int tries = 0; tries < 8; ++tries) {
                p = static_cast<std::uint16_t>(lo + port_rng_.below(range));
                if (port_free(o.ip, s, p)) return p;
            }
            return first_free(o.ip, s, bits, lo, hi, p);
        }
    }
    return std::nullopt;
}

std::size_t Nat::first_address(std::uint32_t inner_ip) const {
    // fill_first (Azure LB: a second frontend address is used only when the first's ports are
    // consumed, capacity-cases.md case 9): lowest index first. Otherwise an inner host keeps one
    // address while it has room, picked by a keyed hash of its address (Linux MASQUERADE hashes
    // the source address to pick from a range, nf_nat_core find_best_ips_proto(); Cloud NAT binds
    // a VM's ports to NAT addresses), then the others in pool order, wrapping.
    if (cfg_.fill_first || outer_.empty()) return 0;
    return static_cast<std::size_t>(Rng(addr_key_ ^ inner_ip).next_u64() % outer_.size());
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping

void Nat::count_in(NatEntryState s, std::uint64_t d) {
    switch (s) {
        case NatEntryState::Transitory: counts_.transitory += d; break;
        case NatEntryState::Established: counts_.established += d; break;
        case NatEntryState::TimeWait: counts_.time_wait += d; break;
    }
}

void Nat::tally_add(const FlowKey& k, const Flow& f, NatEntryState s, std::int64_t delta) {
    const auto d = static_cast<std::uint64_t>(delta);  // modular: +1 or -1
    count_in(s, d);
    auto bump = [&](auto& map, const auto& key) {
        auto it = map.try_emplace(key).first;
        it->second.by_state[idx(s)] += d;
        if (it->second.entries() == 0 && it->second.ports == 0) map.erase(it);
    };
    bump(scope_stats_, ScopeStatKey{f.outer_ip, block_id(f.outer_port), scope_of(k.remote)});
    bump(dest_stats_, DestKey{f.outer_ip, k.remote.ip, k.remote.port});
}

void Nat::tally_move(const FlowKey& k, const Flow& f, NatEntryState from, NatEntryState to) {
    // What tally_add(from, -1) then tally_add(to, +1) did, with one lookup per tally. That pair
    // could erase a tally that fell to zero and make it again at once, the same: the scope tally
    // never falls to zero (the flow's mapping holds a port in it), a destination tally that did
    // counted this flow alone.
    count_in(from, ~std::uint64_t{0});  // modular: -1
    count_in(to, 1);
    auto move = [&](auto& map, const auto& key) {
        auto it = map.try_emplace(key).first;
        --it->second.by_state[idx(from)];
        ++it->second.by_state[idx(to)];
    };
    move(scope_stats_, ScopeStatKey{f.outer_ip, block_id(f.outer_port), scope_of(k.remote)});
    move(dest_stats_, DestKey{f.outer_ip, k.remote.ip, k.remote.port});
}

void Nat::set_state(const FlowKey& k, Flow& f, NatEntryState s) {
    if (f.state == s) return;
    tally_move(k, f, f.state, s);
    f.state = s;
}

std::uint32_t Nat::find_flow(const FlowKey& k) const { return flow_index_.find(tuple_of(k), flow_tuple()); }

std::uint32_t Nat::add_flow(const FlowKey& k, const Flow& f) {
    std::uint32_t id;
    if (!free_flows_.empty()) {
        id = free_flows_.back();
        free_flows_.pop_back();
        flow_slots_[id] = FlowSlot{k, f};
    } else {
        id = static_cast<std::uint32_t>(flow_slots_.size());
        flow_slots_.push_back(FlowSlot{k, f});
    }
    flow_index_.insert(tuple_of(k), id, flow_tuple());
    return id;
}

void Nat::touch(SimTime now, std::uint32_t id) {
    // Every segment refreshes the entry's idle deadline with its state's timeout (RFC 5382 REQ-5,
    // conntrack: each packet re-arms the timeout of the current state).
    deadlines_.set(id, now + timeout(flow_slots_[id].flow.state), key_order());
}

void Nat::erase_flow(std::uint32_t id) {
    const FlowKey k = flow_slots_[id].key;
    const Flow& f = flow_slots_[id].flow;
    tally_add(k, f, f.state, -1);
    deadlines_.erase(id, key_order());
    const MapKey mk{k.inner, scope_of(k.remote)};
    if (const std::uint32_t m = find_mapping(mk); m != kNoMapping && --map_slots_[m].mapping.flows == 0) {
        // The last entry of the mapping is gone: its outer port is free again for that scope.
        const std::uint32_t oip = map_slots_[m].mapping.outer_ip;
        const std::uint16_t port = map_slots_[m].mapping.outer_port;
        owner_index_.erase(owner_tuple(oip, mk.scope, port), owner_of());
        if (Outer* o = find_outer(oip); o != nullptr && --o->port_refs[port] == 0) --o->distinct;
        if (auto st = scope_stats_.find(ScopeStatKey{oip, block_id(port), mk.scope}); st != scope_stats_.end()) {
            --st->second.ports;
            if (st->second.bits.active()) st->second.bits.clear(port);
            if (st->second.ports == 0 && st->second.entries() == 0) scope_stats_.erase(st);
        }
        map_index_.erase(tuple_of(mk), map_tuple());
        free_maps_.push_back(m);
    }
    flow_index_.erase(tuple_of(k), flow_tuple());
    free_flows_.push_back(id);
}

void Nat::refuse(SimTime now, std::string why) {
    ++exhaustion_drops_;
    last_reason_ = std::move(why);
    last_exhaustion_at_ = now;
}

// ---------------------------------------------------------------------------------------------
// Mapping a new flow

std::string Nat::describe(const std::vector<Refusal>& r, tcp::SockAddr inner, tcp::SockAddr remote) const {
    std::string dest;
    switch (cfg_.mapping) {
        case NatMapping::EndpointIndependent: dest = " (endpoint-independent: to any destination)"; break;
        case NatMapping::AddressDependent: dest = " to " + tcp::format_ip(remote.ip); break;
        case NatMapping::AddressAndPortDependent: dest = " to " + tcp::format_addr(remote); break;
    }
    if (r.empty()) return "no outer address in the pool";
    if (cfg_.assign == NatAssign::Blocks) {
        const Refusal& x = r.front();
        if (x.at_cap)
            return tcp::format_ip(x.outer_ip) + " (holding " + tcp::format_ip(inner.ip) + "'s block) has " +
                   std::to_string(x.ports) + " entries to " + tcp::format_addr(remote) +
                   ", the per-destination cap" + state_phrase(x.by_state);
        const auto b = blocks_.find(inner.ip);
        const std::size_t n = b == blocks_.end() ? 1 : b->second.size();
        const std::uint32_t lo = cfg_.port_lo + (b == blocks_.end() ? 0 : b->second.front().index * cfg_.ports_per_host);
        if (n > 1) {  // dynamic allocation at its maximum
            std::array<std::uint64_t, 3> all{};
            for (const Refusal& y : r)
                for (std::size_t i = 0; i < 3; ++i) all[i] += y.by_state[i];
            return "all " + std::to_string(n * cfg_.ports_per_host) + " ports of " + tcp::format_ip(inner.ip) + "'s " +
                   std::to_string(n) + " blocks of " + std::to_string(cfg_.ports_per_host) +
                   (n * cfg_.ports_per_host >= cfg_.max_ports_per_host ? " (its max_ports_per_host)" : " (no block left to add)") +
                   " hold a mapping" + dest + state_phrase(all);
        }
        return "all " + std::to_string(cfg_.ports_per_host) + " ports of " + tcp::format_ip(inner.ip) +
               "'s block (" + tcp::format_ip(x.outer_ip) + ":" + std::to_string(lo) + "-" +
               std::to_string(lo + cfg_.ports_per_host - 1) + ") hold a mapping" + dest + state_phrase(x.by_state);
    }
    std::vector<std::uint32_t> full_ips, cap_ips;
    std::array<std::uint64_t, 3> full_states{}, cap_states{};
    std::uint64_t full_ports = 0;
    for (const Refusal& x : r) {
        auto& states = x.at_cap ? cap_states : full_states;
        for (std::size_t i = 0; i < 3; ++i) states[i] += x.by_state[i];
        if (x.at_cap) {
            cap_ips.push_back(x.outer_ip);
        } else {
            full_ips.push_back(x.outer_ip);
            full_ports += x.ports;
        }
    }
    // Addresses named in pool order, whatever order they were tried in.
    auto pool_order = [&](std::vector<std::uint32_t>& ips) {
        std::vector<std::uint32_t> sorted;
        for (const Outer& o : outer_)
            if (std::find(ips.begin(), ips.end(), o.ip) != ips.end()) sorted.push_back(o.ip);
        ips.swap(sorted);
    };
    pool_order(full_ips);
    pool_order(cap_ips);
    std::string s;
    if (!full_ips.empty()) {
        s = "all " + std::to_string(full_ports) + " ports of " +
            (full_ips.size() == 1 ? "" : std::to_string(full_ips.size()) + " addresses ") + address_list(full_ips) +
            " hold a mapping" + dest + state_phrase(full_states);
    }
    if (!cap_ips.empty()) {
        if (!s.empty()) s += "; ";
        s += address_list(cap_ips) + (cap_ips.size() == 1 ? " holds " : " each hold ") +
             std::to_string(cfg_.per_destination_cap) + " entries to " + tcp::format_addr(remote) +
             ", the per-destination cap" + state_phrase(cap_states);
    }
    return s;
}

bool Nat::map_flow(SimTime now, const FlowKey& k, Mapping*& out) {
    const Scope s = scope_of(k.remote);
    const MapKey mk{k.inner, s};
    auto at_cap = [&](std::uint32_t oip) {
        // AWS NAT gateway: at most 55,000 simultaneous connections per address to one unique
        // destination (dst IP, dst port, protocol); an address at the cap cannot take the flow.
        return cfg_.per_destination_cap != 0 && dest_entries(oip, k.remote) >= cfg_.per_destination_cap;
    };
    auto cap_refusal = [&](std::uint32_t oip) {
        Refusal x{oip, true, dest_entries(oip, k.remote), {}};
        if (auto d = dest_stats_.find(DestKey{oip, k.remote.ip, k.remote.port}); d != dest_stats_.end())
            x.by_state = d->second.by_state;
        return x;
    };
    auto full_refusal = [&](std::uint32_t oip, std::uint16_t lo) {
        Refusal x{oip, false, 0, {}};
        if (auto st = scope_stats_.find(ScopeStatKey{oip, block_id(lo), s}); st != scope_stats_.end()) {
            x.ports = st->second.ports;
            x.by_state = st->second.by_state;
        }
        return x;
    };

    if (const std::uint32_t id = find_mapping(mk); id != kNoMapping) {
        // EIM / ADM: the endpoint already has a mapping for this scope and it is reused for the new
        // flow (RFC 4787 §4.1 REQ-1); it cannot move to another address.
        Mapping& m = map_slots_[id].mapping;
        if (at_cap(m.outer_ip)) {
            refuse(now, "the mapping of " + tcp::format_addr(k.inner) + " is on " + tcp::format_ip(m.outer_ip) +
                            ": " + describe({cap_refusal(m.outer_ip)}, k.inner, k.remote));
            return false;
        }
        out = &m;
        return true;
    }

    auto create = [&](Outer& o, std::uint16_t port, std::uint16_t lo, std::uint16_t hi) {
        std::uint32_t id;
        if (!free_maps_.empty()) {
            id = free_maps_.back();
            free_maps_.pop_back();
            map_slots_[id] = MapSlot{mk, Mapping{o.ip, port, 0}};
        } else {
            id = static_cast<std::uint32_t>(map_slots_.size());
            map_slots_.push_back(MapSlot{mk, Mapping{o.ip, port, 0}});
        }
        map_index_.insert(tuple_of(mk), id, map_tuple());
        owner_index_.insert(owner_tuple(o.ip, s, port), id, owner_of());
        if (o.port_refs[port]++ == 0) ++o.distinct;
        ScopeStat& st = scope_stats_[ScopeStatKey{o.ip, block_id(port), s}];
        ++st.ports;
        if (st.bits.active()) {
            st.bits.set(port);
        } else if (st.ports >= kBitsAt && static_cast<std::uint64_t>(hi - lo) + 1 > kBitsAt) {
            // The scope got busy: index its used ports (this one included) in a bitmap from now on.
            st.bits.activate();
            for (std::uint32_t p = lo; p <= hi; ++p)
                if (!port_free(o.ip, s, static_cast<std::uint16_t>(p))) st.bits.set(static_cast<std::uint16_t>(p));
        }
        out = &map_slots_[id].mapping;
    };

    std::vector<Refusal> refusals;
    if (cfg_.assign == NatAssign::Blocks) {
        // Cloud NAT static port allocation ("minimum ports per VM", 64 by default): an inner address
        // gets one block of ports_per_host ports on its first flow, blocks in order of first
        // appearance on the lowest-index address that has one left, and uses only those ports.
        // The block stays with the host (static allocation; dynamic allocation below adds blocks).
        auto b = blocks_.find(k.inner.ip);
        if (b == blocks_.end()) {
            std::vector<Block> first;
            if (!give_block(first)) {
                refuse(now, "no port block left for " + tcp::format_ip(k.inner.ip) + ": all " +
                                std::to_string(std::uint64_t{blocks_per_address()} * outer_.size()) + " blocks of " +
                                std::to_string(cfg_.ports_per_host) + " ports on " + std::to_string(outer_.size()) +
                                " address(es) are assigned");
                return false;
            }
            b = blocks_.emplace(k.inner.ip, std::move(first)).first;
        }
        // Dynamic port allocation (Google Cloud NAT, capacity-cases.md case 15: minimum and maximum
        // ports per VM): when every block the host holds is full, it gets as many blocks again
        // (its ports double), up to max_ports_per_host; allocations are never taken back here.
        for (std::size_t tried = 0;;) {
            for (; tried < b->second.size(); ++tried) {
                Block& blk = b->second[tried];
                Outer* o = find_outer(blk.outer_ip);
                const auto lo = static_cast<std::uint16_t>(cfg_.port_lo + blk.index * cfg_.ports_per_host);
                const auto hi = static_cast<std::uint16_t>(lo + cfg_.ports_per_host - 1);
                if (at_cap(o->ip)) {
                    refusals.push_back(cap_refusal(o->ip));
                } else if (auto p = pick_port(*o, s, k.inner.port, lo, hi, blk.cursor)) {
                    create(*o, *p, lo, hi);
                    return true;
                } else {
                    refusals.push_back(full_refusal(o->ip, lo));
                }
            }
            const std::uint64_t have = std::uint64_t{cfg_.ports_per_host} * b->second.size();
            if (cfg_.max_ports_per_host == 0 || have >= cfg_.max_ports_per_host) break;
            const std::uint64_t more = std::min<std::uint64_t>(b->second.size(), (cfg_.max_ports_per_host - have) / cfg_.ports_per_host);
            std::uint64_t got = 0;
            while (got < more && give_block(b->second)) ++got;
            if (got == 0) break;
        }
    } else {
        const std::size_t n = outer_.size(), start = cfg_.round_robin && n > 0 ? next_address_++ % n : first_address(k.inner.ip);
        for (std::size_t i = 0; i < n; ++i) {
            Outer& o = outer_[(start + i) % n];
            if (at_cap(o.ip)) {
                refusals.push_back(cap_refusal(o.ip));
                continue;
            }
            if (auto p = pick_port(o, s, k.inner.port, cfg_.port_lo, cfg_.port_hi, o.cursor)) {
                create(o, *p, cfg_.port_lo, cfg_.port_hi);
                return true;
            }
            refusals.push_back(full_refusal(o.ip, cfg_.port_lo));
        }
    }
    refuse(now, describe(refusals, k.inner, k.remote));
    return false;
}

// ---------------------------------------------------------------------------------------------
// The state machine (conntrack's TCP tracking, simplified to the three timeout classes)

void Nat::track(SimTime now, std::uint32_t id, const tcp::Segment& seg, bool from_inside) {
    const FlowKey& k = flow_slots_[id].key;
    Flow& f = flow_slots_[id].flow;
    if (seg.rst()) {
        // RST either way: the entry lingers with the transitory timeout. Published figures differ:
        // conntrack CLOSE 10 s, Azure NAT gateway RST 16 s, App Service 15 s, Cloud NAT transitory
        // 30 s; the configuration's transitory_timeout is the one used.
        f.rst = true;
        set_state(k, f, NatEntryState::Transitory);
    } else {
        // Handshake, simplified: the SYN,ACK from outside, then the inner host's ACK -> established
        // (conntrack: SYN_SENT -> SYN_RECV on SYN,ACK -> ESTABLISHED on the ACK).
        if (!from_inside && seg.syn() && seg.ack_set() && f.state == NatEntryState::Transitory) f.synack_in = true;
        if (from_inside && !seg.syn() && seg.ack_set() && f.state == NatEntryState::Transitory && f.synack_in &&
            !f.fin_in && !f.fin_out && !f.rst)
            set_state(k, f, NatEntryState::Established);
        if (seg.fin()) {
            // A FIN one way: half-closed, transitory (Cloud NAT counts it as transitory). FINs both
            // ways: time-wait (conntrack TIME_WAIT 120 s, Cloud NAT 120 s, Azure NAT gateway 65 s).
            // The last ACK is not required: the second FIN is enough.
            (from_inside ? f.fin_out : f.fin_in) = true;
            set_state(k, f, f.fin_in && f.fin_out ? NatEntryState::TimeWait : NatEntryState::Transitory);
        }
    }
    touch(now, id);
}

Nat::Outbound Nat::outbound(SimTime now, const tcp::Segment& seg) {
    expire(now);
    const FlowKey k{seg.src, seg.dst};
    const bool new_syn = seg.syn() && !seg.ack_set();
    if (const std::uint32_t id = find_flow(k); id != kNoFlow) {
        Flow& f = flow_slots_[id].flow;
        if (new_syn && (f.state == NatEntryState::TimeWait || f.rst || f.fin_in || f.fin_out)) {
            // A new SYN on a closing or closed entry reopens it with the same outer address and
            // port: nf_conntrack_proto_tcp.c, TIME_WAIT + SYN -> SYN_SENT ("reopened connection").
            f.synack_in = f.fin_in = f.fin_out = f.rst = false;
            set_state(k, f, NatEntryState::Transitory);
            touch(now, id);
        } else {
            track(now, id, seg, true);  // includes a retransmitted SYN: state kept, deadline refreshed
        }
        tcp::Segment out = seg;
        out.src = tcp::SockAddr{f.outer_ip, f.outer_port};
        return Outbound{Outbound::Kind::Forward, out};
    }
    // No entry: only a SYN may create one. A mid-stream segment is dropped, as cloud NATs do
    // (Linux with nf_conntrack_tcp_loose=1 would pick the flow up; not modelled).
    if (!new_syn) return Outbound{Outbound::Kind::Drop, seg};

    Mapping* m = nullptr;
    if (!map_flow(now, k, m)) {
        if (cfg_.on_exhaustion == NatOnExhaustion::Drop) return Outbound{Outbound::Kind::Drop, seg, true};
        // Reset to the inner host, as a closed port answers a SYN (RFC 9293 §3.10.7.1: the SYN
        // has no ACK, so <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>), source = the destination.
        tcp::Segment rst;
        rst.src = seg.dst;
        rst.dst = seg.src;
        rst.seq = 0;
        rst.ack = seg.seq + seg.seg_len();
        rst.flags = tcp::flag::Rst | tcp::flag::Ack;
        return Outbound{Outbound::Kind::Reset, rst, true};
    }
    ++m->flows;
    Flow f;
    f.outer_ip = m->outer_ip;
    f.outer_port = m->outer_port;
    f.state = NatEntryState::Transitory;  // SYN seen, not established
    const std::uint32_t id = add_flow(k, f);
    tally_add(k, f, f.state, +1);
    deadlines_.set(id, now + timeout(f.state), key_order());
    tcp::Segment out = seg;
    out.src = tcp::SockAddr{f.outer_ip, f.outer_port};
    return Outbound{Outbound::Kind::Forward, out};
}

std::optional<tcp::Segment> Nat::inbound(SimTime now, const tcp::Segment& seg) {
    expire(now);
    // Filtering follows the mapping kind (RFC 4787 §5): EIM lets any remote endpoint reach the
    // mapping (endpoint-independent filtering), ADM only the remote address, APDM only the remote
    // address and port the flow went to: exactly the owner of (outer, scope(remote), port).
    const std::uint32_t m = find_owner(seg.dst.ip, scope_of(seg.src), seg.dst.port);
    if (m == kNoMapping) return std::nullopt;
    const tcp::SockAddr inner = map_slots_[m].key.inner;
    tcp::Segment out = seg;
    out.dst = inner;
    // A segment of a tracked flow moves its state; one from another remote that the filtering
    // lets through (EIM, ADM) is translated without creating or refreshing an entry.
    const FlowKey k{inner, seg.src};
    if (const std::uint32_t id = find_flow(k); id != kNoFlow) track(now, id, seg, false);
    return out;
}

// ---------------------------------------------------------------------------------------------
// The pool and the table

void Nat::add_address(std::uint32_t a) {
    if (find_outer(a) != nullptr) return;
    Outer o;
    o.ip = a;
    o.port_refs.assign(65536, 0);
    o.cursor = cfg_.port_hi;  // so that the first Sequential port is port_lo
    outer_.push_back(std::move(o));
    cfg_.outer.push_back(a);
}

void Nat::remove_address(std::uint32_t a) {
    if (find_outer(a) == nullptr) return;
    // Its flows go in key order (slot order is no order at all).
    std::vector<std::uint32_t> gone;
    for (std::uint32_t id = 0; id < flow_slots_.size(); ++id)
        if (deadlines_.contains(id) && flow_slots_[id].flow.outer_ip == a) gone.push_back(id);
    std::sort(gone.begin(), gone.end(), key_order());
    for (std::uint32_t id : gone) erase_flow(id);
    // Hosts whose block was there lose it: their next flow gets a new block elsewhere.
    for (auto it = blocks_.begin(); it != blocks_.end();) {
        auto& v = it->second;
        v.erase(std::remove_if(v.begin(), v.end(), [a](const Block& b) { return b.outer_ip == a; }), v.end());
        it = v.empty() ? blocks_.erase(it) : std::next(it);
    }
    outer_.erase(std::remove_if(outer_.begin(), outer_.end(), [a](const Outer& o) { return o.ip == a; }), outer_.end());
    cfg_.outer.erase(std::remove(cfg_.outer.begin(), cfg_.outer.end(), a), cfg_.outer.end());
}

void Nat::expire(SimTime now) {
    // An entry lives while now < deadline; at the deadline its outer port is free again.
    // Entries go in (deadline, FlowKey) order.
    for (std::uint32_t id; (id = deadlines_.pop_due(now, key_order())) != DeadlineQueue::kNone;) erase_flow(id);
}

SimTime Nat::next_expiry() const { return deadlines_.next(key_order()); }

NatCounts Nat::counts() const { return counts_; }

std::size_t Nat::ports_in_use(std::uint32_t outer) const {
    const Outer* o = find_outer(outer);
    return o == nullptr ? 0 : o->distinct;
}

std::uint64_t Nat::capacity_ports() const {
    if (cfg_.port_hi < cfg_.port_lo) return 0;
    return outer_.size() * (static_cast<std::uint64_t>(cfg_.port_hi - cfg_.port_lo) + 1);
}

std::optional<tcp::SockAddr> Nat::outer_of(tcp::SockAddr inner, tcp::SockAddr remote) const {
    const std::uint32_t id = find_flow(FlowKey{inner, remote});
    if (id == kNoFlow) return std::nullopt;
    return tcp::SockAddr{flow_slots_[id].flow.outer_ip, flow_slots_[id].flow.outer_port};
}

std::optional<NatEntryState> Nat::state_of(tcp::SockAddr inner, tcp::SockAddr remote) const {
    const std::uint32_t id = find_flow(FlowKey{inner, remote});
    if (id == kNoFlow) return std::nullopt;
    return flow_slots_[id].flow.state;
}

}  // namespace tcpsim::net
