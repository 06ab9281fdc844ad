#pragma once
// One summary per request, built once when it ended (after every stage's on_complete), from
// which the access log line and the request-log record are made, and the metrics sample beside
// it from the same helpers: the three agree on every figure they share (ttfb, attempts,
// provider, model, tokens, cost).

#include "aigw/log_record.hpp"
#include "aigw/request_context.hpp"

#include "core/metrics.hpp"

#include <string>

namespace aigw::telemetry {

struct RequestSummary {
  LogRecord record;          // what the request log keeps (and /api/logs shows)
  std::string client_ip;     // the access log's only
  std::string error_detail;  // the access log's only: the client's message and what the
                             // operator alone may see (Error::internal)
};

// The summary of a finished request. What the client chose (the body's model, metadata,
// payloads) is kept only for an admitted request: routed, and authenticated when
// `auth_enabled` (docs/security.md). Never suspends, never throws past a bad field.
RequestSummary summarize(const RequestContext& ctx, bool auth_enabled);

// The metrics sample of a finished request: the summary's figures, as views into `ctx`, so a
// gateway without the access log and the request log builds no summary (no copies) at all.
metrics::RequestSample sample(const RequestContext& ctx, bool auth_enabled);

// The request log's copy of a request sent with cf-aig-collect-log: false: its spend only.
void keep_accounting_only(LogRecord& record);

}  // namespace aigw::telemetry
