#include "stages/rate_limit/rate_limit_stage.hpp"

#include "aigw/usage.hpp"

#include "core/checked.hpp"
#include "core/sha256.hpp"
#include "core/text.hpp"
#include "request/body.hpp"
#include "store/log_store.hpp"

#include <boost/asio/this_coro.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace aigw {

// What the stage took for one request, to give back or settle in on_complete.
struct RateLimitState final : StageState {
  struct Taken {
    std::size_t rule;
    std::string key;
    std::uint64_t cost;           // 1, or the tokens or millionths of a dollar reserved
    bool overflow;                // counted by the shard's overflow counter (Decision::overflow)
    bool shared = false;          // counted in Redis (settled there)
    std::uint64_t extra = 0;      // charged past `cost` while the response streamed
    limits::WallTime extra_at{};  // when `extra` was last charged
  };
  std::vector<Taken> taken;
  limits::WallTime at{};
  boost::asio::any_io_executor executor;  // the request's worker: Redis settlements run there
  // A stream is charged as it runs: its running usage is the prompt's estimate plus the text
  // seen so far, priced (budgets) at these millionths of a dollar per token.
  std::uint64_t prompt_tokens = 0;
  double micro_per_input = 0;
  double micro_per_output = 0;
  std::uint64_t charged_chars = 0;  // ctx.streamed_output_chars when last looked at
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
      // The key's metadata first, as it is logged over the client's (and budgets are rebuilt
      // from the log).
      if (ctx.virtual_key != nullptr) {
        for (const auto& [name, value] : ctx.virtual_key->metadata) {
          if (name != rule.scope_name) continue;
          const auto parsed = nlohmann::json::parse(value, nullptr, false);
          return counter_key(parsed.is_string() ? parsed.get<std::string>() : value);
        }
      }
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

// Counts are at most 2^63 - 1 in Redis (and a budget at most 1e15 millionths of a dollar).
std::int64_t signed_amount(std::uint64_t n) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(n, INT64_MAX));
}

std::string seconds_up(std::chrono::milliseconds d) {
  return std::to_string(std::max<std::int64_t>((d.count() + 999) / 1000, 1));
}

// Millionths of a dollar as "$12.5", "$0.000123".
std::string usd(std::uint64_t micro) {
  // Appended piece by piece: GCC 12 at -O3 misreads "$" + std::string as an overflow.
  std::string text = "$";
  text += std::to_string(micro / 1'000'000);
  if (const std::uint64_t fraction = micro % 1'000'000; fraction != 0) {
    const std::string digits = std::to_string(fraction);  // 1 to 6 digits
    text += '.';
    text.append(6 - digits.size(), '0');
    text += digits;
    text.erase(text.find_last_not_of('0') + 1);  // the fraction is not 0: a digit stays
  }
  return text;
}

std::string describe_window(const RateLimitRule& rule) {
  const bool fixed = rule.technique == RateLimitRule::Technique::kFixed;
  if (rule.calendar_month) return fixed ? "calendar month (UTC)" : "30 days (sliding window)";
  return text::format_duration(rule.window) + (fixed ? " (fixed window)" : " (sliding window)");
}

}  // namespace

std::shared_ptr<RateLimitStage> RateLimitStage::create(const Config& config,
                                                       const std::shared_ptr<store::LogStore>& log,
                                                       const std::shared_ptr<redis::Client>& redis,
                                                       const RateLimitStage* previous) {
  if (config.rate_limits.empty() && config.budgets.empty()) return nullptr;
  std::vector<RateLimitRule> rules = config.rate_limits;
  rules.insert(rules.end(), config.budgets.begin(), config.budgets.end());
  std::vector<bool> kept;
  const auto* old_store =
      previous != nullptr
          ? dynamic_cast<const limits::MemoryRateLimitStore*>(previous->store_.get())
          : nullptr;
  auto memory = old_store != nullptr
                    ? std::make_shared<limits::MemoryRateLimitStore>(rules, *old_store, kept)
                    : std::make_shared<limits::MemoryRateLimitStore>(rules);
  auto stage = std::make_shared<RateLimitStage>(
      rules, std::move(memory), Clock{}, config.metering.prices, config.metering.trust_client_cost);
  if (redis) {
    std::vector<bool> shared;
    for (const auto& rule : rules) shared.push_back(config.in_redis(rule.store));
    stage->share(redis, std::move(shared));
  }
  // Budgets counted here whose counters did not carry over a reload.
  bool local_budgets = false;
  for (std::size_t i = config.rate_limits.size(); i < rules.size(); ++i) {
    local_budgets =
        local_budgets || (!config.in_redis(rules[i].store) && (kept.empty() || !kept[i]));
  }
  if (local_budgets) {
    if (!log) {
      spdlog::warn(
          "budgets start from $0: the request log is off, so spend before this start "
          "is unknown");
    } else if (auto restored = stage->restore(*log, kept); !restored) {
      spdlog::error("budgets start from $0: cannot read past spend from the request log: {}",
                    restored.error().detail);
    } else {
      spdlog::info("budgets: past spend restored from the request log ({} counters)", *restored);
    }
  }
  return stage;
}

RateLimitStage::RateLimitStage(std::vector<RateLimitRule> rules,
                               std::shared_ptr<limits::RateLimitStore> store, Clock clock,
                               const std::map<std::string, ModelPrice>& prices,
                               bool trust_client_cost)
    : rules_(std::move(rules)),
      store_(std::move(store)),
      clock_(std::move(clock)),
      prices_(prices),
      trust_client_cost_(trust_client_cost) {
  for (const auto& rule : rules_) {
    needs_model_ = needs_model_ || rule.model.has_value();
    settles_ = settles_ || rule.unit != RateLimitRule::Unit::kRequests;
  }
}

void RateLimitStage::share(std::shared_ptr<redis::Client> client, std::vector<bool> shared) {
  redis_ = std::make_shared<limits::RedisLimits>(std::move(client), rules_);
  shared.resize(rules_.size(), false);
  shared_ = std::move(shared);
}

limits::WallTime RateLimitStage::now() const {
  return clock_ ? clock_() : std::chrono::system_clock::now();
}

Result<std::size_t> RateLimitStage::restore(const store::LogStore& log,
                                            const std::vector<bool>& skip) {
  using std::chrono::milliseconds;
  const limits::WallTime t = now();
  const std::int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::size_t charged = 0;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const RateLimitRule& rule = rules_[i];
    // A budget in Redis is where it was: spend is counted there, by every instance.
    if (rule.unit != RateLimitRule::Unit::kCost || (shared_ && (*shared_)[i])) continue;
    if (i < skip.size() && skip[i]) continue;
    store::UsageQuery q;
    q.provider = rule.provider;
    q.model = rule.model;
    q.key = rule.key;
    switch (rule.scope) {
      case RuleScope::kKey:
        q.group_by = store::UsageGroup::kKey;
        break;
      case RuleScope::kMetadata:
        q.group_by = store::UsageGroup::kMetadata;
        q.metadata_key = rule.scope_name;
        break;
      default:
        break;  // gateway (ip and header are not budget scopes)
    }
    const bool fixed = rule.technique == RateLimitRule::Technique::kFixed;
    if (fixed) {
      // The current window: everything since it began, charged now.
      q.from = limits::fixed_window_start(rule, now_ms);
    } else {
      // The trailing window slot by slot, oldest first, each charged at its own time; from
      // the start of the oldest slot, which the store counts whole.
      const std::int64_t slot = limits::slot_ms(rule);
      const std::int64_t oldest = now_ms - rule.window.count();
      q.from = oldest - ((oldest % slot) + slot) % slot;
      q.bucket_ms = slot;
    }
    auto rows = log.usage(q);
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
      const std::uint64_t micro = checked::to_u64(std::round(row.cost * 1e6));
      if (micro == 0) continue;
      const limits::WallTime at = fixed ? t : limits::WallTime(milliseconds(row.bucket_start));
      store_->add(i, counter_key(row.group), micro, at, false);
      ++charged;
    }
  }
  return charged;
}

boost::asio::awaitable<std::optional<Error>> RateLimitStage::admit(RequestContext& ctx) const {
  const limits::WallTime t = now();
  // What the first step asks for (a later step's model is its own: admission is decided once,
  // on what the request names first).
  const StepFacts facts = needs_model_ || settles_ ? first_step_facts(ctx, settles_) : StepFacts{};
  RateLimitState state;
  state.at = t;
  std::optional<nlohmann::json> metadata;
  // The request's prices for budgets (nullopt: the model has none), looked up for the first
  // budget that applies.
  std::optional<std::optional<Rates>> rates;
  const auto give_back = [&] {
    for (const auto& taken : state.taken) {
      if (!taken.shared) store_->refund(taken.rule, taken.key, taken.cost, t, taken.overflow);
    }
  };
  // No model takes an output cap past 2^31-1; a larger one is an attack on the reservation
  // below (2^64-1 wrapped it to almost nothing), refused before anything is counted.
  constexpr std::uint64_t kMaxOutputCap = 2147483647;
  if (facts.max_output_tokens && *facts.max_output_tokens > kMaxOutputCap) {
    co_return Error{ErrorCode::kBadRequest, "the request's output token cap (max_tokens) is " +
                                                std::to_string(*facts.max_output_tokens) +
                                                "; at most " + std::to_string(kMaxOutputCap) +
                                                " is accepted"};
  }
  // The counters in Redis the request asks of, decided together after the local ones.
  std::vector<RateLimitState::Taken> shared;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const RateLimitRule& rule = rules_[i];
    if (rule.provider && *rule.provider != ctx.provider_slug) continue;
    if (rule.model && *rule.model != facts.model) continue;
    if (rule.key && (ctx.virtual_key == nullptr || ctx.virtual_key->name != *rule.key)) continue;
    const std::uint64_t output = facts.max_output_tokens.value_or(rule.default_max_tokens);
    std::uint64_t cost = 1;
    switch (rule.unit) {
      case RateLimitRule::Unit::kRequests:
        break;
      case RateLimitRule::Unit::kTokens:
        // The prompt's estimate plus the output cap, reserved now so that concurrent
        // requests cannot all pass an almost-spent limit; settled when metered.
        cost = checked::add(facts.prompt_tokens, output);
        break;
      case RateLimitRule::Unit::kCost: {
        if (!rates) rates = rates_of(ctx, facts);
        if (!*rates) {
          if (!rule.refuse_unpriced) continue;  // unpriced: admitted, and charged nothing
          give_back();
          co_return Error{ErrorCode::kUnpricedModel,
                          "budget '" + rule.name + "' refuses models without a price, and '" +
                              ctx.provider_slug + "/" + facts.model + "' has none"};
        }
        cost = (*rates)->micro_usd(facts.prompt_tokens, output);
        break;
      }
    }
    std::string key = scope_value(rule, ctx, metadata);
    if (shared_ && (*shared_)[i]) {
      shared.push_back({i, std::move(key), cost, false, true});
      continue;
    }
    const limits::Decision d = store_->acquire(i, key, cost, t);
    if (d.allowed) {
      state.taken.push_back({i, std::move(key), cost, d.overflow});
      continue;
    }
    give_back();
    co_return refusal(ctx, i, cost, d.reset);
  }
  if (!shared.empty()) {
    std::vector<limits::RedisLimits::Ask> asks;
    asks.reserve(shared.size());
    for (const auto& s : shared) asks.push_back({s.rule, s.key, s.cost});
    const auto decided = co_await redis_->acquire(asks, limits::unix_ms(t));
    if (!decided) {
      // Redis cannot answer: each rule's on_error says what to do. One that refuses wins.
      const auto closed = std::find_if(shared.begin(), shared.end(), [&](const auto& s) {
        return rules_[s.rule].on_error == OnStoreError::kClosed;
      });
      if (closed != shared.end()) {
        redis_->client().report(redis::Feature::kLimits, decided.error(),
                                "refused requests (on_error: closed)");
        give_back();
        ctx.response_headers.emplace_back("retry-after", "1");
        co_return Error{
            ErrorCode::kLimitsUnavailable,
            std::string(rules_[closed->rule].unit == RateLimitRule::Unit::kCost ? "budget '"
                                                                                : "rate limit '") +
                rules_[closed->rule].name +
                "' cannot be checked right now, and it refuses requests until it can; "
                "retry after 1s",
            "redis: " + decided.error().detail};
      }
      redis_->client().report(redis::Feature::kLimits, decided.error(),
                              "admitted requests (on_error: open)");
    } else if (decided->refused) {
      give_back();
      const auto& refused = shared[*decided->refused];
      co_return refusal(ctx, refused.rule, refused.cost, decided->reset);
    } else {
      for (auto& s : shared) state.taken.push_back(std::move(s));
      state.executor = co_await boost::asio::this_coro::executor;
    }
  }
  // Kept only for token rules and budgets, which settle in on_complete.
  if (settles_) {
    state.prompt_tokens = facts.prompt_tokens;
    if (rates && *rates) {
      state.micro_per_input = (*rates)->input;
      state.micro_per_output = (*rates)->output;
    }
    ctx.rate_limit = std::make_shared<RateLimitState>(std::move(state));
  }
  co_return std::nullopt;
}

Error RateLimitStage::refusal(RequestContext& ctx, std::size_t index, std::uint64_t cost,
                              std::chrono::milliseconds reset) const {
  const RateLimitRule& rule = rules_[index];
  const std::string retry = seconds_up(reset);
  ctx.response_headers.emplace_back("retry-after", retry);
  if (rule.unit == RateLimitRule::Unit::kCost) {
    return Error{ErrorCode::kBudgetExceeded,
                 "budget '" + rule.name + "' exceeded: " + usd(rule.limit) + " per " +
                     describe_window(rule) + "; this request needs about " + usd(cost) +
                     "; retry after " + retry + "s"};
  }
  ctx.response_headers.emplace_back("x-ratelimit-limit", std::to_string(rule.limit));
  ctx.response_headers.emplace_back("x-ratelimit-remaining", "0");
  ctx.response_headers.emplace_back("x-ratelimit-reset", retry);
  const bool tokens = rule.unit == RateLimitRule::Unit::kTokens;
  return Error{ErrorCode::kRateLimited,
               "rate limit '" + rule.name + "' exceeded: " + std::to_string(rule.limit) +
                   (tokens ? " tokens per " : " requests per ") + describe_window(rule) +
                   (tokens ? "; this request needs about " + std::to_string(cost) + " tokens"
                           : std::string()) +
                   "; retry after " + retry + "s"};
}

std::optional<RateLimitStage::Rates> RateLimitStage::rates_of(const RequestContext& ctx,
                                                              const StepFacts& facts) const {
  // cf-aig-custom-cost prices the request as it will be metered (dollars per token), where
  // the operator trusts client prices; the metering stage refuses a malformed one before this
  // stage runs. Untrusted, it is ignored: a client cannot lower its own budget's charge.
  const bool trusted = pricing::client_cost_trusted(trust_client_cost_, ctx.virtual_key);
  if (const auto header = ctx.control_header("cf-aig-custom-cost"); header && trusted) {
    if (auto custom = pricing::parse_custom_cost(*header)) {
      return Rates{custom->per_token_in * 1e6, custom->per_token_out * 1e6};
    }
  }
  const ModelPrice* price = prices_.find(ctx.provider_slug, facts.model);
  if (price == nullptr) return std::nullopt;
  // Prices are dollars per million tokens: millionths of a dollar per token.
  return Rates{price->input, price->output};
}

std::uint64_t RateLimitStage::Rates::micro_usd(std::uint64_t input_tokens,
                                               std::uint64_t output_tokens) const {
  return checked::to_u64(std::ceil(static_cast<double>(input_tokens) * input +
                                   static_cast<double>(output_tokens) * output));
}

void RateLimitStage::on_response_body(RequestContext& ctx, std::string_view /*chunk*/,
                                      bool /*last*/) {
  auto* state = static_cast<RateLimitState*>(ctx.rate_limit.get());
  // Only a stream's text moves this figure, and only when it grew since the last charge.
  if (state == nullptr || ctx.streamed_output_chars == state->charged_chars) return;
  state->charged_chars = ctx.streamed_output_chars;
  const std::uint64_t output = estimate_tokens(state->charged_chars);
  const Rates rates{state->micro_per_input, state->micro_per_output};
  std::optional<limits::WallTime> t;
  std::vector<limits::RedisLimits::Adjust> adjusts;
  for (auto& taken : state->taken) {
    const auto unit = rules_[taken.rule].unit;
    if (unit == RateLimitRule::Unit::kRequests) continue;
    const std::uint64_t running = unit == RateLimitRule::Unit::kTokens
                                      ? checked::add(state->prompt_tokens, output)
                                      : rates.micro_usd(state->prompt_tokens, output);
    // Within the reservation there is nothing to do: it was taken at admission.
    if (running <= checked::add(taken.cost, taken.extra)) continue;
    const std::uint64_t more = running - taken.cost - taken.extra;
    // A counter in Redis is charged in steps of at least an eighth of what the request holds
    // (reservation or charge so far), not at every chunk: a long overrun costs a few writes
    // rather than one per chunk, and on_complete settles the exact figure either way.
    if (taken.shared && more * 8 < std::max(taken.cost, taken.extra)) continue;
    if (!t) t = now();
    if (taken.shared) {
      adjusts.push_back({taken.rule, taken.key, signed_amount(more), limits::unix_ms(*t)});
    } else {
      store_->add(taken.rule, taken.key, more, *t, taken.overflow);
    }
    taken.extra = running - taken.cost;
    taken.extra_at = *t;
  }
  if (!adjusts.empty()) redis_->adjust(state->executor, std::move(adjusts));
}

void RateLimitStage::on_complete(RequestContext& ctx) noexcept {
  if (!ctx.rate_limit) return;
  try {
    const auto owned = std::move(ctx.rate_limit);
    const auto* state = static_cast<const RateLimitState*>(owned.get());
    // What the request used, as metered: reported figures, or the gateway's estimate for a
    // stream cut off. Nothing metered (the provider was never reached, or failed before a
    // response): nothing was used. An unpriced cost is nothing too (unpriced: allow).
    std::uint64_t tokens = 0;
    std::uint64_t dollars = 0;
    if (ctx.metered) {
      tokens = checked::add(ctx.metered->tokens.input.value_or(0),
                            ctx.metered->tokens.output.value_or(0));
      dollars = checked::to_u64(std::round(ctx.metered->cost.value_or(0) * 1e6));
    }
    std::vector<limits::RedisLimits::Adjust> adjusts;
    // Given to the counter where it is kept: Redis's in one script, the memory store's now.
    const auto settle = [&](const RateLimitState::Taken& taken, std::int64_t delta,
                            limits::WallTime at) {
      if (taken.shared) {
        adjusts.push_back({taken.rule, taken.key, delta, limits::unix_ms(at)});
      } else if (delta > 0) {
        store_->add(taken.rule, taken.key, static_cast<std::uint64_t>(delta), at, taken.overflow);
      } else {
        store_->refund(taken.rule, taken.key, static_cast<std::uint64_t>(-delta), at,
                       taken.overflow);
      }
    };
    for (const auto& taken : state->taken) {
      const auto unit = rules_[taken.rule].unit;
      if (unit == RateLimitRule::Unit::kRequests) continue;
      const std::uint64_t used = unit == RateLimitRule::Unit::kTokens ? tokens : dollars;
      const std::uint64_t charged = checked::add(taken.cost, taken.extra);
      if (used > charged) {
        settle(taken, signed_amount(used - charged), now());
      } else if (used < charged) {
        // Given back where it was taken: the streamed extra first, then the reservation.
        const std::uint64_t back = charged - used;
        const std::uint64_t from_extra = std::min(back, taken.extra);
        if (from_extra > 0) settle(taken, -signed_amount(from_extra), taken.extra_at);
        if (back > from_extra) settle(taken, -signed_amount(back - from_extra), state->at);
      }
    }
    if (!adjusts.empty()) redis_->adjust(state->executor, std::move(adjusts));
  } catch (...) {
    // Out of memory while settling: the reservation simply stands.
  }
}

boost::asio::awaitable<Verdict> RateLimitStage::on_request(RequestContext& ctx) {
  if (auto error = co_await admit(ctx)) {
    ctx.error = std::move(*error);
    co_return Verdict::kRespond;
  }
  co_return Verdict::kContinue;
}

}  // namespace aigw
