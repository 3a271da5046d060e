// Network namespaces for tcpsim-kernel: creation, configuration, entering, sysctls, /proc/net/tcp.
//
// Safety model (see README.md): everything the harness does to the kernel happens inside two
// network namespaces it creates itself (one in loopback mode). They are created with
// `ip netns add` under temporary names, configured with `ip -n NAME ...`, opened as file
// descriptors, and their names are removed again as soon as the setup is done. From then on the
// namespaces live only as long as this process holds the descriptors (and the sockets in them):
// they disappear when the process exits, however it exits. The names that exist during setup are
// removed by the Lab destructor, on signals (the caller turns signals into an orderly unwind) and,
// should the process have been killed during setup, by the next run (stale names whose pid is gone).
#pragma once

#include <cstdint>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tk {

// A failure of the run (bad experiment, syscall that must not fail, ...): exit code 1.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The environment cannot run live-kernel experiments (not root, no netns, no `ip`, a sysctl the
// kernel lacks): exit code 77, which CTest reports as skipped.
struct Skip : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Set by the signal handlers (SIGINT, SIGTERM, SIGHUP, SIGALRM); every loop checks it.
bool stop_requested();
void install_signal_handlers();

// "EADDRNOTAVAIL" for EADDRNOTAVAIL, "E123" for unknown values.
std::string errno_name(int err);

// Monotonic clock in nanoseconds.
std::int64_t now_ns();

// Runs argv directly (no shell), at most timeout_ms; returns the exit status (or -1 on timeout,
// after killing the child it started). stdout and stderr go to *output.
int run_command(const std::vector<std::string>& argv, std::string* output, int timeout_ms = 10000);

// Enters a network namespace for the lifetime of the object, then returns to the home namespace.
class InNetns {
 public:
  InNetns(int target_fd, int home_fd);
  ~InNetns();
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;

 private:
  int home_fd_;
};

// One TCP socket as listed in /proc/net/tcp.
struct TcpEntry {
  std::uint16_t local_port;
  std::uint16_t remote_port;
  in_addr remote;  // as /proc/net/tcp prints it: the raw 32-bit value
  int state;  // include/net/tcp_states.h numbering (1 = ESTABLISHED ... 12 = NEW_SYN_RECV)
};

// Writes a file through a temporary and rename(2): a reader never sees half of it.
void write_atomically(const std::string& path, const std::string& text);

// main() of the harness programs: runs impl, maps Skip to exit 77 and errors to exit 1.
int run_main(const char* program, int (*impl)(int, char**), int argc, char** argv);

// "ESTABLISHED", "TIME_WAIT", ... (include/net/tcp_states.h names without the TCP_ prefix).
std::string tcp_state_name(int state);

// The namespaces of one run.
class Lab {
 public:
  // client/server addresses: "10.77.0.1" (taken as /24) or "10.77.0.1/24". In loopback mode there
  // is one namespace; every address of both lists is added to its lo (as /32, 127/8 is there).
  Lab(bool loopback, const std::vector<std::string>& client_addresses,
      const std::vector<std::string>& server_addresses);
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  int home_fd() const { return home_fd_; }
  int client_fd() const { return client_fd_; }
  int server_fd() const { return loopback_ ? client_fd_ : server_fd_; }
  bool loopback() const { return loopback_; }

  // Writes /proc/sys/<key with dots as slashes> inside the namespace and returns the value read
  // back. Only "net." keys (per-namespace ones); refuses to write in the home namespace.
  std::string set_sysctl(int ns_fd, const std::string& key, const std::string& value);
  std::string get_sysctl(int ns_fd, const std::string& key);

  // The IPv4 TCP sockets of a namespace (/proc/net/tcp read from inside it).
  std::vector<TcpEntry> tcp_table(int ns_fd);

 private:
  void ip(const std::vector<std::string>& args);
  void remove_names();

  bool loopback_;
  int home_fd_ = -1;
  int client_fd_ = -1;
  int server_fd_ = -1;
  int client_tcp_fd_ = -1;  // /proc/net/tcp of each namespace, kept open
  int server_tcp_fd_ = -1;
  unsigned long home_inode_ = 0;
  std::vector<std::string> names_;  // temporary `ip netns` names still present
};

}  // namespace tk
