// Metering through the real gateway in front of the TLS fake provider: exact stream usage
// with include_usage added upstream and removed for the client, estimates for aborted
// streams, cost (table, unpriced, cf-aig-custom-cost), metadata, payload and collection
// switches, the admin API over HTTP, /metrics, and no credential in the database.

#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sqlite3.h>
#include <sstream>
#include <thread>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kStreamChat =
    R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]})";
constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]})";
const Headers kJson = {{"Content-Type", "application/json"},
                       {"Authorization", "Bearer sk-test-SECRET-0123456789"}};

Headers with(Headers headers, const std::string& name, const std::string& value) {
  headers.emplace_back(name, value);
  return headers;
}

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(AIGW_SOURCE_DIR) + "/tests/fixtures/usage/" + name,
                   std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The events of an SSE fixture, each with its blank line: one chunk each on the wire.
std::vector<std::string> events(const std::string& stream) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < stream.size()) {
    const auto end = stream.find("\n\n", start);
    const std::size_t stop = end == std::string::npos ? stream.size() : end + 2;
    out.push_back(stream.substr(start, stop - start));
    start = stop;
  }
  return out;
}

std::string completion(const std::string& model) {
  return R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":")" + model +
         R"(","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},)"
         R"("finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":100,)"
         R"("total_tokens":1100,"prompt_tokens_details":{"cached_tokens":200}}})";
}

struct Fixture {
  explicit Fixture(Handler handler, std::function<void(Config&)> tweak = {})
      : fake(std::move(handler)) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    c.metering.prices["openai/gpt-4o-mini"] = ModelPrice{0.15, 0.60, 0.075, std::nullopt};
    if (tweak) tweak(c);
    db_path = c.request_log.path;
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse post(const std::string& body = kChat, const Headers& headers = kJson) {
    return http_request(gateway->port(), "POST", "/openai/chat/completions", body, headers);
  }
  HttpResponse admin(const std::string& target) { return gateway->admin(target); }
  // Waits (bounded) until `n` records were handed to the store — a request's record is
  // made in on_complete, just after its response reached the client — and writes them.
  void settle(std::uint64_t n) {
    auto& log = *gateway->app().telemetry().log;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (log.stats().submitted < n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(1ms);
    }
    log.flush();
  }
  json record(const std::string& id) { return gateway->log_record(id); }
  std::string db_path;
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

Handler replay_openai_stream() {
  return [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const bool asked = json::parse(req.body, nullptr, false)
                           .value("stream_options", json::object())
                           .value("include_usage", false);
    const std::string stream =
        fixture(asked ? "openai_chat_stream_include_usage.sse" : "openai_chat_stream_plain.sse");
    co_await ex.start_stream(200, sse_headers());
    for (auto& e : events(stream)) co_await ex.send_chunk(e);
    co_await ex.end_stream();
  };
}

TEST(Metering, StreamUsageIsExactAndTheClientGetsTheStreamItAskedFor) {
  Fixture f(replay_openai_stream());
  StreamingClient client(f.gateway->port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  const std::string id = client.head().header("cf-aig-log-id");
  // Byte for byte what the provider sends without include_usage.
  EXPECT_EQ(client.read_all(), fixture("openai_chat_stream_plain.sse"));
  // ...while the provider was asked for usage.
  const auto sent = json::parse(f.fake.received().at(0).body);
  EXPECT_EQ(sent["stream_options"]["include_usage"], true);
  EXPECT_EQ(sent["messages"], json::parse(kStreamChat)["messages"]);

  const json r = f.record(id);
  EXPECT_EQ(r["tokens_in"], 1152);
  EXPECT_EQ(r["tokens_out"], 11);
  EXPECT_EQ(r["cached_tokens"], 1024);
  EXPECT_EQ(r["reasoning_tokens"], 0);
  EXPECT_EQ(r["estimated"], false);
  EXPECT_EQ(r["model"], "gpt-4o-mini-2024-07-18");  // dated name, priced as gpt-4o-mini
  EXPECT_NEAR(r["cost"].get<double>(), (128 * 0.15 + 1024 * 0.075 + 11 * 0.60) / 1e6, 1e-12);
  EXPECT_EQ(r["streamed"], true);
  EXPECT_EQ(r["success"], true);
}

TEST(Metering, AClientThatAskedForUsageGetsItAndNothingIsInjected) {
  Fixture f(replay_openai_stream());
  const std::string body =
      R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},)"
      R"("messages":[{"role":"user","content":"Say hello"}]})";
  StreamingClient client(f.gateway->port(), "POST", "/openai/chat/completions", body, kJson);
  EXPECT_EQ(client.read_all(), fixture("openai_chat_stream_include_usage.sse"));
  EXPECT_EQ(f.fake.received().at(0).body, body);
  EXPECT_EQ(f.record(client.head().header("cf-aig-log-id"))["tokens_out"], 11);
}

TEST(Metering, IncludeUsageCanBeTurnedOffPerProvider) {
  Fixture f(replay_openai_stream(), [](Config& c) { c.providers["openai"].include_usage = false; });
  StreamingClient client(f.gateway->port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(client.read_all(), fixture("openai_chat_stream_plain.sse"));
  EXPECT_EQ(f.fake.received().at(0).body, kStreamChat);  // untouched
  const json r = f.record(client.head().header("cf-aig-log-id"));
  EXPECT_EQ(r["estimated"], true);  // no usage reported: estimated from the text, flagged
  EXPECT_GT(r["tokens_out"].get<int>(), 0);
}

// metering.enabled: false turns off usage parsing, not the request log: the request still
// ends as one record (and one metrics sample), without tokens or cost.
TEST(Metering, MeteringOffStillLogsEveryRequestWithoutUsage) {
  Fixture f(replay_openai_stream(), [](Config& c) { c.metering.enabled = false; });
  StreamingClient client(f.gateway->port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(client.read_all(), fixture("openai_chat_stream_plain.sse"));
  EXPECT_EQ(f.fake.received().at(0).body, kStreamChat);  // no include_usage rewrite
  const json r = f.record(client.head().header("cf-aig-log-id"));
  EXPECT_EQ(r["provider"], "openai");
  EXPECT_EQ(r["model"], "gpt-4o-mini");  // the request's: nothing read the response
  EXPECT_EQ(r["status_code"], 200);
  EXPECT_EQ(r["streamed"], true);
  EXPECT_TRUE(r["tokens_in"].is_null());
  EXPECT_TRUE(r["cost"].is_null());
  EXPECT_EQ(r["unpriced"], false);
  const auto metrics = http_request(f.gateway->admin_port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find(R"(aigw_requests_total{provider="openai",model="gpt-4o-mini")"),
            std::string::npos)
      << metrics.body;
}

TEST(Metering, RequestLogOffOpensNoDatabase) {
  Fixture f(replay_openai_stream(), [](Config& c) { c.request_log.enabled = false; });
  StreamingClient client(f.gateway->port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(client.read_all(), fixture("openai_chat_stream_plain.sse"));
  EXPECT_FALSE(client.head().header("cf-aig-log-id").empty());  // ids are the gateway's
  EXPECT_EQ(f.gateway->app().telemetry().log, nullptr);
  EXPECT_FALSE(std::filesystem::exists(f.db_path));
  const auto logs = http_request(f.gateway->admin_port(), "GET", "/api/logs");
  EXPECT_EQ(logs.status, 404u);
  EXPECT_EQ(json::parse(logs.body)["error"]["message"],
            "the request log is off (request_log.enabled is false)");
}

TEST(Metering, AnAbortedStreamIsRecordedWithTheTokensSeenSoFarAsEstimated) {
  Gate gate;
  Fixture f([&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    const auto all = events(fixture("openai_chat_stream_include_usage.sse"));
    co_await ex.start_stream(200, sse_headers());
    for (std::size_t i = 0; i < 4; ++i) co_await ex.send_chunk(all[i]);
    co_await ex.wait(gate, 10s);  // the client leaves here
    // SSE comments carry no text: the gateway finds the client gone on relaying one, and
    // the tokens seen stay those of the four events above.
    for (int i = 0; i < 100; ++i) {
      if (!co_await ex.send_chunk(": keep-alive\n\n")) co_return;
      co_await ex.sleep(20ms);
    }
  });
  auto client = std::make_unique<StreamingClient>(f.gateway->port(), "POST",
                                                  "/openai/chat/completions", kStreamChat, kJson);
  const std::string id = client->head().header("cf-aig-log-id");
  client->read_until(" How");
  client->close();
  client.reset();
  gate.open();  // the next event finds the client gone: the provider request is cancelled
  ASSERT_TRUE(f.fake.wait_closed(1, 10s));
  const json r = f.record(id);  // on_complete runs once the abort is seen
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["outcome"], "client_abort");
  EXPECT_EQ(r["success"], false);
  EXPECT_EQ(r["estimated"], true);
  EXPECT_EQ(r["tokens_out"], 3);  // "Hello! How": 10 characters, one token per four
  EXPECT_GT(r["tokens_in"].get<int>(), 0);
  EXPECT_TRUE(r["cost"].is_number());  // estimated figures are still priced
}

TEST(Metering, UnpricedModelsHaveNoCostNeverZero) {
  Fixture f([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, completion("mystery-model-1"), json_headers());
  });
  const auto res = f.post();
  ASSERT_EQ(res.status, 200u);
  const json r = f.record(res.header("cf-aig-log-id"));
  EXPECT_TRUE(r.contains("cost"));
  EXPECT_TRUE(r["cost"].is_null());
  EXPECT_EQ(r["unpriced"], true);
  EXPECT_EQ(r["tokens_in"], 1000);
  const auto metrics = f.admin("/metrics");
  EXPECT_NE(metrics.body.find(
                R"(aigw_unpriced_requests_total{provider="openai",model="mystery-model-1"} 1)"),
            std::string::npos);
}

// Untrusted (the default), a client's prices are validated and ignored: the table prices the
// request, so a client cannot make a budget charge it nothing (issue 15, finding 3).
TEST(Metering, CustomCostIsIgnoredUnlessTheOperatorTrustsClientPrices) {
  Fixture f([](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    EXPECT_FALSE(req.has("cf-aig-custom-cost"));  // consumed, never forwarded
    co_await ex.respond(200, completion("gpt-4o-mini"), json_headers());
  });
  const auto res =
      f.post(kChat, with(kJson, "cf-aig-custom-cost", R"({"per_token_in":0,"per_token_out":0})"));
  ASSERT_EQ(res.status, 200u);
  const json r = f.record(res.header("cf-aig-log-id"));
  EXPECT_EQ(r["custom_cost"], false);
  // The table's price: 800 uncached and 200 cached input tokens, 100 output.
  EXPECT_NEAR(r["cost"].get<double>(), 800 * 0.15e-6 + 200 * 0.075e-6 + 100 * 0.60e-6, 1e-12);
}

TEST(Metering, CustomCostPricesTheRequestWhenTrusted) {
  Fixture f(
      [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        EXPECT_FALSE(req.has("cf-aig-custom-cost"));  // consumed, never forwarded
        co_await ex.respond(200, completion("gpt-4o-mini"), json_headers());
      },
      [](Config& c) { c.metering.trust_client_cost = true; });
  const auto res = f.post(kChat, with(kJson, "cf-aig-custom-cost",
                                      R"({"per_token_in":0.000001,"per_token_out":0.00001})"));
  ASSERT_EQ(res.status, 200u);
  const json r = f.record(res.header("cf-aig-log-id"));
  EXPECT_EQ(r["custom_cost"], true);
  EXPECT_NEAR(r["cost"].get<double>(), 1000 * 1e-6 + 100 * 1e-5, 1e-12);

  const auto bad = f.post(kChat, with(kJson, "cf-aig-custom-cost", R"({"per_token_in":1})"));
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.body,
            R"({"error":{"code":"invalid_header","message":"cf-aig-custom-cost needs )"
            R"(per_token_in and per_token_out","param":null,"type":"invalid_request_error"}})");
  EXPECT_EQ(f.fake.requests(), 1);  // the bad one never reached the provider
}

TEST(Metering, MetadataIsStoredFilterableAndValidated) {
  Fixture f([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, completion("gpt-4o-mini"), json_headers());
  });
  const auto a = f.post(kChat, with(kJson, "cf-aig-metadata", R"({"user":"alice","team":7})"));
  const auto b = f.post(kChat, with(kJson, "cf-aig-metadata", R"({"user":"bob"})"));
  ASSERT_EQ(a.status, 200u);
  ASSERT_EQ(b.status, 200u);
  EXPECT_EQ(f.record(a.header("cf-aig-log-id"))["metadata"],
            json::parse(R"({"user":"alice","team":7})"));
  const auto found = f.admin("/api/logs?metadata.key=user&metadata.value=alice");
  ASSERT_EQ(found.status, 200u) << found.body;
  const json page = json::parse(found.body);
  ASSERT_EQ(page["result"].size(), 1u);
  EXPECT_EQ(page["result"][0]["id"], a.header("cf-aig-log-id"));

  const auto nested = f.post(kChat, with(kJson, "cf-aig-metadata", R"({"user":{"id":1}})"));
  EXPECT_EQ(nested.status, 400u);
  EXPECT_EQ(nested.body,
            R"({"error":{"code":"invalid_header","message":"cf-aig-metadata value of 'user' )"
            R"(must be a string, a number or a boolean","param":null,)"
            R"("type":"invalid_request_error"}})");
  const auto six =
      f.post(kChat, with(kJson, "cf-aig-metadata", R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6})"));
  EXPECT_EQ(six.status, 400u);
  EXPECT_NE(six.body.find("cf-aig-metadata has 6 entries; at most 5 are allowed"),
            std::string::npos);
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(Metering, BodiesAreStoredOnlyWhenPayloadLoggingIsOn) {
  Handler answer = [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, completion("gpt-4o-mini"), json_headers());
  };
  {
    Fixture off(answer);  // log.payloads defaults to false
    const auto res = off.post();
    const json r = off.record(res.header("cf-aig-log-id"));
    EXPECT_FALSE(r.contains("request_body"));
    EXPECT_FALSE(r.contains("response_body"));
  }
  Fixture on(answer, [](Config& c) { c.request_log.payloads = true; });
  const auto res = on.post();
  const json r = on.record(res.header("cf-aig-log-id"));
  EXPECT_EQ(r["request_body"], kChat);
  EXPECT_EQ(r["response_body"], completion("gpt-4o-mini"));
  // Per request: no payload, or no record at all.
  const auto no_payload = on.post(kChat, with(kJson, "cf-aig-collect-log-payload", "false"));
  EXPECT_FALSE(on.record(no_payload.header("cf-aig-log-id")).contains("request_body"));
  const auto no_log = on.post(kChat, with(kJson, "cf-aig-collect-log", "false"));
  EXPECT_EQ(no_log.status, 200u);
  const auto after = on.post();  // recorded once the one before it would have been
  on.record(after.header("cf-aig-log-id"));
  EXPECT_EQ(on.admin("/api/logs/" + no_log.header("cf-aig-log-id")).status, 404u);
  const json listed = json::parse(on.admin("/api/logs").body)["result"];
  for (const auto& record : listed) EXPECT_NE(record["id"], no_log.header("cf-aig-log-id"));
  // Still in the accounts (budgets rebuilt from the log count it), without what was sent.
  const json usage = json::parse(on.admin("/api/usage").body)["result"];
  ASSERT_EQ(usage.size(), 1u) << usage.dump();
  EXPECT_EQ(usage[0]["requests"], 4);
  EXPECT_EQ(usage[0]["tokens_in"], 4000);
  on.gateway.reset();  // the writer flushed and closed
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(on.db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const std::string sql =
      "SELECT path, user_agent, metadata, request_body IS NULL, cost > 0, key_name FROM logs "
      "WHERE accounting_only = 1 AND id = '" +
      no_log.header("cf-aig-log-id") + "'";
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)), "");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2)), "{}");
  EXPECT_EQ(sqlite3_column_int(stmt, 3), 1);
  EXPECT_EQ(sqlite3_column_int(stmt, 4), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(Metering, NoCredentialEverReachesTheDatabase) {
  Fixture f(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.respond(200, completion("gpt-4o-mini"), json_headers());
      },
      [](Config& c) { c.request_log.payloads = true; });
  Headers h = {{"Content-Type", "application/json"},
               {"Authorization", "Bearer sk-live-SECRET-A1"},
               {"x-api-key", "SECRET-B2"},
               {"api-key", "SECRET-C3"},
               {"x-goog-api-key", "SECRET-D4"}};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(f.post(kChat, h).status, 200u);
  ASSERT_EQ(http_request(f.gateway->port(), "POST", "/openai/chat/completions?key=SECRET-E5&x=1",
                         kChat, h)
                .status,
            200u);
  f.settle(4);
  std::string bytes;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::ifstream in(f.db_path + suffix, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    bytes += out.str();
  }
  ASSERT_GT(bytes.size(), 1000u);
  for (const char* secret : {"SECRET-A1", "SECRET-B2", "SECRET-C3", "SECRET-D4", "SECRET-E5"}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
  }
  std::ifstream access(f.gateway->access_log(), std::ios::binary);
  std::ostringstream access_text;
  access_text << access.rdbuf();
  EXPECT_EQ(access_text.str().find("SECRET"), std::string::npos);
}

TEST(Metering, TheApiFiltersAndRefusesBadParameters) {
  std::atomic<int> n{0};
  Fixture f([&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    if (++n == 2) {
      co_await ex.respond(429, R"({"error":{"message":"slow down"}})", json_headers());
    } else {
      co_await ex.respond(200, completion("gpt-4o-mini"), json_headers());
    }
  });
  for (int i = 0; i < 3; ++i) f.post();
  f.settle(3);
  auto count = [&](const std::string& query) {
    const auto res = f.admin("/api/logs" + query);
    EXPECT_EQ(res.status, 200u) << query << ": " << res.body;
    return json::parse(res.body, nullptr, false)["result"].size();
  };
  EXPECT_EQ(count(""), 3u);
  EXPECT_EQ(count("?status=429"), 1u);
  EXPECT_EQ(count("?success=true"), 2u);
  EXPECT_EQ(count("?provider=openai&model=gpt-4o-mini"), 3u);  // the 429's from the request
  EXPECT_EQ(count("?model=gpt-4o-mini&success=false"), 1u);
  EXPECT_EQ(count("?provider=anthropic"), 0u);
  EXPECT_EQ(count("?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"), 3u);
  EXPECT_EQ(count("?to=2000-01-01T00:00:00Z"), 0u);
  // Pages: two of one record, then the last.
  const json first = json::parse(f.admin("/api/logs?limit=2").body);
  ASSERT_EQ(first["result"].size(), 2u);
  const json rest = json::parse(
      f.admin("/api/logs?limit=2&cursor=" + first["next_cursor"].get<std::string>()).body);
  EXPECT_EQ(rest["result"].size(), 1u);
  EXPECT_TRUE(rest["next_cursor"].is_null());

  const auto usage = f.admin("/api/usage?group_by=model");
  ASSERT_EQ(usage.status, 200u) << usage.body;
  const json rows = json::parse(usage.body)["result"];
  std::uint64_t requests = 0, errors = 0, tokens = 0;
  for (const auto& row : rows) {
    requests += row["requests"].get<std::uint64_t>();
    errors += row["errors"].get<std::uint64_t>();
    tokens += row["tokens_in"].get<std::uint64_t>();
  }
  EXPECT_EQ(requests, 3u);
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(tokens, 2000u);

  const auto bad = f.admin("/api/logs?status=abc");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.body, R"({"error":{"code":"bad_request","message":"status must be an HTTP )"
                      R"(status code from 100 to 599","param":null,)"
                      R"("type":"invalid_request_error"}})");
  EXPECT_NE(f.admin("/api/logs?colour=red").body.find("unknown query parameter colour"),
            std::string::npos);
  EXPECT_NE(f.admin("/api/logs?from=yesterday").body.find("from must be Unix milliseconds"),
            std::string::npos);
  EXPECT_EQ(f.admin("/api/logs/01234567-no-such-id").status, 404u);
  EXPECT_NE(f.admin("/api/usage?group_by=colour").body.find("group_by must be"), std::string::npos);
}

TEST(Metering, CacheHitsAreLoggedAsCachedAtNoCost) {
  Fixture f(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.respond(200, completion("gpt-4o-mini"), json_headers());
      },
      [](Config& c) { c.cache.enabled = true; });
  const auto miss = f.post();
  const auto hit = f.post();
  ASSERT_EQ(hit.header("cf-aig-cache-status"), "HIT");
  const json m = f.record(miss.header("cf-aig-log-id"));
  const json h = f.record(hit.header("cf-aig-log-id"));
  EXPECT_EQ(m["cached"], false);
  EXPECT_GT(m["cost"].get<double>(), 0);
  EXPECT_EQ(h["cached"], true);
  EXPECT_EQ(h["cost"], 0.0);
  EXPECT_EQ(h["tokens_in"], 1000);  // what the cached response reports
  EXPECT_EQ(h["estimated"], false);
  EXPECT_EQ(f.fake.requests(), 1);
}

TEST(Metering, AStreamedHitLogsTheUsageTheGatewayRemovedFromTheReplayedStream) {
  // The client did not ask for usage: the gateway did, and removed the usage event, so the
  // cached stream holds no usage. The hit is metered from what was metered when it was stored.
  Fixture f(replay_openai_stream(), [](Config& c) { c.cache.enabled = true; });
  StreamingClient miss(f.gateway->port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(miss.read_all(), fixture("openai_chat_stream_plain.sse"));
  StreamingClient hit(f.gateway->port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  ASSERT_EQ(hit.head().header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(hit.read_all(), fixture("openai_chat_stream_plain.sse"));
  const json m = f.record(miss.head().header("cf-aig-log-id"));
  const json h = f.record(hit.head().header("cf-aig-log-id"));
  EXPECT_EQ(h["cached"], true);
  EXPECT_EQ(h["cost"], 0.0);
  EXPECT_EQ(h["model"], m["model"]);
  EXPECT_EQ(h["tokens_in"], 1152);
  EXPECT_EQ(h["tokens_out"], 11);
  EXPECT_EQ(h["cached_tokens"], 1024);
  EXPECT_EQ(h["estimated"], false);
  EXPECT_EQ(f.fake.requests(), 1);
}

// Every attempt is asked for usage where its provider needs it, whichever step it is: a
// universal request whose first step (another provider) fails is metered exactly from the
// answering provider's own usage, and its client still gets the stream it asked for. Before
// attempts, only step 0's body was rewritten and this stream was estimated.
TEST(Metering, AUniversalStepOnAnotherProviderIsMeteredFromThatProvidersUsage) {
  FakeProvider down(answers(503));
  Fixture f(replay_openai_stream(),
            [&](Config& c) { add_provider(c, "custom-down", down.base_url() + "/v1"); });
  const json query = json::parse(kStreamChat);
  const json steps = json::array(
      {{{"provider", "custom-down"}, {"endpoint", "chat/completions"}, {"query", query}},
       {{"provider", "openai"}, {"endpoint", "chat/completions"}, {"query", query}}});
  StreamingClient client(f.gateway->port(), "POST", "/", steps.dump(), kJson);
  ASSERT_EQ(client.head().status, 200u);
  EXPECT_EQ(client.head().header("cf-aig-step"), "1");
  const std::string id = client.head().header("cf-aig-log-id");
  EXPECT_EQ(client.read_all(), fixture("openai_chat_stream_plain.sse"));
  // Each attempt was asked on its own copy of the body (custom-* providers speak OpenAI's API
  // too); the client's request stayed as it came.
  EXPECT_EQ(json::parse(down.received().at(0).body)["stream_options"]["include_usage"], true);
  EXPECT_EQ(json::parse(f.fake.received().at(0).body)["stream_options"]["include_usage"], true);
  const json r = f.record(id);
  EXPECT_EQ(r["provider"], "openai");
  EXPECT_EQ(r["tokens_in"], 1152);
  EXPECT_EQ(r["tokens_out"], 11);
  EXPECT_EQ(r["cached_tokens"], 1024);
  EXPECT_EQ(r["estimated"], false);
  ASSERT_EQ(r["attempts"].size(), 2u);
  EXPECT_EQ(r["attempts"][0]["status_code"], 503);
}

// One summary feeds the access log, the request log and the metrics: they agree on the
// provider, the model, the attempts, the time to the first byte, the tokens and the cost.
TEST(Metering, TheAccessLogTheRequestLogAndTheMetricsAgree) {
  FakeProvider down(answers(503));
  Fixture f(replay_openai_stream(),
            [&](Config& c) { add_provider(c, "custom-down", down.base_url() + "/v1"); });
  const json query = json::parse(kStreamChat);
  const json steps = json::array(
      {{{"provider", "custom-down"}, {"endpoint", "chat/completions"}, {"query", query}},
       {{"provider", "openai"}, {"endpoint", "chat/completions"}, {"query", query}}});
  StreamingClient client(f.gateway->port(), "POST", "/", steps.dump(), kJson);
  client.read_all();
  const json r = f.record(client.head().header("cf-aig-log-id"));
  const auto lines = f.gateway->access_log_lines(1);
  ASSERT_EQ(lines.size(), 1u);
  const json a = json::parse(lines[0]);
  EXPECT_EQ(a["id"], r["id"]);
  EXPECT_EQ(a["provider"], r["provider"]);
  EXPECT_EQ(a["model"], r["model"]);
  EXPECT_EQ(a["status"], r["status_code"]);
  EXPECT_EQ(a["attempts"], 2);
  EXPECT_EQ(a["attempts"], r["attempts"].size());
  EXPECT_EQ(a["tokens_in"], r["tokens_in"]);
  EXPECT_EQ(a["tokens_out"], r["tokens_out"]);
  EXPECT_EQ(a["cost"], r["cost"]) << lines[0] << "\n" << r.dump();
  EXPECT_NEAR(a["ttfb_ms"].get<double>(), r["time_to_first_byte"].get<double>(), 1e-6);
  EXPECT_NEAR(a["duration_ms"].get<double>(), r["duration"].get<double>(), 1e-6);
  const std::string metrics = f.gateway->admin("/metrics").body;
  EXPECT_NE(metrics.find(R"(aigw_fallbacks_total{from="custom-down",to="openai"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(aigw_tokens_total{provider="openai",model=")" +
                         r["model"].get<std::string>() + R"(",kind="input"} 1152)"),
            std::string::npos)
      << metrics;
}

// The cache keys a request by what the client sent, not by what an attempt sent upstream:
// the stream the gateway asked usage for is found again by the same client bytes, and a
// client that asks for usage itself (other bytes, another answer) has its own entry.
TEST(Metering, CacheEntriesAreKeyedByWhatTheClientSent) {
  Fixture f(replay_openai_stream(), [](Config& c) { c.cache.enabled = true; });
  StreamingClient miss(f.gateway->port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(miss.head().header("cf-aig-cache-status"), "MISS");
  miss.read_all();
  StreamingClient hit(f.gateway->port(), "POST", "/openai/chat/completions", kStreamChat, kJson);
  EXPECT_EQ(hit.head().header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(hit.read_all(), fixture("openai_chat_stream_plain.sse"));
  json asks = json::parse(kStreamChat);
  asks["stream_options"] = {{"include_usage", true}};
  StreamingClient own(f.gateway->port(), "POST", "/openai/chat/completions", asks.dump(), kJson);
  EXPECT_EQ(own.head().header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(own.read_all(), fixture("openai_chat_stream_include_usage.sse"));
  EXPECT_EQ(f.fake.requests(), 2);
}

TEST(Metering, MetricsAreServedInThePrometheusFormat) {
  Fixture f([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, completion("gpt-4o-mini"), json_headers());
  });
  f.post();
  f.settle(1);  // the sample is recorded with the log record, in on_complete
  const auto res = f.admin("/metrics");
  ASSERT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const char* line :
       {R"(aigw_requests_total{provider="openai",model="gpt-4o-mini",status="200",cache=""} 1)",
        R"(aigw_tokens_total{provider="openai",model="gpt-4o-mini",kind="input"} 1000)",
        "# TYPE aigw_gateway_overhead_seconds histogram", "# TYPE aigw_requests_in_flight gauge",
        "aigw_log_dropped_total 0", "# TYPE aigw_log_queue_depth gauge"}) {
    EXPECT_NE(res.body.find(line), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace aigw::test
