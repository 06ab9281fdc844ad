#pragma once
// Header rules shared by the request and response paths.

#include "aigw/request_context.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/span_body.hpp>

#include <string_view>

namespace aigw::headers {

// Hop-by-hop per RFC 9110 §7.6.1 (Connection, Proxy-Connection, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade) plus Proxy-Authorization/Proxy-Authenticate, which address the
// proxy and not the origin. Case-insensitive.
bool is_hop_by_hop(std::string_view name) noexcept;

// Removes hop-by-hop headers, including every header named in a Connection header.
void strip_hop_by_hop(http::fields& fields);

// Moves every cf-aig-* header (and Cloudflare's deprecated cf-cache-ttl / cf-skip-cache
// aliases) out of `req` into `control`, with lower-case names.
void extract_control(http::fields& fields,
                     std::vector<std::pair<std::string, std::string>>& control);

// Builds the upstream request from the client request: method, target, body; end-to-end
// headers minus Host/Expect/Content-Length, plus the provider's configured headers (which
// replace a client header of the same name), Host for the target, framing for the body.
// The body is a view of ctx.request.body(): no copy, valid while ctx lives.
using UpstreamRequest = http::request<http::span_body<const char>>;
UpstreamRequest make_upstream_request(const RequestContext& ctx);

}  // namespace aigw::headers
