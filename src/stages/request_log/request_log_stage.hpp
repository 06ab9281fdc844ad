#pragma once
// What the client asks the request log to keep (docs/metering.md): cf-aig-metadata
// (validated: 400 invalid_header), cf-aig-collect-log and cf-aig-collect-log-payload, and the
// bodies when payload logging is on. Runs after authentication: a refused request has
// nothing of its choosing read. The record itself is made by the final summary
// (src/telemetry), whether or not metering is on.

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

namespace aigw {

class RequestLogStage final : public Stage {
 public:
  explicit RequestLogStage(const RequestLogConfig& config) : config_(config) {}

  std::string_view name() const noexcept override { return "request_log"; }
  // Only when there is something to keep: payloads on, a control header, a key's metadata
  // (most requests: none, and no coroutine frame is spent on them).
  bool wants_request(const RequestContext& ctx) const noexcept override;
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;
  void on_response_body(RequestContext& ctx, std::string_view chunk, bool last) override;

  // cf-aig-metadata as the log keeps it: a flat JSON object of at most 5 entries whose values
  // are strings, numbers or booleans (Cloudflare's rules), keys at most 64 bytes, strings at
  // most 256; keys starting "cf." dropped. Values as their JSON text. Exposed for tests.
  static Result<std::vector<std::pair<std::string, std::string>>> parse_metadata(
      std::string_view header);

 private:
  RequestLogConfig config_;
};

}  // namespace aigw
