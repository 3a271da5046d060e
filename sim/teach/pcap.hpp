// Captures for Wireshark (issue #24): the segments a run carried, as a standard pcap file read
// by tcpdump, tshark and Wireshark. Written with libpcap (pcap_open_dead + pcap_dump into a
// memory stream), so the bytes can go through write_outputs() like every other output.
//
// The file: link type LINKTYPE_RAW (each packet starts at its IPv4 header: no made-up MAC
// addresses), nanosecond timestamps (the magic number of libpcap's nanosecond format) that are
// the simulated time from 0 (1970-01-01 00:00:00 in a reader that prints dates). Each packet is a
// real IPv4 header (DF, TTL 64, an ID counting up per capture) and TCP header: addresses, ports,
// absolute sequence and acknowledgment numbers (the acknowledgment field is 0 without the ACK
// flag), flags, the window as on the wire (window scaling is not modelled: the 16-bit field is
// the window), the MSS and timestamp options the model carries (NOP-padded as Linux lays them
// out), correct IPv4 and TCP checksums, and the payload's modelled length as zero bytes.
//
// A packet is recorded where it was sent, when it leaves the sender: a segment that a link then
// dropped or lost is in the capture (as tcpdump on the sender would see it), and a segment that a
// NAT or balancer translates appears twice, once on each side of the box.
#pragma once

#include "tcp/segment.hpp"
#include "world/trace_record.hpp"
#include "world/world.hpp"

#include <tcpsim/time.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace tcpsim {

struct Scenario;

// Which packets a capture keeps (run --pcap-filter): every condition given must hold.
//   host=NAME        a segment from or to any address of that host (or NAT, balancer)
//   tuple=A:P-B:P    one connection, either direction (A:P and B:P addresses and ports)
//   from=TIME        sent at or after TIME (10s, 1.5m, 250ms)
//   to=TIME          sent before TIME
// Conditions are separated by commas: "host=client,from=10s,to=20s".
struct PcapFilter {
    std::vector<std::uint32_t> host_ips;  // empty: any
    std::optional<std::pair<tcp::SockAddr, tcp::SockAddr>> tuple;
    SimTime from = SimTime::zero();
    SimTime to = SimTime::never();

    [[nodiscard]] bool wants_time(SimTime t) const { return t >= from && t < to; }
    [[nodiscard]] bool matches(SimTime t, const tcp::Segment& s) const;
};
// Throws UsageError (a bad spelling) or ScenarioError (no such host in the scenario).
PcapFilter parse_pcap_filter(const std::string& text, const Scenario& sc);

// "100MB", "1GB", "500k", "1048576": bytes. False when it is not one.
bool parse_byte_size(const std::string& text, std::uint64_t& out);
inline constexpr const char* kDefaultPcapMax = "100MB";

class PcapWriter {
public:
    explicit PcapWriter(std::uint64_t max_bytes = UINT64_MAX);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Appends one packet, unless the file would grow past max_bytes (then nothing more is kept).
    void add(SimTime t, const tcp::Segment& seg);
    // The whole file; the writer is finished after it.
    std::string finish();

    [[nodiscard]] std::uint64_t packets() const { return packets_; }
    [[nodiscard]] std::uint64_t bytes() const { return bytes_; }
    [[nodiscard]] bool full() const { return full_; }  // a packet was left out for the limit

private:
    void* pcap_ = nullptr;    // pcap_t*
    void* dumper_ = nullptr;  // pcap_dumper_t*
    char* buf_ = nullptr;
    std::size_t buf_size_ = 0;
    std::uint64_t max_bytes_;
    std::uint64_t bytes_ = 24;  // the file header
    std::uint64_t packets_ = 0;
    std::uint16_t ip_id_ = 0;
    bool full_ = false;
    std::vector<std::uint8_t> packet_;
};

// run --pcap: the world's segments that pass the filter, into a writer.
class PcapTap final : public SegmentTap {
public:
    PcapTap(PcapFilter f, PcapWriter& w) : filter_(std::move(f)), w_(w) {}
    void on_wire(SimTime t, int /*node*/, const tcp::Segment& seg) override {
        if (filter_.matches(t, seg)) w_.add(t, seg);
    }

private:
    PcapFilter filter_;
    PcapWriter& w_;
};

// The IPv4 packet of a segment (headers and zero payload), checksums filled in.
std::vector<std::uint8_t> ipv4_packet(const tcp::Segment& seg, std::uint16_t ip_id);

// A capture of a trace's segments: every Send, Drop and Lost record, at its time.
std::string pcap_of_records(const std::vector<TraceRecord>& records);

}  // namespace tcpsim
