#include "scenario/overrides.hpp"

#include "scenario/json_reader.hpp"
#include "scenario/scenario.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace tcpsim {

using nlohmann::json;

std::string Override::text() const {
    // Strings print bare when they read back as the same string, as a user would type them.
    if (value.is_string()) {
        const std::string s = value.get<std::string>();
        if (parse_override_value(s) == value) return pointer + "=" + s;
    }
    return pointer + "=" + value.dump();
}

json parse_override_value(const std::string& text) {
    json v = json::parse(text, nullptr, false);
    if (v.is_discarded()) return json(text);
    return v;
}

json parse_checked_value(const std::string& text, const std::string& option) {
    try {
        (void)json(text).dump();  // JSON text is UTF-8: a value that is not cannot go into the outputs
    } catch (const json::type_error&) {
        throw UsageError(fmt::format("{}: the value is not valid UTF-8", option));
    }
    json v = parse_override_value(text);
    if (!v.is_string() && json_too_deep(text) != std::string::npos)  // see parse_json()
        throw UsageError(fmt::format("{}: the value is nested deeper than {} arrays and objects", option, kMaxJsonDepth));
    return v;
}

Override parse_override(const std::string& arg) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos) throw UsageError(fmt::format("--set {}: expected POINTER=VALUE, e.g. /clients/0/arrival/rate=600", arg));
    Override o;
    o.pointer = arg.substr(0, eq);
    if (o.pointer.empty() || o.pointer[0] != '/')
        throw UsageError(fmt::format("--set {}: the pointer must start with '/' (a JSON pointer such as /hosts/0/sysctls)", arg));
    try {
        (void)json::json_pointer(o.pointer);
    } catch (const json::exception& e) {
        throw UsageError(fmt::format("--set {}: not a JSON pointer ({})", arg, e.what()));
    }
    o.value = parse_checked_value(arg.substr(eq + 1), "--set " + o.pointer);
    return o;
}

std::vector<std::string> split_values(const std::string& list) {
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    bool quoted = false, escaped = false;
    for (char c : list) {
        if (quoted) {
            cur += c;
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') quoted = false;
            continue;
        }
        if (c == '"') quoted = true;
        if (c == '[' || c == '{') ++depth;
        if ((c == ']' || c == '}') && depth > 0) --depth;
        if (c == ',' && depth == 0) {
            out.push_back(cur);
            cur.clear();
            continue;
        }
        cur += c;
    }
    out.push_back(cur);
    return out;
}

namespace {

// Walks to the parent of the pointer's last token, checking each step (nlohmann would create
// nulls and objects on the way, or throw an unhelpful message).
void set_one(json& doc, const Override& o, const std::string& file) {
    const json::json_pointer ptr(o.pointer);
    auto fail = [&](const std::string& why) {
        throw ScenarioError(fmt::format("{}: --set {}: {}", file, o.text(), why));
    };
    std::vector<std::string> tokens;
    for (json::json_pointer p = ptr; !p.empty(); p = p.parent_pointer()) tokens.insert(tokens.begin(), p.back());
    json* cur = &doc;
    std::string at;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const std::string& t = tokens[i];
        const bool last = i + 1 == tokens.size();
        if (cur->is_object()) {
            if (last) {
                if (o.value.is_null()) cur->erase(t);  // null removes the value (as in RFC 7396 merge patches)
                else (*cur)[t] = o.value;
                return;
            }
            // A member that is not there yet is made on the way: an object (/hosts/0/sysctls/KEY),
            // or an array when the next token appends to it (/actions/- in a scenario without
            // actions: the natural way to add a what-if action).
            if (!cur->contains(t)) (*cur)[t] = tokens[i + 1] == "-" ? json::array() : json::object();
            cur = &(*cur)[t];
        } else if (cur->is_array()) {
            const bool append = t == "-";
            std::size_t k = 0;
            if (!append) {
                if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || (t.size() > 1 && t[0] == '0'))
                    fail(fmt::format("{} is an array: \"{}\" is not an index", at.empty() ? "/" : at, t));
                k = t.size() > 9 ? SIZE_MAX : std::stoul(t);  // past any end (and std::stoul's range)
            }
            if (append) k = cur->size();
            if (k > cur->size() || (k == cur->size() && !last))
                fail(fmt::format("{} has {} element{}: index {} is past its end", at.empty() ? "/" : at, cur->size(),
                                 cur->size() == 1 ? "" : "s", t));
            if (last) {
                if (k == cur->size()) cur->push_back(o.value);
                else (*cur)[k] = o.value;
                return;
            }
            cur = &(*cur)[k];
        } else {
            fail(fmt::format("{} is {}, not an object or array", at.empty() ? "/" : at, cur->is_string() ? "a string" : cur->is_number() ? "a number" : cur->is_boolean() ? "a boolean" : "null"));
        }
        at += "/" + t;
    }
    doc = o.value;  // the empty pointer "" cannot come from parse_override; kept total
}

}  // namespace

void apply_overrides(json& doc, const std::vector<Override>& sets, const std::string& file) {
    for (const Override& o : sets) set_one(doc, o, file);
}

const json* value_at(const json& doc, const std::string& pointer) {
    try {
        const json::json_pointer p(pointer);
        if (!doc.contains(p)) return nullptr;
        return &doc.at(p);
    } catch (const json::exception&) {
        return nullptr;
    }
}

}  // namespace tcpsim
