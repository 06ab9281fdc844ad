// redis.url (docs/scaling.md): the forms Redis's clients take, and a clear reason for each
// URL that is not one.

#include "core/redis_url.hpp"

#include <gtest/gtest.h>

namespace aigw::redis {
namespace {

Endpoint parsed(std::string_view url) {
  std::string problem;
  const auto e = parse_url(url, problem);
  EXPECT_TRUE(e.has_value()) << url << ": " << problem;
  return e.value_or(Endpoint{});
}

std::string problem_of(std::string_view url) {
  std::string problem;
  const auto e = parse_url(url, problem);
  EXPECT_FALSE(e.has_value()) << url;
  return problem;
}

TEST(RedisUrl, TheFormsRedisClientsTake) {
  Endpoint e = parsed("redis://127.0.0.1");
  EXPECT_FALSE(e.tls);
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(e.db, 0u);
  EXPECT_TRUE(e.password.empty());

  e = parsed("rediss://cache.internal:6380/2");
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.host, "cache.internal");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 2u);
  EXPECT_EQ(e.display(), "rediss://cache.internal:6380/2");

  e = parsed("redis://:s3cr%40t@redis:7000");  // password only, escaped '@'
  EXPECT_EQ(e.username, "");
  EXPECT_EQ(e.password, "s3cr@t");
  e = parsed("redis://gateway:pw@redis");  // ACL user
  EXPECT_EQ(e.username, "gateway");
  EXPECT_EQ(e.password, "pw");
  EXPECT_EQ(e.display(), "redis://redis:6379");  // never the credentials
  e = parsed("redis://onlysecret@redis");        // one part: the password, as redis-cli reads it
  EXPECT_EQ(e.password, "onlysecret");
  e = parsed("redis://[::1]:6390");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 6390);
  EXPECT_EQ(e.display(), "redis://[::1]:6390");
}

TEST(RedisUrl, EachBadUrlSaysWhy) {
  EXPECT_EQ(problem_of("http://redis:6379"), "must start with redis:// or rediss://");
  EXPECT_EQ(problem_of("redis://"), "names no host");
  EXPECT_EQ(problem_of("redis://:pw@"), "names no host");
  EXPECT_EQ(problem_of("redis://redis:0"), "has a port that is not a number from 1 to 65535");
  EXPECT_EQ(problem_of("redis://redis:99999"), "has a port that is not a number from 1 to 65535");
  EXPECT_EQ(problem_of("redis://redis:"), "has a port that is not a number from 1 to 65535");
  EXPECT_EQ(problem_of("redis://redis/16"), "names a database that is not a number from 0 to 15");
  EXPECT_EQ(problem_of("redis://redis/x"), "names a database that is not a number from 0 to 15");
  EXPECT_EQ(problem_of("redis://redis?timeout=1"),
            "takes no query or fragment (timeouts and TLS are keys of the redis section)");
  EXPECT_EQ(problem_of("redis://:p%zz@redis"),
            "has a '%' that is not followed by two hex digits in its user or password");
  EXPECT_EQ(problem_of("redis://[::1"), "has an IPv6 address without its closing ']'");
  EXPECT_EQ(problem_of("redis://red is"),
            "has a host with a character a host name or address cannot hold");
}

}  // namespace
}  // namespace aigw::redis
