// Local ports: bind buckets with their owners' flags, the bind() conflict rules, and the
// ephemeral-port selection of connect() and bind(0), per profile. Spec:
// reference/tcp-stack-semantics.md §2.4 (Linux __inet_hash_connect), §2.6 (inet_csk_get_port,
// inet_csk_find_open_port, inet_bind_conflict), §3 (FreeBSD in_pcb_lport_dest), §6 (RFC 6056).
#pragma once

#include <tcpsim/errno.hpp>
#include <tcpsim/rng.hpp>
#include <tcpsim/time.hpp>

#include <array>
#include <bit>
#include <type_traits>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace tcpsim::host {

enum class ConnectPortAlgo : std::uint8_t {
    // RFC 6056 algorithm 4 as Linux 5.12+ implements it: a keyed hash of (saddr, daddr, dport,
    // 10-second epoch) picks an offset, a 2^16-entry perturbation table moves it on; ports of the
    // range start's parity first (step 2), the other parity in a second pass.
    LinuxDoubleHash,
    // RFC 6056 algorithm 3 (Linux 4.6-5.11): hash offset plus one global counter, same parity split.
    LinuxHash,
    // RFC 6056 algorithm 1 (FreeBSD in_pcb_lport_dest(); XNU in_pcbbind() with
    // net.inet.tcp.randomize_ports=1): a random start on every call, then a linear probe.
    RandomStart,
    // XNU in_pcbbind() (bsd/netinet/in_pcb.c) with net.inet.tcp.randomize_ports=0, its default
    // (tcp_subr.c tcp_use_randomport = 0): one cursor per host (pcbinfo->ipi_lastport, zero at
    // boot) moves on by one before each try ("++*lastport"), wrapping to the first port; connect()
    // and bind(0) share it. RFC 6056 calls this the traditional BSD allocation (its section 2.2).
    Sequential,
};

enum class BindRule : std::uint8_t {
    Linux,  // both sockets need SO_REUSEADDR (and the old one must not listen); TIME-WAIT inherits it
    Bsd,    // SO_REUSEADDR on the new socket alone lets it share with non-listening owners
    // Windows (learn.microsoft.com "Using SO_REUSEADDR and SO_EXCLUSIVEADDRUSE"): SO_REUSEADDR
    // lets a socket "forcibly bind to a port in use by another socket", a listener included,
    // unless that socket set SO_EXCLUSIVEADDRUSE (not modelled: no owner is exclusive); without
    // it, any owner on an overlapping address conflicts.
    Windows,
};

struct PortPolicy {
    ConnectPortAlgo connect_algo = ConnectPortAlgo::LinuxDoubleHash;
    BindRule bind_rule = BindRule::Linux;
    std::uint16_t lo = 32768;  // ip_local_port_range
    std::uint16_t hi = 60999;
    std::set<std::uint16_t> reserved;  // ip_local_reserved_ports (skipped by both autobind paths)
    bool autobind_reuse = false;       // ip_autobind_reuse
    // XNU in_pcbbind() with lport 0 (connect()'s implicit bind and bind(0)): a candidate is taken
    // only when in_pcblookup_local(..., INPLOOKUP_WILDCARD) finds no PCB at all with that local
    // port, whatever its remote end; "REUSEADDR|REUSEPORT don't apply". A port then serves one
    // connection at a time (TIME-WAIT included), not one per destination as on Linux and FreeBSD.
    bool autobind_port_per_host = false;
};

using OwnerId = std::uint32_t;

// connect()'s port walk without a hint: every candidate is checked.
struct NoSkip {
    static constexpr bool kEnabled = false;
    std::uint64_t operator()(std::uint32_t /*word*/) const { return 0; }
};

// One owner of a port: a bound socket, a listener, or a TIME-WAIT entry.
struct PortOwner {
    OwnerId id = 0;
    std::uint32_t addr = 0;  // 0: INADDR_ANY
    bool reuseaddr = false;
    bool reuseport = false;
    bool listening = false;
    bool time_wait = false;
};

// What the 4-tuple check says about a candidate port for connect().
enum class TupleCheck : std::uint8_t {
    Free,         // no connection uses this 4-tuple
    ReuseTimeWait,  // only a TIME-WAIT entry that may be taken over (tcp_twsk_unique)
    Busy,         // in use
};

class PortTable {
public:
    PortTable(PortPolicy policy, std::uint64_t seed);

    [[nodiscard]] const PortPolicy& policy() const { return policy_; }
    void set_policy(const PortPolicy& p) { policy_ = p; }

    // bind() with an explicit port: EADDRINUSE on a conflict (relaxed rules of §2.6).
    Errno bind_port(const PortOwner& o, std::uint16_t port);
    // bind(addr, 0): the port inet_csk_find_open_port() would pick, or EADDRINUSE.
    Errno bind_any(const PortOwner& o, std::uint16_t& port);
    // connect() autobind: the first port whose 4-tuple check passes, per the algorithm; the
    // chosen port is owned by `o` (a connect-owned bucket). EADDRNOTAVAIL when none.
    // `socket_range` (IP_LOCAL_PORT_RANGE, Linux 6.3+): each non-zero bound that lies inside the
    // netns range narrows it, and then the walk steps by 1 instead of 2 (6.8+, 207184853dbd).
    // `skip(w)` (optional) gives a bit per port of ports [64w, 64w + 64) that `check` would
    // certainly call Busy: the Linux walk passes over them a word at a time, with the same
    // result and the same allocator state as checking each.
    template <class Check, class Skip = NoSkip>
    Errno connect_port(SimTime now, const PortOwner& o, std::uint32_t daddr, std::uint16_t dport, Check&& check,
                       std::uint16_t& port, bool& reuse_time_wait,
                       std::pair<std::uint16_t, std::uint16_t> socket_range = {0, 0}, bool known_full = false,
                       Skip&& skip = Skip{});

    void add_owner(std::uint16_t port, const PortOwner& o, bool by_connect);
    void remove_owner(std::uint16_t port, OwnerId id);
    // remove_owner(port, from) then add_owner(port, to, by_connect), with the same bucket as
    // the result, in one step: `to` takes `from`'s place (a socket becoming a TIME-WAIT entry).
    void transfer_owner(std::uint16_t port, OwnerId from, const PortOwner& to, bool by_connect);

    // What one owner costs: its entry in the bucket and its position record.
    [[nodiscard]] static constexpr std::size_t bytes_per_owner() { return sizeof(PortOwner) + sizeof(std::uint32_t); }
    [[nodiscard]] std::size_t bucket_count() const { return used_; }
    [[nodiscard]] bool in_use(std::uint16_t port) const { return buckets_[port].exists; }

private:
    struct Bucket {
        bool exists = false;
        bool connect_owned = true;  // Linux fastreuse == -1: created by connect(), open to it
        std::vector<PortOwner> owners;  // in no particular order (only conflict() reads them, all of them)
    };
    // Where each owner sits in its bucket's list (an owner owns one port), so that removing it
    // costs O(1) however many share the port: a server port holds every accepted connection and
    // every TIME-WAIT of the server side. Socket ids and TIME-WAIT slots (top bit set) apart.
    std::vector<std::uint32_t> socket_pos_, time_wait_pos_;
    std::uint32_t& position(OwnerId id) {
        auto& v = (id & 0x80000000u) ? time_wait_pos_ : socket_pos_;
        const std::size_t i = id & 0x7FFFFFFFu;
        if (i >= v.size()) v.resize(std::max<std::size_t>(i + 1, v.size() * 2), kNoPosition);
        return v[i];
    }
    static constexpr std::uint32_t kNoPosition = 0xFFFFFFFFu;
    [[nodiscard]] bool conflict(const Bucket& b, const PortOwner& o, bool relax) const;
    [[nodiscard]] std::uint64_t port_hash(SimTime now, std::uint32_t saddr, std::uint32_t daddr,
                                          std::uint16_t dport) const;
    // The last port_hash() input and its value: a client mostly connects to one destination, and
    // the input changes only every 10 s, so most connect() calls reuse it (a pure function: the
    // same value either way).
    struct PortHashMemo {
        bool valid = false;
        std::uint32_t saddr = 0, daddr = 0, epoch = 0;
        std::uint16_t dport = 0;
        std::uint64_t value = 0;
    };
    mutable PortHashMemo port_hash_memo_;

    PortPolicy policy_;
    std::vector<Bucket> buckets_ = std::vector<Bucket>(65536);  // indexed by port: O(1) like the bind hash
    std::size_t used_ = 0;
    Rng rng_;
    std::uint64_t key0_, key1_;
    std::vector<std::uint16_t> perturb_;  // Linux table_perturb[2^16]
    std::uint32_t hint_ = 0;              // Linux 4.6-5.11 global counter
    std::uint16_t last_port_ = 0;         // XNU pcbinfo->ipi_lastport (Sequential)
    // XNU's walk for connect() and bind(0): `free(p)` says whether port p may be taken.
    template <class Free>
    bool sequential_walk(std::uint32_t lo, std::uint32_t high, Free&& free, std::uint16_t& port);
};

// ------------------------------------------------------------------------------------------------

template <class Free>
bool PortTable::sequential_walk(std::uint32_t lo, std::uint32_t high, Free&& free, std::uint16_t& port) {
    // XNU in_pcbbind(), counting up: "count = last - first", then up to count + 1 tries of
    // "++*lastport; if (*lastport < first || *lastport > last) *lastport = first;"; EADDRNOTAVAIL
    // once "count-- < 0". A full walk brings the cursor back to where it started.
    const std::uint32_t count = high - lo;
    for (std::uint32_t i = 0; i < count; ++i) {
        std::uint32_t next = static_cast<std::uint32_t>(last_port_) + 1;
        if (next < lo || next >= high) next = lo;
        last_port_ = static_cast<std::uint16_t>(next);
        if (free(next)) {
            port = static_cast<std::uint16_t>(next);
            return true;
        }
    }
    return false;
}

template <class Check, class Skip>
Errno PortTable::connect_port(SimTime now, const PortOwner& o, std::uint32_t daddr, std::uint16_t dport,
                              Check&& check, std::uint16_t& port, bool& reuse_time_wait,
                              std::pair<std::uint16_t, std::uint16_t> socket_range, bool known_full, Skip&& skip) {
    std::uint32_t lo = policy_.lo, high = static_cast<std::uint32_t>(policy_.hi) + 1;
    // inet_sk_get_local_port_range(): a per-socket bound counts only inside the netns range.
    bool per_socket = false;
    if (socket_range.first != 0 && socket_range.first >= lo && socket_range.first < high) {
        lo = socket_range.first;
        per_socket = true;
    }
    if (socket_range.second != 0 && socket_range.second >= lo && socket_range.second < high) {
        high = static_cast<std::uint32_t>(socket_range.second) + 1;
        per_socket = true;
    }
    if (high <= lo) return Errno::AddrNotAvail;
    // Try one candidate; true when it can be used.
    auto try_port = [&](std::uint32_t p) {
        const auto pp = static_cast<std::uint16_t>(p);
        if (policy_.reserved.count(pp)) return false;
        const Bucket& b = buckets_[pp];
        // A port held by bind() users (explicit or bind(0)) is never taken by connect().
        if (b.exists && !b.connect_owned) return false;
        // XNU: a port any PCB holds is never taken, whatever the destination.
        if (b.exists && policy_.autobind_port_per_host) return false;
        const TupleCheck c = check(pp);
        if (c == TupleCheck::Busy) return false;
        reuse_time_wait = c == TupleCheck::ReuseTimeWait;
        port = pp;
        add_owner(pp, o, true);
        return true;
    };

    if (policy_.connect_algo == ConnectPortAlgo::Sequential) {
        if (known_full) return Errno::AddrNotAvail;  // a full walk leaves the cursor where it was
        std::uint16_t p = 0;
        if (!sequential_walk(lo, high, [&](std::uint32_t c) { return try_port(c); }, p)) return Errno::AddrNotAvail;
        return Errno::Ok;
    }
    if (policy_.connect_algo == ConnectPortAlgo::RandomStart) {
        // FreeBSD in_pcb_lport_dest(): first + random() % (last - first), then linear, wrapping.
        const std::uint32_t count = high - lo;
        const std::uint32_t start = static_cast<std::uint32_t>(rng_.below(count));
        if (known_full) return Errno::AddrNotAvail;
        for (std::uint32_t i = 0; i < count; ++i)
            if (try_port(lo + (start + i) % count)) return Errno::Ok;
        return Errno::AddrNotAvail;
    }

    // Linux __inet_hash_connect(): step 2 over the range's parity, then the other parity.
    const std::uint32_t step = per_socket ? 1 : 2;
    std::uint32_t remaining = high - lo;
    if (step == 2 && remaining > 1) remaining &= ~1u;
    if (known_full) return Errno::AddrNotAvail;  // the walk below has no side effect when it fails
    const std::uint64_t po = port_hash(now, o.addr, daddr, dport);
    std::uint32_t idx = 0;
    std::uint32_t offset = 0;
    if (policy_.connect_algo == ConnectPortAlgo::LinuxDoubleHash) {
        idx = static_cast<std::uint32_t>(po & 0xFFFF);
        offset = static_cast<std::uint32_t>((perturb_[idx] + (po >> 32)) % remaining);
    } else {
        offset = static_cast<std::uint32_t>((hint_ + (po >> 32)) % remaining);
    }
    if (step == 2) offset &= ~1u;
    for (int pass = 0; pass < 2; ++pass) {
        std::uint32_t p = lo + offset;
        for (std::uint32_t i = 0; i < remaining; i += step, p += step) {
            if (p >= high) p -= remaining;
            if constexpr (std::remove_cvref_t<Skip>::kEnabled) {
                // Candidates p, p + step, ... in this word that are certainly busy are passed over
                // together; i and p move alike, so the allocator's update below is unchanged.
                const std::uint32_t bit = p & 63;
                std::uint64_t open = ~skip(p >> 6) >> bit;
                if (step == 2) open &= 0x5555555555555555ull;
                if (!(open & 1)) {
                    std::uint32_t k = open ? static_cast<std::uint32_t>(std::countr_zero(open))
                                           : (64 - bit + step - 1) / step * step;
                    const std::uint32_t to_high = (high - p + step - 1) / step * step;  // where the walk wraps
                    if (k > to_high) k = to_high;
                    i += k - step;
                    p += k - step;
                    continue;
                }
            }
            if (try_port(p)) {
                // i = max(i, a random 0..7 times step); table_perturb[idx] += i + step (the 2022 change),
                // or for algorithm 3 "hint += i + 2".
                if (policy_.connect_algo == ConnectPortAlgo::LinuxDoubleHash) {
                    const std::uint32_t r = static_cast<std::uint32_t>(rng_.below(8)) * step;
                    perturb_[idx] = static_cast<std::uint16_t>(perturb_[idx] + std::max(i, r) + step);
                } else {
                    hint_ += i + step;
                }
                return Errno::Ok;
            }
        }
        if (step == 1) break;  // one pass covers every port
        ++offset;  // the other parity
        if (!(offset & 1) || remaining <= 1) break;
    }
    return Errno::AddrNotAvail;
}

}  // namespace tcpsim::host
