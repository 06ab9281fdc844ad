#pragma once
// Shared pieces of the Anthropic-client, OpenAI-provider translation (anthropic_inbound_*.cpp):
// the facts both the whole-response and the stream translator need, so they cannot drift
// apart (stop reasons, usage, message ids, error types).

#include "translate/json_io.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::translate::anthropic_inbound {

using detail::Json;

// Anthropic message ids start with "msg_" (Messages API reference, "id"); OpenAI's are
// "chatcmpl-...". The OpenAI id is kept, prefixed, so a log line can be matched to the
// provider's; `fallback` is used when the provider sent none.
std::string message_id(const Json& openai_id, std::string_view fallback);

// OpenAI finish_reason (chat completions reference: stop, length, tool_calls, content_filter,
// function_call, or null) as Anthropic's stop_reason. OpenAI does not say whether a stop
// sequence matched, so "stop" is always end_turn. `has_tool_use`: the message carries tool_use
// blocks; some OpenAI-compatible servers say "stop" after a tool call, and an Anthropic client
// loops on stop_reason == "tool_use", so such a stop is reported as tool_use.
std::string_view stop_reason(const Json& finish_reason, bool has_tool_use);

// OpenAI usage (prompt_tokens includes the cached part, prompt_tokens_details.cached_tokens)
// in Anthropic's terms (input_tokens excludes cache reads, cache_read_input_tokens).
struct Usage {
  std::uint64_t input_tokens = 0;  // prompt tokens not read from the cache
  std::uint64_t output_tokens = 0;
  std::uint64_t cache_read_input_tokens = 0;
};
Usage read_usage(const Json& openai_usage);

// Anthropic error type for an HTTP status (Messages API reference, "Errors").
std::string_view error_type_for_status(unsigned status);
// Anthropic error type for an OpenAI error object that arrived without a status (inside a
// stream): by a numeric code (OpenRouter puts the status there), else by type/code names.
std::string_view error_type_for_object(const Json& openai_error);
// The human-readable message of an OpenAI-style error body or object; "" when none.
std::string error_message(const Json& openai_error_body);

// {"type":"error","error":{"type":..,"message":..}}
Json error_body(std::string_view type, std::string_view message);

}  // namespace aigw::translate::anthropic_inbound
