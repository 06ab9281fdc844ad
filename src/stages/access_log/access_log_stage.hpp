#pragma once
// Writes one JSON line per request when it completes: ids, provider, path (never the query,
// which may carry a key), status, sizes, timings, outcome and error code. No header or body
// is ever logged, so no credential can reach this log.

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

#include <memory>
#include <string>

namespace spdlog {
class logger;
namespace details {
class thread_pool;
}
}  // namespace spdlog

namespace aigw {

class AccessLogStage final : public Stage {
 public:
  // nullptr when access_log is "off". Throws std::runtime_error if the file cannot be opened
  // (start-up only).
  static std::shared_ptr<AccessLogStage> create(const LoggingConfig& config);

  AccessLogStage(std::shared_ptr<spdlog::details::thread_pool> pool,
                 std::shared_ptr<spdlog::logger> logger);
  ~AccessLogStage() override;

  std::string_view name() const noexcept override { return "access_log"; }
  bool wants_request(const RequestContext&) const noexcept override { return false; }
  void on_complete(RequestContext& ctx) noexcept override;

  // The line written for `ctx` (exposed for tests).
  static std::string format(const RequestContext& ctx);
  // Lines dropped because the writer thread fell behind (queue full).
  std::size_t dropped() const noexcept;
  void flush();

 private:
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace aigw
