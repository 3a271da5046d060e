// tcpsim-kernel-syn: what a Linux server does with a SYN that arrives for a 4-tuple it holds in
// TIME-WAIT (tcp-stack-semantics.md §2.3, T4-T6). The server namespace runs an ordinary listening
// socket; the client is played packet by packet, like packetdrill, with crafted TCP segments.
//
// Usage: tcpsim-kernel-syn [-o RESULT.json] [--check STORED.json]
// Exit codes: 0 ok, 1 run error, 2 usage, 3 --check found a difference, 77 cannot run here (skip).
//
// How the client's own kernel is kept out of the conversation (README.md beside this file):
// the crafted client address 10.77.0.3 is assigned to NO interface. Segments are sent and received
// with one AF_PACKET (SOCK_DGRAM, ETH_P_ALL) socket bound to the client's veth end tk-c, so the
// client namespace's IP stack never sees our outgoing segments. The server namespace reaches
// 10.77.0.3 through a permanent ARP entry (SIOCSARP) that points at tk-c's MAC address. The
// client kernel receives the server's replies for a destination it does not own, and with
// forwarding off (net.ipv4.conf.all.forwarding=0, set inside the client namespace) ip_error()
// drops them silently: no RST, no ICMP. The packet socket sees every frame tk-c transmits, so
// the run counts outgoing IPv4 packets that are not ours and reports them (must be 0).
//
// Safety: the same Lab as tcpsim-kernel (netns.{hpp,cpp}): two namespaces joined by a veth pair,
// no route anywhere else, names deleted right after setup; frames only go out on tk-c, to the
// server namespace's tk-s MAC, addressed to 10.77.0.2. Every loop is bounded in count and time,
// and an alarm ends the run after 60 s.
#include <algorithm>
#include <array>
#include <cmath>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "netns.hpp"

namespace tk {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kServerAddr = "10.77.0.2";
constexpr const char* kClientIfaceAddr = "10.77.0.1";  // on tk-c; never used by the crafted client
constexpr const char* kCraftedAddr = "10.77.0.3";      // the crafted client: on no interface
constexpr std::uint16_t kServerPort = 80;
constexpr std::uint16_t kFirstClientPort = 40001;
constexpr std::uint32_t kIsn = 1000;      // the crafted client's ISN
constexpr std::uint32_t kT0 = 1000000;    // its first TSval
constexpr std::uint16_t kMss = 1460;
constexpr std::uint16_t kWindow = 65535;
constexpr int kHandshakeTimeoutMs = 1000;
constexpr int kIdleBeforeSynMs = 1000;    // "1 s later"
constexpr int kReplyWindowMs = 300;

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

std::string sys_error(const std::string& what) { return fmt::format("{}: {}", what, errno_name(errno)); }

in_addr parse_addr(const char* text) {
  in_addr a{};
  if (inet_pton(AF_INET, text, &a) != 1) throw Error(fmt::format("bad address {}", text));
  return a;
}

std::string flags_text(std::uint8_t f) {
  std::string s;
  if (f & kSyn) s += "S";
  if (f & kFin) s += "F";
  if (f & kRst) s += "R";
  if (f & kPsh) s += "P";
  if (f & kAck) s += ".";
  return s.empty() ? "none" : s;
}

// Internet checksum over a sequence of byte ranges (RFC 1071).
std::uint16_t checksum(const std::vector<std::pair<const std::uint8_t*, std::size_t>>& parts) {
  std::uint32_t sum = 0;
  bool odd = false;
  std::uint8_t carry_byte = 0;
  for (const auto& [p, n] : parts) {
    for (std::size_t i = 0; i < n; ++i) {
      if (!odd) {
        carry_byte = p[i];
        odd = true;
      } else {
        sum += (static_cast<std::uint32_t>(carry_byte) << 8) | p[i];
        odd = false;
      }
    }
  }
  if (odd) sum += static_cast<std::uint32_t>(carry_byte) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

struct Segment {
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::optional<std::uint32_t> tsval, tsecr;
  std::optional<std::uint16_t> mss;
  std::size_t payload = 0;
};

std::string segment_text(const Segment& s) {
  std::string t = fmt::format("{}->{} [{}] seq={} ack={} win={}", s.sport, s.dport, flags_text(s.flags), s.seq,
                              s.ack, s.window);
  if (s.mss) t += fmt::format(" mss={}", *s.mss);
  if (s.tsval) t += fmt::format(" TS val={} ecr={}", *s.tsval, *s.tsecr);
  if (s.payload) t += fmt::format(" len={}", s.payload);
  return t;
}

// A received frame, parsed.
struct Received {
  int pkttype = 0;  // PACKET_HOST, PACKET_OUTGOING, ...
  in_addr src{}, dst{};
  int protocol = 0;
  std::uint16_t ip_id = 0;
  bool is_tcp = false;
  Segment tcp;
  std::int64_t t_ns = 0;
};

std::array<std::uint8_t, 6> hw_address(int ns_fd, int home_fd, const char* ifname) {
  InNetns in(ns_fd, home_fd);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(sys_error("socket"));
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
  int err = errno;
  close(fd);
  errno = err;
  if (rc != 0) throw Error(sys_error(fmt::format("SIOCGIFHWADDR {}", ifname)));
  std::array<std::uint8_t, 6> mac{};
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  return mac;
}

std::string mac_text(const std::array<std::uint8_t, 6>& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

// A permanent ARP entry in the namespace ns_fd: addr is at mac, via ifname.
void add_permanent_neighbour(int ns_fd, int home_fd, const char* ifname, in_addr addr,
                             const std::array<std::uint8_t, 6>& mac) {
  InNetns in(ns_fd, home_fd);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(sys_error("socket"));
  arpreq req{};
  auto* pa = reinterpret_cast<sockaddr_in*>(&req.arp_pa);
  pa->sin_family = AF_INET;
  pa->sin_addr = addr;
  req.arp_ha.sa_family = ARPHRD_ETHER;
  std::memcpy(req.arp_ha.sa_data, mac.data(), 6);
  req.arp_flags = ATF_PERM | ATF_COM;
  std::snprintf(req.arp_dev, sizeof req.arp_dev, "%s", ifname);
  int rc = ioctl(fd, SIOCSARP, &req);
  int err = errno;
  close(fd);
  errno = err;
  if (rc != 0) throw Error(sys_error("SIOCSARP"));
}

struct CaseSpec {
  const char* name;
  const char* seq_relation;   // "higher" | "lower"
  const char* ts_relation;    // "newer" | "equal" | "older" | "none"
  const char* expected;       // the reference's prediction: "syn-ack" | "ack"
};

constexpr CaseSpec kCases[] = {
    {"A", "higher", "newer", "syn-ack"}, {"B", "higher", "none", "syn-ack"},
    {"C", "lower", "newer", "syn-ack"},  {"D", "lower", "equal", "ack"},
    {"E", "higher", "older", "ack"},     {"F", "lower", "none", "ack"},
};

class SynExperiment {
 public:
  explicit SynExperiment(Lab& lab) : lab_(lab) {}
  ~SynExperiment() {
    if (pkt_fd_ >= 0) close(pkt_fd_);
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  SynExperiment(const SynExperiment&) = delete;
  SynExperiment& operator=(const SynExperiment&) = delete;

  void setup();
  ordered_json run_case(const CaseSpec& spec, std::uint16_t port);
  // Reads (and classifies) frames for ms milliseconds: the last frames of the run are counted too.
  void drain(int ms) {
    const std::int64_t end = now_ns() + std::int64_t{ms} * 1'000'000;
    for (int i = 0; i < 100000 && now_ns() < end; ++i) receive_one(std::max<int>(1, static_cast<int>((end - now_ns()) / 1'000'000)));
  }
  ordered_json kernel_interference() const;
  std::string client_mac() const { return mac_text(client_mac_); }
  std::string server_mac() const { return mac_text(server_mac_); }

 private:
  void send(std::uint16_t sport, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
            std::optional<std::pair<std::uint32_t, std::uint32_t>> ts, bool with_mss);
  // Receives frames until one from the server to `port` satisfies pred, or timeout_ms passes.
  // Every server segment to `port` is appended to *seen (if given).
  template <class Pred>
  std::optional<Segment> wait_for(std::uint16_t port, int timeout_ms, Pred pred, std::vector<Segment>* seen);
  std::optional<Received> receive_one(int timeout_ms);
  int tuple_state(std::uint16_t port);
  int time_wait_count();
  int accept_one(int timeout_ms);

  Lab& lab_;
  int pkt_fd_ = -1;
  int listen_fd_ = -1;
  int ifindex_ = 0;
  std::array<std::uint8_t, 6> client_mac_{}, server_mac_{};
  in_addr server_{}, crafted_{};
  std::uint16_t next_ip_id_ = 0x5a00;
  std::set<std::uint16_t> our_ids_;
  // Outgoing IPv4 frames on tk-c that we did not send: the client kernel talking.
  int foreign_out_ = 0, foreign_out_rst_ = 0, foreign_out_icmp_ = 0;
  int foreign_out_non_ipv4_ = 0;  // informational (IPv6 router solicitations and the like)
  std::vector<std::string> foreign_notes_;
};

void SynExperiment::setup() {
  server_ = parse_addr(kServerAddr);
  crafted_ = parse_addr(kCraftedAddr);
  client_mac_ = hw_address(lab_.client_fd(), lab_.home_fd(), "tk-c");
  server_mac_ = hw_address(lab_.server_fd(), lab_.home_fd(), "tk-s");
  add_permanent_neighbour(lab_.server_fd(), lab_.home_fd(), "tk-s", crafted_, client_mac_);
  {
    InNetns in(lab_.client_fd(), lab_.home_fd());
    ifindex_ = static_cast<int>(if_nametoindex("tk-c"));
    if (ifindex_ == 0) throw Error(sys_error("if_nametoindex(tk-c)"));
    // ETH_P_ALL, not ETH_P_IP: only ETH_P_ALL taps see the frames the interface transmits
    // (dev_queue_xmit_nit), and those are how the client kernel's own packets are noticed.
    pkt_fd_ = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (pkt_fd_ < 0) {
      if (errno == EPERM || errno == EAFNOSUPPORT) throw Skip(sys_error("socket(AF_PACKET)"));
      throw Error(sys_error("socket(AF_PACKET)"));
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex_;
    if (bind(pkt_fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) throw Error(sys_error("bind(AF_PACKET)"));
  }
  {
    InNetns in(lab_.server_fd(), lab_.home_fd());
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) throw Error(sys_error("socket(listener)"));
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = server_;
  sa.sin_port = htons(kServerPort);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw Error(sys_error("bind(listener)"));
  if (listen(listen_fd_, 16) != 0) throw Error(sys_error("listen"));
  // Drain whatever was queued on the packet socket before the run (nothing relevant).
  for (int i = 0; i < 1000 && receive_one(0); ++i) {
  }
}

void SynExperiment::send(std::uint16_t sport, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                         std::optional<std::pair<std::uint32_t, std::uint32_t>> ts, bool with_mss) {
  std::uint8_t opts[40] = {};
  std::size_t olen = 0;
  if (with_mss) {
    opts[olen++] = 2;
    opts[olen++] = 4;
    put16(opts + olen, kMss);
    olen += 2;
  }
  if (ts) {
    opts[olen++] = 1;  // NOP NOP TS (the layout Linux uses)
    opts[olen++] = 1;
    opts[olen++] = 8;
    opts[olen++] = 10;
    put32(opts + olen, ts->first);
    put32(opts + olen + 4, ts->second);
    olen += 8;
  }
  const std::size_t tcp_len = 20 + olen;
  std::uint8_t pkt[20 + 60] = {};
  std::uint8_t* ip = pkt;
  std::uint8_t* tcp = pkt + 20;
  ip[0] = 0x45;
  put16(ip + 2, static_cast<std::uint16_t>(20 + tcp_len));
  const std::uint16_t id = next_ip_id_++;
  our_ids_.insert(id);
  put16(ip + 4, id);
  put16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = IPPROTO_TCP;
  std::memcpy(ip + 12, &crafted_.s_addr, 4);
  std::memcpy(ip + 16, &server_.s_addr, 4);
  put16(ip + 10, checksum({{ip, 20}}));
  put16(tcp, sport);
  put16(tcp + 2, kServerPort);
  put32(tcp + 4, seq);
  put32(tcp + 8, (flags & kAck) ? ack : 0);
  tcp[12] = static_cast<std::uint8_t>((tcp_len / 4) << 4);
  tcp[13] = flags;
  put16(tcp + 14, kWindow);
  std::memcpy(tcp + 20, opts, olen);
  std::uint8_t pseudo[12] = {};
  std::memcpy(pseudo, ip + 12, 8);
  pseudo[9] = IPPROTO_TCP;
  put16(pseudo + 10, static_cast<std::uint16_t>(tcp_len));
  put16(tcp + 16, checksum({{pseudo, 12}, {tcp, tcp_len}}));

  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IP);
  to.sll_ifindex = ifindex_;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, server_mac_.data(), 6);
  const std::size_t len = 20 + tcp_len;
  ssize_t n = sendto(pkt_fd_, pkt, len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (n != static_cast<ssize_t>(len)) throw Error(sys_error("sendto(AF_PACKET)"));
}

std::optional<Received> SynExperiment::receive_one(int timeout_ms) {
  pollfd p{pkt_fd_, POLLIN, 0};
  int n = poll(&p, 1, timeout_ms);
  if (n < 0 && errno != EINTR) throw Error(sys_error("poll"));
  if (stop_requested()) throw Error("interrupted (signal or the 60 s watchdog)");
  if (n <= 0) return std::nullopt;
  std::uint8_t buf[2048];
  sockaddr_ll from{};
  socklen_t fl = sizeof from;
  ssize_t got = recvfrom(pkt_fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
  if (got < 0) {
    if (errno == EAGAIN || errno == EINTR) return std::nullopt;
    throw Error(sys_error("recvfrom(AF_PACKET)"));
  }
  Received r;
  r.t_ns = now_ns();
  r.pkttype = from.sll_pkttype;
  if (from.sll_protocol != htons(ETH_P_IP)) {
    // IPv6 neighbour discovery, ARP, ...: counted when the client kernel sends it, not inspected.
    if (r.pkttype == PACKET_OUTGOING) ++foreign_out_non_ipv4_;
    return r;
  }
  if (got < 20 || (buf[0] >> 4) != 4) return r;
  const std::size_t ihl = static_cast<std::size_t>(buf[0] & 0x0f) * 4;
  const std::size_t total = std::min<std::size_t>(get16(buf + 2), static_cast<std::size_t>(got));
  r.protocol = buf[9];
  r.ip_id = get16(buf + 4);
  std::memcpy(&r.src.s_addr, buf + 12, 4);
  std::memcpy(&r.dst.s_addr, buf + 16, 4);
  if (r.pkttype == PACKET_OUTGOING && !(r.src.s_addr == crafted_.s_addr && our_ids_.count(r.ip_id))) {
    ++foreign_out_;
    if (r.protocol == IPPROTO_ICMP) ++foreign_out_icmp_;
    if (r.protocol == IPPROTO_TCP && total >= ihl + 14 && (buf[ihl + 13] & kRst)) ++foreign_out_rst_;
    char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &r.src, s, sizeof s);
    inet_ntop(AF_INET, &r.dst, d, sizeof d);
    if (foreign_notes_.size() < 20)
      foreign_notes_.push_back(fmt::format("proto {} {} -> {} id {}", r.protocol, s, d, r.ip_id));
  }
  if (r.protocol != IPPROTO_TCP || total < ihl + 20) return r;
  const std::uint8_t* t = buf + ihl;
  const std::size_t doff = static_cast<std::size_t>(t[12] >> 4) * 4;
  if (doff < 20 || total < ihl + doff) return r;
  r.is_tcp = true;
  Segment& s = r.tcp;
  s.sport = get16(t);
  s.dport = get16(t + 2);
  s.seq = get32(t + 4);
  s.ack = get32(t + 8);
  s.flags = t[13];
  s.window = get16(t + 14);
  s.payload = total - ihl - doff;
  for (std::size_t i = 20; i < doff && i < 80;) {  // options, bounded
    const std::uint8_t kind = t[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= doff) break;
    const std::size_t len = t[i + 1];
    if (len < 2 || i + len > doff) break;
    if (kind == 2 && len == 4) s.mss = get16(t + i + 2);
    if (kind == 8 && len == 10) {
      s.tsval = get32(t + i + 2);
      s.tsecr = get32(t + i + 6);
    }
    i += len;
  }
  return r;
}

template <class Pred>
std::optional<Segment> SynExperiment::wait_for(std::uint16_t port, int timeout_ms, Pred pred,
                                                std::vector<Segment>* seen) {
  const std::int64_t deadline = now_ns() + std::int64_t{timeout_ms} * 1'000'000;
  for (int i = 0; i < 100000; ++i) {  // bounded in count and by the deadline
    const std::int64_t left_ms = (deadline - now_ns()) / 1'000'000;
    if (left_ms < 0) break;
    auto r = receive_one(static_cast<int>(left_ms) + 1);
    if (!r || !r->is_tcp || r->pkttype != PACKET_HOST) continue;
    if (r->src.s_addr != server_.s_addr || r->dst.s_addr != crafted_.s_addr) continue;
    if (r->tcp.sport != kServerPort || r->tcp.dport != port) continue;
    if (seen) seen->push_back(r->tcp);
    if (pred(r->tcp)) return r->tcp;
  }
  return std::nullopt;
}

int SynExperiment::tuple_state(std::uint16_t port) {
  for (const auto& row : lab_.tcp_table(lab_.server_fd()))
    if (row.local_port == kServerPort && row.remote_port == port && row.remote.s_addr == crafted_.s_addr)
      return row.state;
  return 0;
}

int SynExperiment::time_wait_count() {
  int n = 0;
  for (const auto& row : lab_.tcp_table(lab_.server_fd())) n += row.state == 6 ? 1 : 0;
  return n;
}

int SynExperiment::accept_one(int timeout_ms) {
  pollfd p{listen_fd_, POLLIN, 0};
  int n = poll(&p, 1, timeout_ms);
  if (stop_requested()) throw Error("interrupted (signal or the 60 s watchdog)");
  if (n <= 0) return -1;
  return accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

std::string state_text(int state) { return state == 0 ? "none" : tcp_state_name(state); }

ordered_json SynExperiment::run_case(const CaseSpec& spec, std::uint16_t port) {
  const std::string tag = fmt::format("case {} (port {})", spec.name, port);
  auto fail = [&](const std::string& what) { return Error(fmt::format("{}: {}", tag, what)); };
  using TS = std::pair<std::uint32_t, std::uint32_t>;

  // 1. Handshake. The SYN is re-sent once if the SYN-ACK does not come within 1 s.
  std::optional<Segment> synack;
  for (int attempt = 0; attempt < 2 && !synack; ++attempt) {
    send(port, kIsn, 0, kSyn, TS{kT0, 0}, true);
    synack = wait_for(port, kHandshakeTimeoutMs, [](const Segment& s) {
      return (s.flags & (kSyn | kAck)) == (kSyn | kAck) && s.ack == kIsn + 1;
    }, nullptr);
  }
  if (!synack) throw fail("no SYN-ACK for the first SYN");
  if (!synack->tsval) throw fail("the SYN-ACK carries no timestamp");
  const std::uint32_t srv_isn = synack->seq;
  send(port, kIsn + 1, srv_isn + 1, kAck, TS{kT0 + 1, *synack->tsval}, false);

  // 2. The server accepts and closes first.
  int conn = accept_one(kHandshakeTimeoutMs);
  if (conn < 0) throw fail("the server did not accept");
  char byte;
  ssize_t rd = read(conn, &byte, 1);  // nothing was sent: EAGAIN expected
  (void)rd;
  close(conn);
  auto fin = wait_for(port, kHandshakeTimeoutMs, [&](const Segment& s) {
    return (s.flags & kFin) && s.seq == srv_isn + 1;
  }, nullptr);
  if (!fin) throw fail("no FIN from the server after close()");
  const std::uint32_t fin_tsval = fin->tsval.value_or(0);

  // 3. ACK the FIN, then our FIN+ACK; the server ACKs it and is in TIME-WAIT.
  const std::uint32_t old_snd_nxt = srv_isn + 2;  // SYN and FIN
  const std::uint32_t old_rcv_nxt = kIsn + 2;     // SYN and FIN: 1002
  const std::uint32_t ts_recent = kT0 + 3;        // the TSval of our FIN
  send(port, kIsn + 1, old_snd_nxt, kAck, TS{kT0 + 2, fin_tsval}, false);
  send(port, kIsn + 1, old_snd_nxt, kFin | kAck, TS{ts_recent, fin_tsval}, false);
  auto last_ack = wait_for(port, kHandshakeTimeoutMs, [&](const Segment& s) {
    return (s.flags & kAck) && !(s.flags & (kSyn | kFin | kRst)) && s.ack == old_rcv_nxt;
  }, nullptr);
  if (!last_ack) throw fail("the server did not ACK our FIN");
  if (last_ack->seq != old_snd_nxt) throw fail("the server's final ACK has an unexpected SEQ");
  const int state_before = tuple_state(port);
  if (state_before != 6) throw fail("the server's socket is " + state_text(state_before) + ", not TIME_WAIT");
  const int tw_before = time_wait_count();

  // 4. 1 s later: the new SYN on the same 4-tuple. Anything the server sends meanwhile is recorded.
  std::vector<Segment> idle_seen;
  wait_for(port, kIdleBeforeSynMs, [](const Segment&) { return false; }, &idle_seen);
  const bool higher = std::string(spec.seq_relation) == "higher";
  const std::uint32_t syn_seq = higher ? old_rcv_nxt + 100000 : 500;
  const std::string tsrel = spec.ts_relation;
  std::optional<TS> ts;
  if (tsrel == "newer") ts = TS{ts_recent + 1000, 0};
  else if (tsrel == "equal") ts = TS{ts_recent, 0};
  else if (tsrel == "older") ts = TS{kT0 - 1000, 0};
  send(port, syn_seq, 0, kSyn, ts, true);
  const std::int64_t sent_ns = now_ns();

  std::vector<Segment> replies;
  std::optional<std::int64_t> first_reply_ns;
  wait_for(port, kReplyWindowMs, [&](const Segment&) {
    if (!first_reply_ns) first_reply_ns = now_ns();
    return false;
  }, &replies);
  const int state_after = tuple_state(port);
  const int tw_after = time_wait_count();

  ordered_json c;
  c["case"] = spec.name;
  c["client_port"] = port;
  c["syn_seq_relation"] = spec.seq_relation;
  c["syn_seq"] = syn_seq;
  c["syn_seq_minus_old_rcv_nxt"] = static_cast<std::int32_t>(syn_seq - old_rcv_nxt);
  c["tsval_relation"] = tsrel;
  c["syn_tsval"] = ts ? ordered_json(ts->first) : ordered_json(nullptr);
  c["syn_tsval_minus_ts_recent"] = ts ? ordered_json(static_cast<std::int32_t>(ts->first - ts_recent))
                                      : ordered_json(nullptr);
  c["time_wait_verified"] = true;
  c["old_rcv_nxt"] = old_rcv_nxt;
  if (last_ack->tsval) c["old_server_last_tsval"] = *last_ack->tsval;
  c["ts_recent"] = ts_recent;
  c["expected_by_reference"] = spec.expected;

  ordered_json reply;
  std::string kind = "none";
  if (!replies.empty()) {
    const Segment& r = replies.front();
    if (r.flags & kRst) {
      kind = "rst";
      reply["seq_minus_old_snd_nxt"] = static_cast<std::int32_t>(r.seq - old_snd_nxt);
    } else if ((r.flags & (kSyn | kAck)) == (kSyn | kAck)) {
      kind = "syn-ack";
      reply["isn_minus_old_snd_nxt"] = static_cast<std::int64_t>(static_cast<std::uint32_t>(r.seq - old_snd_nxt));
      reply["ack_minus_syn_seq"] = static_cast<std::int32_t>(r.ack - syn_seq);
    } else if (r.flags & kAck) {
      kind = "ack";
      reply["seq_minus_old_snd_nxt"] = static_cast<std::int32_t>(r.seq - old_snd_nxt);
      reply["ack_minus_old_rcv_nxt"] = static_cast<std::int32_t>(r.ack - old_rcv_nxt);
    } else {
      kind = "other";
    }
    reply["flags"] = flags_text(r.flags);
    reply["has_timestamp"] = r.tsval.has_value();
    if (r.tsecr) {
      if (kind == "ack") reply["tsecr_minus_ts_recent"] = static_cast<std::int32_t>(*r.tsecr - ts_recent);
      else if (ts) reply["tsecr_minus_syn_tsval"] = static_cast<std::int32_t>(*r.tsecr - ts->first);
      else reply["tsecr"] = *r.tsecr;
    }
    if (r.tsval && last_ack->tsval) {
      // Does the reply's TSval continue the old connection's timestamp clock (1 ms ticks, about
      // 1.0-1.1 s after the server's last ACK)? A fresh per-connection offset would be random.
      const auto d = static_cast<std::int32_t>(*r.tsval - *last_ack->tsval);
      reply["tsval_minus_old_server_tsval"] = d;
      reply["tsval_continues_old_clock"] = d >= 0 && d < 10000;
    }
    reply["latency_ms"] = std::round(static_cast<double>(*first_reply_ns - sent_ns) / 1e4) / 100.0;
    reply["segment"] = segment_text(r);
  }
  c["reply_kind"] = kind;
  c["reply"] = kind == "none" ? ordered_json(nullptr) : reply;
  c["replies_within_300ms"] = replies.size();
  c["matches_reference"] = kind == spec.expected;
  c["tuple_state_before"] = state_text(state_before);
  c["tuple_state_after"] = state_text(state_after);
  c["server_time_wait_before"] = tw_before;
  c["server_time_wait_after"] = tw_after;
  if (!idle_seen.empty()) c["note"] = fmt::format("{} server segment(s) during the 1 s idle", idle_seen.size());

  // Tidy up: a SYN-ACK left a request socket; reset it (RST at its RCV.NXT) so that it does not
  // retransmit during the later cases. A TIME_WAIT that answered with an ACK is left alone.
  if (kind == "syn-ack") send(port, syn_seq + 1, 0, kRst, std::nullopt, false);
  fmt::print(stderr, "tcpsim-kernel-syn: case {}: seq {}, TSval {}: {} {} ({}; TIME_WAIT {} -> {})\n", spec.name,
             spec.seq_relation, tsrel, kind, reply.contains("segment") ? reply["segment"].get<std::string>() : "",
             state_text(state_after), tw_before, tw_after);
  return c;
}

ordered_json SynExperiment::kernel_interference() const {
  ordered_json j;
  j["outgoing_ipv4_not_ours"] = foreign_out_;
  j["outgoing_rst"] = foreign_out_rst_;
  j["outgoing_icmp"] = foreign_out_icmp_;
  j["outgoing_non_ipv4"] = foreign_out_non_ipv4_;
  j["examples"] = foreign_notes_;
  return j;
}

// --check: per case the reply kind and its relative numbers, the tuple's state afterwards, and no
// client-kernel packets. The server's ISNs and TSvals themselves are random and not compared.
int check_against(const ordered_json& got, const std::string& stored_path) {
  std::ifstream f(stored_path);
  if (!f) throw Error(fmt::format("{}: cannot open the stored result", stored_path));
  json stored = json::parse(f);
  std::vector<std::string> diffs;
  const auto& a = got.at("cases");
  const auto& b = stored.at("cases");
  if (a.size() != b.size()) diffs.push_back("number of cases differs");
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const std::string name = a[i].at("case").get<std::string>();
    for (const char* key : {"case", "syn_seq_relation", "tsval_relation", "reply_kind", "replies_within_300ms",
                            "tuple_state_after"})
      if (json(a[i].at(key)) != b[i].at(key))
        diffs.push_back(fmt::format("case {}: {}: {} now, {} stored", name, key, a[i].at(key).dump(),
                                    b[i].at(key).dump()));
    const auto& ra = a[i].at("reply");
    const auto& rb = b[i].at("reply");
    for (const char* key : {"isn_minus_old_snd_nxt", "ack_minus_syn_seq", "seq_minus_old_snd_nxt",
                            "ack_minus_old_rcv_nxt", "tsecr_minus_ts_recent", "has_timestamp", "flags",
                            "tsval_continues_old_clock"}) {
      const bool ha = ra.is_object() && ra.contains(key);
      const bool hb = rb.is_object() && rb.contains(key);
      if (ha != hb || (ha && json(ra.at(key)) != rb.at(key)))
        diffs.push_back(fmt::format("case {}: reply.{}: {} now, {} stored", name, key,
                                    ha ? ra.at(key).dump() : "absent", hb ? rb.at(key).dump() : "absent"));
    }
  }
  if (got.at("client_kernel_interference").at("outgoing_ipv4_not_ours").get<int>() != 0)
    diffs.push_back("the client namespace's kernel sent packets of its own");
  if (got.at("kernel") != stored.at("kernel"))
    fmt::print(stderr, "tcpsim-kernel-syn: note: kernel {} now, ground truth recorded on {}\n",
               got.at("kernel").get<std::string>(), stored.at("kernel").get<std::string>());
  for (const auto& d : diffs) fmt::print(stderr, "tcpsim-kernel-syn: CHECK FAILED: {}\n", d);
  if (diffs.empty()) fmt::print(stderr, "tcpsim-kernel-syn: check against {}: same results\n", stored_path);
  return diffs.empty() ? 0 : 3;
}

void usage(std::FILE* to) {
  fmt::print(to,
             "usage: tcpsim-kernel-syn [-o RESULT.json] [--check STORED.json]\n"
             "Sends crafted SYNs to a server's TIME-WAIT on the live kernel, inside network namespaces of\n"
             "its own (root needed), and records the server's replies.\n"
             "  -o FILE        write the result JSON there (default: standard output)\n"
             "  --check FILE   compare the per-case results with a stored result (exit 3 if they differ)\n"
             "exit codes: 0 ok, 1 error, 2 usage, 3 check failed, 77 cannot run here (skip)\n");
}

int main_impl(int argc, char** argv) {
  std::string out_path, check_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    }
    if ((arg == "-o" || arg == "--check") && i + 1 < argc) {
      (arg == "-o" ? out_path : check_path) = argv[++i];
    } else {
      usage(stderr);
      return 2;
    }
  }
  install_signal_handlers();
  alarm(60);  // watchdog: a normal run takes about 10 s

  Lab lab(false, {kClientIfaceAddr}, {kServerAddr});
  ordered_json client_sysctls, server_sysctls;
  // Client: forwarding off, so frames for 10.77.0.3 (an address it does not own) are dropped
  // silently in ip_error() instead of being forwarded or answered (a new namespace may inherit
  // conf/all values from the host, so it is set explicitly).
  for (const char* k : {"net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.conf.tk-c.forwarding"})
    client_sysctls[k] = lab.set_sysctl(lab.client_fd(), k, "0");
  // Server: the defaults this experiment is about, set explicitly.
  server_sysctls["net.ipv4.tcp_timestamps"] = lab.set_sysctl(lab.server_fd(), "net.ipv4.tcp_timestamps", "1");
  server_sysctls["net.ipv4.tcp_rfc1337"] = lab.set_sysctl(lab.server_fd(), "net.ipv4.tcp_rfc1337", "0");
  for (const char* k : {"net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_syncookies"})
    server_sysctls[k] = lab.get_sysctl(lab.server_fd(), k);

  SynExperiment x(lab);
  x.setup();
  fmt::print(stderr, "tcpsim-kernel-syn: running {} cases (about 1.5 s each)...\n", std::size(kCases));
  ordered_json cases = ordered_json::array();
  std::uint16_t port = kFirstClientPort;
  for (const auto& spec : kCases) cases.push_back(x.run_case(spec, port++));

  x.drain(500);  // anything the client kernel might still send after the last case

  utsname u{};
  uname(&u);
  ordered_json r;
  r["experiment"] = "syn-at-time-wait";
  r["description"] =
      "A SYN arriving at a server's TIME-WAIT (tcp-stack-semantics.md 2.3, T4-T6): crafted client "
      "10.77.0.3 (ISN 1000, TSval 1000000) opens and closes a connection to 10.77.0.2:80, the server "
      "closing first; 1 s after the server is in TIME-WAIT (RCV.NXT=1002, TS.Recent=TSval of the "
      "client's FIN) a new SYN arrives on the same 4-tuple. Replies within 300 ms are recorded.";
  r["kernel"] = u.release;
  r["machine"] = u.machine;
  r["setup"] = {{"server", fmt::format("{}:{}", kServerAddr, kServerPort)},
                {"crafted_client", kCraftedAddr},
                {"client_interface_address", kClientIfaceAddr},
                {"client_isn", kIsn},
                {"client_first_tsval", kT0},
                {"ts_recent", kT0 + 3},
                {"old_rcv_nxt", kIsn + 2},
                {"idle_before_syn_ms", kIdleBeforeSynMs},
                {"reply_window_ms", kReplyWindowMs},
                {"client_mac_tk_c", x.client_mac()},
                {"server_mac_tk_s", x.server_mac()},
                {"method",
                 "AF_PACKET socket on tk-c sends and receives; 10.77.0.3 is on no interface; the server has a "
                 "permanent ARP entry 10.77.0.3 -> tk-c's MAC; client forwarding off, so its kernel drops "
                 "the server's replies silently"}};
  r["sysctls"] = {{"client", client_sysctls}, {"server", server_sysctls}};
  r["cases"] = cases;
  r["client_kernel_interference"] = x.kernel_interference();
  ordered_json summary;
  for (const auto& c : cases) {
    std::string s = c["reply_kind"].get<std::string>();
    const auto& rep = c["reply"];
    if (s == "syn-ack") s += fmt::format(" ISN=old SND.NXT+{}", rep["isn_minus_old_snd_nxt"].dump());
    if (s == "ack")
      s += fmt::format(" SEQ=old SND.NXT{:+d} ACK=old RCV.NXT{:+d}", rep["seq_minus_old_snd_nxt"].get<int>(),
                       rep["ack_minus_old_rcv_nxt"].get<int>());
    summary[c["case"].get<std::string>()] = s;
  }
  r["summary"] = summary;

  const auto& ki = r["client_kernel_interference"];
  fmt::print(stderr, "tcpsim-kernel-syn: client kernel sent {} IPv4 packet(s) of its own ({} RST)\n",
             ki["outgoing_ipv4_not_ours"].get<int>(), ki["outgoing_rst"].get<int>());
  std::string text = r.dump(1) + "\n";
  if (out_path.empty()) fmt::print("{}", text);
  else write_atomically(out_path, text);
  return check_path.empty() ? 0 : check_against(r, check_path);
}

}  // namespace
}  // namespace tk

int main(int argc, char** argv) { return tk::run_main("tcpsim-kernel-syn", tk::main_impl, argc, argv); }
