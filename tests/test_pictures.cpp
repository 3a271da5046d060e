// Issue #24: the pieces behind the pictures and captures. The packet bytes of a capture (IPv4
// and TCP checksums that verify, options laid out as on the wire), the capture filter's syntax,
// the SVG ladder (a lifeline per host, an arrow per segment, a cross per dropped one) and the
// state diagram's self-loops read from a run.
#include "fixture.hpp"

#include "teach/diagram.hpp"
#include "scenario/overrides.hpp"
#include "teach/pcap.hpp"
#include "teach/trace.hpp"
#include "world/world.hpp"

#include <string>

using namespace tcpsim;

namespace {

std::uint32_t ones_sum(const std::vector<std::uint8_t>& b, std::size_t from, std::size_t to, std::uint32_t sum = 0) {
    for (std::size_t i = from; i < to; i += 2) sum += static_cast<std::uint32_t>(b[i] << 8 | (i + 1 < to ? b[i + 1] : 0));
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return sum;
}

Scenario teaching(const std::string& name) {
    return load_scenario(std::string(TCPSIM_SOURCE_DIR) + "/scenarios/teaching/" + name + ".json");
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("pcap: a segment's IPv4 packet has checksums that verify and its options on the wire", "[pictures]") {
    tcp::Segment s;
    s.src = {0x0A000001, 40000};
    s.dst = {0x0A000002, 80};
    s.seq = 1000;
    s.ack = 5001;
    s.flags = tcp::flag::Syn | tcp::flag::Ack;
    s.wnd = 65535;
    s.mss = 1460;
    s.has_ts = true;
    s.tsval = 7;
    s.tsecr = 3;
    s.len = 3;  // odd: the checksum pads
    const std::vector<std::uint8_t> p = ipv4_packet(s, 42);
    REQUIRE(p.size() == 20 + 20 + 16 + 3);
    CHECK(ones_sum(p, 0, 20) == 0xFFFF);  // the IPv4 header checksum verifies
    const auto tcp_len = static_cast<std::uint32_t>(p.size() - 20);
    const std::uint32_t pseudo = 0x0A00 + 0x0001 + 0x0A00 + 0x0002 + 6 + tcp_len;
    CHECK(ones_sum(p, 20, p.size(), pseudo) == 0xFFFF);  // and the TCP checksum
    CHECK(p[20 + 12] >> 4 == 9);                          // data offset: 36 bytes of header
    CHECK(p[20 + 13] == (tcp::flag::Syn | tcp::flag::Ack));
    CHECK((p[40] == 2 && p[41] == 4 && (p[42] << 8 | p[43]) == 1460));  // MSS
    CHECK((p[44] == 1 && p[45] == 1 && p[46] == 8 && p[47] == 10));       // NOP NOP TS
    s.flags = tcp::flag::Syn;                                              // no ACK flag: a zero ack field
    const std::vector<std::uint8_t> q = ipv4_packet(s, 43);
    CHECK((q[28] | q[29] | q[30] | q[31]) == 0);
}

TEST_CASE("pcap: the filter's syntax and the size limit's units", "[pictures]") {
    const Scenario sc = teaching("normal-close");
    const PcapFilter f = parse_pcap_filter("host=client,tuple=10.0.0.1:40000-10.0.0.2:80,from=1s,to=2s", sc);
    tcp::Segment s;
    s.src = {0x0A000002, 80};
    s.dst = {0x0A000001, 40000};
    using namespace literals;
    CHECK(f.matches(SimTime::zero() + 1500_ms, s));  // either direction
    CHECK_FALSE(f.matches(SimTime::zero() + 2_s, s));  // `to` is not included
    s.dst.port = 40001;
    CHECK_FALSE(f.matches(SimTime::zero() + 1500_ms, s));
    CHECK_THROWS_AS(parse_pcap_filter("host=nobody", sc), ScenarioError);
    CHECK_THROWS_AS(parse_pcap_filter("port=80", sc), UsageError);
    CHECK_THROWS_AS(parse_pcap_filter("from=2s,to=1s", sc), UsageError);
    std::uint64_t n = 0;
    CHECK((parse_byte_size("100MB", n) && n == 100'000'000));
    CHECK((parse_byte_size("64MiB", n) && n == 64ULL << 20));
    CHECK((parse_byte_size("500k", n) && n == 500'000));
    CHECK_FALSE(parse_byte_size("10Q", n));
    CHECK_FALSE(parse_byte_size("MB", n));
}

TEST_CASE("pcap: a capture writer keeps to its limit and writes a pcap file", "[pictures]") {
    PcapWriter w(24 + 2 * (16 + 40));
    tcp::Segment s;
    s.flags = tcp::flag::Ack;
    for (int i = 0; i < 3; ++i) w.add(SimTime::zero(), s);
    CHECK(w.packets() == 2);
    CHECK(w.full());
    const std::string bytes = w.finish();
    CHECK(bytes.size() == 24 + 2 * (16 + 40));
    CHECK(bytes.substr(0, 4) == std::string("\x4d\x3c\xb2\xa1", 4));  // libpcap's nanosecond magic, little-endian
}

TEST_CASE("pictures: the SVG ladder of lost-final-ack draws both lifelines, its arrows and the dropped ACK", "[pictures]") {
    const Scenario sc = teaching("lost-final-ack");
    World w(sc, true);
    w.run();
    TraceHeader h;
    h.scenario = sc.file;
    h.host_names = {sc.hosts[0].name, sc.hosts[1].name};
    h.host_addrs = {"10.0.0.1", "10.0.0.2"};
    const std::string svg = format_ladder_svg(h, w.records());
    CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
    std::size_t sent = 0, dropped = 0;
    for (const TraceRecord& r : w.records()) {
        sent += r.kind == RecordKind::Send ? 1 : 0;
        dropped += r.kind == RecordKind::Drop || r.kind == RecordKind::Lost ? 1 : 0;
    }
    REQUIRE(dropped == 1);
    CHECK(count(svg, "marker-end=\"url(#arrow)\"") == sent);  // every delivered segment an arrow
    CHECK(count(svg, "DROPPED") == 1);
    CHECK(svg.find("s later</text>") != std::string::npos);  // the 2*MSL break
    CHECK(svg.find(">client</text>") != std::string::npos);
    CHECK(svg.find(">server</text>") != std::string::npos);
}

TEST_CASE("diagram: the self-loops of lost-final-ack: the LAST-ACK RTO and TIME-WAIT's restarted 2*MSL", "[pictures][diagram]") {
    const Scenario sc = teaching("lost-final-ack");
    World w(sc, true);
    w.run();
    const std::vector<std::uint64_t> loops = self_loop_hits(w.records());
    for (std::size_t i = 0; i < kSelfLoops.size(); ++i) {
        INFO(tcp::to_string(kSelfLoops[i].state) << " " << kSelfLoops[i].trigger);
        const bool taken = kSelfLoops[i].state == tcp::State::TimeWait || kSelfLoops[i].state == tcp::State::LastAck;
        CHECK((loops[i] > 0) == taken);
    }
    const std::string dot = to_dot(build_state_graph(), &w.rows_hit(), &loops);
    CHECK(dot.find("s10 -> s10 [label=\"FIN again / snd ACK, restart 2*MSL [x1]\"") != std::string::npos);
}
