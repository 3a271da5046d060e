// The identity of a live-kernel experiment (tools/kernel/experiments/*.json), shared by the two
// programs that run one: tcpsim-kernel writes it into every result, and `tcpsim experiment
// --compare` refuses a result whose digest is not that of the experiment it ran, so that figures
// measured for one schedule are never compared with a run of another.
//
// The digest is FNV-1a 64 over a canonical JSON text of everything that decides the outcome:
// both sides' addresses and sysctls, the server's listeners, "loopback", the schedule,
// "observe_ms" and "sample_every_ms", with every default written out (so an entry that leaves
// "repeat" out and one that writes "repeat": 1 are the same experiment) and object keys sorted.
// "name" (checked on its own) and "description" (prose) are not part of it. Values are taken as
// written: "10.77.0.1" and "10.77.0.1/24" are different texts, hence different digests.
//
// Header-only and written against any nlohmann-like JSON type (find, end, is_object, is_array,
// items, dump) so that both programs use this one definition without sharing a library.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tcpsim {

// FNV-1a, 64 bit (offset basis 14695981039346656037, prime 1099511628211).
inline std::uint64_t fnv1a64(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}

namespace detail {

// `v` as JSON text with the keys of every object in sorted (byte) order and no spaces.
template <class Json>
void canonical_dump(const Json& v, std::string& out) {
    if (v.is_object()) {
        std::vector<std::pair<std::string, const Json*>> members;
        for (const auto& item : v.items()) members.emplace_back(item.key(), &item.value());
        std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (i > 0) out += ',';
            out += Json(members[i].first).dump();
            out += ':';
            canonical_dump(*members[i].second, out);
        }
        out += '}';
    } else if (v.is_array()) {
        out += '[';
        bool first = true;
        for (const auto& e : v) {
            if (!first) out += ',';
            first = false;
            canonical_dump(e, out);
        }
        out += ']';
    } else {
        out += v.dump();
    }
}

template <class Json>
Json member_or(const Json& obj, const char* key, Json dflt) {
    if (!obj.is_object()) return dflt;
    auto it = obj.find(key);
    return it == obj.end() ? dflt : Json(*it);
}

}  // namespace detail

// The canonical text of a validated experiment document (what the digest is taken over).
template <class Json>
std::string experiment_canonical_text(const Json& doc) {
    using detail::member_or;
    const Json empty_object = Json::object();
    const Json empty_array = Json::array();
    Json c = Json::object();
    for (const char* side : {"client", "server"}) {
        const Json s = member_or(doc, side, empty_object);
        Json out = Json::object();
        out["addresses"] = member_or(s, "addresses", empty_array);
        out["sysctls"] = member_or(s, "sysctls", empty_object);
        if (std::string_view(side) == "server") {
            Json listeners = Json::array();
            for (const auto& l : member_or(s, "listeners", empty_array)) {
                Json x = Json::object();
                x["address"] = member_or(l, "address", Json());
                x["port"] = member_or(l, "port", Json());
                x["reuseaddr"] = member_or(l, "reuseaddr", Json(false));
                listeners.push_back(x);
            }
            out["listeners"] = listeners;
        }
        c[side] = out;
    }
    c["loopback"] = member_or(doc, "loopback", Json(false));
    c["observe_ms"] = member_or(doc, "observe_ms", Json());
    c["sample_every_ms"] = member_or(doc, "sample_every_ms", Json(500));
    Json schedule = Json::array();
    for (const auto& e : member_or(doc, "schedule", empty_array)) {
        Json x = Json::object();
        x["at_ms"] = member_or(e, "at_ms", Json(0));
        x["repeat"] = member_or(e, "repeat", Json(1));
        x["every_ms"] = member_or(e, "every_ms", Json(0));
        x["op"] = member_or(e, "op", Json("connect"));
        x["to"] = member_or(e, "to", Json());
        x["close"] = member_or(e, "close", Json("client-first"));
        x["bind"] = member_or(e, "bind", Json("none"));
        x["reuseaddr"] = member_or(e, "reuseaddr", Json(false));
        x["server_close_delay_ms"] = member_or(e, "server_close_delay_ms", Json(0));
        schedule.push_back(x);
    }
    c["schedule"] = schedule;
    std::string out;
    detail::canonical_dump(c, out);
    return out;
}

// "fnv1a64:" and 16 hex digits.
template <class Json>
std::string experiment_digest(const Json& doc) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(experiment_canonical_text(doc))));
    return std::string("fnv1a64:") + hex;
}

}  // namespace tcpsim
