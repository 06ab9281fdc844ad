#include "router/breaker.hpp"

#include <algorithm>

namespace aigw {

CircuitBreaker::Admit CircuitBreaker::admit(TimePoint now) {
  if (!config_.enabled) return Admit::kYes;
  std::lock_guard lock(mu_);
  if (!open_) return Admit::kYes;
  if (now < until_ || probing_) return Admit::kNo;
  probing_ = true;
  return Admit::kProbe;
}

bool CircuitBreaker::would_admit(TimePoint now) const {
  if (!config_.enabled) return true;
  std::lock_guard lock(mu_);
  return !open_ || (now >= until_ && !probing_);
}

CircuitBreaker::TimePoint CircuitBreaker::open_until() const {
  std::lock_guard lock(mu_);
  return open_ ? until_ : TimePoint{};
}

CircuitBreaker::Change CircuitBreaker::record(bool ok, bool probe, TimePoint now) {
  if (!config_.enabled) return Change::kNone;
  std::lock_guard lock(mu_);
  if (probe) {
    probing_ = false;
    if (ok) {
      open_ = false;
      failures_.clear();
      return Change::kClosed;
    }
    until_ = now + config_.cooldown;
    return Change::kReopened;
  }
  // An attempt let through before another request opened the breaker: its outcome is old
  // news either way.
  if (open_ || ok) return Change::kNone;
  const TimePoint horizon = now - config_.window;
  failures_.erase(failures_.begin(), std::find_if(failures_.begin(), failures_.end(),
                                                  [&](TimePoint t) { return t > horizon; }));
  failures_.push_back(now);
  if (failures_.size() < config_.failures) return Change::kNone;
  failures_.clear();
  open_ = true;
  until_ = now + config_.cooldown;
  ++opens_;
  return Change::kOpened;
}

void CircuitBreaker::abandon_probe() {
  std::lock_guard lock(mu_);
  probing_ = false;
}

CircuitBreaker::Change CircuitBreaker::mirror(std::optional<TimePoint> open_until) {
  std::lock_guard lock(mu_);
  if (open_until) {
    const bool was_open = open_;
    open_ = true;
    // While this instance probes, its own view stands until the probe's answer.
    if (!probing_) until_ = *open_until;
    if (was_open) return Change::kNone;
    failures_.clear();
    ++opens_;
    return Change::kOpened;
  }
  if (!open_ || probing_) return Change::kNone;
  open_ = false;
  failures_.clear();
  return Change::kClosed;
}

bool CircuitBreaker::refresh_due(TimePoint now, Duration every) {
  std::lock_guard lock(mu_);
  if (now - refreshed_ < every) return false;
  refreshed_ = now;
  return true;
}

void CircuitBreaker::lose_probe(TimePoint retry_at) {
  std::lock_guard lock(mu_);
  probing_ = false;
  if (open_) until_ = retry_at;
}

CircuitBreaker::State CircuitBreaker::state(TimePoint now) const {
  std::lock_guard lock(mu_);
  if (!open_) return State::kClosed;
  return now < until_ ? State::kOpen : State::kHalfOpen;
}

std::uint64_t CircuitBreaker::opens() const {
  std::lock_guard lock(mu_);
  return opens_;
}

}  // namespace aigw
