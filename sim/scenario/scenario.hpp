// Scenario files: JSON read with nlohmann_json into plain data, validated with errors that name
// the file, the place (line:column for syntax, JSON pointer for content) and the problem.
// The format is small now and shaped to grow: hosts, links, drops, timed actions, defaults.
#pragma once

#include "base/input_error.hpp"
#include "host/host.hpp"
#include "scenario/overrides.hpp"
#include "host/profile.hpp"
#include "net/link.hpp"
#include "tcp/config.hpp"
#include "scenario/workload_spec.hpp"

#include <tcpsim/time.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace tcpsim {

struct HostSpec {
    std::string name;
    std::uint32_t ip = 0;                 // the primary address
    std::vector<std::uint32_t> extra_ips; // further addresses
    std::string profile;         // empty: the core's RFC 9293 defaults
    host::StackConfig stack;     // from the profile and the host's sysctls
    tcp::TcpConfig tcp;
    // TIME-WAIT length: Linux's fixed TCP_TIMEWAIT_LEN for its mini-sockets, else 2*MSL.
    [[nodiscard]] Duration time_wait() const { return stack.linux_minisock ? stack.linux_tw.length : tcp.time_wait_length(); }
    std::optional<std::uint32_t> isn;  // pinned ISN for every connection this host opens
    std::uint32_t ts_offset = 0;       // added to the 1 ms timestamp clock
    host::Profile profile_data;        // the profile with the host's sysctls applied (run-time sysctls start here)
    int group = -1;                    // index in Scenario::groups when made from a "count" template
};

// A fleet: hosts written once with "count", a name template ("vm-{i}", i from 1) and addresses
// taken in order ("10.1.0.0/16": from the first host address up). A group is named by its
// template wherever a host is (NAT "inside", a client's "host", a link's end).
struct HostGroup {
    std::string name;                  // the name template, "vm-{i}"
    std::size_t first = 0, count = 0;  // hosts[first .. first + count)
    std::string pointer;
};

// The name of the i-th member (from 1) of a name template.
std::string member_name(const std::string& tmpl, std::size_t i);

struct LinkSpec {
    std::string a, b;
    net::LinkParams params;
};

struct DropSpec {
    std::string from, to;
    bool match_any = false;
    std::uint8_t flags = 0;
    std::uint32_t nth = 1;
    std::uint32_t times = 1;
    Duration delay = Duration::ns(0);  // hold the segment back instead of dropping it
};

enum class Call : std::uint8_t { Listen, Connect, Accept, Send, Receive, Close, Shutdown, Abort, SetLinger };

struct ActionSpec {
    SimTime at;
    std::string host;
    Call call = Call::Listen;
    std::string sock;              // socket name on that host
    std::uint16_t port = 0;        // listen: local port; connect: local port (0 = ephemeral)
    std::string to_host;           // connect: peer host
    std::uint16_t to_port = 0;     // connect: peer port
    std::uint32_t bytes = 0;       // send / receive
    host::SocketOptions options;   // listen / connect
    bool linger_zero = false;      // setsockopt SO_LINGER {1,0}
    std::uint32_t backlog = 4096;  // listen: the accept queue's limit (Linux caps it at somaxconn, 4096)
    bool manual_accept = false;    // listen: connections wait in the accept queue for "accept"
    std::string pointer;           // JSON pointer of the action, for messages
};

struct Scenario {
    std::string file;
    std::string name;
    std::string description;
    std::vector<std::string> overrides;  // the --set values applied, as typed ("/seed=2")
    std::uint64_t seed = 1;
    Duration duration = Duration::s(600);
    std::vector<HostSpec> hosts;
    std::vector<HostGroup> groups;
    std::vector<LinkSpec> links;
    net::LinkParams default_link;
    std::vector<DropSpec> drops;
    std::vector<ActionSpec> actions;  // sorted by time, stable
    ForecastSpec forecast;            // servers, clients, proxies, NATs, balancers, what-ifs
    std::vector<std::string> warnings;  // accepted but doubtful ("FILE: POINTER: what"), shown by run

    [[nodiscard]] int host_index(const std::string& name) const;  // amortised O(1): a fleet of 10,000 reads in linear time
    [[nodiscard]] const HostGroup* group(const std::string& name) const;  // by its template
    // A host's name, or a group's members' names.
    [[nodiscard]] std::vector<std::string> hosts_named(const std::string& name) const;
    [[nodiscard]] std::vector<std::string> host_names() const;
    // Network nodes: hosts, then NAT gateways, then balancers (as World numbers them).
    [[nodiscard]] int node_index(const std::string& name) const;

private:
    // host name -> index, filled as hosts are added (hosts are only ever appended).
    mutable std::unordered_map<std::string, int> name_index_;
    mutable std::size_t indexed_ = 0;
};

// Reads and validates a scenario file; throws ScenarioError with "FILE: PLACE: problem".
// `sets` are applied to the document before it is read (--set POINTER=VALUE).
Scenario load_scenario(const std::string& path, const std::vector<Override>& sets = {});
// The same from text already in memory (the name is used in messages).
Scenario parse_scenario(const std::string& text, const std::string& name, const std::vector<Override>& sets = {});
// The file's text, or ScenarioError "FILE: cannot open the file".
std::string read_scenario_text(const std::string& path);

std::string_view to_string(Call c);

}  // namespace tcpsim
