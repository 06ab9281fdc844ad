#pragma once
// The cache key of a request (docs/caching.md has the exact recipe). Deterministic: the same
// JSON value sent with other spacing or key order gives the same key.

#include "aigw/request_context.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace aigw::cache {

// The request body in canonical form (json/canonical.hpp: object keys sorted, no
// insignificant whitespace, numbers and strings in one spelling); any other body as its raw
// bytes.
std::string canonical_body(std::string_view body);

// Lower-case hex SHA-256 over, each length-prefixed: a format version, the provider as named
// in the URL, the method, the upstream host, port, path and query, the client's Accept-Encoding (a
// hit must be decodable by whoever asks), the credential scope, then the custom key
// (cf-aig-cache-key) if given, else the canonical body. The scope is the client's provider
// credential headers (Authorization, x-api-key, api-key, x-goog-api-key), so one API key
// never reads another's entries, or "shared" with share_across_keys. Only the digest is
// kept, never a credential.
std::string cache_key(const RequestContext& ctx, bool share_across_keys,
                      std::optional<std::string_view> custom_key);

}  // namespace aigw::cache
