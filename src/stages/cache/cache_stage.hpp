#pragma once
// The response cache stage (docs/caching.md): answers identical requests from the store and
// stores complete 2xx responses, streams included (replayed as streams).

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

#include "stages/cache/flight.hpp"
#include "stages/cache/redis_store.hpp"
#include "stages/cache/store.hpp"

#include <memory>

namespace aigw {

class CacheStage final : public Stage {
 public:
  // `store` is the first tier (in process); `shared`, when set, the second (Redis, shared by
  // every instance): looked up after a first-tier miss, written after each stored response.
  CacheStage(const CacheConfig& config, std::shared_ptr<cache::CacheStore> store,
             cache::Clock clock = {}, std::shared_ptr<cache::RedisCacheStore> shared = nullptr);
  // The stage for `config` with an in-memory store, or nullptr when cache.max_bytes is 0.
  // It exists even with cache.enabled false: cf-aig-cache-key opts single requests in. With
  // `redis` (the config keeps the cache in Redis: Config::in_redis), entries are shared
  // through it too.
  static std::shared_ptr<CacheStage> create(const CacheConfig& config,
                                            std::shared_ptr<redis::Client> redis = nullptr);

  const CacheConfig& config() const noexcept { return config_; }
  const std::shared_ptr<redis::Client>& redis() const noexcept { return redis_; }

  std::string_view name() const noexcept override { return "cache"; }
  // Off unless the cache is enabled or the request sends cf-aig-cache-key.
  bool wants_request(const RequestContext& ctx) const noexcept override;
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;
  void on_response_head(RequestContext& ctx, const ResponseHead& head) override;
  void on_response_body(RequestContext& ctx, std::string_view chunk, bool last) override;
  bool needs_rest_of_response(const RequestContext& ctx) const noexcept override;
  void on_complete(RequestContext& ctx) noexcept override;

  cache::CacheStore& store() noexcept { return *store_; }
  // The Redis tier, or nullptr when the cache is per instance.
  cache::RedisCacheStore* shared() noexcept { return shared_.get(); }
  const cache::FlightTable& flights() const noexcept { return flights_; }

 private:
  SteadyTime now() const { return clock_ ? clock_() : std::chrono::steady_clock::now(); }
  // Answers the request with `hit` (from either tier).
  void answer(RequestContext& ctx, const cache::CachedResponse& hit) const;
  // Waits (bounded) for the flight's response; the answer for a follower, or nullopt when
  // the flight failed or took too long (the request then goes on by itself). Suspends.
  boost::asio::awaitable<std::optional<LocalResponse>> follow(
      std::shared_ptr<cache::Flight> flight);

  CacheConfig config_;
  std::shared_ptr<redis::Client> redis_;  // what create() was given (a reload compares it)
  std::shared_ptr<cache::CacheStore> store_;
  cache::Clock clock_;
  std::shared_ptr<cache::RedisCacheStore> shared_;
  cache::FlightTable flights_;
};

}  // namespace aigw
