// The shipped profiles against the reference's parameter table (tcp-stack-semantics.md §7, §2.1,
// §3, §4): TIME-WAIT length, ephemeral range, algorithm, reuse defaults, TIME-WAIT rules.
#include "fixture.hpp"

#include "scenario/profiles.hpp"

using namespace tcpsim;
using namespace tcpsim::literals;

namespace {
Duration time_wait_of(const host::Profile& p) {
    return p.stack.linux_minisock ? p.stack.linux_tw.length : p.tcp.time_wait_length();
}
}  // namespace

TEST_CASE("profiles: every shipped profile loads", "[profiles]") {
    const auto names = profile_names();
    for (const char* want : {"linux", "linux-5.10", "linux-4.9", "freebsd", "macos", "windows", "windows-legacy",
                             "rfc793", "rfc9293"}) {
        INFO(want);
        CHECK(std::find(names.begin(), names.end(), want) != names.end());
    }
    for (const auto& n : names) {
        INFO(n);
        CHECK_NOTHROW(load_profile(n));
    }
    CHECK_THROWS_AS(load_profile("plan9"), ScenarioError);
}

TEST_CASE("profiles: TIME-WAIT lengths and port ranges as in the reference table", "[profiles]") {
    struct Row {
        const char* name;
        Duration tw;
        std::uint16_t lo, hi;
    };
    for (const Row& r : {Row{"linux", 60_s, 32768, 60999}, Row{"linux-5.10", 60_s, 32768, 60999},
                         Row{"linux-4.9", 60_s, 32768, 60999}, Row{"freebsd", 60_s, 10000, 65535},
                         Row{"macos", 30_s, 49152, 65535}, Row{"windows", 120_s, 49152, 65535},
                         Row{"windows-legacy", 240_s, 1025, 5000}, Row{"rfc793", 240_s, 1024, 65535}}) {
        INFO(r.name);
        const host::Profile p = load_profile(r.name);
        CHECK(time_wait_of(p) == r.tw);
        CHECK(p.stack.ports.lo == r.lo);
        CHECK(p.stack.ports.hi == r.hi);
    }
}

TEST_CASE("profiles: Linux behaviours and defaults by version", "[profiles][linux]") {
    const host::Profile l6 = load_profile("linux");
    CHECK(l6.stack.linux_minisock);
    CHECK(l6.stack.ports.connect_algo == host::ConnectPortAlgo::LinuxDoubleHash);
    CHECK(l6.stack.tw_reuse == 2);  // loopback only since 2018
    CHECK(l6.stack.tw_reuse_delay == 1000_ms);
    CHECK(l6.tcp.syn_linear_timeouts == 4);  // 6.5+
    const host::Profile l510 = load_profile("linux-5.10");
    CHECK(l510.stack.ports.connect_algo == host::ConnectPortAlgo::LinuxHash);
    CHECK(l510.tcp.syn_linear_timeouts == 0);
    const host::Profile l49 = load_profile("linux-4.9");
    CHECK(l49.stack.tw_reuse == 0);
    host::Profile p = l49;
    CHECK(host::set_sysctl(p, "net.ipv4.tcp_tw_recycle", "1") == host::SysctlResult::Applied);
    CHECK(p.stack.tw_recycle);
    host::Profile l6b = l6;
    CHECK(host::set_sysctl(l6b, "net.ipv4.tcp_tw_recycle", "1") == host::SysctlResult::Unknown);  // removed in 4.12
    CHECK(host::set_sysctl(p, "net.ipv4.tcp_tw_reuse_delay", "5000") == host::SysctlResult::Unknown);  // 6.14+ only
}

TEST_CASE("profiles: sysctls change the model, bad values are refused", "[profiles]") {
    host::Profile p = load_profile("linux");
    CHECK(host::set_sysctl(p, "net.ipv4.ip_local_port_range", "40000 40015") == host::SysctlResult::Applied);
    CHECK(p.stack.ports.lo == 40000);
    CHECK(p.stack.ports.hi == 40015);
    CHECK(host::set_sysctl(p, "net.ipv4.ip_local_port_range", "50000 40000") == host::SysctlResult::BadValue);
    CHECK(host::set_sysctl(p, "net.ipv4.tcp_tw_reuse", "1") == host::SysctlResult::Applied);
    CHECK(p.stack.tw_reuse == 1);
    CHECK(host::set_sysctl(p, "net.ipv4.tcp_max_tw_buckets", "4") == host::SysctlResult::Applied);
    CHECK(p.stack.max_tw_buckets == 4);
    CHECK(host::set_sysctl(p, "net.ipv4.ip_local_reserved_ports", "40000-40002,40010") == host::SysctlResult::Applied);
    CHECK(p.stack.ports.reserved.size() == 4);
    CHECK(host::set_sysctl(p, "net.ipv4.no_such", "1") == host::SysctlResult::Unknown);
}

TEST_CASE("profiles: SYN in TIME-WAIT rules differ: linux SEQ-or-TS, freebsd SEQ, rfc793 never", "[profiles]") {
    CHECK(load_profile("linux").stack.linux_minisock);
    CHECK(load_profile("freebsd").tcp.time_wait_input == tcp::TimeWaitInput::FreeBsd);
    const host::Profile r = load_profile("rfc793");
    CHECK(r.tcp.syn_in_time_wait == tcp::SynInTimeWait::Never);
    CHECK(r.tcp.rst_in_time_wait == tcp::RstInTimeWait::Close);
    CHECK_FALSE(r.tcp.rfc5961_rst);
}

TEST_CASE("profiles [macos]: XNU's values as its source gives them", "[profiles][xnu]") {
    const host::Profile m = load_profile("macos");
    // tcp_timer.h "#define TCPTV_MSL ( 15*TCP_RETRANSHZ)"; tcp_input.c add_to_time_wait(tp, 2 * tcp_msl).
    CHECK(m.tcp.time_wait_length() == 30_s);
    // in_pcb.c ipport_firstauto = IPPORT_HIFIRSTAUTO (49152), ipport_lastauto = IPPORT_HILASTAUTO (65535).
    CHECK(m.stack.ports.lo == 49152);
    CHECK(m.stack.ports.hi == 65535);
    // tcp_subr.c tcp_use_randomport = 0: in_pcbbind() walks on from ipi_lastport; its wildcard
    // lookup refuses any port a PCB holds.
    CHECK(m.stack.ports.connect_algo == host::ConnectPortAlgo::Sequential);
    CHECK(m.stack.ports.autobind_port_per_host);
    CHECK(m.stack.ports.bind_rule == host::BindRule::Bsd);
    // tcp_input.c: no tcp_twcheck(); TIME_WAIT takes the generic path.
    CHECK(m.tcp.time_wait_input == tcp::TimeWaitInput::Xnu);
    // tcp_subr.c tcp_do_timestamps = 1.
    CHECK(m.tcp.timestamps);
    // tcp_timer.c tcp_syn_backoff[] = {1, 1, 1, 1, 1, 2, 4, 8, 16, 32, 64, ...} at a 1 s RTO
    // (TCPTV_RTOBASE): SYNs at 0,1,2,3,4,5,7,11,19,35,67 s; TCPTV_KEEP_INIT 75 s ends the attempt.
    CHECK(m.tcp.rto_initial == 1_s);
    CHECK(m.tcp.syn_linear_timeouts == 4);
    CHECK(m.tcp.syn_retries == 6);
    CHECK(m.tcp.handshake_timeout == 75_s);
    // SYN-RECEIVED retransmits with tcp_backoff[] = {1, 2, 4, ...}: 0,1,3,7,15,31,63 s, then 75 s.
    CHECK(m.tcp.synack_retries == 6);
    // tcp_timer.h TCP_MAXRXTSHIFT 12, TCPTV_REXMTMAX 64 s, TCPTV_FINWAIT2 60 s.
    CHECK(m.tcp.data_retries == 12);
    CHECK(m.tcp.rto_max == 64_s);
    CHECK(m.tcp.fin_wait2_timeout == 60_s);
    host::Profile r = m;
    CHECK(host::set_sysctl(r, "net.inet.tcp.randomize_ports", "1") == host::SysctlResult::Applied);
    CHECK(r.stack.ports.connect_algo == host::ConnectPortAlgo::RandomStart);
    CHECK(r.stack.ports.autobind_port_per_host);
}

TEST_CASE("profiles [windows]: documented defaults; the rest is a named assumption with its experiment", "[profiles][windows]") {
    const host::Profile w = load_profile("windows");
    // KB 929851: 49152-65535 since Vista / Server 2008; BizTalk guide: TcpTimedWaitDelay 0x78 = 120 s.
    CHECK(w.stack.ports.lo == 49152);
    CHECK(w.stack.ports.hi == 65535);
    CHECK(w.tcp.time_wait_length() == 120_s);
    // "Using SO_REUSEADDR and SO_EXCLUSIVEADDRUSE": SO_REUSEADDR binds over a port in use.
    CHECK(w.stack.ports.bind_rule == host::BindRule::Windows);
    const host::Profile l = load_profile("windows-legacy");
    // MaxUserPort default 5000, first ephemeral port 1025 (Cable Guy, Dec. 2005); KB Q149532 240 s.
    CHECK(l.stack.ports.lo == 1025);
    CHECK(l.stack.ports.hi == 5000);
    CHECK(l.tcp.time_wait_length() == 240_s);
    // HSC (measured): "dynamic ports are allocated incrementally"; a wildcard bind holds the port.
    CHECK(l.stack.ports.connect_algo == host::ConnectPortAlgo::Sequential);
    CHECK(l.stack.ports.autobind_port_per_host);
    // TcpMaxConnectRetransmissions 2, first retransmission after 3 s, doubling.
    CHECK(l.tcp.syn_retries == 2);
    CHECK(l.tcp.rto_initial == 3_s);
    for (const char* name : {"windows", "windows-legacy", "macos"}) {
        INFO(name);
        const host::Profile p = load_profile(name);
        CHECK_FALSE(p.assumptions.empty());
        for (const auto& a : p.assumptions) {
            CHECK_FALSE(a.behaviour.empty());
            CHECK_FALSE(a.experiment.empty());
        }
    }
    // Every Windows cell the README once marked "(assumed)" is now a named assumption.
    auto named = [&](const host::Profile& p, const std::string& b) {
        return std::any_of(p.assumptions.begin(), p.assumptions.end(), [&](const auto& a) { return a.behaviour == b; });
    };
    CHECK(named(w, "connect() port choice"));
    CHECK(named(w, "SYN in TIME-WAIT"));
    CHECK(named(l, "SYN in TIME-WAIT"));
}
