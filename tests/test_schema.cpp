// scenarios/schema.json (for editors) agrees with the loader: every shipped scenario validates, a
// typo does not, and every TCP key the schema offers is one the loader takes. The validator below
// covers the subset of JSON Schema the file uses.
#include "fixture.hpp"

#include "scenario.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>

using namespace tcpsim;
using nlohmann::json;

namespace {
json read(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in);
    return json::parse(in);
}

struct Validator {
    const json& root;
    std::vector<std::string> errors;

    const json& resolve(const json& s) const {
        if (s.contains("$ref")) {
            const std::string ref = s.at("$ref").get<std::string>();  // "#/$defs/NAME"
            return root.at("$defs").at(ref.substr(ref.rfind('/') + 1));
        }
        return s;
    }
    bool type_ok(const json& v, const std::string& t) const {
        if (t == "object") return v.is_object();
        if (t == "array") return v.is_array();
        if (t == "string") return v.is_string();
        if (t == "integer") return v.is_number_integer();
        if (t == "number") return v.is_number();
        if (t == "boolean") return v.is_boolean();
        return false;
    }
    void check(const json& v, const json& schema_in, const std::string& at) {
        const json& s = resolve(schema_in);
        if (s.contains("type")) {
            bool ok = false;
            if (s.at("type").is_array()) {
                for (const auto& t : s.at("type")) ok = ok || type_ok(v, t.get<std::string>());
            } else {
                ok = type_ok(v, s.at("type").get<std::string>());
            }
            if (!ok) return errors.push_back(at + ": wrong type");
        }
        if (s.contains("enum") && std::find(s.at("enum").begin(), s.at("enum").end(), v) == s.at("enum").end())
            errors.push_back(at + ": not one of the enum values");
        if (s.contains("pattern") && v.is_string() && !std::regex_match(v.get<std::string>(), std::regex(s.at("pattern").get<std::string>())))
            errors.push_back(at + ": does not match the pattern");
        if (s.contains("minimum") && v.is_number() && v.get<double>() < s.at("minimum").get<double>()) errors.push_back(at + ": below minimum");
        if (s.contains("maximum") && v.is_number() && v.get<double>() > s.at("maximum").get<double>()) errors.push_back(at + ": above maximum");
        if (v.is_object()) {
            for (const auto& r : s.value("required", json::array()))
                if (!v.contains(r.get<std::string>())) errors.push_back(at + ": missing " + r.get<std::string>());
            for (const auto& [k, item] : v.items()) {
                if (s.contains("properties") && s.at("properties").contains(k)) check(item, s.at("properties").at(k), at + "/" + k);
                else if (s.contains("additionalProperties") && s.at("additionalProperties").is_object())
                    check(item, s.at("additionalProperties"), at + "/" + k);
                else if (s.value("additionalProperties", true) == false) errors.push_back(at + "/" + k + ": not allowed");
            }
        }
        if (v.is_array()) {
            if (s.contains("minItems") && v.size() < s.at("minItems").get<std::size_t>()) errors.push_back(at + ": too few items");
            if (s.contains("maxItems") && v.size() > s.at("maxItems").get<std::size_t>()) errors.push_back(at + ": too many items");
            if (s.contains("items"))
                for (std::size_t i = 0; i < v.size(); ++i) check(v[i], s.at("items"), at + "/" + std::to_string(i));
        }
    }
};

const std::string kDir = std::string(TCPSIM_SOURCE_DIR) + "/scenarios";
}  // namespace

TEST_CASE("schema: every shipped scenario validates against scenarios/schema.json", "[schema]") {
    const json schema = read(kDir + "/schema.json");
    std::vector<std::string> files{kDir + "/default.json"};
    for (const auto& e : std::filesystem::directory_iterator(kDir + "/teaching")) {
        const std::string p = e.path().string();
        if (e.path().extension() == ".json" && p.find(".trace.") == std::string::npos) files.push_back(p);
    }
    std::sort(files.begin(), files.end());
    CHECK(files.size() >= 13);
    for (const auto& f : files) {
        Validator v{schema, {}};
        v.check(read(f), schema, "");
        INFO(f << ": " << (v.errors.empty() ? "" : v.errors.front()));
        CHECK(v.errors.empty());
    }
}

TEST_CASE("schema: a typo or a wrong value does not validate", "[schema]") {
    const json schema = read(kDir + "/schema.json");
    for (const char* bad : {R"({"hosts": [{"name": "a", "adress": "10.0.0.1"}]})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1"}], "duration": "ten"})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1", "profile": "plan9"}]})",
                            R"({"hosts": []})"}) {
        Validator v{schema, {}};
        v.check(json::parse(bad), schema, "");
        INFO(bad);
        CHECK_FALSE(v.errors.empty());
    }
}

TEST_CASE("schema: every TCP key the schema offers is taken by the loader", "[schema]") {
    const json schema = read(kDir + "/schema.json");
    json tcp = json::object();
    for (const auto& [k, prop] : schema.at("$defs").at("tcp").at("properties").items()) {
        const json& p = prop.contains("$ref") ? schema.at("$defs").at("duration") : prop;
        const std::string t = p.value("type", "");
        if (prop.contains("$ref")) tcp[k] = "1s";
        else if (p.contains("enum")) tcp[k] = p.at("enum").at(0);
        else if (t == "boolean") tcp[k] = true;
        else tcp[k] = 5;
    }
    tcp["rto_min"] = "1s";
    tcp["rto_max"] = "2s";
    json doc = {{"tcp", tcp}, {"hosts", json::array({{{"name", "a"}, {"address", "10.0.0.1"}}})}};
    CHECK_NOTHROW(parse_scenario(doc.dump(), "all-tcp-keys.json"));
}
