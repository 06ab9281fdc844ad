#include "server/session.hpp"

#include "aigw/ids.hpp"
#include "aigw/request_context.hpp"

#include "core/text.hpp"
#include "http/headers.hpp"
#include "net/io.hpp"
#include "server/worker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace aigw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using namespace std::string_view_literals;

void append_number(std::string& out, std::uint64_t value) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void append_line(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": "sv;
  out += value;
  out += "\r\n"sv;
}

// Whether a response field gives way to a header the gateway adds (fields.set() semantics).
bool replaced_by(std::string_view name, const AddedHeaders& added) {
  // The first letter first: this runs for every field of every response.
  if (name.size() > 7 && (name.front() | 0x20) == 'c' &&
      beast::iequals(name.substr(0, 7), "cf-aig-"sv)) {
    if (beast::iequals(name, "cf-aig-request-id"sv) || beast::iequals(name, "cf-aig-log-id"sv)) {
      return !added.request_id.empty();
    }
    if (beast::iequals(name, "cf-aig-event-id"sv)) return !added.event_id.empty();
  }
  if (added.stage_headers == nullptr) return false;
  for (const auto& entry : *added.stage_headers) {
    if (beast::iequals(name, entry.first)) return true;
  }
  return false;
}

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

// RFC 9112 §6.1 and §6.3: a request's Transfer-Encoding must end in `chunked`, or its length
// is unknowable, and HTTP/1.0 has no transfer codings at all. aigw decodes no other coding
// (gzip, deflate...) either, so the one accepted value is `chunked`, once. Anything else gets
// a 400 and the connection closes. Returns the message for the client, or nullopt.
std::optional<std::string> transfer_encoding_problem(const http::request_header<>& req) {
  std::string all;
  std::size_t fields = 0;
  const auto [first, last] = req.equal_range(http::field::transfer_encoding);
  for (auto it = first; it != last; ++it) {
    if (fields++ > 0) all += ", ";
    all += it->value();
  }
  if (fields == 0) return std::nullopt;
  const std::string_view value = text::trim_ows(all);
  const std::string shown = text::clip(all, 64) + (all.size() > 64 ? "..." : "");
  if (req.version() < 11) {
    return "Transfer-Encoding is not allowed in an HTTP/1.0 request (got '" + shown + "')";
  }
  if (!beast::iequals(value, "chunked"sv)) {
    return "unsupported Transfer-Encoding '" + shown + "': only 'chunked' is accepted";
  }
  return std::nullopt;
}

}  // namespace

Session::Session(asio::ip::tcp::socket socket, std::string address, Worker& worker)
    : socket_(std::move(socket)),
      address_(std::move(address)),
      deadline_(socket_, net::Deadline::OnExpiry::kCancel,
                std::min(worker.serving()->config->server.request_timeout,
                         worker.serving()->config->server.idle_timeout)),
      worker_(worker) {
  registration_ = worker_.add_session(this);
  // Responses are written with one try that does not wait (net::try_write).
  error_code ignored;
  socket_.non_blocking(true, ignored);
}

Session::~Session() {
  unwatch();
  worker_.remove_session(registration_);
}

void Session::close_if_idle() noexcept {
  if (idle_) {
    idle_ = false;  // closing: not chosen again to make room
    error_code ignored;
    socket_.cancel(ignored);
  }
}

void Session::force_close() noexcept {
  broken_ = true;
  error_code ignored;
  socket_.close(ignored);
}

asio::awaitable<void> Session::run() {
  error_code ignored;
  bool first = true;
  while (!broken_ && !close_after_) {
    // Wait for the first byte of the next request under the idle deadline; an idle
    // connection that times out (or is closed by a drain) is closed silently, like nginx.
    // The config this request is served with, from its first byte to its log record (a
    // reload meanwhile applies to the next one).
    serving_ = worker_.serving();
    const ServerConfig& cfg = serving_->config->server;
    if (buffer_.size() == 0) {
      co_await net::yield_before_read();  // the client is only now reading our last response
      // After the yield: a drain that began during it found this session not yet idle.
      if (worker_.draining()) break;
      idle_ = true;
      // A connection that never sent anything is held for the shorter first_request_timeout:
      // idle sockets opened in bulk would otherwise hold their slots for the whole idle_timeout.
      deadline_.expires_after(first ? cfg.first_request_timeout : cfg.idle_timeout);
      auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(4096), kTuple);
      idle_ = false;
      if (ec) break;
      buffer_.commit(n);
    }

    RequestContext ctx;
    ctx.started = std::chrono::steady_clock::now();
    ctx.started_wall = std::chrono::system_clock::now();
    ctx.id = make_uuid_v7();
    ctx.event_id = ctx.id;
    ctx.client_ip = address_;
    first = false;

    bool body_unread = false;
    if (!co_await read_request(ctx, body_unread)) break;  // client vanished mid-request

    if (!ctx.error && worker_.draining()) {
      ctx.error =
          Error{ErrorCode::kDraining, "gateway is shutting down; retry on another instance"};
      close_after_ = true;
    }
    if (ctx.error) close_after_ = true;
    co_await serving_->pipeline->run(ctx, worker_.upstream(), *this);
    if (body_unread && !broken_) co_await linger_close();
    // The disconnect watch saw the client leave. Its peek took the socket's one readiness
    // event (epoll is edge-triggered, and Asio tries no read after a peek that found the
    // end), so a read for a next request would sleep until idle_timeout: close now.
    if (watch_ && watch_->gone) broken_ = true;
  }

  deadline_.expires_never();
  if (!broken_) socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  socket_.close(ignored);
}

asio::awaitable<bool> Session::read_request(RequestContext& ctx, bool& body_unread) {
  const ServerConfig& cfg = serving_->config->server;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
  parser.body_limit(cfg.max_body_bytes);

  // The whole request must arrive within request_timeout of its first byte (slowloris).
  deadline_.expires_after(cfg.request_timeout);
  // Unconsumed bytes (an unfinished header, chunk-size line or trailer) count against the
  // same limit as the header.
  const std::size_t max_pending = cfg.max_header_bytes;
  error_code ec = co_await net::read_header(socket_, buffer_, parser, deadline_, max_pending);
  if (!ec) {
    const auto& req = parser.get();
    client_http10_ = req.version() < 11;
    if (auto framing = transfer_encoding_problem(req)) {
      // RFC 9112 §6.3: the body's length cannot be determined reliably; reading on would
      // let the body's bytes run as a next request (smuggling).
      body_unread = true;
      close_after_ = true;
      ctx.request = parser.release();
      ctx.error = Error{ErrorCode::kBadRequest, std::move(*framing)};
      deadline_.expires_never();
      co_return true;
    }
    // Clients such as curl hold large bodies back until told to go on (RFC 9110 §10.1.1).
    if (!parser.is_done() &&
        beast::iequals(field_value(req, http::field::expect), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      ec = co_await net::write(socket_, asio::buffer(kContinue), deadline_);
    }
  }
  if (!ec && !parser.is_done())
    ec = co_await net::read_message(socket_, buffer_, parser, deadline_, max_pending);
  deadline_.expires_never();

  if (ec) {
    // The connection cannot be trusted past a framing error: answer (if it makes sense),
    // log, and close.
    body_unread = true;
    close_after_ = true;
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == http::error::partial_message) {
      if (!parser.is_header_done()) co_return false;  // nothing to answer or log
      ctx.request = parser.release();
      ctx.error = Error{ErrorCode::kBadRequest, "client closed the connection mid-body"};
      ctx.outcome = Outcome::kClientAbort;
      broken_ = true;
      co_return true;
    }
    if (ec == http::error::header_limit && parser.is_header_done()) {
      ctx.error = Error{ErrorCode::kBadRequest, "chunk-size line or trailer section exceeds " +
                                                    std::to_string(cfg.max_header_bytes) +
                                                    " bytes (server.max_header_bytes)"};
    } else if (ec == http::error::header_limit) {
      ctx.error = Error{ErrorCode::kHeadersTooLarge, "request headers exceed " +
                                                         std::to_string(cfg.max_header_bytes) +
                                                         " bytes (server.max_header_bytes)"};
    } else if (ec == http::error::body_limit) {
      ctx.error = Error{ErrorCode::kBodyTooLarge, "request body exceeds " +
                                                      std::to_string(cfg.max_body_bytes) +
                                                      " bytes (server.max_body_bytes)"};
    } else if (ec == beast::error::timeout) {
      ctx.error = Error{ErrorCode::kRequestTimeout, "request not received within " +
                                                        seconds_text(cfg.request_timeout) +
                                                        " (server.request_timeout)"};
    } else {
      ctx.error = Error{ErrorCode::kBadRequest, "malformed HTTP request: " + ec.message()};
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

asio::awaitable<bool> Session::send_head(const http::response_header<>& head,
                                         const AddedHeaders& added,
                                         std::optional<std::uint64_t> content_length,
                                         bool head_only) {
  // Framing and connection headers are the session's: written here, replacing any of the
  // same name in `head` (as fields.set() would), without editing the fields.
  const bool own_length = !head_only && content_length.has_value();
  const bool own_chunked = !head_only && !content_length && !client_http10_;
  if (!head_only && !content_length && client_http10_) {
    close_after_ = true;  // HTTP/1.0 has no chunked coding: the close ends the body
  }
  if (worker_.draining()) close_after_ = true;
  const std::string_view connection = close_after_     ? "close"sv
                                      : client_http10_ ? "keep-alive"sv
                                                       : ""sv;
  chunked_ = own_chunked;

  // Serialized by hand: one pass over the fields, no serializer state machine.
  auto& out = pending_head_;
  out.clear();
  out += "HTTP/1.1 "sv;
  append_number(out, head.result_int());
  out += ' ';
  const std::string_view reason = head.reason();
  out += reason.empty() ? std::string_view(http::obsolete_reason(head.result())) : reason;
  out += "\r\n"sv;
  const auto* stage_headers = added.stage_headers;
  const bool any_stage_headers = stage_headers != nullptr && !stage_headers->empty();
  for (const auto& field : head) {
    switch (field.name()) {
      case http::field::content_length:
        if (own_length) continue;
        break;
      case http::field::transfer_encoding:
        if (own_chunked) continue;
        break;
      case http::field::connection:
        if (!connection.empty()) continue;
        break;
      default:
        break;
    }
    const std::string_view name = field.name_string();
    if (replaced_by(name, added)) continue;
    out += name;
    out += ": "sv;
    out += field.value();
    out += "\r\n"sv;
  }
  if (!added.request_id.empty()) {
    append_line(out, "cf-aig-request-id"sv, added.request_id);
    append_line(out, "cf-aig-log-id"sv, added.request_id);
  }
  if (!added.event_id.empty()) append_line(out, "cf-aig-event-id"sv, added.event_id);
  if (any_stage_headers) {
    for (const auto& [name, value] : *stage_headers) append_line(out, name, value);
  }
  if (own_length) {
    out += "Content-Length: "sv;
    append_number(out, *content_length);
    out += "\r\n"sv;
  } else if (own_chunked) {
    out += "Transfer-Encoding: chunked\r\n"sv;
  }
  if (!connection.empty()) {
    out += "Connection: "sv;
    out += connection;
    out += "\r\n"sv;
  }
  out += "\r\n"sv;

  // A fixed-length body usually follows at once: its head goes out in the same write as its
  // first bytes (one syscall, one packet). Streams and empty bodies get their head now, so the
  // client learns the status before the first event.
  if (!head_only && content_length && *content_length > 0) co_return true;
  deadline_.expires_after(serving_->config->server.idle_timeout);
  error_code ec;
  std::size_t done = 0;
  if (deadline_.expired() || !net::try_write(socket_, asio::buffer(pending_head_), done, ec)) {
    ec = co_await net::write(socket_, asio::buffer(pending_head_), deadline_, done);
  }
  pending_head_.clear();
  if (!head_only && !content_length) {
    // A stream may stay open for minutes, thousands of them at once: the head's text and the
    // request's read buffer go back to the allocator until the next request needs them.
    pending_head_.shrink_to_fit();
    buffer_.shrink_to_fit();
  }
  if (ec) broken_ = true;
  co_return !ec;
}

asio::awaitable<bool> Session::send_body(std::string_view chunk) {
  if (chunk.empty() || broken_) co_return !broken_;
  // A client that stops reading holds the relay (back-pressure keeps memory flat) until the
  // idle timeout, then the stream is cut.
  deadline_.expires_after(serving_->config->server.idle_timeout);
  const asio::const_buffer data(chunk.data(), chunk.size());
  error_code ec;
  std::size_t done = 0;
  const bool late = deadline_.expired();
  if (!pending_head_.empty()) {
    const std::array<asio::const_buffer, 2> both{asio::buffer(pending_head_), data};
    if (late || !net::try_write(socket_, both, done, ec)) {
      ec = co_await net::write(socket_, both, deadline_, done);
    }
    pending_head_.clear();
  } else if (chunked_) {
    const auto framed = http::make_chunk(data);
    if (late || !net::try_write(socket_, framed, done, ec)) {
      ec = co_await net::write(socket_, framed, deadline_, done);
    }
  } else if (late || !net::try_write(socket_, data, done, ec)) {
    ec = co_await net::write(socket_, data, deadline_, done);
  }
  if (ec) broken_ = true;
  co_return !ec;
}

asio::awaitable<bool> Session::finish() {
  if (broken_) co_return false;
  error_code ec;
  if (!pending_head_.empty()) {  // a fixed-length body that never came: at least the head
    deadline_.expires_after(serving_->config->server.idle_timeout);
    ec = co_await net::write(socket_, asio::buffer(pending_head_), deadline_);
    pending_head_.clear();
  } else if (chunked_) {
    deadline_.expires_after(serving_->config->server.idle_timeout);
    ec = co_await net::write(socket_, http::make_chunk_last(), deadline_);
  }
  if (ec) broken_ = true;
  co_return !ec;
}

void Session::watch_disconnect(std::function<void()> on_gone) {
  if (!watch_) watch_ = std::make_shared<Watch>();
  watch_->on_gone = std::move(on_gone);
  watch_->active = true;
  watch_->gone = false;
  // Bytes already buffered belong to a pipelined next request: nothing to watch for.
  if (buffer_.size() != 0) return;
  // Most requests are answered within milliseconds, and a client that hangs up meanwhile is
  // noticed by the response write anyway. Watching costs a syscall and two handlers per
  // request, so the worker arms the watch only for requests still waiting after a short delay
  // (Worker::kWatchDelay).
  watch_wanted = std::chrono::steady_clock::now();
  worker_.defer_watch(*this);
}

void Session::arm_deferred_watch() {
  if (watch_ && watch_->active && !watch_->armed && buffer_.size() == 0) arm_watch();
}

void Session::arm_watch() {
  // A one-byte MSG_PEEK receive rather than async_wait(wait_read). Asio tries it at once (one
  // recvfrom that finds nothing, EAGAIN) and then queues it; a wait would instead cost an
  // epoll_ctl per request, measured no cheaper (bench/README.md). It completes only if the
  // client sends something (a pipelined request: still there) or hangs up (EOF/reset: gone).
  auto w = watch_;
  w->armed = true;
  socket_.async_receive(
      asio::buffer(&w->peek, 1), asio::socket_base::message_peek,
      asio::bind_cancellation_slot(w->signal.slot(), [w](error_code ec, std::size_t n) {
        w->armed = false;
        if (ec == asio::error::operation_aborted || !w->active) return;
        w->active = false;
        if (!ec && n > 0) return;  // pipelined bytes: the client is still there
        w->gone = true;
        auto on_gone = std::move(w->on_gone);
        if (on_gone) on_gone();
      }));
}

void Session::unwatch() noexcept {
  watch_hook.unlink();  // still deferred: dequeue, nothing was armed
  if (!watch_ || !watch_->active) return;
  watch_->active = false;
  watch_->on_gone = nullptr;
  if (watch_->armed) watch_->signal.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> Session::linger_close() {
  // Closing a socket with unread request bytes makes the kernel send RST, which can destroy
  // the error response before the client reads it. Half-close, then drain briefly (nginx's
  // lingering_close) so the client sees our answer.
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  std::array<char, 4096> sink;
  std::size_t drained = 0;
  deadline_.expires_after(std::chrono::seconds(2));
  while (drained < 1024 * 1024 && !deadline_.expired()) {
    auto [rec, n] = co_await socket_.async_read_some(asio::buffer(sink), kTuple);
    if (rec) break;
    drained += n;
  }
  broken_ = true;  // already half-closed: skip the normal shutdown
}

}  // namespace aigw
