// OS profiles: the defaults of a stack as data (models/profiles/NAME.json) plus the named
// behaviours its TcpConfig switches on. Sysctls that a profile knows are listed with their
// defaults; those the model implements change the configuration, the others may only be set to
// their default value (a script that changes them cannot be run faithfully).
#pragma once

#include "tcp/config.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tcpsim::host {

struct Profile {
    std::string name;
    std::string description;
    std::vector<std::string> sources;  // where the values come from
    tcp::TcpConfig tcp;
    std::map<std::string, std::int64_t> sysctls;  // name -> current value
};

enum class SysctlResult : std::uint8_t {
    Applied,      // the model follows the new value
    Unknown,      // the profile has no such sysctl
    NotModelled,  // known, but only its default value can be simulated faithfully
};

SysctlResult set_sysctl(Profile& p, const std::string& name, std::int64_t value);

}  // namespace tcpsim::host
