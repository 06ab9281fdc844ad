#include "router/planner.hpp"

#include "core/retry_settings.hpp"
#include "core/text.hpp"
#include "router/compat.hpp"
#include "router/routes.hpp"
#include "router/universal.hpp"
#include "upstream/providers/usage/request_info.hpp"

#include <boost/beast/core/string.hpp>

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

// The route `name` (404 naming the configured ones when there is none); `how` says how the
// client named it, for that message.
Result<Plan> route_plan(const PlanInput& in, Plan plan, const RetryConfig& policy,
                        std::string_view name, std::string_view how, std::string_view rest,
                        std::string_view query) {
  const Route* route = in.routes.find(name);
  if (route == nullptr) {
    return Error{ErrorCode::kRouteNotFound,
                 "no route named '" + text::clip(name, 100) + "'" + std::string(how),
                 in.routes.empty() ? "no routes are configured (routes in the config)"
                                   : "configured routes: " + in.routes.names()};
  }
  if (how.empty()) {  // by path: the body is checked once the route is known
    if (auto checked = check_json(in); !checked) return checked.error();
  }
  // Logged under the route whichever way it was called; the attempts name the targets.
  plan.path.assign("/route/").append(route->name);
  if (!rest.empty()) plan.path.append("/").append(rest);
  // Called on a chat path, the route knows its client's API: a target on a provider that
  // speaks another gets the body translated (docs/compat.md, "Routes across formats").
  RoutePlanInput route_in{*route,       rest,   query,        policy,  plan.account,
                          plan.gateway, in.now, std::nullopt, nullptr, nullptr};
  if (const auto client = compat_dialect(rest); client && in.request.method() == http::verb::post) {
    route_in.client = client;
    route_in.request = &in.request;
    route_in.facts = &in.body();
    if (*client != Dialect::kOpenAiChat) plan.client_dialect = client;
  }
  auto steps = plan_route(route_in);
  if (!steps) return steps.error();
  plan.kind = PlanKind::kRoute;
  plan.route = route;
  plan.steps = std::move(*steps);
  return plan;
}

}  // namespace

Result<void> check_json(const PlanInput& in) {
  const std::string& body = in.request.body();
  if (body.empty()) return {};
  const std::string_view content_type = field_value(in.request, http::field::content_type);
  const bool strict = in.config.server.validate_json && is_json_content_type(content_type);
  // A JSON object is read by the gateway (model, stream, max_tokens) whatever its declared
  // type, so its keys are checked for duplicates whenever it looks like one.
  const auto first = body.find_first_not_of(" \t\r\n");
  const bool object = first != std::string::npos &&
                      (body[first] == '{' || body.compare(first, 3, "\xEF\xBB\xBF") == 0);
  if (!object && !strict) return {};
  const BodyFacts& facts = in.body();
  if (!facts.json && strict) {
    return Error{ErrorCode::kInvalidJson, "request body is not valid JSON (Content-Type: " +
                                              text::clip(content_type, 100) + ")"};
  }
  if (!facts.duplicate_key.empty()) {
    return Error{ErrorCode::kInvalidJson, "request body has the key '" +
                                              text::clip(facts.duplicate_key, 100) +
                                              "' more than once; send each key once"};
  }
  return {};
}

PlannedStep provider_step(const Provider& provider, std::string_view slug, UpstreamTarget target,
                          const RetryConfig& policy) {
  PlannedStep step;
  step.provider = &provider;
  step.slug = std::string(slug);
  step.target = std::move(target);
  step.retry = policy;
  const std::string_view upstream_path =
      std::string_view(step.target.target).substr(0, step.target.target.find('?'));
  step.usage_format = provider.adapter->usage_format(upstream_path);
  step.path_model = usage::model_from_path(step.usage_format, upstream_path);
  return step;
}

Result<RetryConfig> retry_policy(const std::vector<std::pair<std::string, std::string>>& control,
                                 const RetryConfig& defaults) {
  RetryConfig policy = defaults;
  for (const RetrySetting setting : kRetrySettings) {
    const std::string_view name = retry_header_name(setting);
    for (const auto& [n, v] : control) {
      if (n != name) continue;
      if (auto problem = apply_retry_header(setting, v, policy)) {
        return Error{ErrorCode::kInvalidHeader, std::string(name) + " must be " + *problem +
                                                    " (got '" + text::clip(v, 64) + "')"};
      }
    }
  }
  return policy;
}

Result<Plan> plan(const PlanInput& in) {
  const std::string_view target = in.request.target();
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query = qmark == std::string_view::npos ? "" : target.substr(qmark + 1);
  if (path.empty() || path.front() != '/') {
    return Error{ErrorCode::kRouteNotFound, "request target must be an absolute path"};
  }
  auto policy = retry_policy(in.control, in.config.upstream.retry);
  if (!policy) return policy.error();

  Plan plan;
  plan.path = std::string(path);
  // The universal endpoint, POST / or /v1/{account}/{gateway}: its body lists the steps.
  if (in.request.method() == http::verb::post && is_universal_path(path)) {
    if (path != "/") {
      auto [account, after_account] = split_first(path.substr(3));
      plan.account = std::string(account);
      plan.gateway = std::string(split_first(after_account).first);
    }
    auto steps =
        read_universal(UniversalInput{in.request, in.providers, *policy,
                                      in.config.upstream.max_steps, plan.account, plan.gateway});
    if (!steps) return steps.error();
    plan.kind = PlanKind::kUniversal;
    plan.steps = std::move(*steps);
    return plan;
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
                   "no route for " + text::clip(path, 200) +
                       ": use /v1/{account}/{gateway}/{provider}/... or /{provider}/..."};
    }
    plan.account = std::string(account);
    plan.gateway = std::string(gateway);
    first = slug;
    rest = provider_rest;
  }
  if (first.empty()) {
    return Error{ErrorCode::kRouteNotFound,
                 "no route for /: use /{provider}/... or /v1/{account}/{gateway}/{provider}/..."};
  }

  // A named route, by path (/route/{name}/...; no provider is called "route") or by a body
  // naming "model": "dynamic/{name}" on any provider's path or Cloudflare's /compat/.
  if (first == "route") {
    auto [name, route_rest] = split_first(rest);
    return route_plan(in, std::move(plan), *policy, name, "", route_rest, query);
  }
  // A dynamic/ model: only a body that has the text at all is read for it.
  if (!in.routes.empty() && in.request.method() == http::verb::post &&
      in.request.body().find("dynamic/") != std::string::npos) {
    if (auto checked = check_json(in); !checked) return checked.error();
    if (const auto name = dynamic_route_name(in.body().model)) {
      const std::string how = " (model dynamic/" + std::string(*name) + ")";
      return route_plan(in, std::move(plan), *policy, *name, how, rest, query);
    }
  }

  if (first == "compat") return compat_plan(in, std::move(plan), *policy, rest);

  const Provider* provider = in.providers.find(first);
  if (provider == nullptr) {
    // The client (perhaps not yet authenticated) learns the public slugs only; the
    // configured ones go to the operator's log.
    return Error{ErrorCode::kUnknownProvider,
                 "unknown provider '" + text::clip(first, 100) + "'; built-in providers: " +
                     builtin_list() + ", or a custom-{name} provider configured on this gateway",
                 "configured providers: " + configured_list(in.providers)};
  }
  auto mapped =
      provider->adapter->map(MapInput{rest, query, plan.account, plan.gateway}, provider->base);
  if (!mapped) return mapped.error();
  if (auto checked = check_json(in); !checked) return checked.error();  // at most one read
  plan.steps.push_back(provider_step(*provider, first, std::move(*mapped), *policy));
  // The gateway's own errors in the provider's shape, so its SDK reads them (an Anthropic
  // or Gemini client; OpenAI's is the default shape).
  plan.client_dialect = provider_client_dialect(first);
  return plan;
}

}  // namespace aigw
