// Two gateway instances sharing one real redis-server (issue 18, docs/scaling.md): rate limits
// and budgets are exact across them, reservations are settled where they were taken, nothing
// secret is stored, and a Redis that dies mid-load leaves every request answered by each
// rule's on_error until it is back.
//
// Each instance is a whole App (its own workers, stages, memory stores and Redis
// connections) in this process: they share nothing but the redis-server and the provider.

#include "config/load.hpp"
#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <sstream>
#include <thread>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

// "Say hello" is estimated at 3 prompt tokens; with max_tokens N a token rule reserves 3 + N.
std::string chat(int max_tokens, const std::string& model = "gpt-4o-mini") {
  return R"({"model":")" + model + R"(","max_tokens":)" + std::to_string(max_tokens) +
         R"(,"messages":[{"role":"user","content":"Say hello"}]})";
}

// Answers with usage `prompt` in, `output` out (the metered figures reservations settle to),
// once `gate` is open (nullptr: at once).
Handler reports(int prompt, int output, Gate* gate = nullptr) {
  return [=](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    if (gate != nullptr) co_await ex.wait(*gate, 10s);
    co_await ex.respond(200,
                        R"({"id":"x","object":"chat.completion","choices":[],"usage":{)"
                        R"("prompt_tokens":)" +
                            std::to_string(prompt) + R"(,"completion_tokens":)" +
                            std::to_string(output) + R"(,"total_tokens":)" +
                            std::to_string(prompt + output) + "}}",
                        json_headers());
  };
}

// Two instances (A with two workers, B with one) of the config `yaml`, whose redis: section
// points at `redis`.
struct Fleet {
  Fleet(RedisServer& redis, const std::string& yaml, Handler handler, int instances = 2)
      : fake(std::move(handler)) {
    const std::string text = "redis:\n  url: " + redis.url() + "\n" + yaml;
    auto loaded = config::load_string(
        text, "fleet.yaml", [](std::string_view) { return std::optional<std::string>(); });
    EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].str());
    if (loaded.config) config = *loaded.config;
    for (int i = 0; i < instances; ++i) add(i == 0);
  }
  // One more instance of the same config.
  void add(bool two_workers = false) {
    const Config& loaded = config;
    Config c = test_config();
    if (two_workers) c.server.workers = 2;
    add_provider(c, "openai", fake.base_url() + "/v1");
    c.redis = loaded.redis;
    c.rate_limits = loaded.rate_limits;
    c.budgets = loaded.budgets;
    c.metering.prices["openai/gpt-4o-mini"] = ModelPrice{1.0, 2.0, std::nullopt, std::nullopt};
    c.metering.prices["openai/gpt-4o"] = ModelPrice{1.0, 2.0, std::nullopt, std::nullopt};
    gateways.push_back(std::make_unique<TestGateway>(std::move(c)));
  }
  HttpResponse post(std::size_t instance, const std::string& body, Headers extra = {}) {
    Headers headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-p"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request(gateways.at(instance)->port(), "POST", "/openai/chat/completions", body,
                        headers);
  }
  // `n` concurrent requests, alternating between the instances; their statuses.
  std::map<unsigned, int> burst(int n, const std::string& body) {
    std::mutex mutex;
    std::map<unsigned, int> statuses;
    std::vector<std::thread> clients;
    for (int i = 0; i < n; ++i) {
      clients.emplace_back([&, i] {
        const unsigned status = post(static_cast<std::size_t>(i) % gateways.size(), body).status;
        std::lock_guard lock(mutex);
        ++statuses[status];
      });
    }
    for (auto& c : clients) c.join();
    return statuses;
  }
  FakeProvider fake;
  Config config;  // as loaded
  std::vector<std::unique_ptr<TestGateway>> gateways;
};

// Every key the gateway wrote, with its value (GET, or HGETALL for a sliding counter's hash).
std::vector<std::pair<std::string, std::string>> redis_contents(const RedisServer& redis) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream keys(redis.cli("--scan --pattern 'aigw:*'"));
  for (std::string key; std::getline(keys, key);) {
    if (key.empty()) continue;
    const std::string type = redis.cli("TYPE '" + key + "'");
    out.emplace_back(key,
                     redis.cli((type.starts_with("hash") ? "HGETALL '" : "GET '") + key + "'"));
  }
  return out;
}

// The one counter of the config's first rule: its value, polled (bounded) until it is `want`.
std::string counter_becomes(const RedisServer& redis, const std::string& want) {
  std::string value;
  for (int i = 0; i < 200; ++i) {
    const auto contents = redis_contents(redis);
    value = contents.size() == 1 ? contents[0].second
                                 : "(" + std::to_string(contents.size()) + " keys)";
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value == want) break;
    std::this_thread::sleep_for(10ms);
  }
  return value;
}

TEST(Replicas, FortyConcurrentRequestsOnTwoInstancesAgainstALimitOfTenAdmitExactlyTen) {
  for (const char* technique : {"fixed", "sliding"}) {
    RedisServer redis;
    Fleet fleet(redis,
                std::string("rate_limits:\n  - limit: 10\n    window: 1m\n    technique: ") +
                    technique + "\n",
                reports(3, 10));
    const auto statuses = fleet.burst(40, chat(10));
    EXPECT_EQ(statuses.size(), 2u) << technique;
    EXPECT_EQ(statuses.count(200) ? statuses.at(200) : 0, 10) << technique;
    EXPECT_EQ(statuses.count(429) ? statuses.at(429) : 0, 30) << technique;
    EXPECT_EQ(fleet.fake.requests(), 10) << technique;
    // Both instances, after the burst, see the spent limit.
    EXPECT_EQ(fleet.post(0, chat(10)).status, 429u);
    EXPECT_EQ(fleet.post(1, chat(10)).status, 429u);
  }
}

TEST(Replicas, TheRefusalIsTheSameExact429OnEitherInstance) {
  RedisServer redis;
  Fleet fleet(redis, "rate_limits:\n  - name: team\n    limit: 2\n    window: 1m\n", reports(3, 1));
  EXPECT_EQ(fleet.post(0, chat(10)).status, 200u);
  EXPECT_EQ(fleet.post(1, chat(10)).status, 200u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto res = fleet.post(i, chat(10));
    ASSERT_EQ(res.status, 429u);
    const std::string retry = res.header("retry-after");
    ASSERT_FALSE(retry.empty());
    EXPECT_GE(std::stoi(retry), 1);
    EXPECT_LE(std::stoi(retry), 60);
    EXPECT_EQ(res.header("x-ratelimit-limit"), "2");
    EXPECT_EQ(res.header("x-ratelimit-remaining"), "0");
    EXPECT_EQ(json::parse(res.body, nullptr, false),
              gateway_error("rate limit 'team' exceeded: 2 requests per 1m (fixed window); retry "
                            "after " +
                                retry + "s",
                            "rate_limit_error", "rate_limited"))
        << res.body;
  }
  EXPECT_EQ(fleet.fake.requests(), 2);
}

TEST(Replicas, TokenReservationsAreSharedAndSettledToTheMeteredUse) {
  Gate release;
  RedisServer redis;
  // 1000 tokens: a request with max_tokens 300 reserves 303, so three fit at once.
  Fleet fleet(redis, "rate_limits:\n  - limit: 1000\n    window: 1h\n    unit: tokens\n",
              reports(3, 10, &release));
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::string refusal;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      const auto res = fleet.post(static_cast<std::size_t>(i % 2), chat(300));
      if (res.status == 200) {
        ++ok;
      } else {
        refusal = res.body;
        ++refused;
      }
    });
  }
  for (int i = 0; i < 1000 && refused.load() < 1; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(counter_becomes(redis, "909"), "909");  // three reservations held
  release.open();
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 3);
  ASSERT_EQ(refused.load(), 1);
  EXPECT_NE(refusal.find("this request needs about 303 tokens"), std::string::npos) << refusal;
  // Each used 13 tokens: the rest of its reservation went back, on whichever instance.
  EXPECT_EQ(counter_becomes(redis, "39"), "39");
  EXPECT_EQ(fleet.post(1, chat(300)).status, 200u);
  EXPECT_EQ(counter_becomes(redis, "52"), "52");
}

TEST(Replicas, ABudgetSpentHalfOnEachInstanceRefusesAtItsLimitEverywhere) {
  RedisServer redis;
  // Each request costs $0.000603 (3 in, 300 out at $1 / $2 per million); four fit in $0.00242.
  Fleet fleet(redis, "budgets:\n  - name: spend\n    limit_usd: 0.00242\n    window: day\n",
              reports(3, 300));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(fleet.post(static_cast<std::size_t>(i % 2), chat(300)).status, 200u) << i;
  }
  // A third instance started now knows the spend without reading anyone's request log.
  fleet.add();
  for (std::size_t i = 0; i < 3; ++i) {
    const auto res = fleet.post(i, chat(300));
    EXPECT_EQ(res.status, 429u);
    const auto body = json::parse(res.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res.body;
    const std::string message = body["error"]["message"];
    EXPECT_TRUE(
        message.starts_with("budget 'spend' exceeded: $0.00242 per 1d (fixed window); "
                            "this request needs about $0.000603; retry after "))
        << message;
  }
  EXPECT_EQ(fleet.fake.requests(), 4);
}

TEST(Replicas, NothingAClientSentIsStoredAsItself) {
  RedisServer redis;
  Fleet fleet(redis,
              "rate_limits:\n  - limit: 100\n    window: 1m\n    per: header:x-api-key\n"
              "  - limit: 100\n    window: 1m\n    per: ip\n    technique: sliding\n"
              "  - limit: 100\n    window: 1m\n    per: metadata:user\n",
              reports(3, 1));
  EXPECT_EQ(fleet
                .post(0, chat(5),
                      {{"x-api-key", "sk-live-SECRET123"},
                       {"cf-aig-metadata", R"({"user":"alice@example.com"})"}})
                .status,
            200u);
  const auto contents = redis_contents(redis);
  EXPECT_EQ(contents.size(), 3u);
  for (const auto& [key, value] : contents) {
    for (const char* secret : {"SECRET123", "sk-p", "alice", "127.0.0.1"}) {
      EXPECT_EQ(key.find(secret), std::string::npos) << key;
      EXPECT_EQ(value.find(secret), std::string::npos) << value;
    }
  }
}

TEST(Replicas, ARuleWithStoreLocalCountsPerInstance) {
  RedisServer redis;
  Fleet fleet(redis, "rate_limits:\n  - limit: 2\n    window: 1m\n    store: local\n",
              reports(3, 1));
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(fleet.post(i, chat(5)).status, 200u);
    EXPECT_EQ(fleet.post(i, chat(5)).status, 200u);
    EXPECT_EQ(fleet.post(i, chat(5)).status, 429u);
  }
  EXPECT_TRUE(redis_contents(redis).empty());
}

// While redis-server is down, the rate limit admits (on_error: open, its default) and the
// budget refuses (closed, budgets' default) with an exact 503; every request is answered.
// Once it is back, counting resumes.
TEST(Replicas, RedisKilledMidLoadAnswersEveryRequestByPolicyAndRecovers) {
  RedisServer redis;
  Fleet fleet(redis,
              "rate_limits:\n  - limit: 100000\n    window: 1m\n"
              "  - name: probe\n    limit: 3\n    window: 1h\n    model: probe-model\n"
              "budgets:\n  - name: spend\n    limit_usd: 100\n    window: day\n"
              "    model: gpt-4o\n",
              reports(3, 10));
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::mutex mutex;
  std::map<unsigned, int> mini;   // gpt-4o-mini: the open rate limit only
  std::map<unsigned, int> large;  // gpt-4o: the closed budget too
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&, t] {
      for (int i = 0; i < 400 && !stop.load(); ++i) {
        const bool budgeted = i % 2 == 1;
        const auto res =
            fleet.post(static_cast<std::size_t>(t), chat(5, budgeted ? "gpt-4o" : "gpt-4o-mini"));
        ++sent;
        std::lock_guard lock(mutex);
        ++(budgeted ? large : mini)[res.status];
        if (res.status == 503) {
          EXPECT_EQ(json::parse(res.body, nullptr, false),
                    gateway_error("budget 'spend' cannot be checked right now, and it refuses "
                                  "requests until it can; retry after 1s",
                                  "service_unavailable", "limits_unavailable"))
              << res.body;
          EXPECT_EQ(res.header("retry-after"), "1");
        }
      }
    });
  }
  while (sent.load() < 40) std::this_thread::sleep_for(1ms);
  redis.stop();
  const int at_stop = sent.load();
  while (sent.load() < at_stop + 60) std::this_thread::sleep_for(1ms);
  redis.start();
  stop = true;
  for (auto& t : load) t.join();
  // Every request got an answer, and only the budgeted ones were refused.
  EXPECT_EQ(mini.size(), 1u);
  EXPECT_GT(mini[200], 0);
  EXPECT_EQ(large.size(), 2u);
  EXPECT_GT(large[503], 0);
  EXPECT_GT(large[200], 0);
  int answered = 0;
  for (const auto& m : {mini, large}) {
    for (const auto& [status, n] : m) answered += n;
  }
  EXPECT_EQ(answered, sent.load());

  // Back: the budget admits again once the connection is re-established (reconnects back
  // off, at most 2 s), and the probe rule counts exactly across both instances.
  unsigned status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = fleet.post(0, chat(5, "gpt-4o")).status;
    if (status != 200) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(status, 200u);
  for (int i = 0; i < 100 && fleet.post(1, chat(5, "gpt-4o")).status != 200; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(fleet.post(0, chat(5, "probe-model")).status, 200u);
  EXPECT_EQ(fleet.post(1, chat(5, "probe-model")).status, 200u);
  EXPECT_EQ(fleet.post(0, chat(5, "probe-model")).status, 200u);
  EXPECT_EQ(fleet.post(1, chat(5, "probe-model")).status, 429u);
  EXPECT_EQ(fleet.post(0, chat(5, "probe-model")).status, 429u);
  // The outage is on /metrics.
  const auto metrics = fleet.gateways[0]->admin("/metrics");
  EXPECT_NE(metrics.body.find("aigw_redis_limits_fallbacks_total"), std::string::npos);
  EXPECT_EQ(metrics.body.find("aigw_redis_limits_fallbacks_total 0\n"), std::string::npos);
}

// A Redis that accepts connections and answers nothing (SIGSTOP): each decision waits at most
// redis.command_timeout, then the rule's on_error answers; nothing hangs.
TEST(Replicas, ASilentRedisTimesOutIntoEachRulesPolicy) {
  RedisServer redis;
  Fleet fleet(redis,
              "rate_limits:\n  - limit: 1000\n    window: 1m\n"
              "budgets:\n  - name: spend\n    limit_usd: 100\n    window: day\n"
              "    model: gpt-4o\n",
              reports(3, 10));
  EXPECT_EQ(fleet.post(0, chat(5)).status, 200u);
  redis.pause();
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(fleet.post(i, chat(5)).status, 200u);  // the rate limit admits
    const auto res = fleet.post(i, chat(5, "gpt-4o"));
    EXPECT_EQ(res.status, 503u);  // the budget refuses
    EXPECT_EQ(json::parse(res.body, nullptr, false)["error"]["code"], "limits_unavailable");
  }
  redis.resume();
  unsigned status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = fleet.post(0, chat(5, "gpt-4o")).status;
    if (status != 200) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 200u);
  const std::string metrics = fleet.gateways[0]->admin("/metrics").body;
  EXPECT_EQ(metrics.find("aigw_redis_timeouts_total 0\n"), std::string::npos) << metrics;
}

// A route over custom-a (failing) then custom-b, its breaker shared: one instance's failures
// open it for both, and after the cooldown exactly one probe goes out for the fleet.
TEST(Replicas, ABreakerOpenedByOneInstanceSkipsTheTargetOnTheOtherAndTheFleetProbesOnce) {
  RedisServer redis;
  auto a_status = std::make_shared<std::atomic<unsigned>>(503);
  Gate probe_answers;
  FakeProvider a([&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    const unsigned status = a_status->load();
    if (status == 200) co_await ex.wait(probe_answers, 10s);
    std::string text = R"({"error":{"message":"unavailable"}})";
    if (status == 200) text = R"({"id":"a","object":"chat.completion","choices":[]})";
    co_await ex.respond(status, std::move(text), json_headers());
  });
  FakeProvider b(answers(200));
  auto loaded = config::load_string(
      "redis:\n  url: " + redis.url() +
          "\nroutes:\n  chat:\n    share_client_credentials: true\n    targets:\n"
          "      - provider: custom-a\n        model: model-a\n        priority: 0\n"
          "      - provider: custom-b\n        model: model-b\n        priority: 1\n"
          "    breaker:\n      failures: 2\n      cooldown: 1s\n",
      "fleet.yaml", [](std::string_view) { return std::optional<std::string>(); });
  ASSERT_TRUE(loaded.ok()) << loaded.diagnostics.at(0).str();
  std::vector<std::unique_ptr<TestGateway>> fleet;
  for (int i = 0; i < 2; ++i) {
    Config c = test_config();
    add_provider(c, "custom-a", a.base_url() + "/v1");
    add_provider(c, "custom-b", b.base_url() + "/v1");
    c.redis = loaded.config->redis;
    c.routes = loaded.config->routes;
    fleet.push_back(std::make_unique<TestGateway>(std::move(c)));
  }
  const auto post = [&](std::size_t instance) {
    return http_request(fleet[instance]->port(), "POST", "/route/chat/chat/completions",
                        R"({"model":"x","messages":[{"role":"user","content":"hi"}]})",
                        {{"Content-Type", "application/json"}});
  };
  const auto open_in_redis = [&] {
    for (int i = 0; i < 200; ++i) {
      if (!redis.cli("--scan --pattern 'aigw:br:*:open'").empty()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  // Instance 0 meets the outage twice: the fleet's breaker opens.
  for (int i = 0; i < 2; ++i) {
    const auto res = post(0);
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.header("cf-aig-provider"), "custom-b");
  }
  EXPECT_EQ(a.requests(), 2);
  ASSERT_TRUE(open_in_redis());
  // Instance 1 never failed, yet skips custom-a.
  for (int i = 0; i < 3; ++i) {
    const auto res = post(1);
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.header("cf-aig-provider"), "custom-b");
  }
  EXPECT_EQ(a.requests(), 2);

  // Healed; after the cooldown, requests on both instances at once: one probe reaches
  // custom-a (held until the others are answered), the rest go to custom-b.
  a_status->store(200);
  std::this_thread::sleep_for(1200ms);
  std::vector<std::thread> clients;
  std::atomic<int> to_b{0};
  std::atomic<int> to_a{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30 * (i / 2)));
      const auto res = post(static_cast<std::size_t>(i % 2));
      (res.header("cf-aig-provider") == "custom-a" ? to_a : to_b)++;
    });
  }
  for (int i = 0; i < 1000 && to_b.load() < 7; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(a.requests(), 3);  // the one probe
  probe_answers.open();
  for (auto& c : clients) c.join();
  EXPECT_EQ(to_a.load(), 1);
  EXPECT_EQ(to_b.load(), 7);
  // The probe answered: closed for the fleet, and instance 1 (which did not probe) uses
  // custom-a again once its mirror is refreshed.
  std::string provider;
  for (int i = 0; i < 100 && provider != "custom-a"; ++i) {
    provider = post(1).header("cf-aig-provider");
    if (provider != "custom-a") std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(provider, "custom-a");
  EXPECT_TRUE(redis.cli("--scan --pattern 'aigw:br:*:open'").empty());
}

}  // namespace
}  // namespace aigw::test
