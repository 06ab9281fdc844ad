#include "stages/cache/key.hpp"

#include "core/sha256.hpp"
#include "core/text.hpp"
#include "http/headers.hpp"
#include "json/canonical.hpp"

#include <boost/beast/core/string.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

namespace aigw::cache {
namespace {

namespace beast = boost::beast;

// The cache is scoped by aigw::kCredentialHeaders. Query-string keys (Google's ?key=) are
// scoped already: the query is part of the key.

// SHA-256 through OpenSSL's EVP interface, fed field by field. Each thread reuses one
// context.
class Sha256 {
 public:
  Sha256() : ctx_(context()) {
    if (EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1) {
      throw std::runtime_error("SHA-256 unavailable");
    }
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  void field(std::string_view data) {
    const std::uint64_t n = data.size();
    std::array<unsigned char, 8> len{};
    for (int i = 0; i < 8; ++i)
      len[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
    EVP_DigestUpdate(ctx_, len.data(), len.size());
    EVP_DigestUpdate(ctx_, data.data(), data.size());
  }

  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, digest.data(), &size);
    return to_hex(digest.data(), size);
  }

 private:
  static EVP_MD_CTX* context() {
    struct Owned {
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      ~Owned() { EVP_MD_CTX_free(ctx); }
    };
    thread_local Owned owned;
    if (owned.ctx == nullptr) throw std::runtime_error("SHA-256 unavailable");
    return owned.ctx;
  }

  EVP_MD_CTX* ctx_;
};

// Adds the client's provider credential headers to the key, in a fixed order of names (then
// in the order sent), or "anonymous" without any. Only their hash is ever kept.
void add_credential_scope(Sha256& key, const http::fields& fields) {
  struct Found {
    std::size_t name = 0;
    std::string_view value;
  };
  std::array<Found, 8> found{};
  std::size_t count = 0;
  bool overflow = false;
  for (const auto& field : fields) {
    const std::string_view name = field.name_string();
    for (std::size_t i = 0; i < std::size(kCredentialHeaders); ++i) {
      if (name.size() == kCredentialHeaders[i].size() &&
          beast::iequals(name, kCredentialHeaders[i])) {
        if (count == found.size()) {
          overflow = true;
        } else {
          found[count++] = Found{i, field.value()};
        }
        break;
      }
    }
  }
  if (overflow) {  // more than 8 credential headers: one at a time, by name
    for (std::size_t i = 0; i < std::size(kCredentialHeaders); ++i) {
      for (const auto& field : fields) {
        if (beast::iequals(field.name_string(), kCredentialHeaders[i])) {
          key.field(kCredentialHeaders[i]);
          key.field(field.value());
        }
      }
    }
    return;
  }
  if (count == 0) {
    key.field("anonymous");
    return;
  }
  std::stable_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(count),
                   [](const Found& a, const Found& b) { return a.name < b.name; });
  for (std::size_t i = 0; i < count; ++i) {
    key.field(kCredentialHeaders[found[i].name]);
    key.field(found[i].value);
  }
}

}  // namespace

std::string canonical_body(std::string_view body) {
  if (body.empty()) return {};
  if (auto canonical = json::canonical(body)) return std::move(*canonical);
  return std::string(body);
}

std::string cache_key(const RequestContext& ctx, bool share_across_keys,
                      std::optional<std::string_view> custom_key) {
  Sha256 key;
  key.field("aigw-cache-v1");
  // Keyed by what the client sent — never by the step or target that happens to answer, nor
  // by what an attempt sends (a stored key, the usage request): any step's answer serves the
  // same request, and no step's answer is served to another request.
  const HttpRequest& request = ctx.request;
  const PlannedStep* first = ctx.plan.steps.empty() ? nullptr : &ctx.plan.steps.front();
  switch (ctx.plan.kind) {
    case PlanKind::kRoute: {
      // To the route rather than to the target planned first: the weighted draw does not
      // split its entries.
      key.field("route");
      key.field(ctx.path);  // /route/{name}/{rest}
      // The long form's account and gateway reach the targets' URLs (Workers AI's account).
      key.field(ctx.plan.account);
      key.field(ctx.plan.gateway);
      key.field(request.method_string());
      const std::string_view target = request.target();
      const auto qmark = target.find('?');
      key.field(qmark == std::string_view::npos ? std::string_view() : target.substr(qmark));
      break;
    }
    case PlanKind::kCompat:
    case PlanKind::kModels:  // answered before the cache stage; keyed like /compat if ever
      // /compat/chat/completions or /compat/v1/messages: the provider and model are in the
      // body (below); the dialect is in the path.
      key.field("compat");
      key.field(ctx.path);
      key.field(ctx.plan.account);
      key.field(ctx.plan.gateway);
      key.field(request.method_string());
      break;
    case PlanKind::kUniversal:
      // The path it was sent to (its account and gateway reach the steps' URLs) and its
      // whole step list (the body, below).
      key.field("universal");
      key.field(ctx.plan.account);
      key.field(ctx.plan.gateway);
      key.field(request.method_string());
      break;
    case PlanKind::kProvider:
      key.field(first != nullptr ? std::string_view(first->slug) : std::string_view());
      key.field(request.method_string());
      if (first != nullptr) {
        key.field(first->target.host);  // Azure resources, Vertex regions: same path, other host
        key.field(std::to_string(first->target.port));
        key.field(first->target.target);
      }
      break;
  }
  key.field(field_value(request, http::field::accept_encoding));
  key.field("credential-v3");
  // Trimmed as the stored-keys stage reads it.
  const auto header = ctx.control_header("cf-aig-byok-alias");
  const auto alias =
      header ? std::optional<std::string_view>(text::trim_ows(*header)) : std::nullopt;
  const Secret* stored =
      first != nullptr && first->provider != nullptr && ctx.plan.kind != PlanKind::kRoute
          ? first->provider->stored_key(alias)
          : nullptr;
  if (share_across_keys) {
    key.field("shared");
  } else if (stored != nullptr) {
    // The stored key replaces whatever credential the client sent: entries are the key's.
    key.field("stored");
    key.field(stored->reveal());
  } else {
    add_credential_scope(key, request);
    if (alias) key.field(*alias);
  }
  if (custom_key) {
    key.field("custom");
    key.field(*custom_key);
  } else {
    // The body as the client sent it: a universal request's whole step list.
    key.field(ctx.plan.kind == PlanKind::kUniversal ? "steps" : "body");
    key.field(canonical_body(request.body()));
  }
  return key.hex();
}

}  // namespace aigw::cache
