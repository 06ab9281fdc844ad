#pragma once
// The metering stage (docs/metering.md): token usage of every response, buffered or
// streamed, its cost, and the one request-log record and metrics sample of every request.
//
// on_request: validates cf-aig-metadata and cf-aig-custom-cost (400 invalid_header).
// on_attempt: for each attempt, its usage format, and for OpenAI-compatible streams that did
//   not ask for usage stream_options.include_usage in its body (providers.<name>.include_usage).
// on_response_head: a usage parser for the response's format; when the stream was rewritten,
//   a BodyFilter that feeds the parser the provider's bytes and gives the client the stream
//   without the extra usage event.
// on_complete: usage (estimated from the streamed text and the prompt where the provider
//   reported none, and flagged), cost from the price table or cf-aig-custom-cost, then one
//   LogRecord to the store (unless cf-aig-collect-log: false) and one metrics sample.

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

#include "core/metrics.hpp"
#include "stages/meter/pricing.hpp"
#include "store/log_store.hpp"

#include <memory>

namespace aigw {

class MeterStage final : public Stage {
 public:
  // `log` may be null (log.enabled: false): metrics are still recorded.
  MeterStage(const Config& config, std::shared_ptr<metrics::Registry> metrics,
             std::shared_ptr<store::LogStore> log);

  std::string_view name() const noexcept override { return "meter"; }
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;
  // The attempt's usage format, and stream_options.include_usage added to its body where the
  // provider needs it (providers.<name>.include_usage): every step on such a provider.
  std::optional<Error> on_attempt(RequestContext& ctx, Attempt& attempt) override;
  void on_response_head(RequestContext& ctx, const ResponseHead& head) override;
  void on_response_body(RequestContext& ctx, std::string_view chunk, bool last) override;
  void on_complete(RequestContext& ctx) noexcept override;

 private:
  // Sets up ctx.meter from the request (also for requests whose on_request never ran: a
  // cache hit, a failed route). Returns an error for a bad control header.
  std::optional<Error> prepare(RequestContext& ctx) const;
  // Whether the request got far enough for what the client chose (its body's model, its
  // metadata, its payloads) to be recorded: routed, and authenticated when auth is on. A
  // refused request is recorded without them (docs/security.md).
  bool admitted(const RequestContext& ctx) const noexcept;
  // Whether cf-aig-custom-cost prices this request (metering.trust_client_cost or the key's).
  bool trusts_client_cost(const RequestContext& ctx) const noexcept;
  LogRecord record_of(RequestContext& ctx) const;

  RequestLogConfig log_config_;
  MeteringConfig metering_;
  bool auth_enabled_ = false;
  std::map<std::string, bool> include_usage_;  // providers.<name>.include_usage, when set
  meter::PriceTable prices_;
  std::shared_ptr<metrics::Registry> metrics_;
  std::shared_ptr<store::LogStore> log_;
};

}  // namespace aigw
