// The shipped profiles against the reference's parameter table (tcp-stack-semantics.md §7, §2.1,
// §3, §4): TIME-WAIT length, ephemeral range, algorithm, reuse defaults, TIME-WAIT rules.
#include "fixture.hpp"

#include "profiles.hpp"

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
