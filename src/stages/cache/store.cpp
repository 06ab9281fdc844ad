#include "stages/cache/store.hpp"

#include <algorithm>

namespace aigw::cache {

namespace {

// What one heap block asked for with n bytes really takes: malloc rounds up to its size
// classes (at most 1/8 more for mimalloc and glibc at these sizes), glibc adds a header and
// never hands out less than 32 bytes.
constexpr std::size_t block(std::size_t n) noexcept {
  return std::max<std::size_t>(32, n + n / 8 + 16);
}

// A std::string's own heap block: none while it fits the small-string buffer.
std::size_t string_heap(const std::string& s) noexcept {
  return s.capacity() > 15 ? block(s.capacity() + 1) : 0;
}

constexpr std::size_t kControlBlock = 16;  // make_shared's reference counts

}  // namespace

std::size_t CachedResponse::heap_bytes() const noexcept {
  std::size_t n = block(sizeof(CachedResponse) + kControlBlock) + string_heap(content_type);
  if (headers.capacity() > 0) n += block(headers.capacity() * sizeof(headers.front()));
  for (const auto& [name, value] : headers) n += string_heap(name) + string_heap(value);
  if (body) n += block(sizeof(std::string) + kControlBlock) + string_heap(*body);
  if (usage) n += string_heap(usage->model);
  return n;
}

std::size_t MemoryCacheStore::charge(std::size_t key_size, const CachedResponse& value) noexcept {
  constexpr std::size_t kListNode = sizeof(Entry) + 2 * sizeof(void*);
  constexpr std::size_t kIndexNode =
      sizeof(std::pair<const std::string_view, std::list<Entry>::iterator>) +
      2 * sizeof(void*);                               // next pointer and cached hash
  constexpr std::size_t kBuckets = 2 * sizeof(void*);  // load factor <= 1, growth by doubling
  const std::size_t key = key_size > 15 ? block(key_size + 1) : 0;
  return value.heap_bytes() + block(kListNode) + key + block(kIndexNode) + kBuckets;
}

MemoryCacheStore::MemoryCacheStore(std::size_t max_bytes, std::size_t shards, Clock clock)
    : shard_budget_(max_bytes / std::max<std::size_t>(shards, 1)), clock_(std::move(clock)) {
  shards_.reserve(std::max<std::size_t>(shards, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(shards, 1); ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

MemoryCacheStore::Shard& MemoryCacheStore::shard_for(const std::string& key) {
  return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

std::shared_ptr<const CachedResponse> MemoryCacheStore::get(const std::string& key) {
  Shard& shard = shard_for(key);
  const SteadyTime t = now();
  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(key);
  if (found == shard.index.end()) return nullptr;
  const auto it = found->second;
  if (t >= it->expires) {
    shard.bytes -= it->charge;
    ++shard.expirations;
    shard.index.erase(found);
    shard.lru.erase(it);
    return nullptr;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it);  // now the most recently used
  return it->value;
}

void MemoryCacheStore::put(const std::string& key, std::shared_ptr<const CachedResponse> value,
                           Duration ttl) {
  if (!value) return;
  const std::size_t charge = MemoryCacheStore::charge(key.size(), *value);
  if (charge > shard_budget_) return;  // could never fit: keep what is there
  Shard& shard = shard_for(key);
  const SteadyTime t = now();
  std::lock_guard lock(shard.mutex);
  if (const auto found = shard.index.find(key); found != shard.index.end()) {
    shard.bytes -= found->second->charge;
    const auto node = found->second;
    shard.index.erase(found);  // before the node that holds its key
    shard.lru.erase(node);
  }
  while (shard.bytes + charge > shard_budget_ && !shard.lru.empty()) {
    Entry& cold = shard.lru.back();
    shard.bytes -= cold.charge;
    ++shard.evictions;
    shard.index.erase(std::string_view(cold.key));
    shard.lru.pop_back();
  }
  shard.lru.push_front(Entry{key, std::move(value), t + ttl, charge});
  shard.index.emplace(shard.lru.front().key, shard.lru.begin());
  shard.bytes += charge;
}

MemoryStoreStats MemoryCacheStore::stats() const {
  MemoryStoreStats out;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    out.entries += shard->lru.size();
    out.bytes += shard->bytes;
    out.evictions += shard->evictions;
    out.expirations += shard->expirations;
  }
  return out;
}

}  // namespace aigw::cache
