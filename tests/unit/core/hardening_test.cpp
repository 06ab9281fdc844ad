// The small pieces the hardening of issue 15 rests on: clipping client names, saturating
// arithmetic, duplicate JSON keys, path rules, and the bound on /metrics.

#include "core/checked.hpp"
#include "core/metrics.hpp"
#include "core/path_rules.hpp"
#include "core/text.hpp"
#include "json/check.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace aigw {
namespace {

TEST(Clip, KeepsShortValidTextAsIs) {
  EXPECT_EQ(text::clip("gpt-4o-mini", 256), "gpt-4o-mini");
  EXPECT_EQ(text::clip("modèle-日本", 256), "modèle-日本");
}

TEST(Clip, CutsAtACharacterBoundary) {
  EXPECT_EQ(text::clip("abcdef", 3), "abc");
  EXPECT_EQ(text::clip("ab\xc3\xa9", 3), "ab");                          // é would not fit whole
  EXPECT_EQ(text::clip("\xe6\x97\xa5\xe6\x9c\xac", 5), "\xe6\x97\xa5");  // 日 of 日本
}

TEST(Clip, ReplacesInvalidUtf8AndControlCharacters) {
  EXPECT_EQ(text::clip("a\xff"
                       "b",
                       10),
            "a?b");
  EXPECT_EQ(text::clip("a\nb\x7f", 10), "a?b?");
  EXPECT_EQ(text::clip("\xc0\xaf", 10), "??");            // overlong '/'
  EXPECT_EQ(text::clip("\xed\xa0\x80", 10), "???");       // a surrogate
  EXPECT_EQ(text::clip("\xf4\x90\x80\x80", 10), "????");  // past U+10FFFF
  EXPECT_EQ(text::clip("\xe6\x97", 10), "??");            // cut short
}

TEST(Checked, SaturatesInsteadOfWrapping) {
  EXPECT_EQ(checked::add(checked::kMax, 1), checked::kMax);
  EXPECT_EQ(checked::add(5, 7), 12u);
  EXPECT_EQ(checked::sub(3, 5), 0u);
  EXPECT_EQ(checked::to_u64(-1.0), 0u);
  EXPECT_EQ(checked::to_u64(0.0 / 0.0), 0u);
  EXPECT_EQ(checked::to_u64(1e30), checked::kMax);
  EXPECT_EQ(checked::to_u64(18446744073709551616.0), checked::kMax);
  EXPECT_EQ(checked::to_u64(42.9), 42u);
}

TEST(JsonCheck, FindsADuplicateTopLevelKey) {
  EXPECT_EQ(json::check(R"({"model":"a","model":"b"})").duplicate_key, "model");
  EXPECT_EQ(json::check(R"({"model":"a","mo\u0064el":"b"})").duplicate_key, "model");
  EXPECT_EQ(json::check(R"({"a":{"x":1},"b":{"x":2}})").duplicate_key, "");
  EXPECT_EQ(json::check(R"({"a":{"x":1,"x":2}})").duplicate_key, "");  // nested: not read
  EXPECT_EQ(json::check(R"([{"a":1},{"a":2}])").duplicate_key, "");
  EXPECT_TRUE(json::check(R"({"a":1})").valid);
  EXPECT_FALSE(json::check(R"({"a":1,"a":)").valid);
}

TEST(JsonCheck, ManyKeysAreCheckedWithoutQuadraticCost) {
  std::string body = "{";
  for (int i = 0; i < 200000; ++i) body += "\"k" + std::to_string(i) + "\":0,";
  body += "\"k7\":1}";
  const auto checked = json::check(body);
  EXPECT_TRUE(checked.valid);
  EXPECT_EQ(checked.duplicate_key, "k7");
}

TEST(PathRules, MatchSegmentsWithWildcards) {
  std::string why;
  const auto rule = path_rules::parse("POST **/chat/completions", why);
  ASSERT_TRUE(rule) << why;
  EXPECT_TRUE(path_rules::matches(*rule, "POST", "/v1/chat/completions"));
  EXPECT_TRUE(path_rules::matches(*rule, "POST", "/openai/deployments/d/chat/completions"));
  EXPECT_TRUE(path_rules::matches(*rule, "POST", "/chat/completions"));
  EXPECT_FALSE(path_rules::matches(*rule, "GET", "/v1/chat/completions"));
  EXPECT_FALSE(path_rules::matches(*rule, "POST", "/v1/chat/completions/x"));
  const auto any = path_rules::parse("**/files/*", why);
  ASSERT_TRUE(any);
  EXPECT_TRUE(path_rules::matches(*any, "GET", "/v1/files/f-1"));
  EXPECT_FALSE(path_rules::matches(*any, "DELETE", "/v1/files/f-1"));  // GET or POST only
  EXPECT_FALSE(path_rules::parse("FETCH /x", why));
  EXPECT_EQ(why, "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD");
  EXPECT_FALSE(path_rules::parse("POST /x?y", why));
}

TEST(PathRules, TheDefaultsAllowInferenceAndNotAdministration) {
  const auto& d = path_rules::defaults();
  for (const char* path :
       {"/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/messages",
        "/v1beta/models/gemini-1.5-pro:streamGenerateContent", "/v1/audio/transcriptions",
        "/v1/images/generations", "/v1/moderations", "/model/anthropic.claude/converse",
        "/client/v4/accounts/a/ai/run/@cf/meta/llama-3-8b"}) {
    EXPECT_TRUE(path_rules::allowed(d, "POST", path)) << path;
  }
  EXPECT_TRUE(path_rules::allowed(d, "GET", "/v1/models"));
  for (const auto& [method, path] :
       std::vector<std::pair<const char*, const char*>>{{"DELETE", "/v1/files/file-abc"},
                                                        {"GET", "/v1/organization/admin_api_keys"},
                                                        {"POST", "/v1/fine_tuning/jobs"},
                                                        {"GET", "/v1/files"},
                                                        {"DELETE", "/v1/models/ft:gpt-4o:org"}}) {
    EXPECT_FALSE(path_rules::allowed(d, method, path)) << method << " " << path;
  }
}

// /metrics stays bounded in bytes whatever model names clients send, from any thread.
TEST(MetricsBound, ManyLongModelNamesKeepTheRenderSmall) {
  metrics::Registry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1500; ++i) {
        const std::string model =
            std::to_string(t) + "-" + std::to_string(i) + std::string(4096, 'x');
        metrics::RequestSample s;
        s.provider = "openai";
        s.model = model;
        s.status = 200;
        registry.record(s);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::string text = registry.render();
  EXPECT_LT(text.size(), 4u * 1024u * 1024u);
  EXPECT_EQ(text.find(std::string(129, 'x')), std::string::npos);
  EXPECT_NE(text.find("model=\"other\""), std::string::npos);
}

}  // namespace
}  // namespace aigw
