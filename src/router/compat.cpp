#include "router/compat.hpp"

#include "core/text.hpp"
#include "request/body.hpp"
#include "router/routes.hpp"
#include "translate/translate.hpp"

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace aigw {
namespace {

namespace beast = boost::beast;

// Where a provider's own chat API is, for /compat. Providers that have no chat API the
// gateway translates (Bedrock's SigV4, Cohere, Hugging Face, Replicate) are not reachable
// through /compat: the client calls their own paths.
struct NativeChat {
  Dialect dialect;
  std::string_view rest;  // the path after /{provider}/; "" when built from the model
};

// Azure OpenAI's GA data-plane version (docs/compat.md).
constexpr std::string_view kAzureApiVersion = "2024-10-21";

std::optional<NativeChat> native_chat(std::string_view slug) noexcept {
  if (slug == "anthropic") return NativeChat{Dialect::kAnthropicMessages, "v1/messages"};
  // Gemini names the model (and Vertex its project and region) in the path.
  if (slug == "google-ai-studio" || slug == "google-vertex-ai") {
    return NativeChat{Dialect::kGemini, ""};
  }
  // Azure names the resource and the deployment in the path.
  if (slug == "azure-openai") return NativeChat{Dialect::kOpenAiChat, ""};
  // Base URLs without /v1 (docs/providers.md): the version is in the path.
  if (slug == "mistral" || slug == "workers-ai") {
    return NativeChat{Dialect::kOpenAiChat, "v1/chat/completions"};
  }
  for (const std::string_view openai_like :
       {"openai", "groq", "deepseek", "openrouter", "grok", "cerebras", "perplexity-ai"}) {
    if (slug == openai_like) return NativeChat{Dialect::kOpenAiChat, "chat/completions"};
  }
  // A custom provider is an OpenAI-compatible server (its base_url ends where /chat/completions
  // goes, as for /custom-{name}/chat/completions).
  if (slug.starts_with("custom-")) return NativeChat{Dialect::kOpenAiChat, "chat/completions"};
  return std::nullopt;
}

constexpr std::size_t kMaxModelBytes = 256;

// Gemini names the model in the URL path: only the characters its model ids use, so the
// client's text cannot add a segment or a query.
bool path_safe(std::string_view model) noexcept {
  for (const char c : model) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Error model_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message), {}, {}, "model"};
}

// How a /compat model id addresses its provider: the model the body (or Gemini's path) names,
// and the path (and query) when the model is part of it.
struct ModelAddress {
  std::string model;
  std::string path;  // after /{provider}/; Gemini's without its :method
  std::string query;
};

// `model` split at '/' into exactly `count` segments, each a path_safe name (not . or ..).
std::optional<std::vector<std::string_view>> segments(std::string_view model, std::size_t count) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < count) {
    const auto slash = model.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    out.push_back(model.substr(0, slash));
    model.remove_prefix(slash + 1);
  }
  out.push_back(model);
  for (const std::string_view s : out) {
    if (s.empty() || s == "." || s == ".." || !path_safe(s)) return std::nullopt;
  }
  return out;
}

Result<ModelAddress> model_address(std::string_view slug, std::string_view model, Dialect dialect) {
  const auto invalid = [&](std::string_view form) {
    return model_error(ErrorCode::kInvalidModel, "model '" + text::clip(model, 100) +
                                                     "' is not a model id " + std::string(slug) +
                                                     " accepts" + std::string(form));
  };
  if (model.size() > kMaxModelBytes) return invalid("");
  if (slug == "azure-openai") {
    const auto parts = segments(model, 2);
    if (!parts) return invalid(": use \"azure-openai/{resource}/{deployment}\"");
    const std::string deployment((*parts)[1]);
    return ModelAddress{deployment,
                        std::string((*parts)[0]) + "/" + deployment + "/chat/completions",
                        "api-version=" + std::string(kAzureApiVersion)};
  }
  if (slug == "google-vertex-ai") {
    const auto parts = segments(model, 3);
    if (!parts) return invalid(": use \"google-vertex-ai/{project}/{region}/{model}\"");
    const std::string id((*parts)[2]);
    return ModelAddress{id,
                        "v1/projects/" + std::string((*parts)[0]) + "/locations/" +
                            std::string((*parts)[1]) + "/publishers/google/models/" + id,
                        {}};
  }
  if (dialect == Dialect::kGemini) {
    if (!segments(model, 1)) return invalid("");
    return ModelAddress{std::string(model), "v1beta/models/" + std::string(model), {}};
  }
  return ModelAddress{std::string(model), {}, {}};
}

// The key the client sent for the provider, in whichever header its SDK uses: the OpenAI
// SDK's Authorization: Bearer, the Anthropic SDK's x-api-key, Google's x-goog-api-key.
std::optional<std::string_view> client_key(const HttpRequest& request) {
  const std::string_view auth = field_value(request, http::field::authorization);
  constexpr std::string_view kBearer = "bearer ";
  if (auth.size() > kBearer.size() && beast::iequals(auth.substr(0, kBearer.size()), kBearer)) {
    return text::trim_ows(auth.substr(kBearer.size()));
  }
  for (const std::string_view name : {"x-api-key", "x-goog-api-key"}) {
    if (const auto it = request.find(name); it != request.end()) {
      return text::trim_ows(it->value());
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Dialect> compat_dialect(std::string_view rest) noexcept {
  if (rest == "chat/completions" || rest == "v1/chat/completions") return Dialect::kOpenAiChat;
  if (rest == "v1/messages" || rest == "messages") return Dialect::kAnthropicMessages;
  return std::nullopt;
}

std::optional<Dialect> provider_client_dialect(std::string_view slug) noexcept {
  if (slug == "anthropic") return Dialect::kAnthropicMessages;
  if (slug == "google-ai-studio" || slug == "google-vertex-ai") return Dialect::kGemini;
  return std::nullopt;
}

std::optional<Dialect> path_client_dialect(std::string_view path) noexcept {
  auto next = [&path]() {
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    const auto slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    return segment;
  };
  std::string_view first = next();
  if (first == "v1") {
    next();  // account
    next();  // gateway
    first = next();
  }
  if (first == "compat" || first == "route") {
    if (first == "route") next();  // the route's name
    if (compat_dialect(path) == Dialect::kAnthropicMessages) return Dialect::kAnthropicMessages;
    return std::nullopt;
  }
  return provider_client_dialect(first);
}

std::optional<Dialect> native_dialect(std::string_view slug) noexcept {
  const auto native = native_chat(slug);
  if (!native) return std::nullopt;
  return native->dialect;
}

Result<PlannedStep> compat_step(const CompatStepInput& in) {
  const auto native = native_chat(in.slug);
  if (!native) {
    return model_error(ErrorCode::kUnsupportedParameter,
                       "provider '" + std::string(in.slug) +
                           "' is not reachable through /compat; call /" + std::string(in.slug) +
                           "/... in its own API");
  }
  auto address = model_address(in.slug, in.model, native->dialect);
  if (!address) return address.error();

  // The body in the provider's API: translated, or the client's with the bare model id.
  auto body = std::make_shared<std::string>();
  std::optional<Translation> translation;
  bool stream = in.facts.stream;
  if (in.client == native->dialect) {
    *body = in.body;
    write_model(*body, address->model);
  } else {
    translate::RequestOptions options;
    options.model = address->model;
    auto translated = translate::request(in.client, native->dialect, in.body, options);
    if (!translated) return translated.error();
    *body = std::move(translated->body);
    stream = translated->stream;
    translation = Translation{native->dialect, in.client, translated->include_usage};
  }

  std::string native_rest = native->rest.empty() ? address->path : std::string(native->rest);
  std::string query = address->query;
  if (native->dialect == Dialect::kGemini) {
    native_rest.append(stream ? ":streamGenerateContent" : ":generateContent");
    if (stream) query = "alt=sse";
  }
  auto mapped = in.provider.adapter->map(MapInput{native_rest, query, in.account, in.gateway},
                                         in.provider.base);
  if (!mapped) return mapped.error();

  PlannedStep step = provider_step(in.provider, in.slug, std::move(*mapped), in.policy);
  step.translation = translation;
  step.model = address->model;
  step.method = http::verb::post;
  // What the body says, for the stages (its output cap, stream, usage request). The prompt's
  // size is the client's, read when token limits or budgets asked for it: the text is the
  // same in either API, and walking the translated body again cost 11k instructions.
  BodyFacts facts = read_body_facts(*body, false);
  facts.prompt_chars = in.facts.prompt_chars;
  facts.prompt_read = in.facts.prompt_read;
  step.body_facts = std::make_shared<const BodyFacts>(std::move(facts));
  step.body = std::move(body);
  step.headers.emplace_back("content-type", "application/json");
  if (native->dialect == Dialect::kAnthropicMessages && !in.has_anthropic_version) {
    // Required by Anthropic's API; the Anthropic SDK sends its own.
    step.headers.emplace_back("anthropic-version", "2023-06-01");
  }
  return step;
}

Result<Plan> compat_plan(const PlanInput& in, Plan plan, const RetryConfig& policy,
                         std::string_view rest) {
  if (is_compat_models(rest) &&
      (in.request.method() == http::verb::get || in.request.method() == http::verb::head)) {
    plan.kind = PlanKind::kModels;  // answered by the gateway: no step
    return plan;
  }
  const auto client = compat_dialect(rest);
  if (!client || in.request.method() != http::verb::post) {
    return Error{ErrorCode::kRouteNotFound,
                 "no route for " + text::clip(plan.path, 200) +
                     ": /compat takes POST /compat/chat/completions (OpenAI), POST "
                     "/compat/v1/messages (Anthropic) and GET /compat/models"};
  }
  if (auto checked = check_json(in); !checked) return checked.error();
  const BodyFacts& facts = in.body();
  if (!facts.json) {
    return Error{ErrorCode::kInvalidJson, "request body is not a JSON object"};
  }
  const std::string_view named = facts.model;
  if (named.empty()) {
    return model_error(ErrorCode::kInvalidModel,
                       "\"model\" is required: \"{provider}/{model}\", e.g. "
                       "\"anthropic/claude-sonnet-4-5\"");
  }
  const auto slash = named.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == named.size()) {
    return model_error(ErrorCode::kInvalidModel,
                       "model '" + text::clip(named, 100) +
                           "' names no provider: use \"{provider}/{model}\", e.g. \"openai/" +
                           text::clip(named, 100) + "\"");
  }
  const std::string_view slug = named.substr(0, slash);
  const std::string_view model = named.substr(slash + 1);
  const Provider* provider = in.providers.find(slug);
  if (provider == nullptr) {
    Error error{ErrorCode::kUnknownProvider, "unknown provider '" + text::clip(slug, 100) +
                                                 "' in model '" + text::clip(named, 100) + "'"};
    error.param = "model";
    return error;
  }
  auto step = compat_step(CompatStepInput{
      *provider, slug, model, *client, in.request.body(), facts, policy, plan.account, plan.gateway,
      in.request.find("anthropic-version") != in.request.end()});
  if (!step) return step.error();
  // The client's key goes in the provider's own header (the OpenAI SDK's Bearer token to
  // Anthropic's x-api-key, say), and no other credential header of the client's goes along.
  // A stored key replaces it, as on the provider's own paths (the stored-keys stage).
  const auto key = client_key(in.request);
  if (key && !provider->credential.name.empty()) {
    step->headers.emplace_back(provider->credential.name,
                               provider->credential.prefix + std::string(*key));
  }
  step->strip_client_credentials = true;

  plan.kind = PlanKind::kCompat;
  plan.client_dialect = *client;
  plan.steps.push_back(std::move(*step));
  return plan;
}

bool is_compat_models(std::string_view rest) noexcept {
  return rest == "models" || rest == "v1/models";
}

std::string compat_models(const Config& config, const ProviderRegistry& providers,
                          const RouteTable& routes) {
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  std::set<std::string, std::less<>> listed;
  const auto add = [&](const std::string& id, std::string_view owner, const ModelPrice* price) {
    if (!listed.insert(id).second) return;
    nlohmann::ordered_json entry = {{"id", id},
                                    {"object", "model"},
                                    {"created", 0},
                                    {"owned_by", owner},
                                    {"type", "model"},
                                    {"display_name", id},
                                    {"created_at", "1970-01-01T00:00:00Z"}};
    if (price != nullptr) {
      // US dollars per million tokens, as the price table holds them.
      nlohmann::ordered_json p = {{"input", price->input}, {"output", price->output}};
      if (price->cached_input) p["cached_input"] = *price->cached_input;
      if (price->cache_write) p["cache_write"] = *price->cache_write;
      p["unit"] = "usd_per_million_tokens";
      entry["pricing"] = std::move(p);
    }
    data.push_back(std::move(entry));
  };
  // Azure's and Vertex's ids also name a resource or a project and region, which the price
  // table does not know: their models are not listed (they are reachable all the same).
  const auto reachable = [&](std::string_view slug) {
    return providers.find(slug) != nullptr && native_chat(slug).has_value() &&
           slug != "azure-openai" && slug != "google-vertex-ai";
  };
  for (const auto& [id, price] : config.metering.prices) {
    const auto slash = id.find('/');
    if (slash == std::string::npos) continue;
    const std::string_view slug = std::string_view(id).substr(0, slash);
    if (reachable(slug)) add(id, slug, &price);
  }
  for (const auto& route : routes.routes()) {
    for (const RouteTarget& target : route->targets) {
      if (reachable(target.config.provider)) {
        add(target.config.provider + "/" + target.config.model, target.config.provider, nullptr);
      }
    }
  }
  for (const auto& route : routes.routes()) add("dynamic/" + route->name, "aigw", nullptr);
  nlohmann::ordered_json out = {{"object", "list"}, {"data", data}, {"has_more", false}};
  out["first_id"] = data.empty() ? nlohmann::ordered_json(nullptr) : data.front()["id"];
  out["last_id"] = data.empty() ? nlohmann::ordered_json(nullptr) : data.back()["id"];
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace aigw
