// scenarios/schema.json (for editors) agrees with the loader: every shipped scenario validates, a
// typo does not, and every TCP key the schema offers is one the loader takes. The validator below
// covers the subset of JSON Schema the file uses.
#include "fixture.hpp"

#include "scenario/scenario.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
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
    bool valid(const json& v, const json& schema) const {
        Validator sub{root, {}};
        sub.check(v, schema, "");
        return sub.errors.empty();
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
        if (s.contains("const") && v != s.at("const")) errors.push_back(at + ": not the constant " + s.at("const").dump());
        if (s.contains("enum") && std::find(s.at("enum").begin(), s.at("enum").end(), v) == s.at("enum").end())
            errors.push_back(at + ": not one of the enum values");
        if (s.contains("pattern") && v.is_string() && !std::regex_match(v.get<std::string>(), std::regex(s.at("pattern").get<std::string>())))
            errors.push_back(at + ": does not match the pattern");
        if (s.contains("minLength") && v.is_string() && v.get<std::string>().size() < s.at("minLength").get<std::size_t>())
            errors.push_back(at + ": too short");
        if (s.contains("minimum") && v.is_number() && v.get<double>() < s.at("minimum").get<double>()) errors.push_back(at + ": below minimum");
        if (s.contains("exclusiveMinimum") && v.is_number() && v.get<double>() <= s.at("exclusiveMinimum").get<double>())
            errors.push_back(at + ": not above the exclusive minimum");
        if (s.contains("maximum") && v.is_number() && v.get<double>() > s.at("maximum").get<double>()) errors.push_back(at + ": above maximum");
        // Combinators: allOf / anyOf / oneOf / not / if-then-else.
        for (const auto& sub : s.value("allOf", json::array())) check(v, sub, at);
        if (s.contains("anyOf") && std::none_of(s.at("anyOf").begin(), s.at("anyOf").end(), [&](const json& x) { return valid(v, x); }))
            errors.push_back(at + ": matches none of anyOf");
        if (s.contains("oneOf")) {
            const auto n = std::count_if(s.at("oneOf").begin(), s.at("oneOf").end(), [&](const json& x) { return valid(v, x); });
            if (n != 1) errors.push_back(at + ": matches " + std::to_string(n) + " of oneOf (expected exactly one)");
        }
        if (s.contains("not") && valid(v, s.at("not"))) errors.push_back(at + ": matches \"not\"");
        if (s.contains("if")) {
            if (valid(v, s.at("if"))) {
                if (s.contains("then")) check(v, s.at("then"), at);
            } else if (s.contains("else")) {
                check(v, s.at("else"), at);
            }
        }
        if (v.is_object()) {
            for (const auto& r : s.value("required", json::array()))
                if (!v.contains(r.get<std::string>())) errors.push_back(at + ": missing " + r.get<std::string>());
            for (const auto& [k, item] : v.items()) {
                if (s.contains("propertyNames")) check(json(k), s.at("propertyNames"), at + "/" + k + " (name)");
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
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(kDir)) {
        const std::string p = e.path().string();
        if (e.path().extension() == ".json" && p.find(".trace.") == std::string::npos && e.path().filename() != "schema.json")
            files.push_back(p);
    }
    std::sort(files.begin(), files.end());
    CHECK(files.size() >= 17);
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
                            R"({"hosts": []})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1"}], "servers": [{"host": "a", "prot": 80}]})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1"}], "nats": [{"name": "n", "addresses": ["1.2.3.4"], "inside": ["a"], "mapping": "full-cone"}]})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1"}], "clients": [{"host": "a", "to": "a:80", "arrival": {"type": "ramp", "rate": 1}}]})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1"}], "clients": [{"host": "a", "to": "a:80", "arrival": {"rate": 1, "processes": 2}}]})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1"}], "actions": [{"at": "1s", "do": "stop_host", "host": "a", "port": 80}]})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1"}], "actions": [{"at": "1s", "do": "reboot", "host": "a"}]})",
                            R"({"hosts": [{"name": "a", "address": "10.0.0.1"}], "actions": [{"at": "1s", "host": "a", "call": "accept", "sock": "L", "port": 80}]})"}) {
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

namespace {
// Values for a property generated from its schema alone: every enum value, every oneOf
// alternative, both booleans, an integer's minimum (at least 1), "1s" for a duration, an object
// with all of its properties. Keys whose values depend on the rest of the scenario (host names,
// addresses, targets) are the base objects' business below.
std::vector<json> values_for(const json& root, const json& prop) {
    if (prop.contains("$ref")) {
        const std::string ref = prop.at("$ref").get<std::string>();
        if (ref == "#/$defs/duration") return {"1s"};
        return values_for(root, root.at("$defs").at(ref.substr(ref.rfind('/') + 1)));
    }
    if (prop.contains("oneOf")) {
        std::vector<json> out;
        for (const json& alt : prop.at("oneOf"))
            for (const json& v : values_for(root, alt)) out.push_back(v);
        return out;
    }
    if (prop.contains("const")) return {prop.at("const")};
    if (prop.contains("enum")) return std::vector<json>(prop.at("enum").begin(), prop.at("enum").end());
    const std::string t = prop.value("type", "");
    if (t == "boolean") return {true, false};
    if (t == "integer") return {std::max<std::int64_t>(1, prop.value("minimum", std::int64_t{1}))};
    if (t == "number") return {1.5};
    if (t == "string") return {"x"};
    if (t == "array") {  // minItems copies of one item
        json a = json::array();
        while (a.size() < std::max<std::size_t>(1, prop.value("minItems", std::size_t{1}))) a.push_back(values_for(root, prop.at("items")).front());
        return {a};
    }
    if (t == "object") {
        json o = json::object();
        const json props = prop.value("properties", json::object());
        for (const auto& [k, p] : props.items()) o[k] = values_for(root, p).front();
        return {o};
    }
    FAIL("no value for the schema " << prop.dump());
    return {};
}

const json& def(const json& schema, const std::string& name) { return schema.at("$defs").at(name); }

// Each key the schema offers for an object, added one at a time (with each generated value) to
// a valid base object, must be taken by the loader. `fix` adds what a key needs alongside it.
void each_key_is_taken(const json& schema, const json& props, const json& doc, const json::json_pointer& where,
                       const std::function<void(const std::string&, json&)>& fix = {}) {
    REQUIRE_NOTHROW(parse_scenario(doc.dump(), "base.json"));
    const json& base = doc.at(where);
    for (const auto& [key, prop] : props.items()) {
        if (base.contains(key)) continue;  // the base object has it already
        for (const json& v : values_for(schema, prop)) {
            json d = doc;
            d[where][key] = v;
            if (fix) fix(key, d[where]);
            INFO(where.to_string() << ": " << d[where].dump());
            CHECK_NOTHROW(parse_scenario(d.dump(), "one-key.json"));
        }
    }
}

json scenario_with(json extra) {
    json doc = {{"duration", "60s"}, {"profile", "linux"},
                {"hosts", json::array({{{"name", "a"}, {"address", "10.0.0.1"}}, {{"name", "b"}, {"address", "10.0.0.2"}}})}};
    doc.update(extra);
    return doc;
}
const json kServer = json::array({{{"host", "b"}, {"port", 80}, {"close", "after_response"}}});
}  // namespace

TEST_CASE("schema: every key the schema offers for servers, clients, proxies, NATs and balancers is taken by the loader",
          "[schema]") {
    const json schema = read(kDir + "/schema.json");
    using P = json::json_pointer;
    each_key_is_taken(schema, def(schema, "server").at("properties"), scenario_with({{"servers", json::array({{{"host", "b"}}})}}),
                      P("/servers/0"));
    each_key_is_taken(schema, def(schema, "client").at("properties"),
                      scenario_with({{"servers", kServer},
                                     {"clients", json::array({{{"host", "a"}, {"to", "b:80"}, {"arrival", {{"rate", 1}}}}})}}),
                      P("/clients/0"), [](const std::string& key, json& c) {
                          if (key == "source_addresses") c[key] = json::array({"10.0.0.1"});  // one of the host's
                          if (key == "local_port") c["bind"] = "fixed";
                          if (key == "bind" && c[key] == "fixed") c["local_port"] = 40000;
                      });
    each_key_is_taken(schema, def(schema, "proxy").at("properties"),
                      scenario_with({{"servers", kServer},
                                     {"proxies", json::array({{{"host", "a"}, {"port", 8080}, {"upstream", "b:80"}}})}}),
                      P("/proxies/0"), [](const std::string& key, json& x) {
                          if (key == "source_addresses") x[key] = json::array({"10.0.0.1"});  // one of the host's
                      });
    each_key_is_taken(schema, def(schema, "nat").at("properties"),
                      scenario_with({{"nats", json::array({{{"name", "gw"}, {"addresses", {"203.0.113.1"}}, {"inside", {"a"}}}})}}),
                      P("/nats/0"), [](const std::string& key, json& n) {
                          if (key == "pool_size") n["ports_per_host"] = "azure-default";
                          if (key == "max_ports_per_host") {  // dynamic allocation: blocks, a power of 2 above the minimum
                              n["assignment"] = "blocks";
                              n[key] = 64;
                          }
                      });
    each_key_is_taken(schema, def(schema, "balancer").at("properties"),
                      scenario_with({{"servers", kServer},
                                     {"balancers", json::array({{{"name", "lb"}, {"address", "10.0.0.100"}, {"backends", {"b:80"}}}})}}),
                      P("/balancers/0"), [](const std::string& key, json& b) {
                          if (key == "snat_addresses") {
                              b["snat"] = true;
                              b[key] = json::array({"10.0.0.101"});
                          }
                          if (key == "snat_address_choice") b["snat"] = true;
                      });
    // The top level's forecast scalars.
    each_key_is_taken(schema, json{{"stop", schema.at("properties").at("stop")}, {"report_interval", schema.at("properties").at("report_interval")}},
                      scenario_with(json::object()), P(""));
}

TEST_CASE("schema: every arrival type and each of its keys is taken by the loader", "[schema]") {
    const json schema = read(kDir + "/schema.json");
    const json& arrival = def(schema, "arrival");
    const auto& types = arrival.at("properties").at("type").at("enum");
    CHECK(types.size() == arrival.at("allOf").size());
    for (const json& clause : arrival.at("allOf")) {
        // The type the clause is for, and the keys it requires and allows.
        const json& cond = clause.at("if");
        const std::string type = cond.contains("anyOf") ? cond.at("anyOf").at(0).at("properties").at("type").at("const").get<std::string>()
                                                        : cond.at("properties").at("type").at("const").get<std::string>();
        json a = {{"type", type}};
        for (const json& k : clause.at("then").at("required"))
            a[k.get<std::string>()] = values_for(schema, arrival.at("properties").at(k.get<std::string>())).front();
        json props = json::object();
        for (const json& k : clause.at("then").at("propertyNames").at("enum"))
            props[k.get<std::string>()] = arrival.at("properties").at(k.get<std::string>());
        INFO("arrival type " << type);
        each_key_is_taken(schema, props,
                          scenario_with({{"servers", kServer}, {"clients", json::array({{{"host", "a"}, {"to", "b:80"}, {"arrival", a}}})}}),
                          json::json_pointer("/clients/0/arrival"));
    }
}

TEST_CASE("schema: every \"do\" action the schema offers, with each of its keys, is taken by the loader", "[schema]") {
    const json schema = read(kDir + "/schema.json");
    // A valid base action per kind (its required keys name things in the scenario below).
    const json base = {
        {"sysctl", {{"host", "a"}, {"name", "net.ipv4.tcp_tw_reuse"}, {"value", 1}}},
        {"restart_server", {{"host", "b"}, {"port", 80}}},
        {"nat_add_address", {{"nat", "gw"}, {"address", "203.0.113.2"}}},
        {"nat_remove_address", {{"nat", "gw"}, {"address", "203.0.113.1"}}},
        {"stop_host", {{"host", "a"}}},
    };
    std::size_t kinds = 0;
    for (const json& alt : def(schema, "action").at("oneOf")) {
        const json& d = def(schema, alt.at("$ref").get<std::string>().substr(std::string("#/$defs/").size()));
        if (!d.at("properties").contains("do")) continue;  // the socket calls
        const std::string kind = d.at("properties").at("do").at("const").get<std::string>();
        INFO("\"do\": \"" << kind << "\"");
        REQUIRE(base.contains(kind));
        ++kinds;
        json a = base.at(kind);
        a["at"] = "1s";
        a["do"] = kind;
        for (const json& k : d.at("required")) CHECK(a.contains(k.get<std::string>()));
        each_key_is_taken(schema, d.at("properties"),
                          scenario_with({{"servers", kServer},
                                         {"nats", json::array({{{"name", "gw"}, {"addresses", {"203.0.113.1"}}, {"inside", {"a"}}}})},
                                         {"actions", json::array({a})}}),
                          json::json_pointer("/actions/0"));
    }
    CHECK(kinds == base.size());
}
