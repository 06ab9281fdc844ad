#include "stages/byok/byok_stage.hpp"

#include "core/path_rules.hpp"
#include "core/text.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace aigw {
namespace {

constexpr std::string_view kAliasHeader = "cf-aig-byok-alias";
constexpr std::string_view kDefaultAlias = "default";

bool has_keys(const RequestContext& ctx) noexcept {
  return ctx.provider != nullptr && !ctx.provider->config.keys.empty();
}

// The provider's configured headers carry a credential: every request spends the operator's.
bool has_configured_credential(const RequestContext& ctx) noexcept {
  if (ctx.provider == nullptr) return false;
  for (const auto& [name, value] : ctx.provider->config.headers) {
    if (boost::beast::iequals(name, ctx.provider->credential.name)) return true;
    for (const std::string_view credential : kClientCredentials) {
      if (boost::beast::iequals(name, credential)) return true;
    }
  }
  return false;
}

// A request that spends the gateway's credential, or comes with a virtual key, may use only
// the methods and paths of providers.<name>.key_paths (default: the inference endpoints).
std::optional<Error> check_key_paths(const RequestContext& ctx, bool gateway_credential) {
  const auto& rules =
      ctx.provider->config.key_paths ? *ctx.provider->config.key_paths : path_rules::defaults();
  const std::string_view target = ctx.target.target;
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view method = ctx.request.method_string();
  if (path_rules::allowed(rules, method, path)) return std::nullopt;
  return Error{ErrorCode::kForbidden,
               std::string(gateway_credential ? "the gateway's key" : "a virtual key") +
                   " for provider '" + ctx.provider_slug + "' may not be used for " +
                   // The client's path: the upstream one would show the provider's base.
                   text::clip(method, 16) + " " + text::clip(ctx.path, 200) + " (providers." +
                   ctx.provider_slug + ".key_paths)",
               false};
}

}  // namespace

bool ByokStage::wants_request(const RequestContext& ctx) const noexcept {
  return has_keys(ctx) || ctx.control_header(kAliasHeader).has_value() ||
         ctx.virtual_key != nullptr || has_configured_credential(ctx);
}

std::optional<Error> ByokStage::apply(RequestContext& ctx) {
  const auto asked = ctx.control_header(kAliasHeader);
  const std::string_view alias = asked ? text::trim_ows(*asked) : kDefaultAlias;
  if (ctx.provider == nullptr) return std::nullopt;  // the route answered already
  const auto& keys = ctx.provider->config.keys;
  const auto it = std::find_if(keys.begin(), keys.end(),
                               [&](const auto& entry) { return entry.first == alias; });
  const bool gateway_credential = (it != keys.end()) || has_configured_credential(ctx);
  if (gateway_credential || ctx.virtual_key != nullptr) {
    if (auto refused = check_key_paths(ctx, gateway_credential)) return refused;
  }
  if (it == keys.end()) {
    // No default key: the client's own credential goes through, as without stored keys.
    if (!asked) return std::nullopt;
    return Error{ErrorCode::kInvalidHeader,
                 keys.empty()
                     ? "cf-aig-byok-alias: provider '" + ctx.provider_slug + "' has no stored keys"
                     : "cf-aig-byok-alias: provider '" + ctx.provider_slug +
                           "' has no stored key '" + std::string(alias) + "'",
                 false};
  }
  const CredentialHeader& header = ctx.provider->credential;
  const auto pinned = [&](std::string_view name) {
    return std::find(ctx.pinned_headers.begin(), ctx.pinned_headers.end(), name) !=
           ctx.pinned_headers.end();
  };
  // A universal step that sets the credential itself keeps it.
  if (pinned(header.name)) return std::nullopt;
  for (const std::string_view name : kClientCredentials) ctx.request.erase(name);
  ctx.request.erase(header.name);
  ctx.request.set(header.name, header.prefix + it->second.reveal());
  return std::nullopt;
}

boost::asio::awaitable<Verdict> ByokStage::on_request(RequestContext& ctx) {
  if (auto error = apply(ctx)) {
    ctx.error = std::move(*error);
    co_return Verdict::kRespond;
  }
  co_return Verdict::kContinue;
}

}  // namespace aigw
