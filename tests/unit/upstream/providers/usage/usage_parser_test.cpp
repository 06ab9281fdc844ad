// Usage parsers against recorded bodies and streams in each provider's wire format
// (tests/fixtures/usage): exact figures per fixture, the same result however the bytes are
// split, and what an aborted stream still tells.

#include "upstream/providers/usage/usage_parser.hpp"

#include "upstream/providers/usage/sse_splitter.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace aigw::usage {
namespace {

using U = std::optional<std::uint64_t>;

std::string fixture(std::string_view name) {
  const std::string path =
      std::string(AIGW_SOURCE_DIR) + "/tests/fixtures/usage/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string show(const U& v) { return v ? std::to_string(*v) : "-"; }

// One line with every field, so a mismatch shows all of them.
std::string describe(const UsageResult& r) {
  return "in=" + show(r.usage.input) + " out=" + show(r.usage.output) +
         " cached=" + show(r.usage.cached_input) + " write=" + show(r.usage.cache_write) +
         " reasoning=" + show(r.usage.reasoning) + " model=" + r.model +
         " chars=" + std::to_string(r.output_chars) + " end=" + (r.saw_end ? "yes" : "no");
}

UsageResult run(UsageFormat format, bool event_stream, const std::vector<std::string_view>& parts) {
  auto parser = make_usage_parser(format, event_stream);
  EXPECT_NE(parser, nullptr);
  if (!parser) return {};
  for (const auto part : parts) parser->feed(part);
  return parser->result();
}

UsageResult run(UsageFormat format, bool event_stream, std::string_view body) {
  return run(format, event_stream, std::vector<std::string_view>{body});
}

struct Case {
  const char* file;
  UsageFormat format;
  bool event_stream;
  U input, output, cached, write, reasoning;
  const char* model;
  std::uint64_t chars;
};

// Expected figures: the usage numbers are the ones in each fixture, normalised per
// aigw/usage.hpp; chars count the code points of the generated text in the fixture.
const Case kCases[] = {
    {"openai_chat_stream_include_usage.sse",
     UsageFormat::kOpenAiChat,
     true,
     1152,
     11,
     1024,
     {},
     0,
     "gpt-4o-mini-2024-07-18",
     34},
    {"openai_chat_stream_plain.sse",
     UsageFormat::kOpenAiChat,
     true,
     {},
     {},
     {},
     {},
     {},
     "gpt-4o-mini-2024-07-18",
     34},
    {"openai_chat_stream_tool_calls.sse",
     UsageFormat::kOpenAiChat,
     true,
     84,
     24,
     0,
     {},
     0,
     "gpt-4.1-2025-04-14",
     45},
    {"openai_chat_stream_reasoning.sse",
     UsageFormat::kOpenAiChat,
     true,
     31,
     212,
     0,
     {},
     192,
     "o4-mini-2025-04-16",
     17},
    {"deepseek_chat_stream_reasoner.sse",
     UsageFormat::kOpenAiChat,
     true,
     81,
     96,
     64,
     {},
     74,
     "deepseek-reasoner",
     38},
    {"groq_chat_stream_x_groq.sse",
     UsageFormat::kOpenAiChat,
     true,
     48,
     9,
     {},
     {},
     {},
     "llama-3.3-70b-versatile",
     31},
    {"mistral_chat_stream_usage_on_last_chunk.sse",
     UsageFormat::kOpenAiChat,
     true,
     12,
     9,
     {},
     {},
     {},
     "mistral-small-latest",
     25},
    {"openai_completions_stream.sse",
     UsageFormat::kOpenAiCompletions,
     true,
     7,
     6,
     {},
     {},
     {},
     "gpt-3.5-turbo-instruct:20230824-v2",
     21},
    {"openai_chat_buffered.json",
     UsageFormat::kOpenAiChat,
     false,
     1117,
     23,
     1024,
     {},
     0,
     "gpt-4o-2024-08-06",
     94},
    // xAI: total 341 = 16 + 5 + 320, so reasoning is apart from completion_tokens.
    {"grok_chat_buffered_reasoning.json",
     UsageFormat::kOpenAiChat,
     false,
     16,
     325,
     3,
     {},
     320,
     "grok-3-mini",
     67},
    {"openai_embeddings.json",
     UsageFormat::kOpenAiEmbeddings,
     false,
     12,
     {},
     {},
     {},
     {},
     "text-embedding-3-small",
     0},
    {"openai_responses_buffered.json",
     UsageFormat::kOpenAiResponses,
     false,
     42,
     307,
     0,
     {},
     256,
     "o4-mini-2025-04-16",
     77},
    {"openai_responses_stream.sse",
     UsageFormat::kOpenAiResponses,
     true,
     36,
     9,
     0,
     {},
     0,
     "gpt-4.1-mini-2025-04-14",
     21},
    // Anthropic: input = input_tokens + cache reads + cache writes.
    {"anthropic_messages_buffered.json",
     UsageFormat::kAnthropicMessages,
     false,
     1872,
     96,
     0,
     1850,
     {},
     "claude-sonnet-4-5-20250929",
     71},
    {"anthropic_stream_cache.sse",
     UsageFormat::kAnthropicMessages,
     true,
     2224,
     41,
     2210,
     0,
     {},
     "claude-3-5-haiku-20241022",
     124},
    {"anthropic_stream_thinking_tool_use.sse",
     UsageFormat::kAnthropicMessages,
     true,
     512,
     187,
     0,
     0,
     {},
     "claude-sonnet-4-20250514",
     168},
    // Gemini: output = candidates + thoughts.
    {"gemini_buffered.json",
     UsageFormat::kGemini,
     false,
     11,
     530,
     {},
     {},
     503,
     "gemini-2.5-flash",
     64},
    {"gemini_stream_sse.sse",
     UsageFormat::kGemini,
     true,
     2061,
     24,
     2048,
     {},
     {},
     "gemini-2.0-flash",
     81},
    // 25 characters are the functionCall args as JSON: {"location":"Boston, MA"}.
    {"gemini_stream_array.json",
     UsageFormat::kGemini,
     false,
     58,
     153,
     {},
     {},
     132,
     "gemini-2.5-pro",
     98},
    // Cohere: billed_units, not tokens.
    {"cohere_chat_buffered.json", UsageFormat::kCohere, false, 9, 17, {}, {}, {}, "", 81},
    {"cohere_chat_stream.sse", UsageFormat::kCohere, true, 12, 6, {}, {}, {}, "", 35},
    {"workers_ai_buffered.json", UsageFormat::kWorkersAi, false, 27, 15, {}, {}, {}, "", 62},
    {"workers_ai_stream.sse", UsageFormat::kWorkersAi, true, 24, 6, {}, {}, {}, "", 26},
};

// gtest prints a parameter in test listings and failure messages: the fixture's file, rather
// than a dump of the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.file; }

class Fixture : public testing::TestWithParam<Case> {};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string name = info.param.file;
  name = name.substr(0, name.find('.'));
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Recorded, Fixture, testing::ValuesIn(kCases), case_name);

TEST_P(Fixture, WholeBodyGivesTheReportedUsage) {
  const Case& c = GetParam();
  const std::string body = fixture(c.file);
  ASSERT_FALSE(body.empty());
  const UsageResult r = run(c.format, c.event_stream, body);
  EXPECT_EQ(r.usage.input, c.input);
  EXPECT_EQ(r.usage.output, c.output);
  EXPECT_EQ(r.usage.cached_input, c.cached);
  EXPECT_EQ(r.usage.cache_write, c.write);
  EXPECT_EQ(r.usage.reasoning, c.reasoning);
  EXPECT_EQ(r.model, c.model);
  EXPECT_EQ(r.output_chars, c.chars);
  EXPECT_TRUE(r.saw_end);
}

TEST_P(Fixture, EverySplitInTwoGivesTheSameResult) {
  const Case& c = GetParam();
  const std::string body = fixture(c.file);
  const std::string whole = describe(run(c.format, c.event_stream, body));
  const std::string_view view = body;
  for (std::size_t at = 0; at <= body.size(); ++at) {
    ASSERT_EQ(describe(run(c.format, c.event_stream, {view.substr(0, at), view.substr(at)})), whole)
        << "split at " << at;
  }
}

TEST_P(Fixture, OneByteAtATimeGivesTheSameResult) {
  const Case& c = GetParam();
  const std::string body = fixture(c.file);
  auto parser = make_usage_parser(c.format, c.event_stream);
  for (const char ch : body) parser->feed(std::string_view(&ch, 1));
  EXPECT_EQ(describe(parser->result()), describe(run(c.format, c.event_stream, body)));
}

TEST_P(Fixture, EveryPrefixReportsWhatItHasSeenSoFar) {
  // An abort can come after any byte: the generated text seen never shrinks as more arrives,
  // the end marker once seen stays seen, and nothing prior to the whole body claims more
  // text than the whole.
  const Case& c = GetParam();
  const std::string body = fixture(c.file);
  const UsageResult whole = run(c.format, c.event_stream, body);
  auto parser = make_usage_parser(c.format, c.event_stream);
  std::uint64_t chars = 0;
  bool ended = false;
  for (std::size_t at = 0; at < body.size(); ++at) {
    parser->feed(std::string_view(body).substr(at, 1));
    const UsageResult r = parser->result();
    ASSERT_GE(r.output_chars, chars) << "after " << at + 1 << " bytes";
    ASSERT_LE(r.output_chars, whole.output_chars);
    ASSERT_TRUE(r.saw_end || !ended) << "after " << at + 1 << " bytes";
    chars = r.output_chars;
    ended = r.saw_end;
  }
}

// --- aborted streams ------------------------------------------------------------------------

// The fixture cut just before the event that contains `marker`.
std::string cut_before_event(const std::string& body, std::string_view marker) {
  const auto at = body.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  auto start = body.rfind("\n\n", at);
  if (start == std::string::npos) start = body.rfind("\r\n\r\n", at);
  return body.substr(0, start == std::string::npos ? 0 : start + 2);
}

TEST(AbortedStream, OpenAiBeforeTheUsageChunkHasTextButNoUsage) {
  const std::string body =
      cut_before_event(fixture("openai_chat_stream_include_usage.sse"), "\"choices\":[]");
  const UsageResult r = run(UsageFormat::kOpenAiChat, true, body);
  EXPECT_TRUE(r.usage.empty());
  EXPECT_EQ(r.output_chars, 34u);
  EXPECT_EQ(r.model, "gpt-4o-mini-2024-07-18");
  EXPECT_FALSE(r.saw_end);
}

TEST(AbortedStream, OpenAiMidwayCountsTheTextSoFar) {
  const std::string body = fixture("openai_chat_stream_include_usage.sse");
  const UsageResult r = run(UsageFormat::kOpenAiChat, true, cut_before_event(body, "\" help\""));
  EXPECT_EQ(r.output_chars, 16u);  // "Hello! How can I"
  EXPECT_FALSE(r.saw_end);
  EXPECT_TRUE(r.usage.empty());
}

TEST(AbortedStream, AnthropicBeforeMessageDeltaKeepsMessageStartUsage) {
  const std::string body =
      cut_before_event(fixture("anthropic_stream_cache.sse"), "event: message_delta");
  const UsageResult r = run(UsageFormat::kAnthropicMessages, true, body);
  EXPECT_EQ(r.usage.input, 2224u);
  EXPECT_EQ(r.usage.cached_input, 2210u);
  EXPECT_EQ(r.usage.cache_write, 0u);
  EXPECT_EQ(r.usage.output, 1u);  // message_start's placeholder, all the provider said
  EXPECT_EQ(r.output_chars, 124u);
  EXPECT_FALSE(r.saw_end);
}

TEST(AbortedStream, AnthropicMidToolInput) {
  const std::string body = fixture("anthropic_stream_thinking_tool_use.sse");
  const UsageResult r =
      run(UsageFormat::kAnthropicMessages, true, cut_before_event(body, "elsius"));
  EXPECT_EQ(r.usage.input, 512u);
  EXPECT_EQ(r.usage.output, 8u);
  EXPECT_EQ(r.model, "claude-sonnet-4-20250514");
  // Thinking (86) and text (34), and the tool input so far: {"location": "Paris, France", "unit":
  // "c
  EXPECT_EQ(r.output_chars, 86u + 34u + 40u);
  EXPECT_FALSE(r.saw_end);
}

TEST(AbortedStream, AnthropicWithoutTheFinalBlankLineStillEnds) {
  std::string body = fixture("anthropic_stream_cache.sse");
  while (body.back() == '\n') body.pop_back();
  const UsageResult r = run(UsageFormat::kAnthropicMessages, true, body);
  EXPECT_TRUE(r.saw_end);
  EXPECT_EQ(r.usage.output, 41u);
}

TEST(AbortedStream, GeminiSseKeepsTheLastUsageMetadata) {
  const std::string body = cut_before_event(fixture("gemini_stream_sse.sse"), "a worm digs");
  const UsageResult r = run(UsageFormat::kGemini, true, body);
  EXPECT_EQ(r.usage.input, 2061u);
  EXPECT_EQ(r.usage.cached_input, 2048u);
  EXPECT_FALSE(r.usage.output);
  EXPECT_EQ(r.output_chars, 42u);  // "Sure! Here is a haiku:\n\nAutumn moonlight—\n"
  EXPECT_FALSE(r.saw_end);
}

TEST(AbortedStream, GeminiArrayUsesTheElementsThatArrivedWhole) {
  const std::string body = fixture("gemini_stream_array.json");
  const auto last = body.find("functionCall");
  const UsageResult r = run(UsageFormat::kGemini, false, std::string_view(body).substr(0, last));
  EXPECT_EQ(r.usage.input, 58u);
  EXPECT_FALSE(r.usage.output);
  EXPECT_EQ(r.model, "gemini-2.5-pro");
  EXPECT_EQ(r.output_chars, 73u);
  EXPECT_FALSE(r.saw_end);
}

TEST(AbortedStream, ResponsesBeforeCompletedHasTextAndModel) {
  const std::string body =
      cut_before_event(fixture("openai_responses_stream.sse"), "event: response.completed");
  const UsageResult r = run(UsageFormat::kOpenAiResponses, true, body);
  EXPECT_TRUE(r.usage.empty());
  EXPECT_EQ(r.output_chars, 21u);  // deltas only, not the .done events repeating them
  EXPECT_EQ(r.model, "gpt-4.1-mini-2025-04-14");
  EXPECT_FALSE(r.saw_end);
}

TEST(AbortedStream, TruncatedBufferedBodyReportsNothing) {
  const std::string body = fixture("openai_chat_buffered.json");
  const UsageResult r =
      run(UsageFormat::kOpenAiChat, false, std::string_view(body).substr(0, body.size() / 2));
  EXPECT_TRUE(r.usage.empty());
  EXPECT_EQ(r.output_chars, 0u);
  EXPECT_FALSE(r.saw_end);
}

// --- framing ----------------------------------------------------------------------------------

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

TEST(Framing, CrLfAndCrLineEndsReadLikeLf) {
  const std::string lf = fixture("openai_chat_stream_include_usage.sse");
  const std::string expected = describe(run(UsageFormat::kOpenAiChat, true, lf));
  for (const std::string_view eol : {"\r\n", "\r"}) {
    const std::string body = replace_all(lf, "\n", eol);
    const std::string_view view = body;
    for (std::size_t at = 0; at <= body.size(); ++at) {
      ASSERT_EQ(
          describe(run(UsageFormat::kOpenAiChat, true, {view.substr(0, at), view.substr(at)})),
          expected)
          << "split at " << at;
    }
  }
}

TEST(Framing, AStreamWithoutTheEventStreamContentTypeIsStillRead) {
  const std::string body = fixture("anthropic_stream_cache.sse");
  EXPECT_EQ(describe(run(UsageFormat::kAnthropicMessages, false, "\n" + body)),
            describe(run(UsageFormat::kAnthropicMessages, true, body)));
}

TEST(Framing, CohereV1NewlineDelimitedStream) {
  const std::string body =
      "{\"is_finished\":false,\"event_type\":\"stream-start\",\"generation_id\":\"8d7c\"}\n"
      "{\"is_finished\":false,\"event_type\":\"text-generation\",\"text\":\"Hi\"}\n"
      "{\"is_finished\":false,\"event_type\":\"text-generation\",\"text\":\" there\"}\n"
      "{\"is_finished\":true,\"event_type\":\"stream-end\",\"response\":{\"text\":\"Hi there\","
      "\"meta\":{\"billed_units\":{\"input_tokens\":5,\"output_tokens\":2},"
      "\"tokens\":{\"input_tokens\":70,\"output_tokens\":2}}},\"finish_reason\":\"COMPLETE\"}\n";
  const UsageResult r = run(UsageFormat::kCohere, false, body);
  EXPECT_EQ(describe(r), "in=5 out=2 cached=- write=- reasoning=- model= chars=8 end=yes");
}

TEST(Framing, AnErrorBodyIsCompleteButHasNoUsage) {
  const UsageResult r = run(UsageFormat::kOpenAiChat, false,
                            R"({"error":{"message":"Rate limit reached","type":"requests",)"
                            R"("param":null,"code":"rate_limit_exceeded"}})");
  EXPECT_TRUE(r.usage.empty());
  EXPECT_TRUE(r.saw_end);
}

TEST(Framing, ABufferedBodyOverTheBoundIsGivenUp) {
  std::string body = R"({"usage":{"prompt_tokens":1,"completion_tokens":2},"pad":")";
  body.append(kMaxBufferedBytes, 'x');
  body.append("\"}");
  auto parser = make_usage_parser(UsageFormat::kOpenAiChat, false);
  for (std::size_t at = 0; at < body.size(); at += 65536) {
    parser->feed(std::string_view(body).substr(at, 65536));
  }
  EXPECT_EQ(describe(parser->result()),
            "in=- out=- cached=- write=- reasoning=- model= chars=0 end=no");
}

TEST(Framing, AnEventOverTheBoundIsSkippedAndTheNextOneRead) {
  std::string body = "data: {\"choices\":[{\"delta\":{\"content\":\"";
  body.append(kMaxEventBytes, 'x');
  body.append("\"}}]}\n\n");
  body.append(
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"
      "data: [DONE]\n\n");
  const UsageResult r = run(UsageFormat::kOpenAiChat, true, body);
  EXPECT_EQ(r.usage.input, 3u);
  EXPECT_EQ(r.usage.output, 4u);
  EXPECT_EQ(r.output_chars, 0u);
  EXPECT_TRUE(r.saw_end);
}

TEST(Framing, TheLastUsageWins) {
  // Workers AI's OpenAI-shaped chunks may carry a zero usage before its own final one.
  const UsageResult r =
      run(UsageFormat::kWorkersAi, true,
          "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"index\":0}],"
          "\"model\":\"@cf/openai/gpt-oss-20b\"}\n\n"
          "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0}}\n\n"
          "data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":57,\"completion_tokens\":28,"
          "\"total_tokens\":85,\"neurons\":10.47}}\n\n"
          "data: [DONE]\n\n");
  EXPECT_EQ(describe(r),
            "in=57 out=28 cached=- write=- reasoning=- model=@cf/openai/gpt-oss-20b chars=2 "
            "end=yes");
}

TEST(Framing, OpenRouterReportsCacheWrites) {
  const UsageResult r = run(
      UsageFormat::kOpenAiChat, true,
      ": OPENROUTER PROCESSING\n\n"
      "data: "
      "{\"id\":\"gen-1755\",\"provider\":\"Anthropic\",\"model\":\"anthropic/claude-sonnet-4\","
      "\"object\":\"chat.completion.chunk\",\"created\":1755,\"choices\":[{\"index\":0,"
      "\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"
      "data: "
      "{\"id\":\"gen-1755\",\"provider\":\"Anthropic\",\"model\":\"anthropic/claude-sonnet-4\","
      "\"object\":\"chat.completion.chunk\",\"created\":1755,\"choices\":[{\"index\":0,"
      "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":194,\"completion_tokens\":2,\"total_tokens\":196,\"cost\":0.95,"
      "\"prompt_tokens_details\":{\"cached_tokens\":0,\"cache_write_tokens\":100},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n"
      "data: [DONE]\n\n");
  EXPECT_EQ(describe(r),
            "in=194 out=2 cached=0 write=100 reasoning=0 model=anthropic/claude-sonnet-4 chars=2 "
            "end=yes");
}

TEST(Framing, NoParserForUnmeteredFormats) {
  EXPECT_EQ(make_usage_parser(UsageFormat::kNone, true), nullptr);
}

// --- the SSE splitter itself -----------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> split_events(
    const std::vector<std::string_view>& parts, bool with_pending = false) {
  std::vector<std::pair<std::string, std::string>> events;
  SseSplitter sse(64);
  auto collect = [&](std::string_view name, std::string_view data) {
    events.emplace_back(std::string(name), std::string(data));
  };
  for (const auto part : parts) sse.feed(part, collect);
  if (with_pending) sse.peek_pending(collect);
  return events;
}

using Events = std::vector<std::pair<std::string, std::string>>;

TEST(SseSplitter, FieldsCommentsAndMultiLineData) {
  EXPECT_EQ(split_events({": keep-alive\n\n"
                          "event: ping\nid: 7\nretry: 100\ndata: a\ndata:b\ndata\ndata:  c\n\n"
                          "data: last\n\n"}),
            (Events{{"ping", "a\nb\n\n c"}, {"", "last"}}));
}

TEST(SseSplitter, EventsWithoutDataAreNotDispatched) {
  EXPECT_EQ(split_events({"event: nothing\n\n\n\ndata: x\n\n"}), (Events{{"", "x"}}));
}

TEST(SseSplitter, CrLfSplitBetweenItsTwoBytes) {
  EXPECT_EQ(split_events({"data: a\r", "\n\r", "\ndata: b\r\r"}), (Events{{"", "a"}, {"", "b"}}));
}

TEST(SseSplitter, ThePendingEventAtTheEndOfTheStream) {
  EXPECT_EQ(split_events({"data: a\n\ndata: [DONE]"}, true), (Events{{"", "a"}, {"", "[DONE]"}}));
  EXPECT_EQ(split_events({"data: a\n\n"}, true), (Events{{"", "a"}}));
}

TEST(SseSplitter, AnOversizedEventIsDroppedWhole) {
  const std::string big(100, 'x');
  EXPECT_EQ(split_events({"data: ", big, "\ndata: y\n\ndata: z\n\n"}), (Events{{"", "z"}}));
}

TEST(SseSplitter, LongFieldNamesAreIgnored) {
  EXPECT_EQ(split_events({"datadatadata: x\ndata: y\n\n"}), (Events{{"", "y"}}));
}

TEST(JsonArraySplitter, ElementsWithBracketsInStrings) {
  std::vector<std::string> elements;
  JsonArraySplitter array(1024);
  const std::string body = R"([{"a":"]}[{\""}, {"b":[1,{"c":2}]}, 3, {}])";
  for (const char ch : body) {
    array.feed(std::string_view(&ch, 1), [&](std::string_view e) { elements.emplace_back(e); });
  }
  EXPECT_EQ(elements,
            (std::vector<std::string>{R"({"a":"]}[{\""})", R"({"b":[1,{"c":2}]})", "{}"}));
  EXPECT_TRUE(array.closed());
}

TEST(CodePoints, CountsCharactersNotBytes) {
  EXPECT_EQ(code_points(""), 0u);
  EXPECT_EQ(code_points("abc"), 3u);
  EXPECT_EQ(code_points("ça — 😊"), 6u);
}

}  // namespace
}  // namespace aigw::usage
