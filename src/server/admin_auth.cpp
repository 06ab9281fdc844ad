#include "server/admin_auth.hpp"

#include "core/sha256.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <string>

namespace aigw::admin {
namespace {

// The scheme name is case-insensitive (RFC 9110 11.1); nothing else is. Only letters are
// folded: folding every byte with `| 0x20` would also take a NUL for the space after it.
bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  const auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (fold(text[i]) != fold(prefix[i])) return false;
  }
  return true;
}

// The password of a Basic credential ("user:password", base64), or "" when malformed.
std::string basic_password(std::string_view encoded) {
  // A token is at most a few hundred bytes; the header is bounded by the listener anyway.
  if (encoded.empty() || encoded.size() > 4096 || encoded.size() % 4 != 0) return {};
  std::string decoded(encoded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                reinterpret_cast<const unsigned char*>(encoded.data()),
                                static_cast<int>(encoded.size()));
  if (n < 0) return {};
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding's zero bytes too.
  for (std::size_t i = encoded.size(); i > 0 && encoded[i - 1] == '=' && size > 0; --i) --size;
  decoded.resize(size);
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return {};
  return decoded.substr(colon + 1);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool authorized(const AdminConfig& config, std::string_view header) {
  if (config.token_sha256.empty()) return true;
  header = trim(header);
  std::string token;
  if (iequals_prefix(header, "Bearer ")) {
    token = std::string(trim(header.substr(7)));
  } else if (iequals_prefix(header, "Basic ")) {
    token = basic_password(trim(header.substr(6)));
  }
  if (token.empty()) return false;
  const auto presented = sha256(token);
  bool match = false;
  for (const auto& digest : config.token_sha256) {
    match |= CRYPTO_memcmp(presented.data(), digest.data(), digest.size()) == 0;
  }
  return match;
}

}  // namespace aigw::admin
