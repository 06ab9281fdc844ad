// The translators' JSON reading: the nesting-depth prepass that bounds nlohmann's recursive
// parser (kMaxDepth), counted outside strings only, escapes included.

#include "translate/json_io.hpp"

#include "json/canonical.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aigw::translate::detail {
namespace {

TEST(JsonIo, NestingIsCountedOutsideStringsOnly) {
  EXPECT_EQ(nesting_depth(R"({"a":[1,{"b":2}]})"), 3);
  EXPECT_EQ(nesting_depth(R"({"a":"[[[{{{"})"), 1);
  // An escaped quote does not end the string; an escaped backslash before a quote does.
  EXPECT_EQ(nesting_depth(R"({"a":"x\"[[[","b":[1]})"), 2);
  EXPECT_EQ(nesting_depth(R"({"a":"x\\","b":[[1]]})"), 3);
  EXPECT_EQ(nesting_depth(R"({"a":"x\\\"[[","b":[1]})"), 2);
  EXPECT_EQ(nesting_depth(R"("unterminated [[[)"), 0);
  EXPECT_EQ(nesting_depth(""), 0);
}

TEST(JsonIo, TooDeepIsRefusedBeforeTheParserRecurses) {
  const std::string deep = std::string(kMaxDepth + 1, '[') + std::string(kMaxDepth + 1, ']');
  EXPECT_EQ(nesting_depth(deep), kMaxDepth + 1);
  EXPECT_FALSE(parse(deep).has_value());
  const std::string fine = std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  EXPECT_EQ(nesting_depth(fine), kMaxDepth);
  EXPECT_TRUE(parse(fine).has_value());
  // Brackets inside a string do not count toward the limit.
  const std::string quoted = "[\"" + std::string(1000, '[') + "\"]";
  EXPECT_EQ(nesting_depth(quoted), 1);
  EXPECT_TRUE(parse(quoted).has_value());
}

}  // namespace
}  // namespace aigw::translate::detail

namespace aigw::translate::detail {
namespace {

TEST(JsonIo, StringsAreWrittenByteForByteAsDumpWritesThem) {
  // Every ASCII byte, then UTF-8 of two, three and four bytes.
  std::string text;
  for (int c = 1; c < 0x80; ++c) text += static_cast<char>(c);
  text += "é€😀 \"quoted\" back\\slash";
  for (const std::string& s : {text, std::string(), std::string("\0", 1), std::string("plain")}) {
    std::string written;
    json::append_string(written, s);
    EXPECT_EQ(written, dump(Json(s)));
  }
}

}  // namespace
}  // namespace aigw::translate::detail
