#include "telemetry/request_log.hpp"

#include <spdlog/spdlog.h>

namespace aigw::telemetry {

RequestLog::RequestLog(const Config& config, std::shared_ptr<metrics::Registry> metrics,
                       std::shared_ptr<store::LogStore> store, std::shared_ptr<AccessLog> access)
    : auth_enabled_(config.auth.enabled),
      metrics_(std::move(metrics)),
      store_(std::move(store)),
      access_(std::move(access)) {}

void RequestLog::begin(const RequestContext&) noexcept {
  if (metrics_) ++metrics_->in_flight;
}

void RequestLog::head(const RequestContext& ctx) noexcept {
  if (metrics_ && ctx.streamed) ++metrics_->streams_in_flight;
}

void RequestLog::finish(const RequestContext& ctx) noexcept {
  try {
    if (metrics_) {
      --metrics_->in_flight;
      if (ctx.head_sent && ctx.streamed) --metrics_->streams_in_flight;
      metrics_->record(sample(ctx, auth_enabled_));
    }
    if (!access_ && !store_) return;
    RequestSummary summary = summarize(ctx, auth_enabled_);
    if (access_) access_->write(summary);
    // A full queue is counted by the store (aigw_log_dropped_total): never silent, never
    // blocking the worker.
    if (store_) {
      if (!ctx.log.collect) keep_accounting_only(summary.record);
      store_->submit(std::move(summary.record));
    }
  } catch (const std::exception& e) {
    spdlog::error("request {}: its record failed: {}", ctx.id, e.what());
  }
}

}  // namespace aigw::telemetry
