// The forecast part of a scenario (docs/scenario-format.md): servers, client workloads, L7
// proxies, NAT gateways, L4 load balancers, timed what-if actions and stop conditions. Plain
// data, read and checked by sim/scenario/forecast_spec.cpp.
#pragma once

#include "app/arrivals.hpp"
#include "net/nat.hpp"

#include <tcpsim/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tcpsim {

// Where a client or proxy connects: a host's primary address, a balancer's virtual address, or
// an IP literal (127.0.0.1 is the client's own loopback).
struct TargetSpec {
    std::string text;        // as written: "web:80", "vip:443", "127.0.0.1:8080"
    std::uint32_t ip = 0;
    std::uint16_t port = 0;
};

// Who closes a connection first once its last response has arrived.
enum class Closer : std::uint8_t { Client, Server, Reset };

// A keep-alive pool of idle connections per destination (client side).
struct PoolSpec {
    bool enabled = false;
    std::uint32_t size = 0;           // idle connections kept
    std::uint32_t max_requests = 0;   // requests per connection before it is closed (0: no limit)
    Duration idle_timeout = Duration::s(90);
};

enum class BindMode : std::uint8_t { None, Port0, NoPort, Fixed };

struct RetrySpec {
    std::uint32_t attempts = 0;  // further attempts after a failed connect
    Duration backoff = Duration::ms(100);
};

struct ClientSpec {
    std::string name;
    int group = -1;  // Scenario::groups index when written once for a fleet
    std::string host;
    std::string pointer;
    TargetSpec target;
    app::ArrivalSpec arrival;
    Closer closer = Closer::Client;
    Duration think_time = Duration::ns(0);
    PoolSpec pool;
    BindMode bind = BindMode::None;
    std::uint16_t local_port = 0;               // BindMode::Fixed
    bool reuseaddr = false;
    std::vector<std::uint32_t> source_addresses;  // bind to these in turn (empty: the kernel's choice)
    RetrySpec retry;
    Duration response_timeout = Duration::s(60);  // the client gives up on a silent server and aborts
};

// How a server (or a proxy's client-facing side) ends a connection.
enum class ServerClose : std::uint8_t {
    AfterResponse,  // it closes right after its response: the server closes first
    WaitForClient,  // it closes when the client has closed (end of stream)
    IdleTimeout,    // keep-alive: it closes after keep_alive_timeout without a request
};

struct ServerSpec {
    std::string host;
    std::string pointer;
    std::uint16_t port = 80;
    std::uint32_t backlog = 4096;
    Duration response_time = Duration::ms(1);
    std::uint32_t request_bytes = 100;    // a request is complete when this many bytes have arrived
    std::uint32_t response_bytes = 1000;
    ServerClose close = ServerClose::WaitForClient;
    Duration keep_alive_timeout = Duration::s(5);
    std::uint32_t max_requests = 0;  // per connection, then it closes (nginx keepalive_requests; 0: no limit)
    bool reuseaddr = false;
};

struct ProxySpec {
    std::string host;
    std::string pointer;
    std::uint16_t port = 80;
    std::uint32_t backlog = 4096;
    TargetSpec upstream;
    ServerClose close = ServerClose::WaitForClient;  // toward its clients
    Duration keep_alive_timeout = Duration::s(5);
    PoolSpec pool;                                    // upstream keep-alive
    Closer upstream_closer = Closer::Client;          // Client: the proxy closes upstream first; Reset: SO_LINGER 0
    std::vector<std::uint32_t> source_addresses;      // upstream connections bind to these in turn
};

struct NatSpec {
    std::string name;
    std::string pointer;
    std::vector<std::string> inside;   // hosts whose traffic to other hosts goes through it
    net::NatConfig config;
};

enum class LbAlgorithm : std::uint8_t { RoundRobin, Hash, LeastConnections };

struct BalancerSpec {
    std::string name;
    std::string pointer;
    std::uint32_t vip = 0;
    std::uint16_t port = 80;
    std::vector<TargetSpec> backends;
    std::vector<std::string> backend_hosts;
    LbAlgorithm algorithm = LbAlgorithm::RoundRobin;
    bool snat = false;                 // source NAT to the balancer's addresses (else backends route replies back)
    net::NatConfig snat_config;        // its outer addresses default to the VIP
    Duration flow_timeout = Duration::s(120);  // a finished flow's entry is kept this long
};

enum class WhatIfKind : std::uint8_t { Sysctl, RestartServer, NatAddAddress, NatRemoveAddress, StopHost };

struct WhatIfAction {
    SimTime at;
    WhatIfKind kind = WhatIfKind::Sysctl;
    std::string target;   // host or NAT name
    std::string name;     // sysctl name
    std::string value;    // sysctl value
    std::uint32_t address = 0;
    std::uint16_t port = 0;   // restart_server: which server
    bool reuseaddr = false;   // restart_server
    Duration down = Duration::ns(0);  // restart_server: how long the port has no listener
    std::string pointer;
};

struct StopSpec {
    bool first_failure = false;
    bool first_breach = false;   // stop when an objective is first breached (capacity probes)
    std::uint64_t failures = 0;  // stop after this many failures (0: never)
};

// Service objectives, judged per report interval (DESIGN.md §7 Verdicts). A scenario without
// "slo" (and without --slo) is judged by the default: at most 1% of an interval's connects may
// need a retransmitted SYN, and no request may fail.
struct SloSpec {
    bool given = false;
    std::optional<Duration> connect_p50, connect_p99, connect_max;  // of an interval's connects
    std::optional<double> syn_retransmitted;  // share of an interval's connects that needed a retransmitted SYN
    double failed = 0;                        // share of an interval's requests that may fail
    std::optional<double> unfinished;         // share of the requests left unfinished at the end
    static constexpr double kDefaultSynRetransmitted = 0.01;
};

struct ForecastSpec {
    std::vector<ServerSpec> servers;
    std::vector<ClientSpec> clients;
    std::vector<ProxySpec> proxies;
    std::vector<NatSpec> nats;
    std::vector<BalancerSpec> balancers;
    std::vector<WhatIfAction> what_if;  // sorted by time
    StopSpec stop;
    SloSpec slo;
    Duration report_interval = Duration::s(1);  // --csv rows and steady-state windows
    [[nodiscard]] bool empty() const {
        return servers.empty() && clients.empty() && proxies.empty() && nats.empty() && balancers.empty() && what_if.empty();
    }
};

}  // namespace tcpsim
