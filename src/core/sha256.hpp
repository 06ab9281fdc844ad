#pragma once
// SHA-256 through OpenSSL, for the cache key and the gateway's token hashes.

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aigw {

using Sha256Digest = std::array<std::uint8_t, 32>;

// The digest, fetched once for the life of the process: an implicit fetch (EVP_sha256()
// passed to EVP_DigestInit_ex) searches the provider store on every init, about 5 000
// instructions. Throws std::runtime_error if OpenSSL has no SHA-256.
const EVP_MD* sha256_md();

// The SHA-256 of `data`, in one call.
Sha256Digest sha256(std::string_view data);

// `n` bytes as lower-case hex (2n characters).
std::string to_hex(const std::uint8_t* bytes, std::size_t n);
// The first `bytes` bytes (at most 32) of the SHA-256 of `data`, as lower-case hex: a name
// for client-chosen text in a key (Redis's) that stores nothing of the text itself.
std::string sha256_hex(std::string_view data, std::size_t bytes = 32);

}  // namespace aigw
