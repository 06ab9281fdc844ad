// admin::authorized takes the scheme name in any case and the token exactly. The NUL case was
// found by the admin fuzz target: a byte-wise `| 0x20` fold had taken "Basic\0…" for
// "Basic …".

#include "server/admin_auth.hpp"

#include "core/sha256.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aigw::admin {
namespace {

using namespace std::string_literals;

AdminConfig with_token(const std::string& token) {
  AdminConfig c;
  c.token_sha256.push_back(sha256(token));
  return c;
}

// base64("u:secret-token")
constexpr const char* kBasic = "dTpzZWNyZXQtdG9rZW4=";

TEST(AdminAuthHeader, AcceptsTheTokenInEitherSchemeAndAnyCaseOfTheSchemeName) {
  const auto config = with_token("secret-token");
  EXPECT_TRUE(authorized(config, "Bearer secret-token"));
  EXPECT_TRUE(authorized(config, "bEARER secret-token"));
  EXPECT_TRUE(authorized(config, "  Bearer   secret-token \t"));
  EXPECT_TRUE(authorized(config, "Basic "s + kBasic));
  EXPECT_TRUE(authorized(config, "BASIC "s + kBasic));
}

TEST(AdminAuthHeader, RefusesAnythingButTheSchemeNameFollowedByASpace) {
  const auto config = with_token("secret-token");
  EXPECT_FALSE(authorized(config, "Basic\0"s + kBasic));
  EXPECT_FALSE(authorized(config, "Bearer\0secret-token"s));
  EXPECT_FALSE(authorized(config, "Bearer\tsecret-token"));
  EXPECT_FALSE(authorized(config, "Bearersecret-token"));
  EXPECT_FALSE(authorized(config, "Token secret-token"));
  EXPECT_FALSE(authorized(config, "secret-token"));
  EXPECT_FALSE(authorized(config, "Bearer Secret-token"));
  EXPECT_FALSE(authorized(config, "Bearer secret-token\0"s));
  EXPECT_FALSE(authorized(config, "Basic dTpzZWNyZXQtdG9rZW4"));  // not a multiple of 4
  EXPECT_FALSE(authorized(config, ""));
}

TEST(AdminAuthHeader, NoConfiguredTokenLetsEveryoneIn) {
  EXPECT_TRUE(authorized(AdminConfig{}, ""));
}

}  // namespace
}  // namespace aigw::admin
