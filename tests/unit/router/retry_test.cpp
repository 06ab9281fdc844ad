// What fails over, the backoff between attempts (jitter fixed by the test, so the waits are
// exact), and Retry-After in both of its forms.

#include "router/retry.hpp"

#include <gtest/gtest.h>

namespace aigw::retry {
namespace {

using namespace std::chrono_literals;

TEST(Retry, RateLimitsAndServerErrorsFailOverOtherStatusesDoNot) {
  for (unsigned status : {429u, 500u, 502u, 503u, 504u, 529u, 599u}) {
    EXPECT_TRUE(fails_over(status)) << status;
  }
  for (unsigned status : {200u, 201u, 301u, 400u, 401u, 403u, 404u, 408u, 413u, 422u, 600u}) {
    EXPECT_FALSE(fails_over(status)) << status;
  }
}

TEST(Retry, ProviderFailuresBeforeTheHeadFailOverTheRequestsOwnErrorsDoNot) {
  for (ErrorCode code :
       {ErrorCode::kUpstreamDns, ErrorCode::kUpstreamConnect, ErrorCode::kUpstreamTls,
        ErrorCode::kUpstreamReset, ErrorCode::kUpstreamProtocol, ErrorCode::kUpstreamTimeout}) {
    EXPECT_TRUE(fails_over(code)) << code_name(code);
  }
  for (ErrorCode code :
       {ErrorCode::kBadRequest, ErrorCode::kInvalidJson, ErrorCode::kInvalidPath,
        ErrorCode::kInvalidHeader, ErrorCode::kUnauthorized, ErrorCode::kRateLimited,
        ErrorCode::kBodyTooLarge, ErrorCode::kDraining, ErrorCode::kInternal}) {
    EXPECT_FALSE(fails_over(code)) << code_name(code);
  }
}

TEST(Retry, BackoffIsConstantLinearOrExponentialAndCapped) {
  const Duration base = 100ms;
  const Duration cap = 5s;
  // Attempt 2 is the first retry: every technique waits the base delay before it.
  for (Backoff b : {Backoff::kConstant, Backoff::kLinear, Backoff::kExponential}) {
    EXPECT_EQ(backoff_delay(b, base, 2, 1.0, cap), 100ms);
  }
  EXPECT_EQ(backoff_delay(Backoff::kConstant, base, 5, 1.0, cap), 100ms);
  EXPECT_EQ(backoff_delay(Backoff::kLinear, base, 3, 1.0, cap), 200ms);
  EXPECT_EQ(backoff_delay(Backoff::kLinear, base, 5, 1.0, cap), 400ms);
  EXPECT_EQ(backoff_delay(Backoff::kExponential, base, 3, 1.0, cap), 200ms);
  EXPECT_EQ(backoff_delay(Backoff::kExponential, base, 5, 1.0, cap), 800ms);
  EXPECT_EQ(backoff_delay(Backoff::kExponential, 2s, 5, 1.0, cap), 5s);       // 16 s capped
  EXPECT_EQ(backoff_delay(Backoff::kExponential, base, 1000, 1.0, cap), 5s);  // no overflow
  // Jitter scales the capped wait.
  EXPECT_EQ(backoff_delay(Backoff::kLinear, base, 3, 0.8, cap), 160ms);
  EXPECT_EQ(backoff_delay(Backoff::kExponential, 2s, 5, 1.2, cap), 6s);
  EXPECT_EQ(backoff_delay(Backoff::kConstant, 0ms, 4, 1.2, cap), 0ms);
}

TEST(Retry, RetryAfterIsSecondsOrAnHttpDate) {
  // Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
  const auto t = std::chrono::system_clock::from_time_t(784111777);
  EXPECT_EQ(parse_retry_after("120", t), 120s);
  EXPECT_EQ(parse_retry_after(" 0 ", t), 0s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", t), 10s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", t), 0s);  // past: now
  EXPECT_EQ(parse_retry_after("99999999999999999999999", t), Duration(365LL * 24 * 3600 * 1000));
  for (const char* bad :
       {"", "soon", "-5", "1.5", "12s", "Sun, 06 Nov 1994 08:49:47", "06 Nov 1994 08:49:47 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, t)) << bad;
  }
}

}  // namespace
}  // namespace aigw::retry
