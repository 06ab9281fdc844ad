#pragma once
// The universal endpoint (Cloudflare's): POST / or /v1/{account}/{gateway} with a JSON array
// of steps {provider, endpoint, headers, query, config?}, tried in order until one answers
// (docs/routing.md). This file reads and checks the steps into the plan's steps (the
// planner, planner.hpp, calls it); the router walks them.

#include "aigw/attempt.hpp"
#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/provider.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace aigw {

// Whether `path` (no query) is the universal endpoint: "/" or "/v1/{account}/{gateway}",
// with or without a trailing slash.
bool is_universal_path(std::string_view path) noexcept;

struct UniversalInput {
  const HttpRequest& request;  // the client's: its body is the list of steps
  const ProviderRegistry& providers;
  const RetryConfig& policy;  // the request's, which each step's own settings go over
  std::size_t max_steps;
  std::string_view account;
  std::string_view gateway;
};

// The steps of a universal request, each with its body (the step's query, minified) read,
// its headers (over the request's), its upstream target mapped and its retry policy. A body
// that is not such an array, or a step that does not hold up, is a 400
// invalid_universal_request naming the step and the problem; an endpoint can only name a
// path under the provider's base URL. Steps over more than one provider send none of the
// client's credential headers (PlannedStep::strip_client_credentials).
Result<std::vector<PlannedStep>> read_universal(const UniversalInput& in);

// Why `endpoint` is not a relative path under a provider's base URL (an absolute URL, a
// scheme, //host, '@', a backslash, a '.' or '..' segment, control characters), or "" when
// it is one. Named route targets' endpoints are held to the same rule.
std::string endpoint_problem(std::string_view endpoint);

}  // namespace aigw
