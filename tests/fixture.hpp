// Test helpers: a recording Io, a two-endpoint "wire" fixture and the row-coverage counter.
// Fixtures put an endpoint in a state; deliver() hands it a segment; expect_sent() and
// expect_silent() check what it did (DESIGN.md §8).
#pragma once

#include "tcp/endpoint.hpp"
#include "tcp/transitions.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

namespace tcpsim::test {

// How often every transition-table row was taken across the whole test run.
std::vector<std::uint64_t>& rows_hit();

struct RecordingIo final : tcp::Io {
    std::vector<tcp::Segment> sent;
    std::vector<tcp::Transition> transitions;
    std::vector<std::pair<tcp::Notice, Errno>> notices;
    std::array<SimTime, tcp::kTimerKinds> timers{SimTime::never(), SimTime::never(), SimTime::never()};

    void send(const tcp::Segment& seg) override { sent.push_back(seg); }
    void set_timer(tcp::TimerKind kind, SimTime deadline) override { timers[static_cast<std::size_t>(kind)] = deadline; }
    void transitioned(const tcp::Transition& row, std::string_view) override {
        transitions.push_back(row);
        ++rows_hit()[row.id];
    }
    void notify(tcp::Notice n, Errno e) override { notices.emplace_back(n, e); }
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

    explicit Fixture(tcp::TcpConfig c = default_config());
    static tcp::TcpConfig default_config();

    void deliver(const tcp::Segment& s) { ep.on_segment(now, io, s); }
    // A segment from the peer to us.
    void deliver(const std::string& flags, tcp::Seq seq, tcp::Seq ack = 0, std::uint32_t len = 0,
                 std::uint32_t wnd = 65535) {
        deliver(seg(remote, local, flags, seq, ack, len, wnd));
    }
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

// Checks that exactly one segment was sent and that it has these flags and numbers; returns it.
tcp::Segment expect_sent(RecordingIo& io, const std::string& flags, tcp::Seq seq, tcp::Seq ack = 0);
void expect_silent(const RecordingIo& io);

}  // namespace tcpsim::test
