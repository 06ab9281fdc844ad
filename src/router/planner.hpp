#pragma once
// The planner: from the client's request to the plan of steps the gateway may take, before
// any stage runs (docs/architecture.md). A pure function of the config, the request and the
// routes' health: it sends nothing and changes nothing, so every URL form, universal body
// and route is tested without sockets (tests/unit/router/planner_test.cpp).
//
//   /{provider}/{rest}, /v1/{account}/{gateway}/{provider}/{rest}   one step
//   POST / or /v1/{account}/{gateway} with a list of steps           universal.hpp
//   /route/{name}/{rest}, or a body with "model": "dynamic/{name}"   routes.hpp

#include "aigw/attempt.hpp"
#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/provider.hpp"

#include "router/breaker.hpp"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace aigw {

class RouteTable;

struct PlanInput {
  const Config& config;
  const ProviderRegistry& providers;
  const RouteTable& routes;
  const HttpRequest& request;  // the client's, hop-by-hop and cf-aig-* headers removed
  const std::vector<std::pair<std::string, std::string>>& control;  // its cf-aig-* headers
  // What its body says, read on first call (only a body that may be JSON is asked about).
  const std::function<const BodyFacts&()>& body;
  CircuitBreaker::TimePoint now;  // the routes' breakers are read at this time
};

// The plan, or the error that is the request's answer: 404 for a path that names no
// provider or route, 400 for a body that is not the JSON it says it is (or repeats a key),
// a bad retry header or a universal body that does not hold up, 503 with Retry-After when
// every target of a route is skipped by its breaker.
Result<Plan> plan(const PlanInput& in);

// The request's retry policy: `defaults` with the cf-aig-* retry headers applied; 400
// invalid_header naming the header on a value the gateway cannot use.
Result<RetryConfig> retry_policy(const std::vector<std::pair<std::string, std::string>>& control,
                                 const RetryConfig& defaults);

// For the planner's own parts (compat.cpp): 400 invalid_json for a body declared as JSON
// that does not parse (server.validate_json), and for any JSON object body that repeats a
// top-level key.
Result<void> check_json(const PlanInput& in);
// One step to `provider` at `target`, with the usage format and model its path names.
PlannedStep provider_step(const Provider& provider, std::string_view slug, UpstreamTarget target,
                          const RetryConfig& policy);

}  // namespace aigw
