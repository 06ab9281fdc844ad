#pragma once
// /compat (docs/compat.md): Cloudflare's unified endpoint, one API for every model. The client
// speaks OpenAI chat completions (POST /compat/chat/completions) or Anthropic Messages (POST
// /compat/v1/messages) and names "model": "{provider}/{model}"; the plan's one step is that
// provider's own chat endpoint, with the body translated into its API (src/translate) and
// the client's key moved into the provider's own header. The response is translated back by
// the pipeline (translating_downstream.hpp), after the stages saw the provider's bytes.

#include "aigw/attempt.hpp"
#include "aigw/error.hpp"

#include "router/planner.hpp"

#include <optional>
#include <string_view>

namespace aigw {

// The dialect a /compat path speaks ("chat/completions" → OpenAI, "v1/messages" →
// Anthropic), given the path after /compat/; nullopt for any other path.
std::optional<Dialect> compat_dialect(std::string_view rest) noexcept;
// The same for a whole path without its query: /compat/{rest} or
// /v1/{account}/{gateway}/compat/{rest}.
std::optional<Dialect> compat_path_dialect(std::string_view path) noexcept;

// The plan of a /compat request: `plan` already holds the path and the long form's account
// and gateway; `rest` is the path after /compat/. 400 for a body or model that cannot be
// planned (invalid_json, invalid_model, unsupported_parameter), 404 for an unknown provider.
Result<Plan> compat_plan(const PlanInput& in, Plan plan, const RetryConfig& policy,
                         std::string_view rest);

}  // namespace aigw
