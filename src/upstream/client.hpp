#pragma once
// The upstream HTTP(S) client of one worker: a keep-alive connection pool per upstream
// (bounded, with idle expiry) and the relay that streams a provider's response to the
// client chunk by chunk. Lives on its worker's thread only; no locks.

#include "aigw/config.hpp"
#include "aigw/forwarder.hpp"

#include "net/deadline.hpp"
#include "net/tls_stream.hpp"
#include "upstream/h2.hpp"
#include "upstream/tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
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

class UpstreamClient final : public Forwarder {
 public:
  // `config`: its upstream section (timeouts, header limits) applies to each attempt as it
  // starts; the pool's sizes are taken here once.
  UpstreamClient(boost::asio::io_context& io, std::shared_ptr<const Config> config,
                 std::shared_ptr<const TlsContexts> tls);
  // After a reload, on the client's thread: later attempts use these. `tls` must still hold
  // the contexts of providers that in-flight requests use (TlsContexts::build keeps them).
  void serve_with(std::shared_ptr<const Config> config, std::shared_ptr<const TlsContexts> tls);

  boost::asio::awaitable<Result<void>> forward(RequestContext& ctx, const Attempt& attempt,
                                               ResponseSink& sink, Downstream& downstream) override;

  ConnectionPool& pool() noexcept { return pool_; }
  // Drain: idle connections close now, HTTP/2 connections once their streams have finished.
  void drain();
  // After a burst: idle HTTP/2 connections close but one per provider address, so that their
  // memory (allocated amid the burst's, and pinning its pages) can go back with it.
  void trim();

 private:
  struct Timeouts {
    Duration connect, tls, first_byte, read;
  };
  struct Exchange;

  boost::asio::awaitable<Result<std::unique_ptr<UpstreamConnection>>> connect(
      const Attempt& attempt, const Timeouts& timeouts, std::string key, bool offer_h2,
      std::function<void()>& cancel_current);
  template <class Stream>
  boost::asio::awaitable<Exchange> exchange(Stream& stream, UpstreamConnection& conn,
                                            RequestContext& ctx, const Attempt& attempt,
                                            ResponseSink& sink, Downstream& downstream,
                                            const Timeouts& timeouts, const bool& client_gone);
  boost::asio::awaitable<Exchange> exchange_h2(H2Connection& conn, RequestContext& ctx,
                                               const Attempt& attempt, ResponseSink& sink,
                                               Downstream& downstream, const Timeouts& timeouts,
                                               const bool& client_gone,
                                               std::function<void()>& cancel_current);
  // An HTTP/2 connection for `key` with a free stream slot (the busiest such one, so that
  // idle ones expire); null when none.
  std::shared_ptr<H2Connection> find_h2(const std::string& key);

  boost::asio::io_context& io_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const TlsContexts> tls_;
  ConnectionPool pool_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<H2Connection>>> h2_;
};

}  // namespace aigw
