#include "scenario/profiles.hpp"

#include "base/did_you_mean.hpp"
#include "scenario/json_reader.hpp"
#include "scenario/profiles_data.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace tcpsim {

std::vector<std::string> profile_names() {
    std::vector<std::string> out;
    for (const auto& p : embedded_profiles()) out.emplace_back(p.name);
    return out;
}

// "the linux profile has no sysctl X: did you mean Y? (its sysctls: ...)", with a pointer to the
// profile that has it when another one does (tcp_tw_recycle: linux-4.9, removed in Linux 4.12:
// ../shared/reference/capacity-cases.md, and the kernel commit "tcp: remove tcp_tw_recycle").
std::string unknown_sysctl(const std::string& profile_name, const host::Profile& prof, const std::string& k) {
    std::vector<std::string> known;
    for (const auto& [name, value] : prof.sysctls) known.push_back(name);  // a std::map: sorted
    std::vector<std::string> others;
    for (const std::string& other : profile_names())
        if (other != profile_name && load_profile(other).sysctls.count(k) > 0) others.push_back(other);
    // A sysctl of another profile is no typo: name that profile instead of the nearest word.
    std::string msg = fmt::format("the {} profile has no sysctl {}{}", profile_name, k, others.empty() ? did_you_mean(k, known) : "");
    if (!others.empty())
        msg += fmt::format(" ({} has it: \"profile\": \"{}\"{})", comma_list(others), others.front(),
                           k == "net.ipv4.tcp_tw_recycle" ? "; Linux 4.12 removed tcp_tw_recycle" : "");
    return msg + fmt::format(" (its sysctls: {})", comma_list(known));
}

void read_stack(const Reader& r, const json& obj, const std::string& ptr, host::StackConfig& s) {
    r.only_keys(obj, ptr, {"time_wait", "connect_port_algorithm", "bind_rule", "hz", "time_wait_length",
                           "tw_reuse_seconds_clock", "port_range", "nolocaltimewait", "autobind_port_per_host"});
    s.ports.autobind_port_per_host = r.boolean(obj, ptr, "autobind_port_per_host", s.ports.autobind_port_per_host);
    s.nolocaltimewait = r.boolean(obj, ptr, "nolocaltimewait", s.nolocaltimewait);
    if (obj.contains("port_range")) {
        const std::string v = r.str(obj, ptr, "port_range", true);
        unsigned lo = 0, hi = 0;
        char tail = 0;
        if (std::sscanf(v.c_str(), "%u %u%c", &lo, &hi, &tail) != 2 || lo < 1 || hi > 65535 || lo > hi)
            r.fail(ptr + "/port_range", fmt::format("\"{}\" is not \"LOW HIGH\"", v));
        s.ports.lo = static_cast<std::uint16_t>(lo);
        s.ports.hi = static_cast<std::uint16_t>(hi);
    }
    s.tw_reuse_seconds_clock = r.boolean(obj, ptr, "tw_reuse_seconds_clock", s.tw_reuse_seconds_clock);
    if (obj.contains("time_wait")) {
        const std::string v = r.str(obj, ptr, "time_wait", true);
        if (v == "linux-minisock") s.linux_minisock = true;
        else if (v == "full-socket") s.linux_minisock = false;
        else r.fail(ptr + "/time_wait", "expected \"linux-minisock\" or \"full-socket\"");
    }
    if (obj.contains("connect_port_algorithm")) {
        const std::string v = r.str(obj, ptr, "connect_port_algorithm", true);
        if (v == "rfc6056-4-linux") s.ports.connect_algo = host::ConnectPortAlgo::LinuxDoubleHash;
        else if (v == "rfc6056-3-linux") s.ports.connect_algo = host::ConnectPortAlgo::LinuxHash;
        else if (v == "rfc6056-1") s.ports.connect_algo = host::ConnectPortAlgo::RandomStart;
        else if (v == "sequential") s.ports.connect_algo = host::ConnectPortAlgo::Sequential;
        else r.fail(ptr + "/connect_port_algorithm",
                    "expected \"rfc6056-4-linux\", \"rfc6056-3-linux\", \"rfc6056-1\" or \"sequential\"");
    }
    if (obj.contains("bind_rule")) {
        const std::string v = r.str(obj, ptr, "bind_rule", true);
        if (v == "linux") s.ports.bind_rule = host::BindRule::Linux;
        else if (v == "bsd") s.ports.bind_rule = host::BindRule::Bsd;
        else if (v == "windows") s.ports.bind_rule = host::BindRule::Windows;
        else r.fail(ptr + "/bind_rule", "expected \"linux\", \"bsd\" or \"windows\"");
    }
    s.hz = static_cast<std::int64_t>(r.uint(obj, ptr, "hz", false, static_cast<std::uint64_t>(s.hz), 10000));
    if (s.hz == 0) r.fail(ptr + "/hz", "hz must be positive");
    s.linux_tw.length = r.duration(obj, ptr, "time_wait_length", false, s.linux_tw.length);
}

host::Profile load_profile(const std::string& name) {
    for (const auto& e : embedded_profiles()) {
        if (e.name != name) continue;
        const std::string file = fmt::format("models/profiles/{}.json", name);
        Reader r(file);
        const json doc = parse_json(std::string(e.text), file);
        r.only_keys(doc, "", {"name", "description", "sources", "assumptions", "tcp", "stack", "sysctls"});
        host::Profile p;
        p.name = r.str(doc, "", "name", true);
        if (p.name != name) r.fail("/name", fmt::format("the profile in {}.json is named \"{}\"", name, p.name));
        p.description = r.str(doc, "", "description", false);
        if (const json* s = r.field(doc, "sources"))
            for (const auto& v : *s) p.sources.push_back(v.get<std::string>());
        if (const json* a = r.field(doc, "assumptions")) {
            if (!a->is_array()) r.fail("/assumptions", "expected a list of {behaviour, assumed, experiment}");
            for (std::size_t i = 0; i < a->size(); ++i) {
                const std::string ptr = fmt::format("/assumptions/{}", i);
                const json& item = (*a)[i];
                r.only_keys(item, ptr, {"behaviour", "assumed", "experiment"});
                p.assumptions.push_back({r.str(item, ptr, "behaviour", true), r.str(item, ptr, "assumed", true),
                                         r.str(item, ptr, "experiment", true)});
            }
        }
        if (const json* t = r.field(doc, "tcp")) read_tcp(r, *t, "/tcp", p.tcp);
        if (const json* s = r.field(doc, "stack")) read_stack(r, *s, "/stack", p.stack);
        if (const json* s = r.field(doc, "sysctls")) {
            if (!s->is_object()) r.fail("/sysctls", "expected an object of name: value");
            // The listed values are the profile's defaults: applying them sets the configuration.
            for (const auto& [k, v] : s->items()) {
                if (!v.is_number_integer() && !v.is_string()) r.fail("/sysctls/" + k, "expected an integer or a string");
                const std::string value = v.is_string() ? v.get<std::string>() : std::to_string(v.get<std::int64_t>());
                p.sysctls[k] = value;
                if (host::set_sysctl(p, k, value) == host::SysctlResult::BadValue)
                    r.fail("/sysctls/" + k, fmt::format("\"{}\" is not a valid value", value));
            }
        }
        return p;
    }
    std::string known;
    for (const auto& n : profile_names()) known += (known.empty() ? "" : ", ") + n;
    throw ScenarioError(fmt::format("no profile named \"{}\" (known: {})", name, known));
}

}  // namespace tcpsim
