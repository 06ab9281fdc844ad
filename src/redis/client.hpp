#pragma once
// The gateway's Redis client (docs/scaling.md): what the features (rate limits, budgets, the
// cache, route breakers) call. It hands each call to a connection of the calling worker's
// event loop, so nothing is shared between threads and nothing blocks one: the connections
// live in a service of the worker's io_context and die with it.
//
// Features run their decisions as Lua scripts (atomic on the server: exact under any number
// of instances) through eval(), which sends EVALSHA and, when the server does not know the
// script yet (a restart flushed it), EVAL once.

#include "aigw/config.hpp"

#include "redis/connection.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::redis {

// A Lua script and its SHA-1, the name EVALSHA calls it by.
class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const noexcept { return source_; }
  const std::string& sha1() const noexcept { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;  // lower-case hex
};

// The features that keep state in Redis, for their error counts and log lines.
enum class Feature : std::uint8_t { kLimits, kCache, kBreakers };
inline constexpr std::size_t kFeatures = 3;
std::string_view feature_name(Feature feature) noexcept;  // "limits", "cache", "breakers"

// Totals over every worker's connections (atomics: read by the metrics thread).
struct ClientStats {
  std::atomic<std::uint64_t> round_trips{0};   // calls answered by Redis
  std::atomic<std::uint64_t> failures{0};      // calls that got no answer (any reason)
  std::atomic<std::uint64_t> timeouts{0};      // of which: no reply within command_timeout
  std::atomic<std::uint64_t> script_loads{0};  // EVAL after NOSCRIPT (after a Redis restart)
  // Per Feature: times it went on without Redis (its on_error policy, a cache bypass).
  std::array<std::atomic<std::uint64_t>, kFeatures> fallbacks{};
};

class Client {
 public:
  // From the config's redis: section. Throws std::runtime_error when its URL does not parse
  // or its CA file cannot be loaded (the loader has checked both already).
  explicit Client(const RedisConfig& config);
  // For tests: an endpoint and options of their own.
  explicit Client(Options options, unsigned pool = 1, std::string key_prefix = "aigw:");

  // Sends `commands` (each from encode()) on the calling worker's connection and returns
  // their replies in order. Call from inside a coroutine on an io_context's thread.
  boost::asio::awaitable<Outcome<std::vector<Reply>>> exec(std::vector<std::string> commands);
  // Runs `script` with `keys` and `args`: its reply, which is kError for a script's error.
  boost::asio::awaitable<Outcome<Reply>> eval(const Script& script,
                                              const std::vector<std::string_view>& keys,
                                              const std::vector<std::string_view>& args);

  // Runs `script` later on the calling worker's connection, riding along with its next call
  // (Connection::defer): for writes whose answer nobody waits for (settlements). Sent as
  // EVALSHA, and again as EVAL when the server lost its scripts (restarted); a failure is
  // reported for `feature`. `script` must outlive the call's reply (scripts are static).
  // Call on an io_context's thread, with its executor.
  void defer_eval(const boost::asio::any_io_executor& executor, Feature feature,
                  const Script& script, const std::vector<std::string_view>& keys,
                  const std::vector<std::string_view>& args);

  // A feature could not use Redis (`failure`) and did `consequence` instead ("admitted",
  // "bypassed the cache"): counted (stats().fallbacks), and a warning in the daemon's log at
  // most once per 10 s per feature (an outage under load would otherwise write one per
  // request), with the count between.
  void report(Feature feature, const Failure& failure, std::string_view consequence);

  // "aigw:" or the configured prefix: every key of the gateway starts with it.
  const std::string& prefix() const noexcept { return prefix_; }
  const ClientStats& stats() const noexcept { return stats_; }
  // The largest reply a connection accepts (Options::max_reply_bytes): a value stored to be
  // read back must stay below it.
  std::size_t max_reply_bytes() const noexcept { return options_.max_reply_bytes; }
  // "redis://host:port/db", without credentials: for log lines.
  const std::string& display() const noexcept { return display_; }

 private:
  std::shared_ptr<Connection> connection(const boost::asio::any_io_executor& executor);

  Options options_;
  unsigned pool_ = 1;
  std::string prefix_;
  std::string display_;
  std::uint64_t id_;  // this client's connections in each io_context's service
  ClientStats stats_;
  struct Reported {
    std::int64_t last_ms = 0;
    std::uint64_t since = 0;  // failures not logged since the last line
  };
  std::mutex report_mutex_;
  std::array<Reported, kFeatures> reported_{};
};

}  // namespace aigw::redis
