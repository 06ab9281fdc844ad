#include "app/app.hpp"

#include "app/stages.hpp"
#include "config/load.hpp"
#include "config/price_table.hpp"
#include "router/routes.hpp"
#include "stages/cache/cache_stage.hpp"
#include "stages/cache/redis_store.hpp"
#include "telemetry/request_log.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
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

namespace {

// The Redis client of the running generation serves the new one when the section is unchanged.
bool same_redis(const std::optional<RedisConfig>& a, const std::optional<RedisConfig>& b) {
  if (!a || !b) return !a && !b;
  return a->url == b->url && a->password.reveal() == b->password.reveal() &&
         a->connect_timeout == b->connect_timeout && a->command_timeout == b->command_timeout &&
         a->pool == b->pool && a->key_prefix == b->key_prefix && a->ca_file == b->ca_file;
}

// The config file's text, for the reload's list of changed sections ("" when unreadable).
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string problem_text(const std::string& file, const ProviderRegistry::Problem& p) {
  const config::Diagnostic d{p.mark.file.empty() ? SourceMark{file, 0, 0} : p.mark, p.path,
                             p.message};
  return d.str();
}

}  // namespace

App::Built App::build_routing(std::shared_ptr<const Config> config, const Built* previous,
                              std::vector<std::string>& problems) const {
  Built built;
  built.config = std::move(config);
  const Config& c = *built.config;
  std::vector<ProviderRegistry::Problem> found;
  built.providers = ProviderRegistry::build(c, found);
  if (previous != nullptr && same_redis(previous->config->redis, c.redis)) {
    built.redis = previous->redis;
  } else if (c.redis) {
    built.redis = std::make_shared<redis::Client>(*c.redis);
  }
  built.routes = RouteTable::build(c, *built.providers, found, built.redis,
                                   previous != nullptr ? previous->routes.get() : nullptr);
  for (const auto& p : found) problems.push_back(problem_text(c.source, p));
  if (!problems.empty()) return built;
  built.tls =
      TlsContexts::build(*built.providers, previous != nullptr ? previous->tls.get() : nullptr);
  return built;
}

void App::build_pipeline(Built& built, const Built* previous) const {
  auto request_log = std::make_shared<telemetry::RequestLog>(*built.config, telemetry_.metrics,
                                                             telemetry_.log, access_log_);
  Telemetry telemetry = telemetry_;
  telemetry.routes = built.routes;
  built.pipeline = std::make_shared<const Pipeline>(
      built.config, built.providers,
      build_stages(*built.config, telemetry, built.redis,
                   previous != nullptr ? previous->pipeline.get() : nullptr),
      built.routes, std::move(request_log));
}

App::App(Config config) : started_config_(std::make_shared<const Config>(std::move(config))) {
  std::vector<std::string> problems;
  current_ = build_routing(started_config_, nullptr, problems);
  if (!problems.empty()) {
    std::string text;
    for (const auto& p : problems) text += "\n  " + p;
    throw std::runtime_error("invalid provider configuration:" + text);
  }
  const Config& c = *started_config_;
  for (const auto& slug : current_.providers->slugs()) {
    const Provider* p = current_.providers->find(slug);
    if (p != nullptr && !p->config.tls_verify) {
      spdlog::warn(
          "providers.{}.tls_verify is false: certificates of {} are NOT verified; anyone on the "
          "path can read and alter this traffic",
          slug, p->base.host);
    }
  }
  telemetry_.metrics = std::make_shared<metrics::Registry>();
  telemetry_.routes = current_.routes;
  register_route_gauges();
  // Every request ends as one record, metered or not, unless the request log is off.
  if (c.request_log.enabled) {
    const RequestLogConfig& log = c.request_log;
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
  if (!c.metering.enabled) {
    spdlog::info(
        "metering is off (metering.enabled: false): requests are logged without usage "
        "or cost");
  } else if (c.metering.prices.empty()) {
    spdlog::warn(
        "no prices (metering.pricing_file: \"\", or a table without prices): every cost is "
        "logged as unpriced (docs/metering.md#the-price-table)");
  } else {
    const MeteringConfig& m = c.metering;
    spdlog::info("prices for {} models (taken {}) from {}", m.prices.size(),
                 m.prices_taken.empty() ? "?" : m.prices_taken, config::price_table_source(m));
    const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    if (const auto stale = config::stale_price_table_warning(m, today)) spdlog::warn("{}", *stale);
  }
  if (current_.redis) {
    register_redis_gauges();
    spdlog::info("shared state in Redis at {} (docs/scaling.md)", current_.redis->display());
  }
  access_log_ = telemetry::AccessLog::create(c.access_log);
  build_pipeline(current_, nullptr);
  serving_ = std::make_unique<ServingSource>(
      std::make_shared<const Serving>(Serving{current_.config, current_.pipeline, current_.tls}));
  register_shared_cache_gauges();
  if (!c.source.empty()) config_text_ = read_text(c.source);
}

std::shared_ptr<const Config> App::config() const {
  std::lock_guard lock(current_mutex_);
  return current_.config;
}

std::shared_ptr<const RouteTable> App::routes() const {
  std::lock_guard lock(current_mutex_);
  return current_.routes;
}

std::shared_ptr<const Pipeline> App::pipeline() const {
  std::lock_guard lock(current_mutex_);
  return current_.pipeline;
}

void App::register_route_gauges() {
  // The App outlives the admin listener; the table is the current one (reloads change it).
  auto count = [this](auto per_breaker) {
    return [this, per_breaker]() -> double {
      const auto routes = this->routes();
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
  // Read from the current pipeline's cache stage when /metrics is rendered: a reload may
  // replace it (counts then start again, as the store is new).
  auto& m = *telemetry_.metrics;
  const auto counter = [&](std::string name, std::string help,
                           const std::atomic<std::uint64_t> cache::SharedStoreStats::*field) {
    m.add_gauge({std::move(name), std::move(help), "counter", [this, field]() -> double {
                   const auto pipeline = this->pipeline();
                   for (const auto& stage : pipeline->stages()) {
                     if (auto* cache = dynamic_cast<CacheStage*>(stage.get());
                         cache && cache->shared()) {
                       return static_cast<double>(
                           (cache->shared()->stats().*field).load(std::memory_order_relaxed));
                     }
                   }
                   return 0.0;
                 }});
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
  // The client of the start: it lives as long as the App (kept here), and a reload keeps
  // using it unless the redis section changed.
  auto client = current_.redis;
  const redis::ClientStats* stats = &client->stats();
  redis_at_start_ = std::move(client);
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
  const Config& c = *started_config_;
  unsigned n = c.server.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  auto endpoint = endpoint_of(c.server.listen);
  for (unsigned i = 0; i < n; ++i) {
    auto worker = std::make_unique<Worker>(i, *serving_, state_);
    // Port 0 picks a free port once; the other workers join that same port.
    const auto bound = worker->listen(endpoint);
    if (i == 0) {
      port_ = bound;
      endpoint.port(bound);
    }
    workers_.push_back(std::move(worker));
  }
  if (c.admin.enabled) {
    AdminHooks hooks;
    hooks.config = [this] { return config(); };
    hooks.routes = [this] { return routes(); };
    hooks.reload = [this] { return reload_response(); };
    admin_ = std::make_unique<AdminServer>(state_, telemetry_, std::move(hooks));
    admin_port_ = admin_->listen(endpoint_of(c.admin.listen));
  }
  for (auto& w : workers_) w->start();
  if (admin_) admin_->start();
  spdlog::info("aigw {} listening on {} ({} workers)", AIGW_VERSION,
               format_endpoint(c.server.listen, port_), n);
  if (admin_) {
    spdlog::info("admin listening on {}", format_endpoint(c.admin.listen, admin_port_));
  }
}

App::ReloadResult App::reload() {
  std::lock_guard reloading(reload_mutex_);
  ReloadResult result;
  const Built previous = [&] {
    std::lock_guard lock(current_mutex_);
    return current_;
  }();
  const std::string& path = started_config_->source;
  const auto fail = [&](std::vector<std::string> problems) {
    result.problems = std::move(problems);
    result.generation = generation_;
    for (const auto& p : result.problems) spdlog::error("reload: {}", p);
    spdlog::error("reload of {} failed: the running config (generation {}) stays", path,
                  generation_);
    return result;
  };
  if (path.empty()) return fail({"this gateway was started without a config file"});

  auto loaded = config::load_file(path);
  std::vector<std::string> problems;
  for (const auto& d : loaded.diagnostics) problems.push_back(d.str());
  if (!loaded.ok()) return fail(std::move(problems));
  auto next_config = std::make_shared<const Config>(std::move(*loaded.config));
  const Config& next = *next_config;
  const Config& start = *started_config_;

  Built built;
  try {
    built = build_routing(next_config, &previous, problems);
  } catch (const std::exception& e) {
    problems.push_back(path + ": " + e.what());
  }
  if (!problems.empty()) return fail(std::move(problems));

  // What a running process cannot change: said, not silently ignored.
  const auto not_applied = [&](bool differs, const char* what) {
    if (differs) result.not_applied.emplace_back(what);
  };
  const auto& log0 = start.request_log;
  const auto& log1 = next.request_log;
  not_applied(start.server.workers != next.server.workers, "server.workers");
  not_applied(log0.enabled != log1.enabled || log0.path != log1.path || log0.queue != log1.queue ||
                  log0.flush_interval != log1.flush_interval || log0.max_rows != log1.max_rows ||
                  log0.max_age != log1.max_age,
              "request_log (the store: enabled, path, queue, flush_interval, max_rows, max_age)");
  not_applied(start.access_log.path != next.access_log.path ||
                  start.access_log.queue != next.access_log.queue,
              "access_log");
  not_applied(start.admin.enabled != next.admin.enabled, "admin.enabled");
  not_applied(start.upstream.pool_max_idle_per_host != next.upstream.pool_max_idle_per_host ||
                  start.upstream.pool_idle_timeout != next.upstream.pool_idle_timeout,
              "upstream.pool_max_idle_per_host, upstream.pool_idle_timeout");

  // Listeners move only when their address changed; a bind failure keeps everything old.
  const Config& running = *previous.config;
  const bool move_server = !(running.server.listen.host == next.server.listen.host &&
                             running.server.listen.port == next.server.listen.port);
  const bool move_admin = admin_ && !(running.admin.listen.host == next.admin.listen.host &&
                                      running.admin.listen.port == next.admin.listen.port);
  try {
    if (move_server) {
      auto endpoint = endpoint_of(next.server.listen);
      for (std::size_t i = 0; i < workers_.size(); ++i) {
        const auto bound = workers_[i]->rebind(endpoint);
        if (i == 0) {
          port_ = bound;
          endpoint.port(bound);
        }
      }
    }
    if (move_admin) admin_port_ = admin_->rebind(endpoint_of(next.admin.listen));
  } catch (const std::exception& e) {
    return fail({path + ": cannot listen on the new address: " + e.what()});
  }

  build_pipeline(built, &previous);
  {
    std::lock_guard lock(current_mutex_);
    current_ = built;
    ++generation_;
    result.generation = generation_;
  }
  serving_->publish(
      std::make_shared<const Serving>(Serving{built.config, built.pipeline, built.tls}));
  result.ok = true;
  std::string text = read_text(path);
  result.changed = config::changed_sections(config_text_, text);
  config_text_ = std::move(text);
  std::string changed;
  for (const auto& section : result.changed) changed += (changed.empty() ? "" : ", ") + section;
  spdlog::info("reloaded {} (generation {}): {}", path, result.generation,
               changed.empty() ? std::string("no section changed") : "changed " + changed);
  if (move_server) spdlog::info("listening on {}", format_endpoint(next.server.listen, port_));
  if (move_admin) {
    spdlog::info("admin listening on {}", format_endpoint(next.admin.listen, admin_port_));
  }
  for (const auto& what : result.not_applied) {
    spdlog::warn("reload: {} changed; it takes effect at the next start", what);
  }
  return result;
}

std::pair<unsigned, std::string> App::reload_response() {
  const ReloadResult r = reload();
  nlohmann::json body;
  if (r.ok) {
    body = {
        {"result",
         {{"generation", r.generation}, {"changed", r.changed}, {"not_applied", r.not_applied}}}};
    return {200, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
  }
  body = {{"error",
           {{"code", "invalid_config"},
            {"message", "the config was not reloaded; the running one (generation " +
                            std::to_string(r.generation) + ") stays: " +
                            (r.problems.empty() ? std::string("?") : r.problems.front())},
            {"problems", r.problems},
            {"type", "invalid_request_error"}}}};
  return {400, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

void App::drain_and_stop() {
  if (stopped_) return;
  stopped_ = true;
  state_.draining = true;
  for (auto& w : workers_) w->drain();

  const auto drain_timeout = config()->server.drain_timeout;
  const auto deadline = std::chrono::steady_clock::now() + drain_timeout;
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
  asio::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);
  start();
  int received = 0;
  // SIGHUP reloads the config (on this thread: requests keep flowing) and waits again.
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          spdlog::info("received SIGHUP, reloading {}", started_config_->source);
          reload();
          signals.async_wait(on_signal);
          return;
        }
        received = sig;
      };
  signals.async_wait(on_signal);
  signals_io.run();
  spdlog::info("received {}, draining (grace period {}ms)",
               received == SIGTERM ? "SIGTERM" : "SIGINT", config()->server.drain_timeout.count());
  drain_and_stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace aigw
