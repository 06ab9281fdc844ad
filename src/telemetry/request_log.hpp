#pragma once
// The last step of every request (docs/architecture.md): after every stage's on_complete, one
// summary (summary.hpp) is made and feeds the access log, the request-log store and the
// metrics, so they agree. Also keeps the in-flight gauges. Shared by all workers; each part
// is thread-safe (a queue to a writer thread, sharded metrics).

#include "aigw/config.hpp"
#include "aigw/request_context.hpp"

#include "core/metrics.hpp"
#include "store/log_store.hpp"
#include "telemetry/access_log.hpp"

#include <memory>

namespace aigw::telemetry {

class RequestLog {
 public:
  // Any of the three may be null: off (access_log: off, request_log.enabled: false) or
  // absent in a test.
  RequestLog(const Config& config, std::shared_ptr<metrics::Registry> metrics,
             std::shared_ptr<store::LogStore> store, std::shared_ptr<AccessLog> access);

  // When the pipeline starts a request. Never suspends, never throws.
  void begin(const RequestContext& ctx) noexcept;
  // When its response head goes to the client (ctx.streamed set).
  void head(const RequestContext& ctx) noexcept;
  // When it ended, after every stage's on_complete: its one summary, written everywhere.
  void finish(const RequestContext& ctx) noexcept;

  const std::shared_ptr<AccessLog>& access() const noexcept { return access_; }

 private:
  bool auth_enabled_ = false;
  std::shared_ptr<metrics::Registry> metrics_;
  std::shared_ptr<store::LogStore> store_;
  std::shared_ptr<AccessLog> access_;
};

}  // namespace aigw::telemetry
