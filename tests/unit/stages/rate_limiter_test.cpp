// The in-process rate-limit counters, driven by a fake clock: fixed windows aligned to the
// clock, sliding windows that never admit more than the limit in any trailing window,
// refunds, reset times, bounded memory, and exact admission under concurrency.

#include "stages/rate_limit/limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace aigw::limits {
namespace {

using namespace std::chrono_literals;
using Technique = RateLimitRule::Technique;

RateLimitRule rule(std::uint64_t limit, Duration window, Technique technique,
                   std::size_t max_keys = 100'000) {
  RateLimitRule r;
  r.name = "test";
  r.limit = limit;
  r.window = window;
  r.technique = technique;
  r.max_keys = max_keys;
  return r;
}

// 2026-12-02 12:00:00 UTC, a multiple of 10 minutes since the epoch.
const WallTime kNoon = WallTime(std::chrono::seconds(1'764'676'800));
static_assert(1'764'676'800 % 600 == 0);

int admitted(RateLimitStore& store, int n, WallTime at, std::string_view key = "") {
  int ok = 0;
  for (int i = 0; i < n; ++i) ok += store.acquire(0, key, 1, at).allowed ? 1 : 0;
  return ok;
}

// Cloudflare's example: 10 requests at 12:09 and 10 at 12:11 under 10 per 10 minutes. Fixed
// windows (12:00-12:10, 12:10-12:20) admit both batches; a sliding window refuses the second,
// since the trailing ten minutes at 12:11 already hold the ten of 12:09.
TEST(RateLimiter, CloudflaresExampleFixedAdmitsBothBatchesSlidingRefusesTheSecond) {
  MemoryRateLimitStore fixed({rule(10, 10min, Technique::kFixed)});
  EXPECT_EQ(admitted(fixed, 10, kNoon + 9min), 10);
  EXPECT_EQ(admitted(fixed, 10, kNoon + 11min), 10);

  MemoryRateLimitStore sliding({rule(10, 10min, Technique::kSliding)});
  EXPECT_EQ(admitted(sliding, 10, kNoon + 9min), 10);
  EXPECT_EQ(admitted(sliding, 10, kNoon + 11min), 0);
  // Ten minutes (and one slot) after 12:09 the first batch has left the trailing window.
  EXPECT_EQ(admitted(sliding, 10, kNoon + 19min + 10s), 10);
}

TEST(RateLimiter, FixedWindowsAreAlignedToTheClockAndReportTheirEnd) {
  MemoryRateLimitStore store({rule(3, 1min, Technique::kFixed)});
  const WallTime t = kNoon + 42s;
  for (std::uint64_t i = 0; i < 3; ++i) {
    const Decision d = store.acquire(0, "", 1, t);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 2 - i);
    EXPECT_EQ(d.limit, 3u);
  }
  const Decision refused = store.acquire(0, "", 1, t);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0u);
  EXPECT_EQ(refused.reset, 18s);  // 12:01:00, the next window
  EXPECT_FALSE(store.acquire(0, "", 1, kNoon + 59999ms).allowed);
  EXPECT_TRUE(store.acquire(0, "", 1, kNoon + 60s).allowed);
}

// A monthly budget (window: month, fixed) resets on the first of the UTC month, whatever the
// month's length: January 31 and February 1 are in different windows, and the refusal on
// January 31 says the budget comes back at midnight.
TEST(RateLimiter, CalendarMonthsResetOnTheFirstOfTheMonth) {
  RateLimitRule month = rule(1'000, 24h * 30, Technique::kFixed);
  month.unit = RateLimitRule::Unit::kCost;
  month.calendar_month = true;
  MemoryRateLimitStore store({month});
  using std::chrono::sys_days;
  const WallTime jan31 = WallTime(sys_days(std::chrono::year(2027) / 1 / 31)) + 23h;
  const WallTime feb1 = WallTime(sys_days(std::chrono::year(2027) / 2 / 1));
  const auto ms = [](WallTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  EXPECT_EQ(fixed_window_start(month, ms(jan31)),
            ms(WallTime(sys_days(std::chrono::year(2027) / 1 / 1))));
  EXPECT_TRUE(
      store.acquire(0, "", 1'000, WallTime(sys_days(std::chrono::year(2027) / 1 / 1))).allowed);
  const Decision refused = store.acquire(0, "", 1, jan31);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.reset, 1h);  // midnight, February 1
  EXPECT_TRUE(store.acquire(0, "", 1'000, feb1).allowed);
  // February has 28 days in 2027: March 1 opens the next window, not March 3.
  EXPECT_FALSE(
      store.acquire(0, "", 1, WallTime(sys_days(std::chrono::year(2027) / 2 / 28)) + 23h).allowed);
  EXPECT_TRUE(store.acquire(0, "", 1, WallTime(sys_days(std::chrono::year(2027) / 3 / 1))).allowed);
  // A sliding "month" is the trailing 30 days, not the calendar.
  month.technique = Technique::kSliding;
  MemoryRateLimitStore sliding({month});
  EXPECT_TRUE(sliding.acquire(0, "", 1'000, jan31).allowed);
  EXPECT_FALSE(sliding.acquire(0, "", 1, feb1).allowed);
  EXPECT_TRUE(sliding.acquire(0, "", 1, jan31 + 24h * 31).allowed);
}

TEST(RateLimiter, SlidingRefusalSaysWhenTheOldestRequestsLeaveTheWindow) {
  MemoryRateLimitStore store({rule(2, 60s, Technique::kSliding)});  // one slot = 1 s
  EXPECT_TRUE(store.acquire(0, "", 1, kNoon + 10s).allowed);
  EXPECT_TRUE(store.acquire(0, "", 1, kNoon + 30s).allowed);
  const Decision d = store.acquire(0, "", 1, kNoon + 40s);
  EXPECT_FALSE(d.allowed);
  // The 12:00:10 request's slot leaves the trailing minute at 12:01:11.
  EXPECT_EQ(d.reset, 31s);
  EXPECT_FALSE(store.acquire(0, "", 1, kNoon + 70s).allowed);
  EXPECT_TRUE(store.acquire(0, "", 1, kNoon + 71s).allowed);
  EXPECT_FALSE(store.acquire(0, "", 1, kNoon + 71s).allowed);
}

TEST(RateLimiter, SlidingNeverAdmitsMoreThanTheLimitInAnyTrailingWindow) {
  constexpr std::uint64_t kLimit = 7;
  MemoryRateLimitStore store({rule(kLimit, 10s, Technique::kSliding)});
  std::vector<std::int64_t> admitted_at;  // ms after noon
  for (std::int64_t ms = 0; ms < 60'000; ms += 137) {
    if (store.acquire(0, "", 1, kNoon + std::chrono::milliseconds(ms)).allowed) {
      admitted_at.push_back(ms);
    }
  }
  for (std::size_t i = 0; i < admitted_at.size(); ++i) {
    std::uint64_t in_window = 0;
    for (std::size_t j = i; j < admitted_at.size() && admitted_at[j] < admitted_at[i] + 10'000;
         ++j) {
      ++in_window;
    }
    EXPECT_LE(in_window, kLimit) << "window starting at +" << admitted_at[i] << " ms";
  }
  // ...while still admitting close to the limit (it refuses at most a slot early).
  EXPECT_GE(admitted_at.size(), 6 * (kLimit - 1));
}

TEST(RateLimiter, KeysAreCountedApart) {
  MemoryRateLimitStore store({rule(1, 1min, Technique::kFixed)});
  EXPECT_TRUE(store.acquire(0, "alice", 1, kNoon).allowed);
  EXPECT_TRUE(store.acquire(0, "bob", 1, kNoon).allowed);
  EXPECT_FALSE(store.acquire(0, "alice", 1, kNoon).allowed);
  EXPECT_FALSE(store.acquire(0, "bob", 1, kNoon).allowed);
}

TEST(RateLimiter, RefundsGiveBackWhatWasTakenInTheSameWindowOnly) {
  for (const Technique technique : {Technique::kFixed, Technique::kSliding}) {
    MemoryRateLimitStore store({rule(1, 1min, technique)});
    EXPECT_TRUE(store.acquire(0, "k", 1, kNoon + 5s).allowed);
    store.refund(0, "k", 1, kNoon + 5s, false);
    EXPECT_TRUE(store.acquire(0, "k", 1, kNoon + 6s).allowed);
    // A refund for a window already gone changes nothing.
    store.refund(0, "k", 1, kNoon - 5min, false);
    EXPECT_FALSE(store.acquire(0, "k", 1, kNoon + 7s).allowed);
  }
}

TEST(RateLimiter, AddChargesPastTheLimit) {
  for (const Technique technique : {Technique::kFixed, Technique::kSliding}) {
    MemoryRateLimitStore store({rule(100, 1min, technique)});
    EXPECT_TRUE(store.acquire(0, "k", 40, kNoon).allowed);
    store.add(0, "k", 90, kNoon + 1s, false);  // used 130 where 40 were reserved
    const Decision d = store.acquire(0, "k", 1, kNoon + 2s);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.remaining, 0u);
  }
}

TEST(RateLimiter, IdleKeysExpireAndMemoryIsBounded) {
  MemoryRateLimitStore store({rule(1, 1s, Technique::kFixed, /*max_keys=*/160)});
  for (int i = 0; i < 10'000; ++i) {
    (void)store.acquire(0, "ip-" + std::to_string(i), 1, kNoon);
  }
  // 10 per shard (160 / 16), plus one overflow counter per shard.
  EXPECT_LE(store.keys(), 160u + 16u);
  // The values beyond the bound share counters: they are still limited.
  EXPECT_FALSE(store.acquire(0, "ip-9999", 1, kNoon).allowed);
  // Once their windows pass, the counters go and new values get their own again.
  for (int i = 0; i < 2'048; ++i) {
    (void)store.acquire(0, "later-" + std::to_string(i % 64), 1, kNoon + 10s);
  }
  EXPECT_LE(store.keys(), 64u + 16u);
  EXPECT_TRUE(store.acquire(0, "fresh", 1, kNoon + 10s).allowed);
}

TEST(RateLimiter, AValueBeyondMaxKeysIsDecidedAndRefundedByTheOverflowCounter) {
  // One value per shard (16 / 16); every later value of a shard shares its overflow counter.
  MemoryRateLimitStore store({rule(1000, 1min, Technique::kFixed, /*max_keys=*/16)});
  for (int i = 0; i < 1000; ++i) (void)store.acquire(0, "fill-" + std::to_string(i), 1, kNoon);
  const Decision first = store.acquire(0, "newcomer", 1, kNoon);
  ASSERT_TRUE(first.allowed);
  ASSERT_TRUE(first.overflow);
  // Under its own name there is no counter to give back to...
  store.refund(0, "newcomer", 1, kNoon, false);
  const Decision second = store.acquire(0, "newcomer", 1, kNoon);
  EXPECT_EQ(second.remaining, first.remaining - 1);
  // ...as the overflow it was counted under, the unit comes back.
  store.refund(0, "newcomer", 1, kNoon, /*overflow=*/true);
  const Decision third = store.acquire(0, "newcomer", 1, kNoon);
  EXPECT_EQ(third.remaining, second.remaining);
}

TEST(RateLimiter, UnderConcurrencyALimitAdmitsExactlyItsCount) {
  for (const Technique technique : {Technique::kFixed, Technique::kSliding}) {
    MemoryRateLimitStore store({rule(10, 1h, technique)});
    std::atomic<int> ok{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < 5; ++i) ok += store.acquire(0, "", 1, kNoon).allowed ? 1 : 0;
      });
    }
    go = true;
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 10);  // 40 attempts
  }
}

}  // namespace
}  // namespace aigw::limits
