#include "support/ports.hpp"

#include <arpa/inet.h>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <random>
#include <set>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace aigw::test {
namespace {

// The low end of the ephemeral range (32768 by default on Linux).
std::uint16_t ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0;
  if (in >> low && low > 2048 && low <= 65535) return static_cast<std::uint16_t>(low);
  return 32768;
}

bool bindable(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::uint16_t free_port() {
  static std::mutex mutex;
  static std::set<std::uint16_t> handed_out;
  static std::mt19937 random{std::random_device{}()};
  const std::lock_guard lock(mutex);
  const std::uint16_t high = ephemeral_low() - 1;
  const std::uint16_t low = high > 12000 ? 10000 : 1024;
  std::uniform_int_distribution<unsigned> pick(low, high);
  for (int tries = 0; tries < 1000; ++tries) {
    const auto port = static_cast<std::uint16_t>(pick(random));
    if (handed_out.contains(port) || !bindable(port)) continue;
    handed_out.insert(port);
    return port;
  }
  throw std::runtime_error("no free loopback port below the ephemeral range");
}

}  // namespace aigw::test
