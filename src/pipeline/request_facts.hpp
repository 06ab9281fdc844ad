#pragma once
// What stages before the provider call need to know of a request's body: the model it names
// and the size of its prompt and output cap. Read with simdjson, on demand (a few thousand
// instructions for a chat body): only stages configured to need it call this.

#include "aigw/request_context.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace aigw {

struct RequestFacts {
  std::string model;                // the body's "model", else the path's (Gemini); "" if none
  std::uint64_t prompt_tokens = 0;  // estimated from the prompt's text (estimate_tokens)
  std::optional<std::uint64_t> max_output_tokens;  // the client's output cap, if it set one
};

RequestFacts request_facts(const RequestContext& ctx);

}  // namespace aigw
