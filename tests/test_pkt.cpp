// The packetdrill interpreter: the parser, and proof that the harness can fail. A passing script
// (an active open and close, written from RFC 9293 Figures 6 and 12; the advertised window stays
// 65535 because the 65700-byte buffer is capped by the 16-bit field) is mutated one expectation
// at a time; every mutation must turn it into a failure, never into a pass or a skip.
#include "fixture.hpp"

#include "pkt_runner.hpp"
#include "pkt_script.hpp"

#include <cstdio>
#include <filesystem>
#include <unistd.h>
#include <fstream>

using namespace tcpsim;
using namespace tcpsim::pkt;

namespace {

const std::string kGood = R"(// active open, data both ways, active close
--tolerance_usecs=10000
0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
+0.1 < S. 0:0(0) ack 1 win 32767 <mss 1460>
+0 > . 1:1(0) ack 1 win 65535
+0.1 < P. 1:101(100) ack 1 win 32767
+0 > . 1:1(0) ack 101 win 65535
+0 read(3, ..., 1000) = 100
+0 write(3, ..., 10) = 10
+0 > P. 1:11(10) ack 101 win 65535
+0.1 < . 101:101(0) ack 11 win 32767
+0 close(3) = 0
+0 > F. 11:11(0) ack 101 win 65535
+0.1 < F. 101:101(0) ack 12 win 32767
+0 > . 12:12(0) ack 102 win 65535
)";

ScriptResult run_text(const std::string& text, const std::string& profile = "rfc9293") {
    static int counter = 0;
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("tcpsim-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".pkt"))
                                 .string();
    {
        std::ofstream out(path);
        out << text;
    }
    RunOptions opt;
    opt.profile = profile;
    ScriptResult r = run_script(path, opt);
    std::remove(path.c_str());
    return r;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("pkt parser: times, packets, calls, commands, #ifdef and comments", "[pkt]") {
    const std::string text = R"(--tolerance_usecs=75000
/* a block
   comment */
 0.00 `sysctl -w net.inet.tcp.insecure_rst=1`
+0.10 < S  0:0(0) win 32767 <mss 1460,sackOK,eol,eol>
#ifdef FreeBSD
+0.00 > S. ...(0) ack 1 win 65535 <mss 1460>
#else
* > R. 0:0(0) ack 1 win 0
#endif
+0.00 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.00 %{ assert tcpi_state == TCPI_CLOSED }%
)";
    const Script a = parse_script(text, "t.pkt", {"FreeBSD"});
    CHECK(a.tolerance_us == 75000);
    REQUIRE(a.lines.size() == 6);
    CHECK(a.lines[0].kind == LineKind::Command);
    CHECK(a.lines[0].command == "sysctl -w net.inet.tcp.insecure_rst=1");
    CHECK(a.lines[1].time_kind == TimeKind::Relative);
    CHECK(a.lines[1].time_us == 100000);
    CHECK(a.lines[1].seg.inbound);
    CHECK(a.lines[1].seg.options.size() == 4);
    CHECK(a.lines[2].seg.any_seq);
    CHECK(a.lines[2].seg.ack == 1);
    CHECK(a.lines[3].call.args[3] == "[ECONNRESET]");
    CHECK(a.lines[4].call.result == -1);
    CHECK(a.lines[4].call.errno_name == "EINPROGRESS");
    CHECK(a.lines[5].kind == LineKind::Python);
    const Script b = parse_script(text, "t.pkt", {});
    REQUIRE(b.lines.size() == 6);
    CHECK(b.lines[2].time_kind == TimeKind::Any);
    CHECK(b.lines[2].seg.flags == "R.");
}

TEST_CASE("pkt parser: constructs outside the subset are reported, not guessed", "[pkt]") {
    CHECK_THROWS_AS(parse_script("--ip_version=ipv4-mapped-ipv6\n", "t.pkt", {}), Unsupported);
    CHECK_THROWS_AS(parse_script("--mtu=1500\n", "t.pkt", {}), Unsupported);
    CHECK_THROWS_AS(parse_script("0 < S 0:0(0) win 1 <md5 abc>\n", "t.pkt", {}), Unsupported);
    CHECK_THROWS_AS(parse_script("#ifdef X\n0 close(3) = 0\n", "t.pkt", {}), Unsupported);
}

TEST_CASE("pkt: the baseline script passes", "[pkt]") {
    const ScriptResult r = run_text(kGood);
    INFO(r.reason << " | " << r.line << " | " << r.expected << " | " << r.actual);
    CHECK(r.verdict == Verdict::Passed);
}

TEST_CASE("pkt: every wrong expectation is a failure", "[pkt]") {
    const std::vector<std::pair<std::string, std::string>> mutations = {
        {"+0 > . 1:1(0) ack 1 win 65535", "+0 > F. 1:1(0) ack 1 win 65535"},                   // flags
        {"+0 > . 1:1(0) ack 101 win 65535", "+0 > . 1:1(0) ack 100 win 65535"},               // ACK
        {"+0 > . 1:1(0) ack 101 win 65535", "+0 > . 1:1(0) ack 101 win 65435"},               // window
        {"+0 > P. 1:11(10) ack 101 win 65535", "+0 > P. 1:12(11) ack 101 win 65535"},         // length
        {"+0 > F. 11:11(0) ack 101 win 65535", "+0 > F. 12:12(0) ack 101 win 65535"},         // SEQ
        {"+0 > F. 11:11(0) ack 101 win 65535", "+0.05 > F. 11:11(0) ack 101 win 65535"},      // timing
        {"+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>",
         "+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK>"},                           // options
        {"+0 read(3, ..., 1000) = 100", "+0 read(3, ..., 1000) = 99"},                        // result
        {"+0 > . 1:1(0) ack 101 win 65535\n", ""},                                            // extra packet
        {"+0.1 < F. 101:101(0) ack 12 win 32767\n", ""},                                      // no reply due
    };
    for (const auto& [from, to] : mutations) {
        const ScriptResult r = run_text(replace(kGood, from, to));
        INFO("mutation: " << from << " -> " << to << " | " << r.reason);
        CHECK(r.verdict == Verdict::Failed);
    }
}

TEST_CASE("pkt: unknown sysctls and unsupported calls skip the script with the reason", "[pkt]") {
    const ScriptResult a = run_text("0 `sysctl -w net.inet.tcp.no_such_knob=1`\n");
    CHECK(a.verdict == Verdict::Skipped);
    CHECK(a.reason.find("no_such_knob") != std::string::npos);
    const ScriptResult b = run_text("0 `sysctl -w net.inet.tcp.blackhole=2`\n", "freebsd");
    CHECK(b.verdict == Verdict::Skipped);
    CHECK(b.reason.find("not modelled") != std::string::npos);
    const ScriptResult c = run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 sendfile(3, 4, 0, 10) = 10\n");
    CHECK(c.verdict == Verdict::Skipped);
}

TEST_CASE("pkt: numbers out of range skip the script at their line, not overflow", "[pkt]") {
    // Found by fuzzing: these overflowed 64-bit arithmetic (UBSan) or escaped as "stoi" at line 0.
    const ScriptResult t = run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+99999999999999999999 close(3) = 0\n");
    CHECK(t.verdict == Verdict::Skipped);
    CHECK(t.lineno == 2);
    const ScriptResult u = run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+99999999999 close(3) = 0\n");
    CHECK(u.verdict == Verdict::Skipped);
    CHECK(u.lineno == 2);
    const ScriptResult m = run_text("0 `sysctl -w net.inet.tcp.msl=9223372036854775807`\n", "freebsd");
    CHECK(m.verdict == Verdict::Skipped);
    CHECK(m.reason.find("not a valid value") != std::string::npos);
    const ScriptResult k = run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 `sockstat -4 -p 80 | grep -c LISTEN | grep 99999999999999`\n",
                                    "freebsd");
    CHECK(k.verdict == Verdict::Skipped);
    CHECK(k.lineno == 2);
    CHECK(k.reason.find("out of range") != std::string::npos);
    // Still fine just below: 99,999,999 s is a time (the script then runs to it).
    const ScriptResult ok = run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+99999999 close(3) = 0\n");
    CHECK(ok.verdict == Verdict::Passed);
}
