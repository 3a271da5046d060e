// The `churn` and `exhaust` workloads of `tcpsim bench` in ns-3 (3.37), for the side-by-side in
// bench/ns3/run.sh. Two nodes over one point-to-point link with 0.5 ms one-way delay (and a
// 100 Gb/s rate, so that serialisation is negligible as in tcpsim's links); the client opens a
// connection every 1/rate s, sends a 100-byte request, reads a 1000-byte response and closes
// first; the server answers and closes when the client has. Each lifecycle is the full TCP
// handshake, exchange, teardown and TIME-WAIT of ns-3's own TcpSocketBase.
//
// Differences that no ns-3 attribute removes (printed by run.sh, too):
//  - ns-3 takes ephemeral ports from 49152-65535 (16,384, Ipv4EndPointDemux, not configurable)
//    and a port is busy while any endpoint holds it, whatever the destination; Linux has
//    32768-60999 (28,232) and shares a port between 4-tuples.
//  - ns-3 has no tcp_tw_reuse. For `churn` (tw_reuse=1 in tcpsim: a TIME-WAIT port may be taken
//    over after 1 s) the ns-3 run uses MaxSegLifetime 0.5 s, a TIME-WAIT of 1 s: ports come back
//    after the same 1 s. For `exhaust` it uses MaxSegLifetime 30 s, Linux's 60 s TIME-WAIT.
//
// Usage: ns3-churn --n=100000 --rate=10000 --msl=0.5 [--wall-limit=600]
// Prints one line: key=value pairs (wall time, lifecycles, failures, first failure time).
#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <chrono>
#include <cstdio>
#include <map>

using namespace ns3;

namespace {

constexpr uint32_t kRequest = 100;
constexpr uint32_t kResponse = 1000;

struct Stats {
    uint64_t attempted = 0, connected = 0, completed = 0, failed = 0, closed = 0;
    double first_failure = -1;
};

Stats g;
Ptr<Node> g_client;
InetSocketAddress g_server("10.0.0.2", 80);
uint64_t g_n = 0;
Time g_gap;
std::map<Socket*, uint32_t> g_client_rx, g_server_rx;
std::map<Socket*, Ptr<Socket>> g_keep;  // sockets in use, until their close callback

void fail() {
    ++g.failed;
    if (g.first_failure < 0) g.first_failure = Simulator::Now().GetSeconds();
}

void client_recv(Ptr<Socket> s) {
    Ptr<Packet> p;
    while ((p = s->Recv())) {
        uint32_t& n = g_client_rx[PeekPointer(s)];
        const bool was_short = n < kResponse;
        n += p->GetSize();
        if (was_short && n >= kResponse) {
            ++g.completed;
            s->Close();  // the client closes first: it keeps the TIME-WAIT
        }
    }
}

void client_connected(Ptr<Socket> s) {
    ++g.connected;
    s->Send(Create<Packet>(kRequest));
}

void client_failed(Ptr<Socket> s) {
    fail();
    g_client_rx.erase(PeekPointer(s));
    g_keep.erase(PeekPointer(s));
}

void client_closed(Ptr<Socket> s) {
    ++g.closed;
    g_client_rx.erase(PeekPointer(s));
    g_keep.erase(PeekPointer(s));
}

bool watchdog_check();

void arrive(uint64_t i) {
    if (i >= g_n) return;
    if (watchdog_check()) return;
    Simulator::Schedule(g_gap, &arrive, i + 1);
    ++g.attempted;
    Ptr<Socket> s = Socket::CreateSocket(g_client, TcpSocketFactory::GetTypeId());
    if (s->Bind() != 0) {  // no ephemeral port: ERROR_ADDRNOTAVAIL
        fail();
        s->Close();
        return;
    }
    s->SetConnectCallback(MakeCallback(&client_connected), MakeCallback(&client_failed));
    s->SetRecvCallback(MakeCallback(&client_recv));
    s->SetCloseCallbacks(MakeCallback(&client_closed), MakeCallback(&client_failed));
    g_keep[PeekPointer(s)] = s;
    if (s->Connect(g_server) != 0) {
        fail();
        g_keep.erase(PeekPointer(s));
    }
}

void server_recv(Ptr<Socket> s) {
    Ptr<Packet> p;
    while ((p = s->Recv())) {
        uint32_t& n = g_server_rx[PeekPointer(s)];
        const bool was_short = n < kRequest;
        n += p->GetSize();
        if (was_short && n >= kRequest) s->Send(Create<Packet>(kResponse));
    }
}

void server_peer_closed(Ptr<Socket> s) {
    // The client closed: the server closes its side (LAST-ACK), as tcpsim's wait_for_client.
    s->Close();
    g_server_rx.erase(PeekPointer(s));
    g_keep.erase(PeekPointer(s));
}

void server_error(Ptr<Socket> s) {
    g_server_rx.erase(PeekPointer(s));
    g_keep.erase(PeekPointer(s));
}

void server_accept(Ptr<Socket> s, const Address&) {
    s->SetRecvCallback(MakeCallback(&server_recv));
    s->SetCloseCallbacks(MakeCallback(&server_peer_closed), MakeCallback(&server_error));
    g_keep[PeekPointer(s)] = s;
}

bool accept_all(Ptr<Socket>, const Address&) { return true; }

// A wall-clock cap (ns-3's failure path is slow): checked every 10 ms of simulated time.
std::chrono::steady_clock::time_point g_start;
double g_wall_limit = 0;
bool g_stopped_early = false;
double g_sim_reached = 0;

bool watchdog_check() {
    if (g_stopped_early) return true;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
    if (g_wall_limit > 0 && wall > g_wall_limit) {
        g_stopped_early = true;
        g_sim_reached = Simulator::Now().GetSeconds();
        Simulator::Stop();
        return true;
    }
    return false;
}

void watchdog() {
    if (!watchdog_check()) Simulator::Schedule(MilliSeconds(10), &watchdog);
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t n = 100000;
    double rate = 10000;
    double msl = 0.5;
    CommandLine cmd;
    cmd.AddValue("n", "connections offered", n);
    cmd.AddValue("rate", "connections per second", rate);
    cmd.AddValue("msl", "TcpSocketBase MaxSegLifetime in seconds (TIME-WAIT is twice this)", msl);
    cmd.AddValue("wall-limit", "stop after this many wall seconds (0: no limit)", g_wall_limit);
    cmd.Parse(argc, argv);
    g_n = n;
    g_gap = Seconds(1.0 / rate);

    Config::SetDefault("ns3::TcpSocketBase::MaxSegLifetime", DoubleValue(msl));
    Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(1448));

    NodeContainer nodes;
    nodes.Create(2);
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue("100Gbps"));
    p2p.SetChannelAttribute("Delay", StringValue("500us"));
    NetDeviceContainer devs = p2p.Install(nodes);
    InternetStackHelper stack;
    stack.Install(nodes);
    Ipv4AddressHelper addr;
    addr.SetBase("10.0.0.0", "255.255.255.0");
    addr.Assign(devs);  // 10.0.0.1 client, 10.0.0.2 server
    g_client = nodes.Get(0);

    Ptr<Socket> listener = Socket::CreateSocket(nodes.Get(1), TcpSocketFactory::GetTypeId());
    listener->Bind(InetSocketAddress(Ipv4Address::GetAny(), 80));
    listener->Listen();
    listener->SetAcceptCallback(MakeCallback(&accept_all), MakeCallback(&server_accept));

    Simulator::Schedule(Seconds(0), &arrive, 0);
    const double window = static_cast<double>(n) / rate;
    const double stop = window + 2 * msl + 3;  // every TIME-WAIT ends
    Simulator::Stop(Seconds(stop));
    const auto t0 = std::chrono::steady_clock::now();
    g_start = t0;
    Simulator::Schedule(MilliSeconds(10), &watchdog);
    Simulator::Run();
    const auto t1 = std::chrono::steady_clock::now();
    Simulator::Destroy();
    const double wall = std::chrono::duration<double>(t1 - t0).count();
    std::printf("wall_s=%.3f sim_s=%.3f stopped_early=%d attempted=%llu connected=%llu completed=%llu failed=%llu closed=%llu "
                "first_failure_s=%.6f\n",
                wall, g_stopped_early ? g_sim_reached : stop, g_stopped_early ? 1 : 0, static_cast<unsigned long long>(g.attempted),
                static_cast<unsigned long long>(g.connected),
                static_cast<unsigned long long>(g.completed), static_cast<unsigned long long>(g.failed),
                static_cast<unsigned long long>(g.closed), g.first_failure);
    return 0;
}
