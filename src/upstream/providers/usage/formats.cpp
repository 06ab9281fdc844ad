// The usage of each response format: a small copyable state per format that takes whole
// events (one SSE event's data, one element of a streamed JSON array, one NDJSON line) or one
// whole buffered body. Field names and their meaning are from each provider's API
// reference, cited below.

#include "upstream/providers/usage/format_state.hpp"

namespace aigw::usage::detail {
namespace {

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

}  // namespace

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
}  // namespace aigw::usage::detail
