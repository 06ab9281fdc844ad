#pragma once
// The admin listener's data endpoints (docs/api.md), as a function from a request target to
// a response, so they are tested without sockets:
//   GET /metrics          Prometheus text format
//   GET /api/logs         request-log records, filtered and paginated
//   GET /api/logs/{id}    one record, bodies included when stored
//   PATCH /api/logs/{id}  feedback, score and metadata, set after the fact
//   GET /api/usage        requests, tokens, cost, cache hits and errors, grouped and bucketed
//   GET /api/routes       named routes, their targets and each target's circuit breaker

#include "aigw/log_record.hpp"

#include "pipeline/pipeline.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::admin {

struct ApiResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra response headers
};

// The response for GET `target` (path and query), or nullopt when the path is not one of
// the endpoints above.
std::optional<ApiResponse> handle(std::string_view target, const Telemetry& telemetry);

// PATCH /api/logs/{id} (feedback, score, metadata): the updated record; nullopt when the
// path is not a record's.
std::optional<ApiResponse> handle_patch(std::string_view target, std::string_view body,
                                        const Telemetry& telemetry);

// A path of the endpoints above (for 405 answers), and the methods it takes.
bool known_path(std::string_view path);
std::string_view allowed_methods(std::string_view path);

// A record as the API shows it (field names of docs/api.md).
nlohmann::json record_json(const LogRecord& record);

}  // namespace aigw::admin
