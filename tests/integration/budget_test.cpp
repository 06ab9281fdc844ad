// Spend budgets through the real gateway: a request's cost is estimated and reserved at
// admission (so a concurrent burst cannot overshoot), settled with the metered cost, refused
// with 429 budget_exceeded once the budget is spent, and the spend survives a restart because
// it is rebuilt from the request log. Unpriced models are admitted or refused as configured;
// cache hits cost nothing.

#include "config/load.hpp"
#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

// "Say hello" is estimated at 3 prompt tokens. At $1 / $2 per million input / output tokens a
// request with max_tokens 300 is estimated at 3 + 600 = 603 millionths of a dollar, and the
// fake provider reports exactly 3 in and 300 out, so it also costs $0.000603.
std::string chat(int max_tokens, const std::string& model = "gpt-4o-mini",
                 const std::string& text = "Say hello") {
  return R"({"model":")" + model + R"(","max_tokens":)" + std::to_string(max_tokens) +
         R"(,"messages":[{"role":"user","content":")" + text + R"("}]})";
}

std::string completion(int prompt, int output, const std::string& model = "gpt-4o-mini") {
  return R"({"id":"x","object":"chat.completion","model":")" + model +
         R"(","choices":[],"usage":{"prompt_tokens":)" + std::to_string(prompt) +
         R"(,"completion_tokens":)" + std::to_string(output) + R"(,"total_tokens":)" +
         std::to_string(prompt + output) + "}}";
}

Handler reports(int prompt, int output) {
  return [=](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const auto body = json::parse(req.body, nullptr, false);
    const std::string model = body.is_object() ? body.value("model", "") : "";
    co_await ex.respond(200, completion(prompt, output, model), json_headers());
  };
}

Config load(const std::string& yaml) {
  auto loaded = config::load_string(yaml, "budgets.yaml", [](std::string_view name) {
    if (name == "A_TOKEN") return std::optional<std::string>("tok-a");
    if (name == "B_TOKEN") return std::optional<std::string>("tok-b");
    return std::optional<std::string>();
  });
  EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].str());
  return loaded.config ? *loaded.config : Config{};
}

struct Fixture {
  // `db`: the request log file, "" for a new one; a second Fixture on the same file is the
  // gateway restarted.
  Fixture(const std::string& yaml, Handler handler, const std::string& db = "", bool cache = false)
      : fake(std::move(handler)) {
    const Config loaded = load(yaml);
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    c.auth = loaded.auth;
    c.keys = loaded.keys;
    c.budgets = loaded.budgets;
    c.metering.prices["openai/gpt-4o-mini"] = ModelPrice{1.0, 2.0, std::nullopt, std::nullopt};
    c.cache.enabled = cache;
    if (!db.empty()) c.request_log.path = db;
    db_path = c.request_log.path;
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post(const std::string& body, Headers extra = {}) {
    Headers headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-p"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    return http_request(gateway->port(), "POST", "/openai/chat/completions", body, headers);
  }
  FakeProvider fake;
  std::string db_path;
  std::unique_ptr<TestGateway> gateway;
};

constexpr const char* kTwoThousandths = R"(
budgets:
  - name: spend
    limit_usd: 0.002
    window: 1h
)";

constexpr const char* kStrictUnpriced = R"(
budgets:
  - name: strict
    limit_usd: 1
    window: month
    unpriced: refuse
)";

// The 429's message up to its retry-after, which depends on the clock.
void expect_budget_429(const HttpResponse& res, const std::string& message_start) {
  EXPECT_EQ(res.status, 429u);
  const auto body = json::parse(res.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << res.body;
  const std::string message = body["error"]["message"];
  EXPECT_EQ(message.substr(0, message_start.size()), message_start) << message;
  EXPECT_EQ(body, gateway_error(message, "rate_limit_error", "budget_exceeded"));
  EXPECT_FALSE(res.header("retry-after").empty());
  EXPECT_EQ(res.header("x-ratelimit-limit"), "");
}

TEST(Budgets, SpendIsChargedUntilTheBudgetIsGoneThenAnExact429) {
  Fixture f(kTwoThousandths, reports(3, 300));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.post(chat(300)).status, 200u) << i;
  // $0.001809 spent: the fourth needs $0.000603 more than the $0.000191 left.
  expect_budget_429(f.post(chat(300)),
                    "budget 'spend' exceeded: $0.002 per 1h (fixed window); this request needs "
                    "about $0.000603; retry after ");
  // A cheaper request still fits.
  EXPECT_EQ(f.post(chat(10)).status, 200u);
  EXPECT_EQ(f.fake.requests(), 4);
}

TEST(Budgets, AReservationIsSettledWithTheMeteredCost) {
  // Reserves $0.001803 (max_tokens 900) but the provider reports 3 + 10 tokens: $0.000023.
  Fixture f(kTwoThousandths, reports(3, 10));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.post(chat(900)).status, 200u) << i;
  EXPECT_EQ(f.fake.requests(), 4);
}

TEST(Budgets, ReservationsStopAConcurrentBurstFromOvershooting) {
  Gate release;
  Fixture f(kTwoThousandths, [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.wait(release, 10s);
    co_await ex.respond(200, completion(3, 300), json_headers());
  });
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 10; ++i) {
    clients.emplace_back([&] { (f.post(chat(300)).status == 200 ? ok : refused)++; });
  }
  for (int i = 0; i < 1000 && refused.load() < 7; ++i) std::this_thread::sleep_for(5ms);
  release.open();
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(refused.load(), 7);
  EXPECT_EQ(f.fake.requests(), 3);
}

TEST(Budgets, CacheHitsCostNothing) {
  Fixture f(R"(
budgets:
  - name: spend
    limit_usd: 0.0007
    window: day
)",
            reports(3, 300), "", /*cache=*/true);
  EXPECT_EQ(f.post(chat(300)).status, 200u);
  const auto hit = f.post(chat(300));
  EXPECT_EQ(hit.status, 200u);
  EXPECT_EQ(hit.header("cf-aig-cache-status"), "HIT");
  expect_budget_429(f.post(chat(300, "gpt-4o-mini", "Say hello again")),
                    "budget 'spend' exceeded: $0.0007 per 1d (fixed window)");
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Budgets, UnpricedModelsAreAdmittedOrRefusedAsConfigured) {
  Fixture allow(kTwoThousandths, reports(3, 300));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(allow.post(chat(300, "mystery-model")).status, 200u);
  // Charged nothing: the priced budget is untouched.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(allow.post(chat(300)).status, 200u);

  Fixture refuse(kStrictUnpriced, reports(3, 300));
  const auto res = refuse.post(chat(300, "mystery-model"));
  EXPECT_EQ(res.status, 403u);
  EXPECT_EQ(json::parse(res.body, nullptr, false),
            gateway_error("budget 'strict' refuses models without a price, and "
                          "'openai/mystery-model' has none",
                          "permission_error", "unpriced_model"))
      << res.body;
  EXPECT_EQ(refuse.post(chat(300)).status, 200u);
  EXPECT_EQ(refuse.fake.requests(), 1);
}

TEST(Budgets, SpendSurvivesARestart) {
  std::string db;
  {
    Fixture first(kTwoThousandths, reports(3, 300));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(first.post(chat(300)).status, 200u);
    db = first.db_path;
  }  // stopped: the request log is flushed and closed
  Fixture second(kTwoThousandths, reports(3, 300), db);
  expect_budget_429(second.post(chat(300)), "budget 'spend' exceeded: $0.002 per 1h");
  EXPECT_EQ(second.post(chat(10)).status, 200u);
  EXPECT_EQ(second.fake.requests(), 1);
}

// cf-aig-custom-cost cannot lower what a budget charges unless the operator trusts client
// prices (issue 15, finding 3): before, 20 of 20 requests of a spent key went through with
// {"per_token_in":0,"per_token_out":0}, and unpriced: refuse let them in too.
TEST(Budgets, AClientsZeroPricesDoNotGetPastASpentBudget) {
  Fixture f(kTwoThousandths, reports(3, 300));
  const Headers zero = {{"cf-aig-custom-cost", R"({"per_token_in":0,"per_token_out":0})"}};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.post(chat(300), zero).status, 200u) << i;
  for (int i = 0; i < 5; ++i) {
    expect_budget_429(f.post(chat(300), zero), "budget 'spend' exceeded: $0.002 per 1h");
  }
  EXPECT_EQ(f.fake.requests(), 3);

  Fixture refuse(kStrictUnpriced, reports(3, 300));
  EXPECT_EQ(refuse.post(chat(300, "mystery-model"), zero).status, 403u);
  EXPECT_EQ(refuse.fake.requests(), 0);
}

// A key the operator trusts prices its own requests, budgets included.
TEST(Budgets, ATrustedKeysPricesAreCharged) {
  Fixture f(R"(
auth:
  enabled: true
keys:
  batch:
    token: ${A_TOKEN}
    trust_client_cost: true
budgets:
  - name: spend
    limit_usd: 0.002
    window: 1h
)",
            reports(3, 300));
  const Headers as_batch = {{"cf-aig-authorization", "Bearer tok-a"},
                            {"cf-aig-custom-cost", R"({"per_token_in":0,"per_token_out":0})"}};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f.post(chat(300), as_batch).status, 200u) << i;
}

// cf-aig-collect-log: false keeps a request out of the log, not out of the budget rebuilt at
// start (issue 15, finding 12).
TEST(Budgets, SpendOfUnloggedRequestsSurvivesARestart) {
  std::string db;
  {
    Fixture first(kTwoThousandths, reports(3, 300));
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(first.post(chat(300), {{"cf-aig-collect-log", "false"}}).status, 200u);
    }
    db = first.db_path;
  }
  Fixture second(kTwoThousandths, reports(3, 300), db);
  expect_budget_429(second.post(chat(300)), "budget 'spend' exceeded: $0.002 per 1h");
  EXPECT_EQ(second.fake.requests(), 0);
}

TEST(Budgets, PerKeySpendSurvivesARestart) {
  const std::string yaml = R"(
auth:
  enabled: true
keys:
  team-a:
    token: ${A_TOKEN}
  team-b:
    token: ${B_TOKEN}
budgets:
  - name: per-team
    limit_usd: 0.002
    window: 1h
    per: key
)";
  std::string db;
  {
    Fixture first(yaml, reports(3, 300));
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(first.post(chat(300), {{"cf-aig-authorization", "Bearer tok-a"}}).status, 200u);
    }
    db = first.db_path;
  }
  Fixture second(yaml, reports(3, 300), db);
  expect_budget_429(second.post(chat(300), {{"cf-aig-authorization", "Bearer tok-a"}}),
                    "budget 'per-team' exceeded");
  EXPECT_EQ(second.post(chat(300), {{"cf-aig-authorization", "Bearer tok-b"}}).status, 200u);
}

TEST(Budgets, SlidingPerMetadataSpendSurvivesARestart) {
  const std::string yaml = R"(
budgets:
  - name: per-user
    limit_usd: 0.002
    window: 1h
    technique: sliding
    per: metadata:user
)";
  std::string db;
  {
    Fixture first(yaml, reports(3, 300));
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(first.post(chat(300), {{"cf-aig-metadata", R"({"user":"alice"})"}}).status, 200u);
    }
    db = first.db_path;
  }
  Fixture second(yaml, reports(3, 300), db);
  expect_budget_429(second.post(chat(300), {{"cf-aig-metadata", R"({"user":"alice"})"}}),
                    "budget 'per-user' exceeded: $0.002 per 1h (sliding window)");
  EXPECT_EQ(second.post(chat(300), {{"cf-aig-metadata", R"({"user":"bob"})"}}).status, 200u);
}

// A stream's spend is charged as its text arrives: with $0.000023 reserved (max_tokens 10)
// it has streamed $0.002403 worth (1 200 output tokens at $2 a million) when the next
// request asks for room, and is refused.
TEST(Budgets, AStreamIsChargedAsItRuns) {
  Gate finish;
  Fixture f(kTwoThousandths, [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    const json chunk = {
        {"object", "chat.completion.chunk"},
        {"model", "gpt-4o-mini"},
        {"choices", {{{"index", 0}, {"delta", {{"content", std::string(4800, 'y')}}}}}}};
    co_await ex.send_chunk("data: " + chunk.dump() + "\n\n: sent\n\n");
    co_await ex.wait(finish, 10s);
    co_await ex.send_chunk("data: [DONE]\n\n");
    co_await ex.end_stream();
  });
  StreamingClient stream(f.gateway->port(), "POST", "/openai/chat/completions",
                         R"({"model":"gpt-4o-mini","stream":true,"max_tokens":10,)"
                         R"("messages":[{"role":"user","content":"Say hello"}]})",
                         {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-p"}});
  ASSERT_EQ(stream.head().status, 200u);
  stream.read_until(": sent");
  expect_budget_429(f.post(chat(10)),
                    "budget 'spend' exceeded: $0.002 per 1h (fixed window); "
                    "this request needs about $0.000023");
  finish.open();
  stream.read_all();
  EXPECT_EQ(f.fake.requests(), 1);
}

}  // namespace
}  // namespace aigw::test
