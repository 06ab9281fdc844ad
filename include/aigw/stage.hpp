#pragma once
// The stage contract. A stage is built once from the config, shared by all worker threads,
// and called for every request in pipeline order. Shared mutable state inside a stage must
// be thread-safe by construction; per-request state lives in RequestContext.

#include "aigw/request_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace aigw {

enum class Verdict : std::uint8_t {
  kContinue,  // go on to the next stage, then upstream
  kRespond,   // stop: ctx.local_response (or ctx.error) is the answer; later stages' on_request
              // is skipped, but every stage's on_complete still runs
};

struct ResponseHead {
  unsigned status = 0;
  bool streamed = false;  // body relayed incrementally (no Content-Length upstream)
  // The provider's (or the local response's) headers, hop-by-hop ones removed. The gateway's
  // cf-aig-request-id/-log-id/-event-id and ctx.response_headers are added on the way out.
  const http::fields* fields = nullptr;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const noexcept = 0;

  // Before on_request: whether this stage has anything to do for this request. false skips
  // its on_request, which as a coroutine costs a frame even when it returns at once (a
  // disabled cache, a stage that only logs). Never suspends.
  virtual bool wants_request(const RequestContext& ctx) const noexcept;

  // Before the request goes upstream, in pipeline order. May suspend (e.g. a shared-store
  // lookup). Returning kRespond requires ctx.local_response or ctx.error to be set.
  virtual boost::asio::awaitable<Verdict> on_request(RequestContext& ctx);

  // Before each attempt is sent — the URL's provider, each universal step, each named route
  // target the router enters — in pipeline order, once per attempt (not per retry of it).
  // Acts on the attempt only (the client's request stays as it came): stored keys, the usage
  // request, the credential scope. An Error refuses the attempt: it is listed with that error
  // and the next step is tried; with none left, the error is the answer. Runs only for a
  // request whose on_request stages all continued. Never suspends.
  virtual std::optional<Error> on_attempt(RequestContext& ctx, Attempt& attempt);

  // When the response head is about to be sent to the client (the commit point), from a
  // provider or a local response. Never suspends; may add ctx.response_headers.
  virtual void on_response_head(RequestContext& ctx, const ResponseHead& head);

  // For every body chunk as it is relayed (bytes exactly as the client gets them); `last`
  // marks the final call of a complete body. Never suspends: runs per chunk on the hot path.
  virtual void on_response_body(RequestContext& ctx, std::string_view chunk, bool last);

  // When the client went away before the provider's response ended: whether this stage still
  // needs the rest of it (the cache stage: identical requests coalesced onto this one are
  // receiving it). If any stage says so, the response is read to its end without the
  // client instead of cancelled. Never suspends.
  virtual bool needs_rest_of_response(const RequestContext& ctx) const noexcept;

  // Exactly once per request after the response ended — success, error, abort or local —
  // for every stage in order, even those whose on_request never ran. Never suspends.
  virtual void on_complete(RequestContext& ctx) noexcept;
};

}  // namespace aigw
