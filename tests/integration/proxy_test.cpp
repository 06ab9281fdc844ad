// The gateway in front of a scripted fake provider over real TLS: pass-through of buffered
// and streamed responses, request bodies, headers, and upstream failures.

#include "aigw/ids.hpp"

#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"
#include "support/test_pki.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr const char* kChatBody =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";
constexpr const char* kCompletion =
    R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello"}}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";

Handler json_handler(unsigned status, std::string body, Exchange::Headers headers = {}) {
  return [=](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(status, body, headers);
  };
}

struct Fixture {
  explicit Fixture(Handler handler, std::function<void(Config&)> tweak = {})
      : fake(std::move(handler)) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    add_provider(c, "anthropic", fake.base_url());
    if (tweak) tweak(c);
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
  std::uint16_t port() const { return gateway->port(); }
};

TEST(Proxy, BufferedJsonPassesThroughUnchanged) {
  Fixture f(json_handler(200, kCompletion, {{"x-request-id", "req_123"}, {"openai-model", "m"}}));
  auto res = http_request(f.port(), "POST", "/openai/chat/completions?trace=1", kChatBody,
                          {{"Authorization", "Bearer sk-secret-key"},
                           {"Content-Type", "application/json"},
                           {"X-Custom", "kept"},
                           {"cf-aig-metadata", R"({"user":"u1"})"},
                           {"Connection", "keep-alive, x-hop"},
                           {"X-Hop", "dropped"},
                           {"TE", "trailers"},
                           {"Keep-Alive", "timeout=5"}});
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.body, kCompletion);
  EXPECT_EQ(res.header("x-request-id"), "req_123");
  EXPECT_EQ(res.header("openai-model"), "m");
  EXPECT_EQ(res.header("content-length"), std::to_string(std::string(kCompletion).size()));
  EXPECT_TRUE(is_uuid_v7(res.header("cf-aig-log-id"))) << res.header("cf-aig-log-id");
  EXPECT_EQ(res.header("cf-aig-request-id"), res.header("cf-aig-log-id"));
  EXPECT_EQ(res.header("cf-aig-event-id"), res.header("cf-aig-log-id"));

  auto received = f.fake.received();
  ASSERT_EQ(received.size(), 1u);
  const auto& req = received[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1/chat/completions?trace=1");
  EXPECT_EQ(req.body, kChatBody);
  EXPECT_EQ(req.headers.at("host"), "127.0.0.1:" + std::to_string(f.fake.port()));
  EXPECT_EQ(req.headers.at("authorization"), "Bearer sk-secret-key");
  EXPECT_EQ(req.headers.at("x-custom"), "kept");
  EXPECT_EQ(req.headers.at("content-length"), std::to_string(std::string(kChatBody).size()));
  for (const char* gone : {"cf-aig-metadata", "x-hop", "te", "keep-alive"}) {
    EXPECT_FALSE(req.has(gone)) << gone << " was forwarded";
  }
}

TEST(Proxy, LongCloudflareFormAndAnthropicPaths) {
  Fixture f(json_handler(200, R"({"ok":true})"));
  EXPECT_EQ(
      http_request(f.port(), "POST", "/v1/acct123/gw1/openai/chat/completions", kChatBody).status,
      200u);
  EXPECT_EQ(http_request(f.port(), "POST", "/anthropic/v1/messages", "{}").status, 200u);
  EXPECT_EQ(http_request(f.port(), "GET", "/openai/v1/models").status, 200u);
  auto received = f.fake.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].target, "/v1/chat/completions");
  EXPECT_EQ(received[1].target, "/v1/messages");
  EXPECT_EQ(received[2].target, "/v1/models");  // optional leading v1/ tolerated
  EXPECT_EQ(received[2].method, "GET");
}

TEST(Proxy, ClientEventIdIsEchoed) {
  Fixture f(json_handler(200, "{}"));
  auto res = http_request(f.port(), "POST", "/openai/chat/completions", kChatBody,
                          {{"cf-aig-event-id", "evt-42"}});
  EXPECT_EQ(res.header("cf-aig-event-id"), "evt-42");
  EXPECT_TRUE(is_uuid_v7(res.header("cf-aig-log-id")));
}

// The gateway's own headers replace a provider's of the same name: exactly one of each reaches
// the client (a provider behind another gateway may send cf-aig-* too).
TEST(Proxy, GatewayHeadersReplaceTheProvidersOwn) {
  Fixture f(json_handler(200, "{}",
                         {{"CF-AIG-Log-Id", "from-upstream"},
                          {"cf-aig-request-id", "from-upstream"},
                          {"cf-aig-event-id", "from-upstream"},
                          {"cf-aig-step", "2"}}));
  const std::string raw =
      raw_exchange(f.port(),
                   "POST /openai/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Type: application/json\r\nContent-Length: " +
                       std::to_string(std::string(kChatBody).size()) + "\r\n\r\n" + kChatBody);
  std::string lower = raw;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (auto at = lower.find(needle); at != std::string::npos; at = lower.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("\r\ncf-aig-log-id: "), 1u) << raw;
  EXPECT_EQ(count("\r\ncf-aig-request-id: "), 1u) << raw;
  EXPECT_EQ(count("\r\ncf-aig-event-id: "), 1u) << raw;
  EXPECT_EQ(count("from-upstream"), 0u) << raw;
  EXPECT_EQ(count("\r\ncf-aig-step: 2\r\n"), 1u) << raw;  // not one of ours: passes through
  EXPECT_EQ(count("\r\ncontent-length: 2\r\n"), 1u) << raw;
  EXPECT_EQ(count("\r\nconnection: close\r\n"), 1u) << raw;
}

TEST(Proxy, KeepAliveConnectionsToTheProviderAreReused) {
  Fixture f(json_handler(200, "{}"));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(http_request(f.port(), "POST", "/openai/chat/completions", kChatBody).status, 200u);
  }
  EXPECT_EQ(f.fake.requests(), 5);
  EXPECT_EQ(f.fake.connections_opened(), 1);
}

TEST(Proxy, ProviderClosingAPooledConnectionIsRetriedOnAFreshOne) {
  // The provider closes after each response without saying so; the pooled connection is
  // dead when reused and the gateway must transparently use a new one.
  Fixture f([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, "{}");
    ex.close_now();
  });
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(http_request(f.port(), "POST", "/openai/chat/completions", kChatBody).status, 200u);
  }
  EXPECT_EQ(f.fake.requests(), 3);
}

TEST(Proxy, SseIsRelayedEventByEventBeforeTheProviderFinishes) {
  Gate gate;
  std::atomic<bool> waited{false};
  Fixture f([&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"first"}}]})"));
    // The last events are held back until the test has seen the first one through the
    // gateway: a gateway that buffered the stream would deadlock here and fail the test.
    waited = co_await ex.wait(gate, 10s);
    co_await ex.send_chunk(sse(R"({"choices":[{"delta":{"content":"second"}}]})"));
    co_await ex.send_chunk(sse("[DONE]"));
    co_await ex.end_stream();
  });
  StreamingClient client(f.port(), "POST", "/openai/chat/completions",
                         R"({"model":"m","stream":true,"messages":[]})");
  EXPECT_EQ(client.head().status, 200u);
  EXPECT_EQ(client.head().header("content-type"), "text/event-stream");
  EXPECT_TRUE(client.head().chunked);
  const std::string first = client.read_until("first", 5s);
  EXPECT_EQ(first.find("second"), std::string::npos);
  gate.open();
  const std::string all = client.read_all(5s);
  EXPECT_TRUE(waited);
  EXPECT_EQ(all, sse(R"({"choices":[{"delta":{"content":"first"}}]})") +
                     sse(R"({"choices":[{"delta":{"content":"second"}}]})") + sse("[DONE]"));
}

TEST(Proxy, LargeAndChunkedRequestBodiesArriveIntact) {
  Fixture f([](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, std::to_string(req.body.size()));
  });
  std::string big(5 * 1024 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
  const std::string body = R"({"input":")" + big + R"("})";
  auto res = http_request(f.port(), "POST", "/openai/embeddings", body,
                          {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 200u);
  auto chunked = http_request(f.port(), "POST", "/openai/embeddings", body,
                              {{"Content-Type", "application/json"}}, /*chunked_body=*/true);
  EXPECT_EQ(chunked.status, 200u);
  auto received = f.fake.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].body, body);
  EXPECT_EQ(received[1].body, body);
  EXPECT_FALSE(received[1].has("transfer-encoding"));
  EXPECT_EQ(received[1].headers.at("content-length"), std::to_string(body.size()));
}

TEST(Proxy, ExpectContinueIsAnsweredByTheGateway) {
  Fixture f(json_handler(200, "{}"));
  auto res = http_request(f.port(), "POST", "/openai/chat/completions", kChatBody,
                          {{"Expect", "100-continue"}});
  EXPECT_EQ(res.status, 200u);
  EXPECT_FALSE(f.fake.received().at(0).has("expect"));
}

TEST(Proxy, ProviderErrorsPassThroughVerbatim) {
  const std::string body = R"({"error":{"message":"Rate limit reached","type":"requests"}})";
  Fixture f(json_handler(429, body, {{"retry-after", "7"}, {"x-ratelimit-remaining", "0"}}));
  auto res = http_request(f.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 429u);
  EXPECT_EQ(res.body, body);
  EXPECT_EQ(res.header("retry-after"), "7");
  EXPECT_EQ(res.header("x-ratelimit-remaining"), "0");

  Fixture g(json_handler(503, "upstream overloaded", {{"content-type", "text/plain"}}));
  auto res2 = http_request(g.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res2.status, 503u);
  EXPECT_EQ(res2.body, "upstream overloaded");
  EXPECT_EQ(res2.header("content-type"), "text/plain");
}

TEST(Proxy, CompressedResponsesPassThroughByteForByte) {
  // gzip of {"id":"chatcmpl-1","object":"chat.completion"}: the gateway neither decodes nor
  // re-encodes, and the client's Accept-Encoding reaches the provider.
  const std::string gz(
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xab\x56\xca\x4c\x51\xb2\x52\x4a\xce\x48\x2c\x49"
      "\xce\x2d\xc8\xd1\x35\x54\xd2\x51\xca\x4f\xca\x4a\x4d\x2e\x81\x8a\xea\x25\xe7\x03\xc5\x53"
      "\x4b\x32\xf3\xf3\x94\x6a\x01\x1f\xc4\xaa\x1a\x2e\x00\x00\x00",
      59);
  Fixture f([gz](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const Exchange::Headers headers{{"content-type", "application/json"},
                                    {"content-encoding", "gzip"},
                                    {"vary", "Accept-Encoding"}};
    if (req.target.find("stream") != std::string::npos) {
      co_await ex.start_stream(200, headers);
      co_await ex.send_chunk(gz.substr(0, 10));
      co_await ex.send_chunk(gz.substr(10));
      co_await ex.end_stream();
    } else {
      co_await ex.respond(200, gz, headers);
    }
  });
  for (const char* target : {"/openai/chat/completions", "/openai/chat/completions?stream"}) {
    auto res =
        http_request(f.port(), "POST", target, kChatBody, {{"Accept-Encoding", "gzip, deflate"}});
    EXPECT_EQ(res.status, 200u) << target;
    EXPECT_EQ(res.body, gz) << target;
    EXPECT_EQ(res.header("content-encoding"), "gzip") << target;
    EXPECT_EQ(res.header("vary"), "Accept-Encoding") << target;
  }
  const auto received = f.fake.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].headers.at("accept-encoding"), "gzip, deflate");
}

TEST(Proxy, HeadAndNoContentResponsesHaveNoBody) {
  Fixture f([](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    if (req.method == "HEAD") {
      co_await ex.send_raw("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");
    } else {
      co_await ex.respond(204, "");
    }
  });
  auto head = http_request(f.port(), "HEAD", "/openai/models");
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.header("content-length"), "42");
  auto del = http_request(f.port(), "DELETE", "/openai/files/file-1");
  EXPECT_EQ(del.status, 204u);
  EXPECT_EQ(del.body, "");
}

}  // namespace
}  // namespace aigw::test

namespace aigw::test {
namespace {

TEST(Proxy, InterimResponsesFromTheProviderAreNotRelayed) {
  Fixture f([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.send_raw(
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  });
  auto res = http_request(f.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.body, "{}");
  EXPECT_EQ(res.header("link"), "");
}

}  // namespace
}  // namespace aigw::test
