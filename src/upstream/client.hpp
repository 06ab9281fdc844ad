#pragma once
// The upstream HTTP(S) client of one worker: connects (TLS, ALPN), sends each attempt over a
// pooled HTTP/1.1 connection (src/upstream/pool.hpp) or as a stream of an HTTP/2 one
// (client_h2.cpp, h2.hpp), and relays the provider's response to the client chunk by chunk.
// Lives on its worker's thread only; no locks.

#include "aigw/config.hpp"
#include "aigw/forwarder.hpp"

#include "upstream/h2.hpp"
#include "upstream/pool.hpp"
#include "upstream/tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace aigw {

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
  struct Exchange {
    Result<void> result;    // error only before the commit point
    bool stale = false;     // failed like a dead reused connection: retry on a fresh one
    bool reusable = false;  // response complete and keep-alive: connection back to pool
  };

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

  // Connects in flight to provider addresses that may answer h2: requests that find no
  // HTTP/2 connection with room wait for one rather than each opening its own, so a burst at
  // a cold start costs one TLS handshake, not one per request (client_h2.cpp). Shared with
  // the tickets, which may outlive the client when a stopped worker's coroutines are
  // destroyed.
  struct Joins {
    struct Pending {
      explicit Pending(boost::asio::io_context& io) : wake(io) {}
      boost::asio::steady_timer wake;  // cancelled when the connect ends; expires with it
      std::size_t joined = 0;
      // The provider refused or did not answer: the waiters fail with the same error, at
      // once, rather than each waiting out a connect timeout of its own.
      std::optional<Error> failure;
    };
    std::unordered_map<std::string, std::shared_ptr<Pending>> connecting;
    // What each provider address chose in ALPN the last time: true h2, false HTTP/1.1.
    // Bounded by the configured providers' addresses.
    std::unordered_map<std::string, bool> speaks_h2;
  };
  // Ends a pending connect on every path: wakes its waiters, and records whether the
  // provider chose h2 when the connect got that far.
  class ConnectTicket {
   public:
    ConnectTicket() = default;
    ConnectTicket(std::weak_ptr<Joins> joins, std::string key,
                  std::shared_ptr<Joins::Pending> pending)
        : joins_(std::move(joins)), key_(std::move(key)), pending_(std::move(pending)) {}
    ConnectTicket(ConnectTicket&& other) noexcept = default;
    ConnectTicket& operator=(ConnectTicket&&) = delete;
    ~ConnectTicket() { settle(std::nullopt); }
    void settle(std::optional<bool> h2);
    // The connect failed at the provider (not cancelled for a client that left).
    void fail(const Error& error);

   private:
    std::weak_ptr<Joins> joins_;
    std::string key_;
    std::shared_ptr<Joins::Pending> pending_;
  };
  // Registers this request's connect as the one others may wait for (at most `limit`): an
  // empty ticket when one is in flight already, or when the address answered HTTP/1.1.
  ConnectTicket announce_connect(const std::string& key, Duration limit);
  // Waits for `pending`, a connect in flight, if it has room for another stream. Returns
  // whether it waited, and that connect's error when it failed. `cancel_current` ends the
  // wait early.
  struct Joined {
    bool waited = false;
    std::optional<Error> failure;
  };
  boost::asio::awaitable<Joined> join_connect(std::shared_ptr<Joins::Pending> pending,
                                              std::function<void()>& cancel_current);

  boost::asio::io_context& io_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const TlsContexts> tls_;
  ConnectionPool pool_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<H2Connection>>> h2_;
  std::shared_ptr<Joins> joins_ = std::make_shared<Joins>();
};

}  // namespace aigw
