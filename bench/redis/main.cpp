// aigw-bench-redis: what one rate-limit decision costs when its counters are in Redis
// (issue 18): RedisLimits::acquire of one request with four rules (a gateway-wide fixed
// window, a per-IP sliding window, a token rule and a monthly budget, as bench/run.sh's
// "limits" config) against a real redis-server on loopback — one round trip each. Reported:
// p50/p99/max latency of a decision with 1 caller at a time and with N concurrent callers on
// the worker's one pipelined connection, and decisions per second.
//
//   aigw-bench-redis --url redis://127.0.0.1:PORT [--decisions 20000] [--concurrency 32]

#include "redis/client.hpp"
#include "stages/rate_limit/redis_limits.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using aigw::RateLimitRule;
using Clock = std::chrono::steady_clock;

std::vector<RateLimitRule> rules() {
  std::vector<RateLimitRule> out(4);
  out[0].name = "gateway";
  out[0].limit = 1'000'000'000;
  out[0].window = std::chrono::hours(1);
  out[1].name = "per-ip";
  out[1].limit = 1'000'000'000;
  out[1].window = std::chrono::minutes(1);
  out[1].technique = RateLimitRule::Technique::kSliding;
  out[1].scope = RateLimitRule::Scope::kIp;
  out[2].name = "tokens";
  out[2].limit = 1'000'000'000'000;
  out[2].window = std::chrono::hours(1);
  out[2].unit = RateLimitRule::Unit::kTokens;
  out[3].name = "monthly";
  out[3].limit = 1'000'000'000'000'000;
  out[3].window = std::chrono::hours(24 * 30);
  out[3].unit = RateLimitRule::Unit::kCost;
  out[3].calendar_month = true;
  return out;
}

struct Run {
  std::vector<double> micros;
  std::size_t failures = 0;
  double seconds = 0;
};

asio::awaitable<void> caller(aigw::limits::RedisLimits& limits, int decisions, Run& run) {
  const std::vector<aigw::limits::RedisLimits::Ask> asks{
      {0, "", 1}, {1, "127.0.0.1", 1}, {2, "", 1027}, {3, "", 770}};
  for (int i = 0; i < decisions; ++i) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const auto started = Clock::now();
    const auto decided = co_await limits.acquire(asks, now_ms);
    run.micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - started).count());
    if (!decided || decided->refused) ++run.failures;
  }
}

Run measure(aigw::limits::RedisLimits& limits, int decisions, int concurrency) {
  asio::io_context io(1);
  Run run;
  const auto started = Clock::now();
  // The connection reads for as long as it lives: the loop is stopped when the callers end.
  int running = concurrency;
  for (int c = 0; c < concurrency; ++c) {
    asio::co_spawn(io, caller(limits, decisions / concurrency, run), [&](std::exception_ptr) {
      if (--running == 0) io.stop();
    });
  }
  io.run();
  run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return run;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int decisions = 20000;
  int concurrency = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--url") == 0) url = argv[i + 1];
    if (std::strcmp(argv[i], "--decisions") == 0) decisions = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--concurrency") == 0) concurrency = std::atoi(argv[i + 1]);
  }
  if (url.empty() || decisions <= 0 || concurrency <= 0) {
    std::fprintf(stderr,
                 "usage: aigw-bench-redis --url redis://host:port [--decisions N] "
                 "[--concurrency C]\n");
    return 2;
  }
  aigw::RedisConfig config;
  config.url = url;
  config.key_prefix = "aigw-bench:";
  auto client = std::make_shared<aigw::redis::Client>(config);
  aigw::limits::RedisLimits limits(client, rules());
  (void)measure(limits, 200, 1);  // connect, load the script
  for (const int c : {1, concurrency}) {
    const Run run = measure(limits, decisions, c);
    std::printf(
        "concurrency=%d decisions=%zu failures=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f "
        "per_second=%.0f round_trips=%llu\n",
        c, run.micros.size(), run.failures, percentile(run.micros, 0.50),
        percentile(run.micros, 0.99), percentile(run.micros, 1.0),
        static_cast<double>(run.micros.size()) / run.seconds,
        static_cast<unsigned long long>(client->stats().round_trips.load()));
  }
  return 0;
}
