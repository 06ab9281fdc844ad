#include "json/check.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

namespace aigw::json {
namespace {

TEST(JsonCheck, AcceptsValidTexts) {
  const std::vector<std::string> valid_texts = {
      "{}",
      "[]",
      " \t\r\n{ } \n",
      "0",
      "-0",
      "-0.5e-7",
      "12.25E+3",
      "1e400",  // grammar-valid; nlohmann rejects it as out of range
      "true",
      "false",
      "null",
      R"("")",
      R"("a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00")",
      "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"",
      "\xEF\xBB\xBF{\"bom\":1}",
      R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"n":1,"x":[1,[2,{}]]})",
      R"([1, -2.5, "s", true, false, null, {"k": []}])",
  };
  for (const auto& text : valid_texts) EXPECT_TRUE(valid(text)) << text;
}

TEST(JsonCheck, RejectsInvalidTexts) {
  const std::vector<std::string> invalid_texts = {
      "",
      "   ",
      "{",
      "}",
      "[1,]",
      "[,1]",
      R"({"a":1,})",
      R"({"a" 1})",
      R"({a:1})",
      R"({"a":1 "b":2})",
      "[1 2]",
      "{}{}",
      "{} x",
      "01",
      "1.",
      ".5",
      "-",
      "1e",
      "1e+",
      "+1",
      "0x10",
      "NaN",
      "Infinity",
      "tru",
      "nul",
      "True",
      R"("abc)",
      "\"tab\there\"",
      R"("\x")",
      R"("\u12")",
      R"("\u12G4")",
      R"("\uDE00")",           // low surrogate alone
      R"("\uD83D")",           // high surrogate alone
      R"("\uD83D\u0041")",     // high surrogate followed by a non-surrogate
      "\"\xC0\xAF\"",          // overlong
      "\"\xE0\x80\xAF\"",      // overlong
      "\"\xED\xA0\x80\"",      // UTF-8 encoded surrogate
      "\"\xF4\x90\x80\x80\"",  // above U+10FFFF
      "\"\xF5\x80\x80\x80\"",
      "\"\x80\"",  // continuation byte first
      "\"\xC3\"",  // truncated
      "\"\xE2\x82\"",
      "[\"a\"]]",
      "{\"a\":[}",
      "[}",
      "{]",
      std::string("[1,\0 2]", 7),
      "// comment\n{}",
  };
  for (const auto& text : invalid_texts) EXPECT_FALSE(valid(text)) << text;
}

TEST(JsonCheck, DeepNestingNeedsNoRecursion) {
  const std::size_t depth = 200000;
  const std::string deep = std::string(depth, '[') + std::string(depth, ']');
  EXPECT_TRUE(valid(deep));
  EXPECT_FALSE(valid(std::string(depth, '[') + std::string(depth - 1, ']')));
  std::string objects;
  for (int i = 0; i < 1000; ++i) objects += R"({"k":[)";
  objects += "1";
  for (int i = 0; i < 1000; ++i) objects += "]}";
  EXPECT_TRUE(valid(objects));
  objects.back() = ']';
  EXPECT_FALSE(valid(objects));
}

// nlohmann's verdict, or nullopt where it refuses grammar-valid numbers (out of range).
std::optional<bool> reference(const std::string& text) {
  try {
    const auto parsed = nlohmann::json::parse(text);
    (void)parsed;
    return true;
  } catch (const nlohmann::json::parse_error&) {
    return false;
  } catch (const nlohmann::json::out_of_range&) {
    return std::nullopt;
  }
}

TEST(JsonCheck, AgreesWithNlohmannOnMutatedDocuments) {
  const std::vector<std::string> seeds = {
      R"({"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"caf\u00e9 \ud83d\ude00 ok"}],"temperature":0.7,"max_tokens":64,"stream":true,"stop":null,"logit_bias":{"50256":-100}})",
      R"([1,-0.25e+3,"x\\y\"z",true,false,null,{},[],{"a":{"b":[1,2,{"c":"\u00fc"}]}}])",
      "{\"text\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\",\"n\":-12.5E-2}",
      // Long runs of plain bytes take the eight-at-a-time path; edits land inside them.
      R"({"messages":[{"role":"user","content":"Summarize the following text in three short bullet points, then translate it to French: The quick brown fox jumps over the lazy dog while the cat watches from the windowsill."}]})",
  };
  const std::string alphabet = "{}[]\":,\\/ \t\n-+.eE0123456789abcdeftrunlsxu\xC3\xA9\x80\xBF\xF0";
  std::mt19937 rng(20261125);  // fixed: the same inputs on every run
  int compared = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = seeds[round % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          text.erase(at, 1);
      }
    }
    const auto expected = reference(text);
    if (!expected) continue;
    ++compared;
    ASSERT_EQ(valid(text), *expected) << "input: " << text;
  }
  EXPECT_GT(compared, 19000);
}

}  // namespace
}  // namespace aigw::json
