// The planner without sockets: every URL form, universal bodies and their 400s, named routes
// and dynamic/ models, and targets whose breaker is open.

#include "router/planner.hpp"

#include "config/load.hpp"
#include "request/body.hpp"
#include "router/compat.hpp"
#include "router/routes.hpp"
#include "upstream/providers/usage/usage_parser.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace aigw {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view kConfig = R"(auth:
  enabled: true
  tokens: ["${KEY}"]
providers:
  openai:
    keys:
      default: ${KEY}
  groq:
    keys:
      default: ${KEY}
  anthropic:
    keys:
      default: ${KEY}
  google-ai-studio:
    keys:
      default: ${KEY}
routes:
  claude:
    targets:
      - {provider: anthropic, model: claude-x}
  cross:
    targets:
      - {provider: openai, model: gpt-4o, priority: 0}
      - {provider: anthropic, model: claude-x, priority: 1, headers: {anthropic-version: "2023-01-01"}}
      - {provider: google-ai-studio, model: gemini-y, priority: 2}
  chat:
    breaker:
      failures: 1
      cooldown: 30s
    targets:
      - {provider: openai, model: gpt-4o, priority: 0}
      - {provider: groq, model: llama-3.3-70b-versatile, priority: 1}
)";

struct Planner {
  Planner() {
    auto loaded = config::load_string(
        kConfig, "test.yaml", [](std::string_view) { return std::optional<std::string>("k"); });
    if (!loaded.ok()) throw std::runtime_error(loaded.diagnostics.front().str());
    config = std::make_shared<Config>(*loaded.config);
    std::vector<ProviderRegistry::Problem> problems;
    providers = ProviderRegistry::build(*config, problems);
    routes = RouteTable::build(*config, *providers, problems);
    if (!problems.empty()) throw std::runtime_error(problems.front().message);
  }

  Result<Plan> operator()(http::verb method, std::string target, std::string body = "",
                          std::vector<std::pair<std::string, std::string>> control = {},
                          std::string content_type = "application/json") {
    request = HttpRequest{};
    request.method(method);
    request.target(target);
    if (!content_type.empty()) request.set(http::field::content_type, content_type);
    request.set(http::field::authorization, "Bearer client");
    request.body() = std::move(body);
    facts.reset();
    reads = 0;
    const std::function<const BodyFacts&()> read = [this]() -> const BodyFacts& {
      if (!facts) {
        ++reads;
        facts = read_body_facts(request.body(), prompt);
      }
      return *facts;
    };
    return plan(PlanInput{*config, *providers, *routes, request, control, read, now});
  }
  Result<Plan> post(std::string target, std::string body,
                    std::vector<std::pair<std::string, std::string>> control = {}) {
    return (*this)(http::verb::post, std::move(target), std::move(body), std::move(control));
  }

  std::string error_of(const Result<Plan>& planned) {
    if (planned) return "(planned)";
    return std::to_string(http_status(planned.error().code)) + " " + planned.error().detail;
  }

  std::shared_ptr<Config> config;
  std::shared_ptr<const ProviderRegistry> providers;
  std::shared_ptr<const RouteTable> routes;
  HttpRequest request;
  std::optional<BodyFacts> facts;
  int reads = 0;
  bool prompt = false;  // read the prompt's size, as with a token limit or budget
  CircuitBreaker::TimePoint now = CircuitBreaker::Clock::now();
};

constexpr std::string_view kChat = R"({"model":"gpt-4o-mini","messages":[]})";

TEST(Planner, ShortAndLongFormsNameOneProvider) {
  Planner p;
  auto planned = p.post("/openai/chat/completions?x=1", std::string(kChat));
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kProvider);
  EXPECT_EQ(planned->path, "/openai/chat/completions");
  ASSERT_EQ(planned->steps.size(), 1u);
  const PlannedStep& step = planned->steps[0];
  EXPECT_EQ(step.slug, "openai");
  EXPECT_EQ(step.target.host, "api.openai.com");
  EXPECT_EQ(step.target.target, "/v1/chat/completions?x=1");
  EXPECT_FALSE(step.body);  // the client's body is sent
  EXPECT_FALSE(step.strip_client_credentials);
  EXPECT_EQ(p.reads, 1);  // read once, for the JSON check

  planned = p.post("/v1/acct/gw/groq/chat/completions", std::string(kChat));
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->account, "acct");
  EXPECT_EQ(planned->gateway, "gw");
  EXPECT_EQ(planned->steps[0].slug, "groq");
  EXPECT_EQ(planned->steps[0].target.target, "/openai/v1/chat/completions");

  // Gemini names the model in the path.
  planned = p.post("/google-ai-studio/v1beta/models/gemini-2.0-flash:generateContent", "{}");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->steps[0].path_model, "gemini-2.0-flash");
}

TEST(Planner, PathsThatNameNothingAre404) {
  Planner p;
  EXPECT_EQ(p.error_of(p(http::verb::get, "/")),
            "404 no route for /: use /{provider}/... or /v1/{account}/{gateway}/{provider}/...");
  EXPECT_EQ(p.error_of(p(http::verb::get, "/v1/acct")),
            "404 no route for /v1/acct: use /v1/{account}/{gateway}/{provider}/... or "
            "/{provider}/...");
  EXPECT_EQ(p.error_of(p(http::verb::get, "relative")),
            "404 request target must be an absolute path");
  const std::string unknown = p.error_of(p.post("/nope/chat/completions", std::string(kChat)));
  EXPECT_EQ(unknown.rfind("404 unknown provider 'nope'; built-in providers: ", 0), 0u) << unknown;
  EXPECT_EQ(p.reads, 0);  // a refused path never has its body read
  const std::string route = p.error_of(p.post("/route/none/chat/completions", "{}"));
  EXPECT_EQ(route, "404 no route named 'none'");
  EXPECT_EQ(p.reads, 0);
}

TEST(Planner, TheBodyIsCheckedOnceAsJson) {
  Planner p;
  EXPECT_EQ(p.error_of(p.post("/openai/chat/completions", "{\"model\":")),
            "400 request body is not valid JSON (Content-Type: application/json)");
  EXPECT_EQ(p.error_of(p.post("/openai/chat/completions", R"({"model":"a","model":"b"})")),
            "400 request body has the key 'model' more than once; send each key once");
  EXPECT_EQ(p.reads, 1);
  // Not declared as JSON and not an object: passed through unread.
  auto planned = p(http::verb::post, "/openai/audio/transcriptions", "--boundary", {},
                   "multipart/form-data; boundary=boundary");
  EXPECT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(p.reads, 0);
  // A number beyond a double's range is still JSON (RFC 8259), as is a byte order mark.
  EXPECT_TRUE(p.post("/openai/chat/completions", R"({"model":"a","temperature":1e400})"));
  EXPECT_TRUE(p.post("/openai/chat/completions", "\xEF\xBB\xBF{\"model\":\"a\"}"));
}

TEST(Planner, RetryHeadersBecomeThePolicy) {
  Planner p;
  auto planned = p.post("/openai/chat/completions", std::string(kChat),
                        {{"cf-aig-max-attempts", "3"}, {"cf-aig-backoff", "linear"}});
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->steps[0].retry.max_attempts, 3u);
  EXPECT_EQ(planned->steps[0].retry.backoff, Backoff::kLinear);
  EXPECT_EQ(p.error_of(p.post("/openai/chat/completions", std::string(kChat),
                              {{"cf-aig-max-attempts", "9"}})),
            "400 cf-aig-max-attempts must be a whole number from 1 to 5 (got '9')");
  EXPECT_EQ(p.error_of(p.post("/openai/chat/completions", std::string(kChat),
                              {{"cf-aig-request-timeout", "soon"}})),
            "400 cf-aig-request-timeout must be milliseconds from 1 to 3600000 (got 'soon')");
}

json step(std::string provider, json query, json extra = json::object()) {
  json s = {{"provider", provider}, {"endpoint", "chat/completions"}, {"query", query}};
  for (auto& [k, v] : extra.items()) s[k] = v;
  return s;
}

TEST(Planner, UniversalStepsAreReadWithTheirBodies) {
  Planner p;
  const json steps = json::array(
      {step("openai", {{"model", "gpt-4o"}, {"stream", true}, {"messages", json::array()}},
            {{"headers", {{"cf-aig-max-attempts", "2"}}}}),
       step("groq", {{"model", "llama"}, {"messages", json::array()}},
            {{"headers", {{"Authorization", "Bearer groq-own"}}},
             {"config", {{"requestTimeout", 5000}}}})});
  auto planned = p.post("/v1/acct/gw", steps.dump());
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kUniversal);
  EXPECT_EQ(planned->account, "acct");
  ASSERT_EQ(planned->steps.size(), 2u);
  const PlannedStep& first = planned->steps[0];
  EXPECT_EQ(first.path, "/openai/chat/completions");
  EXPECT_EQ(first.method, http::verb::post);
  ASSERT_TRUE(first.body);
  EXPECT_EQ(*first.body, R"({"messages":[],"model":"gpt-4o","stream":true})");
  ASSERT_TRUE(first.body_facts);
  EXPECT_EQ(first.body_facts->model, "gpt-4o");
  EXPECT_TRUE(first.body_facts->stream);
  EXPECT_EQ(first.retry.max_attempts, 2u);
  // Two providers: the client's credentials reach neither, a step's own does.
  EXPECT_TRUE(first.strip_client_credentials);
  const PlannedStep& second = planned->steps[1];
  EXPECT_EQ(second.retry.request_timeout, Duration(5000));
  EXPECT_EQ(second.pinned, std::vector<std::string>{"authorization"});
  EXPECT_EQ(p.reads, 0);  // the list is read by the universal reader alone

  // One provider: the client's credential is that provider's.
  planned = p.post(
      "/",
      json::array({step("openai", {{"model", "a"}}), step("openai", {{"model", "b"}})}).dump());
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_FALSE(planned->steps[1].strip_client_credentials);
}

TEST(Planner, UniversalBodiesThatDoNotHoldUpAre400) {
  Planner p;
  const auto error = [&](const json& body) { return p.error_of(p.post("/", body.dump())); };
  EXPECT_EQ(error(json::object()),
            "400 the universal endpoint takes a JSON array of steps, each {\"provider\", "
            "\"endpoint\", \"headers\", \"query\"}");
  EXPECT_EQ(error(json::array()), "400 the universal request has no steps");
  EXPECT_EQ(error(json::array({step("nope", json::object())}))
                .rfind("400 step 0: unknown provider 'nope'; built-in providers: ", 0),
            0u);
  EXPECT_EQ(error(json::array({step("openai", json::object(), {{"extra", 1}})})),
            "400 step 0: unknown key 'extra' (expected provider, endpoint, headers, query, "
            "config)");
  EXPECT_EQ(p.error_of(p.post("/", R"([{"provider":"openai","provider":"groq",)"
                                   R"("endpoint":"chat/completions","query":{}}])")),
            "400 step 0: 'provider' is given more than once");
  EXPECT_EQ(p.error_of(p.post("/", R"([{"provider":"openai","endpoint":"chat/completions",)"
                                   R"("query":{"model":"a","model":"b"}}])")),
            "400 step 0: query has the key 'model' more than once; send each key once");
  EXPECT_EQ(error(json::array({{{"provider", "openai"}, {"endpoint", "chat/completions"}}})),
            "400 step 0: query is required (the request body)");
  EXPECT_EQ(error(json::array(
                {step("openai", json::object(), {{"endpoint", "https://evil.example/x"}})})),
            "400 step 0: endpoint 'https://evil.example/x' is an absolute URL; it must be a "
            "path under the provider's base URL, like chat/completions");
  EXPECT_EQ(error(json::array(
                {step("openai", json::object(), {{"headers", {{"cf-aig-max-attempts", "0"}}}})})),
            "400 step 0: cf-aig-max-attempts must be a whole number from 1 to 5 (got '0')");
  EXPECT_EQ(error(json::array({step("openai", json::object(), {{"config", {{"backoff", 1}}}})})),
            "400 step 0: config.backoff must be constant, linear or exponential");
  EXPECT_EQ(error(json::array(
                {step("openai", json::object(), {{"headers", {{"cf-aig-cache-ttl", "5"}}}})})),
            "400 step 0: header 'cf-aig-cache-ttl' applies to the whole request; send it on "
            "the request itself");
  EXPECT_EQ(error(json::array(
                {step("openai", json::object(), {{"headers", {{"X-A", "1"}, {"x-a", "2"}}}})})),
            "400 step 0: header 'x-a' is given more than once");
  EXPECT_EQ(error(json::array({step(
                "openai", json::object(),
                {{"headers", {{"CF-AIG-MAX-ATTEMPTS", "2"}, {"cf-aig-max-attempts", "3"}}}})})),
            "400 step 0: header 'cf-aig-max-attempts' is given more than once");
  json many = json::array();
  for (int i = 0; i < 6; ++i) many.push_back(step("openai", json::object()));
  EXPECT_EQ(error(many),
            "400 the universal request has 6 steps; at most 5 are allowed (upstream.max_steps)");
}

TEST(Planner, ARouteByPathOrByDynamicModelListsItsTargets) {
  Planner p;
  auto planned = p.post("/route/chat/chat/completions", std::string(kChat));
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kRoute);
  EXPECT_EQ(planned->path, "/route/chat/chat/completions");
  ASSERT_EQ(planned->steps.size(), 2u);
  EXPECT_EQ(planned->steps[0].slug, "openai");
  EXPECT_EQ(planned->steps[0].model, "gpt-4o");
  EXPECT_EQ(planned->steps[1].slug, "groq");
  EXPECT_EQ(planned->steps[1].target.target, "/openai/v1/chat/completions");
  EXPECT_TRUE(planned->steps[0].strip_client_credentials);

  planned = p.post("/openai/chat/completions",
                   R"({"messages":[{"content":"dynamic/x"}],"model":"dynamic/chat"})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kRoute);
  EXPECT_EQ(planned->path, "/route/chat/chat/completions");
  EXPECT_EQ(p.reads, 1);
  // dynamic/ inside a message is not the model; the provider the URL names answers.
  planned = p.post("/openai/chat/completions",
                   R"({"messages":[{"content":"dynamic/chat"}],"model":"gpt-4o"})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kProvider);
  EXPECT_EQ(p.error_of(p.post("/compat/chat/completions", R"({"model":"dynamic/none"})")),
            "404 no route named 'none' (model dynamic/none)");
}

TEST(Planner, TargetsWhoseBreakerIsOpenAreLeftOut) {
  Planner p;
  const Route& route = *p.routes->find("chat");
  route.targets[0].breaker->record(false, false, p.now);  // failures: 1 opens it
  auto planned = p.post("/route/chat/chat/completions", std::string(kChat));
  ASSERT_TRUE(planned) << p.error_of(planned);
  ASSERT_EQ(planned->steps.size(), 1u);
  EXPECT_EQ(planned->steps[0].slug, "groq");

  route.targets[1].breaker->record(false, false, p.now);
  planned = p.post("/route/chat/chat/completions", std::string(kChat));
  ASSERT_FALSE(planned);
  EXPECT_EQ(p.error_of(planned),
            "503 route 'chat': every target is skipped after repeated failures (circuit "
            "breaker open); retry after 30s");
  EXPECT_EQ(planned.error().retry_after, "30");
  // After the cooldown, the plan has them again (each admits one probe).
  p.now += 31s;
  planned = p.post("/route/chat/chat/completions", std::string(kChat));
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->steps.size(), 2u);
}

TEST(Planner, CompatPlansTheProvidersOwnApiWithTheBodyTranslated) {
  Planner p;
  p.prompt = true;
  auto planned = p.post(
      "/v1/acct/gw/compat/chat/completions",
      R"({"model":"anthropic/claude-test","messages":[{"role":"user","content":"Hello there"}],)"
      R"("stream":true})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kCompat);
  EXPECT_EQ(planned->client_dialect, Dialect::kOpenAiChat);
  EXPECT_EQ(planned->path, "/v1/acct/gw/compat/chat/completions");
  EXPECT_EQ(planned->account, "acct");
  ASSERT_EQ(planned->steps.size(), 1u);
  const PlannedStep& step = planned->steps[0];
  EXPECT_EQ(step.slug, "anthropic");
  ASSERT_TRUE(step.translation);
  EXPECT_EQ(*step.translation,
            (Translation{Dialect::kAnthropicMessages, Dialect::kOpenAiChat, false}));
  EXPECT_EQ(step.model, "claude-test");
  EXPECT_EQ(step.target.host, "api.anthropic.com");
  EXPECT_EQ(step.target.target, "/v1/messages");
  EXPECT_EQ(step.usage_format, UsageFormat::kAnthropicMessages);  // native usage is metered
  ASSERT_TRUE(step.body);
  ASSERT_TRUE(step.body_facts);
  EXPECT_EQ(step.body_facts->model, "claude-test");
  EXPECT_TRUE(step.body_facts->stream);
  EXPECT_EQ(step.body_facts->max_output_tokens, 4096u);
  EXPECT_GT(step.body_facts->prompt_chars, 10u);  // token limits can estimate it
  EXPECT_TRUE(step.strip_client_credentials);
  const auto has = [&](std::string_view name, std::string_view value) {
    for (const auto& [n, v] : step.headers) {
      if (n == name && v == value) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("x-api-key", "client"));  // the client's Bearer key, in Anthropic's header
  EXPECT_TRUE(has("anthropic-version", "2023-06-01"));

  // Gemini: the model and the method in the path; an OpenAI-compatible one: the body as sent,
  // with the bare model.
  planned = p.post(
      "/compat/chat/completions",
      R"({"model":"google-ai-studio/gemini-x","messages":[{"role":"user","content":"hi"}],"stream":true})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->steps[0].target.target,
            "/v1beta/models/gemini-x:streamGenerateContent?alt=sse");
  planned = p.post("/compat/chat/completions", R"({"model":"groq/llama-3","messages":[]})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_FALSE(planned->steps[0].translation);  // passed through
  EXPECT_EQ(*planned->steps[0].body, R"({"model":"llama-3","messages":[]})");
  EXPECT_EQ(planned->steps[0].target.target, "/openai/v1/chat/completions");

  EXPECT_EQ(p.error_of(p.post("/compat/chat/completions", R"({"messages":[]})")),
            R"(400 "model" is required: "{provider}/{model}", e.g. "anthropic/claude-sonnet-4-5")");
  EXPECT_EQ(p.error_of(p.post("/compat/embeddings", R"({"model":"openai/x"})")),
            "404 no route for /compat/embeddings: /compat takes POST /compat/chat/completions "
            "(OpenAI), POST /compat/v1/messages (Anthropic) and GET /compat/models");
  EXPECT_EQ(p.error_of(p.post("/compat/chat/completions",
                              R"({"model":"anthropic/x","messages":[],"n":2})")),
            "400 n must be 1: Anthropic returns one choice per request");
}

TEST(Planner, CompatReachesAzureDeploymentsAndVertexModelsByTheirFullNames) {
  Planner p;
  auto planned = p.post("/compat/chat/completions",
                        R"({"model":"azure-openai/my-res/gpt4o-prod","messages":[]})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  const PlannedStep& azure = planned->steps[0];
  EXPECT_EQ(azure.target.host, "my-res.openai.azure.com");
  EXPECT_EQ(azure.target.target,
            "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
  EXPECT_FALSE(azure.translation);
  EXPECT_EQ(*azure.body, R"({"model":"gpt4o-prod","messages":[]})");
  bool keyed = false;  // the client's Bearer key in Azure's api-key header
  for (const auto& [n, v] : azure.headers) keyed = keyed || (n == "api-key" && v == "client");
  EXPECT_TRUE(keyed);

  planned = p.post("/compat/chat/completions",
                   R"({"model":"google-vertex-ai/proj-1/us-central1/gemini-2.5-pro",)"
                   R"("messages":[{"role":"user","content":"hi"}],"stream":true})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  const PlannedStep& vertex = planned->steps[0];
  EXPECT_EQ(vertex.target.host, "us-central1-aiplatform.googleapis.com");
  EXPECT_EQ(vertex.target.target,
            "/v1/projects/proj-1/locations/us-central1/publishers/google/models/"
            "gemini-2.5-pro:streamGenerateContent?alt=sse");
  ASSERT_TRUE(vertex.translation);
  EXPECT_EQ(vertex.translation->from, Dialect::kGemini);
  EXPECT_EQ(vertex.model, "gemini-2.5-pro");

  EXPECT_EQ(p.error_of(p.post("/compat/chat/completions",
                              R"({"model":"azure-openai/gpt-4o","messages":[]})")),
            R"(400 model 'gpt-4o' is not a model id azure-openai accepts: use )"
            R"("azure-openai/{resource}/{deployment}")");
  EXPECT_EQ(p.error_of(p.post("/compat/chat/completions",
                              R"({"model":"google-vertex-ai/p/../m","messages":[]})")),
            R"(400 model 'p/../m' is not a model id google-vertex-ai accepts: use )"
            R"("google-vertex-ai/{project}/{region}/{model}")");
}

TEST(Planner, ARouteTranslatesForEachTargetThatSpeaksAnotherApi) {
  Planner p;
  // An OpenAI-format client: the OpenAI target gets its body (model written at the attempt),
  // the Anthropic and Gemini targets their own API at their own chat endpoints.
  auto planned = p.post("/route/cross/chat/completions",
                        R"({"model":"x","messages":[{"role":"user","content":"hi"}],)"
                        R"("stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kRoute);
  EXPECT_FALSE(planned->client_dialect);  // OpenAI's errors are the default shape
  ASSERT_EQ(planned->steps.size(), 3u);
  EXPECT_EQ(planned->steps[0].slug, "openai");
  EXPECT_FALSE(planned->steps[0].translation);
  EXPECT_FALSE(planned->steps[0].body);
  EXPECT_EQ(planned->steps[0].target.target, "/v1/chat/completions");

  const PlannedStep& claude = planned->steps[1];
  EXPECT_EQ(claude.slug, "anthropic");
  ASSERT_TRUE(claude.translation);
  EXPECT_EQ(*claude.translation,
            (Translation{Dialect::kAnthropicMessages, Dialect::kOpenAiChat, true}));
  EXPECT_EQ(claude.target.target, "/v1/messages");
  EXPECT_EQ(claude.model, "claude-x");
  ASSERT_TRUE(claude.body);
  EXPECT_EQ(json::parse(*claude.body)["model"], "claude-x");
  EXPECT_EQ(json::parse(*claude.body)["max_tokens"], 4096);
  EXPECT_NE(claude.route_target, nullptr);
  // The target's own headers are pinned over compat's defaults (anthropic-version).
  EXPECT_EQ(claude.pinned, std::vector<std::string>{"anthropic-version"});
  EXPECT_TRUE(claude.strip_client_credentials);  // three providers, each with its own key

  const PlannedStep& gemini = planned->steps[2];
  ASSERT_TRUE(gemini.translation);
  EXPECT_EQ(gemini.translation->from, Dialect::kGemini);
  EXPECT_EQ(gemini.target.target, "/v1beta/models/gemini-y:streamGenerateContent?alt=sse");

  // An Anthropic-format client: the Anthropic target passes, the others translate; the
  // gateway's own errors take Anthropic's shape.
  planned = p.post("/route/cross/v1/messages",
                   R"({"model":"x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->client_dialect, Dialect::kAnthropicMessages);
  ASSERT_EQ(planned->steps.size(), 3u);
  EXPECT_EQ(planned->steps[0].translation,
            (Translation{Dialect::kOpenAiChat, Dialect::kAnthropicMessages, false}));
  EXPECT_EQ(planned->steps[0].target.target, "/v1/chat/completions");
  EXPECT_FALSE(planned->steps[1].translation);
  EXPECT_EQ(planned->steps[2].target.target, "/v1beta/models/gemini-y:generateContent");

  // A parameter a target cannot take leaves that target out (n > 1: neither Anthropic nor
  // Gemini answers with several choices here); the request still goes to the others.
  planned = p.post("/route/cross/chat/completions", R"({"model":"x","messages":[],"n":2})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  ASSERT_EQ(planned->steps.size(), 1u);
  EXPECT_EQ(planned->steps[0].slug, "openai");
  // When no target can, the translation's error is the answer.
  EXPECT_EQ(
      p.error_of(p.post("/route/claude/chat/completions", R"({"model":"x","messages":[],"n":2})")),
      "400 route 'claude': no target can take this request: n must be 1: Anthropic "
      "returns one choice per request");

  // A path that is not a chat API's: every target as before, nothing translated.
  planned = p.post("/route/cross/embeddings", R"({"model":"x","input":"hi"})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  for (const PlannedStep& step : planned->steps) EXPECT_FALSE(step.translation);
}

TEST(Planner, AUniversalCompatStepIsPlannedAsCompat) {
  Planner p;
  auto planned = p.post("/", R"([{"provider":"compat","endpoint":"chat/completions",)"
                             R"("headers":{"Authorization":"Bearer sk-ant"},)"
                             R"("query":{"model":"anthropic/claude-x","messages":[]}},)"
                             R"({"provider":"openai","endpoint":"chat/completions",)"
                             R"("query":{"model":"gpt-4o","messages":[]}}])");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kUniversal);
  ASSERT_EQ(planned->steps.size(), 2u);
  const PlannedStep& step = planned->steps[0];
  EXPECT_EQ(step.slug, "anthropic");
  EXPECT_EQ(step.target.target, "/v1/messages");
  ASSERT_TRUE(step.translation);
  EXPECT_EQ(step.translation->to, Dialect::kOpenAiChat);
  EXPECT_EQ(json::parse(*step.body)["model"], "claude-x");
  // The key given for the step goes in Anthropic's header, pinned over the stored one.
  bool keyed = false;
  for (const auto& [n, v] : step.headers) {
    EXPECT_NE(n, "Authorization");
    keyed = keyed || (n == "x-api-key" && v == "sk-ant");
  }
  EXPECT_TRUE(keyed);
  EXPECT_NE(std::find(step.pinned.begin(), step.pinned.end(), "x-api-key"), step.pinned.end());
  EXPECT_FALSE(planned->steps[1].translation);

  EXPECT_EQ(p.error_of(p.post("/", R"([{"provider":"compat","endpoint":"embeddings",)"
                                   R"("query":{"model":"openai/x"}}])")),
            "400 step 0: endpoint 'embeddings' is not a compat endpoint (chat/completions or "
            "v1/messages)");
  EXPECT_EQ(p.error_of(p.post("/", R"([{"provider":"compat","endpoint":"chat/completions",)"
                                   R"("query":{"model":"gpt-4o","messages":[]}}])")),
            R"(400 step 0: query.model 'gpt-4o' must be "{provider}/{model}", e.g. )"
            R"("anthropic/claude-sonnet-4-5")");
  EXPECT_EQ(p.error_of(p.post("/", R"([{"provider":"compat","endpoint":"chat/completions",)"
                                   R"("query":{"model":"nope/x","messages":[]}}])")),
            "400 step 0: unknown provider 'nope' in query.model");
}

TEST(Planner, TheModelListAndTheClientsDialectOnNativePaths) {
  Planner p;
  auto planned = p(http::verb::get, "/compat/models");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kModels);
  EXPECT_TRUE(planned->steps.empty());
  planned = p(http::verb::get, "/v1/a/g/compat/v1/models");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->kind, PlanKind::kModels);

  planned = p.post("/anthropic/v1/messages", R"({"model":"c","messages":[]})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->client_dialect, Dialect::kAnthropicMessages);
  EXPECT_FALSE(planned->steps[0].translation);
  planned = p.post("/google-ai-studio/v1beta/models/g:generateContent", R"({"contents":[]})");
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_EQ(planned->client_dialect, Dialect::kGemini);
  planned = p.post("/openai/chat/completions", std::string(kChat));
  ASSERT_TRUE(planned) << p.error_of(planned);
  EXPECT_FALSE(planned->client_dialect);
  // When planning fails, the path alone says who the client is.
  EXPECT_EQ(path_client_dialect("/compat/v1/messages"), Dialect::kAnthropicMessages);
  EXPECT_EQ(path_client_dialect("/v1/a/g/compat/messages"), Dialect::kAnthropicMessages);
  EXPECT_EQ(path_client_dialect("/route/r/v1/messages"), Dialect::kAnthropicMessages);
  EXPECT_EQ(path_client_dialect("/v1/a/g/anthropic/v1/whatever"), Dialect::kAnthropicMessages);
  EXPECT_EQ(path_client_dialect("/google-vertex-ai/v1/x"), Dialect::kGemini);
  EXPECT_FALSE(path_client_dialect("/compat/chat/completions"));
  EXPECT_FALSE(path_client_dialect("/route/r/chat/completions"));
  EXPECT_FALSE(path_client_dialect("/openai/chat/completions"));
  EXPECT_FALSE(path_client_dialect("/"));
}

}  // namespace

}  // namespace aigw
