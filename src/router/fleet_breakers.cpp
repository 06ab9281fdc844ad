#include "router/fleet_breakers.hpp"

#include "core/sha256.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>

namespace aigw {

namespace asio = boost::asio;
using Clock = CircuitBreaker::Clock;

namespace {

// KEYS: open, fail. ARGV: now (Unix ms), window (ms), failures, cooldown (ms), a unique member.
// Returns the fleet's "open until" when the breaker is open (already, or by this failure),
// else 0. An open breaker's key outlives its cooldown (it means "open; probe after until")
// by an hour, so that a fleet that all went away leaves nothing behind for long.
const redis::Script kFail(R"lua(
local open = redis.call('GET', KEYS[1])
if open then return tonumber(open) end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  local untill = now + tonumber(ARGV[4])
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], string.format('%d', untill), 'PX', tonumber(ARGV[4]) + 3600000)
  return untill
end
return 0
)lua");

// KEYS: open, probe. ARGV: now (Unix ms), the probe slot's lease (ms). 2: the breaker is
// closed; 1: this caller is the probe; 0: not yet, or another caller probes.
const redis::Script kProbe(R"lua(
local open = redis.call('GET', KEYS[1])
if not open then return 2 end
if tonumber(ARGV[1]) < tonumber(open) then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 1 end
return 0
)lua");

// KEYS: open, fail, probe. ARGV: 1 (answered: closed) or 0 (failed: open for another
// cooldown), now (Unix ms), cooldown (ms).
const redis::Script kProbeResult(R"lua(
redis.call('DEL', KEYS[3])
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
local untill = tonumber(ARGV[2]) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], string.format('%d', untill), 'PX', tonumber(ARGV[3]) + 3600000)
return untill
)lua");

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The local clock's time of the fleet's Unix-ms `until`.
Clock::time_point steady_of(std::int64_t until_ms) {
  return Clock::now() + std::chrono::milliseconds(until_ms - wall_ms());
}

bool shared(const RouteTarget& target) { return target.breaker && target.fleet; }

void log_change(CircuitBreaker::Change change, const Route& route, const RouteTarget& target) {
  if (change == CircuitBreaker::Change::kOpened) {
    spdlog::warn("route '{}' target {}: circuit breaker open for the fleet", route.name,
                 target.label);
  } else if (change == CircuitBreaker::Change::kClosed) {
    spdlog::info("route '{}' target {}: circuit breaker closed for the fleet", route.name,
                 target.label);
  }
}

std::atomic<std::uint64_t> g_member{0};

}  // namespace

FleetBreakers::FleetBreakers(std::shared_ptr<redis::Client> client) : client_(std::move(client)) {}

std::string FleetBreakers::key_of(std::string_view route, std::size_t target) const {
  std::string id(route);
  id += '\0';
  id += std::to_string(target);
  return client_->prefix() + "br:" + sha256_hex(id, 12);
}

asio::awaitable<void> FleetBreakers::refresh(const Route& route) const {
  std::vector<const RouteTarget*> targets;
  const auto now = Clock::now();
  for (const auto& target : route.targets) {
    if (shared(target) && target.breaker->refresh_due(now, kRefresh)) targets.push_back(&target);
  }
  if (targets.empty()) co_return;
  std::vector<std::string> keys;
  std::vector<std::string_view> argv{"MGET"};
  for (const RouteTarget* t : targets) keys.push_back(t->fleet_key + ":open");
  argv.insert(argv.end(), keys.begin(), keys.end());
  std::vector<std::string> commands;
  commands.push_back(redis::encode(argv));
  auto replies = co_await client_->exec(std::move(commands));
  if (!replies) {
    client_->report(redis::Feature::kBreakers, replies.error(),
                    "each instance's breakers decide alone until it is back");
    co_return;
  }
  const redis::Reply& values = replies->front();
  if (values.type != redis::Reply::Type::kArray || values.elements.size() != targets.size()) {
    co_return;
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const redis::Reply& v = values.elements[i];
    std::optional<Clock::time_point> until;
    if (v.type == redis::Reply::Type::kString) {
      std::int64_t ms = 0;
      const auto [ptr, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), ms);
      if (ec != std::errc() || ptr != v.text.data() + v.text.size()) continue;
      until = steady_of(ms);
    }
    log_change(targets[i]->breaker->mirror(until), route, *targets[i]);
  }
}

asio::awaitable<CircuitBreaker::Admit> FleetBreakers::probe(const Route& route,
                                                            const RouteTarget& target) const {
  if (!shared(target)) co_return CircuitBreaker::Admit::kProbe;
  const std::string open = target.fleet_key + ":open";
  const std::string slot = target.fleet_key + ":probe";
  const std::string now = std::to_string(wall_ms());
  // The lease: a probe that never answers (its instance died) frees the slot after a cooldown.
  const std::string lease = std::to_string(target.breaker->config().cooldown.count());
  const std::vector<std::string_view> keys{open, slot};
  const std::vector<std::string_view> args{now, lease};
  const auto reply = co_await client_->eval(kProbe, keys, args);
  if (!reply || reply->type != redis::Reply::Type::kInteger) {
    if (!reply) {
      client_->report(redis::Feature::kBreakers, reply.error(), "this instance probes alone");
    }
    co_return CircuitBreaker::Admit::kProbe;
  }
  if (reply->integer == 1) co_return CircuitBreaker::Admit::kProbe;
  if (reply->integer == 2) {
    target.breaker->abandon_probe();
    log_change(target.breaker->mirror(std::nullopt), route, target);
    co_return CircuitBreaker::Admit::kYes;
  }
  target.breaker->lose_probe(Clock::now() + kRefresh);
  co_return CircuitBreaker::Admit::kNo;
}

void FleetBreakers::record(const asio::any_io_executor& executor, const Route& route,
                           const RouteTarget& target, bool ok, bool probe) const {
  if (!shared(target) || (ok && !probe)) return;  // a success outside a probe changes nothing
  // Routes and targets live as long as the table, which outlives the workers.
  asio::co_spawn(executor, send_record(&route, &target, ok, probe), asio::detached);
}

asio::awaitable<void> FleetBreakers::send_record(const Route* route, const RouteTarget* target,
                                                 bool ok, bool probe) const {
  const BreakerConfig& config = target->breaker->config();
  const std::string open = target->fleet_key + ":open";
  const std::string fail = target->fleet_key + ":fail";
  const std::string slot = target->fleet_key + ":probe";
  const std::string now = std::to_string(wall_ms());
  const std::string cooldown = std::to_string(config.cooldown.count());
  redis::Outcome<redis::Reply> reply = redis::Reply{};
  if (probe) {
    const std::vector<std::string_view> keys{open, fail, slot};
    const std::vector<std::string_view> args{ok ? "1" : "0", now, cooldown};
    reply = co_await client_->eval(kProbeResult, keys, args);
  } else {
    const std::string window = std::to_string(config.window.count());
    const std::string failures = std::to_string(config.failures);
    const std::string member = now + "-" + std::to_string(g_member.fetch_add(1));
    const std::vector<std::string_view> keys{open, fail};
    const std::vector<std::string_view> args{now, window, failures, cooldown, member};
    reply = co_await client_->eval(kFail, keys, args);
  }
  if (!reply || reply->type != redis::Reply::Type::kInteger) {
    if (!reply) {
      client_->report(redis::Feature::kBreakers, reply.error(),
                      "each instance's breakers decide alone until it is back");
    }
    // Counted by this instance alone, as without Redis (a probe's answer already is).
    if (!probe) (void)target->breaker->record(false, false, Clock::now());
    co_return;
  }
  if (!probe && reply->integer > 0) {
    log_change(target->breaker->mirror(steady_of(reply->integer)), *route, *target);
  }
}

}  // namespace aigw
