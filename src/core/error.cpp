#include "aigw/error.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace aigw {

unsigned http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kBadRequest:
    case ErrorCode::kInvalidJson:
    case ErrorCode::kInvalidPath:
    case ErrorCode::kInvalidHeader:
    case ErrorCode::kInvalidUniversal:
    case ErrorCode::kInvalidModel:
    case ErrorCode::kUnsupportedParameter:
      return 400;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
    case ErrorCode::kUnpricedModel:
      return 403;
    case ErrorCode::kRouteNotFound:
    case ErrorCode::kUnknownProvider:
      return 404;
    case ErrorCode::kRequestTimeout:
      return 408;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kBodyTooLarge:
      return 413;
    case ErrorCode::kHeadersTooLarge:
      return 431;
    case ErrorCode::kRateLimited:
    case ErrorCode::kBudgetExceeded:
      return 429;
    case ErrorCode::kUpstreamDns:
    case ErrorCode::kUpstreamConnect:
    case ErrorCode::kUpstreamTls:
    case ErrorCode::kUpstreamReset:
    case ErrorCode::kUpstreamProtocol:
      return 502;
    case ErrorCode::kUpstreamTimeout:
      return 504;
    case ErrorCode::kDraining:
    case ErrorCode::kRouteUnavailable:
    case ErrorCode::kLimitsUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

std::string_view code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kInvalidJson:
      return "invalid_json";
    case ErrorCode::kInvalidPath:
      return "invalid_provider_path";
    case ErrorCode::kInvalidHeader:
      return "invalid_header";
    case ErrorCode::kInvalidUniversal:
      return "invalid_universal_request";
    case ErrorCode::kInvalidModel:
      return "invalid_model";
    case ErrorCode::kUnsupportedParameter:
      return "unsupported_parameter";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kUnpricedModel:
      return "unpriced_model";
    case ErrorCode::kRouteNotFound:
      return "route_not_found";
    case ErrorCode::kUnknownProvider:
      return "unknown_provider";
    case ErrorCode::kRequestTimeout:
      return "request_timeout";
    case ErrorCode::kMethodNotAllowed:
      return "method_not_allowed";
    case ErrorCode::kBodyTooLarge:
      return "body_too_large";
    case ErrorCode::kHeadersTooLarge:
      return "headers_too_large";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kBudgetExceeded:
      return "budget_exceeded";
    case ErrorCode::kUpstreamDns:
      return "upstream_dns_failed";
    case ErrorCode::kUpstreamConnect:
      return "upstream_connect_failed";
    case ErrorCode::kUpstreamTls:
      return "upstream_tls_failed";
    case ErrorCode::kUpstreamReset:
      return "upstream_reset";
    case ErrorCode::kUpstreamProtocol:
      return "upstream_protocol_error";
    case ErrorCode::kUpstreamTimeout:
      return "upstream_timeout";
    case ErrorCode::kDraining:
      return "gateway_draining";
    case ErrorCode::kRouteUnavailable:
      return "route_unavailable";
    case ErrorCode::kLimitsUnavailable:
      return "limits_unavailable";
    case ErrorCode::kInternal:
      return "internal_error";
  }
  return "internal_error";
}

std::string_view error_type(ErrorCode code) noexcept {
  const unsigned status = http_status(code);
  if (status >= 500) return status == 503 ? "service_unavailable" : "gateway_error";
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 429) return "rate_limit_error";
  return "invalid_request_error";
}

std::string error_body(const Error& error) {
  // OpenAI's error shape, which the OpenAI SDKs (and most others) parse into their error
  // classes; `code` is stable, `message` is for humans.
  nlohmann::json body = {
      {"error",
       {{"message", error.detail.empty() ? std::string(code_name(error.code)) : error.detail},
        {"type", error_type(error.code)},
        {"param", error.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param)},
        {"code", code_name(error.code)}}}};
  // A detail may echo client bytes (a path, a header value) that are not UTF-8: they are
  // replaced by U+FFFD rather than thrown on, so every error still gets its response.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw std::runtime_error(std::string(code_name(error.code)) + ": " + error.detail);
}

}  // namespace aigw
