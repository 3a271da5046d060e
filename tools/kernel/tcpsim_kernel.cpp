// tcpsim-kernel: runs a fixed experiment (tools/kernel/experiments/*.json) on the live Linux kernel,
// inside network namespaces it creates itself, and records what happened (attempts with errno,
// netstat-style state counts over time, a summary). The results are the ground truth the
// simulator's `linux` profile is compared with. Format and safety rules: README.md beside this file.
//
// Usage: tcpsim-kernel EXPERIMENT.json [-o RESULT.json] [--check STORED.json]
//        tcpsim-kernel --digest EXPERIMENT.json   (prints the experiment digest results store)
// Exit codes: 0 ok, 1 experiment or run error, 2 usage, 3 --check found a difference,
//             77 cannot run here (not root, no network namespaces, sysctl missing): CTest SKIP.
//
// One thread, one event loop (ppoll). Sockets are created in the right namespace by entering it
// with setns(2) around socket(); a socket stays in the namespace it was created in, and accept()ed
// sockets belong to their listener's namespace. No thread ever runs in an experiment namespace
// outside those short, scoped (RAII) sections.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "experiment.hpp"
#include "netns.hpp"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace tk {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr std::int64_t kMs = 1'000'000;  // ns per ms
constexpr double kStateCheckToleranceMs = 2500;

std::string sys_error(const std::string& what) { return fmt::format("{}: {}", what, errno_name(errno)); }

std::string endpoint_text(const sockaddr_in& sa) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
  return fmt::format("{}:{}", buf, ntohs(sa.sin_port));
}

sockaddr_in make_sockaddr(in_addr addr, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = addr;
  sa.sin_port = htons(port);
  return sa;
}

void set_int_option(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) throw Error(sys_error("setsockopt"));
}

// Jiffies as reported by /proc/timer_list (root only); nullopt if unavailable.
std::optional<std::uint64_t> read_jiffies() {
  std::ifstream f("/proc/timer_list");
  std::string line;
  for (int i = 0; i < 100000 && std::getline(f, line); ++i)
    if (line.rfind("jiffies: ", 0) == 0) return std::stoull(line.substr(9));
  return std::nullopt;
}

struct Attempt {
  std::int64_t t_ms = 0;  // scheduled time (ms after the start)
  std::size_t entry = 0;  // schedule index
  Op op = Op::Connect;
  std::string remote;
  bool decided = false;
  bool ok = false;
  int err = 0;
  std::string syscall;
  int local_port = -1;
  double latency_ms = -1;  // connect(): until the handshake completed or failed
  std::int64_t late_us = 0;  // how much later than scheduled the operation started
  std::string note;
};

enum class ClientPhase { Connecting, AwaitReply, AwaitEof, Holding };
struct ClientConn {
  int fd = -1;
  std::size_t attempt = 0;
  ClientPhase phase = ClientPhase::Connecting;
  CloseMode mode = CloseMode::ClientFirst;
  std::int64_t start_ns = 0;
  std::int64_t deadline_ns = 0;  // 0: none
  std::string key;
};

enum class ServerPhase { AwaitByte, AwaitEof, CloseAt, Holding };
struct ServerConn {
  int fd = -1;
  CloseMode mode = CloseMode::ClientFirst;
  std::int64_t delay_ms = 0;
  ServerPhase phase = ServerPhase::AwaitByte;
  std::int64_t close_at_ns = 0;
};

struct Listener {
  ListenerSpec spec;
  int fd = -1;
};

struct Sample {
  std::int64_t t_ms = 0;
  std::map<std::string, int> client, server;
};

class Runner {
 public:
  Runner(const Experiment& x, Lab& lab) : x_(x), lab_(lab) {}
  ~Runner() { close_all(); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void run();
  ordered_json result(const std::map<std::string, std::string>& client_sysctls,
                      const std::map<std::string, std::string>& server_sysctls) const;

 private:
  struct Due {
    std::int64_t t_ms;
    std::size_t entry;
  };

  std::int64_t elapsed_ns() const { return now_ns() - t0_; }
  int client_socket();
  int server_socket();
  void open_listener(Listener& l, bool reuseaddr, Attempt* record);
  void start_op(const Due& d);
  void start_connect(const ScheduleEntry& e, Attempt& a);
  void start_bind_only(const ScheduleEntry& e, Attempt& a);
  void start_listen_restart(const ScheduleEntry& e, Attempt& a);
  void connect_done(ClientConn& c, int err);
  void on_client_event(ClientConn& c, short revents);
  void on_server_event(ServerConn& s, short revents);
  void on_accept(Listener& l);
  void finish_client(ClientConn& c, bool abort);
  void finish_server(ServerConn& s);
  void take_sample(std::int64_t t_ms);
  void close_all();

  const Experiment& x_;
  Lab& lab_;
  std::int64_t t0_ = 0;
  std::vector<Attempt> attempts_;
  std::vector<Listener> listeners_;
  std::vector<ClientConn> clients_;
  std::vector<ServerConn> servers_;
  std::vector<int> held_;  // bind_only sockets kept open
  std::map<std::string, std::pair<CloseMode, std::int64_t>> by_tuple_;  // client 4-tuple -> policy
  std::vector<Sample> samples_;
  std::set<std::uint16_t> listener_ports_;
  int unmatched_accepts_ = 0;
  std::optional<double> hz_;
};

int Runner::client_socket() {
  InNetns in(lab_.client_fd(), lab_.home_fd());
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(sys_error("socket (client)"));
  return fd;
}

int Runner::server_socket() {
  InNetns in(lab_.server_fd(), lab_.home_fd());
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(sys_error("socket (server)"));
  return fd;
}

void Runner::open_listener(Listener& l, bool reuseaddr, Attempt* record) {
  int fd = server_socket();
  if (reuseaddr) set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  sockaddr_in sa = make_sockaddr(l.spec.at.addr, l.spec.at.port);
  const char* failed = nullptr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) failed = "bind";
  else if (listen(fd, 512) != 0) failed = "listen";
  if (failed != nullptr) {
    int err = errno;
    close(fd);
    if (record == nullptr)
      throw Error(fmt::format("listener {}: {} failed: {}", l.spec.at.text, failed, errno_name(err)));
    record->ok = false;
    record->err = err;
    record->syscall = failed;
    return;
  }
  l.fd = fd;
  if (record != nullptr) record->ok = true;
}

void Runner::start_op(const Due& d) {
  const ScheduleEntry& e = x_.schedule[d.entry];
  Attempt a;
  a.t_ms = d.t_ms;
  a.entry = d.entry;
  a.op = e.op;
  a.remote = e.to.text;
  a.late_us = std::max<std::int64_t>(0, (elapsed_ns() - d.t_ms * kMs) / 1000);
  attempts_.push_back(a);
  Attempt& rec = attempts_.back();
  switch (e.op) {
    case Op::Connect: start_connect(e, rec); break;
    case Op::BindOnly: start_bind_only(e, rec); break;
    case Op::ListenRestart: start_listen_restart(e, rec); break;
  }
}

void Runner::start_connect(const ScheduleEntry& e, Attempt& a) {
  const std::size_t index = attempts_.size() - 1;
  int fd = client_socket();
  auto fail = [&](const char* syscall, int err) {
    a.decided = true;
    a.ok = false;
    a.err = err;
    a.syscall = syscall;
    close(fd);
  };
  if (e.reuseaddr) set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (e.bind.kind != BindSpec::Kind::None) {
    if (e.bind.kind == BindSpec::Kind::Port0NoPort) set_int_option(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
    std::uint16_t port = e.bind.kind == BindSpec::Kind::Port ? e.bind.port : 0;
    sockaddr_in sa = make_sockaddr(x_.client_bind_address, port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return fail("bind", errno);
  }
  ClientConn c;
  c.fd = fd;
  c.attempt = index;
  c.mode = e.close;
  c.start_ns = now_ns();
  sockaddr_in to = make_sockaddr(e.to.addr, e.to.port);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (rc != 0 && errno != EINPROGRESS) {
    int err = errno;
    a.latency_ms = static_cast<double>(now_ns() - c.start_ns) / 1e6;
    return fail("connect", err);
  }
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
    a.local_port = ntohs(local.sin_port);
    c.key = endpoint_text(local) + ">" + e.to.text;
    by_tuple_[c.key] = {e.close, e.server_close_delay_ms};
  }
  c.deadline_ns = c.start_ns + kConnectTimeoutMs * kMs;
  clients_.push_back(c);
  if (rc == 0) connect_done(clients_.back(), 0);
}

void Runner::start_bind_only(const ScheduleEntry& e, Attempt& a) {
  int fd = client_socket();
  if (e.reuseaddr) set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (e.bind.kind == BindSpec::Kind::Port0NoPort) set_int_option(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
  std::uint16_t port = e.bind.kind == BindSpec::Kind::Port ? e.bind.port : 0;
  sockaddr_in sa = make_sockaddr(x_.client_bind_address, port);
  a.decided = true;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    a.ok = false;
    a.err = errno;
    a.syscall = "bind";
    close(fd);
    return;
  }
  a.ok = true;
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) a.local_port = ntohs(local.sin_port);
  if (e.close == CloseMode::None) held_.push_back(fd);
  else close(fd);
}

void Runner::start_listen_restart(const ScheduleEntry& e, Attempt& a) {
  a.decided = true;
  for (auto& l : listeners_) {
    if (l.spec.at.addr.s_addr != e.to.addr.s_addr || l.spec.at.port != e.to.port) continue;
    if (l.fd >= 0) close(l.fd);
    l.fd = -1;
    open_listener(l, e.reuseaddr, &a);
    a.local_port = l.spec.at.port;
    return;
  }
}

void Runner::connect_done(ClientConn& c, int err) {
  Attempt& a = attempts_[c.attempt];
  a.decided = true;
  a.latency_ms = std::round(static_cast<double>(now_ns() - c.start_ns) / 1e4) / 100.0;
  if (err != 0) {
    a.ok = false;
    a.err = err;
    a.syscall = "connect";
    finish_client(c, false);
    return;
  }
  a.ok = true;
  const char byte = 'q';
  if (send(c.fd, &byte, 1, MSG_NOSIGNAL) != 1) {
    a.note = "send failed: " + errno_name(errno);
    finish_client(c, true);
    return;
  }
  c.phase = ClientPhase::AwaitReply;
  c.deadline_ns = now_ns() + kReplyTimeoutMs * kMs;
}

void Runner::finish_client(ClientConn& c, bool abort) {
  if (c.fd < 0) return;
  if (abort) {
    linger lg{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  close(c.fd);
  c.fd = -1;
  if (!c.key.empty()) by_tuple_.erase(c.key);
}

void Runner::finish_server(ServerConn& s) {
  if (s.fd < 0) return;
  close(s.fd);
  s.fd = -1;
}

void Runner::on_client_event(ClientConn& c, short revents) {
  Attempt& a = attempts_[c.attempt];
  switch (c.phase) {
    case ClientPhase::Connecting: {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0 && (revents & (POLLERR | POLLHUP)) != 0) err = ECONNRESET;
      connect_done(c, err);
      return;
    }
    case ClientPhase::AwaitReply: {
      char byte = 0;
      ssize_t n = recv(c.fd, &byte, 1, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n != 1) {
        a.note = n == 0 ? "EOF before the reply" : "reply: " + errno_name(errno);
        finish_client(c, false);
        return;
      }
      switch (c.mode) {
        case CloseMode::ClientFirst:
        case CloseMode::ClientOnly: finish_client(c, false); return;
        case CloseMode::ClientAbort: finish_client(c, true); return;
        case CloseMode::ServerFirst:
          c.phase = ClientPhase::AwaitEof;
          c.deadline_ns = 0;
          return;
        case CloseMode::None:
          c.phase = ClientPhase::Holding;
          c.deadline_ns = 0;
          return;
      }
      return;
    }
    case ClientPhase::AwaitEof: {
      char buf[64];
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n > 0) return;  // unexpected data: keep reading until EOF
      finish_client(c, false);
      return;
    }
    case ClientPhase::Holding: return;
  }
}

void Runner::on_accept(Listener& l) {
  for (int i = 0; i < 64; ++i) {  // bounded per wake-up
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an aborted connection: nothing to do
    sockaddr_in local{};
    len = sizeof local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    ServerConn s;
    s.fd = fd;
    auto it = by_tuple_.find(endpoint_text(peer) + ">" + endpoint_text(local));
    if (it != by_tuple_.end()) {
      s.mode = it->second.first;
      s.delay_ms = it->second.second;
    } else {
      ++unmatched_accepts_;  // cannot happen in practice: the client registers before the SYN leaves
    }
    servers_.push_back(s);
  }
}

void Runner::on_server_event(ServerConn& s, short) {
  switch (s.phase) {
    case ServerPhase::AwaitByte: {
      char byte = 0;
      ssize_t n = recv(s.fd, &byte, 1, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n != 1) {
        finish_server(s);
        return;
      }
      if (send(s.fd, &byte, 1, MSG_NOSIGNAL) != 1) {
        finish_server(s);
        return;
      }
      switch (s.mode) {
        case CloseMode::ClientFirst:
        case CloseMode::ClientAbort: s.phase = ServerPhase::AwaitEof; return;
        case CloseMode::ServerFirst:
          if (s.delay_ms == 0) {
            finish_server(s);
          } else {
            s.phase = ServerPhase::CloseAt;
            s.close_at_ns = now_ns() + s.delay_ms * kMs;
          }
          return;
        case CloseMode::None:
        case CloseMode::ClientOnly:  // never closes: held (and no longer read) until close_all()
          s.phase = ServerPhase::Holding;
          return;
      }
      return;
    }
    case ServerPhase::AwaitEof: {
      char buf[64];
      ssize_t n = recv(s.fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n > 0) return;
      finish_server(s);  // EOF or reset: close after the peer
      return;
    }
    case ServerPhase::CloseAt:
    case ServerPhase::Holding: return;
  }
}

void Runner::take_sample(std::int64_t t_ms) {
  Sample s;
  s.t_ms = t_ms;
  if (lab_.loopback()) {
    // One namespace: the sockets on a listener's port are the server's, the others the client's.
    for (const auto& e : lab_.tcp_table(lab_.client_fd())) {
      auto& side = listener_ports_.count(e.local_port) != 0 ? s.server : s.client;
      ++side[tcp_state_name(e.state)];
    }
  } else {
    for (const auto& e : lab_.tcp_table(lab_.client_fd())) ++s.client[tcp_state_name(e.state)];
    for (const auto& e : lab_.tcp_table(lab_.server_fd())) ++s.server[tcp_state_name(e.state)];
  }
  samples_.push_back(std::move(s));
}

void Runner::close_all() {
  for (auto& c : clients_) finish_client(c, true);
  for (auto& s : servers_) finish_server(s);
  for (auto& l : listeners_)
    if (l.fd >= 0) close(l.fd), l.fd = -1;
  for (int fd : held_) close(fd);
  held_.clear();
}

void Runner::run() {
  for (const auto& spec : x_.listeners) {
    Listener l;
    l.spec = spec;
    open_listener(l, spec.reuseaddr, nullptr);
    listeners_.push_back(l);
    listener_ports_.insert(spec.at.port);
  }
  std::vector<Due> due;
  for (std::size_t i = 0; i < x_.schedule.size(); ++i)
    for (std::int64_t k = 0; k < x_.schedule[i].repeat; ++k)
      due.push_back({x_.schedule[i].at_ms + k * x_.schedule[i].every_ms, i});
  std::stable_sort(due.begin(), due.end(), [](const Due& a, const Due& b) { return a.t_ms < b.t_ms; });

  const auto jiffies0 = read_jiffies();
  t0_ = now_ns();
  const std::int64_t end_ns = x_.observe_ms * kMs;
  std::size_t next_due = 0;
  std::int64_t next_sample_ms = 0;
  for (std::int64_t iteration = 0;; ++iteration) {
    if (stop_requested()) throw Error("interrupted by a signal (or the watchdog)");
    if (iteration > 50'000'000) throw Error("event loop iteration limit reached");
    std::int64_t t = elapsed_ns();
    // A sample due at the same millisecond as an operation is taken first: it shows the state
    // just before the operation.
    while (next_sample_ms <= x_.observe_ms && next_sample_ms * kMs <= t) {
      take_sample(next_sample_ms);
      next_sample_ms += x_.sample_every_ms;
    }
    while (next_due < due.size() && due[next_due].t_ms * kMs <= t) start_op(due[next_due++]);
    if (t >= end_ns) break;
    // Deadlines.
    const std::int64_t now = now_ns();
    for (auto& c : clients_) {
      if (c.fd < 0 || c.deadline_ns == 0 || now < c.deadline_ns) continue;
      Attempt& a = attempts_[c.attempt];
      if (c.phase == ClientPhase::Connecting) {
        a.note = fmt::format("no answer within the harness's {} ms connect timeout", kConnectTimeoutMs);
        connect_done(c, ETIMEDOUT);
      } else {
        a.note = fmt::format("no reply within {} ms", kReplyTimeoutMs);
        finish_client(c, true);
      }
    }
    for (auto& s : servers_)
      if (s.fd >= 0 && s.phase == ServerPhase::CloseAt && now >= s.close_at_ns) finish_server(s);
    std::erase_if(clients_, [](const ClientConn& c) { return c.fd < 0; });
    std::erase_if(servers_, [](const ServerConn& s) { return s.fd < 0; });

    // Wait for the next event.
    std::int64_t wake = end_ns;
    if (next_due < due.size()) wake = std::min(wake, due[next_due].t_ms * kMs);
    if (next_sample_ms <= x_.observe_ms) wake = std::min(wake, next_sample_ms * kMs);
    for (const auto& c : clients_)
      if (c.deadline_ns != 0) wake = std::min(wake, c.deadline_ns - t0_);
    for (const auto& s : servers_)
      if (s.phase == ServerPhase::CloseAt) wake = std::min(wake, s.close_at_ns - t0_);
    std::vector<pollfd> fds;
    enum class Kind { Listener, Client, Server };
    std::vector<std::pair<Kind, std::size_t>> who;
    for (std::size_t i = 0; i < listeners_.size(); ++i)
      if (listeners_[i].fd >= 0) fds.push_back({listeners_[i].fd, POLLIN, 0}), who.emplace_back(Kind::Listener, i);
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      const auto& c = clients_[i];
      if (c.phase == ClientPhase::Holding) continue;
      short ev = c.phase == ClientPhase::Connecting ? POLLOUT : POLLIN;
      fds.push_back({c.fd, ev, 0});
      who.emplace_back(Kind::Client, i);
    }
    for (std::size_t i = 0; i < servers_.size(); ++i) {
      const auto& s = servers_[i];
      if (s.phase == ServerPhase::Holding || s.phase == ServerPhase::CloseAt) continue;
      fds.push_back({s.fd, POLLIN, 0});
      who.emplace_back(Kind::Server, i);
    }
    std::int64_t wait = std::max<std::int64_t>(0, wake - elapsed_ns());
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    int n = ppoll(fds.data(), fds.size(), &ts, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(sys_error("ppoll"));
    }
    for (std::size_t i = 0; i < fds.size() && n > 0; ++i) {
      if (fds[i].revents == 0) continue;
      auto [kind, idx] = who[i];
      switch (kind) {
        case Kind::Listener: on_accept(listeners_[idx]); break;
        case Kind::Client: on_client_event(clients_[idx], fds[i].revents); break;
        case Kind::Server: on_server_event(servers_[idx], fds[i].revents); break;
      }
    }
  }
  const double seconds = static_cast<double>(elapsed_ns()) / 1e9;
  const auto jiffies1 = read_jiffies();
  if (jiffies0 && jiffies1 && seconds > 0.5) hz_ = static_cast<double>(*jiffies1 - *jiffies0) / seconds;
  for (auto& a : attempts_)
    if (!a.decided) {  // connects still pending at the end of the run
      a.decided = true;
      a.ok = false;
      a.err = ETIMEDOUT;
      a.syscall = "connect";
      a.note = "still pending when the run ended";
    }
  close_all();
}

ordered_json Runner::result(const std::map<std::string, std::string>& client_sysctls,
                            const std::map<std::string, std::string>& server_sysctls) const {
  ordered_json r;
  r["experiment"] = x_.name;
  r["experiment_digest"] = x_.digest;
  r["description"] = x_.description;
  utsname u{};
  uname(&u);
  r["kernel"] = u.release;
  r["machine"] = u.machine;
  std::string hz = "not measured (/proc/timer_list unreadable)";
  std::optional<int> nearest_hz;
  if (hz_) {
    int nearest = 1000;
    for (int cand : {100, 250, 300, 1000})
      if (std::abs(*hz_ - cand) < std::abs(*hz_ - nearest)) nearest = cand;
    nearest_hz = nearest;
    hz = fmt::format("HZ={} (jiffies advanced {:.1f}/s during the run)", nearest, *hz_);
  }
  r["hz_note"] = hz +
                 "; TIME_WAIT lasts TCP_TIMEWAIT_LEN=60 s but its timer fires on the coarse timer wheel "
                 "(about 2 s granularity at HZ=250 for a 60 s timeout), so ports come back 60 to ~62 s "
                 "after their connection closed, in bursts: compare first_failure_ms/first_recovery_ms "
                 "within 2.5 s, counts exactly";
  r["harness"] = {{"connect_timeout_ms", kConnectTimeoutMs},
                  {"reply_timeout_ms", kReplyTimeoutMs},
                  {"observe_ms", x_.observe_ms},
                  {"sample_every_ms", x_.sample_every_ms},
                  {"loopback", x_.loopback},
                  {"unmatched_accepts", unmatched_accepts_},
                  // CONFIG_HZ (the timer wheel's tick), as measured: `tcpsim experiment --compare`
                  // derives its time tolerance from it.
                  {"hz", nearest_hz ? ordered_json(*nearest_hz) : ordered_json(nullptr)}};
  r["sysctls"] = {{"client", client_sysctls}, {"server", server_sysctls}};

  ordered_json attempts = ordered_json::array();
  std::int64_t succeeded = 0, failed = 0, max_late_us = 0;
  std::optional<std::int64_t> first_failure, first_recovery;
  std::map<std::string, std::int64_t> by_errno;
  for (const auto& a : attempts_) {
    ordered_json j;
    j["t_ms"] = a.t_ms;
    j["op"] = to_string(a.op);
    j["ok"] = a.ok;
    j["errno"] = a.ok ? ordered_json(nullptr) : ordered_json(errno_name(a.err));
    j["syscall"] = a.ok ? ordered_json(nullptr) : ordered_json(a.syscall);
    j["local_port"] = a.local_port >= 0 ? ordered_json(a.local_port) : ordered_json(nullptr);
    j["remote"] = a.remote.empty() ? ordered_json(nullptr) : ordered_json(a.remote);
    if (a.latency_ms >= 0) j["latency_ms"] = a.latency_ms;
    if (!a.note.empty()) j["note"] = a.note;
    attempts.push_back(j);
    max_late_us = std::max(max_late_us, a.late_us);
    if (a.ok) {
      ++succeeded;
      if (first_failure && !first_recovery) first_recovery = a.t_ms;
    } else {
      ++failed;
      ++by_errno[errno_name(a.err)];
      if (!first_failure) first_failure = a.t_ms;
    }
  }
  r["attempts"] = attempts;

  ordered_json samples = ordered_json::array();
  std::map<std::string, int> max_client, max_server;
  for (const auto& s : samples_) {
    samples.push_back({{"t_ms", s.t_ms}, {"client", s.client}, {"server", s.server}});
    for (const auto& [k, v] : s.client) max_client[k] = std::max(max_client[k], v);
    for (const auto& [k, v] : s.server) max_server[k] = std::max(max_server[k], v);
  }
  r["samples"] = samples;

  std::set<int> ports;
  for (const auto& a : attempts_)
    if (a.ok && a.op == Op::Connect && a.local_port >= 0) ports.insert(a.local_port);
  ordered_json summary;
  summary["succeeded"] = succeeded;
  summary["failed"] = failed;
  summary["failures_by_errno"] = by_errno;
  summary["first_failure_ms"] = first_failure ? ordered_json(*first_failure) : ordered_json(nullptr);
  summary["first_recovery_ms"] = first_recovery ? ordered_json(*first_recovery) : ordered_json(nullptr);
  summary["distinct_local_ports"] = ports.size();
  summary["max_states"] = {{"client", max_client}, {"server", max_server}};
  summary["max_start_lateness_ms"] = static_cast<double>(max_late_us) / 1000.0;
  r["summary"] = summary;
  return r;
}

// --check: the summary must match the stored ground truth.
int check_against(const ordered_json& got, const std::string& stored_path) {
  std::ifstream f(stored_path);
  if (!f) throw Error(fmt::format("{}: cannot open the stored result", stored_path));
  json stored = json::parse(f);
  const auto& a = got.at("summary");
  const auto& b = stored.at("summary");
  std::vector<std::string> diffs;
  if (got.at("experiment") != stored.at("experiment")) diffs.push_back("experiment name differs");
  if (!stored.contains("experiment_digest"))
    diffs.push_back("the stored result has no experiment_digest (it predates them: run the experiment again)");
  else if (got.at("experiment_digest") != stored.at("experiment_digest"))
    diffs.push_back(fmt::format("experiment_digest: {} now, {} stored (the experiment file changed since)",
                                got.at("experiment_digest").dump(), stored.at("experiment_digest").dump()));
  for (const char* key : {"succeeded", "failed"})
    if (a.at(key).get<std::int64_t>() != b.at(key).get<std::int64_t>())
      diffs.push_back(fmt::format("{}: {} now, {} stored", key, a.at(key).dump(), b.at(key).dump()));
  if (json(a.at("failures_by_errno")) != b.at("failures_by_errno"))
    diffs.push_back(fmt::format("failures_by_errno: {} now, {} stored", a.at("failures_by_errno").dump(),
                                b.at("failures_by_errno").dump()));
  for (const char* key : {"first_failure_ms", "first_recovery_ms"}) {
    const auto& x = a.at(key);
    const auto& y = b.at(key);
    bool same = x.is_null() == y.is_null() &&
                (x.is_null() || std::abs(x.get<double>() - y.get<double>()) <= kStateCheckToleranceMs);
    if (!same)
      diffs.push_back(fmt::format("{}: {} now, {} stored (tolerance {} ms: timer-wheel granularity)", key,
                                  x.dump(), y.dump(), kStateCheckToleranceMs));
  }
  if (got.at("kernel") != stored.at("kernel"))
    fmt::print(stderr, "tcpsim-kernel: note: kernel {} now, ground truth recorded on {}\n",
               got.at("kernel").get<std::string>(), stored.at("kernel").get<std::string>());
  for (const auto& d : diffs) fmt::print(stderr, "tcpsim-kernel: CHECK FAILED: {}\n", d);
  if (diffs.empty()) fmt::print(stderr, "tcpsim-kernel: check against {}: same summary\n", stored_path);
  return diffs.empty() ? 0 : 3;
}

void usage(std::FILE* to) {
  fmt::print(to,
             "usage: tcpsim-kernel EXPERIMENT.json [-o RESULT.json] [--check STORED.json]\n"
             "       tcpsim-kernel --digest EXPERIMENT.json\n"
             "Runs an experiment on the live kernel inside network namespaces of its own (root needed).\n"
             "  -o FILE        write the result JSON there (default: standard output)\n"
             "  --check FILE   compare the summary with a stored result (exit 3 if it differs)\n"
             "  --digest       only check the experiment and print its digest (what results store as\n"
             "                 experiment_digest); runs nothing, needs no root\n"
             "exit codes: 0 ok, 1 error, 2 usage, 3 check failed, 77 cannot run here (skip)\n");
}

int main_impl(int argc, char** argv) {
  std::string exp_path, out_path, check_path;
  bool digest_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    }
    if (arg == "--digest") {
      digest_only = true;
      continue;
    }
    if ((arg == "-o" || arg == "--check") && i + 1 < argc) {
      (arg == "-o" ? out_path : check_path) = argv[++i];
    } else if (!arg.empty() && arg[0] != '-' && exp_path.empty()) {
      exp_path = arg;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (exp_path.empty()) {
    usage(stderr);
    return 2;
  }
  Experiment x = load_experiment(exp_path);
  if (digest_only) {
    if (!out_path.empty() || !check_path.empty()) {
      usage(stderr);
      return 2;
    }
    fmt::print("{}\n", x.digest);
    return 0;
  }
  install_signal_handlers();
  alarm(static_cast<unsigned>(x.observe_ms / 1000 + 60));  // watchdog: the run is bounded in time
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  Lab lab(x.loopback, x.client.addresses, x.server.addresses);
  std::map<std::string, std::string> client_sysctls, server_sysctls;
  for (const auto& [k, v] : x.client.sysctls) client_sysctls[k] = lab.set_sysctl(lab.client_fd(), k, v);
  for (const auto& [k, v] : x.server.sysctls) server_sysctls[k] = lab.set_sysctl(lab.server_fd(), k, v);
  // Record the figures that matter even where the experiment keeps the defaults.
  for (const char* k : {"net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_timestamps",
                        "net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_tw_reuse_delay", "net.ipv4.tcp_fin_timeout"}) {
    try {
      if (client_sysctls.count(k) == 0) client_sysctls[k] = lab.get_sysctl(lab.client_fd(), k);
      if (server_sysctls.count(k) == 0) server_sysctls[k] = lab.get_sysctl(lab.server_fd(), k);
    } catch (const Skip&) {
      // An older kernel without tcp_tw_reuse_delay: just not recorded.
    }
  }

  fmt::print(stderr, "tcpsim-kernel: {}: running {} ms...\n", x.name, x.observe_ms);
  Runner runner(x, lab);
  runner.run();
  ordered_json r = runner.result(client_sysctls, server_sysctls);
  const auto& s = r["summary"];
  fmt::print(stderr, "tcpsim-kernel: {}: succeeded {}, failed {} {}, first failure {} ms, recovery {} ms\n", x.name,
             s["succeeded"].dump(), s["failed"].dump(), s["failures_by_errno"].dump(), s["first_failure_ms"].dump(),
             s["first_recovery_ms"].dump());
  std::string text = r.dump(1) + "\n";
  if (out_path.empty()) fmt::print("{}", text);
  else write_atomically(out_path, text);
  return check_path.empty() ? 0 : check_against(r, check_path);
}

}  // namespace
}  // namespace tk

int main(int argc, char** argv) { return tk::run_main("tcpsim-kernel", tk::main_impl, argc, argv); }
