#pragma once
// The body the gateway answers its own errors with: OpenAI's error shape (docs/api.md).

#include "aigw/ids.hpp"

#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace aigw::test {

inline nlohmann::json gateway_error(const std::string& message, const std::string& type,
                                    const std::string& code) {
  return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
}

// Parses an error response's body and checks its shape and ids; returns the error object.
inline nlohmann::json error_of(const HttpResponse& res) {
  nlohmann::json body = nlohmann::json::parse(res.body, nullptr, false);
  EXPECT_TRUE(body.is_object() && body.contains("error")) << res.body;
  EXPECT_EQ(res.header("content-type"), "application/json");
  EXPECT_TRUE(is_uuid_v7(res.header("cf-aig-log-id")));
  EXPECT_EQ(res.header("cf-aig-request-id"), res.header("cf-aig-log-id"));
  return body.is_object() && body.contains("error") ? body["error"] : nlohmann::json();
}

}  // namespace aigw::test
