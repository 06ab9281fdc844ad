#pragma once
// Gateway authentication (Cloudflare's "authenticated gateway"): every proxied request must
// carry cf-aig-authorization: Bearer <token> for one of auth.tokens, else it is answered 401
// before any other stage runs. The header is a control header: never forwarded upstream.

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

#include <memory>

namespace aigw {

class AuthStage final : public Stage {
 public:
  // nullptr when auth.enabled is false.
  static std::shared_ptr<AuthStage> create(const Config& config);
  AuthStage(AuthConfig config, std::vector<VirtualKey> keys)
      : config_(std::move(config)), keys_(std::move(keys)) {}

  std::string_view name() const noexcept override { return "auth"; }
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;

  // Whether `header` (the cf-aig-authorization value) names a configured token or key, and
  // which key (nullptr for one of auth.tokens). Every configured digest is compared, in
  // constant time, whatever matched before.
  Result<const VirtualKey*> check(std::optional<std::string_view> header) const;

 private:
  AuthConfig config_;
  std::vector<VirtualKey> keys_;
};

}  // namespace aigw
