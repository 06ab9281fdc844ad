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
    RequestSummary summary = summarize(ctx, auth_enabled_);
    if (access_) access_->write(summary);
    if (metrics_) {
      --metrics_->in_flight;
      if (ctx.head_sent && ctx.streamed) --metrics_->streams_in_flight;
      const LogRecord& r = summary.record;
      metrics::RequestSample m;
      m.provider = r.provider;
      m.model = r.model;
      m.status = r.status_code;
      m.cache_status = r.cache_status;
      m.tokens_in = r.tokens_in.value_or(0);
      m.tokens_out = r.tokens_out.value_or(0);
      m.tokens_cached = r.cached_tokens.value_or(0);
      m.tokens_cache_write = r.cache_write_tokens.value_or(0);
      m.tokens_reasoning = r.reasoning_tokens.value_or(0);
      m.cost = r.cost;
      m.unpriced = r.unpriced;
      m.estimated = r.estimated;
      m.duration_s = r.duration_ms / 1000;
      if (r.upstream_ms) m.upstream_s = *r.upstream_ms / 1000;
      if (r.ttfb_ms) m.ttfb_s = *r.ttfb_ms / 1000;
      if (r.attempts.size() > 1) {
        for (const LogAttempt& a : r.attempts) m.attempt_providers.push_back(a.provider);
      }
      metrics_->record(m);
    }
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
