// The experiment file of tcpsim-kernel (format: README.md in this folder).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <netinet/in.h>

namespace tk {

inline constexpr std::int64_t kMaxObserveMs = 180000;  // hard cap on one run
inline constexpr std::int64_t kMaxAttempts = 5000;     // hard cap on scheduled operations
inline constexpr std::int64_t kConnectTimeoutMs = 3000;
inline constexpr std::int64_t kReplyTimeoutMs = 3000;

enum class Op { Connect, BindOnly, ListenRestart };
enum class CloseMode { ClientFirst, ServerFirst, None, ClientAbort, ClientOnly };

struct BindSpec {
  enum class Kind { None, Port0, Port0NoPort, Port } kind = Kind::None;
  std::uint16_t port = 0;
};

struct Endpoint {
  in_addr addr{};
  std::uint16_t port = 0;
  std::string text;  // "10.77.0.2:80"
};

struct ScheduleEntry {
  std::int64_t at_ms = 0;
  std::int64_t repeat = 1;
  std::int64_t every_ms = 0;
  Op op = Op::Connect;
  Endpoint to;
  CloseMode close = CloseMode::ClientFirst;
  BindSpec bind;
  bool reuseaddr = false;
  std::int64_t server_close_delay_ms = 0;
};

struct ListenerSpec {
  Endpoint at;
  bool reuseaddr = false;
};

struct SideSpec {
  std::vector<std::string> addresses;                       // as written ("10.77.0.1" or with /prefix)
  std::vector<std::pair<std::string, std::string>> sysctls;  // in file order
};

struct Experiment {
  std::string name;
  std::string description;
  SideSpec client;
  SideSpec server;
  std::vector<ListenerSpec> listeners;
  bool loopback = false;
  std::vector<ScheduleEntry> schedule;
  std::int64_t observe_ms = 0;
  std::int64_t sample_every_ms = 500;

  // The address client sockets bind to when "bind" is not "none": client.addresses[0]
  // (127.0.0.1 in loopback mode without client addresses).
  in_addr client_bind_address{};

  // "fnv1a64:..." of the schedule, sysctls, addresses and listeners (include/tcpsim/
  // experiment_digest.hpp): written into the result, so that a result names what it measured.
  std::string digest;
};

// Reads and validates an experiment; throws tk::Error naming the file and the field.
Experiment load_experiment(const std::string& path);

const char* to_string(Op op);
const char* to_string(CloseMode mode);

}  // namespace tk
