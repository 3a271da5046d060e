// The lines a trace shows for a change of a Linux mini-socket (host::MiniSockEvent), naming the
// kernel function it follows: the world's ladder and the packetdrill harness's both use it.
#pragma once

#include "host/mini_socket.hpp"

#include <string>
#include <vector>

namespace tcpsim {

// One record's text per line (a ladder's column is about 60 characters wide).
std::vector<std::string> mini_socket_lines(const host::MiniSockEvent& e);

}  // namespace tcpsim
