// OpenAI chat completions messages → Gemini contents and systemInstruction: the conversation
// half of openai_to_gemini (gemini.cpp has the entry point and the other parameters; docs/
// compat.md has the table). Wire facts are from the Gemini API reference ("Generating
// content": Content, Part, Blob, FileData, FunctionCall, FunctionResponse) and OpenAI's
// "Create chat completion" reference.

#include "translate/gemini_detail.hpp"

#include <string>
#include <unordered_map>
#include <vector>

namespace aigw::translate::gemini {

Error unsupported(std::string param, std::string message) {
  return Error{ErrorCode::kUnsupportedParameter, std::move(message), {}, {}, std::move(param)};
}

Error malformed(std::string param, std::string message) {
  return Error{ErrorCode::kBadRequest, std::move(message), {}, {}, std::move(param)};
}

std::string shown(std::string_view value) { return "\"" + clip_utf8(value, 100) + "\""; }

const Json* given(const Json& object, const std::string& key) {
  const Json* value = member(object, key);
  return value != nullptr && !value->is_null() ? value : nullptr;
}

std::string at(std::string_view base, std::size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

namespace {

// --- messages --------------------------------------------------------------------------------

// One text part of a content (a refusal part, in an assistant message, is text too).
// `accepted` says which part types the content takes, for the error.
Failure text_part(const Json& part, const std::string& where, std::string_view accepted,
                  std::vector<std::string>& out) {
  const std::string_view type = string_member(part, "type");
  if (type != "text" && type != "refusal") {
    return unsupported(where + ".type", where + ".type " + shown(type) +
                                            " is not supported by the Gemini provider; only " +
                                            std::string(accepted) + " parts are");
  }
  const std::string field = type == "refusal" ? "refusal" : "text";
  const Json* text = member(part, field);
  if (text == nullptr || !text->is_string()) {
    return malformed(where + "." + field, where + "." + field + " must be a string");
  }
  out.push_back(text->get<std::string>());
  return std::nullopt;
}

// The texts of a content that may only hold text: null, a string, or an array of text parts.
// `where` names the content.
Failure texts(const Json& content, const std::string& where, std::vector<std::string>& out) {
  if (content.is_null()) return std::nullopt;
  if (content.is_string()) {
    out.push_back(content.get<std::string>());
    return std::nullopt;
  }
  if (!content.is_array()) {
    return malformed(where, where + " must be a string or an array of content parts");
  }
  for (std::size_t j = 0; j < content.size(); ++j) {
    if (Failure f = text_part(content[j], at(where, j), "text", out)) return f;
  }
  return std::nullopt;
}

// Text parts; empty texts are left out, as Gemini rejects a part with empty text.
void append_texts(const std::vector<std::string>& texts, Json& parts) {
  for (const std::string& text : texts) {
    if (!text.empty()) parts.push_back(Json{{"text", text}});
  }
}

// The MIME type Gemini's fileData needs for an image URL, from its extension. An URL without
// a known image extension is sent as JPEG: Gemini reads the bytes, and a wrong image subtype
// is better than refusing every extension-less image URL (docs/compat.md).
std::string image_mime_type(std::string_view url) {
  const std::string_view path = url.substr(0, url.find_first_of("?#"));
  const std::size_t slash = path.rfind('/');
  const std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "image/jpeg";
  }
  std::string ext(path.substr(dot + 1));
  for (char& c : ext) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (ext == "png") return "image/png";
  if (ext == "webp") return "image/webp";
  if (ext == "gif") return "image/gif";
  if (ext == "heic") return "image/heic";
  return "image/jpeg";  // jpg, jpeg and anything else
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// An image_url part: a base64 data: URL becomes inlineData, an http(s) URL fileData (which
// Gemini fetches itself).
Failure image_part(const Json& part, const std::string& where, Json& parts) {
  const Json* image = member(part, "image_url");
  const Json* url = image != nullptr && image->is_object() ? member(*image, "url") : image;
  const std::string param = where + ".image_url.url";
  if (url == nullptr || !url->is_string()) return malformed(param, param + " must be a string");
  const std::string& text = url->get_ref<const std::string&>();
  if (starts_with_ci(text, "data:")) {
    // data:[<mediatype>][;base64],<data> (RFC 2397); Gemini's Blob needs both.
    const std::size_t comma = text.find(',');
    const std::string_view header = comma == std::string::npos
                                        ? std::string_view()
                                        : std::string_view(text).substr(5, comma - 5);
    constexpr std::string_view kBase64 = ";base64";
    const bool base64 =
        header.size() > kBase64.size() && header.substr(header.size() - kBase64.size()) == kBase64;
    const std::string_view mime = header.substr(0, header.find(';'));
    if (!base64 || mime.empty()) {
      return unsupported(param, param +
                                    " must be a base64 data: URL with a media type "
                                    "(data:image/png;base64,...) for the Gemini provider");
    }
    parts.push_back(
        Json{{"inlineData", {{"mimeType", std::string(mime)}, {"data", text.substr(comma + 1)}}}});
    return std::nullopt;
  }
  if (starts_with_ci(text, "http://") || starts_with_ci(text, "https://")) {
    parts.push_back(Json{{"fileData", {{"mimeType", image_mime_type(text)}, {"fileUri", text}}}});
    return std::nullopt;
  }
  return unsupported(param,
                     param + " must be a data: URL or an http(s) URL for the Gemini provider");
}

// A user message's content: text, and images.
Failure user_parts(const Json& content, const std::string& where, Json& parts) {
  if (!content.is_array()) {
    std::vector<std::string> text;
    if (Failure f = texts(content, where, text)) return f;
    append_texts(text, parts);
    return std::nullopt;
  }
  for (std::size_t j = 0; j < content.size(); ++j) {
    const Json& part = content[j];
    if (string_member(part, "type") == "image_url") {
      if (Failure f = image_part(part, at(where, j), parts)) return f;
      continue;
    }
    std::vector<std::string> text;
    if (Failure f = text_part(part, at(where, j), "text and image_url", text)) return f;
    append_texts(text, parts);
  }
  return std::nullopt;
}

// Tool call arguments as the object Gemini's functionCall.args is. OpenAI carries them as a
// JSON string; "" is a call without arguments.
Failure call_args(const Json& function, const std::string& where, Json& args) {
  const std::string param = where + ".function.arguments";
  const Json* arguments = given(function, "arguments");
  if (arguments == nullptr) {
    args = Json::object();
    return std::nullopt;
  }
  if (arguments->is_string()) {
    const std::string& text = arguments->get_ref<const std::string&>();
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      args = Json::object();
      return std::nullopt;
    }
    std::optional<Json> parsed = detail::parse(text);
    if (parsed && parsed->is_object()) {
      args = std::move(*parsed);
      return std::nullopt;
    }
  }
  return unsupported(param, param +
                                " must be a JSON object: the Gemini provider takes function call "
                                "arguments as an object");
}

class Contents {
 public:
  Failure add(const Json& message, std::size_t i) {
    const std::string where = at("messages", i);
    if (!message.is_object()) return malformed(where, where + " must be an object");
    const std::string_view role = string_member(message, "role");
    const Json* content = member(message, "content");
    const Json& body = content != nullptr ? *content : null_;
    if (role == "system" || role == "developer") {
      std::vector<std::string> text;
      if (Failure f = texts(body, where + ".content", text)) return f;
      append_texts(text, system_);
      return std::nullopt;
    }
    if (role == "user") {
      Json parts = Json::array();
      if (Failure f = user_parts(body, where + ".content", parts)) return f;
      append_turn("user", std::move(parts));
      return std::nullopt;
    }
    if (role == "assistant") return add_assistant(message, body, where);
    if (role == "tool") return add_tool_result(message, body, where);
    if (role == "function") {
      return unsupported(where + ".role",
                         where +
                             ".role \"function\" (the deprecated form of tool results) is "
                             "not supported by the Gemini provider; use role \"tool\"");
    }
    return malformed(where + ".role", where +
                                          ".role must be one of system, developer, user, "
                                          "assistant, tool");
  }

  // The request's contents and systemInstruction, once every message is in.
  Failure finish(Json& request) {
    if (contents_.empty()) {
      return unsupported("messages",
                         "messages must hold at least one user, assistant or tool message: the "
                         "Gemini provider needs contents besides the system instruction");
    }
    request["contents"] = std::move(contents_);
    if (!system_.empty()) request["systemInstruction"] = Json{{"parts", std::move(system_)}};
    return std::nullopt;
  }

 private:
  Failure add_assistant(const Json& message, const Json& content, const std::string& where) {
    std::vector<std::string> text;
    if (Failure f = texts(content, where + ".content", text)) return f;
    Json parts = Json::array();
    append_texts(text, parts);
    const Json* calls = given(message, "tool_calls");
    if (calls != nullptr && !calls->is_array()) {
      return malformed(where + ".tool_calls", where + ".tool_calls must be an array");
    }
    for (std::size_t j = 0; calls != nullptr && j < calls->size(); ++j) {
      if (Failure f = add_call((*calls)[j], at(where + ".tool_calls", j), parts)) return f;
    }
    append_turn("model", std::move(parts));
    return std::nullopt;
  }

  Failure add_call(const Json& call, const std::string& where, Json& parts) {
    const std::string_view type = string_member(call, "type");
    if (!type.empty() && type != "function") {
      return unsupported(where + ".type", where + ".type " + shown(type) +
                                              " is not supported by the Gemini provider; only "
                                              "\"function\" is");
    }
    const Json* function = member(call, "function");
    const std::string_view name =
        function != nullptr ? string_member(*function, "name") : std::string_view();
    if (name.empty()) {
      return malformed(where + ".function.name", where + ".function.name must be a string");
    }
    Json args;
    if (Failure f = call_args(*function, where, args)) return f;
    // The id the client got back (Gemini's own, or call_<k>) names this call's results: the
    // latest earlier call with an id wins, as results follow their call.
    const std::string_view id = string_member(call, "id");
    if (!id.empty()) call_names_[std::string(id)] = std::string(name);
    Json part = {{"functionCall", {{"name", std::string(name)}, {"args", std::move(args)}}}};
    // Gemini 3's thoughtSignature, carried in the id the client got (gemini::kThoughtMark),
    // goes back on the call's part, where Google requires it.
    if (const auto mark = id.find(gemini::kThoughtMark); mark != std::string_view::npos) {
      const std::string_view signature = id.substr(mark + gemini::kThoughtMark.size());
      if (!signature.empty()) part["thoughtSignature"] = std::string(signature);
    }
    parts.push_back(std::move(part));
    return std::nullopt;
  }

  // A tool result is a functionResponse in a user turn; Gemini matches it to its call by the
  // function's name, which OpenAI's tool message lacks: it is the name of the earlier
  // assistant tool call with this tool_call_id.
  Failure add_tool_result(const Json& message, const Json& content, const std::string& where) {
    const std::string param = where + ".tool_call_id";
    const std::string_view id = string_member(message, "tool_call_id");
    if (id.empty()) return malformed(param, param + " must be a non-empty string");
    const auto name = call_names_.find(std::string(id));
    if (name == call_names_.end()) {
      return unsupported(param, param + " " + shown(id) +
                                    " matches no tool call of an earlier assistant message; the "
                                    "Gemini provider needs the called function's name");
    }
    std::vector<std::string> text;
    if (Failure f = texts(content, where + ".content", text)) return f;
    std::string result;
    for (const std::string& t : text) result += t;
    // FunctionResponse.response is an object: a JSON object result is passed as one, any
    // other text is wrapped.
    std::optional<Json> parsed = detail::parse(result);
    Json response = parsed && parsed->is_object() ? std::move(*parsed) : Json{{"result", result}};
    Json parts = Json::array(
        {Json{{"functionResponse", {{"name", name->second}, {"response", std::move(response)}}}}});
    append_turn("user", std::move(parts));
    return std::nullopt;
  }

  // Appends a turn, merged into the previous one when the role repeats: Gemini expects user
  // and model turns to alternate, and consecutive tool results form one user turn.
  void append_turn(const std::string& role, Json parts) {
    if (parts.empty()) return;  // nothing Gemini would accept (an empty turn is rejected)
    if (!contents_.empty() && contents_.back()["role"] == role) {
      Json& previous = contents_.back()["parts"];
      for (Json& part : parts) previous.push_back(std::move(part));
      return;
    }
    contents_.push_back(Json{{"role", role}, {"parts", std::move(parts)}});
  }

  Json contents_ = Json::array();
  Json system_ = Json::array();
  std::unordered_map<std::string, std::string> call_names_;
  const Json null_ = nullptr;
};

}  // namespace

Failure translate_messages(const Json& request, Json& out) {
  const Json* messages = member(request, "messages");
  if (messages == nullptr || !messages->is_array() || messages->empty()) {
    return malformed("messages", "messages must be a non-empty array");
  }
  Contents contents;
  for (std::size_t i = 0; i < messages->size(); ++i) {
    if (Failure f = contents.add((*messages)[i], i)) return f;
  }
  return contents.finish(out);
}

}  // namespace aigw::translate::gemini
