#pragma once
// Header rules shared by the request and response paths.

#include "aigw/attempt.hpp"
#include "aigw/request_context.hpp"

#include <boost/beast/http/fields.hpp>

#include <string>
#include <string_view>

namespace aigw::headers {

// Hop-by-hop per RFC 9110 §7.6.1 (Connection, Proxy-Connection, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade) plus Proxy-Authorization/Proxy-Authenticate, which address the
// proxy and not the origin. Case-insensitive.
bool is_hop_by_hop(std::string_view name) noexcept;
bool is_hop_by_hop(http::field name) noexcept;

// Removes hop-by-hop headers, including every header named in a Connection header.
void strip_hop_by_hop(http::fields& fields);

// Moves every cf-aig-* header (and Cloudflare's deprecated cf-cache-ttl / cf-skip-cache
// aliases) out of `req` into `control`, with lower-case names.
void extract_control(http::fields& fields,
                     std::vector<std::pair<std::string, std::string>>& control);

// Serializes the head of an attempt's request (request line + headers + blank line): its
// method and mapped target; its headers (the client's with the attempt's edits) minus
// Host/Expect/Content-Length, plus the provider's configured headers (which replace one of
// the same name unless the step pinned it), Host for the target, and Content-Length for the
// body. The body itself is attempt.request.body(), sent after the head unchanged. Written by
// hand rather than through a Beast serializer: one pass, one string, no per-field allocation.
std::string serialize_upstream_head(const Attempt& attempt);

// The headers of that head other than Host and Content-Length, in order, each as
// visit(user, name, value) (names as the client or the config spelled them): what an
// HTTP/2 request sends besides its pseudo-headers (src/upstream/h2.cpp).
using HeaderVisitor = void (*)(void* user, std::string_view name, std::string_view value);
void for_each_upstream_header(const Attempt& attempt, HeaderVisitor visit, void* user);
// Whether the request carries Content-Length (a body, or a method that has one even empty).
bool upstream_request_has_length(const Attempt& attempt) noexcept;

}  // namespace aigw::headers
