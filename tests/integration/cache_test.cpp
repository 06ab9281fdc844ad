// The response cache through the real gateway, in front of the TLS fake provider: hits and
// misses, what is never stored, the cf-aig-* cache headers, streams replayed as streams,
// and identical requests in flight coalesced onto one provider call.

#include "stages/cache/cache_stage.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";
// The same JSON value, other key order and spacing.
constexpr const char* kChatReordered =
    R"({ "messages" : [ { "content":"hi", "role":"user" } ], "model":"gpt-4o-mini" })";
constexpr const char* kStreamChat =
    R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]})";
const Headers kJson = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-a"}};

Headers with(Headers headers, const std::string& name, const std::string& value) {
  headers.emplace_back(name, value);
  return headers;
}

struct Fixture {
  explicit Fixture(Handler handler, std::function<void(Config&)> tweak = {})
      : fake(std::move(handler)) {
    Config c = test_config();
    c.cache.enabled = true;
    add_provider(c, "openai", fake.base_url() + "/v1");
    if (tweak) tweak(c);
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  std::uint16_t port() const { return gateway->port(); }
  HttpResponse post(const std::string& body = kChat, const Headers& headers = kJson) {
    return http_request(port(), "POST", "/openai/chat/completions", body, headers);
  }
  CacheStage& cache() {
    for (const auto& stage : gateway->app().pipeline()->stages()) {
      if (auto* c = dynamic_cast<CacheStage*>(stage.get())) return *c;
    }
    throw std::runtime_error("no cache stage");
  }
  // Bounded poll for a state of the gateway that a test must reach before it goes on.
  template <class Pred>
  bool eventually(Pred pred) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(1ms);
    }
    return pred();
  }
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

// Answers every request with a body naming its sequence number, so a test can tell a
// cached answer (same number) from a fresh one.
Handler counting(unsigned status = 200) {
  auto n = std::make_shared<std::atomic<int>>(0);
  return [=](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    const int i = ++*n;
    Exchange::Headers headers = json_headers();
    headers.emplace_back("x-request-id", "req_1");
    co_await ex.respond(status, R"({"answer":)" + std::to_string(i) + "}", headers);
  };
}

std::string stream_body() {
  return sse(R"({"choices":[{"delta":{"content":"Hel"}}]})") +
         sse(R"({"choices":[{"delta":{"content":"lo"}}]})") + sse("[DONE]");
}

Handler streaming() {
  return [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"Hel"}}]})"));
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"lo"}}]})"));
    co_await ex.send_chunk(sse("[DONE]"));
    co_await ex.end_stream();
  };
}

TEST(Cache, SecondIdenticalRequestIsAHitWithAge) {
  Fixture f(counting());
  auto first = f.post();
  auto second = f.post(kChatReordered);  // same JSON value: same entry
  EXPECT_EQ(first.status, 200u);
  EXPECT_EQ(first.header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(first.header("age"), "");
  EXPECT_EQ(second.status, 200u);
  EXPECT_EQ(second.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(second.header("age"), "0");
  EXPECT_EQ(second.body, R"({"answer":1})");
  EXPECT_EQ(second.header("content-type"), "application/json");
  EXPECT_EQ(second.header("x-request-id"), "req_1");
  EXPECT_EQ(second.header("content-length"), std::to_string(second.body.size()));
  EXPECT_NE(second.header("cf-aig-log-id"), first.header("cf-aig-log-id"));
  EXPECT_EQ(f.fake.requests(), 1);
  const auto lines = f.gateway->access_log_lines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find(R"("cache":"MISS")"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(R"("cache":"HIT")"), std::string::npos) << lines[1];
}

TEST(Cache, DifferentBodyPathOrCredentialIsAnotherEntry) {
  Fixture f(counting());
  f.post();
  EXPECT_EQ(f.post(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})")
                .header("cf-aig-cache-status"),
            "MISS");
  EXPECT_EQ(f.post(kChat, {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-b"}})
                .header("cf-aig-cache-status"),
            "MISS");
  EXPECT_EQ(http_request(f.port(), "POST", "/openai/completions", kChat, kJson)
                .header("cf-aig-cache-status"),
            "MISS");
  EXPECT_EQ(f.fake.requests(), 4);
  EXPECT_EQ(f.post().header("cf-aig-cache-status"), "HIT");
}

TEST(Cache, ShareAcrossKeysLetsCredentialsShareEntries) {
  Fixture f(counting(), [](Config& c) { c.cache.share_across_keys = true; });
  f.post();
  auto other =
      f.post(kChat, {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-b"}});
  EXPECT_EQ(other.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Cache, ErrorsAreNeverStored) {
  for (unsigned status : {400u, 429u, 500u, 503u}) {
    Fixture f(counting(status));
    auto a = f.post();
    auto b = f.post();
    EXPECT_EQ(a.status, status);
    EXPECT_EQ(b.status, status);
    EXPECT_EQ(b.header("cf-aig-cache-status"), "MISS") << status;
    EXPECT_EQ(f.fake.requests(), 2) << status;
    // Nor do they leave their key in the coalescing table (one entry per error, for ever).
    EXPECT_EQ(f.cache().flights().size(), 0u) << status;
  }
}

TEST(Cache, StreamedHitIsReplayedAsTheSameStream) {
  Fixture f(streaming());
  StreamingClient first(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(first.head().header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(first.read_all(5s), stream_body());
  // The entry is stored when the first request completes; its log line says so.
  ASSERT_EQ(f.gateway->access_log_lines(1).size(), 1u);

  StreamingClient second(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(second.head().status, 200u);
  EXPECT_EQ(second.head().header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(second.head().header("content-type"), "text/event-stream");
  EXPECT_TRUE(second.head().chunked);
  // One chunk per event, as the provider sent them.
  std::vector<std::string> pieces;
  while (auto piece = second.next(5s)) pieces.push_back(*piece);
  std::string all;
  for (const auto& p : pieces) all += p;
  EXPECT_EQ(all, stream_body());
  EXPECT_GE(pieces.size(), 1u);
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Cache, StreamCutOffByTheProviderIsNotStored) {
  Fixture f([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"Hel"}}]})"));
    ex.reset();
  });
  for (int i = 0; i < 2; ++i) {
    StreamingClient client(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
    EXPECT_EQ(client.head().header("cf-aig-cache-status"), "MISS");
    EXPECT_THROW(client.read_all(5s), std::runtime_error);
    ASSERT_EQ(f.gateway->access_log_lines(static_cast<std::size_t>(i + 1)).size(),
              static_cast<std::size_t>(i + 1));
  }
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(Cache, StreamTheClientAbortedIsNotStored) {
  Gate gate;
  Fixture f([&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"Hel"}}]})"));
    co_await ex.wait(gate, 10s);
    co_await ex.send_chunk(sse("[DONE]"));
    co_await ex.end_stream();
  });
  {
    StreamingClient client(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
    client.read_until("Hel", 5s);
    client.close();
  }
  ASSERT_EQ(f.gateway->access_log_lines(1).size(), 1u);
  EXPECT_NE(f.gateway->access_log_lines(1)[0].find("client_abort"), std::string::npos);
  gate.open();
  StreamingClient again(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(again.head().header("cf-aig-cache-status"), "MISS");
  again.read_all(5s);
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(Cache, TooLargeResponsesAreNotStored) {
  Fixture f(counting(), [](Config& c) { c.cache.max_entry_bytes = 8; });
  f.post();
  EXPECT_EQ(f.post().header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(Cache, SkipCacheBypassesAndRefreshes) {
  Fixture f(counting());
  f.post();
  auto skipped = f.post(kChat, with(kJson, "cf-aig-skip-cache", "true"));
  EXPECT_EQ(skipped.header("cf-aig-cache-status"), "BYPASS");
  EXPECT_EQ(skipped.body, R"({"answer":2})");
  auto hit = f.post();
  EXPECT_EQ(hit.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(hit.body, R"({"answer":2})");  // refreshed by the bypassing request
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(Cache, CacheControlNoStoreAndNoCache) {
  Fixture f(counting());
  auto no_store = f.post(kChat, with(kJson, "Cache-Control", "no-store"));
  EXPECT_EQ(no_store.header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(f.post().header("cf-aig-cache-status"), "MISS");  // nothing was stored
  auto no_cache = f.post(kChat, with(kJson, "Cache-Control", "max-age=0, no-cache"));
  EXPECT_EQ(no_cache.header("cf-aig-cache-status"), "BYPASS");
  EXPECT_EQ(no_cache.body, R"({"answer":3})");
  EXPECT_EQ(f.post().body, R"({"answer":3})");
  EXPECT_EQ(f.fake.requests(), 3);
}

TEST(Cache, TtlHeaderExpiresTheEntry) {
  Fixture f(counting());
  f.post(kChat, with(kJson, "cf-aig-cache-ttl", "1"));
  EXPECT_EQ(f.post().header("cf-aig-cache-status"), "HIT");
  // A real second must pass for a real TTL (the store's own expiry is unit-tested with a fake
  // clock); bounded by the poll.
  EXPECT_TRUE(f.eventually([&] {
    std::this_thread::sleep_for(50ms);
    return f.post(R"({"model":"probe"})").status == 200 &&
           f.post().header("cf-aig-cache-status") == "MISS";
  }));
}

TEST(Cache, BadTtlHeaderIsA400) {
  Fixture f(counting());
  auto res = f.post(kChat, with(kJson, "cf-aig-cache-ttl", "soon"));
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(
      res.body,
      R"x({"error":{"code":"invalid_header","message":"cf-aig-cache-ttl must be a whole )x"
      R"x(number of seconds >= 1 (got 'soon')","param":null,"type":"invalid_request_error"}})x");
  EXPECT_EQ(f.fake.requests(), 0);
}

TEST(Cache, CustomKeyOptsInWhenTheCacheIsOff) {
  Fixture f(counting(), [](Config& c) { c.cache.enabled = false; });
  EXPECT_EQ(f.post().header("cf-aig-cache-status"), "");
  EXPECT_EQ(f.post().header("cf-aig-cache-status"), "");
  auto a = f.post(kChat, with(kJson, "cf-aig-cache-key", "greeting"));
  // Another body, same custom key: the key alone decides.
  auto b = f.post(R"({"model":"other"})", with(kJson, "cf-aig-cache-key", "greeting"));
  EXPECT_EQ(a.header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(b.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(b.body, a.body);
  EXPECT_EQ(f.fake.requests(), 3);
}

// --- coalescing -----------------------------------------------------------------------------

TEST(Coalescing, ConcurrentIdenticalRequestsMakeOneProviderCall) {
  constexpr int kN = 8;
  Gate gate;
  Fixture f(
      [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.wait(gate, 10s);
        co_await ex.respond(200, R"({"answer":"shared"})", json_headers());
      },
      [](Config& c) { c.server.workers = 2; });  // followers on both worker threads
  std::vector<std::future<HttpResponse>> calls;
  calls.push_back(std::async(std::launch::async, [&] { return f.post(); }));
  ASSERT_TRUE(f.eventually([&] { return f.fake.requests() == 1; }));
  for (int i = 1; i < kN; ++i) {
    calls.push_back(std::async(std::launch::async, [&] { return f.post(); }));
  }
  ASSERT_TRUE(f.eventually([&] { return f.cache().flights().followers() == kN - 1; }));
  gate.open();
  int hits = 0;
  for (auto& call : calls) {
    auto res = call.get();
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.body, R"({"answer":"shared"})");
    EXPECT_EQ(res.header("content-length"), std::to_string(res.body.size()));
    hits += res.header("cf-aig-cache-status") == "HIT" ? 1 : 0;
  }
  EXPECT_EQ(hits, kN - 1);
  EXPECT_EQ(f.fake.requests(), 1);
  EXPECT_EQ(f.cache().flights().size(), 0u);
  const auto lines = f.gateway->access_log_lines(kN);
  int coalesced = 0;
  for (const auto& line : lines) coalesced += line.find("COALESCED") != std::string::npos;
  EXPECT_EQ(coalesced, kN - 1);
}

TEST(Coalescing, StreamFollowersReceiveEventsLive) {
  Gate gate;
  Fixture f([&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"Hel"}}]})"));
    co_await ex.wait(gate, 10s);
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"lo"}}]})"));
    co_await ex.send_chunk(sse("[DONE]"));
    co_await ex.end_stream();
  });
  StreamingClient leader(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  leader.read_until("Hel", 5s);
  StreamingClient follower(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(follower.head().status, 200u);
  EXPECT_EQ(follower.head().header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(follower.head().header("content-type"), "text/event-stream");
  // The follower has the first event while the provider still holds back the rest.
  const std::string early = follower.read_until("Hel", 5s);
  EXPECT_EQ(early.find("lo\""), std::string::npos);
  gate.open();
  const std::string rest = leader.read_all(5s);
  EXPECT_NE(rest.find("[DONE]"), std::string::npos);
  EXPECT_EQ(follower.read_all(5s), stream_body());
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Coalescing, FollowersProceedOnTheirOwnWhenTheLeaderFails) {
  constexpr int kN = 4;
  Gate gate;
  std::atomic<int> calls{0};
  Fixture f([&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    if (++calls == 1) {
      co_await ex.wait(gate, 10s);
      co_await ex.respond(503, R"({"error":"overloaded"})");
    } else {
      co_await ex.respond(200, R"({"answer":"own"})", json_headers());
    }
  });
  auto leader = std::async(std::launch::async, [&] { return f.post(); });
  ASSERT_TRUE(f.eventually([&] { return f.fake.requests() == 1; }));
  std::vector<std::future<HttpResponse>> followers;
  for (int i = 1; i < kN; ++i) {
    followers.push_back(std::async(std::launch::async, [&] { return f.post(); }));
  }
  ASSERT_TRUE(f.eventually([&] { return f.cache().flights().followers() == kN - 1; }));
  gate.open();
  EXPECT_EQ(leader.get().status, 503u);
  for (auto& follower : followers) {
    auto res = follower.get();
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.body, R"({"answer":"own"})");
    EXPECT_EQ(res.header("cf-aig-cache-status"), "MISS");
  }
  EXPECT_EQ(f.fake.requests(), kN);
}

TEST(Coalescing, LeaderClientLeavingDoesNotFailTheFollowers) {
  Gate gate;
  Fixture f([&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"Hel"}}]})"));
    co_await ex.wait(gate, 10s);
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"lo"}}]})"));
    co_await ex.send_chunk(sse("[DONE]"));
    co_await ex.end_stream();
  });
  auto leader = std::make_unique<StreamingClient>(f.port(), "POST", "/openai/chat/completions",
                                                  kStreamChat, kJson);
  leader->read_until("Hel", 5s);
  StreamingClient follower(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  const std::string early = follower.read_until("Hel", 5s);
  leader->close();
  leader.reset();
  gate.open();
  EXPECT_EQ(follower.read_all(5s), stream_body());
  EXPECT_EQ(f.fake.requests(), 1);
  // Read to its end for the follower, the response is complete and was stored.
  ASSERT_EQ(f.gateway->access_log_lines(2).size(), 2u);
  StreamingClient later(f.port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(later.head().header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(later.read_all(5s), stream_body());
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Coalescing, WaitIsBoundedByCoalesceWait) {
  Gate gate;
  std::atomic<int> calls{0};
  Fixture f(
      [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        if (++calls == 1) co_await ex.wait(gate, 10s);  // the leader's provider stalls
        co_await ex.respond(200, R"({"answer":1})", json_headers());
      },
      [](Config& c) { c.cache.coalesce_wait = std::chrono::milliseconds(300); });
  auto leader = std::async(std::launch::async, [&] { return f.post(); });
  ASSERT_TRUE(f.eventually([&] { return f.fake.requests() == 1; }));
  // The follower gives up after coalesce_wait and calls the provider itself.
  const auto follower = f.post();
  EXPECT_EQ(follower.status, 200u);
  EXPECT_EQ(follower.header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(f.fake.requests(), 2);
  gate.open();
  EXPECT_EQ(leader.get().status, 200u);
}

TEST(Coalescing, OffMeansEveryRequestCallsTheProvider) {
  constexpr int kN = 3;
  Gate gate;
  Fixture f(
      [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.wait(gate, 10s);
        co_await ex.respond(200, R"({"answer":1})", json_headers());
      },
      [](Config& c) { c.cache.coalesce = false; });
  std::vector<std::future<HttpResponse>> calls;
  for (int i = 0; i < kN; ++i) {
    calls.push_back(std::async(std::launch::async, [&] { return f.post(); }));
  }
  ASSERT_TRUE(f.eventually([&] { return f.fake.requests() == kN; }));
  gate.open();
  for (auto& call : calls) EXPECT_EQ(call.get().status, 200u);
}

}  // namespace
}  // namespace aigw::test
