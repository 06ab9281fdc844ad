#include "stages/rate_limit/rate_limit_stage.hpp"

#include "core/sha256.hpp"
#include "core/text.hpp"
#include "pipeline/request_facts.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace aigw {

// What the stage took for one request, to give back or settle in on_complete.
struct RateLimitState {
  struct Taken {
    std::size_t rule;
    std::string key;
    std::uint64_t cost;  // 1, or the token estimate reserved
    bool overflow;       // counted by the shard's overflow counter (Decision::overflow)
  };
  std::vector<Taken> taken;
  limits::WallTime at{};
};

namespace {

using RuleScope = RateLimitRule::Scope;

// Long client-chosen values (a header, a metadata value) are kept as their digest: a counter
// key costs at most 32 bytes however large the value.
constexpr std::size_t kMaxKeyValue = 64;

std::string counter_key(std::string_view value) {
  if (value.size() <= kMaxKeyValue) return std::string(value);
  const Sha256Digest d = sha256(value);
  std::string key(1 + d.size(), '\x02');  // a leading byte no short value starts with
  std::copy(d.begin(), d.end(), key.begin() + 1);
  return key;
}

// The value of the rule's scope for this request. Requests without it (no such header, no
// such metadata key) share the counter of the empty value: leaving a header out does not
// escape its limit. `metadata`: cf-aig-metadata, parsed by the first rule that needs it.
std::string scope_value(const RateLimitRule& rule, const RequestContext& ctx,
                        std::optional<nlohmann::json>& metadata) {
  switch (rule.scope) {
    case RuleScope::kGateway:
      return {};
    case RuleScope::kIp:
      return ctx.client_ip;
    case RuleScope::kKey:
      return ctx.virtual_key != nullptr ? ctx.virtual_key->name : std::string();
    case RuleScope::kHeader: {
      if (rule.scope_name.starts_with("cf-aig-")) {
        return counter_key(text::trim_ows(ctx.control_header(rule.scope_name).value_or("")));
      }
      const auto it = ctx.request.find(rule.scope_name);
      return it == ctx.request.end() ? std::string() : counter_key(text::trim_ows(it->value()));
    }
    case RuleScope::kMetadata: {
      if (!metadata) {
        const auto header = ctx.control_header("cf-aig-metadata");
        metadata = header ? nlohmann::json::parse(*header, nullptr, false) : nlohmann::json();
      }
      if (!metadata->is_object()) return {};
      const auto it = metadata->find(rule.scope_name);
      if (it == metadata->end()) return {};
      return counter_key(it->is_string() ? it->get<std::string>() : it->dump());
    }
  }
  return {};
}

std::string seconds_up(std::chrono::milliseconds d) {
  return std::to_string(std::max<std::int64_t>((d.count() + 999) / 1000, 1));
}

}  // namespace

std::shared_ptr<RateLimitStage> RateLimitStage::create(const Config& config) {
  if (config.rate_limits.empty()) return nullptr;
  return std::make_shared<RateLimitStage>(
      config.rate_limits, std::make_shared<limits::MemoryRateLimitStore>(config.rate_limits));
}

RateLimitStage::RateLimitStage(std::vector<RateLimitRule> rules,
                               std::shared_ptr<limits::RateLimitStore> store, Clock clock)
    : rules_(std::move(rules)), store_(std::move(store)), clock_(std::move(clock)) {
  for (const auto& rule : rules_) {
    needs_model_ = needs_model_ || rule.model.has_value();
    counts_tokens_ = counts_tokens_ || rule.unit == RateLimitRule::Unit::kTokens;
  }
}

limits::WallTime RateLimitStage::now() const {
  return clock_ ? clock_() : std::chrono::system_clock::now();
}

std::optional<Error> RateLimitStage::admit(RequestContext& ctx) const {
  const limits::WallTime t = now();
  static const RequestFacts kUnread;
  const RequestFacts& facts = needs_model_ || counts_tokens_ ? request_facts(ctx) : kUnread;
  RateLimitState state;
  state.at = t;
  std::optional<nlohmann::json> metadata;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const RateLimitRule& rule = rules_[i];
    if (rule.provider && *rule.provider != ctx.provider_slug) continue;
    if (rule.model && *rule.model != facts.model) continue;
    if (rule.key && (ctx.virtual_key == nullptr || ctx.virtual_key->name != *rule.key)) continue;
    std::string key = scope_value(rule, ctx, metadata);
    // Tokens: the prompt's estimate plus the output cap the client set (or the rule's
    // default), reserved now so that concurrent requests cannot all pass an almost-spent
    // limit; settled with the metered figures in on_complete.
    const std::uint64_t cost =
        rule.unit == RateLimitRule::Unit::kRequests
            ? 1
            : facts.prompt_tokens + facts.max_output_tokens.value_or(rule.default_max_tokens);
    const limits::Decision d = store_->acquire(i, key, cost, t);
    if (d.allowed) {
      state.taken.push_back({i, std::move(key), cost, d.overflow});
      continue;
    }
    for (const auto& taken : state.taken)
      store_->refund(taken.rule, taken.key, taken.cost, t, taken.overflow);
    const std::string retry = seconds_up(d.reset);
    ctx.response_headers.emplace_back("retry-after", retry);
    ctx.response_headers.emplace_back("x-ratelimit-limit", std::to_string(d.limit));
    ctx.response_headers.emplace_back("x-ratelimit-remaining", "0");
    ctx.response_headers.emplace_back("x-ratelimit-reset", retry);
    const bool tokens = rule.unit == RateLimitRule::Unit::kTokens;
    return Error{ErrorCode::kRateLimited,
                 "rate limit '" + rule.name + "' exceeded: " + std::to_string(rule.limit) +
                     (tokens ? " tokens per " : " requests per ") +
                     text::format_duration(rule.window) +
                     (rule.technique == RateLimitRule::Technique::kFixed ? " (fixed window)"
                                                                         : " (sliding window)") +
                     (tokens ? "; this request needs about " + std::to_string(cost) + " tokens"
                             : std::string()) +
                     "; retry after " + retry + "s",
                 false};
  }
  // Kept only for token rules, which settle in on_complete.
  if (counts_tokens_) ctx.rate_limit = std::make_shared<RateLimitState>(std::move(state));
  return std::nullopt;
}

void RateLimitStage::on_complete(RequestContext& ctx) noexcept {
  if (!ctx.rate_limit) return;
  try {
    const auto state = std::move(ctx.rate_limit);
    // What the request used, as metered: reported figures, or the gateway's estimate for a
    // stream cut off. Nothing metered (the provider was never reached, or failed before a
    // response): nothing was used.
    std::uint64_t used = 0;
    if (ctx.metered_tokens) {
      used = ctx.metered_tokens->input.value_or(0) + ctx.metered_tokens->output.value_or(0);
    }
    for (const auto& taken : state->taken) {
      if (rules_[taken.rule].unit != RateLimitRule::Unit::kTokens) continue;
      if (used > taken.cost) {
        store_->add(taken.rule, taken.key, used - taken.cost, now(), taken.overflow);
      } else if (used < taken.cost) {
        store_->refund(taken.rule, taken.key, taken.cost - used, state->at, taken.overflow);
      }
    }
  } catch (...) {
    // Out of memory while settling: the reservation simply stands.
  }
}

boost::asio::awaitable<Verdict> RateLimitStage::on_request(RequestContext& ctx) {
  if (auto error = admit(ctx)) {
    ctx.error = std::move(*error);
    co_return Verdict::kRespond;
  }
  co_return Verdict::kContinue;
}

}  // namespace aigw
