// The admin listener as an operator uses it: tokens (admin.tokens) in front of everything but
// the health checks, feedback set after the fact (PATCH /api/logs/{id}, Cloudflare's shape),
// filtered and summed, and the gateway and account of Cloudflare's long URLs recorded.

#include "core/sha256.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <thread>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]})";
const Headers kJson = {{"Content-Type", "application/json"},
                       {"Authorization", "Bearer sk-test-SECRET-0123456789"}};
constexpr const char* kToken = "admin-token-for-tests-0123";

std::string completion() {
  return R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",)"
         R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},)"
         R"("finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,)"
         R"("total_tokens":15}})";
}

Handler answer_ok() {
  return [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, completion(), json_headers());
  };
}

struct Fixture {
  explicit Fixture(bool with_token) : fake(answer_ok()) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    if (with_token) c.admin.token_sha256.push_back(sha256(kToken));
    gateway = std::make_unique<TestGateway>(std::move(c));
  }
  HttpResponse admin(const std::string& method, const std::string& target,
                     const std::string& body = {}, const Headers& headers = {}) {
    gateway->app().telemetry().log->flush();  // every finished request is in the database
    return http_request(gateway->admin_port(), method, target, body, headers);
  }
  std::string post(const std::string& path = "/openai/chat/completions") {
    const auto res = http_request(gateway->port(), "POST", path, kChat, kJson);
    EXPECT_EQ(res.status, 200u) << res.body;
    // The record is handed to the log just after the response's last byte: wait for it.
    ++posted;
    auto& log = *gateway->app().telemetry().log;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (log.stats().submitted < posted && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(1ms);
    }
    return res.header("cf-aig-log-id");
  }
  std::uint64_t posted = 0;
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

const Headers kBearer = {{"Authorization", std::string("Bearer ") + kToken}};

TEST(AdminAuth, EverythingButHealthNeedsTheToken) {
  Fixture f(/*with_token=*/true);
  EXPECT_EQ(f.admin("GET", "/healthz").status, 200u);
  EXPECT_EQ(f.admin("GET", "/readyz").status, 200u);
  for (const char* path : {"/metrics", "/api/logs", "/api/usage", "/api/routes", "/api/logs/x", "/",
                           "/no-such-endpoint"}) {
    const auto res = f.admin("GET", path);
    EXPECT_EQ(res.status, 401u) << path;
    EXPECT_EQ(res.header("www-authenticate"), R"(Basic realm="aigw admin", charset="UTF-8")");
    EXPECT_EQ(res.body,
              R"({"error":{"code":"unauthorized","message":"the admin listener needs a token )"
              R"((admin.tokens): Authorization: Bearer <token>","param":null,)"
              R"("type":"authentication_error"}})")
        << path;
  }
  // Wrong tokens, in both schemes, and malformed credentials.
  for (const std::string& header :
       {std::string("Bearer wrong"), std::string("Bearer ") + kToken + "x",
        std::string("Basic ") + "dXNlcjp3cm9uZw==" /* user:wrong */, std::string("Basic !!!!"),
        std::string(kToken), std::string("Bearer ")}) {
    EXPECT_EQ(f.admin("GET", "/api/logs", {}, {{"Authorization", header}}).status, 401u) << header;
  }
  EXPECT_EQ(f.admin("GET", "/api/logs", {}, kBearer).status, 200u);
  EXPECT_EQ(f.admin("GET", "/metrics", {}, kBearer).status, 200u);
  // Basic auth, any user name, the token as password: what a browser sends after its prompt.
  // base64("operator:admin-token-for-tests-0123")
  EXPECT_EQ(f.admin("GET", "/api/logs", {},
                    {{"Authorization", "Basic b3BlcmF0b3I6YWRtaW4tdG9rZW4tZm9yLXRlc3RzLTAxMjM="}})
                .status,
            200u);
  // A refused request's body is never read; PATCH and reload are refused the same way.
  EXPECT_EQ(f.admin("PATCH", "/api/logs/x", R"({"feedback":1})").status, 401u);
  EXPECT_EQ(f.admin("POST", "/api/reload").status, 401u);
}

TEST(AdminAuth, WithoutTokensOnLoopbackEverythingIsOpen) {
  Fixture f(/*with_token=*/false);
  EXPECT_EQ(f.admin("GET", "/api/logs").status, 200u);
  EXPECT_EQ(f.admin("GET", "/metrics").status, 200u);
}

TEST(AdminApi, MethodsOutsideAnEndpointsOwnGet405WithAllow) {
  Fixture f(/*with_token=*/false);
  const auto res = f.admin("DELETE", "/api/logs/x");
  EXPECT_EQ(res.status, 405u);
  EXPECT_EQ(res.header("allow"), "GET, HEAD, PATCH");
  EXPECT_EQ(res.body, R"({"error":{"code":"method_not_allowed","message":"/api/logs/x accepts )"
                      R"(GET, HEAD, PATCH","param":null,"type":"invalid_request_error"}})");
  EXPECT_EQ(f.admin("POST", "/metrics").header("allow"), "GET, HEAD");
  EXPECT_EQ(f.admin("GET", "/api/reload").header("allow"), "POST");
  EXPECT_EQ(f.admin("POST", "/healthz").status, 405u);
  // Bodies are bounded: refused on the Content-Length, before any of the body is read.
  const auto big = parse_raw(
      raw_exchange(f.gateway->admin_port(),
                   "PATCH /api/logs/x HTTP/1.1\r\nHost: a\r\nContent-Length: 71680\r\n\r\n"));
  EXPECT_EQ(big.status, 413u);
  EXPECT_EQ(big.body, R"({"error":{"code":"body_too_large","message":"admin request bodies are )"
                      R"(limited to 65536 bytes","param":null,"type":"invalid_request_error"}})");
}

TEST(Feedback, PatchSetsFeedbackScoreAndMetadataAndTheApiFiltersAndSumsThem) {
  Fixture f(/*with_token=*/true);
  const std::string liked = f.post();
  const std::string disliked = f.post();
  const std::string untouched = f.post();
  ASSERT_FALSE(liked.empty());

  // Right after the response: the record is found (the PATCH commits what is queued first).
  auto res =
      f.admin("PATCH", "/api/logs/" + liked,
              R"({"feedback":1,"score":90,"metadata":{"reviewer":"ann","round":2}})", kBearer);
  ASSERT_EQ(res.status, 200u) << res.body;
  json record = json::parse(res.body)["result"];
  EXPECT_EQ(record["id"], liked);
  EXPECT_EQ(record["feedback"], 1);
  EXPECT_EQ(record["score"], 90);
  EXPECT_EQ(record["metadata"], json({{"reviewer", "ann"}, {"round", 2}}));
  res = f.admin("PATCH", "/api/logs/" + disliked, R"({"feedback":-1,"score":10})", kBearer);
  ASSERT_EQ(res.status, 200u) << res.body;
  // A second PATCH changes what it names and keeps the rest.
  res = f.admin("PATCH", "/api/logs/" + liked, R"({"score":95,"metadata":{"round":3}})", kBearer);
  record = json::parse(res.body)["result"];
  EXPECT_EQ(record["feedback"], 1);
  EXPECT_EQ(record["score"], 95);
  EXPECT_EQ(record["metadata"], json({{"reviewer", "ann"}, {"round", 3}}));

  // Stored: read back, listed, filtered.
  record = json::parse(f.admin("GET", "/api/logs/" + liked, {}, kBearer).body)["result"];
  EXPECT_EQ(record["score"], 95);
  const auto ids = [&](const std::string& query) {
    std::vector<std::string> out;
    const auto page = f.admin("GET", "/api/logs" + query, {}, kBearer);
    EXPECT_EQ(page.status, 200u) << page.body;
    const json body = json::parse(page.body);
    for (const auto& r : body["result"]) out.push_back(r["id"]);
    return out;
  };
  EXPECT_EQ(ids("?feedback=1"), std::vector<std::string>{liked});
  EXPECT_EQ(ids("?feedback=-1"), std::vector<std::string>{disliked});
  EXPECT_EQ(ids("?feedback=0"), std::vector<std::string>{});
  EXPECT_EQ(ids("?min_score=50"), std::vector<std::string>{liked});
  EXPECT_EQ(ids("?max_score=50"), std::vector<std::string>{disliked});
  EXPECT_EQ(ids("?metadata.key=round&metadata.value=3"), std::vector<std::string>{liked});
  EXPECT_EQ(ids("").size(), 3u);
  const json untouched_record =
      json::parse(f.admin("GET", "/api/logs/" + untouched, {}, kBearer).body)["result"];
  EXPECT_TRUE(untouched_record["feedback"].is_null());
  EXPECT_TRUE(untouched_record["score"].is_null());

  // Summed in /api/usage.
  const json usage = json::parse(f.admin("GET", "/api/usage", {}, kBearer).body)["result"];
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0]["requests"], 3);
  EXPECT_EQ(usage[0]["feedback_positive"], 1);
  EXPECT_EQ(usage[0]["feedback_negative"], 1);
  EXPECT_EQ(usage[0]["scored"], 2);
  EXPECT_DOUBLE_EQ(usage[0]["score_avg"].get<double>(), 52.5);
  EXPECT_GT(usage[0]["duration_p50"].get<double>(), 0.0);
  EXPECT_GE(usage[0]["duration_p99"].get<double>(), usage[0]["duration_p50"].get<double>());
}

TEST(Feedback, BadPatchesGetExactErrorsAndChangeNothing) {
  Fixture f(/*with_token=*/false);
  const std::string id = f.post();
  const auto patch = [&](const std::string& body) {
    return f.admin("PATCH", "/api/logs/" + id, body);
  };
  const auto message = [](const HttpResponse& res) {
    return json::parse(res.body)["error"]["message"].get<std::string>();
  };
  const std::pair<const char*, const char*> cases[] = {
      {"not json", R"(the body must be a JSON object such as {"feedback":1,"score":90})"},
      {R"({"feedback":2})", "feedback must be -1, 0 or 1"},
      {R"({"feedback":"1"})", "feedback must be -1, 0 or 1"},
      {R"({"score":101})", "score must be a whole number from 0 to 100"},
      {R"({"score":50.5})", "score must be a whole number from 0 to 100"},
      {R"({"metadata":[1]})", "metadata must be an object"},
      {R"({"metadata":{"a":{"b":1}}})",
       "metadata value of 'a' must be a string, a number or a boolean"},
      {R"({"metadata":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}})",
       "metadata has 6 entries; a record keeps at most 5"},
      {R"({"colour":"red"})", "unknown field colour (known: feedback, score, metadata)"},
      {R"({})", "nothing to change: give feedback, score or metadata"},
  };
  for (const auto& [body, expected] : cases) {
    const auto res = patch(body);
    EXPECT_EQ(res.status, 400u) << body;
    EXPECT_EQ(message(res), expected) << body;
  }
  // Five entries in all: four new ones on a record that has one would make six.
  ASSERT_EQ(patch(R"({"metadata":{"a":1}})").status, 200u);
  const auto six = patch(R"({"metadata":{"b":1,"c":1,"d":1,"e":1,"f":1}})");
  EXPECT_EQ(six.status, 400u);
  EXPECT_EQ(message(six), "metadata would have 6 entries; a record keeps at most 5");
  const json record = json::parse(f.admin("GET", "/api/logs/" + id).body)["result"];
  EXPECT_EQ(record["metadata"], json({{"a", 1}}));
  EXPECT_TRUE(record["feedback"].is_null());

  const auto unknown = f.admin("PATCH", "/api/logs/0190-no-such-record", R"({"feedback":1})");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(message(unknown), "no log record 0190-no-such-record");
}

TEST(AdminApi, TheLongUrlsGatewayAndAccountAreRecordedAndFilterable) {
  Fixture f(/*with_token=*/false);
  const std::string a = f.post("/v1/acct-1/prod/openai/chat/completions");
  const std::string b = f.post("/v1/acct-1/staging/openai/chat/completions");
  const std::string c = f.post();
  const json record = json::parse(f.admin("GET", "/api/logs/" + a).body)["result"];
  EXPECT_EQ(record["account"], "acct-1");
  EXPECT_EQ(record["gateway"], "prod");
  const json short_form = json::parse(f.admin("GET", "/api/logs/" + c).body)["result"];
  EXPECT_TRUE(short_form["gateway"].is_null());
  const json prod = json::parse(f.admin("GET", "/api/logs?gateway=prod").body)["result"];
  ASSERT_EQ(prod.size(), 1u);
  EXPECT_EQ(prod[0]["id"], a);
  const json groups = json::parse(f.admin("GET", "/api/usage?group_by=gateway").body)["result"];
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0]["group"], "");
  EXPECT_EQ(groups[1]["group"], "prod");
  EXPECT_EQ(groups[2]["group"], "staging");
  (void)b;
}

}  // namespace
}  // namespace aigw::test
