// OpenAI chat completions clients on a Gemini provider (src/translate/gemini*.cpp): requests,
// whole responses, streams fed split at every byte offset and byte by byte, and error
// bodies, against wire-format fixtures in tests/fixtures/translate/gemini modelled on the
// Gemini API reference (generateContent, streamGenerateContent?alt=sse, Google's errors).

#include "translate/translate.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace aigw::translate {
namespace {

// Expectations are compared as nlohmann::json (keys unordered); fixtures are trusted, so the
// tests parse them with nlohmann directly.
using nlohmann::json;

constexpr std::int64_t kCreated = 1752578491;

std::string fixture(std::string_view name) {
  std::ifstream in(
      std::string(AIGW_SOURCE_DIR) + "/tests/fixtures/translate/gemini/" + std::string(name),
      std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

json fixture_json(std::string_view name) { return json::parse(fixture(name)); }

const RequestOptions kRequestOptions{"gemini-2.5-flash", 4096};

ResponseOptions response_options(bool include_usage = true) {
  ResponseOptions options;
  options.model = "gemini-fallback";
  options.include_usage = include_usage;
  options.id = "chatcmpl-gw-1";
  options.created = kCreated;
  return options;
}

// --- requests --------------------------------------------------------------------------------

json gemini_body(std::string_view openai_request) {
  const Result<TranslatedRequest> translated = openai_to_gemini(openai_request, kRequestOptions);
  EXPECT_TRUE(translated.has_value()) << (translated ? "" : translated.error().detail);
  if (!translated) return nullptr;
  return json::parse(translated->body);
}

// The body of a one-message request with `extra` top-level members.
std::string with(std::string_view extra) {
  return R"({"model":"google-ai-studio/gemini-2.5-flash","messages":[{"role":"user","content":"Hi"}])" +
         std::string(extra.empty() ? "" : ",") + std::string(extra) + "}";
}

const json kHiContents = json::parse(R"([{"role":"user","parts":[{"text":"Hi"}]}])");

void expect_refused(std::string_view openai_request, ErrorCode code, std::string_view param,
                    std::string_view message) {
  const Result<TranslatedRequest> translated = openai_to_gemini(openai_request, kRequestOptions);
  ASSERT_FALSE(translated.has_value()) << translated->body;
  EXPECT_EQ(translated.error().code, code) << code_name(translated.error().code);
  EXPECT_EQ(translated.error().param, param);
  EXPECT_EQ(translated.error().detail, message);
}

void expect_unsupported(std::string_view openai_request, std::string_view param,
                        std::string_view message) {
  expect_refused(openai_request, ErrorCode::kUnsupportedParameter, param, message);
}

void expect_malformed(std::string_view openai_request, std::string_view param,
                      std::string_view message) {
  expect_refused(openai_request, ErrorCode::kBadRequest, param, message);
}

TEST(GeminiRequest, PlainTextHasNoModelInTheBody) {
  const Result<TranslatedRequest> translated = openai_to_gemini(
      R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Hello"}]})",
      kRequestOptions);
  ASSERT_TRUE(translated.has_value());
  EXPECT_EQ(translated->body, R"({"contents":[{"role":"user","parts":[{"text":"Hello"}]}]})");
  EXPECT_FALSE(translated->stream);
  EXPECT_FALSE(translated->include_usage);
}

TEST(GeminiRequest, ConversationWithToolsMatchesTheFixture) {
  // System and developer messages, merged user turns, tool calls and their results (ids
  // resolved to names, call_0 reused by a later turn), schema cleaning, silent drops.
  const Result<TranslatedRequest> translated =
      openai_to_gemini(fixture("request_conversation.json"), kRequestOptions);
  ASSERT_TRUE(translated.has_value()) << translated.error().detail;
  EXPECT_EQ(json::parse(translated->body), fixture_json("request_conversation.gemini.json"));
  EXPECT_TRUE(translated->stream);
  EXPECT_TRUE(translated->include_usage);
}

TEST(GeminiRequest, SystemAndDeveloperMessagesBecomeOneSystemInstruction) {
  const json body = gemini_body(R"({"messages":[
    {"role":"developer","content":"Rule one."},
    {"role":"user","content":"Hi"},
    {"role":"system","content":[{"type":"text","text":"Rule two."},{"type":"text","text":""}]}]})");
  EXPECT_EQ(body, json::parse(R"({"contents":[{"role":"user","parts":[{"text":"Hi"}]}],
    "systemInstruction":{"parts":[{"text":"Rule one."},{"text":"Rule two."}]}})"));
}

TEST(GeminiRequest, MergesConsecutiveTurnsOfOneRole) {
  const json body = gemini_body(R"({"messages":[
    {"role":"user","content":"a"},{"role":"user","content":"b"},
    {"role":"assistant","content":"c"},{"role":"assistant","content":[{"type":"text","text":"d"},
      {"type":"refusal","refusal":"e"}]},
    {"role":"assistant","content":""},
    {"role":"user","content":"f"}]})");
  EXPECT_EQ(body["contents"], json::parse(R"([
    {"role":"user","parts":[{"text":"a"},{"text":"b"}]},
    {"role":"model","parts":[{"text":"c"},{"text":"d"},{"text":"e"}]},
    {"role":"user","parts":[{"text":"f"}]}])"));
}

TEST(GeminiRequest, ImagesFromDataUrlsAndHttpUrls) {
  EXPECT_EQ(gemini_body(fixture("request_images.json")),
            fixture_json("request_images.gemini.json"));
}

TEST(GeminiRequest, EveryToolChoice) {
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}])";
  const auto config = [&](std::string_view choice) {
    return gemini_body(with(tools + ",\"tool_choice\":" + std::string(choice)))["toolConfig"];
  };
  EXPECT_EQ(config(R"("auto")"), json::parse(R"({"functionCallingConfig":{"mode":"AUTO"}})"));
  EXPECT_EQ(config(R"("required")"), json::parse(R"({"functionCallingConfig":{"mode":"ANY"}})"));
  EXPECT_EQ(config(R"("none")"), json::parse(R"({"functionCallingConfig":{"mode":"NONE"}})"));
  EXPECT_EQ(config(R"({"type":"function","function":{"name":"get_weather"}})"),
            json::parse(R"({"functionCallingConfig":{"mode":"ANY",
                                                     "allowedFunctionNames":["get_weather"]}})"));
  const json body = gemini_body(with(tools));
  EXPECT_FALSE(body.contains("toolConfig"));
  EXPECT_EQ(body["tools"], json::parse(R"([{"functionDeclarations":[
    {"name":"get_weather","parameters":{"type":"object"}}]}])"));
  EXPECT_FALSE(gemini_body(with(R"("tools":[])")).contains("tools"));
}

TEST(GeminiRequest, ToolResultRoundTripResolvesNamesFromTheIdsTheClientGotBack) {
  // The response names its calls call_0, call_1, call_2 (generated) and fc-7f3a (Gemini's);
  // the client resends that assistant message with one result per call.
  const Result<std::string> response =
      gemini_response_to_openai(fixture("response_function_calls.json"), response_options());
  ASSERT_TRUE(response.has_value());
  const json assistant = json::parse(*response)["choices"][0]["message"];
  json request = {
      {"model", "gemini-2.5-flash"},
      {"messages", json::array({{{"role", "user"}, {"content", "Plan my evening"}}, assistant})}};
  for (const json& call : assistant["tool_calls"]) {
    request["messages"].push_back(
        {{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "ok"}});
  }
  const json body = gemini_body(request.dump());
  ASSERT_EQ(body["contents"].size(), 3U);
  EXPECT_EQ(body["contents"][1], json::parse(R"({"role":"model","parts":[
    {"text":"Checking both cities."},
    {"functionCall":{"name":"get_weather","args":{"city":"Paris","unit":"celsius"}}},
    {"functionCall":{"name":"get_weather","args":{"city":"Tokyo","unit":"celsius"}}},
    {"functionCall":{"name":"get_time","args":{}}},
    {"functionCall":{"name":"find_restaurant","args":{"city":"Tokyo",
                                                      "filters":{"open_now":true,"tags":["sushi"]}}}}]})"));
  EXPECT_EQ(body["contents"][2], json::parse(R"({"role":"user","parts":[
    {"functionResponse":{"name":"get_weather","response":{"result":"ok"}}},
    {"functionResponse":{"name":"get_weather","response":{"result":"ok"}}},
    {"functionResponse":{"name":"get_time","response":{"result":"ok"}}},
    {"functionResponse":{"name":"find_restaurant","response":{"result":"ok"}}}]})"));
}

TEST(GeminiRequest, GenerationConfigFields) {
  const json body = gemini_body(with(R"("temperature":0.7,"top_p":0.9,"max_tokens":100,
    "max_completion_tokens":256,"stop":["END","STOP"],"n":2,"seed":42,"presence_penalty":0.5,
    "frequency_penalty":-0.25)"));
  EXPECT_EQ(body["generationConfig"], json::parse(R"({"temperature":0.7,"topP":0.9,
    "maxOutputTokens":256,"stopSequences":["END","STOP"],"candidateCount":2,"seed":42,
    "presencePenalty":0.5,"frequencyPenalty":-0.25})"));
  EXPECT_EQ(
      gemini_body(with(
          R"("max_tokens":100,"stop":"END","max_completion_tokens":null)"))["generationConfig"],
      json::parse(R"({"maxOutputTokens":100,"stopSequences":["END"]})"));
  // Nulls are "not set", as the OpenAI SDKs send them.
  EXPECT_EQ(gemini_body(with(R"("temperature":null,"stop":null,"n":null)")),
            json({{"contents", kHiContents}}));
}

TEST(GeminiRequest, JsonModeAndJsonSchema) {
  EXPECT_EQ(gemini_body(with(R"("response_format":{"type":"json_object"})"))["generationConfig"],
            json::parse(R"({"responseMimeType":"application/json"})"));
  // responseJsonSchema takes JSON Schema: the schema passes as given, additionalProperties
  // included.
  EXPECT_EQ(gemini_body(with(R"("response_format":{"type":"json_schema","json_schema":{
      "name":"person","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"}},
      "required":["name"],"additionalProperties":false}}})"))["generationConfig"],
            json::parse(R"({"responseMimeType":"application/json","responseJsonSchema":{
      "type":"object","properties":{"name":{"type":"string"}},"required":["name"],
      "additionalProperties":false}})"));
  EXPECT_FALSE(
      gemini_body(with(R"("response_format":{"type":"text"})")).contains("generationConfig"));
}

TEST(GeminiRequest, Logprobs) {
  EXPECT_EQ(gemini_body(with(R"("logprobs":true,"top_logprobs":3)"))["generationConfig"],
            json::parse(R"({"responseLogprobs":true,"logprobs":3})"));
  // top_logprobs means nothing without logprobs, for OpenAI as for Gemini.
  EXPECT_FALSE(
      gemini_body(with(R"("logprobs":false,"top_logprobs":3)")).contains("generationConfig"));
}

TEST(GeminiRequest, DropsWhatGeminiHasNoUseFor) {
  EXPECT_EQ(gemini_body(with(R"("user":"u-1","store":true,"metadata":{"k":"v"},
    "service_tier":"flex","parallel_tool_calls":false,"logit_bias":{},"reasoning_effort":"high",
    "prediction":{"type":"content","content":"x"},"modalities":["text"],"stream":false,
    "stream_options":{"include_usage":true},"some_future_field":1)")),
            json({{"contents", kHiContents}}));
  // include_usage only matters for a stream.
  const Result<TranslatedRequest> translated =
      openai_to_gemini(with(R"("stream_options":{"include_usage":true})"), kRequestOptions);
  ASSERT_TRUE(translated.has_value());
  EXPECT_FALSE(translated->stream);
  EXPECT_FALSE(translated->include_usage);
}

TEST(GeminiRequest, AssistantToolCallsWithoutTextAndArgumentsForms) {
  const json body = gemini_body(R"({"messages":[{"role":"user","content":"go"},
    {"role":"assistant","content":"","tool_calls":[
      {"id":"a","type":"function","function":{"name":"f","arguments":" "}},
      {"id":"b","function":{"name":"g"}},
      {"id":"c","type":"function","function":{"name":"h","arguments":"{\"x\":[1,{\"y\":null}]}"}}]},
    {"role":"tool","tool_call_id":"c","content":null}]})");
  EXPECT_EQ(body["contents"][1], json::parse(R"({"role":"model","parts":[
    {"functionCall":{"name":"f","args":{}}},{"functionCall":{"name":"g","args":{}}},
    {"functionCall":{"name":"h","args":{"x":[1,{"y":null}]}}}]})"));
  EXPECT_EQ(body["contents"][2], json::parse(R"({"role":"user","parts":[
    {"functionResponse":{"name":"h","response":{"result":""}}}]})"));
}

// --- request refusals ------------------------------------------------------------------------

TEST(GeminiRequest, RefusesWhatGeminiCannotHonour) {
  expect_unsupported(with(R"("functions":[{"name":"f"}])"), "functions",
                     "functions (the deprecated form of tools) is not supported by the Gemini "
                     "provider; use tools");
  expect_unsupported(with(R"("function_call":"auto")"), "function_call",
                     "function_call (the deprecated form of tool_choice) is not supported by the "
                     "Gemini provider; use tool_choice");
  expect_unsupported(with(R"("audio":{"voice":"alloy","format":"wav"})"), "audio",
                     "audio output is not supported by the Gemini provider on /compat");
  expect_unsupported(with(R"("modalities":["text","audio"])"), "modalities",
                     "modalities \"audio\" is not supported by the Gemini provider on /compat");
  expect_unsupported(with(R"("logit_bias":{"50256":-100})"), "logit_bias",
                     "logit_bias is not supported by the Gemini provider");
  expect_unsupported(
      with(R"("tools":[{"type":"function","function":{"name":"f"}},{"type":"web_search"}])"),
      "tools[1].type",
      "tools[1].type \"web_search\" is not supported by the Gemini provider; only \"function\" "
      "tools are");
  expect_unsupported(with(R"("tool_choice":"sometimes")"), "tool_choice",
                     "tool_choice \"sometimes\" is not supported by the Gemini provider; use "
                     "\"auto\", \"required\", \"none\" or a function");
  expect_unsupported(
      with(R"("tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}})"),
      "tool_choice",
      "tool_choice must be \"auto\", \"required\", \"none\" or "
      "{\"type\":\"function\",\"function\":{\"name\":...}} for the Gemini provider");
  expect_unsupported(with(R"("response_format":{"type":"grammar"})"), "response_format.type",
                     "response_format.type \"grammar\" is not supported by the Gemini provider; "
                     "use \"text\", \"json_object\" or \"json_schema\"");
}

TEST(GeminiRequest, RefusesMessagesGeminiCannotCarry) {
  expect_unsupported(
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"Listen"},
        {"type":"input_audio","input_audio":{"data":"UklGR","format":"wav"}}]}]})",
      "messages[0].content[1].type",
      "messages[0].content[1].type \"input_audio\" is not supported by the Gemini provider; only "
      "text and image_url parts are");
  expect_unsupported(
      R"({"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},
        {"role":"user","content":"Hi"}]})",
      "messages[0].content[0].type",
      "messages[0].content[0].type \"image_url\" is not supported by the Gemini provider; only "
      "text parts are");
  expect_unsupported(
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]})",
      "messages[0].content[0].image_url.url",
      "messages[0].content[0].image_url.url must be a data: URL or an http(s) URL for the Gemini "
      "provider");
  expect_unsupported(
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,rawbytes"}}]}]})",
      "messages[0].content[0].image_url.url",
      "messages[0].content[0].image_url.url must be a base64 data: URL with a media type "
      "(data:image/png;base64,...) for the Gemini provider");
  expect_unsupported(
      R"({"messages":[{"role":"user","content":"go"},{"role":"assistant","tool_calls":[
        {"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},
        {"id":"b","type":"function","function":{"name":"g","arguments":"{\"city\":"}}]}]})",
      "messages[1].tool_calls[1].function.arguments",
      "messages[1].tool_calls[1].function.arguments must be a JSON object: the Gemini provider "
      "takes function call arguments as an object");
  expect_unsupported(
      R"({"messages":[{"role":"user","content":"go"},{"role":"assistant","tool_calls":[
        {"id":"a","type":"function","function":{"name":"f","arguments":"[1,2]"}}]}]})",
      "messages[1].tool_calls[0].function.arguments",
      "messages[1].tool_calls[0].function.arguments must be a JSON object: the Gemini provider "
      "takes function call arguments as an object");
  expect_unsupported(
      R"({"messages":[{"role":"user","content":"go"},{"role":"assistant","tool_calls":[
        {"id":"a","type":"custom","custom":{"name":"f","input":"x"}}]}]})",
      "messages[1].tool_calls[0].type",
      "messages[1].tool_calls[0].type \"custom\" is not supported by the Gemini provider; only "
      "\"function\" is");
  expect_unsupported(
      R"({"messages":[{"role":"user","content":"go"},{"role":"assistant","tool_calls":[
        {"id":"call_0","type":"function","function":{"name":"f","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"call_9","content":"done"}]})",
      "messages[2].tool_call_id",
      "messages[2].tool_call_id \"call_9\" matches no tool call of an earlier assistant message; "
      "the Gemini provider needs the called function's name");
  // A result before its call is as unknown as a made-up id.
  expect_unsupported(
      R"({"messages":[{"role":"user","content":"go"},{"role":"tool","tool_call_id":"call_0","content":"x"},
        {"role":"assistant","tool_calls":[{"id":"call_0","type":"function","function":{"name":"f"}}]}]})",
      "messages[1].tool_call_id",
      "messages[1].tool_call_id \"call_0\" matches no tool call of an earlier assistant message; "
      "the Gemini provider needs the called function's name");
  expect_unsupported(
      R"({"messages":[{"role":"user","content":"go"},{"role":"function","name":"f","content":"x"}]})",
      "messages[1].role",
      "messages[1].role \"function\" (the deprecated form of tool results) is not supported by "
      "the Gemini provider; use role \"tool\"");
  expect_unsupported(R"({"messages":[{"role":"system","content":"Be nice."}]})", "messages",
                     "messages must hold at least one user, assistant or tool message: the Gemini "
                     "provider needs contents besides the system instruction");
}

TEST(GeminiRequest, RefusesMalformedRequests) {
  expect_refused("[1,2]", ErrorCode::kInvalidJson, "", "request body is not a JSON object");
  expect_refused("{\"messages\":", ErrorCode::kInvalidJson, "",
                 "request body is not a JSON object");
  expect_malformed(R"({"model":"m"})", "messages", "messages must be a non-empty array");
  expect_malformed(R"({"messages":[]})", "messages", "messages must be a non-empty array");
  expect_malformed(R"({"messages":["hi"]})", "messages[0]", "messages[0] must be an object");
  expect_malformed(R"({"messages":[{"role":"robot","content":"hi"}]})", "messages[0].role",
                   "messages[0].role must be one of system, developer, user, assistant, tool");
  expect_malformed(R"({"messages":[{"role":"user","content":42}]})", "messages[0].content",
                   "messages[0].content must be a string or an array of content parts");
  expect_malformed(R"({"messages":[{"role":"user","content":[{"type":"text","text":7}]}]})",
                   "messages[0].content[0].text", "messages[0].content[0].text must be a string");
  expect_malformed(
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":1}}]}]})",
      "messages[0].content[0].image_url.url",
      "messages[0].content[0].image_url.url must be a string");
  expect_malformed(R"({"messages":[{"role":"assistant","tool_calls":{"id":"a"}}]})",
                   "messages[0].tool_calls", "messages[0].tool_calls must be an array");
  expect_malformed(R"({"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{}}]}]})",
                   "messages[0].tool_calls[0].function.name",
                   "messages[0].tool_calls[0].function.name must be a string");
  expect_malformed(R"({"messages":[{"role":"tool","content":"x"}]})", "messages[0].tool_call_id",
                   "messages[0].tool_call_id must be a non-empty string");
  expect_malformed(with(R"("tools":{"type":"function"})"), "tools", "tools must be an array");
  expect_malformed(with(R"("tools":[{"type":"function","function":{"description":"x"}}])"),
                   "tools[0].function.name", "tools[0].function.name must be a string");
  expect_malformed(with(R"("tools":[{"type":"function","function":{"name":"f","description":1}}])"),
                   "tools[0].function.description",
                   "tools[0].function.description must be a string");
  expect_malformed(with(R"("tools":[{"type":"function","function":{"name":"f","parameters":[]}}])"),
                   "tools[0].function.parameters",
                   "tools[0].function.parameters must be a JSON Schema object");
  expect_malformed(with(R"("temperature":"hot")"), "temperature", "temperature must be a number");
  expect_malformed(with(R"("max_tokens":12.5)"), "max_tokens", "max_tokens must be an integer");
  expect_malformed(with(R"("max_tokens":1,"max_completion_tokens":"many")"),
                   "max_completion_tokens", "max_completion_tokens must be an integer");
  expect_malformed(with(R"("stop":["a",1])"), "stop",
                   "stop must be a string or an array of strings");
  expect_malformed(with(R"("logprobs":"yes")"), "logprobs", "logprobs must be a boolean");
  expect_malformed(with(R"("response_format":{"type":"json_schema","json_schema":{"schema":"x"}})"),
                   "response_format.json_schema.schema",
                   "response_format.json_schema.schema must be a JSON Schema object");
  expect_malformed(with(R"("stream":"yes")"), "stream", "stream must be a boolean");
  expect_malformed(with(R"("stream":true,"stream_options":true)"), "stream_options",
                   "stream_options must be an object");
  expect_malformed(with(R"("stream":true,"stream_options":{"include_usage":1})"),
                   "stream_options.include_usage",
                   "stream_options.include_usage must be a boolean");
}

TEST(GeminiRequest, ErrorMessagesClipWhatTheClientSent) {
  const std::string id(5000, 'x');
  const Result<TranslatedRequest> translated = openai_to_gemini(
      R"({"messages":[{"role":"user","content":"go"},{"role":"tool","tool_call_id":")" + id +
          R"(","content":"x"}]})",
      kRequestOptions);
  ASSERT_FALSE(translated.has_value());
  EXPECT_LT(translated.error().detail.size(), 400U);
}

// --- whole responses -------------------------------------------------------------------------

json openai_response(std::string_view gemini, const ResponseOptions& options = response_options()) {
  const Result<std::string> translated = gemini_response_to_openai(gemini, options);
  EXPECT_TRUE(translated.has_value()) << (translated ? "" : translated.error().detail);
  if (!translated) return nullptr;
  return json::parse(*translated);
}

TEST(GeminiResponse, MatchesTheFixtures) {
  for (const std::string name :
       {"response_text", "response_function_calls", "response_thoughts", "response_safety",
        "response_prompt_blocked", "response_two_candidates"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(openai_response(fixture(name + ".json")), fixture_json(name + ".openai.json"));
  }
}

TEST(GeminiResponse, LogprobsBecomeOpenAiLogprobs) {
  const json choice = openai_response(fixture("response_logprobs.json"))["choices"][0];
  EXPECT_EQ(choice["logprobs"], json::parse(R"({"content":[
    {"token":"Yes","logprob":-0.01,"bytes":[89,101,115],"top_logprobs":[
      {"token":"Yes","logprob":-0.01,"bytes":[89,101,115]},
      {"token":"No","logprob":-4.6,"bytes":[78,111]}]},
    {"token":",","logprob":-0.2,"bytes":[44],"top_logprobs":[
      {"token":",","logprob":-0.2,"bytes":[44]},{"token":".","logprob":-1.8,"bytes":[46]}]},
    {"token":" café","logprob":-0.42,"bytes":[32,99,97,102,195,169],"top_logprobs":[
      {"token":" café","logprob":-0.42,"bytes":[32,99,97,102,195,169]}]}],
    "refusal":null})"));
}

TEST(GeminiResponse, FinishReasons) {
  const auto reason = [](std::string_view gemini, bool call) {
    const std::string part =
        call ? R"({"functionCall":{"name":"f","args":{}}})" : R"({"text":"x"})";
    const json out =
        openai_response(R"({"candidates":[{"content":{"role":"model","parts":[)" + part +
                        R"(]},"finishReason":")" + std::string(gemini) + R"("}]})");
    return out["choices"][0]["finish_reason"].get<std::string>();
  };
  EXPECT_EQ(reason("STOP", false), "stop");
  EXPECT_EQ(reason("STOP", true), "tool_calls");
  EXPECT_EQ(reason("MAX_TOKENS", false), "length");
  EXPECT_EQ(reason("MAX_TOKENS", true), "length");
  for (const char* filtered : {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                               "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}) {
    EXPECT_EQ(reason(filtered, false), "content_filter") << filtered;
  }
  for (const char* other : {"MALFORMED_FUNCTION_CALL", "OTHER", "LANGUAGE",
                            "FINISH_REASON_UNSPECIFIED", "SOMETHING_NEW"}) {
    EXPECT_EQ(reason(other, false), "stop") << other;
    EXPECT_EQ(reason(other, true), "stop") << other;
  }
}

TEST(GeminiResponse, FallsBackToTheOptionsForIdAndModel) {
  const json out =
      openai_response(R"({"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]}}]})");
  EXPECT_EQ(out, json::parse(R"({"id":"chatcmpl-gw-1","object":"chat.completion",
    "created":1752578491,"model":"gemini-fallback","choices":[{"index":0,
    "message":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":"stop"}]})"));
}

TEST(GeminiResponse, RefusesWhatIsNotAGeminiResponse) {
  for (const std::string_view body :
       {std::string_view("not json"), std::string_view("[]"), std::string_view("{}"),
        std::string_view(R"({"error":{"code":500,"message":"x","status":"INTERNAL"}})"),
        std::string_view(R"({"candidates":5})"), std::string_view(R"("text")"),
        std::string_view(R"({"choices":[]})")}) {
    const Result<std::string> out = gemini_response_to_openai(body, response_options());
    ASSERT_FALSE(out.has_value()) << body;
    EXPECT_EQ(out.error().code, ErrorCode::kUpstreamProtocol) << body;
  }
}

TEST(GeminiResponse, ToleratesWrongTypesInsideAResponse) {
  const json out = openai_response(R"({"candidates":[{"content":{"parts":[{"text":5},
    {"functionCall":{"name":7,"args":"x"}},{"thought":"yes","text":"t"}]},"finishReason":3,
    "index":"one"}],"usageMetadata":{"promptTokenCount":"9","totalTokenCount":-1}})");
  EXPECT_EQ(out["choices"][0]["message"], json::parse(R"({"role":"assistant","content":"t",
    "tool_calls":[{"id":"call_0","type":"function","function":{"name":"","arguments":"\"x\""}}]})"));
  EXPECT_EQ(out["usage"]["prompt_tokens"], 0);
  EXPECT_EQ(out["usage"]["total_tokens"], 0);
}

// --- streams ---------------------------------------------------------------------------------

std::string run_stream(std::string_view body, const ResponseOptions& options,
                       const std::vector<std::size_t>& cuts) {
  const auto translator = gemini_stream_to_openai(options);
  std::string out;
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    translator->feed(body.substr(from, cut - from), out);
    from = cut;
  }
  translator->feed(body.substr(from), out);
  translator->finish(out);
  return out;
}

// The output of one feed; checks that every split gives the same bytes.
std::string translate_stream(std::string_view body, const ResponseOptions& options) {
  const std::string whole = run_stream(body, options, {});
  for (std::size_t k = 0; k <= body.size(); ++k) {
    const std::string split = run_stream(body, options, {k});
    if (split != whole) {
      ADD_FAILURE() << "split at " << k << " differs:\n" << split;
      break;
    }
  }
  std::vector<std::size_t> every(body.size());
  for (std::size_t k = 0; k < body.size(); ++k) every[k] = k;
  EXPECT_EQ(run_stream(body, options, every), whole) << "byte by byte";
  return whole;
}

// The events of a client stream, each checked to be `data: <payload>\n\n`; [DONE] as a string.
std::vector<json> events(std::string_view out) {
  std::vector<json> parsed;
  while (!out.empty()) {
    EXPECT_EQ(out.substr(0, 6), "data: ");
    const std::size_t end = out.find("\n\n");
    if (out.substr(0, 6) != "data: " || end == std::string_view::npos) {
      ADD_FAILURE() << "not an SSE event: " << out;
      break;
    }
    const std::string_view payload = out.substr(6, end - 6);
    parsed.push_back(payload == "[DONE]" ? json("[DONE]") : json::parse(payload));
    out.remove_prefix(end + 2);
  }
  return parsed;
}

std::vector<json> expected_events(std::string_view name, bool include_usage) {
  std::vector<json> parsed;
  std::istringstream lines(fixture(name));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    json event = line == "[DONE]" ? json("[DONE]") : json::parse(line);
    if (!include_usage && event.is_object() && event.contains("usage")) continue;
    parsed.push_back(std::move(event));
  }
  return parsed;
}

void expect_stream(std::string_view name) {
  for (const bool include_usage : {true, false}) {
    SCOPED_TRACE(std::string(name) + (include_usage ? " with usage" : " without usage"));
    const std::string out =
        translate_stream(fixture(std::string(name) + ".sse"), response_options(include_usage));
    EXPECT_EQ(events(out), expected_events(std::string(name) + ".openai.jsonl", include_usage));
  }
}

TEST(GeminiStream, TextOverSeveralChunksWithThoughtsAndTheLastUsage) {
  expect_stream("stream_text");
}

TEST(GeminiStream, FunctionCallsArriveWhole) { expect_stream("stream_function_call"); }

TEST(GeminiStream, SafetyStop) { expect_stream("stream_safety"); }

TEST(GeminiStream, BlockedPrompt) { expect_stream("stream_prompt_blocked"); }

TEST(GeminiStream, ErrorEventEndsTheStream) { expect_stream("stream_error"); }

TEST(GeminiStream, CutOffStreamEndsWithoutAFinishReason) { expect_stream("stream_cut"); }

TEST(GeminiStream, TwoCandidatesAreTwoChoices) { expect_stream("stream_two_candidates"); }

TEST(GeminiStream, ExactBytesOfAShortStream) {
  const std::string out = translate_stream(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},"
      "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":2,"
      "\"candidatesTokenCount\":1,\"totalTokenCount\":3},\"modelVersion\":\"gemini-2.0-flash\","
      "\"responseId\":\"r1\"}\r\n\r\n",
      response_options());
  const std::string head =
      R"(data: {"id":"r1","object":"chat.completion.chunk","created":1752578491,)"
      R"("model":"gemini-2.0-flash","choices":)";
  EXPECT_EQ(out, head +
                     R"([{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,)"
                     R"("finish_reason":null}]})"
                     "\n\n" +
                     head +
                     R"([{"index":0,"delta":{"content":"Hi"},"logprobs":null,)"
                     R"("finish_reason":null}]})"
                     "\n\n" +
                     head +
                     R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})"
                     "\n\n" +
                     head +
                     R"([],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3,)"
                     R"("prompt_tokens_details":{"cached_tokens":0},)"
                     R"("completion_tokens_details":{"reasoning_tokens":0}}})"
                     "\n\n"
                     "data: [DONE]\n\n");
}

TEST(GeminiStream, LastEventWithoutItsBlankLineStillCounts) {
  const std::string out = translate_stream(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},"
      "\"finishReason\":\"STOP\"}]}",
      response_options(false));
  const std::vector<json> got = events(out);
  ASSERT_EQ(got.size(), 4U);
  EXPECT_EQ(got[1]["choices"][0]["delta"], json({{"content", "Hi"}}));
  EXPECT_EQ(got[2]["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(got[1]["id"], "chatcmpl-gw-1");
  EXPECT_EQ(got[1]["model"], "gemini-fallback");
  EXPECT_EQ(got[3], "[DONE]");
}

TEST(GeminiStream, EmptyBodyIsJustDone) {
  EXPECT_EQ(translate_stream("", response_options()), "data: [DONE]\n\n");
  EXPECT_EQ(translate_stream(": keep-alive\r\n\r\ndata: not json\r\n\r\n", response_options()),
            "data: [DONE]\n\n");
}

TEST(GeminiStream, ErrorFirstWithoutStatus) {
  const std::string out = translate_stream(
      "data: {\"error\":{\"code\":500,\"message\":\"Internal error encountered.\"}}\r\n\r\n",
      response_options());
  EXPECT_EQ(out,
            "data: {\"error\":{\"message\":\"Internal error encountered.\",\"type\":"
            "\"upstream_error\",\"code\":\"500\"}}\n\ndata: [DONE]\n\n");
}

TEST(GeminiStream, LogprobsRideOnTheTextDelta) {
  const std::string out = translate_stream(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Yes\"}]},\"logprobsResult\":"
      "{\"topCandidates\":[{\"candidates\":[{\"token\":\"Yes\",\"logProbability\":-0.5}]}],"
      "\"chosenCandidates\":[{\"token\":\"Yes\",\"logProbability\":-0.5}]}}]}\n\n",
      response_options(false));
  const std::vector<json> got = events(out);
  ASSERT_EQ(got.size(), 3U);  // role, text, [DONE]: the stream was cut before its finishReason
  EXPECT_EQ(got[1]["choices"][0]["logprobs"], json::parse(R"({"content":[{"token":"Yes",
    "logprob":-0.5,"bytes":[89,101,115],"top_logprobs":[{"token":"Yes","logprob":-0.5,
    "bytes":[89,101,115]}]}],"refusal":null})"));
}

TEST(GeminiStream, OversizedEventIsDroppedAndTheStreamGoesOn) {
  std::string body = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"";
  body.append(std::size_t{1} << 21, 'a');
  body +=
      "\"}]}}]}\n\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ok\"}]},"
      "\"finishReason\":\"STOP\"}]}\n\n";
  const auto translator = gemini_stream_to_openai(response_options(false));
  std::string out;
  translator->feed(body, out);
  translator->finish(out);
  const std::vector<json> got = events(out);
  ASSERT_EQ(got.size(), 4U);
  EXPECT_EQ(got[1]["choices"][0]["delta"], json({{"content", "ok"}}));
}

// --- errors ----------------------------------------------------------------------------------

TEST(GeminiError, GoogleErrorObject) {
  EXPECT_EQ(json::parse(gemini_error_to_openai(429, fixture("error_rate_limit.json"))),
            json::parse(R"({"error":{"message":"You exceeded your current quota, please check )"
                        R"(your plan and billing details.","type":"resource_exhausted",)"
                        R"("param":null,"code":"RESOURCE_EXHAUSTED"}})"));
}

TEST(GeminiError, ArrayWrappedGoogleError) {
  EXPECT_EQ(json::parse(gemini_error_to_openai(400, fixture("error_array_wrapped.json"))),
            json::parse(R"({"error":{"message":"* GenerateContentRequest.contents[1].parts[0].)"
                        R"(function_response.name: Name cannot be empty.\n",)"
                        R"("type":"invalid_argument","param":null,"code":"INVALID_ARGUMENT"}})"));
}

TEST(GeminiError, ErrorWithoutStatusUsesItsCode) {
  EXPECT_EQ(
      json::parse(gemini_error_to_openai(
          500, R"({"error":{"code":503,"message":"The service is currently unavailable."}})")),
      json::parse(R"({"error":{"message":"The service is currently unavailable.",)"
                  R"("type":"upstream_error","param":null,"code":"503"}})"));
}

TEST(GeminiError, OtherBodiesBecomeTheMessage) {
  const std::string html = fixture("error_html.html");
  EXPECT_EQ(json::parse(gemini_error_to_openai(502, html)), json({{"error",
                                                                   {{"message", html},
                                                                    {"type", "upstream_error"},
                                                                    {"param", nullptr},
                                                                    {"code", "502"}}}}));
  EXPECT_EQ(json::parse(gemini_error_to_openai(503, "")),
            json::parse(R"({"error":{"message":"the Gemini provider answered HTTP 503 with no )"
                        R"(body","type":"upstream_error","param":null,"code":"503"}})"));
  EXPECT_EQ(json::parse(gemini_error_to_openai(500, "[]"))["error"]["message"], "[]");
  EXPECT_EQ(json::parse(gemini_error_to_openai(500, R"({"error":"quota"})"))["error"]["message"],
            R"({"error":"quota"})");
}

TEST(GeminiError, LongBodiesAreClippedToValidUtf8) {
  std::string body = "x";
  for (int i = 0; i < 3000; ++i) body += "\xC3\xA9";  // é: the 1000-byte cut falls mid-character
  const json out = json::parse(gemini_error_to_openai(500, body));
  const std::string message = out["error"]["message"];
  EXPECT_EQ(message, "x" + std::string(body.substr(1, 998)));
  EXPECT_EQ(message.size(), 999U);
  // Invalid bytes are replaced, never thrown on.
  const json invalid = json::parse(gemini_error_to_openai(500, "bad \xFF byte"));
  EXPECT_EQ(invalid["error"]["message"], "bad \xEF\xBF\xBD byte");
  // A Google message is clipped alike.
  const json google = json::parse(gemini_error_to_openai(
      400, R"({"error":{"code":400,"status":"INVALID_ARGUMENT","message":")" +
               std::string(5000, 'm') + "\"}}"));
  EXPECT_EQ(google["error"]["message"].get<std::string>().size(), 1000U);
}

}  // namespace
}  // namespace aigw::translate

namespace aigw::translate {
namespace {

using nlohmann::json;

// --- Gemini 3 thought signatures ----------------------------------------------------------

TEST(GeminiThoughtSignature, RidesInTheToolCallIdAndGoesBackOnTheCallsPart) {
  const std::string gemini =
      R"({"candidates":[{"content":{"role":"model","parts":[)"
      R"({"functionCall":{"name":"get_weather","args":{"city":"Paris"}},)"
      R"("thoughtSignature":"CiQB0e2Kb+sig/=="},)"
      R"({"functionCall":{"name":"get_time","args":{}}}]},"finishReason":"STOP"}],)"
      R"("usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":7}})";
  const Result<std::string> whole = gemini_response_to_openai(gemini, ResponseOptions{});
  ASSERT_TRUE(whole.has_value());
  const json assistant = json::parse(*whole)["choices"][0]["message"];
  ASSERT_EQ(assistant["tool_calls"].size(), 2U);
  EXPECT_EQ(assistant["tool_calls"][0]["id"], "call_0__thought__CiQB0e2Kb+sig/==");
  EXPECT_EQ(assistant["tool_calls"][1]["id"], "call_1");  // only the first call carries one

  // Streamed: the same ids.
  auto stream = gemini_stream_to_openai(ResponseOptions{});
  std::string out;
  stream->feed("data: " + gemini + "\r\n\r\n", out);
  stream->finish(out);
  EXPECT_NE(out.find(R"("id":"call_0__thought__CiQB0e2Kb+sig/==")"), std::string::npos) << out;

  // The next turn: the signature goes back on the call's part, the results still match.
  json request = {
      {"model", "gemini-3-pro"},
      {"messages", json::array({{{"role", "user"}, {"content", "Weather?"}}, assistant})}};
  for (const json& call : assistant["tool_calls"]) {
    request["messages"].push_back(
        {{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "sunny"}});
  }
  const Result<TranslatedRequest> translated =
      openai_to_gemini(request.dump(), RequestOptions{"gemini-3-pro", 4096});
  ASSERT_TRUE(translated.has_value()) << translated.error().detail;
  const json body = json::parse(translated->body);
  EXPECT_EQ(body["contents"][1], json::parse(R"({"role":"model","parts":[
    {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"CiQB0e2Kb+sig/=="},
    {"functionCall":{"name":"get_time","args":{}}}]})"));
  EXPECT_EQ(body["contents"][2]["parts"][0]["functionResponse"]["name"], "get_weather");
}

}  // namespace
}  // namespace aigw::translate
