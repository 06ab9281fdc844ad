// Anthropic Messages request → OpenAI chat completions request, for an Anthropic SDK on
// /compat/v1/messages whose model is served by an OpenAI-compatible provider. Field facts:
// Anthropic "Messages" API reference (POST /v1/messages) and OpenAI "Create chat completion"
// reference. The mapping table is in docs/compat.md.

#include "translate/json_io.hpp"
#include "translate/translate.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace aigw::translate {
namespace {

using detail::Json;

// Named in refusals; the lead may chain this translator with another (e.g. to Gemini), so
// the provider is named by the API it is reached through.
constexpr std::string_view kTarget = "an OpenAI-compatible provider";

Error refuse(std::string param, std::string message) {
  return Error{ErrorCode::kUnsupportedParameter, param + ": " + message, {}, {}, param};
}

std::string at(std::string_view base, std::size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

// A client value named in a refusal, quoted and cut short: an error message is no place to
// echo a megabyte the client sent as a block type.
std::string quoted(const Json& value) {
  constexpr std::size_t kMaxEcho = 64;
  std::string text =
      value.is_string() ? "\"" + value.get<std::string>() + "\"" : detail::dump(value);
  if (text.size() <= kMaxEcho) return text;
  std::size_t end = kMaxEcho;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
  return text.substr(0, end) + "...";
}

// A field that may be absent or null; anything else must have the checked type.
bool present(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && !it->is_null();
}

Result<std::string> required_string(const Json& object, const char* key, std::string_view base) {
  const auto it = object.find(key);
  const std::string param = std::string(base) + "." + key;
  if (it == object.end() || it->is_null()) return refuse(param, "Field required");
  if (!it->is_string()) return refuse(param, "must be a string");
  return it->get<std::string>();
}

// --- content blocks ---------------------------------------------------------------------

// Anthropic image source → OpenAI image_url part. Base64 data travels as a data URL, which
// OpenAI's vision input accepts alongside http(s) URLs; a Files API reference ("file") has no
// OpenAI equivalent.
Result<void> image_part(const Json& block, const std::string& base, Json& part) {
  const auto source = block.find("source");
  if (source == block.end() || !source->is_object()) {
    return refuse(base + ".source", "must be an object");
  }
  const Json type = source->value("type", Json());
  std::string url;
  if (type == "base64") {
    auto media_type = required_string(*source, "media_type", base + ".source");
    if (!media_type) return media_type.error();
    auto data = required_string(*source, "data", base + ".source");
    if (!data) return data.error();
    url = "data:" + *media_type + ";base64," + *data;
  } else if (type == "url") {
    auto link = required_string(*source, "url", base + ".source");
    if (!link) return link.error();
    url = std::move(*link);
  } else {
    return refuse(base + ".source.type", "image source " + quoted(type) + " cannot be sent to " +
                                             std::string(kTarget) + " (use base64 or url)");
  }
  part = Json{{"type", "image_url"}, {"image_url", {{"url", std::move(url)}}}};
  return {};
}

// tool_result content: a string, or blocks of which only text has an OpenAI tool-message
// equivalent (tool messages carry text only). Several text blocks are joined with a blank line.
Result<std::string> tool_result_text(const Json& block, const std::string& base) {
  const auto content = block.find("content");
  if (content == block.end() || content->is_null()) return std::string();
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) return refuse(base + ".content", "must be a string or an array");
  std::string text;
  for (std::size_t k = 0; k < content->size(); ++k) {
    const Json& part = (*content)[k];
    const std::string param = at(base + ".content", k);
    if (!part.is_object()) return refuse(param, "must be an object");
    const Json type = part.value("type", Json());
    if (type != "text") {
      return refuse(param + ".type", quoted(type) + " blocks in a tool_result cannot be sent to " +
                                         std::string(kTarget) + " (tool messages carry text only)");
    }
    auto piece = required_string(part, "text", param);
    if (!piece) return piece.error();
    if (k > 0) text += "\n\n";
    text += *piece;
  }
  return text;
}

// OpenAI content from accumulated parts: a lone text part as a plain string (what every
// OpenAI-compatible server accepts), otherwise the array of parts.
Json content_of(Json parts) {
  if (parts.empty()) return "";
  if (parts.size() == 1 && parts[0]["type"] == "text") return parts[0]["text"];
  return parts;
}

Json text_part(const Json& block) { return Json{{"type", "text"}, {"text", block["text"]}}; }

Result<void> check_text_block(const Json& block, const std::string& param) {
  const auto text = block.find("text");
  if (text == block.end() || !text->is_string()) return refuse(param + ".text", "must be a string");
  return {};
}

Error unsupported_block(const Json& type, std::string_view role, const std::string& param) {
  return refuse(param + ".type", quoted(type) + " blocks in a" +
                                     std::string(role == "user" ? " user" : "n assistant") +
                                     " message cannot be sent to " + std::string(kTarget));
}

// A user turn. tool_result blocks become role "tool" messages placed first: OpenAI requires
// the tool messages to follow the assistant message with the tool_calls directly, before any
// other user content (chat completions reference, "tool" message).
Result<void> append_user(const Json& content, const std::string& base, Json& messages) {
  if (content.is_string()) {
    messages.push_back({{"role", "user"}, {"content", content}});
    return {};
  }
  Json parts = Json::array();
  for (std::size_t j = 0; j < content.size(); ++j) {
    const Json& block = content[j];
    const std::string param = at(base, j);
    if (!block.is_object()) return refuse(param, "must be an object");
    const Json type = block.value("type", Json());
    if (type == "text") {
      if (auto ok = check_text_block(block, param); !ok) return ok.error();
      parts.push_back(text_part(block));
    } else if (type == "image") {
      Json part;
      if (auto ok = image_part(block, param, part); !ok) return ok.error();
      parts.push_back(std::move(part));
    } else if (type == "tool_result") {
      // is_error has no OpenAI counterpart: the text (which says what failed) goes as is.
      auto id = required_string(block, "tool_use_id", param);
      if (!id) return id.error();
      auto text = tool_result_text(block, param);
      if (!text) return text.error();
      messages.push_back({{"role", "tool"}, {"tool_call_id", *id}, {"content", *text}});
    } else {
      return unsupported_block(type, "user", param);
    }
  }
  const bool only_tool_results = parts.empty() && !content.empty();
  if (!only_tool_results) messages.push_back({{"role", "user"}, {"content", content_of(parts)}});
  return {};
}

// An assistant turn: text, and tool_use as tool_calls whose arguments are the input as
// compact JSON text (OpenAI's function.arguments is a string). Thinking blocks are dropped:
// their signatures are Anthropic's and OpenAI chat has no way to send reasoning back.
Result<void> append_assistant(const Json& content, const std::string& base, Json& messages) {
  if (content.is_string()) {
    messages.push_back({{"role", "assistant"}, {"content", content}});
    return {};
  }
  Json parts = Json::array();
  Json calls = Json::array();
  for (std::size_t j = 0; j < content.size(); ++j) {
    const Json& block = content[j];
    const std::string param = at(base, j);
    if (!block.is_object()) return refuse(param, "must be an object");
    const Json type = block.value("type", Json());
    if (type == "text") {
      if (auto ok = check_text_block(block, param); !ok) return ok.error();
      parts.push_back(text_part(block));
    } else if (type == "tool_use") {
      auto id = required_string(block, "id", param);
      if (!id) return id.error();
      auto name = required_string(block, "name", param);
      if (!name) return name.error();
      const Json input = present(block, "input") ? block["input"] : Json::object();
      calls.push_back({{"id", *id},
                       {"type", "function"},
                       {"function", {{"name", *name}, {"arguments", detail::dump(input)}}}});
    } else if (type == "thinking" || type == "redacted_thinking") {
      continue;
    } else {
      return unsupported_block(type, "assistant", param);
    }
  }
  Json message = {{"role", "assistant"}};
  // With tool calls and no text, OpenAI's own responses carry content null; send the same.
  message["content"] = parts.empty() && !calls.empty() ? Json() : content_of(std::move(parts));
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  messages.push_back(std::move(message));
  return {};
}

Result<void> append_messages(const Json& request, Json& messages) {
  const auto list = request.find("messages");
  if (list == request.end() || list->is_null()) return refuse("messages", "Field required");
  if (!list->is_array()) return refuse("messages", "must be an array");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& message = (*list)[i];
    const std::string param = at("messages", i);
    if (!message.is_object()) return refuse(param, "must be an object");
    const Json role = message.value("role", Json());
    const auto content = message.find("content");
    if (content == message.end() || !(content->is_string() || content->is_array())) {
      return refuse(param + ".content", "must be a string or an array of content blocks");
    }
    Result<void> ok;
    if (role == "user") {
      ok = append_user(*content, param + ".content", messages);
    } else if (role == "assistant") {
      ok = append_assistant(*content, param + ".content", messages);
    } else {
      return refuse(param + ".role", "must be \"user\" or \"assistant\"");
    }
    if (!ok) return ok.error();
  }
  return {};
}

// system: a string, or text blocks (their cache_control has no OpenAI meaning) joined with a
// blank line, as the first message.
Result<void> append_system(const Json& request, Json& messages) {
  if (!present(request, "system")) return {};
  const Json& system = request["system"];
  std::string text;
  if (system.is_string()) {
    text = system.get<std::string>();
  } else if (system.is_array()) {
    for (std::size_t i = 0; i < system.size(); ++i) {
      const Json& block = system[i];
      const std::string param = at("system", i);
      if (!block.is_object() || block.value("type", Json()) != "text") {
        return refuse(param + ".type", "system blocks must be text blocks");
      }
      if (auto ok = check_text_block(block, param); !ok) return ok.error();
      if (i > 0) text += "\n\n";
      text += block["text"].get<std::string>();
    }
  } else {
    return refuse("system", "must be a string or an array of text blocks");
  }
  if (!text.empty()) messages.push_back({{"role", "system"}, {"content", std::move(text)}});
  return {};
}

// --- tools -------------------------------------------------------------------------------

// Client tools ({name, description, input_schema}, "type" absent or "custom") become
// functions. Anthropic's own tools (web_search_*, bash_*, computer_*, text_editor_*, ...)
// run on Anthropic's side or follow Anthropic-defined schemas no other model was trained on.
Result<void> translate_tools(const Json& tools, Json& out) {
  if (!tools.is_array()) return refuse("tools", "must be an array");
  out = Json::array();
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const Json& tool = tools[i];
    const std::string param = at("tools", i);
    if (!tool.is_object()) return refuse(param, "must be an object");
    if (present(tool, "type") && tool["type"] != "custom") {
      return refuse(param + ".type", "Anthropic tool " + quoted(tool["type"]) +
                                         " cannot be sent to " + std::string(kTarget) +
                                         " (only custom tools with an input_schema can)");
    }
    auto name = required_string(tool, "name", param);
    if (!name) return name.error();
    Json function = {{"name", *name}};
    if (present(tool, "description")) {
      if (!tool["description"].is_string())
        return refuse(param + ".description", "must be a string");
      function["description"] = tool["description"];
    }
    if (present(tool, "input_schema")) {
      if (!tool["input_schema"].is_object()) {
        return refuse(param + ".input_schema", "must be an object");
      }
      function["parameters"] = tool["input_schema"];
    }
    if (present(tool, "strict")) {
      if (!tool["strict"].is_boolean()) return refuse(param + ".strict", "must be a boolean");
      function["strict"] = tool["strict"];
    }
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return {};
}

// tool_choice and its disable_parallel_tool_use. OpenAI refuses tool_choice and
// parallel_tool_calls without tools, which Anthropic accepts, so both go only with tools.
Result<void> translate_tool_choice(const Json& choice, Json& body) {
  if (!choice.is_object()) return refuse("tool_choice", "must be an object");
  const Json type = choice.value("type", Json());
  if (type == "auto") {
    body["tool_choice"] = "auto";
  } else if (type == "any") {
    body["tool_choice"] = "required";
  } else if (type == "none") {
    body["tool_choice"] = "none";
  } else if (type == "tool") {
    auto name = required_string(choice, "name", "tool_choice");
    if (!name) return name.error();
    body["tool_choice"] = {{"type", "function"}, {"function", {{"name", *name}}}};
  } else {
    return refuse("tool_choice.type", "must be \"auto\", \"any\", \"tool\" or \"none\"");
  }
  const auto disable_parallel = choice.find("disable_parallel_tool_use");
  if (disable_parallel != choice.end() && *disable_parallel == true) {
    body["parallel_tool_calls"] = false;
  }
  return {};
}

Result<void> add_tools(const Json& request, Json& body) {
  if (!present(request, "tools")) return {};
  Json tools;
  if (auto ok = translate_tools(request["tools"], tools); !ok) return ok.error();
  if (tools.empty()) return {};
  body["tools"] = std::move(tools);
  if (present(request, "tool_choice")) return translate_tool_choice(request["tool_choice"], body);
  return {};
}

// --- sampling and the rest ---------------------------------------------------------------

Result<void> add_max_tokens(const Json& request, Json& body) {
  // Anthropic requires max_tokens and answers "max_tokens: Field required" without it.
  if (!present(request, "max_tokens")) return refuse("max_tokens", "Field required");
  const Json& value = request["max_tokens"];
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() == 0) {
    return refuse("max_tokens", "must be a positive integer");
  }
  body["max_tokens"] = value;
  return {};
}

Result<void> copy_number(const Json& request, const char* key, Json& body) {
  if (!present(request, key)) return {};
  if (!request[key].is_number()) return refuse(key, "must be a number");
  body[key] = request[key];
  return {};
}

Result<void> add_stop(const Json& request, Json& body) {
  if (!present(request, "stop_sequences")) return {};
  const Json& stops = request["stop_sequences"];
  if (!stops.is_array()) return refuse("stop_sequences", "must be an array of strings");
  for (std::size_t i = 0; i < stops.size(); ++i) {
    if (!stops[i].is_string()) return refuse(at("stop_sequences", i), "must be a string");
  }
  if (!stops.empty()) body["stop"] = stops;
  return {};
}

Result<void> add_user(const Json& request, Json& body) {
  if (!present(request, "metadata")) return {};
  const Json& metadata = request["metadata"];
  if (!metadata.is_object()) return refuse("metadata", "must be an object");
  if (!present(metadata, "user_id")) return {};
  if (!metadata["user_id"].is_string()) return refuse("metadata.user_id", "must be a string");
  body["user"] = metadata["user_id"];
  return {};
}

// Features that run on Anthropic's infrastructure: nothing on the OpenAI side can honour
// them, and answering without them would silently change what the client asked for.
Result<void> refuse_anthropic_only(const Json& request) {
  if (present(request, "container")) {
    return refuse("container",
                  "code execution containers cannot be used with " + std::string(kTarget));
  }
  if (present(request, "mcp_servers") &&
      !(request["mcp_servers"].is_array() && request["mcp_servers"].empty())) {
    return refuse("mcp_servers", "the MCP connector cannot be used with " + std::string(kTarget));
  }
  return {};
}

Result<bool> read_stream(const Json& request) {
  if (!present(request, "stream")) return false;
  if (!request["stream"].is_boolean()) return refuse("stream", "must be a boolean");
  return request["stream"].get<bool>();
}

Result<TranslatedRequest> translate(const Json& request, const RequestOptions& options) {
  if (auto ok = refuse_anthropic_only(request); !ok) return ok.error();
  Json body = {{"model", options.model}, {"messages", Json::array()}};
  if (auto ok = append_system(request, body["messages"]); !ok) return ok.error();
  if (auto ok = append_messages(request, body["messages"]); !ok) return ok.error();
  if (auto ok = add_max_tokens(request, body); !ok) return ok.error();
  if (auto ok = add_stop(request, body); !ok) return ok.error();
  if (auto ok = copy_number(request, "temperature", body); !ok) return ok.error();
  if (auto ok = copy_number(request, "top_p", body); !ok) return ok.error();
  if (auto ok = add_tools(request, body); !ok) return ok.error();
  if (auto ok = add_user(request, body); !ok) return ok.error();
  auto stream = read_stream(request);
  if (!stream) return stream.error();
  if (*stream) {
    body["stream"] = true;
    // Anthropic's message_delta carries the usage; OpenAI streams none without this.
    body["stream_options"] = {{"include_usage", true}};
  }
  TranslatedRequest out;
  out.body = detail::dump(body);
  out.stream = *stream;
  return out;
}

}  // namespace

Result<TranslatedRequest> anthropic_to_openai(std::string_view anthropic_request,
                                              const RequestOptions& options) {
  const auto request = detail::parse(anthropic_request);
  if (!request || !request->is_object()) {
    return Error{ErrorCode::kInvalidJson, "the request body is not a JSON object"};
  }
  try {
    return translate(*request, options);
  } catch (const Json::exception&) {
    // Every field is type-checked before use; this is the net under a missed check.
    return Error{ErrorCode::kUnsupportedParameter,
                 "the request has a field of an unexpected type for the Anthropic Messages API"};
  }
}

}  // namespace aigw::translate
