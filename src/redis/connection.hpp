#pragma once
// One connection to Redis for one worker (docs/scaling.md), driven on that worker's event
// loop: nothing here blocks a thread, and nothing is shared between threads.
//
// Every caller on the worker shares the connection. Commands are pipelined: each exec()
// appends its commands to what is being written, and one reader hands the replies back in
// order (Redis answers a connection's commands in the order it sent them). A call waits at
// most `command_timeout`; a timeout, a broken or refused connection, or bytes that are not
// RESP close the connection and fail every call on it, so no caller ever hangs on Redis.
// The next call reconnects, no sooner than a backoff that doubles from `backoff_min` to
// `backoff_max` while connecting keeps failing; until then calls fail at once
// (kUnavailable), which the features turn into their `on_error` policy.

#include "aigw/config.hpp"

#include "core/redis_url.hpp"
#include "redis/reply.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace aigw::redis {

struct Options {
  Endpoint endpoint;
  Duration connect_timeout{std::chrono::seconds(1)};  // resolve, connect, TLS, AUTH, SELECT
  Duration command_timeout{std::chrono::milliseconds(250)};
  Duration backoff_min{std::chrono::milliseconds(50)};
  Duration backoff_max{std::chrono::seconds(2)};
  // A reply larger than this (a cached response read back, say) breaks the connection
  // rather than growing the reader without bound.
  std::size_t max_reply_bytes = std::size_t{64} << 20;
  // rediss://: the context the server's certificate is verified with (its name too). Required
  // for a TLS endpoint; shared, read-only.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

struct Failure {
  enum class Kind : std::uint8_t {
    kUnavailable,  // cannot connect, or backing off after failing to
    kTimeout,      // no reply within command_timeout (or connect_timeout)
    kBroken,       // the connection closed or sent what is not RESP, mid-call
    kRefused,      // AUTH or SELECT answered with an error: a configuration problem
  };
  Kind kind = Kind::kUnavailable;
  std::string detail;  // names the endpoint (never its password) and what happened
};
// For boost::system::result's value() on a failure.
[[noreturn]] void throw_exception_from_error(const Failure& failure,
                                             const boost::source_location& location);

template <class T>
using Outcome = boost::system::result<T, Failure>;

struct Stats {
  std::uint64_t connects = 0;     // connections established
  std::uint64_t failures = 0;     // calls failed (any kind)
  std::uint64_t timeouts = 0;     // of which timed out
  std::uint64_t commands = 0;     // commands sent
  std::uint64_t round_trips = 0;  // exec() calls answered
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  static std::shared_ptr<Connection> create(boost::asio::any_io_executor executor, Options options);
  ~Connection();

  // Sends `commands` (each from encode()) in one write behind any already in flight, and
  // returns their replies in order. An error reply of Redis (a script's error, a wrong type)
  // is a Reply of type kError among them, not a Failure. Call from the connection's executor.
  boost::asio::awaitable<Outcome<std::vector<Reply>>> exec(std::vector<std::string> commands);

  // Queues `command` (from encode()) to go out with the next exec() on this connection, in
  // the same write, or by itself after kDeferFor when no exec() comes: a command whose reply
  // nobody waits for (a settlement) costs no round trip of its own under load. `on_reply` is
  // told its reply, or the failure when it cannot be sent or its connection fails first.
  void defer(std::string command, std::function<void(const Outcome<Reply>&)> on_reply);
  static constexpr Duration kDeferFor{std::chrono::milliseconds(2)};
  static constexpr std::size_t kMaxDeferredBytes = std::size_t{1} << 20;

  // Closes the connection; calls in flight fail with kBroken. The next call reconnects.
  void close();

  bool connected() const noexcept;
  const Stats& stats() const noexcept;
  const Options& options() const noexcept;

  struct State;  // the socket, the pipeline and the reconnect backoff

 private:
  explicit Connection(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace aigw::redis
