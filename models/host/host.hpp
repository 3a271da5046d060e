// A host's socket table: listeners, connected sockets demultiplexed by 4-tuple, children spawned
// by listeners, TIME-WAIT mini-sockets (Linux), and the local ports with their bind buckets.
// The syscall-like calls (sys_*) return what the modelled OS returns, errno included.
#pragma once

#include "host/mini_socket.hpp"
#include "host/ports.hpp"
#include "host/time_wait.hpp"
#include "host/time_wait_table.hpp"
#include "host/tuple_index.hpp"
#include "tcp/endpoint.hpp"

#include <tcpsim/chunked_vector.hpp>
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
    bool reuseaddr = false;    // SO_REUSEADDR
    bool reuseport = false;    // SO_REUSEPORT
    bool bind_no_port = false; // IP_BIND_ADDRESS_NO_PORT
    std::uint16_t port_range_lo = 0;  // IP_LOCAL_PORT_RANGE (0: the netns value)
    std::uint16_t port_range_hi = 0;
};

// How a host's stack behaves beyond the TCP endpoint (from its profile and sysctls).
struct StackConfig {
    PortPolicy ports;
    // TIME-WAIT kept as a Linux mini-socket (tcp_time_wait()); otherwise the endpoint stays in
    // TIME-WAIT as a full TCB with its 2*MSL timer.
    bool linux_minisock = false;
    LinuxTimeWaitParams linux_tw;
    int tw_reuse = 2;                     // net.ipv4.tcp_tw_reuse
    Duration tw_reuse_delay = Duration::ms(1000);  // net.ipv4.tcp_tw_reuse_delay (6.14+)
    // Before 6.14 there is no delay knob: reuse once the seconds clock has passed the second of
    // the last timestamp received (a 0 to 1 s wait).
    bool tw_reuse_seconds_clock = false;
    std::uint32_t max_tw_buckets = 262144;         // net.ipv4.tcp_max_tw_buckets
    // net.ipv4.tcp_abort_on_overflow: the final ACK of a handshake that finds the accept queue
    // full draws <SEQ=SEG.ACK><CTL=RST> and the request goes (1), or is dropped and the request
    // kept, its SYN,ACK still retransmitted (0) (tcp_check_req(): listen_overflow).
    bool abort_on_overflow = false;
    std::int64_t hz = 250;                // CONFIG_HZ: the timer wheel's tick
    // FreeBSD net.inet.tcp.nolocaltimewait (true in the current source): no TIME-WAIT at all when
    // the foreign address is one of the host's own (tcp_twstart(): in_localip(inp_faddr)).
    bool nolocaltimewait = false;
    // Linux <= 4.11 net.ipv4.tcp_tw_recycle (linux-4.9 profile): TIME-WAIT lasts 3.5 RTO when
    // timestamps were seen, and the last TSval of each peer address is remembered (tcp_metrics)
    // so that a SYN from that address within 60 s whose TSval is behind it, or that has none, is
    // dropped silently (tcp_conn_request() -> tcp_peer_is_proven(); reference §2.7).
    bool tw_recycle = false;
};

struct Socket {
    // The scenario's name for it ("client", "L", ...); a listener's child has none of its own:
    // it is "<listener>.<child_no>" (Host::socket_name()), made only when a trace needs it.
    std::string name;
    std::uint32_t child_no = 0;
    std::uint32_t bound_addr = 0;   // bind() address (0: any)
    std::uint16_t bound_port = 0;   // the local port this socket owns in the port table (0: none)
    bool explicit_port = false;     // the port came from bind(), not from connect()
    tcp::Endpoint ep;
    SocketOptions opt;
    SocketId listener = kNoSocket;  // the listener that spawned this child
    bool is_listener = false;
    std::uint32_t children_spawned = 0;
    std::uint32_t backlog = 4096;  // listener: listen()'s backlog (sk_max_ack_backlog)
    bool manual_accept = false;    // listener: connections wait for accept()
    bool accepted = false;         // child: handed to the application by accept()
    bool alive = true;  // false once the TCB is gone and the socket has been reaped
    std::uint64_t serial = 0;  // creation order on its host (slots are reused: ids are not)
    std::array<TimerId, tcp::kTimerKinds> timers{};
    // Its entry in the host's lookup tables: none, a connection under `tuple`, or a listener on
    // `listen_port`.
    enum class Registered : std::uint8_t { None, Connection, Listener } registered = Registered::None;
    std::uint16_t listen_port = 0;
    FourTuple tuple{};
};

// Where an arriving segment goes.
struct Demux {
    enum class Kind : std::uint8_t { Connection, TimeWait, Listener, None } kind = Kind::None;
    SocketId socket = 0xFFFFFFFFu;
    TimeWaitSock* tw = nullptr;
};

// Why the host's input dropped a segment in silence (Host::input(), host/host_input.hpp).
enum class InputDrop : std::uint8_t {
    TimeWait,     // a TIME-WAIT TCB kept its 4-tuple and said nothing (FreeBSD tcp_twcheck())
    AcceptQueue,  // a full accept queue (Linux tcp_conn_request(), tcp_check_req(): LISTENOVERFLOWS)
    TwRecycle,    // tcp_tw_recycle's per-peer timestamp check (PAWSPassiveRejected)
};

class Host {
public:
    Host(std::string name, std::uint32_t ip, const tcp::TcpConfig& cfg, StackConfig stack = {}, std::uint64_t seed = 1)
        : name_(std::move(name)), ip_(ip), cfg_(cfg), stack_(std::move(stack)), ports_(stack_.ports, seed),
          boot_offset_(Duration::ms(static_cast<std::int64_t>(Rng::substream(seed, "boot").below(1'000'000)))) {
        sync_fin_wait2_config();
    }

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] std::uint32_t ip() const { return ip_; }
    // Further addresses of the host; 127.0.0.0/8 is always the host's own (loopback).
    void add_address(std::uint32_t a) { extra_ips_.push_back(a); }
    // A connected route (Linux: the prefix route the kernel adds with an address, whose source is
    // the subnet's primary address). With routes, connect() without a bound address leaves from
    // the source of the longest prefix that holds the destination (fib_select_default /
    // fib_result_prefsrc), and a destination no route holds is ENETUNREACH (ip_route_connect());
    // without any, from the primary address. Addresses of the host itself go over loopback.
    void add_route(std::uint32_t net, int prefix, std::uint32_t src) { routes_.push_back(Route{net, prefix, src}); }
    // The source address of a connection to `dst` (0: no route).
    [[nodiscard]] std::uint32_t source_for(std::uint32_t dst) const;
    [[nodiscard]] bool owns(std::uint32_t a) const {
        if (a == ip_ || (a >> 24) == 127) return true;
        for (std::uint32_t x : extra_ips_)
            if (x == a) return true;
        return false;
    }
    [[nodiscard]] const tcp::TcpConfig& tcp_config() const { return cfg_; }
    // For sockets created from now on (a sysctl changed).
    void set_tcp_config(const tcp::TcpConfig& cfg) {
        cfg_ = cfg;
        sync_fin_wait2_config();
    }
    // The stack knobs a sysctl may change while the host runs (TIME-WAIT rules, the buckets'
    // limit, tcp_abort_on_overflow); the port policy is the allocator's and stays.
    void set_stack_knobs(const StackConfig& s) {
        stack_.linux_tw = s.linux_tw;
        stack_.max_tw_buckets = s.max_tw_buckets;
        stack_.abort_on_overflow = s.abort_on_overflow;
        stack_.tw_reuse = s.tw_reuse;
        stack_.tw_reuse_delay = s.tw_reuse_delay;
        sync_fin_wait2_config();
    }

    // A new socket in CLOSED state (not yet in any lookup table).
    SocketId create(std::string name, SocketOptions opt);
    // A child of `listener` for this SYN: a copy of the listener's endpoint (in LISTEN) that will
    // take the SYN, registered under the SYN's 4-tuple.
    SocketId spawn_child(SocketId listener, const tcp::Segment& syn);

    Socket& at(SocketId id) { return sockets_[id]; }
    [[nodiscard]] const Socket& at(SocketId id) const { return sockets_[id]; }
    [[nodiscard]] std::size_t size() const { return sockets_.size(); }
    // Slot reuse: a socket that is gone (reaped, or kept as a TIME-WAIT mini-socket) gives its
    // slot back with free_socket(), and create() takes the most recently freed one. Off unless
    // the runner turns it on; ids are then reused, serials never.
    void set_socket_reuse(bool on) { reuse_sockets_ = on; }
    [[nodiscard]] bool socket_reuse() const { return reuse_sockets_; }
    void free_socket(SocketId id) {
        if (reuse_sockets_ && !sockets_[id].alive && !sockets_[id].is_listener) free_sockets_.push_back(id);
    }
    [[nodiscard]] std::optional<SocketId> find_by_name(const std::string& name) const;
    // A socket's name: its own, or for a listener's child "<listener name>.<n>" (the n-th child).
    [[nodiscard]] std::string socket_name(SocketId id) const {
        const Socket& s = sockets_[id];
        if (s.child_no == 0) return s.name;
        return sockets_[s.listener].name + "." + std::to_string(s.child_no);
    }

    // Registration in the lookup tables (a listener under its port and bound address).
    void bind_listener(SocketId id, std::uint16_t port);
    // from_time_wait: t was a TIME-WAIT entry's, just taken over (take_over_time_wait()).
    void bind_connection(SocketId id, const FourTuple& t, bool from_time_wait = false);
    // Out of the lookup tables; true when a connection entry was removed. keep_count: its
    // 4-tuple's count stays, for the caller to hand on (move_tuple()).
    bool unbind(SocketId id, bool keep_count = false);

    // Demultiplexing of an arriving segment: the connection for its 4-tuple, else a listener
    // on its destination address and port, else none (the caller answers as CLOSED).
    [[nodiscard]] SocketId lookup(const tcp::Segment& seg) const;

    // The next port of a simple sequential allocator (the packetdrill harness's one socket).
    std::uint16_t next_ephemeral_port();

    // -- syscalls (Linux semantics unless the profile's PortPolicy says BSD)
    [[nodiscard]] const StackConfig& stack() const { return stack_; }
    void set_stack(const StackConfig& s) {
        stack_ = s;
        ports_.set_policy(s.ports);
        recount_tuples();
        sync_fin_wait2_config();
    }
    // bind(addr, port): port 0 picks one (bind(0)) unless IP_BIND_ADDRESS_NO_PORT defers it.
    Errno sys_bind(SocketId id, std::uint32_t addr, std::uint16_t port);
    // The port and address a connect() to `remote` uses: the bound port (checked against the
    // 4-tuple table) or an autobind per the profile's algorithm. Registers the 4-tuple.
    // `reuse_isn` is set when a TIME-WAIT was taken over (Linux: old SND.NXT + 65537).
    Errno sys_connect_prepare(SimTime now, SocketId id, const tcp::SockAddr& remote, tcp::SockAddr& local,
                              std::optional<tcp::Seq>& reuse_isn);
    // listen(): binds the port if needed (EADDRINUSE per the bind rules), registers the listener.
    Errno sys_listen_prepare(SocketId id, std::uint16_t port);
    // The socket is gone: its port ownership and lookup entries go too.
    void release(SocketId id);

    // -- TIME-WAIT and FIN-WAIT-2 mini-sockets (linux_minisock; host/host_mini_socket.cpp)
    // The endpoint entered TIME-WAIT (Notice::TimeWait) or was handed over as an orphaned
    // FIN-WAIT-2 (Notice::OrphanFinWait2): keep a mini-socket (or nothing, past
    // tcp_max_tw_buckets). Anything but FullSocket: the full socket is gone from the tables, and
    // the caller releases its timers.
    MiniSockOutcome enter_time_wait(SimTime now, SocketId id);
    [[nodiscard]] Demux demux(const tcp::Segment& seg) {  // inline: every arriving segment asks
        const FourTuple t{seg.dst.ip, seg.src.ip, seg.dst.port, seg.src.port};
        if (const SocketId c = connection(t); c != kNoSocket) return Demux{Demux::Kind::Connection, c, nullptr};
        return demux_other(t);
    }
    // What a segment does to a Linux TIME-WAIT mini-socket (tcp_v4_rcv() do_time_wait): the
    // reply to send, if any, and, for an accepted SYN (TW_SYN), the listener that takes it and
    // the ISN to use. The entry may be gone afterwards.
    struct TimeWaitResult {
        std::optional<tcp::Segment> reply;
        SocketId accept_by = 0xFFFFFFFFu;
        tcp::Seq accept_isn = 0;
    };
    TimeWaitResult time_wait_segment(SimTime now, TimeWaitSock& tw, const tcp::Segment& seg);
    // An arriving segment, all the way to the socket that takes it (host/host_input.hpp; Env is
    // the runtime around the host: the world, the packetdrill harness). Inlined into its caller's
    // event loop: a call here cost 1.2% more instructions (callgrind, bench -w churn --scale 0.05).
    template <class Env>
    [[gnu::always_inline]] inline void input(SimTime now, const tcp::Segment& seg, Env& env);
    // A full accept queue drops a new SYN to the listener, and the ACK that would complete a
    // child's handshake (the SYN,ACK is then retransmitted): the client sees a slow connect,
    // not an error (Linux tcp_conn_request(), tcp_check_req(): LISTENOVERFLOWS).
    // Established children of a listener not yet accept()ed (sk_ack_backlog).
    [[nodiscard]] std::uint32_t accept_queue_length(SocketId listener) const;
    // Linux sk_acceptq_is_full(): sk_ack_backlog > sk_max_ack_backlog (so backlog + 1 fit).
    [[nodiscard]] bool accept_queue_full(SocketId listener) const {
        return accept_queue_length(listener) > sockets_[listener].backlog;
    }
    // Linux's full accept queue (sk_acceptq_is_full()) for a segment that reaches `sid`: a SYN for
    // a listener is dropped (tcp_conn_request()); the ACK completing a handshake with a child in
    // SYN-RECEIVED is dropped, or answered with a reset that also ends the request when
    // tcp_abort_on_overflow is set (tcp_check_req(): listen_overflow, embryonic_reset).
    enum class Overflow : std::uint8_t { None, Drop, Reset };
    [[nodiscard]] Overflow listen_overflow(SocketId sid, const tcp::Segment& seg) const;
    // accept(): the oldest queued child, marked accepted; kNoSocket when none is ready.
    SocketId accept(SocketId listener);
    // The listener a SYN to addr:port goes to: the one bound to that address, else one bound to
    // INADDR_ANY (Linux __inet_lookup_listener(): the exact address scores higher), else kNoSocket.
    [[nodiscard]] SocketId listener(std::uint32_t addr, std::uint16_t port) const {
        SocketId any = kNoSocket;
        for (auto it = listeners_.lower_bound({port, 0}); it != listeners_.end() && it->first.first == port; ++it) {
            if (it->first.second == addr) return it->second;
            if (it->first.second == 0) any = it->second;
        }
        return any;
    }
    void kill_time_wait(const FourTuple& t);
    // The same for an entry whose slot the caller found already (one lookup instead of two).
    // keep_count: its 4-tuple's count stays, for the caller to hand on (move_tuple()).
    void kill_time_wait_at(const FourTuple& t, TimeWaitTable::Slot slot, bool keep_count = false);
    // fin_received: the FIN that ended the FIN_WAIT2 substate. Returns when the timer fires now.
    SimTime restart_time_wait(SimTime now, TimeWaitSock& tw, bool fin_received = false);
    // Removes the entries whose timer fired by `now`; returns how many.
    std::size_t expire_time_waits(SimTime now);
    [[nodiscard]] SimTime next_time_wait_expiry() const;
    // Changes whenever the TIME-WAIT table or its timer records change (next_time_wait_expiry()
    // can only change with it).
    [[nodiscard]] std::uint64_t time_wait_version() const { return tw_version_; }
    // A counter the runner owns, bumped with time_wait_version() (one check for all hosts).
    void watch_time_wait(std::uint64_t* changes) { tw_watch_ = changes; }
    // How long the TIME-WAIT mini-sockets that expired were held, in total, and how many.
    [[nodiscard]] Duration time_wait_held() const { return tw_held_; }
    // How Linux TIME-WAIT mini-sockets ended before their timer: an RST (assassination, RFC
    // 1337), a SYN that opened a new connection (TW_SYN), connect() taking it over (tw_reuse).
    struct TimeWaitEnds {
        std::uint64_t by_rst = 0, by_syn = 0, taken_over = 0;
    };
    [[nodiscard]] const TimeWaitEnds& time_wait_ends() const { return tw_ends_; }
    [[nodiscard]] std::uint64_t time_wait_held_count() const { return tw_held_count_; }
    // Mini-sockets in the TIME_WAIT substate, in the FIN_WAIT2 substate, and both (what
    // tcp_max_tw_buckets counts: inet_twsk_alloc() against tw_refcount).
    [[nodiscard]] std::size_t time_wait_count() const { return tw_.size() - fin_wait2_minisocks_; }
    [[nodiscard]] std::size_t fin_wait2_minisock_count() const { return fin_wait2_minisocks_; }
    [[nodiscard]] std::size_t mini_socket_count() const { return tw_.size(); }
    [[nodiscard]] std::uint64_t time_wait_overflows() const { return tw_overflow_; }
    // Every change of a mini-socket is told to `obs` from now on, as it happens (nullptr: to
    // nobody). The observer is the runner's: a copy of the host tells the same one.
    void observe_mini_sockets(MiniSockObserver* obs) { mini_obs_ = obs; }
    // The mini-socket of a 4-tuple (local first), or nullptr.
    [[nodiscard]] const TimeWaitSock* find_time_wait(const FourTuple& t) const { return tw_.find(t); }
    // Every mini-socket (both substates: tw.state()), in a fixed order. F: void(const TimeWaitSock&).
    template <class F>
    void for_each_time_wait(F&& f) const {
        tw_.for_each(std::forward<F>(f));
    }
    [[nodiscard]] PortTable& ports() { return ports_; }
    // tw_recycle: would the listener drop this SYN (PAWSPassiveRejected)?
    [[nodiscard]] bool recycle_drops_syn(SimTime now, const tcp::Segment& syn) const;
    [[nodiscard]] std::uint64_t recycle_drops() const { return recycle_drops_; }
    void count_recycle_drop() { ++recycle_drops_; }

    // What one live entry costs in this host's tables, in bytes (bench figures): a TIME-WAIT
    // mini-socket (its map node, its timer record, its owner entry in the port's bucket) and a
    // connected socket (the socket, its 4-tuple and binding map nodes, its port owner entry).
    [[nodiscard]] static std::size_t bytes_per_time_wait();
    [[nodiscard]] static std::size_t bytes_per_connection();

private:
    std::string name_;
    std::uint32_t ip_;
    std::vector<std::uint32_t> extra_ips_;
    tcp::TcpConfig cfg_;
    ChunkedVector<Socket, 6> sockets_;  // stable addresses: a socket never moves
    std::vector<SocketId> free_sockets_;
    bool reuse_sockets_ = false;
    std::uint64_t next_serial_ = 0;
    template <class Make>
    SocketId place(Make&& make);
    TupleIndex connections_;  // 4-tuple -> socket id (the key is the socket's `tuple`)
    struct ConnKey {
        const ChunkedVector<Socket, 6>* sockets;
        const FourTuple& operator()(std::uint32_t id) const { return (*sockets)[id].tuple; }
    };
    [[nodiscard]] ConnKey conn_key() const { return ConnKey{&sockets_}; }
    [[nodiscard]] SocketId connection(const FourTuple& t) const { return connections_.find(t, conn_key()); }
    [[nodiscard]] Demux demux_other(const FourTuple& t);  // demux() when no connection has the 4-tuple
    // Host::input()'s less common cases (host/host_input.hpp).
    template <class Env>
    void input_syn_to_time_wait(SimTime now, SocketId sock, const tcp::Segment& seg, Env& env);
    template <class Env>
    void input_other(SimTime now, const tcp::Segment& seg, const Demux& d, Env& env);
    std::map<std::pair<std::uint16_t, std::uint32_t>, SocketId> listeners_;  // (port, bound address or 0)
    struct Route {
        std::uint32_t net;
        int prefix;
        std::uint32_t src;
    };
    std::vector<Route> routes_;
    std::uint16_t next_port_ = 32768;

    StackConfig stack_;
    PortTable ports_;
    Duration boot_offset_;  // jiffies count from a boot before the run
    TimeWaitTable tw_;
    std::size_t fin_wait2_minisocks_ = 0;  // entries in the FIN_WAIT2 substate
    MiniSockObserver* mini_obs_ = nullptr;
    void log_mini(const MiniSockEvent& e) {
        if (mini_obs_ != nullptr) [[unlikely]] mini_obs_->on_mini_socket(e);
    }
    // TcpConfig::fin_wait2_minisock_max from the stack: TCP_TIMEWAIT_LEN with mini-sockets.
    void sync_fin_wait2_config() {
        cfg_.fin_wait2_minisock_max = stack_.linux_minisock ? stack_.linux_tw.length : Duration::ns(0);
    }
    // The mini-socket of a full socket entering TIME-WAIT or an orphaned FIN-WAIT-2.
    [[nodiscard]] TimeWaitSock mini_socket_of(SimTime now, const Socket& s, bool fin_wait2) const;
    // Its timer's length (tcp_time_wait()); with tw_recycle, the peer's timestamp is kept and
    // tw.recycle_timeout_ms set.
    [[nodiscard]] Duration mini_socket_length(SimTime now, const Socket& s, TimeWaitSock& tw);
    // tw_recycle: tcp_tw_remember_stamp(), the peer's newest timestamp (tcp_metrics).
    void remember_peer_stamp(SimTime now, const TimeWaitSock& tw);
    struct TwTimer {  // 16 bytes
        SimTime at;
        TimeWaitTable::Slot slot;
        std::uint32_t generation;
    };
    // Arms the timer of the entry in `slot` (its generation set) for `length` on the timer
    // wheel; returns when it fires.
    SimTime arm_time_wait_timer(SimTime now, TimeWaitTable::Slot slot, std::uint32_t generation, Duration length);
    // The entry of a timer record, or nullptr when it was taken over, killed or restarted since.
    [[nodiscard]] const TimeWaitSock* live_entry(const TwTimer& r) const {
        const TimeWaitSock& e = tw_.at(r.slot);
        return e.in_use && e.generation == r.generation ? &e : nullptr;
    }
    mutable std::deque<TwTimer> tw_timers_;  // TCP_TIMEWAIT_LEN: expiries come in insertion order
    // Timers of other lengths (FIN-WAIT-2's tcp_fin_time(), tw_recycle's 3.5 RTO): a min-heap
    // by (at, generation).
    mutable std::vector<TwTimer> tw_timers_other_;
    static bool fires_later(const TwTimer& a, const TwTimer& b) {
        return a.at != b.at ? a.at > b.at : a.generation > b.generation;
    }
    // The first timer record still live (stale ones at the fronts are dropped), or nullptr.
    [[nodiscard]] const TwTimer* next_tw_timer() const;
    // next_time_wait_expiry() is asked after every event: its answer is kept until the
    // TIME-WAIT table or its timer records change.
    std::uint64_t tw_version_ = 0;
    std::uint64_t* tw_watch_ = nullptr;
    void time_wait_changed() {
        ++tw_version_;
        if (tw_watch_ != nullptr) ++*tw_watch_;
    }
    mutable std::uint64_t tw_checked_version_ = ~std::uint64_t{0};
    mutable SimTime tw_next_ = SimTime::never();
    std::uint32_t tw_serial_ = 0;
    std::uint64_t tw_overflow_ = 0;
    Duration tw_held_ = Duration::ns(0);
    TimeWaitEnds tw_ends_;
    std::uint64_t tw_held_count_ = 0;
    struct PeerStamp {
        std::uint32_t ts;
        SimTime stamp;
    };
    std::map<std::uint32_t, PeerStamp> peer_ts_;  // tcp_metrics tcpm_ts / tcpm_ts_stamp per peer address
    std::uint64_t recycle_drops_ = 0;
    // 4-tuples (connections and TIME-WAIT) per (local address, remote address, remote port)
    // whose local port lies in the ephemeral range: when they fill the range, connect() has no
    // port toward that destination.
    struct DestPorts {
        std::uint32_t in_range = 0;
        std::vector<std::uint64_t> conn, tw;  // one bit per local port, once connect() went there
        // TIME-WAITs too young for tcp_tw_reuse to take over (tw_reuse_delay not yet passed): a
        // subset of `tw` that lets connect()'s port walk skip 64 ports at a time. Only a hint:
        // a bit may be cleared early (the exact check then answers), never set wrongly.
        std::vector<std::uint64_t> young;
    };
    struct YoungRecord {
        SimTime clear_at;  // from then on the entry may be reusable
        FourTuple tuple;
    };
    std::deque<YoungRecord> young_;  // in entry order (one fixed delay)
    void age_young(SimTime now);
    using DestKey = std::tuple<std::uint32_t, std::uint32_t, std::uint16_t>;
    std::map<DestKey, DestPorts> dest_;
    // The last destination looked up, and its entry (nullptr: none): a host mostly talks to
    // one destination, and a lifecycle looks it up several times. Forgotten whenever dest_ gains
    // or loses an entry (map nodes never move otherwise), and by a copy of the host.
    struct DestCache {
        DestKey key{};
        DestPorts* entry = nullptr;
        bool valid = false;
        DestCache() = default;
        DestCache(const DestCache& /*other*/) {}
        DestCache& operator=(const DestCache& /*other*/) {
            valid = false;
            return *this;
        }
    } dest_last_;
    DestPorts* find_dest(const DestKey& key) {
        if (dest_last_.valid && dest_last_.key == key) return dest_last_.entry;
        auto it = dest_.find(key);
        dest_last_.key = key;
        dest_last_.entry = it == dest_.end() ? nullptr : &it->second;
        dest_last_.valid = true;
        return dest_last_.entry;
    }
    void note_tuple(const FourTuple& t, int delta, bool time_wait);
    // note_tuple(t, -1, !to_time_wait) then note_tuple(t, +1, to_time_wait) in one lookup: a
    // connection becoming a TIME-WAIT entry or the reverse (the counts do not change).
    void move_tuple(const FourTuple& t, bool to_time_wait);
    DestPorts& dest_bits(std::uint32_t saddr, const tcp::SockAddr& remote);
    void recount_tuples();
    [[nodiscard]] bool range_full_toward(std::uint32_t saddr, const tcp::SockAddr& remote);
    [[nodiscard]] PortOwner owner_of(SocketId id) const;
    // tw_slot: the TIME-WAIT entry that ReuseTimeWait found (for the takeover that follows).
    [[nodiscard]] TupleCheck check_tuple(SimTime now, const FourTuple& t, bool explicit_port,
                                         TimeWaitTable::Slot& tw_slot) const;
    // A TIME-WAIT taken over by connect(): its ISN continues the old sequence space, then it goes.
    void take_over_time_wait(const FourTuple& t, TimeWaitTable::Slot slot, std::optional<tcp::Seq>& reuse_isn);
};

inline constexpr OwnerId kTimeWaitOwnerBit = 0x80000000u;  // owner ids of TIME-WAIT entries

}  // namespace tcpsim::host
