#include "stages/cache/redis_store.hpp"

#include "core/sha256.hpp"
#include "stages/cache/entry_codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

namespace aigw::cache {

namespace asio = boost::asio;

namespace {

// Bytes of SET commands waiting for Redis, all workers: while Redis is slow (each write
// waits up to redis.command_timeout) new entries are not shared rather than queued without
// bound.
constexpr std::size_t kMaxPendingBytes = std::size_t{64} << 20;
// RESP's framing around a value read back: "$<length>\r\n" and "\r\n".
constexpr std::size_t kReplyFraming = 32;

bool is_digest(const std::string& key) noexcept {
  return key.size() == 64 && std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// GET and PTTL of `key`, sent together (built outside the coroutine: GCC 12 rejects a braced
// list of strings inside one).
std::vector<std::string> lookup(const std::string& key) {
  std::vector<std::string> commands;
  commands.push_back(redis::encode({"GET", key}));
  commands.push_back(redis::encode({"PTTL", key}));
  return commands;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RedisCacheStore::RedisCacheStore(std::shared_ptr<redis::Client> client, std::size_t max_entry_bytes)
    : client_(std::move(client)), max_entry_bytes_(max_entry_bytes) {}

std::string RedisCacheStore::redis_key(const std::string& cache_key) const {
  // The entry format's version is part of the key: during a rolling upgrade to a new format,
  // old and new instances each share their own entries instead of overwriting the other's.
  return client_->prefix() + "c" + std::to_string(kEntryVersion) + ":" +
         (is_digest(cache_key) ? cache_key : sha256_hex(cache_key));
}

asio::awaitable<SharedLookup> RedisCacheStore::get(const std::string& cache_key, SteadyTime now) {
  auto replies = co_await client_->exec(lookup(redis_key(cache_key)));
  SharedLookup out;
  std::optional<redis::Failure> failure;
  if (!replies) {
    failure = replies.error();
  } else if (replies->size() != 2) {
    failure = redis::Failure{redis::Failure::Kind::kBroken, "unexpected replies"};
  } else if ((*replies)[0].is_error()) {
    // A key of another type (WRONGTYPE): Redis answered, but not with an entry.
    failure = redis::Failure{redis::Failure::Kind::kBroken, (*replies)[0].text};
  }
  if (failure) {
    stats_.failures.fetch_add(1, std::memory_order_relaxed);
    client_->report(redis::Feature::kCache, *failure, "bypassed the cache");
    out.failed = true;
    co_return out;
  }
  const redis::Reply& value = (*replies)[0];
  if (value.type != redis::Reply::Type::kString) {
    stats_.misses.fetch_add(1, std::memory_order_relaxed);
    co_return out;
  }
  std::string problem;
  auto entry = decode_entry(value.text, max_entry_bytes_, problem);
  if (!entry) {
    // Treated as a miss: the response fetched instead replaces it.
    stats_.undecodable.fetch_add(1, std::memory_order_relaxed);
    stats_.misses.fetch_add(1, std::memory_order_relaxed);
    client_->report(redis::Feature::kCache,
                    redis::Failure{redis::Failure::Kind::kBroken,
                                   "an entry that does not decode (" + problem + ")"},
                    "treated it as a miss");
    co_return out;
  }
  const std::int64_t age_ms = std::max<std::int64_t>(unix_ms_now() - entry->stored_unix_ms, 0);
  entry->response.stored_at = now - std::chrono::milliseconds(age_ms);
  const redis::Reply& ttl = (*replies)[1];
  if (ttl.type == redis::Reply::Type::kInteger && ttl.integer > 0) {
    out.remaining = Duration(ttl.integer);
  }
  out.hit = std::make_shared<const CachedResponse>(std::move(entry->response));
  stats_.hits.fetch_add(1, std::memory_order_relaxed);
  co_return out;
}

void RedisCacheStore::put(const asio::any_io_executor& executor, const std::string& cache_key,
                          const std::shared_ptr<const CachedResponse>& response, Duration ttl,
                          std::int64_t stored_unix_ms) {
  if (!response || ttl.count() <= 0) return;
  auto payload = encode_entry(*response, stored_unix_ms);
  const std::size_t limit =
      client_->max_reply_bytes() > kReplyFraming ? client_->max_reply_bytes() - kReplyFraming : 0;
  if (!payload || payload->size() > limit) {
    stats_.not_shared.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string key = redis_key(cache_key);
  const std::string px = std::to_string(ttl.count());
  std::string command = redis::encode({"SET", key, *payload, "PX", px});
  payload.reset();
  const std::size_t bytes = command.size();
  if (pending_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes > kMaxPendingBytes) {
    pending_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    stats_.not_shared.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  asio::co_spawn(executor, send(shared_from_this(), std::move(command), bytes), asio::detached);
}

asio::awaitable<void> RedisCacheStore::send(std::shared_ptr<RedisCacheStore> self,
                                            std::string command, std::size_t bytes) {
  std::vector<std::string> commands;
  commands.push_back(std::move(command));
  auto replies = co_await self->client_->exec(std::move(commands));
  self->pending_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  if (replies && !replies->empty() && !replies->front().is_error()) {
    self->stats_.stored.fetch_add(1, std::memory_order_relaxed);
    co_return;
  }
  self->stats_.not_shared.fetch_add(1, std::memory_order_relaxed);
  self->client_->report(redis::Feature::kCache,
                        !replies
                            ? replies.error()
                            : redis::Failure{redis::Failure::Kind::kBroken,
                                             replies->empty() ? "no reply" : replies->front().text},
                        "an entry was not shared");
}

}  // namespace aigw::cache
