// Drop-in proof: the official `openai` and `@anthropic-ai/sdk` npm packages, with only their
// base URL pointed at the gateway, run against a fake provider that answers in OpenAI's,
// Anthropic's and Gemini's real wire formats (JSON bodies, SSE streams, tool calls, errors).
// tests/sdk/sdk_test.mjs asserts what the SDKs return; this file asserts what the SDKs sent
// through the gateway.
//
// Needs Node.js >= 20 and `npm ci --prefix tests/sdk` (scripts/test.sh runs it).

#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/node_run.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <signal.h>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;  // keeps the providers' field order on the wire

constexpr const char* kApiKey = "sk-test-key";
constexpr std::int64_t kCreated = 1767225600;
// The ids of the tool_use blocks the fake Anthropic answers with (whole and streamed): the
// SDKs must see these very ids as their tool calls' ids, and send the first one back.
constexpr const char* kToolUseId = "toolu_01AigwSdkWeatherQ7xv9";
constexpr const char* kStreamedToolUseId = "toolu_01AigwSdkStreamed4Kpz";

// ---------------------------------------------------------------------------------------
// The fake provider. It checks what the SDK sent the way the real APIs do (a wrong key is a
// 401 in the provider's error shape) and notes anything no real API would accept, so that
// both the SDK run and the test fail.

class Problems {
 public:
  void note(std::string problem) {
    std::lock_guard lock(mutex_);
    problems_.push_back(std::move(problem));
  }
  std::vector<std::string> all() const {
    std::lock_guard lock(mutex_);
    return problems_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> problems_;
};

std::string header(const FakeRequest& req, const std::string& name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? std::string() : it->second;
}

Exchange::Headers openai_headers(const std::string& request_id, bool stream) {
  return {{"Content-Type", stream ? "text/event-stream; charset=utf-8" : "application/json"},
          {"x-request-id", request_id},
          {"openai-version", "2020-10-01"},
          {"openai-processing-ms", "42"}};
}

Exchange::Headers anthropic_headers(const std::string& request_id, bool stream) {
  Exchange::Headers h = {
      {"Content-Type", stream ? "text/event-stream; charset=utf-8" : "application/json"},
      {"request-id", request_id},
      {"anthropic-organization-id", "org-aigw-sdk"}};
  if (stream) h.emplace_back("Cache-Control", "no-cache");
  return h;
}

std::string openai_sse(const OJson& chunk) { return "data: " + chunk.dump() + "\n\n"; }

std::string anthropic_sse(const OJson& event) {
  return "event: " + event["type"].get<std::string>() + "\ndata: " + event.dump() + "\n\n";
}

// OpenAI's error shape, e.g. {"error":{"message":...,"type":...,"param":null,"code":...}}.
std::string openai_error_body(const std::string& message, const std::string& code) {
  OJson error = {{"message", message},
                 {"type", "invalid_request_error"},
                 {"param", nullptr},
                 {"code", code.empty() ? OJson(nullptr) : OJson(code)}};
  return OJson{{"error", error}}.dump();
}

// Anthropic's: {"type":"error","error":{"type":...,"message":...},"request_id":...}.
std::string anthropic_error_body(const std::string& type, const std::string& message,
                                 const std::string& request_id) {
  OJson error = {{"type", type}, {"message", message}};
  return OJson{{"type", "error"}, {"error", error}, {"request_id", request_id}}.dump();
}

asio::awaitable<void> openai_error(Exchange& ex, unsigned status, const std::string& message,
                                   const std::string& code) {
  const std::string request_id = "req_openai_" + std::to_string(status);
  co_await ex.respond(status, openai_error_body(message, code), openai_headers(request_id, false));
}

asio::awaitable<void> anthropic_error(Exchange& ex, unsigned status, const std::string& type,
                                      const std::string& message) {
  const std::string request_id = "req_anthropic_" + std::to_string(status);
  co_await ex.respond(status, anthropic_error_body(type, message, request_id),
                      anthropic_headers(request_id, false));
}

// The SSE body of a streamed chat completion, as the chunks the provider writes: each event
// in its own chunk except at the end, where two events share one chunk and the second is
// split inside a multi-byte UTF-8 character (the provider's TCP segments are arbitrary and
// must reach the SDK byte for byte). Built outside the coroutine: GCC 12 rejects some
// braced lists inside coroutines ("array used as initializer").
std::vector<std::string> chat_completion_chunks(const std::string& model, bool include_usage) {
  auto chunk = [&](OJson delta, const char* finish_reason) {
    OJson choice = {
        {"index", 0},
        {"delta", std::move(delta)},
        {"logprobs", nullptr},
        {"finish_reason", finish_reason == nullptr ? OJson(nullptr) : OJson(finish_reason)}};
    OJson c = {{"id", "chatcmpl-aigw-sdk-stream"},
               {"object", "chat.completion.chunk"},
               {"created", kCreated},
               {"model", model},
               {"service_tier", "default"},
               {"system_fingerprint", "fp_aigw_sdk"},
               {"choices", OJson::array({std::move(choice)})}};
    if (include_usage) c["usage"] = nullptr;
    return openai_sse(c);
  };
  auto content = [&](const char* text) { return chunk({{"content", text}}, nullptr); };

  std::vector<std::string> chunks;
  chunks.push_back(chunk({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr));
  for (const char* piece : {"Hel", "lo", " from", " the", " stream", " — ça"}) {
    chunks.push_back(content(piece));
  }
  const std::string last = content(" marche") + content(" 🚀");
  const std::size_t split = last.find("🚀") + 2;
  chunks.push_back(last.substr(0, split));
  chunks.push_back(last.substr(split));
  chunks.push_back(chunk(OJson::object(), "stop"));
  if (include_usage) {
    OJson usage = {
        {"id", "chatcmpl-aigw-sdk-stream"},
        {"object", "chat.completion.chunk"},
        {"created", kCreated},
        {"model", model},
        {"service_tier", "default"},
        {"system_fingerprint", "fp_aigw_sdk"},
        {"choices", OJson::array()},
        {"usage", {{"prompt_tokens", 19}, {"completion_tokens", 8}, {"total_tokens", 27}}}};
    chunks.push_back(openai_sse(usage));
  }
  chunks.push_back("data: [DONE]\n\n");
  return chunks;
}

// POST /v1/chat/completions, JSON or (stream: true) SSE chunks ending with data: [DONE].
asio::awaitable<void> chat_completions(const Json& request, Exchange& ex) {
  const std::string model = request.value("model", "");
  if (!request.value("stream", false)) {
    OJson completion = OJson::parse(R"({
      "id": "chatcmpl-aigw-sdk-1",
      "object": "chat.completion",
      "created": 0,
      "model": "",
      "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Hello! How can I help you today? 👋",
                    "refusal": null, "annotations": []},
        "logprobs": null,
        "finish_reason": "stop"
      }],
      "usage": {
        "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0}
      },
      "service_tier": "default",
      "system_fingerprint": "fp_aigw_sdk"
    })");
    completion["created"] = kCreated;
    completion["model"] = model;
    co_await ex.respond(200, completion.dump(), openai_headers("req_openai_chat", false));
    co_return;
  }
  const bool include_usage =
      request.contains("stream_options") && request["stream_options"].value("include_usage", false);
  const auto chunks = chat_completion_chunks(model, include_usage);
  co_await ex.start_stream(200, openai_headers("req_openai_stream", true));
  for (const auto& c : chunks) co_await ex.send_chunk(c);
  co_await ex.end_stream();
}

// POST /v1/embeddings; the SDK asks for base64 (little-endian float32) unless told otherwise.
asio::awaitable<void> embeddings(const Json& request, Exchange& ex) {
  OJson response = OJson::parse(R"({
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": null}],
    "model": "",
    "usage": {"prompt_tokens": 4, "total_tokens": 4}
  })");
  response["model"] = request.value("model", "");
  if (request.value("encoding_format", "float") == "base64") {
    response["data"][0]["embedding"] = "AAAAPgAAAL8AAIA+AACAPw==";  // 0.125 -0.5 0.25 1
  } else {
    response["data"][0]["embedding"] = {0.125, -0.5, 0.25, 1.0};
  }
  co_await ex.respond(200, response.dump(), openai_headers("req_openai_embeddings", false));
}

// The SSE body of a streamed message with Anthropic's event sequence: message_start and
// content_block_start share a chunk (as the API often sends them), a ping, the text deltas
// (one split across chunks inside a multi-byte UTF-8 character), content_block_stop,
// message_delta, message_stop.
std::vector<std::string> message_stream_chunks(const std::string& model) {
  OJson start = OJson::parse(R"({"type": "message_start", "message": {
      "id": "msg_aigw_sdk_stream", "type": "message", "role": "assistant", "model": "",
      "content": [], "stop_reason": null, "stop_sequence": null,
      "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 1, "service_tier": "standard"}}})");
  start["message"]["model"] = model;
  const OJson block_start = OJson::parse(
      R"({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})");
  auto delta = [](const char* text) {
    OJson d = {{"type", "text_delta"}, {"text", text}};
    return anthropic_sse(OJson{{"type", "content_block_delta"}, {"index", 0}, {"delta", d}});
  };

  std::vector<std::string> chunks;
  chunks.push_back(anthropic_sse(start) + anthropic_sse(block_start));
  chunks.push_back(anthropic_sse(OJson{{"type", "ping"}}));
  for (const char* piece : {"Streaming", " through", " aigw"}) chunks.push_back(delta(piece));
  const std::string split_event = delta(" — ünïcödé");
  const std::size_t split = split_event.find("ü") + 1;
  chunks.push_back(split_event.substr(0, split));
  chunks.push_back(split_event.substr(split));
  for (const char* piece : {" intact", " ✅"}) chunks.push_back(delta(piece));
  chunks.push_back(anthropic_sse(OJson{{"type", "content_block_stop"}, {"index", 0}}));
  chunks.push_back(anthropic_sse(OJson::parse(R"({"type": "message_delta",
      "delta": {"stop_reason": "end_turn", "stop_sequence": null},
      "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 15}})")));
  chunks.push_back(anthropic_sse(OJson{{"type", "message_stop"}}));
  return chunks;
}

// The arguments every fake tool call carries, whichever provider makes it.
OJson weather_input() { return OJson{{"location", "Paris, France"}, {"unit", "celsius"}}; }

// object[key], or `fallback` when `object` is not an object or lacks it (what the fake reads
// is the gateway's output, which must not throw the fake off when it is wrong).
Json get(const Json& object, const std::string& key, Json fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it == object.end() ? fallback : *it;
}

// Whether any message holds a content block of `type` (tool_use, tool_result).
bool has_block(const Json& request, std::string_view type) {
  const auto messages = request.find("messages");
  if (messages == request.end() || !messages->is_array()) return false;
  for (const Json& message : *messages) {
    const auto content = message.find("content");
    if (content == message.end() || !content->is_array()) continue;
    for (const Json& block : *content) {
      if (get(block, "type", "") == std::string(type)) return true;
    }
  }
  return false;
}

// The tool a Messages request should be answered with a call to: its first tool's, unless the
// conversation already carries a tool_result (then the model answers in text, which closes
// the round trip). Empty when there is nothing to call.
std::string anthropic_tool_to_call(const Json& request) {
  const auto tools = request.find("tools");
  if (tools == request.end() || !tools->is_array() || tools->empty()) return {};
  if (has_block(request, "tool_result")) return {};
  const Json name = get((*tools)[0], "name", "");
  return name.is_string() ? name.get<std::string>() : std::string();
}

// What the real Messages API refuses with a 400, and the fake notes: a field it does not
// know ("Extra inputs are not permitted"), a custom tool without a name or an object
// input_schema, tool blocks in a request without tools, and a tool_result whose tool_use_id
// is not a tool_use of the assistant turn right before it.
void check_messages_request(const Json& request, const std::string& what, Problems& problems) {
  // The top-level fields of a Messages request, space-separated.
  static constexpr std::string_view kFields =
      " model messages max_tokens system metadata stop_sequences stream temperature top_p top_k"
      " tools tool_choice thinking service_tier container mcp_servers context_management ";
  for (const auto& [key, value] : request.items()) {
    if (kFields.find(" " + key + " ") == std::string_view::npos) {
      problems.note(what + ": " + key + ": Extra inputs are not permitted");
    }
  }
  const auto tools = request.find("tools");
  const bool has_tools = tools != request.end() && tools->is_array() && !tools->empty();
  if (has_tools) {
    for (const Json& tool : *tools) {
      const auto schema = tool.find("input_schema");
      if (!tool.contains("name") || schema == tool.end() || get(*schema, "type", "") != "object") {
        problems.note(what + ": tool without a name or an object input_schema: " + tool.dump());
      }
    }
  }
  if (!has_tools && (has_block(request, "tool_use") || has_block(request, "tool_result"))) {
    problems.note(what + ": tool_use or tool_result blocks in a request without tools");
  }
  const Json messages = get(request, "messages", Json::array());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Json content = get(messages[i], "content", Json());
    if (!content.is_array()) continue;
    for (const Json& block : content) {
      if (get(block, "type", "") != "tool_result") continue;
      const Json id = get(block, "tool_use_id", "");
      bool called = false;
      if (i > 0 && get(messages[i - 1], "role", "") == "assistant") {
        for (const Json& prior : get(messages[i - 1], "content", Json::array())) {
          called = called || (get(prior, "type", "") == "tool_use" && get(prior, "id", "") == id);
        }
      }
      if (!called) {
        problems.note(what + ": tool_result " + id.dump() +
                      " does not answer a tool_use of the previous assistant turn");
      }
    }
  }
}

// A whole message: a sentence, then a call to `tool` (as Claude usually answers),
// stop_reason tool_use.
std::string tool_use_message(const std::string& model, const std::string& tool) {
  OJson message = OJson::parse(R"({
    "id": "msg_aigw_sdk_tool_use",
    "type": "message",
    "role": "assistant",
    "model": "",
    "content": [{"type": "text", "text": "I'll check the weather in Paris."},
                {"type": "tool_use", "id": "", "name": "", "input": {}}],
    "stop_reason": "tool_use",
    "stop_sequence": null,
    "usage": {"input_tokens": 402, "cache_creation_input_tokens": 0,
              "cache_read_input_tokens": 0, "output_tokens": 58, "service_tier": "standard"}
  })");
  message["model"] = model;
  message["content"][1]["id"] = kToolUseId;
  message["content"][1]["name"] = tool;
  message["content"][1]["input"] = weather_input();
  return message.dump();
}

// The same answer streamed: the text block, then the tool_use block opening with input {}
// and its input arriving as input_json_delta fragments cut at arbitrary bytes (an empty
// one first, as the API often sends), then message_delta with stop_reason tool_use.
std::vector<std::string> tool_use_stream_chunks(const std::string& model, const std::string& tool) {
  OJson start = OJson::parse(R"({"type": "message_start", "message": {
      "id": "msg_aigw_sdk_tool_stream", "type": "message", "role": "assistant", "model": "",
      "content": [], "stop_reason": null, "stop_sequence": null,
      "usage": {"input_tokens": 402, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 3, "service_tier": "standard"}}})");
  start["message"]["model"] = model;
  auto delta = [](int index, OJson d) {
    return anthropic_sse(OJson{{"type", "content_block_delta"}, {"index", index}, {"delta", d}});
  };
  auto text = [&](const char* t) { return delta(0, OJson{{"type", "text_delta"}, {"text", t}}); };
  auto json = [&](const std::string& partial) {
    return delta(1, OJson{{"type", "input_json_delta"}, {"partial_json", partial}});
  };
  OJson tool_block = {
      {"type", "tool_use"}, {"id", kStreamedToolUseId}, {"name", tool}, {"input", OJson::object()}};

  std::vector<std::string> chunks;
  chunks.push_back(anthropic_sse(start));
  chunks.push_back(anthropic_sse(OJson::parse(
      R"({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})")));
  chunks.push_back(text("I'll check"));
  chunks.push_back(text(" the weather in Paris."));
  chunks.push_back(anthropic_sse(OJson{{"type", "content_block_stop"}, {"index", 0}}));
  chunks.push_back(anthropic_sse(
      OJson{{"type", "content_block_start"}, {"index", 1}, {"content_block", tool_block}}));
  chunks.push_back(json(""));
  const std::string input = weather_input().dump();  // {"location":"Paris, France",...}
  std::size_t from = 0;
  for (const std::size_t to :
       {std::size_t{5}, std::size_t{14}, std::size_t{23}, std::size_t{33}, input.size()}) {
    chunks.push_back(json(input.substr(from, to - from)));
    from = to;
  }
  chunks.push_back(anthropic_sse(OJson{{"type", "content_block_stop"}, {"index", 1}}));
  chunks.push_back(anthropic_sse(OJson::parse(R"({"type": "message_delta",
      "delta": {"stop_reason": "tool_use", "stop_sequence": null},
      "usage": {"input_tokens": 402, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 61}})")));
  chunks.push_back(anthropic_sse(OJson{{"type", "message_stop"}}));
  return chunks;
}

// POST /v1/messages, JSON or (stream: true) SSE: a call to the request's first tool when it
// has tools (a text answer once a tool_result came back), text otherwise.
asio::awaitable<void> messages(const Json& request, Exchange& ex) {
  const std::string model = request.value("model", "");
  const bool stream = request.value("stream", false);
  const std::string tool = anthropic_tool_to_call(request);
  if (!tool.empty() && !stream) {
    co_await ex.respond(200, tool_use_message(model, tool),
                        anthropic_headers("req_anthropic_tool_use", false));
    co_return;
  }
  if (!tool.empty()) {
    const auto chunks = tool_use_stream_chunks(model, tool);
    co_await ex.start_stream(200, anthropic_headers("req_anthropic_tool_stream", true));
    for (const auto& c : chunks) co_await ex.send_chunk(c);
    co_await ex.end_stream();
    co_return;
  }
  if (!stream) {
    OJson message = OJson::parse(R"({
      "id": "msg_aigw_sdk_1",
      "type": "message",
      "role": "assistant",
      "model": "",
      "content": [{"type": "text", "text": "Hi! I'm Claude — reached through aigw. ✨"}],
      "stop_reason": "end_turn",
      "stop_sequence": null,
      "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 14, "service_tier": "standard"}
    })");
    message["model"] = model;
    if (has_block(request, "tool_result")) {
      message["id"] = "msg_aigw_sdk_tool_result";
      message["content"][0]["text"] = "It's 18 °C and sunny in Paris. ☀️";
    }
    co_await ex.respond(200, message.dump(), anthropic_headers("req_anthropic_msg", false));
    co_return;
  }
  const auto chunks = message_stream_chunks(model);
  co_await ex.start_stream(200, anthropic_headers("req_anthropic_stream", true));
  for (const auto& c : chunks) co_await ex.send_chunk(c);
  co_await ex.end_stream();
}

// ---------------------------------------------------------------------------------------
// Gemini: POST /v1beta/models/{model}:generateContent and
// :streamGenerateContent?alt=sse, in the API's own format (GenerateContentRequest in,
// GenerateContentResponse out; the stream is a GenerateContentResponse per SSE event,
// CRLF-terminated as Google sends them).

struct GeminiCall {
  bool valid = false;
  bool stream = false;
  std::string model;
};

GeminiCall gemini_call(const std::string& target) {
  constexpr std::string_view kPrefix = "/v1beta/models/";
  constexpr std::string_view kGenerate = ":generateContent";
  constexpr std::string_view kStream = ":streamGenerateContent?alt=sse";
  GeminiCall call;
  if (!target.starts_with(kPrefix)) return call;
  const std::string_view rest = std::string_view(target).substr(kPrefix.size());
  const std::size_t colon = rest.find(':');
  if (colon == 0 || colon == std::string_view::npos) return call;
  call.model = std::string(rest.substr(0, colon));
  call.stream = rest.ends_with(kStream) && rest.size() == colon + kStream.size();
  call.valid =
      call.stream || (rest.ends_with(kGenerate) && rest.size() == colon + kGenerate.size());
  return call;
}

Exchange::Headers gemini_headers(bool stream) {
  return {{"Content-Type", stream ? "text/event-stream" : "application/json; charset=UTF-8"},
          {"Vary", "Origin, X-Origin, Referer"},
          {"Server", "scaffolding on HTTPServer2"},
          {"Server-Timing", "gfet4t7; dur=412"}};
}

std::string gemini_sse(const OJson& chunk) { return "data: " + chunk.dump() + "\r\n\r\n"; }

// Google's error shape (google.rpc.Status).
std::string gemini_error_body(unsigned code, const std::string& message,
                              const std::string& status) {
  OJson error = {{"code", code}, {"message", message}, {"status", status}};
  return OJson{{"error", error}}.dump();
}

// Whether a JSON Schema (or anything in it) uses `key`.
bool schema_uses(const Json& schema, const std::string& key) {
  if (schema.is_object()) {
    if (schema.contains(key)) return true;
    for (const auto& [k, v] : schema.items()) {
      if (schema_uses(v, key)) return true;
    }
  } else if (schema.is_array()) {
    for (const Json& v : schema) {
      if (schema_uses(v, key)) return true;
    }
  }
  return false;
}

// What generateContent refuses with a 400 ("Invalid JSON payload received. Unknown name
// ..."), and the fake notes: a field GenerateContentRequest does not have (the OpenAI
// "model", "messages", "stream"...), no contents, a role other than user and model, a turn
// without parts, and function parameters using JSON Schema keys Gemini's Schema lacks.
void check_generate_content_request(const Json& request, const std::string& what,
                                    Problems& problems) {
  // The fields of a GenerateContentRequest, space-separated.
  static constexpr std::string_view kFields =
      " contents tools toolConfig safetySettings systemInstruction generationConfig"
      " cachedContent ";
  for (const auto& [key, value] : request.items()) {
    if (kFields.find(" " + key + " ") == std::string_view::npos) {
      problems.note(what + ": Invalid JSON payload received. Unknown name \"" + key + "\"");
    }
  }
  const auto contents = request.find("contents");
  if (contents == request.end() || !contents->is_array() || contents->empty()) {
    problems.note(what + ": no contents");
  } else {
    for (const Json& turn : *contents) {
      const Json role = get(turn, "role", "");
      const Json parts = get(turn, "parts", Json());
      if ((role != "user" && role != "model") || !parts.is_array() || parts.empty()) {
        problems.note(what + ": a turn Gemini refuses: " + turn.dump());
      }
    }
  }
  for (const Json& tool : get(request, "tools", Json::array())) {
    for (const Json& declaration : get(tool, "functionDeclarations", Json::array())) {
      const Json parameters = get(declaration, "parameters", Json::object());
      if (schema_uses(parameters, "additionalProperties") || schema_uses(parameters, "$schema")) {
        problems.note(
            what + ": Gemini's Schema has no additionalProperties/$schema: " + declaration.dump());
      }
    }
  }
}

// The function a generateContent request should be answered with a call to: its first
// function declaration's, unless a functionResponse already came back.
std::string gemini_function_to_call(const Json& request) {
  const Json tools = get(request, "tools", Json::array());
  if (!tools.is_array() || tools.empty()) return {};
  const Json declarations = get(tools[0], "functionDeclarations", Json::array());
  if (!declarations.is_array() || declarations.empty()) return {};
  for (const Json& turn : get(request, "contents", Json::array())) {
    for (const Json& part : get(turn, "parts", Json::array())) {
      if (part.is_object() && part.contains("functionResponse")) return {};
    }
  }
  const Json name = get(declarations[0], "name", "");
  return name.is_string() ? name.get<std::string>() : std::string();
}

OJson gemini_chunk(const std::string& model, const std::string& response_id, OJson parts,
                   const char* finish_reason, OJson usage) {
  OJson content = {{"parts", std::move(parts)}, {"role", "model"}};
  OJson candidate = {{"content", std::move(content)}};
  if (finish_reason != nullptr) candidate["finishReason"] = finish_reason;
  candidate["index"] = 0;
  return OJson{{"candidates", OJson::array({std::move(candidate)})},
               {"usageMetadata", std::move(usage)},
               {"modelVersion", model},
               {"responseId", response_id}};
}

OJson gemini_usage(int prompt, int candidates) {
  OJson usage = {{"promptTokenCount", prompt}};
  if (candidates > 0) usage["candidatesTokenCount"] = candidates;
  usage["totalTokenCount"] = prompt + candidates;
  return usage;
}

OJson function_call_part(const std::string& function) {
  OJson call = {{"name", function}, {"args", weather_input()}};
  return OJson{{"functionCall", std::move(call)}};
}

// A whole GenerateContentResponse: two text parts, or one functionCall part.
std::string generate_content_response(const std::string& model, const std::string& function) {
  if (!function.empty()) {
    return gemini_chunk(model, "aigw-sdk-gemini-call", OJson::array({function_call_part(function)}),
                        "STOP", gemini_usage(31, 7))
        .dump();
  }
  OJson parts = OJson::array();
  parts.push_back(OJson{{"text", "Hello from Gemini"}});
  parts.push_back(OJson{{"text", " — reached through aigw. ✨"}});
  return gemini_chunk(model, "aigw-sdk-gemini-1", std::move(parts), "STOP", gemini_usage(9, 11))
      .dump();
}

// The stream: text arriving in parts spread over events, cumulative usageMetadata on each,
// and a last event with text "" and finishReason STOP; or one event with the whole
// functionCall. The bytes are cut where TCP may cut them: between the \r and \n of an event's
// end, inside a multi-byte UTF-8 character, and two events share a chunk.
std::vector<std::string> generate_content_stream_chunks(const std::string& model,
                                                        const std::string& function) {
  const std::string id = "aigw-sdk-gemini-stream";
  if (!function.empty()) {
    return {gemini_sse(gemini_chunk(model, id, OJson::array({function_call_part(function)}), "STOP",
                                    gemini_usage(31, 7)))};
  }
  auto event = [&](const char* text, int candidates, const char* finish_reason) {
    OJson parts = OJson::array();
    parts.push_back(OJson{{"text", text}});
    return gemini_sse(
        gemini_chunk(model, id, std::move(parts), finish_reason, gemini_usage(9, candidates)));
  };
  std::vector<std::string> chunks;
  const std::string first = event("Gemini", 1, nullptr);
  chunks.push_back(first.substr(0, first.size() - 3));  // ends between \r and \n
  chunks.push_back(first.substr(first.size() - 3) + event(" streams", 3, nullptr));
  const std::string split = event(" through aigw — ça marche 🚀", 12, nullptr);
  const std::size_t cut = split.find("🚀") + 2;
  chunks.push_back(split.substr(0, cut));
  chunks.push_back(split.substr(cut) + event("", 14, "STOP"));
  return chunks;
}

// A call to the request's first function when it declares any (text once a
// functionResponse came back), text otherwise; whole or streamed as the method says.
asio::awaitable<void> generate_content(const GeminiCall& call, const Json& request, Exchange& ex) {
  const std::string function = gemini_function_to_call(request);
  if (!call.stream) {
    co_await ex.respond(200, generate_content_response(call.model, function),
                        gemini_headers(false));
    co_return;
  }
  const auto chunks = generate_content_stream_chunks(call.model, function);
  co_await ex.start_stream(200, gemini_headers(true));
  for (const auto& c : chunks) co_await ex.send_chunk(c);
  co_await ex.end_stream();
}

Handler fake_provider(Problems& problems) {
  return [&problems](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const std::string what = req.method + " " + req.target;
    const bool openai = req.target == "/v1/chat/completions" || req.target == "/v1/embeddings";
    const bool anthropic = req.target == "/v1/messages";
    const GeminiCall gemini = gemini_call(req.target);
    if (req.method != "POST" || (!openai && !anthropic && !gemini.valid)) {
      problems.note("unexpected request: " + what);
      co_await openai_error(ex, 404, "Unknown request URL: " + what, "unknown_url");
      co_return;
    }
    const Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      problems.note(what + ": body is not a JSON object: " + req.body);
    }
    if (header(req, "content-type") != "application/json") {
      problems.note(what + ": content-type is '" + header(req, "content-type") + "'");
    }
    if (body.is_discarded() || !body.is_object()) {
      co_await openai_error(ex, 400, "We could not parse the JSON body of your request.", "");
      co_return;
    }

    if (gemini.valid) {
      check_generate_content_request(body, what, problems);
      if (header(req, "x-goog-api-key") != kApiKey) {
        co_await ex.respond(
            400,
            gemini_error_body(400, "API key not valid. Please pass a valid API key.",
                              "INVALID_ARGUMENT"),
            gemini_headers(false));
      } else {
        co_await generate_content(gemini, body, ex);
      }
      co_return;
    }
    if (openai) {
      const std::string auth = header(req, "authorization");
      if (auth != std::string("Bearer ") + kApiKey) {
        const std::string key = auth.starts_with("Bearer ") ? auth.substr(7) : auth;
        co_await openai_error(ex, 401, "Incorrect API key provided: " + key + ".",
                              "invalid_api_key");
      } else if (req.target == "/v1/embeddings") {
        co_await embeddings(body, ex);
      } else {
        co_await chat_completions(body, ex);
      }
      co_return;
    }
    // The key is accepted as x-api-key (the classic header) or as a bearer token (what
    // @anthropic-ai/sdk >= 1.0 sends), never both.
    const std::string key = header(req, "x-api-key");
    const std::string bearer = header(req, "authorization");
    if (header(req, "anthropic-version").empty()) {
      problems.note(what + ": no anthropic-version header");
      co_await anthropic_error(ex, 400, "invalid_request_error",
                               "anthropic-version: header is required");
    } else if (!key.empty() && !bearer.empty()) {
      problems.note(what + ": both x-api-key and authorization");
      co_await anthropic_error(ex, 401, "authentication_error", "invalid x-api-key");
    } else if (key != kApiKey && bearer != std::string("Bearer ") + kApiKey) {
      co_await anthropic_error(ex, 401, "authentication_error", "invalid x-api-key");
    } else {
      check_messages_request(body, what, problems);
      co_await messages(body, ex);
    }
  };
}

const fs::path kSdkDir = fs::path(AIGW_SOURCE_DIR) / "tests" / "sdk";

// The gateway with openai, anthropic and google-ai-studio pointing at the fake, and the SDK script
// run against it.
struct SdkFixture {
  SdkFixture() : fake(fake_provider(problems)) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    add_provider(c, "anthropic", fake.base_url());
    add_provider(c, "google-ai-studio", fake.base_url());
    gateway = std::make_unique<TestGateway>(std::move(c));
  }

  // Runs one suite of sdk_test.mjs; fails the test (with node's output) unless it passes.
  void run_sdk(const std::string& suite) {
    for (const char* package : {"openai", "@anthropic-ai/sdk"}) {
      ASSERT_TRUE(fs::exists(kSdkDir / "node_modules" / package / "package.json"))
          << "The SDK test needs the npm packages in " << (kSdkDir / "node_modules").string()
          << ", and " << package << " is missing. Run:\n  npm ci --prefix tests/sdk\n"
          << "(scripts/test.sh does it)";
    }
    const std::string url = "http://127.0.0.1:" + std::to_string(gateway->port());
    const auto started = std::chrono::steady_clock::now();
    // The node on PATH; scripts/test.sh puts a Node.js >= 20 first when the system's is
    // older (Debian 12 ships 18).
    NodeRun run = run_node({"node", (kSdkDir / "sdk_test.mjs").string(), suite},
                           {"AIGW_URL=" + url, "NO_COLOR=1"}, 60s,
                           // What would steer the SDKs elsewhere (OPENAI_BASE_URL, ...).
                           {"OPENAI_", "ANTHROPIC_", "AIGW_URL="});
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    ASSERT_TRUE(run.error.empty()) << run.error << "\n" << run.output;
    EXPECT_EQ(run.status, 0) << "node tests/sdk/sdk_test.mjs " << suite << " (AIGW_URL=" << url
                             << ") failed:\n"
                             << run.output;
    if (run.status == 0) {
      std::printf("[   SDK    ] %s suite passed in %lld ms\n", suite.c_str(),
                  static_cast<long long>(took.count()));
    }
    EXPECT_TRUE(problems.all().empty()) << ::testing::PrintToString(problems.all());
  }

  Problems problems;
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

Json body_of(const FakeRequest& req) { return Json::parse(req.body, nullptr, false); }

// What every SDK request must look like at the provider: the SDK's own headers arrive, the
// gateway's do not leak, and Host is the provider's.
void expect_sdk_request(const FakeRequest& req, const SdkFixture& f, const std::string& target,
                        const std::string& user_agent_prefix) {
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, target);
  EXPECT_EQ(header(req, "host"), "127.0.0.1:" + std::to_string(f.fake.port()));
  EXPECT_EQ(header(req, "content-type"), "application/json");
  EXPECT_TRUE(header(req, "user-agent").starts_with(user_agent_prefix))
      << header(req, "user-agent");
  EXPECT_EQ(header(req, "x-stainless-lang"), "js");
  EXPECT_EQ(header(req, "x-stainless-retry-count"), "0");
  EXPECT_EQ(header(req, "content-length"), std::to_string(req.body.size()));
  for (const auto& [name, value] : req.headers) {
    EXPECT_FALSE(name.starts_with("cf-aig-")) << name << ": " << value << " was forwarded";
  }
  EXPECT_FALSE(req.has("transfer-encoding"));
}

TEST(Sdk, OpenAiNodeSdkWorksThroughTheGatewayByBaseUrlAlone) {
  SdkFixture f;
  ASSERT_NO_FATAL_FAILURE(f.run_sdk("openai"));

  const auto received = f.fake.received();
  ASSERT_EQ(received.size(), 5u);
  const std::string bearer = std::string("Bearer ") + kApiKey;
  for (std::size_t i = 0; i < received.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    const auto& req = received[i];
    expect_sdk_request(req, f, i == 2 ? "/v1/embeddings" : "/v1/chat/completions", "OpenAI/JS ");
    EXPECT_EQ(header(req, "authorization"), i == 4 ? "Bearer sk-wrong" : bearer);
    EXPECT_FALSE(req.has("x-api-key"));
  }

  const Json chat = body_of(received[0]);
  EXPECT_EQ(chat["model"], "gpt-4o-mini");
  EXPECT_EQ(chat["temperature"], 0);
  EXPECT_FALSE(chat.contains("stream"));
  EXPECT_EQ(chat["messages"][1]["content"], "Say hello, ünïcödé included ✓");

  const Json streamed = body_of(received[1]);
  EXPECT_EQ(streamed["stream"], true);
  EXPECT_EQ(streamed["stream_options"]["include_usage"], true);

  const Json embed = body_of(received[2]);
  EXPECT_EQ(embed["model"], "text-embedding-3-small");
  EXPECT_EQ(embed["input"], "The quick brown fox");
  EXPECT_EQ(embed["encoding_format"], "base64");

  // The long form /v1/{account}/{gateway}/openai reaches the same upstream path.
  EXPECT_EQ(body_of(received[3])["model"], "gpt-4.1-nano");
}

TEST(Sdk, AnthropicNodeSdkWorksThroughTheGatewayByBaseUrlAlone) {
  SdkFixture f;
  ASSERT_NO_FATAL_FAILURE(f.run_sdk("anthropic"));

  const auto received = f.fake.received();
  ASSERT_EQ(received.size(), 5u);
  const std::string sdk_version = header(received[0], "anthropic-version");
  for (std::size_t i = 0; i < received.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    const auto& req = received[i];
    expect_sdk_request(req, f, "/v1/messages", "Anthropic/JS ");
    const Json body = body_of(req);
    EXPECT_EQ(body["model"], "claude-sonnet-4-6");
    EXPECT_EQ(body["messages"][0]["content"], "Say hello, ünïcödé included ✓");
    if (i == 3) continue;  // the classic x-api-key request, below
    EXPECT_EQ(header(req, "authorization"),
              std::string("Bearer ") + (i == 4 ? "sk-wrong" : kApiKey));
    EXPECT_FALSE(req.has("x-api-key"));
    EXPECT_EQ(header(req, "anthropic-version"), sdk_version);
  }
  // The SDK's own API version (a date), not overridden by the gateway.
  EXPECT_EQ(sdk_version.size(), 10u) << sdk_version;
  EXPECT_EQ(header(received[3], "x-api-key"), kApiKey);
  EXPECT_EQ(header(received[3], "anthropic-version"), "2023-06-01");
  EXPECT_FALSE(received[3].has("authorization"));

  EXPECT_FALSE(body_of(received[0]).contains("stream"));
  EXPECT_EQ(body_of(received[0])["max_tokens"], 256);
  EXPECT_EQ(body_of(received[1])["stream"], true);  // messages.create({stream: true})
  EXPECT_EQ(body_of(received[2])["stream"], true);  // messages.stream()
}

// The value at JSON pointer `pointer` in `j`, or null when there is none.
Json at(const Json& j, const std::string& pointer) {
  const Json::json_pointer p(pointer);
  return j.contains(p) ? j.at(p) : Json();
}

// The first content block of `type` in `message`, or null.
Json block_of(const Json& message, const std::string& type) {
  for (const Json& block : get(message, "content", Json::array())) {
    if (get(block, "type", "") == type) return block;
  }
  return Json();
}

// sdk_test.mjs's get_weather tool's parameters, as the OpenAI SDK sends them.
Json weather_parameters() {
  return Json::parse(R"({
    "type": "object",
    "properties": {
      "location": {"type": "string", "description": "City and country, e.g. Paris, France"},
      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
    },
    "required": ["location"],
    "additionalProperties": false
  })");
}

TEST(Sdk, CompatLetsEachSdkReachTheOtherProvidersModels) {
  SdkFixture f;
  ASSERT_NO_FATAL_FAILURE(f.run_sdk("compat"));

  // What the providers received: each in its own API, the SDK's key in its own header.
  int anthropic = 0;
  int anthropic_tools = 0;
  int round_trips = 0;
  int gemini = 0;
  int gemini_streams = 0;
  int gemini_tools = 0;
  int gemini_wrong_keys = 0;
  int openai = 0;
  for (const auto& req : f.fake.received()) {
    SCOPED_TRACE(req.method + " " + req.target + " " + req.body);
    const Json body = body_of(req);
    if (req.target == "/v1/messages") {
      ++anthropic;
      EXPECT_EQ(body["model"], "claude-sonnet-4-6");
      EXPECT_TRUE(body.contains("max_tokens"));
      EXPECT_FALSE(req.has("authorization"));
      EXPECT_TRUE(req.has("x-api-key"));
      if (!body.contains("tools")) continue;
      ++anthropic_tools;
      // OpenAI's function tool as Anthropic's: its JSON Schema is input_schema, unchanged.
      EXPECT_EQ(at(body, "/tools/0/name"), "get_weather");
      EXPECT_EQ(at(body, "/tools/0/description"), "The current weather in a city");
      EXPECT_EQ(at(body, "/tools/0/input_schema"), weather_parameters());
      EXPECT_FALSE(at(body, "/tools/0").contains("parameters"));
      const Json messages = get(body, "messages", Json::array());
      const Json result = messages.empty() ? Json() : block_of(messages.back(), "tool_result");
      if (result.is_null()) continue;
      // The round trip: the SDK's assistant tool_calls entry came back as the fake's own
      // tool_use (id and input kept), and its tool message as a tool_result in the user turn
      // after it, naming that id.
      ++round_trips;
      ASSERT_EQ(messages.size(), 3u);
      EXPECT_EQ(at(messages[0], "/role"), "user");
      EXPECT_EQ(at(messages[1], "/role"), "assistant");
      const Json call = block_of(messages[1], "tool_use");
      EXPECT_EQ(at(call, "/id"), std::string(kToolUseId));
      EXPECT_EQ(at(call, "/name"), "get_weather");
      EXPECT_EQ(at(call, "/input"), Json::parse(weather_input().dump()));
      EXPECT_EQ(at(messages[2], "/role"), "user");
      EXPECT_EQ(result["tool_use_id"], std::string(kToolUseId));
      const Json content = get(result, "content", Json());
      EXPECT_EQ(content.is_string() ? content : at(content, "/0/text"), "18 °C, sunny");
    } else if (req.target.starts_with("/v1beta/models/")) {
      ++gemini;
      const bool stream = req.target.ends_with(":streamGenerateContent?alt=sse");
      gemini_streams += stream ? 1 : 0;
      EXPECT_EQ(req.target, stream ? "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
                                   : "/v1beta/models/gemini-2.5-flash:generateContent");
      // The SDK's bearer token, in Gemini's header (the wrong one too, for Google to refuse).
      const std::string key = header(req, "x-goog-api-key");
      if (key == "sk-wrong") {
        ++gemini_wrong_keys;
      } else {
        EXPECT_EQ(key, kApiKey);
      }
      EXPECT_FALSE(req.has("authorization"));
      EXPECT_FALSE(req.has("x-api-key"));
      EXPECT_FALSE(body.contains("model"));
      EXPECT_FALSE(body.contains("stream"));
      EXPECT_EQ(at(body, "/contents/0/role"), "user");
      if (!body.contains("tools")) {
        EXPECT_EQ(at(body, "/systemInstruction/parts/0/text"), "You are terse.");
        EXPECT_EQ(at(body, "/contents/0/parts/0/text"), "Say hello, ünïcödé included ✓");
        continue;
      }
      ++gemini_tools;
      // The function as a functionDeclaration, less the JSON Schema key Gemini rejects.
      Json parameters = weather_parameters();
      parameters.erase("additionalProperties");
      EXPECT_EQ(at(body, "/tools/0/functionDeclarations/0/name"), "get_weather");
      EXPECT_EQ(at(body, "/tools/0/functionDeclarations/0/parameters"), parameters);
      EXPECT_EQ(at(body, "/contents/0/parts/0/text"), "What's the weather in Paris?");
    } else {
      ++openai;
      EXPECT_EQ(req.target, "/v1/chat/completions");
      EXPECT_EQ(body["model"], "gpt-4o-mini");
      EXPECT_EQ(header(req, "authorization"), std::string("Bearer ") + kApiKey);
      EXPECT_FALSE(req.has("x-api-key"));
    }
  }
  // text, stream, the wrong key; a tool call, streamed, and the round trip
  EXPECT_EQ(anthropic, 6);
  EXPECT_EQ(anthropic_tools, 3);
  EXPECT_EQ(round_trips, 1);
  // text and a tool call, each whole and streamed; the wrong key; the Anthropic SDK's text,
  // whole and streamed
  EXPECT_EQ(gemini, 7);
  EXPECT_EQ(gemini_streams, 3);
  EXPECT_EQ(gemini_tools, 2);
  EXPECT_EQ(gemini_wrong_keys, 1);
  // text, stream (the model without a provider, and the gateway's own 400s, never left)
  EXPECT_EQ(openai, 2);
}

}  // namespace
}  // namespace aigw::test
