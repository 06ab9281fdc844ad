// Virtual keys through the real gateway: each key's token authenticates, its providers and
// models are enforced before anything is sent, its metadata lands on its log records, and
// rate limits count per key.

#include "config/load.hpp"
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

// The keys and rules as a user writes them, through the real loader; tokens from the
// environment.
Config with_keys(Config c, const std::string& yaml) {
  auto loaded = config::load_string(yaml, "keys.yaml", [](std::string_view name) {
    if (name == "SEARCH_TOKEN") return std::optional<std::string>("tok-search");
    if (name == "BATCH_TOKEN") return std::optional<std::string>("tok-batch");
    if (name == "ADMIN_TOKEN") return std::optional<std::string>("tok-admin");
    return std::optional<std::string>();
  });
  EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].str());
  if (!loaded.config) return c;
  c.auth = loaded.config->auth;
  c.keys = loaded.config->keys;
  c.rate_limits = loaded.config->rate_limits;
  c.routes = loaded.config->routes;
  return c;
}

constexpr const char* kKeys = R"(
auth:
  enabled: true
  tokens:
    - ${ADMIN_TOKEN}
keys:
  search:
    token: ${SEARCH_TOKEN}
    providers: [openai]
    models: [gpt-4o-mini]
    metadata: {team: search, env: prod}
  batch:
    token: ${BATCH_TOKEN}
rate_limits:
  - name: per-key
    limit: 2
    window: 1h
    per: key
  - name: batch-only
    limit: 1
    window: 1h
    key: batch
    model: gpt-4o
routes:
  bigger:
    targets:
      - {provider: openai, model: gpt-4o-mini}
      - {provider: openai, model: gpt-4o, priority: 1}
)";

struct Fixture {
  Fixture()
      : fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
          co_await ex.respond(200, R"({"id":"x","object":"chat.completion","choices":[]})",
                              json_headers());
        }) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    add_provider(c, "anthropic", fake.base_url() + "/v1");
    gateway = std::make_unique<TestGateway>(with_keys(std::move(c), kKeys));
  }
  HttpResponse post(const std::string& token, const std::string& body = kChat,
                    const std::string& path = "/openai/chat/completions", Headers extra = {}) {
    Headers headers = {{"Content-Type", "application/json"},
                       {"Authorization", "Bearer sk-provider"},
                       {"cf-aig-authorization", "Bearer " + token}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request(gateway->port(), "POST", path, body, headers);
  }
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

void expect_403(const HttpResponse& res, const std::string& message) {
  EXPECT_EQ(res.status, 403u);
  EXPECT_EQ(json::parse(res.body, nullptr, false),
            gateway_error(message, "permission_error", "forbidden"))
      << res.body;
}

TEST(VirtualKeys, EachKeysTokenAuthenticatesBesideThePlainTokens) {
  Fixture f;
  EXPECT_EQ(f.post("tok-search").status, 200u);
  EXPECT_EQ(f.post("tok-batch").status, 200u);
  EXPECT_EQ(f.post("tok-admin").status, 200u);
  EXPECT_EQ(f.post("tok-nobody").status, 401u);
  EXPECT_EQ(f.fake.requests(), 3);
}

TEST(VirtualKeys, AKeyUsesOnlyItsProvidersAndModels) {
  Fixture f;
  const std::string claude = R"({"model":"claude-x","max_tokens":5,"messages":[]})";
  // On Anthropic's own path, in Anthropic's error shape: its SDK raises PermissionDeniedError.
  const auto refused = f.post("tok-search", claude, "/anthropic/messages");
  EXPECT_EQ(refused.status, 403u);
  EXPECT_EQ(json::parse(refused.body, nullptr, false),
            json::parse(R"({"type":"error","error":{"type":"permission_error",)"
                        R"("message":"key 'search' may not use provider 'anthropic'"}})"))
      << refused.body;
  expect_403(f.post("tok-search", R"({"model":"gpt-4o","messages":[]})"),
             "key 'search' may not use model 'gpt-4o'");
  expect_403(f.post("tok-search", R"({"messages":[]})"),
             "key 'search' may only use named models, and the request names none");
  EXPECT_EQ(f.fake.requests(), 0);
  EXPECT_EQ(f.post("tok-search").status, 200u);
  // A key without lists may use anything.
  EXPECT_EQ(f.post("tok-batch", claude, "/anthropic/messages").status, 200u);
}

// The steps after the first are entered by the router, past the authentication stage: each
// is checked up front, so a key cannot reach a provider or model by listing it second.
TEST(VirtualKeys, EveryStepOfAUniversalRequestOrRouteIsTheKeysToUse) {
  Fixture f;
  const json steps =
      json::array({{{"provider", "openai"},
                    {"endpoint", "chat/completions"},
                    {"query", {{"model", "gpt-4o-mini"}, {"messages", json::array()}}}},
                   {{"provider", "anthropic"},
                    {"endpoint", "v1/messages"},
                    {"query", {{"model", "claude-x"}, {"messages", json::array()}}}}});
  expect_403(f.post("tok-search", steps.dump(), "/"),
             "key 'search' may not use provider 'anthropic' (step 1)");
  expect_403(f.post("tok-search", kChat, "/route/bigger/chat/completions"),
             "key 'search' may not use model 'gpt-4o' (step 1)");
  EXPECT_EQ(f.fake.requests(), 0);
  // A key without lists may take every step.
  EXPECT_EQ(f.post("tok-batch", steps.dump(), "/").status, 200u);
  EXPECT_EQ(f.post("tok-batch", kChat, "/route/bigger/chat/completions").status, 200u);
}

TEST(VirtualKeys, AKeysMetadataIsLoggedOverTheClientsOwn) {
  Fixture f;
  const auto res = f.post("tok-search", kChat, "/openai/chat/completions",
                          {{"cf-aig-metadata", R"({"env":"dev","user":"alice"})"}});
  ASSERT_EQ(res.status, 200u);
  auto& log = *f.gateway->app().telemetry().log;
  for (int i = 0; i < 1000 && log.stats().submitted < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  log.flush();
  const auto record = log.get(res.header("cf-aig-log-id"));
  ASSERT_TRUE(record && record->has_value());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"env", "\"prod\""}, {"user", "\"alice\""}, {"team", "\"search\""}};
  EXPECT_EQ((*record)->metadata, expected);
}

TEST(VirtualKeys, RateLimitsCountPerKeyAndNarrowToAKey) {
  Fixture f;
  // per-key: two each.
  EXPECT_EQ(f.post("tok-search").status, 200u);
  EXPECT_EQ(f.post("tok-search").status, 200u);
  const auto limited = f.post("tok-search");
  EXPECT_EQ(limited.status, 429u);
  EXPECT_NE(limited.body.find("rate limit 'per-key' exceeded"), std::string::npos);
  EXPECT_EQ(f.post("tok-batch").status, 200u);  // batch has its own two
  // batch-only: gpt-4o once, for batch alone (admin has no key: shares the keyless counter).
  const std::string gpt4o = R"({"model":"gpt-4o","messages":[]})";
  EXPECT_EQ(f.post("tok-batch", gpt4o).status, 200u);
  const auto narrowed = f.post("tok-batch", gpt4o);
  EXPECT_EQ(narrowed.status, 429u);
  EXPECT_NE(narrowed.body.find("per-key"), std::string::npos) << narrowed.body;
  EXPECT_EQ(f.post("tok-admin", gpt4o).status, 200u);
  EXPECT_EQ(f.post("tok-admin", gpt4o).status, 200u);
}

}  // namespace
}  // namespace aigw::test
