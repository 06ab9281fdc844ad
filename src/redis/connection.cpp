#include "redis/connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <tuple>

namespace aigw::redis {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;

std::string ms_text(Duration d) { return std::to_string(d.count()) + " ms"; }

// A caller's commands in the pipeline: answered when `replies` has `expected` of them.
struct Pending {
  explicit Pending(const asio::any_io_executor& executor) : signal(executor) {}
  std::size_t expected = 0;
  std::vector<Reply> replies;
  // Deferred commands riding along (Connection::defer): each told its reply, or the failure.
  std::vector<std::function<void(const Outcome<Reply>&)>> on_reply;
  std::optional<Failure> failure;
  bool done = false;
  asio::steady_timer signal;  // the caller waits on it; cancelled when answered or failed
};

}  // namespace

[[noreturn]] void throw_exception_from_error(const Failure& failure,
                                             const boost::source_location&) {
  throw std::runtime_error("redis: " + failure.detail);
}

struct Connection::State {
  State(asio::any_io_executor ex, Options opts)
      : executor(std::move(ex)), options(std::move(opts)), connect_signal(executor) {}

  asio::any_io_executor executor;
  Options options;
  Stats stats;

  std::unique_ptr<tcp::socket> plain;             // redis://
  std::unique_ptr<ssl::stream<tcp::socket>> tls;  // rediss://
  bool connected = false;
  bool connecting = false;
  std::uint64_t generation = 0;       // every close bumps it: the loops of an old socket stop
  asio::steady_timer connect_signal;  // callers wait on it while another call connects
  Clock::time_point retry_at{};
  Duration backoff{0};
  std::string last_error;

  std::deque<std::shared_ptr<Pending>> pending;  // in the order their commands were written
  // defer(): sent with the next exec(), or by a flush shortly after when none comes.
  std::string deferred;
  std::vector<std::function<void(const Outcome<Reply>&)>> deferred_on_reply;
  bool flush_scheduled = false;
  std::string out;  // commands not yet handed to a write
  bool writing = false;
  std::unique_ptr<ReplyReader> reader;
  std::size_t unanswered_bytes = 0;  // read since the last complete reply

  std::string where() const { return "redis " + options.endpoint.display(); }

  void close_socket() {
    error_code ignored;
    if (tls) tls->lowest_layer().close(ignored);
    if (plain) plain->close(ignored);
  }

  // Closes the socket and fails every call on it with `failure`.
  void close(const Failure& failure) {
    ++generation;
    connected = false;
    close_socket();
    out.clear();
    writing = false;
    reader.reset();
    unanswered_bytes = 0;
    auto failed = std::move(pending);
    pending.clear();
    for (const auto& p : failed) {
      p->failure = failure;
      p->done = true;
      p->signal.cancel();
      for (const auto& told : p->on_reply) told(failure);
    }
  }

  // After a failure to connect or a timeout: calls fail at once until the backoff has passed.
  void back_off(const std::string& why) {
    last_error = why;
    backoff =
        backoff.count() == 0 ? options.backoff_min : std::min(options.backoff_max, backoff * 2);
    retry_at = Clock::now() + backoff;
  }
};

namespace {

using State = Connection::State;

asio::awaitable<std::tuple<error_code, std::size_t>> write_all(State& s, std::string_view bytes) {
  if (s.tls) co_return co_await asio::async_write(*s.tls, asio::buffer(bytes), kTuple);
  co_return co_await asio::async_write(*s.plain, asio::buffer(bytes), kTuple);
}

asio::awaitable<std::tuple<error_code, std::size_t>> read_some(State& s,
                                                               asio::mutable_buffer buffer) {
  if (s.tls) co_return co_await s.tls->async_read_some(buffer, kTuple);
  co_return co_await s.plain->async_read_some(buffer, kTuple);
}

// Writes what callers appended to `out`, until it stays empty.
asio::awaitable<void> write_loop(std::shared_ptr<State> s, std::uint64_t generation) {
  std::string chunk;
  while (!s->out.empty()) {
    chunk.clear();
    chunk.swap(s->out);
    const auto [ec, n] = co_await write_all(*s, chunk);
    if (s->generation != generation) co_return;
    if (ec) {
      s->close(Failure{Failure::Kind::kBroken, s->where() + ": write failed: " + ec.message()});
      co_return;
    }
  }
  s->writing = false;
}

// Hands each reply to the oldest call still waiting for one.
asio::awaitable<void> read_loop(std::shared_ptr<State> s, std::uint64_t generation) {
  std::string buffer(kReadChunk, '\0');
  for (;;) {
    const auto [ec, n] = co_await read_some(*s, asio::buffer(buffer));
    if (s->generation != generation) co_return;
    if (ec) {
      s->close(Failure{
          Failure::Kind::kBroken,
          s->where() + ": connection lost: " +
              (ec == asio::error::eof ? std::string("closed by the server") : ec.message())});
      co_return;
    }
    s->unanswered_bytes += n;
    if (s->unanswered_bytes > s->options.max_reply_bytes) {
      s->close(Failure{Failure::Kind::kBroken, s->where() + ": a reply is larger than " +
                                                   std::to_string(s->options.max_reply_bytes) +
                                                   " bytes"});
      co_return;
    }
    if (!s->reader->feed(std::string_view(buffer.data(), n))) {
      s->close(Failure{Failure::Kind::kBroken, s->where() + ": out of memory reading a reply"});
      co_return;
    }
    for (;;) {
      bool broken = false;
      std::optional<Reply> reply = s->reader->next(broken);
      if (broken) {
        s->close(Failure{Failure::Kind::kBroken, s->where() + ": the server's bytes are not RESP"});
        co_return;
      }
      if (!reply) break;
      s->unanswered_bytes = 0;
      if (s->pending.empty()) {
        s->close(Failure{Failure::Kind::kBroken, s->where() + ": a reply nobody asked for"});
        co_return;
      }
      const std::shared_ptr<Pending>& p = s->pending.front();
      p->replies.push_back(std::move(*reply));
      if (p->replies.size() == p->expected) {
        p->done = true;
        p->signal.cancel();
        const auto answered = p;  // told after it left the queue: a callback may defer again
        s->pending.pop_front();
        for (std::size_t i = 0; i < answered->on_reply.size(); ++i) {
          answered->on_reply[i](std::move(answered->replies[i]));
        }
      }
    }
  }
}

// Resolves, connects, shakes hands (TLS), then AUTH, SELECT and a PING, within one deadline:
// a server that accepts connections but does not answer (stopped, overloaded) fails here.
asio::awaitable<std::optional<Failure>> establish(std::shared_ptr<State> s) {
  using namespace asio::experimental::awaitable_operators;
  const Options& o = s->options;
  const Endpoint& e = o.endpoint;
  const auto timeout = [&](const char* step) {
    return Failure{Failure::Kind::kTimeout,
                   s->where() + ": " + step + " timed out after " + ms_text(o.connect_timeout)};
  };
  asio::steady_timer deadline(s->executor);
  deadline.expires_after(o.connect_timeout);

  std::vector<tcp::endpoint> endpoints;
  error_code literal_ec;
  const auto literal = asio::ip::make_address(e.host, literal_ec);
  if (!literal_ec) {
    endpoints.emplace_back(literal, e.port);
  } else {
    tcp::resolver resolver(s->executor);
    auto resolved = co_await (resolver.async_resolve(e.host, std::to_string(e.port), kTuple) ||
                              deadline.async_wait(kTuple));
    if (resolved.index() == 1) co_return timeout("resolving");
    auto [ec, results] = std::get<0>(std::move(resolved));
    if (ec) {
      co_return Failure{Failure::Kind::kUnavailable,
                        s->where() + ": cannot resolve " + e.host + ": " + ec.message()};
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }

  auto socket = std::make_unique<tcp::socket>(s->executor);
  auto connected =
      co_await (asio::async_connect(*socket, endpoints, kTuple) || deadline.async_wait(kTuple));
  if (connected.index() == 1) co_return timeout("connecting");
  if (const auto ec = std::get<0>(std::get<0>(connected))) {
    co_return Failure{Failure::Kind::kUnavailable,
                      s->where() + ": cannot connect: " + ec.message()};
  }
  error_code ignored;
  socket->set_option(tcp::no_delay(true), ignored);

  if (e.tls) {
    if (!o.tls) {
      co_return Failure{Failure::Kind::kRefused, s->where() + ": TLS without a TLS context"};
    }
    s->tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(*socket), *o.tls);
    s->plain.reset();
    // The certificate must name the host (or the address) of the URL; a name is sent as SNI.
    if (literal_ec) SSL_set_tlsext_host_name(s->tls->native_handle(), e.host.c_str());
    s->tls->set_verify_callback(ssl::host_name_verification(e.host));
    auto shaken = co_await (s->tls->async_handshake(ssl::stream_base::client, kTuple) ||
                            deadline.async_wait(kTuple));
    if (shaken.index() == 1) co_return timeout("the TLS handshake");
    if (const auto ec = std::get<0>(std::get<0>(shaken))) {
      co_return Failure{Failure::Kind::kUnavailable,
                        s->where() + ": TLS handshake failed: " + ec.message()};
    }
  } else {
    s->plain = std::move(socket);
    s->tls.reset();
  }

  // AUTH, SELECT, PING: answered before any caller's command goes out.
  std::vector<std::string> hello;
  if (!e.password.empty()) {
    hello.push_back(e.username.empty() ? encode({"AUTH", e.password})
                                       : encode({"AUTH", e.username, e.password}));
  }
  if (e.db != 0) hello.push_back(encode({"SELECT", std::to_string(e.db)}));
  hello.push_back(encode({"PING"}));
  std::string bytes;
  for (const auto& h : hello) bytes += h;
  auto written = co_await (write_all(*s, bytes) || deadline.async_wait(kTuple));
  if (written.index() == 1) co_return timeout("AUTH and PING");
  if (const auto ec = std::get<0>(std::get<0>(written))) {
    co_return Failure{Failure::Kind::kUnavailable, s->where() + ": write failed: " + ec.message()};
  }
  s->reader = std::make_unique<ReplyReader>();
  std::vector<Reply> replies;
  std::string buffer(4096, '\0');
  while (replies.size() < hello.size()) {
    auto read = co_await (read_some(*s, asio::buffer(buffer)) || deadline.async_wait(kTuple));
    if (read.index() == 1) co_return timeout("AUTH and PING");
    const auto [ec, n] = std::get<0>(read);
    if (ec) {
      co_return Failure{Failure::Kind::kUnavailable,
                        s->where() + ": connection closed during AUTH and PING: " + ec.message()};
    }
    s->reader->feed(std::string_view(buffer.data(), n));
    for (;;) {
      bool broken = false;
      auto reply = s->reader->next(broken);
      if (broken) {
        co_return Failure{Failure::Kind::kUnavailable,
                          s->where() + ": the server does not speak RESP"};
      }
      if (!reply) break;
      replies.push_back(std::move(*reply));
    }
  }
  for (const Reply& r : replies) {
    if (r.is_error()) {
      // The server's words (WRONGPASS, NOAUTH, ERR DB index is out of range), never ours.
      co_return Failure{Failure::Kind::kRefused, s->where() + ": " + r.text.substr(0, 200)};
    }
  }
  co_return std::nullopt;
}

// The connection, or why there is none: one call connects while the others wait for it.
asio::awaitable<std::optional<Failure>> ensure_connected(std::shared_ptr<State> s) {
  if (s->connected) co_return std::nullopt;
  if (s->connecting) {
    co_await s->connect_signal.async_wait(kTuple);
    if (s->connected) co_return std::nullopt;
    co_return Failure{Failure::Kind::kUnavailable, s->last_error};
  }
  if (Clock::now() < s->retry_at) {
    co_return Failure{Failure::Kind::kUnavailable, s->last_error + " (retrying after a backoff)"};
  }
  s->connecting = true;
  s->connect_signal.expires_at(Clock::time_point::max());
  const std::uint64_t generation = ++s->generation;
  std::optional<Failure> failure = co_await establish(s);
  s->connecting = false;
  if (failure || s->generation != generation) {
    if (!failure)
      failure = Failure{Failure::Kind::kBroken, s->where() + ": closed while connecting"};
    s->close_socket();
    s->back_off(failure->detail);
  } else {
    s->connected = true;
    s->backoff = Duration{0};
    ++s->stats.connects;
    asio::co_spawn(s->executor, read_loop(s, generation), asio::detached);
  }
  s->connect_signal.cancel();
  co_return failure;
}

}  // namespace

std::shared_ptr<Connection> Connection::create(asio::any_io_executor executor, Options options) {
  auto state = std::make_shared<State>(std::move(executor), std::move(options));
  return std::shared_ptr<Connection>(new Connection(std::move(state)));
}

Connection::~Connection() {
  state_->close(Failure{Failure::Kind::kBroken, state_->where() + ": closed"});
}

void Connection::close() {
  state_->close(Failure{Failure::Kind::kBroken, state_->where() + ": closed"});
}

namespace {

asio::awaitable<Outcome<std::vector<Reply>>> exec_on(std::shared_ptr<State> s,
                                                     std::vector<std::string> commands);

// Sends what was deferred when no exec() took it along within kDeferFor.
asio::awaitable<void> flush_deferred(std::shared_ptr<State> s) {
  asio::steady_timer timer(s->executor);
  timer.expires_after(Connection::kDeferFor);
  co_await timer.async_wait(kTuple);
  s->flush_scheduled = false;
  if (s->deferred.empty()) co_return;
  std::vector<std::string> none;
  (void)co_await exec_on(s, std::move(none));  // takes the deferred commands along
}

}  // namespace

void Connection::defer(std::string command, std::function<void(const Outcome<Reply>&)> on_reply) {
  const std::shared_ptr<State> s = state_;
  if (s->deferred.size() + command.size() > kMaxDeferredBytes) {
    on_reply(Failure{Failure::Kind::kUnavailable, s->where() + ": more than " +
                                                      std::to_string(kMaxDeferredBytes) +
                                                      " bytes of deferred commands are waiting"});
    return;
  }
  s->deferred += command;
  s->deferred_on_reply.push_back(std::move(on_reply));
  if (!s->flush_scheduled) {
    s->flush_scheduled = true;
    asio::co_spawn(s->executor, flush_deferred(s), asio::detached);
  }
}

bool Connection::connected() const noexcept { return state_->connected; }
const Stats& Connection::stats() const noexcept { return state_->stats; }
const Options& Connection::options() const noexcept { return state_->options; }

namespace {

asio::awaitable<Outcome<std::vector<Reply>>> exec_on(std::shared_ptr<State> s,
                                                     std::vector<std::string> commands) {
  if (commands.empty() && s->deferred.empty()) co_return std::vector<Reply>{};
  if (auto failure = co_await ensure_connected(s)) {
    ++s->stats.failures;
    if (!s->deferred.empty()) {
      // Deferred commands cannot wait for a connection that fails: they are lost.
      auto lost = std::move(s->deferred_on_reply);
      s->deferred_on_reply.clear();
      s->deferred.clear();
      for (const auto& told : lost) told(*failure);
    }
    co_return std::move(*failure);
  }
  if (!s->deferred.empty()) {
    // Deferred commands go first, in the same write: no round trip of their own. Nobody
    // waits for their replies.
    auto riding = std::make_shared<Pending>(s->executor);
    riding->expected = s->deferred_on_reply.size();
    riding->on_reply = std::move(s->deferred_on_reply);
    s->deferred_on_reply.clear();
    s->out += s->deferred;
    s->deferred.clear();
    s->stats.commands += riding->expected;
    s->pending.push_back(std::move(riding));
  }
  const auto start_writing = [&] {
    if (!s->writing) {
      s->writing = true;
      // Posted, not started here: the other requests this pass of the event loop serves
      // append their commands first, and all go out in one write (one syscall, one wakeup
      // of the server) instead of one each.
      asio::post(s->executor, [s, generation = s->generation] {
        asio::co_spawn(s->executor, write_loop(s, generation), asio::detached);
      });
    }
  };
  if (commands.empty()) {  // a flush of deferred commands: nobody waits for their replies
    start_writing();
    co_return std::vector<Reply>{};
  }
  auto p = std::make_shared<Pending>(s->executor);
  p->expected = commands.size();
  for (const auto& c : commands) s->out += c;
  s->pending.push_back(p);
  s->stats.commands += commands.size();
  start_writing();
  p->signal.expires_after(s->options.command_timeout);
  co_await p->signal.async_wait(kTuple);  // cancelled once answered (or failed)
  if (!p->done) {
    // No answer in time: the server is stalled or overloaded. Every call on this connection
    // fails now, and calls fail fast for a backoff instead of each waiting its timeout.
    const Failure timeout{Failure::Kind::kTimeout,
                          s->where() + ": no reply within " + ms_text(s->options.command_timeout)};
    s->close(timeout);
    s->back_off(timeout.detail);
  }
  if (p->failure) {
    ++s->stats.failures;
    if (p->failure->kind == Failure::Kind::kTimeout) ++s->stats.timeouts;
    co_return std::move(*p->failure);
  }
  ++s->stats.round_trips;
  co_return std::move(p->replies);
}

}  // namespace

asio::awaitable<Outcome<std::vector<Reply>>> Connection::exec(std::vector<std::string> commands) {
  return exec_on(state_, std::move(commands));
}

}  // namespace aigw::redis
