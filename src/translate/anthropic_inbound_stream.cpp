// OpenAI chat completion stream → Anthropic Messages stream, event by event. OpenAI sends
// "data: <chat.completion.chunk>" events whose choices[0].delta carries text, reasoning or
// tool-call fragments, a usage chunk (choices: []) when stream_options.include_usage is set,
// and "data: [DONE]" (OpenAI "Streaming" reference). Anthropic sends message_start, then for
// each content block content_block_start / _delta... / _stop, then message_delta (stop
// reason, usage) and message_stop (Anthropic "Streaming Messages" reference).

#include "json/canonical.hpp"
#include "json/dom.hpp"
#include "translate/anthropic_inbound_detail.hpp"
#include "translate/json_io.hpp"
#include "translate/translate.hpp"
#include "upstream/providers/usage/sse_splitter.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace aigw::translate {
namespace {

using anthropic_inbound::Json;

// As the usage parsers: a provider event past this is dropped whole.
constexpr std::size_t kMaxEventBytes = std::size_t{1} << 20;

const std::string* string_field(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

std::optional<std::uint64_t> index_field(const Json& object) {
  const auto it = object.find("index");
  if (it == object.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<std::uint64_t>();
}

class OpenAiToAnthropicStream final : public StreamTranslator {
 public:
  explicit OpenAiToAnthropicStream(const ResponseOptions& options) : options_(options) {}

  void feed(std::string_view bytes, std::string& out) override {
    if (ended_) return;
    splitter_.feed(
        bytes, [&](std::string_view name, std::string_view data) { on_event(name, data, out); });
  }

  // A stream that reached [DONE] is already closed. One whose [DONE] lacked the final blank
  // line still meant it. One that carried a finish_reason and then lost [DONE] is complete in
  // substance and is closed. One cut off before its finish_reason gets nothing more: the
  // client must see a stream without message_stop, not a short answer passed off as whole.
  void finish(std::string& out) override {
    if (ended_) return;
    splitter_.peek_pending(
        [&](std::string_view name, std::string_view data) { on_event(name, data, out); });
    if (!ended_ && finish_reason_) end_message(out);
  }

 private:
  enum class Block : std::uint8_t { kNone, kText, kThinking, kToolUse };

  void on_event(std::string_view name, std::string_view data, std::string& out) {
    if (ended_) return;
    if (data == "[DONE]") {
      end_message(out);
      return;
    }
    if (text_chunk(data, out)) return;
    const auto event = detail::parse(data);
    if (!event || !event->is_object()) return;  // not a chunk (a keep-alive, a stray line)
    try {
      if (const auto error = event->find("error"); error != event->end() && !error->is_null()) {
        on_error(*error, out);
      } else if (name == "error") {  // a server that names the event instead of nesting it
        on_error(*event, out);
      } else {
        on_chunk(*event, out);
      }
    } catch (const Json::exception&) {
      // A field of an unexpected type in an untrusted chunk: the chunk is skipped.
    }
  }

  // Most of a stream is chunks whose one choice carries a piece of text and nothing else. Each
  // is read with simdjson and its text_delta written straight, escaped as dump() escapes it:
  // a fraction of building a document per chunk and dumping another (bench/README.md,
  // "/compat"). Anything else (the first chunk, usage, a finish reason, tool calls, reasoning,
  // a second choice) takes the general path, which writes the same bytes.
  bool text_chunk(std::string_view data, std::string& out) {
    if (!started_ || data.find("\"content\"") == std::string_view::npos) return false;
    bool written = false;
    json::with_dom(data, [&](simdjson::dom::element chunk) {
      simdjson::dom::object object;
      simdjson::dom::array choices;
      simdjson::dom::object choice;
      simdjson::dom::object delta;
      if (chunk.get_object().get(object) != simdjson::SUCCESS ||
          object["choices"].get_array().get(choices) != simdjson::SUCCESS || choices.size() != 1 ||
          choices.at(0).get_object().get(choice) != simdjson::SUCCESS ||
          choice["delta"].get_object().get(delta) != simdjson::SUCCESS) {
        return;
      }
      // Nothing beside the text that the general path would act on.
      for (const std::string_view key : {"error", "usage"}) {
        const auto value = object[key];
        if (value.error() == simdjson::SUCCESS && !value.is_null()) return;
      }
      std::uint64_t index = 0;
      const auto index_value = choice["index"];
      if (index_value.error() == simdjson::SUCCESS &&
          (index_value.get_uint64().get(index) != simdjson::SUCCESS || index != 0)) {
        return;
      }
      const auto reason = choice["finish_reason"];
      if (reason.error() == simdjson::SUCCESS && !reason.is_null()) return;
      std::string_view text;
      for (const auto field : delta) {
        if (field.key == "content") {
          if (field.value.get_string().get(text) != simdjson::SUCCESS) return;
        } else if (field.key != "role" && !field.value.is_null()) {
          return;
        }
      }
      if (text.empty()) return;
      if (open_ != Block::kText) open_block(Block::kText, {{"type", "text"}, {"text", ""}}, out);
      out.append("event: content_block_delta\ndata: ");
      out.append(R"({"type":"content_block_delta","index":)");
      out.append(std::to_string(next_index_));
      out.append(R"(,"delta":{"type":"text_delta","text":)");
      json::append_string(out, text);
      out.append("}}\n\n");
      written = true;
    });
    return written;
  }

  // OpenAI reports a failure after the 200 as {"error":{...}} in the stream; Anthropic as an
  // "error" event, after which nothing else follows.
  void on_error(const Json& error, std::string& out) {
    std::string message = anthropic_inbound::error_message(Json{{"error", error}});
    if (message.empty()) message = "the provider reported an error in the stream";
    emit("error",
         anthropic_inbound::error_body(anthropic_inbound::error_type_for_object(error), message),
         out);
    ended_ = true;
  }

  void on_chunk(const Json& chunk, std::string& out) {
    if (!started_) start_message(chunk.value("id", Json()), chunk.value("model", Json()), out);
    if (const auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
      usage_ = anthropic_inbound::read_usage(*usage);
    }
    const auto choices = chunk.find("choices");
    if (choices == chunk.end() || !choices->is_array()) return;
    for (const Json& choice : *choices) {
      // Anthropic has no n: only the first choice is translated.
      if (!choice.is_object() || index_field(choice).value_or(0) != 0) continue;
      if (const auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
        on_delta(*delta, out);
      }
      if (const auto reason = choice.find("finish_reason");
          reason != choice.end() && !reason->is_null()) {
        finish_reason_ = *reason;
      }
    }
  }

  void on_delta(const Json& delta, std::string& out) {
    // DeepSeek and vLLM stream reasoning as reasoning_content; Groq and OpenRouter as reasoning.
    const std::string* reasoning = string_field(delta, "reasoning_content");
    if (reasoning == nullptr || reasoning->empty()) reasoning = string_field(delta, "reasoning");
    if (reasoning != nullptr && !reasoning->empty()) {
      if (open_ != Block::kThinking) {
        open_block(Block::kThinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}},
                   out);
      }
      emit_delta({{"type", "thinking_delta"}, {"thinking", *reasoning}}, out);
    }
    // The first chunk's content is "" beside the role: no block is opened for nothing.
    if (const std::string* text = string_field(delta, "content"); text && !text->empty()) {
      on_text(*text, out);
    }
    // A structured-output refusal streams as delta.refusal: its text is the answer, and the
    // stop reason says it was a refusal (as for a whole response).
    if (const std::string* refusal = string_field(delta, "refusal"); refusal && !refusal->empty()) {
      refused_ = true;
      on_text(*refusal, out);
    }
    if (const auto calls = delta.find("tool_calls"); calls != delta.end() && calls->is_array()) {
      for (const Json& call : *calls) {
        if (call.is_object()) on_tool_call(call, out);
      }
    }
  }

  void on_text(const std::string& text, std::string& out) {
    if (open_ != Block::kText) open_block(Block::kText, {{"type", "text"}, {"text", ""}}, out);
    emit_delta({{"type", "text_delta"}, {"text", text}}, out);
  }

  // A tool call's first fragment carries its id and name, the following ones pieces of its
  // arguments under the same index. A new id (or, without one, a higher index) starts a new
  // tool_use block. Anthropic blocks cannot be reopened, so a fragment for an earlier call
  // (OpenAI does not interleave calls) is dropped.
  void on_tool_call(const Json& call, std::string& out) {
    const std::string* id = string_field(call, "id");
    const std::optional<std::uint64_t> index = index_field(call);
    const bool in_tool = open_ == Block::kToolUse;
    bool starts = false;
    if (id != nullptr && !id->empty()) {
      starts = !in_tool || *id != tool_id_;
    } else if (index) {
      if (!(in_tool && *index == tool_index_)) {
        if (any_tool_ && *index <= max_tool_index_) return;
        starts = true;
      }
    } else {
      starts = !in_tool;
    }
    const Json function = call.value("function", Json::object());
    if (starts) {
      tool_index_ = index.value_or(any_tool_ ? max_tool_index_ + 1 : 0);
      max_tool_index_ = any_tool_ ? std::max(max_tool_index_, tool_index_) : tool_index_;
      any_tool_ = true;
      const std::string* name = function.is_object() ? string_field(function, "name") : nullptr;
      tool_id_ = id != nullptr && !id->empty()
                     ? *id
                     : "toolu_" + message_id_ + "_" + std::to_string(next_index_);
      open_block(Block::kToolUse,
                 {{"type", "tool_use"},
                  {"id", tool_id_},
                  {"name", name != nullptr ? *name : std::string()},
                  {"input", Json::object()}},
                 out);
    }
    const std::string* arguments =
        function.is_object() ? string_field(function, "arguments") : nullptr;
    if (arguments != nullptr && !arguments->empty()) {
      emit_delta({{"type", "input_json_delta"}, {"partial_json", *arguments}}, out);
    }
  }

  void start_message(const Json& id, const Json& model, std::string& out) {
    started_ = true;
    message_id_ = anthropic_inbound::message_id(id, options_.id);
    const bool has_model = model.is_string() && !model.get_ref<const std::string&>().empty();
    emit("message_start",
         {{"type", "message_start"},
          {"message",
           {{"id", message_id_},
            {"type", "message"},
            {"role", "assistant"},
            {"model", has_model ? model : Json(options_.model)},
            {"content", Json::array()},
            {"stop_reason", nullptr},
            {"stop_sequence", nullptr},
            {"usage", {{"input_tokens", 0}, {"output_tokens", 0}}}}}},
         out);
  }

  void open_block(Block kind, Json content_block, std::string& out) {
    close_block(out);
    open_ = kind;
    emit("content_block_start",
         {{"type", "content_block_start"},
          {"index", next_index_},
          {"content_block", std::move(content_block)}},
         out);
  }

  void close_block(std::string& out) {
    if (open_ == Block::kNone) return;
    if (open_ == Block::kToolUse) saw_tool_use_ = true;
    emit("content_block_stop", {{"type", "content_block_stop"}, {"index", next_index_}}, out);
    open_ = Block::kNone;
    ++next_index_;
  }

  void emit_delta(Json delta, std::string& out) {
    emit("content_block_delta",
         {{"type", "content_block_delta"}, {"index", next_index_}, {"delta", std::move(delta)}},
         out);
  }

  // The usage arrives in OpenAI's last chunk, after message_start has gone out with zeros, so
  // message_delta carries all of it (Anthropic's message_delta usage has input_tokens and the
  // cache counts too; its SDKs take them from there).
  void end_message(std::string& out) {
    if (!started_) start_message(Json(), Json(), out);
    close_block(out);
    emit("message_delta",
         {{"type", "message_delta"},
          {"delta",
           {{"stop_reason", refused_ ? "refusal"
                                     : anthropic_inbound::stop_reason(
                                           finish_reason_.value_or(Json()), saw_tool_use_)},
            {"stop_sequence", nullptr}}},
          {"usage",
           {{"input_tokens", usage_.input_tokens},
            {"cache_creation_input_tokens", 0},
            {"cache_read_input_tokens", usage_.cache_read_input_tokens},
            {"output_tokens", usage_.output_tokens}}}},
         out);
    emit("message_stop", {{"type", "message_stop"}}, out);
    ended_ = true;
  }

  static void emit(std::string_view type, const Json& data, std::string& out) {
    out.append("event: ").append(type).append("\ndata: ");
    out.append(detail::dump(data)).append("\n\n");
  }

  ResponseOptions options_;
  usage::SseSplitter splitter_{kMaxEventBytes};
  bool started_ = false;  // message_start sent
  bool ended_ = false;    // message_stop or error sent: the rest of the body is ignored
  std::string message_id_;
  Block open_ = Block::kNone;
  std::uint64_t next_index_ = 0;  // the open block's index, else the next block's
  // The open tool call: its id and OpenAI index; the highest index seen so far.
  std::string tool_id_;
  std::uint64_t tool_index_ = 0;
  std::uint64_t max_tool_index_ = 0;
  bool any_tool_ = false;
  bool saw_tool_use_ = false;
  bool refused_ = false;
  std::optional<Json> finish_reason_;
  anthropic_inbound::Usage usage_;
};

}  // namespace

std::unique_ptr<StreamTranslator> openai_stream_to_anthropic(const ResponseOptions& options) {
  return std::make_unique<OpenAiToAnthropicStream>(options);
}

}  // namespace aigw::translate
