// Every error the gateway produces itself: status, stable code and exact message, in the
// OpenAI error shape, with the request ids.

#include "aigw/ids.hpp"

#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/test_pki.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr const char* kChatBody = R"({"model":"m","messages":[]})";

class GatewayErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    Config c = test_config();
    c.server.max_body_bytes = 4096;
    c.server.max_header_bytes = 2048;
    c.server.request_timeout = 300ms;
    add_provider(c, "openai", fake_.base_url() + "/v1");
    gateway_ = std::make_unique<TestGateway>(std::move(c));
  }
  FakeProvider fake_{[](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, "{}");
  }};
  std::unique_ptr<TestGateway> gateway_;
};

TEST_F(GatewayErrors, MalformedHttpIs400) {
  auto res = parse_raw(raw_exchange(gateway_->port(), "GARBAGE\r\n\r\n"));
  EXPECT_EQ(res.status, 400u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "bad_request");
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["message"].get<std::string>().rfind("malformed HTTP request: ", 0), 0u);
  EXPECT_EQ(res.header("connection"), "close");
}

TEST_F(GatewayErrors, InvalidJsonIs400AndNeverReachesTheProvider) {
  auto res = http_request(gateway_->port(), "POST", "/openai/chat/completions",
                          "{\"model\":", {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 400u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "invalid_json");
  EXPECT_EQ(e["message"], "request body is not valid JSON (Content-Type: application/json)");
  EXPECT_EQ(fake_.requests(), 0);
}

TEST_F(GatewayErrors, UnknownProviderIs404ListingTheBuiltInOnes) {
  auto res = http_request(gateway_->port(), "POST", "/nope/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 404u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "unknown_provider");
  const std::string message = e["message"];
  EXPECT_EQ(message.rfind("unknown provider 'nope'; built-in providers: anthropic, ", 0), 0u)
      << message;
  EXPECT_NE(message.find(", or a custom-{name} provider configured on this gateway"),
            std::string::npos)
      << message;
  for (const char* slug : {"anthropic", "azure-openai", "openai", "workers-ai", "groq"}) {
    EXPECT_NE(message.find(slug), std::string::npos) << slug;
  }
  auto long_form = http_request(gateway_->port(), "POST", "/v1/acct/gw/nope/x", kChatBody);
  EXPECT_EQ(long_form.status, 404u);
  EXPECT_EQ(error_of(long_form)["code"], "unknown_provider");
}

TEST_F(GatewayErrors, UnknownRouteIs404) {
  auto res = http_request(gateway_->port(), "GET", "/");
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(error_of(res)["code"], "route_not_found");
  auto short_v1 = http_request(gateway_->port(), "GET", "/v1/acct");
  EXPECT_EQ(short_v1.status, 404u);
  EXPECT_EQ(error_of(short_v1)["message"],
            "no route for /v1/acct: use /v1/{account}/{gateway}/{provider}/... or /{provider}/...");
}

TEST_F(GatewayErrors, SlowClientIs408) {
  auto res = parse_raw(raw_exchange(gateway_->port(), "POST /openai/chat HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_EQ(res.status, 408u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "request_timeout");
  EXPECT_EQ(e["message"], "request not received within 300ms (server.request_timeout)");
}

TEST_F(GatewayErrors, OversizedBodyIs413) {
  auto res =
      http_request(gateway_->port(), "POST", "/openai/chat/completions", std::string(5000, 'x'));
  EXPECT_EQ(res.status, 413u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "body_too_large");
  EXPECT_EQ(e["message"], "request body exceeds 4096 bytes (server.max_body_bytes)");
  EXPECT_EQ(fake_.requests(), 0);
}

TEST_F(GatewayErrors, OversizedHeadersAre431) {
  auto res = http_request(gateway_->port(), "POST", "/openai/chat/completions", kChatBody,
                          {{"X-Big", std::string(3000, 'h')}});
  EXPECT_EQ(res.status, 431u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "headers_too_large");
  EXPECT_EQ(e["message"], "request headers exceed 2048 bytes (server.max_header_bytes)");
}

TEST_F(GatewayErrors, InvalidProviderPathIs400) {
  auto res = http_request(gateway_->port(), "POST", "/azure-openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(error_of(res)["code"], "invalid_provider_path");
}

TEST(UpstreamErrors, ConnectionRefusedIs502) {
  const std::uint16_t closed_port = free_port();  // nobody listens on it
  Config c = test_config();
  add_provider(c, "openai", "https://127.0.0.1:" + std::to_string(closed_port) + "/v1");
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 502u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "upstream_connect_failed");
  EXPECT_EQ(e["type"], "gateway_error");
  // The upstream's address is the operator's to know, not the client's (docs/security.md).
  EXPECT_EQ(e["message"], "connecting to provider openai failed: Connection refused");
}

TEST(UpstreamErrors, ResetBeforeResponseIs502) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    ex.reset();
    co_return;
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 502u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "upstream_reset");
  EXPECT_EQ(e["message"].get<std::string>().rfind(
                "provider openai closed the connection before responding: ", 0),
            0u)
      << e["message"];
}

TEST(UpstreamErrors, GarbageResponseIs502) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.send_raw("NOT HTTP AT ALL\r\n\r\n");
    ex.close_now();
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 502u);
  EXPECT_EQ(error_of(res)["code"], "upstream_protocol_error");
}

TEST(UpstreamErrors, FirstByteTimeoutIs504) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.sleep(3s);
    co_await ex.respond(200, "{}");
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1").first_byte_timeout = 200ms;
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 504u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "upstream_timeout");
  EXPECT_EQ(e["message"], "provider openai sent no response within 200ms");
}

TEST(UpstreamErrors, UntrustedCertificateIs502) {
  FakeProvider fake([](const FakeRequest&,
                       Exchange& ex) -> asio::awaitable<void> { co_await ex.respond(200, "{}"); },
                    FakeProvider::Options{true, test_pki().rogue_cert, test_pki().rogue_key});
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 502u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "upstream_tls_failed");
  EXPECT_EQ(e["message"],
            "TLS handshake with provider openai failed: unable to get local issuer certificate");
  EXPECT_EQ(fake.requests(), 0);
}

TEST(UpstreamErrors, HostnameMismatchIs502) {
  // Signed by the trusted CA, but for other.example: reached as 127.0.0.1 and as localhost.
  FakeProvider fake(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.respond(200, "{}");
      },
      FakeProvider::Options{true, test_pki().other_name_cert, test_pki().other_name_key});
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  add_provider(c, "custom-local", "https://localhost:" + std::to_string(fake.port()));
  TestGateway gw(std::move(c));
  auto by_ip = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(by_ip.status, 502u);
  EXPECT_EQ(error_of(by_ip)["message"],
            "TLS handshake with provider openai failed: IP address mismatch");
  auto by_name = http_request(gw.port(), "POST", "/custom-local/chat/completions", kChatBody);
  EXPECT_EQ(by_name.status, 502u);
  EXPECT_EQ(error_of(by_name)["message"],
            "TLS handshake with provider custom-local failed: hostname mismatch");
  EXPECT_EQ(fake.requests(), 0);
}

TEST(UpstreamErrors, VerificationCanBeTurnedOff) {
  FakeProvider fake([](const FakeRequest&,
                       Exchange& ex) -> asio::awaitable<void> { co_await ex.respond(200, "{}"); },
                    FakeProvider::Options{true, test_pki().rogue_cert, test_pki().rogue_key});
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1").tls_verify = false;
  TestGateway gw(std::move(c));
  EXPECT_EQ(http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody).status, 200u);
}

}  // namespace
}  // namespace aigw::test
