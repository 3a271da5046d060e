// The exhaustion forecast (`tcpsim run`): what the workloads of a scenario observed, and the
// report built from it: the first failure of each kind with where and why, steady-state rates,
// connect latency, peak states, the analytic ceiling beside the simulated one, and end states.
// Text for people, JSON and a CSV time series for tools (DESIGN.md §7).
#pragma once

#include "scenario/scenario.hpp"
#include "world/world.hpp"

#include <tcpsim/errno.hpp>
#include <tcpsim/value_counts.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
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

// Work left at the end of a run, named (never "0 failed" alone: DESIGN.md §7 Verdicts).
struct Unfinished {
    std::uint64_t opening = 0;     // connections still opening (SYN-SENT) at the end
    std::uint64_t opening_retransmitted = 0;  // of which had to send their SYN again
    std::uint64_t awaiting = 0;    // requests sent and waiting for a response
    std::uint64_t retrying = 0;    // failed requests waiting for their retry back-off
    std::uint64_t never_sent = 0;  // closed loops: requests never sent, their process still waiting
    [[nodiscard]] std::uint64_t total() const { return opening + awaiting + retrying + never_sent; }
};

// Where a mechanism acts, for the remedies: a host whose own ports ran out ("opener"), a NAT or
// balancer ("middlebox"), or a host that dropped SYNs sent to it ("listener": its TIME-WAIT,
// accept queue or tcp_tw_recycle check).
struct Place {
    std::string node;
    std::string as;
};

// An objective's first breach: when (the end of the report interval), where, and why (the mechanism).
struct Breach {
    std::string objective;  // "syn_retransmitted", "connect_p99", "connect_max", "connect_p50", "failed", "unfinished"
    SimTime from, at;       // the report interval (from == at: judged at the end of the run)
    std::string host;       // where it was measured
    std::string measured;   // "52.0% of 400 connects needed a retransmitted SYN (at most 1%)"
    std::string why;        // "SYNs dropped by backend's TIME-WAIT (FreeBSD tcp_twcheck: SEQ not above RCV.NXT)..."
    std::vector<Place> where;  // where the mechanism of the why acts (empty: none found)
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
    // per NAT/balancer SNAT: (outer address, ports in use) for each of its addresses at the time
    std::vector<std::vector<std::pair<std::uint32_t, std::uint64_t>>> nat_address_ports;
    std::uint64_t opened = 0;             // connects begun in the interval
    std::uint64_t syn_retransmitted = 0;  // connects whose SYN was first sent again in the interval
    std::uint64_t connects = 0;           // connects established in the interval
    std::optional<std::int64_t> p50, p99, max;              // their connect latency (ns)
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
        work_end_ = client_last_end_[client] = w_.now();
    }
    void connection_opened() {
        ++connections_;
        ++cur_.opened;
    }
    // A connect completed on `host` after d; `syn_retransmitted`: its SYN had to be sent again.
    void connect_latency(Duration d, bool syn_retransmitted, int host);
    // A closed loop's process has sent all its requests and had them answered or failed.
    void loop_process_done(std::uint32_t client);
    void set_unfinished(const Unfinished& u) { unfinished_ = u; }
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
    [[nodiscard]] const std::vector<Breach>& breaches() const { return breaches_; }

private:
    struct Rates {
        SimTime from, to;
        double offered = 0, completed = 0, failed = 0;
        std::vector<double> client_offered, client_completed;  // per client workload
    };
    [[nodiscard]] Rates steady() const;
    // -- verdicts (verdict.cpp)
    void judge_interval(const Sample& s, SimTime from);
    void judge_end();
    void breach(const std::string& objective, SimTime from, int node, std::string measured, std::string why,
                std::vector<Place> where);
    [[nodiscard]] std::string syn_drop_why() const;
    [[nodiscard]] std::vector<Place> syn_drop_places() const;  // the biggest cause of syn_drop_why()
    [[nodiscard]] std::vector<Place> failure_places(const std::string& kind, const std::string& node) const;
    [[nodiscard]] std::string failure_why() const;
    [[nodiscard]] std::string judge_text() const;
    [[nodiscard]] std::string objectives_text() const;
    [[nodiscard]] std::string unfinished_text() const;
    [[nodiscard]] std::string closed_loop_text() const;
    [[nodiscard]] nlohmann::ordered_json verdict_json() const;
    [[nodiscard]] nlohmann::ordered_json intervals_json() const;
    [[nodiscard]] nlohmann::ordered_json loop_finished_json(std::size_t client) const;
    [[nodiscard]] std::optional<SimTime> work_done_at() const;  // every closed loop finished (no open arrivals)
    struct Analytic {
        double rate = 0;    // connections per second, 0: no estimate
        std::string basis;  // "28232 ports / 60 s TIME-WAIT on client toward 10.0.0.2:80"
        int tw_host = -1;   // the host whose TIME-WAIT sets it, if one does
        int client = -1;    // the client workload whose path it limits (the first of `clients`)
        std::vector<int> clients;  // every workload that draws on the place that sets it
        double budget = 0;  // the fewest ports any place on a workload's path has
        int budget_client = -1;
        double budget_rate = 0;  // the offered rate that fills it (0: not an open arrival process)
        std::string budget_basis;
        double ports = 0;
        Duration hold = Duration::ns(0);
    };
    [[nodiscard]] Analytic analytic() const;
    // The parts of text() and json_doc(), top to bottom.
    [[nodiscard]] std::string header_text() const;
    [[nodiscard]] std::string workload_rates_text(const Rates& st) const;
    [[nodiscard]] std::string budget_text(const Analytic& an) const;
    [[nodiscard]] std::string ceiling_text(const Analytic& an, const Rates& st) const;
    [[nodiscard]] std::string analytic_note(const Analytic& an, double sim, double offered) const;
    void add_failures_json(nlohmann::ordered_json& j) const;
    void add_analytic_json(nlohmann::ordered_json& j) const;
    [[nodiscard]] std::optional<std::int64_t> percentile(double q) const;
    [[nodiscard]] std::string time_wait_endings() const;
    std::string explain(int node, tcp::SockAddr remote, std::vector<std::pair<std::string, std::int64_t>>& held) const;
    // A full bind(0) pool: every port of the host's range on that address, whatever the destination.
    std::string explain_bind_pool(int node, tcp::SockAddr local, std::vector<std::pair<std::string, std::int64_t>>& held) const;
    // A connect that timed out because a NAT on the way dropped its SYNs: the NAT's own figures.
    [[nodiscard]] std::string nat_dropped_why(tcp::SockAddr local, tcp::SockAddr remote) const;
    [[nodiscard]] std::string nat_drop_summary() const;

    const Scenario& sc_;
    World& w_;
    std::uint64_t attempted_ = 0, succeeded_ = 0, failed_ = 0, connections_ = 0, failures_total_ = 0;
    std::map<std::string, std::uint64_t> by_errno_;
    std::map<std::string, FailureRecord> first_;  // by kind
    std::optional<FailureRecord> first_any_;
    ValueCounts latencies_;  // connect latencies (ns), exact, by distinct value
    std::vector<Sample> samples_;
    Sample cur_;
    // SYNs dropped by each NAT or balancer for lack of a port: how many, of how many distinct
    // connections (inner address and port, remote) and inner hosts.
    struct NatDrops {
        std::uint64_t syns = 0;
        std::set<std::pair<std::uint64_t, std::uint64_t>> flows;
        std::set<std::uint32_t> members;
    };
    std::map<int, NatDrops> nat_drops_;
    std::vector<SimTime> member_failed_;  // per host of a fleet: its first failed request (never: none)
    std::map<std::size_t, std::map<std::uint32_t, std::uint64_t>> nat_address_peak_;  // per NAT (report order), per outer address
    // Fleets (docs/scenario-format.md): one row per fleet in the state tables, a summary of each.
    [[nodiscard]] std::string state_rows(const std::vector<StateCounts>& per_host, bool sum) const;
    [[nodiscard]] std::string fleet_summary() const;
    [[nodiscard]] std::string nat_address_table() const;
    [[nodiscard]] std::string destination_table() const;
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
    // Verdicts: this interval's connects, the first breach of each objective, the work left.
    ValueCounts interval_latencies_, last_interval_latencies_;
    std::vector<std::uint64_t> retx_at_sample_;  // each host's SYN retransmissions counted so far at the last sample
    std::vector<std::uint64_t> interval_retx_by_host_;
    int interval_slowest_host_ = -1;
    std::int64_t interval_slowest_ = -1;
    std::map<std::string, std::uint64_t> interval_failures_;  // by kind, requests only
    std::vector<Breach> breaches_;  // in the order they happened
    Unfinished unfinished_;
    std::vector<std::uint32_t> loop_processes_done_;  // per client workload
    std::vector<SimTime> client_last_end_;            // per client workload: its last answer or failure
    SimTime work_end_ = SimTime::zero();              // the last answer or failure of any request
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
