#pragma once
// An upstream connection, and the keep-alive pool of idle HTTP/1.1 ones (bounded per key, with
// idle expiry). One per worker; no locks.

#include "aigw/config.hpp"
#include "aigw/request_context.hpp"

#include "net/deadline.hpp"
#include "net/tls_stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace aigw {

struct UpstreamConnection {
  std::string key;  // pool key: provider + scheme + host + port (and the TLS session's name)
  std::unique_ptr<boost::asio::ip::tcp::socket> plain;
  std::unique_ptr<net::TlsStream> tls;
  std::unique_ptr<net::Deadline> deadline;  // on lowest(); closes the socket on expiry
  boost::beast::flat_buffer buffer;  // bytes read past the last response stay with the socket
  // Body bytes on their way to the client (kRelayBuffer). Like `buffer`, released while the
  // connection waits for the provider's next bytes.
  std::unique_ptr<char[]> relay;
  SteadyTime idle_since{};
  bool h2 = false;  // the TLS handshake chose HTTP/2 (ALPN): the connection becomes an H2Connection

  boost::asio::ip::tcp::socket& lowest() noexcept;
};

class ConnectionPool {
 public:
  ConnectionPool(boost::asio::io_context& io, std::size_t max_idle_per_key, Duration idle_timeout);

  // A live idle connection for `key`, most recently used first; nullptr when none.
  std::unique_ptr<UpstreamConnection> take(const std::string& key);
  // Returns a connection whose last response ended cleanly with keep-alive.
  void put(std::unique_ptr<UpstreamConnection> conn);
  // Closes every idle connection and stops the expiry timer (drain).
  void close_all();

 private:
  void schedule_sweep();
  static bool looks_alive(UpstreamConnection& conn) noexcept;

  boost::asio::steady_timer sweep_timer_;
  std::size_t max_idle_per_key_;
  Duration idle_timeout_;
  bool closed_ = false;
  std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
};

}  // namespace aigw
