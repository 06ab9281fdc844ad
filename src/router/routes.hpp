#pragma once
// Named routes (`routes.<name>`, docs/routing.md): the gateway's own "try A, then B" with
// load balancing and health, reached by /route/{name}/... or by a body whose "model" is
// "dynamic/{name}" (Cloudflare's dynamic-route call). A request to a route becomes a list of
// steps, one per target, in the order this file plans: by priority, then in weighted random
// order among the targets of one priority, without the targets whose circuit breaker is
// open. The router walks the steps like a universal request's.

#include "aigw/attempt.hpp"
#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/provider.hpp"

#include "router/breaker.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace aigw {

namespace redis {
class Client;
}
class FleetBreakers;

struct RouteTarget {
  RouteTargetConfig config;
  const Provider* provider = nullptr;
  std::string label;  // "0 openai/gpt-4o", for logs
  // Null with breaker.enabled: false. Shared with the table a reload builds when the route,
  // the target's provider, model and endpoint and the breaker settings are unchanged.
  std::shared_ptr<CircuitBreaker> breaker;
  std::vector<std::string> pinned;  // lower-case names of config.headers
  // The breaker is the fleet's, kept in Redis under this key stem (fleet_breakers.hpp).
  bool fleet = false;
  std::string fleet_key;
};

struct Route {
  std::string name;
  std::vector<RouteTarget> targets;
  // Targets on several providers and no share_client_credentials: the client's credential
  // headers are removed from every target's request (each provider has its own key).
  bool strip_client_credentials = false;
  // Breakers shared through Redis (null when none of this route's is).
  const FleetBreakers* fleet = nullptr;
};

class RouteTable {
 public:
  // Every route of the config, with its targets' providers found in `providers`. Problems
  // (an unknown provider, an endpoint outside the provider's base, a route that would hand
  // the client's credential to another provider) are returned, not thrown, like the
  // registry's, so --check-config prints them all.
  // `redis`: where breakers with breaker.store in Redis are shared (null: none is).
  // `previous` (a reload): the table whose breakers carry over where unchanged.
  static std::shared_ptr<const RouteTable> build(const Config& config,
                                                 const ProviderRegistry& providers,
                                                 std::vector<ProviderRegistry::Problem>& problems,
                                                 const std::shared_ptr<redis::Client>& redis = {},
                                                 const RouteTable* previous = nullptr);

  const Route* find(std::string_view name) const noexcept;
  bool empty() const noexcept { return routes_.empty(); }
  const std::vector<std::unique_ptr<Route>>& routes() const noexcept { return routes_; }
  // "a, b, c", for the 404 of an unknown route.
  std::string names() const;

 private:
  std::vector<std::unique_ptr<Route>> routes_;  // sorted by name; pointers stay put
  std::shared_ptr<const FleetBreakers> fleet_;
};

// The order the targets of `route` are tried in: ascending priority; among targets of one
// priority a weighted random order (each next one drawn with probability weight / the
// remaining weights). `uniform` returns numbers in [0, 1). Pure: tested without sockets.
template <class Uniform>
std::vector<std::size_t> plan_order(const Route& route, Uniform&& uniform);

// The name of the route a body's "model" names ("dynamic/{name}"), or nullopt.
std::optional<std::string_view> dynamic_route_name(std::string_view model) noexcept;

struct RoutePlanInput {
  const Route& route;
  std::string_view rest;   // the path under each provider ("chat/completions"), as sent
  std::string_view query;  // the client's query string
  const RetryConfig& policy;
  std::string_view account;
  std::string_view gateway;
  CircuitBreaker::TimePoint now;
  // The API the client speaks, when its path says (chat/completions: OpenAI, v1/messages:
  // Anthropic); then a target without an endpoint whose provider speaks another API gets the
  // body translated and goes to its own chat endpoint (compat.hpp). nullopt: no target is.
  std::optional<Dialect> client;
  const HttpRequest* request = nullptr;  // the client's (its body), when `client` is set
  const BodyFacts* facts = nullptr;      // what that body says, when `client` is set
};

// The steps of a request to a route: one per target, in plan_order, without the targets
// whose breaker is open at `now` and those the request cannot be translated for (a
// parameter a target's API cannot take). 503 route_unavailable (with Retry-After) when every
// target's breaker is open; that translation's 400 when no target can take the request; 400
// when a target cannot take the path.
Result<std::vector<PlannedStep>> plan_route(const RoutePlanInput& in);

// Writes `model` as the value of the top-level "model" of a JSON request body, in place
// (a route target's model); a body without one is left alone.
void write_model(std::string& body, std::string_view model);

// The breaker outcome of an attempt: an answer that does not fail over counts as a success.
void record_breaker(const Route& route, const RouteTarget& target, bool ok, bool probe,
                    const boost::asio::any_io_executor& executor);

// ---

template <class Uniform>
std::vector<std::size_t> plan_order(const Route& route, Uniform&& uniform) {
  const auto weight = [&](std::size_t i) { return route.targets[i].config.weight; };
  const auto priority = [&](std::size_t i) { return route.targets[i].config.priority; };
  std::vector<std::size_t> by_priority(route.targets.size());
  std::iota(by_priority.begin(), by_priority.end(), std::size_t{0});
  std::stable_sort(by_priority.begin(), by_priority.end(),
                   [&](std::size_t a, std::size_t b) { return priority(a) < priority(b); });
  std::vector<std::size_t> order;
  order.reserve(by_priority.size());
  std::vector<std::size_t> group;
  for (auto it = by_priority.begin(); it != by_priority.end();) {
    const unsigned level = priority(*it);
    group.clear();
    std::uint64_t total = 0;
    for (; it != by_priority.end() && priority(*it) == level; ++it) {
      group.push_back(*it);
      total += weight(*it);
    }
    // Draw the group's order: each next target by weight among those not drawn yet.
    while (group.size() > 1) {
      double pick = uniform() * static_cast<double>(total);
      auto chosen = group.end() - 1;
      for (auto g = group.begin(); g != group.end(); ++g) {
        if (pick < weight(*g)) {
          chosen = g;
          break;
        }
        pick -= weight(*g);
      }
      total -= weight(*chosen);
      order.push_back(*chosen);
      group.erase(chosen);
    }
    order.push_back(group.front());
  }
  return order;
}

}  // namespace aigw
