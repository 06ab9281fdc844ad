#pragma once
// What a request body says about the tokens it will cost, before the provider answers: used
// to estimate input tokens when no usage arrives (aborted or usage-less streams) and, later,
// for token-limit reservations.

#include "upstream/providers/usage/usage_parser.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aigw::usage {

struct RequestInfo {
  std::string model;  // the body's "model"; "" when absent (Gemini names it in the path)
  // "stream": true. Gemini streams by method (:streamGenerateContent), not by body, so this
  // is false for Gemini bodies: ask the path.
  bool stream = false;
  // The output cap the client set: max_completion_tokens, max_tokens, max_output_tokens
  // or generationConfig.maxOutputTokens (the first present, in that order).
  std::optional<std::uint64_t> max_output_tokens;
  // Unicode code points of the text the model reads: message contents (strings or parts'
  // text), system prompts, instructions/input, prompt, Gemini contents' parts, tool-call
  // arguments in the history, and the JSON size of tool definitions.
  std::uint64_t prompt_chars = 0;
  bool include_usage_requested = false;  // stream_options.include_usage is true
};

// Reads `body` (a JSON request) in one pass without building a tree, so a large body costs no
// more memory than its nesting depth. A body that is not JSON gives an empty RequestInfo.
// `format` is the adapter's usage format for the path; the members read are the union of
// every supported API's, which do not overlap, so kNone still yields model and counts.
RequestInfo inspect_request(UsageFormat format, std::string_view body);

// The model named by an upstream path, for APIs that name it there rather than in the body:
// Gemini (/v1beta/models/gemini-2.0-flash:generateContent → "gemini-2.0-flash", also Vertex's
// .../publishers/google/models/{model}:{method}), Claude on Vertex
// (.../publishers/anthropic/models/{model}:rawPredict) and Workers AI (/run/@cf/meta/... →
// "@cf/meta/..."), percent-decoded. "" otherwise: an Azure deployment is not a model name.
std::string model_from_path(UsageFormat format, std::string_view upstream_path);

}  // namespace aigw::usage
