#include "app/app.hpp"

#include "app/stages.hpp"
#include "config/price_table.hpp"
#include "router/routes.hpp"
#include "stages/cache/cache_stage.hpp"
#include "stages/cache/redis_store.hpp"
#include "telemetry/request_log.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace aigw {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

tcp::endpoint endpoint_of(const ListenAddress& listen) {
  return {asio::ip::make_address(listen.host.empty() ? "0.0.0.0" : listen.host), listen.port};
}

std::string format_endpoint(const ListenAddress& listen, std::uint16_t port) {
  const bool v6 = listen.host.find(':') != std::string::npos;
  return (v6 ? "[" + listen.host + "]" : listen.host) + ":" + std::to_string(port);
}

// A counter kept in an atomic field of `stats`, read when /metrics is rendered (`stats` lives
// as long as the App).
template <class Stats>
void add_counter(metrics::Registry& m, std::string name, std::string help, const Stats* stats,
                 const std::atomic<std::uint64_t> Stats::*field) {
  m.add_gauge({std::move(name), std::move(help), "counter", [stats, field]() -> double {
                 return static_cast<double>((stats->*field).load(std::memory_order_relaxed));
               }});
}

}  // namespace

App::App(Config config) : config_(std::make_shared<const Config>(std::move(config))) {
  std::vector<ProviderRegistry::Problem> problems;
  providers_ = ProviderRegistry::build(*config_, problems);
  if (config_->redis) redis_ = std::make_shared<redis::Client>(*config_->redis);
  routes_ = RouteTable::build(*config_, *providers_, problems, redis_);
  if (!problems.empty()) {
    std::string text;
    for (const auto& p : problems) text += "\n  " + p.path + ": " + p.message;
    throw std::runtime_error("invalid provider configuration:" + text);
  }
  for (const auto& slug : providers_->slugs()) {
    const Provider* p = providers_->find(slug);
    if (p != nullptr && !p->config.tls_verify) {
      spdlog::warn(
          "providers.{}.tls_verify is false: certificates of {} are NOT verified; anyone on the "
          "path can read and alter this traffic",
          slug, p->base.host);
    }
  }
  tls_ = TlsContexts::build(*providers_);
  telemetry_.metrics = std::make_shared<metrics::Registry>();
  telemetry_.routes = routes_;
  if (!routes_->empty()) register_route_gauges();
  // Every request ends as one record, metered or not, unless the request log is off.
  if (config_->request_log.enabled) {
    const RequestLogConfig& log = config_->request_log;
    store::LogStoreOptions options;
    options.path = log.path;
    options.flush_interval = log.flush_interval;
    options.queue_capacity = log.queue;
    options.max_rows = log.max_rows;
    options.max_age = std::chrono::duration_cast<std::chrono::seconds>(log.max_age);
    options.on_error = [](std::string_view message) { spdlog::error("request log: {}", message); };
    auto opened = store::LogStore::open(std::move(options));
    if (!opened) throw std::runtime_error("request_log.path: " + opened.error().detail);
    telemetry_.log = std::move(*opened);
    register_log_gauges();
  }
  if (!config_->metering.enabled) {
    spdlog::info(
        "metering is off (metering.enabled: false): requests are logged without usage "
        "or cost");
  } else if (config_->metering.prices.empty()) {
    spdlog::warn(
        "no prices (metering.pricing_file: \"\", or a table without prices): every cost is "
        "logged as unpriced (docs/metering.md#the-price-table)");
  } else {
    const MeteringConfig& m = config_->metering;
    spdlog::info("prices for {} models (taken {}) from {}", m.prices.size(),
                 m.prices_taken.empty() ? "?" : m.prices_taken, config::price_table_source(m));
    const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    if (const auto stale = config::stale_price_table_warning(m, today)) spdlog::warn("{}", *stale);
  }
  if (redis_) {
    register_redis_gauges();
    spdlog::info("shared state in Redis at {} (docs/scaling.md)", redis_->display());
  }
  access_log_ = telemetry::AccessLog::create(config_->access_log);
  auto request_log = std::make_shared<telemetry::RequestLog>(*config_, telemetry_.metrics,
                                                             telemetry_.log, access_log_);
  pipeline_ = std::make_shared<const Pipeline>(config_, providers_,
                                               build_stages(*config_, telemetry_, redis_), routes_,
                                               std::move(request_log));
  if (redis_) register_shared_cache_gauges();
}

void App::register_route_gauges() {
  // The table lives as long as the App, which outlives the admin listener.
  const RouteTable* routes = routes_.get();
  auto count = [routes](auto per_breaker) {
    return [routes, per_breaker]() -> double {
      double total = 0;
      const auto now = CircuitBreaker::Clock::now();
      for (const auto& route : routes->routes()) {
        for (const auto& target : route->targets) {
          if (target.breaker) total += per_breaker(*target.breaker, now);
        }
      }
      return total;
    };
  };
  auto& m = *telemetry_.metrics;
  m.add_gauge({"aigw_route_targets_open",
               "Named-route targets whose circuit breaker is open (skipped, or awaiting a probe).",
               "gauge", count([](const CircuitBreaker& b, CircuitBreaker::TimePoint now) {
                 return b.state(now) == CircuitBreaker::State::kClosed ? 0.0 : 1.0;
               })});
  m.add_gauge({"aigw_route_breaker_opens_total",
               "Times a named-route target's circuit breaker opened after repeated failures.",
               "counter", count([](const CircuitBreaker& b, CircuitBreaker::TimePoint) {
                 return static_cast<double>(b.opens());
               })});
}

void App::register_shared_cache_gauges() {
  // The stage (and its shared store) lives as long as the pipeline, which the App owns.
  const cache::SharedStoreStats* stats = nullptr;
  for (const auto& stage : pipeline_->stages()) {
    if (auto* cache = dynamic_cast<CacheStage*>(stage.get()); cache && cache->shared()) {
      stats = &cache->shared()->stats();
    }
  }
  if (stats == nullptr) return;
  auto& m = *telemetry_.metrics;
  const auto counter = [&](std::string name, std::string help, auto field) {
    add_counter(m, std::move(name), std::move(help), stats, field);
  };
  counter("aigw_redis_cache_hits_total",
          "Cache lookups answered from Redis (an entry another instance, or this one, stored).",
          &cache::SharedStoreStats::hits);
  counter("aigw_redis_cache_misses_total", "Cache lookups Redis had no entry for.",
          &cache::SharedStoreStats::misses);
  counter("aigw_redis_cache_undecodable_total",
          "Entries read from Redis that did not decode (treated as misses and replaced).",
          &cache::SharedStoreStats::undecodable);
  counter("aigw_redis_cache_stored_total", "Entries written to Redis.",
          &cache::SharedStoreStats::stored);
  counter("aigw_redis_cache_not_shared_total",
          "Entries kept in memory only: too large, a write backlog, or a write Redis refused.",
          &cache::SharedStoreStats::not_shared);
}

void App::register_redis_gauges() {
  // The client lives as long as the App, which outlives the admin listener.
  const redis::ClientStats* stats = &redis_->stats();
  auto& m = *telemetry_.metrics;
  const auto counter = [&](std::string name, std::string help, auto field) {
    add_counter(m, std::move(name), std::move(help), stats, field);
  };
  counter("aigw_redis_round_trips_total", "Calls to Redis answered (one per decision).",
          &redis::ClientStats::round_trips);
  counter("aigw_redis_failures_total",
          "Calls to Redis that got no answer (unreachable, timed out, connection lost).",
          &redis::ClientStats::failures);
  counter("aigw_redis_timeouts_total", "Calls to Redis that timed out (redis.command_timeout).",
          &redis::ClientStats::timeouts);
  for (std::size_t i = 0; i < redis::kFeatures; ++i) {
    const auto feature = static_cast<redis::Feature>(i);
    m.add_gauge({"aigw_redis_" + std::string(redis::feature_name(feature)) + "_fallbacks_total",
                 "Times the " + std::string(redis::feature_name(feature)) +
                     " went on without Redis (on_error policy, or the cache bypassed).",
                 "counter", [stats, i]() -> double {
                   return static_cast<double>(stats->fallbacks[i].load(std::memory_order_relaxed));
                 }});
  }
}

void App::register_log_gauges() {
  // The store is shared, so these read it when /metrics is rendered.
  std::weak_ptr<store::LogStore> weak = telemetry_.log;
  auto stat = [weak](auto field) {
    return [weak, field]() -> double {
      const auto log = weak.lock();
      return log ? static_cast<double>(log->stats().*field) : 0.0;
    };
  };
  auto& m = *telemetry_.metrics;
  m.add_gauge({"aigw_log_queue_depth", "Request-log records waiting for the writer.", "gauge",
               stat(&store::LogStoreStats::queued)});
  m.add_gauge({"aigw_log_written_total", "Request-log records committed to the database.",
               "counter", stat(&store::LogStoreStats::written)});
  m.add_gauge({"aigw_log_dropped_total",
               "Request-log records dropped because the writer could not keep up (queue full).",
               "counter", stat(&store::LogStoreStats::dropped)});
  m.add_gauge({"aigw_log_lost_total", "Request-log records given up after database write errors.",
               "counter", stat(&store::LogStoreStats::lost)});
  m.add_gauge({"aigw_log_write_errors_total", "Failed request-log write attempts.", "counter",
               stat(&store::LogStoreStats::write_errors)});
}

App::~App() { drain_and_stop(); }

void App::start() {
  unsigned n = config_->server.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  auto endpoint = endpoint_of(config_->server.listen);
  for (unsigned i = 0; i < n; ++i) {
    auto worker = std::make_unique<Worker>(i, config_, pipeline_, tls_, state_);
    // Port 0 picks a free port once; the other workers join that same port.
    const auto bound = worker->listen(endpoint);
    if (i == 0) {
      port_ = bound;
      endpoint.port(bound);
    }
    workers_.push_back(std::move(worker));
  }
  if (config_->admin.enabled) {
    admin_ = std::make_unique<AdminServer>(state_, telemetry_);
    admin_port_ = admin_->listen(endpoint_of(config_->admin.listen));
  }
  for (auto& w : workers_) w->start();
  if (admin_) admin_->start();
  spdlog::info("aigw {} listening on {} ({} workers)", AIGW_VERSION,
               format_endpoint(config_->server.listen, port_), n);
  if (admin_) {
    spdlog::info("admin listening on {}", format_endpoint(config_->admin.listen, admin_port_));
  }
}

void App::drain_and_stop() {
  if (stopped_) return;
  stopped_ = true;
  state_.draining = true;
  for (auto& w : workers_) w->drain();

  const auto deadline = std::chrono::steady_clock::now() + config_->server.drain_timeout;
  auto busy = [&] {
    std::size_t n = 0;
    for (auto& w : workers_) n += w->active_sessions();
    return n;
  };
  // Poll: drains are rare and short, and this keeps the workers free of shutdown plumbing.
  while (busy() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (const auto left = busy(); left > 0) {
    spdlog::warn("drain grace period over: closing {} connection(s) still open", left);
    for (auto& w : workers_) w->force_close();
    const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (busy() > 0 && std::chrono::steady_clock::now() < hard) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  for (auto& w : workers_) w->stop();
  if (admin_) admin_->stop();
  workers_.clear();
  if (telemetry_.log) telemetry_.log->flush();  // every finished request is on disk
  if (access_log_) access_log_->flush();
}

int App::run_until_signal() {
  // Handlers first, so a signal during start-up is not fatal.
  asio::io_context signals_io(1);
  asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  start();
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) received = sig;
  });
  signals_io.run();
  spdlog::info("received {}, draining (grace period {}ms)",
               received == SIGTERM ? "SIGTERM" : "SIGINT", config_->server.drain_timeout.count());
  drain_and_stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace aigw
