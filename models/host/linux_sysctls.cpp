#include "host/linux_sysctls.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string_view>

namespace tcpsim::host {

namespace {

bool to_int(const std::string& s, std::int64_t& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtoll(s.c_str(), &end, 0);  // 0x70403 (tcp_fastopen) as well as 1
    return *end == '\0';
}

// "min default max" (tcp_rmem, tcp_wmem): three byte counts, min <= default <= max.
bool three_sizes(const std::string& v, std::array<std::int64_t, 3>& out) {
    std::istringstream in(v);
    std::string rest;
    if (!(in >> out[0] >> out[1] >> out[2]) || (in >> rest)) return false;
    return out[0] > 0 && out[0] <= out[1] && out[1] <= out[2] && out[2] <= INT32_MAX;
}

// Mechanisms the model does not have, so that no value of these changes what it simulates:
// congestion control and pacing (segments go out as the window allows), loss recovery other
// than the retransmission timeout (fast retransmit, RACK/TLP, F-RTO, reordering), TSO sizing,
// send-buffer limits (writes never block), TCP Fast Open (a SYN's data waits for ESTABLISHED;
// scripts with the FO option are not run), the AccECN option (ECN flags are not run).
constexpr std::array<std::string_view, 15> kAbsentMechanisms = {
    "net.ipv4.tcp_congestion_control", "net.ipv4.tcp_pacing_ss_ratio", "net.ipv4.tcp_pacing_ca_ratio",
    "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_early_retrans", "net.ipv4.tcp_recovery",
    "net.ipv4.tcp_frto", "net.ipv4.tcp_fack", "net.ipv4.tcp_reordering", "net.ipv4.tcp_tso_win_divisor",
    "net.ipv4.tcp_wmem", "net.ipv4.tcp_notsent_lowat", "net.ipv4.tcp_fastopen", "net.ipv4.tcp_fastopen_key",
    "net.ipv4.tcp_ecn_option"};

}  // namespace

std::optional<SysctlResult> set_linux_tcp_sysctl(Profile& p, const std::string& name, const std::string& value) {
    auto it = p.sysctls.find(name);
    if (it == p.sysctls.end()) return std::nullopt;
    std::int64_t v = 0;
    const bool numeric = to_int(value, v);
    auto flag = [&](bool& target) {
        if (!numeric || v < 0) return SysctlResult::BadValue;
        target = v != 0;
        return SysctlResult::Applied;
    };
    SysctlResult r = SysctlResult::Applied;
    if (name == "net.ipv4.tcp_sack") {
        r = flag(p.tcp.sack);
    } else if (name == "net.ipv4.tcp_dsack") {
        r = flag(p.tcp.dsack);
    } else if (name == "net.ipv4.tcp_window_scaling") {
        r = flag(p.tcp.window_scaling);
    } else if (name == "net.ipv4.tcp_abort_on_overflow") {
        r = flag(p.stack.abort_on_overflow);
    } else if (name == "net.ipv4.tcp_rmem") {
        std::array<std::int64_t, 3> s{};
        if (!three_sizes(value, s)) return SysctlResult::BadValue;
        p.tcp.rmem_default = static_cast<std::uint32_t>(s[1]);
        p.tcp.rmem_max = static_cast<std::uint32_t>(s[2]);
    } else if (name == "net.core.rmem_max") {
        if (!numeric || v < 1 || v > INT32_MAX) return SysctlResult::BadValue;
        p.tcp.core_rmem_max = static_cast<std::uint32_t>(v);
    } else if (name == "net.ipv4.tcp_invalid_ratelimit") {
        if (!numeric || v < 0 || v > INT32_MAX) return SysctlResult::BadValue;  // milliseconds (proc_dointvec_ms_jiffies)
        p.tcp.oow_ack_ratelimit = Duration::ms(v);
        p.stack.linux_tw.ack_ratelimit = Duration::ms(v);
    } else if (name == "net.ipv4.tcp_syn_linear_timeouts") {
        if (!numeric || v < 0 || v > 127) return SysctlResult::BadValue;
        p.tcp.syn_linear_timeouts = static_cast<int>(v);
    } else if (name == "net.ipv4.tcp_retries2") {
        if (!numeric || v < 0 || v > 255) return SysctlResult::BadValue;
        p.tcp.data_retries = static_cast<int>(v);
    } else if (name == "net.ipv4.tcp_rto_min_us") {
        if (!numeric || v < 1 || v > INT32_MAX) return SysctlResult::BadValue;
        p.tcp.rto_min = Duration::us(v);
    } else if (name == "net.ipv4.tcp_ecn") {
        // 0 and 2 differ only when the peer's SYN asks for ECN (scripts with ECN flags are not
        // run); 1 would put ECE and CWR on our own SYN, which the model does not send.
        if (!numeric || v < 0 || v > 5) return SysctlResult::BadValue;
        if (v != 0 && v != 2) return SysctlResult::NotModelled;
    } else if (name == "net.ipv4.tcp_syncookies") {
        // 0 and 1 differ only when the SYN queue overflows (tcp_max_syn_backlog); 2 sends a
        // cookie for every SYN, which the model does not.
        if (!numeric || v < 0 || v > 2) return SysctlResult::BadValue;
        if (v == 2) return SysctlResult::NotModelled;
    } else {
        bool absent = false;
        for (std::string_view n : kAbsentMechanisms) absent = absent || n == name;
        if (!absent) return std::nullopt;
    }
    if (r == SysctlResult::Applied) it->second = value;
    return r;
}

}  // namespace tcpsim::host
