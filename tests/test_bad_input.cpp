// Bad input gets a clear error (DESIGN.md, docs/scenario-format.md): every malformed or
// inconsistent scenario below is refused with a ScenarioError that names the file, the place
// (line:column for syntax, else the JSON pointer) and the problem in words a user can act on.
// Never accepted, never another exception (nlohmann type_error, std::out_of_range, ...).
#include "fixture.hpp"

#include "scenario/json_reader.hpp"
#include "scenario/scenario.hpp"

#include <set>
#include <string>
#include <vector>

using namespace tcpsim;

namespace {

// Two hosts, a (10.0.0.1) and b (10.0.0.2), on the linux profile, 60 s; `rest` adds sections.
std::string doc(const std::string& rest) {
    return R"({"duration": "60s", "profile": "linux",
  "hosts": [{"name": "a", "address": "10.0.0.1"}, {"name": "b", "address": "10.0.0.2"}])" +
           (rest.empty() ? std::string() : ",\n  " + rest) + "}";
}
const std::string kServer = R"("servers": [{"host": "b", "port": 80}])";
const std::string kNat = R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["a"]}])";
// A client on a toward b:80 with the given extra keys and arrival.
std::string client(const std::string& extra, const std::string& arrival = R"({"type": "constant", "rate": 10})") {
    return R"("clients": [{"host": "a", "to": "b:80", "arrival": )" + arrival + (extra.empty() ? "" : ", " + extra) + "}]";
}

struct Bad {
    std::string what;                // the mistake, for the report
    std::string text;                // the scenario
    std::string place;               // JSON pointer, or "L:C" for a syntax error
    std::vector<std::string> words;  // the message must contain each
};

std::vector<Bad> bad_inputs() {
    return {
        // Syntax and structure.
        {"syntax error", "{\n  \"hosts\": [\n    {\"name\": \"a\",, \"address\": \"10.0.0.1\"}\n  ]\n}\n", "3:18", {"invalid JSON", "syntax error"}},
        {"unknown top-level key", doc(R"("client": [])"), "/client", {"unknown key \"client\"", "did you mean \"clients\""}},
        {"unknown key in a client", doc(kServer + ", " + R"("clients": [{"host": "a", "to": "b:80", "arival": {"rate": 1}}])"),
         "/clients/0/arival", {"unknown key \"arival\"", "did you mean \"arrival\""}},
        {"unknown key in a server", doc(R"("servers": [{"host": "b", "respone_time": "1ms"}])"), "/servers/0/respone_time",
         {"unknown key", "did you mean \"response_time\""}},
        {"unknown key in a NAT", doc(R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["a"], "mappng": "address-dependent"}])"),
         "/nats/0/mappng", {"unknown key", "did you mean \"mapping\""}},
        {"unknown key in a balancer", doc(kServer + R"(, "balancers": [{"name": "lb", "address": "10.0.0.100", "backend": ["b:80"]}])"),
         "/balancers/0/backend", {"unknown key", "did you mean \"backends\""}},
        {"unknown key in a proxy", doc(kServer + R"(, "proxies": [{"host": "a", "upstrem": "b:80"}])"), "/proxies/0/upstrem",
         {"unknown key", "did you mean \"upstream\""}},
        {"unknown key in an arrival", doc(kServer + ", " + client("", R"({"type": "poisson", "rat": 5})")), "/clients/0/arrival/rat",
         {"unknown key", "did you mean \"rate\""}},
        {"unknown key in a what-if action", doc(R"("actions": [{"at": "1s", "do": "stop_host", "hots": "a"}])"), "/actions/0/hots",
         {"unknown key", "did you mean \"host\""}},
        {"action with neither call nor do", doc(R"("actions": [{"at": "1s", "host": "a"}])"), "/actions/0",
         {"\"call\"", "\"do\""}},
        {"clients is not an array", doc(R"("clients": {"host": "a"})"), "/clients", {"expected an array"}},
        // Types and ranges.
        {"string for a rate", doc(kServer + ", " + client("", R"({"rate": "100/s"})")), "/clients/0/arrival/rate",
         {"expected a rate in connections per second", "\"100/s\""}},
        {"number for a duration", doc(R"("servers": [{"host": "b", "response_time": 5}])"), "/servers/0/response_time",
         {"expected a duration", "\"60s\"", "5"}},
        {"negative rate", doc(kServer + ", " + client("", R"({"rate": -5})")), "/clients/0/arrival/rate", {"-5", "out of range", "above 0"}},
        {"zero rate", doc(kServer + ", " + client("", R"({"type": "poisson", "rate": 0})")), "/clients/0/arrival/rate", {"0 is out of range", "above 0"}},
        {"port 70000", doc(R"("servers": [{"host": "b", "port": 70000}])"), "/servers/0/port", {"70000", "out of range", "65535"}},
        {"port 0", doc(R"("servers": [{"host": "b", "port": 0}])"), "/servers/0/port", {"between 1 and 65535"}},
        {"target port 0", doc(kServer + R"(, "clients": [{"host": "a", "to": "b:0", "arrival": {"rate": 1}}])"), "/clients/0/to",
         {"\"0\" is not a port between 1 and 65535"}},
        {"bad duration unit", doc(R"("report_interval": "10 parsecs")"), "/report_interval", {"expected a duration", "10 parsecs"}},
        {"report_interval 0s", doc(R"("report_interval": "0s")"), "/report_interval", {"report interval must be positive"}},
        {"unknown enum value", doc(R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["a"], "mapping": "full-cone"}])"),
         "/nats/0/mapping", {"\"full-cone\" is not one of", "\"endpoint-independent\"", "\"address-and-port-dependent\""}},
        {"enum given as a number", doc(kServer + ", " + client(R"("closer": 1)")), "/clients/0/closer", {"expected one of", "\"client\""}},
        {"ports_per_host neither a number nor azure-default",
         doc(R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["a"], "assignment": "blocks", "ports_per_host": "lots"}])"),
         "/nats/0/ports_per_host", {"\"lots\"", "azure-default"}},
        {"huge port in a port range", doc(R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["a"], "port_range": [18446744073709551615, 2000]}])"),
         "/nats/0/port_range/0", {"18446744073709551615", "not a port between 1 and 65535"}},
        // References.
        {"link to an unknown host", doc(R"("links": [{"between": ["a", "c"], "latency": "1ms"}])"), "/links/0/between/1", {"no host, NAT or balancer named \"c\""}},
        {"client target naming no host", doc(kServer + R"(, "clients": [{"host": "a", "to": "web:80", "arrival": {"rate": 1}}])"),
         "/clients/0/to", {"no host or balancer named \"web\""}},
        {"client target with no server listening", doc(kServer + R"(, "clients": [{"host": "a", "to": "b:81", "arrival": {"rate": 1}}])"),
         "/clients/0/to", {"no server, proxy or balancer listens on b:81"}},
        {"loopback target with no local server", doc(kServer + R"(, "clients": [{"host": "a", "to": "127.0.0.1:80", "arrival": {"rate": 1}}])"),
         "/clients/0/to", {"no server on a listens on port 80"}},
        {"client on an unknown host", doc(kServer + R"(, "clients": [{"host": "z", "to": "b:80", "arrival": {"rate": 1}}])"),
         "/clients/0/host", {"no host named \"z\""}},
        {"NAT inside an unknown host", doc(R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["nobody"]}])"),
         "/nats/0/inside/0", {"no host named \"nobody\""}},
        {"balancer backend with no server", doc(kServer + R"(, "balancers": [{"name": "lb", "address": "10.0.0.100", "backends": ["b:81"]}])"),
         "/balancers/0/backends/0", {"no server or proxy listens on b:81"}},
        {"proxy upstream with no listener", doc(kServer + R"(, "proxies": [{"host": "a", "port": 8080, "upstream": "b:81"}])"),
         "/proxies/0/upstream", {"no server, proxy or balancer listens on b:81"}},
        {"unknown profile", R"({"profile": "plan9", "hosts": [{"name": "a", "address": "10.0.0.1"}]})", "/profile", {"plan9"}},
        // NAT gateways.
        {"reversed port range", doc(R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["a"], "port_range": [61000, 32768]}])"),
         "/nats/0/port_range", {"reversed", "61000 is above 32768"}},
        {"empty NAT pool", doc(R"("nats": [{"name": "gw", "addresses": [], "inside": ["a"]}])"), "/nats/0/addresses", {"NAT pool is empty"}},
        {"host behind two NATs", doc(R"("nats": [{"name": "gw1", "addresses": ["203.0.113.1"], "inside": ["a"]},
                                                  {"name": "gw2", "addresses": ["203.0.113.2"], "inside": ["a"]}])"),
         "/nats/1/inside/0", {"host \"a\" is already behind a NAT"}},
        {"ports_per_host larger than the range",
         doc(R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["a"], "assignment": "blocks", "port_range": [1024, 2047], "ports_per_host": 4096}])"),
         "/nats/0/ports_per_host", {"4096 ports per host do not fit", "1024 ports"}},
        {"pool_size without azure-default", doc(R"("nats": [{"name": "gw", "addresses": ["203.0.113.1"], "inside": ["a"], "pool_size": 10}])"),
         "/nats/0/pool_size", {"azure-default"}},
        // Names and addresses.
        {"duplicate server on a host:port", doc(R"("servers": [{"host": "b", "port": 80}, {"host": "b", "port": 80}])"), "/servers/1/port",
         {"a second server on b:80"}},
        {"two proxies on one host:port", doc(kServer + R"(, "proxies": [{"host": "a", "port": 8080, "upstream": "b:80"}, {"host": "a", "port": 8080, "upstream": "b:80"}])"),
         "/proxies/1/port", {"a second proxy on a:8080"}},
        {"a host and a NAT with one name", doc(R"("nats": [{"name": "a", "addresses": ["203.0.113.1"], "inside": ["b"]}])"), "/nats/0/name",
         {"the name \"a\" is already used"}},
        {"a NAT address that a host has", doc(R"("nats": [{"name": "gw", "addresses": ["10.0.0.2"], "inside": ["a"]}])"), "/nats/0/addresses/0",
         {"address 10.0.0.2 is used twice"}},
        {"127.x address for a NAT", doc(R"("nats": [{"name": "gw", "addresses": ["127.0.0.5"], "inside": ["a"]}])"), "/nats/0/addresses/0",
         {"127.0.0.0/8", "loopback"}},
        {"127.x address for a balancer", doc(kServer + R"(, "balancers": [{"name": "lb", "address": "127.0.0.1", "backends": ["b:80"]}])"),
         "/balancers/0/address", {"127.0.0.0/8", "loopback"}},
        // Clients.
        {"closer server toward a server that waits for the client", doc(kServer + ", " + client(R"("closer": "server")")), "/clients/0/closer",
         {"\"closer\": \"server\"", "waits for the client"}},
        {"closer server toward a local server that waits for the client",
         doc(R"("servers": [{"host": "a", "port": 8080}], "clients": [{"host": "a", "to": "127.0.0.1:8080", "arrival": {"rate": 1}, "closer": "server"}])"),
         "/clients/0/closer", {"\"closer\": \"server\"", "waits for the client"}},
        {"closer server toward a proxy that waits for the client",
         doc(kServer + R"(, "proxies": [{"host": "b", "port": 443, "upstream": "b:80"}], "clients": [{"host": "a", "to": "b:443", "arrival": {"rate": 1}, "closer": "server"}])"),
         "/clients/0/closer", {"\"closer\": \"server\"", "waits for the client"}},
        {"pool with closer rst", doc(kServer + ", " + client(R"("closer": "rst", "pool": {"size": 4})")), "/clients/0/pool",
         {"keep-alive pool", "\"closer\": \"client\""}},
        {"pool of size 0", doc(kServer + ", " + client(R"("pool": {"size": 0})")), "/clients/0/pool/size", {"at least one connection"}},
        {"local_port without bind fixed", doc(kServer + ", " + client(R"("local_port": 5000)")), "/clients/0/local_port",
         {"local_port needs \"bind\": \"fixed\""}},
        {"bind fixed without local_port", doc(kServer + ", " + client(R"("bind": "fixed")")), "/clients/0", {"missing required key \"local_port\""}},
        {"source address not on the host", doc(kServer + ", " + client(R"("source_addresses": ["10.0.0.9"])")), "/clients/0/source_addresses/0",
         {"10.0.0.9 is not an address of host \"a\""}},
        // Arrivals.
        {"ramp without rate_to", doc(kServer + ", " + client("", R"({"type": "ramp", "rate": 1, "ramp": "10s"})")), "/clients/0/arrival",
         {"missing required key \"rate_to\""}},
        {"steps out of order",
         doc(kServer + ", " + client("", R"({"type": "steps", "steps": [{"at": "10s", "rate": 5}, {"at": "5s", "rate": 9}]})")),
         "/clients/0/arrival/steps/1/at", {"increasing time order"}},
        {"closed_loop with processes 0", doc(kServer + ", " + client("", R"({"type": "closed_loop", "processes": 0})")),
         "/clients/0/arrival/processes", {"at least one process"}},
        {"arrival stop before start", doc(kServer + ", " + client("", R"({"rate": 1, "start": "20s", "stop": "10s"})")), "/clients/0/arrival/stop",
         {"stops before it starts"}},
        {"a key of another arrival type", doc(kServer + ", " + client("", R"({"type": "constant", "rate": 1, "ramp": "10s"})")),
         "/clients/0/arrival/ramp", {"\"ramp\" belongs to arrival type ramp"}},
        {"rate with closed_loop", doc(kServer + ", " + client("", R"({"type": "closed_loop", "processes": 2, "rate": 5})")),
         "/clients/0/arrival/rate", {"belongs to arrival type"}},
        // What-if actions.
        {"unknown what-if", doc(R"("actions": [{"at": "1s", "do": "reboot", "host": "a"}])"), "/actions/0/do", {"\"reboot\" is not one of", "\"stop_host\""}},
        {"unknown sysctl", doc(R"("actions": [{"at": "1s", "do": "sysctl", "host": "a", "name": "net.ipv4.tcp_tw_recycle_plus", "value": 1}])"),
         "/actions/0/name", {"the linux profile has no sysctl net.ipv4.tcp_tw_recycle_plus"}},
        {"bad sysctl value", doc(R"("actions": [{"at": "1s", "do": "sysctl", "host": "a", "name": "net.ipv4.ip_local_port_range", "value": "61000 32768 9"}])"),
         "/actions/0/value", {"not a valid value for net.ipv4.ip_local_port_range"}},
        {"sysctl without a value", doc(R"("actions": [{"at": "1s", "do": "sysctl", "host": "a", "name": "net.ipv4.tcp_tw_reuse"}])"),
         "/actions/0", {"\"value\""}},
        {"restart_server for a port without a server", doc(kServer + R"(, "actions": [{"at": "1s", "do": "restart_server", "host": "b", "port": 81}])"),
         "/actions/0/port", {"no server on b:81 to restart"}},
        {"nat_add_address for an unknown NAT", doc(kNat + R"(, "actions": [{"at": "1s", "do": "nat_add_address", "nat": "gw2", "address": "203.0.113.2"}])"),
         "/actions/0/nat", {"no NAT named \"gw2\""}},
        {"nat_add_address already in the pool", doc(kNat + R"(, "actions": [{"at": "1s", "do": "nat_add_address", "nat": "gw", "address": "203.0.113.1"}])"),
         "/actions/0/address", {"203.0.113.1 is already in the pool of NAT \"gw\""}},
        {"nat_add_address of a loopback address", doc(kNat + R"(, "actions": [{"at": "1s", "do": "nat_add_address", "nat": "gw", "address": "127.0.0.9"}])"),
         "/actions/0/address", {"127.0.0.0/8", "loopback"}},
        {"nat_add_address of a balancer's address",
         doc(kServer + ", " + kNat + R"(, "balancers": [{"name": "lb", "address": "10.0.0.100", "backends": ["b:80"]}],
             "actions": [{"at": "1s", "do": "nat_add_address", "nat": "gw", "address": "10.0.0.100"}])"),
         "/actions/0/address", {"10.0.0.100", "already used"}},
        {"nat_remove_address not in the pool", doc(kNat + R"(, "actions": [{"at": "1s", "do": "nat_remove_address", "nat": "gw", "address": "203.0.113.7"}])"),
         "/actions/0/address", {"203.0.113.7 is not in the pool of NAT \"gw\""}},
        {"nat_remove_address before the address is added",
         doc(kNat + R"(, "actions": [{"at": "20s", "do": "nat_add_address", "nat": "gw", "address": "203.0.113.2"},
                                     {"at": "10s", "do": "nat_remove_address", "nat": "gw", "address": "203.0.113.2"}])"),
         "/actions/1/address", {"203.0.113.2 is not in the pool of NAT \"gw\""}},
        {"action after the duration", doc(R"("actions": [{"at": "61s", "do": "stop_host", "host": "a"}])"), "/actions/0/at",
         {"the action is at 61", "lasts 60s"}},
        {"stop_host of an unknown host", doc(R"("actions": [{"at": "1s", "do": "stop_host", "host": "c"}])"), "/actions/0/host", {"no host named \"c\""}},
        // Taken silently before (found by fuzzing): a key twice (the last one won), a NUL byte.
        {"a key given twice", R"({"duration": "1s", "duration": "5s", "hosts": [{"name": "a", "address": "10.0.0.1"}]})",
         "/duration", {"the key \"duration\" is given twice"}},
        {"a key given twice in an object inside an array",
         R"({"duration": "1s", "hosts": [{"name": "a", "address": "10.0.0.1"}, {"name": "b", "address": "10.0.0.2", "name": "c"}]})",
         "/hosts/1/name", {"the key \"name\" is given twice"}},
        {"a NUL byte after the document", std::string("{\"duration\": \"1s\"}\0 and more", 28), "1:19", {"invalid JSON", "a NUL byte"}},
        {"a closed-loop client without a retry back-off",
         doc(kServer + ", " + client(R"("retry": {"attempts": 3, "backoff": "0s"})", R"({"type": "closed_loop", "processes": 4, "requests": 100})")),
         "/clients/0/retry/backoff", {"back-off above 0"}},
        {"a sysctl number above 2^63",
         R"({"duration": "1s", "profile": "linux", "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.ipv4.tcp_fin_timeout": 18446744073709551615}}]})",
         "/hosts/0/sysctls/net.ipv4.tcp_fin_timeout", {"\"18446744073709551615\" is not a valid value"}},
        // Values so large that the model's arithmetic would overflow (found by fuzzing).
        {"a run of more than 100,000 hours", R"({"duration": "100001h", "hosts": [{"name": "a", "address": "10.0.0.1"}]})",
         "/duration", {"at most 100000h", "\"100001h\""}},
        {"an MSL near the int64 limit (2 * MSL would overflow)", doc(R"("tcp": {"msl": "2562046h"})"), "/tcp/msl", {"at most 100000h"}},
        {"tcp_fin_timeout above INT_MAX / HZ",
         R"({"duration": "1s", "profile": "linux", "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.ipv4.tcp_fin_timeout": 8589935}}]})",
         "/hosts/0/sysctls/net.ipv4.tcp_fin_timeout", {"not a valid value"}},
        {"FreeBSD msl above an int of milliseconds",
         R"({"duration": "1s", "profile": "freebsd", "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.inet.tcp.msl": 2147483648}}]})",
         "/hosts/0/sysctls/net.inet.tcp.msl", {"not a valid value"}},
        {"FreeBSD rexmit_initial near the int64 limit",
         R"({"duration": "1s", "profile": "freebsd", "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.inet.tcp.rexmit_initial": 9223372036854775807}}]})",
         "/hosts/0/sysctls/net.inet.tcp.rexmit_initial", {"not a valid value"}},
        {"tcp_max_tw_buckets above an int",
         R"({"duration": "1s", "profile": "linux", "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.ipv4.tcp_max_tw_buckets": 4294967296}}]})",
         "/hosts/0/sysctls/net.ipv4.tcp_max_tw_buckets", {"not a valid value"}},
        // Nested deeper than any input needs: echoed into the --json output, 100,000 levels
        // overflowed the stack (found by fuzzing). The place is the bracket that opens level 65.
        {"arrays nested 100,000 deep",
         R"({"duration": "1s", "x": )" + std::string(100000, '[') + std::string(100000, ']') + "}", "1:88",
         {"invalid JSON", "nested deeper than 64 arrays and objects"}},
        {"a number beyond a double", R"({"duration": "1s", "seed": -1e400, "hosts": [{"name": "a", "address": "10.0.0.1"}]})", "1:28",
         {"invalid JSON", "a number beyond the range of a double (-1e400)"}},
        {"an integer beyond a double", R"({"duration": "1s", "seed": )" + std::string(400, '9') + "}", "1:28",
         {"invalid JSON", "a number beyond the range of a double (999"}},
        {"a port range with a third number",
         R"({"duration": "1s", "profile": "linux", "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.ipv4.ip_local_port_range": "1024 2048 3"}}]})",
         "/hosts/0/sysctls/net.ipv4.ip_local_port_range", {"not a valid value"}},
    };
}

// The error of parsing `text`, or what went wrong instead (accepted, another exception).
std::string error_of(const std::string& text) {
    try {
        parse_scenario(text, "bad.json");
    } catch (const ScenarioError& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("CRASH (not a ScenarioError): ") + e.what();
    }
    return "ACCEPTED";
}

}  // namespace

TEST_CASE("bad input: each bad scenario is refused with the file, the place and the problem", "[bad-input]") {
    const auto cases = bad_inputs();
    std::set<std::string> texts;
    for (const Bad& b : cases) {
        INFO(b.what << "\n" << b.text);
        CHECK(texts.insert(b.text).second);  // distinct inputs
        const std::string e = error_of(b.text);
        const bool syntax = !b.place.empty() && b.place[0] != '/';
        const std::string prefix = syntax ? "bad.json:" + b.place + ": " : "bad.json: " + b.place + ": ";
        INFO("error: " << e);
        CHECK(e.rfind(prefix, 0) == 0);
        for (const std::string& w : b.words) CHECK(e.find(w) != std::string::npos);
    }
    CHECK(texts.size() >= 35);
}

TEST_CASE("bad input: the corrected scenarios are accepted", "[bad-input]") {
    // The near-misses of the cases above, fixed, so that the errors come from the mistake alone.
    for (const std::string& good : {
             doc(kServer + ", " + client(R"("closer": "client", "pool": {"size": 4})")),
             doc(R"("servers": [{"host": "b", "port": 80, "close": "after_response"}], )" + client(R"("closer": "server")")),
             doc(kServer + ", " + client(R"("bind": "fixed", "local_port": 5000)")),
             doc(kServer + ", " + client("", R"({"type": "ramp", "rate": 0, "rate_to": 10, "ramp": "10s"})")),
             doc(kServer + ", " + client("", R"({"type": "steps", "steps": [{"at": "5s", "rate": 5}, {"at": "10s", "rate": 0}]})")),
             doc(kServer + ", " + client("", R"({"type": "closed_loop", "processes": 4, "requests": 100})")),
             doc(kNat + R"(, "actions": [{"at": "10s", "do": "nat_add_address", "nat": "gw", "address": "203.0.113.2"},
                                         {"at": "20s", "do": "nat_remove_address", "nat": "gw", "address": "203.0.113.2"},
                                         {"at": "30s", "do": "nat_add_address", "nat": "gw", "address": "203.0.113.2"}])"),
             doc(R"("actions": [{"at": "1s", "do": "sysctl", "host": "a", "name": "net.ipv4.ip_local_port_range", "value": "32768 61000"}])"),
             doc(R"("actions": [{"at": "60s", "do": "stop_host", "host": "a"}])"),
             doc(kServer + ", " + client(R"("retry": {"attempts": 3, "backoff": "0s"})")),  // open loop: retries are counted
             std::string(R"({"duration": "100000h", "hosts": [{"name": "a", "address": "10.0.0.1"}]})"),
             std::string(R"({"duration": "1s", "profile": "linux", "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.ipv4.tcp_fin_timeout": 8589934}}]})"),
             std::string(R"({"duration": "1s", "profile": "freebsd", "hosts": [{"name": "a", "address": "10.0.0.1", "sysctls": {"net.inet.tcp.msl": 2147483647}}]})"),
         }) {
        INFO(good);
        CHECK(error_of(good) == "ACCEPTED");
    }
}

TEST_CASE("bad input: nesting is counted outside strings only", "[bad-input]") {
    const std::string brackets(200, '[');
    CHECK(json_too_deep(R"({"name": ")" + brackets + R"("})") == std::string::npos);
    CHECK(json_too_deep(R"({"name": "\"[", "x": )" + std::string(63, '[') + std::string(63, ']') + "}") == std::string::npos);
    CHECK(json_too_deep(R"({"name": "\"[", "x": )" + std::string(64, '{') + "}") == 84);  // the 64th '{' opens level 65
    // On the command line: a --set or --vary value nested too deep is refused the same way.
    CHECK_THROWS_WITH(parse_override("/x=" + std::string(65, '[') + std::string(65, ']')),
                      "--set /x: the value is nested deeper than 64 arrays and objects");
    CHECK(parse_override("/x=" + std::string(64, '[') + std::string(64, ']')).value.is_array());
    CHECK(parse_override("/x=" + std::string(65, '[')).value.is_string());  // not JSON: the text itself
}
