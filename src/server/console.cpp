#include "server/console.hpp"

namespace aigw::console {
namespace {

// Every console response, the 404 included. The page loads only its own files and talks
// only to its own origin: no inline script or style, no framing (clickjacking), no
// Referer (a record's path could leak to a link's target), no MIME sniffing of the API's
// JSON into something executable.
constexpr std::pair<std::string_view, std::string_view> kSecurityHeaders[] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Calls f(element) for each element of a comma-separated header list (RFC 9110 §5.6.1).
template <class F>
void for_each_element(std::string_view list, F f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    f(trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// RFC 9110 §13.1.2: If-None-Match compares weakly, so W/"x" matches "x"; `*` matches any.
bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  bool match = false;
  for_each_element(if_none_match, [&](std::string_view tag) {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    match = match || tag == "*" || tag == etag;
  });
  return match;
}

// Whether Accept-Encoding lists gzip (or *) with a q-value above 0 (RFC 9110 §12.5.3).
bool accepts_gzip(std::string_view accept_encoding) {
  bool gzip = false;
  for_each_element(accept_encoding, [&](std::string_view element) {
    const auto semi = element.find(';');
    const std::string_view coding = trim(element.substr(0, semi));
    if (!iequals(coding, "gzip") && !iequals(coding, "x-gzip") && coding != "*") return;
    bool refused = false;
    if (semi != std::string_view::npos) {
      std::string_view param = trim(element.substr(semi + 1));
      if (param.starts_with("q=") || param.starts_with("Q=")) {
        param.remove_prefix(2);
        // q=0, q=0.0, q=0.000: every digit zero.
        refused = param.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    gzip = gzip || !refused;
  });
  return gzip;
}

const detail::Asset* find(std::string_view path) {
  for (std::size_t i = 0; i < detail::kAssetCount; ++i) {
    if (detail::kAssets[i].path == path) return &detail::kAssets[i];
  }
  return nullptr;
}

Response with_security_headers(Response res) {
  res.headers.insert(res.headers.end(), std::begin(kSecurityHeaders), std::end(kSecurityHeaders));
  return res;
}

}  // namespace

std::optional<Response> serve(std::string_view path, std::string_view if_none_match,
                              std::string_view accept_encoding) {
  if (path != "/" && !path.starts_with("/console/")) return std::nullopt;
  const detail::Asset* asset = find(path);
  if (asset == nullptr) {
    Response res{404, "no such console file\n", {{"Content-Type", "text/plain; charset=utf-8"}}};
    res.headers.emplace_back("Cache-Control", "no-store");
    return with_security_headers(std::move(res));
  }
  const bool gzip = !asset->gzip.empty() && accepts_gzip(accept_encoding);
  const std::string_view etag = gzip ? asset->etag_gzip : asset->etag;
  Response res;
  res.headers = {{"Content-Type", asset->content_type},
                 {"ETag", etag},
                 {"Cache-Control", asset->cache_control}};
  // Caches must key the gzip and identity copies apart.
  if (!asset->gzip.empty()) res.headers.emplace_back("Vary", "Accept-Encoding");
  if (!if_none_match.empty() && etag_matches(if_none_match, etag)) {
    res.status = 304;  // RFC 9110 §15.4.5: no body, the validators and caching headers
    return with_security_headers(std::move(res));
  }
  if (gzip) {
    res.headers.emplace_back("Content-Encoding", "gzip");
    res.body = asset->gzip;
  } else {
    res.body = asset->data;
  }
  return with_security_headers(std::move(res));
}

}  // namespace aigw::console
