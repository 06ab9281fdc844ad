#include "stages/cache/flight.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <functional>

namespace aigw::cache {

namespace asio = boost::asio;

void Waiter::notify() {
  // The timer belongs to the follower's thread: touch it only there.
  asio::post(timer_.get_executor(), [self = shared_from_this()] {
    self->woken_ = true;
    self->timer_.cancel();
  });
}

asio::awaitable<bool> Waiter::wait(SteadyTime deadline) {
  // A wake posted after the caller last looked at the flight runs only once this coroutine
  // is suspended (same thread), or has already set woken_: none is lost.
  if (!woken_) {
    timer_.expires_at(deadline);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  const bool woken = woken_;
  woken_ = false;
  co_return woken;
}

void Flight::notify(std::unique_lock<std::mutex>& lock) {
  std::vector<std::shared_ptr<Waiter>> live;
  live.reserve(waiters_.size());
  std::erase_if(waiters_, [&](const std::weak_ptr<Waiter>& w) {
    auto p = w.lock();
    if (!p) return true;
    live.push_back(std::move(p));
    return false;
  });
  lock.unlock();
  for (const auto& w : live) w->notify();
}

void Flight::publish_head(CachedResponse head, bool streamed) {
  std::unique_lock lock(mutex_);
  if (state_ != State::kWaiting) return;
  head_ = std::make_shared<const CachedResponse>(std::move(head));
  streamed_ = streamed;
  state_ = State::kRelaying;
  notify(lock);
}

bool Flight::append(std::string_view chunk) {
  std::unique_lock lock(mutex_);
  if (state_ != State::kRelaying) return false;
  if (body_.size() + chunk.size() > max_bytes_) {
    state_ = State::kFailed;
    body_ = std::string();
    notify(lock);
    return false;
  }
  body_.append(chunk);
  // A buffered response is shared only once complete: nobody to wake per chunk.
  if (streamed_) {
    notify(lock);
  }
  return true;
}

std::shared_ptr<const CachedResponse> Flight::complete(SteadyTime now,
                                                       std::optional<ResponseUsage> usage) {
  std::unique_lock lock(mutex_);
  if (state_ != State::kRelaying) return nullptr;
  CachedResponse response = *head_;
  // The body grew by appends: up to twice its size in capacity. It may live in the cache
  // for its whole TTL, charged by capacity, so give the slack back (one copy, once).
  if (body_.capacity() - body_.size() > body_.size() / 8) body_.shrink_to_fit();
  response.body = std::make_shared<const std::string>(std::move(body_));
  response.stored_at = now;
  response.usage = std::move(usage);
  final_ = std::make_shared<const CachedResponse>(std::move(response));
  body_ = std::string();
  state_ = State::kComplete;
  auto out = final_;
  notify(lock);
  return out;
}

void Flight::fail() {
  std::unique_lock lock(mutex_);
  if (state_ == State::kComplete || state_ == State::kFailed) return;
  state_ = State::kFailed;
  body_ = std::string();
  notify(lock);
}

void Flight::subscribe(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  waiters_.push_back(waiter);
}

Flight::State Flight::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

bool Flight::streamed() const {
  std::lock_guard lock(mutex_);
  return streamed_;
}

std::shared_ptr<const CachedResponse> Flight::head() const {
  std::lock_guard lock(mutex_);
  return head_;
}

Flight::State Flight::read(std::size_t offset, std::string& out,
                           std::shared_ptr<const CachedResponse>& final) const {
  std::lock_guard lock(mutex_);
  if (state_ == State::kComplete) {
    final = final_;
  } else if (state_ == State::kRelaying && offset < body_.size()) {
    out.append(body_, offset, std::string::npos);
  }
  return state_;
}

bool Flight::has_followers() const {
  std::lock_guard lock(mutex_);
  return std::any_of(waiters_.begin(), waiters_.end(),
                     [](const std::weak_ptr<Waiter>& w) { return !w.expired(); });
}

std::size_t Flight::follower_count() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(waiters_.begin(), waiters_.end(),
                    [](const std::weak_ptr<Waiter>& w) { return !w.expired(); }));
}

FlightTable::FlightTable(std::size_t shards) {
  shards = std::max<std::size_t>(shards, 1);
  shards_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

FlightTable::Shard& FlightTable::shard_for(const std::string& key) {
  return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

FlightTable::Joined FlightTable::join_or_lead(const std::string& key, bool may_lead,
                                              std::size_t max_bytes) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.flights.find(key); it != shard.flights.end()) {
    return Joined{it->second, false};
  }
  if (!may_lead) return {};
  auto flight = std::make_shared<Flight>(max_bytes);
  shard.flights.emplace(key, flight);
  return Joined{std::move(flight), true};
}

void FlightTable::finish(const std::string& key, const Flight* flight) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.flights.find(key); it != shard.flights.end() && it->second.get() == flight) {
    shard.flights.erase(it);
  }
}

std::size_t FlightTable::size() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    n += shard->flights.size();
  }
  return n;
}

}  // namespace aigw::cache

namespace aigw::cache {

std::size_t FlightTable::followers() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (const auto& [key, flight] : shard->flights) n += flight->follower_count();
  }
  return n;
}

}  // namespace aigw::cache
