#include "aigw/stage.hpp"

namespace aigw {

// Defaults, so a stage overrides only the hooks it needs.
bool Stage::wants_request(const RequestContext&) const noexcept { return true; }
boost::asio::awaitable<Verdict> Stage::on_request(RequestContext&) { co_return Verdict::kContinue; }
std::optional<Error> Stage::on_attempt(RequestContext&, Attempt&) { return std::nullopt; }
void Stage::on_response_head(RequestContext&, const ResponseHead&) {}
void Stage::on_response_body(RequestContext&, std::string_view, bool) {}
bool Stage::needs_rest_of_response(const RequestContext&) const noexcept { return false; }
void Stage::on_complete(RequestContext&) noexcept {}

std::optional<std::string_view> RequestContext::control_header(
    std::string_view name) const noexcept {
  for (const auto& [n, v] : control) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view outcome_name(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kPending:
      return "pending";
    case Outcome::kSuccess:
      return "success";
    case Outcome::kProviderError:
      return "provider_error";
    case Outcome::kGatewayError:
      return "gateway_error";
    case Outcome::kLocal:
      return "local";
    case Outcome::kClientAbort:
      return "client_abort";
    case Outcome::kUpstreamAbort:
      return "upstream_abort";
  }
  return "pending";
}

std::string_view cache_status_name(CacheStatus status) noexcept {
  switch (status) {
    case CacheStatus::kHit:
      return "HIT";
    case CacheStatus::kMiss:
      return "MISS";
    case CacheStatus::kBypass:
      return "BYPASS";
    case CacheStatus::kCoalesced:
      return "COALESCED";
    case CacheStatus::kNone:
      break;
  }
  return "";
}

}  // namespace aigw
