#pragma once
// Rate limits and budgets counted in Redis, shared by every gateway instance
// (docs/scaling.md). A request's counters are decided by one script in one round trip: the
// script checks every counter the request asks of and takes from all of them only when all
// have room, atomically on the server, so N instances admit exactly what one would.
//
// Counters are the memory store's (limiter.hpp), kept in Redis:
//   fixed    {prefix}rl:{rule}:{value}:{window number}   a number, expiring after its window
//   sliding  {prefix}rl:{rule}:{value}                   a hash of slot number -> count
// where {rule} is a digest of what defines the rule's counting (name, unit, technique,
// window, scope) and {value} the SHA-256 of the scope's value (a key name, an address, a
// header that may be a credential): nothing a client sent is stored as itself.

#include "aigw/config.hpp"

#include "redis/client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::limits {

class RedisLimits {
 public:
  RedisLimits(std::shared_ptr<redis::Client> client, const std::vector<RateLimitRule>& rules);

  // One counter a request asks of: `value` is the scope's value (the counter key the memory
  // store would use), `cost` what it takes.
  struct Ask {
    std::size_t rule;
    std::string_view value;
    std::uint64_t cost;
  };
  struct Decision {
    // Which ask was refused (an index into the asks), none when all were taken.
    std::optional<std::size_t> refused;
    std::chrono::milliseconds reset{0};  // the refused counter's wait for room
  };
  // Takes every ask's cost at `now_ms`, or none when one has no room. A Failure when Redis
  // did not answer (then nothing is known to be taken).
  boost::asio::awaitable<redis::Outcome<Decision>> acquire(const std::vector<Ask>& asks,
                                                           std::int64_t now_ms);

  // A settlement: `delta` added to the counter (more used than reserved) at `at_ms`, or, when
  // negative, given back to the window or slot of `at_ms` if it is still counted.
  struct Adjust {
    std::size_t rule;
    std::string value;
    std::int64_t delta;
    std::int64_t at_ms;
  };
  // Sends the adjustments in one script on `executor`'s connection, riding along with the
  // next decision there (redis::Client::defer_eval): the request does not wait for its
  // settlement, and under load it costs no round trip. A failure is counted and reported,
  // and the reservation stands as taken.
  void adjust(const boost::asio::any_io_executor& executor, std::vector<Adjust> adjusts);
  // The same, awaited and in a round trip of its own (tests): true when Redis ran the script,
  // false when it failed (counted and reported as adjust() does).
  boost::asio::awaitable<bool> adjust_now(std::vector<Adjust> adjusts);

  redis::Client& client() noexcept { return *client_; }
  // The Redis key of a counter (tests look them up).
  std::string key(std::size_t rule, std::string_view value, std::int64_t at_ms) const;

 private:
  struct Rule {
    RateLimitRule rule;
    std::string prefix;  // {prefix}rl:{rule}:
    std::int64_t window_ms = 0;
    std::int64_t slot_ms = 0;
    bool fixed = true;
  };
  // The key of `r`'s counter of `value` (in fixed window number `window`).
  std::string counter_key(const Rule& r, std::string_view value, std::int64_t window) const;
  // The keys and arguments of kAdjust for `adjusts`.
  void adjust_arguments(const std::vector<Adjust>& adjusts, std::vector<std::string>& keys,
                        std::vector<std::string>& args) const;

  std::shared_ptr<redis::Client> client_;
  std::vector<Rule> rules_;
};

}  // namespace aigw::limits
