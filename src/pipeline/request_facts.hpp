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

// Read from the body the first time a stage asks, then kept in ctx.facts: a request whose
// key is limited to some models and which meets a token rule is read once.
const RequestFacts& request_facts(RequestContext& ctx);

}  // namespace aigw
