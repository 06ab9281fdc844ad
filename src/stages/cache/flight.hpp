#pragma once
// Coalescing of identical requests in flight (docs/caching.md). The first cacheable request
// for a key leads a Flight: its response is published there as it is relayed. Identical
// requests that arrive meanwhile follow it instead of calling the provider: buffered ones
// get the complete response, streamed ones receive the bytes live as the leader receives
// them. Leaders and followers may live on different worker threads, so a Flight is guarded
// by a mutex and wakes each follower on its own executor.

#include "stages/cache/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aigw::cache {

// Wakes one coroutine, from any thread. The wake is remembered until the next wait, so one
// that arrives while the coroutine is busy elsewhere is not lost.
class Waiter : public std::enable_shared_from_this<Waiter> {
 public:
  explicit Waiter(const boost::asio::any_io_executor& executor) : timer_(executor) {}
  // Thread-safe: posts the wake to the waiter's executor.
  void notify();
  // True when woken since the last wait; false when `deadline` passed first. Suspends; call
  // on the waiter's executor only.
  boost::asio::awaitable<bool> wait(SteadyTime deadline);

 private:
  boost::asio::steady_timer timer_;
  bool woken_ = false;  // touched on the executor's thread only
};

class Flight {
 public:
  enum class State : std::uint8_t {
    kWaiting,   // no response head yet
    kRelaying,  // 2xx head published; body bytes arriving
    kComplete,  // the whole response arrived (body() is final)
    kFailed,    // not shareable: error status, provider or client broke off, too large
  };

  explicit Flight(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // --- the leader, on its own thread ---
  // The 2xx head (body still empty). `streamed`: the body arrives incrementally (no
  // Content-Length), so stream followers may start relaying before it ends.
  void publish_head(CachedResponse head, bool streamed);
  // False when the body outgrew max_bytes: the flight has failed.
  bool append(std::string_view chunk);
  // The complete response (head plus body, and its metered usage when known), or nullptr
  // when the flight failed before.
  std::shared_ptr<const CachedResponse> complete(SteadyTime now,
                                                 std::optional<ResponseUsage> usage);
  void fail();

  // --- followers, on any thread ---
  void subscribe(const std::shared_ptr<Waiter>& waiter);
  State state() const;
  bool streamed() const;
  // Head once published (status, headers, content type; its body is empty until complete).
  std::shared_ptr<const CachedResponse> head() const;
  // Appends the body bytes from `offset` that have arrived to `out`; returns the state. For
  // kComplete, `final` gets the whole response instead (no copy).
  State read(std::size_t offset, std::string& out,
             std::shared_ptr<const CachedResponse>& final) const;
  // Followers still waiting for or receiving the response.
  bool has_followers() const;
  std::size_t follower_count() const;

 private:
  void notify(std::unique_lock<std::mutex>& lock);

  mutable std::mutex mutex_;
  State state_ = State::kWaiting;
  bool streamed_ = false;
  std::size_t max_bytes_;
  std::shared_ptr<const CachedResponse> head_;
  std::string body_;
  std::shared_ptr<const CachedResponse> final_;
  std::vector<std::weak_ptr<Waiter>> waiters_;
};

// The flights in progress, by cache key. Sharded: one mutex per shard.
class FlightTable {
 public:
  struct Joined {
    std::shared_ptr<Flight> flight;
    bool leader = false;  // created for this request: it must finish() it
  };
  explicit FlightTable(std::size_t shards = 16);
  // The flight in progress for `key` (follow it), else a new one led by the caller when
  // `may_lead`, else an empty result.
  Joined join_or_lead(const std::string& key, bool may_lead, std::size_t max_bytes);
  // Removes `flight` from the table (if it is still the one for `key`).
  void finish(const std::string& key, const Flight* flight);
  std::size_t size() const;
  std::size_t followers() const;  // live followers of all flights (tests, metrics)

 private:
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights;
  };
  Shard& shard_for(const std::string& key);
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace aigw::cache
