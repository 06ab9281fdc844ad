#include "stages/auth/auth_stage.hpp"

#include "core/sha256.hpp"
#include "core/text.hpp"
#include "request/body.hpp"

#include <boost/beast/core/string.hpp>
#include <openssl/crypto.h>

#include <algorithm>

namespace aigw {
namespace {

Error unauthorized(std::string detail) {
  return Error{ErrorCode::kUnauthorized, std::move(detail)};
}

}  // namespace

std::shared_ptr<AuthStage> AuthStage::create(const Config& config) {
  if (!config.auth.enabled) return nullptr;
  return std::make_shared<AuthStage>(config.auth, config.keys);
}

Result<const VirtualKey*> AuthStage::check(std::optional<std::string_view> header) const {
  if (!header) {
    return unauthorized(
        "this gateway requires authentication: send cf-aig-authorization: Bearer <token>");
  }
  // RFC 9110 §11.1: the scheme is case-insensitive; one or more spaces before the token.
  constexpr std::string_view kScheme = "bearer";
  const std::string_view value = text::trim_ows(*header);
  if (value.size() <= kScheme.size() ||
      !boost::beast::iequals(value.substr(0, kScheme.size()), kScheme) ||
      (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) {
    return unauthorized("cf-aig-authorization must be \"Bearer <token>\"");
  }
  const std::string_view token = text::trim_ows(value.substr(kScheme.size()));
  const Sha256Digest presented = sha256(token);
  // Digests of equal length, compared in full for every configured token: the time taken
  // says nothing about which token, or how much of one, matched.
  int matched = 0;
  for (const auto& digest : config_.token_sha256) {
    matched |= CRYPTO_memcmp(presented.data(), digest.data(), digest.size()) == 0 ? 1 : 0;
  }
  const VirtualKey* key = nullptr;
  for (const auto& k : keys_) {
    const bool same =
        CRYPTO_memcmp(presented.data(), k.token_sha256.data(), k.token_sha256.size()) == 0;
    matched |= same ? 1 : 0;
    if (same) key = &k;  // the config refuses two keys with one token
  }
  if (matched == 0) return unauthorized("invalid gateway token (cf-aig-authorization)");
  return key;
}

namespace {

std::optional<Error> permitted(const VirtualKey& key, const std::string& provider,
                               const std::string& model, std::string_view where) {
  const auto allows = [](const std::vector<std::string>& list, const std::string& value) {
    return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
  };
  if (!allows(key.providers, provider)) {
    return Error{ErrorCode::kForbidden, "key '" + key.name + "' may not use provider '" + provider +
                                            "'" + std::string(where)};
  }
  if (!key.models.empty() && !allows(key.models, model)) {
    return Error{
        ErrorCode::kForbidden,
        model.empty()
            ? "key '" + key.name + "' may only use named models, and the request names none" +
                  std::string(where)
            : "key '" + key.name + "' may not use model '" + model + "'" + std::string(where)};
  }
  return std::nullopt;
}

// Every step a request may take must be one the key may use, checked up front on the plan
// (which lists them all): a key cannot reach a provider or model by listing it second, and
// a request naming one it may not use is refused whether or not the first step answers.
std::optional<Error> permitted(const VirtualKey& key, RequestContext& ctx) {
  const bool check_model = !key.models.empty();
  const std::size_t steps = ctx.plan.steps.size();
  for (std::size_t i = 0; i < steps; ++i) {
    const PlannedStep& step = ctx.plan.steps[i];
    const std::string model = check_model ? step_facts(ctx, step).model : std::string();
    const std::string where = steps > 1 ? " (step " + std::to_string(i) + ")" : "";
    if (auto refused = permitted(key, step.slug, model, where)) return refused;
  }
  return std::nullopt;
}

}  // namespace

boost::asio::awaitable<Verdict> AuthStage::on_request(RequestContext& ctx) {
  auto key = check(ctx.control_header("cf-aig-authorization"));
  if (!key) {
    ctx.error = key.error();
    ctx.response_headers.emplace_back("www-authenticate", "Bearer realm=\"aigw\"");
    co_return Verdict::kRespond;
  }
  ctx.virtual_key = *key;
  ctx.authenticated = true;
  if (*key != nullptr) {
    if (auto refused = permitted(**key, ctx)) {
      ctx.error = std::move(*refused);
      co_return Verdict::kRespond;
    }
  }
  co_return Verdict::kContinue;
}

}  // namespace aigw
