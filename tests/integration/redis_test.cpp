// The Redis connection (src/redis, docs/scaling.md) against a real redis-server started by
// the test (tests/support/redis_server.hpp): pipelined commands from many coroutines of one
// worker answered in order, Lua scripts, AUTH and SELECT, TLS with the server's certificate
// checked, and every failure an answer in bounded time — a server killed and restarted, a
// server paused (it accepts and answers nothing), a wrong password, a reply too large.

#include "redis/client.hpp"
#include "redis/connection.hpp"
#include "support/redis_server.hpp"
#include "support/test_pki.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using redis::Connection;
using redis::Failure;
using redis::Reply;

// Commands for one exec(), built outside the coroutines (GCC 12 rejects a braced list of
// strings inside one: "array used as initializer").
template <class... Args>
std::string cmd(const Args&... args) {
  return redis::encode(std::vector<std::string_view>{std::string_view(args)...});
}

template <class... Commands>
std::vector<std::string> cmds(Commands&&... commands) {
  std::vector<std::string> out;
  (out.push_back(std::forward<Commands>(commands)), ...);
  return out;
}

redis::Options options_for(const RedisServer& server) {
  redis::Options o;
  std::string problem;
  o.endpoint = *redis::parse_url(server.url(), problem);
  o.command_timeout = 500ms;
  o.connect_timeout = 1s;
  return o;
}

// Runs `body` as a coroutine on a fresh io_context until it ends (bounded: 20 s).
void run(const std::function<asio::awaitable<void>(asio::io_context&)>& body) {
  asio::io_context io;
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(io, body(io), [&](std::exception_ptr e) {
    done = true;
    failure = e;
    io.stop();  // a client's connections live as long as the loop: nothing else ends it
  });
  io.run_for(20s);
  ASSERT_TRUE(done) << "the test coroutine did not finish within 20 s";
  if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> sleep_for(asio::io_context& io, std::chrono::milliseconds d) {
  asio::steady_timer timer(io, d);
  co_await timer.async_wait(asio::use_awaitable);
}

TEST(Redis, CommandsScriptsAndErrorRepliesComeBackInOrder) {
  RedisServer server;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    auto redis = Connection::create(io.get_executor(), options_for(server));
    auto replies = co_await redis->exec(
        cmds(cmd("SET", "greeting", "hello"), cmd("GET", "greeting"), cmd("INCRBY", "counter", "5"),
             cmd("INCR", "greeting"), cmd("GET", "absent"),
             cmd("EVAL", "return {KEYS[1], tonumber(ARGV[1]) * 2}", "1", "k", "21")));
    EXPECT_TRUE(replies.has_value()) << (replies ? "" : replies.error().detail);
    if (!replies || replies->size() != 6u) {
      ADD_FAILURE() << "expected 6 replies";
      co_return;
    }
    EXPECT_EQ((*replies)[0].type, Reply::Type::kStatus);
    EXPECT_EQ((*replies)[0].text, "OK");
    EXPECT_EQ((*replies)[1].text, "hello");
    EXPECT_EQ((*replies)[2].integer, 5);
    // A command's error is its reply, not a failure of the call.
    EXPECT_TRUE((*replies)[3].is_error());
    EXPECT_EQ((*replies)[3].text, "ERR value is not an integer or out of range");
    EXPECT_TRUE((*replies)[4].is_nil());
    EXPECT_EQ((*replies)[5].elements.size(), 2u);
    if ((*replies)[5].elements.size() == 2u) {
      EXPECT_EQ((*replies)[5].elements[0].text, "k");
      EXPECT_EQ((*replies)[5].elements[1].integer, 42);
    }
    // Binary-safe arguments.
    const std::string binary("a\0b\r\n", 5);
    replies = co_await redis->exec(cmds(cmd("SET", "bin", binary), cmd("GET", "bin")));
    EXPECT_TRUE(replies.has_value());
    if (replies) {
      EXPECT_EQ((*replies)[1].text, binary);
    }
  });
}

TEST(Redis, ManyCoroutinesShareOnePipelinedConnection) {
  RedisServer server;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    auto redis = Connection::create(io.get_executor(), options_for(server));
    constexpr int kCalls = 300;
    int answered = 0;
    int right = 0;
    for (int i = 0; i < kCalls; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            const std::string key = "key:" + std::to_string(i);
            auto r = co_await redis->exec(cmds(cmd("SET", key, std::to_string(i * 7)),
                                               cmd("GET", key), cmd("INCR", "total")));
            ++answered;
            if (r && r->size() == 3 && (*r)[1].text == std::to_string(i * 7)) ++right;
          },
          asio::detached);
    }
    for (int waited = 0; answered < kCalls && waited < 500; ++waited) co_await sleep_for(io, 10ms);
    EXPECT_EQ(answered, kCalls);
    EXPECT_EQ(right, kCalls);  // each caller got its own replies
    auto total = co_await redis->exec(cmds(cmd("GET", "total")));
    EXPECT_TRUE(total.has_value());
    if (total) {
      EXPECT_EQ((*total)[0].text, std::to_string(kCalls));
    }
    EXPECT_EQ(redis->stats().connects, 1u);  // one connection for all of them
    EXPECT_EQ(redis->stats().round_trips, static_cast<std::uint64_t>(kCalls) + 1);
  });
}

TEST(Redis, AuthAndSelectAndAWrongPassword) {
  RedisServer server(RedisServer::Options{"pa55word", false});
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    redis::Options o = options_for(server);
    o.endpoint.password = "pa55word";
    o.endpoint.db = 3;
    auto redis = Connection::create(io.get_executor(), o);
    auto set = co_await redis->exec(cmds(cmd("SET", "in-three", "yes")));
    EXPECT_TRUE(set.has_value()) << (set ? "" : set.error().detail);

    redis::Options wrong = options_for(server);
    wrong.endpoint.password = "nope";
    auto refused = Connection::create(io.get_executor(), wrong);
    const auto started = std::chrono::steady_clock::now();
    auto r = co_await refused->exec(cmds(cmd("PING")));
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().kind, Failure::Kind::kRefused);
      // The endpoint as displayed (no credentials), then the server's own words.
      EXPECT_EQ(r.error().detail.rfind(
                    "redis redis://127.0.0.1:" + std::to_string(server.port()) + ": WRONGPASS", 0),
                0u)
          << r.error().detail;
      EXPECT_NE(r.error().detail.find("WRONGPASS"), std::string::npos) << r.error().detail;
      EXPECT_EQ(r.error().detail.find("nope"), std::string::npos);  // never the password
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  });
  EXPECT_EQ(server.cli("-n 3 GET in-three"), "yes\n");
  EXPECT_EQ(server.cli("-n 0 EXISTS in-three"), "0\n");
}

TEST(Redis, AKilledServerIsAnAnswerAndARestartedOneIsUsedAgain) {
  RedisServer server;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    redis::Options o = options_for(server);
    o.backoff_min = 100ms;
    o.backoff_max = 400ms;
    auto redis = Connection::create(io.get_executor(), o);
    auto r = co_await redis->exec(cmds(cmd("PING")));
    EXPECT_TRUE(r.has_value());

    server.stop();
    const auto started = std::chrono::steady_clock::now();
    r = co_await redis->exec(cmds(cmd("PING")));
    EXPECT_FALSE(r.has_value());  // broken (the reader saw the close) or unavailable
    r = co_await redis->exec(cmds(cmd("PING")));
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().kind, Failure::Kind::kUnavailable) << r.error().detail;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);  // answered, not hung

    server.start();
    bool back = false;
    for (int i = 0; i < 40 && !back; ++i) {
      co_await sleep_for(io, 50ms);
      r = co_await redis->exec(cmds(cmd("PING")));
      back = r.has_value();
    }
    EXPECT_TRUE(back) << "no reconnect after the restart";
    EXPECT_EQ(redis->stats().connects, 2u);
  });
}

TEST(Redis, APausedServerTimesOutAndCallsFailFastUntilItAnswersAgain) {
  RedisServer server;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    redis::Options o = options_for(server);
    o.command_timeout = 200ms;
    o.connect_timeout = 300ms;
    o.backoff_min = 200ms;
    o.backoff_max = 200ms;
    auto redis = Connection::create(io.get_executor(), o);
    auto r = co_await redis->exec(cmds(cmd("PING")));
    EXPECT_TRUE(r.has_value());

    server.pause();
    auto started = std::chrono::steady_clock::now();
    r = co_await redis->exec(cmds(cmd("PING")));
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().kind, Failure::Kind::kTimeout) << r.error().detail;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 700ms);
    // Within the backoff, at once.
    started = std::chrono::steady_clock::now();
    r = co_await redis->exec(cmds(cmd("PING")));
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().kind, Failure::Kind::kUnavailable);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms);
    EXPECT_EQ(redis->stats().timeouts, 1u);

    server.resume();
    bool back = false;
    for (int i = 0; i < 40 && !back; ++i) {
      co_await sleep_for(io, 50ms);
      r = co_await redis->exec(cmds(cmd("PING")));
      back = r.has_value();
    }
    EXPECT_TRUE(back);
  });
}

TEST(Redis, TlsWithTheServersCertificateChecked) {
  RedisServer server(RedisServer::Options{"", true});
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    redis::Options o = options_for(server);
    EXPECT_TRUE(o.endpoint.tls);
    auto trusted = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    trusted->set_verify_mode(asio::ssl::verify_peer);
    trusted->load_verify_file(test_pki().ca_file);
    o.tls = trusted;
    auto redis = Connection::create(io.get_executor(), o);
    auto r = co_await redis->exec(cmds(cmd("SET", "over", "tls"), cmd("GET", "over")));
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
    if (r) {
      EXPECT_EQ((*r)[1].text, "tls");
    }

    // A context that does not trust the server's CA: refused at the handshake.
    auto untrusting = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    untrusting->set_verify_mode(asio::ssl::verify_peer);
    o.tls = untrusting;
    auto refused = Connection::create(io.get_executor(), o);
    r = co_await refused->exec(cmds(cmd("PING")));
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_NE(r.error().detail.find("TLS handshake failed"), std::string::npos);
    }
  });
}

TEST(Redis, AReplyLargerThanAllowedBreaksTheConnectionNotTheProcess) {
  RedisServer server;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    redis::Options o = options_for(server);
    o.max_reply_bytes = 64 * 1024;
    auto redis = Connection::create(io.get_executor(), o);
    const std::string big(200 * 1024, 'x');
    auto r = co_await redis->exec(cmds(cmd("SET", "big", big)));
    EXPECT_TRUE(r.has_value());
    r = co_await redis->exec(cmds(cmd("GET", "big")));
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().kind, Failure::Kind::kBroken);
      EXPECT_NE(r.error().detail.find("a reply is larger than 65536 bytes"), std::string::npos);
    }
    // The next call is on a new connection.
    r = co_await redis->exec(cmds(cmd("STRLEN", "big")));
    EXPECT_TRUE(r.has_value());
    if (r) {
      EXPECT_EQ((*r)[0].integer, 200 * 1024);
    }
  });
}

}  // namespace
}  // namespace aigw::test

namespace aigw::test {
namespace {

// Deferred commands (settlements) ride in the same write as the next call, or go out by
// themselves shortly after when none comes; a connection that fails tells each one it was
// lost.
TEST(Redis, DeferredCommandsRideAlongOrFlushAndReportTheirLoss) {
  RedisServer server;
  int lost = 0;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    auto redis = Connection::create(io.get_executor(), options_for(server));
    auto replies = co_await redis->exec(cmds(cmd("PING")));  // connected
    EXPECT_TRUE(replies.has_value());
    const auto round_trips = redis->stats().round_trips;
    redis->defer(cmd("SET", "settled", "1"),
                 [&](const redis::Outcome<Reply>& r) { lost += r ? 0 : 1; });
    redis->defer(cmd("INCRBY", "settled", "2"),
                 [&](const redis::Outcome<Reply>& r) { lost += r ? 0 : 1; });
    // The next call's reply is its own; the deferred ones were written before it.
    replies = co_await redis->exec(cmds(cmd("GET", "settled")));
    EXPECT_TRUE(replies.has_value());
    if (replies) {
      EXPECT_EQ(replies->size(), 1u);
      EXPECT_EQ(replies->front().text, "3");
    }
    EXPECT_EQ(redis->stats().round_trips, round_trips + 1);
    // Nothing follows: the flush sends it alone.
    redis->defer(cmd("SET", "flushed", "yes"),
                 [&](const redis::Outcome<Reply>& r) { lost += r ? 0 : 1; });
    co_await sleep_for(io, 50ms);
    EXPECT_EQ(server.cli("GET flushed"), "yes\n");
    // The server goes away: a deferred command with nowhere to go is reported lost.
    server.stop();
    redis->defer(cmd("SET", "gone", "1"),
                 [&](const redis::Outcome<Reply>& r) { lost += r ? 0 : 1; });
    co_await sleep_for(io, 100ms);
    EXPECT_EQ(lost, 1);
  });
}

}  // namespace
}  // namespace aigw::test

namespace aigw::test {
namespace {

// A deferred script on a server that does not know it (new, or restarted since) is sent
// again with its source, so a settlement is never lost to NOSCRIPT.
TEST(Redis, ADeferredScriptTheServerDoesNotKnowIsSentAgainWithItsSource) {
  RedisServer server;
  static const redis::Script kSet("redis.call('SET', KEYS[1], ARGV[1]) return 1");
  auto client = std::make_shared<redis::Client>(options_for(server));
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    const std::vector<std::string_view> keys{"deferred"};
    const std::vector<std::string_view> args{"ran"};
    client->defer_eval(io.get_executor(), redis::Feature::kLimits, kSet, keys, args);
    co_await sleep_for(io, 50ms);
    EXPECT_EQ(server.cli("GET deferred"), "ran\n");
    EXPECT_EQ(client->stats().script_loads.load(), 1u);
    // Known now: EVALSHA alone does it.
    const std::vector<std::string_view> again{"again"};
    client->defer_eval(io.get_executor(), redis::Feature::kLimits, kSet, keys, again);
    co_await sleep_for(io, 50ms);
    EXPECT_EQ(server.cli("GET deferred"), "again\n");
    EXPECT_EQ(client->stats().script_loads.load(), 1u);
  });
}

}  // namespace
}  // namespace aigw::test
