#include "net/deadline.hpp"

#include <algorithm>

namespace aigw::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();

}  // namespace

// Shared with the pending timer handler, which may run after the Deadline is gone.
struct Deadline::State {
  explicit State(tcp::socket& s, OnExpiry a, Duration st)
      : socket(&s), timer(s.get_executor()), action(a), step(std::max(st, Duration(1))) {}

  tcp::socket* socket;  // null once the Deadline is destroyed
  boost::asio::steady_timer timer;
  OnExpiry action;
  Duration step;
  Clock::time_point deadline = kNever;
  Clock::time_point wake = kNever;  // expiry of the pending wait; kNever when none is pending
  std::uint64_t generation = 0;     // tells a superseded wait's handler to do nothing
  bool expired = false;

  static void arm(const std::shared_ptr<State>& self, Clock::time_point at) {
    self->wake = at;
    const std::uint64_t gen = ++self->generation;
    self->timer.expires_at(at);
    self->timer.async_wait([self, gen](const boost::system::error_code& ec) {
      if (gen != self->generation) return;  // re-armed since; that wait owns the state now
      self->wake = kNever;
      if (ec || self->socket == nullptr || self->deadline == kNever) return;
      const auto now = Clock::now();
      if (now < self->deadline) {
        arm(self, std::min(self->deadline, now + self->step));
        return;
      }
      self->deadline = kNever;
      self->expired = true;
      boost::system::error_code ignored;
      if (self->action == OnExpiry::kClose) {
        self->socket->close(ignored);
      } else {
        self->socket->cancel(ignored);
      }
    });
  }
};

Deadline::Deadline(tcp::socket& socket, OnExpiry action, Duration step)
    : state_(std::make_shared<State>(socket, action, step)) {}

Deadline::~Deadline() {
  state_->socket = nullptr;
  state_->deadline = kNever;
  state_->timer.cancel();  // the pending handler (if any) releases the state
}

void Deadline::expires_after(Duration timeout) {
  const auto now = Clock::now();
  auto& s = *state_;
  s.expired = false;
  s.deadline = now + timeout;
  // A pending wake-up at or before the new deadline will re-arm itself; only an earlier
  // deadline (shorter than `step`, or no wait pending) needs the timer touched now.
  if (s.wake > s.deadline) State::arm(state_, std::min(s.deadline, now + s.step));
}

void Deadline::expires_never() noexcept {
  state_->expired = false;
  state_->deadline = kNever;
}

bool Deadline::expired() const noexcept { return state_->expired; }

}  // namespace aigw::net
