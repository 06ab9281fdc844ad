// Retries through the real gateway against fake providers that fail each way: what is tried
// again (refused, reset, 503, 429 with Retry-After, slow first byte, bad certificate) and what
// is returned at once (400, a stream broken after its first byte, a Retry-After beyond the
// cap); the per-request headers and their 400s; every attempt in the log record.

#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/test_pki.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kChat = R"({"model":"gpt-4o-mini","messages":[]})";
constexpr const char* kOk = R"({"id":"ok","object":"chat.completion","choices":[]})";

// Answers the first `failures` requests with `fail`, the rest with 200 kOk.
Handler fails_first(int failures, Handler fail) {
  auto count = std::make_shared<std::atomic<int>>(0);
  return [=](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    if (count->fetch_add(1) < failures) {
      co_await fail(req, ex);
    } else {
      co_await ex.respond(200, kOk, json_headers());
    }
  };
}

Handler status(unsigned code, Exchange::Headers headers = {}) {
  return [=](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(code, R"({"error":{"message":"busy"}})", headers);
  };
}

struct Fixture {
  explicit Fixture(Handler handler, unsigned max_attempts = 3, FakeProvider::Options options = {})
      : fake(std::move(handler), options) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    c.upstream.retry.max_attempts = max_attempts;
    c.upstream.retry.delay = 1ms;  // tests check what is retried, not how long it waits
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post(Headers extra = {}) {
    Headers headers = {{"Content-Type", "application/json"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request(gateway->port(), "POST", "/openai/chat/completions", kChat, headers);
  }
  // [status, error] of each attempt in the request's log record.
  std::vector<std::pair<int, std::string>> attempts(const HttpResponse& res) {
    std::vector<std::pair<int, std::string>> out;
    const json record = gateway->log_record(res.header("cf-aig-log-id"));
    for (const auto& a : record.value("attempts", json::array())) {
      EXPECT_EQ(a["provider"], "openai");
      // status_code is null without a response head: 0 here.
      out.emplace_back(a["status_code"].is_null() ? 0 : a["status_code"].get<int>(),
                       a["error"].is_null() ? "" : a["error"].get<std::string>());
    }
    return out;
  }
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

using Attempts = std::vector<std::pair<int, std::string>>;

TEST(Retries, A503IsTriedAgainAndTheClientGetsTheAnswerThatFollows) {
  Fixture f(fails_first(2, status(503)));
  const auto res = f.post();
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.body, kOk);
  EXPECT_EQ(f.fake.requests(), 3);
  EXPECT_EQ(f.attempts(res), (Attempts{{503, ""}, {503, ""}, {200, ""}}));
  const std::string metrics = f.gateway->admin("/metrics").body;
  EXPECT_NE(metrics.find(R"(aigw_upstream_retries_total{provider="openai"} 2)"), std::string::npos)
      << metrics;
}

// A turned-away answer with a short body is read to its end: the retry reuses the connection
// instead of connecting and shaking hands again. A long one is closed unread.
TEST(Retries, AShortTurnedAwayAnswerKeepsItsConnectionForTheRetry) {
  Fixture f(fails_first(2, status(503)));
  EXPECT_EQ(f.post().status, 200u);
  EXPECT_EQ(f.fake.requests(), 3);
  EXPECT_EQ(f.fake.connections_opened(), 1);

  Fixture big(fails_first(1, [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(503, std::string(100 * 1024, 'x'));
  }));
  EXPECT_EQ(big.post().status, 200u);
  EXPECT_EQ(big.fake.requests(), 2);
  EXPECT_EQ(big.fake.connections_opened(), 2);
}

TEST(Retries, TheLastAttemptsAnswerIsRelayedAsItIs) {
  Fixture f(status(503));
  const auto res = f.post();
  EXPECT_EQ(res.status, 503u);
  EXPECT_EQ(res.body, R"({"error":{"message":"busy"}})");
  EXPECT_EQ(f.fake.requests(), 3);
}

TEST(Retries, WithoutMaxAttemptsNothingIsRetried) {
  Fixture f(fails_first(1, status(503)), /*max_attempts=*/1);
  EXPECT_EQ(f.post().status, 503u);
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Retries, OtherClientErrorsReturnAtOnce) {
  for (unsigned code : {400u, 401u, 404u, 422u}) {
    Fixture f(fails_first(1, status(code)));
    const auto res = f.post();
    EXPECT_EQ(res.status, code);
    EXPECT_EQ(f.fake.requests(), 1) << code;
  }
}

TEST(Retries, A429IsRetriedAfterItsRetryAfterWithinTheCap) {
  Exchange::Headers wait = {{"Content-Type", "application/json"}, {"Retry-After", "1"}};
  Fixture f(fails_first(1, status(429, wait)));
  const auto started = std::chrono::steady_clock::now();
  const auto res = f.post();
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(f.fake.requests(), 2);
  // Behaviour, not speed: the second attempt did not start before the provider allowed it.
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_EQ(f.attempts(res), (Attempts{{429, ""}, {200, ""}}));
}

TEST(Retries, A429AskingForLongerThanTheCapGoesToTheClient) {
  Exchange::Headers wait = {{"Content-Type", "application/json"}, {"Retry-After", "3600"}};
  Fixture f(fails_first(1, status(429, wait)));
  const auto res = f.post();
  EXPECT_EQ(res.status, 429u);
  EXPECT_EQ(res.header("retry-after"), "3600");
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Retries, AResetBeforeTheHeadIsTriedAgain) {
  Fixture f(fails_first(1, [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    ex.reset();
    co_return;
  }));
  const auto res = f.post();
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(f.fake.requests(), 2);
  EXPECT_EQ(f.attempts(res), (Attempts{{0, "upstream_reset"}, {200, ""}}));
}

TEST(Retries, ASlowFirstByteIsCutByTheRequestTimeoutAndTriedAgain) {
  Fixture f(fails_first(1, [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.sleep(3s);
    co_await ex.respond(200, kOk, json_headers());
  }));
  const auto res = f.post({{"cf-aig-request-timeout", "200"}});
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(f.fake.requests(), 2);
  EXPECT_EQ(f.attempts(res), (Attempts{{0, "upstream_timeout"}, {200, ""}}));
}

TEST(Retries, ARefusedConnectionIsTriedUpToMaxAttempts) {
  const std::uint16_t closed_port = free_port();  // nobody listens on it
  Config c = test_config();
  add_provider(c, "openai", "https://127.0.0.1:" + std::to_string(closed_port) + "/v1");
  c.upstream.retry.max_attempts = 3;
  c.upstream.retry.delay = 1ms;
  TestGateway gw(std::move(c));
  const auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChat);
  EXPECT_EQ(res.status, 502u);
  EXPECT_EQ(json::parse(res.body, nullptr, false),
            gateway_error("connecting to provider openai failed: Connection refused",
                          "gateway_error", "upstream_connect_failed"));
  const json record = gw.log_record(res.header("cf-aig-log-id"));
  ASSERT_EQ(record["attempts"].size(), 3u) << record.dump();
  for (const auto& a : record["attempts"]) EXPECT_EQ(a["error"], "upstream_connect_failed");
}

TEST(Retries, ABadCertificateIsTriedAgainAndFailsTheSameWay) {
  Fixture f(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.respond(200, kOk, json_headers());
      },
      2, FakeProvider::Options{true, test_pki().rogue_cert, test_pki().rogue_key});
  const auto res = f.post();
  EXPECT_EQ(res.status, 502u);
  EXPECT_EQ(f.fake.requests(), 0);
  EXPECT_EQ(f.attempts(res), (Attempts{{0, "upstream_tls_failed"}, {0, "upstream_tls_failed"}}));
}

TEST(Retries, AStreamThatBreaksAfterItsFirstByteIsNotRetried) {
  Fixture f([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"Hel"}}]})"));
    ex.reset();
  });
  StreamingClient client(f.gateway->port(), "POST", "/openai/chat/completions",
                         R"({"model":"gpt-4o-mini","stream":true,"messages":[]})",
                         {{"Content-Type", "application/json"}});
  EXPECT_EQ(client.head().status, 200u);
  EXPECT_THROW(client.read_all(), std::runtime_error);  // cut short, visibly
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Retries, PerRequestHeadersOverrideTheConfig) {
  Fixture f(status(503), /*max_attempts=*/1);
  EXPECT_EQ(f.post({{"cf-aig-max-attempts", "4"},
                    {"cf-aig-retry-delay", "0"},
                    {"cf-aig-backoff", "linear"}})
                .status,
            503u);
  EXPECT_EQ(f.fake.requests(), 4);
}

TEST(Retries, BadRetryHeadersAre400BeforeAnythingIsSent) {
  Fixture f(status(503));
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"cf-aig-max-attempts", "6",
       "cf-aig-max-attempts must be a whole number from 1 to 5 (got '6')"},
      {"cf-aig-max-attempts", "0",
       "cf-aig-max-attempts must be a whole number from 1 to 5 (got '0')"},
      {"cf-aig-retry-delay", "soon",
       "cf-aig-retry-delay must be milliseconds from 0 to 5000 (got 'soon')"},
      {"cf-aig-retry-delay", "5001",
       "cf-aig-retry-delay must be milliseconds from 0 to 5000 (got '5001')"},
      {"cf-aig-backoff", "fibonacci",
       "cf-aig-backoff must be constant, linear or exponential (got 'fibonacci')"},
      {"cf-aig-request-timeout", "-1",
       "cf-aig-request-timeout must be milliseconds from 1 to 3600000 (got '-1')"},
  };
  for (const auto& [name, value, message] : cases) {
    const auto res = f.post({{name, value}});
    EXPECT_EQ(res.status, 400u) << name << ": " << value;
    EXPECT_EQ(json::parse(res.body, nullptr, false),
              gateway_error(message, "invalid_request_error", "invalid_header"));
  }
  EXPECT_EQ(f.fake.requests(), 0);
}

}  // namespace
}  // namespace aigw::test
