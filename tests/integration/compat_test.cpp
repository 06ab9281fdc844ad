// /compat through the real gateway (docs/compat.md): an OpenAI-format client reaching
// Anthropic and Gemini, an Anthropic-format client reaching an OpenAI model, each provider a
// TLS fake that speaks its own wire format and asserts what it received; streams translated
// event by event; metering exact from the provider's own usage; the provider's errors and
// the gateway's own in the client's shape; a cached answer translated again on replay.

#include "core/sha256.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

const Headers kOpenAiClient = {{"Content-Type", "application/json"},
                               {"Authorization", "Bearer sk-client-key"}};
const Headers kAnthropicClient = {{"Content-Type", "application/json"},
                                  {"x-api-key", "sk-client-key"},
                                  {"anthropic-version", "2023-06-01"}};

// What each fake provider answers, in its own format.
const char* const kAnthropicMessage =
    R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-test-1",)"
    R"("content":[{"type":"text","text":"Hello from Claude"}],"stop_reason":"end_turn",)"
    R"("stop_sequence":null,"usage":{"input_tokens":21,"output_tokens":5,)"
    R"("cache_read_input_tokens":4,"cache_creation_input_tokens":0}})";

std::vector<std::string> anthropic_stream() {
  auto event = [](const std::string& type, const std::string& data) {
    return "event: " + type + "\ndata: " + data + "\n\n";
  };
  return {
      event("message_start",
            R"({"type":"message_start","message":{"id":"msg_02","type":"message",)"
            R"("role":"assistant","model":"claude-test-1","content":[],"stop_reason":null,)"
            R"("usage":{"input_tokens":30,"output_tokens":1}}})"),
      event(
          "content_block_start",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"),
      event("ping", R"({"type":"ping"})"),
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})"),
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}})"),
      event("content_block_stop", R"({"type":"content_block_stop","index":0})"),
      event("message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
            R"("usage":{"output_tokens":9}})"),
      event("message_stop", R"({"type":"message_stop"})"),
  };
}

std::vector<std::string> gemini_stream() {
  return {
      "data: "
      R"({"candidates":[{"content":{"parts":[{"text":"Hi "}],"role":"model"},)"
      R"("index":0}],"usageMetadata":{"promptTokenCount":12,"totalTokenCount":12},)"
      R"("modelVersion":"gemini-test"})"
      "\r\n\r\n",
      "data: "
      R"({"candidates":[{"content":{"parts":[{"text":"there"}],"role":"model"},)"
      R"("finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":12,)"
      R"("candidatesTokenCount":3,"totalTokenCount":15},"modelVersion":"gemini-test"})"
      "\r\n\r\n",
  };
}

const char* const kOpenAiCompletion =
    R"({"id":"chatcmpl-9","object":"chat.completion","created":1700000000,)"
    R"("model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant",)"
    R"("content":"Hello from GPT"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":11,"completion_tokens":4,"total_tokens":15}})";

// Three fakes, one per format, each recording what it received.
struct Fixture {
  Fixture()
      : anthropic([this](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
          const json body = json::parse(req.body, nullptr, false);
          if (anthropic_status != 200) {
            co_await ex.respond(
                anthropic_status,
                R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
                json_headers());
          } else if (body.value("stream", false)) {
            co_await ex.start_stream(200, sse_headers());
            for (const auto& e : anthropic_stream()) co_await ex.send_chunk(e);
            co_await ex.end_stream();
          } else {
            co_await ex.respond(200, kAnthropicMessage, json_headers());
          }
        }),
        gemini([](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
          if (req.target.find(":streamGenerateContent") != std::string::npos) {
            co_await ex.start_stream(200, sse_headers());
            for (const auto& e : gemini_stream()) co_await ex.send_chunk(e);
            co_await ex.end_stream();
          } else {
            co_await ex.respond(
                200,
                R"({"candidates":[{"content":{"parts":[{"text":"Hello from Gemini"}],)"
                R"("role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":)"
                R"({"promptTokenCount":8,"candidatesTokenCount":3,"totalTokenCount":11},)"
                R"("modelVersion":"gemini-test"})",
                json_headers());
          }
        }),
        openai([this](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
          if (openai_status != 200) {
            co_await ex.respond(openai_status,
                                R"({"error":{"message":"down","type":"server_error"}})",
                                json_headers());
          } else {
            co_await ex.respond(200, kOpenAiCompletion, json_headers());
          }
        }) {}
  // The gateway, after a test's changes to `config` (a route, auth).
  void start() {
    std::sort(config.routes.begin(), config.routes.end(),
              [](const RouteConfig& x, const RouteConfig& y) { return x.name < y.name; });
    gateway = std::make_unique<TestGateway>(config);
  }
  // Each provider's stored key: "sk-stored-{slug}".
  void store_keys() {
    for (auto& [slug, p] : config.providers) {
      if (p.keys.empty()) p.keys.emplace_back("default", Secret("sk-stored-" + slug, true));
    }
  }
  // Route `name` over `targets` ("provider/model"), in priority order; each provider gets a
  // stored key of its own (a route across providers never hands one the client's).
  void route(const std::string& name, const std::vector<std::string>& targets) {
    store_keys();
    RouteConfig r;
    r.name = name;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      RouteTargetConfig t;
      const auto slash = targets[i].find('/');
      t.provider = targets[i].substr(0, slash);
      t.model = targets[i].substr(slash + 1);
      t.priority = static_cast<unsigned>(i);
      r.targets.push_back(std::move(t));
    }
    config.routes.push_back(std::move(r));
  }
  Config make_config() {
    Config c = test_config();
    for (const auto& [slug, base] :
         {std::pair<std::string, std::string>{"anthropic", anthropic.base_url()},
          {"google-ai-studio", gemini.base_url()},
          {"openai", openai.base_url() + "/v1"}}) {
      add_provider(c, slug, base);
    }
    c.cache.enabled = true;
    return c;
  }
  HttpResponse post(const std::string& path, const json& body, const Headers& headers) {
    return http_request(gateway->port(), "POST", path, body.dump(), headers);
  }
  json record(const HttpResponse& res) { return gateway->log_record(res.header("cf-aig-log-id")); }

  unsigned anthropic_status = 200;
  unsigned openai_status = 200;
  FakeProvider anthropic;
  FakeProvider gemini;
  FakeProvider openai;
  Config config = make_config();
  std::unique_ptr<TestGateway> gateway;
};

// The fixture, started as it is.
struct Started : Fixture {
  Started() { start(); }
};

json chat(const std::string& model, bool stream = false) {
  json body = {{"model", model},
               {"messages",
                {{{"role", "system"}, {"content", "Be brief."}},
                 {{"role", "user"}, {"content", "Say hello"}}}}};
  if (stream) body["stream"] = true;
  return body;
}

// The data payloads of an SSE body, in order ("[DONE]" included).
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    const auto end = body.find('\n', at);
    out.push_back(body.substr(at + 6, end - at - 6));
    at = end;
  }
  return out;
}

TEST(Compat, AnOpenAiClientReachesAnthropicInItsOwnApi) {
  Started f;
  const auto res =
      f.post("/compat/chat/completions", chat("anthropic/claude-test-1"), kOpenAiClient);
  ASSERT_EQ(res.status, 200u) << res.body;
  // What Anthropic received: its own API, the client's key in its own header.
  ASSERT_EQ(f.anthropic.received().size(), 1u);
  const FakeRequest sent = f.anthropic.received()[0];
  EXPECT_EQ(sent.target, "/v1/messages");
  EXPECT_EQ(sent.headers.at("x-api-key"), "sk-client-key");
  EXPECT_FALSE(sent.has("authorization"));
  EXPECT_EQ(sent.headers.at("anthropic-version"), "2023-06-01");
  const json native = json::parse(sent.body);
  EXPECT_EQ(native["model"], "claude-test-1");
  EXPECT_EQ(native["system"], "Be brief.");
  EXPECT_EQ(native["max_tokens"], 4096);
  EXPECT_EQ(native["messages"][0]["role"], "user");
  // What the client got: OpenAI's chat completion.
  const json out = json::parse(res.body);
  EXPECT_EQ(out["object"], "chat.completion");
  EXPECT_EQ(out["choices"][0]["message"]["content"], "Hello from Claude");
  EXPECT_EQ(out["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(out["usage"]["prompt_tokens"], 25);
  EXPECT_EQ(out["usage"]["completion_tokens"], 5);
  EXPECT_EQ(res.header("content-type"), "application/json");
  // Metered from Anthropic's own usage, under the provider and model that answered.
  const json r = f.record(res);
  EXPECT_EQ(r["provider"], "anthropic");
  EXPECT_EQ(r["model"], "claude-test-1");
  EXPECT_EQ(r["tokens_in"], 25);
  EXPECT_EQ(r["tokens_out"], 5);
  EXPECT_EQ(r["cached_tokens"], 4);
  EXPECT_EQ(r["estimated"], false);
  EXPECT_EQ(r["path"], "/compat/chat/completions");
}

TEST(Compat, AnAnthropicStreamReachesTheOpenAiClientEventByEventAndIsMeteredExactly) {
  Started f;
  const auto res =
      f.post("/compat/chat/completions", chat("anthropic/claude-test-1", true), kOpenAiClient);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_TRUE(res.chunked);
  EXPECT_EQ(res.header("content-type").rfind("text/event-stream", 0), 0u);
  const auto events = sse_data(res.body);
  ASSERT_GE(events.size(), 3u) << res.body;
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  std::string finish;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    ASSERT_FALSE(chunk["choices"].empty()) << "no usage chunk unless the client asks";
    const json& choice = chunk["choices"][0];
    text += choice["delta"].value("content", "");
    if (choice["finish_reason"].is_string()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(text, "Hello");
  EXPECT_EQ(finish, "stop");
  // The client did not ask for usage; the gateway still knows it from Anthropic's events.
  const json r = f.record(res);
  EXPECT_EQ(r["tokens_in"], 30);
  EXPECT_EQ(r["tokens_out"], 9);
  EXPECT_EQ(r["estimated"], false);
  EXPECT_EQ(r["streamed"], true);
}

TEST(Compat, AnOpenAiClientAskingForUsageGetsTheUsageChunk) {
  Started f;
  json body = chat("anthropic/claude-test-1", true);
  body["stream_options"] = {{"include_usage", true}};
  const auto res = f.post("/compat/chat/completions", body, kOpenAiClient);
  ASSERT_EQ(res.status, 200u) << res.body;
  const auto events = sse_data(res.body);
  ASSERT_GE(events.size(), 2u);
  const json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["prompt_tokens"], 30);
  EXPECT_EQ(usage["usage"]["completion_tokens"], 9);
}

TEST(Compat, AnOpenAiClientReachesGeminiStreamedAndWhole) {
  Started f;
  const auto whole =
      f.post("/compat/chat/completions", chat("google-ai-studio/gemini-test"), kOpenAiClient);
  ASSERT_EQ(whole.status, 200u) << whole.body;
  EXPECT_EQ(json::parse(whole.body)["choices"][0]["message"]["content"], "Hello from Gemini");
  const auto streamed =
      f.post("/compat/chat/completions", chat("google-ai-studio/gemini-test", true), kOpenAiClient);
  ASSERT_EQ(streamed.status, 200u) << streamed.body;
  std::string text;
  for (const auto& e : sse_data(streamed.body)) {
    if (e == "[DONE]") continue;
    const json chunk = json::parse(e);
    if (!chunk["choices"].empty()) text += chunk["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(text, "Hi there");
  ASSERT_EQ(f.gemini.received().size(), 2u);
  const FakeRequest first = f.gemini.received()[0];
  EXPECT_EQ(first.target, "/v1beta/models/gemini-test:generateContent");
  EXPECT_EQ(first.headers.at("x-goog-api-key"), "sk-client-key");
  EXPECT_FALSE(first.has("authorization"));
  EXPECT_FALSE(json::parse(first.body).contains("model"));
  EXPECT_EQ(f.gemini.received()[1].target,
            "/v1beta/models/gemini-test:streamGenerateContent?alt=sse");
  const json r = f.record(streamed);
  EXPECT_EQ(r["provider"], "google-ai-studio");
  EXPECT_EQ(r["tokens_in"], 12);
  EXPECT_EQ(r["tokens_out"], 3);
}

TEST(Compat, AnAnthropicClientReachesAnOpenAiModel) {
  Started f;
  const json body = {{"model", "openai/gpt-test"},
                     {"max_tokens", 100},
                     {"system", "Be brief."},
                     {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  const auto res = f.post("/compat/v1/messages", body, kAnthropicClient);
  ASSERT_EQ(res.status, 200u) << res.body;
  ASSERT_EQ(f.openai.received().size(), 1u);
  const FakeRequest sent = f.openai.received()[0];
  EXPECT_EQ(sent.target, "/v1/chat/completions");
  EXPECT_EQ(sent.headers.at("authorization"), "Bearer sk-client-key");
  EXPECT_FALSE(sent.has("x-api-key"));
  const json native = json::parse(sent.body);
  EXPECT_EQ(native["model"], "gpt-test");
  EXPECT_EQ(native["messages"][0]["role"], "system");
  const json out = json::parse(res.body);
  EXPECT_EQ(out["type"], "message");
  EXPECT_EQ(out["content"][0]["type"], "text");
  EXPECT_EQ(out["content"][0]["text"], "Hello from GPT");
  EXPECT_EQ(out["stop_reason"], "end_turn");
  EXPECT_EQ(out["usage"]["input_tokens"], 11);
  EXPECT_EQ(out["usage"]["output_tokens"], 4);
}

TEST(Compat, TheProvidersErrorKeepsItsStatusInTheClientsShape) {
  Started f;
  f.anthropic_status = 529;
  const auto res =
      f.post("/compat/chat/completions", chat("anthropic/claude-test-1"), kOpenAiClient);
  EXPECT_EQ(res.status, 529u);
  const json error = json::parse(res.body)["error"];
  EXPECT_EQ(error["message"], "Overloaded");
  EXPECT_EQ(error["type"], "overloaded_error");
}

TEST(Compat, BadModelsAreClearErrorsInTheClientsShape) {
  Started f;
  auto res = f.post("/compat/chat/completions", chat("gpt-4o"), kOpenAiClient);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(res.body,
            R"({"error":{"code":"invalid_model","message":"model 'gpt-4o' names no provider: )"
            R"(use \"{provider}/{model}\", e.g. \"openai/gpt-4o\"","param":"model",)"
            R"("type":"invalid_request_error"}})");
  res = f.post("/compat/chat/completions", chat("nosuch/model-1"), kOpenAiClient);
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "unknown_provider");
  EXPECT_EQ(json::parse(res.body)["error"]["param"], "model");
  res = f.post("/compat/chat/completions", chat("aws-bedrock/titan"), kOpenAiClient);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "unsupported_parameter");
  res = f.post("/compat/chat/completions", chat("google-ai-studio/../../x"), kOpenAiClient);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "invalid_model");
  // On the Anthropic path the same mistake reads as Anthropic's error.
  const json body = {{"model", "claude"},
                     {"max_tokens", 10},
                     {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  res = f.post("/compat/v1/messages", body, kAnthropicClient);
  EXPECT_EQ(res.status, 400u);
  const json anthropic = json::parse(res.body);
  EXPECT_EQ(anthropic["type"], "error");
  EXPECT_EQ(anthropic["error"]["type"], "invalid_request_error");
  EXPECT_NE(anthropic["error"]["message"].get<std::string>().find("names no provider"),
            std::string::npos);
  EXPECT_EQ(f.anthropic.requests() + f.gemini.requests() + f.openai.requests(), 0);
}

TEST(Compat, ACachedAnswerIsTranslatedAgainOnReplay) {
  Started f;
  const auto first =
      f.post("/compat/chat/completions", chat("anthropic/claude-test-1"), kOpenAiClient);
  ASSERT_EQ(first.status, 200u) << first.body;
  const auto second =
      f.post("/compat/chat/completions", chat("anthropic/claude-test-1"), kOpenAiClient);
  ASSERT_EQ(second.status, 200u) << second.body;
  EXPECT_EQ(second.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(f.anthropic.requests(), 1);
  EXPECT_EQ(json::parse(second.body)["choices"][0]["message"]["content"], "Hello from Claude");
}

TEST(Compat, ACachedStreamIsReplayedAsATranslatedStream) {
  Started f;
  const auto first =
      f.post("/compat/chat/completions", chat("anthropic/claude-test-1", true), kOpenAiClient);
  ASSERT_EQ(first.status, 200u) << first.body;
  const auto second =
      f.post("/compat/chat/completions", chat("anthropic/claude-test-1", true), kOpenAiClient);
  ASSERT_EQ(second.status, 200u) << second.body;
  EXPECT_EQ(second.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(f.anthropic.requests(), 1);
  EXPECT_TRUE(second.chunked);
  // The same events as the first time, OpenAI's, without Anthropic's.
  EXPECT_EQ(second.body.find("event: "), std::string::npos);
  std::string text;
  for (const auto& e : sse_data(second.body)) {
    if (e == "[DONE]") continue;
    const json chunk = json::parse(e);
    if (!chunk["choices"].empty()) text += chunk["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(text, "Hello");
  EXPECT_EQ(sse_data(second.body).back(), "[DONE]");
}

// The text of an OpenAI chat stream's deltas.
std::string streamed_text(const std::string& body) {
  std::string text;
  for (const auto& e : sse_data(body)) {
    if (e == "[DONE]") continue;
    const json chunk = json::parse(e);
    if (!chunk["choices"].empty()) text += chunk["choices"][0]["delta"].value("content", "");
  }
  return text;
}

TEST(Compat, ARouteFallsBackFromOpenAiToAnthropicAndAnswersInOpenAisFormat) {
  Fixture f;
  f.route("chat", {"openai/gpt-test", "anthropic/claude-test-1"});
  f.openai_status = 500;
  // Priced as the model that answered, not the one the client named or the first target.
  f.config.metering.prices["anthropic/claude-test-1"] = ModelPrice{3.0, 15.0, 0.3, 3.75};
  f.config.metering.prices["openai/gpt-test"] =
      ModelPrice{100.0, 100.0, std::nullopt, std::nullopt};
  f.start();
  const json body = {{"model", "gpt-test"},
                     {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  auto res = f.post("/route/chat/chat/completions", body, kOpenAiClient);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("cf-aig-step"), "1");
  EXPECT_EQ(res.header("cf-aig-provider"), "anthropic");
  EXPECT_EQ(res.header("cf-aig-model"), "claude-test-1");
  EXPECT_EQ(f.openai.requests(), 1);
  // Anthropic got its own API with its own stored key, never the client's.
  ASSERT_EQ(f.anthropic.received().size(), 1u);
  const FakeRequest sent = f.anthropic.received()[0];
  EXPECT_EQ(sent.target, "/v1/messages");
  EXPECT_EQ(sent.headers.at("x-api-key"), "sk-stored-anthropic");
  EXPECT_FALSE(sent.has("authorization"));
  EXPECT_EQ(json::parse(sent.body)["model"], "claude-test-1");
  EXPECT_EQ(json::parse(sent.body)["max_tokens"], 4096);
  // The client reads OpenAI's chat completion.
  const json out = json::parse(res.body);
  EXPECT_EQ(out["object"], "chat.completion");
  EXPECT_EQ(out["choices"][0]["message"]["content"], "Hello from Claude");
  EXPECT_EQ(out["usage"]["prompt_tokens"], 25);
  EXPECT_EQ(out["usage"]["completion_tokens"], 5);
  // Exact tokens from Anthropic's usage, logged under the target that answered.
  json r = f.record(res);
  EXPECT_EQ(r["provider"], "anthropic");
  EXPECT_EQ(r["model"], "claude-test-1");
  EXPECT_EQ(r["tokens_in"], 25);
  EXPECT_EQ(r["tokens_out"], 5);
  EXPECT_EQ(r["estimated"], false);
  // 21 uncached input tokens, 4 read from the cache, 5 output, at Claude's prices.
  EXPECT_NEAR(r["cost"].get<double>(), (21 * 3.0 + 4 * 0.3 + 5 * 15.0) / 1e6, 1e-12);

  // Streamed, by "model": "dynamic/chat" on /compat: the same fallback, event by event.
  json streamed = body;
  streamed["model"] = "dynamic/chat";
  streamed["stream"] = true;
  res = f.post("/compat/chat/completions", streamed, kOpenAiClient);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("cf-aig-step"), "1");
  EXPECT_TRUE(res.chunked);
  EXPECT_EQ(streamed_text(res.body), "Hello");
  EXPECT_EQ(sse_data(res.body).back(), "[DONE]");
  r = f.record(res);
  EXPECT_EQ(r["tokens_in"], 30);
  EXPECT_EQ(r["tokens_out"], 9);
  EXPECT_EQ(r["estimated"], false);

  // Cached: the entry holds Anthropic's bytes and is translated again on replay.
  res = f.post("/route/chat/chat/completions", body, kOpenAiClient);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(json::parse(res.body)["choices"][0]["message"]["content"], "Hello from Claude");
  EXPECT_EQ(f.anthropic.requests(), 2);
}

TEST(Compat, AnAnthropicClientsRouteFallsBackToGemini) {
  Fixture f;
  f.route("any", {"openai/gpt-test", "google-ai-studio/gemini-test"});
  f.openai_status = 503;
  f.start();
  const json body = {{"model", "dynamic/any"},
                     {"max_tokens", 50},
                     {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  const auto res = f.post("/compat/v1/messages", body, kAnthropicClient);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("cf-aig-step"), "1");
  // OpenAI got OpenAI's API (translated from Anthropic's), Gemini its own.
  ASSERT_EQ(f.openai.received().size(), 1u);
  EXPECT_EQ(json::parse(f.openai.received()[0].body)["model"], "gpt-test");
  EXPECT_EQ(f.openai.received()[0].headers.at("authorization"), "Bearer sk-stored-openai");
  ASSERT_EQ(f.gemini.received().size(), 1u);
  EXPECT_EQ(f.gemini.received()[0].target, "/v1beta/models/gemini-test:generateContent");
  const json out = json::parse(res.body);
  EXPECT_EQ(out["type"], "message");
  EXPECT_EQ(out["content"][0]["text"], "Hello from Gemini");
  EXPECT_EQ(out["usage"]["input_tokens"], 8);
  EXPECT_EQ(out["usage"]["output_tokens"], 3);
}

TEST(Compat, AUniversalStepMayBeACompatStep) {
  Started f;
  const json steps = json::array({{{"provider", "compat"},
                                   {"endpoint", "chat/completions"},
                                   {"headers", {{"Authorization", "Bearer sk-step-key"}}},
                                   {"query", chat("anthropic/claude-test-1")}}});
  const auto res = http_request(f.gateway->port(), "POST", "/", steps.dump(),
                                {{"Content-Type", "application/json"}});
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("cf-aig-step"), "0");
  ASSERT_EQ(f.anthropic.received().size(), 1u);
  EXPECT_EQ(f.anthropic.received()[0].headers.at("x-api-key"), "sk-step-key");
  EXPECT_EQ(json::parse(res.body)["choices"][0]["message"]["content"], "Hello from Claude");
}

TEST(Compat, TheModelListNamesEachReachableModelWithItsPrice) {
  Fixture f;
  f.config.metering.prices["anthropic/claude-test-1"] = ModelPrice{3.0, 15.0, 0.3, 3.75};
  f.config.metering.prices["openai/gpt-test"] = ModelPrice{2.5, 10.0, std::nullopt, std::nullopt};
  f.config.metering.prices["aws-bedrock/titan"] = ModelPrice{1.0, 1.0, std::nullopt, std::nullopt};
  f.route("chat", {"openai/gpt-test", "google-ai-studio/gemini-test"});
  f.config.auth.enabled = true;
  f.config.auth.token_sha256 = {sha256("gw-token")};
  f.start();
  const Headers authed = {{"cf-aig-authorization", "Bearer gw-token"}};
  for (const std::string path : {"/compat/models", "/compat/v1/models", "/v1/a/g/compat/models"}) {
    const auto res = http_request(f.gateway->port(), "GET", path, "", authed);
    ASSERT_EQ(res.status, 200u) << path << " " << res.body;
    const json list = json::parse(res.body);
    EXPECT_EQ(list["object"], "list");
    EXPECT_EQ(list["has_more"], false);
    std::vector<std::string> ids;
    for (const auto& m : list["data"]) ids.push_back(m["id"]);
    // The price table's models on providers /compat reaches (not Bedrock's), the routes'
    // targets, and the routes themselves.
    EXPECT_EQ(ids, (std::vector<std::string>{"anthropic/claude-test-1", "openai/gpt-test",
                                             "google-ai-studio/gemini-test", "dynamic/chat"}));
    const json& claude = list["data"][0];
    EXPECT_EQ(claude["object"], "model");
    EXPECT_EQ(claude["type"], "model");
    EXPECT_EQ(claude["owned_by"], "anthropic");
    EXPECT_EQ(claude["pricing"],
              json::parse(R"({"input":3.0,"output":15.0,"cached_input":0.3,"cache_write":3.75,)"
                          R"("unit":"usd_per_million_tokens"})"));
    EXPECT_FALSE(list["data"][2].contains("pricing"));
    EXPECT_EQ(list["first_id"], "anthropic/claude-test-1");
    EXPECT_EQ(list["last_id"], "dynamic/chat");
  }
  // Like every request, it needs the gateway's token; no provider is called.
  const auto refused = http_request(f.gateway->port(), "GET", "/compat/models", "", {});
  EXPECT_EQ(refused.status, 401u);
  EXPECT_EQ(f.anthropic.requests() + f.gemini.requests() + f.openai.requests(), 0);
}

TEST(Compat, TheGatewaysOwnErrorsTakeTheShapeOfTheProvidersPath) {
  Started f;
  const Headers json_type = {{"Content-Type", "application/json"}};
  // Anthropic's path: Anthropic's error shape, which its SDK raises as BadRequestError.
  auto res =
      http_request(f.gateway->port(), "POST", "/anthropic/v1/messages", "{nope", kAnthropicClient);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(res.body, R"j({"type":"error","error":{"type":"invalid_request_error","message":)j"
                      R"j("request body is not valid JSON (Content-Type: application/json)"}})j");
  // Gemini's: Google's, the gateway's code as the ErrorInfo reason.
  res = http_request(f.gateway->port(), "POST",
                     "/v1/acct/gw/google-ai-studio/v1beta/models/g:generateContent", "{nope",
                     json_type);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(res.body,
            R"j({"error":{"code":400,"message":"request body is not valid JSON (Content-Type: )j"
            R"j(application/json)","status":"INVALID_ARGUMENT","details":[{"@type":)j"
            R"j("type.googleapis.com/google.rpc.ErrorInfo","reason":"invalid_json",)j"
            R"j("domain":"aigw"}]}})j");
  // OpenAI's path keeps OpenAI's shape.
  res = http_request(f.gateway->port(), "POST", "/openai/chat/completions", "{nope", json_type);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "invalid_json");
  // A provider's own error on its own path passes through untouched.
  f.anthropic_status = 529;
  res = f.post("/anthropic/v1/messages",
               {{"model", "claude-test-1"}, {"max_tokens", 5}, {"messages", json::array()}},
               kAnthropicClient);
  EXPECT_EQ(res.status, 529u);
  EXPECT_EQ(res.body,
            R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
}

}  // namespace
}  // namespace aigw::test
