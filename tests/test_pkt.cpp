// The packetdrill interpreter: the parser, and proof that the harness can fail. A passing script
// (an active open and close, written from RFC 9293 Figures 6 and 12; the advertised window stays
// 65535 because the 65700-byte buffer is capped by the 16-bit field) is mutated one expectation
// at a time; every mutation must turn it into a failure, never into a pass or a skip.
#include "fixture.hpp"

#include "pkt/runner.hpp"
#include "pkt/script.hpp"

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

TEST_CASE("pkt parser: valid packetdrill outside the subset is reported as unsupported, not guessed", "[pkt]") {
    // Each is packetdrill (google/packetdrill, nplab/packetdrill parser.y) that the harness does
    // not run: the script is SKIPPED, not an error.
    const std::vector<std::string> valid = {
        "--ip_version=ipv4-mapped-ipv6\n",
        "--ip_version=ipv4_mapped_ipv6\n",
        "--mtu=1500\n",
        "0 < S 0:0(0) win 1 <md5 abc>\n",
        "0 < S 0:0(0) win 1 <mss MSS>\n",                // a symbol from --define
        "0 < SEW 0:0(0) win 1\n",                      // ECN flags
        "0 < [ect0] S 0:0(0) win 1\n",                 // IP info
        "0 < udp (10)\n",                              // not TCP
        "0 < encap S 0:0(0) win 1\n",                  // a packet prefix newer than the harness
        "0 < S 0:0(0) urg 1 win 1\n",                  // urgent pointer
        "0 < S 0:0(0)! win 1\n",                       // absolute sequence numbers
        "0 < S 0:0(0) win 1 <FO abcd>\n",             // Fast Open
        "0 `echo a\nb`\n",                            // a command over two lines
        "0 close(3) = SOME_SYMBOL\n",                  // a symbolic result
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+99999999999 close(3) = 0\n",  // a time too far
    };
    for (const std::string& text : valid) {
        INFO(text);
        CHECK_THROWS_AS(parse_script(text, "t.pkt", {}), Unsupported);
    }
}

TEST_CASE("pkt parser: time ranges, blocking calls, init commands and SACK blocks", "[pkt]") {
    // parser.y event_time ("+a~+b", "a~b"), "time ... time syscall", init_command, sack_block_list.
    const Script sc = parse_script("`sysctl -w net.ipv4.tcp_sack=1`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                   "+0...3 connect(3, ..., ...) = -1 ETIMEDOUT (Connection timed out)\n"
                                   "+.18~+.24 > . 1:1(0) ack 1 <nop,nop,sack 301:401 101:201>\n1~2 > . 1:1(0) ack 1\n",
                                   "t.pkt", {});
    REQUIRE(sc.lines.size() == 5);
    CHECK(sc.lines[0].untimed);
    CHECK(sc.lines[0].command == "sysctl -w net.ipv4.tcp_sack=1");
    CHECK(sc.lines[2].call.name == "connect");
    CHECK(sc.lines[2].block_end_us == 3'000'000);
    CHECK(sc.lines[2].call.errno_name == "ETIMEDOUT");
    CHECK(sc.lines[3].time_kind == TimeKind::Relative);
    CHECK(sc.lines[3].time_us == 180'000);
    CHECK(sc.lines[3].time_end_us == 240'000);
    REQUIRE(sc.lines[3].seg.options.size() == 3);
    const auto& blocks = sc.lines[3].seg.options[2].blocks;
    REQUIRE(blocks.size() == 2);
    CHECK(blocks[0] == std::pair<std::uint32_t, std::uint32_t>{301, 401});
    CHECK(blocks[1] == std::pair<std::uint32_t, std::uint32_t>{101, 201});
    CHECK(sc.lines[4].time_kind == TimeKind::Absolute);
    CHECK(sc.lines[4].time_end_us == 2'000'000);
    // A range that ends before it starts is not packetdrill.
    CHECK_THROWS_AS(parse_script("+.2~+.1 > . 1:1(0) ack 1\n", "t.pkt", {}), SyntaxError);
}

TEST_CASE("pkt parser: an event goes on over lines while a bracket is open or its result is to come", "[pkt]") {
    // Newlines are white space to packetdrill's lexer: these are two events, at lines 1 and 4.
    const Script sc = parse_script("0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1,\n   linger=0},\n 8)\n"
                                   "  = 0\n+0 > S 0:0(0) win 1 <mss 1460,\n nop>\n",
                                   "t.pkt", {});
    REQUIRE(sc.lines.size() == 2);
    CHECK(sc.lines[0].lineno == 1);
    CHECK(sc.lines[0].call.args.size() == 5);
    CHECK(sc.lines[0].call.result == 0);
    CHECK(sc.lines[1].lineno == 5);
    CHECK(sc.lines[1].seg.options.size() == 2);
}

TEST_CASE("pkt parser: text that is not packetdrill is an error at its line, not a skip", "[pkt]") {
    const std::vector<std::pair<std::string, int>> bad = {
        {"This is a note about TCP, not a script.\n", 1},
        {"\x7f" "ELF\x02\x01\x01\n\x00\x00\x03\n", 1},  // binary junk
        {"-1 close(3) = 0\n", 1},                                // packetdrill: "negative time"
        {"0 hello world\n", 1},
        {"0\n", 1},
        {"0 < S 0:0(0) win 1 <mss 1460\n", 1},
        {"0 < X 0:0(0) win 1\n", 1},
        {"0 < S\n", 1},
        {"0 < S 0-0\n", 1},
        {"0 < S 0:5(0) win 1\n", 1},                // packetdrill: inconsistent SEQ and length
        {"0 < S 0:0(0) win 70000\n", 1},            // packetdrill: window out of range
        {"0 < S 0:0(0) ack 1x\n", 1},
        {"0 < S 0:0(0) ack\n", 1},
        {"0 < S 0:0(0) frobs 1\n", 1},
        {"0 < S 0:0(0) win 1 <mss 99999>\n", 1},
        {"0 < S 0:0(0) win 1 <wscale 300>\n", 1},
        {"0 < S 0:0(0) win 1 <mss 1460,,nop>\n", 1},
        {"0 < S 0:0(0) win 1 <TS val 1>\n", 1},
        {"0 socket(..., SOCK_STREAM, IPPROTO_TCP\n", 1},
        {"0 socket(..., SOCK_STREAM, IPPROTO_TCP)\n", 1},
        {"0 close(3) = 3!\n", 1},
        {"0 a b(3) = 0\n", 1},
        {"0 `sysctl -w a=1\n0 close(3) = 0\n", 1},
        {"0 %{ assert tcpi_state == 1\n+0 close(3) = 0\n", 1},
        {"#define X 1\n0 close(3) = 0\n", 1},
        {"#ifdef\n", 1},
        {"#else\n", 1},
        {"#endif\n", 1},
        {"0 close(3) = 0\n#ifdef X\n0 close(3) = 0\n", 2},
        {"0 close(3) = 0\n/* not closed\n0 close(3) = 0\n", 2},
        {"--tolerance_usecs=abc\n", 1},
        {"--ip_version=ipv5\n", 1},
        {"--=1\n", 1},
        // An unsupported line before the bad one does not hide it.
        {"0 < S 0:0(0) win 1 <md5 abc>\n0 hello world\n", 2},
    };
    for (const auto& [text, line] : bad) {
        INFO(text);
        try {
            (void)parse_script(text, "t.pkt", {});
            FAIL_CHECK("parsed");
        } catch (const SyntaxError& e) {
            CHECK(e.lineno == line);
            CHECK(!e.reason.empty());
        } catch (const Unsupported& u) {
            FAIL_CHECK("unsupported at line " << u.lineno << ": " << u.reason);
        }
    }
}

TEST_CASE("pkt parser: a script without events is an error", "[pkt]") {
    CHECK_THROWS_AS(parse_script("", "t.pkt", {}), SyntaxError);
    CHECK_THROWS_AS(parse_script("// only a comment\n--tolerance_usecs=1000\n", "t.pkt", {}), SyntaxError);
    CHECK_THROWS_AS(parse_script("#ifdef Linux\n0 close(3) = 0\n#endif\n", "t.pkt", {"FreeBSD"}), SyntaxError);
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
        {"+0 > . 12:12(0) ack 102 win 65535\n", ""},                                          // extra at the end
    };
    for (const auto& [from, to] : mutations) {
        const ScriptResult r = run_text(replace(kGood, from, to));
        INFO("mutation: " << from << " -> " << to << " | " << r.reason);
        CHECK(r.verdict == Verdict::Failed);
    }
}

TEST_CASE("pkt: a file that is not a script is an ERROR with its line, not SKIPPED", "[pkt]") {
    const ScriptResult prose = run_text("A packetdrill script plays the remote peer.\nThis file only says so.\n");
    CHECK(prose.verdict == Verdict::Error);
    CHECK(prose.lineno == 1);
    CHECK(prose.reason.find("expected a time") != std::string::npos);
    const ScriptResult junk = run_text(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
    CHECK(junk.verdict == Verdict::Error);
    CHECK(junk.lineno == 1);
    CHECK(junk.reason.find("\\x89") != std::string::npos);  // a byte that is not text is shown escaped
    const ScriptResult empty = run_text("");
    CHECK(empty.verdict == Verdict::Error);
    RunOptions opt;
    const ScriptResult folder = run_script(std::filesystem::temp_directory_path().string(), opt);
    CHECK(folder.verdict == Verdict::Error);
    CHECK(folder.reason.find("cannot read") != std::string::npos);
    // A well-formed script with an unsupported construct is still SKIPPED.
    CHECK(run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < SE 0:0(0) win 1\n").verdict == Verdict::Skipped);
}

TEST_CASE("pkt: a segment the host sends after the last line, within the tolerance, is a failure", "[pkt]") {
    // A passive close that stops after delivering the peer's FIN: the host ACKs it at once, and
    // no line expects that ACK.
    const std::string open = R"(--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < S 0:0(0) win 32767 <mss 1460>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.1 < . 1:1(0) ack 1 win 32767
+0 accept(3, ..., ...) = 4
+0.1 < F. 1:1(0) ack 1 win 32767
)";
    const ScriptResult r = run_text(open);
    CHECK(r.verdict == Verdict::Failed);
    CHECK(r.reason == "unexpected outbound packet");
    CHECK(r.actual.find("> . 1:1(0) ack 2") != std::string::npos);
    CHECK(r.lineno == 9);
    // Expecting the ACK passes.
    const ScriptResult ok = run_text(open + "+0 > . 1:1(0) ack 2 win 65535\n");
    INFO(ok.reason << " | " << ok.actual);
    CHECK(ok.verdict == Verdict::Passed);
    // A segment due later than one tolerance after the last line is not the script's business:
    // the harness stops there (packetdrill ends the script at its last line).
    const ScriptResult later = run_text(open + "+0 > . 1:1(0) ack 2 win 65535\n+0 close(4) = 0\n+0 > F. 1:1(0) ack 2 win 65535\n");
    INFO(later.reason << " | " << later.actual);
    CHECK(later.verdict == Verdict::Passed);
}

TEST_CASE("pkt: what a close() sends with no packet line after it is teardown, not checked", "[pkt]") {
    // packetdrill stops sniffing at the last line and resets the connection (run.c
    // close_all_sockets()): the FreeBSD suite ends scripts with close() and no line for its FIN
    // or RST.
    const std::string est = R"(--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < S 0:0(0) win 32767 <mss 1460>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.1 < . 1:1(0) ack 1 win 32767
+0 accept(3, ..., ...) = 4
)";
    const ScriptResult teardown = run_text(est + "+0 close(4) = 0\n+0 close(3) = 0\n");
    INFO(teardown.reason << " | " << teardown.actual);
    CHECK(teardown.verdict == Verdict::Passed);
    // With a packet line after it, the close() is part of the test: its FIN must be expected.
    const ScriptResult checked = run_text(est + "+0 close(4) = 0\n+0.1 < . 1:1(0) ack 1 win 32767\n");
    CHECK(checked.verdict == Verdict::Failed);
    CHECK(checked.actual.find("> F. 1:1(0)") != std::string::npos);
    // The reply to a last inbound segment is still checked when a close() follows it.
    const ScriptResult reply = run_text(est + "+0.1 < F. 1:1(0) ack 1 win 32767\n+0 close(4) = 0\n");
    CHECK(reply.verdict == Verdict::Failed);
    CHECK(reply.actual.find("> . 1:1(0) ack 2") != std::string::npos);
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
