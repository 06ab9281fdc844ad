// What request bodies and upstream paths say before the provider answers. Expected
// prompt_chars are the code points of each body's text plus the compact JSON length of its
// tool definitions (and tool inputs), computed by hand from the bodies below.

#include "upstream/providers/usage/request_info.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aigw::usage {
namespace {

TEST(InspectRequest, OpenAiChat) {
  const RequestInfo info = inspect_request(UsageFormat::kOpenAiChat, R"({
    "model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
    "max_completion_tokens": 256, "temperature": 0.2,
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": [
        {"type": "text", "text": "Héllo "},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "text", "text": "What is this?"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18°C"}],
    "tools": [{"type": "function", "function": {"name": "get_weather",
      "description": "Weather for a city", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city"]}, "strict": true}}]
  })");
  EXPECT_EQ(info.model, "gpt-4o-mini");
  EXPECT_TRUE(info.stream);
  EXPECT_TRUE(info.include_usage_requested);
  EXPECT_EQ(info.max_output_tokens, 256u);
  // 14 + 6 + 13 + 16 + 4 characters of text, 245 of tools JSON.
  EXPECT_EQ(info.prompt_chars, 298u);
}

TEST(InspectRequest, MaxTokensAndNoStream) {
  const RequestInfo info = inspect_request(
      UsageFormat::kOpenAiChat,
      R"({"model":"m","stream":false,"stream_options":{"include_usage":false},"max_tokens":64,)"
      R"("messages":[{"role":"user","content":"hi"}]})");
  EXPECT_FALSE(info.stream);
  EXPECT_FALSE(info.include_usage_requested);
  EXPECT_EQ(info.max_output_tokens, 64u);
  EXPECT_EQ(info.prompt_chars, 2u);
  EXPECT_FALSE(inspect_request(UsageFormat::kOpenAiChat, R"({"model":"m"})").max_output_tokens);
}

TEST(InspectRequest, AnthropicMessages) {
  const RequestInfo info = inspect_request(UsageFormat::kAnthropicMessages, R"({
    "model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
    "system": [{"type": "text", "text": "Be brief."},
               {"type": "text", "text": "Cache me.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
      {"role": "user", "content": "Weather in Oslo?"},
      {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
         "input": {"location": "Oslo"}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
        "content": "-3°C, snow"}]},
      {"role": "assistant", "content": "It is -3°C."}],
    "tools": [{"name": "get_weather", "description": "Get the weather", "input_schema": {
      "type": "object", "properties": {"location": {"type": "string"}},
      "required": ["location"]}}]
  })");
  EXPECT_EQ(info.model, "claude-sonnet-4-5");
  EXPECT_TRUE(info.stream);
  EXPECT_FALSE(info.include_usage_requested);
  EXPECT_EQ(info.max_output_tokens, 1024u);
  EXPECT_EQ(info.prompt_chars, 240u);
}

TEST(InspectRequest, GeminiNamesItsModelInThePath) {
  const RequestInfo info = inspect_request(UsageFormat::kGemini, R"({
    "systemInstruction": {"parts": [{"text": "You are a poet."}]},
    "contents": [
      {"role": "user", "parts": [{"text": "Write a haiku"}, {"text": "about rain."}]},
      {"role": "model", "parts": [{"text": "Here it is:"},
        {"functionCall": {"name": "lookup", "args": {"q": "rain"}}}]}],
    "tools": [{"functionDeclarations": [{"name": "lookup", "parameters": {"type": "OBJECT",
      "properties": {"q": {"type": "STRING"}}}}]}],
    "generationConfig": {"temperature": 0.9, "maxOutputTokens": 800}
  })");
  EXPECT_EQ(info.model, "");
  EXPECT_FALSE(info.stream);
  EXPECT_EQ(info.max_output_tokens, 800u);
  EXPECT_EQ(info.prompt_chars, 201u);
}

TEST(InspectRequest, OpenAiResponses) {
  const RequestInfo info = inspect_request(UsageFormat::kOpenAiResponses, R"({
    "model": "gpt-4.1", "instructions": "Answer in French.", "max_output_tokens": 500,
    "stream": true,
    "input": [
      {"role": "user", "content": [{"type": "input_text", "text": "Bonjour"}]},
      {"role": "user", "content": "Say hi"},
      {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"x\":1}"},
      {"type": "function_call_output", "call_id": "c1", "output": "42"}]
  })");
  EXPECT_EQ(info.model, "gpt-4.1");
  EXPECT_EQ(info.max_output_tokens, 500u);
  EXPECT_EQ(info.prompt_chars, 39u);
  EXPECT_EQ(
      inspect_request(UsageFormat::kOpenAiResponses, R"({"input":"Tell me a joke"})").prompt_chars,
      14u);
}

TEST(InspectRequest, EmbeddingsCompletionsAndWorkersAi) {
  EXPECT_EQ(inspect_request(UsageFormat::kOpenAiEmbeddings,
                            R"({"model":"text-embedding-3-small","input":["first text","second"]})")
                .prompt_chars,
            16u);
  // Token ids count as about four characters each.
  EXPECT_EQ(
      inspect_request(UsageFormat::kOpenAiEmbeddings, R"({"input":[[1,2,3],[4]]})").prompt_chars,
      16u);
  const RequestInfo completion = inspect_request(
      UsageFormat::kOpenAiCompletions,
      R"({"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7})");
  EXPECT_EQ(completion.prompt_chars, 18u);
  EXPECT_EQ(completion.max_output_tokens, 7u);
  const RequestInfo workers = inspect_request(
      UsageFormat::kWorkersAi, R"({"prompt":"where is new york?","stream":true,"max_tokens":256})");
  EXPECT_EQ(workers.prompt_chars, 18u);
  EXPECT_TRUE(workers.stream);
  EXPECT_EQ(workers.model, "");
}

TEST(InspectRequest, CohereV1) {
  const RequestInfo info =
      inspect_request(UsageFormat::kCohere,
                      R"({"message":"Hi there","preamble":"You are Coral.","model":"command-r",)"
                      R"("chat_history":[{"role":"USER","message":"Hello"},)"
                      R"({"role":"CHATBOT","message":"Hi, how can I help?"}]})");
  EXPECT_EQ(info.model, "command-r");
  EXPECT_EQ(info.prompt_chars, 46u);
}

TEST(InspectRequest, NotJsonGivesNothing) {
  for (const char* body : {"", "{", "{\"model\":\"x\",}", "model=x", "{\"model\":\"x\"} {}"}) {
    const RequestInfo info = inspect_request(UsageFormat::kOpenAiChat, body);
    EXPECT_EQ(info.model, "") << body;
    EXPECT_EQ(info.prompt_chars, 0u) << body;
    EXPECT_FALSE(info.stream) << body;
  }
  EXPECT_EQ(inspect_request(UsageFormat::kOpenAiChat, "[\"model\", true]").model, "");
}

TEST(InspectRequest, DeepNestingCostsNoRecursion) {
  constexpr std::size_t kDepth = 100000;
  std::string body = "{\"tools\":" + std::string(kDepth, '[') + std::string(kDepth, ']') +
                     ",\"x\":" + std::string(kDepth, '[') + std::string(kDepth, ']') + "}";
  EXPECT_EQ(inspect_request(UsageFormat::kOpenAiChat, body).prompt_chars, 2 * kDepth);
}

TEST(ModelFromPath, GoogleModelMethods) {
  EXPECT_EQ(
      model_from_path(UsageFormat::kGemini, "/v1beta/models/gemini-2.0-flash:generateContent"),
      "gemini-2.0-flash");
  EXPECT_EQ(model_from_path(UsageFormat::kGemini,
                            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
            "gemini-2.5-flash");
  EXPECT_EQ(model_from_path(UsageFormat::kGemini,
                            "/v1/projects/my-proj/locations/us-central1/publishers/google/models/"
                            "gemini-2.5-pro:streamGenerateContent"),
            "gemini-2.5-pro");
  EXPECT_EQ(model_from_path(UsageFormat::kGemini, "/v1beta/tunedModels/my-tuned:generateContent"),
            "my-tuned");
  EXPECT_EQ(model_from_path(UsageFormat::kAnthropicMessages,
                            "/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
                            "claude-sonnet-4%4020250514:streamRawPredict"),
            "claude-sonnet-4@20250514");
  // A Vertex endpoint id is not a model name.
  EXPECT_EQ(model_from_path(UsageFormat::kGemini,
                            "/v1/projects/p/locations/l/endpoints/1234567890:generateContent"),
            "");
}

TEST(ModelFromPath, WorkersAiRun) {
  EXPECT_EQ(model_from_path(UsageFormat::kWorkersAi,
                            "/client/v4/accounts/0123abcd/ai/run/@cf/meta/llama-3.1-8b-instruct"),
            "@cf/meta/llama-3.1-8b-instruct");
  EXPECT_EQ(model_from_path(UsageFormat::kWorkersAi,
                            "/client/v4/accounts/0123abcd/ai/run/%40cf/meta/llama-3.1-8b-instruct"
                            "?x=%ZZ"),
            "@cf/meta/llama-3.1-8b-instruct");
  EXPECT_EQ(
      model_from_path(UsageFormat::kWorkersAi, "/client/v4/accounts/a/ai/v1/chat/completions"), "");
}

TEST(ModelFromPath, OtherPathsNameNoModel) {
  EXPECT_EQ(model_from_path(UsageFormat::kOpenAiChat,
                            "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"),
            "");
  EXPECT_EQ(model_from_path(UsageFormat::kOpenAiChat, "/v1/chat/completions"), "");
  EXPECT_EQ(model_from_path(UsageFormat::kAnthropicMessages, "/v1/messages"), "");
  EXPECT_EQ(model_from_path(UsageFormat::kGemini, ""), "");
}

}  // namespace
}  // namespace aigw::usage
