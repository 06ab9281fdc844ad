// Request and response framing an attacker controls (issue 15): chunk-size lines and trailers
// without end, Transfer-Encoding values that hide the body's length, bytes that are not
// UTF-8 where the gateway echoes them, and upstream answers that would poison a pooled
// connection. Every case gets an exact answer, one record, and a closed connection.

#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr const char* kChatBody = R"({"model":"m","messages":[]})";

// How many complete responses `raw` holds (a smuggled second request shows as two).
std::size_t responses_in(const std::string& raw) {
  std::size_t n = 0;
  for (auto pos = raw.find("HTTP/1.1 "); pos != std::string::npos;
       pos = raw.find("HTTP/1.1 ", pos + 1)) {
    ++n;
  }
  return n;
}

class Framing : public ::testing::Test {
 protected:
  void SetUp() override {
    Config c = test_config();
    c.server.max_body_bytes = 64 * 1024;
    c.server.max_header_bytes = 2048;
    c.server.request_timeout = 2s;
    c.cache.enabled = true;
    add_provider(c, "openai", fake_.base_url() + "/v1");
    gateway_ = std::make_unique<TestGateway>(std::move(c));
  }
  std::string post_head(const std::string& framing, const std::string& version = "1.1") {
    return "POST /openai/chat/completions HTTP/" + version +
           "\r\nHost: x\r\nContent-Type: application/json\r\n" + framing + "\r\n";
  }
  FakeProvider fake_{[](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, R"({"ok":true})");
  }};
  std::unique_ptr<TestGateway> gateway_;
};

// Before the fix, the session kept buffering a chunk-size line that never ended (1.1 GB in
// 4 s from one connection) until request_timeout: here a 408 after 2 s, not this 400.
TEST_F(Framing, EndlessChunkExtensionIs400AndCloses) {
  const std::string raw =
      raw_exchange(gateway_->port(), post_head("Transfer-Encoding: chunked\r\n") +
                                         "5;a=" + std::string(60 * 1024, 'x'));
  const auto res = parse_raw(raw);
  EXPECT_EQ(res.status, 400u) << raw.substr(0, 300);
  const auto e = error_of(res);
  EXPECT_EQ(e["code"], "bad_request");
  EXPECT_EQ(e["message"],
            "chunk-size line or trailer section exceeds 2048 bytes (server.max_header_bytes)");
  EXPECT_EQ(res.header("connection"), "close");
  EXPECT_EQ(fake_.requests(), 0);
  const Json record = gateway_->log_record(res.header("cf-aig-log-id"));
  EXPECT_EQ(record["status_code"], 400);
  EXPECT_EQ(record["error_code"], "bad_request");
}

TEST_F(Framing, EndlessTrailerIs400AndCloses) {
  const std::string raw = raw_exchange(
      gateway_->port(), post_head("Transfer-Encoding: chunked\r\n") +
                            "2\r\n{}\r\n0\r\nX-Trailer: " + std::string(60 * 1024, 'y'));
  const auto res = parse_raw(raw);
  EXPECT_EQ(res.status, 400u) << raw.substr(0, 300);
  EXPECT_EQ(error_of(res)["message"],
            "chunk-size line or trailer section exceeds 2048 bytes (server.max_header_bytes)");
  EXPECT_EQ(fake_.requests(), 0);
}

// A chunked body with extensions and a trailer inside the limits is still accepted.
TEST_F(Framing, BoundedChunkExtensionsAndTrailersPass) {
  const std::string body = kChatBody;
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  const auto res = parse_raw(raw_exchange(
      gateway_->port(), post_head("Transfer-Encoding: chunked\r\nConnection: close\r\n") + size +
                            ";name=value\r\n" + body + "\r\n0\r\nX-Sum: 1\r\n\r\n"));
  EXPECT_EQ(res.status, 200u);
  ASSERT_EQ(fake_.requests(), 1);
  EXPECT_EQ(fake_.received()[0].body, body);
}

// RFC 9112 §6.3: a Transfer-Encoding whose final coding is not chunked leaves the length
// unknowable. Before the fix these were read as an empty body, and the body's bytes then ran
// as a second request on the same connection (smuggling).
TEST_F(Framing, TransferEncodingOtherThanChunkedIs400AndCloses) {
  const std::string smuggled = "GET /openai/models HTTP/1.1\r\nHost: x\r\n\r\n";
  struct Case {
    std::string header;
    std::string shown;
  };
  const std::vector<Case> cases = {
      {"Transfer-Encoding: chunked, identity\r\n", "chunked, identity"},
      {"Transfer-Encoding: xchunked\r\n", "xchunked"},
      {"Transfer-Encoding: gzip\r\nContent-Length: 41\r\n", "gzip"},
      {"Transfer-Encoding: gzip, chunked\r\n", "gzip, chunked"},
  };
  for (const auto& c : cases) {
    const std::string raw = raw_exchange(gateway_->port(), post_head(c.header) + smuggled);
    const auto res = parse_raw(raw);
    EXPECT_EQ(res.status, 400u) << c.header;
    EXPECT_EQ(error_of(res)["message"],
              "unsupported Transfer-Encoding '" + c.shown + "': only 'chunked' is accepted")
        << c.header;
    EXPECT_EQ(res.header("connection"), "close") << c.header;
    EXPECT_EQ(responses_in(raw), 1u) << c.header;
  }
  EXPECT_EQ(fake_.requests(), 0);
}

TEST_F(Framing, TransferEncodingOnHttp10Is400AndCloses) {
  const std::string raw =
      raw_exchange(gateway_->port(),
                   post_head("Transfer-Encoding: chunked\r\n", "1.0") + "2\r\n{}\r\n0\r\n\r\n");
  const auto res = parse_raw(raw);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(error_of(res)["message"],
            "Transfer-Encoding is not allowed in an HTTP/1.0 request (got 'chunked')");
  EXPECT_EQ(responses_in(raw), 1u);
  EXPECT_EQ(fake_.requests(), 0);
}

// Bytes that are not UTF-8, echoed into an error: before the fix the JSON writer threw, the
// connection dropped without a response or a record, and aigw_requests_in_flight stayed up.
TEST_F(Framing, InvalidUtf8EchoedInAnErrorStillGetsAResponseAndARecord) {
  const std::vector<std::string> requests = {
      "GET /\xff/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      post_head("cf-aig-max-attempts: \xff\r\nContent-Length: 27\r\nConnection: close\r\n") +
          kChatBody,
      post_head("cf-aig-cache-ttl: \xff\r\nContent-Length: 27\r\nConnection: close\r\n") +
          kChatBody,
  };
  const std::vector<unsigned> statuses = {404, 400, 400};
  // The byte is replaced: by '?' in a value the gateway clips, else by U+FFFD.
  const std::vector<std::string> shown = {"unknown provider '?'", "(got '?')", "\xef\xbf\xbd"};
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto res = parse_raw(raw_exchange(gateway_->port(), requests[i]));
    ASSERT_EQ(res.status, statuses[i]) << i;
    const Json e = error_of(res);
    EXPECT_NE(e["message"].get<std::string>().find(shown[i]), std::string::npos) << e["message"];
    EXPECT_FALSE(gateway_->log_record(res.header("cf-aig-log-id")).is_null()) << i;
  }
  const auto admin = parse_raw(raw_exchange(
      gateway_->admin_port(), "GET /\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(admin.status, 404u);
  EXPECT_EQ(Json::parse(admin.body)["error"]["code"], "route_not_found");
  const auto metrics = gateway_->admin("/metrics");
  EXPECT_NE(metrics.body.find("\naigw_requests_in_flight 0\n"), std::string::npos);
}

// A provider whose first answer is `raw` (bytes it was not asked for included) and whose
// later ones are {"ok":true}, behind a gateway; each request goes on a new client connection.
struct PoisoningProvider {
  explicit PoisoningProvider(std::string raw)
      : fake([this, raw = std::move(raw)](const FakeRequest&,
                                          Exchange& ex) -> asio::awaitable<void> {
          if (seen++ == 0) {
            co_await ex.send_raw(raw);
            co_return;
          }
          co_await ex.respond(200, R"({"ok":true})");
        }) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post() {
    return http_request(gateway->port(), "POST", "/openai/chat/completions", kChatBody);
  }
  std::atomic<int> seen{0};
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

constexpr std::string_view kInjected =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n"
    "{\"injected\":1}";

// A 101 to a request that asked for no upgrade, followed by bytes: before the fix the
// connection went back to the pool and the next client got the injected response.
TEST(UpstreamFraming, A101ToAPlainRequestIs502AndTheConnectionIsNotReused) {
  PoisoningProvider p(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n" +
      std::string(kInjected));
  const auto first = p.post();
  EXPECT_EQ(first.status, 502u);
  const Json e = error_of(first);
  EXPECT_EQ(e["code"], "upstream_protocol_error");
  EXPECT_EQ(e["message"],
            "provider openai answered 101 Switching Protocols to a request that asked for no "
            "upgrade");
  const auto second = p.post();
  EXPECT_EQ(second.status, 200u);
  EXPECT_EQ(second.body, R"({"ok":true})");
  EXPECT_EQ(p.fake.connections_opened(), 2);
}

// Bytes after a complete response were never asked for: the connection is closed, not
// pooled, so they can never answer the next request.
TEST(UpstreamFraming, AConnectionWithUnreadBytesIsNotPooled) {
  PoisoningProvider p(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" +
      std::string(kInjected));
  const auto first = p.post();
  EXPECT_EQ(first.status, 200u);
  EXPECT_EQ(first.body, "{}");
  const auto second = p.post();
  EXPECT_EQ(second.status, 200u);
  EXPECT_EQ(second.body, R"({"ok":true})");
  EXPECT_EQ(p.fake.connections_opened(), 2);
}

// An upstream chunk-size line without end is bounded like a client's: the stream is cut
// off instead of growing the gateway.
TEST(UpstreamFraming, AnEndlessUpstreamChunkLineIsCutOff) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.send_raw(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;a=" +
        std::string(200 * 1024, 'x'));
    co_await ex.sleep(5s);
  });
  Config c = test_config();
  c.upstream.max_response_header_bytes = 4096;
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  StreamingClient client(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(client.head().status, 200u);
  EXPECT_THROW(client.read_all(3s), std::runtime_error);
}

}  // namespace
}  // namespace aigw::test
