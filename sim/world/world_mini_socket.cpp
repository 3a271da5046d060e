// The trace records of a Linux host's mini-sockets (host::MiniSockEvent): kept or not, and how
// each ends (its timer, an RST, a reopening SYN, connect()), each with the kernel function it
// follows. Only a trace run asks for them (World::MiniSockRecorder).
#include "world/mini_socket_text.hpp"
#include "world/world.hpp"

#include <fmt/format.h>

namespace tcpsim {

namespace {

std::string_view substate(bool fin_wait2) { return fin_wait2 ? "FIN-WAIT-2" : "TIME-WAIT"; }

// Whole milliseconds, or seconds when whole.
std::string length_text(Duration d) {
    if (d.count() % 1'000'000'000 == 0) return fmt::format("{} s", d.count() / 1'000'000'000);
    return fmt::format("{} ms", d.whole_ms());
}

}  // namespace

std::vector<std::string> mini_socket_lines(const host::MiniSockEvent& e) {
    using Kind = host::MiniSockEvent::Kind;
    const std::string st(substate(e.fin_wait2));
    const std::string fires = format_seconds(e.fires);
    switch (e.kind) {
        case Kind::Kept:
            return {st + " mini-socket (tcp_time_wait())",
                    fmt::format("its timer: {} {}, on the wheel: ends {}", e.fin_wait2 ? "tcp_fin_time()" : "TCP_TIMEWAIT_LEN",
                                length_text(e.timeout), fires)};
        case Kind::Overflow:
            return {fmt::format("no mini-socket: tcp_max_tw_buckets {} reached (tcp_time_wait())", e.limit),
                    "socket destroyed, its port free (TCPTimeWaitOverflow)"};
        case Kind::Expired: return {st + " mini-socket ends: its timer fired (tw_timer_handler())"};
        case Kind::FinReceived:
            return {"FIN: the FIN-WAIT-2 mini-socket is TIME-WAIT (TCP_TW_ACK)",
                    fmt::format("its timer: TCP_TIMEWAIT_LEN afresh, on the wheel: ends {}", fires)};
        case Kind::Restarted: return {fmt::format("TIME-WAIT timer restarted: ends {} (inet_twsk_reschedule())", fires)};
        case Kind::KilledByRst:
            if (e.fin_wait2) return {"FIN-WAIT-2 mini-socket ends: RST (tcp_timewait_state_process())"};
            return {"TIME-WAIT mini-socket ends: RST (tcp_timewait_state_process())",
                    "tcp_rfc1337=0 lets the RST kill it (RFC 1337 hazard H3)"};
        case Kind::ResetSent: return {st + " mini-socket ends: it answers RST (TCP_TW_RST)"};
        case Kind::ReopenedBySyn:
            return {"TIME-WAIT mini-socket ends: SYN let through (TCP_TW_SYN)",
                    fmt::format("ISN = old SND.NXT {} + 65537 = {} (tcp_timewait_state_process())", e.snd_nxt, e.isn)};
        case Kind::TakenOver:
            return {st + " mini-socket ends: connect() takes it over (tcp_tw_reuse)",
                    fmt::format("ISN = old SND.NXT {} + 65537 = {} (tcp_twsk_unique())", e.snd_nxt, e.isn)};
    }
    return {};
}

void World::record_mini_socket(int h, const host::MiniSockEvent& e) {
    const auto key = std::pair{h, e.tuple};
    std::string name;
    if (auto it = mini_names_.find(key); it != mini_names_.end()) {
        name = it->second;
    } else {
        // Kept, Overflow: the socket being handed over is still in the table with this 4-tuple.
        const host::Host& hh = hosts_[static_cast<std::size_t>(h)];
        for (std::size_t i = 0; i < hh.size() && name.empty(); ++i) {
            const host::Socket& s = hh.at(static_cast<host::SocketId>(i));
            const tcp::Tcb& t = s.ep.tcb();
            if (s.alive && host::FourTuple{t.local.ip, t.remote.ip, t.local.port, t.remote.port} == e.tuple)
                name = hh.socket_name(static_cast<host::SocketId>(i));
        }
    }
    using Kind = host::MiniSockEvent::Kind;
    const bool ends = e.kind != Kind::Kept && e.kind != Kind::FinReceived && e.kind != Kind::Restarted;
    if (ends) mini_names_.erase(key);
    else mini_names_[key] = name;
    for (std::string& line : mini_socket_lines(e)) {
        auto& r = records_[record(RecordKind::Stack, h, host::kNoSocket)];
        r.socket = name;
        r.text = std::move(line);
    }
}

}  // namespace tcpsim
