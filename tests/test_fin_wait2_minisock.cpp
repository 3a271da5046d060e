// Linux's orphaned FIN-WAIT-2 as a mini-socket (tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)) in whole
// runs. Ground truth: the kernel's functions cited in models/host/host_mini_socket.cpp and the
// live-kernel results tools/kernel/results/{max-tw-buckets-4-orphans,max-tw-buckets-4-orphans-4-ports,
// fin-timeout-orphan,fin-timeout-70-orphan}.json, whose figures the comments below quote.
#include "fixture.hpp"

#include "scenario/scenario.hpp"
#include "world/world.hpp"

#include <fmt/format.h>

using namespace tcpsim;
using namespace tcpsim::literals;

namespace {
// a connects to b at 10 ms and closes at 100 ms; b never closes (unless `more` says so).
Scenario orphan_pair(const std::string& duration, const std::string& client_sysctls, const std::string& more = "") {
    return parse_scenario(fmt::format(R"({{"seed": 4, "duration": "{}", "profile": "linux",
        "hosts": [{{"name": "a", "address": "10.0.0.1", "sysctls": {{{}}}}}, {{"name": "b", "address": "10.0.0.2"}}],
        "links": [{{"between": ["a", "b"], "latency": "1ms"}}],
        "actions": [{{"at": "0s", "host": "b", "call": "listen", "sock": "L", "port": 80}},
                    {{"at": "10ms", "host": "a", "call": "connect", "sock": "c", "to": "b:80", "port": 40000}},
                    {{"at": "100ms", "host": "a", "call": "close", "sock": "c"}}{}]}})",
                                      duration, client_sysctls, more),
                          "t.json");
}

// The client's FIN-WAIT-2 (full sockets and mini-sockets) at the end of a run of `duration`.
std::int64_t fin_wait2_at(const std::string& duration, const std::string& sysctls) {
    const Scenario sc = orphan_pair(duration, sysctls);
    World w(sc, false);
    w.run();
    return w.state_counts(0)[static_cast<std::size_t>(tcp::State::FinWait2)] +
           static_cast<std::int64_t>(w.host(0).fin_wait2_minisock_count());
}

bool has_record(const World& w, RecordKind kind, const std::string& text) {
    for (const TraceRecord& r : w.records())
        if (r.kind == kind && r.text.find(text) != std::string::npos) return true;
    return false;
}
}  // namespace

TEST_CASE("linux FIN-WAIT-2: an orphan becomes a mini-socket that holds its port and counts as FIN_WAIT2", "[host][linux][fin-wait-2]") {
    const Scenario sc = orphan_pair("1s", "");
    World w(sc, true);
    w.run();
    const host::Host& a = w.host(0);
    CHECK(a.fin_wait2_minisock_count() == 1);
    CHECK(a.time_wait_count() == 0);
    CHECK(a.mini_socket_count() == 1);
    CHECK(w.state_counts(0)[static_cast<std::size_t>(tcp::State::FinWait2)] == 0);  // no full socket left
    int minisocks = 0;
    a.for_each_time_wait([&](const host::TimeWaitSock& tw) {
        ++minisocks;
        CHECK(tw.state() == tcp::State::FinWait2);
        CHECK(tw.tuple.lport == 40000);
    });
    CHECK(minisocks == 1);
    CHECK(has_record(w, RecordKind::Stack, "FIN-WAIT-2 mini-socket (tcp_time_wait())"));
}

TEST_CASE("linux FIN-WAIT-2: its timer is tcp_fin_time() on the timer wheel, not exactly tcp_fin_timeout", "[host][linux][fin-wait-2]") {
    // tcp_fin_timeout 5 s: the ACK of the FIN arrives at about 102 ms; a 5 s timer (1250
    // jiffies at HZ=250) lies in wheel level 2, whose buckets are 64 jiffies (256 ms): it
    // ends 5.0 to 5.26 s later (kernel/time/timer.c; fin-timeout-orphan: gone 5.0-5.4 s after
    // the close). Never before the 5 s, never after the bucket.
    CHECK(fin_wait2_at("5100ms", R"("net.ipv4.tcp_fin_timeout": 5)") == 1);
    CHECK(fin_wait2_at("5380ms", R"("net.ipv4.tcp_fin_timeout": 5)") == 0);
}

TEST_CASE("linux FIN-WAIT-2: tcp_fin_timeout above TCP_TIMEWAIT_LEN: a full socket, then a mini-socket, twice the difference",
          "[host][linux][fin-wait-2]") {
    // tcp_rcv_state_process(): tmo = 70 s > TCP_TIMEWAIT_LEN: the keep-alive timer for 10 s;
    // tcp_keepalive_timer(): tcp_time_wait(sk, TCP_FIN_WAIT2, tcp_fin_time() - TCP_TIMEWAIT_LEN),
    // 10 s more. The live kernel gave the ports back at 20.5 s (fin-timeout-70-orphan), not 70 s.
    const std::string s70 = R"("net.ipv4.tcp_fin_timeout": 70)";
    {
        const Scenario sc = orphan_pair("9s", s70);
        World w(sc, false);
        w.run();
        CHECK(w.state_counts(0)[static_cast<std::size_t>(tcp::State::FinWait2)] == 1);  // still the full socket
        CHECK(w.host(0).fin_wait2_minisock_count() == 0);
    }
    {
        const Scenario sc = orphan_pair("15s", s70);
        World w(sc, false);
        w.run();
        CHECK(w.state_counts(0)[static_cast<std::size_t>(tcp::State::FinWait2)] == 0);
        CHECK(w.host(0).fin_wait2_minisock_count() == 1);  // the mini-socket since about 10.1 s
    }
    CHECK(fin_wait2_at("20100ms", s70) == 1);
    CHECK(fin_wait2_at("20700ms", s70) == 0);  // gone by 20.1 s + 2 buckets of 256 ms + 2 jiffies
}

TEST_CASE("linux FIN-WAIT-2: past tcp_max_tw_buckets the orphan is destroyed and its port free at once", "[host][linux][fin-wait-2]") {
    // tcp_time_wait(): inet_twsk_alloc() NULL -> TCPTimeWaitOverflow, tcp_done(): nothing is sent.
    const Scenario sc = orphan_pair("1s", R"("net.ipv4.tcp_max_tw_buckets": 0)");
    World w(sc, true);
    w.run();
    const host::Host& a = w.host(0);
    CHECK(a.mini_socket_count() == 0);
    CHECK(a.time_wait_overflows() == 1);
    CHECK(w.state_counts(0)[static_cast<std::size_t>(tcp::State::FinWait2)] == 0);
    CHECK(has_record(w, RecordKind::Stack, "tcp_max_tw_buckets 0 reached"));
    for (const TraceRecord& r : w.records()) CHECK_FALSE((r.kind == RecordKind::Send && r.host == 0 && r.seg.rst()));
}

TEST_CASE("linux FIN-WAIT-2: the peer's FIN turns the mini-socket into a TIME-WAIT with a fresh 60 s", "[host][linux][fin-wait-2]") {
    // tcp_timewait_state_process(), FIN_WAIT2 substate: a FIN at RCV.NXT -> TIME_WAIT,
    // inet_twsk_reschedule(TCP_TIMEWAIT_LEN), TCP_TW_ACK.
    const std::string close_b = R"(, {"at": "3s", "host": "b", "call": "close", "sock": "L.1"})";
    const Scenario sc = orphan_pair("4s", "", close_b);
    World w(sc, true);
    w.run();
    const host::Host& a = w.host(0);
    CHECK(a.fin_wait2_minisock_count() == 0);
    CHECK(a.time_wait_count() == 1);
    CHECK(has_record(w, RecordKind::Stack, "FIN: the FIN-WAIT-2 mini-socket is TIME-WAIT"));
    // The mini-socket ACKed the FIN: b's LAST-ACK is over.
    CHECK(w.state_counts(1)[static_cast<std::size_t>(tcp::State::LastAck)] == 0);
}

TEST_CASE("linux FIN-WAIT-2: data after the close draws an RST from the mini-socket, which is gone", "[host][linux][fin-wait-2]") {
    // tcp_timewait_state_process(): new data in the FIN_WAIT2 substate -> TCP_TW_RST;
    // tcp_v4_send_reset() answers an ACK-bearing segment with <SEQ=SEG.ACK><CTL=RST>.
    const std::string send_b = R"(, {"at": "2s", "host": "b", "call": "send", "sock": "L.1", "bytes": 10})";
    const Scenario sc = orphan_pair("3s", "", send_b);
    World w(sc, true);
    w.run();
    CHECK(w.host(0).mini_socket_count() == 0);
    CHECK(has_record(w, RecordKind::Stack, "FIN-WAIT-2 mini-socket ends: it answers RST"));
    bool rst = false;
    for (const TraceRecord& r : w.records()) rst = rst || (r.kind == RecordKind::Send && r.host == 0 && r.seg.rst() && !r.seg.ack_set());
    CHECK(rst);
}
