// The shipped OS profiles (models/profiles/*.json, embedded in the binary at build time).
#pragma once

#include "host/profile.hpp"

#include <string>
#include <vector>

namespace tcpsim {

std::vector<std::string> profile_names();
// Throws ScenarioError naming the profile file and the place on a bad profile, or when there is
// no profile of that name.
host::Profile load_profile(const std::string& name);
// The error for a sysctl that profile `name` (data `prof`) does not have: the nearest of its
// sysctls, the other profiles that have it, and the list of its own.
std::string unknown_sysctl(const std::string& name, const host::Profile& prof, const std::string& sysctl);

class Reader;
}  // namespace tcpsim
#include "scenario/json_reader.hpp"
namespace tcpsim {
// The "stack" object of a profile (also accepted in scenario hosts).
void read_stack(const Reader& r, const json& obj, const std::string& ptr, host::StackConfig& s);

}  // namespace tcpsim
