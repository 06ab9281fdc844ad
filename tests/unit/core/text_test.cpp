// The near-miss rule behind every "did you mean" diagnostic (config keys, provider slugs).

#include "core/text.hpp"

#include <gtest/gtest.h>

namespace aigw::text {
namespace {

TEST(Text, Lower) { EXPECT_EQ(lower("HTTPS://Api.OpenAI.com/V1"), "https://api.openai.com/v1"); }

TEST(Text, EditDistanceCountsATranspositionAsOneEdit) {
  EXPECT_EQ(edit_distance("listen", "listen"), 0u);
  EXPECT_EQ(edit_distance("lsiten", "listen"), 1u);
  EXPECT_EQ(edit_distance("lisen", "listen"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

TEST(Text, Closest) {
  const std::vector<std::string_view> slugs{"google-ai-studio", "groq", "grok", "openai"};
  EXPECT_EQ(closest("opneai", slugs), "openai");
  EXPECT_EQ(closest("Google_AI_Studio", slugs), "google-ai-studio");  // case and '_' fold
  EXPECT_EQ(closest("grk", slugs), "grok");
  EXPECT_EQ(closest("grox", slugs), "groq");         // one edit from groq and grok: first entry
  EXPECT_EQ(closest("grxyz", slugs), std::nullopt);  // short: one edit only
  EXPECT_EQ(closest("anthropic", slugs), std::nullopt);
  EXPECT_EQ(closest(std::string(1 << 20, 'a'), slugs), std::nullopt);  // skipped by length
}

}  // namespace
}  // namespace aigw::text
