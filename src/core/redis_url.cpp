#include "core/redis_url.hpp"

#include <charconv>

namespace aigw::redis {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `text` with %XX decoded; nullopt for a '%' not followed by two hex digits.
std::optional<std::string> percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

template <class T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string Endpoint::display() const {
  std::string out = tls ? "rediss://" : "redis://";
  if (host.find(':') != std::string::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  if (db != 0) out.append("/").append(std::to_string(db));
  return out;
}

std::optional<Endpoint> parse_url(std::string_view url, std::string& problem) {
  Endpoint e;
  if (url.starts_with("redis://")) {
    url.remove_prefix(8);
  } else if (url.starts_with("rediss://")) {
    e.tls = true;
    url.remove_prefix(9);
  } else {
    problem = "must start with redis:// or rediss://";
    return std::nullopt;
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    problem = "takes no query or fragment (timeouts and TLS are keys of the redis section)";
    return std::nullopt;
  }
  // The path: /db.
  std::string_view path;
  if (const auto slash = url.find('/'); slash != std::string_view::npos) {
    path = url.substr(slash + 1);
    url = url.substr(0, slash);
  }
  if (!path.empty()) {
    if (!parse_number(path, e.db) || e.db > 15) {
      // Neither this nor the port is echoed: a URL missing its '@' puts the password here.
      problem = "names a database that is not a number from 0 to 15";
      return std::nullopt;
    }
  }
  // user:password@, at the last '@' (a password may hold one, escaped or not).
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = url.substr(0, at);
    url = url.substr(at + 1);
    const auto colon = userinfo.find(':');
    const auto user = percent_decoded(userinfo.substr(0, colon));
    const auto password = colon == std::string_view::npos
                              ? std::optional<std::string>(std::string())
                              : percent_decoded(userinfo.substr(colon + 1));
    if (!user || !password) {
      problem = "has a '%' that is not followed by two hex digits in its user or password";
      return std::nullopt;
    }
    if (colon == std::string_view::npos) {
      // redis://secret@host: the one part is the password, as redis-cli reads it.
      e.password = *user;
    } else {
      e.username = *user;
      e.password = *password;
    }
  }
  // host[:port], or [v6]:port.
  std::string_view port_text;
  if (url.starts_with('[')) {
    const auto close = url.find(']');
    if (close == std::string_view::npos) {
      problem = "has an IPv6 address without its closing ']'";
      return std::nullopt;
    }
    e.host = std::string(url.substr(1, close - 1));
    const std::string_view rest = url.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        problem = "has something after the IPv6 address that is not :port";
        return std::nullopt;
      }
      port_text = rest.substr(1);
      if (port_text.empty()) port_text = "-";
    }
  } else {
    const auto colon = url.rfind(':');
    e.host = std::string(url.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = url.substr(colon + 1);
      if (port_text.empty()) port_text = "-";
    }
  }
  if (e.host.empty()) {
    problem = "names no host";
    return std::nullopt;
  }
  for (const char c : e.host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == ':' || c == '_';
    if (!ok) {
      problem = "has a host with a character a host name or address cannot hold";
      return std::nullopt;
    }
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    if (!parse_number(port_text, port) || port == 0 || port > 65535) {
      problem = "has a port that is not a number from 1 to 65535";
      return std::nullopt;
    }
    e.port = static_cast<std::uint16_t>(port);
  }
  return e;
}

}  // namespace aigw::redis
