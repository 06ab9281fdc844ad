#pragma once
// The pipeline: plan → stages' on_request → attempts (each through every stage's on_attempt,
// then the forwarder) or a local answer → on_complete.
// Built once from the config (see build_pipeline), shared by all workers; the per-worker
// parts (forwarder, downstream) are passed to run().

#include "aigw/config.hpp"
#include "aigw/downstream.hpp"
#include "aigw/forwarder.hpp"
#include "aigw/provider.hpp"
#include "aigw/stage.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

namespace aigw {

namespace metrics {
class Registry;
}
namespace store {
class LogStore;
}

class RouteTable;
namespace telemetry {
class RequestLog;
}

class Pipeline {
 public:
  // `routes`: the config's named routes (null = none); `request_log`: the last step of every
  // request, its summary to the access log, the request log and the metrics (null = none).
  Pipeline(std::shared_ptr<const Config> config, std::shared_ptr<const ProviderRegistry> providers,
           std::vector<std::shared_ptr<Stage>> stages,
           std::shared_ptr<const RouteTable> routes = nullptr,
           std::shared_ptr<telemetry::RequestLog> request_log = nullptr);

  // Runs one request to its end: afterwards the response is fully sent (or the client is
  // known to be gone) and every stage's on_complete has run. Suspends.
  boost::asio::awaitable<void> run(RequestContext& ctx, Forwarder& forwarder,
                                   Downstream& downstream) const;

  const std::vector<std::shared_ptr<Stage>>& stages() const noexcept { return stages_; }
  const std::shared_ptr<telemetry::RequestLog>& request_log() const noexcept {
    return request_log_;
  }

  // Plans the request (router/planner.hpp) into ctx.plan, with ctx.path, ctx.provider and
  // ctx.provider_slug; the error is the request's answer. Exposed for tests; never suspends.
  Result<void> plan(RequestContext& ctx) const;

 private:
  // run() without the final accounting: routing, stages' on_request, the response.
  boost::asio::awaitable<void> serve(RequestContext& ctx, Forwarder& forwarder,
                                     Downstream& downstream) const;
  // After planning: the stages, the router and the answer, through the translating
  // downstream for a /compat client.
  boost::asio::awaitable<void> respond(RequestContext& ctx, Forwarder& forwarder,
                                       Downstream& client) const;
  boost::asio::awaitable<void> send_local(RequestContext& ctx, Downstream& downstream) const;

  std::shared_ptr<const Config> config_;
  std::shared_ptr<const ProviderRegistry> providers_;
  std::shared_ptr<const RouteTable> routes_;
  std::vector<std::shared_ptr<Stage>> stages_;
  std::shared_ptr<telemetry::RequestLog> request_log_;
  bool prompt_needed_ = false;                 // a token limit or budget reads every prompt's size
  std::shared_ptr<const std::string> models_;  // GET /compat/models: built once
};

// What observes every request beyond its own stage, owned by the App: the metrics registry
// (rendered on the admin listener) and the request log (null with log.enabled: false).
struct Telemetry {
  std::shared_ptr<metrics::Registry> metrics;
  std::shared_ptr<store::LogStore> log;
  // The named routes, whose breakers /api/routes shows (null: none).
  std::shared_ptr<const RouteTable> routes;
};

}  // namespace aigw
