#pragma once
// The cache's second tier, shared by every instance (docs/caching.md#shared-across-instances):
// entries in Redis under `{prefix}c1:{the cache key's hex digest}` (1: the format) with their time
// to live, in the form of entry_codec.hpp. A lookup is one round trip; storing is sent in the
// background after the response went out. Redis failing is an answer, never a wait beyond
// redis.command_timeout: the lookup says so and the stage bypasses the shared tier.

#include "redis/client.hpp"
#include "stages/cache/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace aigw::cache {

struct SharedLookup {
  std::shared_ptr<const CachedResponse> hit;  // nullptr: not in Redis (or not decodable)
  Duration remaining{0};  // the hit's time to live left in Redis; 0 when unknown
  bool failed = false;    // Redis did not answer: the request goes on without the shared tier
};

struct SharedStoreStats {
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> failures{0};     // lookups Redis did not answer
  std::atomic<std::uint64_t> undecodable{0};  // values refused by decode_entry (misses)
  std::atomic<std::uint64_t> stored{0};       // SETs Redis acknowledged
  std::atomic<std::uint64_t> not_shared{0};   // entries not written: too large, backlog, error
};

class RedisCacheStore : public std::enable_shared_from_this<RedisCacheStore> {
 public:
  // Entries with bodies up to `max_entry_bytes` (cache.max_entry_bytes); larger values read
  // back are refused as undecodable.
  RedisCacheStore(std::shared_ptr<redis::Client> client, std::size_t max_entry_bytes);

  // `{prefix}c1:` (the entry format's version) and the key's digest: the cache key itself when it
  // is one (64 lower-case hex digits, as cache_key() makes), else the hex SHA-256 of it. Nothing
  // else of a request is ever part of a Redis key.
  std::string redis_key(const std::string& cache_key) const;

  // GET and PTTL, pipelined: one round trip. A hit's stored_at is `now` less its age by the
  // wall clock (the instance that stored it may be another). Call from a coroutine on a
  // worker's io_context; suspends for at most redis.command_timeout.
  boost::asio::awaitable<SharedLookup> get(const std::string& cache_key, SteadyTime now);

  // Stores `response` (stored at `stored_unix_ms`) for `ttl`, in the background on
  // `executor` (the request's worker): returns at once. An entry that cannot be encoded, is
  // larger than a reply the client accepts, or would exceed the bytes waiting to be written
  // (a slow Redis) is not shared; a write Redis refuses or does not answer is reported.
  void put(const boost::asio::any_io_executor& executor, const std::string& cache_key,
           const std::shared_ptr<const CachedResponse>& response, Duration ttl,
           std::int64_t stored_unix_ms);

  const SharedStoreStats& stats() const noexcept { return stats_; }
  redis::Client& client() noexcept { return *client_; }

 private:
  static boost::asio::awaitable<void> send(std::shared_ptr<RedisCacheStore> self,
                                           std::string command, std::size_t bytes);

  std::shared_ptr<redis::Client> client_;
  std::size_t max_entry_bytes_;
  std::atomic<std::size_t> pending_bytes_{0};  // SET commands sent and not yet answered
  SharedStoreStats stats_;
};

}  // namespace aigw::cache
