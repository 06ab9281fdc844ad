#include "stages/cache/key.hpp"

#include "pipeline/headers.hpp"

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace aigw::cache {
namespace {

namespace beast = boost::beast;

// The provider credential headers whose value scopes the cache. Query-string keys
// (Google's ?key=) are scoped already: the query is part of the key.
constexpr std::string_view kCredentialHeaders[] = {"authorization", "x-api-key", "api-key",
                                                   "x-goog-api-key"};

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx_);
      throw std::runtime_error("SHA-256 unavailable");
    }
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
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
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (unsigned int i = 0; i < size; ++i) {
      out[2 * i] = kHex[digest[i] >> 4];
      out[2 * i + 1] = kHex[digest[i] & 0x0F];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string credential_scope(const http::fields& fields) {
  Sha256 scope;
  scope.field("credential-v1");
  bool any = false;
  for (const std::string_view name : kCredentialHeaders) {
    for (const auto& field : fields) {
      if (beast::iequals(field.name_string(), name)) {
        scope.field(name);
        scope.field(field.value());
        any = true;
      }
    }
  }
  return any ? scope.hex() : std::string("anonymous");
}

}  // namespace

std::string canonical_body(std::string_view body) {
  if (body.empty()) return {};
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::string(body);
  // nlohmann's objects are std::maps: dump() writes keys sorted, compactly.
  return parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string cache_key(const RequestContext& ctx, bool share_across_keys,
                      std::optional<std::string_view> custom_key) {
  Sha256 key;
  key.field("aigw-cache-v1");
  key.field(ctx.provider_slug);
  key.field(ctx.request.method_string());
  key.field(ctx.target.host);  // Azure resources, Vertex regions: same path, other host
  key.field(std::to_string(ctx.target.port));
  key.field(ctx.target.target);
  key.field(headers::value_of(ctx.request, http::field::accept_encoding));
  key.field(share_across_keys ? std::string("shared") : credential_scope(ctx.request));
  if (custom_key) {
    key.field("custom");
    key.field(*custom_key);
  } else {
    key.field("body");
    key.field(canonical_body(ctx.request.body()));
  }
  return key.hex();
}

}  // namespace aigw::cache
