// The rate-limit scripts in Redis (src/stages/rate_limit/redis_limits.cpp) decide exactly as
// the in-process MemoryRateLimitStore (limiter.hpp): both are driven side by side with the
// same clock values through a long seeded sequence of acquisitions, refunds and additions,
// for fixed windows, sliding windows and a calendar-month budget, and every decision is
// compared (admitted or refused, and on a refusal the wait until there is room, in ms). And a
// request's counters are all-or-nothing: when one rule refuses, the others keep their count.

#include "stages/rate_limit/redis_limits.hpp"

#include "redis/client.hpp"
#include "stages/rate_limit/limiter.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using limits::RedisLimits;

// 2100-01-01T00:00:00Z plus a little: far enough ahead that the fixed counters' expiry
// (PEXPIREAT, real time) never passes during a test, and the same every run.
constexpr std::int64_t kStartMs = 4'102'444'800'000 + 12'345;
constexpr std::array<std::string_view, 2> kValues = {"alice", "bob"};

redis::Options options_for(const RedisServer& server) {
  redis::Options o;
  std::string problem;
  o.endpoint = *redis::parse_url(server.url(), problem);
  o.command_timeout = 2s;  // a busy machine; nothing here waits on a silent server
  o.connect_timeout = 2s;
  return o;
}

// Runs `body` as a coroutine on a fresh io_context until it ends (bounded: 20 s). The
// client's connections keep the context busy: it is stopped when the body ends.
void run(const std::function<asio::awaitable<void>()>& body) {
  asio::io_context io;
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    done = true;
    failure = e;
    io.stop();
  });
  io.run_for(20s);
  ASSERT_TRUE(done) << "the test coroutine did not finish within 20 s";
  if (failure) std::rethrow_exception(failure);
}

limits::WallTime wall(std::int64_t ms) {
  return limits::WallTime(
      std::chrono::duration_cast<limits::WallTime::duration>(std::chrono::milliseconds(ms)));
}

RateLimitRule rule(std::uint64_t limit, std::chrono::milliseconds window,
                   RateLimitRule::Technique technique, std::string name) {
  RateLimitRule r;
  r.name = std::move(name);
  r.limit = limit;
  r.window = window;
  r.technique = technique;
  return r;
}

// A budget of `limit_micro_usd` per UTC calendar month (window: month), as the loader makes it.
RateLimitRule month_budget(std::uint64_t limit_micro_usd) {
  RateLimitRule r = rule(limit_micro_usd, std::chrono::hours(24 * 30),
                         RateLimitRule::Technique::kFixed, "monthly");
  r.unit = RateLimitRule::Unit::kCost;
  r.calendar_month = true;
  return r;
}

// Built outside the coroutines (GCC 12 and aggregates of strings inside one).
RedisLimits::Adjust adjustment(std::size_t rule, std::string_view value, std::int64_t delta,
                               std::int64_t at_ms) {
  RedisLimits::Adjust a;
  a.rule = rule;
  a.value = std::string(value);
  a.delta = delta;
  a.at_ms = at_ms;
  return a;
}

struct Comparison {
  std::string mismatch;  // the first difference, with the operations before it; empty: none
  int admitted = 0;
  int refused = 0;
  int refunds = 0;
  int adds = 0;
};

// `steps` operations, from a generator seeded with `seed`, on both stores: each step moves the
// clock on (0 to 1.5 slots of the shortest rule, or now and then a whole window of one rule),
// then acquires (every rule at once, all-or-nothing, as the stage does), refunds part of an
// earlier acquisition where it was taken, or adds past the limit.
Comparison compare(const RedisServer& server, const std::vector<RateLimitRule>& rules, int steps,
                   std::uint64_t seed) {
  auto client = std::make_shared<redis::Client>(options_for(server));
  RedisLimits shared(client, rules);
  limits::MemoryRateLimitStore memory(rules);
  Comparison out;
  std::int64_t slot = limits::slot_ms(rules[0]);
  for (const auto& r : rules) slot = std::min(slot, limits::slot_ms(r));

  run([&]() -> asio::awaitable<void> {
    std::mt19937_64 rng(seed);
    const auto uniform = [&](std::int64_t lo, std::int64_t hi) {
      return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    std::int64_t now = kStartMs;
    struct Taken {
      std::size_t rule;
      std::string_view value;
      std::uint64_t left;  // not given back yet
      std::int64_t at;
    };
    std::vector<Taken> taken;
    std::deque<std::string> history;  // the last operations, for a mismatch's report
    const auto note = [&](const std::string& line) {
      history.push_back(line);
      if (history.size() > 12) history.pop_front();
    };
    const auto fail = [&](int step, const std::string& what) {
      std::ostringstream s;
      s << "step " << step << " (seed " << seed << "): " << what << "\n  operations before it:";
      for (const auto& line : history) s << "\n    " << line;
      out.mismatch = s.str();
    };

    for (int step = 0; step < steps; ++step) {
      if (uniform(0, 99) < 4) {
        now +=
            rules[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(rules.size()) - 1))]
                .window.count();
      } else {
        now += uniform(0, slot * 3 / 2);
      }
      const std::string_view value = kValues[static_cast<std::size_t>(uniform(0, 1))];
      const std::int64_t op = uniform(0, 99);
      std::ostringstream line;
      line << "now=" << now << " value=" << value << ": ";

      if (op < 70 || (op < 85 && taken.empty())) {
        // Acquire: every rule, each its own cost.
        std::vector<RedisLimits::Ask> asks;
        for (std::size_t r = 0; r < rules.size(); ++r) {
          const auto most =
              std::max<std::int64_t>(static_cast<std::int64_t>(rules[r].limit) / 3, 1);
          asks.push_back(RedisLimits::Ask{r, value, static_cast<std::uint64_t>(uniform(1, most))});
        }
        line << "acquire";
        for (const auto& a : asks) line << " rule" << a.rule << "+" << a.cost;
        // The memory store one counter after the other, giving back what it took when a
        // later rule refuses (as the stage does).
        std::optional<std::size_t> mem_refused;
        std::int64_t mem_reset = 0;
        for (std::size_t i = 0; i < asks.size(); ++i) {
          const auto d = memory.acquire(asks[i].rule, value, asks[i].cost, wall(now));
          if (!d.allowed) {
            mem_refused = i;
            mem_reset = d.reset.count();
            for (std::size_t j = 0; j < i; ++j) {
              memory.refund(asks[j].rule, value, asks[j].cost, wall(now), false);
            }
            break;
          }
        }
        const auto redis = co_await shared.acquire(asks, now);
        if (!redis) {
          fail(step, line.str() + ": Redis failed: " + redis.error().detail);
          co_return;
        }
        std::ostringstream got;
        got << "memory "
            << (mem_refused ? "refused rule" + std::to_string(*mem_refused) : "admitted")
            << (mem_refused ? " reset " + std::to_string(mem_reset) + " ms" : std::string())
            << ", redis "
            << (redis->refused ? "refused rule" + std::to_string(*redis->refused) : "admitted")
            << (redis->refused ? " reset " + std::to_string(redis->reset.count()) + " ms"
                               : std::string());
        if (mem_refused != redis->refused || (mem_refused && mem_reset != redis->reset.count())) {
          fail(step, line.str() + " -> " + got.str());
          co_return;
        }
        note(line.str() + " -> " + got.str());
        if (mem_refused) {
          ++out.refused;
        } else {
          ++out.admitted;
          for (const auto& a : asks) taken.push_back(Taken{a.rule, value, a.cost, now});
        }
      } else if (op < 85) {
        // Refund: parts of up to three earlier acquisitions, in one script, each where it was
        // taken (whatever window or slot that was).
        std::vector<RedisLimits::Adjust> adjusts;
        line << "refund";
        const auto n = uniform(1, 3);
        for (std::int64_t k = 0; k < n && !taken.empty(); ++k) {
          const auto i =
              static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(taken.size()) - 1));
          Taken& t = taken[i];
          const auto amount =
              static_cast<std::uint64_t>(uniform(1, static_cast<std::int64_t>(t.left)));
          memory.refund(t.rule, t.value, amount, wall(t.at), false);
          adjusts.push_back(adjustment(t.rule, t.value, -static_cast<std::int64_t>(amount), t.at));
          line << " rule" << t.rule << " " << t.value << " -" << amount << " taken_at=" << t.at;
          t.left -= amount;
          if (t.left == 0) taken.erase(taken.begin() + static_cast<std::ptrdiff_t>(i));
        }
        if (!co_await shared.adjust_now(std::move(adjusts))) {
          fail(step, line.str() + ": Redis failed");
          co_return;
        }
        note(line.str());
        ++out.refunds;
      } else {
        // Add: more used than reserved, at now, past the limit if need be.
        const auto r =
            static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(rules.size()) - 1));
        const auto most = std::max<std::int64_t>(static_cast<std::int64_t>(rules[r].limit) / 3, 1);
        const auto cost = static_cast<std::uint64_t>(uniform(1, most));
        memory.add(r, value, cost, wall(now), false);
        std::vector<RedisLimits::Adjust> adjusts;
        adjusts.push_back(adjustment(r, value, static_cast<std::int64_t>(cost), now));
        line << "add rule" << r << " +" << cost;
        if (!co_await shared.adjust_now(std::move(adjusts))) {
          fail(step, line.str() + ": Redis failed");
          co_return;
        }
        note(line.str());
        ++out.adds;
      }
    }
  });
  return out;
}

void expect_same_decisions(const std::vector<RateLimitRule>& rules, std::uint64_t seed) {
  RedisServer server;
  const Comparison out = compare(server, rules, 2000, seed);
  EXPECT_EQ(out.mismatch, "");
  // The sequence exercised both answers, and the settlements between them.
  EXPECT_GT(out.admitted, 200);
  EXPECT_GT(out.refused, 200);
  EXPECT_GT(out.refunds, 100);
  EXPECT_GT(out.adds, 100);
}

TEST(RedisLimits, FixedWindowsDecideAsTheMemoryStore) {
  expect_same_decisions({rule(30, 1min, RateLimitRule::Technique::kFixed, "fixed")}, 1);
}

TEST(RedisLimits, SlidingWindowsDecideAsTheMemoryStore) {
  expect_same_decisions({rule(30, 1min, RateLimitRule::Technique::kSliding, "sliding")}, 2);
}

// 10 s is not a whole number of 166 ms slots: the trailing window spans 61 or 62 of them.
TEST(RedisLimits, SlidingWindowsOfUnevenSlotsDecideAsTheMemoryStore) {
  expect_same_decisions({rule(30, 10s, RateLimitRule::Technique::kSliding, "uneven")}, 3);
}

// The shortest window the config allows: 1 s in slots of 16 ms, 62.5 of them per window.
TEST(RedisLimits, OneSecondSlidingWindowsDecideAsTheMemoryStore) {
  expect_same_decisions({rule(30, 1s, RateLimitRule::Technique::kSliding, "short")}, 4);
}

// The smallest case of that window: a limit of 1 per sliding second. A request at t (the start
// of a 16 ms slot) is still in the trailing second 995 ms later, 62 slots on: a second
// request then is refused until t's slot leaves the trailing second, 21 ms later.
// A 1 s window is not a whole number of 16 ms slots: with slots rounded down it overlapped 64
// of them and the memory store (which keeps 62) forgot the oldest, admitting a second request
// within the second. Slots are rounded up now (17 ms), and both stores refuse it alike.
TEST(RedisLimits, ASlidingSecondStillCountsARequestSixtyTwoSlotsBack) {
  RedisServer server;
  const std::vector<RateLimitRule> rules = {
      rule(1, 1s, RateLimitRule::Technique::kSliding, "second")};
  RedisLimits shared(std::make_shared<redis::Client>(options_for(server)), rules);
  limits::MemoryRateLimitStore memory(rules);
  const std::int64_t t = 4'102'444'800'000;
  const std::int64_t slot = limits::slot_ms(rules[0]);
  ASSERT_EQ(slot, 17);
  // The first request's slot leaves the trailing second at (its number + 1) * slot + 1 s.
  const std::chrono::milliseconds wait((t / slot + 1) * slot + 1000 - (t + 995));
  std::vector<RedisLimits::Decision> redis;
  const auto acquire = [&](std::int64_t at) {
    run([&]() -> asio::awaitable<void> {
      std::vector<RedisLimits::Ask> asks;
      asks.push_back(RedisLimits::Ask{0, "v", 1});
      const auto d = co_await shared.acquire(asks, at);
      EXPECT_TRUE(d.has_value());
      if (d) redis.push_back(*d);
    });
  };
  acquire(t);
  acquire(t + 995);
  ASSERT_EQ(redis.size(), 2u);
  EXPECT_EQ(redis[0].refused, std::nullopt);
  EXPECT_EQ(redis[1].refused, std::optional<std::size_t>(0));
  EXPECT_EQ(redis[1].reset, wait);

  EXPECT_TRUE(memory.acquire(0, "v", 1, wall(t)).allowed);
  const auto second = memory.acquire(0, "v", 1, wall(t + 995));
  EXPECT_FALSE(second.allowed) << "the memory store admitted a second request within 1 s";
  EXPECT_EQ(second.reset, wait);
}

TEST(RedisLimits, CalendarMonthBudgetsDecideAsTheMemoryStore) {
  expect_same_decisions({month_budget(3'000'000)}, 5);
}

TEST(RedisLimits, SeveralRulesOfOneRequestDecideAsTheMemoryStore) {
  expect_same_decisions(
      {rule(60, 1min, RateLimitRule::Technique::kFixed, "fixed"),
       rule(45, 1min, RateLimitRule::Technique::kSliding, "sliding"), month_budget(9'000'000)},
      6);
}

TEST(RedisLimits, ARuleThatRefusesLeavesTheOtherRulesCountersAsTheyWere) {
  RedisServer server;
  const std::vector<RateLimitRule> rules = {
      rule(100, 1min, RateLimitRule::Technique::kFixed, "wide"),
      rule(100, 1min, RateLimitRule::Technique::kSliding, "wide-sliding"),
      rule(2, 1min, RateLimitRule::Technique::kFixed, "narrow")};
  RedisLimits shared(std::make_shared<redis::Client>(options_for(server)), rules);
  const std::int64_t now = kStartMs;
  std::vector<std::optional<std::size_t>> refused;
  std::vector<std::int64_t> resets;
  std::vector<bool> failed;
  const auto acquire = [&](std::int64_t at) {
    run([&]() -> asio::awaitable<void> {
      std::vector<RedisLimits::Ask> asks;
      for (std::size_t r = 0; r < 3; ++r) asks.push_back(RedisLimits::Ask{r, "v", 1});
      const auto d = co_await shared.acquire(asks, at);
      failed.push_back(!d.has_value());
      refused.push_back(d ? d->refused : std::nullopt);
      resets.push_back(d ? d->reset.count() : -1);
    });
  };
  acquire(now);
  acquire(now + 1000);
  const std::string wide = server.cli("GET " + shared.key(0, "v", now));
  const std::string sliding = server.cli("HGETALL " + shared.key(1, "v", now));
  const std::string narrow = server.cli("GET " + shared.key(2, "v", now));
  EXPECT_EQ(wide.substr(0, wide.find_first_of("\r\n")), "2");
  EXPECT_EQ(narrow.substr(0, narrow.find_first_of("\r\n")), "2");
  acquire(now + 2000);
  acquire(now + 3000);
  ASSERT_EQ(refused.size(), 4u);
  EXPECT_EQ(failed, std::vector<bool>(4, false));
  EXPECT_EQ(refused[0], std::nullopt);
  EXPECT_EQ(refused[1], std::nullopt);
  EXPECT_EQ(refused[2], std::optional<std::size_t>(2));
  EXPECT_EQ(refused[3], std::optional<std::size_t>(2));
  // The narrow rule's window ends on the minute.
  const std::int64_t window_end = (now / 60'000 + 1) * 60'000;
  EXPECT_EQ(resets[2], window_end - (now + 2000));
  // Nothing was taken from the rules that had room.
  EXPECT_EQ(server.cli("GET " + shared.key(0, "v", now)), wide);
  EXPECT_EQ(server.cli("HGETALL " + shared.key(1, "v", now)), sliding);
  EXPECT_EQ(server.cli("GET " + shared.key(2, "v", now)), narrow);
}

}  // namespace
}  // namespace aigw::test
