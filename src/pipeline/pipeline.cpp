#include "pipeline/pipeline.hpp"

#include "http/headers.hpp"
#include "pipeline/translating_downstream.hpp"
#include "request/body.hpp"
#include "router/compat.hpp"
#include "router/planner.hpp"
#include "router/router.hpp"
#include "router/routes.hpp"
#include "telemetry/request_log.hpp"

#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

namespace aigw {
namespace {

namespace beast = boost::beast;

boost::asio::awaitable<bool> ready(bool value) { co_return value; }

// Bridges forwarder events to stage hooks and the client.
class StageSink final : public ResponseSink {
 public:
  StageSink(const Pipeline& pipeline, RequestContext& ctx, Downstream& downstream)
      : pipeline_(pipeline), ctx_(ctx), downstream_(downstream) {}

  // Not coroutines: each returns the downstream's awaitable, so the hot path pays for one
  // coroutine frame per write instead of two.
  boost::asio::awaitable<bool> on_head(http::response_header<>& head,
                                       std::optional<std::uint64_t> content_length,
                                       bool head_only) override {
    const ResponseHead view{head.result_int(), !content_length && !head_only, &head};
    ctx_.head_sent = std::chrono::steady_clock::now();
    ctx_.response_content_type = field_value(head, http::field::content_type);
    ctx_.status = head.result_int();
    ctx_.streamed = view.streamed;
    for (const auto& stage : pipeline_.stages()) stage->on_response_head(ctx_, view);
    ctx_.committed = true;
    if (pipeline_.request_log()) pipeline_.request_log()->head(ctx_);
    if (client_gone_) return ready(true);
    added_ = AddedHeaders{ctx_.id, ctx_.event_id, &ctx_.response_headers};
    return downstream_.send_head(head, added_, content_length, head_only);
  }

  boost::asio::awaitable<bool> on_body(std::string_view chunk) override {
    if (ctx_.response_filter) {
      chunk = ctx_.response_filter->filter(chunk);
      if (chunk.empty()) return ready(true);  // all held back or removed: nothing to write
    }
    for (const auto& stage : pipeline_.stages()) stage->on_response_body(ctx_, chunk, false);
    if (client_gone_) return ready(true);
    ctx_.response_bytes += chunk.size();
    return downstream_.send_body(chunk);
  }

  boost::asio::awaitable<bool> on_end() override {
    if (ctx_.response_filter) return end_filtered();
    for (const auto& stage : pipeline_.stages()) stage->on_response_body(ctx_, {}, true);
    if (client_gone_) return ready(true);
    return downstream_.finish();
  }

  bool continue_without_client() override {
    if (!client_gone_) {
      bool needed = false;
      for (const auto& stage : pipeline_.stages()) {
        needed = needed || stage->needs_rest_of_response(ctx_);
      }
      if (!needed) return false;
      client_gone_ = true;
    }
    return true;
  }
  // The response was read on without the client (continue_without_client said so).
  bool client_gone() const noexcept { return client_gone_; }

 private:
  // The end of a filtered body: the filter's held-back tail goes out before the last chunk.
  boost::asio::awaitable<bool> end_filtered() {
    const std::string_view tail = ctx_.response_filter->finish();
    if (!tail.empty()) {
      for (const auto& stage : pipeline_.stages()) stage->on_response_body(ctx_, tail, false);
      if (!client_gone_) {
        ctx_.response_bytes += tail.size();
        if (!co_await downstream_.send_body(tail)) co_return false;
      }
    }
    for (const auto& stage : pipeline_.stages()) stage->on_response_body(ctx_, {}, true);
    if (client_gone_) co_return true;
    co_return co_await downstream_.finish();
  }

  const Pipeline& pipeline_;
  RequestContext& ctx_;
  Downstream& downstream_;
  AddedHeaders added_;  // outlives the send_head awaitable that references it
  bool client_gone_ = false;
};

// Every stage's on_attempt, in pipeline order, for each attempt the router makes.
class StagePreparer final : public AttemptPreparer {
 public:
  explicit StagePreparer(const Pipeline& pipeline) : pipeline_(pipeline) {}
  std::optional<Error> prepare(RequestContext& ctx, Attempt& attempt) override {
    for (const auto& stage : pipeline_.stages()) {
      if (auto refused = stage->on_attempt(ctx, attempt)) return refused;
    }
    return std::nullopt;
  }

 private:
  const Pipeline& pipeline_;
};

}  // namespace

Pipeline::Pipeline(std::shared_ptr<const Config> config,
                   std::shared_ptr<const ProviderRegistry> providers,
                   std::vector<std::shared_ptr<Stage>> stages,
                   std::shared_ptr<const RouteTable> routes,
                   std::shared_ptr<telemetry::RequestLog> request_log)
    : config_(std::move(config)),
      providers_(std::move(providers)),
      routes_(routes ? std::move(routes) : std::make_shared<const RouteTable>()),
      stages_(std::move(stages)),
      request_log_(std::move(request_log)),
      prompt_needed_(std::any_of(config_->rate_limits.begin(), config_->rate_limits.end(),
                                 [](const RateLimitRule& r) {
                                   return r.unit != RateLimitRule::Unit::kRequests;
                                 }) ||
                     !config_->budgets.empty()),
      models_(std::make_shared<const std::string>(compat_models(*config_, *providers_, *routes_))) {
}

Result<void> Pipeline::plan(RequestContext& ctx) const {
  // Read with the prompt's size at once when a token limit or budget will ask for it.
  const bool prompt = prompt_needed_;
  const std::function<const BodyFacts&()> body = [&ctx, prompt]() -> const BodyFacts& {
    return body_facts(ctx, prompt);
  };
  auto planned = aigw::plan(PlanInput{*config_, *providers_, *routes_, ctx.request, ctx.control,
                                      body, CircuitBreaker::Clock::now()});
  if (!planned) {
    const std::string_view target = ctx.request.target();
    ctx.path = std::string(target.substr(0, target.find('?')));  // logged as it came
    return planned.error();
  }
  ctx.plan = std::move(*planned);
  ctx.path = ctx.plan.path;
  if (!ctx.plan.steps.empty()) {
    ctx.provider = ctx.plan.steps.front().provider;
    ctx.provider_slug = ctx.plan.steps.front().slug;
  }
  return {};
}

boost::asio::awaitable<void> Pipeline::serve(RequestContext& ctx, Forwarder& forwarder,
                                             Downstream& downstream) const {
  // A request that already failed (malformed, too large...) still gets its ids, its error
  // response and its log record; it just skips routing and the stages' on_request.
  if (!ctx.error) {
    if (auto planned = plan(ctx); !planned) ctx.error = planned.error();
  }
  co_await respond(ctx, forwarder, downstream);
}

boost::asio::awaitable<void> Pipeline::respond(RequestContext& ctx, Forwarder& forwarder,
                                               Downstream& client) const {
  // /compat: the client hears every answer in its own API's shape (docs/compat.md).
  std::optional<TranslatingDownstream> translating;
  if (needs_translation(ctx)) translating.emplace(ctx, client);
  Downstream& downstream = translating ? static_cast<Downstream&>(*translating) : client;
  if (ctx.plan.kind == PlanKind::kModels && !ctx.error) {
    // The gateway's own list: authenticated like any request, but no provider is called,
    // so nothing is limited, cached or metered.
    for (const auto& stage : stages_) {
      if (stage->name() != "auth" || !stage->wants_request(ctx)) continue;
      co_await stage->on_request(ctx);
    }
    if (!ctx.error) {
      LocalResponse list;
      list.shared_body = models_;
      ctx.local_response = std::move(list);
    }
    co_await send_local(ctx, downstream);
    co_return;
  }
  if (!ctx.error) {
    for (const auto& stage : stages_) {
      if (!stage->wants_request(ctx)) continue;
      if (co_await stage->on_request(ctx) == Verdict::kRespond) break;
    }
  }
  if (ctx.error || ctx.local_response) {
    co_await send_local(ctx, downstream);
  } else {
    StageSink sink(*this, ctx, downstream);
    StagePreparer preparer(*this);
    auto forwarded = co_await Router().forward(ctx, forwarder, sink, downstream, preparer);
    if (!forwarded) {
      ctx.error = forwarded.error();
      if (!ctx.committed && !sink.client_gone()) co_await send_local(ctx, downstream);
    }
    if (sink.client_gone() && ctx.outcome == Outcome::kPending) {
      ctx.outcome = Outcome::kClientAbort;
    }
  }
}

boost::asio::awaitable<void> Pipeline::run(RequestContext& ctx, Forwarder& forwarder,
                                           Downstream& downstream) const {
  // A bug that throws must still end the request as one record with every stage's
  // on_complete (counters in flight, reservations): the response is cut off, not the
  // bookkeeping.
  if (request_log_) request_log_->begin(ctx);
  bool threw = false;
  try {
    co_await serve(ctx, forwarder, downstream);
  } catch (const std::exception& e) {
    threw = true;
    spdlog::error("request {} failed by exception: {}", ctx.id, e.what());
  }
  if (threw) {
    ctx.error = Error{ErrorCode::kInternal, "internal error"};
    ctx.local_response.reset();
    bool answered = false;
    if (!ctx.committed) {
      try {
        co_await send_local(ctx, downstream);
        answered = true;
      } catch (const std::exception&) {
      }
    }
    if (!answered) downstream.abort();
    ctx.outcome = Outcome::kGatewayError;
  }
  ctx.finished = std::chrono::steady_clock::now();
  if (ctx.outcome == Outcome::kPending) {
    if (ctx.error) {
      ctx.outcome = Outcome::kGatewayError;
    } else if (ctx.local_response) {
      ctx.outcome = Outcome::kLocal;
    } else {
      ctx.outcome = ctx.status < 400 ? Outcome::kSuccess : Outcome::kProviderError;
    }
  }
  for (const auto& stage : stages_) stage->on_complete(ctx);
  // Then the request's one summary: the access log, the request log and the metrics.
  if (request_log_) request_log_->finish(ctx);
}

boost::asio::awaitable<void> Pipeline::send_local(RequestContext& ctx,
                                                  Downstream& downstream) const {
  LocalResponse error_response;
  if (ctx.error) {
    error_response.status = http_status(ctx.error->code);
    error_response.body = error_body(*ctx.error);
    if (!ctx.error->retry_after.empty()) {
      error_response.headers.emplace_back("retry-after", ctx.error->retry_after);
    }
  }
  const LocalResponse& response = ctx.error ? error_response : *ctx.local_response;
  const std::string_view body =
      response.shared_body ? std::string_view(*response.shared_body) : response.body;
  http::response_header<> head;
  head.version(11);
  head.result(response.status);
  head.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) head.set(name, value);

  StageSink sink(*this, ctx, downstream);
  const bool head_only = ctx.request.method() == http::verb::head;
  std::optional<std::uint64_t> length;
  if (response.source) {
    length = response.source_length;
  } else if (!response.stream) {
    length = body.size();
  }
  if (!co_await sink.on_head(head, length, head_only)) {
    ctx.outcome = Outcome::kClientAbort;
    co_return;
  }
  if (head_only) co_return;
  if (response.source) {
    // Relayed as the source produces it, like a provider's response.
    for (;;) {
      const BodySource::Chunk chunk = co_await response.source->next();
      bool relayed = true;  // co_await outside the condition (GCC 12; client.cpp)
      if (!chunk.data.empty()) relayed = co_await sink.on_body(chunk.data);
      if (!relayed) {
        ctx.outcome = Outcome::kClientAbort;
        co_return;
      }
      if (chunk.broken) {
        ctx.outcome = Outcome::kUpstreamAbort;
        downstream.abort();
        co_return;
      }
      if (chunk.end) break;
    }
  } else {
    // A stream goes out one event per chunk, as a provider sent it (without the pauses).
    std::string_view rest = body;
    while (!rest.empty()) {
      const std::size_t end = response.stream ? rest.find("\n\n") : std::string_view::npos;
      const std::size_t n = end == std::string_view::npos ? rest.size() : end + 2;
      if (!co_await sink.on_body(rest.substr(0, n))) {
        ctx.outcome = Outcome::kClientAbort;
        co_return;
      }
      rest.remove_prefix(n);
    }
  }
  if (!co_await sink.on_end()) ctx.outcome = Outcome::kClientAbort;
}

}  // namespace aigw
