#pragma once
// One worker = one thread, one io_context, one SO_REUSEPORT acceptor, its own upstream
// pools. A request lives on one worker from accept to log (nginx/Envoy worker model), so the
// hot path takes no locks.

#include "aigw/config.hpp"

#include "pipeline/pipeline.hpp"
#include "server/serving.hpp"
#include "server/session.hpp"
#include "upstream/client.hpp"
#include "upstream/tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace aigw {

// Process-wide counters shared by the workers (atomics: read by the admin thread).
struct ServerState {
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> connections{0};  // open client connections, all workers
  std::atomic<std::uint64_t> refused{0};    // connections closed at accept (limits)
  // Open connections per client address (server.max_connections_per_address), all workers:
  // taken at accept and at close only, never per request.
  std::mutex per_address_mutex;
  std::unordered_map<std::string, std::size_t> per_address;
  std::size_t connections_from(const std::string& address);
};

class Worker {
 public:
  // `serving`: where the worker takes the config and pipeline each request starts with; it
  // outlives the worker.
  Worker(unsigned index, const ServingSource& serving, ServerState& state);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds the client acceptor (SO_REUSEPORT, so every worker binds the same port). Throws
  // boost::system::system_error on failure. Returns the bound port.
  std::uint16_t listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // Thread-safe, for a reload that changed server.listen: binds `endpoint` now (throws as
  // listen() does, leaving the old one in place), then, on the worker's thread, accepts there
  // and closes the old acceptor. Open connections stay. Returns the bound port.
  std::uint16_t rebind(const boost::asio::ip::tcp::endpoint& endpoint);
  // Starts the thread running the accept loop.
  void start();
  // Thread-safe: stop accepting, close idle keep-alive connections, let requests finish.
  void drain();
  // Thread-safe: closes every client connection still open (end of the grace period).
  void force_close();
  // Thread-safe: stops the io_context (after the grace period) and joins the thread.
  void stop();

  std::size_t active_sessions() const noexcept { return active_.load(); }

  // --- used by sessions, on this worker's thread ---
  // The config and pipeline a request starting now is served with (see serving.hpp). Keep the
  // pointer for the request's life; do not hold references into it past that.
  const std::shared_ptr<const Serving>& serving();
  UpstreamClient& upstream() noexcept { return upstream_; }
  ServerState& state() noexcept { return state_; }
  bool draining() const noexcept { return state_.draining.load(std::memory_order_relaxed); }
  std::list<Session*>::iterator add_session(Session* session);
  void remove_session(std::list<Session*>::iterator it);

  // A request waiting on its provider gets its client-disconnect watch armed only once it
  // has waited this long (Session::watch_disconnect says why). A client that hangs up on a
  // slower request is therefore noticed within 20-40 ms.
  static constexpr std::chrono::milliseconds kWatchDelay{20};
  // Queues `session` (its watch_wanted set) to have arm_deferred_watch() called after
  // kWatchDelay; Session::unwatch() dequeues it.
  void defer_watch(Session& session);

 private:
  boost::asio::awaitable<void> accept_loop(
      std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor);
  std::shared_ptr<boost::asio::ip::tcp::acceptor> bind(
      const boost::asio::ip::tcp::endpoint& endpoint);
  // At a connection limit: closes this worker's oldest idle connection (from `address`, when
  // given) to make room. False when there is none: the new connection is refused.
  bool close_oldest_idle(const std::string* address);
  void arm_watch_timer();
  void arm_due_watches();

  unsigned index_;
  const ServingSource& source_;
  std::shared_ptr<const Serving> serving_;  // source_'s, as of serving_version_
  std::uint64_t serving_version_ = 0;
  ServerState& state_;
  // Declared before io_ so they outlive it: destroying io_ destroys suspended sessions,
  // which unregister themselves here.
  std::list<Session*> sessions_;   // this worker's open connections (for drain)
  std::size_t peak_sessions_ = 0;  // most of them open since memory was last given back
  bool giving_back_ = false;       // closing a burst: freed memory goes back at once (.cpp)
  std::atomic<std::size_t> active_{0};
  boost::asio::io_context io_;
  std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;  // replaced by rebind()
  UpstreamClient upstream_;
  // Sessions whose watch is deferred, oldest first; the hook unlinks itself on destruction.
  boost::intrusive::list<
      Session, boost::intrusive::member_hook<Session, Session::WatchHook, &Session::watch_hook>,
      boost::intrusive::constant_time_size<false>>
      deferred_watches_;
  boost::asio::steady_timer watch_timer_;
  bool watch_timer_pending_ = false;
  std::thread thread_;
};

}  // namespace aigw
