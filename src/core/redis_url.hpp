#pragma once
// Where a Redis server is, from the `redis.url` of the config (docs/scaling.md):
//
//   redis://[[username]:password@]host[:port][/db]     plain TCP
//   rediss://[[username]:password@]host[:port][/db]    TLS
//
// The forms Redis's own clients take (the IANA redis and rediss URI schemes). The password
// may also come from `redis.password` (a ${ENV} reference), which is where a secret belongs:
// a URL ends up in logs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aigw::redis {

struct Endpoint {
  bool tls = false;
  std::string host;  // a name or an IP address; IPv6 without its brackets
  std::uint16_t port = 6379;
  std::string username;  // "" = the default user (AUTH with the password alone)
  std::string password;  // "" = no AUTH
  unsigned db = 0;       // SELECT after connecting when not 0

  // "rediss://host:port/db", never the credentials: for logs and errors.
  std::string display() const;
};

// The endpoint `url` names, or nullopt with `problem` saying why (for file:line:col errors of
// the config): an unknown scheme, no host, a port outside 1-65535, a database that is not a
// number from 0 to 15... Percent-escapes in the user and password are decoded.
std::optional<Endpoint> parse_url(std::string_view url, std::string& problem);

}  // namespace aigw::redis
