#pragma once
// Retries and failover, the parts that need no I/O: which failures another attempt may fix,
// how long to wait before it, and what a provider's Retry-After asks for. The router
// (src/router/router.cpp) applies them; docs/routing.md publishes the table.

#include "aigw/config.hpp"
#include "aigw/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace aigw::retry {

// Whether a provider's response with this status goes to the next attempt rather than to the
// client: 429 (rate limited) and every 5xx. Other statuses are the client's own answer.
bool fails_over(unsigned status) noexcept;

// Whether a failure before the response head goes to the next attempt: DNS, connect, TLS, a
// connection reset or closed before the head, a response that is not HTTP, and no head
// within the first-byte deadline. Gateway errors of the request itself do not.
bool fails_over(ErrorCode code) noexcept;

// The wait before attempt `attempt` (2 = the first retry): `delay` once (constant), times
// attempt - 1 (linear) or doubled per retry (exponential), capped at `cap`, then scaled by
// `jitter` (drawn from [0.8, 1.2] by the caller, so tests can fix it).
Duration backoff_delay(Backoff backoff, Duration delay, unsigned attempt, double jitter,
                       Duration cap) noexcept;

// A Retry-After header (RFC 9110 §10.2.3): delay-seconds, or an HTTP date, read against
// `now`. nullopt when it is neither; a date in the past is zero.
std::optional<Duration> parse_retry_after(std::string_view value,
                                          std::chrono::system_clock::time_point now);

}  // namespace aigw::retry
