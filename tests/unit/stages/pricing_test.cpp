// Prices: the matching rules from a response's model name to a table entry, cost arithmetic
// with cached and cache-write tokens, and cf-aig-custom-cost.

#include "pricing/pricing.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aigw::pricing {
namespace {

PriceTable table() {
  return PriceTable({
      {"openai/gpt-4o", {2.5, 10, 1.25, std::nullopt}},
      {"anthropic/claude-sonnet-4-5", {3, 15, 0.30, 3.75}},
      {"anthropic/claude-3-5-haiku", {0.8, 4, 0.08, 1.0}},
      {"google-ai-studio/gemini-1.5-pro", {1.25, 5, std::nullopt, std::nullopt}},
      {"google-ai-studio/gemini-2.5-flash", {0.3, 2.5, 0.075, std::nullopt}},
      {"mistral/mistral-large-latest", {2, 6, std::nullopt, std::nullopt}},
      {"groq/openai/gpt-oss-120b", {0.15, 0.75, std::nullopt, std::nullopt}},
  });
}

TEST(PriceTable, ExactThenVersionedThenTheProviderWhosePricesApply) {
  const PriceTable t = table();
  EXPECT_EQ(t.find("openai", "gpt-4o")->input, 2.5);
  EXPECT_EQ(t.find("openai", "gpt-4o-2024-08-06")->input, 2.5);
  EXPECT_EQ(t.find("anthropic", "claude-sonnet-4-5-20250929")->output, 15);
  EXPECT_EQ(t.find("anthropic", "claude-3-5-haiku-latest")->input, 0.8);
  EXPECT_EQ(t.find("google-ai-studio", "gemini-1.5-pro-002")->input, 1.25);
  EXPECT_EQ(t.find("google-ai-studio", "models/gemini-2.5-flash")->output, 2.5);
  EXPECT_EQ(t.find("google-ai-studio", "gemini-2.5-flash-preview-05-20")->output, 2.5);
  EXPECT_EQ(t.find("mistral", "mistral-large-latest")->input, 2);  // exact beats the rule
  EXPECT_EQ(t.find("groq", "openai/gpt-oss-120b")->input, 0.15);
  EXPECT_EQ(t.find("azure-openai", "gpt-4o-2024-11-20")->input, 2.5);
  EXPECT_EQ(t.find("google-vertex-ai", "gemini-1.5-pro-002")->input, 1.25);
  EXPECT_EQ(t.find("openrouter", "openai/gpt-4o")->input, 2.5);
  EXPECT_EQ(t.find("openrouter", "mistralai/mistral-large-latest")->input, 2);
  // Unpriced: unknown models, other providers, near misses.
  EXPECT_EQ(t.find("openai", "gpt-4o-mini"), nullptr);
  EXPECT_EQ(t.find("groq", "gpt-4o"), nullptr);
  EXPECT_EQ(t.find("openai", ""), nullptr);
  EXPECT_EQ(t.find("openai", "gpt-4o-2024-8-6"), nullptr);
  EXPECT_EQ(t.find("openrouter", "gpt-4o"), nullptr);
  EXPECT_EQ(t.find("custom-mine", "gpt-4o"), nullptr);
}

// A key is built on the stack up to 128 bytes, and on the heap beyond: both are found.
TEST(PriceTable, LongModelNamesAreFoundToo) {
  const std::string at_limit(128 - std::string("custom-x/").size(), 'm');
  const std::string beyond(300, 'n');
  const PriceTable t({{"custom-x/" + at_limit, {1, 2, std::nullopt, std::nullopt}},
                      {"custom-x/" + beyond, {3, 4, std::nullopt, std::nullopt}}});
  ASSERT_NE(t.find("custom-x", at_limit), nullptr);
  EXPECT_EQ(t.find("custom-x", at_limit)->input, 1);
  ASSERT_NE(t.find("custom-x", beyond), nullptr);
  EXPECT_EQ(t.find("custom-x", beyond)->input, 3);
  EXPECT_EQ(t.find("custom-x", beyond + "-2024-08-06")->input, 3);  // versioned, long
  EXPECT_EQ(t.find("custom-x", at_limit + "m"), nullptr);
}

TEST(Cost, CachedAndCacheWriteTokensAreNotChargedTwice) {
  const PriceTable t = table();
  TokenUsage u;
  u.input = 1'000'000;  // of which 400k read from and 100k written to the prompt cache
  u.cached_input = 400'000;
  u.cache_write = 100'000;
  u.output = 200'000;
  const Cost c = cost_of(u, t.find("anthropic", "claude-sonnet-4-5"), nullptr);
  ASSERT_TRUE(c.usd.has_value());
  EXPECT_NEAR(*c.usd, 0.5 * 3 + 0.4 * 0.30 + 0.1 * 3.75 + 0.2 * 15, 1e-12);
  EXPECT_FALSE(c.unpriced);
  // Without a cache price the input price applies.
  TokenUsage g;
  g.input = 2'000'000;
  g.cached_input = 1'000'000;
  g.output = 0;
  EXPECT_NEAR(*cost_of(g, t.find("google-ai-studio", "gemini-1.5-pro"), nullptr).usd, 2.5, 1e-12);
}

TEST(Cost, UnpricedIsNeverZero) {
  TokenUsage u;
  u.input = 10;
  u.output = 5;
  const Cost c = cost_of(u, nullptr, nullptr);
  EXPECT_FALSE(c.usd.has_value());
  EXPECT_TRUE(c.unpriced);
  // No usage at all (an error response): nothing to price, and not "unpriced" either.
  const Cost none = cost_of(TokenUsage{}, nullptr, nullptr);
  EXPECT_FALSE(none.usd.has_value());
  EXPECT_FALSE(none.unpriced);
}

TEST(CustomCost, ParsedAndAppliedPerToken) {
  auto custom = parse_custom_cost(R"({"per_token_in":0.000002,"per_token_out":0.00001,
                                      "per_cache_read_token":0.0000005})");
  ASSERT_TRUE(custom.has_value());
  TokenUsage u;
  u.input = 1000;
  u.cached_input = 200;
  u.cache_write = 100;
  u.output = 50;
  const Cost c = cost_of(u, nullptr, &*custom);  // custom cost needs no table entry
  ASSERT_TRUE(c.usd.has_value());
  EXPECT_TRUE(c.custom);
  EXPECT_FALSE(c.unpriced);
  // 700 uncached + 200 cache reads + 100 cache writes at per_token_in + 50 out.
  EXPECT_NEAR(*c.usd, 700 * 2e-6 + 200 * 5e-7 + 100 * 2e-6 + 50 * 1e-5, 1e-15);
}

TEST(CustomCost, BadHeadersAreRefusedWithTheReason) {
  auto message = [](std::string_view header) {
    auto r = parse_custom_cost(header);
    EXPECT_FALSE(r.has_value()) << header;
    return r.has_value() ? std::string() : r.error().detail;
  };
  EXPECT_EQ(message("0.5"),
            "cf-aig-custom-cost must be a JSON object such as "
            "{\"per_token_in\":0.000001,\"per_token_out\":0.000002}");
  EXPECT_EQ(message("{not json"), message("0.5"));
  EXPECT_EQ(message(R"({"per_token_in":1})"),
            "cf-aig-custom-cost needs per_token_in and per_token_out");
  EXPECT_EQ(message(R"({"per_token_in":-1,"per_token_out":1})"),
            "cf-aig-custom-cost field per_token_in must be a number >= 0 (US dollars per token)");
  EXPECT_EQ(message(R"({"per_token_in":"1","per_token_out":1})"),
            "cf-aig-custom-cost field per_token_in must be a number >= 0 (US dollars per token)");
  EXPECT_EQ(message(R"({"per_token_in":1,"per_token_out":1,"per_request":1})"),
            "cf-aig-custom-cost has an unknown field per_request (known: per_token_in, "
            "per_token_out, per_cache_read_token, per_cache_write_token)");
}

}  // namespace
}  // namespace aigw::pricing
