// OpenAI chat completions request → Anthropic Messages request (POST /v1/messages), for
// OpenAI-SDK clients reaching Anthropic through /compat. The field-by-field table is in
// docs/compat.md; wire facts follow OpenAI's "Create chat completion" and Anthropic's
// "Messages" API references. A parameter Anthropic cannot honour is refused with a 400 that
// names it; one that changes nothing the client can observe is dropped.

#include "translate/anthropic_detail.hpp"
#include "translate/translate.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::translate {
namespace {

using anthropic_detail::kJsonSchemaTool;
using anthropic_detail::text_field;
using detail::Json;

// Appended to the system prompt for response_format {type: json_object}: Anthropic has no
// JSON mode, so the instruction is all there is (OpenAI's JSON mode also requires the prompt
// to ask for JSON).
constexpr std::string_view kJsonObjectInstruction =
    "Answer with a single JSON object and nothing else: no text before or after it, no "
    "Markdown code fence.";

// Json converts implicitly to almost anything, Error included, so boost's result cannot pick
// a constructor from a bare Json: say which side it is.
Result<Json> ok(Json value) {
  return Result<Json>(boost::system::in_place_value, std::move(value));
}

Error refuse(std::string param, std::string message) {
  return Error{ErrorCode::kUnsupportedParameter, std::move(message), {}, {}, std::move(param)};
}

std::string indexed(std::string_view base, std::size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

// The value of `key`, or nullptr when it is absent or JSON null: OpenAI clients send null
// for "not set" as often as they leave a field out.
const Json* field(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (static_cast<char>(std::tolower(c)) != prefix[i]) return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    if (!out.empty()) out.append(separator);
    out.append(part);
  }
  return out;
}

// --- parameters Anthropic has no equivalent for ---

Result<void> refuse_unsupported(const Json& request) {
  if (const Json* n = field(request, "n"); n != nullptr) {
    if (!n->is_number() || n->get<double>() != 1.0) {
      return refuse("n", "n must be 1: Anthropic returns one choice per request");
    }
  }
  if (const Json* logprobs = field(request, "logprobs"); logprobs != nullptr) {
    if (!logprobs->is_boolean() || logprobs->get<bool>()) {
      return refuse("logprobs", "logprobs is not supported by Anthropic");
    }
  }
  if (field(request, "top_logprobs") != nullptr) {
    return refuse("top_logprobs", "top_logprobs is not supported by Anthropic");
  }
  if (field(request, "audio") != nullptr) {
    return refuse("audio", "audio output is not supported by Anthropic");
  }
  if (const Json* modalities = field(request, "modalities"); modalities != nullptr) {
    if (!modalities->is_array()) return refuse("modalities", "modalities must be an array");
    for (const auto& modality : *modalities) {
      if (modality == "audio") {
        return refuse("modalities", "audio output is not supported by Anthropic");
      }
    }
  }
  if (field(request, "functions") != nullptr) {
    return refuse("functions", "functions is the deprecated form of tools; send tools instead");
  }
  if (field(request, "function_call") != nullptr) {
    return refuse("function_call",
                  "function_call is the deprecated form of tool_choice; send tool_choice instead");
  }
  return {};
}

// --- messages ---

// One user or assistant turn being built. Tool results are kept apart because a user turn
// must list its tool_result blocks before anything else (Messages API); they are put first
// when the turn is written out, so merging stays linear in the number of blocks.
struct Turn {
  std::string role;
  Json results = Json::array();  // tool_result blocks
  Json blocks = Json::array();   // everything else, in order
};

// A conversation as Anthropic takes it: the system prompt apart, and user and assistant
// turns that alternate.
struct Conversation {
  std::vector<std::string> system;  // joined with a blank line between parts
  std::vector<Turn> turns;
};

// The text of a message whose content may only be text (system, developer, tool): a string,
// or text parts joined with a blank line.
Result<std::string> text_only(const Json* content, const std::string& param) {
  if (content == nullptr) return std::string();
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) {
    return refuse(param, param + " must be a string or an array of text parts");
  }
  std::vector<std::string> parts;
  for (std::size_t j = 0; j < content->size(); ++j) {
    const Json& part = (*content)[j];
    const std::string part_param = indexed(param, j);
    if (text_field(part, "type") != "text") {
      return refuse(part_param + ".type",
                    part_param + ": this message takes text parts only (Anthropic)");
    }
    const Json* text = field(part, "text");
    if (text == nullptr || !text->is_string()) {
      return refuse(part_param + ".text", part_param + ".text must be a string");
    }
    parts.push_back(text->get<std::string>());
  }
  return join(parts, "\n\n");
}

// An OpenAI image_url part as an Anthropic image block (Messages API "image" content with a
// base64 or url source). Only http(s) URLs and base64 data URLs have an Anthropic form.
Result<Json> image_block(const Json& part, const std::string& param) {
  const Json* image_url = field(part, "image_url");
  std::string_view url;
  if (image_url != nullptr && image_url->is_object()) url = text_field(*image_url, "url");
  const std::string url_param = param + ".image_url.url";
  if (url.empty()) return refuse(url_param, url_param + " must be a non-empty string");
  if (starts_with_nocase(url, "data:")) {
    const std::string_view rest = url.substr(5);
    const std::size_t comma = rest.find(',');
    const std::string_view meta = rest.substr(0, comma);
    const std::string_view media_type = meta.substr(0, meta.find(';'));
    constexpr std::string_view kBase64 = ";base64";
    if (comma == std::string_view::npos || media_type.empty() || meta.size() < kBase64.size() ||
        meta.substr(meta.size() - kBase64.size()) != kBase64) {
      return refuse(url_param, url_param +
                                   ": Anthropic takes data URLs only in the form "
                                   "data:<media type>;base64,<data>");
    }
    return ok(Json{{"type", "image"},
                   {"source",
                    {{"type", "base64"},
                     {"media_type", std::string(media_type)},
                     {"data", std::string(rest.substr(comma + 1))}}}});
  }
  if (starts_with_nocase(url, "http://") || starts_with_nocase(url, "https://")) {
    return ok(Json{{"type", "image"}, {"source", {{"type", "url"}, {"url", std::string(url)}}}});
  }
  return refuse(url_param,
                url_param + ": Anthropic takes images as http(s) URLs or base64 data URLs only");
}

// A text block, keeping a cache_control marker the client put on the part (prompt caching
// is Anthropic's; some OpenAI clients already send it this way).
Json text_block(std::string text, const Json& part) {
  Json block{{"type", "text"}, {"text", std::move(text)}};
  if (const Json* cache = field(part, "cache_control"); cache != nullptr && cache->is_object()) {
    block["cache_control"] = *cache;
  }
  return block;
}

// User or assistant content as Anthropic content blocks. Empty text is left out: Anthropic
// refuses empty text blocks, and clients send content "" beside tool_calls.
Result<Json> content_blocks(const Json* content, const std::string& param) {
  Json blocks = Json::array();
  if (content == nullptr) return ok(std::move(blocks));
  if (content->is_string()) {
    if (!content->get_ref<const std::string&>().empty()) {
      blocks.push_back(text_block(content->get<std::string>(), Json::object()));
    }
    return ok(std::move(blocks));
  }
  if (!content->is_array()) {
    return refuse(param, param + " must be a string or an array of content parts");
  }
  for (std::size_t j = 0; j < content->size(); ++j) {
    const Json& part = (*content)[j];
    const std::string part_param = indexed(param, j);
    const std::string_view type = text_field(part, "type");
    if (type == "text" || type == "refusal") {  // an assistant's refusal is what it said
      const Json* text = field(part, type == "text" ? "text" : "refusal");
      if (text == nullptr || !text->is_string()) {
        return refuse(part_param + "." + std::string(type),
                      part_param + "." + std::string(type) + " must be a string");
      }
      if (!text->get_ref<const std::string&>().empty()) {
        blocks.push_back(text_block(text->get<std::string>(), part));
      }
    } else if (type == "image_url") {
      auto image = image_block(part, part_param);
      if (!image) return image.error();
      blocks.push_back(std::move(*image));
    } else {
      return refuse(part_param + ".type", "content part type \"" + std::string(type) + "\" (" +
                                              part_param +
                                              ") is not supported by Anthropic; send text or "
                                              "image_url parts");
    }
  }
  return ok(std::move(blocks));
}

// OpenAI's arguments are the JSON text of an object, Anthropic's input the object itself;
// nullopt when they are something else. A blank string stands for no arguments, and an
// object (sent by some clients) is taken as it is.
std::optional<Json> input_of(const Json* arguments) {
  if (arguments == nullptr) return Json::object();
  if (arguments->is_object()) return *arguments;
  if (!arguments->is_string()) return std::nullopt;
  const auto& text = arguments->get_ref<const std::string&>();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  std::optional<Json> parsed = detail::parse(text);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  return parsed;
}

// An assistant's tool call as a tool_use block; its id is kept exactly, since the tool
// result that answers it names it.
Result<Json> tool_use_block(const Json& call, const std::string& param) {
  if (!call.is_object()) return refuse(param, param + " must be an object");
  if (const Json* type = field(call, "type"); type != nullptr && *type != "function") {
    return refuse(param + ".type", param + ".type must be \"function\"");
  }
  const std::string_view id = text_field(call, "id");
  if (id.empty()) return refuse(param + ".id", param + ".id must be a non-empty string");
  const Json* function = field(call, "function");
  const std::string_view name = function ? text_field(*function, "name") : std::string_view();
  if (name.empty()) {
    return refuse(param + ".function.name", param + ".function.name must be a non-empty string");
  }
  std::optional<Json> input = input_of(field(*function, "arguments"));
  if (!input) {
    const std::string args_param = param + ".function.arguments";
    return refuse(args_param, args_param +
                                  " must be a JSON object in a string: Anthropic takes tool call "
                                  "input as an object");
  }
  return ok(Json{{"type", "tool_use"},
                 {"id", std::string(id)},
                 {"name", std::string(name)},
                 {"input", std::move(*input)}});
}

// Adds `blocks` as a `role` turn, merged into the previous turn when it has the same role
// (Anthropic wants user and assistant to alternate).
void append_turn(Conversation& conversation, std::string_view role, Json blocks) {
  if (blocks.empty()) return;
  if (conversation.turns.empty() || conversation.turns.back().role != role) {
    conversation.turns.push_back(Turn{std::string(role)});
  }
  Turn& turn = conversation.turns.back();
  for (auto& block : blocks) {
    Json& list = text_field(block, "type") == "tool_result" ? turn.results : turn.blocks;
    list.push_back(std::move(block));
  }
}

Json messages_of(Conversation& conversation) {
  Json messages = Json::array();
  for (Turn& turn : conversation.turns) {
    Json content = std::move(turn.results);
    for (auto& block : turn.blocks) content.push_back(std::move(block));
    messages.push_back(Json{{"role", std::move(turn.role)}, {"content", std::move(content)}});
  }
  return messages;
}

Result<void> add_assistant(const Json& message, const std::string& param, Conversation& out) {
  if (field(message, "function_call") != nullptr) {
    return refuse(param + ".function_call",
                  param + ".function_call is the deprecated form of tool_calls; send tool_calls");
  }
  auto blocks = content_blocks(field(message, "content"), param + ".content");
  if (!blocks) return blocks.error();
  if (const Json* calls = field(message, "tool_calls"); calls != nullptr) {
    if (!calls->is_array()) {
      return refuse(param + ".tool_calls", param + ".tool_calls must be an array");
    }
    for (std::size_t j = 0; j < calls->size(); ++j) {
      auto block = tool_use_block((*calls)[j], indexed(param + ".tool_calls", j));
      if (!block) return block.error();
      blocks->push_back(std::move(*block));
    }
  }
  append_turn(out, "assistant", std::move(*blocks));
  return {};
}

// A tool message answers one tool call: a tool_result block in a user turn, so several in a
// row share one turn.
Result<void> add_tool_result(const Json& message, const std::string& param, Conversation& out) {
  const std::string_view id = text_field(message, "tool_call_id");
  if (id.empty()) {
    return refuse(param + ".tool_call_id", param + ".tool_call_id must be a non-empty string");
  }
  auto text = text_only(field(message, "content"), param + ".content");
  if (!text) return text.error();
  Json block{{"type", "tool_result"}, {"tool_use_id", std::string(id)}};
  if (!text->empty()) block["content"] = std::move(*text);  // content is optional there
  append_turn(out, "user", Json::array({std::move(block)}));
  return {};
}

Result<void> add_message(const Json& message, std::size_t i, Conversation& out) {
  const std::string param = indexed("messages", i);
  if (!message.is_object()) return refuse(param, param + " must be an object");
  const std::string_view role = text_field(message, "role");
  if (role == "system" || role == "developer") {
    // Anthropic has one system prompt, outside the turns: every system and developer
    // message joins it, wherever it stood.
    auto text = text_only(field(message, "content"), param + ".content");
    if (!text) return text.error();
    out.system.push_back(std::move(*text));
    return {};
  }
  if (role == "user") {
    auto blocks = content_blocks(field(message, "content"), param + ".content");
    if (!blocks) return blocks.error();
    append_turn(out, "user", std::move(*blocks));
    return {};
  }
  if (role == "assistant") return add_assistant(message, param, out);
  if (role == "tool") return add_tool_result(message, param, out);
  if (role == "function") {
    return refuse(param + ".role",
                  "role \"function\" is the deprecated form of role \"tool\"; send tool messages");
  }
  return refuse(param + ".role",
                param + ".role must be system, developer, user, assistant or tool");
}

// --- tools ---

Result<Json> map_tools(const Json& request) {
  Json tools = Json::array();
  const Json* list = field(request, "tools");
  if (list == nullptr) return ok(std::move(tools));
  if (!list->is_array()) return refuse("tools", "tools must be an array");
  for (std::size_t j = 0; j < list->size(); ++j) {
    const Json& tool = (*list)[j];
    const std::string param = indexed("tools", j);
    const std::string_view type = text_field(tool, "type");
    if (type != "function") {
      return refuse(param + ".type", param + ".type \"" + std::string(type) +
                                         "\" is not supported by Anthropic; only function "
                                         "tools are");
    }
    const Json* function = field(tool, "function");
    const std::string_view name = function ? text_field(*function, "name") : std::string_view();
    if (name.empty()) {
      return refuse(param + ".function.name", param + ".function.name must be a non-empty string");
    }
    if (name == kJsonSchemaTool) {
      return refuse(param + ".function.name",
                    "the tool name \"json_schema_response\" is reserved by the gateway for "
                    "response_format json_schema");
    }
    Json out{{"name", std::string(name)}};
    if (const std::string_view description = text_field(*function, "description");
        !description.empty()) {
      out["description"] = std::string(description);
    }
    const Json* parameters = field(*function, "parameters");
    if (parameters != nullptr && !parameters->is_object()) {
      return refuse(param + ".function.parameters",
                    param + ".function.parameters must be a JSON Schema object");
    }
    // Anthropic requires input_schema; OpenAI's default for a tool without parameters is a
    // function that takes none.
    out["input_schema"] =
        parameters ? *parameters : Json{{"type", "object"}, {"properties", Json::object()}};
    tools.push_back(std::move(out));
  }
  return ok(std::move(tools));
}

// tool_choice as Anthropic's object; nullopt when the client set none.
Result<std::optional<Json>> map_tool_choice(const Json& request) {
  const Json* choice = field(request, "tool_choice");
  if (choice == nullptr) return std::optional<Json>();
  if (*choice == "auto") return std::optional<Json>(Json{{"type", "auto"}});
  if (*choice == "required") return std::optional<Json>(Json{{"type", "any"}});
  if (*choice == "none") return std::optional<Json>(Json{{"type", "none"}});
  if (choice->is_object() && text_field(*choice, "type") == "function") {
    const Json* function = field(*choice, "function");
    const std::string_view name = function ? text_field(*function, "name") : std::string_view();
    if (!name.empty()) {
      return std::optional<Json>(Json{{"type", "tool"}, {"name", std::string(name)}});
    }
  }
  return refuse("tool_choice",
                "tool_choice must be \"auto\", \"required\", \"none\" or {\"type\": \"function\", "
                "\"function\": {\"name\": ...}}");
}

// response_format {type: json_schema} as the forced tool that carries the schema.
Result<std::optional<Json>> json_schema_tool(const Json& format) {
  const Json* spec = field(format, "json_schema");
  if (spec == nullptr || !spec->is_object()) {
    return refuse("response_format.json_schema", "response_format.json_schema must be an object");
  }
  const Json* schema = field(*spec, "schema");
  if (schema != nullptr && !schema->is_object()) {
    return refuse("response_format.json_schema.schema",
                  "response_format.json_schema.schema must be a JSON Schema object");
  }
  std::string description =
      "Give your answer by calling this tool: its input is the answer, a JSON object that "
      "follows the schema";
  if (const std::string_view name = text_field(*spec, "name"); !name.empty()) {
    description.append(" \"").append(name).append("\"");
  }
  description.append(".");
  if (const std::string_view about = text_field(*spec, "description"); !about.empty()) {
    description.append(" ").append(about);
  }
  return std::optional<Json>(
      Json{{"name", std::string(kJsonSchemaTool)},
           {"description", std::move(description)},
           {"input_schema",
            schema ? *schema : Json{{"type", "object"}, {"properties", Json::object()}}}});
}

// Applies response_format: json_object adds an instruction to the system prompt; json_schema
// returns the tool to force.
Result<std::optional<Json>> map_response_format(const Json& request, Conversation& conversation) {
  const Json* format = field(request, "response_format");
  if (format == nullptr) return std::optional<Json>();
  const std::string_view type = format->is_object() ? text_field(*format, "type") : "";
  if (type == "text") return std::optional<Json>();
  if (type == "json_object") {
    conversation.system.emplace_back(kJsonObjectInstruction);
    return std::optional<Json>();
  }
  if (type == "json_schema") return json_schema_tool(*format);
  return refuse("response_format.type",
                "response_format.type must be \"text\", \"json_object\" or \"json_schema\"");
}

// Puts tools and tool_choice into `out`. With a json_schema tool, the model must end with it
// unless it may also call the client's tools: then it must call one of them or it ("any").
Result<void> apply_tools(const Json& request, std::optional<Json> json_tool, Json& out) {
  auto tools = map_tools(request);
  if (!tools) return tools.error();
  auto choice = map_tool_choice(request);
  if (!choice) return choice.error();
  const bool client_tools = !tools->empty();
  if (json_tool) {
    tools->push_back(std::move(*json_tool));
    const std::string_view chosen = *choice ? text_field(**choice, "type") : "auto";
    if (client_tools && chosen == "auto") {
      *choice = Json{{"type", "any"}};
    } else if (!client_tools || chosen == "none") {
      *choice = Json{{"type", "tool"}, {"name", std::string(kJsonSchemaTool)}};
    }
  }
  if (const Json* parallel = field(request, "parallel_tool_calls"); parallel != nullptr) {
    if (!parallel->is_boolean()) {
      return refuse("parallel_tool_calls", "parallel_tool_calls must be a boolean");
    }
    // Anthropic's "none" choice takes no disable_parallel_tool_use; without tools there is
    // nothing to run in parallel.
    if (!parallel->get<bool>() && !tools->empty()) {
      if (!*choice) *choice = Json{{"type", "auto"}};
      if ((**choice)["type"] != "none") (**choice)["disable_parallel_tool_use"] = true;
    }
  }
  // Without tools a choice among them means nothing (OpenAI refuses it; Anthropic need not
  // see it).
  if (tools->empty()) return {};
  out["tools"] = std::move(*tools);
  if (*choice) out["tool_choice"] = std::move(**choice);
  return {};
}

// --- sampling and the rest ---

Result<void> apply_sampling(const Json& request, const RequestOptions& options, Json& out) {
  // max_completion_tokens replaced max_tokens in OpenAI's API; a client sending both means it.
  const Json* completion = field(request, "max_completion_tokens");
  const char* limit_name = completion ? "max_completion_tokens" : "max_tokens";
  const Json* limit = completion ? completion : field(request, "max_tokens");
  if (limit != nullptr) {
    if (!limit->is_number_unsigned() || limit->get<std::uint64_t>() == 0) {
      return refuse(limit_name, std::string(limit_name) + " must be a positive integer");
    }
    out["max_tokens"] = limit->get<std::uint64_t>();
  } else {
    out["max_tokens"] = options.default_max_tokens;  // Anthropic requires it
  }
  if (const Json* stop = field(request, "stop"); stop != nullptr) {
    Json sequences = stop->is_string() ? Json::array({*stop}) : *stop;
    const bool strings =
        sequences.is_array() && std::all_of(sequences.begin(), sequences.end(),
                                            [](const Json& s) { return s.is_string(); });
    if (!strings) return refuse("stop", "stop must be a string or an array of strings");
    if (!sequences.empty()) out["stop_sequences"] = std::move(sequences);
  }
  if (const Json* temperature = field(request, "temperature"); temperature != nullptr) {
    // OpenAI accepts 0..2, Anthropic 0..1; rescaling would change what the client asked for.
    if (!temperature->is_number() || temperature->get<double>() < 0.0 ||
        temperature->get<double>() > 1.0) {
      return refuse("temperature", "temperature must be between 0 and 1 for Anthropic (got " +
                                       detail::dump(*temperature) + ")");
    }
    out["temperature"] = *temperature;
  }
  if (const Json* top_p = field(request, "top_p"); top_p != nullptr) {
    if (!top_p->is_number()) return refuse("top_p", "top_p must be a number");
    out["top_p"] = *top_p;
  }
  return {};
}

Result<TranslatedRequest> translate_request(const Json& request, const RequestOptions& options) {
  if (auto refused = refuse_unsupported(request); !refused) return refused.error();
  const Json* messages = field(request, "messages");
  if (messages == nullptr || !messages->is_array()) {
    return refuse("messages", "messages must be an array");
  }
  Conversation conversation;
  for (std::size_t i = 0; i < messages->size(); ++i) {
    if (auto added = add_message((*messages)[i], i, conversation); !added) return added.error();
  }
  auto json_tool = map_response_format(request, conversation);
  if (!json_tool) return json_tool.error();

  Json out{{"model", options.model}};
  if (auto sampled = apply_sampling(request, options, out); !sampled) return sampled.error();
  if (std::string system = join(conversation.system, "\n\n"); !system.empty()) {
    out["system"] = std::move(system);
  }
  out["messages"] = messages_of(conversation);
  if (auto tooled = apply_tools(request, std::move(*json_tool), out); !tooled) {
    return tooled.error();
  }
  if (const Json* user = field(request, "user"); user != nullptr) {
    if (!user->is_string()) return refuse("user", "user must be a string");
    out["metadata"] = Json{{"user_id", *user}};
  }
  TranslatedRequest translated;
  if (const Json* stream = field(request, "stream"); stream != nullptr) {
    if (!stream->is_boolean()) return refuse("stream", "stream must be a boolean");
    translated.stream = stream->get<bool>();
  }
  if (translated.stream) out["stream"] = true;
  if (const Json* stream_options = field(request, "stream_options"); stream_options != nullptr) {
    const Json* include = field(*stream_options, "include_usage");
    translated.include_usage = include != nullptr && include->is_boolean() && include->get<bool>();
  }
  translated.body = detail::dump(out);
  return translated;
}

}  // namespace

Result<TranslatedRequest> openai_to_anthropic(std::string_view openai_request,
                                              const RequestOptions& options) {
  const std::optional<Json> request = detail::parse(openai_request);
  if (!request || !request->is_object()) {
    return Error{ErrorCode::kInvalidJson, "the request body is not a JSON object"};
  }
  try {
    return translate_request(*request, options);
  } catch (const Json::exception& e) {
    // Every field is type-checked before use; this is the net under that.
    return refuse("",
                  std::string("the request could not be translated for Anthropic: ") + e.what());
  }
}

}  // namespace aigw::translate
