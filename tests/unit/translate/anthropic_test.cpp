// OpenAI chat completions client, Anthropic Messages provider (src/translate/anthropic_*.cpp):
// requests, whole responses, streams split at every byte offset, and error bodies, against
// fixtures in each side's wire format (tests/fixtures/translate/anthropic).

#include "translate/translate.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::translate {
namespace {

using nlohmann::json;  // unordered: comparisons ignore key order

std::string fixture(std::string_view name) {
  const std::string path =
      std::string(AIGW_SOURCE_DIR) + "/tests/fixtures/translate/anthropic/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Test inputs are ours, so nlohmann's own parser is fine here.
json J(std::string_view text) { return json::parse(text); }

RequestOptions request_options() {
  RequestOptions options;
  options.model = "claude-sonnet-4-5";
  return options;
}

ResponseOptions response_options(bool include_usage = false) {
  ResponseOptions options;
  options.model = "claude-sonnet-4-5";
  options.id = "chatcmpl-gw-0001";
  options.created = 1767225600;
  options.include_usage = include_usage;
  return options;
}

json translate_ok(std::string_view request, const RequestOptions& options = request_options()) {
  auto translated = openai_to_anthropic(request, options);
  EXPECT_TRUE(translated.has_value()) << (translated ? "" : translated.error().detail);
  if (!translated) return json();
  return J(translated->body);
}

// A user message around `extra` top-level fields.
std::string with_fields(std::string_view extra) {
  std::string request = R"({"model":"anthropic/claude-sonnet-4-5","messages":[)"
                        R"({"role":"user","content":"Hi"}])";
  if (!extra.empty()) request.append(",").append(extra);
  return request + "}";
}

const json kHiMessages = J(R"([{"role":"user","content":[{"type":"text","text":"Hi"}]}])");

// --- requests ---

TEST(AnthropicRequest, PlainText) {
  auto translated = openai_to_anthropic(with_fields(""), request_options());
  ASSERT_TRUE(translated.has_value());
  EXPECT_FALSE(translated->stream);
  EXPECT_FALSE(translated->include_usage);
  EXPECT_EQ(J(translated->body), J(R"({"model":"claude-sonnet-4-5","max_tokens":4096,
      "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]})"));
}

TEST(AnthropicRequest, ChatFixtureMergesSystemAndTurnsAndDropsTheRest) {
  // System and developer messages, wherever they stand, form the system prompt; consecutive
  // user and assistant messages merge; max_completion_tokens wins over max_tokens; seed,
  // penalties, logit_bias, store, metadata, service_tier, reasoning_effort, prediction,
  // parallel_tool_calls true, n 1, logprobs false, response_format text and unknown fields
  // are dropped.
  EXPECT_EQ(translate_ok(fixture("request_chat.json")), J(fixture("request_chat.expected.json")));
}

TEST(AnthropicRequest, SystemTextPartsAndEmptySystem) {
  const json body = translate_ok(R"({"messages":[
      {"role":"developer","content":[{"type":"text","text":"A"},{"type":"text","text":""}]},
      {"role":"system","content":""},
      {"role":"system","content":[{"type":"text","text":"B"}]},
      {"role":"user","content":"Hi"}]})");
  EXPECT_EQ(body["system"], "A\n\nB");
  EXPECT_EQ(body["messages"], kHiMessages);
  EXPECT_FALSE(translate_ok(with_fields("")).contains("system"));
}

TEST(AnthropicRequest, AlternationMergesAndEmptyContentIsLeftOut) {
  const json body = translate_ok(R"({"messages":[
      {"role":"user","content":"one"},
      {"role":"user","content":[{"type":"text","text":"two"}]},
      {"role":"assistant","content":"three"},
      {"role":"assistant","content":null},
      {"role":"assistant","content":""},
      {"role":"assistant","content":"four"},
      {"role":"user","content":"five"}]})");
  EXPECT_EQ(body["messages"], J(R"([
      {"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
      {"role":"assistant","content":[{"type":"text","text":"three"},{"type":"text","text":"four"}]},
      {"role":"user","content":[{"type":"text","text":"five"}]}])"));
}

TEST(AnthropicRequest, ToolsFixtureKeepsIdsAndGroupsToolResults) {
  auto translated = openai_to_anthropic(fixture("request_tools.json"), request_options());
  ASSERT_TRUE(translated.has_value()) << translated.error().detail;
  EXPECT_TRUE(translated->stream);
  EXPECT_TRUE(translated->include_usage);
  EXPECT_EQ(J(translated->body), J(fixture("request_tools.expected.json")));
}

TEST(AnthropicRequest, ToolResultsGoBeforeTextInAMergedUserTurn) {
  // A user message right before the tool results: Anthropic wants tool_result blocks first.
  const json body = translate_ok(R"({"messages":[
      {"role":"user","content":"Weather?"},
      {"role":"assistant","tool_calls":[{"id":"call_1","type":"function",
        "function":{"name":"get_weather","arguments":"{}"}}]},
      {"role":"user","content":"Be quick."},
      {"role":"tool","tool_call_id":"call_1","content":"sunny"}]})");
  EXPECT_EQ(body["messages"][2], J(R"({"role":"user","content":[
      {"type":"tool_result","tool_use_id":"call_1","content":"sunny"},
      {"type":"text","text":"Be quick."}]})"));
}

TEST(AnthropicRequest, AssistantTextThenToolCallsAndArgumentsAsObject) {
  const json body = translate_ok(R"({"messages":[
      {"role":"user","content":"Weather?"},
      {"role":"assistant","content":[{"type":"text","text":"Checking."},
        {"type":"refusal","refusal":"Not that city."}],
       "tool_calls":[{"id":"call_A","type":"function",
        "function":{"name":"get_weather","arguments":{"location":"Oslo"}}}]}]})");
  EXPECT_EQ(body["messages"][1], J(R"({"role":"assistant","content":[
      {"type":"text","text":"Checking."},{"type":"text","text":"Not that city."},
      {"type":"tool_use","id":"call_A","name":"get_weather","input":{"location":"Oslo"}}]})"));
}

struct ToolChoiceCase {
  const char* extra;     // top-level fields besides messages and tools
  const char* expected;  // tool_choice, or "" for none
};

TEST(AnthropicRequest, ToolChoiceVariants) {
  const ToolChoiceCase cases[] = {
      {R"("tool_choice":"auto")", R"({"type":"auto"})"},
      {R"("tool_choice":"required")", R"({"type":"any"})"},
      {R"("tool_choice":"none")", R"({"type":"none"})"},
      {R"("tool_choice":{"type":"function","function":{"name":"get_weather"}})",
       R"({"type":"tool","name":"get_weather"})"},
      {R"("parallel_tool_calls":false)", R"({"type":"auto","disable_parallel_tool_use":true})"},
      {R"("tool_choice":"required","parallel_tool_calls":false)",
       R"({"type":"any","disable_parallel_tool_use":true})"},
      {R"("tool_choice":{"type":"function","function":{"name":"get_weather"}},)"
       R"("parallel_tool_calls":false)",
       R"({"type":"tool","name":"get_weather","disable_parallel_tool_use":true})"},
      {R"("tool_choice":"none","parallel_tool_calls":false)", R"({"type":"none"})"},
      {R"("parallel_tool_calls":true)", ""},
      {R"("tool_choice":null)", ""},
  };
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"get_weather",)"
      R"("description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
  for (const auto& c : cases) {
    const json body = translate_ok(with_fields(tools + "," + c.extra));
    ASSERT_TRUE(body.contains("tools")) << c.extra;
    EXPECT_EQ(body["tools"], J(R"([{"name":"get_weather","description":"Weather",
        "input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}])"));
    if (*c.expected == '\0') {
      EXPECT_FALSE(body.contains("tool_choice")) << c.extra;
    } else {
      EXPECT_EQ(body["tool_choice"], J(c.expected)) << c.extra;
    }
  }
  // Without tools, parallel_tool_calls has nothing to act on.
  const json bare = translate_ok(with_fields(R"("parallel_tool_calls":false,"tools":[])"));
  EXPECT_FALSE(bare.contains("tool_choice"));
  EXPECT_FALSE(bare.contains("tools"));
  EXPECT_FALSE(translate_ok(with_fields(R"("tool_choice":"none")")).contains("tool_choice"));
}

TEST(AnthropicRequest, ImagesBase64AndUrl) {
  EXPECT_EQ(translate_ok(fixture("request_images.json")),
            J(fixture("request_images.expected.json")));
}

TEST(AnthropicRequest, CacheControlOnATextPartIsKept) {
  const json body = translate_ok(R"({"messages":[{"role":"user","content":[
      {"type":"text","text":"Long document","cache_control":{"type":"ephemeral"}}]}]})");
  EXPECT_EQ(body["messages"][0]["content"][0],
            J(R"({"type":"text","text":"Long document","cache_control":{"type":"ephemeral"}})"));
}

TEST(AnthropicRequest, MaxTokens) {
  RequestOptions options = request_options();
  options.default_max_tokens = 1234;
  EXPECT_EQ(translate_ok(with_fields(""), options)["max_tokens"], 1234);
  EXPECT_EQ(translate_ok(with_fields(R"("max_tokens":null)"), options)["max_tokens"], 1234);
  EXPECT_EQ(translate_ok(with_fields(R"("max_tokens":300)"), options)["max_tokens"], 300);
  EXPECT_EQ(translate_ok(with_fields(R"("max_completion_tokens":700)"), options)["max_tokens"],
            700);
  EXPECT_EQ(translate_ok(with_fields(R"("max_tokens":300,"max_completion_tokens":700)"),
                         options)["max_tokens"],
            700);
  EXPECT_EQ(translate_ok(with_fields(R"("max_completion_tokens":null,"max_tokens":300)"),
                         options)["max_tokens"],
            300);
}

TEST(AnthropicRequest, StopStringAndArray) {
  EXPECT_EQ(translate_ok(with_fields(R"("stop":"END")"))["stop_sequences"], J(R"(["END"])"));
  EXPECT_EQ(translate_ok(with_fields(R"("stop":["END","\n\n"])"))["stop_sequences"],
            J(R"(["END","\n\n"])"));
  EXPECT_FALSE(translate_ok(with_fields(R"("stop":[])")).contains("stop_sequences"));
  EXPECT_FALSE(translate_ok(with_fields(R"("stop":null)")).contains("stop_sequences"));
}

TEST(AnthropicRequest, SamplingAndUserAndStream) {
  auto translated =
      openai_to_anthropic(with_fields(R"("temperature":1,"top_p":0.5,"user":"u-9","stream":true,)"
                                      R"("stream_options":{"include_usage":false})"),
                          request_options());
  ASSERT_TRUE(translated.has_value());
  EXPECT_TRUE(translated->stream);
  EXPECT_FALSE(translated->include_usage);
  EXPECT_EQ(J(translated->body), J(R"({"model":"claude-sonnet-4-5","max_tokens":4096,
      "temperature":1,"top_p":0.5,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],
      "metadata":{"user_id":"u-9"},"stream":true})"));
  EXPECT_EQ(translate_ok(with_fields(R"("temperature":0)"))["temperature"], 0);
  EXPECT_FALSE(translate_ok(with_fields(R"("stream":false)")).contains("stream"));
}

TEST(AnthropicRequest, DroppedParametersChangeNothing) {
  const json plain = translate_ok(with_fields(""));
  const char* dropped[] = {
      R"("seed":7)",
      R"("presence_penalty":1.0)",
      R"("frequency_penalty":-0.5)",
      R"("logit_bias":{"1":5})",
      R"("store":true)",
      R"("metadata":{"k":"v"})",
      R"("service_tier":"flex")",
      R"("parallel_tool_calls":true)",
      R"("prediction":{"type":"content","content":"x"})",
      R"("reasoning_effort":"high")",
      R"("n":1)",
      R"("logprobs":false)",
      R"("modalities":["text"])",
      R"("response_format":{"type":"text"})",
      R"("top_k":5)",
      R"("web_search_options":{})",
      R"("model":"anthropic/ignored-by-the-translator")",
  };
  for (const char* field : dropped) EXPECT_EQ(translate_ok(with_fields(field)), plain) << field;
}

TEST(AnthropicRequest, JsonObjectAddsTheInstructionToTheSystemPrompt) {
  const std::string instruction =
      "Answer with a single JSON object and nothing else: no text before or after it, no "
      "Markdown code fence.";
  EXPECT_EQ(translate_ok(with_fields(R"("response_format":{"type":"json_object"})"))["system"],
            instruction);
  const json body = translate_ok(R"({"messages":[{"role":"system","content":"Be brief."},
      {"role":"user","content":"Hi"}],"response_format":{"type":"json_object"}})");
  EXPECT_EQ(body["system"], "Be brief.\n\n" + instruction);
}

TEST(AnthropicRequest, JsonSchemaForcesTheReservedTool) {
  EXPECT_EQ(translate_ok(fixture("request_json_schema.json")),
            J(fixture("request_json_schema.expected.json")));
  // Without a schema or a name: an open object, and a description without the name.
  const json bare =
      translate_ok(with_fields(R"("response_format":{"type":"json_schema","json_schema":{}})"));
  EXPECT_EQ(bare["tools"], J(R"([{"name":"json_schema_response","description":
      "Give your answer by calling this tool: its input is the answer, a JSON object that follows the schema.",
      "input_schema":{"type":"object","properties":{}}}])"));
  EXPECT_EQ(bare["tool_choice"], J(R"({"type":"tool","name":"json_schema_response"})"));
}

TEST(AnthropicRequest, JsonSchemaBesideClientTools) {
  // The model may still call the client's tools; "any" makes it end with one of them or the
  // schema's tool, never with free text.
  const std::string base =
      R"("response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"}}},)"
      R"("tools":[{"type":"function","function":{"name":"lookup"}}])";
  const std::pair<const char*, const char*> cases[] = {
      {"", R"({"type":"any"})"},
      {R"(,"tool_choice":"auto")", R"({"type":"any"})"},
      {R"(,"tool_choice":"required")", R"({"type":"any"})"},
      {R"(,"tool_choice":{"type":"function","function":{"name":"lookup"}})",
       R"({"type":"tool","name":"lookup"})"},
      {R"(,"tool_choice":"none")", R"({"type":"tool","name":"json_schema_response"})"},
      {R"(,"parallel_tool_calls":false)", R"({"type":"any","disable_parallel_tool_use":true})"},
  };
  for (const auto& [extra, expected] : cases) {
    const json body = translate_ok(with_fields(base + extra));
    ASSERT_EQ(body["tools"].size(), 2U) << extra;
    EXPECT_EQ(body["tools"][0]["name"], "lookup");
    EXPECT_EQ(body["tools"][1]["name"], "json_schema_response");
    EXPECT_EQ(body["tools"][1]["input_schema"], J(R"({"type":"object"})"));
    EXPECT_EQ(body["tool_choice"], J(expected)) << extra;
  }
}

struct RefusalCase {
  std::string request;
  const char* param;
  const char* message;
};

TEST(AnthropicRequest, RefusalsNameTheParameter) {
  const std::string user_hi = R"({"role":"user","content":"Hi"})";
  const std::string call = R"({"role":"assistant","tool_calls":[{"id":"call_1","type":"function",)"
                           R"("function":{"name":"f","arguments":)";
  const RefusalCase cases[] = {
      {with_fields(R"("n":2)"), "n", "n must be 1: Anthropic returns one choice per request"},
      {with_fields(R"("logprobs":true)"), "logprobs", "logprobs is not supported by Anthropic"},
      {with_fields(R"("top_logprobs":3)"), "top_logprobs",
       "top_logprobs is not supported by Anthropic"},
      {with_fields(R"("audio":{"voice":"alloy","format":"mp3"})"), "audio",
       "audio output is not supported by Anthropic"},
      {with_fields(R"("modalities":["text","audio"])"), "modalities",
       "audio output is not supported by Anthropic"},
      {with_fields(R"("functions":[{"name":"f"}])"), "functions",
       "functions is the deprecated form of tools; send tools instead"},
      {with_fields(R"("function_call":"auto")"), "function_call",
       "function_call is the deprecated form of tool_choice; send tool_choice instead"},
      {with_fields(
           R"("tools":[{"type":"function","function":{"name":"f"}},{"type":"custom","custom":{"name":"g"}}])"),
       "tools[1].type",
       "tools[1].type \"custom\" is not supported by Anthropic; only function tools are"},
      {with_fields(R"("tools":[{"type":"function","function":{"name":"json_schema_response"}}])"),
       "tools[0].function.name",
       "the tool name \"json_schema_response\" is reserved by the gateway for response_format "
       "json_schema"},
      {with_fields(R"("tools":[{"type":"function","function":{"description":"x"}}])"),
       "tools[0].function.name", "tools[0].function.name must be a non-empty string"},
      {with_fields(R"("tools":[{"type":"function","function":{"name":"f","parameters":"x"}}])"),
       "tools[0].function.parameters", "tools[0].function.parameters must be a JSON Schema object"},
      {with_fields(R"("tools":{})"), "tools", "tools must be an array"},
      {with_fields(R"("tool_choice":"any")"), "tool_choice",
       "tool_choice must be \"auto\", \"required\", \"none\" or {\"type\": \"function\", "
       "\"function\": {\"name\": ...}}"},
      {with_fields(R"("parallel_tool_calls":"no")"), "parallel_tool_calls",
       "parallel_tool_calls must be a boolean"},
      {with_fields(R"("temperature":1.5)"), "temperature",
       "temperature must be between 0 and 1 for Anthropic (got 1.5)"},
      {with_fields(R"("temperature":-0.5)"), "temperature",
       "temperature must be between 0 and 1 for Anthropic (got -0.5)"},
      {with_fields(R"("temperature":"hot")"), "temperature",
       "temperature must be between 0 and 1 for Anthropic (got \"hot\")"},
      {with_fields(R"("top_p":"high")"), "top_p", "top_p must be a number"},
      {with_fields(R"("max_tokens":0)"), "max_tokens", "max_tokens must be a positive integer"},
      {with_fields(R"("max_tokens":2.5)"), "max_tokens", "max_tokens must be a positive integer"},
      {with_fields(R"("max_tokens":10,"max_completion_tokens":-5)"), "max_completion_tokens",
       "max_completion_tokens must be a positive integer"},
      {with_fields(R"("stop":5)"), "stop", "stop must be a string or an array of strings"},
      {with_fields(R"("stop":["a",1])"), "stop", "stop must be a string or an array of strings"},
      {with_fields(R"("user":5)"), "user", "user must be a string"},
      {with_fields(R"("stream":"yes")"), "stream", "stream must be a boolean"},
      {with_fields(R"("response_format":{"type":"xml"})"), "response_format.type",
       "response_format.type must be \"text\", \"json_object\" or \"json_schema\""},
      {with_fields(R"("response_format":{"type":"json_schema"})"), "response_format.json_schema",
       "response_format.json_schema must be an object"},
      {with_fields(R"("response_format":{"type":"json_schema","json_schema":{"schema":[]}})"),
       "response_format.json_schema.schema",
       "response_format.json_schema.schema must be a JSON Schema object"},
      {R"({"model":"m"})", "messages", "messages must be an array"},
      {R"({"messages":{}})", "messages", "messages must be an array"},
      {R"({"messages":["Hi"]})", "messages[0]", "messages[0] must be an object"},
      {R"({"messages":[{"role":"robot","content":"Hi"}]})", "messages[0].role",
       "messages[0].role must be system, developer, user, assistant or tool"},
      {R"({"messages":[{"role":"function","name":"f","content":"1"}]})", "messages[0].role",
       "role \"function\" is the deprecated form of role \"tool\"; send tool messages"},
      {R"({"messages":[{"role":"user","content":5}]})", "messages[0].content",
       "messages[0].content must be a string or an array of content parts"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"Hi"},)"
       R"({"type":"input_audio","input_audio":{"data":"UklGR","format":"wav"}}]}]})",
       "messages[0].content[1].type",
       "content part type \"input_audio\" (messages[0].content[1]) is not supported by "
       "Anthropic; send text or image_url parts"},
      {R"({"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]})",
       "messages[0].content[0].type",
       "content part type \"file\" (messages[0].content[0]) is not supported by Anthropic; "
       "send text or image_url parts"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":7}]}]})",
       "messages[0].content[0].text", "messages[0].content[0].text must be a string"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/a.png"}}]}]})",
       "messages[0].content[0].image_url.url",
       "messages[0].content[0].image_url.url: Anthropic takes images as http(s) URLs or base64 "
       "data URLs only"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]})",
       "messages[0].content[0].image_url.url",
       "messages[0].content[0].image_url.url: Anthropic takes data URLs only in the form "
       "data:<media type>;base64,<data>"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
       "messages[0].content[0].image_url.url",
       "messages[0].content[0].image_url.url must be a non-empty string"},
      {R"({"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/a.png"}}]}]})",
       "messages[0].content[0].type",
       "messages[0].content[0]: this message takes text parts only (Anthropic)"},
      {R"({"messages":[)" + user_hi + "," + call + R"("{\"city\": \"Par"}}]}]})",
       "messages[1].tool_calls[0].function.arguments",
       "messages[1].tool_calls[0].function.arguments must be a JSON object in a string: "
       "Anthropic takes tool call input as an object"},
      {R"({"messages":[)" + user_hi + "," + call + R"("[1,2]"}}]}]})",
       "messages[1].tool_calls[0].function.arguments",
       "messages[1].tool_calls[0].function.arguments must be a JSON object in a string: "
       "Anthropic takes tool call input as an object"},
      {R"({"messages":[)" + user_hi + "," + call + R"(42}}]}]})",
       "messages[1].tool_calls[0].function.arguments",
       "messages[1].tool_calls[0].function.arguments must be a JSON object in a string: "
       "Anthropic takes tool call input as an object"},
      {R"({"messages":[)" + user_hi +
           R"(,{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]})",
       "messages[1].tool_calls[0].id", "messages[1].tool_calls[0].id must be a non-empty string"},
      {R"({"messages":[)" + user_hi + R"(,{"role":"assistant","tool_calls":[{"id":"c"}]}]})",
       "messages[1].tool_calls[0].function.name",
       "messages[1].tool_calls[0].function.name must be a non-empty string"},
      {R"({"messages":[)" + user_hi + R"(,{"role":"assistant","tool_calls":{}}]})",
       "messages[1].tool_calls", "messages[1].tool_calls must be an array"},
      {R"({"messages":[)" + user_hi +
           R"(,{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]})",
       "messages[1].function_call",
       "messages[1].function_call is the deprecated form of tool_calls; send tool_calls"},
      {R"({"messages":[)" + user_hi + R"(,{"role":"tool","content":"18 °C"}]})",
       "messages[1].tool_call_id", "messages[1].tool_call_id must be a non-empty string"},
      {R"({"messages":[)" + user_hi +
           R"(,{"role":"tool","tool_call_id":"c","content":[{"type":"image_url"}]}]})",
       "messages[1].content[0].type",
       "messages[1].content[0]: this message takes text parts only (Anthropic)"},
  };
  for (const auto& c : cases) {
    auto translated = openai_to_anthropic(c.request, request_options());
    ASSERT_FALSE(translated.has_value()) << c.request;
    EXPECT_EQ(translated.error().code, ErrorCode::kUnsupportedParameter) << c.request;
    EXPECT_EQ(translated.error().param, c.param) << c.request;
    EXPECT_EQ(translated.error().detail, c.message) << c.request;
  }
}

TEST(AnthropicRequest, NotAJsonObject) {
  const std::string deep(10000, '[');
  for (const std::string& body : {std::string("not json"), std::string("[]"), std::string("{"),
                                  std::string("\"text\""), std::string(), deep}) {
    auto translated = openai_to_anthropic(body, request_options());
    ASSERT_FALSE(translated.has_value()) << body.substr(0, 20);
    EXPECT_EQ(translated.error().code, ErrorCode::kInvalidJson);
    EXPECT_EQ(translated.error().detail, "the request body is not a JSON object");
  }
}

// --- whole responses ---

TEST(AnthropicResponse, Fixtures) {
  const char* names[] = {"response_text", "response_tool_use", "response_thinking",
                         "response_cache", "response_json_schema"};
  for (const char* name : names) {
    auto translated =
        anthropic_response_to_openai(fixture(std::string(name) + ".json"), response_options());
    ASSERT_TRUE(translated.has_value()) << name;
    EXPECT_EQ(J(*translated), J(fixture(std::string(name) + ".expected.json"))) << name;
  }
}

TEST(AnthropicResponse, StopReasonTable) {
  const std::pair<const char*, const char*> table[] = {
      {R"("end_turn")", "stop"},
      {R"("stop_sequence")", "stop"},
      {R"("max_tokens")", "length"},
      {R"("model_context_window_exceeded")", "length"},
      {R"("tool_use")", "tool_calls"},
      {R"("refusal")", "content_filter"},
      {R"("pause_turn")", "stop"},
      {R"("something_new")", "stop"},
      {"null", "stop"},
  };
  for (const auto& [stop_reason, finish] : table) {
    const std::string body =
        R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[)"
        R"({"type":"tool_use","id":"toolu_1","name":"f","input":{}}],"stop_reason":)" +
        std::string(stop_reason) + "}";
    auto translated = anthropic_response_to_openai(body, response_options());
    ASSERT_TRUE(translated.has_value()) << stop_reason;
    EXPECT_EQ(J(*translated)["choices"][0]["finish_reason"], finish) << stop_reason;
  }
}

TEST(AnthropicResponse, NoTextIsNullContentAndOptionsFillTheGaps) {
  auto translated = anthropic_response_to_openai(
      R"({"type":"message","content":[{"type":"tool_use","id":"toolu_9","name":"f","input":{"a":[1,{"b":null}]}}],"stop_reason":"tool_use"})",
      response_options());
  ASSERT_TRUE(translated.has_value());
  EXPECT_EQ(J(*translated), J(R"({"id":"chatcmpl-gw-0001","object":"chat.completion",
      "created":1767225600,"model":"claude-sonnet-4-5","choices":[{"index":0,"message":{
      "role":"assistant","content":null,"tool_calls":[{"id":"toolu_9","type":"function",
      "function":{"name":"f","arguments":"{\"a\":[1,{\"b\":null}]}"}}]},"logprobs":null,
      "finish_reason":"tool_calls"}]})"));
  // An empty answer is "" rather than null: there was a text block.
  auto empty = anthropic_response_to_openai(
      R"({"type":"message","content":[{"type":"text","text":""}],"stop_reason":"end_turn"})",
      response_options());
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(J(*empty)["choices"][0]["message"], J(R"({"role":"assistant","content":""})"));
}

TEST(AnthropicResponse, JsonSchemaAnswerBesideAClientToolCall) {
  auto translated = anthropic_response_to_openai(
      R"({"type":"message","content":[{"type":"tool_use","id":"toolu_1","name":"lookup","input":{}},)"
      R"({"type":"tool_use","id":"toolu_2","name":"json_schema_response","input":{"ok":true}}],)"
      R"("stop_reason":"tool_use"})",
      response_options());
  ASSERT_TRUE(translated.has_value());
  const json choice = J(*translated)["choices"][0];
  EXPECT_EQ(choice["message"]["content"], "{\"ok\":true}");
  EXPECT_EQ(choice["message"]["tool_calls"].size(), 1U);
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
}

TEST(AnthropicResponse, NotAMessageIsAProtocolError) {
  const std::pair<const char*, const char*> cases[] = {
      {"<html>502 Bad Gateway</html>",
       "Anthropic's response is not a Messages API message: it is not a JSON object"},
      {"[1,2]", "Anthropic's response is not a Messages API message: it is not a JSON object"},
      {R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})",
       "Anthropic's response is not a Messages API message: its type is \"error\""},
      {R"({"id":"msg_1","type":"message","content":"text"})",
       "Anthropic's response is not a Messages API message: it has no content array"},
      {R"({"object":"chat.completion","choices":[]})",
       "Anthropic's response is not a Messages API message: it has no content array"},
  };
  for (const auto& [body, message] : cases) {
    auto translated = anthropic_response_to_openai(body, response_options());
    ASSERT_FALSE(translated.has_value()) << body;
    EXPECT_EQ(translated.error().code, ErrorCode::kUpstreamProtocol);
    EXPECT_EQ(translated.error().detail, message);
  }
}

// --- streams ---

std::string run_stream(const std::vector<std::string_view>& parts, bool include_usage) {
  auto translator = anthropic_stream_to_openai(response_options(include_usage));
  std::string out;
  for (const auto part : parts) translator->feed(part, out);
  translator->finish(out);
  return out;
}

// The output for one feed must be `expected`, and every other split must give the same bytes.
void expect_any_split(const std::string& input, bool include_usage, const std::string& expected) {
  ASSERT_EQ(run_stream({input}, include_usage), expected);
  const std::string_view all(input);
  for (std::size_t k = 0; k <= all.size(); ++k) {
    ASSERT_EQ(run_stream({all.substr(0, k), all.substr(k)}, include_usage), expected)
        << "split at " << k;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < all.size(); ++i) bytes.push_back(all.substr(i, 1));
  ASSERT_EQ(run_stream(bytes, include_usage), expected) << "byte by byte";
}

struct StreamCase {
  const char* input;
  bool include_usage;
  const char* expected;
};

TEST(AnthropicStream, FixturesAtEverySplit) {
  const StreamCase cases[] = {
      {"stream_text.sse", true, "stream_text.usage.expected.sse"},
      {"stream_text.sse", false, "stream_text.expected.sse"},
      {"stream_tool_use.sse", true, "stream_tool_use.usage.expected.sse"},
      {"stream_tool_use.sse", false, "stream_tool_use.expected.sse"},
      {"stream_json_schema.sse", false, "stream_json_schema.expected.sse"},
      {"stream_error.sse", true, "stream_error.expected.sse"},
      {"stream_cut.sse", true, "stream_cut.usage.expected.sse"},
      {"stream_cut.sse", false, "stream_cut.expected.sse"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.input) + " -> " + c.expected);
    expect_any_split(fixture(c.input), c.include_usage, fixture(c.expected));
  }
}

// The chunks of a translated stream, [DONE] as the string "[DONE]".
std::vector<json> chunks(std::string_view sse) {
  std::vector<json> out;
  std::size_t at = 0;
  while (at < sse.size()) {
    const std::size_t end = sse.find("\n\n", at);
    EXPECT_NE(end, std::string_view::npos);
    if (end == std::string_view::npos) break;
    const std::string_view event = sse.substr(at, end - at);
    EXPECT_EQ(event.substr(0, 6), "data: ");
    const std::string_view data = event.substr(6);
    out.push_back(data == "[DONE]" ? json("[DONE]") : J(data));
    at = end + 2;
  }
  return out;
}

TEST(AnthropicStream, ToolCallChunksCarryIndexIdAndPartialArguments) {
  const std::vector<json> out = chunks(run_stream({fixture("stream_tool_use.sse")}, false));
  std::vector<json> tool_deltas;
  std::string arguments[2];
  for (const auto& c : out) {
    if (!c.is_object() || c["choices"].empty()) continue;
    const json& delta = c["choices"][0]["delta"];
    if (!delta.contains("tool_calls")) continue;
    tool_deltas.push_back(delta["tool_calls"][0]);
    const json& call = delta["tool_calls"][0];
    arguments[call["index"].get<int>()] += call["function"]["arguments"].get<std::string>();
  }
  ASSERT_EQ(tool_deltas.size(), 8U);
  EXPECT_EQ(tool_deltas[0], J(R"({"index":0,"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6",
      "type":"function","function":{"name":"get_weather","arguments":""}})"));
  EXPECT_EQ(tool_deltas[5], J(R"({"index":1,"id":"toolu_01A09q90qw90lq917835lq9",
      "type":"function","function":{"name":"get_weather","arguments":""}})"));
  EXPECT_EQ(J(arguments[0]), J(R"({"location":"Paris, France","unit":"celsius"})"));
  EXPECT_EQ(J(arguments[1]), J(R"({"location":"Tokyo, Japan"})"));
  EXPECT_EQ(out[out.size() - 2]["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(out.back(), "[DONE]");
}

TEST(AnthropicStream, UsageChunkOnlyWhenAsked) {
  const std::vector<json> with = chunks(run_stream({fixture("stream_text.sse")}, true));
  ASSERT_GE(with.size(), 2U);
  EXPECT_EQ(with[with.size() - 2], J(R"({"id":"msg_01HCDu5LRGeP2o7s2xGmxyx8",
      "object":"chat.completion.chunk","created":1767225600,"model":"claude-3-5-haiku-20241022",
      "choices":[],"usage":{"prompt_tokens":2344,"completion_tokens":41,"total_tokens":2385,
      "prompt_tokens_details":{"cached_tokens":2210}}})"));
  for (const auto& c : chunks(run_stream({fixture("stream_text.sse")}, false))) {
    EXPECT_FALSE(c.is_object() && c.contains("usage"));
  }
}

TEST(AnthropicStream, CutStreamEndsWithoutAFinishReason) {
  for (const auto& c : chunks(run_stream({fixture("stream_cut.sse")}, true))) {
    if (c.is_object() && !c["choices"].empty()) {
      EXPECT_TRUE(c["choices"][0]["finish_reason"].is_null());
    }
  }
  // Nothing at all from the provider: the client still gets a closed stream.
  EXPECT_EQ(run_stream({}, true), "data: [DONE]\n\n");
  EXPECT_EQ(run_stream({"event: ping\ndata: {\"type\": \"ping\"}\n\n"}, false), "data: [DONE]\n\n");
}

TEST(AnthropicStream, LastEventWithoutItsBlankLineStillCounts) {
  const std::string whole = fixture("stream_text.sse");
  ASSERT_GE(whole.size(), 4U);
  const std::string trimmed = whole.substr(0, whole.size() - 4);  // without the final CRLF CRLF
  EXPECT_EQ(run_stream({trimmed}, true), fixture("stream_text.usage.expected.sse"));
}

TEST(AnthropicStream, NothingAfterDoneAndFinishOnce) {
  auto translator = anthropic_stream_to_openai(response_options(true));
  std::string out;
  translator->feed(fixture("stream_text.sse"), out);
  const std::string closed = out;
  translator->feed(fixture("stream_text.sse"), out);
  translator->finish(out);
  translator->finish(out);
  EXPECT_EQ(out, closed);
}

TEST(AnthropicStream, OversizedAndMalformedEventsAreDropped) {
  const std::string huge =
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" +
      std::string(std::size_t{1} << 20, 'x') + "\"}}\n\n";
  const std::string text =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
      "\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n" +
      huge +
      "data: not json\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":\"zero\",\"delta\":{\"type\":"
      "\"input_json_delta\",\"partial_json\":\"x\"}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"ok\"}}\n\n"
      "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
      "\"usage\":{\"output_tokens\":2}}\n\n"
      "data: {\"type\":\"message_stop\"}\n\n";
  const std::vector<json> out = chunks(run_stream({text}, true));
  ASSERT_EQ(out.size(), 5U);
  EXPECT_EQ(out[0]["choices"][0]["delta"], J(R"({"role":"assistant","content":""})"));
  EXPECT_EQ(out[1]["choices"][0]["delta"], J(R"({"content":"ok"})"));
  EXPECT_EQ(out[2]["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(out[3]["usage"]["total_tokens"], 5);
  EXPECT_EQ(out[4], "[DONE]");
}

TEST(AnthropicStream, SeveralThinkingBlocksReadAsParagraphsAsInAWholeResponse) {
  const std::string blocks[] = {
      R"({"type":"thinking","thinking":"First."})",
      R"({"type":"thinking","thinking":""})",
      R"({"type":"tool_use","id":"toolu_1","name":"f","input":{}})",
      R"({"type":"thinking","thinking":"Second."})",
  };
  std::string whole = R"({"type":"message","content":[)";
  std::string stream = "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}\n\n";
  for (std::size_t i = 0; i < std::size(blocks); ++i) {
    whole += (i > 0 ? "," : "") + blocks[i];
    const std::string start = json::parse(blocks[i])["type"] == "thinking"
                                  ? R"({"type":"thinking","thinking":""})"
                                  : blocks[i];
    const std::string index = std::to_string(i);
    stream += R"(data: {"type":"content_block_start","index":)" + index + R"(,"content_block":)" +
              start + "}\n\n";
    if (json::parse(blocks[i])["type"] == "thinking") {
      stream += R"(data: {"type":"content_block_delta","index":)" + index +
                R"(,"delta":{"type":"thinking_delta","thinking":)" +
                json::parse(blocks[i])["thinking"].dump() + "}}\n\n";
    }
  }
  whole += R"(],"stop_reason":"tool_use"})";
  auto translated = anthropic_response_to_openai(whole, response_options());
  ASSERT_TRUE(translated.has_value());
  EXPECT_EQ(J(*translated)["choices"][0]["message"]["reasoning_content"], "First.\n\nSecond.");
  std::string reasoning;
  for (const auto& c : chunks(run_stream({stream}, false))) {
    if (!c.is_object() || c["choices"].empty()) continue;
    const json& delta = c["choices"][0]["delta"];
    if (delta.contains("reasoning_content")) reasoning += delta["reasoning_content"];
  }
  EXPECT_EQ(reasoning, "First.\n\nSecond.");
}

// --- error bodies ---

TEST(AnthropicError, AnthropicErrorsKeepTheirType) {
  EXPECT_EQ(
      J(anthropic_error_to_openai(
          529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})")),
      J(R"({"error":{"message":"Overloaded","type":"overloaded_error","param":null,
                "code":"overloaded_error"}})"));
  EXPECT_EQ(
      J(anthropic_error_to_openai(
          429,
          R"({"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"})")),
      J(R"({"error":{"message":"Number of request tokens has exceeded your per-minute rate limit",
          "type":"rate_limit_error","param":null,"code":"rate_limit_error"}})"));
  EXPECT_EQ(J(anthropic_error_to_openai(
                400, R"({"type":"error","error":{"message":"max_tokens: Field required"}})")),
            J(R"({"error":{"message":"max_tokens: Field required","type":"upstream_error",
                "param":null,"code":"400"}})"));
}

TEST(AnthropicError, OtherBodiesBecomeTheMessage) {
  EXPECT_EQ(J(anthropic_error_to_openai(502, "<html><body>Bad Gateway</body></html>")),
            J(R"({"error":{"message":"<html><body>Bad Gateway</body></html>",
                "type":"upstream_error","param":null,"code":"502"}})"));
  EXPECT_EQ(J(anthropic_error_to_openai(500, R"({"error":"oops"})")),
            J(R"({"error":{"message":"{\"error\":\"oops\"}","type":"upstream_error",
                "param":null,"code":"500"}})"));
  EXPECT_EQ(J(anthropic_error_to_openai(503, "")),
            J(R"({"error":{"message":"Anthropic answered with HTTP 503","type":"upstream_error",
                "param":null,"code":"503"}})"));
}

TEST(AnthropicError, LongAndInvalidBodiesAreClippedToValidUtf8) {
  // 999 ASCII bytes and a two-byte "é" across the 1000-byte limit: the "é" goes whole.
  const std::string body = std::string(999, 'a') + "\xC3\xA9" + std::string(500, 'b');
  const json clipped = J(anthropic_error_to_openai(500, body));
  EXPECT_EQ(clipped["error"]["message"], std::string(999, 'a'));
  const json exact = J(anthropic_error_to_openai(500, std::string(1500, 'c')));
  EXPECT_EQ(exact["error"]["message"], std::string(1000, 'c'));
  const json invalid = J(anthropic_error_to_openai(502, "bad \xFF byte"));
  EXPECT_EQ(invalid["error"]["message"], "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace aigw::translate
