#pragma once
// The fallback router: sends a request upstream until an attempt answers, within the
// request's retry policy (upstream.* defaults, cf-aig-* headers over them). Between the
// forwarder and the client it decides, from each response head, whether that response goes
// to the client or the next attempt is made; once a head has gone to the client (the commit
// point) nothing is retried. docs/routing.md has the table of what fails over.

#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/request_context.hpp"

#include "pipeline/forwarder.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string_view>

namespace aigw {

// The control headers that set a request's retry policy (and a universal step's).
inline constexpr std::string_view kRetryHeaders[] = {"cf-aig-max-attempts", "cf-aig-retry-delay",
                                                     "cf-aig-backoff", "cf-aig-request-timeout"};

// The request's policy: `defaults` with cf-aig-max-attempts, cf-aig-retry-delay,
// cf-aig-backoff and cf-aig-request-timeout applied; 400 invalid_header naming the header on
// a value the gateway cannot use.
Result<RetryConfig> retry_policy(const RequestContext& ctx, const RetryConfig& defaults);

// One of those four headers (lower-case `name`) applied to `policy`; the 400 on a bad value.
// A universal step's own retry headers go through here too.
std::optional<Error> apply_retry_header(std::string_view name, std::string_view value,
                                        RetryConfig& policy);

class Router {
 public:
  // Relays ctx.request through `forwarder` as ctx.retry allows; returns what the last attempt
  // returned. Every attempt is listed in ctx.attempt_log. Suspends (also between attempts).
  boost::asio::awaitable<Result<void>> forward(RequestContext& ctx, Forwarder& forwarder,
                                               ResponseSink& sink, Downstream& downstream) const;
};

}  // namespace aigw
