// aigw-bench-limiter: the cost of one rate-limit decision (MemoryRateLimitStore::acquire),
// with Google Benchmark. Fixed and sliding windows; one counter shared by every thread
// (contended: the gateway-wide rule) or one counter per thread's stream of keys (per-IP);
// and the heap one tracked key costs (BM_MemoryPerKey, from glibc's mallinfo2).
//
//   aigw-bench-limiter [--benchmark_filter=...]     (bench/README.md)

#include "stages/rate_limit/limiter.hpp"

#include <benchmark/benchmark.h>

#include <malloc.h>
#include <memory>
#include <string>
#include <vector>

namespace {

using aigw::RateLimitRule;
using aigw::limits::MemoryRateLimitStore;

RateLimitRule rule(RateLimitRule::Technique technique) {
  RateLimitRule r;
  r.name = "bench";
  r.limit = 1'000'000'000;  // never refuses: every decision does the full work
  r.window = std::chrono::minutes(1);
  r.technique = technique;
  return r;
}

MemoryRateLimitStore& store(RateLimitRule::Technique technique) {
  static MemoryRateLimitStore fixed({rule(RateLimitRule::Technique::kFixed)});
  static MemoryRateLimitStore sliding({rule(RateLimitRule::Technique::kSliding)});
  return technique == RateLimitRule::Technique::kFixed ? fixed : sliding;
}

// One counter for all threads: the gateway-wide rule under every worker.
void shared_key(benchmark::State& state, RateLimitRule::Technique technique) {
  auto& s = store(technique);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.acquire(0, "", 1, std::chrono::system_clock::now()));
  }
}

// A different key each time out of 10 000 per thread: a per-IP rule under many clients.
void many_keys(benchmark::State& state, RateLimitRule::Technique technique) {
  auto& s = store(technique);
  std::vector<std::string> keys;
  for (int i = 0; i < 10'000; ++i) {
    keys.push_back("10." + std::to_string(state.thread_index()) + "." + std::to_string(i / 256) +
                   "." + std::to_string(i % 256));
  }
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.acquire(0, keys[i], 1, std::chrono::system_clock::now()));
    i = (i + 1) % keys.size();
  }
}

// Heap bytes per tracked key: 100 000 keys, each taken once, in a store of their own.
void memory_per_key(benchmark::State& state, RateLimitRule::Technique technique) {
  constexpr int kKeys = 100'000;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i)
    keys.push_back("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":" +
                   std::to_string(i));
  for (auto _ : state) {
    RateLimitRule r = rule(technique);
    r.max_keys = 1'000'000;
    const std::size_t before = mallinfo2().uordblks;
    auto s = std::make_unique<MemoryRateLimitStore>(std::vector<RateLimitRule>{r});
    const auto now = std::chrono::system_clock::now();
    for (const auto& key : keys) benchmark::DoNotOptimize(s->acquire(0, key, 1, now));
    const std::size_t after = mallinfo2().uordblks;
    state.counters["bytes_per_key"] =
        static_cast<double>(after - before) / static_cast<double>(s->keys());
  }
}

void BM_FixedSharedKey(benchmark::State& s) { shared_key(s, RateLimitRule::Technique::kFixed); }
void BM_SlidingSharedKey(benchmark::State& s) { shared_key(s, RateLimitRule::Technique::kSliding); }
void BM_FixedManyKeys(benchmark::State& s) { many_keys(s, RateLimitRule::Technique::kFixed); }
void BM_SlidingManyKeys(benchmark::State& s) { many_keys(s, RateLimitRule::Technique::kSliding); }

void BM_MemoryPerKeyFixed(benchmark::State& s) {
  memory_per_key(s, RateLimitRule::Technique::kFixed);
}
void BM_MemoryPerKeySliding(benchmark::State& s) {
  memory_per_key(s, RateLimitRule::Technique::kSliding);
}

BENCHMARK(BM_FixedSharedKey)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(BM_SlidingSharedKey)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(BM_FixedManyKeys)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(BM_SlidingManyKeys)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(BM_MemoryPerKeyFixed)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemoryPerKeySliding)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
