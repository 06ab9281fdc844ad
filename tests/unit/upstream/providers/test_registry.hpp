#pragma once
// The provider registry the provider tests share: every built-in provider plus custom-mine
// (http://127.0.0.1:8000/v1), built once.

#include "aigw/provider.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace aigw::test {

inline const ProviderRegistry& test_registry() {
  static const auto r = [] {
    Config config;
    ProviderConfig mine;
    mine.name = "custom-mine";
    mine.base_url = "http://127.0.0.1:8000/v1";
    config.providers.emplace(mine.name, mine);
    std::vector<ProviderRegistry::Problem> problems;
    auto built = ProviderRegistry::build(config, problems);
    EXPECT_TRUE(problems.empty());
    return built;
  }();
  return *r;
}

}  // namespace aigw::test
