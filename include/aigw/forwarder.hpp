#pragma once
// The upstream side: sends one attempt's request to its target. Implemented per worker by the
// upstream client (src/upstream), so each worker uses its own connection pools.

#include "aigw/downstream.hpp"
#include "aigw/error.hpp"
#include "aigw/request_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace aigw {

// What the forwarder reports while relaying; the pipeline turns it into stage hooks and
// client writes. Every method returns false when the client is gone (stop relaying).
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Before on_head: whether this response goes to the client at all. False: the forwarder
  // drops it unread (closing its connection) and forward() returns success without calling
  // on_head; the router turns away a 503 this way while another attempt remains.
  virtual bool accept(const http::response_header<>& /*head*/) { return true; }
  virtual boost::asio::awaitable<bool> on_head(http::response_header<>& head,
                                               std::optional<std::uint64_t> content_length,
                                               bool head_only) = 0;
  virtual boost::asio::awaitable<bool> on_body(std::string_view chunk) = 0;
  virtual boost::asio::awaitable<bool> on_end() = 0;
  // The client is gone (a write failed, or it hung up while the provider was still
  // thinking). True: keep reading the provider's response to its end anyway (a stage still
  // needs it); later calls then report success without writing. False: stop and cancel.
  virtual bool continue_without_client() = 0;
};

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Sends attempt.request to attempt.target and relays the response into `sink`; `attempt`
  // outlives the call. Returns an Error
  // only for failures before the commit point (nothing sent to the client yet); failures
  // after it are recorded in ctx.outcome. Suspends.
  virtual boost::asio::awaitable<Result<void>> forward(RequestContext& ctx, const Attempt& attempt,
                                                       ResponseSink& sink,
                                                       Downstream& downstream) = 0;
};

}  // namespace aigw
