#pragma once
// What a request body says about the tokens it will cost, before the provider answers: used
// to estimate input tokens when no usage arrives (aborted or usage-less streams) and, later,
// for token-limit reservations.

#include "aigw/attempt.hpp"

#include "upstream/providers/usage/usage_parser.hpp"

#include <cstdint>
#include <optional>
#include <simdjson.h>
#include <string>
#include <string_view>

namespace aigw::usage {

// What a request body says (include/aigw/attempt.hpp): one DOM walk fills all of it.
using RequestInfo = BodyFacts;

// Reads `body` with simdjson's DOM (json/dom.hpp): whether it is JSON (`json`; a UTF-8 byte
// order mark first is allowed), a duplicated top-level key, and what the top-level members
// of every supported API's request say (they do not overlap, so one table serves all). With
// `prompt`, the whole document is walked for the prompt's size too (prompt_chars). A body
// simdjson cannot read (not JSON, or a number beyond a double's range) gives `json` false
// and nothing else: the caller that must know asks json::check.
BodyFacts read_body(std::string_view body, bool prompt = true);

// The same for a value inside a document being read (a universal step's query), whose
// minified text is `text` (the numbers' spellings come from it); the prompt is always read.
BodyFacts read_element(simdjson::dom::element element, std::string_view text);

// read_body(body); `format` is not needed (kept for the tests' readability).
RequestInfo inspect_request(UsageFormat format, std::string_view body);

// The model named by an upstream path, for APIs that name it there rather than in the body:
// Gemini (/v1beta/models/gemini-2.0-flash:generateContent → "gemini-2.0-flash", also Vertex's
// .../publishers/google/models/{model}:{method}), Claude on Vertex
// (.../publishers/anthropic/models/{model}:rawPredict) and Workers AI (/run/@cf/meta/... →
// "@cf/meta/..."), percent-decoded. "" otherwise: an Azure deployment is not a model name.
std::string model_from_path(UsageFormat format, std::string_view upstream_path);

}  // namespace aigw::usage
