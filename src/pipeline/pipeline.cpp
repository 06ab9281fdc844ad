#include "pipeline/pipeline.hpp"

#include "core/json_check.hpp"
#include "core/text.hpp"
#include "pipeline/headers.hpp"
#include "router/router.hpp"
#include "router/routes.hpp"
#include "router/universal.hpp"
#include "stages/access_log/access_log_stage.hpp"
#include "stages/auth/auth_stage.hpp"
#include "stages/byok/byok_stage.hpp"
#include "stages/cache/cache_stage.hpp"
#include "stages/meter/meter_stage.hpp"
#include "stages/rate_limit/rate_limit_stage.hpp"

#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

namespace aigw {
namespace {

namespace beast = boost::beast;

// Splits "/a/b/c" into its first segment and the rest ("a", "b/c").
std::pair<std::string_view, std::string_view> split_first(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  const auto slash = path.find('/');
  if (slash == std::string_view::npos) return {path, {}};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// The built-in provider slugs (public: docs/providers.md), comma-separated.
const std::string& builtin_list() {
  static const std::string list = [] {
    std::string out;
    for (const auto& slug : ProviderRegistry::builtin_slugs()) {
      if (!out.empty()) out += ", ";
      out += slug;
    }
    return out;
  }();
  return list;
}

std::string configured_list(const ProviderRegistry& providers) {
  std::string out;
  for (const auto& slug : providers.slugs()) {
    if (!out.empty()) out += ", ";
    out += slug;
  }
  return out;
}

bool is_json_content_type(std::string_view value) {
  // application/json, application/json; charset=utf-8, application/vnd.x+json
  const auto semi = value.find(';');
  std::string_view media = value.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  if (beast::iequals(media, "application/json")) return true;
  return media.size() > 5 && beast::iequals(media.substr(media.size() - 5), "+json");
}

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
    for (const auto& stage : pipeline_.stages()) stage->on_response_head(ctx_, view);
    ctx_.status = head.result_int();
    ctx_.streamed = view.streamed;
    ctx_.committed = true;
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

}  // namespace

Pipeline::Pipeline(std::shared_ptr<const Config> config,
                   std::shared_ptr<const ProviderRegistry> providers,
                   std::vector<std::shared_ptr<Stage>> stages,
                   std::shared_ptr<const RouteTable> routes)
    : config_(std::move(config)),
      providers_(std::move(providers)),
      routes_(routes ? std::move(routes) : std::make_shared<const RouteTable>()),
      stages_(std::move(stages)) {}

Result<void> Pipeline::route(RequestContext& ctx) const {
  const std::string_view target = ctx.request.target();
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query = qmark == std::string_view::npos ? "" : target.substr(qmark + 1);
  ctx.path = std::string(path);
  if (path.empty() || path.front() != '/') {
    return Error{ErrorCode::kRouteNotFound, "request target must be an absolute path", false};
  }

  auto policy = retry_policy(ctx, config_->upstream.retry);
  if (!policy) return policy.error();
  ctx.retry = *policy;

  // The universal endpoint, POST / or /v1/{account}/{gateway}: its body lists the steps.
  if (ctx.request.method() == http::verb::post && is_universal_path(path)) {
    if (path != "/") {
      auto [account, after_account] = split_first(path.substr(3));
      ctx.account = std::string(account);
      ctx.gateway = std::string(split_first(after_account).first);
    }
    auto steps = parse_universal(ctx, *providers_, ctx.retry, config_->upstream.max_steps);
    if (!steps) return steps.error();
    ctx.steps = std::move(*steps);
    // The whole step list is what the client asked for: the cache keys on it, never on the
    // step that happens to answer (which would serve another step's answer to a plain
    // request equal to step 0).
    ctx.universal_body = std::move(ctx.request.body());
    enter_step(ctx, 0);
    return {};
  }

  // Long form /v1/{account}/{gateway}/{provider}/{rest} (Cloudflare's URL) or short form
  // /{provider}/{rest}. No provider is called "v1", so the first segment tells them apart.
  auto [first, rest] = split_first(path);
  if (first == "v1") {
    auto [account, after_account] = split_first(rest);
    auto [gateway, after_gateway] = split_first(after_account);
    auto [slug, provider_rest] = split_first(after_gateway);
    if (account.empty() || gateway.empty() || slug.empty()) {
      return Error{ErrorCode::kRouteNotFound,
                   "no route for " + std::string(path) +
                       ": use /v1/{account}/{gateway}/{provider}/... or /{provider}/...",
                   false};
    }
    ctx.account = std::string(account);
    ctx.gateway = std::string(gateway);
    first = slug;
    rest = provider_rest;
  }
  if (first.empty()) {
    return Error{ErrorCode::kRouteNotFound,
                 "no route for /: use /{provider}/... or /v1/{account}/{gateway}/{provider}/...",
                 false};
  }

  // A named route, by path (/route/{name}/...; no provider is called "route") or by a body
  // naming "model": "dynamic/{name}" on any provider's path or Cloudflare's /compat/.
  if (first == "route") {
    auto [name, route_rest] = split_first(rest);
    if (auto checked = check_json(ctx); !checked) return checked;
    return enter_named_route(ctx, name, "", route_rest, query);
  }
  // Checked before the body is read for a dynamic/ model (and then not again below).
  const bool checked_early = !routes_->empty() && ctx.request.method() == http::verb::post;
  if (checked_early) {
    if (auto checked = check_json(ctx); !checked) return checked;
    if (const auto name = dynamic_route_name(ctx.request.body())) {
      return enter_named_route(ctx, std::string(*name),
                               " (model dynamic/" + std::string(*name) + ")", rest, query);
    }
  }

  ctx.provider_slug = std::string(first);
  ctx.provider = providers_->find(first);
  if (ctx.provider == nullptr) {
    // The client (perhaps not yet authenticated) learns the public slugs only; the
    // configured ones go to the operator's log.
    return Error{ErrorCode::kUnknownProvider,
                 "unknown provider '" + text::clip(first, 100) + "'; built-in providers: " +
                     builtin_list() + ", or a custom-{name} provider configured on this gateway" +
                     (first == "compat" ? " (aigw's /compat/ takes only \"model\": "
                                          "\"dynamic/{route}\", for a route in routes)"
                                        : ""),
                 false, "configured providers: " + configured_list(*providers_)};
  }
  auto mapped = ctx.provider->adapter->map(MapInput{rest, query, ctx.account, ctx.gateway},
                                           ctx.provider->base);
  if (!mapped) return mapped.error();
  ctx.target = std::move(*mapped);
  return checked_early ? Result<void>() : check_json(ctx);
}

Result<void> Pipeline::check_json(const RequestContext& ctx) const {
  const std::string& body = ctx.request.body();
  if (body.empty()) return {};
  const auto content_type = headers::value_of(ctx.request, http::field::content_type);
  const bool declared = is_json_content_type(content_type);
  // A JSON object is read by the gateway (model, stream, max_tokens) whatever its declared
  // type, so its keys are checked for duplicates whenever it looks like one.
  const auto first = body.find_first_not_of(" \t\r\n");
  const bool object = first != std::string::npos && body[first] == '{';
  if (!object && !(declared && config_->server.validate_json)) return {};
  const json::Checked checked = json::check(body);
  if (!checked.valid && declared && config_->server.validate_json) {
    return Error{
        ErrorCode::kInvalidJson,
        "request body is not valid JSON (Content-Type: " + text::clip(content_type, 100) + ")",
        false};
  }
  if (!checked.duplicate_key.empty()) {
    return Error{ErrorCode::kInvalidJson,
                 "request body has the key '" + text::clip(checked.duplicate_key, 100) +
                     "' more than once; send each key once",
                 false};
  }
  return {};
}

Result<void> Pipeline::enter_named_route(RequestContext& ctx, std::string_view name,
                                         std::string_view how, std::string_view rest,
                                         std::string_view query) const {
  const Route* route = routes_->find(name);
  if (route == nullptr) {
    return Error{ErrorCode::kRouteNotFound,
                 "no route named '" + text::clip(name, 100) + "'" + std::string(how), false,
                 routes_->empty() ? "no routes are configured (routes in the config)"
                                  : "configured routes: " + routes_->names()};
  }
  // Logged under the route whichever way it was called; the attempts name the targets.
  ctx.path.assign("/route/").append(route->name);
  if (!rest.empty()) ctx.path.append("/").append(rest);
  return enter_route(ctx, *route, rest, query, ctx.retry);
}

boost::asio::awaitable<void> Pipeline::serve(RequestContext& ctx, Forwarder& forwarder,
                                             Downstream& downstream) const {
  // A request that already failed (malformed, too large...) still gets its ids, its error
  // response and its log record; it just skips routing and the stages' on_request.
  if (!ctx.error) {
    if (auto routed = route(ctx); !routed) ctx.error = routed.error();
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
    auto forwarded = co_await Router().forward(ctx, forwarder, sink, downstream);
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
  bool threw = false;
  try {
    co_await serve(ctx, forwarder, downstream);
  } catch (const std::exception& e) {
    threw = true;
    spdlog::error("request {} failed by exception: {}", ctx.id, e.what());
  }
  if (threw) {
    ctx.error = Error{ErrorCode::kInternal, "internal error", false};
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
}

boost::asio::awaitable<void> Pipeline::send_local(RequestContext& ctx,
                                                  Downstream& downstream) const {
  LocalResponse error_response;
  if (ctx.error) {
    error_response.status = http_status(ctx.error->code);
    error_response.body = error_body(*ctx.error);
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
      if (!chunk.data.empty() && !co_await sink.on_body(chunk.data)) {
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

std::vector<std::shared_ptr<Stage>> build_stages(const Config& config, const Telemetry& telemetry) {
  std::vector<std::shared_ptr<Stage>> stages;
  // Order matters. Authentication first: nothing else runs for a request without a valid
  // gateway token (and a cache hit is served only to one with it). The router joins in a
  // later issue. Metering comes
  // before the cache: it refuses bad metadata and custom-cost headers on hits too, and the
  // cache keys on whether it rewrote the body. The access log goes last so its on_complete
  // sees what every other stage recorded.
  if (auto auth = AuthStage::create(config)) stages.push_back(std::move(auth));
  // Stored provider keys right after authentication: only an authenticated request gets one,
  // and the cache scopes its entries by the credential actually sent.
  stages.push_back(std::make_shared<ByokStage>());
  if (config.metering.enabled) {
    stages.push_back(std::make_shared<MeterStage>(config, telemetry.metrics, telemetry.log));
  }
  if (auto cache = CacheStage::create(config.cache)) stages.push_back(std::move(cache));
  // After the cache: hits and coalesced followers never reach the provider and, as on
  // Cloudflare, consume neither rate limits nor budgets.
  if (auto limits = RateLimitStage::create(config, telemetry.log)) {
    stages.push_back(std::move(limits));
  }
  if (auto log = AccessLogStage::create(config.logging)) stages.push_back(std::move(log));
  return stages;
}

}  // namespace aigw
