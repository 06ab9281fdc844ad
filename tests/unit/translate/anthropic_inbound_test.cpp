// Anthropic Messages client, OpenAI chat completions provider (src/translate/anthropic_inbound_*):
// requests, whole responses, streams split at every byte offset, and error bodies, against
// wire-format fixtures in tests/fixtures/translate/anthropic_inbound.

#include "translate/translate.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::translate {
namespace {

using nlohmann::json;  // order-insensitive comparison of whole JSON values

std::string fixture(std::string_view name) {
  const std::string path = std::string(AIGW_SOURCE_DIR) +
                           "/tests/fixtures/translate/anthropic_inbound/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

RequestOptions request_options(std::string model = "gpt-4o") {
  RequestOptions options;
  options.model = std::move(model);
  return options;
}

json translate_request(std::string_view body, std::string model = "gpt-4o") {
  auto out = anthropic_to_openai(body, request_options(std::move(model)));
  EXPECT_TRUE(out.has_value()) << (out.has_value() ? "" : out.error().detail);
  return out.has_value() ? json::parse(out->body) : json();
}

// A minimal valid request with `extra` fields merged in.
std::string request_with(const json& extra) {
  json request = {{"model", "openai/gpt-4o"},
                  {"max_tokens", 256},
                  {"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
  if (extra.is_object()) request.merge_patch(extra);  // ({} is null, which would replace all)
  return request.dump();
}

// --- requests ----------------------------------------------------------------------------

TEST(AnthropicInboundRequest, PlainText) {
  const auto out = anthropic_to_openai(request_with({}), request_options());
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(out->stream);
  EXPECT_FALSE(out->include_usage);
  EXPECT_EQ(json::parse(out->body), json::parse(R"({"model":"gpt-4o",
      "messages":[{"role":"user","content":"Hi"}],"max_tokens":256})"));
}

TEST(AnthropicInboundRequest, ModelComesFromOptionsNotTheClient) {
  EXPECT_EQ(translate_request(request_with({{"model", "deepseek/deepseek-chat"}}), "deepseek-chat")
                .at("model"),
            "deepseek-chat");
}

TEST(AnthropicInboundRequest, SystemString) {
  EXPECT_EQ(translate_request(request_with({{"system", "Be brief."}})).at("messages"),
            json::parse(R"([{"role":"system","content":"Be brief."},
                            {"role":"user","content":"Hi"}])"));
}

TEST(AnthropicInboundRequest, SystemBlocksJoinedWithABlankLine) {
  const json system = json::parse(R"([{"type":"text","text":"One.",
      "cache_control":{"type":"ephemeral"}},{"type":"text","text":"Two."}])");
  EXPECT_EQ(translate_request(request_with({{"system", system}})).at("messages").at(0),
            json::parse(R"({"role":"system","content":"One.\n\nTwo."})"));
}

TEST(AnthropicInboundRequest, EmptySystemSendsNoSystemMessage) {
  EXPECT_EQ(translate_request(request_with({{"system", ""}})).at("messages").size(), 1U);
  EXPECT_EQ(translate_request(request_with({{"system", json::array()}})).at("messages").size(), 1U);
}

TEST(AnthropicInboundRequest, ImagesBase64AndUrl) {
  EXPECT_EQ(translate_request(fixture("request_images.json"), "gpt-4o-mini"),
            json::parse(fixture("request_images.expected.json")));
}

TEST(AnthropicInboundRequest, ToolUseToolResultRoundTrip) {
  EXPECT_EQ(translate_request(fixture("request_tools_round_trip.json")),
            json::parse(fixture("request_tools_round_trip.expected.json")));
}

TEST(AnthropicInboundRequest, ToolMessagesGoBeforeTheUsersOtherContent) {
  const json messages = json::parse(R"([
    {"role":"user","content":"Weather?"},
    {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"w","input":{"c":1}}]},
    {"role":"user","content":[
      {"type":"text","text":"Before."},
      {"type":"image","source":{"type":"url","url":"https://example.com/a.png"}},
      {"type":"tool_result","tool_use_id":"toolu_1","content":"sunny","is_error":false},
      {"type":"text","text":"After."}]}])");
  EXPECT_EQ(translate_request(request_with({{"messages", messages}})).at("messages"),
            json::parse(R"([
    {"role":"user","content":"Weather?"},
    {"role":"assistant","content":null,"tool_calls":[
      {"id":"toolu_1","type":"function","function":{"name":"w","arguments":"{\"c\":1}"}}]},
    {"role":"tool","tool_call_id":"toolu_1","content":"sunny"},
    {"role":"user","content":[{"type":"text","text":"Before."},
      {"type":"image_url","image_url":{"url":"https://example.com/a.png"}},
      {"type":"text","text":"After."}]}])"));
}

TEST(AnthropicInboundRequest, ToolResultErrorAndEmptyContent) {
  const json messages = json::parse(R"([
    {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"a","input":{}},
                                   {"type":"tool_use","id":"t2","name":"b"}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,
                               "content":"ValueError: no such city"},
                              {"type":"tool_result","tool_use_id":"t2"}]}])");
  EXPECT_EQ(translate_request(request_with({{"messages", messages}})).at("messages"),
            json::parse(R"([
    {"role":"assistant","content":null,"tool_calls":[
      {"id":"t1","type":"function","function":{"name":"a","arguments":"{}"}},
      {"id":"t2","type":"function","function":{"name":"b","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"t1","content":"ValueError: no such city"},
    {"role":"tool","tool_call_id":"t2","content":""}])"));
}

TEST(AnthropicInboundRequest, AssistantThinkingOnlyBecomesEmptyContent) {
  const json messages = json::parse(R"([{"role":"user","content":"Hi"},
    {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"c2ln"}]},
    {"role":"user","content":"Go on"}])");
  EXPECT_EQ(translate_request(request_with({{"messages", messages}})).at("messages").at(1),
            json::parse(R"({"role":"assistant","content":""})"));
}

TEST(AnthropicInboundRequest, StreamSamplingMetadataAndDroppedFields) {
  const auto out = anthropic_to_openai(fixture("request_stream.json"),
                                       request_options("llama-3.3-70b-versatile"));
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->stream);
  EXPECT_FALSE(out->include_usage);
  EXPECT_EQ(json::parse(out->body), json::parse(fixture("request_stream.expected.json")));
}

TEST(AnthropicInboundRequest, StopSequences) {
  const json body = translate_request(request_with({{"stop_sequences", {"END", "\n\nUser:"}}}));
  EXPECT_EQ(body.at("stop"), json::parse(R"(["END","\n\nUser:"])"));
  EXPECT_FALSE(
      translate_request(request_with({{"stop_sequences", json::array()}})).contains("stop"));
}

TEST(AnthropicInboundRequest, StreamFalseSendsNoStreamFields) {
  const json body = translate_request(request_with({{"stream", false}}));
  EXPECT_FALSE(body.contains("stream"));
  EXPECT_FALSE(body.contains("stream_options"));
}

const json kTool = json::parse(
    R"([{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}])");

struct ToolChoiceCase {
  const char* anthropic;
  const char* openai;  // tool_choice sent; "" for none
  bool parallel_off;
};

TEST(AnthropicInboundRequest, EveryToolChoice) {
  const ToolChoiceCase cases[] = {
      {R"({"type":"auto"})", R"("auto")", false},
      {R"({"type":"any"})", R"("required")", false},
      {R"({"type":"none"})", R"("none")", false},
      {R"({"type":"tool","name":"get_weather"})",
       R"({"type":"function","function":{"name":"get_weather"}})", false},
      {R"({"type":"auto","disable_parallel_tool_use":true})", R"("auto")", true},
      {R"({"type":"any","disable_parallel_tool_use":true})", R"("required")", true},
      {R"({"type":"tool","name":"get_weather","disable_parallel_tool_use":true})",
       R"({"type":"function","function":{"name":"get_weather"}})", true},
      {R"({"type":"auto","disable_parallel_tool_use":false})", R"("auto")", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.anthropic);
    const json body = translate_request(
        request_with({{"tools", kTool}, {"tool_choice", json::parse(c.anthropic)}}));
    EXPECT_EQ(body.at("tools"), json::parse(R"([{"type":"function","function":{
        "name":"get_weather","description":"Weather","parameters":{"type":"object"}}}])"));
    EXPECT_EQ(body.at("tool_choice"), json::parse(c.openai));
    if (c.parallel_off) {
      EXPECT_EQ(body.at("parallel_tool_calls"), false);
    } else {
      EXPECT_FALSE(body.contains("parallel_tool_calls"));
    }
  }
}

TEST(AnthropicInboundRequest, ToolChoiceWithoutToolsIsDropped) {
  // OpenAI refuses tool_choice and parallel_tool_calls without tools; Anthropic does not.
  for (const json& tools : {json(), json::array()}) {
    json extra = {{"tool_choice", {{"type", "auto"}, {"disable_parallel_tool_use", true}}}};
    if (!tools.is_null()) extra["tools"] = tools;
    const json body = translate_request(request_with(extra));
    EXPECT_FALSE(body.contains("tools"));
    EXPECT_FALSE(body.contains("tool_choice"));
    EXPECT_FALSE(body.contains("parallel_tool_calls"));
  }
}

TEST(AnthropicInboundRequest, StrictToolIsKept) {
  const json tools =
      json::parse(R"([{"name":"f","input_schema":{"type":"object"},"strict":true}])");
  EXPECT_EQ(
      translate_request(request_with({{"tools", tools}})).at("tools").at(0),
      json::parse(
          R"({"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":true}})"));
}

TEST(AnthropicInboundRequest, BodyNotAnObject) {
  for (const std::string_view body : {"", "[1]", "not json", "\"text\"", "{\"a\":"}) {
    const auto out = anthropic_to_openai(body, request_options());
    ASSERT_FALSE(out.has_value()) << body;
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidJson);
    EXPECT_EQ(out.error().detail, "the request body is not a JSON object");
  }
}

TEST(AnthropicInboundRequest, MaxTokensMissing) {
  const auto out = anthropic_to_openai(
      R"({"model":"openai/gpt-4o","messages":[{"role":"user","content":"Hi"}]})",
      request_options());
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code, ErrorCode::kUnsupportedParameter);
  EXPECT_EQ(out.error().param, "max_tokens");
  EXPECT_EQ(out.error().detail, "max_tokens: Field required");
}

struct RefusalCase {
  json extra;  // merged into a valid request
  std::string param;
  std::string message;
};

TEST(AnthropicInboundRequest, EveryRefusal) {
  const auto user = [](const char* blocks) {
    return json{{"messages", {{{"role", "user"}, {"content", json::parse(blocks)}}}}};
  };
  const auto assistant = [](const char* blocks) {
    return json{{"messages",
                 {{{"role", "user"}, {"content", "Hi"}},
                  {{"role", "assistant"}, {"content", json::parse(blocks)}}}}};
  };
  const std::vector<RefusalCase> cases = {
      {user(R"([{"type":"text","text":"Summarise"},{"type":"document","source":{"type":"base64",
          "media_type":"application/pdf","data":"JVBERi0xLjQ="}}])"),
       "messages[0].content[1].type",
       "\"document\" blocks in a user message cannot be sent to an OpenAI-compatible provider"},
      {user(R"([{"type":"search_result","source":"https://x","title":"t","content":[]}])"),
       "messages[0].content[0].type",
       "\"search_result\" blocks in a user message cannot be sent to an OpenAI-compatible "
       "provider"},
      {user(R"([{"type":"tool_use","id":"t","name":"n","input":{}}])"),
       "messages[0].content[0].type",
       "\"tool_use\" blocks in a user message cannot be sent to an OpenAI-compatible provider"},
      {user(R"([{"type":"thinking","thinking":"x","signature":"y"}])"),
       "messages[0].content[0].type",
       "\"thinking\" blocks in a user message cannot be sent to an OpenAI-compatible provider"},
      {user(("[{\"type\":\"" + std::string(100, 'z') + "\"}]").c_str()),
       "messages[0].content[0].type",
       "\"" + std::string(63, 'z') +
           "... blocks in a user message cannot be sent to an OpenAI-compatible provider"},
      {user(R"([{"text":"no type"}])"), "messages[0].content[0].type",
       "null blocks in a user message cannot be sent to an OpenAI-compatible provider"},
      {assistant(R"([{"type":"image","source":{"type":"url","url":"https://x/a.png"}}])"),
       "messages[1].content[0].type",
       "\"image\" blocks in an assistant message cannot be sent to an OpenAI-compatible provider"},
      {assistant(R"([{"type":"tool_result","tool_use_id":"t","content":"x"}])"),
       "messages[1].content[0].type",
       "\"tool_result\" blocks in an assistant message cannot be sent to an OpenAI-compatible "
       "provider"},
      {assistant(R"([{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search",
          "input":{"query":"x"}}])"),
       "messages[1].content[0].type",
       "\"server_tool_use\" blocks in an assistant message cannot be sent to an "
       "OpenAI-compatible provider"},
      {user(
           R"([{"type":"image","source":{"type":"file","file_id":"file_011CNha8iCJcU1wXNR6q4V8w"}}])"),
       "messages[0].content[0].source.type",
       "image source \"file\" cannot be sent to an OpenAI-compatible provider (use base64 or "
       "url)"},
      {user(R"([{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"see"},
          {"type":"image","source":{"type":"url","url":"https://x/a.png"}}]}])"),
       "messages[0].content[0].content[1].type",
       "\"image\" blocks in a tool_result cannot be sent to an OpenAI-compatible provider (tool "
       "messages carry text only)"},
      {{{"tools", json::parse(R"([{"name":"f","input_schema":{"type":"object"}},
          {"type":"web_search_20250305","name":"web_search","max_uses":5}])")}},
       "tools[1].type",
       "Anthropic tool \"web_search_20250305\" cannot be sent to an OpenAI-compatible provider "
       "(only custom tools with an input_schema can)"},
      {{{"tools", json::parse(R"([{"type":"bash_20250124","name":"bash"}])")}},
       "tools[0].type",
       "Anthropic tool \"bash_20250124\" cannot be sent to an OpenAI-compatible provider (only "
       "custom tools with an input_schema can)"},
      {{{"tools", json::parse(R"([{"type":"computer_20250124","name":"computer",
          "display_width_px":1024,"display_height_px":768}])")}},
       "tools[0].type",
       "Anthropic tool \"computer_20250124\" cannot be sent to an OpenAI-compatible provider "
       "(only custom tools with an input_schema can)"},
      {{{"container", "container_011CPR5CNjB747bTd36fQLFk"}},
       "container",
       "code execution containers cannot be used with an OpenAI-compatible provider"},
      {{{"mcp_servers", json::parse(R"([{"type":"url","url":"https://mcp.example.com/sse",
          "name":"example"}])")}},
       "mcp_servers",
       "the MCP connector cannot be used with an OpenAI-compatible provider"},
      // Malformed fields: a clear 400 naming the field, as Anthropic's validation would.
      {{{"max_tokens", 0}}, "max_tokens", "must be a positive integer"},
      {{{"max_tokens", -5}}, "max_tokens", "must be a positive integer"},
      {{{"max_tokens", "1024"}}, "max_tokens", "must be a positive integer"},
      {{{"max_tokens", 10.5}}, "max_tokens", "must be a positive integer"},
      {{{"messages", nullptr}}, "messages", "Field required"},
      {{{"messages", "Hi"}}, "messages", "must be an array"},
      {{{"messages", {1}}}, "messages[0]", "must be an object"},
      {{{"messages", {{{"role", "system"}, {"content", "x"}}}}},
       "messages[0].role",
       "must be \"user\" or \"assistant\""},
      {{{"messages", {{{"role", "user"}}}}},
       "messages[0].content",
       "must be a string or an array of content blocks"},
      {{{"messages", {{{"role", "user"}, {"content", 42}}}}},
       "messages[0].content",
       "must be a string or an array of content blocks"},
      {user(R"([{"type":"text","text":7}])"), "messages[0].content[0].text", "must be a string"},
      {user(R"(["plain"])"), "messages[0].content[0]", "must be an object"},
      {user(R"([{"type":"image","source":"https://x/a.png"}])"), "messages[0].content[0].source",
       "must be an object"},
      {user(R"([{"type":"image","source":{"type":"base64","data":"AAAA"}}])"),
       "messages[0].content[0].source.media_type", "Field required"},
      {user(R"([{"type":"image","source":{"type":"url","url":5}}])"),
       "messages[0].content[0].source.url", "must be a string"},
      {user(R"([{"type":"tool_result","content":"x"}])"), "messages[0].content[0].tool_use_id",
       "Field required"},
      {user(R"([{"type":"tool_result","tool_use_id":"t","content":{"a":1}}])"),
       "messages[0].content[0].content", "must be a string or an array"},
      {assistant(R"([{"type":"tool_use","name":"f","input":{}}])"), "messages[1].content[0].id",
       "Field required"},
      {assistant(R"([{"type":"tool_use","id":"t","input":{}}])"), "messages[1].content[0].name",
       "Field required"},
      {{{"system", 5}}, "system", "must be a string or an array of text blocks"},
      {{{"system", json::parse(R"([{"type":"image","source":{}}])")}},
       "system[0].type",
       "system blocks must be text blocks"},
      {{{"system", json::parse(R"([{"type":"text"}])")}}, "system[0].text", "must be a string"},
      {{{"tools", "f"}}, "tools", "must be an array"},
      {{{"tools", {1}}}, "tools[0]", "must be an object"},
      {{{"tools", json::parse(R"([{"input_schema":{}}])")}}, "tools[0].name", "Field required"},
      {{{"tools", json::parse(R"([{"name":"f","description":3}])")}},
       "tools[0].description",
       "must be a string"},
      {{{"tools", json::parse(R"([{"name":"f","input_schema":"object"}])")}},
       "tools[0].input_schema",
       "must be an object"},
      {{{"tools", json::parse(R"([{"name":"f","strict":"yes"}])")}},
       "tools[0].strict",
       "must be a boolean"},
      {{{"tools", kTool}, {"tool_choice", "auto"}}, "tool_choice", "must be an object"},
      {{{"tools", kTool}, {"tool_choice", {{"type", "function"}}}},
       "tool_choice.type",
       "must be \"auto\", \"any\", \"tool\" or \"none\""},
      {{{"tools", kTool}, {"tool_choice", {{"type", "tool"}}}},
       "tool_choice.name",
       "Field required"},
      {{{"stop_sequences", "END"}}, "stop_sequences", "must be an array of strings"},
      {{{"stop_sequences", {"END", 3}}}, "stop_sequences[1]", "must be a string"},
      {{{"temperature", "0.5"}}, "temperature", "must be a number"},
      {{{"top_p", true}}, "top_p", "must be a number"},
      {{{"stream", "yes"}}, "stream", "must be a boolean"},
      {{{"metadata", "u1"}}, "metadata", "must be an object"},
      {{{"metadata", {{"user_id", 7}}}}, "metadata.user_id", "must be a string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.extra.dump());
    const auto out = anthropic_to_openai(request_with(c.extra), request_options());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error().code, ErrorCode::kUnsupportedParameter);
    EXPECT_EQ(out.error().param, c.param);
    EXPECT_EQ(out.error().detail, c.param + ": " + c.message);
  }
}

TEST(AnthropicInboundRequest, DroppedFieldsAreNotRefused) {
  const json body = translate_request(request_with(json::parse(R"({
      "top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 2048},
      "service_tier": "standard_only", "mcp_servers": [], "container": null,
      "metadata": {}, "unknown_future_field": {"x": 1}})")));
  EXPECT_EQ(body, json::parse(R"({"model":"gpt-4o",
      "messages":[{"role":"user","content":"Hi"}],"max_tokens":256})"));
}

TEST(AnthropicInboundRequest, DeepNestingIsRefusedNotCrashed) {
  std::string deep = request_with({});
  deep.insert(1, "\"x\":" + std::string(5000, '[') + std::string(5000, ']') + ",");
  const auto out = anthropic_to_openai(deep, request_options());
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code, ErrorCode::kInvalidJson);
}

// --- whole responses ---------------------------------------------------------------------

ResponseOptions response_options() {
  ResponseOptions options;
  options.model = "gpt-4o";
  options.id = "gw-req-7";
  return options;
}

json translate_response(std::string_view body) {
  auto out = openai_response_to_anthropic(body, response_options());
  EXPECT_TRUE(out.has_value()) << (out.has_value() ? "" : out.error().detail);
  return out.has_value() ? json::parse(*out) : json();
}

TEST(AnthropicInboundResponse, Text) {
  EXPECT_EQ(translate_response(fixture("response_text.json")),
            json::parse(fixture("response_text.expected.json")));
}

TEST(AnthropicInboundResponse, ToolCallsWithArgumentsParsed) {
  // The third call's arguments are cut-off JSON: input {} and the message still goes through.
  EXPECT_EQ(translate_response(fixture("response_tool_calls.json")),
            json::parse(fixture("response_tool_calls.expected.json")));
}

TEST(AnthropicInboundResponse, ReasoningAndCachedUsage) {
  EXPECT_EQ(translate_response(fixture("response_reasoning.json")),
            json::parse(fixture("response_reasoning.expected.json")));
}

std::string completion(const char* message, const char* finish_reason,
                       const char* usage = R"({"prompt_tokens":5,"completion_tokens":2})") {
  return std::string(R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini",)") +
         R"("choices":[{"index":0,"message":)" + message + R"(,"finish_reason":)" + finish_reason +
         R"(}],"usage":)" + usage + "}";
}

TEST(AnthropicInboundResponse, EveryFinishReason) {
  const char* text = R"({"role":"assistant","content":"x"})";
  const char* tool = R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1",
      "type":"function","function":{"name":"f","arguments":"{}"}}]})";
  struct Case {
    const char* message;
    const char* finish;
    const char* stop;
  };
  const Case cases[] = {
      {text, R"("stop")", "end_turn"},
      {text, R"("length")", "max_tokens"},
      {tool, R"("tool_calls")", "tool_use"},
      {R"({"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{\"a\":1}"}})",
       R"("function_call")", "tool_use"},
      {text, R"("content_filter")", "refusal"},
      {text, "null", "end_turn"},
      {text, R"("eos")", "end_turn"},
      // Some servers say "stop" after tool calls; the Anthropic client loops on tool_use.
      {tool, R"("stop")", "tool_use"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.finish);
    const json message = translate_response(completion(c.message, c.finish));
    EXPECT_EQ(message.at("stop_reason"), c.stop);
    EXPECT_EQ(message.at("stop_sequence"), nullptr);
  }
}

TEST(AnthropicInboundResponse, LegacyFunctionCall) {
  const json message = translate_response(completion(
      R"({"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{\"a\":1}"}})",
      R"("function_call")"));
  EXPECT_EQ(message.at("content"), json::parse(R"([{"type":"tool_use",
      "id":"toolu_msg_chatcmpl-1_0","name":"f","input":{"a":1}}])"));
}

TEST(AnthropicInboundResponse, ReasoningFieldAndEmptyContent) {
  // Groq and OpenRouter name it "reasoning"; an empty content adds no text block.
  const json message = translate_response(
      completion(R"({"role":"assistant","content":"","reasoning":"Think."})", R"("length")"));
  EXPECT_EQ(message.at("content"),
            json::parse(R"([{"type":"thinking","thinking":"Think.","signature":""}])"));
}

TEST(AnthropicInboundResponse, ContentAsArrayOfParts) {
  const json message = translate_response(completion(
      R"({"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]})",
      R"("stop")"));
  EXPECT_EQ(message.at("content"), json::parse(R"([{"type":"text","text":"ab"}])"));
}

TEST(AnthropicInboundResponse, RefusalField) {
  const json message = translate_response(completion(
      R"({"role":"assistant","content":null,"refusal":"I can't help with that."})", R"("stop")"));
  EXPECT_EQ(message.at("content"),
            json::parse(R"([{"type":"text","text":"I can't help with that."}])"));
  EXPECT_EQ(message.at("stop_reason"), "refusal");
}

TEST(AnthropicInboundResponse, UsageCachedAndAbsent) {
  const json cached = translate_response(completion(
      R"({"role":"assistant","content":"x"})", R"("stop")",
      R"({"prompt_tokens":2006,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1920}})"));
  EXPECT_EQ(cached.at("usage"), json::parse(R"({"input_tokens":86,"output_tokens":300,
      "cache_creation_input_tokens":0,"cache_read_input_tokens":1920})"));
  const json absent =
      translate_response(completion(R"({"role":"assistant","content":"x"})", R"("stop")", "null"));
  EXPECT_EQ(absent.at("usage"), json::parse(R"({"input_tokens":0,"output_tokens":0,
      "cache_creation_input_tokens":0,"cache_read_input_tokens":0})"));
}

TEST(AnthropicInboundResponse, IdAndModelFallbacks) {
  const json message = translate_response(
      R"({"id":"msg_already","choices":[{"message":{"content":"x"},"finish_reason":"stop"}]})");
  EXPECT_EQ(message.at("id"), "msg_already");
  EXPECT_EQ(message.at("model"), "gpt-4o");
  EXPECT_EQ(translate_response(R"({"choices":[{"message":{"content":"x"}}]})").at("id"),
            "msg_gw-req-7");
}

TEST(AnthropicInboundResponse, OnlyTheFirstChoice) {
  const json message = translate_response(R"({"id":"c","model":"m","choices":[
      {"index":0,"message":{"content":"first"},"finish_reason":"stop"},
      {"index":1,"message":{"content":"second"},"finish_reason":"length"}]})");
  EXPECT_EQ(message.at("content"), json::parse(R"([{"type":"text","text":"first"}])"));
  EXPECT_EQ(message.at("stop_reason"), "end_turn");
}

TEST(AnthropicInboundResponse, NotAChatCompletion) {
  for (const std::string_view body :
       {"", "<html>502</html>", "[]", "{}", R"({"choices":[]})", R"({"choices":[1]})",
        R"({"choices":[{"message":"x"}]})", R"({"object":"list","data":[]})",
        R"({"error":{"message":"overloaded","type":"server_error"}})"}) {
    SCOPED_TRACE(body);
    const auto out = openai_response_to_anthropic(body, response_options());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error().code, ErrorCode::kUpstreamProtocol);
  }
}

TEST(AnthropicInboundResponse, WrongTypesInsideAreTolerated) {
  const json message = translate_response(R"({"id":5,"model":7,"choices":[{"message":{
      "content":3,"reasoning_content":[],"tool_calls":[1,{"function":"x"},
      {"id":9,"function":{"name":2,"arguments":{"a":1}}}]},"finish_reason":4}],"usage":"lots"})");
  EXPECT_EQ(message, json::parse(R"({"id":"msg_gw-req-7","type":"message","role":"assistant",
      "model":"gpt-4o","content":[{"type":"tool_use","id":"toolu_msg_gw-req-7_0","name":"",
      "input":{}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":0,
      "output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}})"));
}

// --- streams -----------------------------------------------------------------------------

std::string run_stream(const std::vector<std::string_view>& parts) {
  auto translator = openai_stream_to_anthropic(response_options());
  std::string out;
  for (const auto part : parts) translator->feed(part, out);
  translator->finish(out);
  return out;
}

// The whole body in one feed, split in two at every offset, and byte by byte: all the same,
// and equal to the expected fixture.
void expect_stream(std::string_view input_name, std::string_view expected_name) {
  const std::string input = fixture(input_name);
  const std::string expected = fixture(expected_name);
  const std::string whole = run_stream({input});
  EXPECT_EQ(whole, expected);
  for (std::size_t k = 0; k <= input.size(); ++k) {
    const std::string_view view(input);
    ASSERT_EQ(run_stream({view.substr(0, k), view.substr(k)}), whole) << "split at " << k;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i)
    bytes.push_back(std::string_view(input).substr(i, 1));
  EXPECT_EQ(run_stream(bytes), whole);
}

TEST(AnthropicInboundStream, TextWithUsageChunk) {
  expect_stream("stream_text.sse", "stream_text.expected.sse");
}

TEST(AnthropicInboundStream, TextThenTwoToolCallsWithFragmentedArguments) {
  expect_stream("stream_tools.sse", "stream_tools.expected.sse");
}

TEST(AnthropicInboundStream, ReasoningThenText) {
  expect_stream("stream_reasoning.sse", "stream_reasoning.expected.sse");
}

TEST(AnthropicInboundStream, ErrorEvent) {
  expect_stream("stream_error.sse", "stream_error.expected.sse");
}

TEST(AnthropicInboundStream, CutOffStreamStaysCut) {
  expect_stream("stream_cut.sse", "stream_cut.expected.sse");
}

TEST(AnthropicInboundStream, FinishReasonWithoutDoneIsClosed) {
  expect_stream("stream_no_done.sse", "stream_no_done.expected.sse");
}

TEST(AnthropicInboundStream, OnlyDone) {
  EXPECT_EQ(run_stream({"data: [DONE]\n\n"}),
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
            "\"msg_gw-req-7\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"gpt-4o\","
            "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
            "\"input_tokens\":0,\"output_tokens\":0}}}\n\n"
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
            "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":0,"
            "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}"
            "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

TEST(AnthropicInboundStream, EmptyBodyEmitsNothing) {
  EXPECT_EQ(run_stream({}), "");
  EXPECT_EQ(run_stream({": ping\n\n"}), "");
}

TEST(AnthropicInboundStream, ErrorBeforeAnyChunk) {
  EXPECT_EQ(run_stream({R"(data: {"error":{"message":"Rate limit reached","type":"requests",)"
                        R"("code":"rate_limit_exceeded"}})"
                        "\n\n"}),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
            "\"message\":\"Rate limit reached\"}}\n\n");
}

TEST(AnthropicInboundStream, ErrorNamedByTheEventLine) {
  EXPECT_EQ(run_stream({"event: error\n"
                        R"(data: {"message":"Service overloaded","type":"overloaded_error"})"
                        "\n\n"}),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
            "\"message\":\"Service overloaded\"}}\n\n");
}

// Parses the Anthropic events of `sse` into their data objects.
std::vector<json> events(const std::string& sse) {
  std::vector<json> out;
  std::size_t pos = 0;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    const std::size_t end = sse.find('\n', pos);
    out.push_back(json::parse(sse.substr(pos + 6, end - pos - 6)));
    pos = end;
  }
  return out;
}

TEST(AnthropicInboundStream, ToolCallsWithoutIndexOrWithRepeatedIndex) {
  // Servers that send each call whole (no index, or index 0 for every call) still yield one
  // block per call id; an earlier call's late fragment is dropped (blocks cannot reopen).
  const std::string out = run_stream(
      {R"(data: {"id":"c","model":"m","choices":[{"delta":{"tool_calls":[)"
       R"({"id":"a","function":{"name":"f","arguments":"{}"}},)"
       R"({"index":0,"id":"b","function":{"name":"g","arguments":"{\"x\":"}}]}}]})"
       "\n\n",
       R"(data: {"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]})"
       "\n\n",
       R"(data: {"id":"c","choices":[{"delta":{"tool_calls":[{"index":1,"id":"d","function":{"name":"h"}}]}}]})"
       "\n\n",
       R"(data: {"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"late"}}]}}]})"
       "\n\n",
       R"(data: {"id":"c","choices":[{"delta":{},"finish_reason":"stop"}]})"
       "\n\ndata: [DONE]\n\n"});
  const std::vector<json> got = events(out);
  std::vector<json> blocks;
  for (const json& event : got) {
    if (event.at("type") == "content_block_start" || event.at("type") == "content_block_delta") {
      blocks.push_back(event);
    }
  }
  EXPECT_EQ(json(blocks), json::parse(R"([
    {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"a","name":"f","input":{}}},
    {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}},
    {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"b","name":"g","input":{}}},
    {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\":"}},
    {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}},
    {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"d","name":"h","input":{}}}])"));
  EXPECT_EQ(got.at(got.size() - 2).at("delta").at("stop_reason"), "tool_use");
}

TEST(AnthropicInboundStream, TextAfterToolReopensNothingAndCountsOn) {
  const std::string out = run_stream(
      {R"(data: {"id":"c","choices":[{"delta":{"content":"a"}}]})"
       "\n\n"
       R"(data: {"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f"}}]}}]})"
       "\n\n"
       R"(data: {"id":"c","choices":[{"delta":{"content":"b"},"finish_reason":"tool_calls"}]})"
       "\n\ndata: [DONE]\n\n"});
  std::vector<std::string> sequence;
  for (const json& event : events(out)) {
    std::string item = event.at("type").get<std::string>();
    if (event.contains("index")) item += std::to_string(event.at("index").get<int>());
    sequence.push_back(item);
  }
  EXPECT_EQ(sequence, (std::vector<std::string>{
                          "message_start", "content_block_start0", "content_block_delta0",
                          "content_block_stop0", "content_block_start1", "content_block_stop1",
                          "content_block_start2", "content_block_delta2", "content_block_stop2",
                          "message_delta", "message_stop"}));
}

TEST(AnthropicInboundStream, RefusalDelta) {
  const std::vector<json> got = events(run_stream(
      {R"(data: {"id":"c","choices":[{"delta":{"role":"assistant","content":null,"refusal":""}}]})"
       "\n\n"
       R"(data: {"id":"c","choices":[{"delta":{"refusal":"I can't help"}}]})"
       "\n\n"
       R"(data: {"id":"c","choices":[{"delta":{},"finish_reason":"stop"}]})"
       "\n\ndata: [DONE]\n\n"}));
  ASSERT_EQ(got.size(), 6U);
  EXPECT_EQ(got[1].at("content_block"), json::parse(R"({"type":"text","text":""})"));
  EXPECT_EQ(got[2].at("delta"), json::parse(R"({"type":"text_delta","text":"I can't help"})"));
  EXPECT_EQ(got[4].at("delta").at("stop_reason"), "refusal");
}

TEST(AnthropicInboundStream, GarbageAndOtherChoicesAreIgnored) {
  const std::string out = run_stream(
      {"data: not json\n\ndata: [1,2]\n\n"
       R"(data: {"id":"c","choices":[{"index":1,"delta":{"content":"other"}},{"index":0,"delta":{"content":5}}]})"
       "\n\ndata: [DONE]\n\n"});
  for (const json& event : events(out)) {
    EXPECT_NE(event.at("type"), "content_block_start") << event.dump();
  }
}

TEST(AnthropicInboundStream, NothingAfterTheEnd) {
  auto translator = openai_stream_to_anthropic(response_options());
  std::string out;
  translator->feed("data: [DONE]\n\n", out);
  const std::string ended = out;
  translator->feed(R"(data: {"id":"c","choices":[{"delta":{"content":"x"}}]})"
                   "\n\n",
                   out);
  translator->finish(out);
  EXPECT_EQ(out, ended);
}

TEST(AnthropicInboundStream, OversizedEventIsDropped) {
  const std::string big(std::size_t{1} << 21, 'x');
  const std::string out = run_stream(
      {R"(data: {"id":"c","choices":[{"delta":{"content":")", big, "\"}}]}\n\n",
       R"(data: {"id":"c","choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]})"
       "\n\n"});
  const std::vector<json> got = events(out);
  ASSERT_EQ(got.size(), 6U);
  EXPECT_EQ(got[2].at("delta").at("text"), "ok");
}

// --- errors ------------------------------------------------------------------------------

json error(unsigned status, std::string_view body) {
  return json::parse(openai_error_to_anthropic(status, body));
}

TEST(AnthropicInboundError, TypeByStatus) {
  const std::string body = fixture("error_openai_400_context.json");
  const std::pair<unsigned, const char*> cases[] = {
      {400, "invalid_request_error"},
      {401, "authentication_error"},
      {403, "permission_error"},
      {404, "not_found_error"},
      {413, "request_too_large"},
      {429, "rate_limit_error"},
      {500, "api_error"},
      {502, "api_error"},
      {503, "overloaded_error"},
      {504, "api_error"},
      {529, "overloaded_error"},
      {408, "invalid_request_error"},
      {422, "invalid_request_error"},
      {200, "api_error"},
  };
  for (const auto& [status, type] : cases) {
    SCOPED_TRACE(status);
    EXPECT_EQ(error(status, body),
              json({{"type", "error"},
                    {"error",
                     {{"type", type},
                      {"message",
                       "This model's maximum context length is 128000 tokens. However, your "
                       "messages resulted in 130412 tokens. Please reduce the length of the "
                       "messages."}}}}));
  }
}

TEST(AnthropicInboundError, OpenAiBodies) {
  EXPECT_EQ(error(429, fixture("error_openai_429.json")).at("error"),
            json::parse(R"({"type":"rate_limit_error","message":"Rate limit reached for gpt-4o in )"
                        R"(organization org-Xq3 on tokens per min (TPM): Limit 30000, Used 29850, )"
                        R"(Requested 1200. Please try again in 2.1s. Visit )"
                        R"(https://platform.openai.com/account/rate-limits to learn more."})"));
  EXPECT_EQ(error(401, fixture("error_openai_401.json")).at("error"),
            json::parse(R"({"type":"authentication_error","message":"Incorrect API key provided: )"
                        R"(sk-proj-****************************abcd. You can find your API key at )"
                        R"(https://platform.openai.com/account/api-keys."})"));
}

TEST(AnthropicInboundError, OtherShapes) {
  // Mistral puts the message at the top level, and for validation errors as an object.
  EXPECT_EQ(error(422, fixture("error_mistral_422.json")).at("error").at("message"),
            R"({"detail":[{"type":"missing","loc":["body","messages"],"msg":"Field required",)"
            R"("input":{"model":"mistral-small-latest"}}]})");
  EXPECT_EQ(error(400, R"({"error":"model not found"})").at("error").at("message"),
            "model not found");
  EXPECT_EQ(
      error(502, fixture("error_nginx_502.html")),
      json({{"type", "error"},
            {"error", {{"type", "api_error"}, {"message", fixture("error_nginx_502.html")}}}}));
  EXPECT_EQ(error(503, "").at("error").at("message"),
            "the provider answered HTTP 503 with an empty body");
  EXPECT_EQ(error(500, R"({"error":{"code":"x"}})").at("error").at("message"),
            R"({"error":{"code":"x"}})");
}

TEST(AnthropicInboundError, LongBodyClippedOnACharacterBoundary) {
  const std::string body = std::string(999, 'a') + "\xC3\xA9" + std::string(500, 'b');
  const std::string message = error(500, body).at("error").at("message").get<std::string>();
  EXPECT_EQ(message, std::string(999, 'a'));
  // Invalid UTF-8 in a body still gives a valid JSON error.
  EXPECT_EQ(error(500, "bad \xFF byte").at("error").at("message"), "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace aigw::translate
