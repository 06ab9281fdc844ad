#pragma once
// A circuit breaker for one target of a named route (docs/routing.md): after `failures`
// failed attempts within `window` the target is open, skipped by every request, for
// `cooldown`; then the first request to reach it is its probe (the others keep skipping it),
// and the probe's answer closes the breaker or opens it for another cooldown.
//
// Shared by every worker, so each call takes a mutex: a few dozen nanoseconds against a
// provider call, and only for route targets. Times are passed in, so the state machine is
// tested on a fake clock.

#include "aigw/config.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace aigw {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  enum class State : std::uint8_t { kClosed, kOpen, kHalfOpen };
  enum class Admit : std::uint8_t {
    kYes,    // closed: go
    kProbe,  // the cooldown is over and this attempt is the probe: record() its outcome
    kNo,     // open, or another request is probing: skip the target
  };
  // What a record() changed, for the log line and the metric.
  enum class Change : std::uint8_t { kNone, kOpened, kClosed, kReopened };

  explicit CircuitBreaker(BreakerConfig config) : config_(config) {}

  // Whether an attempt may go to the target now; kProbe takes the probe slot.
  Admit admit(TimePoint now);
  // admit() without taking anything: whether a request planned now would be let through.
  bool would_admit(TimePoint now) const;
  // When an open breaker lets a probe through (now or earlier when not open).
  TimePoint open_until() const;
  // The outcome of an attempt admit() let through: `ok` is an answer other than 429 or 5xx.
  Change record(bool ok, bool probe, TimePoint now);
  // A probe that ended without an outcome (the client left): the next request probes.
  void abandon_probe();

  // --- a breaker shared by the fleet through Redis (breaker.store, docs/scaling.md): the
  // fleet's state is the truth, and this object mirrors it ---
  // Sets the fleet's state: open until `open_until` (nullopt: closed). A probe this instance
  // has in flight is kept. kOpened or kClosed when it changed.
  Change mirror(std::optional<TimePoint> open_until);
  // True at most once per `every`: the caller should read the fleet's state now.
  bool refresh_due(TimePoint now, Duration every);
  // Another instance is the fleet's probe: this one gives its probe slot back and skips the
  // target until `retry_at`, when it asks again.
  void lose_probe(TimePoint retry_at);

  State state(TimePoint now) const;
  const BreakerConfig& config() const noexcept { return config_; }
  std::uint64_t opens() const;

 private:
  mutable std::mutex mu_;
  BreakerConfig config_;
  std::vector<TimePoint> failures_;  // within the window, oldest first; at most config_.failures
  bool open_ = false;
  bool probing_ = false;
  TimePoint until_{};
  std::uint64_t opens_ = 0;
  TimePoint refreshed_{};  // fleet breakers: when the fleet's state was last asked for
};

}  // namespace aigw
