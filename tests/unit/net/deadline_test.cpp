#include "net/deadline.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

namespace aigw::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

// A connected loopback pair: `a` is the socket under a deadline, `b` its peer.
struct Pair {
  asio::io_context io;
  tcp::socket a{io};
  tcp::socket b{io};
  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
  }
};

TEST(Deadline, ShorterThanStepStillFiresAndCancelOnlyCancels) {
  Pair p;
  Deadline deadline(p.a, Deadline::OnExpiry::kCancel, Duration(10'000));
  char byte = 0;
  error_code result;
  const auto start = std::chrono::steady_clock::now();
  deadline.expires_after(Duration(50));
  p.a.async_read_some(asio::buffer(&byte, 1), [&](error_code ec, std::size_t) { result = ec; });
  p.io.run_for(5s);
  EXPECT_EQ(result, asio::error::operation_aborted);
  EXPECT_TRUE(deadline.expired());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);  // never early
  // Cancelled, not closed: the session can still send its 408 on this socket.
  EXPECT_TRUE(p.a.is_open());
  error_code wec;
  asio::write(p.a, asio::buffer("x", 1), wec);
  EXPECT_FALSE(wec);
}

TEST(Deadline, KeepsTickingAndFiresAtTheLastDeadlineSet) {
  Pair p;
  // step 20ms: the timer wakes every 20ms while deadlines keep moving later.
  Deadline deadline(p.a, Deadline::OnExpiry::kClose, Duration(20));
  char byte = 0;
  error_code result;
  bool done = false;
  p.a.async_read_some(asio::buffer(&byte, 1), [&](error_code ec, std::size_t) {
    result = ec;
    done = true;
  });
  // Push the deadline 60ms ahead every 10ms for 200ms: it must not fire meanwhile.
  asio::steady_timer pusher(p.io);
  int pushes = 0;
  std::function<void()> push = [&] {
    deadline.expires_after(Duration(60));
    if (++pushes == 20) return;
    pusher.expires_after(10ms);
    pusher.async_wait([&](error_code) { push(); });
  };
  const auto start = std::chrono::steady_clock::now();
  push();
  p.io.run_for(5s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(deadline.expired());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);  // last push at ~190ms + 60ms
  EXPECT_FALSE(p.a.is_open());                                 // kClose
  EXPECT_NE(result, error_code{});
}

TEST(Deadline, ExpiresNeverLetsTheReadFinish) {
  Pair p;
  Deadline deadline(p.a, Deadline::OnExpiry::kCancel, Duration(10));
  deadline.expires_after(Duration(30));
  deadline.expires_never();
  char byte = 0;
  error_code result = asio::error::would_block;
  std::size_t got = 0;
  p.a.async_read_some(asio::buffer(&byte, 1), [&](error_code ec, std::size_t n) {
    result = ec;
    got = n;
  });
  asio::steady_timer later(p.io, 150ms);
  later.async_wait([&](error_code) { asio::write(p.b, asio::buffer("y", 1)); });
  p.io.run_for(5s);
  EXPECT_FALSE(result);
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(byte, 'y');
  EXPECT_FALSE(deadline.expired());
}

TEST(Deadline, DestroyedWithAWaitPendingIsSafe) {
  Pair p;
  {
    Deadline deadline(p.a, Deadline::OnExpiry::kClose, Duration(10));
    deadline.expires_after(Duration(20));
  }  // the timer's handler runs after this and must not touch the socket
  p.io.run_for(100ms);
  EXPECT_TRUE(p.a.is_open());
}

}  // namespace
}  // namespace aigw::net
