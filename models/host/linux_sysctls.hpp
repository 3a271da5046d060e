// The Linux sysctls that packetdrill scripts commonly set, beyond those of the capacity model:
// which the model follows, which it cannot simulate at other values, and which name mechanisms
// the model does not have at all (congestion control, pacing, loss recovery beyond the RTO), so
// that every value is simulated alike. Documentation/networking/ip-sysctl.rst.
#pragma once

#include "host/profile.hpp"

#include <optional>
#include <string>

namespace tcpsim::host {

// nullopt: not one of these (set_sysctl() goes on with its own list).
std::optional<SysctlResult> set_linux_tcp_sysctl(Profile& p, const std::string& name, const std::string& value);

}  // namespace tcpsim::host
