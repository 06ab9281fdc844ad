#pragma once
// The process: builds shared state from the config, runs the workers and the admin server,
// and drains on request (SIGTERM/SIGINT in main, an explicit call in tests).

#include "aigw/config.hpp"

#include "core/metrics.hpp"
#include "pipeline/pipeline.hpp"
#include "redis/client.hpp"
#include "server/admin.hpp"
#include "server/worker.hpp"
#include "store/log_store.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace aigw {

namespace telemetry {
class AccessLog;
}

class App {
 public:
  // Throws std::runtime_error on start-up problems (bad provider config, unreadable CA).
  explicit App(Config config);
  ~App();

  // Binds every listener (throws boost::system::system_error if a port is taken) and starts
  // the threads. Logs the addresses it listens on.
  void start();
  std::uint16_t port() const noexcept { return port_; }
  std::uint16_t admin_port() const noexcept { return admin_port_; }

  // Stops accepting, lets in-flight requests finish for up to server.drain_timeout, then
  // closes what is left and stops every thread. Blocking; idempotent.
  void drain_and_stop();
  // For main(): start(), block until SIGINT/SIGTERM, drain_and_stop().
  int run_until_signal();

  ServerState& state() noexcept { return state_; }
  const Pipeline& pipeline() const noexcept { return *pipeline_; }
  // The request log (null with request_log.enabled: false) and the metrics registry.
  const Telemetry& telemetry() const noexcept { return telemetry_; }

 private:
  void register_log_gauges();
  void register_route_gauges();
  void register_redis_gauges();
  void register_shared_cache_gauges();

  std::shared_ptr<const Config> config_;
  std::shared_ptr<const ProviderRegistry> providers_;
  std::shared_ptr<const RouteTable> routes_;
  std::shared_ptr<const TlsContexts> tls_;
  Telemetry telemetry_;
  std::shared_ptr<redis::Client> redis_;              // null without a redis: section
  std::shared_ptr<telemetry::AccessLog> access_log_;  // null with access_log: off
  std::shared_ptr<const Pipeline> pipeline_;
  ServerState state_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<AdminServer> admin_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  bool stopped_ = false;
};

}  // namespace aigw
