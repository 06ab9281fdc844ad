// The cache key (stability and what separates entries) and the in-memory store (TTL with a
// fake clock, memory budget, LRU eviction). No sockets.

#include "stages/cache/key.hpp"
#include "stages/cache/store.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <malloc.h>

namespace aigw::cache {
namespace {

using namespace std::chrono_literals;

RequestContext request(std::string body, std::string auth = "Bearer sk-a",
                       std::string path = "/v1/chat/completions") {
  RequestContext ctx;
  ctx.provider_slug = "openai";
  ctx.request.method(http::verb::post);
  ctx.request.set(http::field::authorization, auth);
  ctx.request.body() = std::move(body);
  PlannedStep step;
  step.slug = "openai";
  step.target.host = "api.openai.com";
  step.target.port = 443;
  step.target.target = std::move(path);
  ctx.plan.steps.push_back(std::move(step));
  return ctx;
}

std::string key_of(const RequestContext& ctx, bool shared = false) {
  return cache_key(ctx, shared, std::nullopt);
}

TEST(CacheKey, SameJsonValueSameKey) {
  const auto a = key_of(request(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"));
  const auto b = key_of(request(
      "{ \"messages\": [ {\"content\": \"hi\", \"role\": \"user\"} ],\n \"model\": \"m\" }"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(canonical_body(R"({ "b" : 1, "a" : [1, 2] })"), R"({"a":[1,2],"b":1})");
  EXPECT_EQ(canonical_body("not json {"), "not json {");
}

TEST(CacheKey, ModelBodyPathAndCredentialSeparate) {
  const auto base = key_of(request(R"({"model":"m"})"));
  EXPECT_NE(base, key_of(request(R"({"model":"n"})")));
  EXPECT_NE(base, key_of(request(R"({"model":"m","temperature":0})")));
  EXPECT_NE(base, key_of(request(R"({"model":"m"})", "Bearer sk-b")));
  EXPECT_NE(base, key_of(request(R"({"model":"m"})", "Bearer sk-a", "/v1/completions")));
  EXPECT_NE(base, key_of(request(R"({"model":"m"})", "Bearer sk-a", "/v1/chat/completions?x=1")));
  // Shared across keys: the credential no longer matters.
  EXPECT_EQ(key_of(request(R"({"model":"m"})"), true),
            key_of(request(R"({"model":"m"})", "Bearer sk-b"), true));
  // A custom key replaces the body.
  EXPECT_EQ(cache_key(request("a"), false, "k"), cache_key(request("b"), false, "k"));
  EXPECT_NE(cache_key(request("a"), false, "k"), cache_key(request("a"), false, "l"));
}

TEST(CacheKey, CredentialHeadersScopeTheKeyWhateverTheirOrder) {
  auto with = [](std::vector<std::pair<std::string, std::string>> fields) {
    RequestContext ctx = request(R"({"model":"m"})");
    ctx.request.erase(http::field::authorization);
    for (const auto& [name, value] : fields) ctx.request.insert(name, value);
    return key_of(ctx);
  };
  const auto both = with({{"Authorization", "Bearer a"}, {"x-api-key", "k"}});
  EXPECT_EQ(both, with({{"X-Api-Key", "k"}, {"authorization", "Bearer a"}}));
  EXPECT_NE(both, with({{"Authorization", "Bearer a"}}));
  EXPECT_NE(with({{"x-api-key", "k"}}), with({{"api-key", "k"}}));  // the name counts too
  EXPECT_NE(with({}), with({{"x-goog-api-key", "g"}}));
  EXPECT_EQ(with({{"x-other", "1"}}), with({}));  // other headers are not part of the key
}

std::shared_ptr<const CachedResponse> entry(std::size_t body_bytes) {
  auto r = std::make_shared<CachedResponse>();
  r->body = std::make_shared<const std::string>(body_bytes, 'x');
  return r;
}

TEST(MemoryCacheStore, EntriesExpireAfterTheirTtl) {
  SteadyTime now{};
  MemoryCacheStore store(1 << 20, 1, [&] { return now; });
  store.put("k", entry(10), 5000ms);
  now += 4999ms;
  EXPECT_NE(store.get("k"), nullptr);
  now += 1ms;
  EXPECT_EQ(store.get("k"), nullptr);
  EXPECT_EQ(store.stats().entries, 0u);
  EXPECT_EQ(store.stats().bytes, 0u);
  EXPECT_EQ(store.stats().expirations, 1u);
}

TEST(MemoryCacheStore, MemoryStaysWithinBudgetAndEvictsTheLeastRecentlyUsed) {
  // Every key has three characters, so every entry is charged the same.
  const std::size_t charge = MemoryCacheStore::charge(3, *entry(1000));
  MemoryCacheStore store(3 * charge, 1);
  store.put("k-a", entry(1000), 1h);
  store.put("k-b", entry(1000), 1h);
  store.put("k-c", entry(1000), 1h);
  ASSERT_NE(store.get("k-a"), nullptr);  // k-a is now the most recently used
  store.put("k-d", entry(1000), 1h);     // evicts k-b, the coldest
  EXPECT_EQ(store.get("k-b"), nullptr);
  EXPECT_NE(store.get("k-a"), nullptr);
  EXPECT_NE(store.get("k-c"), nullptr);
  EXPECT_NE(store.get("k-d"), nullptr);
  EXPECT_EQ(store.stats().evictions, 1u);
  EXPECT_EQ(store.stats().bytes, 3 * charge);
  for (int i = 100; i < 200; ++i) {
    store.put(std::to_string(i), entry(1000), 1h);
    EXPECT_LE(store.stats().bytes, 3 * charge);
  }
  // Larger than the whole budget: not stored, nothing evicted for it.
  store.put("big", entry(10 * charge), 1h);
  EXPECT_EQ(store.get("big"), nullptr);
  EXPECT_EQ(store.stats().entries, 3u);
}

// The budget is what the process really spends: fill a store far past its budget with
// entries shaped like a chat completion (64-character key, 553-byte body, OpenAI's headers)
// and measure the heap with glibc's own accounting.
TEST(MemoryCacheStore, RealHeapUseStaysWithinTheBudget) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizers replace malloc; mallinfo2 does not see their heap";
#else
  constexpr std::size_t kBudget = 4u << 20;
  auto make = [](int i) {
    auto r = std::make_shared<CachedResponse>();
    r->content_type = "application/json";
    r->headers = {{"openai-organization", "bench-org"},
                  {"openai-processing-ms", "312"},
                  {"openai-version", "2020-10-01"},
                  {"x-ratelimit-remaining-requests", "9999"},
                  {"x-request-id", "req_5f0a8a2f3c1e4d6b9a7e2c1d" + std::to_string(100000 + i)}};
    r->body = std::make_shared<const std::string>(553, 'x');
    return r;
  };
  const std::size_t before = ::mallinfo2().uordblks;
  {
    MemoryCacheStore store(kBudget, 16);
    for (int i = 0; i < 20000; ++i) {
      char key[65];
      std::snprintf(key, sizeof key, "%064d", i);
      store.put(key, make(i), 1h);
    }
    const std::size_t used = ::mallinfo2().uordblks - before;
    const auto stats = store.stats();
    EXPECT_GT(stats.evictions, 0u);
    EXPECT_LE(stats.bytes, kBudget);
    // The shard table and its vectors are outside the per-entry account: 64 KiB of slack.
    EXPECT_LE(used, kBudget + (64u << 10)) << stats.entries << " entries";
    // And the account is not wildly pessimistic either: the store is well used.
    EXPECT_GE(used, kBudget / 2) << stats.entries << " entries";
  }
#endif
}

TEST(MemoryCacheStore, ReplacingAnEntryKeepsTheAccountExact) {
  MemoryCacheStore store(1 << 20, 4);
  store.put("k", entry(100), 1h);
  const auto once = store.stats().bytes;
  store.put("k", entry(100), 1h);
  EXPECT_EQ(store.stats().bytes, once);
  EXPECT_EQ(store.stats().entries, 1u);
}

}  // namespace
}  // namespace aigw::cache
