#include "netns.hpp"

#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/core.h>

extern char** environ;

namespace tk {

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

std::string sys_error(const std::string& what) {
  return fmt::format("{}: {} ({})", what, std::strerror(errno), errno_name(errno));
}

constexpr const char* kNamePrefix = "tcpsimk-";
constexpr const char* kNetnsDir = "/run/netns";

unsigned long inode_of(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw Error(sys_error("fstat(netns)"));
  return static_cast<unsigned long>(st.st_ino);
}

// Removes `ip netns` names left by a tcpsim-kernel process that no longer exists (killed during
// its short setup phase). Names of live processes (parallel runs) are left alone.
void remove_stale_names() {
  DIR* dir = opendir(kNetnsDir);
  if (dir == nullptr) return;
  std::vector<std::string> stale;
  for (int i = 0; i < 10000; ++i) {  // bounded
    dirent* ent = readdir(dir);
    if (ent == nullptr) break;
    std::string name = ent->d_name;
    if (name.rfind(kNamePrefix, 0) != 0) continue;
    long pid = std::strtol(name.c_str() + std::strlen(kNamePrefix), nullptr, 10);
    if (pid <= 0) continue;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  closedir(dir);
  for (const auto& name : stale) {
    std::string out;
    run_command({"ip", "netns", "del", name}, &out);
    fmt::print(stderr, "tcpsim-kernel: removed stale namespace {}\n", name);
  }
}

std::string with_prefix(const std::string& addr, const char* default_prefix) {
  return addr.find('/') == std::string::npos ? addr + default_prefix : addr;
}

bool is_loopback_v4(const std::string& addr) { return addr.rfind("127.", 0) == 0; }

std::string trim_ws(const std::string& s) {
  // Collapses every run of blanks to one space ("40000\t40015" reads back as "40000 40015").
  std::string out;
  bool blank = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      blank = !out.empty();
    } else {
      if (blank) out += ' ';
      blank = false;
      out += c;
    }
  }
  return out;
}

std::string sysctl_path(const std::string& key) {
  if (key.rfind("net.", 0) != 0 || key.size() > 120 || key.find("..") != std::string::npos)
    throw Error(fmt::format("sysctl {}: only per-namespace net.* keys are allowed", key));
  std::string path = "/proc/sys/";
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) throw Error(fmt::format("sysctl {}: invalid character", key));
    path += c == '.' ? '/' : c;
  }
  return path;
}

}  // namespace

bool stop_requested() { return g_stop != 0; }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and the loops see the flag
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGALRM}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::string errno_name(int err) {
  if (err == 0) return "0";
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : fmt::format("E{}", err);
}

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int run_command(const std::vector<std::string>& argv, std::string* output, int timeout_ms) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) throw Error(sys_error("pipe2"));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    if (output != nullptr) *output = fmt::format("cannot run {}: {}", argv[0], std::strerror(rc));
    return 127;
  }
  std::string out;
  const std::int64_t deadline = now_ns() + std::int64_t{timeout_ms} * 1'000'000;
  bool timed_out = false;
  for (int i = 0; i < 100000; ++i) {  // bounded; each pass waits up to 50 ms or reads a chunk
    if (now_ns() > deadline) {
      timed_out = true;
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    int n = poll(&p, 1, 50);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = read(pipefd[0], buf, sizeof buf);
    if (got <= 0) break;  // EOF: the child closed its output
    if (out.size() < 65536) out.append(buf, static_cast<size_t>(got));
  }
  close(pipefd[0]);
  int status = 0;
  for (int i = 0; i < 2000; ++i) {  // bounded: at most about 10 s more
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (timed_out || now_ns() > deadline) {
      kill(pid, SIGKILL);  // our own child only
      timed_out = true;
      waitpid(pid, &status, 0);
      break;
    }
    usleep(5000);
  }
  if (output != nullptr) *output = out;
  if (timed_out) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

InNetns::InNetns(int target_fd, int home_fd) : home_fd_(home_fd) {
  if (setns(target_fd, CLONE_NEWNET) != 0) throw Error(sys_error("setns(experiment namespace)"));
}

InNetns::~InNetns() {
  if (setns(home_fd_, CLONE_NEWNET) != 0) {
    // Never carry on in the wrong namespace.
    fmt::print(stderr, "tcpsim-kernel: cannot return to the home network namespace: {}\n",
               std::strerror(errno));
    std::abort();
  }
}

std::string tcp_state_name(int state) {
  static const char* const names[] = {"?",         "ESTABLISHED", "SYN_SENT",  "SYN_RECV", "FIN_WAIT1",
                                      "FIN_WAIT2", "TIME_WAIT",   "CLOSE",     "CLOSE_WAIT",
                                      "LAST_ACK",  "LISTEN",      "CLOSING",   "NEW_SYN_RECV"};
  if (state >= 1 && state <= 12) return names[state];
  return fmt::format("STATE_{}", state);
}

Lab::Lab(bool loopback, const std::vector<std::string>& client_addresses,
         const std::vector<std::string>& server_addresses)
    : loopback_(loopback) {
  if (geteuid() != 0)
    throw Skip("tcpsim-kernel needs root (it creates network namespaces); skipping");
  std::string out;
  if (run_command({"ip", "-V"}, &out) != 0)
    throw Skip("iproute2 (`ip`) is not available: " + out);
  home_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_fd_ < 0) throw Skip(sys_error("open /proc/thread-self/ns/net"));
  home_inode_ = inode_of(home_fd_);

  remove_stale_names();
  const std::string base = fmt::format("{}{}-", kNamePrefix, getpid());
  const std::string cname = base + "c";
  const std::string sname = base + "s";
  try {
    for (const auto& name : loopback ? std::vector<std::string>{cname} : std::vector<std::string>{cname, sname}) {
      // Registered before the attempt, so that a half-created name is removed as well.
      names_.push_back(name);
      if (run_command({"ip", "netns", "add", name}, &out) != 0)
        throw Skip(fmt::format("network namespaces are unavailable (ip netns add {}): {}", name, out));
      if (stop_requested()) throw Error("interrupted");
    }
    auto open_ns = [&](const std::string& name) {
      int fd = open((std::string(kNetnsDir) + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw Skip(sys_error("open netns " + name));
      if (inode_of(fd) == home_inode_) throw Error("new namespace equals the home namespace");
      return fd;
    };
    client_fd_ = open_ns(cname);
    ip({"-n", cname, "link", "set", "lo", "up"});
    if (loopback) {
      for (const auto* list : {&client_addresses, &server_addresses})
        for (const auto& a : *list)
          if (!is_loopback_v4(a)) ip({"-n", cname, "addr", "add", with_prefix(a, "/32"), "dev", "lo"});
    } else {
      server_fd_ = open_ns(sname);
      ip({"-n", sname, "link", "set", "lo", "up"});
      ip({"-n", cname, "link", "add", "tk-c", "type", "veth", "peer", "name", "tk-s", "netns", sname});
      for (const auto& a : client_addresses) ip({"-n", cname, "addr", "add", with_prefix(a, "/24"), "dev", "tk-c"});
      for (const auto& a : server_addresses) ip({"-n", sname, "addr", "add", with_prefix(a, "/24"), "dev", "tk-s"});
      ip({"-n", cname, "link", "set", "tk-c", "up"});
      ip({"-n", sname, "link", "set", "tk-s", "up"});
      // Wait (at most 5 s) until both ends report carrier, so the first SYN is not lost.
      bool up = false;
      for (int i = 0; i < 100 && !up && !stop_requested(); ++i) {
        std::string c, s;
        run_command({"ip", "-n", cname, "-o", "link", "show", "dev", "tk-c"}, &c);
        run_command({"ip", "-n", sname, "-o", "link", "show", "dev", "tk-s"}, &s);
        up = c.find("state UP") != std::string::npos && s.find("state UP") != std::string::npos;
        if (!up) usleep(50000);
      }
      if (stop_requested()) throw Error("interrupted");
      if (!up) throw Error("the veth pair did not come up within 5 s");
    }
    if (stop_requested()) throw Error("interrupted");
  } catch (...) {
    remove_names();
    if (client_fd_ >= 0) close(client_fd_);
    if (server_fd_ >= 0) close(server_fd_);
    close(home_fd_);
    throw;
  }
  // From here on the namespaces exist only through our descriptors.
  remove_names();
}

Lab::~Lab() {
  remove_names();
  if (client_tcp_fd_ >= 0) close(client_tcp_fd_);
  if (server_tcp_fd_ >= 0) close(server_tcp_fd_);
  if (client_fd_ >= 0) close(client_fd_);
  if (server_fd_ >= 0) close(server_fd_);
  if (home_fd_ >= 0) close(home_fd_);
}

void Lab::remove_names() {
  for (const auto& name : names_) {
    std::string out;
    run_command({"ip", "netns", "del", name}, &out);
  }
  names_.clear();
}

void Lab::ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  if (run_command(argv, &out) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw Error(fmt::format("{}failed: {}", cmd, out));
  }
}

std::string Lab::set_sysctl(int ns_fd, const std::string& key, const std::string& value) {
  const std::string path = sysctl_path(key);
  {
    InNetns in(ns_fd, home_fd_);
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) throw Error(sys_error("open /proc/thread-self/ns/net"));
    const bool home = inode_of(self) == home_inode_;
    close(self);
    if (home) throw Error("refusing to set a sysctl in the home namespace");
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) throw Skip(fmt::format("sysctl {} does not exist on this kernel", key));
      throw Error(sys_error("open " + path));
    }
    const std::string text = value + "\n";
    ssize_t n = write(fd, text.data(), text.size());
    int err = errno;
    close(fd);
    if (n != static_cast<ssize_t>(text.size()))
      throw Error(fmt::format("sysctl {}={}: {}", key, value, errno_name(err)));
  }
  std::string back = get_sysctl(ns_fd, key);
  if (back != trim_ws(value))
    throw Error(fmt::format("sysctl {}: wrote '{}', reads back '{}'", key, value, back));
  return back;
}

std::string Lab::get_sysctl(int ns_fd, const std::string& key) {
  const std::string path = sysctl_path(key);
  InNetns in(ns_fd, home_fd_);
  std::ifstream f(path);
  if (!f) throw Skip(fmt::format("sysctl {} does not exist on this kernel", key));
  std::stringstream ss;
  ss << f.rdbuf();
  return trim_ws(ss.str());
}

std::vector<TcpEntry> Lab::tcp_table(int ns_fd) {
  // The seq file is bound to the namespace current at open time; it is opened once per namespace
  // and re-read from offset 0 (which regenerates it), so sampling needs no setns.
  int& fd = ns_fd == client_fd_ ? client_tcp_fd_ : server_tcp_fd_;
  if (fd < 0) {
    InNetns in(ns_fd, home_fd_);
    fd = open("/proc/thread-self/net/tcp", O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(sys_error("open /proc/thread-self/net/tcp"));
  }
  if (lseek(fd, 0, SEEK_SET) != 0) throw Error(sys_error("lseek /proc/net/tcp"));
  std::string text;
  char buf[65536];
  for (int i = 0; i < 10000; ++i) {  // bounded: at most ~650 MB, far more than any run holds
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  std::vector<TcpEntry> entries;
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    // "  12: 0100000A:9C40 0200000A:0050 06 ..."
    std::istringstream fields(line);
    std::string sl, local, remote, st;
    if (!(fields >> sl >> local >> remote >> st)) continue;
    auto colon = local.find(':'), rcolon = remote.find(':');
    if (colon == std::string::npos || rcolon == std::string::npos) continue;
    TcpEntry e{};
    e.local_port = static_cast<std::uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
    e.remote_port = static_cast<std::uint16_t>(std::stoul(remote.substr(rcolon + 1), nullptr, 16));
    // The address is the in-memory 32-bit value printed with %08X (host order of the raw bytes).
    e.remote.s_addr = static_cast<in_addr_t>(std::stoul(remote.substr(0, rcolon), nullptr, 16));
    e.state = static_cast<int>(std::stoul(st, nullptr, 16));
    entries.push_back(e);
  }
  return entries;
}

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    if (!f.flush()) throw Error(fmt::format("{}: cannot write", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(sys_error("rename " + tmp));
}

int run_main(const char* program, int (*impl)(int, char**), int argc, char** argv) {
  try {
    return impl(argc, argv);
  } catch (const Skip& e) {
    fmt::print(stderr, "{}: SKIP: {}\n", program, e.what());
    return 77;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: error: {}\n", program, e.what());
    return 1;
  }
}

}  // namespace tk
