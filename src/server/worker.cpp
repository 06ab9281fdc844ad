#include "server/worker.hpp"

#include "server/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

namespace aigw {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

asio::awaitable<void> serve(std::unique_ptr<Session> session) {
  try {
    co_await session->run();
  } catch (const std::exception& e) {
    // A bug, not a client error: keep the worker alive and say so.
    spdlog::error("session ended by exception: {}", e.what());
  }
}

// mimalloc's, when the aigw binary is linked with it (AIGW_MIMALLOC): frees this thread's
// empty pages and segments back to the OS. Weak, so that builds without mimalloc (tests,
// sanitizers) link, with the pointer null.
extern "C" void mi_collect(bool force) __attribute__((weak));
// Also mimalloc's (weak for the same reason), to set its decommit delay while a burst closes.
extern "C" long mi_option_get(int option) __attribute__((weak));
extern "C" void mi_option_set(int option, long value) __attribute__((weak));
// mi_option_decommit_delay in mimalloc 2.0 (MIMALLOC_RESET_DELAY), mi_option_purge_delay at
// the same place in 2.1: how long a freed page stays committed in case it is wanted again.
constexpr int kMiOptionDecommitDelay = 15;

// Memory freed while a burst of connections closes goes back to the OS at once. mimalloc
// keeps a page it freed committed for its decommit delay (100 ms) in case it is wanted again,
// and decommits it only when its segment is touched after that, which an idle worker never
// does: after 5 000 streams the process stayed ~5 MB larger (bench/README.md, "Cost per
// request and memory after load"). So while any worker is closing a burst the delay is 0,
// and it is put back as soon as that worker opens a connection again: under steady load a
// page that empties and fills again then costs no system calls (with the delay at 0
// throughout, a load that opens a connection per request took 2.6x the page faults and
// ~2.5 % of its throughput). The option is process-wide; the count of workers giving back
// keeps one worker from ending another's burst.
class GiveBack {
 public:
  void begin() {
    std::lock_guard lock(mutex_);
    if (workers_++ == 0 && mi_option_get != nullptr && mi_option_set != nullptr) {
      saved_delay_ = mi_option_get(kMiOptionDecommitDelay);
      mi_option_set(kMiOptionDecommitDelay, 0);
    }
  }
  void end() {
    std::lock_guard lock(mutex_);
    if (--workers_ == 0 && mi_option_set != nullptr) {
      mi_option_set(kMiOptionDecommitDelay, saved_delay_);
    }
  }

 private:
  std::mutex mutex_;
  int workers_ = 0;
  long saved_delay_ = 0;
};

GiveBack& give_back() {
  static GiveBack g;
  return g;
}

// After this many connections of a worker have closed since its busiest moment (and at least
// half of them; or an eighth as many, and none is left), the memory they used goes back to
// the OS at once: mimalloc keeps a thread's
// freed pages for its next allocations, and a burst of thousands of streams would otherwise
// leave the process at its peak size.
constexpr std::size_t kCollectAfterClosed = 512;

}  // namespace

Worker::Worker(unsigned index, const ServingSource& source, ServerState& state)
    : index_(index),
      source_(source),
      serving_(source.current()),
      serving_version_(source.version()),
      state_(state),
      // One thread runs this io_context, and only it touches its sockets: the reactor needs no
      // per-descriptor locks (the scheduler keeps its lock for posts from other threads).
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      upstream_(io_, serving_->config, serving_->tls),
      watch_timer_(io_) {}

Worker::~Worker() {
  stop();
  if (giving_back_) give_back().end();
}

const std::shared_ptr<const Serving>& Worker::serving() {
  if (const auto version = source_.version(); version != serving_version_) {
    serving_ = source_.current();
    serving_version_ = version;
    upstream_.serve_with(serving_->config, serving_->tls);
  }
  return serving_;
}

std::shared_ptr<tcp::acceptor> Worker::bind(const tcp::endpoint& endpoint) {
  auto acceptor = std::make_shared<tcp::acceptor>(io_);
  acceptor->open(endpoint.protocol());
  acceptor->set_option(tcp::acceptor::reuse_address(true));
  // Every worker binds the same port; the kernel spreads connections across them.
  const int one = 1;
  if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw boost::system::system_error(errno, boost::system::system_category(), "SO_REUSEPORT");
  }
  acceptor->bind(endpoint);
  acceptor->listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

std::uint16_t Worker::listen(const tcp::endpoint& endpoint) {
  acceptor_ = bind(endpoint);
  return acceptor_->local_endpoint().port();
}

std::uint16_t Worker::rebind(const tcp::endpoint& endpoint) {
  auto next = bind(endpoint);
  const auto port = next->local_endpoint().port();
  asio::post(io_, [this, next = std::move(next)]() mutable {
    if (state_.draining.load()) return;  // a drain closed the old one; stay closed
    boost::system::error_code ignored;
    acceptor_->close(ignored);  // its accept loop ends
    acceptor_ = std::move(next);
    asio::co_spawn(io_, accept_loop(acceptor_), asio::detached);
  });
  return port;
}

void Worker::start() {
  asio::co_spawn(io_, accept_loop(acceptor_), asio::detached);
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::critical("worker {} stopped by exception: {}", index_, e.what());
    }
  });
}

asio::awaitable<void> Worker::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code ignored;
    const auto remote = socket.remote_endpoint(ignored);
    std::string address = ignored ? std::string() : remote.address().to_string();
    const ServerConfig& limits = serving()->config->server;  // as reloaded
    const std::size_t max_connections = limits.max_connections;
    const std::size_t per_address = limits.max_connections_per_address;
    const bool over_total = state_.connections.load(std::memory_order_relaxed) >= max_connections;
    const bool over_address =
        per_address != 0 && !address.empty() && state_.connections_from(address) >= per_address;
    // One client holding every slot with idle sockets must not lock others out: an idle
    // connection makes room first (of the same address, at the per-address limit); only
    // when none is idle is the new one refused (closed as it goes out of scope).
    if ((over_total || over_address) && !close_oldest_idle(over_address ? &address : nullptr)) {
      state_.refused.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(io_,
                   serve(std::make_unique<Session>(std::move(socket), std::move(address), *this)),
                   asio::detached);
  }
}

std::size_t ServerState::connections_from(const std::string& address) {
  std::lock_guard lock(per_address_mutex);
  const auto it = per_address.find(address);
  return it == per_address.end() ? 0 : it->second;
}

std::list<Session*>::iterator Worker::add_session(Session* session) {
  active_.fetch_add(1);
  state_.connections.fetch_add(1, std::memory_order_relaxed);
  if (!session->address().empty()) {
    std::lock_guard lock(state_.per_address_mutex);
    ++state_.per_address[session->address()];
  }
  sessions_.push_front(session);
  peak_sessions_ = std::max(peak_sessions_, sessions_.size());
  if (giving_back_) {
    giving_back_ = false;
    give_back().end();
  }
  return sessions_.begin();
}

void Worker::remove_session(std::list<Session*>::iterator it) {
  if (const std::string& address = (*it)->address(); !address.empty()) {
    std::lock_guard lock(state_.per_address_mutex);
    if (auto found = state_.per_address.find(address);
        found != state_.per_address.end() && --found->second == 0) {
      state_.per_address.erase(found);
    }
  }
  sessions_.erase(it);
  state_.connections.fetch_sub(1, std::memory_order_relaxed);
  active_.fetch_sub(1);
  const std::size_t open = sessions_.size();
  const std::size_t closed = peak_sessions_ - open;
  if ((closed >= kCollectAfterClosed && open <= peak_sessions_ / 2) ||
      (open == 0 && closed >= kCollectAfterClosed / 8)) {
    peak_sessions_ = open;
    upstream_.trim();
    if (mi_collect != nullptr) {
      if (!giving_back_) {
        giving_back_ = true;
        give_back().begin();
      }
      mi_collect(true);
    }
  }
}

bool Worker::close_oldest_idle(const std::string* address) {
  // sessions_ is newest first: the oldest idle connection has waited longest for a request.
  for (auto it = sessions_.rbegin(); it != sessions_.rend(); ++it) {
    Session& s = **it;
    if (!s.idle() || (address != nullptr && s.address() != *address)) continue;
    s.close_if_idle();
    return true;
  }
  return false;
}

void Worker::defer_watch(Session& session) {
  session.watch_hook.unlink();
  deferred_watches_.push_back(session);
  if (!watch_timer_pending_) arm_watch_timer();
}

void Worker::arm_watch_timer() {
  // One timer for all deferred watches: under load it fires every kWatchDelay or so, instead
  // of a timer armed and cancelled per request.
  watch_timer_pending_ = true;
  watch_timer_.expires_at(deferred_watches_.front().watch_wanted + kWatchDelay);
  watch_timer_.async_wait([this](const boost::system::error_code& ec) {
    watch_timer_pending_ = false;
    if (ec) return;
    arm_due_watches();
  });
}

void Worker::arm_due_watches() {
  const auto now = std::chrono::steady_clock::now();
  while (!deferred_watches_.empty()) {
    Session& session = deferred_watches_.front();
    if (now - session.watch_wanted < kWatchDelay) break;  // the rest are younger
    deferred_watches_.pop_front();
    session.arm_deferred_watch();
  }
  if (!deferred_watches_.empty()) arm_watch_timer();
}

void Worker::drain() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    upstream_.drain();
    for (Session* s : sessions_) s->close_if_idle();
  });
}

void Worker::force_close() {
  asio::post(io_, [this] {
    for (Session* s : sessions_) s->force_close();
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

}  // namespace aigw
