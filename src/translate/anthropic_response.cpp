// Anthropic Messages response → OpenAI chat completion, whole (chat.completion) and streamed
// (chat.completion.chunk events), and Anthropic error bodies → OpenAI's error shape. Wire
// facts follow Anthropic's "Messages" and "Streaming Messages" references and OpenAI's "The
// chat completion object" / "The chat completion chunk object"; the table is in
// docs/compat.md.

#include "json/canonical.hpp"
#include "json/dom.hpp"
#include "translate/anthropic_detail.hpp"
#include "translate/translate.hpp"
#include "upstream/providers/usage/sse_splitter.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::translate {

using detail::Json;

namespace anthropic_detail {

void read_usage(const Json& usage_json, Usage& usage) {
  if (!usage_json.is_object()) return;
  const auto take = [&usage_json](const char* key, std::uint64_t& slot) {
    const auto it = usage_json.find(key);
    if (it != usage_json.end() && it->is_number_unsigned()) slot = it->get<std::uint64_t>();
  };
  take("input_tokens", usage.input);
  take("output_tokens", usage.output);
  take("cache_read_input_tokens", usage.cache_read);
  take("cache_creation_input_tokens", usage.cache_creation);
}

Json openai_usage(const Usage& usage) {
  // Anthropic's input_tokens leaves out the tokens read from or written to the cache.
  const std::uint64_t prompt = usage.input + usage.cache_read + usage.cache_creation;
  return Json{{"prompt_tokens", prompt},
              {"completion_tokens", usage.output},
              {"total_tokens", prompt + usage.output},
              {"prompt_tokens_details", {{"cached_tokens", usage.cache_read}}}};
}

std::string_view finish_reason(std::string_view stop_reason) {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return "length";
  }
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn, and what is still to come
}

Json openai_error(unsigned status, std::string_view anthropic_error) {
  // Anthropic: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}.
  const std::optional<Json> parsed = detail::parse(anthropic_error);
  if (parsed && parsed->is_object()) {
    const auto error = parsed->find("error");
    if (error != parsed->end() && error->is_object()) {
      const auto message = error->find("message");
      if (message != error->end() && message->is_string()) {
        const std::string_view type = text_field(*error, "type");
        return Json{{"error",
                     {{"message", *message},
                      {"type", type.empty() ? "upstream_error" : std::string(type)},
                      {"param", nullptr},
                      {"code", type.empty() ? std::to_string(status) : std::string(type)}}}};
      }
    }
  }
  std::string message(detail::clip_utf8(anthropic_error, 1000));
  if (message.empty()) message = "Anthropic answered with HTTP " + std::to_string(status);
  return Json{{"error",
               {{"message", std::move(message)},
                {"type", "upstream_error"},
                {"param", nullptr},
                {"code", std::to_string(status)}}}};
}

}  // namespace anthropic_detail

namespace {

using anthropic_detail::kJsonSchemaTool;
using anthropic_detail::text_field;
using anthropic_detail::Usage;

const Json& member(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// A tool_use input as OpenAI's arguments: compact JSON text.
std::string arguments_of(const Json& input) {
  return detail::dump(input.is_object() ? input : Json::object());
}

Error not_a_message(std::string why) {
  return Error{ErrorCode::kUpstreamProtocol,
               "Anthropic's response is not a Messages API message: " + std::move(why)};
}

// The assistant message of a whole response. Text blocks are joined as they are (Anthropic
// splits one answer into several blocks around citations); the json_schema tool's input is
// the answer text.
struct Answer {
  Json message = Json{{"role", "assistant"}};
  bool client_tool_calls = false;
};

Answer read_answer(const Json& content) {
  std::string text;
  bool has_text = false;
  std::vector<std::string> thinking;
  Json tool_calls = Json::array();
  for (const Json& block : content) {
    const std::string_view type = text_field(block, "type");
    if (type == "text") {
      has_text = true;
      text.append(text_field(block, "text"));
    } else if (type == "thinking") {
      thinking.emplace_back(text_field(block, "thinking"));
    } else if (type == "tool_use" && text_field(block, "name") == kJsonSchemaTool) {
      has_text = true;
      text.append(arguments_of(member(block, "input")));
    } else if (type == "tool_use") {
      tool_calls.push_back(Json{{"id", text_field(block, "id")},
                                {"type", "function"},
                                {"function",
                                 {{"name", text_field(block, "name")},
                                  {"arguments", arguments_of(member(block, "input"))}}}});
    }
    // redacted_thinking, server tool blocks and future types have no OpenAI form.
  }
  Answer answer;
  answer.message["content"] = has_text ? Json(std::move(text)) : Json(nullptr);
  std::string reasoning;
  for (const auto& part : thinking) {
    if (part.empty()) continue;
    reasoning.append(reasoning.empty() ? "" : "\n\n").append(part);
  }
  if (!reasoning.empty()) answer.message["reasoning_content"] = std::move(reasoning);
  answer.client_tool_calls = !tool_calls.empty();
  if (answer.client_tool_calls) answer.message["tool_calls"] = std::move(tool_calls);
  return answer;
}

// The forced json_schema tool ends the turn with stop_reason tool_use, but for the client
// it was the answer.
std::string_view finish_reason_of(std::string_view stop_reason, bool client_tool_calls) {
  if (stop_reason == "tool_use" && !client_tool_calls) return "stop";
  return anthropic_detail::finish_reason(stop_reason);
}

Result<std::string> translate_response(const Json& response, const ResponseOptions& options) {
  const Json& content = member(response, "content");
  const std::string_view type = text_field(response, "type");
  if (!type.empty() && type != "message") {
    return not_a_message("its type is \"" + std::string(type) + "\"");
  }
  if (!content.is_array()) return not_a_message("it has no content array");
  const std::string_view id = text_field(response, "id");
  const std::string_view model = text_field(response, "model");
  Answer answer = read_answer(content);
  Json out{
      {"id", id.empty() ? options.id : std::string(id)},
      {"object", "chat.completion"},
      {"created", options.created},
      {"model", model.empty() ? options.model : std::string(model)},
      {"choices",
       Json::array({Json{{"index", 0},
                         {"message", std::move(answer.message)},
                         {"logprobs", nullptr},
                         {"finish_reason", finish_reason_of(text_field(response, "stop_reason"),
                                                            answer.client_tool_calls)}}})}};
  if (const Json& usage_json = member(response, "usage"); usage_json.is_object()) {
    Usage usage;
    anthropic_detail::read_usage(usage_json, usage);
    out["usage"] = anthropic_detail::openai_usage(usage);
  }
  return detail::dump(out);
}

// The usual whole response, text (and thinking) blocks only, read with simdjson and written
// straight, in the bytes translate_response writes: its tree and dump cost three times as
// much (bench/README.md, "/compat"). nullopt for anything else (tool use, the json_schema
// tool, a body that is not a message), which translate_response takes.
std::optional<std::string> text_response(std::string_view body, const ResponseOptions& options) {
  using Element = simdjson::dom::element;
  std::optional<std::string> out;
  json::with_dom(body, [&](Element root) {
    simdjson::dom::object response;
    if (root.get_object().get(response) != simdjson::SUCCESS) return;
    // A field as text_field reads it: a string, else "".
    const auto text_of = [](simdjson::dom::object object, std::string_view key) {
      std::string_view value;
      if (object[key].get_string().get(value) != simdjson::SUCCESS) return std::string_view();
      return value;
    };
    const std::string_view type = text_of(response, "type");
    simdjson::dom::array content;
    if ((!type.empty() && type != "message") ||
        response["content"].get_array().get(content) != simdjson::SUCCESS) {
      return;
    }
    std::string text;
    bool has_text = false;
    std::string reasoning;
    for (const Element item : content) {
      simdjson::dom::object block;
      if (item.get_object().get(block) != simdjson::SUCCESS) continue;
      const std::string_view block_type = text_of(block, "type");
      if (block_type == "text") {
        has_text = true;
        text.append(text_of(block, "text"));
      } else if (block_type == "thinking") {
        const std::string_view part = text_of(block, "thinking");
        if (!part.empty()) reasoning.append(reasoning.empty() ? "" : "\n\n").append(part);
      } else if (block_type == "tool_use") {
        return;
      }
    }
    const std::string_view id = text_of(response, "id");
    const std::string_view model = text_of(response, "model");
    std::string o = R"({"id":)";
    json::append_string(o, id.empty() ? std::string_view(options.id) : id);
    o.append(R"(,"object":"chat.completion","created":)").append(std::to_string(options.created));
    o.append(R"(,"model":)");
    json::append_string(o, model.empty() ? std::string_view(options.model) : model);
    o.append(R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)");
    if (has_text) {
      json::append_string(o, text);
    } else {
      o.append("null");
    }
    if (!reasoning.empty()) {
      o.append(R"(,"reasoning_content":)");
      json::append_string(o, reasoning);
    }
    o.append(R"(},"logprobs":null,"finish_reason":)");
    json::append_string(o, finish_reason_of(text_of(response, "stop_reason"), false));
    o.append("}]");
    simdjson::dom::object usage_object;
    if (response["usage"].get_object().get(usage_object) == simdjson::SUCCESS) {
      // As read_usage reads them: non-negative integers, else 0.
      const auto count = [&usage_object](std::string_view key) {
        std::uint64_t n = 0;
        const auto value = usage_object[key];
        if (value.error() != simdjson::SUCCESS || !value.is_uint64()) return std::uint64_t{0};
        if (value.get_uint64().get(n) != simdjson::SUCCESS) return std::uint64_t{0};
        return n;
      };
      Usage usage;
      usage.input = count("input_tokens");
      usage.output = count("output_tokens");
      usage.cache_read = count("cache_read_input_tokens");
      usage.cache_creation = count("cache_creation_input_tokens");
      o.append(R"(,"usage":)").append(detail::dump(anthropic_detail::openai_usage(usage)));
    }
    o.append("}");
    out = std::move(o);
  });
  return out;
}

// --- streams ---

constexpr std::size_t kMaxEventBytes = std::size_t{1} << 20;
// Anthropic streams one content block at a time; a few open at once is already unusual.
constexpr std::size_t kMaxOpenBlocks = 64;

// Anthropic's stream (message_start, content_block_start/delta/stop, message_delta,
// message_stop, ping, error) as OpenAI chunks, one or none per event. Nothing is held back:
// tool arguments go out as the partial JSON arrives.
class AnthropicStream final : public StreamTranslator {
 public:
  explicit AnthropicStream(const ResponseOptions& options)
      : splitter_(kMaxEventBytes),
        id_(options.id),
        model_(options.model),
        created_(options.created),
        include_usage_(options.include_usage) {}

  void feed(std::string_view bytes, std::string& out) override {
    if (done_) return;
    splitter_.feed(
        bytes, [&](std::string_view name, std::string_view data) { on_event(name, data, out); });
  }

  void finish(std::string& out) override {
    if (finished_) return;
    finished_ = true;
    // The last event may lack its blank line when the connection closed right after it.
    if (!done_) {
      splitter_.peek_pending(
          [&](std::string_view name, std::string_view data) { on_event(name, data, out); });
    }
    // Cut short: the client's stream still ends properly, without a finish_reason the
    // provider never gave.
    if (!done_) close(out);
  }

 private:
  enum class Kind : std::uint8_t { kText, kThinking, kTool, kJsonAnswer, kOther };
  struct Block {
    Kind kind = Kind::kOther;
    std::size_t tool_index = 0;  // OpenAI's tool_calls[].index, for kTool
  };

  void on_event(std::string_view name, std::string_view data, std::string& out) {
    if (done_) return;
    if (text_delta(data, out)) return;
    const std::optional<Json> event = detail::parse(data);
    if (!event || !event->is_object()) return;
    std::string_view type = text_field(*event, "type");
    if (type.empty()) type = name;
    try {
      if (type == "message_start") {
        on_message_start(member(*event, "message"), out);
      } else if (type == "content_block_start") {
        on_block_start(*event, out);
      } else if (type == "content_block_delta") {
        on_block_delta(*event, out);
      } else if (type == "content_block_stop") {
        if (const Json& index = member(*event, "index"); index.is_number_unsigned()) {
          blocks_.erase(index.get<std::uint64_t>());
        }
      } else if (type == "message_delta") {
        on_message_delta(*event, out);
      } else if (type == "message_stop") {
        close(out);
      } else if (type == "error") {
        write(anthropic_detail::openai_error(200, data), out);
        out.append("data: [DONE]\n\n");
        done_ = true;
      }
      // ping, and event types added later, say nothing the client needs.
    } catch (const Json::exception&) {
      // Fields are type-checked before use; an event that still surprises is dropped.
    }
  }

  // Most of a stream is content_block_delta events of type text_delta. Each is read with
  // simdjson and written into the chunk's bytes kept from the first (text_prefix_), the text
  // escaped as dump() escapes it: a fraction of parsing, building and dumping a document per
  // event (bench/README.md, "/compat"). Anything else, or a text_delta simdjson refuses,
  // takes the general path, which writes the same bytes.
  bool text_delta(std::string_view data, std::string& out) {
    if (data.find("\"text_delta\"") == std::string_view::npos) return false;
    std::string_view text;
    bool matched = false;
    json::with_dom(data, [&](simdjson::dom::element event) {
      std::string_view type;
      simdjson::dom::element delta;
      if (event["type"].get(type) != simdjson::SUCCESS || type != "content_block_delta" ||
          event["delta"].get(delta) != simdjson::SUCCESS ||
          delta["type"].get(type) != simdjson::SUCCESS || type != "text_delta" ||
          delta["text"].get(text) != simdjson::SUCCESS) {
        return;
      }
      matched = true;
      if (text.empty()) return;
      start(out);
      if (text_prefix_.empty()) {
        // The general path's bytes for a content delta, split around the text.
        const std::string whole = "data: " + detail::dump(chunk(Json{{"content", ""}}, nullptr));
        const std::size_t at = whole.find("\"content\":\"\"");
        text_prefix_ = whole.substr(0, at + 10);
        text_suffix_ = whole.substr(at + 12) + "\n\n";
      }
      out.append(text_prefix_);
      json::append_string(out, text);
      out.append(text_suffix_);
    });
    return matched;
  }

  void on_message_start(const Json& message, std::string& out) {
    text_prefix_.clear();  // the id and model may change here
    if (const std::string_view id = text_field(message, "id"); !id.empty()) id_ = id;
    if (const std::string_view model = text_field(message, "model"); !model.empty()) {
      model_ = model;
    }
    if (const Json& usage = member(message, "usage"); usage.is_object()) {
      anthropic_detail::read_usage(usage, usage_);
      saw_usage_ = true;
    }
    start(out);
  }

  void on_block_start(const Json& event, std::string& out) {
    const Json& index = member(event, "index");
    const Json& block = member(event, "content_block");
    if (!index.is_number_unsigned() || blocks_.size() >= kMaxOpenBlocks) return;
    const std::string_view type = text_field(block, "type");
    Block state;
    if (type == "text") {
      state.kind = Kind::kText;
      emit_text("content", text_field(block, "text"), out);
    } else if (type == "thinking") {
      state.kind = Kind::kThinking;
      thinking_break_ = true;
      emit_thinking(text_field(block, "thinking"), out);
    } else if (type == "tool_use" && text_field(block, "name") == kJsonSchemaTool) {
      state.kind = Kind::kJsonAnswer;
      if (const Json& input = member(block, "input"); input.is_object() && !input.empty()) {
        emit_text("content", arguments_of(input), out);
      }
    } else if (type == "tool_use") {
      state.kind = Kind::kTool;
      state.tool_index = tool_count_++;
      client_tool_calls_ = true;
      // The input arrives as input_json_delta events; the start carries an empty object.
      const Json& input = member(block, "input");
      const bool has_input = input.is_object() && !input.empty();
      emit(Json{{"tool_calls",
                 Json::array({Json{{"index", state.tool_index},
                                   {"id", text_field(block, "id")},
                                   {"type", "function"},
                                   {"function",
                                    {{"name", text_field(block, "name")},
                                     {"arguments", has_input ? arguments_of(input) : ""}}}}})}},
           Json(nullptr), out);
    }
    blocks_[index.get<std::uint64_t>()] = state;
  }

  void on_block_delta(const Json& event, std::string& out) {
    const Json& delta = member(event, "delta");
    const std::string_view type = text_field(delta, "type");
    if (type == "text_delta") {
      emit_text("content", text_field(delta, "text"), out);
    } else if (type == "thinking_delta") {
      emit_thinking(text_field(delta, "thinking"), out);
    } else if (type == "input_json_delta") {
      const Json& index = member(event, "index");
      if (!index.is_number_unsigned()) return;
      const auto found = blocks_.find(index.get<std::uint64_t>());
      if (found == blocks_.end()) return;
      const std::string_view partial = text_field(delta, "partial_json");
      if (found->second.kind == Kind::kJsonAnswer) {
        emit_text("content", partial, out);
      } else if (found->second.kind == Kind::kTool && !partial.empty()) {
        emit(Json{{"tool_calls", Json::array({Json{{"index", found->second.tool_index},
                                                   {"function", {{"arguments", partial}}}}})}},
             Json(nullptr), out);
      }
    }
    // signature_delta and citations_delta have no OpenAI form.
  }

  void on_message_delta(const Json& event, std::string& out) {
    if (const Json& usage = member(event, "usage"); usage.is_object()) {
      anthropic_detail::read_usage(usage, usage_);
      saw_usage_ = true;
    }
    const std::string_view stop_reason = text_field(member(event, "delta"), "stop_reason");
    if (stop_reason.empty() || finish_sent_) return;
    finish_sent_ = true;
    emit(Json::object(), Json(finish_reason_of(stop_reason, client_tool_calls_)), out);
  }

  // The first chunk names the role, as OpenAI's does.
  void start(std::string& out) {
    if (started_) return;
    started_ = true;
    write(chunk(Json{{"role", "assistant"}, {"content", ""}}, Json(nullptr)), out);
  }

  void emit_text(const char* key, std::string_view text, std::string& out) {
    if (text.empty()) return;
    emit(Json{{key, text}}, Json(nullptr), out);
  }

  // Thinking blocks (several when thinking is interleaved with tool use) are separated by a
  // blank line, as read_answer joins them in a whole response.
  void emit_thinking(std::string_view text, std::string& out) {
    if (text.empty()) return;
    if (thinking_break_ && thinking_sent_) {
      emit_text("reasoning_content", "\n\n" + std::string(text), out);
    } else {
      emit_text("reasoning_content", text, out);
    }
    thinking_break_ = false;
    thinking_sent_ = true;
  }

  void emit(Json delta, Json finish, std::string& out) {
    start(out);
    write(chunk(std::move(delta), std::move(finish)), out);
  }

  Json chunk(Json delta, Json finish) const {
    return Json{{"id", id_},
                {"object", "chat.completion.chunk"},
                {"created", created_},
                {"model", model_},
                {"choices", Json::array({Json{{"index", 0},
                                              {"delta", std::move(delta)},
                                              {"logprobs", nullptr},
                                              {"finish_reason", std::move(finish)}}})}};
  }

  // stream_options.include_usage: the usage chunk (choices: []) goes last, before [DONE].
  void close(std::string& out) {
    if (include_usage_ && saw_usage_) {
      write(Json{{"id", id_},
                 {"object", "chat.completion.chunk"},
                 {"created", created_},
                 {"model", model_},
                 {"choices", Json::array()},
                 {"usage", anthropic_detail::openai_usage(usage_)}},
            out);
    }
    out.append("data: [DONE]\n\n");
    done_ = true;
  }

  static void write(const Json& value, std::string& out) {
    out.append("data: ").append(detail::dump(value)).append("\n\n");
  }

  usage::SseSplitter splitter_;
  std::string id_;
  std::string model_;
  std::string text_prefix_;  // a content chunk's bytes before and after its text
  std::string text_suffix_;
  std::int64_t created_;
  bool include_usage_;
  std::map<std::uint64_t, Block> blocks_;  // open content blocks by Anthropic's index
  std::size_t tool_count_ = 0;
  Usage usage_;
  bool saw_usage_ = false;
  bool client_tool_calls_ = false;
  bool thinking_sent_ = false;   // some reasoning_content went out
  bool thinking_break_ = false;  // a new thinking block started since
  bool started_ = false;
  bool finish_sent_ = false;
  bool done_ = false;  // [DONE] written: nothing more goes out
  bool finished_ = false;
};

}  // namespace

Result<std::string> anthropic_response_to_openai(std::string_view anthropic_response,
                                                 const ResponseOptions& options) {
  if (auto fast = text_response(anthropic_response, options)) return std::move(*fast);
  const std::optional<Json> response = detail::parse(anthropic_response);
  if (!response || !response->is_object()) return not_a_message("it is not a JSON object");
  try {
    return translate_response(*response, options);
  } catch (const Json::exception& e) {
    return not_a_message(e.what());
  }
}

std::unique_ptr<StreamTranslator> anthropic_stream_to_openai(const ResponseOptions& options) {
  return std::make_unique<AnthropicStream>(options);
}

std::string anthropic_error_to_openai(unsigned status, std::string_view anthropic_error) {
  try {
    return detail::dump(anthropic_detail::openai_error(status, anthropic_error));
  } catch (const Json::exception&) {
    return R"({"error":{"message":"Anthropic returned an error","type":"upstream_error",)"
           R"("param":null,"code":")" +
           std::to_string(status) + "\"}}";
  }
}

}  // namespace aigw::translate
