#pragma once
// The rate_limits rules and the spend budgets (docs/auth-and-limits.md). Runs after the cache
// stage: a cache hit or a coalesced follower never reaches it, so hits consume neither limits
// nor budgets (Cloudflare's rule). A request takes its share from every rule that applies to
// it (one request, its estimated tokens, its estimated cost); the first rule without room
// answers 429 and gives back what the earlier ones took, and nothing reaches the provider.

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

#include "pricing/pricing.hpp"
#include "request/body.hpp"
#include "stages/rate_limit/limiter.hpp"
#include "stages/rate_limit/redis_limits.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aigw {

namespace store {
class LogStore;
}

class RateLimitStage final : public Stage {
 public:
  using Clock = std::function<limits::WallTime()>;

  // nullptr when there are no rules. `log`: the request log budgets are rebuilt from (see
  // restore); nullptr, they start from nothing.
  // `redis`: the client for rules kept in Redis (config.in_redis(rule.store)); without one,
  // every rule is counted in process.
  // `previous` (a reload): counters of rules equal to one of its rules carry over; budgets
  // that are new or changed are rebuilt from the log.
  static std::shared_ptr<RateLimitStage> create(const Config& config,
                                                const std::shared_ptr<store::LogStore>& log = {},
                                                const std::shared_ptr<redis::Client>& redis = {},
                                                const RateLimitStage* previous = nullptr);
  // `rules`: rate limits and budgets (unit kCost) in one list; `prices` estimate a request's
  // cost for budgets.
  // `trust_client_cost`: metering.trust_client_cost (cf-aig-custom-cost prices every
  // request; otherwise only a trusted key's).
  RateLimitStage(std::vector<RateLimitRule> rules, std::shared_ptr<limits::RateLimitStore> store,
                 Clock clock = {}, const std::map<std::string, ModelPrice>& prices = {},
                 bool trust_client_cost = false);

  // Budgets survive a restart: charges what the request log holds of each budget's current
  // window (fixed) or trailing window, slot by slot (sliding), to its counters. Returns the
  // number of counters charged. Call once, before the first request.
  // `skip[i]`: leave rule i alone (its counters carried over a reload).
  Result<std::size_t> restore(const store::LogStore& log, const std::vector<bool>& skip = {});
  // Counts the rules where `shared[i]` in Redis through `client` (all of one request's in one
  // round trip), the others in the memory store. Call once, before the first request.
  void share(std::shared_ptr<redis::Client> client, std::vector<bool> shared);

  std::string_view name() const noexcept override { return "rate_limit"; }
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;
  // Token rules and budgets: the reservation is settled with the metered tokens and cost
  // (ctx.metered, set by the metering stage's on_complete, which
  // runs before this one).
  void on_complete(RequestContext& ctx) noexcept override;
  // Streams are charged as they run: once the text seen (ctx.streamed_output_chars) puts a
  // request past its reservation, the excess is charged at once, so concurrent admissions
  // see a long stream's usage before it ends.
  void on_response_body(RequestContext& ctx, std::string_view chunk, bool last) override;

 private:
  // A request's prices in millionths of a dollar per token.
  struct Rates {
    double input = 0;
    double output = 0;
    std::uint64_t micro_usd(std::uint64_t input_tokens, std::uint64_t output_tokens) const;
  };
  boost::asio::awaitable<std::optional<Error>> admit(RequestContext& ctx) const;
  // The 429 of rule `index` for a request that needed `cost`, with its headers.
  Error refusal(RequestContext& ctx, std::size_t index, std::uint64_t cost,
                std::chrono::milliseconds reset) const;
  // The model's price (or cf-aig-custom-cost's); nullopt when the model has no price.
  std::optional<Rates> rates_of(const RequestContext& ctx, const StepFacts& facts) const;
  limits::WallTime now() const;

  std::vector<RateLimitRule> rules_;
  std::shared_ptr<limits::RateLimitStore> store_;
  Clock clock_;
  bool needs_model_ = false;  // a rule narrows by model: the body's "model" is read
  bool settles_ = false;      // a token rule or a budget: reservations settle in on_complete
  pricing::PriceTable prices_;
  bool trust_client_cost_ = false;
  std::shared_ptr<limits::RedisLimits> redis_;  // null: every rule is local
  std::optional<std::vector<bool>> shared_;     // per rule: counted in Redis
};

}  // namespace aigw
