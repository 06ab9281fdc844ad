#include "server/session.hpp"

#include "aigw/ids.hpp"
#include "aigw/request_context.hpp"

#include "pipeline/headers.hpp"
#include "server/worker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace aigw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string seconds_text(Duration d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s"
                               : std::to_string(d.count()) + "ms";
}

// A client-chosen event id is echoed back in a response header, so it must be a safe
// header value: visible ASCII, bounded.
bool valid_event_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

Session::Session(asio::ip::tcp::socket socket, Worker& worker)
    : stream_(std::move(socket)), read_timer_(stream_.get_executor()), worker_(worker) {
  registration_ = worker_.add_session(this);
  read_deadline_->socket = &stream_.socket();
}

Session::~Session() {
  read_deadline_->socket = nullptr;
  unwatch();
  worker_.remove_session(registration_);
}

void Session::close_if_idle() noexcept {
  if (idle_) stream_.cancel();
}

void Session::force_close() noexcept {
  broken_ = true;
  error_code ignored;
  stream_.socket().close(ignored);
}

asio::awaitable<void> Session::run() {
  const ServerConfig& cfg = worker_.config().server;
  error_code ignored;
  const auto remote = stream_.socket().remote_endpoint(ignored);
  const std::string client_ip = ignored ? std::string() : remote.address().to_string();

  while (!broken_ && !close_after_) {
    // Wait for the first byte of the next request under the idle deadline; an idle
    // connection that times out (or is closed by a drain) is closed silently, like nginx.
    if (buffer_.size() == 0) {
      if (worker_.draining()) break;
      idle_ = true;
      stream_.expires_after(cfg.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kTuple);
      idle_ = false;
      if (ec) break;
      buffer_.commit(n);
    }

    RequestContext ctx;
    ctx.started = std::chrono::steady_clock::now();
    ctx.started_wall = std::chrono::system_clock::now();
    ctx.id = make_uuid_v7();
    ctx.event_id = ctx.id;
    ctx.client_ip = client_ip;

    bool body_unread = false;
    if (!co_await read_request(ctx, body_unread)) break;  // client vanished mid-request

    if (!ctx.error && worker_.draining()) {
      ctx.error =
          Error{ErrorCode::kDraining, "gateway is shutting down; retry on another instance", true};
      close_after_ = true;
    }
    if (ctx.error) close_after_ = true;
    co_await worker_.pipeline().run(ctx, worker_.upstream(), *this);
    if (body_unread && !broken_) co_await linger_close();
  }

  if (!broken_) {
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }
  stream_.socket().close(ignored);
}

asio::awaitable<bool> Session::read_request(RequestContext& ctx, bool& body_unread) {
  const ServerConfig& cfg = worker_.config().server;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
  parser.body_limit(cfg.max_body_bytes);

  // The whole request must arrive within request_timeout of its first byte (slowloris).
  stream_.expires_never();
  auto deadline = read_deadline_;
  deadline->armed = true;
  deadline->fired = false;
  read_timer_.expires_after(cfg.request_timeout);
  read_timer_.async_wait([deadline](error_code timer_ec) {
    if (timer_ec || !deadline->armed || deadline->socket == nullptr) return;
    deadline->fired = true;
    error_code ignored;
    deadline->socket->cancel(ignored);
  });
  struct Disarm {
    ReadDeadline& d;
    asio::steady_timer& t;
    ~Disarm() {
      d.armed = false;
      t.cancel();
    }
  } disarm{*deadline, read_timer_};
  auto [ec, n] = co_await http::async_read_header(stream_, buffer_, parser, kTuple);
  if (!ec) {
    const auto& req = parser.get();
    client_http10_ = req.version() < 11;
    // Clients such as curl hold large bodies back until told to go on (RFC 9110 §10.1.1).
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser.is_done()) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      std::tie(ec, n) = co_await asio::async_write(stream_, asio::buffer(kContinue), kTuple);
    }
  }
  if (!ec && !parser.is_done()) {
    std::tie(ec, n) = co_await http::async_read(stream_, buffer_, parser, kTuple);
  }

  if (ec) {
    // The connection cannot be trusted past a framing error: answer (if it makes sense),
    // log, and close.
    body_unread = true;
    close_after_ = true;
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == http::error::partial_message) {
      if (!parser.is_header_done()) co_return false;  // nothing to answer or log
      ctx.request = parser.release();
      ctx.error = Error{ErrorCode::kBadRequest, "client closed the connection mid-body", false};
      ctx.outcome = Outcome::kClientAbort;
      broken_ = true;
      co_return true;
    }
    if (ec == http::error::header_limit) {
      ctx.error = Error{ErrorCode::kHeadersTooLarge,
                        "request headers exceed " + std::to_string(cfg.max_header_bytes) +
                            " bytes (server.max_header_bytes)",
                        false};
    } else if (ec == http::error::body_limit) {
      ctx.error = Error{ErrorCode::kBodyTooLarge,
                        "request body exceeds " + std::to_string(cfg.max_body_bytes) +
                            " bytes (server.max_body_bytes)",
                        false};
    } else if (deadline->fired) {
      ctx.error = Error{ErrorCode::kRequestTimeout,
                        "request not received within " + seconds_text(cfg.request_timeout) +
                            " (server.request_timeout)",
                        false};
    } else {
      ctx.error = Error{ErrorCode::kBadRequest, "malformed HTTP request: " + ec.message(), false};
    }
    if (parser.is_header_done()) ctx.request = parser.release();
    co_return true;
  }

  ctx.request = parser.release();
  ctx.request_bytes = ctx.request.body().size();
  if (!ctx.request.keep_alive()) close_after_ = true;
  headers::extract_control(ctx.request, ctx.control);
  headers::strip_hop_by_hop(ctx.request);
  if (auto event = ctx.control_header("cf-aig-event-id"); event && valid_event_id(*event)) {
    ctx.event_id = std::string(*event);
  }
  co_return true;
}

asio::awaitable<bool> Session::send_head(http::response_header<>& head,
                                         std::optional<std::uint64_t> content_length,
                                         bool head_only) {
  chunked_ = false;
  if (!head_only) {
    if (content_length) {
      head.set(http::field::content_length, std::to_string(*content_length));
    } else if (!client_http10_) {
      head.set(http::field::transfer_encoding, "chunked");
      chunked_ = true;
    } else {
      close_after_ = true;  // HTTP/1.0 has no chunked coding: the close ends the body
    }
  }
  if (close_after_ || worker_.draining()) {
    close_after_ = true;
    head.set(http::field::connection, "close");
  } else if (client_http10_) {
    head.set(http::field::connection, "keep-alive");
  }

  // Serialized by hand: one pass over the fields, no serializer state machine.
  pending_head_.clear();
  pending_head_ += "HTTP/1.1 ";
  pending_head_ += std::to_string(head.result_int());
  pending_head_ += ' ';
  const std::string_view reason = head.reason();
  pending_head_ += reason.empty() ? std::string_view(http::obsolete_reason(head.result())) : reason;
  pending_head_ += "\r\n";
  for (const auto& field : head) {
    pending_head_ += field.name_string();
    pending_head_ += ": ";
    pending_head_ += field.value();
    pending_head_ += "\r\n";
  }
  pending_head_ += "\r\n";

  // A fixed-length body usually follows at once: its head goes out in the same write as its
  // first bytes (one syscall, one packet). Streams and empty bodies get their head now, so the
  // client learns the status before the first event.
  if (!head_only && content_length && *content_length > 0) co_return true;
  stream_.expires_after(worker_.config().server.idle_timeout);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(pending_head_), kTuple);
  pending_head_.clear();
  if (ec) broken_ = true;
  co_return !ec;
}

asio::awaitable<bool> Session::send_body(std::string_view chunk) {
  if (chunk.empty() || broken_) co_return !broken_;
  // A client that stops reading holds the relay (back-pressure keeps memory flat) until the
  // idle timeout, then the stream is cut.
  stream_.expires_after(worker_.config().server.idle_timeout);
  const asio::const_buffer data(chunk.data(), chunk.size());
  error_code ec;
  std::size_t n = 0;
  if (!pending_head_.empty()) {
    const std::array<asio::const_buffer, 2> both{asio::buffer(pending_head_), data};
    std::tie(ec, n) = co_await asio::async_write(stream_, both, kTuple);
    pending_head_.clear();
  } else if (chunked_) {
    std::tie(ec, n) = co_await asio::async_write(stream_, http::make_chunk(data), kTuple);
  } else {
    std::tie(ec, n) = co_await asio::async_write(stream_, data, kTuple);
  }
  if (ec) broken_ = true;
  co_return !ec;
}

asio::awaitable<bool> Session::finish() {
  if (broken_) co_return false;
  error_code ec;
  std::size_t n = 0;
  if (!pending_head_.empty()) {  // a fixed-length body that never came: at least the head
    stream_.expires_after(worker_.config().server.idle_timeout);
    std::tie(ec, n) = co_await asio::async_write(stream_, asio::buffer(pending_head_), kTuple);
    pending_head_.clear();
  } else if (chunked_) {
    stream_.expires_after(worker_.config().server.idle_timeout);
    std::tie(ec, n) = co_await asio::async_write(stream_, http::make_chunk_last(), kTuple);
  }
  if (ec) broken_ = true;
  co_return !ec;
}

void Session::watch_disconnect(std::function<void()> on_gone) {
  if (!watch_) watch_ = std::make_shared<Watch>();
  watch_->on_gone = std::move(on_gone);
  watch_->active = true;
  // Bytes already buffered belong to a pipelined next request: nothing to watch for.
  if (buffer_.size() == 0) arm_watch();
}

void Session::arm_watch() {
  // A one-byte MSG_PEEK receive rather than async_wait(wait_read). Asio tries it at once (one
  // recvfrom that finds nothing, EAGAIN) and then queues it; a wait would instead cost an
  // epoll_ctl per request, measured no cheaper (bench/README.md). It completes only if the
  // client sends something (a pipelined request: still there) or hangs up (EOF/reset: gone).
  auto w = watch_;
  stream_.socket().async_receive(
      asio::buffer(&w->peek, 1), asio::socket_base::message_peek,
      asio::bind_cancellation_slot(w->signal.slot(), [w](error_code ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || !w->active) return;
        w->active = false;
        if (!ec && n > 0) return;  // pipelined bytes: the client is still there
        auto on_gone = std::move(w->on_gone);
        if (on_gone) on_gone();
      }));
}

void Session::unwatch() noexcept {
  if (!watch_ || !watch_->active) return;
  watch_->active = false;
  watch_->on_gone = nullptr;
  watch_->signal.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> Session::linger_close() {
  // Closing a socket with unread request bytes makes the kernel send RST, which can destroy
  // the error response before the client reads it. Half-close, then drain briefly (nginx's
  // lingering_close) so the client sees our answer.
  error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  std::array<char, 4096> sink;
  std::size_t drained = 0;
  stream_.expires_after(std::chrono::seconds(2));
  while (drained < 1024 * 1024) {
    auto [rec, n] = co_await stream_.async_read_some(asio::buffer(sink), kTuple);
    if (rec) break;
    drained += n;
  }
  broken_ = true;  // already half-closed: skip the normal shutdown
}

}  // namespace aigw
