#pragma once
// The universal endpoint (Cloudflare's): POST / or /v1/{account}/{gateway} with a JSON array
// of steps {provider, endpoint, headers, query, config?}, tried in order until one answers
// (docs/routing.md). This file reads and checks the steps and builds each one's request;
// the router (router.cpp) walks them.

#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/provider.hpp"
#include "aigw/request_context.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace aigw {

// Whether `path` (no query) is the universal endpoint: "/" or "/v1/{account}/{gateway}",
// with or without a trailing slash.
bool is_universal_path(std::string_view path) noexcept;

// The steps of a universal request, each with its request built (the request's own headers,
// the step's over them, the step's query as the JSON body), its upstream target mapped and
// its retry policy (`policy`, the step's config over it). A body that is not such an array,
// or a step that does not hold up, is a 400 invalid_universal_request naming the step and the
// problem; an endpoint can only name a path under the provider's base URL.
Result<std::vector<RouteStep>> parse_universal(const RequestContext& ctx,
                                               const ProviderRegistry& providers,
                                               const RetryConfig& policy, std::size_t max_steps);

// Why `endpoint` is not a relative path under a provider's base URL (an absolute URL, a
// scheme, //host, '@', a backslash, a '.' or '..' segment, control characters), or "" when
// it is one. Named route targets' endpoints are held to the same rule.
std::string endpoint_problem(std::string_view endpoint);

// Makes step `index` of ctx.steps the request: provider, target, request and retry policy
// (moved out of the step; each step is entered at most once).
void enter_step(RequestContext& ctx, std::size_t index);

}  // namespace aigw
