#pragma once
// A deadline for the I/O on one socket that costs nothing per operation.
//
// Beast's tcp_stream arms a timer for every read and write and cancels it when the operation
// completes; each cancel runs one more handler through the scheduler. On a keep-alive proxy
// that was several timer operations per request (bench/README.md). Here, setting a deadline
// only stores a time point. One timer per socket wakes up at most every `step` (the shortest
// timeout the owner ever sets, so a new deadline is never earlier than the pending wake-up),
// compares the clock with the stored deadline and re-arms; only a deadline that really passed
// touches the socket. A deadline shorter than `step` still works: it re-arms the timer at once.

#include "aigw/config.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>

namespace aigw::net {

using tcp = boost::asio::ip::tcp;

class Deadline {
 public:
  enum class OnExpiry : std::uint8_t {
    kCancel,  // cancel the pending operations; the socket stays usable (to send a 408)
    kClose,   // close the socket (an upstream connection that timed out is never reused)
  };

  Deadline(tcp::socket& socket, OnExpiry action, Duration step);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // Operations on the socket must finish within `timeout` from now; clears expired().
  void expires_after(Duration timeout);
  // No deadline; clears expired().
  void expires_never() noexcept;
  // The last deadline passed: pending operations were cancelled (or the socket closed) and
  // the I/O helpers (net/io.hpp) fail new ones with beast::error::timeout.
  bool expired() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace aigw::net
