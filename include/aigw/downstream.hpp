#pragma once
// The client side of one request as the pipeline and the forwarder see it. Implemented by the
// HTTP session; the pipeline never touches sockets itself.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw {

// Headers the gateway adds to a response. Written after the response's own fields, and
// replacing any of them with the same name. Kept out of the fields so no stage (the cache,
// say) mistakes a per-request id for part of the provider's response, and so the hot path
// does not insert three fields into Beast's ordered header set per request.
struct AddedHeaders {
  std::string_view request_id;  // sent as cf-aig-request-id and cf-aig-log-id
  std::string_view event_id;    // cf-aig-event-id
  const std::vector<std::pair<std::string, std::string>>* stage_headers = nullptr;
};

class Downstream {
 public:
  virtual ~Downstream() = default;

  // Sends the response head: `head` plus `added`. `content_length` set = fixed-length body of
  // that size; unset = body of unknown length (sent chunked to HTTP/1.1 clients,
  // close-delimited to 1.0). `head_only` = no body follows (HEAD, 204, 304). Framing and
  // Connection headers are the downstream's own. Returns false if the client is gone. The
  // referenced data must live until the returned awaitable completes.
  virtual boost::asio::awaitable<bool> send_head(const boost::beast::http::response_header<>& head,
                                                 const AddedHeaders& added,
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
