// OpenAI chat completions request → Gemini GenerateContentRequest (docs/compat.md has the
// table): the entry point and every parameter but the messages, which gemini_request.cpp
// turns into contents. Wire facts are from the Gemini API reference ("Generating content":
// GenerateContentRequest, Tool, FunctionDeclaration, Schema, ToolConfig, GenerationConfig)
// and OpenAI's "Create chat completion" reference. The model and the method
// (generateContent, or streamGenerateContent?alt=sse for a stream) are in the URL path,
// which the caller builds: the body never names the model.

#include "translate/gemini_detail.hpp"
#include "translate/translate.hpp"

#include <algorithm>
#include <string>

namespace aigw::translate {
namespace {

using detail::Json;
using gemini::at;
using gemini::Failure;
using gemini::given;
using gemini::malformed;
using gemini::member;
using gemini::shown;
using gemini::unsupported;

// --- schemas ---------------------------------------------------------------------------------

// FunctionDeclaration.parameters is Gemini's Schema, a subset of OpenAPI 3.0; it rejects the
// request ("Unknown name ...") on JSON Schema keywords outside it. These are dropped: they
// only tighten validation (additionalProperties), or annotate (the rest), so the model still
// sees every property. Other keywords pass as given, and Gemini answers for them.
bool dropped_schema_key(std::string_view key) {
  return key == "additionalProperties" || key == "$schema" || key == "strict" || key == "$id" ||
         key == "$comment";
}

void clean_schema(Json& schema);

// Keys of these members are property names, not keywords: kept, their values cleaned.
bool names_properties(std::string_view key) {
  return key == "properties" || key == "$defs" || key == "definitions";
}

// Values (not schemas) a keyword may hold objects in, which must pass untouched.
bool holds_values(std::string_view key) {
  return key == "enum" || key == "const" || key == "default" || key == "example" ||
         key == "examples";
}

void clean_schema(Json& schema) {
  if (!schema.is_object()) return;
  for (auto it = schema.begin(); it != schema.end();) {
    if (dropped_schema_key(it.key())) {
      it = schema.erase(it);
      continue;
    }
    Json& value = it.value();
    if (names_properties(it.key()) && value.is_object()) {
      for (auto& property : value) clean_schema(property);
    } else if (!holds_values(it.key())) {
      if (value.is_object()) clean_schema(value);
      if (value.is_array()) {
        for (auto& item : value) clean_schema(item);  // anyOf, items as a tuple...
      }
    }
    ++it;
  }
}

// --- tools -----------------------------------------------------------------------------------

Failure translate_tools(const Json& request, Json& out) {
  const Json* tools = given(request, "tools");
  if (tools == nullptr) return std::nullopt;
  if (!tools->is_array()) return malformed("tools", "tools must be an array");
  Json declarations = Json::array();
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const Json& tool = (*tools)[i];
    const std::string where = at("tools", i);
    const std::string_view type = gemini::string_member(tool, "type");
    if (type != "function") {
      return unsupported(where + ".type", where + ".type " + shown(type) +
                                              " is not supported by the Gemini provider; only "
                                              "\"function\" tools are");
    }
    const Json* function = member(tool, "function");
    const std::string_view name =
        function != nullptr ? gemini::string_member(*function, "name") : std::string_view();
    if (name.empty()) {
      return malformed(where + ".function.name", where + ".function.name must be a string");
    }
    Json declaration = {{"name", std::string(name)}};
    if (const Json* description = given(*function, "description"); description != nullptr) {
      if (!description->is_string()) {
        return malformed(where + ".function.description",
                         where + ".function.description must be a string");
      }
      declaration["description"] = *description;
    }
    if (const Json* parameters = given(*function, "parameters"); parameters != nullptr) {
      if (!parameters->is_object()) {
        return malformed(where + ".function.parameters",
                         where + ".function.parameters must be a JSON Schema object");
      }
      Json schema = *parameters;
      clean_schema(schema);
      declaration["parameters"] = std::move(schema);
    }
    declarations.push_back(std::move(declaration));
  }
  if (!declarations.empty()) {
    out["tools"] = Json::array({Json{{"functionDeclarations", std::move(declarations)}}});
  }
  return std::nullopt;
}

// tool_choice → toolConfig.functionCallingConfig (mode AUTO, ANY, NONE; ANY with
// allowedFunctionNames forces one function).
Failure translate_tool_choice(const Json& request, Json& out) {
  const Json* choice = given(request, "tool_choice");
  if (choice == nullptr) return std::nullopt;
  Json config;
  if (choice->is_string()) {
    const std::string& mode = choice->get_ref<const std::string&>();
    if (mode == "auto") {
      config = {{"mode", "AUTO"}};
    } else if (mode == "required") {
      config = {{"mode", "ANY"}};
    } else if (mode == "none") {
      config = {{"mode", "NONE"}};
    } else {
      return unsupported("tool_choice", "tool_choice " + shown(mode) +
                                            " is not supported by the Gemini provider; use "
                                            "\"auto\", \"required\", \"none\" or a function");
    }
  } else {
    const Json* function = member(*choice, "function");
    const std::string_view name =
        function != nullptr ? gemini::string_member(*function, "name") : std::string_view();
    if (gemini::string_member(*choice, "type") != "function" || name.empty()) {
      return unsupported("tool_choice",
                         "tool_choice must be \"auto\", \"required\", \"none\" or "
                         "{\"type\":\"function\",\"function\":{\"name\":...}} for the Gemini "
                         "provider");
    }
    config = {{"mode", "ANY"}, {"allowedFunctionNames", Json::array({std::string(name)})}};
  }
  out["toolConfig"] = Json{{"functionCallingConfig", std::move(config)}};
  return std::nullopt;
}

// --- generationConfig ------------------------------------------------------------------------

enum class Kind : std::uint8_t { kNumber, kInteger, kBoolean };

// Copies request[from] into config[to] after checking its type.
Failure copy(const Json& request, const std::string& from, Kind kind, Json& config,
             const std::string& to) {
  const Json* value = given(request, from);
  if (value == nullptr) return std::nullopt;
  const bool ok = kind == Kind::kNumber    ? value->is_number()
                  : kind == Kind::kInteger ? value->is_number_integer()
                                           : value->is_boolean();
  if (!ok) {
    const char* what = kind == Kind::kNumber    ? "a number"
                       : kind == Kind::kInteger ? "an integer"
                                                : "a boolean";
    return malformed(from, from + " must be " + what);
  }
  config[to] = *value;
  return std::nullopt;
}

// request[key] as a bool (false when absent); `param` names it in the error.
Failure flag(const Json& request, const std::string& key, const std::string& param, bool& out) {
  const Json* value = given(request, key);
  if (value != nullptr && !value->is_boolean()) {
    return malformed(param, param + " must be a boolean");
  }
  out = value != nullptr && value->get<bool>();
  return std::nullopt;
}

Failure translate_stop(const Json& request, Json& config) {
  const Json* stop = given(request, "stop");
  if (stop == nullptr) return std::nullopt;
  if (stop->is_string()) {
    config["stopSequences"] = Json::array({*stop});
    return std::nullopt;
  }
  if (stop->is_array()) {
    const bool strings =
        std::all_of(stop->begin(), stop->end(), [](const Json& s) { return s.is_string(); });
    if (strings) {
      if (!stop->empty()) config["stopSequences"] = *stop;
      return std::nullopt;
    }
  }
  return malformed("stop", "stop must be a string or an array of strings");
}

Failure translate_response_format(const Json& request, Json& config) {
  const Json* format = given(request, "response_format");
  if (format == nullptr) return std::nullopt;
  const std::string_view type = gemini::string_member(*format, "type");
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    config["responseMimeType"] = "application/json";
    return std::nullopt;
  }
  if (type == "json_schema") {
    config["responseMimeType"] = "application/json";
    // responseJsonSchema takes JSON Schema itself (unlike responseSchema's OpenAPI subset),
    // so the client's schema passes as given.
    const Json* spec = member(*format, "json_schema");
    const Json* schema = spec != nullptr ? given(*spec, "schema") : nullptr;
    if (schema != nullptr) {
      if (!schema->is_object()) {
        return malformed("response_format.json_schema.schema",
                         "response_format.json_schema.schema must be a JSON Schema object");
      }
      config["responseJsonSchema"] = *schema;
    }
    return std::nullopt;
  }
  return unsupported("response_format.type",
                     "response_format.type " + shown(type) +
                         " is not supported by the Gemini provider; use \"text\", "
                         "\"json_object\" or \"json_schema\"");
}

Failure translate_generation_config(const Json& request, Json& out) {
  Json config = Json::object();
  Failure f;
  if ((f = copy(request, "temperature", Kind::kNumber, config, "temperature"))) return f;
  if ((f = copy(request, "top_p", Kind::kNumber, config, "topP"))) return f;
  // max_completion_tokens is the newer name; when a client sends both, it wins.
  const std::string max_name =
      given(request, "max_completion_tokens") != nullptr ? "max_completion_tokens" : "max_tokens";
  if ((f = copy(request, max_name, Kind::kInteger, config, "maxOutputTokens"))) return f;
  if ((f = translate_stop(request, config))) return f;
  if ((f = copy(request, "n", Kind::kInteger, config, "candidateCount"))) return f;
  if ((f = copy(request, "seed", Kind::kInteger, config, "seed"))) return f;
  if ((f = copy(request, "presence_penalty", Kind::kNumber, config, "presencePenalty"))) return f;
  if ((f = copy(request, "frequency_penalty", Kind::kNumber, config, "frequencyPenalty"))) {
    return f;
  }
  if ((f = translate_response_format(request, config))) return f;
  // logprobs → responseLogprobs; top_logprobs (alternatives per token) → logprobs, which
  // Gemini only reads with responseLogprobs, as OpenAI only reads top_logprobs with logprobs.
  bool logprobs = false;
  if ((f = flag(request, "logprobs", "logprobs", logprobs))) return f;
  if (logprobs) {
    config["responseLogprobs"] = true;
    if ((f = copy(request, "top_logprobs", Kind::kInteger, config, "logprobs"))) return f;
  }
  if (!config.empty()) out["generationConfig"] = std::move(config);
  return std::nullopt;
}

// --- refusals --------------------------------------------------------------------------------

// What /compat cannot carry to Gemini, refused rather than silently dropped because the
// client would get something else than it asked for.
Failure refuse_unsupported(const Json& request) {
  if (given(request, "functions") != nullptr) {
    return unsupported("functions",
                       "functions (the deprecated form of tools) is not supported by the Gemini "
                       "provider; use tools");
  }
  if (given(request, "function_call") != nullptr) {
    return unsupported("function_call",
                       "function_call (the deprecated form of tool_choice) is not supported by "
                       "the Gemini provider; use tool_choice");
  }
  if (given(request, "audio") != nullptr) {
    return unsupported("audio", "audio output is not supported by the Gemini provider on /compat");
  }
  if (const Json* modalities = given(request, "modalities");
      modalities != nullptr && modalities->is_array()) {
    for (const Json& modality : *modalities) {
      if (modality == "audio") {
        return unsupported("modalities",
                           "modalities \"audio\" is not supported by the Gemini provider on "
                           "/compat");
      }
    }
  }
  // Gemini has no per-token bias: a non-empty logit_bias would be silently ignored.
  if (const Json* bias = given(request, "logit_bias"); bias != nullptr && !bias->empty()) {
    return unsupported("logit_bias", "logit_bias is not supported by the Gemini provider");
  }
  return std::nullopt;
}

Result<TranslatedRequest> translate(const Json& request) {
  if (Failure f = refuse_unsupported(request)) return *f;
  Json out = Json::object();
  if (Failure f = gemini::translate_messages(request, out)) return *f;
  if (Failure f = translate_tools(request, out)) return *f;
  if (Failure f = translate_tool_choice(request, out)) return *f;
  if (Failure f = translate_generation_config(request, out)) return *f;

  // stream picks the method (streamGenerateContent?alt=sse), which the caller puts in the
  // path; include_usage is for the stream translator, Gemini always reports usage.
  TranslatedRequest translated;
  if (Failure f = flag(request, "stream", "stream", translated.stream)) return *f;
  const Json* options = given(request, "stream_options");
  if (options != nullptr && !options->is_object()) {
    return malformed("stream_options", "stream_options must be an object");
  }
  bool include_usage = false;
  if (options != nullptr) {
    if (Failure f =
            flag(*options, "include_usage", "stream_options.include_usage", include_usage)) {
      return *f;
    }
  }
  translated.include_usage = translated.stream && include_usage;
  translated.body = detail::dump(out);
  return translated;
}

}  // namespace

Result<TranslatedRequest> openai_to_gemini(std::string_view openai_request,
                                           const RequestOptions& /*options: the model is in the
                                                                  URL path, not the body*/) {
  const std::optional<Json> request = detail::parse(openai_request);
  if (!request || !request->is_object()) {
    return Error{ErrorCode::kInvalidJson, "request body is not a JSON object"};
  }
  try {
    return translate(*request);
  } catch (const std::exception&) {
    // Every access is type-checked; this only keeps a surprise from escaping.
    return Error{ErrorCode::kBadRequest, "the request could not be translated for Gemini"};
  }
}

}  // namespace aigw::translate
