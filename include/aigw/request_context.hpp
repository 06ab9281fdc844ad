#pragma once
// One RequestContext per request, created by the session when a request has been read and
// destroyed after every stage's on_complete ran. Each field has exactly one writer, named in
// its comment; everyone else only reads it. The context never leaves its worker thread.

#include "aigw/error.hpp"
#include "aigw/provider.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw {

namespace http = boost::beast::http;
using SteadyTime = std::chrono::steady_clock::time_point;

// How a request ended, as the access log and (later) the request log record it.
enum class Outcome : std::uint8_t {
  kPending,        // still running
  kSuccess,        // provider answered 2xx/3xx and the whole response reached the client
  kProviderError,  // provider answered 4xx/5xx, relayed verbatim
  kGatewayError,   // the gateway answered with its own error (see ctx.error)
  kLocal,          // a stage answered (cache hit, health...)
  kClientAbort,    // client went away before the response was complete
  kUpstreamAbort,  // provider's response broke after the commit point
};
std::string_view outcome_name(Outcome outcome) noexcept;

// A response produced inside the gateway instead of by a provider.
struct LocalResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
};

struct RequestContext {
  // --- identity: writer = session, at creation ---
  std::string id;        // lowercase UUIDv7: cf-aig-request-id and cf-aig-log-id
  std::string event_id;  // client's cf-aig-event-id if sent, else id
  SteadyTime started{};
  std::chrono::system_clock::time_point started_wall{};
  std::string client_ip;

  // --- request: writer = session. cf-aig-* headers are moved out into `control` and
  // hop-by-hop headers removed before any stage sees the request. ---
  http::request<http::string_body> request;
  std::vector<std::pair<std::string, std::string>> control;  // lower-case cf-aig-* names

  // Value of a cf-aig-* control header, or nullopt.
  std::optional<std::string_view> control_header(std::string_view name) const noexcept;

  // --- route: writer = pipeline's route step, before the first stage ---
  const Provider* provider = nullptr;
  std::string provider_slug;  // as named in the URL ("" when the route did not resolve)
  std::string account;        // long form /v1/{account}/{gateway}/...
  std::string gateway;
  std::string path;  // request path without the query (the query may carry a credential)
  UpstreamTarget target;

  // --- response: writer = upstream forwarder, or the pipeline for local responses ---
  unsigned status = 0;     // status sent (or being sent) to the client
  bool committed = false;  // response head sent to the client: no retry after this
  bool streamed = false;   // relayed incrementally (chunked / SSE)
  std::uint64_t request_bytes = 0;
  std::uint64_t response_bytes = 0;  // body bytes sent to the client
  int attempts = 0;                  // upstream attempts made (connection retries included)
  std::optional<SteadyTime> upstream_started;
  std::optional<SteadyTime> upstream_first_byte;  // response head received
  std::optional<SteadyTime> finished;
  Outcome outcome = Outcome::kPending;
  std::optional<Error> error;  // the gateway-side failure, if any

  // --- writer = the stage that returned Verdict::kRespond ---
  std::optional<LocalResponse> local_response;

  // --- writer = any stage in on_request/on_response_head: extra response headers ---
  std::vector<std::pair<std::string, std::string>> response_headers;
};

}  // namespace aigw
