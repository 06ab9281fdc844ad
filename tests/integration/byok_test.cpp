// Stored provider keys (BYOK) through the real gateway: the stored key reaches the provider in
// its own header, the client's credentials never do, cf-aig-byok-alias picks among several
// keys, and an unknown alias is a 400 before anything is sent.

#include "config/load.hpp"
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

constexpr const char* kKeys = R"(
auth:
  enabled: true
  tokens: ["${GATEWAY_TOKEN}"]
providers:
  openai:
    keys:
      default: ${OPENAI_KEY}
      team-b: ${OPENAI_KEY_B}
  anthropic:
    keys:
      default: ${ANTHROPIC_KEY}
  groq:
    keys:
      team-b: ${GROQ_KEY_B}
)";

Handler ok() {
  return [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, R"({"id":"x","object":"chat.completion","choices":[]})",
                        json_headers());
  };
}

struct Fixture {
  explicit Fixture(Handler handler = ok()) : fake(std::move(handler)) {
    auto loaded = config::load_string(kKeys, "byok.yaml", [](std::string_view name) {
      if (name == "GATEWAY_TOKEN") return std::optional<std::string>("tok");
      if (name == "OPENAI_KEY") return std::optional<std::string>("sk-stored-default");
      if (name == "OPENAI_KEY_B") return std::optional<std::string>("sk-stored-b");
      if (name == "ANTHROPIC_KEY") return std::optional<std::string>("sk-ant-stored");
      if (name == "GROQ_KEY_B") return std::optional<std::string>("gsk-stored-b");
      return std::optional<std::string>();
    });
    EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].str());
    Config c = test_config();
    c.auth = loaded.config->auth;
    for (const char* slug : {"openai", "anthropic", "groq"}) {
      add_provider(c, slug, fake.base_url() + "/v1").keys = loaded.config->providers.at(slug).keys;
    }
    c.cache.enabled = true;
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post(const std::string& path, Headers extra, const std::string& body = kChat) {
    Headers headers = {{"Content-Type", "application/json"},
                       {"cf-aig-authorization", "Bearer tok"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request(gateway->port(), "POST", path, body, headers);
  }
  FakeRequest last() const {
    const auto all = fake.received();
    return all.empty() ? FakeRequest{} : all.back();
  }
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

TEST(StoredKeys, TheDefaultKeyReplacesWhateverCredentialTheClientSent) {
  Fixture f;
  // The SDK's placeholder key, and a stray key for another provider.
  ASSERT_EQ(f.post("/openai/chat/completions",
                   {{"Authorization", "Bearer sk-placeholder"}, {"x-api-key", "sk-ant-client"}})
                .status,
            200u);
  FakeRequest r = f.last();
  EXPECT_EQ(r.headers["authorization"], "Bearer sk-stored-default");
  EXPECT_FALSE(r.has("x-api-key"));
  EXPECT_FALSE(r.has("cf-aig-authorization"));

  // No credential from the client at all.
  ASSERT_EQ(f.post("/openai/chat/completions", {}).status, 200u);
  EXPECT_EQ(f.last().headers["authorization"], "Bearer sk-stored-default");
}

TEST(StoredKeys, EachProviderGetsItsKeyInItsOwnHeader) {
  Fixture f;
  ASSERT_EQ(f.post("/anthropic/messages", {{"Authorization", "Bearer tok"}},
                   R"({"model":"claude-x","max_tokens":5,"messages":[]})")
                .status,
            200u);
  FakeRequest r = f.last();
  EXPECT_EQ(r.headers["x-api-key"], "sk-ant-stored");
  EXPECT_FALSE(r.has("authorization"));
}

// Each attempt gets the stored key of its own provider, and none gets the client's
// credentials when the steps span providers: a universal request whose Anthropic step fails
// over to OpenAI sends each its own key in its own header.
TEST(StoredKeys, EveryAttemptGetsItsOwnProvidersKeyAndNeverTheClients) {
  Fixture f([](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const bool anthropic = req.target.find("/messages") != std::string::npos;
    co_await ex.respond(anthropic ? 529 : 200, R"({"id":"x","choices":[]})", json_headers());
  });
  const json steps = json::array(
      {{{"provider", "anthropic"},
        {"endpoint", "v1/messages"},
        {"query", {{"model", "claude-x"}, {"max_tokens", 5}, {"messages", json::array()}}}},
       {{"provider", "openai"}, {"endpoint", "chat/completions"}, {"query", json::parse(kChat)}}});
  const auto res =
      f.post("/", {{"Authorization", "Bearer sk-client"}, {"x-api-key", "client-x"}}, steps.dump());
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("cf-aig-step"), "1");
  const auto sent = f.fake.received();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].headers.at("x-api-key"), "sk-ant-stored");
  EXPECT_FALSE(sent[0].has("authorization"));
  EXPECT_EQ(sent[1].headers.at("authorization"), "Bearer sk-stored-default");
  EXPECT_FALSE(sent[1].has("x-api-key"));
}

TEST(StoredKeys, TheAliasHeaderPicksAmongAProvidersKeys) {
  Fixture f;
  ASSERT_EQ(f.post("/openai/chat/completions", {{"cf-aig-byok-alias", "team-b"}}).status, 200u);
  FakeRequest r = f.last();
  EXPECT_EQ(r.headers["authorization"], "Bearer sk-stored-b");
  EXPECT_FALSE(r.has("cf-aig-byok-alias"));
  ASSERT_EQ(f.post("/groq/chat/completions", {{"cf-aig-byok-alias", "team-b"}}).status, 200u);
  EXPECT_EQ(f.last().headers["authorization"], "Bearer gsk-stored-b");
}

TEST(StoredKeys, WithoutADefaultKeyTheClientsOwnCredentialGoesThrough) {
  Fixture f;
  ASSERT_EQ(f.post("/groq/chat/completions", {{"Authorization", "Bearer gsk-client"}}).status,
            200u);
  EXPECT_EQ(f.last().headers["authorization"], "Bearer gsk-client");
}

TEST(StoredKeys, AnUnknownAliasIsRefusedBeforeAnythingIsSent) {
  Fixture f;
  HttpResponse res = f.post("/openai/chat/completions", {{"cf-aig-byok-alias", "team-c"}});
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(json::parse(res.body, nullptr, false),
            gateway_error("cf-aig-byok-alias: provider 'openai' has no stored key 'team-c'",
                          "invalid_request_error", "invalid_header"))
      << res.body;
  res = f.post("/groq/chat/completions", {{"cf-aig-byok-alias", "default"}});
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(json::parse(res.body, nullptr, false),
            gateway_error("cf-aig-byok-alias: provider 'groq' has no stored key 'default'",
                          "invalid_request_error", "invalid_header"))
      << res.body;
  EXPECT_EQ(f.fake.requests(), 0);
}

TEST(StoredKeys, NoKeyIsSentForARequestThatFailsAuthentication) {
  Fixture f;
  HttpResponse res = http_request(f.gateway->port(), "POST", "/openai/chat/completions", kChat,
                                  {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 401u);
  EXPECT_EQ(f.fake.requests(), 0);
}

TEST(StoredKeys, CachedResponsesAreScopedByTheStoredKeyUsed) {
  Fixture f;
  auto status = [](const HttpResponse& r) { return r.header("cf-aig-cache-status"); };
  EXPECT_EQ(status(f.post("/openai/chat/completions", {{"Authorization", "Bearer a"}})), "MISS");
  // Another client placeholder, the same stored key: the same entry.
  EXPECT_EQ(status(f.post("/openai/chat/completions", {{"Authorization", "Bearer b"}})), "HIT");
  // Another stored key: its own entry.
  EXPECT_EQ(status(f.post("/openai/chat/completions", {{"cf-aig-byok-alias", "team-b"}})), "MISS");
  EXPECT_EQ(f.fake.requests(), 2);
}

}  // namespace
}  // namespace aigw::test
