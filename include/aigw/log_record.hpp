#pragma once
// One request as the request log keeps it: exactly one per request that reached the
// gateway (success, error, cache hit, client abort). Field names follow Cloudflare AI
// Gateway's log (reference §6.1) where it has one. Built from the request's summary after
// every stage completed (src/telemetry), written by the log store's writer thread, read
// back by the admin API.
// Never holds a credential.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aigw {

// One upstream attempt: a step the router entered, or a retry of it.
struct LogAttempt {
  std::string provider;
  std::uint16_t status = 0;  // 0: no response head (connect, TLS, timeout...)
  double duration_ms = 0;
  std::string error;  // stable error code ("upstream_timeout"...), "" on a response
  std::string model;  // a named route's target model; "" otherwise
};

struct LogRecord {
  std::string id;                 // = cf-aig-log-id (UUIDv7)
  std::string event_id;           // cf-aig-event-id
  std::int64_t created_at = 0;    // Unix time in milliseconds, when the request arrived
  std::string provider;           // the provider that answered (else the first the plan
                                  // named); "" when no route matched
  std::string model;              // from the response, else the request; "" when unknown
  std::string method;             // "POST"
  std::string path;               // the client's path, without the query string
  std::uint16_t status_code = 0;  // what the client got
  bool success = false;           // 2xx and complete
  bool cached = false;            // answered by the gateway's cache (HIT or COALESCED)
  std::string cache_status;       // "HIT", "MISS", "BYPASS", "COALESCED" or ""
  std::string outcome;            // success, provider_error, gateway_error, local,
                                  // client_abort, upstream_abort
  std::string error_code;         // the gateway's own error code, "" when none
  bool streamed = false;
  double duration_ms = 0;                      // arrival to last byte sent
  std::optional<double> ttfb_ms;               // arrival to the response head sent
  std::optional<double> upstream_ms;           // time spent waiting on / reading from providers
  std::optional<std::uint64_t> tokens_in;      // TokenUsage::input
  std::optional<std::uint64_t> tokens_out;     // TokenUsage::output
  std::optional<std::uint64_t> cached_tokens;  // TokenUsage::cached_input
  std::optional<std::uint64_t> cache_write_tokens;
  std::optional<std::uint64_t> reasoning_tokens;
  std::optional<double> cost;  // USD; empty when unpriced or no usage — never a silent 0
  bool estimated = false;      // some token figure was estimated, not provider-reported
  bool unpriced = false;       // the model has no price (cost empty)
  bool custom_cost = false;    // priced by cf-aig-custom-cost
  // cf-aig-metadata: at most 5 flat entries; values kept as JSON scalars' text
  // (a JSON string keeps its quotes: "\"alice\"", a number "42", a boolean "true").
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string key;  // the virtual key's name (keys.<name>), "" without one
  // A request sent with cf-aig-collect-log: false, kept for its spend only (tokens, cost,
  // key, provider, model, time; no path, user agent, metadata, attempts or bodies): budgets
  // rebuilt from the log at start must not forget it. Left out of /api/logs listings,
  // counted in /api/usage.
  bool accounting_only = false;
  // Cloudflare's URL shape /v1/{account}/{gateway}/...: both as called, "" on the short form.
  // One aigw can serve several "gateways" this way, and their logs are filtered by it.
  std::string account;
  std::string gateway;
  // Set after the fact by PATCH /api/logs/{id} (Cloudflare's feedback): -1, 0 or 1, and a
  // score from 0 to 100; empty until then.
  std::optional<std::int8_t> feedback;
  std::optional<std::uint8_t> score;
  std::string user_agent;
  std::string request_content_type;
  std::string response_content_type;
  std::uint64_t request_size = 0;   // body bytes received from the client
  std::uint64_t response_size = 0;  // body bytes sent to the client
  std::vector<LogAttempt> attempts;
  // Payloads, only when payload logging is on for this request (config and
  // cf-aig-collect-log-payload); bounded by the configured maximum.
  std::optional<std::string> request_body;
  std::optional<std::string> response_body;
};

}  // namespace aigw
