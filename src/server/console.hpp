#pragma once
// The operator console (docs/console.md): a single page on the admin listener's `/` that
// reads the JSON API (/api/usage, /api/logs, /api/routes). Its files (web/console, and the
// chart library in web/vendor) are compiled into the binary by web/embed.cmake, so the page
// works offline and with no files beside the binary.
//
//   GET /                        index.html
//   GET /console/{name}          app.js, app.css, favicon.svg
//   GET /console/vendor/{lib}/…  the vendored chart library and its LICENSE

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::console {

struct Response {
  unsigned status = 200;
  std::string_view body;  // static: the embedded file, or a constant message
  // Content-Type, ETag, Cache-Control, Vary, Content-Encoding and the security headers.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};

// The response for GET `path` (the request target without its query), given the request's
// If-None-Match and Accept-Encoding ("" when absent): the file (gzip-encoded when the
// client accepts it), 304 when If-None-Match names its ETag, 404 for an unknown
// /console/ path; nullopt when `path` is neither `/` nor under /console/, so the caller
// goes on to the other admin endpoints. Never suspends; thread-safe (reads constants).
std::optional<Response> serve(std::string_view path, std::string_view if_none_match,
                              std::string_view accept_encoding);

// The files, as web/embed.cmake generates them into the build directory.
namespace detail {
struct Asset {
  std::string_view path;  // URL path: "/" or "/console/…"
  std::string_view content_type;
  std::string_view etag;       // quoted strong validator of the identity bytes
  std::string_view etag_gzip;  // the gzip bytes' (the same digest, "-gz")
  std::string_view cache_control;
  std::string_view data;
  std::string_view gzip;  // empty when gzip would not be smaller
};
extern const Asset kAssets[];
extern const std::size_t kAssetCount;
}  // namespace detail

}  // namespace aigw::console
