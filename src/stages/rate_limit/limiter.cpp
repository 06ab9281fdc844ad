#include "stages/rate_limit/limiter.hpp"

#include "core/checked.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace aigw::limits {
namespace {

using std::chrono::milliseconds;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Months since January 1970 of a UTC time, and when that month ends (Unix ms).
std::pair<std::int64_t, std::int64_t> calendar_month(std::int64_t now_ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(now_ms)));
  const year_month_day ymd(day);
  const year_month next = year_month(ymd.year(), ymd.month()) + months(1);
  const std::int64_t number =
      (static_cast<int>(ymd.year()) - 1970) * 12 + static_cast<unsigned>(ymd.month()) - 1;
  const sys_days end = sys_days(next / 1);
  return {number, duration_cast<milliseconds>(end.time_since_epoch()).count()};
}

constexpr std::size_t kShards = 16;
constexpr std::uint64_t kSweepEvery = 1024;  // operations on a shard between two sweeps

}  // namespace

std::int64_t slot_ms(const RateLimitRule& rule) {
  // Rounded up: the window then spans at most kSlots whole slots, so the slots it overlaps
  // (one more, partly) always fit in a counter's kSlots + 2. Rounded down, a window that is
  // not a multiple of kSlots ms (1 s: 62.5 slots of 16 ms) overlapped more slots than are
  // kept, and the oldest were forgotten while still in the window.
  const std::int64_t window = std::max<std::int64_t>(rule.window.count(), 1);
  const auto slots = static_cast<std::int64_t>(kSlots);
  return std::max<std::int64_t>((window + slots - 1) / slots, 1);
}

std::int64_t fixed_window_start(const RateLimitRule& rule, std::int64_t now_ms) {
  if (rule.calendar_month) {
    using namespace std::chrono;
    const year_month_day ymd(floor<days>(sys_time<milliseconds>(milliseconds(now_ms))));
    const sys_days first = sys_days(ymd.year() / ymd.month() / 1);
    return duration_cast<milliseconds>(first.time_since_epoch()).count();
  }
  const std::int64_t window = std::max<std::int64_t>(rule.window.count(), 1);
  return floor_div(now_ms, window) * window;
}

FixedWindow fixed_window(const RateLimitRule& rule, std::int64_t now_ms) {
  if (rule.calendar_month) {
    const auto [number, end_ms] = calendar_month(now_ms);
    return {number, end_ms};
  }
  const std::int64_t window = std::max<std::int64_t>(rule.window.count(), 1);
  const std::int64_t number = floor_div(now_ms, window);
  return {number, (number + 1) * window};
}

std::shared_ptr<MemoryRateLimitStore::RuleState> MemoryRateLimitStore::make_state(
    RateLimitRule rule) {
  auto state = std::make_shared<RuleState>();
  state->window_ms = std::max<std::int64_t>(rule.window.count(), 1);
  state->slot_ms = slot_ms(rule);
  state->calendar = rule.calendar_month && rule.technique == RateLimitRule::Technique::kFixed;
  // A calendar month lasts up to 31 days: its counter must outlive that much idleness.
  state->idle_ms =
      (state->calendar ? std::int64_t{31} * 24 * 3600 * 1000 : state->window_ms) + state->slot_ms;
  state->rule = std::move(rule);
  return state;
}

MemoryRateLimitStore::MemoryRateLimitStore(std::vector<RateLimitRule> rules) {
  for (auto& rule : rules) rules_.push_back(make_state(std::move(rule)));
}

MemoryRateLimitStore::MemoryRateLimitStore(std::vector<RateLimitRule> rules,
                                           const MemoryRateLimitStore& previous,
                                           std::vector<bool>& kept) {
  kept.assign(rules.size(), false);
  std::vector<bool> taken(previous.rules_.size(), false);  // one old rule per new one
  for (std::size_t i = 0; i < rules.size(); ++i) {
    std::shared_ptr<RuleState> state;
    for (std::size_t j = 0; j < previous.rules_.size() && !state; ++j) {
      if (!taken[j] && previous.rules_[j]->rule == rules[i]) {
        taken[j] = true;
        state = previous.rules_[j];
      }
    }
    kept[i] = state != nullptr;
    rules_.push_back(state ? std::move(state) : make_state(std::move(rules[i])));
  }
}

void MemoryRateLimitStore::sweep(const RuleState& state, Shard& shard, std::int64_t now_ms) {
  // A counter unused for a window (plus a slot) counts nothing any more, under either
  // technique: dropping it is the same as keeping it.
  std::erase_if(shard.counters, [&](const auto& entry) {
    return entry.second.last_used_ms + state.idle_ms <= now_ms;
  });
}

MemoryRateLimitStore::Counter* MemoryRateLimitStore::find_or_add(RuleState& state, Shard& shard,
                                                                 std::string_view key,
                                                                 std::int64_t now_ms,
                                                                 bool& overflow) {
  if (++shard.operations % kSweepEvery == 0) sweep(state, shard, now_ms);
  if (auto it = shard.counters.find(key); it != shard.counters.end()) return &it->second;
  const std::size_t shard_cap = std::max<std::size_t>(state.rule.max_keys / kShards, 1);
  if (shard.counters.size() >= shard_cap) {
    sweep(state, shard, now_ms);
    if (shard.counters.size() >= shard_cap) {
      // Full: the new value shares the shard's overflow counter (one more entry at most).
      overflow = true;
      return &shard.counters[std::string(kOverflowKey)];
    }
  }
  return &shard.counters.try_emplace(std::string(key)).first->second;
}

Decision MemoryRateLimitStore::fixed(const RuleState& state, Counter& c, std::uint64_t cost,
                                     std::int64_t now_ms, bool force) {
  const FixedWindow window = window_of(state, now_ms);
  if (c.epoch != window.number) {
    c.epoch = window.number;
    c.count = 0;
  }
  Decision d;
  d.limit = state.rule.limit;
  d.reset = milliseconds(window.end_ms - now_ms);
  if (force || checked::add(c.count, cost) <= state.rule.limit) {
    c.count = checked::add(c.count, cost);
    d.allowed = true;
    d.remaining = state.rule.limit - std::min(c.count, state.rule.limit);
  }
  return d;
}

Decision MemoryRateLimitStore::sliding(const RuleState& state, Counter& c, std::uint64_t cost,
                                       std::int64_t now_ms, bool force) {
  if (!c.slots) c.slots = std::make_unique<std::array<std::uint64_t, kSlots + 2>>();
  auto& slots = *c.slots;
  const std::int64_t slot = state.slot_ms;
  // A clock that stepped back counts into the newest slot rather than rewriting history.
  const std::int64_t current = std::max(floor_div(now_ms, slot), c.epoch);
  const std::int64_t shift = current - c.epoch;
  if (shift >= static_cast<std::int64_t>(slots.size())) {
    slots.fill(0);
  } else if (shift > 0) {
    const auto n = static_cast<std::size_t>(shift);
    std::move_backward(slots.begin(), slots.end() - static_cast<std::ptrdiff_t>(n), slots.end());
    std::fill(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(n), 0);
  }
  c.epoch = current;
  // Slots overlapping (now - window, now]: from the one holding now - window to the newest.
  const std::int64_t oldest = floor_div(now_ms - state.window_ms, slot);
  const auto counted = static_cast<std::size_t>(
      std::clamp<std::int64_t>(current - oldest + 1, 1, static_cast<std::int64_t>(slots.size())));
  std::uint64_t used = 0;
  for (std::size_t i = 0; i < counted; ++i) used = checked::add(used, slots[i]);

  Decision d;
  d.limit = state.rule.limit;
  if (force || checked::add(used, cost) <= state.rule.limit) {
    slots[0] = checked::add(slots[0], cost);
    d.allowed = true;
    d.remaining = state.rule.limit - std::min(checked::add(used, cost), state.rule.limit);
  }
  // Room again (refused) or a full reset (admitted) once enough of the oldest slots have
  // left the trailing window: slot number s leaves it at (s + 1) * slot + window.
  std::uint64_t left = checked::add(used, d.allowed ? cost : 0);
  d.reset = milliseconds(state.window_ms);
  for (std::size_t i = counted; i-- > 0;) {
    left = checked::sub(left, slots[i]);
    const std::int64_t leaves_at =
        (current - static_cast<std::int64_t>(i) + 1) * slot + state.window_ms;
    const bool done = d.allowed ? left == 0 : checked::add(left, cost) <= state.rule.limit;
    if (done && slots[i] != 0) {
      d.reset = milliseconds(std::max<std::int64_t>(leaves_at - now_ms, 0));
      break;
    }
  }
  return d;
}

MemoryRateLimitStore::Shard& MemoryRateLimitStore::shard_of(RuleState& state,
                                                            std::string_view key) {
  return state.shards[std::hash<std::string_view>{}(key) % kShards];
}

Decision MemoryRateLimitStore::take(std::size_t rule_index, std::string_view key,
                                    std::uint64_t cost, WallTime now, bool force, bool overflow) {
  RuleState& state = *rules_.at(rule_index);
  Shard& shard = shard_of(state, key);
  const std::int64_t now_ms = unix_ms(now);
  std::lock_guard lock(shard.mutex);
  Counter* c = overflow ? &shard.counters[std::string(kOverflowKey)]
                        : find_or_add(state, shard, key, now_ms, overflow);
  c->last_used_ms = std::max(c->last_used_ms, now_ms);
  Decision d = state.rule.technique == RateLimitRule::Technique::kFixed
                   ? fixed(state, *c, cost, now_ms, force)
                   : sliding(state, *c, cost, now_ms, force);
  d.overflow = overflow;
  return d;
}

Decision MemoryRateLimitStore::acquire(std::size_t rule_index, std::string_view key,
                                       std::uint64_t cost, WallTime now) {
  return take(rule_index, key, cost, now, /*force=*/false, /*overflow=*/false);
}

void MemoryRateLimitStore::refund(std::size_t rule_index, std::string_view key, std::uint64_t cost,
                                  WallTime taken_at, bool overflow) {
  RuleState& state = *rules_.at(rule_index);
  Shard& shard = shard_of(state, key);
  const std::int64_t taken_ms = unix_ms(taken_at);
  std::lock_guard lock(shard.mutex);
  // A counter dropped since (idle for a whole window) has nothing left to give back.
  const auto it = shard.counters.find(overflow ? kOverflowKey : key);
  if (it == shard.counters.end()) return;
  Counter& c = it->second;
  if (state.rule.technique == RateLimitRule::Technique::kFixed) {
    if (window_of(state, taken_ms).number == c.epoch) c.count -= std::min(cost, c.count);
    return;
  }
  const std::int64_t i = c.epoch - floor_div(taken_ms, state.slot_ms);
  if (c.slots && i >= 0 && i < static_cast<std::int64_t>(c.slots->size())) {
    auto& slot = (*c.slots)[static_cast<std::size_t>(i)];
    slot -= std::min(cost, slot);
  }
}

void MemoryRateLimitStore::add(std::size_t rule_index, std::string_view key, std::uint64_t cost,
                               WallTime now, bool overflow) {
  (void)take(rule_index, key, cost, now, /*force=*/true, overflow);
}

std::size_t MemoryRateLimitStore::keys() const {
  std::size_t n = 0;
  for (const auto& state : rules_) {
    for (const auto& shard : state->shards) {
      std::lock_guard lock(shard.mutex);
      n += shard.counters.size();
    }
  }
  return n;
}

}  // namespace aigw::limits
