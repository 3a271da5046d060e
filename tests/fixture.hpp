// Test helpers: a recording Io, a two-endpoint "wire" fixture and the row-coverage counter.
// Fixtures put an endpoint in a state; deliver() hands it a segment; expect_sent() and
// expect_silent() check what it did (DESIGN.md §8).
#pragma once

#include "tcp/endpoint.hpp"
#include "tcp/endpoint_impl.hpp"
#include "tcp/transitions.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace tcpsim::test {

// How often every transition-table row was taken across the whole test run.
std::vector<std::uint64_t>& rows_hit();

struct RecordingIo final : tcp::Io {
    std::vector<tcp::Segment> sent;
    std::vector<tcp::Transition> transitions;
    std::vector<std::pair<tcp::Notice, Errno>> notices;
    std::array<SimTime, tcp::kTimerKinds> timers{SimTime::never(), SimTime::never(), SimTime::never(),
                                                 SimTime::never()};

    std::uint32_t last_tsval = 0;  // TSval of the last timestamped segment we sent (for the peer's TSecr)

    void send(const tcp::Segment& seg) override {
        sent.push_back(seg);
        if (seg.has_ts) last_tsval = seg.tsval;
    }
    void set_timer(tcp::TimerKind kind, SimTime deadline) override { timers[static_cast<std::size_t>(kind)] = deadline; }
    void transitioned(const tcp::Transition& row, std::string_view) override {
        transitions.push_back(row);
        ++rows_hit()[row.id];
    }
    void notify(tcp::Notice n, Errno e) override { notices.emplace_back(n, e); }
    void redeliver(const tcp::Segment& seg) override { redelivered.push_back(seg); }
    std::vector<tcp::Segment> redelivered;
    void clear() {
        sent.clear();
        transitions.clear();
        notices.clear();
    }
    [[nodiscard]] bool notified(tcp::Notice n) const {
        for (const auto& [m, e] : notices)
            if (m == n) return true;
        return false;
    }
    [[nodiscard]] SimTime timer(tcp::TimerKind k) const { return timers[static_cast<std::size_t>(k)]; }
    // The errno that came with the first notice of this kind (EINVAL when there was none).
    [[nodiscard]] Errno errno_of(tcp::Notice n) const {
        for (const auto& [m, e] : notices)
            if (m == n) return e;
        return Errno::Inval;
    }
};

inline constexpr tcp::SockAddr kA{0x0A000001, 40000};  // 10.0.0.1:40000, the active opener
inline constexpr tcp::SockAddr kB{0x0A000002, 80};     // 10.0.0.2:80, the passive opener

// A segment from `from` to `to` with the given flags (a packetdrill-like spelling: "S", "S.",
// ".", "F.", "R", "R.", "P.") and absolute sequence numbers.
tcp::Segment seg(const tcp::SockAddr& from, const tcp::SockAddr& to, const std::string& flags, tcp::Seq seq,
                 tcp::Seq ack = 0, std::uint32_t len = 0, std::uint32_t wnd = 65535);

// One endpoint under test plus the hand-made peer it talks to. The endpoint's ISS is pinned.
struct Fixture {
    tcp::TcpConfig cfg;
    tcp::Endpoint ep;
    RecordingIo io;
    SimTime now = SimTime::zero();
    tcp::SockAddr local = kA;
    tcp::SockAddr remote = kB;
    tcp::Seq iss = 1000;      // our ISS
    tcp::Seq peer_iss = 5000; // the peer's ISS
    // When set, every segment deliver(flags, ...) builds carries the timestamp option with this
    // TSval (and TSecr = the last TSval we sent), as a peer that negotiated RFC 7323 would.
    std::optional<std::uint32_t> peer_tsval;

    explicit Fixture(tcp::TcpConfig c = default_config());
    static tcp::TcpConfig default_config();

    void deliver(const tcp::Segment& s) { ep.on_segment(now, io, s); }
    // A segment from the peer to us.
    void deliver(const std::string& flags, tcp::Seq seq, tcp::Seq ack = 0, std::uint32_t len = 0,
                 std::uint32_t wnd = 65535) {
        deliver(peer_seg(flags, seq, ack, len, wnd));
    }
    // The segment deliver(flags, ...) would hand over (for tests that add options).
    [[nodiscard]] tcp::Segment peer_seg(const std::string& flags, tcp::Seq seq, tcp::Seq ack = 0,
                                        std::uint32_t len = 0, std::uint32_t wnd = 65535) const;
    void advance(Duration d) { now = now + d; }
    // Fires a timer at its deadline (advancing the clock to it).
    void fire(tcp::TimerKind k);

    // Bring the endpoint to a state by the usual path (active open unless noted).
    void to_syn_sent();
    void to_established();           // active open, SYN,ACK, ACK
    void to_listen();                // passive open on kB; peer = kA
    void to_syn_received_passive();  // LISTEN + SYN
    void to_syn_received_active();   // SYN-SENT + SYN (simultaneous open)
    void to_established_passive();   // LISTEN + SYN + ACK
    void to_fin_wait_1();            // ESTABLISHED + close()
    void to_fin_wait_2();            // FIN-WAIT-1 + ACK of FIN
    void to_close_wait();            // ESTABLISHED + FIN
    void to_last_ack();              // CLOSE-WAIT + close()
    void to_closing();               // FIN-WAIT-1 + FIN (not acking ours)
    void to_time_wait();             // FIN-WAIT-2 + FIN

    // Our current SND.NXT and RCV.NXT.
    [[nodiscard]] tcp::Seq snd_nxt() const { return ep.tcb().snd_nxt; }
    [[nodiscard]] tcp::Seq rcv_nxt() const { return ep.tcb().rcv_nxt; }
};

// Checks that the endpoint took the transition-table row (from --trigger--> to) since io was
// last cleared.
void expect_transition(const RecordingIo& io, tcp::State from, tcp::Trigger trigger, tcp::State to);
// Checks that no state transition happened since io was last cleared.
void expect_no_transition(const RecordingIo& io);

// Two endpoints joined by a lossless wire: A (kA, ISS 1000) and B (kB, ISS 5000). exchange()
// hands every segment each side has sent to the other side, both directions at once, so
// segments sent at the same moment cross in flight.
struct Pair {
    tcp::TcpConfig cfg;
    tcp::Endpoint a;
    tcp::Endpoint b;
    RecordingIo ia;
    RecordingIo ib;
    SimTime now = SimTime::zero();
    std::vector<tcp::Segment> wire_a_to_b;  // every segment A sent, in order
    std::vector<tcp::Segment> wire_b_to_a;

    explicit Pair(tcp::TcpConfig c = Fixture::default_config());
    // One round: both sides' pending segments cross. Returns false when nothing was in flight.
    bool exchange();
    // Rounds until the wire is quiet (at most `max_rounds`).
    void run(int max_rounds = 20);
};

// Checks that exactly one segment was sent and that it has these flags and numbers; returns it.
tcp::Segment expect_sent(RecordingIo& io, const std::string& flags, tcp::Seq seq, tcp::Seq ack = 0);
void expect_silent(const RecordingIo& io);

}  // namespace tcpsim::test

// Readable values in Catch2 messages.
namespace Catch {
template <>
struct StringMaker<tcpsim::tcp::State> {
    static std::string convert(tcpsim::tcp::State s) { return std::string(tcpsim::tcp::to_string(s)); }
};
template <>
struct StringMaker<tcpsim::tcp::SockAddr> {
    static std::string convert(const tcpsim::tcp::SockAddr& a) { return tcpsim::tcp::format_addr(a); }
};
template <>
struct StringMaker<tcpsim::Errno> {
    static std::string convert(tcpsim::Errno e) { return std::string(tcpsim::to_string(e)); }
};
template <>
struct StringMaker<tcpsim::SimTime> {
    static std::string convert(tcpsim::SimTime t) { return t.is_never() ? "never" : tcpsim::format_seconds(t) + "s"; }
};
template <>
struct StringMaker<tcpsim::Duration> {
    static std::string convert(tcpsim::Duration d) { return tcpsim::format_duration(d); }
};
}  // namespace Catch
