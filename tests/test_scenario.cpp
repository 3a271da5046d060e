// Scenario loading: a malformed or inconsistent file gets an error that names the file, the
// place (line:column or JSON pointer) and the problem.
#include "fixture.hpp"

#include "scenario/scenario.hpp"

using namespace tcpsim;

namespace {
std::string error_of(const std::string& text) {
    try {
        parse_scenario(text, "s.json");
    } catch (const ScenarioError& e) {
        return e.what();
    }
    return "";
}
const std::string kHosts = R"("hosts": [{"name": "a", "address": "10.0.0.1"}, {"name": "b", "address": "10.0.0.2"}])";
}  // namespace

TEST_CASE("scenario: a syntax error is reported with line:column", "[scenario]") {
    const std::string e = error_of("{\n  \"seed\": 1,\n  \"hosts\": [,]\n}\n");
    CHECK(e.rfind("s.json:3:", 0) == 0);
    CHECK(e.find("invalid JSON") != std::string::npos);
}

TEST_CASE("scenario: content errors name the JSON pointer", "[scenario]") {
    CHECK(error_of("{\"seed\": 1}") == "s.json: /: missing required key \"hosts\"");
    CHECK(error_of("{" + kHosts + ", \"duration\": \"ten\"}").rfind("s.json: /duration: expected a duration", 0) == 0);
    CHECK(error_of("{" + kHosts + ", \"sede\": 1}").rfind("s.json: /sede: unknown key \"sede\"", 0) == 0);
    CHECK(error_of(R"({"hosts": [{"name": "a", "address": "10.0.0.300"}]})") ==
          "s.json: /hosts/0/address: \"10.0.0.300\" is not an IPv4 address");
    CHECK(error_of(R"({"hosts": [{"name": "a", "address": "10.0.0.1"}, {"name": "a", "address": "10.0.0.2"}]})") ==
          "s.json: /hosts/1/name: duplicate host name \"a\"");
    CHECK(error_of("{" + kHosts + R"(, "actions": [{"at": "0s", "host": "c", "call": "listen", "sock": "L", "port": 80}]})") ==
          "s.json: /actions/0/host: no host named \"c\" (known: a, b)");
    CHECK(error_of("{" + kHosts + R"(, "actions": [{"at": "0s", "host": "a", "call": "dance", "sock": "L"}]})")
              .rfind("s.json: /actions/0/call: unknown call \"dance\"", 0) == 0);
    CHECK(error_of("{" + kHosts + R"(, "actions": [{"at": "0s", "host": "a", "call": "close", "sock": "x"}]})")
              .rfind("s.json: /actions/0/sock: no socket \"x\" on \"a\"", 0) == 0);
    CHECK(error_of("{" + kHosts + R"(, "actions": [{"at": "0s", "host": "a", "call": "connect", "sock": "c", "to": "b:99999"}]})") ==
          "s.json: /actions/0/to: \"99999\" is not a port between 1 and 65535");
    CHECK(error_of("{" + kHosts + R"(, "tcp": {"rto_min": "5s", "rto_max": "1s"}})") ==
          "s.json: /tcp/rto_min: rto_min is larger than rto_max");
    CHECK(error_of("{" + kHosts + R"(, "drops": [{"from": "a", "to": "b", "flags": "SX"}]})").rfind("s.json: /drops/0/flags:", 0) == 0);
    CHECK(error_of("{" + kHosts + R"(, "links": [{"between": ["a", "b"], "loss": 2}]})") ==
          "s.json: /links/0/loss: expected a probability between 0 and 1, found 2");
}

TEST_CASE("scenario: a valid file loads with defaults and sorted actions", "[scenario]") {
    const Scenario sc = parse_scenario("{" + kHosts + R"(, "tcp": {"msl": "30s"},
        "actions": [{"at": "2s", "host": "a", "call": "listen", "sock": "L", "port": 80},
                    {"at": "1s", "host": "b", "call": "connect", "sock": "c", "to": "a:80"}]})", "s.json");
    CHECK(sc.hosts.size() == 2);
    CHECK(sc.hosts[1].ip == 0x0A000002);
    CHECK(sc.hosts[0].tcp.time_wait_length() == Duration::s(60));
    REQUIRE(sc.actions.size() == 2);
    CHECK(sc.actions[0].call == Call::Connect);
    CHECK(sc.actions[0].to_port == 80);
}
