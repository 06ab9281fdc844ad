// The universal endpoint through the real gateway: steps tried in order until one answers,
// cf-aig-step naming it, what fails over and what does not, header and retry precedence
// (step over request over gateway config), every 400 of a bad body, and endpoints that could
// reach another host refused.

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
using namespace std::chrono_literals;

// Two providers: custom-flaky (the first fake) and openai (the second).
struct Fixture {
  Fixture(Handler first, Handler second, unsigned max_attempts = 1, bool cache = false)
      : flaky(std::move(first)), good(std::move(second)) {
    Config c = test_config();
    add_provider(c, "custom-flaky", flaky.base_url() + "/v1").headers = {
        {"x-team", Secret("config")}};
    add_provider(c, "openai", good.base_url() + "/v1");
    c.upstream.retry.max_attempts = max_attempts;
    c.upstream.retry.delay = 1ms;
    c.upstream.max_steps = 3;
    c.cache.enabled = cache;
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post(const json& steps, Headers extra = {}, const std::string& target = "/") {
    Headers headers = {{"Content-Type", "application/json"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request(gateway->port(), "POST", target, steps.dump(), headers);
  }
  FakeProvider flaky;
  FakeProvider good;
  std::unique_ptr<TestGateway> gateway;
};

json step(const std::string& provider, const std::string& model, json headers = json::object()) {
  return {{"provider", provider},
          {"endpoint", "chat/completions"},
          {"headers", std::move(headers)},
          {"query", {{"model", model}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}}};
}

TEST(Universal, AProviderThatAlways503sIsFollowedByAWorkingOne) {
  Fixture f(answers(503), answers(200));
  const auto res = f.post({step("custom-flaky", "mine"), step("openai", "gpt-4o-mini")});
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("cf-aig-step"), "1");
  EXPECT_EQ(res.header("cf-aig-provider"), "openai");
  EXPECT_EQ(res.header("cf-aig-model"), "gpt-4o-mini");
  EXPECT_EQ(json::parse(res.body)["model"], "gpt-4o-mini");
  EXPECT_EQ(f.flaky.requests(), 1);
  ASSERT_EQ(f.good.requests(), 1);
  const FakeRequest sent = f.good.received()[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, "/v1/chat/completions");
  EXPECT_EQ(json::parse(sent.body)["model"], "gpt-4o-mini");
  // The record is the answering step's, and lists both attempts.
  const json record = f.gateway->log_record(res.header("cf-aig-log-id"));
  EXPECT_EQ(record["provider"], "openai");
  EXPECT_EQ(record["model"], "gpt-4o-mini");
  EXPECT_EQ(record["tokens_in"], 7);
  ASSERT_EQ(record["attempts"].size(), 2u);
  EXPECT_EQ(record["attempts"][0]["provider"], "custom-flaky");
  EXPECT_EQ(record["attempts"][0]["status_code"], 503);
  EXPECT_EQ(record["attempts"][1]["provider"], "openai");
  EXPECT_EQ(record["attempts"][1]["status_code"], 200);
  const std::string metrics = f.gateway->admin("/metrics").body;
  EXPECT_NE(metrics.find(R"(aigw_fallbacks_total{from="custom-flaky",to="openai"} 1)"),
            std::string::npos)
      << metrics;
}

TEST(Universal, TheFirstStepThatAnswersIsTheAnswer) {
  Fixture f(answers(200), answers(200));
  const auto res = f.post({step("custom-flaky", "mine"), step("openai", "gpt-4o-mini")}, {},
                          "/v1/account-1/gateway-1");
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("cf-aig-step"), "0");
  EXPECT_EQ(f.good.requests(), 0);
}

TEST(Universal, AClientErrorReturnsAtOnce) {
  Fixture f(answers(400), answers(200));
  const auto res = f.post({step("custom-flaky", "mine"), step("openai", "gpt-4o-mini")});
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(res.header("cf-aig-step"), "0");
  EXPECT_EQ(f.good.requests(), 0);
}

TEST(Universal, EveryStepFailingGivesTheLastOnesAnswer) {
  Fixture f(answers(503), answers(502));
  const auto res = f.post({step("custom-flaky", "mine"), step("openai", "gpt-4o-mini")});
  EXPECT_EQ(res.status, 502u);
  EXPECT_EQ(res.header("cf-aig-step"), "1");
}

TEST(Universal, StepHeadersWinOverTheRequestsAndTheConfigs) {
  Fixture f(answers(503), answers(200));
  const auto res =
      f.post({step("custom-flaky", "mine", {{"x-team", "step"}}), step("openai", "gpt-4o-mini")},
             {{"x-team", "request"}, {"Authorization", "Bearer sk-client"}});
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(f.flaky.received()[0].headers.at("x-team"), "step");  // over config and request
  EXPECT_EQ(f.good.received()[0].headers.at("x-team"), "request");
  // Steps on two providers: the client's own credential reaches neither (issue 15).
  EXPECT_EQ(f.good.received()[0].headers.count("authorization"), 0u);
  EXPECT_EQ(f.flaky.received()[0].headers.count("authorization"), 0u);
}

// The rule named routes follow (issue 15, finding 14): a client's Authorization, x-api-key,
// api-key or x-goog-api-key goes to the steps only when every step is on one provider; a
// step's own credential header always goes to that step.
TEST(Universal, TheClientsCredentialReachesOnlyStepsOfOneProvider) {
  Fixture f(answers(503), answers(200));
  const Headers key = {{"Authorization", "Bearer sk-client"}, {"x-api-key", "client-x"}};
  auto res = f.post({step("custom-flaky", "mine", {{"authorization", "Bearer sk-flaky"}}),
                     step("openai", "gpt-4o-mini")},
                    key);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(f.flaky.received()[0].headers.at("authorization"), "Bearer sk-flaky");
  EXPECT_EQ(f.flaky.received()[0].headers.count("x-api-key"), 0u);
  EXPECT_EQ(f.good.received()[0].headers.count("authorization"), 0u);
  EXPECT_EQ(f.good.received()[0].headers.count("x-api-key"), 0u);
  // Two steps on one provider: the client's key is that provider's, as on a direct call.
  res = f.post({step("openai", "gpt-4o"), step("openai", "gpt-4o-mini")}, key);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(f.good.received()[1].headers.at("authorization"), "Bearer sk-client");
}

// Before the fix, a universal request whose step 0 (openai) failed over was stored under the
// key of a plain request equal to step 0, and the next direct request got HIT with the other
// provider's answer (issue 15, finding 4). Now the whole step list is the key.
TEST(Universal, AFallbackAnswerIsNeverServedToAPlainRequest) {
  Fixture f(answers(200), answers(503), 1, /*cache=*/true);
  const json steps = {step("openai", "gpt-4o-mini"), step("custom-flaky", "mine")};
  auto res = f.post(steps);
  ASSERT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("cf-aig-step"), "1");
  const auto direct =
      http_request(f.gateway->port(), "POST", "/openai/chat/completions", steps[0]["query"].dump(),
                   {{"Content-Type", "application/json"}});
  EXPECT_EQ(direct.status, 503u);
  EXPECT_EQ(direct.header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(f.good.requests(), 2);
  // The same step list again is a hit, with the answer it got.
  res = f.post(steps);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(f.flaky.requests(), 1);
}

TEST(Universal, RetriesComeFromTheStepThenTheRequestThenTheConfig) {
  Fixture f(answers(503), answers(503), /*max_attempts=*/1);
  const auto res = f.post(
      {step("custom-flaky", "mine", {{"cf-aig-max-attempts", "3"}}), step("openai", "gpt-4o")},
      {{"cf-aig-max-attempts", "2"}});
  EXPECT_EQ(res.status, 503u);
  EXPECT_EQ(f.flaky.requests(), 3);  // the step's header
  EXPECT_EQ(f.good.requests(), 2);   // the request's
  json with_config = step("openai", "gpt-4o");
  with_config["config"] = {{"maxAttempts", 4}, {"retryDelay", 0}, {"backoff", "constant"}};
  const auto configured = f.post(json::array({with_config}));
  EXPECT_EQ(configured.status, 503u) << configured.body;
  EXPECT_EQ(f.good.requests(), 6);
}

TEST(Universal, BadBodiesAre400sNamingTheProblem) {
  Fixture f(answers(200), answers(200));
  const json ok = step("openai", "gpt-4o-mini");
  const auto with = [&](const std::string& key, json value) {
    json s = ok;
    s[key] = std::move(value);
    return json::array({s});
  };
  json no_query = ok;
  no_query.erase("query");
  json no_provider = ok;
  no_provider.erase("provider");
  const std::vector<std::pair<json, std::string>> cases = {
      {json::object(),
       "the universal endpoint takes a JSON array of steps, each {\"provider\", \"endpoint\", "
       "\"headers\", \"query\"}"},
      {json::array(), "the universal request has no steps"},
      {json::array({ok, ok, ok, ok}),
       "the universal request has 4 steps; at most 3 are allowed (upstream.max_steps)"},
      {json::array({ok, 7}), "step 1 must be an object"},
      {json::array({no_provider}), "step 0: provider is required (a provider slug)"},
      {with("provider", "opneai"),
       // The configured custom-flaky is not listed: a client may not be authenticated.
       "step 0: unknown provider 'opneai'; built-in providers: anthropic, aws-bedrock, "
       "azure-openai, cerebras, cohere, deepseek, google-ai-studio, google-vertex-ai, grok, "
       "groq, huggingface, mistral, openai, openrouter, perplexity-ai, replicate, workers-ai, "
       "or a custom-{name} provider configured on this gateway"},
      {json::array({no_query}), "step 0: query is required (the request body)"},
      {with("endpoint", 5), "step 0: endpoint is required (a path under the provider's base URL)"},
      {with("headers", "x"), "step 0: headers must be an object of strings"},
      {with("headers", {{"cf-aig-cache-ttl", "60"}}),
       "step 0: header 'cf-aig-cache-ttl' applies to the whole request; send it on the request "
       "itself"},
      {with("headers", {{"Host", "evil.example"}}), "step 0: header 'Host' is set by the gateway"},
      {with("config", {{"maxAttempts", 9}}),
       "step 0: config.maxAttempts must be a whole number from 1 to 5"},
      {with("model", "x"),
       "step 0: unknown key 'model' (expected provider, endpoint, headers, query, config)"},
  };
  for (const auto& [body, message] : cases) {
    const auto res = f.post(body);
    EXPECT_EQ(res.status, 400u) << body.dump();
    EXPECT_EQ(json::parse(res.body, nullptr, false),
              gateway_error(message, "invalid_request_error", "invalid_universal_request"))
        << body.dump();
  }
  EXPECT_EQ(f.good.requests() + f.flaky.requests(), 0);
}

TEST(Universal, AnEndpointCanNeverLeaveTheProvidersBase) {
  Fixture f(answers(200), answers(200));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://evil.example/v1/chat", "is an absolute URL"},
      {"//evil.example/chat", "is a network-path reference (//host)"},
      {"javascript:alert(1)", "starts with a scheme"},
      {"user@evil.example/chat", "contains '@'"},
      {"../../admin", "contains a '.' or '..' segment"},
      {"chat/%2e%2E/secrets", "contains a '.' or '..' segment"},
      {"chat\\completions", "contains a backslash"},
      {"chat completions", "contains a character not allowed in a path"},
  };
  for (const auto& [endpoint, problem] : cases) {
    json s = step("openai", "gpt-4o-mini");
    s["endpoint"] = endpoint;
    const auto res = f.post(json::array({s}));
    EXPECT_EQ(res.status, 400u) << endpoint;
    EXPECT_EQ(json::parse(res.body, nullptr, false)["error"]["message"],
              "step 0: endpoint '" + endpoint + "' " + problem +
                  "; it must be a path under the provider's base URL, like chat/completions");
  }
  EXPECT_EQ(f.good.requests(), 0);
}

}  // namespace
}  // namespace aigw::test
