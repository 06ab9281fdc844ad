#pragma once
// SHA-256 through OpenSSL, for the cache key and the gateway's token hashes.

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace aigw {

using Sha256Digest = std::array<std::uint8_t, 32>;

// The digest, fetched once for the life of the process: an implicit fetch (EVP_sha256()
// passed to EVP_DigestInit_ex) searches the provider store on every init, about 5 000
// instructions. Throws std::runtime_error if OpenSSL has no SHA-256.
const EVP_MD* sha256_md();

// The SHA-256 of `data`, in one call.
Sha256Digest sha256(std::string_view data);

}  // namespace aigw
