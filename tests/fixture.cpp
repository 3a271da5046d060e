#include "fixture.hpp"

namespace tcpsim::test {

std::vector<std::uint64_t>& rows_hit() {
    static std::vector<std::uint64_t> hits(tcp::kTransitions.size(), 0);
    return hits;
}

tcp::Segment seg(const tcp::SockAddr& from, const tcp::SockAddr& to, const std::string& flags, tcp::Seq seq,
                 tcp::Seq ack, std::uint32_t len, std::uint32_t wnd) {
    tcp::Segment s;
    s.src = from;
    s.dst = to;
    REQUIRE(tcp::parse_flags(flags, s.flags));
    s.seq = seq;
    s.ack = ack;
    s.len = len;
    s.wnd = wnd;
    if (s.syn()) s.mss = 1460;
    return s;
}

tcp::TcpConfig Fixture::default_config() {
    tcp::TcpConfig c;
    c.timestamps = false;  // most tests look at sequence numbers only
    c.msl = Duration::s(30);
    return c;
}

Fixture::Fixture(tcp::TcpConfig c) : cfg(c), ep(c) { ep.set_isn_source(nullptr, iss); }

tcp::Segment Fixture::peer_seg(const std::string& flags, tcp::Seq seq, tcp::Seq ack, std::uint32_t len,
                               std::uint32_t wnd) const {
    tcp::Segment s = seg(remote, local, flags, seq, ack, len, wnd);
    if (peer_tsval) {
        s.has_ts = true;
        s.tsval = *peer_tsval;
        s.tsecr = io.last_tsval;
    }
    return s;
}

void Fixture::fire(tcp::TimerKind k) {
    const SimTime at = io.timer(k);
    REQUIRE_FALSE(at.is_never());
    now = at;
    ep.on_timer(now, io, k);
}

void Fixture::to_syn_sent() {
    REQUIRE(ep.open_active(now, io, local, remote) == Errno::Ok);
    REQUIRE(ep.state() == tcp::State::SynSent);
    io.clear();
}

void Fixture::to_established() {
    to_syn_sent();
    advance(Duration::ms(10));
    deliver("S.", peer_iss, iss + 1);
    REQUIRE(ep.state() == tcp::State::Established);
    io.clear();
}

void Fixture::to_listen() {
    local = kB;
    remote = kA;
    REQUIRE(ep.open_passive(now, io, local, std::nullopt) == Errno::Ok);
    REQUIRE(ep.state() == tcp::State::Listen);
    io.clear();
}

void Fixture::to_syn_received_passive() {
    to_listen();
    deliver("S", peer_iss);
    REQUIRE(ep.state() == tcp::State::SynReceived);
    io.clear();
}

void Fixture::to_syn_received_active() {
    to_syn_sent();
    deliver("S", peer_iss);
    REQUIRE(ep.state() == tcp::State::SynReceived);
    io.clear();
}

void Fixture::to_established_passive() {
    to_syn_received_passive();
    advance(Duration::ms(10));
    deliver(".", peer_iss + 1, iss + 1);
    REQUIRE(ep.state() == tcp::State::Established);
    io.clear();
}

void Fixture::to_fin_wait_1() {
    to_established();
    REQUIRE(ep.close(now, io) == Errno::Ok);
    REQUIRE(ep.state() == tcp::State::FinWait1);
    io.clear();
}

void Fixture::to_fin_wait_2() {
    to_fin_wait_1();
    deliver(".", peer_iss + 1, iss + 2);
    REQUIRE(ep.state() == tcp::State::FinWait2);
    io.clear();
}

void Fixture::to_close_wait() {
    to_established();
    deliver("F.", peer_iss + 1, iss + 1);
    REQUIRE(ep.state() == tcp::State::CloseWait);
    io.clear();
}

void Fixture::to_last_ack() {
    to_close_wait();
    REQUIRE(ep.close(now, io) == Errno::Ok);
    REQUIRE(ep.state() == tcp::State::LastAck);
    io.clear();
}

void Fixture::to_closing() {
    to_fin_wait_1();
    deliver("F.", peer_iss + 1, iss + 1);  // the peer's FIN does not acknowledge ours
    REQUIRE(ep.state() == tcp::State::Closing);
    io.clear();
}

void Fixture::to_time_wait() {
    to_fin_wait_2();
    deliver("F.", peer_iss + 1, iss + 2);
    REQUIRE(ep.state() == tcp::State::TimeWait);
    io.clear();
}

void expect_transition(const RecordingIo& io, tcp::State from, tcp::Trigger trigger, tcp::State to) {
    const auto row = tcp::find_transition(from, trigger, to);
    INFO("row " << tcp::to_string(from) << " --" << tcp::to_string(trigger) << "--> " << tcp::to_string(to));
    REQUIRE(row != nullptr);
    bool taken = false;
    std::string seen;
    for (const auto& t : io.transitions) {
        seen += std::string(tcp::to_string(t.from)) + "->" + std::string(tcp::to_string(t.to)) + " ";
        if (t.id == row->id) taken = true;
    }
    INFO("transitions taken: " << seen);
    CHECK(taken);
}

void expect_no_transition(const RecordingIo& io) {
    std::string seen;
    for (const auto& t : io.transitions)
        seen += std::string(tcp::to_string(t.from)) + "->" + std::string(tcp::to_string(t.to)) + " ";
    INFO("transitions taken: " << seen);
    CHECK(io.transitions.empty());
}

Pair::Pair(tcp::TcpConfig c) : cfg(c), a(c), b(c) {
    a.set_isn_source(nullptr, tcp::Seq{1000});
    b.set_isn_source(nullptr, tcp::Seq{5000});
}

bool Pair::exchange() {
    const std::vector<tcp::Segment> to_b = ia.sent;
    const std::vector<tcp::Segment> to_a = ib.sent;
    ia.sent.clear();
    ib.sent.clear();
    for (const auto& s : to_b) {
        wire_a_to_b.push_back(s);
        b.on_segment(now, ib, s);
    }
    for (const auto& s : to_a) {
        wire_b_to_a.push_back(s);
        a.on_segment(now, ia, s);
    }
    return !to_b.empty() || !to_a.empty();
}

void Pair::run(int max_rounds) {
    for (int i = 0; i < max_rounds && exchange(); ++i) {
    }
    CHECK(ia.sent.empty());
    CHECK(ib.sent.empty());
}

tcp::Segment expect_sent(RecordingIo& io, const std::string& flags, tcp::Seq seq, tcp::Seq ack) {
    INFO("segments sent: " << io.sent.size());
    REQUIRE(io.sent.size() == 1);
    const tcp::Segment s = io.sent.front();
    INFO("sent " << tcp::format_segment(s));
    CHECK(tcp::format_flags(s.flags) == flags);
    CHECK(s.seq == seq);
    if (s.ack_set()) CHECK(s.ack == ack);
    return s;
}

void expect_silent(const RecordingIo& io) {
    INFO("unexpected segment: " << (io.sent.empty() ? std::string() : tcp::format_segment(io.sent.front())));
    CHECK(io.sent.empty());
}

}  // namespace tcpsim::test
