// The unit-carrying scalars: durations, sizes and listen addresses.

#include "config/load.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace aigw::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDuration, Valid) {
  EXPECT_EQ(parse_duration("0"), Duration(0));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
  EXPECT_EQ(parse_duration("0ms"), Duration(0));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("30s"), seconds(30));
  EXPECT_EQ(parse_duration("5m"), minutes(5));
  EXPECT_EQ(parse_duration("1h"), hours(1));
  EXPECT_EQ(parse_duration("30d"), hours(24 * 30));
  EXPECT_EQ(parse_duration("90m"), minutes(90));
  EXPECT_EQ(parse_duration("007s"), seconds(7));
}

TEST(ParseDuration, DecimalsMustComeToWholeMilliseconds) {
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("0.25h"), minutes(15));
  EXPECT_EQ(parse_duration("1.001s"), milliseconds(1001));
  EXPECT_EQ(parse_duration("1.0005s"), std::nullopt);
  EXPECT_EQ(parse_duration("0.5ms"), std::nullopt);
}

TEST(ParseDuration, Invalid) {
  for (const char* text :
       {"", "30", "1", "-1s", "+1s", "s", "1 s", " 1s", "1s ", "1S", "1sec", "1.s", ".5s", "1..5s",
        "1h30m", "1e3ms", "0x10s", "99999999999999999999s"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ParseDuration, Overflow) {
  // 2^63 ms does not fit Duration's signed 64-bit count.
  EXPECT_EQ(parse_duration("9223372036854775808ms"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775807ms"),
            Duration(std::numeric_limits<Duration::rep>::max()));
  EXPECT_EQ(parse_duration("9223372036854775807h"), std::nullopt);
}

TEST(ParseSize, Valid) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("16KiB"), 16u * 1024);
  EXPECT_EQ(parse_size("8MiB"), 8u * 1024 * 1024);
  EXPECT_EQ(parse_size("1GiB"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_size("16KB"), 16000u);
  EXPECT_EQ(parse_size("16kB"), 16000u);
  EXPECT_EQ(parse_size("8MB"), 8000000u);
  EXPECT_EQ(parse_size("1GB"), 1000000000u);
  EXPECT_EQ(parse_size("1.5KiB"), 1536u);
  EXPECT_EQ(parse_size("0.5MB"), 500000u);
}

TEST(ParseSize, Invalid) {
  for (const char* text : {"", "-1", "1.5", "1.1KiB", "8 MiB", "8mib", "8Mi", "8M", "8K", "KiB",
                           "1TiB", "1e6", "18446744073709551616", "17179869184GiB"}) {
    EXPECT_EQ(parse_size(text), std::nullopt) << text;
  }
}

TEST(ParseSize, Limits) {
  EXPECT_EQ(parse_size("18446744073709551615"), std::numeric_limits<std::size_t>::max());
}

TEST(ParseListen, Valid) {
  const auto a = parse_listen("0.0.0.0:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 8080);

  const auto b = parse_listen(":9000");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "0.0.0.0");
  EXPECT_EQ(b->port, 9000);

  const auto c = parse_listen("[::1]:0");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 0);

  const auto d = parse_listen("[::]:65535");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "::");
  EXPECT_EQ(d->port, 65535);

  const auto e = parse_listen("localhost:80");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "localhost");

  const auto f = parse_listen("[fe80::1%eth0]:443");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->host, "fe80::1%eth0");
}

TEST(ParseListen, Invalid) {
  for (const char* text :
       {"", "8080", "localhost", "0.0.0.0:", "0.0.0.0:65536", "0.0.0.0:-1", "0.0.0.0:80a",
        "0.0.0.0:123456", "::1:8080", "[::1]8080", "[::1]:", "[]:80", "[localhost]:80", "[::1:80",
        "[fe80::1%]:80", "[fe80::1%a b]:80", "host name:80", "host/x:80"}) {
    EXPECT_EQ(parse_listen(text).has_value(), false) << text;
  }
}

}  // namespace
}  // namespace aigw::config
