// Gemini → OpenAI chat completions, provider to client (docs/compat.md): a whole
// GenerateContentResponse → chat.completion, a stream → chat.completion.chunk events, and
// Google's error bodies → OpenAI's error shape. Wire facts are from the Gemini API reference
// ("Generating content": GenerateContentResponse, Candidate, Part, UsageMetadata,
// FinishReason, LogprobsResult; streamGenerateContent) and Google's API error model
// (google.rpc.Status).

#include "translate/gemini_detail.hpp"
#include "translate/translate.hpp"
#include "upstream/providers/usage/sse_splitter.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace aigw::translate {
namespace gemini {

const Json* member(const Json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string_view string_member(const Json& object, const std::string& key) {
  const Json* value = member(object, key);
  if (value == nullptr || !value->is_string()) return {};
  return value->get_ref<const std::string&>();
}

std::string clip_utf8(std::string_view text, std::size_t max_bytes) {
  return std::string(detail::clip_utf8(text, max_bytes));
}

Part classify_part(const Json& part) {
  Part out;
  if (const Json* call = member(part, "functionCall"); call != nullptr && call->is_object()) {
    out.kind = Part::Kind::kFunctionCall;
    out.function_call = call;
    out.thought_signature = string_member(part, "thoughtSignature");
    return out;
  }
  const Json* text = member(part, "text");
  if (text == nullptr || !text->is_string()) return out;
  const Json* thought = member(part, "thought");
  const bool is_thought = thought != nullptr && thought->is_boolean() && thought->get<bool>();
  out.kind = is_thought ? Part::Kind::kThought : Part::Kind::kText;
  out.text = text->get_ref<const std::string&>();
  return out;
}

std::optional<std::uint32_t> candidate_index(const Json& candidate) {
  const Json* index = member(candidate, "index");
  if (index == nullptr) return 0;
  // Gemini returns at most eight candidates; anything large is not an index worth a choice.
  if (!index->is_number_unsigned() || index->get<std::uint64_t>() > 1000) return std::nullopt;
  return static_cast<std::uint32_t>(index->get<std::uint64_t>());
}

std::string_view finish_reason(std::string_view gemini_reason, bool has_function_calls) {
  if (gemini_reason == "MAX_TOKENS") return "length";
  // The reasons Google documents as the response (or an image in it) being withheld by a
  // filter: safety, recitation, terminology blocklists, prohibited content, sensitive PII.
  static constexpr std::array<std::string_view, 8> kFiltered = {"SAFETY",
                                                                "RECITATION",
                                                                "BLOCKLIST",
                                                                "PROHIBITED_CONTENT",
                                                                "SPII",
                                                                "IMAGE_SAFETY",
                                                                "IMAGE_PROHIBITED_CONTENT",
                                                                "IMAGE_RECITATION"};
  for (const std::string_view filtered : kFiltered) {
    if (gemini_reason == filtered) return "content_filter";
  }
  // STOP, and everything else (MALFORMED_FUNCTION_CALL, OTHER, LANGUAGE, values added later):
  // OpenAI has no closer reason than a plain stop.
  if (gemini_reason == "STOP" || gemini_reason.empty()) {
    return has_function_calls ? "tool_calls" : "stop";
  }
  return "stop";
}

Json tool_call(const Json& function_call, std::size_t k, std::string_view thought_signature) {
  std::string id(string_member(function_call, "id"));
  if (id.empty()) id = "call_" + std::to_string(k);
  if (!thought_signature.empty()) id.append(kThoughtMark).append(thought_signature);
  const Json* args = member(function_call, "args");
  // A call without arguments still has "{}": OpenAI clients parse arguments as JSON.
  const std::string arguments = args != nullptr && !args->is_null() ? detail::dump(*args) : "{}";
  return Json{
      {"id", std::move(id)},
      {"type", "function"},
      {"function",
       {{"name", std::string(string_member(function_call, "name"))}, {"arguments", arguments}}}};
}

namespace {

// A token count from usageMetadata; absent or malformed counts are 0.
std::uint64_t count(const Json& usage_metadata, const std::string& key) {
  const Json* value = member(usage_metadata, key);
  return value != nullptr && value->is_number_unsigned() ? value->get<std::uint64_t>() : 0;
}

// The UTF-8 bytes of a token, as OpenAI's logprobs carry them.
Json token_bytes(std::string_view token) {
  Json bytes = Json::array();
  for (const char c : token) bytes.push_back(static_cast<unsigned char>(c));
  return bytes;
}

// {token, logprob, bytes} for one LogprobsResult.Candidate.
Json token_logprob(const Json& candidate) {
  const std::string_view token = string_member(candidate, "token");
  const Json* logprob = member(candidate, "logProbability");
  return Json{{"token", std::string(token)},
              {"logprob", logprob != nullptr && logprob->is_number() ? *logprob : Json(0.0)},
              {"bytes", token_bytes(token)}};
}

}  // namespace

Json usage(const Json& usage_metadata) {
  // UsageMetadata: candidatesTokenCount excludes the thoughts, which are billed as output,
  // so completion = candidates + thoughts; toolUsePromptTokenCount (results of server-side
  // tools) is input, as the meter counts it (usage/formats.cpp). promptTokenCount already
  // includes cachedContentTokenCount, as OpenAI's prompt_tokens includes cached_tokens.
  const std::uint64_t prompt =
      count(usage_metadata, "promptTokenCount") + count(usage_metadata, "toolUsePromptTokenCount");
  const std::uint64_t thoughts = count(usage_metadata, "thoughtsTokenCount");
  const std::uint64_t completion = count(usage_metadata, "candidatesTokenCount") + thoughts;
  const Json* total = member(usage_metadata, "totalTokenCount");
  return Json{
      {"prompt_tokens", prompt},
      {"completion_tokens", completion},
      {"total_tokens", total != nullptr && total->is_number_unsigned() ? total->get<std::uint64_t>()
                                                                       : prompt + completion},
      {"prompt_tokens_details",
       {{"cached_tokens", count(usage_metadata, "cachedContentTokenCount")}}},
      {"completion_tokens_details", {{"reasoning_tokens", thoughts}}}};
}

Json logprobs(const Json* logprobs_result) {
  if (logprobs_result == nullptr) return nullptr;
  const Json* chosen = member(*logprobs_result, "chosenCandidates");
  if (chosen == nullptr || !chosen->is_array()) return nullptr;
  const Json* top = member(*logprobs_result, "topCandidates");
  // Both lists have one entry per decoding step (LogprobsResult); the chosen token may be
  // missing from the step's top candidates, as OpenAI's may be from top_logprobs.
  Json content = Json::array();
  for (std::size_t step = 0; step < chosen->size(); ++step) {
    Json entry = token_logprob((*chosen)[step]);
    Json alternatives = Json::array();
    if (top != nullptr && top->is_array() && step < top->size()) {
      const Json* candidates = member((*top)[step], "candidates");
      if (candidates != nullptr && candidates->is_array()) {
        for (const Json& c : *candidates) alternatives.push_back(token_logprob(c));
      }
    }
    entry["top_logprobs"] = std::move(alternatives);
    content.push_back(std::move(entry));
  }
  return Json{{"content", std::move(content)}, {"refusal", nullptr}};
}

Json error_object(const Json& google_error, unsigned status) {
  std::string message = clip_utf8(string_member(google_error, "message"), kMaxErrorMessageBytes);
  const std::string_view code = string_member(google_error, "status");
  if (code.empty()) {
    // A bare {"error":{"code":..,"message":..}}: the numeric code (else the HTTP status).
    const Json* number = member(google_error, "code");
    const std::string numeric = number != nullptr && number->is_number_unsigned()
                                    ? std::to_string(number->get<std::uint64_t>())
                                    : std::to_string(status);
    return Json{{"message", std::move(message)}, {"type", "upstream_error"}, {"code", numeric}};
  }
  // google.rpc.Code names (RESOURCE_EXHAUSTED, INVALID_ARGUMENT...) are ASCII identifiers.
  std::string type(code);
  for (char& c : type) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return Json{
      {"message", std::move(message)}, {"type", std::move(type)}, {"code", std::string(code)}};
}

}  // namespace gemini

namespace {

using detail::Json;
using gemini::member;
using gemini::Part;

Error not_gemini(std::string_view what) {
  return Error{ErrorCode::kUpstreamProtocol, "the Gemini provider returned " + std::string(what) +
                                                 " instead of a GenerateContentResponse"};
}

// Whether `body` is a GenerateContentResponse: every one carries candidates, or
// promptFeedback when the prompt was blocked, and usageMetadata.
bool looks_like_response(const Json& body) {
  if (!body.is_object() || member(body, "error") != nullptr) return false;
  const Json* candidates = member(body, "candidates");
  if (candidates != nullptr) return candidates->is_array();
  const Json* feedback = member(body, "promptFeedback");
  const Json* usage = member(body, "usageMetadata");
  return (feedback != nullptr && feedback->is_object()) || (usage != nullptr && usage->is_object());
}

// One OpenAI choice for one candidate: text in content, thoughts in reasoning_content,
// function calls in tool_calls.
Json choice(const Json& candidate, std::uint32_t index) {
  std::string text;
  std::string reasoning;
  bool has_text = false;
  bool has_reasoning = false;
  Json tool_calls = Json::array();
  const Json* content = member(candidate, "content");
  const Json* parts = content != nullptr ? member(*content, "parts") : nullptr;
  if (parts != nullptr && parts->is_array()) {
    for (const Json& raw : *parts) {
      const Part part = gemini::classify_part(raw);
      switch (part.kind) {
        case Part::Kind::kText:
          text += part.text;
          has_text = true;
          break;
        case Part::Kind::kThought:
          reasoning += part.text;
          has_reasoning = true;
          break;
        case Part::Kind::kFunctionCall:
          tool_calls.push_back(
              gemini::tool_call(*part.function_call, tool_calls.size(), part.thought_signature));
          break;
        case Part::Kind::kOther:
          break;
      }
    }
  }
  Json message = {{"role", "assistant"}, {"content", has_text ? Json(text) : Json(nullptr)}};
  if (has_reasoning) message["reasoning_content"] = reasoning;
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
  const bool calls = message.contains("tool_calls");
  return Json{{"index", index},
              {"message", std::move(message)},
              {"logprobs", gemini::logprobs(member(candidate, "logprobsResult"))},
              {"finish_reason", std::string(gemini::finish_reason(
                                    gemini::string_member(candidate, "finishReason"), calls))}};
}

// The one choice of a response without candidates: a prompt Gemini blocked before generating
// anything (promptFeedback.blockReason) stopped by the content filter; otherwise (never seen,
// but a choice is what OpenAI clients index) an empty stop.
Json empty_choice(const Json& body) {
  const Json* feedback = member(body, "promptFeedback");
  const bool blocked =
      feedback != nullptr && !gemini::string_member(*feedback, "blockReason").empty();
  return Json{{"index", 0},
              {"message", {{"role", "assistant"}, {"content", nullptr}}},
              {"logprobs", nullptr},
              {"finish_reason", blocked ? "content_filter" : "stop"}};
}

Json choices(const Json& body) {
  Json out = Json::array();
  const Json* candidates = member(body, "candidates");
  if (candidates != nullptr) {
    for (std::size_t i = 0; i < candidates->size(); ++i) {
      const Json& candidate = (*candidates)[i];
      out.push_back(choice(
          candidate, gemini::candidate_index(candidate).value_or(static_cast<std::uint32_t>(i))));
    }
  }
  if (out.empty()) out.push_back(empty_choice(body));
  return out;
}

}  // namespace

Result<std::string> gemini_response_to_openai(std::string_view gemini_response,
                                              const ResponseOptions& options) {
  try {
    const std::optional<Json> body = detail::parse(gemini_response);
    if (!body) return not_gemini("a body that is not JSON");
    if (!looks_like_response(*body)) return not_gemini("JSON");
    std::string id(gemini::string_member(*body, "responseId"));
    std::string model(gemini::string_member(*body, "modelVersion"));
    Json out = {{"id", id.empty() ? options.id : id},
                {"object", "chat.completion"},
                {"created", options.created},
                {"model", model.empty() ? options.model : model},
                {"choices", choices(*body)}};
    if (const Json* usage = member(*body, "usageMetadata");
        usage != nullptr && usage->is_object()) {
      out["usage"] = gemini::usage(*usage);
    }
    return detail::dump(out);
  } catch (const std::exception&) {
    // Every access above is type-checked; this only keeps a surprise from escaping.
    return not_gemini("a response the gateway could not read");
  }
}

std::string gemini_error_to_openai(unsigned status, std::string_view gemini_error) {
  try {
    std::optional<Json> body = detail::parse(gemini_error);
    // Google sometimes sends the error wrapped in a one-element array (streamGenerateContent
    // without alt=sse answers with a JSON array, errors included).
    if (body && body->is_array() && !body->empty()) body = Json((*body)[0]);
    if (body) {
      if (const Json* error = member(*body, "error"); error != nullptr && error->is_object()) {
        const Json object = gemini::error_object(*error, status);
        const Json out = {{"error",
                           {{"message", object["message"]},
                            {"type", object["type"]},
                            {"param", nullptr},
                            {"code", object["code"]}}}};
        return detail::dump(out);
      }
    }
  } catch (const std::exception&) {
    // Fall through to the body-as-message form.
  }
  std::string message = gemini::clip_utf8(gemini_error, gemini::kMaxErrorMessageBytes);
  if (message.empty()) {
    message = "the Gemini provider answered HTTP " + std::to_string(status) + " with no body";
  }
  const Json out = {{"error",
                     {{"message", std::move(message)},
                      {"type", "upstream_error"},
                      {"param", nullptr},
                      {"code", std::to_string(status)}}}};
  return detail::dump(out);
}

namespace {

// google.rpc.Code's canonical name for an HTTP status, as Google's APIs pair them.
std::string_view rpc_status(unsigned status) noexcept {
  switch (status) {
    case 400:
    case 413:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 501:
      return "UNIMPLEMENTED";
    case 502:
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

}  // namespace

std::string openai_error_to_gemini(unsigned status, std::string_view openai_error) {
  std::string message;
  std::string reason;
  try {
    if (const auto body = detail::parse(openai_error)) {
      if (const Json* error = gemini::member(*body, "error"); error != nullptr) {
        message = std::string(gemini::string_member(*error, "message"));
        reason = std::string(gemini::string_member(*error, "code"));
      }
    }
  } catch (const std::exception&) {
    message.clear();
  }
  if (message.empty()) message = gemini::clip_utf8(openai_error, gemini::kMaxErrorMessageBytes);
  if (message.empty()) message = "HTTP " + std::to_string(status);
  // google.rpc.Status, as Google's SDKs read it; the gateway's own code rides in an ErrorInfo
  // detail (its reason), so a program can still tell a gateway 429 from the model's.
  Json error = {{"code", status}, {"message", std::move(message)}, {"status", rpc_status(status)}};
  if (!reason.empty()) {
    error["details"] = Json::array({{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                                     {"reason", std::move(reason)},
                                     {"domain", "aigw"}}});
  }
  return detail::dump(Json{{"error", std::move(error)}});
}

// --- streams -------------------------------------------------------------------------------
//
// streamGenerateContent?alt=sse: every event is `data: <GenerateContentResponse>`; text
// arrives as parts spread over events, a functionCall arrives whole in one event,
// usageMetadata may ride on several events (the last is final), and finishReason is on the
// candidate's last event. An error after the response head arrives as an event carrying
// Google's {"error": {...}}.

namespace {

// SseSplitter drops an event past this (the usage parsers' cap): a GenerateContentResponse
// event holds one chunk of text or one function call, far below it.
constexpr std::size_t kMaxEventBytes = std::size_t{1} << 20;
// candidateCount is at most 8 (GenerationConfig); a stream naming more choices than this is
// not Gemini's, and the extra ones are ignored rather than tracked.
constexpr std::size_t kMaxChoices = 16;

class GeminiStream final : public StreamTranslator {
 public:
  explicit GeminiStream(const ResponseOptions& options)
      : id_(options.id),
        model_(options.model),
        created_(options.created),
        include_usage_(options.include_usage) {}

  void feed(std::string_view bytes, std::string& out) override {
    if (closed_) return;
    splitter_.feed(bytes,
                   [&](std::string_view /*name*/, std::string_view data) { on_event(data, out); });
  }

  void finish(std::string& out) override {
    if (closed_) return;
    // A body that ended without the blank line after its last event still meant that event;
    // a cut-off one fails to parse and is ignored.
    splitter_.peek_pending(
        [&](std::string_view /*name*/, std::string_view data) { on_event(data, out); });
    if (closed_) return;  // the pending event was an error, which closes the stream itself
    if (include_usage_ && last_usage_) {
      Json chunk = envelope(Json::array());
      chunk["usage"] = gemini::usage(*last_usage_);
      write(chunk, out);
    }
    // A cut-off stream ends here too: [DONE] without inventing a finish_reason, so the
    // client sees an unfinished choice rather than a made-up stop.
    close(out);
  }

 private:
  // Per choice: whether its role chunk went out, how many tool calls it made (the next
  // call's index) and whether it finished.
  struct Choice {
    std::uint32_t index = 0;
    bool finished = false;
    std::size_t calls = 0;
  };

  void on_event(std::string_view data, std::string& out) {
    if (closed_) return;
    try {
      translate_event(data, out);
    } catch (const std::exception&) {
      // Every access is type-checked; this only keeps a surprise (or bad_alloc) from
      // escaping feed(). The event is lost, the stream goes on.
    }
  }

  void translate_event(std::string_view data, std::string& out) {
    const std::optional<Json> event = detail::parse(data);
    if (!event || !event->is_object()) return;  // not a GenerateContentResponse: nothing to say
    if (const Json* error = member(*event, "error"); error != nullptr && error->is_object()) {
      on_error(*error, out);
      return;
    }
    adopt_identity(*event);
    if (const Json* usage = member(*event, "usageMetadata");
        usage != nullptr && usage->is_object()) {
      last_usage_ = *usage;  // cumulative: the last one is the response's
    }
    const Json* candidates = member(*event, "candidates");
    if (candidates != nullptr && candidates->is_array() && !candidates->empty()) {
      for (std::size_t i = 0; i < candidates->size(); ++i) on_candidate((*candidates)[i], out);
      return;
    }
    const Json* feedback = member(*event, "promptFeedback");
    if (feedback != nullptr && !gemini::string_member(*feedback, "blockReason").empty()) {
      on_blocked_prompt(out);
    }
  }

  // The first event names the response: every chunk carries the same id and model, as
  // OpenAI's do.
  void adopt_identity(const Json& event) {
    if (identified_) return;
    identified_ = true;
    if (const std::string_view id = gemini::string_member(event, "responseId"); !id.empty()) {
      id_ = std::string(id);
    }
    if (const std::string_view model = gemini::string_member(event, "modelVersion");
        !model.empty()) {
      model_ = std::string(model);
    }
  }

  void on_candidate(const Json& candidate, std::string& out) {
    const std::optional<std::uint32_t> index = gemini::candidate_index(candidate);
    if (!index) return;
    Choice* choice = open_choice(*index, out);
    if (choice == nullptr) return;
    Json logprobs = gemini::logprobs(member(candidate, "logprobsResult"));
    const Json* content = member(candidate, "content");
    const Json* parts = content != nullptr ? member(*content, "parts") : nullptr;
    if (parts != nullptr && parts->is_array()) {
      for (const Json& raw : *parts) on_part(gemini::classify_part(raw), *choice, logprobs, out);
    }
    const std::string_view reason = gemini::string_member(candidate, "finishReason");
    if (!reason.empty() && !choice->finished) {
      choice->finished = true;
      write_choice(choice->index, Json::object(), nullptr,
                   std::string(gemini::finish_reason(reason, choice->calls > 0)), out);
    }
  }

  // One delta per part: text, thought, or a whole function call. `logprobs` (the event's
  // LogprobsResult, covering its text) rides on the first text delta.
  void on_part(const Part& part, Choice& choice, Json& logprobs, std::string& out) {
    switch (part.kind) {
      case Part::Kind::kText:
        if (part.text.empty()) return;  // Gemini's closing event often carries text ""
        write_choice(choice.index, Json{{"content", std::string(part.text)}}, std::move(logprobs),
                     nullptr, out);
        logprobs = nullptr;
        return;
      case Part::Kind::kThought:
        if (part.text.empty()) return;
        write_choice(choice.index, Json{{"reasoning_content", std::string(part.text)}}, nullptr,
                     nullptr, out);
        return;
      case Part::Kind::kFunctionCall: {
        Json call = Json{{"index", choice.calls}};
        call.update(gemini::tool_call(*part.function_call, choice.calls, part.thought_signature));
        ++choice.calls;
        write_choice(choice.index, Json{{"tool_calls", Json::array({std::move(call)})}}, nullptr,
                     nullptr, out);
        return;
      }
      case Part::Kind::kOther:
        return;
    }
  }

  // A prompt Gemini refused before generating (promptFeedback.blockReason, no candidates):
  // choice 0 opens and stops at once, by the content filter.
  void on_blocked_prompt(std::string& out) {
    Choice* choice = open_choice(0, out);
    if (choice == nullptr || choice->finished) return;
    choice->finished = true;
    write_choice(0, Json::object(), nullptr, "content_filter", out);
  }

  // Google's error in the stream: OpenAI clients read {"error": {...}} in a data event, then
  // the stream ends; nothing after it is translated.
  void on_error(const Json& error, std::string& out) {
    write(Json{{"error", gemini::error_object(error, 500)}}, out);
    close(out);
  }

  // The state of choice `index`, sending its first chunk (role assistant, content "") the
  // first time it appears; nullptr past kMaxChoices.
  Choice* open_choice(std::uint32_t index, std::string& out) {
    const auto it = std::find_if(choices_.begin(), choices_.end(),
                                 [&](const Choice& c) { return c.index == index; });
    if (it != choices_.end()) return &*it;
    if (choices_.size() >= kMaxChoices) return nullptr;
    choices_.push_back(Choice{index, false, 0});
    write_choice(index, Json{{"role", "assistant"}, {"content", ""}}, nullptr, nullptr, out);
    return &choices_.back();
  }

  Json envelope(Json choices) const {
    return Json{{"id", id_},
                {"object", "chat.completion.chunk"},
                {"created", created_},
                {"model", model_},
                {"choices", std::move(choices)}};
  }

  void write_choice(std::uint32_t index, Json delta, Json logprobs, Json finish_reason,
                    std::string& out) const {
    Json choice = {{"index", index},
                   {"delta", std::move(delta)},
                   {"logprobs", std::move(logprobs)},
                   {"finish_reason", std::move(finish_reason)}};
    write(envelope(Json::array({std::move(choice)})), out);
  }

  static void write(const Json& event, std::string& out) {
    out += "data: ";
    out += detail::dump(event);
    out += "\n\n";
  }

  void close(std::string& out) {
    out += "data: [DONE]\n\n";
    closed_ = true;
  }

  usage::SseSplitter splitter_{kMaxEventBytes};
  std::string id_;
  std::string model_;
  std::int64_t created_;
  bool include_usage_;
  bool identified_ = false;
  bool closed_ = false;  // [DONE] went out: finish() or an error event
  std::vector<Choice> choices_;
  std::optional<Json> last_usage_;
};

}  // namespace

std::unique_ptr<StreamTranslator> gemini_stream_to_openai(const ResponseOptions& options) {
  return std::make_unique<GeminiStream>(options);
}

}  // namespace aigw::translate
