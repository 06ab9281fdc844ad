// The upstream TLS connection (net::TlsStream, issue 20): sessions resumed across
// connections, and streams relayed whole while the connection gives its buffers back between
// events.

#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include <string>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kChatBody = R"({"model":"gpt-4o-mini","messages":[]})";
constexpr const char* kStreamBody = R"({"model":"gpt-4o-mini","stream":true,"messages":[]})";

TEST(UpstreamTls, NewConnectionsResumeTheProvidersSession) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, R"({"ok":true})", json_headers());
  });
  Config c = test_config();
  c.upstream.pool_max_idle_per_host = 0;  // every request on a new connection
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  for (int i = 0; i < 3; ++i) {
    auto res = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
    ASSERT_EQ(res.status, 200u) << i;
    EXPECT_EQ(res.body, R"({"ok":true})");
  }
  EXPECT_EQ(fake.connections_opened(), 3);
  // The first handshake is a full one; the two after it resume the session it left.
  EXPECT_EQ(fake.sessions_resumed(), 2);
}

// Events in bursts with pauses (the relay waits for the provider holding no buffer, then
// takes one again), one event larger than the relay buffer and a TLS record, and then a
// large fixed-length response on the same pooled connection.
TEST(UpstreamTls, PausedStreamsAndLargeBodiesArriveWhole) {
  std::string expected;
  std::vector<std::string> events;
  for (int i = 0; i < 30; ++i) {
    std::string text = "token-" + std::to_string(i);
    if (i == 17) text = std::string(40000, 'x');
    events.push_back(sse(R"({"choices":[{"index":0,"delta":{"content":")" + text + R"("}}]})"));
    expected += events.back();
  }
  events.push_back(sse("[DONE]"));
  expected += events.back();
  std::string large(1 << 20, 'a');
  for (std::size_t i = 0; i < large.size(); i += 997) large[i] = static_cast<char>('b' + i % 23);
  FakeProvider fake([&](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    if (req.body.find("\"stream\":true") == std::string::npos) {
      co_await ex.respond(200, large, json_headers());
      co_return;
    }
    co_await ex.start_stream(200, sse_headers());
    for (std::size_t i = 0; i < events.size(); ++i) {
      co_await ex.send_chunk(events[i]);
      if (i % 5 == 4) co_await ex.sleep(20ms);
    }
    co_await ex.end_stream();
  });
  Config c = test_config();
  add_provider(c, "openai", fake.base_url() + "/v1");
  TestGateway gw(std::move(c));
  auto stream = http_request(gw.port(), "POST", "/openai/chat/completions", kStreamBody);
  ASSERT_EQ(stream.status, 200u);
  EXPECT_EQ(stream.body, expected);
  auto whole = http_request(gw.port(), "POST", "/openai/chat/completions", kChatBody);
  ASSERT_EQ(whole.status, 200u);
  EXPECT_TRUE(whole.body == large) << "body of " << whole.body.size() << " bytes differs";
  EXPECT_EQ(fake.connections_opened(), 1);  // the stream's connection went back to the pool
}

}  // namespace
}  // namespace aigw::test
