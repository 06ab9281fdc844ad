#pragma once
// Counters behind the rate_limits rules. The stage asks a RateLimitStore for room; the store
// here keeps the counters in process memory. The interface takes the time from the caller, so
// tests drive it with a fake clock, and so a shared store (Redis, later) can be dropped in.

#include "aigw/config.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aigw::limits {

using WallTime = std::chrono::system_clock::time_point;

// `t` in milliseconds since the Unix epoch.
inline std::int64_t unix_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct Decision {
  bool allowed = false;
  std::uint64_t limit = 0;
  std::uint64_t remaining = 0;         // after this request, when allowed; 0 when refused
  std::chrono::milliseconds reset{0};  // until the counter has room again (fixed: window end)
  // The key was new while the rule tracked max_keys others: its shard's shared overflow
  // counter decided. Pass it back to refund() and add() for the same key.
  bool overflow = false;
};

class RateLimitStore {
 public:
  virtual ~RateLimitStore() = default;
  // Takes `cost` from the counter of (`rule_index`, `key`) if that leaves it within the
  // rule's limit; otherwise takes nothing. Atomic per counter: under any concurrency a limit
  // admits exactly its count.
  virtual Decision acquire(std::size_t rule_index, std::string_view key, std::uint64_t cost,
                           WallTime now) = 0;
  // Gives back what acquire() took at `taken_at`, if that window (fixed) or slot (sliding)
  // is still counted: for a request refused by a later rule, or a token reservation larger
  // than the use. `overflow`: the acquire's Decision::overflow.
  virtual void refund(std::size_t rule_index, std::string_view key, std::uint64_t cost,
                      WallTime taken_at, bool overflow) = 0;
  // Adds `cost` at `now` whatever the limit: what a request used beyond its reservation
  // (token limits settle this way when the metered figure exceeds the estimate).
  virtual void add(std::size_t rule_index, std::string_view key, std::uint64_t cost, WallTime now,
                   bool overflow) = 0;
};

// Sliding windows are counted in kSlots slots of window/kSlots each. The count for "the last
// `window`" adds every slot that overlaps it, the oldest one whole, so it can only overstate
// what the trailing window holds: a sliding limit never admits more than `limit` in any
// trailing window; it may refuse up to one slot (1/60 of the window) early.
inline constexpr std::size_t kSlots = 60;

// A sliding rule's slot length (ms).
std::int64_t slot_ms(const RateLimitRule& rule);
// Start (Unix ms) of the fixed window of `rule` that holds `now_ms`: a multiple of the window
// since the epoch, or the first of the UTC month (calendar_month).
std::int64_t fixed_window_start(const RateLimitRule& rule, std::int64_t now_ms);
// The fixed window of `rule` holding `now_ms`: its number (windows since the epoch, or months
// since January 1970) and when it ends (Unix ms).
struct FixedWindow {
  std::int64_t number;
  std::int64_t end_ms;
};
FixedWindow fixed_window(const RateLimitRule& rule, std::int64_t now_ms);

class MemoryRateLimitStore final : public RateLimitStore {
 public:
  explicit MemoryRateLimitStore(std::vector<RateLimitRule> rules);
  // A reload: a rule equal to one of `previous`'s shares that rule's counters (both stores
  // count into them while the old config's requests finish); `kept[i]` tells which did.
  MemoryRateLimitStore(std::vector<RateLimitRule> rules, const MemoryRateLimitStore& previous,
                       std::vector<bool>& kept);

  Decision acquire(std::size_t rule_index, std::string_view key, std::uint64_t cost,
                   WallTime now) override;
  void refund(std::size_t rule_index, std::string_view key, std::uint64_t cost, WallTime taken_at,
              bool overflow) override;
  void add(std::size_t rule_index, std::string_view key, std::uint64_t cost, WallTime now,
           bool overflow) override;

  // Counters held now, over all rules (idle ones are dropped as their windows pass).
  std::size_t keys() const;
  // The key under which values share a shard's counter once a rule tracks max_keys of them.
  static constexpr std::string_view kOverflowKey = "\x01overflow";

 private:
  struct Counter {
    // Fixed: count of window `epoch`. Sliding: slots[i] counts slot number `epoch - i`
    // (slot numbers count slot lengths since the Unix epoch), newest first.
    std::int64_t epoch = 0;
    std::uint64_t count = 0;
    // Sliding rules only (a fixed counter stays 32 bytes): allocated on the first use.
    // 64 bits: budgets count millionths of a dollar, and a slot may hold more than $4 294.
    std::unique_ptr<std::array<std::uint64_t, kSlots + 2>> slots;
    std::int64_t last_used_ms = 0;
  };
  // Transparent: a lookup by string_view allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Counter, KeyHash, std::equal_to<>> counters;
    std::uint64_t operations = 0;
  };
  struct RuleState {
    RateLimitRule rule;
    std::int64_t window_ms = 0;
    std::int64_t slot_ms = 0;  // sliding
    bool calendar = false;     // fixed windows are UTC calendar months
    std::int64_t idle_ms = 0;  // a counter unused this long counts nothing any more
    std::array<Shard, 16> shards;
  };

  static Shard& shard_of(RuleState& state, std::string_view key);
  static FixedWindow window_of(const RuleState& state, std::int64_t now_ms) {
    return fixed_window(state.rule, now_ms);
  }
  // acquire() (`force` false) and add() (true, past the limit); `overflow`: use the shard's
  // overflow counter, as an earlier Decision said.
  Decision take(std::size_t rule_index, std::string_view key, std::uint64_t cost, WallTime now,
                bool force, bool overflow);
  // The counter of `key`, or the shard's overflow counter (and `overflow` set) when the shard
  // is full.
  Counter* find_or_add(RuleState& state, Shard& shard, std::string_view key, std::int64_t now_ms,
                       bool& overflow);
  static void sweep(const RuleState& state, Shard& shard, std::int64_t now_ms);
  // `force`: take `cost` even past the limit (add()).
  static Decision fixed(const RuleState& state, Counter& c, std::uint64_t cost, std::int64_t now_ms,
                        bool force = false);
  static Decision sliding(const RuleState& state, Counter& c, std::uint64_t cost,
                          std::int64_t now_ms, bool force = false);

  static std::shared_ptr<RuleState> make_state(RateLimitRule rule);

  std::vector<std::shared_ptr<RuleState>> rules_;
};

}  // namespace aigw::limits
