// Client aborts, provider failures mid-stream, the access log, health endpoints, draining,
// and the real binary's signal handling.

#include "support/aigw_process.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"
#include "support/test_pki.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr const char* kStreamBody = R"({"model":"m","stream":true,"messages":[]})";

// Streams up to `events` events 10 ms apart; records how many it managed to send.
Handler ticking_stream(int events, std::atomic<int>& sent) {
  return [events, &sent](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    for (int i = 0; i < events; ++i) {
      if (!co_await ex.send_chunk(sse("{\"i\":" + std::to_string(i) + "}"))) co_return;
      sent = i + 1;
      co_await ex.sleep(10ms);
    }
    co_await ex.end_stream();
  };
}

TEST(Lifecycle, ClientAbortMidStreamClosesTheUpstreamConnection) {
  std::atomic<int> sent{0};
  FakeProvider fake(ticking_stream(1000, sent));  // 10 s if nobody stops it
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  {
    StreamingClient client(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
    client.read_until("\"i\":2", 5s);
    client.close();
  }
  EXPECT_TRUE(fake.wait_closed(1, 5s)) << "upstream connection still open after client abort";
  EXPECT_LT(sent.load(), 1000);
  auto lines = gw.access_log_lines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Json::parse(lines[0])["outcome"], "client_abort");
  // And the client's socket is closed too, not held until server.idle_timeout: the
  // disconnect watch's peek had consumed the socket's only readiness event, so a read for a
  // next request never woke (bench/soak.sh found sockets in CLOSE-WAIT for 75 s).
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (gw.app().state().connections.load() != 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(gw.app().state().connections.load(), 0u);
}

TEST(Lifecycle, ClientAbortWhileWaitingForTheFirstByteCancelsTheUpstreamRequest) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.sleep(5s);
    co_await ex.respond(200, "{}");
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  {
    // Send a request and hang up without waiting for the answer.
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), gw.port()});
    const std::string req = std::string("POST /openai/chat/completions HTTP/1.1\r\nHost: x\r\n") +
                            "Content-Length: 2\r\n\r\n{}";
    asio::write(s, asio::buffer(req));
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (fake.requests() == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(2ms);
    }
    ASSERT_EQ(fake.requests(), 1);
  }
  // The fake's handler is still sleeping; the gateway must have dropped its connection.
  auto lines = gw.access_log_lines(1);
  ASSERT_EQ(lines.size(), 1u);
  auto line = Json::parse(lines[0]);
  EXPECT_EQ(line["outcome"], "client_abort");
  EXPECT_LT(line["duration_ms"].get<double>(), 4000.0);
}

TEST(Lifecycle, ProviderDyingMidStreamEndsTheClientStreamIncomplete) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(sse("{\"i\":0}"));
    ex.close_now();
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  StreamingClient client(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
  EXPECT_EQ(client.head().status, 200u);
  // No terminating chunk: the client's HTTP stack reports a truncated body, not success.
  EXPECT_THROW(client.read_all(5s), std::runtime_error);
  auto lines = gw.access_log_lines(1);
  ASSERT_EQ(lines.size(), 1u);
  auto line = Json::parse(lines[0]);
  EXPECT_EQ(line["outcome"], "upstream_abort");
  EXPECT_EQ(line["error"], "upstream_reset");
}

TEST(Lifecycle, AccessLogHasOneLinePerRequestAndNoCredentials) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, R"({"ok":true})");
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  add_provider(c, "google-ai-studio", fake.base_url());
  TestGateway gw(std::move(c));
  http_request(gw.port(), "POST", "/openai/chat/completions", "{}",
               {{"Authorization", "Bearer sk-live-SECRET1"}});
  http_request(gw.port(), "POST", "/google-ai-studio/v1beta/models/g:generateContent?key=SECRET2",
               "{}", {{"x-goog-api-key", "SECRET3"}});
  http_request(gw.port(), "POST", "/unknown-provider/x", "{}",
               {{"cf-aig-authorization", "Bearer SECRET4"}});
  auto lines = gw.access_log_lines(3);
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& l : lines) {
    EXPECT_EQ(l.find("SECRET"), std::string::npos) << l;
  }
  auto first = Json::parse(lines[0]);
  EXPECT_EQ(first["provider"], "openai");
  EXPECT_EQ(first["path"], "/openai/chat/completions");
  EXPECT_EQ(first["status"], 200);
  EXPECT_EQ(first["outcome"], "success");
  EXPECT_EQ(first["method"], "POST");
  EXPECT_EQ(first["bytes_in"], 2);
  EXPECT_EQ(first["bytes_out"], 11);
  EXPECT_EQ(first["attempts"], 1);
  for (const char* key : {"ts", "id", "event_id", "duration_ms", "upstream_ms", "ttfb_ms"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  auto second = Json::parse(lines[1]);
  EXPECT_EQ(second["path"], "/google-ai-studio/v1beta/models/g:generateContent");
  auto third = Json::parse(lines[2]);
  EXPECT_EQ(third["status"], 404);
  EXPECT_EQ(third["outcome"], "gateway_error");
  EXPECT_EQ(third["error"], "unknown_provider");
}

TEST(Lifecycle, HealthAndReadiness) {
  Config c = test_config();
  TestGateway gw(std::move(c));
  auto health = http_request(gw.admin_port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  auto ready = http_request(gw.admin_port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200u);
  EXPECT_EQ(ready.body, R"({"status":"ready"})");
  EXPECT_EQ(http_request(gw.admin_port(), "GET", "/nope").status, 404u);
}

TEST(Lifecycle, DrainLetsInFlightStreamsFinishAndAnswers503ToNewRequests) {
  Gate gate;
  FakeProvider fake([&](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    if (req.body.find("slow") != std::string::npos) {
      co_await ex.start_stream(200, sse_headers());
      co_await ex.send_chunk(sse("{\"part\":1}"));
      co_await ex.wait(gate, 10s);
      co_await ex.send_chunk(sse("{\"part\":2}"));
      co_await ex.end_stream();
    } else {
      co_await ex.respond(200, "{}");
    }
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));

  // One connection: a slow stream, and right behind it (pipelined) a second request that
  // will be read only after the drain has begun.
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), gw.port()});
  const std::string slow = R"({"slow":true})";
  const std::string two =
      "POST /openai/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
      std::to_string(slow.size()) + "\r\n\r\n" + slow +
      "POST /openai/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  asio::write(s, asio::buffer(two));
  std::string got;
  char buf[4096];
  while (got.find("part\":1") == std::string::npos) {
    got.append(buf, s.read_some(asio::buffer(buf)));
  }
  std::thread drainer([&] { gw.app().drain_and_stop(); });
  while (!gw.app().state().draining.load()) std::this_thread::sleep_for(1ms);
  auto ready = http_request(gw.admin_port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 503u);
  gate.open();
  boost::system::error_code ec;
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    got.append(buf, n);
    if (ec) break;
  }
  drainer.join();
  EXPECT_NE(got.find("part\":2"), std::string::npos) << got;
  EXPECT_NE(got.find("0\r\n\r\n"), std::string::npos) << "stream not completed";
  EXPECT_NE(got.find("HTTP/1.1 503"), std::string::npos) << got;
  EXPECT_NE(got.find("\"code\":\"gateway_draining\""), std::string::npos) << got;
  EXPECT_EQ(fake.requests(), 1);
}

// --- the real binary ---

TEST(Binary, SigtermDrainsInFlightStreamsAndExitsZero) {
  std::atomic<int> sent{0};
  FakeProvider fake(ticking_stream(30, sent));  // ~300 ms stream
  const std::string dir = make_temp_dir();
  const auto port = free_port();
  const auto admin = free_port();
  {
    std::ofstream cfg(dir + "/aigw.yaml");
    cfg << "server:\n  listen: 127.0.0.1:" << port << "\n  workers: 2\n  drain_timeout: 10s\n"
        << "admin:\n  listen: 127.0.0.1:" << admin << "\n"
        << "access_log:\n  path: " << dir << "/access.log\n"
        << "providers:\n  openai:\n    base_url: " << fake.base_url() << "/v1\n"
        << "    ca_file: " << test_pki().ca_file << "\n";
  }
  AigwProcess child(dir + "/aigw.yaml", dir + "/stderr.log");
  ASSERT_TRUE(child.wait_ready(admin)) << "aigw did not become ready: " << child.log();

  StreamingClient client(port, "POST", "/openai/chat/completions", kStreamBody);
  client.read_until("\"i\":1", 5s);
  ASSERT_TRUE(child.signal(SIGTERM));
  const std::string all = client.read_all(10s);  // completes despite the SIGTERM
  EXPECT_NE(all.find("\"i\":29"), std::string::npos);
  EXPECT_EQ(child.wait_exit(10s), 0);
  EXPECT_THROW(http_request(port, "GET", "/openai/models"), std::exception);
}

// kill -9 while requests keep coming: the request log opens intact and holds every request
// answered more than a flush interval before the kill.
Exchange::Headers json_content() { return {{"Content-Type", "application/json"}}; }

TEST(Binary, KillNineLosesAtMostTheLastFlushInterval) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(
        200,
        R"({"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[],)"
        R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})",
        json_content());
  });
  const std::string dir = make_temp_dir();
  const auto port = free_port();
  const auto admin = free_port();
  {
    std::ofstream cfg(dir + "/aigw.yaml");
    cfg << "server:\n  listen: 127.0.0.1:" << port << "\n  workers: 2\n"
        << "admin:\n  listen: 127.0.0.1:" << admin << "\n"
        << "access_log:\n  path: \"off\"\n"
        << "request_log:\n  path: " << dir << "/aigw.db\n  flush_interval: 100ms\n"
        << "providers:\n  openai:\n    base_url: " << fake.base_url() << "/v1\n"
        << "    ca_file: " << test_pki().ca_file << "\n";
  }
  AigwProcess child(dir + "/aigw.yaml", dir + "/stderr.log");
  ASSERT_TRUE(child.wait_ready(admin)) << "aigw did not become ready: " << child.log();
  const Headers h = {{"Content-Type", "application/json"}};
  const std::string body = R"({"model":"gpt-4o-mini","messages":[]})";
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const auto res = http_request(port, "POST", "/openai/chat/completions", body, h);
    ASSERT_EQ(res.status, 200u);
    ids.push_back(res.header("cf-aig-log-id"));
  }
  std::this_thread::sleep_for(500ms);  // five flush intervals: all of these are committed
  std::atomic<bool> stop{false};
  std::thread load([&] {  // still sending when the process dies
    while (!stop) {
      try {
        http_request(port, "POST", "/openai/chat/completions", body, h);
      } catch (const std::exception&) {
        return;
      }
    }
  });
  std::this_thread::sleep_for(300ms);
  child.kill_now();
  stop = true;
  load.join();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir + "/aigw.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  auto text_of = [&](const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return out;
  };
  EXPECT_EQ(text_of("PRAGMA integrity_check"), "ok");
  int present = 0;
  for (const auto& id : ids) {
    present += text_of("SELECT count(*) FROM logs WHERE id = '" + id + "'") == "1";
  }
  EXPECT_EQ(present, 100);
  EXPECT_GE(std::stoi(text_of("SELECT count(*) FROM logs")), 100);
  EXPECT_EQ(text_of("SELECT sum(tokens_in) FROM logs WHERE id = '" + ids[0] + "'"), "5");
  sqlite3_close(db);
}

TEST(Binary, VersionAndCheckConfig) {
  const std::string dir = make_temp_dir();
  {
    std::ofstream bad(dir + "/bad.yaml");
    bad << "server:\n  workers: -1\n  lisen: 1\n";
  }
  const std::string out = dir + "/out.txt";
  const std::string check =
      std::string(AIGW_BINARY) + " --check-config " + dir + "/bad.yaml 2>" + out;
  const int rc = std::system(check.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(dir + "/bad.yaml:2:12: server.workers: "), std::string::npos) << text;
  EXPECT_NE(text.find(dir + "/bad.yaml:3:3: server.lisen: unknown key (did you mean 'listen'?)"),
            std::string::npos)
      << text;
  // Provider problems are found by the registry after loading, and printed the same way.
  {
    std::ofstream providers(dir + "/providers.yaml");
    providers << "providers:\n  opneai: {}\n  custom-mine:\n    base_url: https://u@h/v1\n";
  }
  const std::string check_providers =
      std::string(AIGW_BINARY) + " --check-config " + dir + "/providers.yaml 2>" + out;
  EXPECT_EQ(WEXITSTATUS(std::system(check_providers.c_str())), 1);
  std::ifstream in2(out);
  std::string text2((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text2.rfind(dir + "/providers.yaml:2:3: providers.opneai: unknown provider 'opneai' "
                              "(did you mean 'openai'?)",
                        0),
            0u)
      << text2;
  EXPECT_NE(text2.find("\n" + dir +
                       "/providers.yaml:4:15: providers.custom-mine.base_url: invalid URL "
                       "'https://u@h/v1': credentials in the URL are not allowed"),
            std::string::npos)
      << text2;

  const std::string good = std::string(AIGW_BINARY) + " --check-config " AIGW_SOURCE_DIR
                                                      "/config/aigw.yaml >/dev/null 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(good.c_str())), 0);
  const std::string version = std::string(AIGW_BINARY) + " --version | grep -q '^aigw '";
  EXPECT_EQ(WEXITSTATUS(std::system(version.c_str())), 0);
}

}  // namespace
}  // namespace aigw::test
