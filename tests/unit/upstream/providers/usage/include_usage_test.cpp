// stream_options.include_usage: added to requests byte-preservingly, and removed from the
// response so the client gets exactly the stream it would have got without the gateway.

#include "upstream/providers/usage/include_usage.hpp"

#include "upstream/providers/usage/usage_parser.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace aigw::usage {
namespace {

std::string fixture(std::string_view name) {
  std::ifstream in(std::string(AIGW_SOURCE_DIR) + "/tests/fixtures/usage/" + std::string(name),
                   std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Added {
  bool changed;
  std::string body;
};

Added add(std::string body) {
  const bool changed = add_include_usage(body);
  return {changed, body};
}

// --- add_include_usage ---------------------------------------------------------------------

TEST(AddIncludeUsage, AppendsStreamOptionsAfterTheLastMember) {
  const Added a = add(R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user",)"
                      R"("content":"hi"}]})");
  EXPECT_TRUE(a.changed);
  EXPECT_EQ(a.body,
            R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}],)"
            R"("stream_options":{"include_usage":true}})");
}

TEST(AddIncludeUsage, KeepsEveryOtherByte) {
  const std::string body =
      "{\n  \"temperature\": 0.70,\n  \"stream\" : true,\n  \"messages\": [{\"role\": \"user\", "
      "\"content\": \"h\\u00e9 \\\"q\\\"\"}],\n  \"n\": 1e0\n}\n";
  const Added a = add(body);
  EXPECT_TRUE(a.changed);
  EXPECT_EQ(a.body,
            "{\n  \"temperature\": 0.70,\n  \"stream\" : true,\n  \"messages\": [{\"role\": "
            "\"user\", \"content\": \"h\\u00e9 \\\"q\\\"\"}],\n  \"n\": 1e0,\"stream_options\":"
            "{\"include_usage\":true}\n}\n");
  const auto parsed = nlohmann::json::parse(a.body);
  EXPECT_EQ(parsed["stream_options"]["include_usage"], true);
  EXPECT_EQ(parsed["messages"][0]["content"], "h\xC3\xA9 \"q\"");
}

TEST(AddIncludeUsage, CompletesAnExistingStreamOptions) {
  EXPECT_EQ(add(R"({"stream":true,"stream_options":{}})").body,
            R"({"stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_EQ(add(R"({"stream":true,"stream_options":{"include_obfuscation":false},"n":1})").body,
            R"({"stream":true,"stream_options":{"include_obfuscation":false,)"
            R"("include_usage":true},"n":1})");
  EXPECT_EQ(add(R"({"stream":true,"stream_options":{"include_usage": false }})").body,
            R"({"stream":true,"stream_options":{"include_usage": true }})");
  EXPECT_EQ(add(R"({"stream":true,"stream_options":{"include_usage":null}})").body,
            R"({"stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_EQ(add(R"({"stream":true,"stream_options":null})").body,
            R"({"stream":true,"stream_options":{"include_usage":true}})");
}

TEST(AddIncludeUsage, TheLastOfDuplicateMembersCounts) {
  EXPECT_TRUE(add(R"({"stream":false,"stream":true})").changed);
  EXPECT_FALSE(add(R"({"stream":true,"stream":false})").changed);
  EXPECT_FALSE(add(R"({"stream":true,"stream_options":{"include_usage":false,)"
                   R"("include_usage":true}})")
                   .changed);
}

TEST(AddIncludeUsage, LeavesEverythingElseAlone) {
  for (const std::string& body : {
           std::string(R"({"model":"x","stream":false})"),
           std::string(R"({"model":"x"})"),
           std::string(R"({"stream":"true"})"),
           std::string(R"({"metadata":{"stream":true}})"),
           std::string(R"({"stream":true,"stream_options":{"include_usage":true}})"),
           std::string(R"({"stream":true,"stream_options":"yes"})"),
           std::string(R"({"stream":true,"stream_options":[]})"),
           std::string(R"([{"stream":true}])"),
           std::string(R"({"stream":true,)"),
           std::string("stream=true"),
           std::string(""),
       }) {
    const Added a = add(body);
    EXPECT_FALSE(a.changed) << body;
    EXPECT_EQ(a.body, body);
  }
}

TEST(AddIncludeUsage, AfterAByteOrderMark) {
  EXPECT_EQ(add("\xEF\xBB\xBF {\"stream\":true}").body,
            "\xEF\xBB\xBF {\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
}

// --- UsageChunkStripper ----------------------------------------------------------------------

// Everything the client would receive for `parts`.
std::string strip(const std::vector<std::string_view>& parts) {
  UsageChunkStripper stripper;
  std::string out;
  std::string scratch;
  for (const auto part : parts) out.append(stripper.filter(part, scratch));
  out.append(stripper.finish(scratch));
  return out;
}

std::string strip(std::string_view whole) { return strip(std::vector<std::string_view>{whole}); }

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

TEST(UsageChunkStripper, GivesTheStreamRecordedWithoutIncludeUsageAtEverySplit) {
  const std::string with = fixture("openai_chat_stream_include_usage.sse");
  const std::string without = fixture("openai_chat_stream_plain.sse");
  ASSERT_NE(with, without);
  const std::string_view view = with;
  for (std::size_t at = 0; at <= with.size(); ++at) {
    ASSERT_EQ(strip({view.substr(0, at), view.substr(at)}), without) << "split at " << at;
  }
  UsageChunkStripper stripper;
  std::string out;
  std::string scratch;
  for (const char c : with) out.append(stripper.filter(std::string_view(&c, 1), scratch));
  out.append(stripper.finish(scratch));
  EXPECT_EQ(out, without);
}

TEST(UsageChunkStripper, CrLfStreamsToo) {
  const std::string with =
      replace_all(fixture("openai_chat_stream_include_usage.sse"), "\n", "\r\n");
  const std::string without = replace_all(fixture("openai_chat_stream_plain.sse"), "\n", "\r\n");
  const std::string_view view = with;
  for (std::size_t at = 0; at <= with.size(); ++at) {
    ASSERT_EQ(strip({view.substr(0, at), view.substr(at)}), without) << "split at " << at;
  }
}

TEST(UsageChunkStripper, TheParserStillSeesTheUsageUpstream) {
  // The metering stage parses the upstream bytes; only the client's copy is stripped.
  const std::string with = fixture("openai_chat_stream_include_usage.sse");
  auto parser = make_usage_parser(UsageFormat::kOpenAiChat, true);
  UsageChunkStripper stripper;
  std::string scratch;
  std::string client;
  parser->feed(with);
  client.append(stripper.filter(with, scratch));
  client.append(stripper.finish(scratch));
  EXPECT_EQ(parser->result().usage.input, 1152u);
  EXPECT_EQ(client, fixture("openai_chat_stream_plain.sse"));
}

TEST(UsageChunkStripper, UsageNextToChoicesIsNotStripped) {
  // Providers that always report usage (on the last chunk with choices, or in x_groq) send
  // the client exactly what they sent.
  for (const char* name :
       {"mistral_chat_stream_usage_on_last_chunk.sse", "groq_chat_stream_x_groq.sse",
        "anthropic_stream_cache.sse", "workers_ai_stream.sse"}) {
    const std::string body = fixture(name);
    const std::string_view view = body;
    for (std::size_t at = 0; at <= body.size(); at += 7) {
      ASSERT_EQ(strip({view.substr(0, at), view.substr(at)}), body) << name << " at " << at;
    }
  }
}

TEST(UsageChunkStripper, DeepSeekWithIncludeUsageLosesOnlyWhatItAdded) {
  // DeepSeek documents include_usage as OpenAI does: "usage":null in every chunk, then a
  // usage event with no choices. Stripped, the text and the end are all still there.
  const std::string body = fixture("deepseek_chat_stream_reasoner.sse");
  const std::string stripped = strip(body);
  EXPECT_EQ(stripped.find("\"usage\""), std::string::npos);
  EXPECT_EQ(stripped.find("\"choices\":[]"), std::string::npos);
  auto parser = make_usage_parser(UsageFormat::kOpenAiChat, true);
  parser->feed(stripped);
  const UsageResult r = parser->result();
  EXPECT_TRUE(r.usage.empty());
  EXPECT_EQ(r.output_chars, 38u);
  EXPECT_TRUE(r.saw_end);
}

TEST(UsageChunkStripper, NothingToChangeIsNotCopied) {
  const std::string body = fixture("openai_chat_stream_plain.sse");
  UsageChunkStripper stripper;
  std::string scratch;
  const std::string_view out = stripper.filter(body, scratch);
  EXPECT_EQ(out.data(), body.data());
  EXPECT_EQ(out.size(), body.size());
  EXPECT_TRUE(scratch.empty());
}

TEST(UsageChunkStripper, HoldsBackOnlyTheIncompleteEvent) {
  UsageChunkStripper stripper;
  std::string scratch;
  const std::string chunk = "data: {\"a\":1}\n\ndata: {\"b\":";
  const std::string_view first = stripper.filter(chunk, scratch);
  EXPECT_EQ(first, "data: {\"a\":1}\n\n");
  EXPECT_EQ(first.data(), chunk.data());  // a prefix of the input, not a copy
  EXPECT_EQ(stripper.filter("2}\n", scratch), "");
  EXPECT_EQ(stripper.filter("\n: ping\n\n", scratch), "data: {\"b\":2}\n\n: ping\n\n");
  EXPECT_EQ(stripper.finish(scratch), "");
}

TEST(UsageChunkStripper, RemovesUsageNullWhereverItIs) {
  EXPECT_EQ(strip("data: {\"usage\":null,\"id\":\"x\"}\n\n"), "data: {\"id\":\"x\"}\n\n");
  EXPECT_EQ(strip("data: {\"id\":\"x\", \"usage\" : null ,\"n\":1}\n\n"),
            "data: {\"id\":\"x\" ,\"n\":1}\n\n");
  EXPECT_EQ(strip("data: {\"usage\":null}\n\n"), "data: {}\n\n");
  // Only at the top level, and only a null.
  EXPECT_EQ(strip("data: {\"x\":{\"usage\":null}}\n\n"), "data: {\"x\":{\"usage\":null}}\n\n");
  EXPECT_EQ(strip("data: {\"usage\":{}}\n\n"), "data: {\"usage\":{}}\n\n");
}

TEST(UsageChunkStripper, OnlyTheUsageOnlyEventIsDropped) {
  EXPECT_EQ(strip("data: {\"choices\":[ ],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]\n\n"),
            "data: [DONE]\n\n");
  // Choices not empty, no usage object, two data lines, an event name: all pass.
  for (const char* event : {
           "data: {\"choices\":[{}],\"usage\":{\"prompt_tokens\":1}}\n\n",
           "data: {\"choices\":[],\"usage\":5}\n\n",
           "data: {\"choices\":[],\"prompt_filter_results\":[]}\n\n",
           "data: {\"choices\":[],\ndata: \"usage\":{}}\n\n",
           "event: usage\ndata: {\"choices\":[],\"usage\":{}}\n\n",
           "data: {\"choices\":[],\"usage\":{}} trailing\n\n",
       }) {
    EXPECT_EQ(strip(event), event);
  }
}

TEST(UsageChunkStripper, TheEndOfTheStreamWithoutABlankLine) {
  EXPECT_EQ(strip("data: {\"a\":1}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}"),
            "data: {\"a\":1}\n\n");
  EXPECT_EQ(strip("data: {\"a\":1,\"usage\":null}\n"), "data: {\"a\":1}\n");
  EXPECT_EQ(strip("data: [DONE]"), "data: [DONE]");
}

TEST(UsageChunkStripper, AnEventOverTheBoundPassesUnchanged) {
  std::string big = "data: {\"choices\":[],\"usage\":{},\"pad\":\"";
  big.append(UsageChunkStripper::kMaxHeldEventBytes, 'x');
  big.append("\"}\n\ndata: {\"choices\":[],\"usage\":{}}\n\n");
  const std::string_view view = big;
  std::string expected(view.substr(0, view.find("\n\n") + 2));
  const std::size_t tail = view.size() - 100;
  EXPECT_EQ(strip({view.substr(0, 1000), view.substr(1000, tail - 1000), view.substr(tail)}),
            expected);
  EXPECT_EQ(strip(view), expected);  // the same when it arrives in one chunk
}

}  // namespace
}  // namespace aigw::usage
