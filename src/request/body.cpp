#include "request/body.hpp"

#include "json/check.hpp"
#include "upstream/providers/usage/request_info.hpp"

#include <memory>

namespace aigw {

BodyFacts read_body_facts(std::string_view body) {
  BodyFacts facts = usage::read_body(body);
  if (!facts.json) {
    // Rare: not JSON at all, or JSON simdjson does not take (1e400). The verdict is the
    // RFC's, from the validating scanner.
    const json::Checked checked = json::check(body);
    facts.json = checked.valid;
    facts.duplicate_key = checked.duplicate_key;
  }
  return facts;
}

const BodyFacts& body_facts(RequestContext& ctx) {
  if (!ctx.body) ctx.body = std::make_shared<const BodyFacts>(read_body_facts(ctx.request.body()));
  return *ctx.body;
}

const BodyFacts& step_body_facts(RequestContext& ctx, const PlannedStep& step) {
  return step.body_facts ? *step.body_facts : body_facts(ctx);
}

StepFacts step_facts(RequestContext& ctx, const PlannedStep& step) {
  const BodyFacts& body = step_body_facts(ctx, step);
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

StepFacts first_step_facts(RequestContext& ctx) {
  if (ctx.plan.steps.empty()) return {};
  return step_facts(ctx, ctx.plan.steps.front());
}

}  // namespace aigw
