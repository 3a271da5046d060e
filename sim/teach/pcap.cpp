#include "teach/pcap.hpp"

#include "scenario/overrides.hpp"
#include "scenario/scenario.hpp"

#include <fmt/format.h>

#include <pcap/pcap.h>

#include <dlfcn.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tcpsim {
namespace {

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    put16(b, at, v >> 16);
    put16(b, at + 2, v & 0xFFFF);
}

// The Internet checksum (RFC 1071) of `sum` carried so far plus bytes [from, to).
std::uint32_t sum_bytes(const std::vector<std::uint8_t>& b, std::size_t from, std::size_t to, std::uint32_t sum) {
    std::size_t i = from;
    for (; i + 1 < to; i += 2) sum += static_cast<std::uint32_t>(b[i] << 8 | b[i + 1]);
    if (i < to) sum += static_cast<std::uint32_t>(b[i] << 8);
    return sum;
}
std::uint16_t fold(std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xFFFF);
}

// "10.0.0.1:40000": false when it is not an IPv4 address and a port.
bool parse_sockaddr(const std::string& text, tcp::SockAddr& out) {
    unsigned a = 0, b = 0, c = 0, d = 0, port = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &tail) != 5) return false;
    if (a > 255 || b > 255 || c > 255 || d > 255 || port > 65535) return false;
    out = tcp::SockAddr{a << 24 | b << 16 | c << 8 | d, static_cast<std::uint16_t>(port)};
    return true;
}

// libpcap, opened on first use (dlopen): linked in, it and the nine libraries it needs (D-Bus,
// systemd, libgcrypt, ...) would be loaded at every start of tcpsim, capturing or not.
struct PcapApi {
    decltype(&pcap_open_dead_with_tstamp_precision) open_dead = nullptr;
    decltype(&pcap_dump_fopen) dump_fopen = nullptr;
    decltype(&pcap_dump) dump = nullptr;
    decltype(&pcap_dump_close) dump_close = nullptr;
    decltype(&pcap_close) close = nullptr;
    decltype(&pcap_geterr) geterr = nullptr;
};

template <class F>
void bind_symbol(void* lib, const char* name, F& out) {
    out = reinterpret_cast<F>(dlsym(lib, name));
    if (out == nullptr) throw std::runtime_error(fmt::format("libpcap has no {}: {}", name, dlerror()));
}

const PcapApi& pcap_api() {
    static const PcapApi api = [] {
        void* lib = nullptr;
        for (const char* name : {"libpcap.so.0.8", "libpcap.so.1", "libpcap.so"})
            if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
        if (lib == nullptr)
            throw std::runtime_error(fmt::format("--pcap needs libpcap (Debian libpcap0.8): {}", dlerror()));
        PcapApi a;
        bind_symbol(lib, "pcap_open_dead_with_tstamp_precision", a.open_dead);
        bind_symbol(lib, "pcap_dump_fopen", a.dump_fopen);
        bind_symbol(lib, "pcap_dump", a.dump);
        bind_symbol(lib, "pcap_dump_close", a.dump_close);
        bind_symbol(lib, "pcap_close", a.close);
        bind_symbol(lib, "pcap_geterr", a.geterr);
        return a;
    }();
    return api;
}

}  // namespace

std::vector<std::uint8_t> ipv4_packet(const tcp::Segment& seg, std::uint16_t ip_id) {
    // Options as Linux lays them out: MSS first, then NOP NOP TS (RFC 7323 Appendix A).
    std::size_t opt_len = (seg.mss != 0 ? 4 : 0) + (seg.has_ts ? 12 : 0);
    const std::size_t tcp_len = 20 + opt_len;
    const std::size_t payload = seg.len;
    std::size_t total = 20 + tcp_len + payload;
    if (total > 65535) total = 65535;  // never for a modelled segment (at most one MSS of payload)
    std::vector<std::uint8_t> b(total, 0);
    // IPv4 header (RFC 791).
    b[0] = 0x45;
    put16(b, 2, static_cast<std::uint32_t>(total));
    put16(b, 4, ip_id);
    put16(b, 6, 0x4000);  // DF
    b[8] = 64;            // TTL
    b[9] = 6;             // TCP
    put32(b, 12, seg.src.ip);
    put32(b, 16, seg.dst.ip);
    put16(b, 10, fold(sum_bytes(b, 0, 20, 0)));
    // TCP header (RFC 9293 §3.1).
    const std::size_t t = 20;
    put16(b, t, seg.src.port);
    put16(b, t + 2, seg.dst.port);
    put32(b, t + 4, seg.seq);
    put32(b, t + 8, seg.ack_set() ? static_cast<std::uint32_t>(seg.ack) : 0);
    b[t + 12] = static_cast<std::uint8_t>((tcp_len / 4) << 4);
    b[t + 13] = seg.flags;  // FIN SYN RST PSH ACK: the header's own bit positions
    put16(b, t + 14, seg.wnd > 65535 ? 65535 : seg.wnd);
    std::size_t o = t + 20;
    if (seg.mss != 0) {
        b[o] = 2;
        b[o + 1] = 4;
        put16(b, o + 2, seg.mss);
        o += 4;
    }
    if (seg.has_ts) {
        b[o] = 1;
        b[o + 1] = 1;
        b[o + 2] = 8;
        b[o + 3] = 10;
        put32(b, o + 4, seg.tsval);
        put32(b, o + 8, seg.tsecr);
        o += 12;
    }
    // Checksum over the pseudo-header (addresses, protocol, TCP length) and the segment.
    const auto seg_bytes = static_cast<std::uint32_t>(total - 20);
    std::uint32_t sum = (seg.src.ip >> 16) + (seg.src.ip & 0xFFFF) + (seg.dst.ip >> 16) + (seg.dst.ip & 0xFFFF) + 6 + seg_bytes;
    put16(b, t + 16, fold(sum_bytes(b, t, total, sum)));
    return b;
}

bool PcapFilter::matches(SimTime t, const tcp::Segment& s) const {
    if (!wants_time(t)) return false;
    if (!host_ips.empty()) {
        bool hit = false;
        for (std::uint32_t ip : host_ips) hit = hit || ip == s.src.ip || ip == s.dst.ip;
        if (!hit) return false;
    }
    if (tuple) {
        const auto& [a, b] = *tuple;
        if (!((s.src == a && s.dst == b) || (s.src == b && s.dst == a))) return false;
    }
    return true;
}

PcapFilter parse_pcap_filter(const std::string& text, const Scenario& sc) {
    PcapFilter f;
    auto bad = [&](const std::string& why) {
        throw UsageError(fmt::format("run: --pcap-filter {}: {} (host=NAME, tuple=A:P-B:P, from=TIME, to=TIME, "
                                     "separated by commas; see --help)",
                                     text, why));
    };
    std::size_t i = 0;
    while (i <= text.size()) {
        std::size_t j = text.find(',', i);
        if (j == std::string::npos) j = text.size();
        const std::string term = text.substr(i, j - i);
        i = j + 1;
        const std::size_t eq = term.find('=');
        if (eq == std::string::npos) bad(fmt::format("\"{}\" is not KEY=VALUE", term));
        const std::string key = term.substr(0, eq), value = term.substr(eq + 1);
        if (key == "host") {
            for (const HostSpec& h : sc.hosts)
                if (h.name == value) {
                    f.host_ips.push_back(h.ip);
                    f.host_ips.insert(f.host_ips.end(), h.extra_ips.begin(), h.extra_ips.end());
                }
            for (const NatSpec& n : sc.forecast.nats)
                if (n.name == value) f.host_ips.insert(f.host_ips.end(), n.config.outer.begin(), n.config.outer.end());
            for (const BalancerSpec& lb : sc.forecast.balancers)
                if (lb.name == value) {
                    f.host_ips.push_back(lb.vip);
                    f.host_ips.insert(f.host_ips.end(), lb.snat_config.outer.begin(), lb.snat_config.outer.end());
                }
            if (f.host_ips.empty()) {
                std::string names;
                for (const HostSpec& h : sc.hosts) names += (names.empty() ? "" : ", ") + h.name;
                throw ScenarioError(fmt::format("{}: --pcap-filter host={}: no host, NAT or balancer of that name (hosts: {})",
                                                sc.file, value, names));
            }
        } else if (key == "tuple") {
            const std::size_t dash = value.find('-');
            tcp::SockAddr a, b;
            if (dash == std::string::npos || !parse_sockaddr(value.substr(0, dash), a) || !parse_sockaddr(value.substr(dash + 1), b))
                bad("a tuple is ADDRESS:PORT-ADDRESS:PORT, such as 10.0.0.1:40000-10.0.0.2:80");
            f.tuple = std::make_pair(a, b);
        } else if (key == "from" || key == "to") {
            Duration d;
            if (!parse_duration(value, d)) bad(fmt::format("{}={}: expected a time such as 10s or 1.5m", key, value));
            (key == "from" ? f.from : f.to) = SimTime::zero() + d;
        } else {
            bad(fmt::format("unknown key \"{}\"", key));
        }
    }
    if (f.to <= f.from) bad("the window is empty (to is not after from)");
    return f;
}

bool parse_byte_size(const std::string& text, std::uint64_t& out) {
    if (text.empty() || text[0] < '0' || text[0] > '9') return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
    if (errno != 0) return false;
    std::string unit(end);
    for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::uint64_t mult = 1;
    if (unit.empty() || unit == "B") mult = 1;
    else if (unit == "K" || unit == "KB") mult = 1000;
    else if (unit == "M" || unit == "MB") mult = 1000 * 1000;
    else if (unit == "G" || unit == "GB") mult = 1000ULL * 1000 * 1000;
    else if (unit == "KIB") mult = 1024;
    else if (unit == "MIB") mult = 1024 * 1024;
    else if (unit == "GIB") mult = 1024ULL * 1024 * 1024;
    else return false;
    if (n > UINT64_MAX / mult) return false;
    out = n * mult;
    return true;
}

PcapWriter::PcapWriter(std::uint64_t max_bytes) : max_bytes_(max_bytes) {
    const PcapApi& api = pcap_api();
    pcap_t* p = api.open_dead(DLT_RAW, 65535, PCAP_TSTAMP_PRECISION_NANO);
    if (p == nullptr) throw std::runtime_error("libpcap: pcap_open_dead failed");
    pcap_ = p;
    FILE* mem = open_memstream(&buf_, &buf_size_);
    if (mem == nullptr) throw std::runtime_error(fmt::format("open_memstream: {}", std::strerror(errno)));
    pcap_dumper_t* d = api.dump_fopen(p, mem);
    if (d == nullptr) {
        std::fclose(mem);
        throw std::runtime_error(fmt::format("libpcap: {}", api.geterr(p)));
    }
    dumper_ = d;
}

PcapWriter::~PcapWriter() {
    if (dumper_ != nullptr) pcap_api().dump_close(static_cast<pcap_dumper_t*>(dumper_));
    if (pcap_ != nullptr) pcap_api().close(static_cast<pcap_t*>(pcap_));
    std::free(buf_);
}

void PcapWriter::add(SimTime t, const tcp::Segment& seg) {
    if (full_ || dumper_ == nullptr) return;
    packet_ = ipv4_packet(seg, ip_id_);
    if (bytes_ + 16 + packet_.size() > max_bytes_) {
        full_ = true;
        return;
    }
    ++ip_id_;
    pcap_pkthdr h{};
    const std::int64_t ns = t.ns();
    h.ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    h.ts.tv_usec = static_cast<suseconds_t>(ns % 1'000'000'000);  // nanoseconds: the file's precision
    h.caplen = static_cast<bpf_u_int32>(packet_.size());
    h.len = h.caplen;
    pcap_api().dump(static_cast<u_char*>(dumper_), &h, packet_.data());
    bytes_ += 16 + packet_.size();
    ++packets_;
}

std::string PcapWriter::finish() {
    if (dumper_ != nullptr) {
        pcap_api().dump_close(static_cast<pcap_dumper_t*>(dumper_));  // flushes and closes the memory stream
        dumper_ = nullptr;
    }
    return std::string(buf_ != nullptr ? buf_ : "", buf_size_);
}

std::string pcap_of_records(const std::vector<TraceRecord>& records) {
    PcapWriter w;
    for (const TraceRecord& r : records)
        if (r.kind == RecordKind::Send || r.kind == RecordKind::Drop || r.kind == RecordKind::Lost) w.add(r.time, r.seg);
    return w.finish();
}

}  // namespace tcpsim
