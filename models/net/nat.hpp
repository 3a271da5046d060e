// A NAT gateway's translation table (conntrack-like): TCP flows from inner hosts are given an
// outer (public) address and port, inbound segments are translated back, and entries live until
// an idle timeout that depends on the flow's state. A pure model: no I/O, no clock, no scheduling;
// the caller passes `now` and delivers what comes back (DESIGN.md §3 "sans-IO", §4 "NAT").
//
// Sources for the behaviours, cited again where each is implemented:
// - Mapping and filtering: RFC 4787 §4.1 (endpoint-independent, address-dependent,
//   address-and-port-dependent mapping), §5 (filtering of the same three kinds); RFC 5382 §4
//   (the same for TCP). Port overloading to different destinations: RFC 4787 §4.2.1.
// - TCP timeouts: RFC 5382 §5 / RFC 7857 §2.1 (established idle >= 2 h 4 min = 7440 s, transitory
//   >= 4 min); Linux nf_conntrack (Documentation/networking/nf_conntrack-sysctl.rst: established
//   432000 s = 5 days, time_wait 120 s, syn_sent 120 s, close 10 s); Google Cloud NAT (established
//   1200 s, transitory 30 s, time_wait 120 s); Azure NAT gateway (FIN 65 s, RST 16 s, half-open
//   30 s); reference/capacity-cases.md §B cases 7-15.
// - Port reservation: Google Cloud NAT static "minimum ports per VM" blocks (64 by default):
//   floor(64512 / 64) = 1008 VMs per address (capacity-cases.md case 15).
// - Per-destination concurrency: AWS NAT gateway 55,000 simultaneous connections per address to
//   each unique destination (dst IP, dst port, protocol) (case 8); Azure NAT gateway 50,000 (13).
// - Address packing: Azure Load Balancer uses its frontend addresses one at a time (`fill_first`,
//   case 9); Linux MASQUERADE and Cloud NAT keep a host on one address (hash of the inner address).
#pragma once

#include "host/tuple_index.hpp"
#include "net/deadline_queue.hpp"
#include "tcp/segment.hpp"

#include <tcpsim/rng.hpp>
#include <tcpsim/time.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace tcpsim::net {

// RFC 4787 §4.1: what a mapping (and so an outer port) is shared by. Filtering of inbound
// segments follows the same kind (RFC 4787 §5): EIM lets any remote reach a mapping, ADM only
// the remote address the flow went to, APDM only that remote address and port.
enum class NatMapping : std::uint8_t { EndpointIndependent, AddressDependent, AddressAndPortDependent };
// How an outer port is picked for a new mapping.
enum class NatAssign : std::uint8_t {
    Preserve,    // the inner port when free (RFC 4787 §4.2.1 "port preservation"), else Sequential
    Sequential,  // the next free port after the last one given on that outer address, wrapping
    Random,      // uniform draws from the run's seeded PRNG, then a scan from the last draw
    Blocks,      // Cloud NAT static allocation: each inner address owns one block of ports_per_host
};
enum class NatOnExhaustion : std::uint8_t { Drop, Reset };
enum class NatEntryState : std::uint8_t { Transitory, Established, TimeWait };

std::string_view to_string(NatMapping m);
std::string_view to_string(NatAssign a);
std::string_view to_string(NatEntryState s);

struct NatConfig {
    std::vector<std::uint32_t> outer;                 // pool of outer (public) addresses, in order
    std::uint16_t port_lo = 1024, port_hi = 65535;    // inclusive port range on each outer address
    NatMapping mapping = NatMapping::AddressAndPortDependent;
    NatAssign assign = NatAssign::Random;
    std::uint32_t ports_per_host = 64;                // Blocks: each inner address gets one block of this many
    // Blocks with Cloud NAT dynamic port allocation: 0 (static), else the most ports an inner
    // address may hold; when its blocks are full it gets as many again (doubling), up to this.
    std::uint32_t max_ports_per_host = 0;
    bool fill_first = false;                          // next outer address only when the earlier ones are full (Azure LB)
    // Each new mapping starts at the next outer address in pool order, whoever the inner host is
    // (a full-NAT balancer's local addresses: DPVS src/ipvs/ip_vs_laddr.c __get_laddr(), the next
    // laddr per new connection, then the next while one has no port). Not with blocks.
    bool round_robin = false;
    Duration established_timeout = Duration::s(7440); // RFC 5382 REQ-5: idle timeout of an established flow
    Duration transitory_timeout = Duration::s(30);    // SYN not yet established, one FIN only, or after RST
    Duration time_wait_timeout = Duration::s(120);    // FIN seen both ways (conntrack TIME_WAIT)
    std::uint32_t per_destination_cap = 0;            // 0: none; else live entries per (outer ip, dst ip, dst port)
    NatOnExhaustion on_exhaustion = NatOnExhaustion::Drop;
};

struct NatCounts {
    std::uint64_t transitory = 0, established = 0, time_wait = 0;
    [[nodiscard]] std::uint64_t total() const { return transitory + established + time_wait; }
};

class Nat {
public:
    Nat(NatConfig cfg, std::uint64_t seed);

    // A segment from an inner host toward the outside. Forward: `seg` is the translated segment
    // (src rewritten). Drop: a SYN refused on exhaustion (Drop mode), or a non-SYN without an
    // entry. Reset: a SYN refused on exhaustion (Reset mode); `seg` is the RST|ACK to hand back to
    // the inner host (RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>).
    struct Outbound {
        enum class Kind : std::uint8_t { Forward, Drop, Reset } kind;
        tcp::Segment seg;
        bool exhausted = false;  // a SYN refused for lack of a port (Drop or Reset)
    };
    Outbound outbound(SimTime now, const tcp::Segment& seg);
    // A segment arriving at an outer address: translated (dst rewritten to the inner endpoint), or
    // nullopt when no mapping accepts it under the filtering of the mapping mode.
    std::optional<tcp::Segment> inbound(SimTime now, const tcp::Segment& seg);

    void add_address(std::uint32_t a);     // appended to the pool (no-op when present)
    void remove_address(std::uint32_t a);  // its entries, mappings and port blocks are dropped
    // Drops entries whose deadline has come (an entry lives while now < deadline). Also done
    // lazily at the start of outbound() and inbound().
    void expire(SimTime now);
    [[nodiscard]] SimTime next_expiry() const;  // earliest deadline of a live entry; never() if none
    [[nodiscard]] NatCounts counts() const;     // live entries by state (call expire(now) first)
    [[nodiscard]] std::uint64_t exhaustion_drops() const { return exhaustion_drops_; }
    [[nodiscard]] std::size_t ports_in_use(std::uint32_t outer) const;  // distinct ports with a mapping
    [[nodiscard]] std::uint64_t capacity_ports() const;                 // addresses x ports in range
    [[nodiscard]] const NatConfig& config() const { return cfg_; }
    // Why the last SYN was refused, e.g. "all 64 ports of 10.0.0.5's block (198.51.100.1:1024-1087)
    // hold a mapping to 203.0.113.9:443 (12 established, 52 time-wait)". Empty before any.
    [[nodiscard]] const std::string& last_exhaustion_reason() const { return last_reason_; }
    [[nodiscard]] SimTime last_exhaustion_time() const { return last_exhaustion_at_; }

    // Introspection for reports and tests.
    [[nodiscard]] std::size_t entries() const { return flow_index_.size(); }
    [[nodiscard]] std::size_t mappings() const { return map_index_.size(); }
    // The outer endpoint of the live entry for this inner 4-tuple, if any.
    [[nodiscard]] std::optional<tcp::SockAddr> outer_of(tcp::SockAddr inner, tcp::SockAddr remote) const;
    [[nodiscard]] std::optional<NatEntryState> state_of(tcp::SockAddr inner, tcp::SockAddr remote) const;
    // Blocks: the number of blocks each outer address holds, and how many inner hosts have one.
    [[nodiscard]] std::uint32_t blocks_per_address() const;
    [[nodiscard]] std::size_t hosts_with_block() const { return blocks_.size(); }
    [[nodiscard]] bool has_block(std::uint32_t inner) const { return blocks_.count(inner) > 0; }
    [[nodiscard]] std::uint32_t blocks_given(std::uint32_t outer) const;  // blocks assigned on that address
    [[nodiscard]] std::size_t blocks_of(std::uint32_t inner) const {
        const auto it = blocks_.find(inner);
        return it == blocks_.end() ? 0 : it->second.size();
    }

private:
    // What a mapping is shared by (RFC 4787 §4.1): nothing (EIM), the remote address (ADM), the
    // remote address and port (APDM). An outer port is held by at most one mapping per scope.
    struct Scope {
        std::uint32_t ip = 0;
        std::uint16_t port = 0;
        auto operator<=>(const Scope&) const = default;
    };
    struct FlowKey {
        tcp::SockAddr inner;
        tcp::SockAddr remote;
        auto operator<=>(const FlowKey&) const = default;
    };
    struct MapKey {
        tcp::SockAddr inner;
        Scope scope;
        auto operator<=>(const MapKey&) const = default;
    };
    struct Mapping {
        std::uint32_t outer_ip = 0;
        std::uint16_t outer_port = 0;
        std::uint32_t flows = 0;  // entries using it
    };
    // A mapping's slot: its key and what it maps to. Its owner key (outer ip, scope, outer port)
    // says which mapping holds an outer port for a scope.
    struct MapSlot {
        MapKey key;
        Mapping mapping;
    };
    struct Flow {
        std::uint32_t outer_ip = 0;
        std::uint16_t outer_port = 0;
        NatEntryState state = NatEntryState::Transitory;
        bool synack_in = false;  // SYN,ACK seen from outside
        bool fin_out = false, fin_in = false, rst = false;
    };
    // Entries by state, and (for the "why") ports held, per some key.
    struct Tally {
        std::array<std::uint64_t, 3> by_state{};
        std::uint64_t ports = 0;
        [[nodiscard]] std::uint64_t entries() const { return by_state[0] + by_state[1] + by_state[2]; }
    };
    // The used ports of one busy scope as a bitmap with a summary of full words, so that finding a
    // free port stays cheap when the scope is nearly full (looking ports up one by one would take as
    // long as the run of used ports, and fallback scans make such runs grow, as linear probing does).
    // Held by value (empty until a scope gets busy) so that a Nat stays copyable.
    struct PortBits {
        std::vector<std::uint64_t> word;  // 1024 words: one bit per port
        std::vector<std::uint64_t> full;  // 16 words: bit i set when word[i] has all 64 bits set
        [[nodiscard]] bool active() const { return !word.empty(); }
        void activate() { word.assign(1024, 0); full.assign(16, 0); }
        void set(std::uint16_t p);
        void clear(std::uint16_t p);
        [[nodiscard]] std::optional<std::uint16_t> next_free(std::uint32_t from, std::uint32_t to) const;
    };
    // Bitmaps are kept only for scopes this busy over ranges this wide; below, the run is short.
    static constexpr std::uint64_t kBitsAt = 256;
    struct ScopeStat : Tally {
        PortBits bits;
    };
    // (outer ip, block, scope): ports of one scope on one address (one block of it under Blocks).
    using ScopeStatKey = std::tuple<std::uint32_t, std::uint32_t, Scope>;
    // (outer ip, dst ip, dst port): the per-destination cap's count (AWS: per unique destination).
    using DestKey = std::tuple<std::uint32_t, std::uint32_t, std::uint16_t>;
    struct Outer {
        std::uint32_t ip = 0;
        std::vector<std::uint32_t> port_refs;  // mappings per port, all scopes
        std::size_t distinct = 0;              // ports with port_refs > 0
        std::uint16_t cursor = 0;              // Sequential: the last port given
        std::uint32_t blocks_given = 0;        // Blocks: blocks assigned, in order
    };
    struct Block {
        std::uint32_t outer_ip = 0;
        std::uint32_t index = 0;  // block number on that address
        std::uint16_t cursor = 0; // last port given inside the block
    };
    // Why one outer address could not take the flow (for the reason text).
    struct Refusal {
        std::uint32_t outer_ip = 0;
        bool at_cap = false;  // else: every port of the scope (or block) is held
        std::uint64_t ports = 0;
        std::array<std::uint64_t, 3> by_state{};
    };

    // A flow's slot: its key and its entry. The deadline is kept by deadlines_.
    struct FlowSlot {
        FlowKey key;
        Flow flow;
    };
    static host::FourTuple tuple_of(const FlowKey& k) { return {k.inner.ip, k.remote.ip, k.inner.port, k.remote.port}; }
    static host::FourTuple tuple_of(const MapKey& k) { return {k.inner.ip, k.scope.ip, k.inner.port, k.scope.port}; }
    static host::FourTuple owner_tuple(std::uint32_t outer_ip, Scope s, std::uint16_t port) {
        return {outer_ip, s.ip, port, s.port};
    }

    [[nodiscard]] Scope scope_of(tcp::SockAddr remote) const;
    [[nodiscard]] Duration timeout(NatEntryState s) const;
    [[nodiscard]] std::uint32_t block_id(std::uint16_t port) const;
    Outer* find_outer(std::uint32_t ip);
    [[nodiscard]] const Outer* find_outer(std::uint32_t ip) const;
    [[nodiscard]] std::uint64_t dest_entries(std::uint32_t outer_ip, tcp::SockAddr remote) const;
    [[nodiscard]] bool port_free(std::uint32_t outer_ip, Scope s, std::uint16_t port) const;
    // First free port of the scope in [lo, hi], searching from `start` upward and wrapping.
    [[nodiscard]] std::optional<std::uint16_t> first_free(std::uint32_t outer_ip, Scope s, const PortBits* bits,
                                                          std::uint16_t lo, std::uint16_t hi, std::uint16_t start) const;
    std::optional<std::uint16_t> pick_port(Outer& o, Scope s, std::uint16_t inner_port, std::uint16_t lo,
                                           std::uint16_t hi, std::uint16_t& cursor);
    // Index of the first outer address to try for this inner host; the others follow in pool order.
    [[nodiscard]] std::size_t first_address(std::uint32_t inner_ip) const;
    // Makes (or reuses) the mapping for a new flow; false on exhaustion (reason set). `out` stays
    // valid until the next mapping is made.
    bool map_flow(SimTime now, const FlowKey& k, Mapping*& out);
    // The id of the mapping with this key, or of the one holding this outer port for this scope;
    // kNoMapping when there is none.
    static constexpr std::uint32_t kNoMapping = host::TupleIndex::kNone;
    [[nodiscard]] std::uint32_t find_mapping(const MapKey& k) const;
    [[nodiscard]] std::uint32_t find_owner(std::uint32_t outer_ip, Scope s, std::uint16_t port) const;
    [[nodiscard]] auto map_tuple() const {
        return [this](std::uint32_t id) { return tuple_of(map_slots_[id].key); };
    }
    [[nodiscard]] auto owner_of() const {
        return [this](std::uint32_t id) {
            const MapSlot& m = map_slots_[id];
            return owner_tuple(m.mapping.outer_ip, m.key.scope, m.mapping.outer_port);
        };
    }
    void refuse(SimTime now, std::string why);
    void set_state(const FlowKey& k, Flow& f, NatEntryState s);
    // The id of the flow with this key, or kNoFlow.
    static constexpr std::uint32_t kNoFlow = host::TupleIndex::kNone;
    [[nodiscard]] std::uint32_t find_flow(const FlowKey& k) const;
    // The index's key of a flow id, and the order of flow ids with equal deadlines.
    [[nodiscard]] auto flow_tuple() const {
        return [this](std::uint32_t id) { return tuple_of(flow_slots_[id].key); };
    }
    [[nodiscard]] auto key_order() const {
        return [this](std::uint32_t a, std::uint32_t b) { return flow_slots_[a].key < flow_slots_[b].key; };
    }
    std::uint32_t add_flow(const FlowKey& k, const Flow& f);
    void touch(SimTime now, std::uint32_t id);
    void track(SimTime now, std::uint32_t id, const tcp::Segment& seg, bool from_inside);
    void erase_flow(std::uint32_t id);
    // The gateway-wide count of entries in state s moves by d (modular: 1 or ~0 for -1).
    void count_in(NatEntryState s, std::uint64_t d);
    void tally_add(const FlowKey& k, const Flow& f, NatEntryState s, std::int64_t delta);
    // One live flow's entry changes state from `from` to `to` (from != to).
    void tally_move(const FlowKey& k, const Flow& f, NatEntryState from, NatEntryState to);
    [[nodiscard]] std::string describe(const std::vector<Refusal>& r, tcp::SockAddr inner, tcp::SockAddr remote) const;

    NatConfig cfg_;
    Rng port_rng_;
    std::uint64_t addr_key_;  // keys the inner-address hash that picks an outer address
    std::size_t next_address_ = 0;  // round_robin: the outer address the next new mapping tries first
    std::vector<Outer> outer_;
    // The flows: slots by id (ids of erased flows are reused), found by key through an
    // open-addressing index, as the host's socket table does (DESIGN.md §6).
    std::vector<FlowSlot> flow_slots_;
    std::vector<std::uint32_t> free_flows_;
    host::TupleIndex flow_index_;
    // The mappings: slots by id (reused), found by key and by owner through two indexes.
    std::vector<MapSlot> map_slots_;
    std::vector<std::uint32_t> free_maps_;
    host::TupleIndex map_index_;
    host::TupleIndex owner_index_;
    // Flow ids by (deadline, FlowKey): entries expire in that order. Mutable: next_expiry()
    // puts records that came up early back at their deadlines, which changes no deadline.
    mutable DeadlineQueue deadlines_;
    std::map<ScopeStatKey, ScopeStat> scope_stats_;
    std::map<DestKey, Tally> dest_stats_;
    std::map<std::uint32_t, std::vector<Block>> blocks_;  // inner address -> its blocks (one unless dynamic)
    // Gives the inner address one more block on the first address with one left; false if none.
    bool give_block(std::vector<Block>& blocks);
    NatCounts counts_;
    std::uint64_t exhaustion_drops_ = 0;
    std::string last_reason_;
    SimTime last_exhaustion_at_ = SimTime::never();
};

}  // namespace tcpsim::net
