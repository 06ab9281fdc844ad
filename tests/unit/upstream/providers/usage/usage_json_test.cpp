// How the usage parsers and request inspection read JSON (simdjson's DOM, json_dom.hpp):
// duplicate keys, malformed events, nesting deeper than simdjson's default limit, bodies
// larger than what a thread's parser keeps, and the text length of floats in tool JSON.

#include "upstream/providers/usage/request_info.hpp"
#include "upstream/providers/usage/usage_parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aigw::usage {
namespace {

UsageResult parse_all(UsageFormat format, bool event_stream, std::string_view body) {
  auto parser = make_usage_parser(format, event_stream);
  parser->feed(body);
  return parser->result();
}

TEST(UsageJson, OfDuplicateKeysTheLastCounts) {
  const UsageResult r =
      parse_all(UsageFormat::kOpenAiChat, false,
                R"({"model":"a","model":"b","usage":{"prompt_tokens":1,"completion_tokens":2,)"
                R"("prompt_tokens":5},"choices":[{"message":{"content":"xy","content":"abc"}}]})");
  EXPECT_EQ(r.model, "b");
  EXPECT_EQ(r.usage.input, 5u);
  EXPECT_EQ(r.usage.output, 2u);
  EXPECT_EQ(r.output_chars, 3u);
  EXPECT_TRUE(r.saw_end);
}

TEST(UsageJson, MalformedEventsAreSkipped) {
  const UsageResult r = parse_all(
      UsageFormat::kOpenAiChat, true,
      "data: {\"choices\":[{\"delta\":{\"content\":\"ab\"}}]}\n\n"
      "data: {bad\n\n"
      "data: {\"n\":123456789012345678901234567890,\"choices\":[{\"delta\":{\"content\":\"zz\"}}]}"
      "\n\n"
      "data: \"just a string\"\n\n"
      "data: \n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"cd\"}}],"
      "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}\n\n"
      "data: [DONE]\n\n");
  // A number beyond 64 bits is read as a double, not as an error.
  EXPECT_EQ(r.output_chars, 6u);
  EXPECT_EQ(r.usage.input, 3u);
  EXPECT_EQ(r.usage.output, 4u);
  EXPECT_TRUE(r.saw_end);
}

TEST(UsageJson, NestingDeeperThanSimdjsonsDefaultIsRead) {
  constexpr std::size_t kDepth = 5000;
  const std::string body =
      R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":)" +
      std::string(kDepth, '[') + std::string(kDepth, ']') +
      R"(}}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1,)"
      R"("candidatesTokenCount":2},"modelVersion":"gemini-x"})";
  const UsageResult r = parse_all(UsageFormat::kGemini, false, body);
  EXPECT_EQ(r.model, "gemini-x");
  EXPECT_EQ(r.usage.input, 1u);
  EXPECT_EQ(r.usage.output, 2u);
  EXPECT_EQ(r.output_chars, 6 + 2 * kDepth);  // {"a":...} and the arrays' brackets
  EXPECT_TRUE(r.saw_end);
}

TEST(UsageJson, LargeBodiesAndSmallOnesAfterThem) {
  const std::string text(600 * 1024, 'x');
  const UsageResult big =
      parse_all(UsageFormat::kOpenAiChat, false,
                R"({"model":"m","choices":[{"message":{"content":")" + text +
                    R"("}}],"usage":{"prompt_tokens":9,"completion_tokens":8}})");
  EXPECT_EQ(big.output_chars, text.size());
  EXPECT_EQ(big.usage.input, 9u);
  const UsageResult small =
      parse_all(UsageFormat::kOpenAiChat, false,
                R"({"model":"m2","choices":[{"message":{"content":"héllo"}}]})");
  EXPECT_EQ(small.model, "m2");
  EXPECT_EQ(small.output_chars, 5u);

  const RequestInfo info =
      inspect_request(UsageFormat::kOpenAiChat,
                      R"({"model":"m","messages":[{"role":"user","content":")" + text + R"("}]})");
  EXPECT_EQ(info.model, "m");
  EXPECT_EQ(info.prompt_chars, text.size());
}

TEST(UsageJson, ParsingAgainWhileAResultIsReadMidStream) {
  // result() parses the pending event while the parser state holds earlier ones.
  auto parser = make_usage_parser(UsageFormat::kAnthropicMessages, true);
  parser->feed(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\","
      "\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi!\"}}");
  const UsageResult mid = parser->result();
  EXPECT_EQ(mid.model, "c");
  EXPECT_EQ(mid.usage.input, 10u);
  EXPECT_EQ(mid.output_chars, 3u);
  EXPECT_FALSE(mid.saw_end);
  parser->feed("\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  EXPECT_TRUE(parser->result().saw_end);
  EXPECT_EQ(parser->result().output_chars, 3u);
}

TEST(InspectRequestJson, FloatsInToolJsonCountTheirText) {
  // [{"x":0.5,"y":1e5,"z":-2.50E+3}] as written: [ ] 2, { } 2, "x": 4, 0.5 3, ,"y": 5,
  // 1e5 3, ,"z": 5, -2.50E+3 8 = 32. The numbers before them, and "a1.5" (a string), are
  // passed over on the way to their text.
  const RequestInfo info = inspect_request(
      UsageFormat::kOpenAiChat, R"({"temperature":0.7,"model":"a1.5","n":2,)"
                                R"("tools":[{"x":0.5,"y":1e5,"z":-2.50E+3}],"messages":[]})");
  EXPECT_EQ(info.model, "a1.5");
  EXPECT_EQ(info.prompt_chars, 32u);
}

TEST(UsageJson, NumbersOutOfRangeAreDoubles) {
  // Counts that no 64-bit integer or double holds are not counts; the rest is read.
  const UsageResult r = parse_all(
      UsageFormat::kOpenAiChat, false,
      R"({"model":"m","seed":-99999999999999999999999,"x":[1e-400,-1e-999],)"
      R"("usage":{"prompt_tokens":123456789012345678901234567890,"completion_tokens":7},)"
      R"("choices":[{"message":{"content":"ok","tool_calls":[{"function":{"arguments":"1e400"}}]}}]})");
  EXPECT_EQ(r.model, "m");
  EXPECT_FALSE(r.usage.input);
  EXPECT_EQ(r.usage.output, 7u);
  EXPECT_EQ(r.output_chars, 7u);
  // Invalid numbers, and floats beyond a double's range, stay errors.
  for (const char* body :
       {R"({"usage":{"completion_tokens":01}})", R"({"usage":{"completion_tokens":1,"x":1e400}})",
        R"({"usage":{"completion_tokens":1,"x":-1e999}})"}) {
    EXPECT_FALSE(parse_all(UsageFormat::kOpenAiChat, false, body).usage.output) << body;
  }
  // In tool JSON a float counts its text as written.
  const RequestInfo info = inspect_request(
      UsageFormat::kOpenAiChat, R"({"model":"m","tools":[1e-400,123456789012345678901234567890]})");
  EXPECT_EQ(info.model, "m");
  EXPECT_EQ(info.prompt_chars, 2u + 6u + 1u + 30u);
}

TEST(InspectRequestJson, DuplicateAndEscapedKeys) {
  const RequestInfo info = inspect_request(
      UsageFormat::kOpenAiChat, R"({"model":"a","mod\u0065l":"b","max_tokens":5,"max_tokens":6,)"
                                R"("messages":[{"role":"user","content":"\u00e9t\u00e9"}]})");
  EXPECT_EQ(info.model, "b");
  EXPECT_EQ(info.max_output_tokens, 6u);
  EXPECT_EQ(info.prompt_chars, 3u);
}

}  // namespace
}  // namespace aigw::usage
