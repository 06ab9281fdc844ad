#pragma once
// What the request and the response halves of the OpenAI-client / Anthropic-provider
// translation share (anthropic_request.cpp, anthropic_response.cpp). Not part of the API.

#include "translate/json_io.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::translate::anthropic_detail {

// response_format {type: json_schema} has no Anthropic equivalent; the request offers the
// schema as a tool of this name and forces it, and the response side, which sees nothing of
// the request, turns a tool_use of this name back into message content. Clients may not
// define a tool of this name (docs/compat.md).
inline constexpr std::string_view kJsonSchemaTool = "json_schema_response";

// The string value of `key` in `object`, "" when absent or not a string (the inputs are
// untrusted: a wrong type reads as missing, never throws).
inline std::string_view text_field(const detail::Json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

// Token counts as Anthropic reports them (Messages API "usage"; a stream spreads them over
// message_start and message_delta).
struct Usage {
  std::uint64_t input = 0;
  std::uint64_t output = 0;
  std::uint64_t cache_read = 0;
  std::uint64_t cache_creation = 0;
};

// Overwrites the counts `usage_json` carries (an object; other values change nothing).
void read_usage(const detail::Json& usage_json, Usage& usage);

// OpenAI's usage object: prompt_tokens counts every input token, cached or not, as OpenAI's
// does, with the cached share in prompt_tokens_details.
detail::Json openai_usage(const Usage& usage);

// Anthropic stop_reason as OpenAI finish_reason.
std::string_view finish_reason(std::string_view stop_reason);

// The OpenAI error object ({"error":{...}}) for an Anthropic error body, or for any other
// body (then wrapped as the message, with `status` as the code).
detail::Json openai_error(unsigned status, std::string_view anthropic_error);

}  // namespace aigw::translate::anthropic_detail
