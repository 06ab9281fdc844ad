// The response cache shared through Redis (issue 18, docs/caching.md#shared-across-instances):
// two gateway instances with the same config in front of one TLS fake provider and one real
// redis-server. A response (and a stream) cached by one is a hit on the other; entries keep
// their TTL there and only their digest names them; entries over max_entry_bytes, and every
// entry with `cache.store: local`, stay out of Redis; a stopped, paused or restarted Redis is
// answered (the cache is bypassed) and sharing resumes after it is back.

#include "stages/cache/cache_stage.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <thread>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

const Headers kJson = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-a"}};

std::string chat(const std::string& content, bool stream = false) {
  return std::string(R"({"model":"gpt-4o-mini",)") + (stream ? R"("stream":true,)" : "") +
         R"("messages":[{"role":"user","content":")" + content + R"("}]})";
}

Headers with(Headers headers, const std::string& name, const std::string& value) {
  headers.emplace_back(name, value);
  return headers;
}

std::string stream_body() {
  return sse(R"({"choices":[{"delta":{"content":"Hel"}}]})") +
         sse(R"({"choices":[{"delta":{"content":"lo"}}]})") + sse("[DONE]");
}

// Streams for stream requests; a 200-byte body for a request that says "big"; otherwise a
// body naming the call's sequence number, so a cached answer (same number) is told from a
// fresh one. Every answer carries a credential-like header, which no entry may keep.
Handler provider() {
  auto n = std::make_shared<std::atomic<int>>(0);
  return [=](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const int i = ++*n;
    if (req.body.find(R"("stream":true)") != std::string::npos) {
      auto headers = sse_headers();
      headers.emplace_back("x-api-key", "sk-echoed");
      co_await ex.start_stream(200, headers);
      co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"Hel"}}]})"));
      co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"lo"}}]})"));
      co_await ex.send_chunk(sse("[DONE]"));
      co_await ex.end_stream();
      co_return;
    }
    Exchange::Headers headers = json_headers();
    headers.emplace_back("x-request-id", "req_1");
    headers.emplace_back("x-api-key", "sk-echoed");
    if (req.body.find("big") != std::string::npos) {
      co_await ex.respond(200, R"({"big":")" + std::string(188, 'x') + R"("})", headers);
      co_return;
    }
    co_await ex.respond(200, R"({"answer":)" + std::to_string(i) + "}", headers);
  };
}

// Polls `pred` (bounded: 10 s) for a state a test must reach before it goes on.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

struct Fleet {
  explicit Fleet(std::function<void(Config&)> tweak = {}) : fake(provider()) {
    for (auto* gateway : {&a, &b}) {
      Config c = test_config();
      c.cache.enabled = true;
      add_provider(c, "openai", fake.base_url() + "/v1");
      RedisConfig r;
      r.url = redis.url();
      c.redis = r;
      if (tweak) tweak(c);
      *gateway = std::make_unique<TestGateway>(std::move(c));
    }
  }
  static CacheStage& cache(TestGateway& g) {
    for (const auto& stage : g.app().pipeline()->stages()) {
      if (auto* c = dynamic_cast<CacheStage*>(stage.get())) return *c;
    }
    throw std::runtime_error("no cache stage");
  }
  static const cache::SharedStoreStats& shared(TestGateway& g) {
    if (cache(g).shared() == nullptr) throw std::runtime_error("no Redis tier");
    return cache(g).shared()->stats();
  }
  // Waits until `g` has had `n` entries acknowledged by Redis (they are written after the
  // response went out).
  static bool stored(TestGateway& g, std::uint64_t n) {
    return eventually([&] { return shared(g).stored.load() >= n; });
  }
  static HttpResponse post(TestGateway& g, const std::string& body, const Headers& h = kJson) {
    return http_request(g.port(), "POST", "/openai/chat/completions", body, h);
  }
  std::vector<std::string> keys() const { return lines(redis.cli("--raw KEYS '*'")); }

  RedisServer redis;
  FakeProvider fake;
  std::unique_ptr<TestGateway> a;
  std::unique_ptr<TestGateway> b;
};

TEST(SharedCache, AResponseCachedByOneInstanceIsAHitOnTheOther) {
  Fleet f;
  const auto first = Fleet::post(*f.a, chat("hi"));
  EXPECT_EQ(first.status, 200u);
  EXPECT_EQ(first.header("cf-aig-cache-status"), "MISS");
  ASSERT_TRUE(Fleet::stored(*f.a, 1));

  const auto other = Fleet::post(*f.b, chat("hi"));
  EXPECT_EQ(other.status, 200u);
  EXPECT_EQ(other.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(other.body, R"({"answer":1})");
  EXPECT_EQ(other.header("content-type"), "application/json");
  EXPECT_EQ(other.header("x-request-id"), "req_1");
  EXPECT_NE(other.header("age"), "");
  EXPECT_EQ(other.header("x-api-key"), "");  // a credential-like header is never kept
  EXPECT_EQ(f.fake.requests(), 1);
  // Again on the second instance: from its own memory now, not Redis.
  EXPECT_EQ(Fleet::post(*f.b, chat("hi")).header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(Fleet::shared(*f.b).hits.load(), 1u);
  EXPECT_EQ(f.fake.requests(), 1);
  const std::string metrics = f.b->admin("/metrics").body;
  EXPECT_NE(metrics.find("aigw_redis_cache_hits_total 1\n"), std::string::npos) << metrics;
  // A different credential is a different entry on every instance.
  const auto other_key = Fleet::post(
      *f.b, chat("hi"), {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-b"}});
  EXPECT_EQ(other_key.header("cf-aig-cache-status"), "MISS");
  ASSERT_TRUE(Fleet::stored(*f.b, 1));

  // In Redis: the prefix, "c:" and a digest; nothing of the request or its credential.
  const auto keys = f.keys();
  ASSERT_EQ(keys.size(), 2u) << f.redis.cli("KEYS '*'");
  for (const auto& key : keys) {
    EXPECT_TRUE(std::regex_match(key, std::regex("aigw:c1:[0-9a-f]{64}"))) << key;
    const std::string value = f.redis.cli("--raw GET " + key);
    EXPECT_EQ(value.find("sk-a"), std::string::npos);
    EXPECT_EQ(value.find("sk-b"), std::string::npos);
    EXPECT_EQ(value.find("sk-echoed"), std::string::npos);
    EXPECT_EQ(value.find("\"hi\""), std::string::npos);  // the request body is not stored
    EXPECT_NE(value.find("req_1"), std::string::npos);   // the provider's headers are
  }
}

TEST(SharedCache, AStreamCachedByOneInstanceIsReplayedAsAStreamOnTheOther) {
  Fleet f;
  {
    StreamingClient first(f.a->port(), "POST", "/openai/chat/completions", chat("hi", true), kJson);
    EXPECT_EQ(first.head().header("cf-aig-cache-status"), "MISS");
    EXPECT_EQ(first.read_all(5s), stream_body());
  }
  ASSERT_TRUE(Fleet::stored(*f.a, 1));

  StreamingClient second(f.b->port(), "POST", "/openai/chat/completions", chat("hi", true), kJson);
  EXPECT_EQ(second.head().status, 200u);
  EXPECT_EQ(second.head().header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(second.head().header("content-type"), "text/event-stream");
  EXPECT_NE(second.head().header("age"), "");
  EXPECT_TRUE(second.head().chunked);
  std::vector<std::string> pieces;
  while (auto piece = second.next(5s)) pieces.push_back(*piece);
  std::string all;
  for (const auto& p : pieces) all += p;
  EXPECT_EQ(all, stream_body());
  EXPECT_EQ(f.fake.requests(), 1);
  EXPECT_EQ(Fleet::shared(*f.b).hits.load(), 1u);
}

TEST(SharedCache, EntriesKeepTheirTtlInRedisAndOnTheInstanceThatReadThem) {
  Fleet f;
  const auto first = Fleet::post(*f.a, chat("ttl"), with(kJson, "cf-aig-cache-ttl", "3"));
  EXPECT_EQ(first.header("cf-aig-cache-status"), "MISS");
  ASSERT_TRUE(Fleet::stored(*f.a, 1));
  const auto keys = f.keys();
  ASSERT_EQ(keys.size(), 1u);
  const long long pttl = std::stoll(f.redis.cli("PTTL " + keys[0]));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 3000);

  // Read by the other instance, which keeps it only for what is left of it in Redis.
  EXPECT_EQ(Fleet::post(*f.b, chat("ttl")).header("cf-aig-cache-status"), "HIT");
  ASSERT_TRUE(eventually([&] { return f.redis.cli("EXISTS " + keys[0]) == "0\n"; }, 4s));
  const auto after = Fleet::post(*f.b, chat("ttl"));
  EXPECT_EQ(after.header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(after.body, R"({"answer":2})");
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(SharedCache, EntriesOverMaxEntryBytesAreNotInRedis) {
  Fleet f([](Config& c) { c.cache.max_entry_bytes = 64; });
  EXPECT_EQ(Fleet::post(*f.a, chat("big")).header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(Fleet::post(*f.a, chat("small")).header("cf-aig-cache-status"), "MISS");
  ASSERT_TRUE(Fleet::stored(*f.a, 1));  // the small one; the large one was never sent
  EXPECT_EQ(f.keys().size(), 1u);
  EXPECT_EQ(Fleet::post(*f.b, chat("big")).header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(Fleet::post(*f.b, chat("small")).header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(f.fake.requests(), 3);
  EXPECT_EQ(Fleet::shared(*f.a).stored.load() + Fleet::shared(*f.b).stored.load(), 1u);
}

TEST(SharedCache, AStoppedRedisBypassesTheSharedTierAndARestartSharesAgain) {
  Fleet f([](Config& c) { c.redis->command_timeout = 200ms; });
  Fleet::post(*f.a, chat("before"));
  ASSERT_TRUE(Fleet::stored(*f.a, 1));

  f.redis.stop();
  // Every request is answered: a miss on the instance that has nothing in memory...
  const auto on_b = Fleet::post(*f.b, chat("before"));
  EXPECT_EQ(on_b.status, 200u);
  EXPECT_EQ(on_b.header("cf-aig-cache-status"), "MISS");
  const auto during = Fleet::post(*f.a, chat("during"));
  EXPECT_EQ(during.status, 200u);
  EXPECT_EQ(during.header("cf-aig-cache-status"), "MISS");
  // ...and entries are still kept in each instance's memory.
  EXPECT_EQ(Fleet::post(*f.a, chat("during")).header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(Fleet::post(*f.a, chat("before")).header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(f.fake.requests(), 3);
  auto& client = Fleet::cache(*f.b).shared()->client();
  EXPECT_GE(client.stats().fallbacks[static_cast<std::size_t>(redis::Feature::kCache)].load(), 1u);
  EXPECT_GE(Fleet::shared(*f.b).failures.load(), 1u);

  // Back (empty, on the same port): once the connections are up again, what one instance
  // stores is a hit on the other.
  f.redis.start();
  int probe = 0;
  const bool shared_again = eventually([&] {
    const std::string body = chat("after-" + std::to_string(++probe));
    const auto stored_before = Fleet::shared(*f.a).stored.load();
    if (Fleet::post(*f.a, body).status != 200) return false;
    if (!eventually([&] { return Fleet::shared(*f.a).stored.load() > stored_before; }, 500ms)) {
      return false;  // still reconnecting: that request bypassed Redis
    }
    return Fleet::post(*f.b, body).header("cf-aig-cache-status") == "HIT";
  });
  EXPECT_TRUE(shared_again);
}

TEST(SharedCache, APausedRedisIsAnsweredWithinTheCommandTimeout) {
  Fleet f([](Config& c) { c.redis->command_timeout = 200ms; });
  Fleet::post(*f.a, chat("x"));
  ASSERT_TRUE(Fleet::stored(*f.a, 1));
  f.redis.pause();
  const auto paused = Fleet::post(*f.b, chat("x"));
  f.redis.resume();
  EXPECT_EQ(paused.status, 200u);
  EXPECT_EQ(paused.header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(Fleet::shared(*f.b).failures.load(), 1u);
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(SharedCache, AnEntryThatDoesNotDecodeIsAMissAndIsReplaced) {
  Fleet f;
  Fleet::post(*f.a, chat("hi"));
  ASSERT_TRUE(Fleet::stored(*f.a, 1));
  const auto keys = f.keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(f.redis.cli("SET " + keys[0] + " AGWC-not-an-entry PX 60000"), "OK\n");
  const auto garbled = Fleet::post(*f.b, chat("hi"));
  EXPECT_EQ(garbled.header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(garbled.body, R"({"answer":2})");
  EXPECT_EQ(Fleet::shared(*f.b).undecodable.load(), 1u);
  ASSERT_TRUE(Fleet::stored(*f.b, 1));
  // b's fresh answer replaced it: the first instance has its own (older) one in memory, so
  // ask Redis directly for what a third reader would get.
  EXPECT_NE(f.redis.cli("--raw GET " + keys[0]).find(R"({"answer":2})"), std::string::npos);
}

TEST(SharedCache, StoreLocalKeepsEntriesOutOfRedis) {
  Fleet f([](Config& c) { c.cache.store = StateStore::kLocal; });
  EXPECT_EQ(Fleet::cache(*f.a).shared(), nullptr);
  EXPECT_EQ(Fleet::post(*f.a, chat("hi")).header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(Fleet::post(*f.a, chat("hi")).header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(Fleet::post(*f.b, chat("hi")).header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(f.fake.requests(), 2);
  EXPECT_TRUE(f.keys().empty()) << f.redis.cli("KEYS '*'");
}

}  // namespace
}  // namespace aigw::test
