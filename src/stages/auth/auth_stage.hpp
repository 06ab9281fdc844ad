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
  static std::shared_ptr<AuthStage> create(const AuthConfig& config);
  explicit AuthStage(AuthConfig config) : config_(std::move(config)) {}

  std::string_view name() const noexcept override { return "auth"; }
  boost::asio::awaitable<Verdict> on_request(RequestContext& ctx) override;

  // Whether `header` (the cf-aig-authorization value) names a configured token. Every
  // configured digest is compared, in constant time, whatever matched before.
  std::optional<Error> check(std::optional<std::string_view> header) const;

 private:
  AuthConfig config_;
};

}  // namespace aigw
