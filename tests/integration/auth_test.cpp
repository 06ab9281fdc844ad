// Gateway authentication through the real gateway in front of the TLS fake provider:
// cf-aig-authorization is required, checked against the configured tokens' digests, never
// forwarded, and every refusal is an exact 401.

#include "core/sha256.hpp"
#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]})";
constexpr const char* kToken = "aigw-test-token-0123456789abcdef";
constexpr const char* kOtherToken = "second-token";

struct Fixture {
  Fixture()
      : fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
          co_await ex.respond(200, R"({"id":"x","object":"chat.completion","choices":[]})",
                              json_headers());
        }) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    c.auth.enabled = true;
    c.auth.token_sha256 = {sha256(kToken), sha256(kOtherToken)};
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post(const Headers& extra) {
    Headers headers = {{"Content-Type", "application/json"},
                       {"Authorization", "Bearer sk-provider-key"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request(gateway->port(), "POST", "/openai/chat/completions", kChat, headers);
  }
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

void expect_401(const HttpResponse& res, const std::string& message) {
  EXPECT_EQ(res.status, 401u);
  EXPECT_EQ(res.header("www-authenticate"), "Bearer realm=\"aigw\"");
  EXPECT_EQ(res.header("content-type"), "application/json");
  EXPECT_FALSE(res.header("cf-aig-log-id").empty());
  EXPECT_EQ(json::parse(res.body, nullptr, false),
            gateway_error(message, "authentication_error", "unauthorized"))
      << res.body;
}

TEST(Auth, AValidTokenPassesAndNeverReachesTheProvider) {
  Fixture f;
  for (const std::string token : {kToken, kOtherToken}) {
    const auto res = f.post({{"cf-aig-authorization", "Bearer " + token}});
    EXPECT_EQ(res.status, 200u) << res.body;
  }
  // The scheme is case-insensitive and spaces around the token do not count.
  EXPECT_EQ(f.post({{"cf-aig-authorization", std::string("bearer   ") + kToken + " "}}).status,
            200u);
  ASSERT_EQ(f.fake.received().size(), 3u);
  for (const auto& req : f.fake.received()) {
    EXPECT_FALSE(req.has("cf-aig-authorization"));
    EXPECT_EQ(req.headers.at("authorization"), "Bearer sk-provider-key");  // the provider's own
  }
}

TEST(Auth, AMissingHeaderIsRefused) {
  Fixture f;
  expect_401(f.post({}),
             "this gateway requires authentication: send cf-aig-authorization: Bearer <token>");
  EXPECT_EQ(f.fake.requests(), 0);
}

TEST(Auth, WrongAndNearMissTokensAreRefused) {
  Fixture f;
  const std::string token = kToken;
  for (const std::string& wrong :
       {std::string("nope"), token.substr(0, token.size() - 1), token + "0",
        token.substr(0, token.size() - 1) + "e", "X" + token.substr(1), std::string("Bearer"),
        std::string(kToken) + std::string(kOtherToken)}) {
    expect_401(f.post({{"cf-aig-authorization", "Bearer " + wrong}}),
               "invalid gateway token (cf-aig-authorization)");
  }
  EXPECT_EQ(f.fake.requests(), 0);
}

TEST(Auth, AHeaderWithoutTheBearerSchemeIsRefused) {
  Fixture f;
  for (const std::string& value :
       {std::string(kToken), std::string("Basic ") + kToken, std::string("Bearer"),
        std::string("Bearer "), std::string("Bearer") + kToken}) {
    expect_401(f.post({{"cf-aig-authorization", value}}),
               "cf-aig-authorization must be \"Bearer <token>\"");
  }
  EXPECT_EQ(f.fake.requests(), 0);
}

TEST(Auth, OffByDefault) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, "{}", json_headers());
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  EXPECT_FALSE(c.auth.enabled);
  TestGateway gateway(std::move(c));
  const auto res = http_request(gateway.port(), "POST", "/openai/chat/completions", kChat,
                                {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 200u);
}

}  // namespace
}  // namespace aigw::test
