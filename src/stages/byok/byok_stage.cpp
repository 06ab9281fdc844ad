#include "stages/byok/byok_stage.hpp"

#include "core/path_rules.hpp"
#include "core/text.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace aigw {
namespace {

constexpr std::string_view kAliasHeader = "cf-aig-byok-alias";

// The provider's configured headers carry a credential: every request spends the operator's.
bool has_configured_credential(const Provider& provider) noexcept {
  for (const auto& [name, value] : provider.config.headers) {
    if (boost::beast::iequals(name, provider.credential.name)) return true;
    for (const std::string_view credential : kCredentialHeaders) {
      if (boost::beast::iequals(name, credential)) return true;
    }
  }
  return false;
}

// A request that spends the gateway's credential, or comes with a virtual key, may use only
// the methods and paths of providers.<name>.key_paths (default: the inference endpoints).
std::optional<Error> check_key_paths(const RequestContext& ctx, const Attempt& attempt,
                                     bool gateway_credential) {
  const Provider& provider = *attempt.provider;
  const auto& rules =
      provider.config.key_paths ? *provider.config.key_paths : path_rules::defaults();
  const std::string_view target = attempt.target.target;
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view method = attempt.request.method_string();
  if (path_rules::allowed(rules, method, path)) return std::nullopt;
  return Error{ErrorCode::kForbidden,
               std::string(gateway_credential ? "the gateway's key" : "a virtual key") +
                   " for provider '" + attempt.slug + "' may not be used for " +
                   // The client's path: the upstream one would show the provider's base.
                   text::clip(method, 16) + " " + text::clip(ctx.path, 200) + " (providers." +
                   attempt.slug + ".key_paths)"};
}

}  // namespace

std::optional<Error> ByokStage::on_attempt(RequestContext& ctx, Attempt& attempt) {
  const Provider& provider = *attempt.provider;
  const auto asked = ctx.control_header(kAliasHeader);
  const bool configured = has_configured_credential(provider);
  if (provider.config.keys.empty() && !asked && ctx.virtual_key == nullptr && !configured) {
    return std::nullopt;  // the client's own credential goes through untouched
  }
  const std::optional<std::string_view> alias =
      asked ? std::optional<std::string_view>(text::trim_ows(*asked)) : std::nullopt;
  const Secret* key = provider.stored_key(alias);
  const bool gateway_credential = key != nullptr || configured;
  if (gateway_credential || ctx.virtual_key != nullptr) {
    if (auto refused = check_key_paths(ctx, attempt, gateway_credential)) return refused;
  }
  if (key == nullptr) {
    // No default key: the client's own credential goes through, as without stored keys.
    if (!asked) return std::nullopt;
    return Error{ErrorCode::kInvalidHeader,
                 provider.config.keys.empty()
                     ? "cf-aig-byok-alias: provider '" + attempt.slug + "' has no stored keys"
                     : "cf-aig-byok-alias: provider '" + attempt.slug + "' has no stored key '" +
                           std::string(*alias) + "'"};
  }
  const CredentialHeader& header = provider.credential;
  // A universal step that sets the credential itself keeps it.
  if (std::find(attempt.pinned.begin(), attempt.pinned.end(), header.name) !=
      attempt.pinned.end()) {
    return std::nullopt;
  }
  for (const std::string_view name : kCredentialHeaders) attempt.request.erase(name);
  attempt.request.set(header.name, header.prefix + key->reveal());
  return std::nullopt;
}

}  // namespace aigw
