#include "stages/rate_limit/rate_limit_stage.hpp"

#include "core/sha256.hpp"
#include "core/text.hpp"
#include "upstream/providers/usage/request_info.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace aigw {
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

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of the rule's scope for this request. Requests without it (no such header, no
// such metadata key) share the counter of the empty value: leaving a header out does not
// escape its limit.
std::string scope_value(const RateLimitRule& rule, const RequestContext& ctx) {
  switch (rule.scope) {
    case RuleScope::kGateway:
      return {};
    case RuleScope::kIp:
      return ctx.client_ip;
    case RuleScope::kHeader: {
      if (rule.scope_name.starts_with("cf-aig-")) {
        return counter_key(trim(ctx.control_header(rule.scope_name).value_or("")));
      }
      const auto it = ctx.request.find(rule.scope_name);
      return it == ctx.request.end() ? std::string() : counter_key(trim(it->value()));
    }
    case RuleScope::kMetadata: {
      const auto header = ctx.control_header("cf-aig-metadata");
      if (!header) return {};
      const auto json = nlohmann::json::parse(*header, nullptr, false);
      if (!json.is_object()) return {};
      const auto it = json.find(rule.scope_name);
      if (it == json.end()) return {};
      return counter_key(it->is_string() ? it->get<std::string>() : it->dump());
    }
  }
  return {};
}

std::string request_model(const RequestContext& ctx) {
  if (ctx.provider == nullptr) return {};
  const std::string_view target = ctx.target.target;
  const std::string_view path = target.substr(0, target.find('?'));
  const UsageFormat format = ctx.provider->adapter->usage_format(path);
  std::string model = usage::inspect_request(format, ctx.request.body()).model;
  return model.empty() ? usage::model_from_path(format, path) : model;
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
  for (const auto& rule : rules_) needs_model_ = needs_model_ || rule.model.has_value();
}

limits::WallTime RateLimitStage::now() const {
  return clock_ ? clock_() : std::chrono::system_clock::now();
}

std::optional<Error> RateLimitStage::admit(RequestContext& ctx) const {
  const limits::WallTime t = now();
  const std::string model = needs_model_ ? request_model(ctx) : std::string();
  struct Taken {
    std::size_t rule;
    std::string key;
  };
  std::vector<Taken> taken;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const RateLimitRule& rule = rules_[i];
    if (rule.provider && *rule.provider != ctx.provider_slug) continue;
    if (rule.model && *rule.model != model) continue;
    std::string key = scope_value(rule, ctx);
    const limits::Decision d = store_->acquire(i, key, 1, t);
    if (d.allowed) {
      taken.push_back({i, std::move(key)});
      continue;
    }
    for (const auto& [index, k] : taken) store_->refund(index, k, 1, t);
    const std::string retry = seconds_up(d.reset);
    ctx.response_headers.emplace_back("retry-after", retry);
    ctx.response_headers.emplace_back("x-ratelimit-limit", std::to_string(d.limit));
    ctx.response_headers.emplace_back("x-ratelimit-remaining", "0");
    ctx.response_headers.emplace_back("x-ratelimit-reset", retry);
    return Error{ErrorCode::kRateLimited,
                 "rate limit '" + rule.name + "' exceeded: " + std::to_string(rule.limit) +
                     " requests per " + text::format_duration(rule.window) +
                     (rule.technique == RateLimitRule::Technique::kFixed ? " (fixed window)"
                                                                         : " (sliding window)") +
                     "; retry after " + retry + "s",
                 false};
  }
  return std::nullopt;
}

boost::asio::awaitable<Verdict> RateLimitStage::on_request(RequestContext& ctx) {
  if (auto error = admit(ctx)) {
    ctx.error = std::move(*error);
    co_return Verdict::kRespond;
  }
  co_return Verdict::kContinue;
}

}  // namespace aigw
