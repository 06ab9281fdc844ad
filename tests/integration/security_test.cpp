// What one client can make the gateway keep or spend (issue 15): client-chosen strings in
// metrics and the log, the operator's keys on paths they were not given, numbers that wrap a
// reservation, duplicate JSON keys, and paths that leave the provider's host.

#include "core/sha256.hpp"
#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

Handler ok_completion() {
  return [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200,
                        R"({"id":"x","object":"chat.completion","model":"gpt-4o-mini",)"
                        R"("choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}})",
                        json_headers());
  };
}

// One fake provider, named `slug`, behind a gateway whose config `tweak` edits first.
struct OneProvider {
  explicit OneProvider(Handler handler, const std::string& slug = "openai",
                       const std::function<void(Config&)>& tweak = {})
      : fake(std::move(handler)), gw(config(slug, tweak)) {}
  Config config(const std::string& slug, const std::function<void(Config&)>& tweak) {
    Config c = test_config();
    add_provider(c, slug, fake.base_url() + "/v1");
    if (tweak) tweak(c);
    return c;
  }
  FakeProvider fake;
  TestGateway gw;
};

std::string chat_with_model(const std::string& model) {
  return json{{"model", model}, {"messages", json::array()}}.dump();
}

// Requests refused by authentication write nothing the client chose: before the fix, 20 such
// requests with a 1 MiB "model" grew /metrics to 189 MB and the log by 42 MB.
TEST(Security, ARefusedRequestKeepsNothingTheClientChose) {
  FakeProvider fake(ok_completion());
  Config c = test_config();
  c.server.max_body_bytes = 2 * 1024 * 1024;
  c.auth.enabled = true;
  c.auth.token_sha256.push_back({});  // a token nobody has
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  const std::string huge(1024 * 1024, 'm');
  std::string id;
  for (int i = 0; i < 5; ++i) {
    const auto res = http_request(gw.port(), "POST", "/openai/chat/completions",
                                  chat_with_model(huge + std::to_string(i)),
                                  {{"Content-Type", "application/json"},
                                   {"User-Agent", std::string(4000, 'u')},
                                   {"cf-aig-metadata", R"({"user":"mallory"})"}});
    ASSERT_EQ(res.status, 401u);
    id = res.header("cf-aig-log-id");
  }
  const json record = gw.log_record(id);
  EXPECT_EQ(record["model"], "");
  EXPECT_EQ(record["provider"], "openai");
  EXPECT_EQ(record["error_code"], "unauthorized");
  EXPECT_TRUE(record["metadata"].empty()) << record["metadata"];
  EXPECT_EQ(record["user_agent"].get<std::string>().size(), 256u);
  const std::string metrics = gw.admin("/metrics").body;
  EXPECT_EQ(metrics.find("mmmmmmmm"), std::string::npos);
  EXPECT_LT(metrics.size(), 64u * 1024u);
  EXPECT_EQ(fake.requests(), 0);
}

// Admitted requests keep their model, bounded: a label of at most 128 bytes, a column of at
// most 256 (docs/security.md). An unknown provider's slug is never kept.
TEST(Security, ClientNamesAreBoundedInMetricsAndTheLog) {
  FakeProvider fake([](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    // Built outside the co_await: GCC 12 cannot initialise a json in a coroutine's
    // suspension expression ("array used as initializer").
    std::string body =
        R"({"choices":[],"model":)" + json(json::parse(req.body)["model"]).dump() + "}";
    co_await ex.respond(200, std::move(body), json_headers());
  });
  Config c = test_config();
  c.server.max_body_bytes = 2 * 1024 * 1024;
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  std::string id;
  for (int i = 0; i < 20; ++i) {
    const auto res = http_request(gw.port(), "POST", "/openai/chat/completions",
                                  chat_with_model(std::to_string(i) + std::string(100 * 1024, 'q')),
                                  {{"Content-Type", "application/json"}});
    ASSERT_EQ(res.status, 200u);
    id = res.header("cf-aig-log-id");
  }
  const json record = gw.log_record(id);
  EXPECT_EQ(record["model"].get<std::string>().size(), 256u);
  const std::string metrics = gw.admin("/metrics").body;
  EXPECT_EQ(metrics.find(std::string(129, 'q')), std::string::npos);
  EXPECT_NE(metrics.find(std::string(120, 'q')), std::string::npos);
  EXPECT_LT(metrics.size(), 512u * 1024u);

  const auto unknown =
      http_request(gw.port(), "POST", "/" + std::string(3000, 'z') + "/chat/completions", "{}",
                   {{"Content-Type", "application/json"}});
  EXPECT_EQ(unknown.status, 404u);
  const json unknown_record = gw.log_record(unknown.header("cf-aig-log-id"));
  EXPECT_EQ(unknown_record["provider"], "");
  EXPECT_EQ(unknown_record["path"].get<std::string>().size(), 256u);
}

TEST(Security, MetadataKeysAndValuesAreBounded) {
  OneProvider s(ok_completion());
  FakeProvider& fake = s.fake;
  TestGateway& gw = s.gw;
  const auto post = [&](const std::string& metadata) {
    return http_request(gw.port(), "POST", "/openai/chat/completions", chat_with_model("m"),
                        {{"Content-Type", "application/json"}, {"cf-aig-metadata", metadata}});
  };
  auto res = post(json{{"user", std::string(257, 'v')}}.dump());
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(error_of(res)["message"],
            "cf-aig-metadata value of 'user' is 257 bytes; at most 256 are allowed");
  res = post(json{{std::string(65, 'k'), "v"}}.dump());
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(error_of(res)["message"], "cf-aig-metadata key '" + std::string(64, 'k') +
                                          "...' is 65 bytes; at most 64 are allowed");
  EXPECT_EQ(post(json{{"user", std::string(256, 'v')}}.dump()).status, 200u);
  EXPECT_EQ(fake.requests(), 1);
}

// Stored keys reach the inference endpoints only unless the operator lists more (issue 15,
// finding 8): before, DELETE /openai/files/... and GET .../admin_api_keys went through with the
// operator's key.
TEST(Security, TheGatewaysKeysReachOnlyTheInferenceEndpoints) {
  FakeProvider fake(ok_completion());
  Config c = test_config();
  c.auth.enabled = true;
  VirtualKey app;
  app.name = "app";
  app.token_sha256 = sha256("tok");
  c.keys.push_back(app);
  ProviderConfig& openai = add_provider(c, "openai", fake.base_url() + "/v1");
  openai.keys = {{"default", Secret("sk-operator", true)}};
  ProviderConfig& files = add_provider(c, "custom-files", fake.base_url() + "/v1");
  files.keys = {{"default", Secret("sk-files", true)}};
  files.key_paths = std::vector<PathRule>{{"DELETE", "**/files/*"}};
  TestGateway gw(std::move(c));
  const Headers auth = {{"cf-aig-authorization", "Bearer tok"},
                        {"Content-Type", "application/json"}};
  auto res = http_request(gw.port(), "DELETE", "/openai/files/file-abc", "", auth);
  EXPECT_EQ(res.status, 403u);
  EXPECT_EQ(
      error_of(res)["message"],
      "the gateway's key for provider 'openai' may not be used for DELETE /openai/files/file-abc "
      "(providers.openai.key_paths)");
  res = http_request(gw.port(), "GET", "/openai/organization/admin_api_keys", "", auth);
  EXPECT_EQ(res.status, 403u);
  EXPECT_EQ(fake.requests(), 0);
  res = http_request(gw.port(), "POST", "/openai/chat/completions", chat_with_model("m"), auth);
  EXPECT_EQ(res.status, 200u);
  res = http_request(gw.port(), "GET", "/openai/models", "", auth);
  EXPECT_EQ(res.status, 200u);
  // A provider whose key_paths say so.
  res = http_request(gw.port(), "DELETE", "/custom-files/files/file-abc", "", auth);
  EXPECT_EQ(res.status, 200u);
  res =
      http_request(gw.port(), "POST", "/custom-files/chat/completions", chat_with_model("m"), auth);
  EXPECT_EQ(res.status, 403u);
  EXPECT_EQ(fake.requests(), 3);
}

// A max_tokens past any model's cap wrapped the reservation and passed a 5,000-token limit;
// now a 400 (issue 15, finding 10).
TEST(Security, AnOutputCapOutOfRangeIsA400) {
  OneProvider s(ok_completion(), "openai", [](Config& c) {
    RateLimitRule rule;
    rule.name = "tokens";
    rule.limit = 5000;
    rule.window = std::chrono::minutes(1);
    rule.unit = RateLimitRule::Unit::kTokens;
    c.rate_limits.push_back(rule);
  });
  FakeProvider& fake = s.fake;
  TestGateway& gw = s.gw;
  const auto post = [&](const std::string& max_tokens) {
    return http_request(gw.port(), "POST", "/openai/chat/completions",
                        R"({"model":"gpt-4o-mini","max_tokens":)" + max_tokens +
                            R"(,"messages":[{"role":"user","content":"hi"}]})",
                        {{"Content-Type", "application/json"}});
  };
  auto res = post("18446744073709551615");
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(error_of(res)["message"],
            "the request's output token cap (max_tokens) is 18446744073709551615; at most "
            "2147483647 is accepted");
  res = post("2147483647");
  EXPECT_EQ(res.status, 429u);  // in range, but larger than the limit: refused, not wrapped
  EXPECT_EQ(post("100").status, 200u);
  EXPECT_EQ(fake.requests(), 1);
}

// {"model":"gpt-4o","model":"gpt-4o-mini"}: the gateway read one, a provider may read the
// other (issue 15, finding 13).
TEST(Security, DuplicateTopLevelKeysAreA400) {
  OneProvider s(ok_completion());
  FakeProvider& fake = s.fake;
  TestGateway& gw = s.gw;
  for (const char* content_type : {"application/json", "text/plain"}) {
    const auto res = http_request(gw.port(), "POST", "/openai/chat/completions",
                                  R"({"model":"gpt-4o","messages":[],"model":"gpt-4o-mini"})",
                                  {{"Content-Type", content_type}});
    EXPECT_EQ(res.status, 400u) << content_type;
    EXPECT_EQ(error_of(res)["message"],
              "request body has the key 'model' more than once; send each key once");
  }
  const auto escaped =
      http_request(gw.port(), "POST", "/openai/chat/completions",
                   R"({"model":"a","mo\u0064el":"b"})", {{"Content-Type", "application/json"}});
  EXPECT_EQ(escaped.status, 400u);
  EXPECT_EQ(http_request(gw.port(), "POST", "/openai/chat/completions",
                         R"({"model":"a","messages":[{"model":1},{"model":2}]})",
                         {{"Content-Type", "application/json"}})
                .status,
            200u);  // nested keys of separate objects are not duplicates
  EXPECT_EQ(fake.requests(), 1);
}

// A custom provider path beginning // was forwarded as //evil.example/x (issue 15, finding 15).
TEST(Security, PathsThatCouldLeaveTheProviderAre400) {
  OneProvider s(ok_completion(), "custom-mine");
  FakeProvider& fake = s.fake;
  TestGateway& gw = s.gw;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/custom-mine//evil.example/x", "path '/evil.example/x' has an empty segment ('//')"},
      {"/custom-mine/a//b", "path 'a//b' has an empty segment ('//')"},
      {"/custom-mine/a%2f..%2fadmin",
       "path 'a%2f..%2fadmin' contains an encoded slash or "
       "backslash"},
      {"/custom-mine/a%5Cb", "path 'a%5Cb' contains an encoded slash or backslash"},
      {"/custom-mine/a\\b", "path 'a\\b' contains a backslash"},
  };
  for (const auto& [target, message] : cases) {
    const auto res = http_request(gw.port(), "GET", target);
    EXPECT_EQ(res.status, 400u) << target;
    EXPECT_EQ(error_of(res)["message"], message) << target;
  }
  EXPECT_EQ(fake.requests(), 0);
}

}  // namespace
}  // namespace aigw::test
