#include "telemetry/access_log.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

namespace aigw::telemetry {
namespace {

std::string iso8601(std::int64_t unix_ms) {
  const std::chrono::milliseconds ms(unix_ms);
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf,
                static_cast<int>(ms.count() % 1000));
  return out;
}

}  // namespace

std::shared_ptr<AccessLog> AccessLog::create(const AccessLogConfig& config) {
  if (config.path == "off") return nullptr;
  // A dedicated writer thread with a bounded queue keeps file/terminal I/O off the worker
  // threads; when it falls behind the oldest lines are overwritten and counted (dropped()).
  auto pool = std::make_shared<spdlog::details::thread_pool>(config.queue, 1);
  spdlog::sink_ptr sink;
  if (config.path == "-") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.path, false);
  }
  auto logger = std::make_shared<spdlog::async_logger>(
      "access", std::move(sink), pool, spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  return std::make_shared<AccessLog>(std::move(pool), std::move(logger));
}

AccessLog::AccessLog(std::shared_ptr<spdlog::details::thread_pool> pool,
                     std::shared_ptr<spdlog::logger> logger)
    : pool_(std::move(pool)), logger_(std::move(logger)) {}

AccessLog::~AccessLog() {
  if (!logger_) return;
  logger_->flush();  // queued behind every line still waiting
  // The pool is the last owner of its writer thread (the logger keeps only a weak pointer):
  // releasing it first joins the thread after it wrote everything queued, so the logger and
  // its sink are destroyed after the writer's last use of them, not concurrently with it
  // (ThreadSanitizer saw that race through libspdlog's reference counts).
  pool_.reset();
}

std::string AccessLog::format(const RequestSummary& summary) {
  const LogRecord& r = summary.record;
  nlohmann::json line = {
      {"ts", iso8601(r.created_at)},
      {"id", r.id},
      {"event_id", r.event_id},
      {"client_ip", summary.client_ip},
      {"method", r.method},
      {"provider", r.provider.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.provider)},
      {"path", r.path},
      {"status", r.status_code},
      {"outcome", r.outcome},
      {"streamed", r.streamed},
      {"bytes_in", r.request_size},
      {"bytes_out", r.response_size},
      {"attempts", r.attempts.size()},  // upstream attempts, as the request log lists them
      {"duration_ms", r.duration_ms},
  };
  if (!r.model.empty()) line["model"] = r.model;
  if (r.upstream_ms) line["upstream_ms"] = *r.upstream_ms;
  if (r.ttfb_ms) line["ttfb_ms"] = *r.ttfb_ms;  // arrival to the response head sent
  if (r.tokens_in) line["tokens_in"] = *r.tokens_in;
  if (r.tokens_out) line["tokens_out"] = *r.tokens_out;
  if (r.cost) line["cost"] = *r.cost;
  if (!r.error_code.empty()) {
    line["error"] = r.error_code;
    line["error_detail"] = summary.error_detail;
  }
  if (!r.cache_status.empty()) line["cache"] = r.cache_status;
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AccessLog::write(const RequestSummary& summary) noexcept {
  try {
    logger_->info(format(summary));
  } catch (...) {
    // Logging must never take a request down; a failed format is counted as a drop.
  }
}

std::size_t AccessLog::dropped() const noexcept { return pool_->overrun_counter(); }

void AccessLog::flush() { logger_->flush(); }

}  // namespace aigw::telemetry
