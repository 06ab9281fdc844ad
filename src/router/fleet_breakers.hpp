#pragma once
// Circuit breakers shared by every gateway instance through Redis (breaker.store,
// docs/scaling.md). Redis holds the truth per target; each instance's CircuitBreaker mirrors
// it, so the hot path still decides on local memory:
//   - a failed attempt is counted in Redis (a sorted set of failure times within the window);
//     the failure that reaches `failures` opens the breaker for the fleet, and the instance
//     that sent it mirrors that at once;
//   - an instance reads its route's breakers (one MGET) before a request when its mirror is
//     older than kRefresh, so another instance's discovery of an outage reaches it within
//     that time and it does not send its own failures to find out;
//   - when the cooldown is over, the instance whose request comes first takes the fleet's
//     probe slot (SET NX): one probe for the whole fleet; the others keep skipping the
//     target until the probe's answer closes or reopens it.
// Redis failing falls back to the instance's own breaker (counted and logged): outages are
// still found, each instance for itself, as without Redis.
//
// Keys: {prefix}br:{digest of route and target}:open (the fleet's "open until", Unix ms),
// :fail (failure times) and :probe (the probe slot).

#include "redis/client.hpp"
#include "router/routes.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

namespace aigw {

class FleetBreakers {
 public:
  static constexpr Duration kRefresh{std::chrono::milliseconds(200)};

  explicit FleetBreakers(std::shared_ptr<redis::Client> client);

  // The key stem of a route's target: a digest, so route names stay out of Redis.
  std::string key_of(std::string_view route, std::size_t target) const;

  // Mirrors the fleet's state of `route`'s shared breakers, when due. One round trip.
  boost::asio::awaitable<void> refresh(const Route& route) const;
  // The local breaker made this instance the probe of `target`: whether the fleet agrees
  // (kProbe), another instance probes (kNo: the local slot is given back), or the fleet's
  // breaker closed meanwhile (kYes).
  boost::asio::awaitable<CircuitBreaker::Admit> probe(const Route& route,
                                                      const RouteTarget& target) const;
  // An attempt's outcome, sent in the background on `executor`.
  void record(const boost::asio::any_io_executor& executor, const Route& route,
              const RouteTarget& target, bool ok, bool probe) const;

  redis::Client& client() const noexcept { return *client_; }

 private:
  boost::asio::awaitable<void> send_record(const Route* route, const RouteTarget* target, bool ok,
                                           bool probe) const;

  std::shared_ptr<redis::Client> client_;
};

}  // namespace aigw
