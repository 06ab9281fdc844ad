#pragma once
// Where cached responses live. The stage talks to the CacheStore interface only, so a shared
// backend (Redis, a later issue) can replace the in-memory one without touching the stage.

#include "aigw/config.hpp"
#include "aigw/request_context.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace aigw::cache {

using Clock = std::function<SteadyTime()>;

// One stored response: what a hit sends back.
struct CachedResponse {
  unsigned status = 200;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // as the provider sent them
  std::shared_ptr<const std::string> body;                   // the exact bytes relayed
  bool stream = false;                 // an SSE stream: replayed as a stream, one chunk per event
  std::optional<ResponseUsage> usage;  // as metered when it was stored (ctx.response_usage)
  // The body is the provider's own, in its API; a hit translates it as the step that stored
  // it did (a route's targets may speak different APIs: which one answered is kept here).
  std::optional<Translation> translation;
  SteadyTime stored_at{};

  // The heap this response holds (body, headers, content type, control blocks), counted by
  // capacity and with the allocator's rounding, so the figure is an upper bound.
  std::size_t heap_bytes() const noexcept;
};

class CacheStore {
 public:
  virtual ~CacheStore() = default;
  // The live entry for `key`, or nullptr (absent or expired).
  virtual std::shared_ptr<const CachedResponse> get(const std::string& key) = 0;
  // Stores (or replaces) `key` until `ttl` from now. An entry that cannot fit is not stored.
  virtual void put(const std::string& key, std::shared_ptr<const CachedResponse> value,
                   Duration ttl) = 0;
};

struct MemoryStoreStats {
  std::size_t entries = 0;
  std::size_t bytes = 0;  // charged bytes, all shards
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
};

// In memory, byte-bounded, sharded (one mutex per shard, shard by key). Each shard keeps its
// entries in least-recently-used order and holds at most max_bytes / shards; storing past
// that evicts from the cold end. Expired entries are dropped when looked up, or evicted like
// any other when space is needed, so memory stays within the budget either way.
class MemoryCacheStore final : public CacheStore {
 public:
  explicit MemoryCacheStore(std::size_t max_bytes, std::size_t shards = 16, Clock clock = {});

  // What an entry is charged against the budget: the response's heap_bytes() plus the
  // store's own bookkeeping for it (list node, key, index node, bucket). An upper bound of
  // the memory it really takes, so the real total stays within max_bytes
  // (tests/unit/stages/cache_store_test.cpp measures it).
  static std::size_t charge(std::size_t key_size, const CachedResponse& value) noexcept;

  std::shared_ptr<const CachedResponse> get(const std::string& key) override;
  void put(const std::string& key, std::shared_ptr<const CachedResponse> value,
           Duration ttl) override;
  MemoryStoreStats stats() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CachedResponse> value;
    SteadyTime expires{};
    std::size_t charge = 0;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::list<Entry> lru;  // front = most recently used
    // Keyed by a view of the key held in the list node (nodes never move): one copy per key.
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;
    std::size_t bytes = 0;
    std::uint64_t evictions = 0;
    std::uint64_t expirations = 0;
  };
  Shard& shard_for(const std::string& key);
  SteadyTime now() const { return clock_ ? clock_() : std::chrono::steady_clock::now(); }

  std::size_t shard_budget_;
  Clock clock_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace aigw::cache
