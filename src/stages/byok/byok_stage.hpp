#pragma once
// Stored provider keys (BYOK, docs/auth-and-limits.md), and where the gateway's credentials
// may be used (providers.<name>.key_paths). For a provider with providers.<name>.keys the
// gateway, not the client, holds the API key: for each attempt on such a provider this stage
// removes every provider credential header the client sent and puts the stored key chosen by
// cf-aig-byok-alias (alias "default" when the header is absent) in the provider's own
// header. It acts in on_attempt, so each step of a universal request or named route gets its
// own provider's key, and only once authentication admitted the request.

#include "aigw/config.hpp"
#include "aigw/provider.hpp"
#include "aigw/stage.hpp"

#include <memory>

namespace aigw {

class ByokStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "byok"; }
  // Nothing to do before the attempts.
  bool wants_request(const RequestContext&) const noexcept override { return false; }
  // The stored key put in place, nothing (the provider has no key for the alias and none was
  // asked for), or 400 (an alias the provider lacks) / 403 (key_paths).
  std::optional<Error> on_attempt(RequestContext& ctx, Attempt& attempt) override;
};

}  // namespace aigw
