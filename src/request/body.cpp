#include "request/body.hpp"

#include "json/check.hpp"
#include "upstream/providers/usage/request_info.hpp"

#include <memory>

namespace aigw {

BodyFacts read_body_facts(std::string_view body, bool prompt) {
  BodyFacts facts = usage::read_body(body, prompt);
  if (!facts.json) {
    // Rare: not JSON at all, or JSON simdjson does not take (1e400). The verdict is the
    // RFC's, from the validating scanner.
    const json::Checked checked = json::check(body);
    facts.json = checked.valid;
    facts.duplicate_key = checked.duplicate_key;
  }
  return facts;
}

const BodyFacts& body_facts(RequestContext& ctx, bool prompt) {
  // Read again only for the prompt's size, when it was not asked for the first time (an
  // estimate for a response without usage, with no token limit configured).
  if (!ctx.body || (prompt && !ctx.body->prompt_read && ctx.body->json)) {
    ctx.body = std::make_shared<const BodyFacts>(read_body_facts(ctx.request.body(), prompt));
  }
  return *ctx.body;
}

const BodyFacts& step_body_facts(RequestContext& ctx, const PlannedStep& step, bool prompt) {
  return step.body_facts ? *step.body_facts : body_facts(ctx, prompt);
}

StepFacts step_facts(RequestContext& ctx, const PlannedStep& step, bool prompt) {
  const BodyFacts& body = step_body_facts(ctx, step, prompt);
  StepFacts facts;
  facts.model = !step.model.empty()   ? step.model
                : !body.model.empty() ? body.model
                                      : step.path_model;
  facts.prompt_tokens = estimate_tokens(body.prompt_chars);
  facts.max_output_tokens = body.max_output_tokens;
  facts.stream = body.stream;
  facts.include_usage_requested = body.include_usage_requested;
  return facts;
}

StepFacts first_step_facts(RequestContext& ctx, bool prompt) {
  if (ctx.plan.steps.empty()) return {};
  return step_facts(ctx, ctx.plan.steps.front(), prompt);
}

}  // namespace aigw
