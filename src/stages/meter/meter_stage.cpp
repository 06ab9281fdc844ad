#include "stages/meter/meter_stage.hpp"

#include "core/text.hpp"
#include "pipeline/body.hpp"
#include "pipeline/headers.hpp"
#include "upstream/providers/usage/include_usage.hpp"
#include "upstream/providers/usage/usage_parser.hpp"

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace aigw {

// Per request, in ctx.meter.
struct MeterState {
  // The usage format and path model of the attempt being made (or of the plan's first step,
  // for a response the gateway answered itself).
  UsageFormat format = UsageFormat::kNone;
  std::string path_model;  // the model named by the upstream path (Gemini), "" otherwise
  std::unique_ptr<usage::UsageParser> parser;
  bool tapped = false;  // the parser is fed by the BodyFilter (upstream bytes)
  std::optional<meter::CustomCost> custom_cost;
  std::vector<std::pair<std::string, std::string>> metadata;
  bool collect = true;           // cf-aig-collect-log
  bool collect_payload = false;  // log.payloads and not cf-aig-collect-log-payload: false
  std::optional<std::string> request_body;
  std::string response_body;
  bool response_cut = false;  // response_body reached log.max_payload_bytes
  std::optional<SteadyTime> head_sent;
  std::string response_content_type;
  bool counted_stream = false;  // in metrics' streams_in_flight
};

namespace {

using namespace std::chrono;

double ms_between(SteadyTime from, SteadyTime to) {
  return duration<double, std::milli>(to - from).count();
}

bool is_false(std::string_view v) { return boost::beast::iequals(v, "false"); }

Error bad_header(std::string detail) {
  return Error{ErrorCode::kInvalidHeader, std::move(detail), false};
}

// cf-aig-metadata: a flat JSON object of at most 5 entries whose values are strings, numbers
// or booleans (Cloudflare's rules). Keys starting "cf." are Cloudflare's own and dropped, as
// there. Values are kept as their JSON text.
Result<std::vector<std::pair<std::string, std::string>>> parse_metadata(std::string_view header) {
  constexpr std::size_t kMaxEntries = 5;
  const auto json = nlohmann::json::parse(header, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return bad_header(R"(cf-aig-metadata must be a JSON object such as {"user":"alice","team":7})");
  }
  if (json.size() > kMaxEntries) {
    return bad_header("cf-aig-metadata has " + std::to_string(json.size()) +
                      " entries; at most 5 are allowed");
  }
  // Keys and values are log columns and budget scopes: bounded, so that a client cannot
  // make the log (or a limiter's table) hold what it likes.
  constexpr std::size_t kMaxKeyBytes = 64;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : json.items()) {
    if (key.size() > kMaxKeyBytes) {
      return bad_header("cf-aig-metadata key '" + text::clip(key, kMaxKeyBytes) + "...' is " +
                        std::to_string(key.size()) + " bytes; at most 64 are allowed");
    }
    if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
      return bad_header("cf-aig-metadata value of '" + key +
                        "' must be a string, a number or a boolean");
    }
    if (value.is_string() && value.get_ref<const std::string&>().size() > text::kMaxLabelBytes) {
      return bad_header("cf-aig-metadata value of '" + key + "' is " +
                        std::to_string(value.get_ref<const std::string&>().size()) +
                        " bytes; at most 256 are allowed");
    }
    if (key.rfind("cf.", 0) == 0) continue;
    out.emplace_back(key, value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return out;
}

// What the body of the attempt that answered (or of the plan's first step) says.
const BodyFacts& answered_body(RequestContext& ctx) {
  static const BodyFacts kNothing;
  if (ctx.attempt) {
    if (ctx.attempt->body_facts) return *ctx.attempt->body_facts;
    return body_facts(ctx);  // the attempt sends the client's body
  }
  if (ctx.plan.steps.empty()) return kNothing;
  return step_body_facts(ctx, ctx.plan.steps.front());
}

// Streams the provider's bytes into the usage parser and the client's bytes out without the
// usage event the gateway asked for.
class UsageTap final : public BodyFilter {
 public:
  explicit UsageTap(std::shared_ptr<MeterState> state) : state_(std::move(state)) {}
  std::string_view filter(std::string_view in) override {
    state_->parser->feed(in);
    return stripper_.filter(in, scratch_);
  }
  std::string_view finish() override { return stripper_.finish(scratch_); }

 private:
  std::shared_ptr<MeterState> state_;
  usage::UsageChunkStripper stripper_;
  std::string scratch_;
};

}  // namespace

MeterStage::MeterStage(const Config& config, std::shared_ptr<metrics::Registry> metrics,
                       std::shared_ptr<store::LogStore> log)
    : log_config_(config.log),
      metering_(config.metering),
      auth_enabled_(config.auth.enabled),
      prices_(config.metering.prices),
      metrics_(std::move(metrics)),
      log_(std::move(log)) {
  for (const auto& [slug, p] : config.providers) {
    if (p.include_usage) include_usage_[slug] = *p.include_usage;
  }
}

std::optional<Error> MeterStage::prepare(RequestContext& ctx) const {
  if (ctx.meter) return std::nullopt;
  auto state = std::make_shared<MeterState>();
  ctx.meter = state;
  if (metrics_) ++metrics_->in_flight;  // until on_complete
  // A refused request (no route, no valid token): nothing it chose is read, let alone kept.
  if (!admitted(ctx)) return std::nullopt;
  state->collect_payload = log_config_.payloads;
  if (auto v = ctx.control_header("cf-aig-collect-log")) state->collect = !is_false(*v);
  if (auto v = ctx.control_header("cf-aig-collect-log-payload")) {
    state->collect_payload = state->collect_payload && !is_false(*v);
  }
  if (auto v = ctx.control_header("cf-aig-metadata")) {
    auto parsed = parse_metadata(*v);
    if (!parsed) return parsed.error();
    state->metadata = std::move(*parsed);
  }
  // The virtual key's own metadata, over the client's entries of the same name.
  if (ctx.virtual_key != nullptr) {
    for (const auto& [name, value] : ctx.virtual_key->metadata) {
      auto it = std::find_if(state->metadata.begin(), state->metadata.end(),
                             // Clang 14 cannot capture a structured binding implicitly.
                             [&key = name](const auto& entry) { return entry.first == key; });
      if (it != state->metadata.end()) {
        it->second = value;
      } else {
        state->metadata.emplace_back(name, value);
      }
    }
  }
  if (auto v = ctx.control_header("cf-aig-custom-cost")) {
    auto parsed = meter::parse_custom_cost(*v);
    if (!parsed) return parsed.error();
    state->custom_cost = *parsed;
  }
  if (state->collect && state->collect_payload) {
    state->request_body = ctx.request.body().substr(0, log_config_.max_payload_bytes);
  }
  // Until an attempt says otherwise (a response from the cache, a refusal): the first step's.
  if (!ctx.plan.steps.empty()) {
    state->format = ctx.plan.steps.front().usage_format;
    state->path_model = ctx.plan.steps.front().path_model;
  }
  return std::nullopt;
}

std::optional<Error> MeterStage::on_attempt(RequestContext& ctx, Attempt& attempt) {
  if (!ctx.meter) {
    if (auto error = prepare(ctx)) return error;
  }
  MeterState& s = *ctx.meter;
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
  // A stream request names "stream"; most requests are not streams, and a substring search
  // is far cheaper than reading the body.
  if (!wanted || attempt.request.body().find("\"stream\"") == std::string::npos) {
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

boost::asio::awaitable<Verdict> MeterStage::on_request(RequestContext& ctx) {
  if (auto error = prepare(ctx)) {
    ctx.error = std::move(*error);
    co_return Verdict::kRespond;
  }
  co_return Verdict::kContinue;
}

void MeterStage::on_response_head(RequestContext& ctx, const ResponseHead& head) {
  if (!ctx.meter) (void)prepare(ctx);  // a request that skipped on_request
  MeterState& s = *ctx.meter;
  s.head_sent = steady_clock::now();
  if (head.streamed && metrics_ && !s.counted_stream) {
    s.counted_stream = true;
    ++metrics_->streams_in_flight;
  }
  if (head.fields != nullptr) {
    s.response_content_type =
        std::string(headers::value_of(*head.fields, http::field::content_type));
  }
  if (s.format == UsageFormat::kNone || head.status < 200 || head.status >= 300) return;
  // A hit on an entry that kept its usage: the replayed body need not be parsed.
  if (ctx.cache.status == CacheStatus::kHit && ctx.response_usage) return;
  const std::string_view media =
      std::string_view(s.response_content_type).substr(0, s.response_content_type.find(';'));
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
  MeterState& s = *ctx.meter;
  if (s.parser) {
    if (!s.tapped) s.parser->feed(chunk);
    ctx.streamed_output_chars = s.parser->streamed_output_chars();
  }
  if (s.collect && s.collect_payload && !s.response_cut) {
    const std::size_t room = log_config_.max_payload_bytes - s.response_body.size();
    s.response_body.append(chunk.substr(0, room));
    s.response_cut = chunk.size() > room;
  }
}

bool MeterStage::admitted(const RequestContext& ctx) const noexcept {
  return ctx.provider != nullptr && (!auth_enabled_ || ctx.authenticated);
}

bool MeterStage::trusts_client_cost(const RequestContext& ctx) const noexcept {
  return meter::client_cost_trusted(metering_.trust_client_cost, ctx.virtual_key);
}

LogRecord MeterStage::record_of(RequestContext& ctx) const {
  MeterState& s = *ctx.meter;
  const bool admitted = this->admitted(ctx);
  LogRecord r;
  r.id = ctx.id;
  r.event_id = ctx.event_id;
  r.created_at = duration_cast<milliseconds>(ctx.started_wall.time_since_epoch()).count();
  // The provider that answered (or the plan's first); never the client's unmatched text.
  if (ctx.attempt) {
    r.provider = ctx.attempt->slug;
  } else if (ctx.provider != nullptr) {
    r.provider = ctx.provider_slug;
  }
  r.method = text::clip(ctx.request.method_string(), 32);
  const std::string_view target = ctx.request.target();
  r.path = text::clip(ctx.path.empty() ? target.substr(0, target.find('?')) : ctx.path,
                      text::kMaxLabelBytes);
  r.status_code = static_cast<std::uint16_t>(ctx.status);
  r.cached = ctx.cache.status == CacheStatus::kHit || ctx.cache.status == CacheStatus::kCoalesced;
  r.cache_status = std::string(cache_status_name(ctx.cache.status));
  r.outcome = std::string(outcome_name(ctx.outcome));
  r.success = ctx.status >= 200 && ctx.status < 300 &&
              (ctx.outcome == Outcome::kSuccess || ctx.outcome == Outcome::kLocal);
  if (ctx.error) r.error_code = std::string(code_name(ctx.error->code));
  r.streamed = ctx.streamed;
  const SteadyTime end = ctx.finished.value_or(steady_clock::now());
  r.duration_ms = ms_between(ctx.started, end);
  if (s.head_sent) r.ttfb_ms = ms_between(ctx.started, *s.head_sent);
  if (ctx.upstream_started) r.upstream_ms = ms_between(*ctx.upstream_started, end);
  r.user_agent =
      text::clip(headers::value_of(ctx.request, http::field::user_agent), text::kMaxLabelBytes);
  r.request_content_type =
      text::clip(headers::value_of(ctx.request, http::field::content_type), 128);
  r.response_content_type = text::clip(s.response_content_type, 128);
  r.request_size = ctx.request_bytes;
  r.response_size = ctx.response_bytes;
  r.metadata = s.metadata;
  if (ctx.virtual_key != nullptr) r.key = ctx.virtual_key->name;
  for (const AttemptRecord& attempt : ctx.attempt_log) {
    LogAttempt a;
    a.provider = attempt.provider;
    a.model = attempt.model;
    a.status = static_cast<std::uint16_t>(attempt.status);
    a.duration_ms = std::chrono::duration<double, std::milli>(attempt.duration).count();
    if (attempt.error) a.error = std::string(code_name(*attempt.error));
    r.attempts.push_back(std::move(a));
  }

  // Usage: what the provider reported, else an estimate, flagged.
  usage::UsageResult u;
  if (s.parser) {
    u = s.parser->result();
    // Kept with the response if the cache stores it (its on_complete runs after this one).
    if (r.success && !r.cached && u.saw_end) ctx.response_usage = ResponseUsage{u.model, u.usage};
  } else if (r.cached && ctx.response_usage) {
    u.model = ctx.response_usage->model;
    u.usage = ctx.response_usage->tokens;
    u.saw_end = true;
  }
  // The request's own figures only where the response left a gap (no model named, or
  // tokens to estimate): the body was read once, before the provider call.
  if (admitted) {
    std::string_view model = u.model;
    if (model.empty() && ctx.attempt) model = ctx.attempt->model;
    if (model.empty()) model = answered_body(ctx).model;
    if (model.empty()) model = s.path_model;
    r.model = text::clip(model, text::kMaxLabelBytes);
  }
  TokenUsage tokens = u.usage;
  const bool reached_provider = ctx.upstream_started.has_value() && !r.cached;
  if (reached_provider && s.parser) {
    // A response cut off (client or provider) or a stream without usage still used tokens.
    // Cut off, a reported count may lag behind the text seen (Anthropic reports output 1 in
    // its first event): the larger figure stands.
    const std::uint64_t seen = estimate_tokens(u.output_chars);
    if ((!tokens.output && (u.output_chars > 0 || !u.saw_end)) ||
        (!u.saw_end && tokens.output && *tokens.output < seen)) {
      tokens.output = seen;
      r.estimated = true;
    }
    if (!tokens.input && tokens.output) {
      tokens.input = estimate_tokens(answered_body(ctx).prompt_chars);
      r.estimated = true;
    }
  }
  r.tokens_in = tokens.input;
  r.tokens_out = tokens.output;
  r.cached_tokens = tokens.cached_input;
  r.cache_write_tokens = tokens.cache_write;
  r.reasoning_tokens = tokens.reasoning;
  if (r.cached) {
    r.cost = 0.0;  // answered by the gateway: the provider billed nothing
  } else {
    // A client's own prices count only where the operator trusts them: otherwise a budget
    // could be made to charge nothing (metering.trust_client_cost).
    const bool custom = s.custom_cost && trusts_client_cost(ctx);
    const meter::Cost cost = meter::cost_of(tokens, prices_.find(r.provider, r.model),
                                            custom ? &*s.custom_cost : nullptr);
    r.cost = cost.usd;
    r.unpriced = cost.unpriced;
    r.custom_cost = cost.custom;
  }
  if (s.collect && s.collect_payload) {
    r.request_body = s.request_body;
    r.response_body = s.response_body;
  }
  return r;
}

void MeterStage::on_complete(RequestContext& ctx) noexcept {
  try {
    if (!ctx.meter) (void)prepare(ctx);
    LogRecord r = record_of(ctx);
    ctx.metered_tokens = TokenUsage{r.tokens_in, r.tokens_out, r.cached_tokens,
                                    r.cache_write_tokens, r.reasoning_tokens};
    ctx.metered_cost = r.cost;
    if (metrics_) {
      --metrics_->in_flight;
      if (ctx.meter->counted_stream) --metrics_->streams_in_flight;
      metrics::RequestSample m;
      m.provider = r.provider;
      m.model = r.model;
      m.status = r.status_code;
      m.cache_status = r.cache_status;
      m.tokens_in = r.tokens_in.value_or(0);
      m.tokens_out = r.tokens_out.value_or(0);
      m.tokens_cached = r.cached_tokens.value_or(0);
      m.tokens_cache_write = r.cache_write_tokens.value_or(0);
      m.tokens_reasoning = r.reasoning_tokens.value_or(0);
      m.cost = r.cost;
      m.unpriced = r.unpriced;
      m.estimated = r.estimated;
      m.duration_s = r.duration_ms / 1000;
      if (r.upstream_ms) m.upstream_s = *r.upstream_ms / 1000;
      if (r.ttfb_ms) m.ttfb_s = *r.ttfb_ms / 1000;
      if (r.attempts.size() > 1) {
        for (const LogAttempt& a : r.attempts) m.attempt_providers.push_back(a.provider);
      }
      metrics_->record(m);
    }
    // A full queue is counted by the store (aigw_log_dropped_total): never silent, never
    // blocking the worker.
    if (log_) {
      if (!ctx.meter->collect) {
        // cf-aig-collect-log: false keeps the request out of the log, not out of the
        // accounts: its spend stays, without anything the client sent (budgets rebuilt from
        // the log at start would otherwise forget it).
        r.accounting_only = true;
        r.event_id = r.id;
        r.path.clear();
        r.user_agent.clear();
        r.request_content_type.clear();
        r.response_content_type.clear();
        r.metadata.clear();
        r.attempts.clear();
        r.request_body.reset();
        r.response_body.reset();
      }
      log_->submit(std::move(r));
    }
  } catch (const std::exception& e) {
    spdlog::error("metering request {} failed: {}", ctx.id, e.what());
  }
}

}  // namespace aigw
