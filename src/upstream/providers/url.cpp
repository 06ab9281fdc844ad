// Url::parse and UpstreamTarget::host_header: the only places that turn configured base URLs
// into host/port/path and back into a Host header.

#include "aigw/provider.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace aigw {
namespace {

using text::lower;

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

Error bad_url(std::string_view text, std::string_view why) {
  return Error{ErrorCode::kInvalidPath,
               "invalid URL '" + std::string(text) + "': " + std::string(why)};
}

// A registered name (RFC 3986 §3.2.2) restricted to what DNS allows, plus the {placeholder}
// braces of a base-URL template (e.g. {resource}.openai.azure.com).
bool valid_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' ||
         c == '{' || c == '}';
}

}  // namespace

Result<Url> Url::parse(std::string_view text) {
  Url url;
  std::string_view rest;
  if (starts_with_icase(text, "https://")) {
    url.tls = true;
    url.port = 443;
    rest = text.substr(8);
  } else if (starts_with_icase(text, "http://")) {
    url.tls = false;
    url.port = 80;
    rest = text.substr(7);
  } else {
    return bad_url(text, "must start with http:// or https://");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad_url(text, "a base URL takes no query or fragment");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return bad_url(text, "credentials in the URL are not allowed; use headers with ${ENV}");
  }

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal, RFC 3986 §3.2.2
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad_url(text, "unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad_url(text, "unexpected text after IPv6 literal");
      port = after.substr(1);
      has_port = true;
    }
    if (host.empty() ||
        host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return bad_url(text, "invalid IPv6 literal");
    }
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return bad_url(text, "missing host");
    if (!std::all_of(host.begin(), host.end(), valid_host_char)) {
      return bad_url(text, "invalid character in host");
    }
  }
  if (has_port) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return bad_url(text, "port must be 1-65535");
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  url.host = lower(host);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.path = std::string(path);
  return url;
}

std::string UpstreamTarget::host_header() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = ipv6 ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

}  // namespace aigw
