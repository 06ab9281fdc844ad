#include "router/routes.hpp"

#include "core/text.hpp"
#include "json/members.hpp"
#include "router/compat.hpp"
#include "router/fleet_breakers.hpp"
#include "router/universal.hpp"
#include "upstream/providers/usage/request_info.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace aigw {
namespace {

constexpr std::string_view kDynamicPrefix = "dynamic/";

// `endpoint` with every {model} replaced by `model` (Gemini names the model in the path).
std::string with_model(std::string_view endpoint, std::string_view model) {
  std::string out;
  for (std::size_t i = 0; i < endpoint.size();) {
    if (endpoint.substr(i).starts_with("{model}")) {
      out += model;
      i += 7;
    } else {
      out += endpoint[i++];
    }
  }
  return out;
}

bool has_header(const std::vector<std::pair<std::string, Secret>>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return text::lower(h.first) == name; });
}

// Whether `provider` gets a credential other than the client's for `target`: a stored
// default key, or its credential header set in the provider's or the target's headers.
bool has_own_credential(const Provider& provider, const RouteTargetConfig& target) {
  const auto& keys = provider.config.keys;
  if (std::any_of(keys.begin(), keys.end(), [](const auto& k) { return k.first == "default"; })) {
    return true;
  }
  const std::string& name = provider.credential.name;
  return !name.empty() &&
         (has_header(provider.config.headers, name) || has_header(target.headers, name));
}

std::string seconds_until(CircuitBreaker::TimePoint when, CircuitBreaker::TimePoint now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when - now).count();
  return std::to_string(std::max<long long>(1, (ms + 999) / 1000));
}

// A target across formats (RoutePlanInput::client): its step to the provider's own chat
// endpoint, with the client's body translated (or the error why it cannot be); nullopt for a
// target planned as before (the client's API, or an endpoint of its own).
std::optional<Result<PlannedStep>> translated_target(const RoutePlanInput& in,
                                                     const RouteTarget& target) {
  if (!in.client || in.request == nullptr || in.facts == nullptr || target.config.endpoint) {
    return std::nullopt;
  }
  const auto native = native_dialect(target.config.provider);
  if (!native || *native == *in.client) return std::nullopt;
  auto step = compat_step(
      CompatStepInput{*target.provider, target.config.provider, target.config.model, *in.client,
                      in.request->body(), *in.facts, in.policy, in.account, in.gateway,
                      in.request->find("anthropic-version") != in.request->end()});
  if (!step) return Result<PlannedStep>(step.error());
  if (target.config.max_attempts) step->retry.max_attempts = *target.config.max_attempts;
  if (target.config.request_timeout) step->retry.request_timeout = target.config.request_timeout;
  step->route_target = &target;
  // Its configured headers win over the defaults compat_step set (anthropic-version...).
  step->pinned = target.pinned;
  step->strip_client_credentials = in.route.strip_client_credentials;
  return Result<PlannedStep>(std::move(*step));
}

}  // namespace

std::shared_ptr<const RouteTable> RouteTable::build(
    const Config& config, const ProviderRegistry& providers,
    std::vector<ProviderRegistry::Problem>& problems, const std::shared_ptr<redis::Client>& redis,
    const RouteTable* previous) {
  auto table = std::make_shared<RouteTable>();
  // The old breaker of (route, target), when it watched the same provider, model and
  // endpoint with the same settings: a reload must not forget an outage.
  std::set<const CircuitBreaker*> kept;  // each old breaker goes to one new target at most
  const auto kept_breaker = [&](const RouteConfig& rc,
                                const RouteTargetConfig& tc) -> std::shared_ptr<CircuitBreaker> {
    const Route* old = previous != nullptr ? previous->find(rc.name) : nullptr;
    if (old == nullptr) return nullptr;
    for (const RouteTarget& t : old->targets) {
      if (t.breaker && t.config.provider == tc.provider && t.config.model == tc.model &&
          t.config.endpoint == tc.endpoint && t.breaker->config() == rc.breaker &&
          kept.insert(t.breaker.get()).second) {
        return t.breaker;
      }
    }
    return nullptr;
  };
  std::shared_ptr<FleetBreakers> fleet;
  if (redis) fleet = std::make_shared<FleetBreakers>(redis);
  table->fleet_ = fleet;
  for (const RouteConfig& rc : config.routes) {
    auto route = std::make_unique<Route>();
    route->name = rc.name;
    const std::string at = "routes." + rc.name;
    std::set<std::string> slugs;
    for (std::size_t i = 0; i < rc.targets.size(); ++i) {
      const RouteTargetConfig& tc = rc.targets[i];
      const std::string path = at + ".targets[" + std::to_string(i) + "]";
      RouteTarget target;
      target.config = tc;
      target.provider = providers.find(tc.provider);
      if (target.provider == nullptr) {
        std::string known;
        for (const auto& slug : providers.slugs()) known += (known.empty() ? "" : ", ") + slug;
        problems.push_back({tc.provider_mark, path + ".provider",
                            "unknown provider '" + tc.provider + "'; known providers: " + known});
      }
      if (tc.endpoint) {
        const std::string endpoint = with_model(*tc.endpoint, tc.model);
        if (const std::string problem = endpoint_problem(endpoint); !problem.empty()) {
          problems.push_back({tc.endpoint_mark, path + ".endpoint",
                              "'" + endpoint + "' " + problem +
                                  "; it must be a path under the provider's base URL, like "
                                  "chat/completions"});
        }
      }
      target.label = std::to_string(i) + " " + tc.provider + "/" + tc.model;
      if (rc.breaker.enabled) {
        target.breaker = kept_breaker(rc, tc);
        if (!target.breaker) target.breaker = std::make_shared<CircuitBreaker>(rc.breaker);
      }
      if (target.breaker && fleet && config.in_redis(rc.breaker.store)) {
        target.fleet = true;
        target.fleet_key = fleet->key_of(rc.name, i);
        route->fleet = fleet.get();
      }
      for (const auto& header : tc.headers) target.pinned.push_back(text::lower(header.first));
      slugs.insert(tc.provider);
      route->targets.push_back(std::move(target));
    }
    // A route over several providers must not hand one provider's key to another: each needs
    // a credential of its own, unless the config says they all take the client's.
    route->strip_client_credentials = slugs.size() > 1 && !rc.share_client_credentials;
    if (route->strip_client_credentials) {
      for (std::size_t i = 0; i < route->targets.size(); ++i) {
        const RouteTarget& t = route->targets[i];
        if (t.provider == nullptr || has_own_credential(*t.provider, t.config)) continue;
        problems.push_back(
            {t.config.mark, at + ".targets[" + std::to_string(i) + "]",
             "this route calls " + std::to_string(slugs.size()) +
                 " providers, so the client's credential would reach all of them: give '" +
                 t.config.provider + "' a key of its own (providers." + t.config.provider +
                 ".keys.default, or its credential header in the target's headers), or set " + at +
                 ".share_client_credentials: true if every provider takes the same key"});
      }
    }
    table->routes_.push_back(std::move(route));
  }
  return table;
}

const Route* RouteTable::find(std::string_view name) const noexcept {
  const auto it = std::lower_bound(routes_.begin(), routes_.end(), name,
                                   [](const auto& r, std::string_view n) { return r->name < n; });
  return it != routes_.end() && (*it)->name == name ? it->get() : nullptr;
}

std::string RouteTable::names() const {
  std::string out;
  for (const auto& r : routes_) out += (out.empty() ? "" : ", ") + r->name;
  return out;
}

std::optional<std::string_view> dynamic_route_name(std::string_view model) noexcept {
  if (!model.starts_with(kDynamicPrefix)) return std::nullopt;
  return model.substr(kDynamicPrefix.size());
}

Result<std::vector<PlannedStep>> plan_route(const RoutePlanInput& in) {
  const Route& route = in.route;
  thread_local std::minstd_rand rng(std::random_device{}());
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const auto order = plan_order(route, [&] { return uniform(rng); });
  std::optional<CircuitBreaker::TimePoint> reopens;  // the soonest an open target probes
  std::optional<Error> untranslatable;               // the first target's that could not be
  std::vector<PlannedStep> steps;
  steps.reserve(order.size());
  for (const std::size_t index : order) {
    const RouteTarget& target = route.targets[index];
    if (target.breaker && !target.breaker->would_admit(in.now)) {
      const auto until = target.breaker->open_until();
      if (!reopens || until < *reopens) reopens = until;
      continue;
    }
    if (auto translated = translated_target(in, target)) {
      if (*translated) {
        steps.push_back(std::move(**translated));
      } else {
        spdlog::debug("route '{}' target {}: left out: {}", route.name, target.label,
                      translated->error().detail);
        if (!untranslatable) untranslatable = translated->error();
      }
      continue;
    }
    PlannedStep step;
    step.provider = target.provider;
    step.slug = target.config.provider;
    step.retry = in.policy;
    if (target.config.max_attempts) step.retry.max_attempts = *target.config.max_attempts;
    if (target.config.request_timeout) step.retry.request_timeout = target.config.request_timeout;
    step.route_target = &target;
    step.model = target.config.model;
    step.pinned = target.pinned;
    step.strip_client_credentials = route.strip_client_credentials;
    std::string endpoint;
    std::string endpoint_query(in.query);
    if (target.config.endpoint) {
      endpoint = with_model(*target.config.endpoint, target.config.model);
      if (endpoint.starts_with('/')) endpoint.erase(0, 1);
      if (const auto qmark = endpoint.find('?'); qmark != std::string::npos) {
        endpoint_query = endpoint.substr(qmark + 1);
        endpoint.resize(qmark);
      }
    } else {
      endpoint = std::string(in.rest);
    }
    if (endpoint.empty()) {
      return Error{ErrorCode::kInvalidPath,
                   "route '" + route.name + "': target " + target.label +
                       " has no endpoint and the request names none; call /route/" + route.name +
                       "/chat/completions (or the provider's path), or set the target's endpoint"};
    }
    auto mapped = target.provider->adapter->map(
        MapInput{endpoint, endpoint_query, in.account, in.gateway}, target.provider->base);
    if (!mapped) {
      return Error{mapped.error().code, "route '" + route.name + "', target " + target.label +
                                            ": " + mapped.error().detail};
    }
    step.target = std::move(*mapped);
    const std::string_view upstream_path =
        std::string_view(step.target.target).substr(0, step.target.target.find('?'));
    step.usage_format = step.provider->adapter->usage_format(upstream_path);
    step.path_model = usage::model_from_path(step.usage_format, upstream_path);
    steps.push_back(std::move(step));
  }
  if (steps.empty() && untranslatable) {
    Error error = *untranslatable;
    error.detail = "route '" + route.name + "': no target can take this request: " + error.detail;
    return error;
  }
  if (steps.empty()) {
    const std::string wait = reopens ? seconds_until(*reopens, in.now) : "1";
    Error error{ErrorCode::kRouteUnavailable,
                "route '" + route.name +
                    "': every target is skipped after repeated failures (circuit breaker "
                    "open); retry after " +
                    wait + "s"};
    error.retry_after = wait;
    return error;
  }
  return steps;
}

void write_model(std::string& body, std::string_view model) {
  if (const auto members = json::top_level_members(body)) {
    if (const json::Member* named = json::last_named(*members, body, "model")) {
      std::string quoted;
      json::append_quoted(quoted, model);
      body.replace(named->value_begin, named->value_end - named->value_begin, quoted);
    }
  }
}

void record_breaker(const Route& route_, const RouteTarget& target, bool ok, bool probe,
                    const boost::asio::any_io_executor& executor) {
  if (!target.breaker) return;
  const std::string_view route = route_.name;
  if (target.fleet && route_.fleet != nullptr) {
    // The fleet counts the failures; a probe's answer is also this instance's at once.
    route_.fleet->record(executor, route_, target, ok, probe);
    if (!probe) return;
  }
  const auto change = target.breaker->record(ok, probe, CircuitBreaker::Clock::now());
  switch (change) {
    case CircuitBreaker::Change::kNone:
      break;
    case CircuitBreaker::Change::kOpened:
      spdlog::warn("route '{}' target {}: circuit breaker open after {} failed attempts", route,
                   target.label, target.breaker->config().failures);
      break;
    case CircuitBreaker::Change::kReopened:
      spdlog::warn("route '{}' target {}: probe failed; circuit breaker open again", route,
                   target.label);
      break;
    case CircuitBreaker::Change::kClosed:
      spdlog::info("route '{}' target {}: probe answered; circuit breaker closed", route,
                   target.label);
      break;
  }
}

}  // namespace aigw
