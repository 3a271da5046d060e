#include "host/ports.hpp"

#include "tcp/isn.hpp"

#include <algorithm>

namespace tcpsim::host {

PortTable::PortTable(PortPolicy policy, std::uint64_t seed)
    : policy_(std::move(policy)), rng_(Rng::substream(seed, "ports")) {
    Rng keys = Rng::substream(seed, "ports-secret");
    key0_ = keys.next_u64();
    key1_ = keys.next_u64();
    // table_perturb[] is random at boot (net/ipv4/inet_hashtables.c: get_random_bytes()).
    perturb_.resize(1u << 16);
    for (auto& v : perturb_) v = static_cast<std::uint16_t>(keys.next_u32());
}

std::uint64_t PortTable::port_hash(SimTime now, std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport) const {
    // secure_ipv4_port_ephemeral(): siphash(saddr, daddr, dport, jiffies / (10 * HZ)) with a
    // boot-time secret; the time term re-randomises the walk every 10 seconds (2022 change).
    const auto epoch = static_cast<std::uint32_t>(now.ns() / 10'000'000'000LL);
    PortHashMemo& m = port_hash_memo_;
    if (m.valid && m.saddr == saddr && m.daddr == daddr && m.dport == dport && m.epoch == epoch) return m.value;
    std::uint8_t buf[14];
    auto put = [&](std::size_t at, std::uint32_t v, int n) {
        for (int i = 0; i < n; ++i) buf[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    put(0, saddr, 4);
    put(4, daddr, 4);
    put(8, dport, 2);
    put(10, epoch, 4);
    m = PortHashMemo{true, saddr, daddr, epoch, dport, tcp::siphash24(key0_, key1_, buf, sizeof buf)};
    return m.value;
}

bool PortTable::conflict(const Bucket& b, const PortOwner& o, bool relax) const {
    for (const PortOwner& t : b.owners) {
        if (t.id == o.id) continue;
        const bool overlap = o.addr == 0 || t.addr == 0 || o.addr == t.addr;
        if (!overlap) continue;
        if (policy_.bind_rule == BindRule::Windows) {
            if (o.reuseaddr) continue;
            return true;
        }
        if (policy_.bind_rule == BindRule::Bsd) {
            // FreeBSD in_pcbbind_setup(): with SO_REUSEADDR wildcard matches are not looked up;
            // only an identical, listening (laddr, lport) still conflicts, unless SO_REUSEPORT
            // is on both.
            if (o.reuseport && t.reuseport) continue;
            if (o.reuseaddr && (!t.listening || o.addr != t.addr)) continue;
            return true;
        }
        // Linux inet_bind_conflict(): (a) SO_REUSEADDR on both and the other not listening
        // (only when relaxed: bind(0) never shares), (b) SO_REUSEPORT on both (a TIME-WAIT or
        // the same user: one user here).
        const bool a = relax && o.reuseaddr && t.reuseaddr && !t.listening;
        const bool p = relax && o.reuseport && t.reuseport;
        if (!a && !p) return true;
    }
    return false;
}

Errno PortTable::bind_port(const PortOwner& o, std::uint16_t port) {
    const Bucket& b = buckets_[port];
    if (b.exists && conflict(b, o, true)) return Errno::AddrInUse;
    add_owner(port, o, false);
    return Errno::Ok;
}

Errno PortTable::bind_any(const PortOwner& o, std::uint16_t& port) {
    // Linux inet_csk_find_open_port(): the parity opposite to lo's first (connect() favours
    // lo's), each parity from a random offset; with SO_REUSEADDR the lower half of the range
    // first, then the upper half; with ip_autobind_reuse a second round with relaxed checks.
    // BSD: the same probe as connect() but against bind conflicts.
    std::uint32_t low = policy_.lo, high = static_cast<std::uint32_t>(policy_.hi) + 1;
    if (high <= low) return Errno::AddrInUse;
    auto free_port = [&](std::uint32_t p, bool relax) {
        const auto pp = static_cast<std::uint16_t>(p);
        if (policy_.reserved.count(pp)) return false;
        const Bucket& b = buckets_[pp];
        if (policy_.autobind_port_per_host) return !b.exists;  // XNU: no PCB may hold it
        return !b.exists || !conflict(b, o, relax);
    };
    if (policy_.connect_algo == ConnectPortAlgo::Sequential) {
        // XNU in_pcbbind() with lport 0: the connect() cursor; with autobind_port_per_host a
        // port any PCB holds is passed over (the wildcard lookup), otherwise the bind rules.
        // "completely used?": EADDRNOTAVAIL, as for connect().
        if (!sequential_walk(low, high, [&](std::uint32_t p) { return free_port(p, false); }, port))
            return Errno::AddrNotAvail;
        add_owner(port, o, false);
        return Errno::Ok;
    }
    if (policy_.connect_algo == ConnectPortAlgo::RandomStart) {
        const std::uint32_t count = high - low;
        const std::uint32_t start = static_cast<std::uint32_t>(rng_.below(count));
        for (std::uint32_t i = 0; i < count; ++i) {
            const std::uint32_t p = low + (start + i) % count;
            if (free_port(p, false)) {
                port = static_cast<std::uint16_t>(p);
                add_owner(port, o, false);
                return Errno::Ok;
            }
        }
        return Errno::AddrInUse;
    }
    const std::uint32_t full_low = low, full_high = high;
    int attempt_half = (o.reuseaddr && high - low >= 4) ? 1 : 0;
    for (bool relax : {false, true}) {
        if (relax && !policy_.autobind_reuse) break;
        attempt_half = (o.reuseaddr && full_high - full_low >= 4) ? 1 : 0;
        for (;;) {
            low = full_low;
            high = full_high;
            if (attempt_half) {
                const std::uint32_t half = low + (((high - low) >> 2) << 1);
                if (attempt_half == 1) high = half;
                else low = half;
            }
            std::uint32_t remaining = high - low;
            if (remaining > 1) remaining &= ~1u;
            std::uint32_t offset = static_cast<std::uint32_t>(rng_.below(remaining)) | 1u;
            for (int pass = 0; pass < 2; ++pass) {
                std::uint32_t p = low + offset;
                for (std::uint32_t i = 0; i < remaining; i += 2, p += 2) {
                    if (p >= high) p -= remaining;
                    if (free_port(p, relax)) {
                        port = static_cast<std::uint16_t>(p);
                        add_owner(port, o, false);
                        return Errno::Ok;
                    }
                }
                --offset;  // the other parity
                if (offset & 1) break;
            }
            if (attempt_half == 1) {
                attempt_half = 2;  // "OK we now try the upper half of the range"
                continue;
            }
            break;
        }
    }
    return Errno::AddrInUse;
}

void PortTable::add_owner(std::uint16_t port, const PortOwner& o, bool by_connect) {
    Bucket& b = buckets_[port];
    // A bucket created by bind() is closed to connect() (fastreuse >= 0) for as long as it exists.
    if (!b.exists) {
        b.exists = true;
        b.connect_owned = by_connect;
        ++used_;
    } else if (!by_connect) {
        b.connect_owned = false;
    }
    position(o.id) = static_cast<std::uint32_t>(b.owners.size());
    b.owners.push_back(o);
}

void PortTable::remove_owner(std::uint16_t port, OwnerId id) {
    Bucket& b = buckets_[port];
    if (!b.exists) return;
    auto& v = b.owners;
    std::uint32_t& pos = position(id);
    if (pos < v.size() && v[pos].id == id) {
        // The last owner takes its place.
        const std::uint32_t at = pos;
        pos = kNoPosition;
        if (at + 1 != v.size()) {
            v[at] = v.back();
            position(v[at].id) = at;
        }
        v.pop_back();
    } else {
        // Not where the position says (an id added twice): the slow way, every copy goes.
        v.erase(std::remove_if(v.begin(), v.end(), [&](const PortOwner& t) { return t.id == id; }), v.end());
        for (std::uint32_t i = 0; i < v.size(); ++i) position(v[i].id) = i;
    }
    if (v.empty()) {  // the bucket goes with its last owner
        b.exists = false;
        --used_;
    }
}

void PortTable::transfer_owner(std::uint16_t port, OwnerId from, const PortOwner& to, bool by_connect) {
    Bucket& b = buckets_[port];
    const std::uint32_t at = position(from);
    if (!b.exists || at >= b.owners.size() || b.owners[at].id != from) {  // not where expected: the two steps
        remove_owner(port, from);
        add_owner(port, to, by_connect);
        return;
    }
    // The bucket as remove-then-add leaves it: recreated (its mode from this owner) when
    // `from` was its only owner, else closed to connect() by a bind()-made owner.
    if (b.owners.size() == 1) b.connect_owned = by_connect;
    else if (!by_connect) b.connect_owned = false;
    b.owners[at] = to;
    position(from) = kNoPosition;
    position(to.id) = at;
}

}  // namespace tcpsim::host
