#pragma once
// Named routes (`routes.<name>`, docs/routing.md): the gateway's own "try A, then B" with
// load balancing and health, reached by /route/{name}/... or by a body whose "model" is
// "dynamic/{name}" (Cloudflare's dynamic-route call). A request to a route becomes a list of
// steps, one per target, in the order this file plans: by priority, then in weighted random
// order among the targets of one priority, without the targets whose circuit breaker is
// open. The router walks the steps like a universal request's.

#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/provider.hpp"
#include "aigw/request_context.hpp"

#include "router/breaker.hpp"

#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace aigw {

struct RouteTarget {
  RouteTargetConfig config;
  const Provider* provider = nullptr;
  std::string label;                        // "0 openai/gpt-4o", for logs
  std::unique_ptr<CircuitBreaker> breaker;  // null with breaker.enabled: false
  std::vector<std::string> pinned;          // lower-case names of config.headers
};

struct Route {
  std::string name;
  bool share_client_credentials = false;
  std::vector<RouteTarget> targets;
};

class RouteTable {
 public:
  // Every route of the config, with its targets' providers found in `providers`. Problems
  // (an unknown provider, an endpoint outside the provider's base, a route that would hand
  // the client's credential to another provider) are returned, not thrown, like the
  // registry's, so --check-config prints them all.
  static std::shared_ptr<const RouteTable> build(const Config& config,
                                                 const ProviderRegistry& providers,
                                                 std::vector<ProviderRegistry::Problem>& problems);

  const Route* find(std::string_view name) const noexcept;
  bool empty() const noexcept { return routes_.empty(); }
  const std::vector<std::unique_ptr<Route>>& routes() const noexcept { return routes_; }
  // "a, b, c", for the 404 of an unknown route.
  std::string names() const;

 private:
  std::vector<std::unique_ptr<Route>> routes_;  // sorted by name; pointers stay put
};

// The order the targets of `route` are tried in: ascending priority; among targets of one
// priority a weighted random order (each next one drawn with probability weight / the
// remaining weights). `uniform` returns numbers in [0, 1). Pure: tested without sockets.
template <class Uniform>
std::vector<std::size_t> plan_order(const Route& route, Uniform&& uniform);

// The route a body names with "model": "dynamic/{name}", or nullopt. Cheap when it names
// none: one search for "dynamic/" before any scan.
std::optional<std::string_view> dynamic_route_name(std::string_view body);

// Makes ctx a request to `route`: `rest` (the path under each provider, "chat/completions")
// and `query` as the client sent them. Plans the targets (the breaker-open ones left out),
// keeps the client's request in ctx.route_original, lists one step per target and enters
// the first. 503 route_unavailable when every target's breaker is open; 400 when a target
// cannot take the path.
Result<void> enter_route(RequestContext& ctx, const Route& route, std::string_view rest,
                         std::string_view query, const RetryConfig& policy);

// Builds the request of a route step from ctx.route_original: the target's model in the
// body's "model", its headers over the client's (called by enter_step).
void build_route_request(RequestContext& ctx, const RouteStep& step);

// The breaker outcome of an attempt: an answer that does not fail over counts as a success.
void record_breaker(const RouteTarget& target, bool ok, bool probe, std::string_view route);

// ---

template <class Uniform>
std::vector<std::size_t> plan_order(const Route& route, Uniform&& uniform) {
  std::vector<std::size_t> order(route.targets.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return route.targets[a].config.priority < route.targets[b].config.priority;
  });
  for (std::size_t begin = 0; begin < order.size();) {
    const unsigned priority = route.targets[order[begin]].config.priority;
    std::size_t end = begin;
    std::uint64_t total = 0;
    while (end < order.size() && route.targets[order[end]].config.priority == priority) {
      total += route.targets[order[end]].config.weight;
      ++end;
    }
    // Draw the group's order: position `begin` by weight among [begin, end), and so on.
    for (std::size_t at = begin; at + 1 < end; ++at) {
      double pick = uniform() * static_cast<double>(total);
      std::size_t chosen = end - 1;
      for (std::size_t i = at; i < end; ++i) {
        const double w = route.targets[order[i]].config.weight;
        if (pick < w) {
          chosen = i;
          break;
        }
        pick -= w;
      }
      total -= route.targets[order[chosen]].config.weight;
      std::swap(order[at], order[chosen]);
    }
    begin = end;
  }
  return order;
}

}  // namespace aigw
