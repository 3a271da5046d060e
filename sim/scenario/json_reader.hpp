// Reading JSON documents with errors that name the file and the JSON pointer (DESIGN.md,
// non-negotiable 4), shared by the scenario and profile loaders.
#pragma once

#include "base/did_you_mean.hpp"
#include "base/input_error.hpp"
#include "tcp/config.hpp"

#include <tcpsim/time.hpp>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <algorithm>
#include <initializer_list>
#include <vector>
#include <string>

namespace tcpsim {

using nlohmann::json;

class Reader {
public:
    explicit Reader(std::string file) : file_(std::move(file)) {}
    [[nodiscard]] const std::string& file() const { return file_; }

    // A JSON value as text for an error message; invalid UTF-8 (from --set) is replaced, not thrown.
    static std::string show(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

    [[noreturn]] void fail(const std::string& ptr, const std::string& what) const {
        throw ScenarioError(fmt::format("{}: {}: {}", file_, ptr.empty() ? "/" : ptr, what));
    }

    void only_object(const json& v, const std::string& ptr) const {
        if (!v.is_object()) fail(ptr, fmt::format("expected an object, found {}", v.type_name()));
    }
    // obj[key], which must be there; obj (at ptr) must be an object.
    const json& required(const json& obj, const std::string& ptr, const char* key) const {
        only_object(obj, ptr);
        const json* v = field(obj, key);
        if (v == nullptr) fail(ptr, fmt::format("missing required key \"{}\"", key));
        return *v;
    }
    // obj[key] if it is there (nullptr if not and not required), which must be an array.
    const json* array(const json& obj, const std::string& ptr, const char* key, bool required_key) const {
        const json* v = required_key ? &required(obj, ptr, key) : field(obj, key);
        if (v != nullptr && !v->is_array()) fail(ptr + "/" + key, fmt::format("expected an array, found {}", v->type_name()));
        return v;
    }
    // The bound of a count read from a tool's output (calls, runs, sockets): exact in a double.
    static constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 53;

    void only_keys(const json& obj, const std::string& ptr, std::initializer_list<const char*> allowed) const {
        only_object(obj, ptr);
        for (const auto& [key, value] : obj.items()) {
            (void)value;
            bool ok = false;
            for (const char* a : allowed) ok = ok || key == a;
            if (!ok) {
                std::string list;
                for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
                const std::string near = closest(key, allowed);
                fail(ptr + "/" + key, near.empty() ? fmt::format("unknown key \"{}\" (expected one of: {})", key, list)
                                                   : fmt::format("unknown key \"{}\": did you mean \"{}\"? (expected one of: {})",
                                                                 key, near, list));
            }
        }
    }

    // The allowed word nearest to `word` by edit distance, if it is near enough to be a typo.
    static std::string closest(const std::string& word, std::initializer_list<const char*> allowed) {
        return closest_word(word, allowed);
    }

    const json* field(const json& obj, const char* key) const {
        auto it = obj.find(key);
        return it == obj.end() ? nullptr : &*it;
    }

    std::string str(const json& obj, const std::string& ptr, const char* key, bool required,
                    const std::string& dflt = "") const {
        const json* v = field(obj, key);
        if (!v) {
            if (required) fail(ptr, fmt::format("missing required key \"{}\"", key));
            return dflt;
        }
        if (!v->is_string()) fail(ptr + "/" + key, fmt::format("expected a string, found {}", v->type_name()));
        return v->get<std::string>();
    }

    std::uint64_t uint(const json& obj, const std::string& ptr, const char* key, bool required, std::uint64_t dflt,
                       std::uint64_t max) const {
        const json* v = field(obj, key);
        if (!v) {
            if (required) fail(ptr, fmt::format("missing required key \"{}\"", key));
            return dflt;
        }
        if (!v->is_number_integer() || (v->is_number_integer() && !v->is_number_unsigned() && v->get<std::int64_t>() < 0))
            fail(ptr + "/" + key, fmt::format("expected a non-negative integer, found {}", show(*v)));
        const auto x = v->get<std::uint64_t>();
        if (x > max) fail(ptr + "/" + key, fmt::format("{} is out of range (at most {})", x, max));
        return x;
    }

    bool boolean(const json& obj, const std::string& ptr, const char* key, bool dflt) const {
        const json* v = field(obj, key);
        if (!v) return dflt;
        if (!v->is_boolean()) fail(ptr + "/" + key, fmt::format("expected true or false, found {}", show(*v)));
        return v->get<bool>();
    }

    Duration duration(const json& obj, const std::string& ptr, const char* key, bool required, Duration dflt) const {
        const json* v = field(obj, key);
        if (!v) {
            if (required) fail(ptr, fmt::format("missing required key \"{}\"", key));
            return dflt;
        }
        Duration d;
        if (!v->is_string() || !parse_duration(v->get<std::string>(), d))
            fail(ptr + "/" + key,
                 fmt::format("expected a duration such as \"60s\", \"250ms\" or \"10us\" (at most {}h), found {}",
                             kMaxParsedDuration.count() / 3'600'000'000'000LL, show(*v)));
        return d;
    }

    double fraction(const json& obj, const std::string& ptr, const char* key, double dflt) const {
        const json* v = field(obj, key);
        if (!v) return dflt;
        if (!v->is_number() || v->get<double>() < 0.0 || v->get<double>() > 1.0)
            fail(ptr + "/" + key, fmt::format("expected a probability between 0 and 1, found {}", show(*v)));
        return v->get<double>();
    }

private:
    std::string file_;
};


bool parse_ipv4(const std::string& s, std::uint32_t& out);

// Arrays and objects nested deeper than this are refused (no input of tcpsim needs more than a
// handful; the JSON library recurses once per level when it writes or compares a document).
inline constexpr int kMaxJsonDepth = 64;
// The byte where `text` opens its (kMaxJsonDepth+1)-th nested array or object, npos if it never
// does (brackets inside strings do not count).
std::size_t json_too_deep(const std::string& text);
// Parses `text`, the content of file `name`; a syntax error, invalid UTF-8, a NUL byte or nesting
// deeper than kMaxJsonDepth throws a ScenarioError "NAME:LINE:COLUMN: invalid JSON: what is
// wrong", a key given twice in one object "NAME: /POINTER/KEY: the key ... is given twice in this
// object".
json parse_json(const std::string& text, const std::string& name);
// "no host named "servr": did you mean "server"? (hosts: client, server)": `what` is the kind of
// name ("host", "host or balancer"), `known` the names it could have been (at most 12 are listed).
std::string unknown_name(const std::string& what, const std::string& name, const std::vector<std::string>& known);
// "HOST:PORT" with PORT in 1..65535.
std::pair<std::string, std::uint16_t> split_host_port(const Reader& r, const std::string& s, const std::string& ptr);
// The "tcp" object: endpoint parameters and named behaviours (docs/scenario-format.md).
void read_tcp(const Reader& r, const json& obj, const std::string& ptr, tcp::TcpConfig& cfg);

}  // namespace tcpsim
