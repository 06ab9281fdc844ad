#include "stages/rate_limit/redis_limits.hpp"

#include "core/sha256.hpp"
#include "stages/rate_limit/limiter.hpp"

#include <algorithm>
#include <array>

namespace aigw::limits {

namespace asio = boost::asio;

namespace {

// KEYS: the counters, in the request's order of rules. ARGV[1]: now (Unix ms); then five
// per counter: 'f' (fixed) or 's' (sliding), limit, cost, and for fixed the window's end
// (Unix ms), for sliding the window and slot lengths (ms). Returns {0, 0} when every cost was
// taken, {i, wait_ms} when counter i had no room (and nothing was taken).
// The sliding count adds every slot from the one holding now - window to the newest, the
// oldest whole, as the memory store does (limiter.hpp); older slots are deleted on the way.
const redis::Script kAcquire(R"lua(
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 5
  local limit, cost = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  if ARGV[b] == 'f' then
    local used = tonumber(redis.call('GET', KEYS[i]) or '0')
    if used + cost > limit then return {i, math.max(tonumber(ARGV[b + 3]) - now, 0)} end
  else
    local window, slot = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
    local oldest = math.floor((now - window) / slot)
    local fields = redis.call('HGETALL', KEYS[i])
    local slots, used = {}, 0
    for j = 1, #fields, 2 do
      local s, n = tonumber(fields[j]), tonumber(fields[j + 1])
      if s < oldest then
        redis.call('HDEL', KEYS[i], fields[j])
      else
        used = used + n
        slots[#slots + 1] = {s, n}
      end
    end
    if used + cost > limit then
      table.sort(slots, function(x, y) return x[1] < y[1] end)
      local wait = window
      for _, e in ipairs(slots) do
        used = used - e[2]
        if e[2] ~= 0 and used + cost <= limit then
          wait = math.max((e[1] + 1) * slot + window - now, 0)
          break
        end
      end
      return {i, wait}
    end
  end
end
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 5
  if ARGV[b] == 'f' then
    redis.call('INCRBY', KEYS[i], ARGV[b + 2])
    redis.call('PEXPIREAT', KEYS[i], tonumber(ARGV[b + 3]) + 1000)
  else
    local window, slot = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
    redis.call('HINCRBY', KEYS[i], string.format('%d', math.floor(now / slot)), ARGV[b + 2])
    redis.call('PEXPIRE', KEYS[i], window + 2 * slot)
  end
end
return {0, 0}
)lua");

// KEYS: counters; ARGV: four per counter: 'f' or 's', the amount (negative: given back), the
// slot number (sliding), and the expiry (fixed: the window's end, Unix ms; sliding: the
// hash's time to live, ms). A give-back never takes a counter below 0, and never recreates
// one that expired (its window is over: nothing is left to give back).
const redis::Script kAdjust(R"lua(
for i = 1, #KEYS do
  local b = 1 + (i - 1) * 4
  local delta = tonumber(ARGV[b + 1])
  if ARGV[b] == 'f' then
    if delta > 0 then
      redis.call('INCRBY', KEYS[i], delta)
      redis.call('PEXPIREAT', KEYS[i], tonumber(ARGV[b + 3]) + 1000)
    else
      local left = tonumber(redis.call('GET', KEYS[i]) or '0')
      if left > 0 then redis.call('DECRBY', KEYS[i], math.min(-delta, left)) end
    end
  else
    if delta > 0 then
      redis.call('HINCRBY', KEYS[i], ARGV[b + 2], delta)
      redis.call('PEXPIRE', KEYS[i], ARGV[b + 3])
    else
      local left = tonumber(redis.call('HGET', KEYS[i], ARGV[b + 2]) or '0')
      if left > 0 then redis.call('HINCRBY', KEYS[i], ARGV[b + 2], -math.min(-delta, left)) end
    end
  end
end
return #KEYS
)lua");

// The digest of a scope's value in a counter's key. A request's rules mostly share values
// (the empty one of gateway rules, one address, one key name), and a worker sees the same few
// again and again: the last few are kept per thread rather than hashed for every counter.
// The reference is good until the next call.
const std::string& value_digest(std::string_view value) {
  struct Entry {
    std::string value;
    std::string digest;
  };
  constexpr std::size_t kKept = 8;
  thread_local std::array<Entry, kKept> kept;
  thread_local std::size_t next = 0;
  for (const Entry& e : kept) {
    if (!e.digest.empty() && e.value == value) return e.digest;
  }
  Entry& e = kept[next++ % kKept];
  e.value.assign(value);
  e.digest = sha256_hex(value, 16);
  return e.digest;
}

// What defines a rule's counting: a rule whose window or scope changes starts new counters,
// one whose limit changes keeps them.
std::string rule_identity(const RateLimitRule& r) {
  std::string id = r.name;
  id += '\0';
  id += std::to_string(static_cast<int>(r.unit));
  id += '/';
  id += std::to_string(static_cast<int>(r.technique));
  id += '/';
  id += std::to_string(r.window.count());
  id += r.calendar_month ? "/month" : "";
  id += '/';
  id += std::to_string(static_cast<int>(r.scope));
  id += '/';
  id += r.scope_name;
  return id;
}

}  // namespace

RedisLimits::RedisLimits(std::shared_ptr<redis::Client> client,
                         const std::vector<RateLimitRule>& rules)
    : client_(std::move(client)) {
  for (const auto& rule : rules) {
    Rule r;
    r.rule = rule;
    r.prefix = client_->prefix() + "rl:" + sha256_hex(rule_identity(rule), 8) + ":";
    r.window_ms = std::max<std::int64_t>(rule.window.count(), 1);
    r.slot_ms = slot_ms(rule);
    r.fixed = rule.technique == RateLimitRule::Technique::kFixed;
    rules_.push_back(std::move(r));
  }
}

std::string RedisLimits::key(std::size_t rule, std::string_view value, std::int64_t at_ms) const {
  const Rule& r = rules_.at(rule);
  return counter_key(r, value, r.fixed ? fixed_window(r.rule, at_ms).number : 0);
}

std::string RedisLimits::counter_key(const Rule& r, std::string_view value,
                                     std::int64_t window) const {
  std::string key;
  key.reserve(r.prefix.size() + 56);
  key += r.prefix;
  key += value_digest(value);
  if (r.fixed) {
    key += ':';
    key += std::to_string(window);
  }
  return key;
}

asio::awaitable<redis::Outcome<RedisLimits::Decision>> RedisLimits::acquire(
    const std::vector<Ask>& asks, std::int64_t now_ms) {
  std::vector<std::string> keys;
  std::vector<std::string> args;
  keys.reserve(asks.size());
  args.reserve(1 + asks.size() * 5);
  args.push_back(std::to_string(now_ms));
  for (const Ask& ask : asks) {
    const Rule& r = rules_.at(ask.rule);
    const FixedWindow window = r.fixed ? fixed_window(r.rule, now_ms) : FixedWindow{0, 0};
    keys.push_back(counter_key(r, ask.value, window.number));
    args.emplace_back(r.fixed ? "f" : "s");
    args.push_back(std::to_string(r.rule.limit));
    args.push_back(std::to_string(ask.cost));
    if (r.fixed) {
      args.push_back(std::to_string(window.end_ms));
      args.emplace_back("0");
    } else {
      args.push_back(std::to_string(r.window_ms));
      args.push_back(std::to_string(r.slot_ms));
    }
  }
  const std::vector<std::string_view> key_views(keys.begin(), keys.end());
  const std::vector<std::string_view> arg_views(args.begin(), args.end());
  auto reply = co_await client_->eval(kAcquire, key_views, arg_views);
  if (!reply) co_return reply.error();
  if (reply->type != redis::Reply::Type::kArray || reply->elements.size() != 2 ||
      reply->elements[0].type != redis::Reply::Type::kInteger ||
      reply->elements[1].type != redis::Reply::Type::kInteger) {
    co_return redis::Failure{redis::Failure::Kind::kBroken,
                             "the limits script answered " +
                                 (reply->is_error() ? reply->text : std::string("unexpectedly"))};
  }
  Decision d;
  const long long refused = reply->elements[0].integer;
  if (refused > 0 && static_cast<std::size_t>(refused) <= asks.size()) {
    d.refused = static_cast<std::size_t>(refused - 1);
    d.reset = std::chrono::milliseconds(reply->elements[1].integer);
  }
  co_return d;
}

void RedisLimits::adjust_arguments(const std::vector<Adjust>& adjusts,
                                   std::vector<std::string>& keys,
                                   std::vector<std::string>& args) const {
  for (const Adjust& a : adjusts) {
    const Rule& r = rules_.at(a.rule);
    const FixedWindow window = r.fixed ? fixed_window(r.rule, a.at_ms) : FixedWindow{0, 0};
    keys.push_back(counter_key(r, a.value, window.number));
    args.emplace_back(r.fixed ? "f" : "s");
    args.push_back(std::to_string(a.delta));
    if (r.fixed) {
      args.emplace_back("0");
      args.push_back(std::to_string(window.end_ms));
    } else {
      args.push_back(std::to_string(a.at_ms / r.slot_ms));
      args.push_back(std::to_string(r.window_ms + 2 * r.slot_ms));
    }
  }
}

void RedisLimits::adjust(const asio::any_io_executor& executor, std::vector<Adjust> adjusts) {
  if (adjusts.empty()) return;
  std::vector<std::string> keys;
  std::vector<std::string> args;
  adjust_arguments(adjusts, keys, args);
  const std::vector<std::string_view> key_views(keys.begin(), keys.end());
  const std::vector<std::string_view> arg_views(args.begin(), args.end());
  // No round trip of its own: it rides along with the worker's next decision.
  client_->defer_eval(executor, redis::Feature::kLimits, kAdjust, key_views, arg_views);
}

asio::awaitable<bool> RedisLimits::adjust_now(std::vector<Adjust> adjusts) {
  if (adjusts.empty()) co_return true;
  std::vector<std::string> keys;
  std::vector<std::string> args;
  adjust_arguments(adjusts, keys, args);
  const std::vector<std::string_view> key_views(keys.begin(), keys.end());
  const std::vector<std::string_view> arg_views(args.begin(), args.end());
  auto reply = co_await client_->eval(kAdjust, key_views, arg_views);
  if (!reply) {
    client_->report(redis::Feature::kLimits, reply.error(),
                    "a settlement was lost (the reservation stands)");
    co_return false;
  }
  if (reply->is_error()) {
    client_->report(redis::Feature::kLimits,
                    redis::Failure{redis::Failure::Kind::kBroken, reply->text},
                    "a settlement was lost (the reservation stands)");
    co_return false;
  }
  co_return true;
}

}  // namespace aigw::limits
