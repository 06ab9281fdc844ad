#pragma once
// The metering stage (docs/metering.md): token usage of every response, buffered or
// streamed, and its cost. It writes metered facts only (ctx.metered); the request's one
// record is made from them by the final summary (src/telemetry).
//
// on_request: validates cf-aig-custom-cost (400 invalid_header).
// on_attempt: for each attempt, its usage format, and for OpenAI-compatible streams that did
//   not ask for usage stream_options.include_usage in its body (providers.<name>.include_usage).
// on_response_head: a usage parser for the response's format; when the stream was rewritten,
//   a BodyFilter that feeds the parser the provider's bytes and gives the client the stream
//   without the extra usage event.
// on_complete: usage (estimated from the streamed text and the prompt where the provider
//   reported none, and flagged) and cost from the price table or a trusted cf-aig-custom-cost,
//   into ctx.metered before the stages that settle with it complete.

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

#include "pricing/pricing.hpp"

#include <map>
#include <memory>

namespace aigw {

class MeterStage final : public Stage {
 public:
  explicit MeterStage(const Config& config);

  std::string_view name() const noexcept override { return "meter"; }
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;
  std::optional<Error> on_attempt(RequestContext& ctx, Attempt& attempt) override;
  void on_response_head(RequestContext& ctx, const ResponseHead& head) override;
  void on_response_body(RequestContext& ctx, std::string_view chunk, bool last) override;
  void on_complete(RequestContext& ctx) noexcept override;

 private:
  // Sets up ctx.meter from the request (also for requests whose on_request never ran: a
  // cache hit, a failed route). Returns an error for a bad cf-aig-custom-cost.
  std::optional<Error> prepare(RequestContext& ctx) const;
  // Whether the request got far enough for what the client chose (its body's model) to be
  // recorded: routed, and authenticated when auth is on (docs/security.md).
  bool admitted(const RequestContext& ctx) const noexcept;
  RequestContext::Metered metered(RequestContext& ctx) const;

  MeteringConfig metering_;
  bool auth_enabled_ = false;
  std::map<std::string, bool> include_usage_;  // providers.<name>.include_usage, when set
  pricing::PriceTable prices_;
};

}  // namespace aigw
