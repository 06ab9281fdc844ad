// Connection slots one client can hold (issue 15, finding 6): a per-address cap, a short
// deadline for a new connection's first request, and idle connections closed to make room
// before a new one is refused.

#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/http_client.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct Conn {
  explicit Conn(std::uint16_t port) : socket(io) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // Whether the gateway closed the connection within `limit` (EOF or reset), reading and
  // dropping whatever it sent first.
  bool closed_within(std::chrono::milliseconds limit) {
    socket.non_blocking(true);
    const auto until = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      boost::system::error_code ec;
      socket.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) {
        socket.wait(tcp::socket::wait_read, ec);  // bounded by the server's own deadlines
        continue;
      }
      if (ec) return true;
    }
    return false;
  }
  // Whether the connection is still open now (nothing to read, no EOF).
  bool open_now() {
    socket.non_blocking(true);
    char byte;
    boost::system::error_code ec;
    socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
    return ec == asio::error::would_block;
  }
  asio::io_context io;
  tcp::socket socket;
};

Config limited(const FakeProvider& fake, std::size_t per_address) {
  Config c = test_config();
  c.server.max_connections_per_address = per_address;
  c.server.idle_timeout = 30s;
  c.server.request_timeout = 30s;
  add_provider(c, "openai", fake.base_url() + "/v1");
  return c;
}

Handler ok() {
  return [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(200, "{}");
  };
}

// Connections with a request in progress hold their slots: the next one from the same
// address is refused (closed at once) since none is idle to make room.
TEST(Connections, ThePerAddressCapRefusesWhenNoConnectionIsIdle) {
  FakeProvider fake([](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.sleep(1500ms);
    co_await ex.respond(200, "{}");
  });
  TestGateway gw(limited(fake, 3));
  std::vector<std::unique_ptr<Conn>> busy;
  for (int i = 0; i < 3; ++i) {
    busy.push_back(std::make_unique<Conn>(gw.port()));
    asio::write(busy.back()->socket,
                asio::buffer(std::string("GET /openai/models HTTP/1.1\r\nHost: x\r\n\r\n")));
  }
  // Bounded wait until the three requests are with the provider (no connection idle).
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (fake.requests() < 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(fake.requests(), 3);
  Conn refused(gw.port());
  EXPECT_TRUE(refused.closed_within(1s));
  EXPECT_EQ(fake.requests(), 3);
  for (auto& conn : busy) EXPECT_TRUE(conn->open_now());
}

// Idle connections (never sent a byte) make room: the oldest is closed, the new one served.
TEST(Connections, AtTheCapTheOldestIdleConnectionMakesRoom) {
  FakeProvider fake(ok());
  TestGateway gw(limited(fake, 3));
  std::vector<std::unique_ptr<Conn>> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(std::make_unique<Conn>(gw.port()));
  // A request on a fourth connection goes through...
  const auto res = http_request(gw.port(), "GET", "/openai/models");
  EXPECT_EQ(res.status, 200u);
  // ...because the oldest idle one was closed for it.
  EXPECT_TRUE(idle[0]->closed_within(5s));
}

// A connection that never sends a request is closed after first_request_timeout, not held
// for the whole idle_timeout (30 s here).
TEST(Connections, ANewConnectionMustSendItsFirstRequestSoon) {
  FakeProvider fake(ok());
  Config c = limited(fake, 0);
  c.server.first_request_timeout = 200ms;
  TestGateway gw(std::move(c));
  Conn silent(gw.port());
  EXPECT_TRUE(silent.closed_within(10s));
  // After a response, the keep-alive wait is idle_timeout: a second request still works on a
  // connection that waited longer than first_request_timeout.
  Conn kept(gw.port());
  const std::string request = "GET /openai/models HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(kept.socket, asio::buffer(request));
  char buf[4096];
  std::string got;
  while (got.find("\r\n\r\n{}") == std::string::npos) {
    got.append(buf, kept.socket.read_some(asio::buffer(buf)));
  }
  std::this_thread::sleep_for(400ms);  // longer than first_request_timeout, on purpose
  EXPECT_TRUE(kept.open_now());
}

}  // namespace
}  // namespace aigw::test
