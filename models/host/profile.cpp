#include "host/profile.hpp"

namespace tcpsim::host {

SysctlResult set_sysctl(Profile& p, const std::string& name, std::int64_t value) {
    auto it = p.sysctls.find(name);
    if (it == p.sysctls.end()) return SysctlResult::Unknown;
    // The sysctls the model implements (FreeBSD names; sys/netinet/tcp_input.c, tcp_subr.c,
    // tcp_timer.c, tcp_hostcache.c).
    if (name == "net.inet.tcp.insecure_syn") {
        p.tcp.rfc5961_syn = value == 0;  // insecure_syn=1: RFC 793 handling of an in-window SYN
    } else if (name == "net.inet.tcp.insecure_rst") {
        p.tcp.rfc5961_rst = value == 0;  // insecure_rst=1: any in-window RST resets
    } else if (name == "net.inet.tcp.rfc1323") {
        p.tcp.timestamps = value != 0;  // RFC 1323 timestamps (window scaling is not modelled)
    } else if (name == "net.inet.tcp.drop_synfin") {
        p.tcp.drop_synfin = value != 0;
    } else if (name == "net.inet.tcp.rexmit_initial") {
        if (value <= 0) return SysctlResult::NotModelled;
        p.tcp.rto_initial = Duration::ms(value);  // milliseconds
    } else if (name == "net.inet.tcp.msl") {
        if (value <= 0) return SysctlResult::NotModelled;
        p.tcp.msl = Duration::ms(value);
        p.tcp.time_wait = Duration::ns(0);  // TIME-WAIT = 2*msl
    } else if (name == "net.inet.tcp.sack.enable") {
        // SACK is not modelled: no SACK-permitted option is ever sent or compared, whatever the
        // value, so both values are simulated alike.
    } else if (name == "net.inet.tcp.hostcache.purgenow") {
        // An action (flush the host cache), not a setting: the model keeps no host cache.
    } else if (value != it->second) {
        return SysctlResult::NotModelled;
    }
    it->second = value;
    return SysctlResult::Applied;
}

}  // namespace tcpsim::host
