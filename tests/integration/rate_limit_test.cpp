// Rate limits through the real gateway in front of the TLS fake provider: the README's rule,
// the exact 429, nothing sent upstream when refused, cache hits not counted, exact admission
// under concurrency, scopes and narrowing.

#include "config/load.hpp"
#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]})";
const Headers kJson = {{"Content-Type", "application/json"},
                       {"Authorization", "Bearer sk-provider-key"}};

Handler ok_handler() {
  return [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, R"({"id":"x","object":"chat.completion","choices":[]})",
                        json_headers());
  };
}

// The rules as a user writes them, through the real config loader.
std::vector<RateLimitRule> rules_from(const std::string& yaml) {
  auto loaded = config::load_string(yaml, "limits.yaml",
                                    [](std::string_view) { return std::optional<std::string>(); });
  EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].str());
  return loaded.config ? loaded.config->rate_limits : std::vector<RateLimitRule>{};
}

struct Fixture {
  explicit Fixture(const std::string& yaml, bool cache = false) : fake(ok_handler()) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    add_provider(c, "anthropic", fake.base_url() + "/v1");
    c.rate_limits = rules_from(yaml);
    c.cache.enabled = cache;
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post(const Headers& extra = {}, const std::string& body = kChat,
                    const std::string& path = "/openai/chat/completions") {
    Headers headers = kJson;
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request(gateway->port(), "POST", path, body, headers);
  }
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

constexpr const char* kReadmeRule = R"(
rate_limits:
  - limit: 10
    window: 60s
    technique: fixed
)";

TEST(RateLimits, TheReadmeRuleAdmitsTenAMinuteThenAnswersAnExact429) {
  Fixture f(kReadmeRule);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(f.post().status, 200u) << i;
  const auto res = f.post();
  EXPECT_EQ(res.status, 429u);
  EXPECT_EQ(f.fake.requests(), 10);  // nothing of the 11th reached the provider
  const std::string retry = res.header("retry-after");
  ASSERT_FALSE(retry.empty());
  const int seconds = std::stoi(retry);
  EXPECT_GE(seconds, 1);
  EXPECT_LE(seconds, 60);
  EXPECT_EQ(res.header("x-ratelimit-limit"), "10");
  EXPECT_EQ(res.header("x-ratelimit-remaining"), "0");
  EXPECT_EQ(res.header("x-ratelimit-reset"), retry);
  EXPECT_FALSE(res.header("cf-aig-log-id").empty());
  const json expected = gateway_error(
      "rate limit 'rate_limits[0]' exceeded: 10 requests per 1m (fixed window); retry after " +
          retry + "s",
      "rate_limit_error", "rate_limited");
  EXPECT_EQ(json::parse(res.body, nullptr, false), expected) << res.body;
}

TEST(RateLimits, CacheHitsDoNotCount) {
  Fixture f(R"(
rate_limits:
  - name: two-a-minute
    limit: 2
    window: 1m
)",
            /*cache=*/true);
  EXPECT_EQ(f.post().header("cf-aig-cache-status"), "MISS");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f.post().header("cf-aig-cache-status"), "HIT");
  // One unit left: a different prompt (a miss) still gets through, the next one does not.
  const std::string other =
      R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Other"}]})";
  EXPECT_EQ(f.post({}, other).status, 200u);
  const std::string third =
      R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Third"}]})";
  const auto refused = f.post({}, third);
  EXPECT_EQ(refused.status, 429u);
  EXPECT_NE(refused.body.find("rate limit 'two-a-minute' exceeded: 2 requests per 1m"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(f.post().header("cf-aig-cache-status"), "HIT");  // hits still served
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(RateLimits, FortyConcurrentRequestsAgainstALimitOfTenAdmitExactlyTen) {
  Fixture f(R"(
rate_limits:
  - limit: 10
    window: 1h
    technique: sliding
)");
  std::atomic<int> ok{0};
  std::atomic<int> limited{0};
  std::atomic<int> other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 40; ++i) {
    clients.emplace_back([&] {
      const auto status = f.post().status;
      (status == 200 ? ok : status == 429 ? limited : other)++;
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(limited.load(), 30);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(f.fake.requests(), 10);
}

TEST(RateLimits, AHeaderScopeCountsEachValueApartAndRequestsWithoutItTogether) {
  Fixture f(R"(
rate_limits:
  - limit: 1
    window: 1h
    per: header:x-user-id
)");
  EXPECT_EQ(f.post({{"x-user-id", "alice"}}).status, 200u);
  EXPECT_EQ(f.post({{"x-user-id", "bob"}}).status, 200u);
  EXPECT_EQ(f.post({{"X-User-Id", "alice"}}).status, 429u);
  EXPECT_EQ(f.post().status, 200u);  // no header: the shared counter of requests without it
  EXPECT_EQ(f.post().status, 429u);
  EXPECT_EQ(f.fake.requests(), 3);
}

TEST(RateLimits, AMetadataScopeCountsEachValueApart) {
  Fixture f(R"(
rate_limits:
  - limit: 1
    window: 1h
    per: metadata:user
)");
  EXPECT_EQ(f.post({{"cf-aig-metadata", R"({"user":"alice"})"}}).status, 200u);
  EXPECT_EQ(f.post({{"cf-aig-metadata", R"({"user":"bob","team":7})"}}).status, 200u);
  EXPECT_EQ(f.post({{"cf-aig-metadata", R"({"team":7,"user":"alice"})"}}).status, 429u);
}

TEST(RateLimits, ProviderAndModelNarrowTheRule) {
  Fixture f(R"(
rate_limits:
  - limit: 1
    window: 1h
    provider: anthropic
  - limit: 1
    window: 1h
    model: gpt-4o
)");
  const std::string messages = R"({"model":"claude-x","max_tokens":5,"messages":[]})";
  EXPECT_EQ(f.post({}, messages, "/anthropic/messages").status, 200u);
  EXPECT_EQ(f.post({}, messages, "/anthropic/messages").status, 429u);
  // gpt-4o-mini is neither anthropic nor gpt-4o: unlimited.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.post().status, 200u);
  const std::string gpt4o = R"({"model":"gpt-4o","messages":[]})";
  EXPECT_EQ(f.post({}, gpt4o).status, 200u);
  EXPECT_EQ(f.post({}, gpt4o).status, 429u);
}

TEST(RateLimits, ARefusalByOneRuleDoesNotUseUpAnother) {
  Fixture f(R"(
rate_limits:
  - name: gateway
    limit: 3
    window: 1h
  - name: per-user
    limit: 1
    window: 1h
    per: header:x-user-id
)");
  EXPECT_EQ(f.post({{"x-user-id", "alice"}}).status, 200u);
  // alice's per-user refusals give their gateway unit back each time...
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f.post({{"x-user-id", "alice"}}).status, 429u);
  // ...so two more users still fit in the gateway's three.
  EXPECT_EQ(f.post({{"x-user-id", "bob"}}).status, 200u);
  EXPECT_EQ(f.post({{"x-user-id", "carol"}}).status, 200u);
  const auto full = f.post({{"x-user-id", "dave"}});
  EXPECT_EQ(full.status, 429u);
  EXPECT_NE(full.body.find("rate limit 'gateway' exceeded"), std::string::npos) << full.body;
}

// --- token limits ----------------------------------------------------------------------

// A chat completion reporting `prompt` input and `completion` output tokens.
std::string completion_with_usage(int prompt, int completion) {
  return R"({"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[],)"
         R"("usage":{"prompt_tokens":)" +
         std::to_string(prompt) + R"(,"completion_tokens":)" + std::to_string(completion) +
         R"(,"total_tokens":)" + std::to_string(prompt + completion) + "}}";
}

std::string chat_with_max_tokens(int max_tokens) {
  return R"({"model":"gpt-4o-mini","max_tokens":)" + std::to_string(max_tokens) +
         R"(,"messages":[{"role":"user","content":"Say hello"}]})";
}

struct TokenFixture {
  TokenFixture(const std::string& yaml, Handler handler) : fake(std::move(handler)) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    c.rate_limits = rules_from(yaml);
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post(const std::string& body) {
    return http_request(gateway->port(), "POST", "/openai/chat/completions", body, kJson);
  }
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

constexpr const char* kThousandTokensAnHour = R"(
rate_limits:
  - name: tokens
    limit: 1000
    window: 1h
    unit: tokens
    default_max_tokens: 10
)";

TEST(TokenLimits, ReservationsStopAConcurrentBurstFromOvershooting) {
  // Each request reserves 300 output tokens plus its prompt (3): three fit in 1000, a fourth
  // does not, even though none has finished (and reported usage) when the others arrive.
  Gate release;
  TokenFixture f(kThousandTokensAnHour,
                 [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
                   co_await ex.wait(release, 10s);
                   co_await ex.respond(200, completion_with_usage(3, 300), json_headers());
                 });
  std::atomic<int> ok{0};
  std::atomic<int> limited{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 10; ++i) {
    clients.emplace_back([&] {
      const auto status = f.post(chat_with_max_tokens(300)).status;
      (status == 200 ? ok : limited)++;
    });
  }
  // The refused ones answer at once; then let the admitted ones finish.
  for (int i = 0; i < 1000 && limited.load() < 7; ++i) std::this_thread::sleep_for(5ms);
  release.open();
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(limited.load(), 7);
  EXPECT_EQ(f.fake.requests(), 3);
}

TEST(TokenLimits, AReservationIsSettledWithTheMeteredUsage) {
  TokenFixture f(kThousandTokensAnHour,
                 [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
                   co_await ex.respond(200, completion_with_usage(3, 2), json_headers());
                 });
  // Reserves 903, uses 5: the 898 left over are given back, so the next 903 fit as well.
  EXPECT_EQ(f.post(chat_with_max_tokens(900)).status, 200u);
  EXPECT_EQ(f.post(chat_with_max_tokens(900)).status, 200u);
  EXPECT_EQ(f.post(chat_with_max_tokens(900)).status, 200u);
  // 15 used: 985 left, and this one needs 998.
  const auto refused = f.post(chat_with_max_tokens(995));
  EXPECT_EQ(refused.status, 429u);
  EXPECT_NE(refused.body.find(
                "rate limit 'tokens' exceeded: 1000 tokens per 1h (fixed window); this request "
                "needs about 998 tokens"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(f.fake.requests(), 3);
}

TEST(TokenLimits, UsageBeyondTheReservationIsCharged) {
  // No max_tokens: 10 output tokens reserved (default_max_tokens) but 600 used.
  TokenFixture f(kThousandTokensAnHour,
                 [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
                   co_await ex.respond(200, completion_with_usage(3, 600), json_headers());
                 });
  EXPECT_EQ(f.post(kChat).status, 200u);  // 603 used
  EXPECT_EQ(f.post(kChat).status, 200u);  // 603 + 13 fit; 1206 used after
  EXPECT_EQ(f.post(kChat).status, 429u);
  EXPECT_EQ(f.fake.requests(), 2);
}

// A stream that runs past its reservation is charged as it goes, not only when it ends: a
// request made while it still runs sees its usage. Here the stream reserves 13 tokens
// (default_max_tokens 10) and has sent text worth 1 200 when the next request arrives.
TEST(TokenLimits, AStreamIsChargedAsItRuns) {
  Gate finish;
  TokenFixture f(
      kThousandTokensAnHour, [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.start_stream(200, sse_headers());
        const std::string text(400, 'x');  // 100 tokens at four characters a token
        for (int i = 0; i < 12; ++i) {
          co_await ex.send_chunk(R"(data: {"object":"chat.completion.chunk","model":"gpt-4o-mini",)"
                                 R"("choices":[{"index":0,"delta":{"content":")" +
                                 text + R"("}}]})" + "\n\n");
        }
        co_await ex.send_chunk(": sent\n\n");
        co_await ex.wait(finish, 10s);
        co_await ex.send_chunk(
            R"(data: {"object":"chat.completion.chunk","model":"gpt-4o-mini",)"
            R"("choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1200,)"
            R"("total_tokens":1203}})"
            "\n\ndata: [DONE]\n\n");
        co_await ex.end_stream();
      });
  const std::string stream_body =
      R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]})";
  StreamingClient stream(f.gateway->port(), "POST", "/openai/chat/completions", stream_body, kJson);
  ASSERT_EQ(stream.head().status, 200u);
  stream.read_until(": sent");
  // 3 + 1 200 charged while the stream runs: no room for 13 more.
  const auto refused = f.post(kChat);
  EXPECT_EQ(refused.status, 429u);
  EXPECT_NE(refused.body.find("rate limit 'tokens' exceeded: 1000 tokens per 1h"),
            std::string::npos)
      << refused.body;
  finish.open();
  stream.read_all();
  EXPECT_EQ(f.post(kChat).status, 429u);  // settled at the reported 1 203: still over
  EXPECT_EQ(f.fake.requests(), 1);
}

}  // namespace
}  // namespace aigw::test
