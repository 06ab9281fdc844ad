#pragma once
// The admin listener's data endpoints (docs/api.md), as a function from a request target to
// a response, so they are tested without sockets:
//   GET /metrics          Prometheus text format
//   GET /api/logs         request-log records, filtered and paginated
//   GET /api/logs/{id}    one record, bodies included when stored
//   GET /api/usage        requests, tokens, cost, cache hits and errors, grouped and bucketed
//   GET /api/routes       named routes, their targets and each target's circuit breaker

#include "aigw/log_record.hpp"

#include "pipeline/pipeline.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aigw::admin {

struct ApiResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// The response for GET `target` (path and query), or nullopt when the path is not one of
// the endpoints above.
std::optional<ApiResponse> handle(std::string_view target, const Telemetry& telemetry);

// A record as the API shows it (field names of docs/api.md).
nlohmann::json record_json(const LogRecord& record);

}  // namespace aigw::admin
