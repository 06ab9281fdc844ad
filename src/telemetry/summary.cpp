#include "telemetry/summary.hpp"

#include "core/text.hpp"

#include <boost/beast/http/field.hpp>

#include <chrono>
#include <optional>

namespace aigw::telemetry {
namespace {

using namespace std::chrono;

using Seconds = duration<double>;

// A request's spans, for the summary (in ms) and the metrics sample (in s) alike.
struct Spans {
  Seconds total{};
  std::optional<Seconds> ttfb;      // as the client saw it: arrival to the response head
  std::optional<Seconds> upstream;  // the first attempt's start to the end
};

Spans spans_of(const RequestContext& ctx) {
  const SteadyTime end = ctx.finished.value_or(steady_clock::now());
  Spans s;
  s.total = end - ctx.started;
  if (ctx.head_sent) s.ttfb = *ctx.head_sent - ctx.started;
  if (ctx.upstream_started) s.upstream = end - *ctx.upstream_started;
  return s;
}

double ms(Seconds d) { return duration<double, std::milli>(d).count(); }

// The model a request is recorded under: the metering stage's (the response's, else the
// request's), else what the answering attempt or the first step asks for.
std::string_view model_of(const RequestContext& ctx) {
  if (ctx.metered && !ctx.metered->model.empty()) return ctx.metered->model;
  if (ctx.attempt && !ctx.attempt->model.empty()) return ctx.attempt->model;
  if (!ctx.plan.steps.empty()) {
    const PlannedStep& first = ctx.plan.steps.front();
    if (!first.model.empty()) return first.model;
    const BodyFacts* facts = first.body_facts ? first.body_facts.get() : ctx.body.get();
    if (facts != nullptr && !facts->model.empty()) return facts->model;
    return first.path_model;
  }
  return {};
}

// The provider that answered (else the first the plan named); never unmatched client text.
std::string_view provider_of(const RequestContext& ctx) {
  if (ctx.attempt) return ctx.attempt->slug;
  if (ctx.provider != nullptr) return ctx.provider_slug;
  return {};
}

// Whether what the client chose (model, metadata, payloads) may be recorded: routed, and
// authenticated when auth is on (docs/security.md).
bool admitted(const RequestContext& ctx, bool auth_enabled) {
  return ctx.provider != nullptr && (!auth_enabled || ctx.authenticated);
}

}  // namespace

RequestSummary summarize(const RequestContext& ctx, bool auth_enabled) {
  RequestSummary summary;
  summary.client_ip = ctx.client_ip;
  LogRecord& r = summary.record;
  r.id = ctx.id;
  r.event_id = ctx.event_id;
  r.created_at = duration_cast<milliseconds>(ctx.started_wall.time_since_epoch()).count();
  r.provider = provider_of(ctx);
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
  if (ctx.error) {
    r.error_code = std::string(code_name(ctx.error->code));
    summary.error_detail = text::clip(ctx.error->detail, 1024);
    if (!ctx.error->internal.empty()) {
      summary.error_detail += " [" + text::clip(ctx.error->internal, 1024) + "]";
    }
  }
  r.streamed = ctx.streamed;
  const Spans spans = spans_of(ctx);
  r.duration_ms = ms(spans.total);
  if (spans.ttfb) r.ttfb_ms = ms(*spans.ttfb);
  if (spans.upstream) r.upstream_ms = ms(*spans.upstream);
  r.user_agent =
      text::clip(field_value(ctx.request, http::field::user_agent), text::kMaxLabelBytes);
  r.request_content_type = text::clip(field_value(ctx.request, http::field::content_type), 128);
  r.response_content_type = text::clip(ctx.response_content_type, 128);
  r.request_size = ctx.request_bytes;
  r.response_size = ctx.response_bytes;
  if (ctx.virtual_key != nullptr) r.key = ctx.virtual_key->name;
  // Path segments as the client sent them (bounded by the header limit, clipped here).
  r.account = text::clip(ctx.plan.account, text::kMaxLabelBytes);
  r.gateway = text::clip(ctx.plan.gateway, text::kMaxLabelBytes);
  for (const AttemptRecord& attempt : ctx.attempt_log) {
    LogAttempt a;
    a.provider = attempt.provider;
    a.model = attempt.model;
    a.status = static_cast<std::uint16_t>(attempt.status);
    a.duration_ms = duration<double, std::milli>(attempt.duration).count();
    if (attempt.error) a.error = std::string(code_name(*attempt.error));
    r.attempts.push_back(std::move(a));
  }
  if (admitted(ctx, auth_enabled)) {
    r.model = text::clip(model_of(ctx), text::kMaxLabelBytes);
    r.metadata = ctx.log.metadata;
    if (ctx.log.collect && ctx.log.collect_payload) {
      r.request_body = ctx.log.request_body;
      r.response_body = ctx.log.response_body;
    }
  }
  if (ctx.metered) {
    const TokenUsage& t = ctx.metered->tokens;
    r.tokens_in = t.input;
    r.tokens_out = t.output;
    r.cached_tokens = t.cached_input;
    r.cache_write_tokens = t.cache_write;
    r.reasoning_tokens = t.reasoning;
    r.cost = ctx.metered->cost;
    r.estimated = ctx.metered->estimated;
    r.unpriced = ctx.metered->unpriced;
    r.custom_cost = ctx.metered->custom_cost;
  }
  return summary;
}

metrics::RequestSample sample(const RequestContext& ctx, bool auth_enabled) {
  metrics::RequestSample m;
  m.provider = provider_of(ctx);
  if (admitted(ctx, auth_enabled)) m.model = model_of(ctx);
  m.status = static_cast<std::uint16_t>(ctx.status);
  m.cache_status = cache_status_name(ctx.cache.status);
  if (ctx.metered) {
    const TokenUsage& t = ctx.metered->tokens;
    m.tokens_in = t.input.value_or(0);
    m.tokens_out = t.output.value_or(0);
    m.tokens_cached = t.cached_input.value_or(0);
    m.tokens_cache_write = t.cache_write.value_or(0);
    m.tokens_reasoning = t.reasoning.value_or(0);
    m.cost = ctx.metered->cost;
    m.unpriced = ctx.metered->unpriced;
    m.estimated = ctx.metered->estimated;
  }
  const Spans spans = spans_of(ctx);
  m.duration_s = spans.total.count();
  if (spans.upstream) m.upstream_s = spans.upstream->count();
  if (spans.ttfb) m.ttfb_s = spans.ttfb->count();
  if (ctx.attempt_log.size() > 1) {
    for (const AttemptRecord& a : ctx.attempt_log) m.attempt_providers.push_back(a.provider);
  }
  return m;
}

void keep_accounting_only(LogRecord& r) {
  // cf-aig-collect-log: false keeps the request out of the log, not out of the accounts: its
  // spend stays, without anything the client sent (budgets rebuilt from the log at start
  // would otherwise forget it).
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

}  // namespace aigw::telemetry
