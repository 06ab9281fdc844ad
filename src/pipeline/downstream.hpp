#pragma once
// The client side of one request as the pipeline and the forwarder see it. Implemented by the
// HTTP session; the pipeline never touches sockets itself.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

namespace aigw {

class Downstream {
 public:
  virtual ~Downstream() = default;

  // Sends the response head. `content_length` set = fixed-length body of that size; unset =
  // body of unknown length (sent chunked to HTTP/1.1 clients, close-delimited to 1.0).
  // `head_only` = no body follows (HEAD, 204, 304). Returns false if the client is gone.
  virtual boost::asio::awaitable<bool> send_head(boost::beast::http::response_header<>& head,
                                                 std::optional<std::uint64_t> content_length,
                                                 bool head_only) = 0;
  // Sends one body chunk as soon as possible (flushes). False if the client is gone.
  virtual boost::asio::awaitable<bool> send_body(std::string_view chunk) = 0;
  // Ends a complete body (writes the last chunk for chunked framing). False if gone.
  virtual boost::asio::awaitable<bool> finish() = 0;
  // Marks the response as broken after the head was sent: the connection is closed without
  // a terminating chunk, so the client can tell the body is incomplete.
  virtual void abort() noexcept = 0;

  // While the request waits on the provider, `on_gone` is called (at most once, on this
  // thread) if the client closes its connection. unwatch() stops watching; call it before
  // anything `on_gone` references goes away.
  virtual void watch_disconnect(std::function<void()> on_gone) = 0;
  virtual void unwatch() noexcept = 0;
};

}  // namespace aigw
