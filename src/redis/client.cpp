#include "redis/client.hpp"

#include "core/redis_url.hpp"
#include "core/sha256.hpp"

#include <boost/asio/execution_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <unordered_map>

namespace aigw::redis {

namespace asio = boost::asio;

namespace {

std::atomic<std::uint64_t> g_next_client_id{1};

// One io_context's connections, per client. Owned by the io_context: its connections (and
// their sockets) are released when it shuts down, before its other services go. Used only
// from the io_context's own thread (a worker runs one io_context on one thread).
class Connections final : public asio::execution_context::service {
 public:
  using key_type = Connections;
  static inline asio::execution_context::id id;

  explicit Connections(asio::execution_context& context) : service(context) {}

  struct Ring {
    std::vector<std::shared_ptr<Connection>> connections;
    std::size_t next = 0;
  };
  std::unordered_map<std::uint64_t, Ring> by_client;

 private:
  void shutdown() override { by_client.clear(); }
};

// A script's keys and arguments, encoded once: what follows the script's name in both its
// EVALSHA form and, when the server does not know the script (a restart flushed it), its
// EVAL form.
struct ScriptArgs {
  std::string tail;
  std::size_t count = 0;  // of the whole command's elements
};

ScriptArgs script_args(const std::vector<std::string_view>& keys,
                       const std::vector<std::string_view>& args) {
  ScriptArgs out;
  append_bulk(out.tail, std::to_string(keys.size()));
  for (const std::string_view k : keys) append_bulk(out.tail, k);
  for (const std::string_view a : args) append_bulk(out.tail, a);
  out.count = 3 + keys.size() + args.size();
  return out;
}

// "EVALSHA <sha1> ..." or "EVAL <source> ...".
std::string script_command(std::string_view verb, std::string_view script, const ScriptArgs& a) {
  std::string out;
  out.reserve(32 + script.size() + a.tail.size());
  append_array_header(out, a.count);
  append_bulk(out, verb);
  append_bulk(out, script);
  out += a.tail;
  return out;
}

bool unknown_script(const Reply& reply) {
  return reply.is_error() && reply.text.starts_with("NOSCRIPT");
}

Options options_of(const RedisConfig& config) {
  std::string problem;
  auto endpoint = parse_url(config.url, problem);
  if (!endpoint) throw std::runtime_error("redis.url " + problem);
  if (!config.password.reveal().empty()) endpoint->password = config.password.reveal();
  Options options;
  options.endpoint = std::move(*endpoint);
  options.connect_timeout = config.connect_timeout;
  options.command_timeout = config.command_timeout;
  if (options.endpoint.tls) {
    auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    tls->set_default_verify_paths();
    if (config.ca_file) {
      boost::system::error_code ec;
      tls->load_verify_file(*config.ca_file, ec);
      if (ec) {
        throw std::runtime_error("redis.ca_file: cannot load '" + *config.ca_file +
                                 "': " + ec.message());
      }
    }
    tls->set_verify_mode(asio::ssl::verify_peer);
    options.tls = std::move(tls);
  }
  return options;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  sha1_ = to_hex(digest, sizeof digest);
}

Client::Client(const RedisConfig& config)
    : Client(options_of(config), config.pool, config.key_prefix) {}

Client::Client(Options options, unsigned pool, std::string key_prefix)
    : options_(std::move(options)),
      pool_(std::max(pool, 1u)),
      prefix_(std::move(key_prefix)),
      display_(options_.endpoint.display()),
      id_(g_next_client_id.fetch_add(1)) {}

std::shared_ptr<Connection> Client::connection(const asio::any_io_executor& executor) {
  auto& service = asio::use_service<Connections>(asio::query(executor, asio::execution::context));
  auto& ring = service.by_client[id_];
  if (ring.connections.size() < pool_) {
    ring.connections.push_back(Connection::create(executor, options_));
    return ring.connections.back();
  }
  ring.next = (ring.next + 1) % ring.connections.size();
  return ring.connections[ring.next];
}

asio::awaitable<Outcome<std::vector<Reply>>> Client::exec(std::vector<std::string> commands) {
  const auto executor = co_await asio::this_coro::executor;
  const auto conn = connection(executor);
  auto result = co_await conn->exec(std::move(commands));
  if (result) {
    stats_.round_trips.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_.failures.fetch_add(1, std::memory_order_relaxed);
    if (result.error().kind == Failure::Kind::kTimeout) {
      stats_.timeouts.fetch_add(1, std::memory_order_relaxed);
    }
  }
  co_return result;
}

std::string_view feature_name(Feature feature) noexcept {
  switch (feature) {
    case Feature::kLimits:
      return "limits";
    case Feature::kCache:
      return "cache";
    case Feature::kBreakers:
      return "breakers";
  }
  return "?";
}

void Client::defer_eval(const asio::any_io_executor& executor, Feature feature,
                        const Script& script, const std::vector<std::string_view>& keys,
                        const std::vector<std::string_view>& args) {
  auto call = std::make_shared<const ScriptArgs>(script_args(keys, args));
  auto conn = connection(executor);
  // The callback waits in the connection's own state: a strong reference to the connection
  // would make a cycle, leaked when the commands are never sent (a shutdown while Redis
  // does not answer; LeakSanitizer in Replicas.ASilentRedisTimesOutIntoEachRulesPolicy).
  std::weak_ptr<Connection> weak = conn;
  conn->defer(script_command("EVALSHA", script.sha1(), *call),
              [this, feature, weak, call, &script](const Outcome<Reply>& reply) {
                if (!reply) {
                  report(feature, reply.error(), "a deferred write was lost");
                  return;
                }
                if (!unknown_script(*reply)) return;
                const auto live = weak.lock();
                if (!live) return;  // closing down
                // Not loaded (a restarted server): sent again with its source, deferred too.
                stats_.script_loads.fetch_add(1, std::memory_order_relaxed);
                live->defer(script_command("EVAL", script.source(), *call),
                            [this, feature](const Outcome<Reply>& again) {
                              if (!again)
                                report(feature, again.error(), "a deferred write was lost");
                            });
              });
}

void Client::report(Feature feature, const Failure& failure, std::string_view consequence) {
  const auto index = static_cast<std::size_t>(feature);
  stats_.fallbacks[index].fetch_add(1, std::memory_order_relaxed);
  constexpr std::int64_t kEveryMs = 10'000;
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
  std::uint64_t skipped = 0;
  {
    std::lock_guard lock(report_mutex_);
    Reported& r = reported_[index];
    if (r.last_ms != 0 && now_ms - r.last_ms < kEveryMs) {
      ++r.since;
      return;
    }
    skipped = r.since;
    r.last_ms = now_ms;
    r.since = 0;
  }
  if (skipped == 0) {
    spdlog::warn("{} without Redis: {}; {}", feature_name(feature), failure.detail, consequence);
  } else {
    spdlog::warn("{} without Redis: {}; {} (and {} more times since the last line)",
                 feature_name(feature), failure.detail, consequence, skipped);
  }
}

asio::awaitable<Outcome<Reply>> Client::eval(const Script& script,
                                             const std::vector<std::string_view>& keys,
                                             const std::vector<std::string_view>& args) {
  const ScriptArgs call = script_args(keys, args);
  std::vector<std::string> commands;
  commands.push_back(script_command("EVALSHA", script.sha1(), call));
  auto replies = co_await exec(std::move(commands));
  if (!replies) co_return replies.error();
  if (!unknown_script(replies->front())) co_return std::move(replies->front());
  // Not loaded (a new or restarted server): EVAL runs it and keeps it for the next EVALSHA.
  stats_.script_loads.fetch_add(1, std::memory_order_relaxed);
  commands.clear();
  commands.push_back(script_command("EVAL", script.source(), call));
  replies = co_await exec(std::move(commands));
  if (!replies) co_return replies.error();
  co_return std::move(replies->front());
}

}  // namespace aigw::redis
