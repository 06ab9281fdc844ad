#include "stages/cache/store.hpp"

#include <algorithm>

namespace aigw::cache {

std::size_t CachedResponse::charge(std::size_t key_size) const noexcept {
  // The fixed part stands for the list node, the index slot, the key's copies and the
  // shared_ptr control blocks: an estimate on the high side, so the budget holds.
  constexpr std::size_t kOverhead = 256;
  std::size_t n = kOverhead + 2 * key_size + content_type.size() + (body ? body->size() : 0);
  for (const auto& [name, value] : headers) n += name.size() + value.size() + 64;
  return n;
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
  const std::size_t charge = value->charge(key.size());
  if (charge > shard_budget_) return;  // could never fit: keep what is there
  Shard& shard = shard_for(key);
  const SteadyTime t = now();
  std::lock_guard lock(shard.mutex);
  if (const auto found = shard.index.find(key); found != shard.index.end()) {
    shard.bytes -= found->second->charge;
    shard.lru.erase(found->second);
    shard.index.erase(found);
  }
  while (shard.bytes + charge > shard_budget_ && !shard.lru.empty()) {
    Entry& cold = shard.lru.back();
    shard.bytes -= cold.charge;
    ++shard.evictions;
    shard.index.erase(cold.key);
    shard.lru.pop_back();
  }
  shard.lru.push_front(Entry{key, std::move(value), t + ttl, charge});
  shard.index.emplace(key, shard.lru.begin());
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
