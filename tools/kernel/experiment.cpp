#include "experiment.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <arpa/inet.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "netns.hpp"

#include <tcpsim/experiment_digest.hpp>

namespace tk {

namespace {

using nlohmann::json;

struct Ctx {
  std::string file;
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(fmt::format("{}: {}: {}", file, where, what));
  }
};

void only_keys(const Ctx& c, const std::string& where, const json& obj, std::set<std::string> allowed) {
  if (!obj.is_object()) c.fail(where, "must be an object");
  for (const auto& [key, value] : obj.items())
    if (allowed.count(key) == 0) c.fail(where, fmt::format("unknown field \"{}\"", key));
}

std::int64_t get_int(const Ctx& c, const std::string& where, const json& obj, const char* key,
                     std::int64_t def, std::int64_t lo, std::int64_t hi) {
  if (!obj.contains(key)) return def;
  const json& v = obj.at(key);
  if (!v.is_number_integer()) c.fail(where + "." + key, "must be an integer");
  auto n = v.get<std::int64_t>();
  if (n < lo || n > hi) c.fail(where + "." + key, fmt::format("must be in [{}, {}]", lo, hi));
  return n;
}

bool get_bool(const Ctx& c, const std::string& where, const json& obj, const char* key, bool def) {
  if (!obj.contains(key)) return def;
  if (!obj.at(key).is_boolean()) c.fail(where + "." + key, "must be true or false");
  return obj.at(key).get<bool>();
}

std::string get_string(const Ctx& c, const std::string& where, const json& obj, const char* key,
                       const std::optional<std::string>& def) {
  if (!obj.contains(key)) {
    if (!def) c.fail(where, fmt::format("missing field \"{}\"", key));
    return *def;
  }
  if (!obj.at(key).is_string()) c.fail(where + "." + key, "must be a string");
  return obj.at(key).get<std::string>();
}

in_addr parse_addr(const Ctx& c, const std::string& where, const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) c.fail(where, fmt::format("\"{}\" is not an IPv4 address", text));
  return a;
}

Endpoint parse_endpoint(const Ctx& c, const std::string& where, const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) c.fail(where, fmt::format("\"{}\" is not ADDRESS:PORT", text));
  Endpoint e;
  e.addr = parse_addr(c, where, text.substr(0, colon));
  long port = -1;
  try {
    port = std::stol(text.substr(colon + 1));
  } catch (...) {
  }
  if (port < 1 || port > 65535) c.fail(where, fmt::format("\"{}\": bad port", text));
  e.port = static_cast<std::uint16_t>(port);
  e.text = text;
  return e;
}

bool is_loopback(in_addr a) { return (ntohl(a.s_addr) >> 24) == 127; }

SideSpec parse_side(const Ctx& c, const std::string& where, const json& obj) {
  only_keys(c, where, obj, {"addresses", "sysctls", "listeners"});
  SideSpec s;
  if (obj.contains("addresses")) {
    if (!obj.at("addresses").is_array()) c.fail(where + ".addresses", "must be an array of strings");
    for (const auto& a : obj.at("addresses")) {
      if (!a.is_string()) c.fail(where + ".addresses", "must be an array of strings");
      std::string text = a.get<std::string>();
      std::string bare = text.substr(0, text.find('/'));
      parse_addr(c, where + ".addresses", bare);
      if (text.find('/') != std::string::npos) {
        long prefix = -1;
        try {
          prefix = std::stol(text.substr(text.find('/') + 1));
        } catch (...) {
        }
        if (prefix < 8 || prefix > 32) c.fail(where + ".addresses", fmt::format("\"{}\": bad prefix", text));
      }
      s.addresses.push_back(text);
    }
  }
  if (obj.contains("sysctls")) {
    if (!obj.at("sysctls").is_object()) c.fail(where + ".sysctls", "must be an object of strings");
    for (const auto& [key, value] : obj.at("sysctls").items()) {
      if (!value.is_string()) c.fail(where + ".sysctls." + key, "must be a string");
      if (key.rfind("net.", 0) != 0) c.fail(where + ".sysctls." + key, "only net.* (per-namespace) sysctls");
      s.sysctls.emplace_back(key, value.get<std::string>());
    }
  }
  return s;
}

std::vector<in_addr> bare_addresses(const SideSpec& s) {
  std::vector<in_addr> out;
  for (const auto& text : s.addresses) {
    in_addr a{};
    inet_pton(AF_INET, text.substr(0, text.find('/')).c_str(), &a);
    out.push_back(a);
  }
  return out;
}

bool contains(const std::vector<in_addr>& list, in_addr a) {
  return std::any_of(list.begin(), list.end(), [&](in_addr b) { return b.s_addr == a.s_addr; });
}

}  // namespace

const char* to_string(Op op) {
  switch (op) {
    case Op::Connect: return "connect";
    case Op::BindOnly: return "bind_only";
    case Op::ListenRestart: return "listen_restart";
  }
  return "?";
}

const char* to_string(CloseMode mode) {
  switch (mode) {
    case CloseMode::ClientFirst: return "client-first";
    case CloseMode::ServerFirst: return "server-first";
    case CloseMode::None: return "none";
    case CloseMode::ClientAbort: return "client-abort";
    case CloseMode::ClientOnly: return "client-only";
  }
  return "?";
}

Experiment load_experiment(const std::string& path) {
  Ctx c{path};
  std::ifstream f(path);
  if (!f) throw Error(fmt::format("{}: cannot open", path));
  std::stringstream ss;
  ss << f.rdbuf();
  json doc;
  try {
    doc = json::parse(ss.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: {}", path, e.what()));
  }
  only_keys(c, "experiment", doc,
            {"name", "description", "client", "server", "loopback", "schedule", "observe_ms", "sample_every_ms"});
  Experiment x;
  x.name = get_string(c, "experiment", doc, "name", std::nullopt);
  if (x.name.empty() || x.name.size() > 80 ||
      x.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos)
    c.fail("name", "1 to 80 characters of [a-z0-9-_.]");
  x.description = get_string(c, "experiment", doc, "description", std::string{});
  x.loopback = get_bool(c, "experiment", doc, "loopback", false);
  if (!doc.contains("client")) c.fail("experiment", "missing field \"client\"");
  if (!doc.contains("server")) c.fail("experiment", "missing field \"server\"");
  x.client = parse_side(c, "client", doc.at("client"));
  if (doc.at("client").contains("listeners")) c.fail("client.listeners", "listeners belong to the server");
  x.server = parse_side(c, "server", doc.at("server"));
  x.observe_ms = get_int(c, "experiment", doc, "observe_ms", -1, 1, kMaxObserveMs);
  if (x.observe_ms < 0) c.fail("experiment", "missing field \"observe_ms\"");
  x.sample_every_ms = get_int(c, "experiment", doc, "sample_every_ms", 500, 10, kMaxObserveMs);

  const auto client_addrs = bare_addresses(x.client);
  const auto server_addrs = bare_addresses(x.server);
  if (!x.loopback && (client_addrs.empty() || server_addrs.empty()))
    c.fail("experiment", "client and server need at least one address each (or \"loopback\": true)");
  for (auto a : client_addrs)
    if (contains(server_addrs, a)) c.fail("server.addresses", "client and server share an address");
  if (x.loopback) {
    std::set<std::string> keys;
    for (const auto& kv : x.client.sysctls) keys.insert(kv.first);
    for (const auto& kv : x.server.sysctls)
      if (keys.count(kv.first) != 0) c.fail("server.sysctls." + kv.first, "loopback: one namespace, set it once");
  }
  if (!client_addrs.empty()) {
    x.client_bind_address = client_addrs.front();
  } else {
    inet_pton(AF_INET, "127.0.0.1", &x.client_bind_address);
  }
  // Where traffic may go: the namespaces' own addresses and their loopback, nothing else.
  std::vector<in_addr> reachable = server_addrs;
  if (x.loopback) reachable.insert(reachable.end(), client_addrs.begin(), client_addrs.end());

  const json& server = doc.at("server");
  if (server.contains("listeners")) {
    if (!server.at("listeners").is_array()) c.fail("server.listeners", "must be an array");
    int i = 0;
    for (const auto& l : server.at("listeners")) {
      std::string where = fmt::format("server.listeners[{}]", i++);
      only_keys(c, where, l, {"address", "port", "reuseaddr"});
      ListenerSpec ls;
      std::string addr = get_string(c, where, l, "address", std::nullopt);
      auto port = get_int(c, where, l, "port", -1, 1, 65535);
      if (port < 0) c.fail(where, "missing field \"port\"");
      ls.at = parse_endpoint(c, where, fmt::format("{}:{}", addr, port));
      if (ls.at.addr.s_addr != INADDR_ANY && !contains(reachable, ls.at.addr) && !is_loopback(ls.at.addr))
        c.fail(where, "the address must be one of server.addresses, 0.0.0.0 or 127.x");
      ls.reuseaddr = get_bool(c, where, l, "reuseaddr", false);
      x.listeners.push_back(ls);
    }
  }

  if (!doc.contains("schedule") || !doc.at("schedule").is_array() || doc.at("schedule").empty())
    c.fail("schedule", "must be a non-empty array");
  std::int64_t total = 0;
  int i = 0;
  for (const auto& e : doc.at("schedule")) {
    std::string where = fmt::format("schedule[{}]", i++);
    only_keys(c, where, e,
              {"at_ms", "repeat", "every_ms", "op", "to", "close", "bind", "reuseaddr", "server_close_delay_ms"});
    ScheduleEntry s;
    s.at_ms = get_int(c, where, e, "at_ms", 0, 0, kMaxObserveMs);
    s.repeat = get_int(c, where, e, "repeat", 1, 1, kMaxAttempts);
    s.every_ms = get_int(c, where, e, "every_ms", 0, 0, kMaxObserveMs);
    if (s.repeat > 1 && s.every_ms == 0) c.fail(where + ".every_ms", "needed (> 0) when repeat > 1");
    std::string op = get_string(c, where, e, "op", std::string{"connect"});
    if (op == "connect") s.op = Op::Connect;
    else if (op == "bind_only") s.op = Op::BindOnly;
    else if (op == "listen_restart") s.op = Op::ListenRestart;
    else c.fail(where + ".op", "one of connect, bind_only, listen_restart");
    std::string close = get_string(c, where, e, "close", std::string{"client-first"});
    if (close == "client-first") s.close = CloseMode::ClientFirst;
    else if (close == "server-first") s.close = CloseMode::ServerFirst;
    else if (close == "none") s.close = CloseMode::None;
    else if (close == "client-abort") s.close = CloseMode::ClientAbort;
    else if (close == "client-only") s.close = CloseMode::ClientOnly;
    else c.fail(where + ".close", "one of client-first, server-first, none, client-abort, client-only");
    if (e.contains("bind")) {
      const json& b = e.at("bind");
      if (b.is_string()) {
        auto v = b.get<std::string>();
        if (v == "none") s.bind.kind = BindSpec::Kind::None;
        else if (v == "port0") s.bind.kind = BindSpec::Kind::Port0;
        else if (v == "port0-no-port") s.bind.kind = BindSpec::Kind::Port0NoPort;
        else c.fail(where + ".bind", "\"none\", \"port0\", \"port0-no-port\" or {\"port\": N}");
      } else if (b.is_object()) {
        only_keys(c, where + ".bind", b, {"port"});
        auto p = get_int(c, where + ".bind", b, "port", -1, 1, 65535);
        if (p < 0) c.fail(where + ".bind", "missing field \"port\"");
        s.bind.kind = BindSpec::Kind::Port;
        s.bind.port = static_cast<std::uint16_t>(p);
      } else {
        c.fail(where + ".bind", "\"none\", \"port0\", \"port0-no-port\" or {\"port\": N}");
      }
    }
    if (s.op == Op::BindOnly && s.bind.kind == BindSpec::Kind::None)
      c.fail(where + ".bind", "bind_only needs a bind other than \"none\"");
    s.reuseaddr = get_bool(c, where, e, "reuseaddr", false);
    s.server_close_delay_ms = get_int(c, where, e, "server_close_delay_ms", 0, 0, kMaxObserveMs);
    if (s.op != Op::BindOnly) {
      s.to = parse_endpoint(c, where + ".to", get_string(c, where, e, "to", std::nullopt));
      if (s.op == Op::Connect && !contains(reachable, s.to.addr) && !is_loopback(s.to.addr))
        c.fail(where + ".to", "must be one of the experiment's own addresses or 127.x (no other traffic)");
      if (s.op == Op::ListenRestart) {
        bool found = std::any_of(x.listeners.begin(), x.listeners.end(), [&](const ListenerSpec& l) {
          return l.at.addr.s_addr == s.to.addr.s_addr && l.at.port == s.to.port;
        });
        if (!found) c.fail(where + ".to", "listen_restart names a listener of server.listeners");
      }
    } else if (e.contains("to")) {
      s.to = parse_endpoint(c, where + ".to", get_string(c, where, e, "to", std::nullopt));
    }
    const std::int64_t last = s.at_ms + (s.repeat - 1) * s.every_ms;
    if (last >= x.observe_ms) c.fail(where, fmt::format("its last operation ({} ms) is not before observe_ms", last));
    total += s.repeat;
    if (total > kMaxAttempts) c.fail("schedule", fmt::format("more than {} operations", kMaxAttempts));
    x.schedule.push_back(s);
  }
  x.digest = tcpsim::experiment_digest(doc);
  return x;
}

}  // namespace tk
