#pragma once
// Domain errors as values. Every error the gateway produces itself (as opposed to a status
// it relays from a provider) is an Error: a stable code and a human-readable detail. Whether
// another attempt may fix it is the code's to say (retry::fails_over, src/router/retry.hpp).

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw {

enum class ErrorCode : std::uint8_t {
  kBadRequest,            // 400 malformed HTTP
  kInvalidJson,           // 400 body declared as JSON does not parse
  kInvalidPath,           // 400 provider path cannot be mapped (missing segment, bad characters)
  kInvalidHeader,         // 400 a cf-aig-* control header has a value the gateway cannot use
  kInvalidUniversal,      // 400 a universal endpoint body that is not a list of usable steps
  kInvalidModel,          // 400 /compat: a model without its "{provider}/" prefix
  kUnsupportedParameter,  // 400 /compat: a parameter the target provider cannot honour
  kUnauthorized,          // 401 gateway authentication (cf-aig-authorization) missing or wrong
  kForbidden,             // 403 the virtual key may not use this provider or model
  kUnpricedModel,         // 403 a budget that refuses unpriced models, and the model has no price
  kRouteNotFound,         // 404 path matches no route
  kUnknownProvider,       // 404 provider slug is not known or not configured
  kMethodNotAllowed,      // 405 the admin listener: a method its endpoint does not take
  kRequestTimeout,        // 408 client too slow to send its request
  kBodyTooLarge,          // 413
  kHeadersTooLarge,       // 431
  kRateLimited,           // 429 a rate_limits rule has no room for the request
  kBudgetExceeded,        // 429 a budgets rule has no room for the request's estimated cost
  kUpstreamDns,           // 502 name resolution failed
  kUpstreamConnect,       // 502 TCP connect refused / unreachable / timed out
  kUpstreamTls,           // 502 TLS handshake or certificate verification failed
  kUpstreamReset,         // 502 connection reset / closed before the response head
  kUpstreamProtocol,      // 502 provider sent something that is not HTTP/1.1
  kUpstreamTimeout,       // 504 no response head within the first-byte deadline
  kDraining,              // 503 gateway is shutting down
  kRouteUnavailable,      // 503 every target of a named route is skipped (circuit breaker open)
  kLimitsUnavailable,     // 503 a limit or budget with on_error: closed, and Redis cannot answer
  kInternal,              // 500
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string detail;  // safe to show to the client: never contains a credential
  // What only the operator may see (the access log's error_detail): upstream host:port,
  // configured provider and route names. Never sent to the client, who may not be
  // authenticated at all (docs/security.md).
  std::string internal = {};
  // Seconds the client should wait before trying again (sent as Retry-After), "" for none.
  std::string retry_after = {};
  // The request parameter at fault (OpenAI's error.param), "" for none.
  std::string param = {};
};

template <class T>
using Result = boost::system::result<T, Error>;

// HTTP status the gateway answers with for `code`.
unsigned http_status(ErrorCode code) noexcept;
// Stable machine-readable name, e.g. "unknown_provider"; part of the public API.
std::string_view code_name(ErrorCode code) noexcept;
// OpenAI-style error type, e.g. "invalid_request_error" or "upstream_error".
std::string_view error_type(ErrorCode code) noexcept;
// The JSON body sent to the client: {"error":{"message":..,"type":..,"code":..}}.
std::string error_body(const Error& error);

// Required by boost::system::result<T, Error>::value() when it holds an error.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

}  // namespace aigw
