// The exhaustion forecast (`tcpsim run`): what the workloads of a scenario observed, and the
// report built from it: the first failure of each kind with where and why, steady-state rates,
// connect latency, peak states, the analytic ceiling beside the simulated one, and end states.
// Text for people, JSON and a CSV time series for tools (DESIGN.md §7).
#pragma once

#include "scenario.hpp"
#include "world.hpp"

#include <tcpsim/errno.hpp>
#include <tcpsim/value_counts.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tcpsim {

// The failure kinds of the answer, in report order.
inline constexpr std::array<const char*, 6> kFailureKinds = {"EADDRNOTAVAIL", "EADDRINUSE", "ETIMEDOUT",
                                                             "ECONNREFUSED", "ECONNRESET", "NAT drop"};

struct FailureRecord {
    SimTime at;
    std::string kind;     // errno name or "NAT drop"
    std::string node;     // host, NAT or balancer
    std::string syscall;  // connect, bind, listen, read, "-" for a middlebox
    tcp::SockAddr local, remote;
    std::string why;      // what held the ports at that moment
    std::vector<std::pair<std::string, std::int64_t>> held;  // (state, count) toward that destination / on that box
};

struct ClientCounts {
    std::uint64_t offered = 0, completed = 0, failed = 0;
};

struct Sample {
    SimTime at;
    std::vector<ClientCounts> clients;                      // per client workload, during the interval
    std::uint64_t offered = 0, completed = 0, failed = 0;  // during the interval
    std::vector<StateCounts> states;                        // per host, TIME-WAIT incl. mini-sockets
    std::vector<std::array<std::uint64_t, 4>> nats;         // per NAT/balancer SNAT: transitory, established, time-wait, ports in use
};

class Forecast {
public:
    Forecast(const Scenario& sc, World& w);

    // -- what the workloads report
    void offered(std::uint32_t client) {
        ++attempted_;
        ++cur_.offered;
        ++per_client_[client].offered;
    }
    void completed(std::uint32_t client) {
        ++succeeded_;
        ++cur_.completed;
        ++per_client_[client].completed;
        last_ok_ = true;
    }
    void connection_opened() { ++connections_; }
    void connect_latency(Duration d) { latencies_.add(d.count()); }
    // A failed call or a refused SYN; `counts_as_failure` is false for a middlebox drop (the
    // client's own timeout reports it a second time as ETIMEDOUT).
    void failure(const std::string& kind, int node, const std::string& syscall, tcp::SockAddr local, tcp::SockAddr remote,
                 bool request_failed, int client = -1);
    void sample();  // at each report interval
    void finish();  // at the end of the run

    // -- the report
    [[nodiscard]] std::string text() const;
    [[nodiscard]] std::string json() const;
    [[nodiscard]] nlohmann::ordered_json json_doc() const;
    [[nodiscard]] std::string csv() const;
    [[nodiscard]] std::uint64_t failures_total() const { return failures_total_; }
    [[nodiscard]] std::uint64_t attempted() const { return attempted_; }
    [[nodiscard]] std::uint64_t succeeded() const { return succeeded_; }
    [[nodiscard]] std::uint64_t failed() const { return failed_; }
    [[nodiscard]] const std::optional<FailureRecord>& first_failure() const { return first_any_; }

private:
    struct Rates {
        SimTime from, to;
        double offered = 0, completed = 0, failed = 0;
        std::vector<double> client_offered, client_completed;  // per client workload
    };
    [[nodiscard]] Rates steady() const;
    struct Analytic {
        double rate = 0;    // connections per second, 0: no estimate
        std::string basis;  // "28232 ports / 60 s TIME-WAIT on client toward 10.0.0.2:80"
        int tw_host = -1;   // the host whose TIME-WAIT sets it, if one does
        int client = -1;    // the client workload whose path it limits
        double budget = 0;  // the fewest ports any place on a workload's path has
        int budget_client = -1;
        double budget_rate = 0;  // the offered rate that fills it (0: not an open arrival process)
        std::string budget_basis;
        double ports = 0;
        Duration hold = Duration::ns(0);
    };
    [[nodiscard]] Analytic analytic() const;
    [[nodiscard]] std::optional<std::int64_t> percentile(double q) const;
    [[nodiscard]] std::string time_wait_endings() const;
    std::string explain(int node, tcp::SockAddr remote, std::vector<std::pair<std::string, std::int64_t>>& held) const;

    const Scenario& sc_;
    World& w_;
    std::uint64_t attempted_ = 0, succeeded_ = 0, failed_ = 0, connections_ = 0, failures_total_ = 0;
    std::map<std::string, std::uint64_t> by_errno_;
    std::map<std::string, FailureRecord> first_;  // by kind
    std::optional<FailureRecord> first_any_;
    ValueCounts latencies_;  // connect latencies (ns), exact, by distinct value
    std::vector<Sample> samples_;
    Sample cur_;
    std::vector<StateCounts> peaks_;
    // Onsets of failure (a failed request right after a successful one): the moments when every
    // port is in use again, the same phase of each wave of reuse.
    using Counts = ClientCounts;
    std::vector<Counts> per_client_;  // cumulative, per client workload
    std::vector<Counts> per_client_at_sample_;
    struct Onset {
        SimTime at;
        std::uint64_t offered, completed, failed;
        std::vector<Counts> clients;
    };
    std::vector<Onset> onsets_;
    bool last_ok_ = true;
    struct LastFailure {
        SimTime at;
        std::string kind, node, syscall;
    };
    std::optional<LastFailure> last_;
    SimTime end_ = SimTime::zero();
};

// Runs a scenario's workloads to its duration or stop condition; returns the forecast.
struct ForecastRun {
    std::string text, json, csv;
    nlohmann::ordered_json doc;  // the JSON report as data (what-if tools read their rows from it)
};
// `progress`, when given, is called every World::kProgressEvents events with the simulated time
// and the connections attempted so far; it may throw (Interrupted) to abandon the run.
// `tap`, when given, sees every segment put on a wire (run --pcap).
ForecastRun run_forecast(const Scenario& sc, const std::function<void(SimTime, std::uint64_t)>& progress = {},
                         SegmentTap* tap = nullptr);

}  // namespace tcpsim
