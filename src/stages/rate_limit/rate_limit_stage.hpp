#pragma once
// The rate_limits rules (docs/auth-and-limits.md). Runs after the cache stage: a cache hit or
// a coalesced follower never reaches it, so hits do not consume request limits (Cloudflare's
// rule). A request takes one unit from every rule that applies to it; the first rule without
// room answers 429 and gives back what the earlier ones took, and nothing reaches the
// provider.

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

#include "stages/rate_limit/limiter.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aigw {

class RateLimitStage final : public Stage {
 public:
  using Clock = std::function<limits::WallTime()>;

  // nullptr when there are no rules.
  static std::shared_ptr<RateLimitStage> create(const Config& config);
  RateLimitStage(std::vector<RateLimitRule> rules, std::shared_ptr<limits::RateLimitStore> store,
                 Clock clock = {});

  std::string_view name() const noexcept override { return "rate_limit"; }
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;
  // Token rules: the reservation is settled with the metered tokens (ctx.metered_tokens, set
  // by the metering stage's on_complete, which runs before this one).
  void on_complete(RequestContext& ctx) noexcept override;

 private:
  std::optional<Error> admit(RequestContext& ctx) const;
  limits::WallTime now() const;

  std::vector<RateLimitRule> rules_;
  std::shared_ptr<limits::RateLimitStore> store_;
  Clock clock_;
  bool needs_model_ = false;  // a rule narrows by model: the body's "model" is read
  bool counts_tokens_ = false;
};

}  // namespace aigw
