#include "router/compat.hpp"

#include "core/text.hpp"
#include "request/body.hpp"
#include "router/routes.hpp"
#include "translate/translate.hpp"

#include <boost/beast/core/string.hpp>

#include <memory>
#include <string>

namespace aigw {
namespace {

namespace beast = boost::beast;

// Where a provider's own chat API is, for /compat. Providers whose chat endpoint needs more
// than a model to address (Azure deployments, Vertex projects and regions) or that have no
// chat API the gateway translates (Bedrock's SigV4, Cohere, Hugging Face, Replicate) are not
// reachable through /compat: the client calls their own paths.
struct NativeChat {
  Dialect dialect;
  std::string_view rest;  // the path after /{provider}/; Gemini's is built from the model
};

std::optional<NativeChat> native_chat(std::string_view slug) noexcept {
  if (slug == "anthropic") return NativeChat{Dialect::kAnthropicMessages, "v1/messages"};
  if (slug == "google-ai-studio") return NativeChat{Dialect::kGemini, ""};
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

std::optional<Dialect> compat_path_dialect(std::string_view path) noexcept {
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
  if (first != "compat") return std::nullopt;
  return compat_dialect(path);
}

Result<Plan> compat_plan(const PlanInput& in, Plan plan, const RetryConfig& policy,
                         std::string_view rest) {
  const auto client = compat_dialect(rest);
  if (!client || in.request.method() != http::verb::post) {
    return Error{ErrorCode::kRouteNotFound,
                 "no route for " + text::clip(plan.path, 200) +
                     ": /compat takes POST /compat/chat/completions (OpenAI) and POST "
                     "/compat/v1/messages (Anthropic)"};
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
  const auto native = native_chat(slug);
  if (!native) {
    return model_error(ErrorCode::kUnsupportedParameter,
                       "provider '" + std::string(slug) +
                           "' is not reachable through /compat; call /" + std::string(slug) +
                           "/... in its own API");
  }
  if (model.size() > kMaxModelBytes || (native->dialect == Dialect::kGemini && !path_safe(model))) {
    return model_error(ErrorCode::kInvalidModel, "model '" + text::clip(model, 100) +
                                                     "' is not a model id " + std::string(slug) +
                                                     " accepts");
  }

  // The body in the provider's API: translated, or the client's with the bare model id.
  auto body = std::make_shared<std::string>();
  bool include_usage = facts.include_usage_requested;
  bool stream = facts.stream;
  if (*client == native->dialect) {
    *body = in.request.body();
    write_model(*body, model);
  } else {
    translate::RequestOptions options;
    options.model = std::string(model);
    auto translated = translate::request(*client, native->dialect, in.request.body(), options);
    if (!translated) return translated.error();
    *body = std::move(translated->body);
    include_usage = translated->include_usage;
    stream = translated->stream;
  }

  std::string native_rest(native->rest);
  std::string_view query;
  if (native->dialect == Dialect::kGemini) {
    native_rest.assign("v1beta/models/").append(model);
    native_rest.append(stream ? ":streamGenerateContent" : ":generateContent");
    if (stream) query = "alt=sse";
  }
  auto mapped = provider->adapter->map(MapInput{native_rest, query, plan.account, plan.gateway},
                                       provider->base);
  if (!mapped) return mapped.error();

  PlannedStep step = provider_step(*provider, slug, std::move(*mapped), policy);
  step.dialect = native->dialect;
  step.model = std::string(model);
  step.method = http::verb::post;
  // With the prompt's size: token limits and budgets estimate from it (a universal step's
  // body is read the same way); next to the translation, the walk costs little.
  step.body_facts = std::make_shared<const BodyFacts>(read_body_facts(*body, true));
  step.body = std::move(body);
  step.headers.emplace_back("content-type", "application/json");
  if (native->dialect == Dialect::kAnthropicMessages &&
      in.request.find("anthropic-version") == in.request.end()) {
    // Required by Anthropic's API; the Anthropic SDK sends its own.
    step.headers.emplace_back("anthropic-version", "2023-06-01");
  }
  // The client's key goes in the provider's own header (the OpenAI SDK's Bearer token to
  // Anthropic's x-api-key, say), and no other credential header of the client's goes along.
  // A stored key replaces it, as on the provider's own paths (the stored-keys stage).
  const auto key = client_key(in.request);
  if (key && !provider->credential.name.empty()) {
    step.headers.emplace_back(provider->credential.name,
                              provider->credential.prefix + std::string(*key));
  }
  step.strip_client_credentials = true;

  plan.kind = PlanKind::kCompat;
  plan.client_dialect = *client;
  plan.client_include_usage = include_usage;
  plan.steps.push_back(std::move(step));
  return plan;
}

}  // namespace aigw
