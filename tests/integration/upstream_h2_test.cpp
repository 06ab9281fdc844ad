// HTTP/2 to providers (src/upstream/h2.cpp, issue 20): requests of a worker share one TLS
// connection, streams are relayed and metered as over HTTP/1.1, a client that leaves resets
// only its own stream, refused streams go again, and a provider that does not choose h2 (or
// one configured without it) keeps HTTP/1.1.

#include "support/error_body.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr const char* kChatBody = R"({"model":"gpt-4o-mini","messages":[]})";
constexpr const char* kStreamBody = R"({"model":"gpt-4o-mini","stream":true,"messages":[]})";
constexpr std::uint32_t kInternalError = 2;  // RFC 9113 §7

// HTTP/2 offered in ALPN; the TLS handshake held back by `handshake_delay`.
FakeProvider::Options h2_options(std::chrono::milliseconds handshake_delay = {}) {
  FakeProvider::Options o;
  o.http2 = true;
  o.handshake_delay = handshake_delay;
  return o;
}

std::string event(int i) {
  return sse(R"({"choices":[{"index":0,"delta":{"content":"t)" + std::to_string(i) + R"("}}]})");
}
// A stream that sends its first event, waits for `gate`, then ends.
Handler gated_stream(std::shared_ptr<Gate> gate) {
  return [gate](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.start_stream(200, sse_headers());
    co_await ex.send_chunk(event(0));
    co_await ex.wait(*gate, 10s);
    co_await ex.send_chunk(sse("[DONE]"));
    co_await ex.end_stream();
  };
}

// Answers every request with a chat completion.
Handler chat_answer() {
  return [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, chat_completion("gpt-4o-mini"), json_headers());
  };
}

// `n` chat requests to the gateway at once, each on a connection of its own; their answers.
std::vector<HttpResponse> burst(std::uint16_t port, int n) {
  std::vector<std::future<HttpResponse>> pending;
  for (int i = 0; i < n; ++i) {
    pending.push_back(std::async(std::launch::async, [port] {
      return http_request(port, "POST", "/openai/chat/completions", kChatBody);
    }));
  }
  std::vector<HttpResponse> answers;
  for (auto& p : pending) answers.push_back(p.get());
  return answers;
}

std::string usage_event() {
  return sse(
      R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}})");
}

TEST(UpstreamH2, RequestsShareOneConnectionAndArriveAsSent) {
  FakeProvider fake(
      [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.respond(200, chat_completion("gpt-4o-mini"), json_headers());
        (void)req;
      },
      h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  // A body four times the provider's initial window: sent as the window opens.
  const std::string big_body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":")" +
                               std::string(256 * 1024, 'q') + R"("}]})";
  for (int i = 0; i < 4; ++i) {
    const std::string& body = i == 3 ? big_body : std::string(kChatBody);
    auto res = http_request(gw.port(), "POST", "/openai/chat/completions", body,
                            {{"Authorization", "Bearer sk-test"}, {"X-Custom-Thing", "Yes"}});
    ASSERT_EQ(res.status, 200u) << i << res.body;
    EXPECT_EQ(Json::parse(res.body)["usage"]["completion_tokens"], 3);
  }
  EXPECT_EQ(fake.connections_opened(), 1);
  EXPECT_EQ(fake.h2_connections(), 1);
  const auto received = fake.received();
  ASSERT_EQ(received.size(), 4u);
  for (const auto& r : received) {
    EXPECT_EQ(r.protocol, "HTTP/2");
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v1/chat/completions");
    EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(fake.port()));
    EXPECT_EQ(r.headers.at("authorization"), "Bearer sk-test");
    EXPECT_EQ(r.headers.at("x-custom-thing"), "Yes");
    EXPECT_EQ(r.headers.count("connection"), 0u);
  }
  EXPECT_EQ(received[3].body, big_body);
  EXPECT_EQ(received[3].headers.at("content-length"), std::to_string(big_body.size()));
}

// Eight streams at once on one connection, each relayed whole and metered from its own
// usage event.
TEST(UpstreamH2, ConcurrentStreamsAreMultiplexedAndMeteredEach) {
  auto gate = std::make_shared<Gate>();
  FakeProvider fake(
      [gate](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.start_stream(200, sse_headers());
        co_await ex.send_chunk(event(0));
        co_await ex.wait(*gate, 10s);
        for (int i = 1; i < 5; ++i) co_await ex.send_chunk(event(i));
        co_await ex.send_chunk(usage_event());
        co_await ex.send_chunk(sse("[DONE]"));
        co_await ex.end_stream();
      },
      h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  std::vector<std::unique_ptr<StreamingClient>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<StreamingClient>(gw.port(), "POST",
                                                        "/openai/chat/completions", kStreamBody));
    ASSERT_EQ(clients.back()->head().status, 200u);
    clients.back()->read_until("t0");
  }
  EXPECT_EQ(fake.max_concurrent_seen(), 8);
  EXPECT_EQ(fake.connections_opened(), 1);
  gate->open();
  // The usage event answers the include_usage the gateway added: metered, not relayed.
  std::string expected;
  for (int i = 0; i < 5; ++i) expected += event(i);
  expected += sse("[DONE]");
  for (auto& client : clients) EXPECT_EQ(client->read_all(10s), expected);
  auto lines = gw.access_log_lines(8);
  ASSERT_EQ(lines.size(), 8u);
  for (const auto& l : lines) {
    const auto line = Json::parse(l);
    EXPECT_EQ(line["outcome"], "success");
    EXPECT_EQ(line["tokens_in"], 7);
    EXPECT_EQ(line["tokens_out"], 3);
  }
}

TEST(UpstreamH2, TheProvidersStreamLimitOpensASecondConnection) {
  auto gate = std::make_shared<Gate>();
  auto options = h2_options();
  options.max_concurrent_streams = 2;
  FakeProvider fake(gated_stream(gate), options);
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  std::vector<std::unique_ptr<StreamingClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<StreamingClient>(gw.port(), "POST",
                                                        "/openai/chat/completions", kStreamBody));
    clients.back()->read_until("t0");
  }
  EXPECT_EQ(fake.connections_opened(), 2);
  EXPECT_EQ(fake.max_concurrent_seen(), 2);
  gate->open();
  for (auto& client : clients) EXPECT_EQ(client->read_all(10s), event(0) + sse("[DONE]"));
}

// A burst of 64 streams over connections of 16 streams each: once every client has gone, the
// worker closes the idle connections but one (their memory pins the burst's pages).
TEST(UpstreamH2, AfterABurstIdleConnectionsCloseButOne) {
  auto gate = std::make_shared<Gate>();
  auto options = h2_options();
  options.max_concurrent_streams = 16;
  FakeProvider fake(gated_stream(gate), options);
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  {
    std::vector<std::unique_ptr<StreamingClient>> clients;
    for (int i = 0; i < 64; ++i) {
      clients.push_back(std::make_unique<StreamingClient>(gw.port(), "POST",
                                                          "/openai/chat/completions", kStreamBody));
      clients.back()->read_until("t0");
    }
    gate->open();
    for (auto& client : clients) EXPECT_EQ(client->read_all(10s), event(0) + sse("[DONE]"));
    EXPECT_GE(fake.connections_opened(), 4);
    EXPECT_EQ(fake.connections_closed(), 0);
  }
  const int opened = fake.connections_opened();
  EXPECT_TRUE(fake.wait_closed(opened - 1, 5s))
      << fake.connections_closed() << " of " << opened << " closed";
  // The one kept serves the next request.
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(fake.connections_opened(), opened);
  EXPECT_EQ(fake.connections_closed(), opened - 1);
}

// Drain: streams in flight on the shared connection finish, then the connection closes.
TEST(UpstreamH2, DrainLetsTheStreamsOnAConnectionFinishThenClosesIt) {
  auto gate = std::make_shared<Gate>();
  FakeProvider fake(gated_stream(gate), h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  StreamingClient a(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
  StreamingClient b(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
  a.read_until("t0");
  b.read_until("t0");
  EXPECT_EQ(fake.max_concurrent_seen(), 2);
  std::thread drainer([&] { gw.app().drain_and_stop(); });
  while (!gw.app().state().draining.load()) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fake.connections_closed(), 0);  // not while its streams are open
  gate->open();
  EXPECT_EQ(a.read_all(10s), event(0) + sse("[DONE]"));
  EXPECT_EQ(b.read_all(10s), event(0) + sse("[DONE]"));
  drainer.join();
  EXPECT_TRUE(fake.wait_closed(1, 5s));
  EXPECT_EQ(fake.connections_opened(), 1);
  EXPECT_EQ(fake.rst_streams_received(), 0);
}

// The client hangs up mid-stream: its stream is reset (the provider stops generating) and
// the connection carries the next request.
TEST(UpstreamH2, AClientThatLeavesResetsOnlyItsStream) {
  FakeProvider fake(
      [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        if (req.body.find("\"stream\":true") == std::string::npos) {
          co_await ex.respond(200, chat_completion("gpt-4o-mini"), json_headers());
          co_return;
        }
        co_await ex.start_stream(200, sse_headers());
        for (int i = 0; i < 200; ++i) {
          if (!co_await ex.send_chunk(event(i))) co_return;
          co_await ex.sleep(20ms);
        }
        co_await ex.end_stream();
      },
      h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  {
    StreamingClient client(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
    client.read_until("t2");
    client.close();
  }
  for (int i = 0; i < 200 && fake.rst_streams_received() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(fake.rst_streams_received(), 1);
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(fake.connections_opened(), 1);
  auto lines = gw.access_log_lines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Json::parse(lines[0])["outcome"], "client_abort");
  EXPECT_EQ(Json::parse(lines[1])["outcome"], "success");
}

// Sixteen times the stream window: arrives whole only if the gateway gives the window back
// as the client takes the bytes.
TEST(UpstreamH2, LargeBodiesFlowAsTheClientReads) {
  std::string large(1 << 20, 'a');
  for (std::size_t i = 0; i < large.size(); i += 997) large[i] = static_cast<char>('b' + i % 23);
  FakeProvider fake(
      [&](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        if (req.body.find("\"stream\":true") == std::string::npos) {
          co_await ex.respond(200, large, json_headers());
          co_return;
        }
        co_await ex.start_stream(200, sse_headers());
        for (std::size_t at = 0; at < large.size(); at += 16384) {
          co_await ex.send_chunk(large.substr(at, 16384));
        }
        co_await ex.end_stream();
      },
      h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto whole = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  ASSERT_EQ(whole.status, 200u);
  EXPECT_TRUE(whole.body == large) << "body of " << whole.body.size() << " bytes differs";
  EXPECT_EQ(whole.header("content-length"), std::to_string(large.size()));
  StreamingClient slow(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
  std::string got;
  while (auto piece = slow.next(10s)) {
    got += *piece;
    if (got.size() < 256 * 1024) std::this_thread::sleep_for(2ms);
  }
  EXPECT_TRUE(got == large) << "stream of " << got.size() << " bytes differs";
  EXPECT_EQ(fake.connections_opened(), 1);
}

// GOAWAY refusing the request in flight: it was not processed, so it goes again on a new
// connection, and the client sees only the answer.
TEST(UpstreamH2, ARefusedRequestIsSentAgainOnANewConnection) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  FakeProvider fake(
      [calls](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        if (calls->fetch_add(1) == 0) {
          ex.goaway(0, true);
          co_return;
        }
        co_await ex.respond(200, chat_completion("gpt-4o-mini"), json_headers());
      },
      h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(calls->load(), 2);
  EXPECT_EQ(fake.connections_opened(), 2);
  auto lines = gw.access_log_lines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Json::parse(lines[0])["outcome"], "success");
}

TEST(UpstreamH2, AStreamResetBeforeItsHeadIs502) {
  FakeProvider fake(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        ex.reset_stream(kInternalError);
        co_return;
      },
      h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 502u);
  auto e = error_of(res);
  EXPECT_EQ(e["code"], "upstream_reset");
  EXPECT_EQ(e["type"], "gateway_error");
  EXPECT_EQ(e["message"], "provider openai reset the request before responding: INTERNAL_ERROR");
}

TEST(UpstreamH2, AStreamResetMidResponseEndsTheClientsResponseIncomplete) {
  FakeProvider fake(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.start_stream(200, sse_headers());
        co_await ex.send_chunk(event(0));
        co_await ex.sleep(50ms);
        ex.reset_stream(kInternalError);
      },
      h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  StreamingClient client(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
  EXPECT_EQ(client.head().status, 200u);
  EXPECT_THROW(client.read_all(5s), std::runtime_error);
  auto lines = gw.access_log_lines(1);
  ASSERT_EQ(lines.size(), 1u);
  auto line = Json::parse(lines[0]);
  EXPECT_EQ(line["outcome"], "upstream_abort");
  EXPECT_EQ(line["error"], "upstream_reset");
}

// A provider that stays silent: 504 after the first-byte timeout, and the next request is
// answered (on a new connection, as nothing at all came back on the silent one).
TEST(UpstreamH2, ASilentProviderTimesOutAndTheNextRequestIsServed) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  FakeProvider fake(
      [calls](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        if (calls->fetch_add(1) == 0) {
          co_await ex.sleep(3s);
          co_return;
        }
        co_await ex.respond(200, chat_completion("gpt-4o-mini"), json_headers());
      },
      h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1").first_byte_timeout = 300ms;
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 504u);
  EXPECT_EQ(error_of(res)["message"], "provider openai sent no response within 300ms");
  auto next = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(next.status, 200u);
}

// A 503 turned away by a retry: its stream is dropped, the retry goes on the same connection.
TEST(UpstreamH2, ARetriedAnswerLeavesTheConnectionInUse) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  FakeProvider fake(
      [calls](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        if (calls->fetch_add(1) == 0) {
          co_await ex.respond(503, R"({"error":{"message":"busy"}})", json_headers());
          co_return;
        }
        co_await ex.respond(200, chat_completion("gpt-4o-mini"), json_headers());
      },
      h2_options());
  Config c = test_config();
  c.upstream.retry.max_attempts = 2;
  c.upstream.retry.delay = Duration(0);
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(calls->load(), 2);
  EXPECT_EQ(fake.connections_opened(), 1);
}

TEST(UpstreamH2, HeadersLargerThanTheLimitAre502) {
  FakeProvider fake(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        Exchange::Headers headers = json_headers();
        headers.emplace_back("x-big", std::string(3000, 'b'));
        co_await ex.respond(200, "{}", headers);
      },
      h2_options());
  Config c = test_config();
  c.upstream.max_response_header_bytes = 2048;
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  EXPECT_EQ(res.status, 502u);
  EXPECT_EQ(error_of(res)["message"],
            "provider openai sent an invalid HTTP response: header fields larger than 2048 bytes");
}

TEST(UpstreamH2, TurnedOffPerProviderItSpeaksHttp11) {
  FakeProvider fake(chat_answer(), h2_options());
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1").http2 = false;
  TestGateway gw(std::move(c));
  auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  ASSERT_EQ(res.status, 200u);
  ASSERT_EQ(fake.received().size(), 1u);
  EXPECT_EQ(fake.received()[0].protocol, "HTTP/1.1");
  EXPECT_EQ(fake.h2_connections(), 0);
}

// Eight requests at once while the only connection is still being opened (its handshake
// waits 300 ms): they wait for it instead of each opening one.
TEST(UpstreamH2, ABurstAtAColdStartWaitsForTheConnectionBeingOpened) {
  FakeProvider fake(chat_answer(), h2_options(300ms));
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  for (const auto& answer : burst(gw.port(), 8)) EXPECT_EQ(answer.status, 200u);
  EXPECT_EQ(fake.connections_opened(), 1);
  EXPECT_EQ(fake.h2_connections(), 1);
  EXPECT_EQ(fake.requests(), 8);
}

// A client that leaves while its request waits for the connection being opened ends its own
// wait at once (logged as client_abort while the connection is still being opened); the
// request that opens it is answered.
TEST(UpstreamH2, AClientThatLeavesWhileWaitingForAConnectionEndsOnlyItsWait) {
  FakeProvider fake(chat_answer(), h2_options(1500ms));
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto first = std::async(std::launch::async, [&gw] {
    return http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  });
  std::this_thread::sleep_for(100ms);  // the first request is connecting
  {
    asio::io_context io;
    asio::ip::tcp::socket leaver(io);
    leaver.connect({asio::ip::make_address("127.0.0.1"), gw.port()});
    const std::string body = kChatBody;
    asio::write(leaver, asio::buffer("POST /openai/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                     "Content-Type: application/json\r\nContent-Length: " +
                                     std::to_string(body.size()) + "\r\n\r\n" + body));
    std::this_thread::sleep_for(100ms);  // it is waiting
  }                                      // closed
  const auto lines = gw.access_log_lines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Json::parse(lines[0])["outcome"], "client_abort");
  // Still connecting: the leaver did not wait for the handshake to end.
  EXPECT_EQ(first.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(first.get().status, 200u);
  EXPECT_EQ(fake.connections_opened(), 1);
  EXPECT_EQ(fake.requests(), 1);
}

// A connect that fails fails its waiters with it, at once: a provider that does not finish
// its handshake costs the burst one TLS timeout, not one after another.
TEST(UpstreamH2, ABurstWaitingForAConnectThatFailsGetsItsError) {
  FakeProvider fake(chat_answer(), h2_options(5s));
  Config c = test_config();
  c.upstream.tls_timeout = std::chrono::milliseconds(300);
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  const auto answers = burst(gw.port(), 4);
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 502u);
    EXPECT_EQ(a.body, answers[0].body);
  }
  EXPECT_NE(answers[0].body.find("TLS handshake with provider openai failed: timed out after "
                                 "300ms"),
            std::string::npos)
      << answers[0].body;
  EXPECT_EQ(fake.connections_opened(), 1);
}

// The same burst to a provider that turns out to speak HTTP/1.1 only: the requests that
// waited open connections of their own, and every one is answered; the next burst does not
// wait, as the address is now known to answer HTTP/1.1.
TEST(UpstreamH2, ABurstThatWaitedForAnHttp11ProviderGoesOnAlone) {
  FakeProvider::Options options;  // no ALPN: HTTP/1.1
  options.handshake_delay = 200ms;
  FakeProvider fake(chat_answer(), options);
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  for (int round = 0; round < 2; ++round) {
    for (const auto& answer : burst(gw.port(), 6)) EXPECT_EQ(answer.status, 200u) << round;
  }
  EXPECT_EQ(fake.h2_connections(), 0);
  EXPECT_EQ(fake.requests(), 12);
  for (const auto& r : fake.received()) EXPECT_EQ(r.protocol, "HTTP/1.1");
}

}  // namespace
}  // namespace aigw::test
