#pragma once
// Stored provider keys (BYOK, docs/auth-and-limits.md), and where the gateway's credentials
// may be used (providers.<name>.key_paths). For a provider with providers.<name>.keys
// the gateway, not the client, holds the API key: this stage removes every provider
// credential header the client sent and puts the stored key chosen by cf-aig-byok-alias
// (alias "default" when the header is absent) in the provider's own header. Runs right after
// authentication, so an unauthenticated request never gets a key, and before the cache, whose
// credential scope then is the stored key.

#include "aigw/config.hpp"
#include "aigw/provider.hpp"
#include "aigw/stage.hpp"

#include <memory>

namespace aigw {

// Provider credentials a client may send, whichever provider it calls: none of them goes
// upstream beside a stored key (one may be a placeholder the SDK insisted on, or a key of
// another provider), nor to the providers of a named route or universal request that spans
// several.
inline constexpr const auto& kClientCredentials = kCredentialHeaders;

class ByokStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "byok"; }
  // Only for a provider with stored keys, or a request that names an alias.
  bool wants_request(const RequestContext& ctx) const noexcept override;
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;

  // What on_request does, without the coroutine: the stored key put in place, nothing
  // (the provider has no "default" key and no alias was asked for), or a 400.
  static std::optional<Error> apply(RequestContext& ctx);
};

}  // namespace aigw
