#include "app/stages.hpp"

#include "stages/auth/auth_stage.hpp"
#include "stages/byok/byok_stage.hpp"
#include "stages/cache/cache_stage.hpp"
#include "stages/meter/meter_stage.hpp"
#include "stages/rate_limit/rate_limit_stage.hpp"
#include "stages/request_log/request_log_stage.hpp"

namespace aigw {

namespace {

template <class T>
std::shared_ptr<T> find_stage(const Pipeline* pipeline) {
  if (pipeline == nullptr) return nullptr;
  for (const auto& stage : pipeline->stages()) {
    if (auto found = std::dynamic_pointer_cast<T>(stage)) return found;
  }
  return nullptr;
}

}  // namespace

std::vector<std::shared_ptr<Stage>> build_stages(const Config& config, const Telemetry& telemetry,
                                                 const std::shared_ptr<redis::Client>& redis,
                                                 const Pipeline* previous) {
  std::vector<std::shared_ptr<Stage>> stages;
  // Order matters. Authentication first: nothing else runs for a request without a valid
  // gateway token (and a cache hit is served only to one with it). What the client asks the
  // log to keep, and metering, come before the cache: they refuse bad metadata and
  // custom-cost headers on hits too. Stored keys act on each attempt only.
  if (auto auth = AuthStage::create(config)) stages.push_back(std::move(auth));
  stages.push_back(std::make_shared<ByokStage>());
  stages.push_back(std::make_shared<RequestLogStage>(config.request_log));
  if (config.metering.enabled) stages.push_back(std::make_shared<MeterStage>(config));
  const auto cache_redis = config.in_redis(config.cache.store) ? redis : nullptr;
  if (auto old = find_stage<CacheStage>(previous);
      old && old->config() == config.cache && old->redis() == cache_redis) {
    stages.push_back(std::move(old));  // entries and requests waiting on a flight stay
  } else if (auto cache = CacheStage::create(config.cache, cache_redis)) {
    stages.push_back(std::move(cache));
  }
  // After the cache: hits and coalesced followers never reach the provider and, as on
  // Cloudflare, consume neither rate limits nor budgets.
  if (auto limits = RateLimitStage::create(config, telemetry.log, redis,
                                           find_stage<RateLimitStage>(previous).get())) {
    stages.push_back(std::move(limits));
  }
  return stages;
}

}  // namespace aigw
