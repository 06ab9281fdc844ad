// Named routes through the real gateway: targets tried by priority with the target's model
// written into the body, reached by /route/{name}/... and by "model": "dynamic/{name}", the
// weighted draw within tolerance over many requests, the circuit breaker opening, skipping,
// probing and closing (watched through /api/routes), every target open as a 503, the
// client's credential kept from other providers, one cache entry per route, and the exact
// errors of an unknown route or a route without a path.

#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <thread>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

RouteTargetConfig target(const std::string& provider, const std::string& model,
                         unsigned priority = 0, unsigned weight = 1) {
  RouteTargetConfig t;
  t.provider = provider;
  t.model = model;
  t.priority = priority;
  t.weight = weight;
  return t;
}

// Two fake providers, custom-a and custom-b, whose status each test sets.
struct Fixture {
  explicit Fixture(unsigned a_first = 200, unsigned b_first = 200)
      : a_status(std::make_shared<std::atomic<unsigned>>(a_first)),
        b_status(std::make_shared<std::atomic<unsigned>>(b_first)),
        a(answers(this->a_status)),
        b(answers(this->b_status)) {
    config = test_config();
    add_provider(config, "custom-a", a.base_url() + "/v1");
    add_provider(config, "custom-b", b.base_url() + "/v1");
  }
  // A route over both fakes that shares the client's credential (tests of the credential
  // rule set their own).
  RouteConfig& route(const std::string& name, std::vector<RouteTargetConfig> targets) {
    RouteConfig r;
    r.name = name;
    r.targets = std::move(targets);
    r.share_client_credentials = true;
    config.routes.push_back(std::move(r));
    return config.routes.back();
  }
  void start() {
    std::sort(config.routes.begin(), config.routes.end(),
              [](const RouteConfig& x, const RouteConfig& y) { return x.name < y.name; });
    gateway = std::make_unique<TestGateway>(config);
  }
  HttpResponse post(const std::string& target, const std::string& model = "gpt-4o",
                    Headers extra = {}) {
    Headers headers = {{"Content-Type", "application/json"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    const json body = {{"model", model},
                       {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                       {"temperature", 0.5}};
    return http_request(gateway->port(), "POST", target, body.dump(), headers);
  }
  // The breaker state /api/routes shows for target `index` of route `name`.
  std::string breaker_state(const std::string& name, std::size_t index) {
    const json routes = json::parse(gateway->admin("/api/routes").body)["result"];
    for (const auto& r : routes) {
      if (r["name"] == name) return r["targets"][index]["breaker"]["state"];
    }
    return "no such route";
  }
  // Waits (bounded) for the breaker of target `index` to reach `state`.
  bool wait_breaker(const std::string& name, std::size_t index, const std::string& state) {
    for (int i = 0; i < 100; ++i) {
      if (breaker_state(name, index) == state) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  std::shared_ptr<std::atomic<unsigned>> a_status;
  std::shared_ptr<std::atomic<unsigned>> b_status;
  FakeProvider a;
  FakeProvider b;
  Config config;
  std::unique_ptr<TestGateway> gateway;
};

TEST(Routes, ByPathTheTargetsAreTriedInPriorityOrderEachWithItsModel) {
  Fixture f(503, 200);
  f.route("chat", {target("custom-b", "model-b", 1), target("custom-a", "model-a", 0)});
  f.start();
  const auto res =
      f.post("/route/chat/chat/completions", "gpt-4o", {{"Authorization", "Bearer sk-client"}});
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("cf-aig-step"), "1");
  EXPECT_EQ(res.header("cf-aig-provider"), "custom-b");
  EXPECT_EQ(res.header("cf-aig-model"), "model-b");
  EXPECT_EQ(json::parse(res.body)["model"], "model-b");
  ASSERT_EQ(f.a.requests(), 1);
  ASSERT_EQ(f.b.requests(), 1);
  const FakeRequest to_a = f.a.received()[0];
  const FakeRequest to_b = f.b.received()[0];
  EXPECT_EQ(to_a.target, "/v1/chat/completions");
  EXPECT_EQ(to_b.target, "/v1/chat/completions");
  // Only the model changed; the rest of the body is the client's, byte for byte.
  EXPECT_EQ(to_a.body,
            R"({"messages":[{"content":"hi","role":"user"}],"model":"model-a","temperature":0.5})");
  EXPECT_EQ(json::parse(to_b.body)["model"], "model-b");
  EXPECT_EQ(to_b.headers.at("authorization"), "Bearer sk-client");  // shared on purpose
  const json record = f.gateway->log_record(res.header("cf-aig-log-id"));
  EXPECT_EQ(record["path"], "/route/chat/chat/completions");
  EXPECT_EQ(record["provider"], "custom-b");
  EXPECT_EQ(record["model"], "model-b");
  ASSERT_EQ(record["attempts"].size(), 2u);
  EXPECT_EQ(record["attempts"][0]["provider"], "custom-a");
  EXPECT_EQ(record["attempts"][0]["model"], "model-a");
  EXPECT_EQ(record["attempts"][0]["status_code"], 503);
  EXPECT_EQ(record["attempts"][1]["provider"], "custom-b");
  EXPECT_EQ(record["attempts"][1]["model"], "model-b");
  EXPECT_EQ(record["attempts"][1]["status_code"], 200);
}

TEST(Routes, ADynamicModelNamesTheRouteOnAnyProviderPathAndOnCompat) {
  Fixture f(200, 200);
  f.route("support", {target("custom-a", "model-a")});
  f.start();
  for (const std::string path :
       {"/compat/chat/completions", "/openai/chat/completions",
        "/v1/account-1/gateway-1/compat/chat/completions", "/route/support/chat/completions"}) {
    const auto res = f.post(path, "dynamic/support");
    EXPECT_EQ(res.status, 200u) << path << " " << res.body;
    EXPECT_EQ(res.header("cf-aig-model"), "model-a") << path;
    EXPECT_EQ(json::parse(res.body)["model"], "model-a") << path;
  }
  ASSERT_EQ(f.a.requests(), 4);
  for (const auto& sent : f.a.received()) {
    EXPECT_EQ(sent.target, "/v1/chat/completions");
    EXPECT_EQ(json::parse(sent.body)["model"], "model-a");
  }
  EXPECT_EQ(f.b.requests(), 0);
}

// The configured routes are the operator's to know: the client, perhaps not authenticated,
// gets the name it sent only (docs/security.md).
TEST(Routes, AnUnknownRouteIsA404NamingNoConfiguredOnes) {
  Fixture f;
  f.route("chat", {target("custom-a", "model-a")});
  f.route("batch", {target("custom-b", "model-b")});
  f.start();
  auto res = f.post("/route/chta/chat/completions");
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(json::parse(res.body),
            gateway_error("no route named 'chta'", "invalid_request_error", "route_not_found"));
  res = f.post("/compat/chat/completions", "dynamic/chta");
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(json::parse(res.body), gateway_error("no route named 'chta' (model dynamic/chta)",
                                                 "invalid_request_error", "route_not_found"));
  EXPECT_EQ(f.a.requests() + f.b.requests(), 0);
}

TEST(Routes, ARouteWithoutAPathOrEndpointIsA400) {
  Fixture f;
  f.route("chat", {target("custom-a", "model-a")});
  f.start();
  const auto res = f.post("/route/chat");
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(json::parse(res.body),
            gateway_error("route 'chat': target 0 custom-a/model-a has no endpoint and the "
                          "request names none; call /route/chat/chat/completions (or the "
                          "provider's path), or set the target's endpoint",
                          "invalid_request_error", "invalid_provider_path"));
  EXPECT_EQ(f.a.requests(), 0);
}

TEST(Routes, ATargetsEndpointTakesItsModelAndQuery) {
  Fixture f;
  RouteTargetConfig t = target("custom-a", "gemini-x");
  t.endpoint = "models/{model}:streamGenerateContent?alt=sse";
  t.headers = {{"x-route", Secret("support")}};
  f.route("gen", {t});
  f.start();
  const auto res = f.post("/route/gen");
  EXPECT_EQ(res.status, 200u) << res.body;
  ASSERT_EQ(f.a.requests(), 1);
  EXPECT_EQ(f.a.received()[0].target, "/v1/models/gemini-x:streamGenerateContent?alt=sse");
  EXPECT_EQ(f.a.received()[0].headers.at("x-route"), "support");
}

TEST(Routes, WeightsShareTheTrafficWithinTolerance) {
  Fixture f(200, 200);
  f.route("split", {target("custom-a", "model-a", 0, 3), target("custom-b", "model-b", 0, 1)});
  f.start();
  constexpr int kRequests = 400;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(f.post("/route/split/chat/completions").status, 200u);
  }
  EXPECT_EQ(f.a.requests() + f.b.requests(), kRequests);  // each answered by one target
  // 3:1 — 300 expected for custom-a; 5 standard deviations of a binomial (±43) is a bound a
  // fair draw misses about once in two million runs.
  const double sd = std::sqrt(kRequests * 0.75 * 0.25);
  EXPECT_NEAR(f.a.requests(), 300, 5 * sd);
}

TEST(Routes, TheBreakerOpensSkipsTheTargetThenOneProbeClosesIt) {
  Fixture f(503, 200);
  RouteConfig& r =
      f.route("chat", {target("custom-a", "model-a", 0), target("custom-b", "model-b", 1)});
  r.breaker.failures = 2;
  r.breaker.window = 60s;
  r.breaker.cooldown = 1s;
  f.start();
  EXPECT_EQ(f.breaker_state("chat", 0), "closed");
  for (int i = 0; i < 2; ++i) {
    const auto res = f.post("/route/chat/chat/completions");
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.header("cf-aig-step"), "1");
  }
  EXPECT_EQ(f.a.requests(), 2);
  EXPECT_EQ(f.breaker_state("chat", 0), "open");
  // Open: custom-a is not even tried.
  auto res = f.post("/route/chat/chat/completions");
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("cf-aig-provider"), "custom-b");
  EXPECT_EQ(res.header("cf-aig-step"), "0");  // the only step planned
  EXPECT_EQ(f.a.requests(), 2);
  const std::string metrics = f.gateway->admin("/metrics").body;
  EXPECT_NE(metrics.find("aigw_route_targets_open 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("aigw_route_breaker_opens_total 1\n"), std::string::npos) << metrics;

  // After the cooldown one request probes the healed provider, and that closes the breaker.
  f.a_status->store(200);
  ASSERT_TRUE(f.wait_breaker("chat", 0, "half_open"));
  res = f.post("/route/chat/chat/completions");
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("cf-aig-provider"), "custom-a");
  EXPECT_EQ(f.a.requests(), 3);
  EXPECT_EQ(f.breaker_state("chat", 0), "closed");
  res = f.post("/route/chat/chat/completions");
  EXPECT_EQ(res.header("cf-aig-provider"), "custom-a");
  EXPECT_EQ(f.b.requests(), 3);
}

TEST(Routes, AFailedProbeOpensTheBreakerAgain) {
  Fixture f(503, 200);
  RouteConfig& r =
      f.route("chat", {target("custom-a", "model-a", 0), target("custom-b", "model-b", 1)});
  r.breaker.failures = 1;
  r.breaker.cooldown = 1s;
  f.start();
  EXPECT_EQ(f.post("/route/chat/chat/completions").status, 200u);
  EXPECT_EQ(f.breaker_state("chat", 0), "open");
  ASSERT_TRUE(f.wait_breaker("chat", 0, "half_open"));
  const auto res = f.post("/route/chat/chat/completions");  // the probe, which fails
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("cf-aig-provider"), "custom-b");
  EXPECT_EQ(f.a.requests(), 2);
  EXPECT_EQ(f.breaker_state("chat", 0), "open");
  EXPECT_EQ(f.post("/route/chat/chat/completions").header("cf-aig-provider"), "custom-b");
  EXPECT_EQ(f.a.requests(), 2);
}

TEST(Routes, EveryTargetOpenIsA503WithRetryAfter) {
  Fixture f(503, 200);
  RouteConfig& r = f.route("solo", {target("custom-a", "model-a")});
  r.breaker.failures = 1;
  r.breaker.cooldown = 60s;
  f.start();
  // The last target's answer goes to the client, whatever it is; it opens the breaker.
  auto res = f.post("/route/solo/chat/completions");
  EXPECT_EQ(res.status, 503u);
  EXPECT_EQ(json::parse(res.body)["error"]["message"], "unavailable");
  res = f.post("/route/solo/chat/completions");
  EXPECT_EQ(res.status, 503u);
  const std::string wait = res.header("retry-after");
  EXPECT_TRUE(wait == "60" || wait == "59") << wait;
  EXPECT_EQ(json::parse(res.body),
            gateway_error("route 'solo': every target is skipped after repeated failures "
                          "(circuit breaker open); retry after " +
                              wait + "s",
                          "service_unavailable", "route_unavailable"));
  EXPECT_EQ(f.a.requests(), 1);
}

TEST(Routes, OverSeveralProvidersTheClientsCredentialStaysHome) {
  Fixture f(503, 200);
  RouteTargetConfig ta = target("custom-a", "model-a", 0);
  ta.headers = {{"Authorization", Secret("Bearer key-a", true)}};
  RouteTargetConfig tb = target("custom-b", "model-b", 1);
  tb.headers = {{"authorization", Secret("Bearer key-b", true)}};
  f.route("chat", {ta, tb}).share_client_credentials = false;
  f.start();
  const auto res = f.post("/route/chat/chat/completions", "gpt-4o",
                          {{"Authorization", "Bearer sk-client"}, {"x-api-key", "sk-client"}});
  EXPECT_EQ(res.status, 200u);
  const FakeRequest to_a = f.a.received()[0];
  const FakeRequest to_b = f.b.received()[0];
  EXPECT_EQ(to_a.headers.at("authorization"), "Bearer key-a");
  EXPECT_EQ(to_b.headers.at("authorization"), "Bearer key-b");
  EXPECT_FALSE(to_a.has("x-api-key"));
  EXPECT_FALSE(to_b.has("x-api-key"));
}

// A stream that falls back to another model of the same provider is metered exactly: that
// target is asked for usage like the first (stream_options.include_usage), and the client
// still gets the stream it asked for, without the usage event.
TEST(Routes, AStreamFallingBackWithinAProviderIsMeteredExactly) {
  FakeProvider openai([](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const json body = json::parse(req.body, nullptr, false);
    if (body.value("model", "") == "gpt-4o") {
      co_await ex.respond(503, R"({"error":{"message":"overloaded"}})", json_headers());
      co_return;
    }
    const bool asked = body.value("stream_options", json::object()).value("include_usage", false);
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse(
        R"({"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello there"}}]})"));
    if (asked) {
      co_await ex.send_chunk(sse(
          R"({"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}})"));
    }
    co_await ex.send_chunk("data: [DONE]\n\n");
    co_await ex.end_stream();
  });
  Config c = test_config();
  add_provider(c, "openai", openai.base_url() + "/v1");
  RouteConfig r;
  r.name = "chat";
  r.targets = {target("openai", "gpt-4o", 0), target("openai", "gpt-4o-mini", 1)};
  c.routes.push_back(r);
  TestGateway gateway(c);
  StreamingClient client(
      gateway.port(), "POST", "/route/chat/chat/completions",
      R"({"model":"x","stream":true,"messages":[{"role":"user","content":"hi"}]})",
      {{"Content-Type", "application/json"}});
  EXPECT_EQ(client.head().header("cf-aig-model"), "gpt-4o-mini");
  const std::string streamed = client.read_all();
  EXPECT_EQ(streamed.find("usage"), std::string::npos) << streamed;
  EXPECT_NE(streamed.find("Hello there"), std::string::npos);
  ASSERT_EQ(openai.requests(), 2);
  for (const auto& sent : openai.received()) {
    EXPECT_EQ(json::parse(sent.body)["stream_options"]["include_usage"], true) << sent.body;
  }
  const json record = gateway.log_record(client.head().header("cf-aig-log-id"));
  EXPECT_EQ(record["tokens_in"], 7);
  EXPECT_EQ(record["tokens_out"], 3);
  EXPECT_EQ(record["estimated"], false);
}

TEST(Routes, ApiRoutesListsTargetsAndRefusesQueryParameters) {
  Fixture f;
  f.route("chat", {target("custom-a", "model-a", 0, 3), target("custom-b", "model-b", 1)})
      .breaker.enabled = false;
  f.start();
  EXPECT_EQ(json::parse(f.gateway->admin("/api/routes").body),
            json::parse(R"({"result":[{"name":"chat","targets":[
              {"provider":"custom-a","model":"model-a","priority":0,"weight":3,
               "breaker":{"state":"disabled"}},
              {"provider":"custom-b","model":"model-b","priority":1,"weight":1,
               "breaker":{"state":"disabled"}}]}]})"));
  const auto res = f.gateway->admin("/api/routes?name=chat");
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(json::parse(res.body), gateway_error("/api/routes takes no query parameters",
                                                 "invalid_request_error", "bad_request"));
}

TEST(Routes, TheCacheKeysTheRouteNotTheTargetDrawn) {
  Fixture f(200, 200);
  f.config.cache.enabled = true;
  f.route("split", {target("custom-a", "model-a"), target("custom-b", "model-b")});
  f.start();
  const auto first = f.post("/route/split/chat/completions");
  EXPECT_EQ(first.header("cf-aig-cache-status"), "MISS");
  for (int i = 0; i < 10; ++i) {
    const auto again = f.post("/route/split/chat/completions");
    EXPECT_EQ(again.header("cf-aig-cache-status"), "HIT");
    EXPECT_EQ(again.body, first.body);
  }
  EXPECT_EQ(f.a.requests() + f.b.requests(), 1);
}

}  // namespace
}  // namespace aigw::test
