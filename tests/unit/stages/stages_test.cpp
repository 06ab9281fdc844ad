// Each stage on its own, without sockets (stage_harness.hpp): what it decides in on_request,
// what it does to each attempt, and what it leaves in the context for the ones after it.

#include "stage_harness.hpp"
#include "stages/auth/auth_stage.hpp"
#include "stages/byok/byok_stage.hpp"
#include "stages/cache/cache_stage.hpp"
#include "stages/meter/meter_stage.hpp"
#include "stages/rate_limit/rate_limit_stage.hpp"
#include "stages/request_log/request_log_stage.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace aigw::test {
namespace {

using nlohmann::json;

constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";
constexpr const char* kStream =
    R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]})";

// ---- authentication -------------------------------------------------------------------

constexpr const char* kKeys = R"(auth:
  enabled: true
  tokens: ["${ADMIN}"]
keys:
  search:
    token: ${SEARCH}
    providers: [openai]
)";

TEST(AuthStageTest, NoTokenIs401AndAKeysStepsAreCheckedUpFront) {
  StageHarness h(kKeys);
  auto auth = AuthStage::create(*h.config);
  h.request("/openai/chat/completions", kChat);
  EXPECT_EQ(h.on_request(*auth), Verdict::kRespond);
  ASSERT_TRUE(h.ctx->error);
  EXPECT_EQ(h.ctx->error->code, ErrorCode::kUnauthorized);
  EXPECT_FALSE(h.ctx->authenticated);

  h.request("/openai/chat/completions", kChat, {}, {{"cf-aig-authorization", "Bearer k-SEARCH"}});
  EXPECT_EQ(h.on_request(*auth), Verdict::kContinue);
  EXPECT_TRUE(h.ctx->authenticated);
  ASSERT_NE(h.ctx->virtual_key, nullptr);
  EXPECT_EQ(h.ctx->virtual_key->name, "search");

  // The second step of a universal request is the key's to use too, before anything is sent.
  const json steps = json::array(
      {{{"provider", "openai"}, {"endpoint", "chat/completions"}, {"query", json::parse(kChat)}},
       {{"provider", "groq"}, {"endpoint", "chat/completions"}, {"query", json::parse(kChat)}}});
  h.request("/", steps.dump(), {}, {{"cf-aig-authorization", "Bearer k-SEARCH"}});
  EXPECT_EQ(h.on_request(*auth), Verdict::kRespond);
  ASSERT_TRUE(h.ctx->error);
  EXPECT_EQ(h.ctx->error->detail, "key 'search' may not use provider 'groq' (step 1)");
}

// ---- stored keys ----------------------------------------------------------------------

constexpr const char* kStored = R"(auth:
  enabled: true
  tokens: ["${ADMIN}"]
providers:
  openai:
    keys:
      default: ${OPENAI}
      team-b: ${OPENAI_B}
  anthropic:
    keys:
      default: ${ANTHROPIC}
)";

TEST(ByokStageTest, EachAttemptGetsItsProvidersKeyAndTheClientsRequestStays) {
  StageHarness h(kStored);
  ByokStage byok;
  const json steps = json::array(
      {{{"provider", "anthropic"},
        {"endpoint", "v1/messages"},
        {"query", {{"model", "claude"}, {"max_tokens", 5}, {"messages", json::array()}}}},
       {{"provider", "openai"}, {"endpoint", "chat/completions"}, {"query", json::parse(kChat)}}});
  h.request("/", steps.dump(), {{"Authorization", "Bearer client"}, {"x-api-key", "client-x"}});
  ASSERT_FALSE(h.attempt({&byok}, 0));
  const OutgoingRequest& first = h.ctx->attempt->request;
  EXPECT_EQ(first.header("x-api-key"), "k-ANTHROPIC");
  EXPECT_EQ(first.header("authorization"), std::nullopt);
  ASSERT_FALSE(h.attempt({&byok}, 1));
  const OutgoingRequest& second = h.ctx->attempt->request;
  EXPECT_EQ(second.header("authorization"), "Bearer k-OPENAI");
  EXPECT_EQ(second.header("x-api-key"), std::nullopt);
  // Nothing of it was written into the client's request.
  EXPECT_EQ(h.ctx->request[http::field::authorization], "Bearer client");
  EXPECT_EQ(h.ctx->request["x-api-key"], "client-x");
}

TEST(ByokStageTest, AnAliasTheProviderLacksRefusesTheAttempt) {
  StageHarness h(kStored);
  ByokStage byok;
  h.request("/anthropic/v1/messages", R"({"model":"claude","max_tokens":5,"messages":[]})", {},
            {{"cf-aig-byok-alias", "team-b"}});
  const auto refused = h.attempt({&byok});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->detail, "cf-aig-byok-alias: provider 'anthropic' has no stored key 'team-b'");
  h.request("/openai/chat/completions", kChat, {}, {{"cf-aig-byok-alias", "team-b"}});
  ASSERT_FALSE(h.attempt({&byok}));
  EXPECT_EQ(h.ctx->attempt->request.header("authorization"), "Bearer k-OPENAI_B");
}

TEST(ByokStageTest, TheGatewaysKeyOnlyReachesInferencePaths) {
  StageHarness h(kStored);
  ByokStage byok;
  h.request("/openai/files", "");
  h.ctx->request.method(http::verb::get);
  const auto refused = h.attempt({&byok});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, ErrorCode::kForbidden);
  EXPECT_EQ(refused->detail,
            "the gateway's key for provider 'openai' may not be used for GET /openai/files "
            "(providers.openai.key_paths)");
}

// ---- metering -------------------------------------------------------------------------

TEST(MeterStageTest, AStreamIsAskedForUsageAndMeteredExactly) {
  StageHarness h("providers: {}\n");
  MeterStage meter(*h.config);
  h.request("/openai/chat/completions", kStream);
  ASSERT_EQ(h.on_request(meter), Verdict::kContinue);
  ASSERT_FALSE(h.attempt({&meter}));
  EXPECT_TRUE(h.ctx->attempt->usage_injected);
  EXPECT_EQ(json::parse(h.ctx->attempt->request.body())["stream_options"]["include_usage"], true);
  EXPECT_EQ(h.ctx->request.body(), kStream);  // the client's, as it came

  h.head({&meter}, 200, "text/event-stream", true);
  ASSERT_TRUE(h.ctx->response_filter);
  std::string client;
  const std::string upstream = usage_fixture("openai_chat_stream_include_usage.sse");
  for (std::size_t i = 0; i < upstream.size(); i += 37) {
    client += h.chunk({&meter}, std::string_view(upstream).substr(i, 37));
  }
  client += h.end({&meter});
  EXPECT_EQ(client, usage_fixture("openai_chat_stream_plain.sse"));
  h.complete({&meter});
  ASSERT_TRUE(h.ctx->metered);
  EXPECT_EQ(h.ctx->metered->tokens.input, 1152u);
  EXPECT_EQ(h.ctx->metered->tokens.output, 11u);
  EXPECT_FALSE(h.ctx->metered->estimated);
  EXPECT_EQ(h.ctx->metered->model, "gpt-4o-mini-2024-07-18");
}

TEST(MeterStageTest, ABufferedAnswerIsNotRewrittenAndAnAbortIsEstimated) {
  StageHarness h("providers: {}\n");
  MeterStage meter(*h.config);
  h.request("/openai/chat/completions", kChat);
  ASSERT_FALSE(h.attempt({&meter}));
  EXPECT_FALSE(h.ctx->attempt->usage_injected);
  EXPECT_FALSE(h.ctx->attempt->request.body_replaced());  // nothing copied
  h.head({&meter}, 200, "text/event-stream", true);
  h.chunk({&meter}, "data: {\"choices\":[{\"delta\":{\"content\":\"Hello there\"}}]}\n\n");
  h.complete({&meter}, Outcome::kClientAbort);
  ASSERT_TRUE(h.ctx->metered);
  EXPECT_TRUE(h.ctx->metered->estimated);
  EXPECT_EQ(h.ctx->metered->tokens.output, 3u);  // 11 characters
  EXPECT_GT(h.ctx->metered->tokens.input.value_or(0), 0u);
}

TEST(MeterStageTest, ABadCustomCostIs400) {
  StageHarness h("providers: {}\n");
  MeterStage meter(*h.config);
  h.request("/openai/chat/completions", kChat, {}, {{"cf-aig-custom-cost", "cheap"}});
  EXPECT_EQ(h.on_request(meter), Verdict::kRespond);
  ASSERT_TRUE(h.ctx->error);
  EXPECT_EQ(h.ctx->error->code, ErrorCode::kInvalidHeader);
}

// ---- what the log keeps ---------------------------------------------------------------

TEST(RequestLogStageTest, MetadataIsBoundedAndPayloadsFollowTheSwitches) {
  StageHarness h("request_log:\n  payloads: true\n  max_payload_bytes: 8\n");
  RequestLogStage log(h.config->request_log);
  h.request("/openai/chat/completions", kChat, {}, {{"cf-aig-metadata", R"({"user":"alice"})"}});
  ASSERT_EQ(h.on_request(log), Verdict::kContinue);
  EXPECT_EQ(h.ctx->log.metadata,
            (std::vector<std::pair<std::string, std::string>>{{"user", "\"alice\""}}));
  EXPECT_EQ(h.ctx->log.request_body, std::string(kChat).substr(0, 8));
  h.chunk({&log}, "0123456789");
  EXPECT_EQ(h.ctx->log.response_body, "01234567");
  EXPECT_TRUE(h.ctx->log.response_cut);

  h.request("/openai/chat/completions", kChat, {}, {{"cf-aig-metadata", "[1]"}});
  EXPECT_EQ(h.on_request(log), Verdict::kRespond);
  EXPECT_EQ(h.ctx->error->code, ErrorCode::kInvalidHeader);
  h.request("/openai/chat/completions", kChat, {}, {{"cf-aig-collect-log-payload", "false"}});
  ASSERT_EQ(h.on_request(log), Verdict::kContinue);
  EXPECT_FALSE(h.ctx->log.request_body);
}

// ---- cache ----------------------------------------------------------------------------

TEST(CacheStageTest, AStoredAnswerIsFoundAgainByTheSameClientBytes) {
  StageHarness h("cache:\n  enabled: true\n");
  auto cache = CacheStage::create(h.config->cache);
  ASSERT_TRUE(cache);
  h.request("/openai/chat/completions", kChat);
  ASSERT_EQ(h.on_request(*cache), Verdict::kContinue);
  EXPECT_EQ(h.ctx->cache.status, CacheStatus::kMiss);
  h.head({cache.get()}, 200, "application/json", false);
  h.chunk({cache.get()}, R"({"id":"x","choices":[]})");
  h.end({cache.get()});
  h.complete({cache.get()});

  // Same JSON value, other spacing: a hit, answered locally.
  h.request("/openai/chat/completions", json::parse(kChat).dump(2));
  EXPECT_EQ(h.on_request(*cache), Verdict::kRespond);
  EXPECT_EQ(h.ctx->cache.status, CacheStatus::kHit);
  ASSERT_TRUE(h.ctx->local_response);
  EXPECT_EQ(*h.ctx->local_response->shared_body, R"({"id":"x","choices":[]})");
  // Another credential: its own entry.
  h.request("/openai/chat/completions", kChat, {{"Authorization", "Bearer other"}});
  EXPECT_EQ(h.on_request(*cache), Verdict::kContinue);
  EXPECT_EQ(h.ctx->cache.status, CacheStatus::kMiss);
}

// ---- rate limits ----------------------------------------------------------------------

TEST(RateLimitStageTest, TheLimitRefusesTheRequestPastIt) {
  StageHarness h("rate_limits:\n  - name: two\n    limit: 2\n    window: 1m\n");
  auto limits = RateLimitStage::create(*h.config, nullptr);
  ASSERT_TRUE(limits);
  for (int i = 0; i < 2; ++i) {
    h.request("/openai/chat/completions", kChat);
    EXPECT_EQ(h.on_request(*limits), Verdict::kContinue) << i;
    h.complete({limits.get()});
  }
  h.request("/openai/chat/completions", kChat);
  EXPECT_EQ(h.on_request(*limits), Verdict::kRespond);
  ASSERT_TRUE(h.ctx->error);
  EXPECT_EQ(h.ctx->error->code, ErrorCode::kRateLimited);
  EXPECT_EQ(h.ctx->error->detail.rfind("rate limit 'two' exceeded: 2 requests per ", 0), 0u)
      << h.ctx->error->detail;
}

}  // namespace
}  // namespace aigw::test
