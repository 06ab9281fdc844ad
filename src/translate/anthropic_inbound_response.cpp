// OpenAI chat completion → Anthropic message, and OpenAI error bodies → Anthropic's, for an
// Anthropic SDK on /compat/v1/messages answered by an OpenAI-compatible provider. Field facts:
// OpenAI "The chat completion object" and "Errors"; Anthropic "Messages" and "Errors".

#include "translate/anthropic_inbound_detail.hpp"
#include "translate/json_io.hpp"
#include "translate/translate.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace aigw::translate {
namespace anthropic_inbound {
namespace {

constexpr std::size_t kMaxMessageBytes = 1000;

std::uint64_t count(const Json& object, const char* key) {
  if (!object.is_object()) return 0;
  const auto it = object.find(key);
  return it != object.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string clip(std::string_view text, std::size_t limit) {
  return std::string(detail::clip_utf8(text, limit));
}

}  // namespace

std::string message_id(const Json& openai_id, std::string_view fallback) {
  std::string id = openai_id.is_string() ? openai_id.get<std::string>() : std::string();
  if (id.empty()) id = fallback;
  return id.starts_with("msg_") ? id : "msg_" + id;
}

std::string_view stop_reason(const Json& finish_reason, bool has_tool_use) {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  // "stop", null, and values other servers invent ("eos", DeepSeek's
  // "insufficient_system_resource") all end the turn.
  return has_tool_use ? "tool_use" : "end_turn";
}

Usage read_usage(const Json& openai_usage) {
  Usage usage;
  const std::uint64_t prompt = count(openai_usage, "prompt_tokens");
  std::uint64_t cached = 0;
  if (openai_usage.is_object() && openai_usage.contains("prompt_tokens_details")) {
    cached = count(openai_usage["prompt_tokens_details"], "cached_tokens");
  }
  // DeepSeek reports its context cache as prompt_cache_hit_tokens.
  if (cached == 0) cached = count(openai_usage, "prompt_cache_hit_tokens");
  cached = std::min(cached, prompt);
  usage.input_tokens = prompt - cached;
  usage.cache_read_input_tokens = cached;
  usage.output_tokens = count(openai_usage, "completion_tokens");
  return usage;
}

std::string_view error_type_for_status(unsigned status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      break;
  }
  return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

std::string_view error_type_for_object(const Json& openai_error) {
  if (!openai_error.is_object()) return "api_error";
  const auto code = openai_error.find("code");
  if (code != openai_error.end() && code->is_number_unsigned()) {
    const auto status = code->get<std::uint64_t>();
    if (status >= 400 && status < 600) return error_type_for_status(static_cast<unsigned>(status));
  }
  std::string names;
  for (const char* key : {"type", "code"}) {
    const auto it = openai_error.find(key);
    if (it != openai_error.end() && it->is_string()) names += it->get<std::string>() + " ";
  }
  if (contains(names, "rate_limit") || contains(names, "insufficient_quota")) {
    return "rate_limit_error";
  }
  if (contains(names, "overloaded") || contains(names, "unavailable")) return "overloaded_error";
  if (contains(names, "authentication") || contains(names, "api_key")) {
    return "authentication_error";
  }
  if (contains(names, "permission")) return "permission_error";
  if (contains(names, "not_found")) return "not_found_error";
  if (contains(names, "invalid_request")) return "invalid_request_error";
  return "api_error";
}

std::string error_message(const Json& body) {
  if (!body.is_object()) return {};
  // OpenAI, Groq, DeepSeek, OpenRouter: {"error":{"message":..}}; some servers send
  // {"error":"text"}; Mistral: {"object":"error","message":..} at the top level.
  const Json* holder = &body;
  if (const auto error = body.find("error"); error != body.end()) {
    if (error->is_string()) return error->get<std::string>();
    if (error->is_object()) holder = &*error;
  }
  const auto message = holder->find("message");
  if (message == holder->end() || message->is_null()) return {};
  return message->is_string() ? message->get<std::string>() : detail::dump(*message);
}

Json error_body(std::string_view type, std::string_view message) {
  return Json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
}

}  // namespace anthropic_inbound

namespace {

using anthropic_inbound::Json;

// message.content is a string, or (some servers, e.g. Mistral) an array of parts whose text
// parts are the answer.
std::string content_text(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  if (!content.is_array()) return text;
  for (const Json& part : content) {
    if (part.is_object() && part.value("type", Json()) == "text" && part.contains("text") &&
        part["text"].is_string()) {
      text += part["text"].get<std::string>();
    }
  }
  return text;
}

// DeepSeek and vLLM name the reasoning text reasoning_content; Groq and OpenRouter, reasoning.
std::string reasoning_text(const Json& message) {
  for (const char* key : {"reasoning_content", "reasoning"}) {
    const auto it = message.find(key);
    if (it != message.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      return it->get<std::string>();
    }
  }
  return {};
}

// function.arguments is JSON text the model wrote and may be broken; Anthropic's input must
// be an object, so anything else becomes {} and the rest of the message still goes through.
Json parse_arguments(const Json& function) {
  const auto arguments = function.find("arguments");
  if (arguments == function.end() || !arguments->is_string()) return Json::object();
  auto parsed = detail::parse(arguments->get_ref<const std::string&>());
  return parsed && parsed->is_object() ? std::move(*parsed) : Json::object();
}

Json tool_use_block(const Json& function, const Json& id, const std::string& fallback_id) {
  const Json name = function.value("name", Json());
  return Json{{"type", "tool_use"},
              {"id", id.is_string() ? id : Json(fallback_id)},
              {"name", name.is_string() ? name : Json("")},
              {"input", parse_arguments(function)}};
}

// tool_calls (and the legacy single function_call) as tool_use blocks. A call without an id
// gets one derived from the message id, so the client's tool_result can still refer to it.
void append_tool_uses(const Json& message, const std::string& message_id, Json& content) {
  std::size_t n = 0;
  const auto fallback = [&] { return "toolu_" + message_id + "_" + std::to_string(n++); };
  if (const auto calls = message.find("tool_calls"); calls != message.end() && calls->is_array()) {
    for (const Json& call : *calls) {
      if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
        continue;
      }
      content.push_back(tool_use_block(call["function"], call.value("id", Json()), fallback()));
    }
  }
  if (const auto call = message.find("function_call"); call != message.end() && call->is_object()) {
    content.push_back(tool_use_block(*call, Json(), fallback()));
  }
}

Result<std::string> translate_completion(const Json& completion, const ResponseOptions& options) {
  const Error not_completion{ErrorCode::kUpstreamProtocol,
                             "the provider's response is not an OpenAI chat completion"};
  if (!completion.is_object()) return not_completion;
  const auto choices = completion.find("choices");
  if (choices == completion.end() || !choices->is_array() || choices->empty()) {
    return not_completion;
  }
  const Json& choice = (*choices)[0];  // Anthropic has no n: only the first choice is used
  if (!choice.is_object() || !choice.contains("message") || !choice["message"].is_object()) {
    return not_completion;
  }
  const Json& message = choice["message"];
  const std::string id = anthropic_inbound::message_id(completion.value("id", Json()), options.id);

  Json content = Json::array();
  if (std::string reasoning = reasoning_text(message); !reasoning.empty()) {
    // No signature: the reasoning is not Anthropic's, and is dropped if sent back.
    content.push_back(
        {{"type", "thinking"}, {"thinking", std::move(reasoning)}, {"signature", ""}});
  }
  std::string text = content_text(message.value("content", Json()));
  // A structured-output refusal comes in message.refusal with content null.
  const Json refusal = message.value("refusal", Json());
  const bool refused = text.empty() && refusal.is_string() && !refusal.empty();
  if (refused) text = refusal.get<std::string>();
  if (!text.empty()) content.push_back({{"type", "text"}, {"text", std::move(text)}});
  const std::size_t before_tools = content.size();
  append_tool_uses(message, id, content);
  const bool has_tool_use = content.size() > before_tools;

  const Json model = completion.value("model", Json());
  const auto usage = anthropic_inbound::read_usage(completion.value("usage", Json()));
  const Json response = {
      {"id", id},
      {"type", "message"},
      {"role", "assistant"},
      {"model", model.is_string() && !model.empty() ? model : Json(options.model)},
      {"content", std::move(content)},
      {"stop_reason", refused ? "refusal"
                              : anthropic_inbound::stop_reason(
                                    choice.value("finish_reason", Json()), has_tool_use)},
      {"stop_sequence", nullptr},
      {"usage",
       {{"input_tokens", usage.input_tokens},
        {"output_tokens", usage.output_tokens},
        {"cache_creation_input_tokens", 0},
        {"cache_read_input_tokens", usage.cache_read_input_tokens}}}};
  return detail::dump(response);
}

}  // namespace

Result<std::string> openai_response_to_anthropic(std::string_view openai_response,
                                                 const ResponseOptions& options) {
  const auto completion = detail::parse(openai_response);
  if (!completion) {
    return Error{ErrorCode::kUpstreamProtocol, "the provider's response is not JSON"};
  }
  try {
    return translate_completion(*completion, options);
  } catch (const Json::exception&) {
    return Error{ErrorCode::kUpstreamProtocol,
                 "the provider's response has a field of an unexpected type"};
  }
}

std::string openai_error_to_anthropic(unsigned status, std::string_view openai_error) {
  std::string message;
  try {
    if (const auto body = detail::parse(openai_error)) {
      message = anthropic_inbound::error_message(*body);
    }
  } catch (const Json::exception&) {
    message.clear();
  }
  // Not OpenAI's error shape (an HTML page from a proxy, plain text): the body is the message.
  if (message.empty()) {
    message = anthropic_inbound::clip(openai_error, anthropic_inbound::kMaxMessageBytes);
  }
  if (message.empty()) {
    message = "the provider answered HTTP " + std::to_string(status) + " with an empty body";
  }
  return detail::dump(
      anthropic_inbound::error_body(anthropic_inbound::error_type_for_status(status), message));
}

}  // namespace aigw::translate
