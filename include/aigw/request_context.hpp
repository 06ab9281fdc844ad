#pragma once
// One RequestContext per request, created by the session when a request has been read and
// destroyed after every stage's on_complete ran. Each field names its writer(s) in its
// comment — one wherever it can be; the few written at several points (error, outcome,
// response_headers, response_usage) say by whom and when — and everyone else only reads it.
// The client's request is never changed after the session. The context never leaves its
// worker thread.

#include "aigw/attempt.hpp"
#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/provider.hpp"
#include "aigw/usage.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
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

// The body of a local response produced while it is sent (a coalesced request receiving the
// response of the identical request in flight, as it arrives).
class BodySource {
 public:
  struct Chunk {
    std::string_view data;  // valid until the next call to next()
    bool end = false;       // the body is complete (data may still hold its last bytes)
    bool broken = false;    // the body cannot be completed: the client's response is cut off
  };
  virtual ~BodySource() = default;
  // The next bytes of the body, waiting (bounded) until some arrive. Suspends.
  virtual boost::asio::awaitable<Chunk> next() = 0;
};

// A response produced inside the gateway instead of by a provider.
struct LocalResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  // When set, the body instead: shared with its owner (a cache entry), sent without a copy.
  std::shared_ptr<const std::string> shared_body;
  // The body is a server-sent event stream: sent chunked, one chunk per event (a cached
  // stream replayed as a stream), instead of with a Content-Length.
  bool stream = false;
  // When set, the body comes from here, chunk by chunk, instead of body/shared_body; it is
  // sent with Content-Length `source_length` when that is known, else chunked.
  std::shared_ptr<BodySource> source;
  std::optional<std::uint64_t> source_length;
  // A cached or coalesced answer of a step that translates: how it reaches the client.
  std::optional<Translation> translation;
};

// How the response cache treated a request (cf-aig-cache-status; docs/caching.md).
enum class CacheStatus : std::uint8_t {
  kNone,       // the cache was not involved (off, or a method it does not cache)
  kHit,        // answered from the cache; the provider was not called
  kMiss,       // looked up, not found; the response may be stored
  kBypass,     // lookup skipped (cf-aig-skip-cache, Cache-Control: no-cache); may be stored
  kCoalesced,  // answered with the response of the identical request in flight (sent to the
               // client as cf-aig-cache-status: HIT); the provider was not called
};
// "HIT", "MISS", "BYPASS", "COALESCED" (as logged), "" for kNone.
std::string_view cache_status_name(CacheStatus status) noexcept;

// A stage's own per-request state: its type is the stage's (derived from this), so the
// context holds it without naming any stage.
struct StageState {
  virtual ~StageState() = default;
};

// Rewrites a streamed response body on its way to the client: the metering stage removes the
// usage event it asked the provider for. Installed in on_response_head, only for a body
// relayed chunked (its length may change). Applied to each upstream chunk before the stages'
// on_response_body, which therefore still see exactly the client's bytes.
class BodyFilter {
 public:
  virtual ~BodyFilter() = default;
  // The bytes to send for the next upstream chunk (possibly none, or a view of `in`); valid
  // until the next call. Never suspends.
  virtual std::string_view filter(std::string_view in) = 0;
  // At the end of a complete body: what is still held back.
  virtual std::string_view finish() = 0;
};

// One upstream attempt, as the request log lists it (writer: the router).
struct AttemptRecord {
  std::string provider;
  unsigned status = 0;  // the provider's status; 0 without a response head
  std::chrono::steady_clock::duration duration{};
  std::optional<ErrorCode> error;  // a failure before the head (or the attempt's own)
  std::string model;               // a named route's target model; "" otherwise
};

struct RequestContext {
  // --- identity: writer = session, at creation ---
  std::string id;        // lowercase UUIDv7: cf-aig-request-id and cf-aig-log-id
  std::string event_id;  // client's cf-aig-event-id if sent, else id
  SteadyTime started{};
  std::chrono::system_clock::time_point started_wall{};
  std::string client_ip;

  // --- the client's request: writer = session, and nobody after it. cf-aig-* headers are
  // moved out into `control` and hop-by-hop headers removed before any stage sees it. What
  // goes upstream is each attempt's OutgoingRequest, built over it. ---
  http::request<http::string_body> request;
  std::vector<std::pair<std::string, std::string>> control;  // lower-case cf-aig-* names

  // Value of a cf-aig-* control header, or nullopt.
  std::optional<std::string_view> control_header(std::string_view name) const noexcept;

  // --- plan: writer = the pipeline's plan step, before the first stage ---
  std::string path;  // as logged: the request path without its query (which may carry a
                     // credential); /route/{name}/... for a named route however it was called
  Plan plan;         // no steps until planned (and when planning failed)
  // The first step's provider and slug (null / "" without a plan): what the request is for,
  // as limits, the cache and the log see it before (and unless) another step answers.
  const Provider* provider = nullptr;
  std::string provider_slug;

  // --- the client's body: writer = body_facts() (src/request/body.hpp), on first use ---
  std::shared_ptr<const BodyFacts> body;

  // --- attempts: writer = the router (src/router/router.hpp) ---
  // The step being tried; after the response, the one that answered. Empty before the first.
  std::optional<Attempt> attempt;
  std::vector<AttemptRecord> attempt_log;  // every attempt made, in order

  // --- response ---
  // writer = the pipeline's response sink, when the head goes to the client:
  unsigned status = 0;                  // status sent (or being sent) to the client
  bool committed = false;               // response head sent to the client: no retry after this
  bool streamed = false;                // relayed incrementally (chunked / SSE)
  std::optional<SteadyTime> head_sent;  // the response head went to the client
  std::string response_content_type;    // of that head
  std::uint64_t response_bytes = 0;     // body bytes sent to the client (the sink)
  std::uint64_t request_bytes = 0;      // writer = session
  // writer = the upstream client (src/upstream), per attempt:
  std::optional<SteadyTime> upstream_started;     // the first attempt's start
  std::optional<SteadyTime> upstream_first_byte;  // the last attempt's response head
  // writer = the pipeline, at the end:
  std::optional<SteadyTime> finished;
  // How it ended: set by the upstream client for aborts (client or provider), by the
  // pipeline for everything else once the response is over.
  Outcome outcome = Outcome::kPending;
  // The gateway-side failure, if any: the session (a malformed request), the plan, the stage
  // that refused the request, the router (the last attempt's error) or the upstream client
  // (a provider broken off mid-response).
  std::optional<Error> error;

  // --- writer = the authentication stage (src/stages/auth) ---
  // The virtual key whose token the request carried; nullptr without one (auth off, or one of
  // auth.tokens). Points into the stage's copy of the config, which outlives every request.
  const VirtualKey* virtual_key = nullptr;
  // The request carried a valid gateway token. Until then (and always when it was refused)
  // nothing the client chose beyond bounded ids reaches a metric or the log.
  bool authenticated = false;

  // --- writer = the cache stage (src/stages/cache) ---
  struct Cache {
    CacheStatus status = CacheStatus::kNone;
    std::string key;  // hex SHA-256 (docs/caching.md); empty when the cache is not involved
    Duration ttl{0};
    bool store = false;  // the response may be stored (not Cache-Control: no-store)
    std::shared_ptr<StageState> capture;  // the response as it is relayed, while storable
  } cache;

  // --- writer = the metering stage (src/stages/meter) ---
  std::shared_ptr<StageState> meter;
  std::unique_ptr<BodyFilter> response_filter;  // set in on_response_head, see BodyFilter
  // The usage of a complete 2xx response: set by the metering stage in on_complete (before
  // the cache stage's, which stores it with the entry), and by the cache stage on a hit (the
  // entry's, when it has one: the metering stage then does not parse the replayed body).
  std::optional<ResponseUsage> response_usage;
  // What the request used, as logged: set in on_complete before the stages after metering
  // complete (token limits and budgets settle with it). Unset with metering off.
  struct Metered {
    std::string model;           // the response's, else the attempt's or request's ("" unknown)
    TokenUsage tokens;           // reported, or estimated (and flagged)
    std::optional<double> cost;  // US dollars; nullopt: unpriced, or no usage
    bool estimated = false;
    bool unpriced = false;
    bool custom_cost = false;  // priced by a trusted cf-aig-custom-cost
  };
  std::optional<Metered> metered;
  // A stream's generated text so far (Unicode code points), updated by the metering stage's
  // on_response_body before the later stages': token limits and budgets charge it as it runs.
  std::uint64_t streamed_output_chars = 0;

  // --- writer = the request-log stage (src/stages/request_log), in on_request and per body
  // chunk: what the client asked the log to keep. Read by the final summary. ---
  struct LogChoices {
    std::vector<std::pair<std::string, std::string>> metadata;  // cf-aig-metadata + the key's
    bool collect = true;                                        // cf-aig-collect-log
    bool collect_payload = false;  // request_log.payloads and not cf-aig-collect-log-payload
    std::optional<std::string> request_body;  // bounded by request_log.max_payload_bytes
    std::string response_body;
    bool response_cut = false;  // response_body reached the bound
  } log;

  // --- writer = the rate-limit stage (src/stages/rate_limit) ---
  std::shared_ptr<StageState> rate_limit;

  // --- writer = the stage that returned Verdict::kRespond ---
  std::optional<LocalResponse> local_response;

  // --- writer = any stage in on_request/on_response_head, and the router (cf-aig-step,
  // cf-aig-provider, cf-aig-model of the step that answered): extra response headers ---
  std::vector<std::pair<std::string, std::string>> response_headers;
};

}  // namespace aigw
