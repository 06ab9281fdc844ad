#include "upstream/pool.hpp"

#include <cerrno>
#include <sys/socket.h>

namespace aigw {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

}  // namespace

tcp::socket& UpstreamConnection::lowest() noexcept { return tls ? tls->next_layer() : *plain; }

// ---------------------------------------------------------------------------------------
// ConnectionPool

ConnectionPool::ConnectionPool(asio::io_context& io, std::size_t max_idle_per_key,
                               Duration idle_timeout)
    : sweep_timer_(io), max_idle_per_key_(max_idle_per_key), idle_timeout_(idle_timeout) {}

bool ConnectionPool::looks_alive(UpstreamConnection& conn) noexcept {
  // An idle keep-alive socket must have nothing to read: readable means the provider closed
  // it (EOF) or sent something unsolicited. Either way it cannot carry a new request.
  auto& socket = conn.lowest();
  if (!socket.is_open()) return false;
  char byte;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::unique_ptr<UpstreamConnection> ConnectionPool::take(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& stack = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!stack.empty()) {
    auto conn = std::move(stack.back());
    stack.pop_back();
    const auto idle = now - conn->idle_since;
    if (idle >= idle_timeout_) continue;
    // Providers close idle connections after seconds, not milliseconds: a connection used
    // within the last second skips the check (a syscall per request under load). The rare
    // close that slips through is caught by the stale-connection retry in forward().
    if (idle < std::chrono::seconds(1) || looks_alive(*conn)) return conn;
  }
  return nullptr;
}

void ConnectionPool::put(std::unique_ptr<UpstreamConnection> conn) {
  if (closed_ || max_idle_per_key_ == 0) return;
  conn->idle_since = std::chrono::steady_clock::now();
  auto& stack = idle_[conn->key];
  if (stack.size() >= max_idle_per_key_) stack.erase(stack.begin());  // drop the oldest
  stack.push_back(std::move(conn));
  schedule_sweep();
}

void ConnectionPool::close_all() {
  closed_ = true;
  idle_.clear();
  sweep_timer_.cancel();
}

void ConnectionPool::schedule_sweep() {
  if (sweep_timer_.expiry() > std::chrono::steady_clock::now()) return;  // already pending
  sweep_timer_.expires_after(idle_timeout_);
  sweep_timer_.async_wait([this](const error_code& ec) {
    if (ec || closed_) return;
    const auto now = std::chrono::steady_clock::now();
    bool any = false;
    for (auto it = idle_.begin(); it != idle_.end();) {
      auto& stack = it->second;
      std::erase_if(stack, [&](const auto& c) { return now - c->idle_since >= idle_timeout_; });
      any = any || !stack.empty();
      it = stack.empty() ? idle_.erase(it) : std::next(it);
    }
    if (any) schedule_sweep();
  });
}

}  // namespace aigw
