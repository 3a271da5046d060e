#include "profiles.hpp"

#include "json_reader.hpp"
#include "profiles_data.hpp"

#include <fmt/format.h>

namespace tcpsim {

std::vector<std::string> profile_names() {
    std::vector<std::string> out;
    for (const auto& p : embedded_profiles()) out.emplace_back(p.name);
    return out;
}

host::Profile load_profile(const std::string& name) {
    for (const auto& e : embedded_profiles()) {
        if (e.name != name) continue;
        const std::string file = fmt::format("models/profiles/{}.json", name);
        Reader r(file);
        json doc;
        try {
            doc = json::parse(e.text);
        } catch (const json::parse_error& err) {
            throw ScenarioError(fmt::format("{}: invalid JSON: {}", file, err.what()));
        }
        r.only_keys(doc, "", {"name", "description", "sources", "tcp", "sysctls"});
        host::Profile p;
        p.name = r.str(doc, "", "name", true);
        if (p.name != name) r.fail("/name", fmt::format("the profile in {}.json is named \"{}\"", name, p.name));
        p.description = r.str(doc, "", "description", false);
        if (const json* s = r.field(doc, "sources"))
            for (const auto& v : *s) p.sources.push_back(v.get<std::string>());
        if (const json* t = r.field(doc, "tcp")) read_tcp(r, *t, "/tcp", p.tcp);
        if (const json* s = r.field(doc, "sysctls")) {
            if (!s->is_object()) r.fail("/sysctls", "expected an object of name: integer");
            for (const auto& [k, v] : s->items()) {
                if (!v.is_number_integer()) r.fail("/sysctls/" + k, "expected an integer");
                p.sysctls[k] = v.get<std::int64_t>();
            }
        }
        return p;
    }
    std::string known;
    for (const auto& n : profile_names()) known += (known.empty() ? "" : ", ") + n;
    throw ScenarioError(fmt::format("no profile named \"{}\" (known: {})", name, known));
}

}  // namespace tcpsim
