// OS profiles: the defaults of a stack as data (models/profiles/NAME.json) plus the named
// behaviours its TcpConfig and StackConfig switch on. Sysctls that a profile knows are listed
// with their defaults; those the model implements change the configuration, the others may only
// be set to their default value (a script or scenario that changes them cannot be simulated
// faithfully and is refused).
#pragma once

#include "host/host.hpp"
#include "tcp/config.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tcpsim::host {

// A behaviour the profile models without an authoritative source: what is assumed, and the
// simplest experiment that would settle it (docs/profiles.md).
struct Assumption {
    std::string behaviour;   // "SYN in TIME-WAIT"
    std::string assumed;     // what the profile does
    std::string experiment;  // how to find out
};

struct Profile {
    std::string name;
    std::string description;
    std::vector<std::string> sources;  // where the values come from
    std::vector<Assumption> assumptions;
    tcp::TcpConfig tcp;
    StackConfig stack;
    std::map<std::string, std::string> sysctls;  // name -> current value, as `sysctl` prints it
};

enum class SysctlResult : std::uint8_t {
    Applied,      // the model follows the new value
    Unknown,      // the profile has no such sysctl
    NotModelled,  // known, but only its default value can be simulated faithfully
    BadValue,     // not a value this sysctl takes
};

SysctlResult set_sysctl(Profile& p, const std::string& name, const std::string& value);

}  // namespace tcpsim::host
