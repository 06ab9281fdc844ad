#pragma once
// The process: builds shared state from the config, runs the workers and the admin server,
// and drains on request (SIGTERM/SIGINT in main, an explicit call in tests).

#include "aigw/config.hpp"

#include "core/metrics.hpp"
#include "pipeline/pipeline.hpp"
#include "redis/client.hpp"
#include "server/admin.hpp"
#include "server/serving.hpp"
#include "server/worker.hpp"
#include "store/log_store.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
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
  // For main(): start(), block until SIGINT/SIGTERM, drain_and_stop(); SIGHUP reloads.
  int run_until_signal();

  // Reads the config file again (config.source) and, when it is valid, serves new requests
  // with it while requests in flight finish on the old one. State carries over where its
  // rules are unchanged (cache entries, limiter counters, budgets, breakers); a listener is
  // rebound only when its address changed. On any problem the old config stays. Thread-safe;
  // one reload at a time. docs/operations.md.
  struct ReloadResult {
    bool ok = false;
    std::uint64_t generation = 0;          // configs loaded so far, the first one included
    std::vector<std::string> problems;     // file:line:col: path: message, when not ok
    std::vector<std::string> changed;      // top-level sections that differ, when ok
    std::vector<std::string> not_applied;  // settings that take effect at the next start
  };
  ReloadResult reload();
  // POST /api/reload's answer: the status and the JSON body.
  std::pair<unsigned, std::string> reload_response();

  // The config and routes serving new requests now (they change with a reload).
  std::shared_ptr<const Config> config() const;
  std::shared_ptr<const RouteTable> routes() const;

  ServerState& state() noexcept { return state_; }
  std::shared_ptr<const Pipeline> pipeline() const;
  // The request log (null with request_log.enabled: false) and the metrics registry.
  const Telemetry& telemetry() const noexcept { return telemetry_; }

 private:
  void register_log_gauges();
  void register_route_gauges();
  void register_redis_gauges();
  void register_shared_cache_gauges();

  // Everything a config builds, in one piece (the constructor's and each reload's).
  struct Built {
    std::shared_ptr<const Config> config;
    std::shared_ptr<const ProviderRegistry> providers;
    std::shared_ptr<redis::Client> redis;
    std::shared_ptr<const RouteTable> routes;
    std::shared_ptr<const TlsContexts> tls;
    std::shared_ptr<const Pipeline> pipeline;
  };
  // Providers, routes and TLS for `config`; problems are appended (nothing is built then).
  // `previous`: the running generation, whose breakers, TLS contexts and Redis client carry
  // over. Throws std::runtime_error for an unreadable CA file.
  Built build_routing(std::shared_ptr<const Config> config, const Built* previous,
                      std::vector<std::string>& problems) const;
  void build_pipeline(Built& built, const Built* previous) const;

  mutable std::mutex current_mutex_;  // guards current_ (read by the admin thread)
  Built current_;
  std::mutex reload_mutex_;  // one reload at a time
  std::uint64_t generation_ = 1;
  std::string config_text_;  // the file as last loaded (reload_mutex_)
  std::unique_ptr<ServingSource> serving_;
  // The members below are fixed at start: a reload reports their sections as not applied.
  std::shared_ptr<const Config> started_config_;
  Telemetry telemetry_;
  std::shared_ptr<telemetry::AccessLog> access_log_;  // null with access_log: off
  std::shared_ptr<redis::Client> redis_at_start_;     // its stats back the Redis metrics
  ServerState state_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<AdminServer> admin_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  bool stopped_ = false;
};

}  // namespace aigw
