// Usage parsers per response format. Each format is a small copyable state that takes whole
// events (one SSE event's data, one element of a streamed JSON array, one NDJSON line) or one
// whole buffered body; the Parser around it decides how the bytes are framed and bounds
// memory. Field names and their meaning are from each provider's API reference, cited below.

#include "upstream/providers/usage/usage_parser.hpp"

#include "json/dom.hpp"
#include "upstream/providers/usage/sse_splitter.hpp"

#include <array>
#include <cmath>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

namespace aigw::usage {
namespace {

using Element = simdjson::dom::element;
using Type = simdjson::dom::element_type;

// --- small JSON helpers ---------------------------------------------------------------------

// A JSON value of the document being read, or nothing (a member that is absent).
class Json {
 public:
  Json() = default;
  explicit Json(Element e) : e_(e), present_(true) {}
  explicit operator bool() const { return present_; }
  bool is(Type t) const { return present_ && e_.type() == t; }
  bool is_object() const { return is(Type::OBJECT); }
  bool is_array() const { return is(Type::ARRAY); }
  bool is_string() const { return is(Type::STRING); }
  Element element() const { return e_; }

 private:
  Element e_;
  bool present_ = false;
};

// The elements of an array value (none for anything else), for range-for.
class Items {
 public:
  explicit Items(const Json& j) {
    if (j.is_array()) {
      const simdjson::dom::array a(j.element().get_array().value_unsafe());
      begin_ = a.begin();
      end_ = a.end();
    }
  }
  class Iterator {
   public:
    explicit Iterator(simdjson::dom::array::iterator it) : it_(it) {}
    Json operator*() const { return Json(*it_); }
    Iterator& operator++() {
      ++it_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return it_ != o.it_; }

   private:
    simdjson::dom::array::iterator it_;
  };
  Iterator begin() const { return Iterator(begin_); }
  Iterator end() const { return Iterator(end_); }

 private:
  simdjson::dom::array::iterator begin_{};
  simdjson::dom::array::iterator end_{};
};

// Of duplicate keys the last counts, as it did with nlohmann.
Json member(const Json& j, std::string_view key) {
  if (!j.is_object()) return {};
  Json found;
  const simdjson::dom::object o = j.element().get_object().value_unsafe();
  for (const auto field : o) {
    if (field.key == key) found = Json(field.value);
  }
  return found;
}

// Several members of an object in one pass over it (each as member() would find it).
template <std::size_t N>
std::array<Json, N> members(const Json& j, const std::array<std::string_view, N>& keys) {
  std::array<Json, N> found{};
  if (!j.is_object()) return found;
  const simdjson::dom::object o = j.element().get_object().value_unsafe();
  for (const auto field : o) {
    for (std::size_t k = 0; k < N; ++k) {
      if (field.key == keys[k]) {
        found[k] = Json(field.value);
        break;
      }
    }
  }
  return found;
}

std::string_view string_of(const Json& j) {
  return j.is_string() ? j.element().get_string().value_unsafe() : std::string_view();
}

// A token count: a non-negative integer (or a float that is one, as some proxies write).
std::optional<std::uint64_t> count_of(const Json& j) {
  if (!j) return std::nullopt;
  const Element e = j.element();
  switch (e.type()) {
    case Type::UINT64:
      return e.get_uint64().value_unsafe();
    case Type::INT64: {
      const std::int64_t v = e.get_int64().value_unsafe();
      if (v >= 0) return static_cast<std::uint64_t>(v);
      return std::nullopt;
    }
    case Type::DOUBLE: {
      const double v = e.get_double().value_unsafe();
      if (std::isfinite(v) && v >= 0 && v < 1.8e19) return static_cast<std::uint64_t>(v);
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::optional<std::uint64_t> sum(std::optional<std::uint64_t> a, std::optional<std::uint64_t> b) {
  if (!a) return b;
  if (!b) return a;
  return *a + *b;
}

// The length of a value's compact JSON text (tool arguments sent as objects): exact but for
// escapes and numbers, which count 4. Walks with an explicit stack: nesting depth is the
// sender's choice.
std::uint64_t json_chars(const Json& root) {
  if (!root) return 0;
  std::uint64_t n = 0;
  std::vector<Element> todo{root.element()};
  while (!todo.empty()) {
    const Element j = todo.back();
    todo.pop_back();
    switch (j.type()) {
      case Type::OBJECT: {
        const simdjson::dom::object o = j.get_object().value_unsafe();
        const std::size_t size = o.size();
        n += size == 0 ? 2 : size + 1;  // braces and commas
        for (const auto field : o) {
          n += code_points(field.key) + 3;  // quotes and colon
          todo.push_back(field.value);
        }
        break;
      }
      case Type::ARRAY: {
        const simdjson::dom::array a = j.get_array().value_unsafe();
        const std::size_t size = a.size();
        n += size == 0 ? 2 : size + 1;
        for (const Element e : a) todo.push_back(e);
        break;
      }
      case Type::STRING:
        n += code_points(j.get_string().value_unsafe()) + 2;
        break;
      case Type::BOOL:
        n += j.get_bool().value_unsafe() ? 4 : 5;
        break;
      default:
        n += 4;  // numbers (a typical argument number; exactness does not matter for an
                 // estimate) and null
        break;
    }
  }
  return n;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// --- formats ---------------------------------------------------------------------------------

class FormatState {
 public:
  virtual ~FormatState() = default;
  virtual std::unique_ptr<FormatState> clone() const = 0;

  // One event of a stream: SSE data, an element of a JSON array stream, or an NDJSON line.
  void on_event(std::string_view name, std::string_view data) {
    // OpenAI-style streams end with a literal "[DONE]" data line (OpenAI API reference,
    // "Chat Completions streaming"); Workers AI and most compatible servers copy it.
    if (trim(data) == "[DONE]") {
      result_.saw_end = true;
      return;
    }
    json::with_dom(data, [&](Element root) {
      const Json j(root);
      if (j.is_object()) on_event_json(name, j);
    });
  }
  // A complete buffered body.
  virtual void on_body(const Json& body) = 0;
  virtual UsageResult result() const { return result_; }
  std::uint64_t output_chars() const noexcept { return result_.output_chars; }

 protected:
  virtual void on_event_json(std::string_view name, const Json& event) = 0;

  void add_text(Json j) { result_.output_chars += code_points(string_of(j)); }
  void set_model(Json j) {
    const std::string_view m = string_of(j);
    if (!m.empty()) result_.model = std::string(m);
  }

  UsageResult result_;
};

template <class Derived>
class Cloneable : public FormatState {
 public:
  std::unique_ptr<FormatState> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// xAI counts reasoning apart from completion_tokens ("reasoning token consumption will be
// counted separately from completion_tokens, but will be counted in the total_tokens", xAI
// docs, consumption and rate limits), where OpenAI includes it. The total tells them apart
// without naming the provider: when it is input + output + reasoning, output lacks reasoning.
void add_reasoning_if_apart(TokenUsage& t, std::optional<std::uint64_t> total) {
  if (t.reasoning && *t.reasoning > 0 && t.input && t.output && total &&
      *total == *t.input + *t.output + *t.reasoning) {
    *t.output += *t.reasoning;
  }
}

// OpenAI Chat Completions / Completions / Embeddings usage object (API reference, "The chat
// completion object": usage.prompt_tokens, completion_tokens, prompt_tokens_details.
// cached_tokens, completion_tokens_details.reasoning_tokens; completion_tokens includes
// reasoning). DeepSeek reports cache hits as prompt_cache_hit_tokens (DeepSeek API docs,
// "Context Caching"); OpenRouter adds prompt_tokens_details.cache_write_tokens (OpenRouter
// docs, "Usage Accounting"). Returns nothing when the object holds no count at all.
std::optional<TokenUsage> openai_usage(const Json& u) {
  constexpr std::array<std::string_view, 8> kKeys{"prompt_tokens",
                                                  "input_tokens",
                                                  "completion_tokens",
                                                  "output_tokens",
                                                  "prompt_tokens_details",
                                                  "prompt_cache_hit_tokens",
                                                  "completion_tokens_details",
                                                  "total_tokens"};
  const auto [prompt, input, completion, output, details, cache_hit, completion_details, total] =
      members(u, kKeys);
  TokenUsage t;
  t.input = count_of(prompt);
  if (!t.input) t.input = count_of(input);
  t.output = count_of(completion);
  if (!t.output) t.output = count_of(output);
  const auto [cached, cache_write] =
      members(details, std::array<std::string_view, 2>{"cached_tokens", "cache_write_tokens"});
  t.cached_input = count_of(cached);
  if (!t.cached_input) t.cached_input = count_of(cache_hit);
  t.cache_write = count_of(cache_write);
  t.reasoning = count_of(member(completion_details, "reasoning_tokens"));
  if (!t.input && !t.output) return std::nullopt;
  add_reasoning_if_apart(t, count_of(total));
  return t;
}

// OpenAI Chat Completions, Completions and Embeddings; also Workers AI's native /run output,
// whose streams mix its own {"response": ...} events with OpenAI-shaped chunks.
class OpenAiState final : public Cloneable<OpenAiState> {
 public:
  void on_body(const Json& body) override {
    // Workers AI wraps its output in the Cloudflare API envelope {"result": {...}} (Workers
    // AI REST API); its bindings return the inner object.
    Json result = member(body, "result");
    take(result && result.is_object() ? result : body, "message");
  }

 protected:
  void on_event_json(std::string_view /*name*/, const Json& chunk) override {
    take(chunk, "delta");
  }

 private:
  // A whole response (its choices have a "message") or a streamed chunk (a "delta").
  void take(const Json& r, std::string_view message_key) {
    constexpr std::array<std::string_view, 6> kKeys{"model",   "usage",    "x_groq",
                                                    "choices", "response", "tool_calls"};
    const auto [model, usage, x_groq, choices, response, tool_calls] = members(r, kKeys);
    set_model(model);
    take_usage(usage, x_groq);
    for (const Json choice : Items(choices)) {
      const auto [text, message] =
          members(choice, std::array<std::string_view, 2>{"text", message_key});
      add_text(text);  // completions
      add_message(message);
    }
    add_workers_ai(response, tool_calls);
  }

  // The last usage seen wins: OpenAI sends one (the include_usage chunk, with "choices": []),
  // Mistral and DeepSeek put it on the last chunk with choices, Perplexity and xAI on every
  // chunk (cumulative), Groq in x_groq.usage (Groq API reference, "x_groq"); Workers AI may
  // send a zero usage before the real one.
  void take_usage(Json u, const Json& x_groq) {
    if (!u.is_object()) u = member(x_groq, "usage");
    if (!u.is_object()) return;
    if (auto t = openai_usage(u)) result_.usage = *t;
  }

  // A message (buffered) or delta (streamed): content, reasoning (DeepSeek's
  // reasoning_content, OpenRouter's and Groq's reasoning), refusal, tool-call arguments.
  void add_message(const Json& m) {
    if (!m.is_object()) return;
    constexpr std::array<std::string_view, 6> kKeys{
        "content", "reasoning_content", "reasoning", "refusal", "tool_calls", "function_call"};
    const auto [content, reasoning_content, reasoning, refusal, calls, function_call] =
        members(m, kKeys);
    if (content.is_array()) {  // content parts (e.g. Mistral's)
      for (const Json part : Items(content)) {
        const auto [text, thinking] =
            members(part, std::array<std::string_view, 2>{"text", "thinking"});
        add_text(text);
        for (const Json t : Items(thinking)) add_text(member(t, "text"));
      }
    } else {
      add_text(content);
    }
    add_text(reasoning_content);
    add_text(reasoning);
    add_text(refusal);
    for (const Json call : Items(calls)) add_text(member(member(call, "function"), "arguments"));
    add_text(member(function_call, "arguments"));  // the pre-tools form
  }

  // Workers AI native output: {"response": "text" | {json}, "tool_calls": [{name, arguments}]}.
  void add_workers_ai(const Json& response, const Json& calls) {
    if (response) {
      if (response.is_string()) {
        add_text(response);
      } else if (response.is_object() || response.is_array()) {
        result_.output_chars += json_chars(response);  // JSON mode
      }
    }
    for (const Json call : Items(calls)) {
      Json args = member(call, "arguments");
      if (!args) args = member(member(call, "function"), "arguments");
      if (args && args.is_string()) {
        add_text(args);
      } else if (args) {
        result_.output_chars += json_chars(args);
      }
    }
  }
};

// OpenAI Responses API usage (API reference, "The response object": usage.input_tokens,
// input_tokens_details.cached_tokens, output_tokens, output_tokens_details.reasoning_tokens).
std::optional<TokenUsage> responses_usage(const Json& u) {
  TokenUsage t;
  t.input = count_of(member(u, "input_tokens"));
  t.output = count_of(member(u, "output_tokens"));
  t.cached_input = count_of(member(member(u, "input_tokens_details"), "cached_tokens"));
  t.reasoning = count_of(member(member(u, "output_tokens_details"), "reasoning_tokens"));
  if (!t.input && !t.output) return std::nullopt;
  add_reasoning_if_apart(t, count_of(member(u, "total_tokens")));
  return t;
}

// OpenAI Responses API. Streams (API reference, "Streaming events") carry text in
// response.*.delta events and the usage only in the terminal response.completed,
// response.incomplete or response.failed event's response object.
class ResponsesState final : public Cloneable<ResponsesState> {
 public:
  void on_body(const Json& body) override {
    take_response(body);
    Json output = member(body, "output");
    if (!output || !output.is_array()) return;
    for (const Json item : Items(output)) {
      add_text(member(item, "arguments"));  // function_call
      add_text(member(item, "input"));      // custom_tool_call
      for (const char* list : {"content", "summary"}) {
        Json parts = member(item, list);
        if (!parts || !parts.is_array()) continue;
        for (const Json part : Items(parts)) {
          add_text(member(part, "text"));  // output_text, reasoning_text, summary_text
          add_text(member(part, "refusal"));
        }
      }
    }
  }

 protected:
  void on_event_json(std::string_view name, const Json& event) override {
    std::string_view type = string_of(member(event, "type"));
    if (type.empty()) type = name;
    constexpr std::string_view kDelta = ".delta";
    if (type.size() > kDelta.size() && type.substr(type.size() - kDelta.size()) == kDelta) {
      // Text and argument deltas; response.audio.delta is base64 audio, not text.
      if (type != "response.audio.delta") add_text(member(event, "delta"));
      return;
    }
    Json response = member(event, "response");
    if (!response) return;
    take_response(response);
    if (type == "response.completed" || type == "response.incomplete" ||
        type == "response.failed") {
      result_.saw_end = true;
    }
  }

 private:
  void take_response(const Json& response) {
    set_model(member(response, "model"));
    Json u = member(response, "usage");
    if (!u || !u.is_object()) return;
    if (auto t = responses_usage(u)) result_.usage = *t;
  }
};

// Anthropic Messages (API reference, "Messages" and "Streaming Messages"). A stream reports
// usage twice: message_start has input_tokens, the cache counts and a placeholder
// output_tokens; message_delta has the cumulative output_tokens and, in newer API versions,
// the cumulative input and cache counts again. Each figure is replaced, never added, so
// nothing is counted twice. input_tokens excludes cache reads and writes; TokenUsage.input
// includes them (aigw/usage.hpp), so the parts are added when the result is read.
class AnthropicState final : public Cloneable<AnthropicState> {
 public:
  void on_body(const Json& body) override {
    set_model(member(body, "model"));
    take_usage(member(body, "usage"));
    Json content = member(body, "content");
    if (!content || !content.is_array()) return;
    for (const Json block : Items(content)) {
      add_text(member(block, "text"));
      add_text(member(block, "thinking"));
      if (Json input = member(block, "input"); input) {  // tool_use
        result_.output_chars += json_chars(input);
      }
    }
  }

  UsageResult result() const override {
    UsageResult r = result_;
    if (input_ || cache_read_ || cache_write_) {
      r.usage.input = sum(sum(input_, cache_read_), cache_write_);
    }
    r.usage.cached_input = cache_read_;
    r.usage.cache_write = cache_write_;
    r.usage.output = output_;
    return r;
  }

 protected:
  void on_event_json(std::string_view name, const Json& event) override {
    std::string_view type = string_of(member(event, "type"));
    if (type.empty()) type = name;
    if (type == "content_block_delta") {
      Json delta = member(event, "delta");
      add_text(member(delta, "text"));          // text_delta
      add_text(member(delta, "thinking"));      // thinking_delta
      add_text(member(delta, "partial_json"));  // input_json_delta (tool input)
    } else if (type == "content_block_start") {
      Json block = member(event, "content_block");
      add_text(member(block, "text"));
      add_text(member(block, "thinking"));
    } else if (type == "message_start") {
      Json message = member(event, "message");
      set_model(member(message, "model"));
      take_usage(member(message, "usage"));
    } else if (type == "message_delta") {
      take_usage(member(event, "usage"));
    } else if (type == "message_stop") {
      result_.saw_end = true;
    }
  }

 private:
  void take_usage(Json u) {
    if (!u || !u.is_object()) return;
    if (auto v = count_of(member(u, "input_tokens"))) input_ = v;
    if (auto v = count_of(member(u, "cache_read_input_tokens"))) cache_read_ = v;
    if (auto v = count_of(member(u, "cache_creation_input_tokens"))) cache_write_ = v;
    if (auto v = count_of(member(u, "output_tokens"))) output_ = v;
  }

  std::optional<std::uint64_t> input_;
  std::optional<std::uint64_t> cache_read_;
  std::optional<std::uint64_t> cache_write_;
  std::optional<std::uint64_t> output_;
};

// Google Gemini GenerateContentResponse (Gemini API reference, "UsageMetadata"), the same
// object whole or as each streamed chunk. usageMetadata is cumulative in a stream, so the
// last one is taken whole. totalTokenCount is documented as the sum of promptTokenCount,
// candidatesTokenCount, toolUsePromptTokenCount and thoughtsTokenCount: candidates exclude
// thoughts, so output = candidates + thoughts; tool-use prompt tokens (results of
// server-side tools fed back to the model) are input. promptTokenCount includes the cached
// content, as TokenUsage.input must.
class GeminiState final : public Cloneable<GeminiState> {
 public:
  void on_body(const Json& body) override {
    if (body.is_array()) {  // a streamGenerateContent body read whole
      for (const Json chunk : Items(body)) take(chunk);
    } else {
      take(body);
    }
  }

 protected:
  void on_event_json(std::string_view /*name*/, const Json& chunk) override { take(chunk); }

 private:
  void take(const Json& r) {
    if (!r.is_object()) return;
    set_model(member(r, "modelVersion"));
    if (Json u = member(r, "usageMetadata"); u && u.is_object()) {
      TokenUsage t;
      const auto prompt = count_of(member(u, "promptTokenCount"));
      const auto tool = count_of(member(u, "toolUsePromptTokenCount"));
      const auto candidates = count_of(member(u, "candidatesTokenCount"));
      const auto thoughts = count_of(member(u, "thoughtsTokenCount"));
      t.input = prompt ? sum(prompt, tool) : std::nullopt;
      t.output = sum(candidates, thoughts);
      t.cached_input = count_of(member(u, "cachedContentTokenCount"));
      t.reasoning = thoughts;
      if (!t.empty()) result_.usage = t;
    }
    Json candidates = member(r, "candidates");
    if (!candidates || !candidates.is_array()) return;
    for (const Json candidate : Items(candidates)) {
      if (Json parts = member(member(candidate, "content"), "parts"); parts && parts.is_array()) {
        for (const Json part : Items(parts)) {
          add_text(member(part, "text"));  // also thought summaries ("thought": true)
          if (Json args = member(member(part, "functionCall"), "args")) {
            result_.output_chars += json_chars(args);
          }
        }
      }
      if (!string_of(member(candidate, "finishReason")).empty()) result_.saw_end = true;
    }
  }
};

// Cohere Chat v2 (API reference, "Chat" and "Chat with Streaming": the message-end event's
// delta.usage) and, for older clients, v1 (meta, and the stream-end event of its NDJSON
// stream); also Embed (meta.billed_units.input_tokens).
//
// Cohere reports two counts: usage.tokens, every token the model processed (including the
// prompt template Cohere adds), and usage.billed_units, what Cohere invoices ("How Does
// Cohere's Pricing Work?"). Metering is for cost, so billed_units wins; tokens is the fallback
// for a figure billed_units lacks. usage.cached_tokens is not mapped: it counts against
// tokens, not against the billed input, so it is not a part of TokenUsage.input here.
class CohereState final : public Cloneable<CohereState> {
 public:
  void on_body(const Json& body) override {
    take_usage(member(body, "usage"));
    take_usage(member(body, "meta"));  // v1 chat and embed
    add_text(member(body, "text"));    // v1 chat
    add_message(member(body, "message"));
  }

 protected:
  void on_event_json(std::string_view name, const Json& event) override {
    std::string_view type = string_of(member(event, "type"));
    if (type.empty()) type = string_of(member(event, "event_type"));  // v1
    if (type.empty()) type = name;
    if (type == "content-delta" || type == "tool-plan-delta" || type == "tool-call-start" ||
        type == "tool-call-delta") {
      add_message(member(member(event, "delta"), "message"));
    } else if (type == "message-end") {
      take_usage(member(member(event, "delta"), "usage"));
      result_.saw_end = true;
    } else if (type == "text-generation") {  // v1
      add_text(member(event, "text"));
    } else if (type == "stream-end") {  // v1
      take_usage(member(member(event, "response"), "meta"));
      result_.saw_end = true;
    }
  }

 private:
  void take_usage(Json u) {
    if (!u || !u.is_object()) return;
    Json billed = member(u, "billed_units");
    Json tokens = member(u, "tokens");
    TokenUsage t;
    t.input = count_of(member(billed, "input_tokens"));
    if (!t.input) t.input = count_of(member(tokens, "input_tokens"));
    t.output = count_of(member(billed, "output_tokens"));
    if (!t.output) t.output = count_of(member(tokens, "output_tokens"));
    if (!t.empty()) result_.usage = t;
  }

  // v2 message or stream delta.message: content (a list of parts whole, one part as a
  // delta), tool_plan, tool_calls (a list whole, one call as a delta).
  void add_message(Json m) {
    if (!m || !m.is_object()) return;
    auto add_part = [this](const Json& part) {
      add_text(member(part, "text"));
      add_text(member(part, "thinking"));
    };
    if (Json content = member(m, "content"); content) {
      if (content.is_array()) {
        for (const Json part : Items(content)) add_part(part);
      } else if (content.is_string()) {
        add_text(content);
      } else {
        add_part(content);
      }
    }
    add_text(member(m, "tool_plan"));
    if (Json calls = member(m, "tool_calls"); calls) {
      if (calls.is_array()) {
        for (const Json call : Items(calls))
          add_text(member(member(call, "function"), "arguments"));
      } else {
        add_text(member(member(calls, "function"), "arguments"));
      }
    }
  }
};

std::unique_ptr<FormatState> make_state(UsageFormat format) {
  switch (format) {
    case UsageFormat::kOpenAiChat:
    case UsageFormat::kOpenAiCompletions:
    case UsageFormat::kOpenAiEmbeddings:
    case UsageFormat::kWorkersAi:
      return std::make_unique<OpenAiState>();
    case UsageFormat::kOpenAiResponses:
      return std::make_unique<ResponsesState>();
    case UsageFormat::kAnthropicMessages:
      return std::make_unique<AnthropicState>();
    case UsageFormat::kGemini:
      return std::make_unique<GeminiState>();
    case UsageFormat::kCohere:
      return std::make_unique<CohereState>();
    case UsageFormat::kNone:
      break;
  }
  return nullptr;
}

// --- framing ---------------------------------------------------------------------------------

class Parser final : public UsageParser {
 public:
  Parser(std::unique_ptr<FormatState> state, bool event_stream)
      : state_(std::move(state)),
        mode_(event_stream ? Mode::kSse : Mode::kSniff),
        sse_(kMaxEventBytes),
        array_(kMaxEventBytes) {}

  void feed(std::string_view bytes) override {
    cached_.reset();
    if (mode_ == Mode::kSniff) {
      const auto first = bytes.find_first_not_of(" \t\r\n");
      if (first == std::string_view::npos) return;
      bytes.remove_prefix(first);
      mode_ = sniff(bytes.front());
    }
    switch (mode_) {
      case Mode::kSse:
        sse_.feed(bytes, [this](std::string_view name, std::string_view data) {
          state_->on_event(name, data);
        });
        break;
      case Mode::kArray:
        array_.feed(bytes, [this](std::string_view element) { state_->on_event("", element); });
        break;
      case Mode::kBuffered:
        if (overflow_) return;
        if (body_.size() + bytes.size() > kMaxBufferedBytes) {
          overflow_ = true;  // usage of a body this large is not worth the memory
          std::string().swap(body_);
          return;
        }
        body_.append(bytes);
        break;
      case Mode::kSniff:
        break;
    }
  }

  std::uint64_t streamed_output_chars() const noexcept override {
    return mode_ == Mode::kSse || mode_ == Mode::kArray ? state_->output_chars() : 0;
  }

  UsageResult result() const override {
    switch (mode_) {
      case Mode::kSniff:
        return state_->result();
      case Mode::kSse: {
        std::unique_ptr<FormatState> with_pending;
        sse_.peek_pending([&](std::string_view name, std::string_view data) {
          with_pending = state_->clone();
          with_pending->on_event(name, data);
        });
        return with_pending ? with_pending->result() : state_->result();
      }
      case Mode::kArray: {
        UsageResult r = state_->result();
        if (array_.closed()) r.saw_end = true;
        return r;
      }
      case Mode::kBuffered:
        break;
    }
    if (overflow_) return UsageResult{};
    if (!cached_) cached_ = parse_body();
    return *cached_;
  }

 private:
  enum class Mode : std::uint8_t { kSniff, kSse, kArray, kBuffered };

  // The first byte of a body that does not say it is an event stream: JSON starts a value
  // with one of {["-0-9tfn; SSE starts with a field name ("data", "event", "id") or ':'.
  static Mode sniff(char first) {
    if (first == '[') return Mode::kArray;
    if (first == 'd' || first == 'e' || first == 'i' || first == ':') return Mode::kSse;
    return Mode::kBuffered;
  }

  UsageResult parse_body() const {
    auto state = state_->clone();
    if (json::with_dom(body_, [&](Element root) { state->on_body(Json(root)); })) {
      UsageResult r = state->result();
      r.saw_end = true;
      return r;
    }
    // Not one JSON text: newline-delimited JSON (Cohere v1 streams, application/stream+json),
    // or a body cut short, whose lines mostly fail to parse and are skipped.
    std::string_view rest = body_;
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      if (!trim(line).empty()) state->on_event("", line);
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
    return state->result();
  }

  std::unique_ptr<FormatState> state_;
  Mode mode_;
  SseSplitter sse_;
  JsonArraySplitter array_;
  std::string body_;
  bool overflow_ = false;
  mutable std::optional<UsageResult> cached_;  // a buffered body is parsed once per change
};

}  // namespace

std::uint64_t code_points(std::string_view utf8) noexcept {
  std::uint64_t n = 0;
  for (const char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::unique_ptr<UsageParser> make_usage_parser(UsageFormat format, bool event_stream) {
  auto state = make_state(format);
  if (!state) return nullptr;
  return std::make_unique<Parser>(std::move(state), event_stream);
}

}  // namespace aigw::usage
