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
// The API a provider's own paths speak when it is not OpenAI's: Anthropic's for anthropic,
// Gemini's for google-ai-studio and google-vertex-ai. The gateway's own errors there take it.
std::optional<Dialect> provider_client_dialect(std::string_view slug) noexcept;

// The API the client of a request path (no query) speaks, when the path alone says so and it
// is not OpenAI's, short or long (/v1/{account}/{gateway}/...) form: /compat/v1/messages and
// /route/{name}/v1/messages (Anthropic), and each provider_client_dialect() path. For the
// gateway's own errors when planning failed.
std::optional<Dialect> path_client_dialect(std::string_view path) noexcept;

// The API `slug`'s chat endpoint speaks, for the providers /compat reaches; nullopt for the
// others (Azure, Vertex, Bedrock, ...: their chat endpoints need more than a model id).
std::optional<Dialect> native_dialect(std::string_view slug) noexcept;

struct CompatStepInput {
  const Provider& provider;
  std::string_view slug;
  std::string_view model;  // the provider's own model id, without "{provider}/"
  Dialect client;          // the API `body` is in
  const std::string& body;
  const BodyFacts& facts;  // what `body` says
  const RetryConfig& policy;
  std::string_view account;
  std::string_view gateway;
  bool has_anthropic_version;  // the client sends its own anthropic-version header
};

// One step to `provider`'s own chat endpoint with the client's body in its API: translated
// (the step's `translation` set) or, when the two APIs are one, with the model id written.
// /compat, a named route's target across formats and a universal "compat" step are made
// here. 400 unsupported_parameter for a provider /compat does not reach or a parameter the
// provider's API cannot take, invalid_model for a model id it cannot name.
Result<PlannedStep> compat_step(const CompatStepInput& in);

// The plan of a /compat request: `plan` already holds the path and the long form's account
// and gateway; `rest` is the path after /compat/. 400 for a body or model that cannot be
// planned (invalid_json, invalid_model, unsupported_parameter), 404 for an unknown provider.
Result<Plan> compat_plan(const PlanInput& in, Plan plan, const RetryConfig& policy,
                         std::string_view rest);

class RouteTable;

// Whether `rest` (the path after /compat/) is the model list: models or v1/models.
bool is_compat_models(std::string_view rest) noexcept;

// The body of GET /compat/models and /compat/v1/models: every "{provider}/{model}" of the
// price table (config/pricing.yaml with metering.prices) on a provider /compat reaches, each
// with its price, then the named routes' targets not in it and each route as
// "dynamic/{name}". One body read by both SDKs: OpenAI's list (object, id, owned_by,
// created) and Anthropic's (type, display_name, created_at, has_more, first_id, last_id).
std::string compat_models(const Config& config, const ProviderRegistry& providers,
                          const RouteTable& routes);

}  // namespace aigw
