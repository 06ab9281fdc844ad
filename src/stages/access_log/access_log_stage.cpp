#include "stages/access_log/access_log_stage.hpp"

#include "core/text.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

namespace aigw {
namespace {

double ms_between(SteadyTime from, SteadyTime to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string iso8601(std::chrono::system_clock::time_point tp) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch());
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

std::shared_ptr<AccessLogStage> AccessLogStage::create(const LoggingConfig& config) {
  if (config.access_log == "off") return nullptr;
  // A dedicated writer thread with a bounded queue keeps file/terminal I/O off the worker
  // threads; when it falls behind the oldest lines are overwritten and counted (dropped()).
  auto pool = std::make_shared<spdlog::details::thread_pool>(config.access_log_queue, 1);
  spdlog::sink_ptr sink;
  if (config.access_log == "-") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.access_log, false);
  }
  auto logger = std::make_shared<spdlog::async_logger>(
      "access", std::move(sink), pool, spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  return std::make_shared<AccessLogStage>(std::move(pool), std::move(logger));
}

AccessLogStage::AccessLogStage(std::shared_ptr<spdlog::details::thread_pool> pool,
                               std::shared_ptr<spdlog::logger> logger)
    : pool_(std::move(pool)), logger_(std::move(logger)) {}

AccessLogStage::~AccessLogStage() {
  if (!logger_) return;
  logger_->flush();  // queued behind every line still waiting
  // The pool is the last owner of its writer thread (the logger keeps only a weak pointer):
  // releasing it first joins the thread after it wrote everything queued, so the logger and
  // its sink are destroyed after the writer's last use of them, not concurrently with it
  // (ThreadSanitizer saw that race through libspdlog's reference counts).
  pool_.reset();
}

std::string AccessLogStage::format(const RequestContext& ctx) {
  // The provider that answered, else the one the request named.
  const std::string_view slug = ctx.attempt ? ctx.attempt->slug : ctx.provider_slug;
  nlohmann::json line = {
      {"ts", iso8601(ctx.started_wall)},
      {"id", ctx.id},
      {"event_id", ctx.event_id},
      {"client_ip", ctx.client_ip},
      {"method", std::string(ctx.request.method_string())},
      // Client-chosen text is bounded here as in the request log (docs/security.md).
      {"provider", slug.empty() ? nlohmann::json(nullptr) : nlohmann::json(text::clip(slug, 64))},
      {"path", text::clip(ctx.path, text::kMaxLabelBytes)},
      {"status", ctx.status},
      {"outcome", outcome_name(ctx.outcome)},
      {"streamed", ctx.streamed},
      {"bytes_in", ctx.request_bytes},
      {"bytes_out", ctx.response_bytes},
      {"attempts", ctx.attempts},
  };
  const SteadyTime end = ctx.finished.value_or(std::chrono::steady_clock::now());
  line["duration_ms"] = ms_between(ctx.started, end);
  if (ctx.upstream_started) {
    line["upstream_ms"] = ms_between(*ctx.upstream_started, end);
    if (ctx.upstream_first_byte) {
      line["ttfb_ms"] = ms_between(*ctx.upstream_started, *ctx.upstream_first_byte);
    }
  }
  if (ctx.error) {
    line["error"] = code_name(ctx.error->code);
    // The operator's view: the client's message with what it leaves out (Error::internal).
    std::string detail = text::clip(ctx.error->detail, 1024);
    if (!ctx.error->internal.empty()) {
      detail += " [" + text::clip(ctx.error->internal, 1024) + "]";
    }
    line["error_detail"] = std::move(detail);
  }
  if (ctx.cache.status != CacheStatus::kNone) line["cache"] = cache_status_name(ctx.cache.status);
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AccessLogStage::on_complete(RequestContext& ctx) noexcept {
  try {
    logger_->info(format(ctx));
  } catch (...) {
    // Logging must never take a request down; a failed format is counted as a drop.
  }
}

std::size_t AccessLogStage::dropped() const noexcept { return pool_->overrun_counter(); }

void AccessLogStage::flush() { logger_->flush(); }

}  // namespace aigw
