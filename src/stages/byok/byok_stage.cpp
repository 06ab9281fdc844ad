#include "stages/byok/byok_stage.hpp"

#include "core/text.hpp"

#include <algorithm>

namespace aigw {
namespace {

constexpr std::string_view kAliasHeader = "cf-aig-byok-alias";
constexpr std::string_view kDefaultAlias = "default";

bool has_keys(const RequestContext& ctx) noexcept {
  return ctx.provider != nullptr && !ctx.provider->config.keys.empty();
}

}  // namespace

bool ByokStage::wants_request(const RequestContext& ctx) const noexcept {
  return has_keys(ctx) || ctx.control_header(kAliasHeader).has_value();
}

std::optional<Error> ByokStage::apply(RequestContext& ctx) {
  const auto asked = ctx.control_header(kAliasHeader);
  const std::string_view alias = asked ? text::trim_ows(*asked) : kDefaultAlias;
  if (ctx.provider == nullptr) return std::nullopt;  // the route answered already
  const auto& keys = ctx.provider->config.keys;
  const auto it = std::find_if(keys.begin(), keys.end(),
                               [&](const auto& entry) { return entry.first == alias; });
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
