#include "stages/meter/meter_stage.hpp"

#include "core/text.hpp"
#include "request/body.hpp"
#include "upstream/providers/usage/include_usage.hpp"
#include "upstream/providers/usage/usage_parser.hpp"

#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace aigw {

// Per request, in ctx.meter.
struct MeterState final : StageState {
  // The usage format and path model of the attempt being made (or of the plan's first step,
  // for a response the gateway answered itself).
  UsageFormat format = UsageFormat::kNone;
  std::string path_model;  // the model named by the upstream path (Gemini), "" otherwise
  std::unique_ptr<usage::UsageParser> parser;
  bool tapped = false;  // the parser is fed by the BodyFilter (upstream bytes)
  std::optional<pricing::CustomCost> custom_cost;
};

namespace {

MeterState& state_of(const RequestContext& ctx) { return static_cast<MeterState&>(*ctx.meter); }

// What the body of the attempt that answered (or of the plan's first step) says; `prompt`:
// with the prompt's size.
const BodyFacts& answered_body(RequestContext& ctx, bool prompt = false) {
  static const BodyFacts kNothing;
  if (ctx.attempt) {
    if (ctx.attempt->body_facts && (!prompt || ctx.attempt->body_facts->prompt_read)) {
      return *ctx.attempt->body_facts;
    }
    return body_facts(ctx, prompt);  // the attempt sends the client's body
  }
  if (ctx.plan.steps.empty()) return kNothing;
  return step_body_facts(ctx, ctx.plan.steps.front(), prompt);
}

// Streams the provider's bytes into the usage parser and the client's bytes out without the
// usage event the gateway asked for.
class UsageTap final : public BodyFilter {
 public:
  explicit UsageTap(std::shared_ptr<StageState> state)
      : owned_(std::move(state)), state_(static_cast<MeterState*>(owned_.get())) {}
  std::string_view filter(std::string_view in) override {
    state_->parser->feed(in);
    return stripper_.filter(in, scratch_);
  }
  std::string_view finish() override { return stripper_.finish(scratch_); }

 private:
  std::shared_ptr<StageState> owned_;  // keeps state_ alive as long as the filter
  MeterState* state_;
  usage::UsageChunkStripper stripper_;
  std::string scratch_;
};

}  // namespace

MeterStage::MeterStage(const Config& config)
    : metering_(config.metering),
      auth_enabled_(config.auth.enabled),
      prices_(config.metering.prices) {
  for (const auto& [slug, p] : config.providers) {
    if (p.include_usage) include_usage_[slug] = *p.include_usage;
  }
}

std::optional<Error> MeterStage::prepare(RequestContext& ctx) const {
  if (ctx.meter) return std::nullopt;
  auto owned = std::make_shared<MeterState>();
  MeterState* state = owned.get();
  ctx.meter = std::move(owned);
  // A refused request (no route, no valid token): nothing it chose is read, let alone kept.
  if (!admitted(ctx)) return std::nullopt;
  if (auto v = ctx.control_header("cf-aig-custom-cost")) {
    auto parsed = pricing::parse_custom_cost(*v);
    if (!parsed) return parsed.error();
    state->custom_cost = *parsed;
  }
  // Until an attempt says otherwise (a response from the cache, a refusal): the first step's.
  if (!ctx.plan.steps.empty()) {
    state->format = ctx.plan.steps.front().usage_format;
    state->path_model = ctx.plan.steps.front().path_model;
  }
  return std::nullopt;
}

boost::asio::awaitable<Verdict> MeterStage::on_request(RequestContext& ctx) {
  if (auto error = prepare(ctx)) {
    ctx.error = std::move(*error);
    co_return Verdict::kRespond;
  }
  co_return Verdict::kContinue;
}

std::optional<Error> MeterStage::on_attempt(RequestContext& ctx, Attempt& attempt) {
  if (!ctx.meter) {
    if (auto error = prepare(ctx)) return error;
  }
  MeterState& s = state_of(ctx);
  s.format = attempt.usage_format;
  s.path_model = attempt.planned != nullptr ? attempt.planned->path_model : std::string();
  if (attempt.usage_format != UsageFormat::kOpenAiChat &&
      attempt.usage_format != UsageFormat::kOpenAiCompletions) {
    return std::nullopt;
  }
  const auto configured = include_usage_.find(attempt.slug);
  const bool wanted =
      configured != include_usage_.end()
          ? configured->second
          : metering_.include_usage && attempt.provider->adapter->include_usage_supported();
  if (!wanted) return std::nullopt;
  // The plan has read the body when it checked it; when it did not (not JSON as declared), a
  // stream request names "stream", and a substring search is far cheaper than a read.
  if (!attempt.body_facts && attempt.request.body().find("\"stream\"") == std::string::npos) {
    return std::nullopt;
  }
  const BodyFacts& facts = attempt.body_facts ? *attempt.body_facts : body_facts(ctx);
  if (facts.stream && !facts.include_usage_requested) {
    // Asked of every attempt on a provider that needs it, whichever step it is: each is
    // metered exactly. Only the attempt's copy of the body changes.
    attempt.usage_injected = usage::add_include_usage(attempt.request.edit_body());
  }
  return std::nullopt;
}

void MeterStage::on_response_head(RequestContext& ctx, const ResponseHead& head) {
  if (!ctx.meter) (void)prepare(ctx);  // a request that skipped on_request
  MeterState& s = state_of(ctx);
  if (s.format == UsageFormat::kNone || head.status < 200 || head.status >= 300) return;
  // A hit on an entry that kept its usage: the replayed body need not be parsed.
  if (ctx.cache.status == CacheStatus::kHit && ctx.response_usage) return;
  const std::string_view type = ctx.response_content_type;
  const std::string_view media = type.substr(0, type.find(';'));
  const bool event_stream = boost::beast::iequals(media, "text/event-stream");
  s.parser = usage::make_usage_parser(s.format, event_stream);
  const bool injected = ctx.attempt && ctx.attempt->usage_injected;
  if (s.parser && injected && event_stream && head.streamed && !ctx.local_response) {
    s.tapped = true;
    ctx.response_filter = std::make_unique<UsageTap>(ctx.meter);
  }
}

void MeterStage::on_response_body(RequestContext& ctx, std::string_view chunk, bool /*last*/) {
  if (!ctx.meter || chunk.empty()) return;
  MeterState& s = state_of(ctx);
  if (s.parser) {
    if (!s.tapped) s.parser->feed(chunk);
    ctx.streamed_output_chars = s.parser->streamed_output_chars();
  }
}

bool MeterStage::admitted(const RequestContext& ctx) const noexcept {
  return ctx.provider != nullptr && (!auth_enabled_ || ctx.authenticated);
}

RequestContext::Metered MeterStage::metered(RequestContext& ctx) const {
  MeterState& s = state_of(ctx);
  RequestContext::Metered m;
  const bool cached =
      ctx.cache.status == CacheStatus::kHit || ctx.cache.status == CacheStatus::kCoalesced;
  const bool success = ctx.status >= 200 && ctx.status < 300 &&
                       (ctx.outcome == Outcome::kSuccess || ctx.outcome == Outcome::kLocal);
  // Usage: what the provider reported, else an estimate, flagged.
  usage::UsageResult u;
  if (s.parser) {
    u = s.parser->result();
    // Kept with the response if the cache stores it (its on_complete runs after this one).
    if (success && !cached && u.saw_end) ctx.response_usage = ResponseUsage{u.model, u.usage};
  } else if (cached && ctx.response_usage) {
    u.model = ctx.response_usage->model;
    u.usage = ctx.response_usage->tokens;
    u.saw_end = true;
  }
  const bool admitted = this->admitted(ctx);
  // The request's own figures only where the response left a gap (no model named, or
  // tokens to estimate): its body was read once, before the provider call.
  if (admitted) {
    std::string_view model = u.model;
    if (model.empty() && ctx.attempt) model = ctx.attempt->model;
    if (model.empty()) model = answered_body(ctx).model;
    if (model.empty()) model = s.path_model;
    m.model = text::clip(model, text::kMaxLabelBytes);
  }
  TokenUsage& tokens = m.tokens;
  tokens = u.usage;
  const bool reached_provider = ctx.upstream_started.has_value() && !cached;
  if (reached_provider && s.parser) {
    // A response cut off (client or provider) or a stream without usage still used tokens.
    // Cut off, a reported count may lag behind the text seen (Anthropic reports output 1 in
    // its first event): the larger figure stands.
    const std::uint64_t seen = estimate_tokens(u.output_chars);
    if ((!tokens.output && (u.output_chars > 0 || !u.saw_end)) ||
        (!u.saw_end && tokens.output && *tokens.output < seen)) {
      tokens.output = seen;
      m.estimated = true;
    }
    if (!tokens.input && tokens.output) {
      tokens.input = estimate_tokens(answered_body(ctx, true).prompt_chars);
      m.estimated = true;
    }
  }
  if (cached) {
    m.cost = 0.0;  // answered by the gateway: the provider billed nothing
  } else {
    // A client's own prices count only where the operator trusts them: otherwise a budget
    // could be made to charge nothing (metering.trust_client_cost).
    const bool custom =
        s.custom_cost && pricing::client_cost_trusted(metering_.trust_client_cost, ctx.virtual_key);
    const std::string provider =
        ctx.attempt ? ctx.attempt->slug : (ctx.provider != nullptr ? ctx.provider_slug : "");
    const pricing::Cost cost = pricing::cost_of(tokens, prices_.find(provider, m.model),
                                                custom ? &*s.custom_cost : nullptr);
    m.cost = cost.usd;
    m.unpriced = cost.unpriced;
    m.custom_cost = cost.custom;
  }
  return m;
}

void MeterStage::on_complete(RequestContext& ctx) noexcept {
  try {
    if (!ctx.meter) (void)prepare(ctx);
    ctx.metered = metered(ctx);
  } catch (const std::exception& e) {
    spdlog::error("metering request {} failed: {}", ctx.id, e.what());
  }
}

}  // namespace aigw
