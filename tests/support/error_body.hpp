#pragma once
// The body the gateway answers its own errors with: OpenAI's error shape (docs/api.md).

#include <nlohmann/json.hpp>

#include <string>

namespace aigw::test {

inline nlohmann::json gateway_error(const std::string& message, const std::string& type,
                                    const std::string& code) {
  return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
}

}  // namespace aigw::test
