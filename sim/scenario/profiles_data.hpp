// Generated at configure time from models/profiles/*.json (cmake/embed_profiles.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace tcpsim {

struct EmbeddedProfile {
    std::string_view name;
    std::string_view text;
};

const std::vector<EmbeddedProfile>& embedded_profiles();

}  // namespace tcpsim
