#pragma once
// Loopback ports for a server a test starts as a separate process (aigw, redis-server), which
// must be told its port before it binds it.

#include <cstdint>

namespace aigw::test {

// A loopback TCP port that was free a moment ago, chosen at random below the kernel's
// ephemeral range (net.ipv4.ip_local_port_range). A port from bind(0) would be an ephemeral
// one: between this call and the server's bind, a test running in parallel could get the
// same port from its own bind(0) or as the local port of an outgoing connection, and the
// server would fail to start. Below the range, only another caller of this function can
// collide, and never with a port it handed out before in this process.
std::uint16_t free_port();

}  // namespace aigw::test
