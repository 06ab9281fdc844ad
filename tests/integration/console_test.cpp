// The operator console on the admin listener (docs/console.md): how its embedded files are
// served (content types, ETag and 304, gzip, security headers, 404), and the page itself in
// headless Chromium (tests/browser/console_test.mjs, driven by playwright-core) against a
// gateway with traffic through two providers, a named route, an error and a cache hit.
//
// The browser test needs Debian's `chromium` and `npm ci --prefix tests/browser`
// (scripts/install-deps.sh and scripts/test.sh do both). Screenshots go to
// <build dir>/console-screenshots/.

#include "core/sha256.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"
#include "support/node_run.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <signal.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using json = nlohmann::json;

HttpResponse get(const TestGateway& gateway, const std::string& target,
                 const Headers& headers = {}) {
  return http_request(gateway.admin_port(), "GET", target, {}, headers);
}

void expect_security_headers(const HttpResponse& res) {
  const std::string csp = res.header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_EQ(res.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(res.header("x-frame-options"), "DENY");
  EXPECT_EQ(res.header("referrer-policy"), "no-referrer");
}

struct ConsoleServing : ::testing::Test {
  TestGateway gateway{test_config()};
};

TEST_F(ConsoleServing, TheDashboardIsTheAdminListenersRoot) {
  const auto res = get(gateway, "/");
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(res.header("cache-control"), "no-cache");
  EXPECT_NE(res.body.find("<title>aigw console</title>"), std::string::npos);
  EXPECT_NE(res.body.find(R"(<script src="/console/app.js" defer></script>)"), std::string::npos);
  // No inline script: every <script> has a src (the CSP would block the others).
  for (std::size_t at = res.body.find("<script"); at != std::string::npos;
       at = res.body.find("<script", at + 1)) {
    EXPECT_EQ(res.body.compare(at, 12, "<script src="), 0) << res.body.substr(at, 60);
  }
  EXPECT_EQ(res.body.find("http://"), std::string::npos) << "nothing from another origin";
  EXPECT_EQ(res.body.find("https://"), std::string::npos) << "nothing from another origin";
  const std::string etag = res.header("etag");
  EXPECT_EQ(etag.size(), 22u) << etag;  // "20 hex digits"
  EXPECT_EQ(etag.front(), '"');
  expect_security_headers(res);
  // The query string does not matter.
  EXPECT_EQ(get(gateway, "/?range=1h").body, res.body);
}

TEST_F(ConsoleServing, EachFileHasItsContentType) {
  struct Case {
    const char* path;
    const char* type;
    const char* cache;
    const char* contains;
  };
  const Case cases[] = {
      {"/console/app.js", "text/javascript; charset=utf-8", "no-cache", "'use strict'"},
      {"/console/app.css", "text/css; charset=utf-8", "no-cache", ":root"},
      {"/console/favicon.svg", "image/svg+xml", "no-cache", "<svg"},
      {"/console/vendor/uplot-1.6.32/uPlot.iife.min.js", "text/javascript; charset=utf-8",
       "private, max-age=31536000, immutable", "uPlot (v1.6.32)"},
      {"/console/vendor/uplot-1.6.32/uPlot.min.css", "text/css; charset=utf-8",
       "private, max-age=31536000, immutable", ".uplot"},
      {"/console/vendor/uplot-1.6.32/LICENSE", "text/plain; charset=utf-8",
       "private, max-age=31536000, immutable", "The MIT License"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    const auto res = get(gateway, c.path);
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.header("content-type"), c.type);
    EXPECT_EQ(res.header("cache-control"), c.cache);
    EXPECT_EQ(res.header("content-encoding"), "");
    EXPECT_NE(res.body.find(c.contains), std::string::npos);
    expect_security_headers(res);
  }
  // Where the vendored library came from is documented in the tree, not served.
  EXPECT_EQ(get(gateway, "/console/vendor/uplot-1.6.32/README.md").status, 404u);
}

TEST_F(ConsoleServing, IfNoneMatchWithTheETagGets304) {
  const auto first = get(gateway, "/console/app.js");
  const std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty());

  const auto again = get(gateway, "/console/app.js", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(again.header("etag"), etag);
  EXPECT_EQ(again.header("cache-control"), "no-cache");
  EXPECT_EQ(again.header("content-length"), "");
  expect_security_headers(again);

  // Weak comparison (RFC 9110 §13.1.2), lists and `*` match; another tag does not.
  for (const std::string& inm : {"W/" + etag, "\"x\", " + etag, std::string("*")}) {
    EXPECT_EQ(get(gateway, "/console/app.js", {{"If-None-Match", inm}}).status, 304u) << inm;
  }
  const auto other = get(gateway, "/console/app.js", {{"If-None-Match", "\"0000\""}});
  EXPECT_EQ(other.status, 200u);
  EXPECT_EQ(other.body, first.body);
  // Another file's tag is not this one's.
  const std::string index_etag = get(gateway, "/").header("etag");
  EXPECT_NE(index_etag, etag);
  EXPECT_EQ(get(gateway, "/console/app.js", {{"If-None-Match", index_etag}}).status, 200u);
}

TEST_F(ConsoleServing, GzipWhenTheClientAcceptsIt) {
  const auto plain = get(gateway, "/console/vendor/uplot-1.6.32/uPlot.iife.min.js");
  const auto gz = get(gateway, "/console/vendor/uplot-1.6.32/uPlot.iife.min.js",
                      {{"Accept-Encoding", "br, gzip, deflate"}});
  EXPECT_EQ(gz.status, 200u);
  EXPECT_EQ(gz.header("content-encoding"), "gzip");
  EXPECT_EQ(gz.header("vary"), "Accept-Encoding");
  EXPECT_EQ(plain.header("vary"), "Accept-Encoding");
  ASSERT_GE(gz.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz.body[0]), 0x1f);  // gzip's magic (RFC 1952)
  EXPECT_EQ(static_cast<unsigned char>(gz.body[1]), 0x8b);
  EXPECT_LT(gz.body.size(), plain.body.size() / 2);
  // Each encoding has its own tag, and revalidates with it.
  EXPECT_NE(gz.header("etag"), plain.header("etag"));
  EXPECT_EQ(get(gateway, "/console/vendor/uplot-1.6.32/uPlot.iife.min.js",
                {{"Accept-Encoding", "gzip"}, {"If-None-Match", gz.header("etag")}})
                .status,
            304u);
  // gzip;q=0 refuses it; a file too small to gain is sent as it is.
  EXPECT_EQ(get(gateway, "/console/app.js", {{"Accept-Encoding", "gzip;q=0, br"}})
                .header("content-encoding"),
            "");
  const auto icon = get(gateway, "/console/favicon.svg", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(icon.header("content-encoding"), "");
  EXPECT_EQ(icon.header("vary"), "");
}

TEST_F(ConsoleServing, AnUnknownConsolePathIs404) {
  for (const char* path : {"/console/x", "/console/", "/console/vendor/uplot-1.6.32/nope.js",
                           "/console/../LICENSE", "/console/app.js/"}) {
    SCOPED_TRACE(path);
    const auto res = get(gateway, path);
    EXPECT_EQ(res.status, 404u);
    EXPECT_EQ(res.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(res.body, "no such console file\n");
    expect_security_headers(res);
  }
  // Outside /console/ the admin API answers as before.
  EXPECT_EQ(get(gateway, "/consolex").status, 404u);
  EXPECT_EQ(get(gateway, "/consolex").header("content-type"), "application/json");
  EXPECT_EQ(get(gateway, "/api/routes").status, 200u);
  EXPECT_EQ(get(gateway, "/healthz").body, R"({"status":"ok"})");
}

// ---------------------------------------------------------------------------------------
// The page in headless Chromium.

const fs::path kBrowserDir = fs::path(AIGW_SOURCE_DIR) / "tests" / "browser";

// Answers with a chat completion naming the body's model, or a 500 for the model "broken".
Handler chat_or_error() {
  return [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const auto body = json::parse(req.body, nullptr, false);
    const std::string model = body.is_object() ? body.value("model", "") : "";
    unsigned status = 200;
    std::string text = chat_completion(model);
    if (model == "broken") {
      status = 500;
      text = R"({"error":{"message":"the fake is broken","type":"server_error"}})";
    }
    co_await ex.respond(status, std::move(text), json_headers());
  };
}

std::string chat(const std::string& model, const std::string& content) {
  return json{{"model", model}, {"messages", {{{"role", "user"}, {"content", content}}}}}.dump();
}

// Sends the traffic below through a gateway (with admin.tokens = {token} unless `token` is
// empty), then runs console_test.mjs against its admin listener.
void dashboard_in_chromium(const std::string& token) {
  const std::string chromium =
      std::getenv("CHROMIUM") ? std::getenv("CHROMIUM") : "/usr/bin/chromium";
  ASSERT_TRUE(fs::exists(chromium))
      << "The browser test needs Chromium (" << chromium
      << "): apt-get install chromium (scripts/install-deps.sh does it)";
  ASSERT_TRUE(fs::exists(kBrowserDir / "node_modules" / "playwright-core" / "package.json"))
      << "The browser test needs playwright-core in " << (kBrowserDir / "node_modules").string()
      << ". Run:\n  npm ci --prefix tests/browser\n(scripts/test.sh does it)";

  FakeProvider fake(chat_or_error());
  Config c = test_config();
  c.cache.enabled = true;
  c.request_log.payloads = true;
  c.metering.prices["openai/gpt-4o-mini"] = ModelPrice{0.15, 0.60, 0.075, std::nullopt};
  c.metering.prices["groq/llama-3.3-70b-versatile"] = ModelPrice{0.59, 0.79, 0.59, std::nullopt};
  add_provider(c, "openai", fake.base_url() + "/v1");
  add_provider(c, "groq", fake.base_url() + "/openai/v1");
  RouteConfig route;
  route.name = "chat";
  route.share_client_credentials = true;
  for (const auto& [provider, model, priority] :
       {std::tuple{"openai", "gpt-4o-mini", 0u},
        std::tuple{"groq", "llama-3.3-70b-versatile", 1u}}) {
    RouteTargetConfig t;
    t.provider = provider;
    t.model = model;
    t.priority = priority;
    route.targets.push_back(t);
  }
  c.routes.push_back(route);
  if (!token.empty()) c.admin.token_sha256.push_back(sha256(token));
  TestGateway gateway(std::move(c));
  const Headers admin_auth =
      token.empty() ? Headers{} : Headers{{"Authorization", "Bearer " + token}};
  if (!token.empty()) {
    // Without the token the page is refused with the challenge that makes a browser ask.
    const auto refused = get(gateway, "/");
    EXPECT_EQ(refused.status, 401u);
    EXPECT_TRUE(refused.header("www-authenticate").starts_with("Basic ")) << refused.body;
    EXPECT_EQ(get(gateway, "/console/app.js").status, 401u);
    EXPECT_EQ(get(gateway, "/", admin_auth).status, 200u);
  }

  const Headers headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-t"}};
  auto send = [&](const std::string& path, const std::string& body) {
    return http_request(gateway.port(), "POST", path, body, headers);
  };
  // openai: 4 answers, the first again from the cache, a 500, and the route's request;
  // groq: 3 answers; and one request for a provider that does not exist (a 404, provider "").
  std::string first_id;
  for (int i = 1; i <= 4; ++i) {
    const auto res =
        send("/openai/chat/completions", chat("gpt-4o-mini", "question " + std::to_string(i)));
    ASSERT_EQ(res.status, 200u) << res.body;
    if (i == 1) first_id = res.header("cf-aig-log-id");
  }
  const auto hit = send("/openai/chat/completions", chat("gpt-4o-mini", "question 1"));
  EXPECT_EQ(hit.header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(send("/openai/chat/completions", chat("broken", "question 5")).status, 500u);
  EXPECT_EQ(send("/route/chat/chat/completions", chat("any", "question 6")).status, 200u);
  for (int i = 7; i <= 9; ++i) {
    EXPECT_EQ(send("/groq/chat/completions",
                   chat("llama-3.3-70b-versatile", "question " + std::to_string(i)))
                  .status,
              200u);
  }
  EXPECT_EQ(send("/nope/chat/completions", chat("gpt-4o-mini", "question 10")).status, 404u);
  const int requests = 11;

  // What the API says (the page reads the same): the traffic above, all of it logged.
  // (A record is written when its request completes, just after the answer: poll, bounded.)
  json totals;
  for (int i = 0; i < 500; ++i) {
    gateway.app().telemetry().log->flush();
    totals = json::parse(get(gateway, "/api/usage", admin_auth).body)["result"][0];
    if (totals["requests"] == requests) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(totals["requests"], requests) << totals.dump();
  EXPECT_EQ(totals["errors"], 2) << totals.dump();
  EXPECT_EQ(totals["cache_hits"], 1) << totals.dump();

  const json expect = {
      {"requests", requests},
      {"errors", 2},
      {"cache_hits", 1},
      {"routes", 1},
      {"providers", {{"openai", 7}, {"groq", 3}}},
      {"models", {{"gpt-4o-mini", 6}, {"llama-3.3-70b-versatile", 3}}},
      {"filter_provider", "groq"},
      {"record", first_id},
      {"record_body", "question 1"},
      {"latency", true},   // usage rows carry duration_p50 and duration_p99
      {"feedback", true},  // PATCH /api/logs/{id}
  };
  const fs::path shots = fs::path(AIGW_BINARY).parent_path() /
                         (token.empty() ? "console-screenshots" : "console-screenshots/token");
  const std::string url = "http://127.0.0.1:" + std::to_string(gateway.admin_port());
  const auto started = std::chrono::steady_clock::now();
  NodeRun run = run_node(
      {"node", (kBrowserDir / "console_test.mjs").string(), url, shots.string()},
      {"AIGW_CONSOLE_EXPECT=" + expect.dump(), "CHROMIUM=" + chromium, "AIGW_ADMIN_TOKEN=" + token},
      90s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  ASSERT_TRUE(run.error.empty()) << run.error << "\n" << run.output;
  EXPECT_EQ(run.status, 0) << "node tests/browser/console_test.mjs " << url << " failed:\n"
                           << run.output;
  if (run.status == 0) {
    std::printf("[ BROWSER  ] passed in %lld ms; screenshots in %s\n",
                static_cast<long long>(took.count()), shots.c_str());
  }
  EXPECT_TRUE(fs::exists(shots / "overview.png"));
  EXPECT_TRUE(fs::exists(shots / "record.png"));
}

TEST(Console, TheDashboardInChromiumShowsTheGatewaysTraffic) {
  ASSERT_NO_FATAL_FAILURE(dashboard_in_chromium(""));
}

// The browser answers the 401's Basic challenge with the token (playwright's
// httpCredentials, as a person types it into the browser's prompt once).
TEST(Console, TheDashboardWorksBehindAdminTokens) {
  ASSERT_NO_FATAL_FAILURE(dashboard_in_chromium("console-test-admin-token"));
}

}  // namespace
}  // namespace aigw::test
