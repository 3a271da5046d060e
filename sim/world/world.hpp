// The runner: builds hosts and links from a scenario, owns the one engine and the one PRNG of
// the run, and is the only place that wires endpoints, hosts, links and observers together.
#pragma once

#include "host/host.hpp"
#include "net/balancer.hpp"
#include "net/link.hpp"
#include "net/nat.hpp"
#include "scenario/scenario.hpp"
#include "tcp/isn.hpp"
#include "world/trace_record.hpp"

#include <tcpsim/chunked_vector.hpp>
#include <tcpsim/engine.hpp>
#include <tcpsim/rng.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tcpsim {

// Why a SYN (or a handshake's last ACK) vanished without an answer: observations the runner
// counts where the models drop it, for the verdict's "why" (models never print).
enum class SynDrop : std::uint8_t {
    TimeWait,     // a TIME-WAIT kept its 4-tuple and said nothing (FreeBSD tcp_twcheck(): SEQ not above RCV.NXT)
    AcceptQueue,  // a full accept queue (Linux LISTENOVERFLOWS)
    NatNoPort,    // a NAT or source-NAT balancer had no port for the flow
    TwRecycle,    // tcp_tw_recycle's per-peer timestamp check (PAWSPassiveRejected)
};
inline constexpr std::size_t kSynDropKinds = 4;

// SYN drops of one kind at one node, for SYNs that came from one node (the balancer or NAT whose
// address they carried, or the sending host; -1 when the address has no owner).
struct SynDropKey {
    int node;
    SynDrop kind;
    int from;
    auto operator<=>(const SynDropKey&) const = default;
};

struct WorldStats {
    std::uint64_t time_wait_expired = 0;  // TIME-WAIT mini-sockets whose timer fired
    std::uint64_t segments_sent = 0;
    std::uint64_t segments_delivered = 0;
    std::uint64_t segments_dropped = 0;  // targeted drops
    std::uint64_t segments_lost = 0;     // random loss
    std::uint64_t transitions = 0;
    std::uint64_t listen_overflows = 0;  // SYNs and handshake ACKs dropped on a full accept queue
    std::uint64_t middlebox_drops = 0;   // SYNs a NAT or balancer dropped for lack of a port
    std::map<std::string, std::uint64_t> failures;  // failed calls by errno name
    std::map<SynDropKey, std::uint64_t> syn_drops;  // SYNs dropped in silence, by where, why and from where
    std::vector<std::uint64_t> syn_retransmitted;   // per host: connects whose SYN had to be sent again
};

class World;

// Sees every segment put on a wire (a capture, sim/teach/pcap.hpp): a host's send when it leaves the
// host (also when a link then drops or loses it), and a NAT's or balancer's forward of it. An
// observer: it reads, and changes nothing in the run.
class SegmentTap {
public:
    virtual ~SegmentTap() = default;
    virtual void on_wire(SimTime t, int node, const tcp::Segment& seg) = 0;
};

// An application driving the world through socket calls (the scenario's timed actions are one;
// a live-kernel experiment is another). Called by the runner, never by a model.
class App {
public:
    virtual ~App() = default;
    virtual void on_app_event(World& w, std::uint64_t arg) = 0;  // scheduled with World::schedule_app
    virtual void on_notice(World& w, int host, host::SocketId sock, tcp::Notice n, Errno e) = 0;
    // The notices on_notice() acts on, one bit per tcp::Notice (the others are not queued for it).
    [[nodiscard]] virtual std::uint32_t notices_heard() const { return ~0u; }
    // A NAT gateway or balancer (node index >= host_count()) refused a SYN for lack of a port.
    virtual void on_middlebox_exhausted(World& /*w*/, int /*node*/, const tcp::Segment& /*syn*/) {}
    // A scripted action's call failed (bind, connect, listen).
    virtual void on_call_failed(World& /*w*/, int /*host*/, const char* /*syscall*/, Errno /*e*/, tcp::SockAddr /*local*/,
                                tcp::SockAddr /*remote*/) {}
};

// Live TCBs per state on a host (TIME-WAIT includes the Linux mini-sockets).
using StateCounts = std::array<std::int64_t, 11>;

class World {
public:
    // record: keep one TraceRecord per event (for trace output); off for long runs.
    World(const Scenario& sc, bool record);
    ~World();
    World(const World&) = delete;
    World& operator=(const World&) = delete;

    void run();  // until the scenario's duration
    // Called every kProgressEvents events with the simulated time (progress bars, Ctrl-C): it
    // may throw to abandon the run, and reads nothing back into it, so outputs are the same with
    // or without one. Without one the loop is the plain one.
    void set_progress(std::function<void(SimTime)> hook) { progress_ = std::move(hook); }
    static constexpr std::uint64_t kProgressEvents = 16384;
    // A capture: without one, the send path tests the same one flag as before (trace records).
    void set_tap(SegmentTap* tap) {
        tap_ = tap;
        observe_sends_ = recording_ || tap_ != nullptr;
    }
    void set_app(App* app) {
        app_ = app;
        app_notices_ = app != nullptr ? app->notices_heard() : 0;
    }
    // Sockets that are gone give their slots back (memory grows with sockets alive at once, not
    // with sockets ever made). For runs whose application keeps no socket ids beyond the
    // connection (the forecast's workloads); never while recording a trace.
    void set_socket_reuse(bool on) {
        for (host::Host& h : hosts_) h.set_socket_reuse(on && !recording_);
    }

    // -- socket calls for applications (they return what the modelled OS returns)
    host::SocketId sock_create(int h, const std::string& name, host::SocketOptions opt);
    Errno sock_bind(int h, host::SocketId id, std::uint16_t port, std::uint32_t addr = 0);
    Errno sock_listen(int h, host::SocketId id, std::uint16_t port);
    Errno sock_connect(int h, host::SocketId id, const tcp::SockAddr& remote);
    Errno sock_send(int h, host::SocketId id, std::uint32_t bytes);
    std::uint32_t sock_receive(int h, host::SocketId id, std::uint32_t max);
    Errno sock_close(int h, host::SocketId id);
    void schedule_app(SimTime at, std::uint64_t arg) { engine_.schedule(at, kApp, 0, arg); }
    // A cancellable application timer: when it fires, on_app_event() hears `arg`. Arming takes
    // its place in the (time, seq) order exactly as schedule_app() would; a cancelled or
    // re-armed timer leaves nothing behind in the order of the other events.
    TimerId app_timer_create() { return engine_.create_timer(); }
    void app_timer_arm(TimerId t, SimTime at, std::uint64_t arg) { engine_.arm(t, at, kApp, 0, arg); }
    void app_timer_release(TimerId t) { engine_.release_timer(t); }  // cancelled, and its slot given back
    host::Host& host_mut(int i) { return hosts_[static_cast<std::size_t>(i)]; }

    [[nodiscard]] const Scenario& scenario() const { return sc_; }
    [[nodiscard]] const std::vector<TraceRecord>& records() const { return records_; }
    [[nodiscard]] const EngineCounters& engine_counters() const { return engine_.counters(); }
    [[nodiscard]] const WorldStats& stats() const { return stats_; }
    // How often each transition-table row was taken.
    [[nodiscard]] const std::vector<std::uint64_t>& rows_hit() const { return rows_hit_; }
    [[nodiscard]] const host::Host& host(int i) const { return hosts_[static_cast<std::size_t>(i)]; }
    [[nodiscard]] int host_count() const { return static_cast<int>(hosts_.size()); }
    [[nodiscard]] SimTime now() const { return engine_.now(); }
    void stop() { engine_.stop(); }
    [[nodiscard]] bool stopped() const { return engine_.stopped(); }
    [[nodiscard]] const StateCounts& state_counts(int h) const { return state_counts_[static_cast<std::size_t>(h)]; }
    // The most TCBs in each state at any moment (TIME-WAIT: endpoints and mini-sockets together).
    [[nodiscard]] const StateCounts& state_peaks(int h) const { return state_peaks_[static_cast<std::size_t>(h)]; }
    // Network nodes: hosts first, then NAT gateways, then balancers.
    [[nodiscard]] int node_count() const { return static_cast<int>(hosts_.size() + nats_.size() + lbs_.size()); }
    [[nodiscard]] std::string node_name(int node) const;
    [[nodiscard]] std::size_t nat_count() const { return nats_.size(); }
    net::Nat& nat(std::size_t i) { return nats_[i].nat; }
    // What-if: a NAT's pool grows or shrinks (routing follows).
    void nat_add_address(std::size_t i, std::uint32_t a) {
        nats_[i].nat.add_address(a);
        set_ip_owner(a, static_cast<int>(hosts_.size() + i));
    }
    void nat_remove_address(std::size_t i, std::uint32_t a) {
        nats_[i].nat.remove_address(a);
        erase_ip_owner(a);
    }
    [[nodiscard]] const std::string& nat_name(std::size_t i) const { return nats_[i].name; }
    [[nodiscard]] std::size_t balancer_count() const { return lbs_.size(); }
    net::Balancer& balancer(std::size_t i) { return lbs_[i].lb; }
    [[nodiscard]] const std::string& balancer_name(std::size_t i) const { return lbs_[i].name; }
    // The node that owns an address (host, NAT outer address, balancer address), or -1.
    [[nodiscard]] int node_of_ip(std::uint32_t ip) const;
    // A sysctl changed at run time (what-if actions); the value was checked when the scenario was read.
    void set_sysctl(int h, const std::string& name, const std::string& value);
    // The host is switched off: it neither sends nor answers from now on.
    void stop_host(int h) { stopped_hosts_[static_cast<std::size_t>(h)] = 1; }

private:
    class SocketIo;
    friend class SocketIo;
    class HostEnv;
    class MiniSockRecorder;
    enum EventKind : std::uint32_t { kDeliver = 1, kTimer = 2, kAction = 3, kAppRead = 4, kTwExpiry = 5, kApp = 6 };

    void dispatch(const Event& ev);
    void dispatch_one(const Event& ev);
    // After each event: the application's notices first (about half the events leave some), then
    // TIME-WAIT conversions, the hosts' expiry timers and the slots given back (most events leave
    // none of these: one check skips them).
    void settle() {
        if (!pending_app_notices_.empty()) notify_app();
        if (pending_time_wait_.empty() && pending_free_.empty() && tw_changes_ == tw_changes_seen_) return;
        settle_pending();
    }
    void notify_app();
    void settle_pending();
    void release_socket(int h, host::SocketId sock);
    void do_action(const ActionSpec& a);
    void do_listen(int h, const ActionSpec& a);
    void do_connect(int h, const ActionSpec& a);
    void do_socket_call(int h, host::SocketId sid, const ActionSpec& a);
    std::size_t call_record(int h, host::SocketId sid, const ActionSpec& a, const std::string& text);
    void call_result(std::size_t rec, const std::string& result);
    // A segment arrives at a host: the host's input takes it (host/host_input.hpp), its common
    // case (an existing connection past its handshake) inlined into the event loop.
    [[gnu::always_inline]] inline void deliver(int host, const tcp::Segment& seg);
    // Out of line on purpose: one copy of the send path (the link's fate, the delivery queue)
    // serves every send site and stays in the instruction cache. Forced into each site, it made
    // the endpoint's output path 7.7 KiB and the run 2-5% slower.
    void transmit(int from_host, std::string_view sock, const tcp::Segment& seg);
    void forward(int from_node, const tcp::Segment& seg);  // over the link to the next hop
    [[nodiscard]] int next_hop(int from_node, const tcp::Segment& seg) const;
    // next_hop() and the link to it, remembered per sending node for its last destination
    // address (a host mostly talks to one peer). Returns -1 when the address has no owner.
    int route(int from_node, const tcp::Segment& seg, net::Link*& link) {
        const Route& r = route_cache_[static_cast<std::size_t>(from_node)];
        // A balancer's backend routes by the whole segment (is_backend_reply): never remembered.
        if (r.epoch != route_epoch_ || r.ip != seg.dst.ip || !lbs_.empty()) return route_miss(from_node, seg, link);
        link = &links_[static_cast<std::size_t>(r.link)];
        return r.to;
    }
    int route_miss(int from_node, const tcp::Segment& seg, net::Link*& link);
    net::Link& link_between(int a, int b);
    void middlebox_deliver(int node, const tcp::Segment& seg);
    void count_syn_drop(int node, SynDrop kind, const tcp::Segment& seg) {
        ++stats_.syn_drops[SynDropKey{node, kind, node_of_ip(seg.src.ip)}];
    }
    void count_state(int h, tcp::State s, int delta) {
        const auto hi = static_cast<std::size_t>(h), si = static_cast<std::size_t>(s);
        state_counts_[hi][si] += delta;
        if (delta <= 0) return;
        std::int64_t now = state_counts_[hi][si];
        if (s == tcp::State::TimeWait) now += static_cast<std::int64_t>(hosts_[hi].time_wait_count());
        if (s == tcp::State::FinWait2) now += static_cast<std::int64_t>(hosts_[hi].fin_wait2_minisock_count());
        state_peaks_[hi][si] = std::max(state_peaks_[hi][si], now);
    }
    void note_mini_socket_peaks(std::size_t hi) {
        auto peak = [&](tcp::State s, std::size_t minis) {
            const auto si = static_cast<std::size_t>(s);
            state_peaks_[hi][si] = std::max(state_peaks_[hi][si], state_counts_[hi][si] + static_cast<std::int64_t>(minis));
        };
        peak(tcp::State::TimeWait, hosts_[hi].time_wait_count());
        peak(tcp::State::FinWait2, hosts_[hi].fin_wait2_minisock_count());
    }
    void enqueue_delivery(int to_host, const tcp::Segment& seg, SimTime at);
    // Inlined into their one caller (SocketIo): an endpoint calls them several times a segment.
    // s: the socket `sock` of `host` (the caller found it once for the whole endpoint call).
    [[gnu::always_inline]] inline void on_notice(int host, host::SocketId sock, host::Socket& s, tcp::Notice n, Errno err);
    [[gnu::always_inline]] inline void set_timer(int host, host::SocketId sock, host::Socket& s, tcp::TimerKind kind,
                                                 SimTime deadline);
    void reap(int host, host::SocketId sock);
    host::SocketId new_socket_timers(int host, host::SocketId id);

    std::size_t record(RecordKind kind, int host, host::SocketId sock);
    // The trace records of the hot calls, out of their way (only a trace run makes them).
    [[gnu::cold, gnu::noinline]] void record_timer_set(int host, host::SocketId sock, tcp::TimerKind kind, SimTime deadline);
    [[gnu::cold, gnu::noinline]] void record_send(int host, std::string_view sock, const tcp::Segment& seg);
    // A send seen by the trace records and/or the capture.
    [[gnu::cold, gnu::noinline]] void observe_send(int host, std::string_view sock, const tcp::Segment& seg);
    [[gnu::cold, gnu::noinline]] void tap_forward(int node, const tcp::Segment& seg);  // a NAT's or balancer's send
    [[gnu::cold, gnu::noinline]] void record_held_back(Duration extra);  // the send record: the link delayed it
    [[gnu::cold, gnu::noinline]] void record_notice(int host, host::SocketId sock, tcp::Notice n, Errno err);
    [[gnu::cold, gnu::noinline]] void record_transition(int host, host::SocketId sock, const tcp::Transition& row,
                                                         std::string_view why);
    void focus(int host, host::SocketId sock);
    [[nodiscard]] tcp::State focused_state(int i) const;
    // A host's mini-socket changed (world_mini_socket.cpp): its trace record.
    void record_mini_socket(int host, const host::MiniSockEvent& e);

    const Scenario& sc_;
    bool recording_;
    Engine engine_;
    Rng link_rng_;
    tcp::IsnGenerator isn_;
    std::vector<host::Host> hosts_;
    std::vector<net::Link> links_;
    // (lower node, higher node) -> index into links_; a hash map, not a node x node matrix, so that
    // a fleet of 10,000 hosts costs memory in its links, not in its pairs (never iterated).
    std::unordered_map<std::uint64_t, std::int32_t> link_of_;
    [[nodiscard]] static std::uint64_t pair_key(int a, int b) {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(std::min(a, b))) << 32) | static_cast<std::uint32_t>(std::max(a, b));
    }
    // Which node owns an address, sorted by address (looked up for every segment sent).
    std::vector<std::pair<std::uint32_t, int>> ip_owner_;
    void set_ip_owner(std::uint32_t ip, int node);
    struct Route {
        std::uint32_t ip = 0;
        int to = -1;
        std::int32_t link = -1;
        std::uint64_t epoch = ~std::uint64_t{0};
    };
    std::vector<Route> route_cache_;  // per node; valid while its epoch is route_epoch_
    std::uint64_t route_epoch_ = 0;   // bumps when an address changes owner
    void erase_ip_owner(std::uint32_t ip);
    struct NatBox {
        std::string name;
        net::Nat nat;
    };
    struct LbBox {
        std::string name;
        net::Balancer lb;
    };
    std::vector<NatBox> nats_;
    std::vector<LbBox> lbs_;
    std::vector<int> nat_of_host_;  // the NAT a host sits behind, or -1
    std::vector<host::Profile> profiles_;  // each host's profile as configured, for run-time sysctls
    std::vector<StateCounts> state_counts_;
    std::vector<StateCounts> state_peaks_;
    std::function<void(SimTime)> progress_;
    std::vector<std::uint8_t> stopped_hosts_;  // 1: switched off (bytes: read for every segment)
    // Segments on the wire; a delivery reads its segment in place (stable addresses: the
    // delivery may put more on the wire) and gives the slot back afterwards.
    ChunkedVector<tcp::Segment, 8> pool_;
    std::vector<std::uint32_t> pool_free_;
    std::vector<TraceRecord> records_;
    std::vector<std::uint64_t> rows_hit_;
    std::array<host::SocketId, 2> focus_{host::kNoSocket, host::kNoSocket};
    // A trace run: each host tells its recorder of its mini-sockets (host::MiniSockObserver), and
    // the socket names of its mini-sockets are kept for their records.
    std::vector<std::unique_ptr<MiniSockRecorder>> mini_recorders_;
    std::map<std::pair<int, host::FourTuple>, std::string> mini_names_;
    App* app_ = nullptr;
    std::uint32_t app_notices_ = 0;  // app_->notices_heard()
    std::vector<std::pair<int, host::SocketId>> pending_time_wait_;
    std::vector<std::pair<int, host::SocketId>> pending_free_;  // slots given back at the end of settle()
    struct AppNotice {
        int host;
        host::SocketId sock;
        tcp::Notice notice;
        Errno err;
    };
    std::vector<AppNotice> pending_app_notices_;
    std::vector<TimerId> tw_timer_;
    std::vector<SimTime> tw_armed_;
    std::vector<std::uint64_t> tw_seen_;  // each host's time_wait_version() when its timer was last set
    std::uint64_t tw_changes_ = 0;       // bumped by every host's TIME-WAIT table change
    std::uint64_t tw_changes_seen_ = 0;  // its value when settle() last looked at the hosts
    WorldStats stats_;
    // Last, so that the hot members keep their places (the capture must cost nothing when off).
    SegmentTap* tap_ = nullptr;
    bool observe_sends_;  // recording_ or a tap: the one test on the send path
};

// What a host tells of its mini-sockets, turned into the trace's records.
class World::MiniSockRecorder final : public host::MiniSockObserver {
public:
    MiniSockRecorder(World& w, int host) : w_(w), host_(host) {}
    void on_mini_socket(const host::MiniSockEvent& e) override { w_.record_mini_socket(host_, e); }

private:
    World& w_;
    int host_;
};

}  // namespace tcpsim
