#include "host/profile.hpp"

#include "host/linux_sysctls.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <sstream>

namespace tcpsim::host {

namespace {
bool to_int(const std::string& s, std::int64_t& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtoll(s.c_str(), &end, 10);
    return *end == '\0';
}
}  // namespace

SysctlResult set_sysctl(Profile& p, const std::string& name, const std::string& value) {
    auto it = p.sysctls.find(name);
    if (it == p.sysctls.end()) return SysctlResult::Unknown;
    if (const auto linux = set_linux_tcp_sysctl(p, name, value)) return *linux;
    std::int64_t v = 0;
    const bool numeric = to_int(value, v);
    // -- FreeBSD (sys/netinet/tcp_input.c, tcp_subr.c, tcp_timer.c, tcp_hostcache.c)
    if (name == "net.inet.tcp.insecure_syn") {
        if (!numeric) return SysctlResult::BadValue;
        p.tcp.rfc5961_syn = v == 0;  // insecure_syn=1: RFC 793 handling of an in-window SYN
    } else if (name == "net.inet.tcp.insecure_rst") {
        if (!numeric) return SysctlResult::BadValue;
        p.tcp.rfc5961_rst = v == 0;  // insecure_rst=1: any in-window RST resets
    } else if (name == "net.inet.tcp.drop_synfin") {
        if (!numeric) return SysctlResult::BadValue;
        p.tcp.drop_synfin = v != 0;
    } else if (name == "net.inet.tcp.rexmit_initial") {
        // Milliseconds in an int (sys/kern/kern_sysctl.c sysctl_msec_to_ticks() reads it with
        // sysctl_handle_int()).
        if (!numeric || v <= 0 || v > INT32_MAX) return SysctlResult::BadValue;
        p.tcp.rto_initial = Duration::ms(v);
    } else if (name == "net.inet.tcp.msl") {
        // FreeBSD / macOS: MSL in milliseconds, an int (kern_sysctl.c sysctl_msec_to_ticks()); TIME-WAIT lasts
        // 2 * MSL (tcp_timer.h TCPTV_2MSL; capacity-cases.md case 6: msl 15000 -> 30 s, msl
        // 1000 -> 2 s).
        if (!numeric || v <= 0 || v > INT32_MAX) return SysctlResult::BadValue;
        p.tcp.msl = Duration::ms(v);
        p.tcp.time_wait = Duration::ns(0);  // TIME-WAIT = 2*msl
    } else if (name == "net.inet.tcp.rfc1323") {
        if (!numeric) return SysctlResult::BadValue;
        p.tcp.timestamps = v != 0;  // RFC 1323 timestamps (window scaling is not modelled)
    } else if (name == "net.inet.tcp.nolocaltimewait") {
        if (!numeric) return SysctlResult::BadValue;
        p.stack.nolocaltimewait = v != 0;
    } else if (name == "net.inet.tcp.sack.enable") {
        // SACK is not modelled: no SACK-permitted option is ever sent or compared, whatever the
        // value, so both values are simulated alike.
    } else if (name == "net.inet.tcp.hostcache.purgenow") {
        // An action (flush the host cache), not a setting: the model keeps no host cache.
    } else if (name == "net.inet.ip.portrange.first" || name == "net.inet.ip.portrange.last") {
        if (!numeric || v < 1 || v > 65535) return SysctlResult::BadValue;
        if (name == "net.inet.ip.portrange.first") p.stack.ports.lo = static_cast<std::uint16_t>(v);
        else p.stack.ports.hi = static_cast<std::uint16_t>(v);
    } else if (name == "net.inet.tcp.randomize_ports") {
        // XNU bsd/netinet/tcp_subr.c tcp_use_randomport (default 0), read by in_pcbbind(): 0 walks
        // on from the host's cursor, 1 starts the walk at a random port (in_pcb.c: "*lastport =
        // first + (rand_port % (first - last))"). Either way a port any PCB holds is skipped.
        if (!numeric) return SysctlResult::BadValue;
        p.stack.ports.connect_algo = v != 0 ? ConnectPortAlgo::RandomStart : ConnectPortAlgo::Sequential;
    // -- Linux (Documentation/networking/ip-sysctl.rst; reference §2.1)
    } else if (name == "net.ipv4.ip_local_port_range") {
        std::istringstream in(value);
        std::int64_t lo = 0, hi = 0;
        std::string rest;
        if (!(in >> lo >> hi) || (in >> rest) || lo < 1 || hi > 65535 || lo > hi) return SysctlResult::BadValue;
        p.stack.ports.lo = static_cast<std::uint16_t>(lo);
        p.stack.ports.hi = static_cast<std::uint16_t>(hi);
    } else if (name == "net.ipv4.ip_local_reserved_ports") {
        p.stack.ports.reserved.clear();
        std::string item;
        std::istringstream in(value);
        while (std::getline(in, item, ',')) {
            std::int64_t a = 0, b = 0;
            const auto dash = item.find('-');
            if (dash == std::string::npos) {
                if (!to_int(item, a)) return SysctlResult::BadValue;
                b = a;
            } else if (!to_int(item.substr(0, dash), a) || !to_int(item.substr(dash + 1), b)) {
                return SysctlResult::BadValue;
            }
            if (a < 1 || b > 65535 || a > b) return SysctlResult::BadValue;
            for (std::int64_t port = a; port <= b; ++port) p.stack.ports.reserved.insert(static_cast<std::uint16_t>(port));
        }
    } else if (name == "net.ipv4.tcp_tw_reuse") {
        if (!numeric || v < 0 || v > 2) return SysctlResult::BadValue;
        p.stack.tw_reuse = static_cast<int>(v);
    } else if (name == "net.ipv4.tcp_tw_reuse_delay") {
        if (!numeric || v < 1 || v > 60000) return SysctlResult::BadValue;
        p.stack.tw_reuse_delay = Duration::ms(v);
    } else if (name == "net.ipv4.tcp_timestamps") {
        if (!numeric || v < 0 || v > 2) return SysctlResult::BadValue;
        p.tcp.timestamps = v != 0;
        p.stack.linux_tw.timestamps = v != 0;
    } else if (name == "net.ipv4.tcp_max_tw_buckets") {
        if (!numeric || v < 0 || v > INT32_MAX) return SysctlResult::BadValue;  // an int (proc_dointvec)
        p.stack.max_tw_buckets = static_cast<std::uint32_t>(v);
    } else if (name == "net.ipv4.tcp_fin_timeout") {
        // Seconds, kept in jiffies in an int: proc_dointvec_jiffies() refuses a value above
        // INT_MAX / HZ (kernel/sysctl.c, do_proc_dointvec_jiffies_conv()).
        if (!numeric || v < 0 || v > INT32_MAX / std::max<std::int64_t>(p.stack.hz, 1)) return SysctlResult::BadValue;
        p.tcp.fin_wait2_timeout = Duration::s(v);
    } else if (name == "net.ipv4.tcp_rfc1337") {
        if (!numeric) return SysctlResult::BadValue;
        p.stack.linux_tw.rfc1337 = v != 0;
    } else if (name == "net.ipv4.tcp_syn_retries") {
        if (!numeric || v < 1 || v > 127) return SysctlResult::BadValue;
        p.tcp.syn_retries = static_cast<int>(v);
    } else if (name == "net.ipv4.tcp_synack_retries") {
        if (!numeric || v < 1 || v > 127) return SysctlResult::BadValue;
        p.tcp.synack_retries = static_cast<int>(v);
    } else if (name == "net.ipv4.tcp_tw_recycle") {
        if (!numeric) return SysctlResult::BadValue;
        p.stack.tw_recycle = v != 0;
    } else if (name == "net.ipv4.ip_autobind_reuse") {
        if (!numeric) return SysctlResult::BadValue;
        p.stack.ports.autobind_reuse = v != 0;
    } else if (name == "TcpTimedWaitDelay") {
        // Windows HKLM\...\Tcpip\Parameters\TcpTimedWaitDelay: seconds in TIME-WAIT, 30 to 300
        // (TechNet cc938217 / cc757512; capacity-cases.md case 5).
        if (!numeric || v < 30 || v > 300) return SysctlResult::BadValue;
        p.tcp.time_wait = Duration::s(v);
    } else if (name == "netsh.int.ipv4.dynamicport.tcp.start" || name == "netsh.int.ipv4.dynamicport.tcp.num") {
        // Windows Vista / Server 2008 and later: `netsh int ipv4 set dynamicport tcp start=S
        // num=N` (KB 929851; troubleshoot-tcpip-port-exhaust.md; capacity-cases.md case 5):
        // 49152 and 16384 by default, start at least 1025, at least 255 ports. The range is
        // start .. start + num - 1; a range past 65535 is refused by the scenario reader once
        // both are known (the order of the two settings does not matter).
        const bool start = name == "netsh.int.ipv4.dynamicport.tcp.start";
        if (!numeric || (start && (v < 1025 || v > 65535)) || (!start && (v < 255 || v > 64511))) return SysctlResult::BadValue;
        it->second = value;
        // The other one as set so far (while the profile itself is read, maybe not yet: its default).
        auto current = [&](const char* key, std::int64_t dflt) {
            std::int64_t x = 0;
            const auto f = p.sysctls.find(key);
            return f != p.sysctls.end() && to_int(f->second, x) ? x : dflt;
        };
        const std::int64_t lo = current("netsh.int.ipv4.dynamicport.tcp.start", 49152);
        const std::int64_t num = current("netsh.int.ipv4.dynamicport.tcp.num", 16384);
        p.stack.ports.lo = static_cast<std::uint16_t>(lo);
        p.stack.ports.hi = static_cast<std::uint16_t>(std::min<std::int64_t>(65535, lo + num - 1));
    } else if (name == "MaxUserPort" && p.name == "windows-legacy") {
        // Windows 2000/2003 HKLM\...\Tcpip\Parameters\MaxUserPort: the top of the 1025..5000
        // range, 5000 to 65534 (KB Q149532 via reference/tcp-stack-semantics.md §4; capacity-cases.md
        // case 5: 1025-5000 is 3,976 ports).
        if (!numeric || v < 5000 || v > 65534) return SysctlResult::BadValue;
        p.stack.ports.hi = static_cast<std::uint16_t>(v);
    } else if (value != it->second) {
        return SysctlResult::NotModelled;
    }
    it->second = value;
    return SysctlResult::Applied;
}

}  // namespace tcpsim::host
