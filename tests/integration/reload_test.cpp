// Live reload (POST /api/reload; SIGHUP for the binary): a new config serves new requests
// while requests in flight finish on the old one, nothing is lost under load, a bad file
// changes nothing, state carries over where its rules are unchanged, and listeners move
// only when their address changed.

#include "config/load.hpp"
#include "support/aigw_process.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"
#include "support/test_pki.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
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

// A config file of the test's: the fake provider, and `extra` YAML after it.
class ConfigFile {
 public:
  ConfigFile(std::string base_url, std::string listen = "127.0.0.1:0",
             std::string admin = "127.0.0.1:0")
      : dir_(make_temp_dir()),
        base_url_(std::move(base_url)),
        listen_(std::move(listen)),
        admin_(std::move(admin)) {}
  const std::string path() const { return dir_ + "/aigw.yaml"; }
  const std::string& dir() const { return dir_; }
  void write(const std::string& extra) const {
    std::ofstream out(path(), std::ios::trunc);
    out << "server:\n  listen: \"" << listen_ << "\"\n  workers: 2\n  log_level: warn\n"
        << "admin:\n  listen: \"" << admin_ << "\"\n"
        << "access_log:\n  path: \"off\"\n"
        << "request_log:\n  path: " << dir_ << "/aigw.db\n"
        << "metering:\n  pricing_file: \"\"\n"
        << "providers:\n  openai:\n    base_url: " << base_url_
        << "\n    ca_file: " << test_pki().ca_file << "\n"
        << extra;
  }
  void set_listen(std::string listen, std::string admin) {
    listen_ = std::move(listen);
    admin_ = std::move(admin);
  }
  Config load() const {
    auto loaded = config::load_file(path());
    for (const auto& d : loaded.diagnostics) ADD_FAILURE() << d.str();
    return loaded.ok() ? std::move(*loaded.config) : Config{};
  }

 private:
  std::string dir_;
  std::string base_url_;
  std::string listen_;
  std::string admin_;
};

// Requests with this header value are the ones the test's rate limits count.
Headers probe(const std::string& value) {
  Headers h = kJson;
  h.emplace_back("x-probe", value);
  return h;
}

std::string limit_rule(int limit) {
  return "rate_limits:\n  - name: probe\n    limit: " + std::to_string(limit) +
         "\n    window: 1h\n    per: \"header:x-probe\"\n";
}

struct Fixture {
  explicit Fixture(const std::string& extra) : fake(answer_ok()), file(fake.base_url() + "/v1") {
    file.write(extra);
    gateway = std::make_unique<TestGateway>(file.load());
  }
  HttpResponse post(const Headers& headers = kJson) {
    return http_request(gateway->port(), "POST", "/openai/chat/completions", kChat, headers);
  }
  HttpResponse reload(const std::string& extra) {
    file.write(extra);
    return http_request(gateway->admin_port(), "POST", "/api/reload");
  }
  FakeProvider fake;
  ConfigFile file;
  std::unique_ptr<TestGateway> gateway;
};

TEST(Reload, TwentyReloadsUnderContinuousLoadLoseNoRequestAndTheNewRulesApply) {
  Fixture f(limit_rule(1000000));
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::mutex mutex;
  std::string first_failure;  // what went wrong, for the message
  const auto note = [&](const std::string& what) {
    std::lock_guard lock(mutex);
    if (first_failure.empty()) first_failure = what;
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      // Bounded: at most 3000 requests each, and the test stops them sooner.
      for (int i = 0; i < 3000 && !stop.load(); ++i) {
        try {
          const auto res = f.post();
          (res.status == 200 ? ok : failed).fetch_add(1);
          if (res.status != 200) note(std::to_string(res.status) + " " + res.body);
        } catch (const std::exception& e) {
          failed.fetch_add(1);
          note(e.what());
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    // Alternate real changes: the limit's size, and a cache section appearing and going.
    std::string extra = limit_rule(1000000 + i);
    if (i % 2 == 0) extra += "cache:\n  enabled: false\n  ttl: " + std::to_string(60 + i) + "s\n";
    const auto res = f.reload(extra);
    ASSERT_EQ(res.status, 200u) << res.body;
    EXPECT_EQ(json::parse(res.body)["result"]["generation"], i + 2);
    std::this_thread::sleep_for(20ms);
  }
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(ok.load(), 20);
  // The last config: a limit of 2 per x-probe value (after the load, which it would limit
  // too: requests without the header share one counter).
  ASSERT_EQ(f.reload(limit_rule(2)).status, 200u);
  EXPECT_EQ(f.post(probe("a")).status, 200u);
  EXPECT_EQ(f.post(probe("a")).status, 200u);
  EXPECT_EQ(f.post(probe("a")).status, 429u);
}

TEST(Reload, ABadFileKeepsTheRunningConfigAndSaysWhereTheProblemIs) {
  Fixture f(limit_rule(2));
  EXPECT_EQ(f.post(probe("a")).status, 200u);
  const auto res = f.reload("rate_limits:\n  - limit: -1\n    window: 1h\n");
  EXPECT_EQ(res.status, 400u);
  const json body = json::parse(res.body);
  EXPECT_EQ(body["error"]["code"], "invalid_config");
  ASSERT_FALSE(body["error"]["problems"].empty());
  const std::string problem = body["error"]["problems"][0];
  EXPECT_EQ(problem.rfind(f.file.path() + ":18:12: rate_limits[0].limit: ", 0), 0u) << problem;
  EXPECT_NE(body["error"]["message"].get<std::string>().find(
                "the config was not reloaded; the running one (generation 1) stays: "),
            std::string::npos);
  // The old rule still counts, with what it counted before.
  EXPECT_EQ(f.post(probe("a")).status, 200u);
  EXPECT_EQ(f.post(probe("a")).status, 429u);
  // A YAML syntax error and an unknown provider in a route are refused the same way.
  EXPECT_EQ(f.reload("rate_limits: [\n").status, 400u);
  const auto route = f.reload(
      "routes:\n  chat:\n    targets:\n      - provider: nope\n"
      "        model: m\n");
  EXPECT_EQ(route.status, 400u);
  EXPECT_NE(route.body.find("unknown provider 'nope'"), std::string::npos) << route.body;
  // And then a good one applies.
  const auto good = f.reload(limit_rule(5));
  ASSERT_EQ(good.status, 200u) << good.body;
  EXPECT_EQ(json::parse(good.body)["result"]["changed"], json({"rate_limits"}));
  EXPECT_EQ(json::parse(good.body)["result"]["generation"], 2);
}

TEST(Reload, CountersBreakersAndCacheEntriesCarryOverWhereTheirRulesAreUnchanged) {
  std::atomic<int> calls{0};
  FakeProvider fake([&](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    ++calls;
    if (req.target.find("/broken/") != std::string::npos) {
      co_await ex.respond(500, R"({"error":{"message":"down"}})", json_headers());
    } else {
      co_await ex.respond(200, completion(), json_headers());
    }
  });
  ConfigFile file(fake.base_url() + "/v1");
  const std::string base =
      limit_rule(3) +
      "cache:\n  enabled: true\n  ttl: 10m\n"
      "routes:\n  flaky:\n    breaker:\n      failures: 1\n      cooldown: 10m\n"
      "    targets:\n      - provider: openai\n        model: m\n"
      "        endpoint: broken/chat/completions\n";
  file.write(base);
  TestGateway gw(file.load());
  const auto post = [&](const Headers& h, const std::string& body) {
    return http_request(gw.port(), "POST", "/openai/chat/completions", body, h);
  };
  const auto reload = [&](const std::string& extra) {
    file.write(extra);
    const auto res = http_request(gw.admin_port(), "POST", "/api/reload");
    EXPECT_EQ(res.status, 200u) << res.body;
  };
  // Two of the three requests of x-probe: a are taken; a cached response; an open breaker.
  EXPECT_EQ(post(probe("a"), R"({"model":"m","messages":[{"role":"user","content":"1"}]})").status,
            200u);
  EXPECT_EQ(post(probe("a"), R"({"model":"m","messages":[{"role":"user","content":"2"}]})").status,
            200u);
  EXPECT_EQ(post(kJson, kChat).header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(http_request(gw.port(), "POST", "/route/flaky/chat/completions", kChat, kJson).status,
            500u);
  const auto breaker_state = [&] {
    const json routes = json::parse(http_request(gw.admin_port(), "GET", "/api/routes").body);
    return routes["result"][0]["targets"][0]["breaker"]["state"].get<std::string>();
  };
  EXPECT_EQ(breaker_state(), "open");

  // A reload that changes another section: all three carry over.
  reload(base + "upstream:\n  max_attempts: 2\n");
  EXPECT_EQ(post(kJson, kChat).header("cf-aig-cache-status"), "HIT");
  EXPECT_EQ(breaker_state(), "open");
  // (Bodies of their own: a cache hit would take nothing from the limit.)
  EXPECT_EQ(post(probe("a"), R"({"model":"m","messages":[{"role":"user","content":"3"}]})").status,
            200u);  // the third
  EXPECT_EQ(post(probe("a"), R"({"model":"m","messages":[{"role":"user","content":"4"}]})").status,
            429u);

  // Changed rules start afresh: a new limit, a new cache section, new breaker settings.
  reload(limit_rule(4) +
         "cache:\n  enabled: true\n  ttl: 20m\n"
         "routes:\n  flaky:\n    breaker:\n      failures: 2\n      cooldown: 10m\n"
         "    targets:\n      - provider: openai\n        model: m\n"
         "        endpoint: broken/chat/completions\n");
  EXPECT_EQ(post(probe("a"), R"({"model":"m","messages":[{"role":"user","content":"5"}]})").status,
            200u);
  EXPECT_EQ(post(kJson, kChat).header("cf-aig-cache-status"), "MISS");
  EXPECT_EQ(breaker_state(), "closed");
}

TEST(Reload, ListenersMoveOnlyWhenTheirAddressChanged) {
  FakeProvider fake(answer_ok());
  const std::uint16_t port_a = free_port();
  const std::uint16_t admin_a = free_port();
  ConfigFile file(fake.base_url() + "/v1", "127.0.0.1:" + std::to_string(port_a),
                  "127.0.0.1:" + std::to_string(admin_a));
  file.write("");
  TestGateway gw(file.load());
  ASSERT_EQ(gw.port(), port_a);
  // A keep-alive connection opened before the move keeps working on the old address.
  StreamingClient before(port_a, "POST", "/openai/chat/completions", kChat, kJson);
  EXPECT_EQ(before.head().status, 200u);

  const std::uint16_t port_b = free_port();
  const std::uint16_t admin_b = free_port();
  file.set_listen("127.0.0.1:" + std::to_string(port_b), "127.0.0.1:" + std::to_string(admin_b));
  file.write("");
  const auto res = http_request(admin_a, "POST", "/api/reload");
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(json::parse(res.body)["result"]["changed"], json({"server", "admin"}));
  // New connections: on the new addresses only (the old acceptors close on the next pass).
  bool moved = false;
  for (int i = 0; i < 200 && !moved; ++i) {
    try {
      (void)http_request(port_a, "GET", "/healthz");
      std::this_thread::sleep_for(5ms);
    } catch (const std::exception&) {
      moved = true;
    }
  }
  EXPECT_TRUE(moved);
  EXPECT_EQ(gw.port(), port_b);
  EXPECT_EQ(gw.admin_port(), admin_b);
  EXPECT_EQ(http_request(port_b, "POST", "/openai/chat/completions", kChat, kJson).status, 200u);
  EXPECT_EQ(http_request(admin_b, "GET", "/healthz").status, 200u);
  EXPECT_THROW(http_request(admin_a, "GET", "/healthz"), std::exception);
  // An address that cannot be bound keeps everything where it is.
  file.set_listen("192.0.2.1:1", "127.0.0.1:" + std::to_string(admin_b));
  file.write("");
  const auto refused = http_request(admin_b, "POST", "/api/reload");
  EXPECT_EQ(refused.status, 400u);
  EXPECT_NE(refused.body.find("cannot listen on the new address"), std::string::npos);
  EXPECT_EQ(http_request(port_b, "POST", "/openai/chat/completions", kChat, kJson).status, 200u);
}

TEST(ReloadBinary, SighupReloadsTheFileAndABadOneIsLoggedWithItsPosition) {
  FakeProvider fake(answer_ok());
  const std::uint16_t port = free_port();
  const std::uint16_t admin = free_port();
  ConfigFile file(fake.base_url() + "/v1", "127.0.0.1:" + std::to_string(port),
                  "127.0.0.1:" + std::to_string(admin));
  file.write(limit_rule(100));
  AigwProcess aigw(file.path(), file.dir() + "/aigw.log");
  ASSERT_TRUE(aigw.wait_ready(admin));
  EXPECT_EQ(http_request(port, "POST", "/openai/chat/completions", kChat, probe("a")).status, 200u);
  file.write(limit_rule(1));
  ASSERT_TRUE(aigw.signal(SIGHUP));
  // The reload is done once the limit of 1 refuses a second x-probe: b.
  bool applied = false;
  for (int i = 0; i < 400 && !applied; ++i) {
    const auto first = http_request(port, "POST", "/openai/chat/completions", kChat,
                                    probe("b" + std::to_string(i)));
    const auto second = http_request(port, "POST", "/openai/chat/completions", kChat,
                                     probe("b" + std::to_string(i)));
    applied = first.status == 200 && second.status == 429;
    if (!applied) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(applied) << aigw.log();
  file.write("rate_limits: nope\n");
  ASSERT_TRUE(aigw.signal(SIGHUP));
  bool logged = false;
  for (int i = 0; i < 400 && !logged; ++i) {
    logged = aigw.log().find("reload of " + file.path() + " failed") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(logged) << aigw.log();
  EXPECT_NE(aigw.log().find(file.path() + ":17:"), std::string::npos) << aigw.log();
  EXPECT_EQ(http_request(port, "POST", "/openai/chat/completions", kChat, probe("c")).status, 200u);
  EXPECT_EQ(http_request(port, "POST", "/openai/chat/completions", kChat, probe("c")).status,
            429u);  // still the limit of 1
  EXPECT_EQ(aigw.terminate(), 0);
}

}  // namespace
}  // namespace aigw::test
