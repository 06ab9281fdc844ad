#pragma once
// The body read once. A JSON request body is parsed by one simdjson pass the first time
// anything needs it (the JSON check, a dynamic/ model, a key's model list, a token limit,
// the metering stage's stream rewrite) and what it says is kept in ctx.body; a universal
// step's body is read with the list of steps (PlannedStep::body_facts). Nothing else parses
// a request body on the way to the provider (the cache's canonical form aside).
//
// The prompt's size (walking every value) is read in that pass when the pipeline knows it
// will be needed (token limits or budgets configured: Pipeline::plan asks for it), else only
// if an estimate needs it later (a response without usage): the one case of a second parse.

#include "aigw/attempt.hpp"
#include "aigw/request_context.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aigw {

// What `body` says, in one pass; `json` is exactly json::check's verdict (a body simdjson
// cannot read, such as one with a number beyond a double's range, is asked there).
BodyFacts read_body_facts(std::string_view body, bool prompt);

// The client's body, read on first use and kept in ctx.body; `prompt`: with its size.
const BodyFacts& body_facts(RequestContext& ctx, bool prompt = false);

// What a step asks for, before it is entered: its model (a route target's, else its body's,
// else its path's) and its body's sizes.
struct StepFacts {
  std::string model;
  std::uint64_t prompt_tokens = 0;  // estimated from the prompt's text (estimate_tokens)
  std::optional<std::uint64_t> max_output_tokens;
  bool stream = false;
  bool include_usage_requested = false;
};
StepFacts step_facts(RequestContext& ctx, const PlannedStep& step, bool prompt = false);

// step_facts of the plan's first step (empty without a plan): what limits and budgets admit.
StepFacts first_step_facts(RequestContext& ctx, bool prompt = false);

// The facts of the body `step` sends: its own (a universal step's) or the client's.
const BodyFacts& step_body_facts(RequestContext& ctx, const PlannedStep& step, bool prompt = false);

}  // namespace aigw
