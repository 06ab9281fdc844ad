#pragma once
// The access log: one JSON line per request, written from its summary (summary.hpp) when it
// ended: ids, provider, model, path (never the query, which may carry a key), status, sizes,
// timings, tokens, cost, outcome and error. No header or body is ever logged, so no
// credential can reach this log.

#include "aigw/config.hpp"

#include "telemetry/summary.hpp"

#include <memory>
#include <string>

namespace spdlog {
class logger;
namespace details {
class thread_pool;
}
}  // namespace spdlog

namespace aigw::telemetry {

class AccessLog {
 public:
  // nullptr when access_log is "off". Throws std::runtime_error if the file cannot be opened
  // (start-up only).
  static std::shared_ptr<AccessLog> create(const AccessLogConfig& config);

  AccessLog(std::shared_ptr<spdlog::details::thread_pool> pool,
            std::shared_ptr<spdlog::logger> logger);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Queues the line of `summary` for the writer thread. Never blocks, never throws.
  void write(const RequestSummary& summary) noexcept;

  // The line written for `summary` (exposed for tests).
  static std::string format(const RequestSummary& summary);
  // Lines dropped because the writer thread fell behind (queue full).
  std::size_t dropped() const noexcept;
  void flush();

 private:
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace aigw::telemetry
