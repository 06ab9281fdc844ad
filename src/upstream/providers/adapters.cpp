// Provider URL mapping, after Cloudflare AI Gateway's provider table: the gateway prefix
// /{provider} stands in for the provider's API base, so everything after the slug is appended
// to that base. A few providers put part of the path into the host name (Azure resource,
// Vertex and Bedrock region, Workers AI account); their segments are validated as DNS labels
// before they are used, so a client can never steer the gateway to a host the config did not
// name a pattern for.

#include "upstream/providers/adapters.hpp"

#include "core/text.hpp"
#include "upstream/providers/usage/usage_parser.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

namespace aigw::providers {
namespace {

using text::lower;

Error invalid_path(std::string detail) { return Error{ErrorCode::kInvalidPath, std::move(detail)}; }

// Splits "a/b/c" into "a" and "b/c".
std::pair<std::string_view, std::string_view> split_first(std::string_view path) {
  const auto slash = path.find('/');
  if (slash == std::string_view::npos) return {path, {}};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// One DNS label (RFC 1035 §2.3.1, as relaxed by RFC 1123 §2.1): becomes part of a host name.
bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

// A path segment substituted into a base path: no traversal, no encoded separators.
bool is_safe_segment(std::string_view s) {
  if (s.empty() || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

// Dot segments (RFC 3986 §3.3), also percent-encoded, would let a path climb out of the
// provider's base path once the provider normalises it (/custom-x/../admin); refused.
std::optional<Error> forwarded_path_error(std::string_view rest, bool encoded_slashes) {
  // True when `segment` is "." or "..", each dot possibly written %2e / %2E.
  auto is_dots = [](std::string_view segment) {
    int dots = 0;
    while (!segment.empty()) {
      if (segment.front() == '.') {
        segment.remove_prefix(1);
      } else if (segment.size() >= 3 && segment[0] == '%' && segment[1] == '2' &&
                 (segment[2] == 'e' || segment[2] == 'E')) {
        segment.remove_prefix(3);
      } else {
        return false;
      }
      ++dots;
    }
    return dots == 1 || dots == 2;
  };
  for (std::size_t start = 0; start <= rest.size();) {
    auto end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    const std::string_view segment = rest.substr(start, end - start);
    if (is_dots(segment)) {
      return invalid_path("path segment '" + std::string(segment) +
                          "' is not allowed (no . or .. segments)");
    }
    start = end + 1;
  }
  // An empty segment, an encoded slash or a backslash: a path that some servers and proxies
  // re-read as another host (//evil.example/x) or another path (a%2f..%2fadmin), the same
  // rules as the universal endpoint's and route endpoints.
  const auto cut = [](std::string_view s) { return std::string(s.substr(0, 100)); };
  if (rest.starts_with('/') || rest.find("//") != std::string_view::npos) {
    return invalid_path("path '" + cut(rest) + "' has an empty segment ('//')");
  }
  if (rest.find('\\') != std::string_view::npos) {
    return invalid_path("path '" + cut(rest) + "' contains a backslash");
  }
  for (std::size_t pct = rest.find('%'); pct != std::string_view::npos;
       pct = rest.find('%', pct + 1)) {
    const std::string_view code = rest.substr(pct + 1, 2);
    if (!encoded_slashes && (code == "2f" || code == "2F" || code == "5c" || code == "5C")) {
      return invalid_path("path '" + cut(rest) + "' contains an encoded slash or backslash");
    }
  }
  return std::nullopt;
}

bool contains(const Url& base, std::string_view placeholder) {
  return base.host.find(placeholder) != std::string::npos ||
         base.path.find(placeholder) != std::string::npos;
}

UpstreamTarget make_target(const Url& base, std::string host, std::string_view path,
                           std::string_view rest, std::string_view query) {
  UpstreamTarget t;
  t.tls = base.tls;
  t.host = std::move(host);
  t.port = base.port;
  std::string& out = t.target;
  out.reserve(path.size() + rest.size() + query.size() + 3);
  out.append(path);
  if (!rest.empty()) out.append(1, '/').append(rest);
  if (out.empty()) out.append(1, '/');
  if (!query.empty()) out.append(1, '?').append(query);
  return t;
}

// --- usage formats by path ----------------------------------------------------------------
// Adapters are handed the upstream target (base path + client path + query); matching on its
// end keeps working when a base_url override changes the prefix.

std::string_view path_only(std::string_view target) {
  target = target.substr(0, target.find('?'));
  if (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
  return target;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The OpenAI API's endpoints, as every OpenAI-compatible provider (and custom-*) serves them.
UsageFormat openai_compatible_format(std::string_view path) {
  if (ends_with(path, "/chat/completions")) return UsageFormat::kOpenAiChat;
  if (ends_with(path, "/completions")) return UsageFormat::kOpenAiCompletions;
  if (ends_with(path, "/embeddings")) return UsageFormat::kOpenAiEmbeddings;
  if (ends_with(path, "/responses")) return UsageFormat::kOpenAiResponses;
  return UsageFormat::kNone;
}

// The last segment's ":method" and the publisher, for Google's model paths:
// .../models/gemini-2.5-flash:streamGenerateContent (AI Studio) and
// .../publishers/{google|anthropic|mistralai}/models/{model}:{method} (Vertex).
struct ModelCall {
  std::string_view publisher;  // "" without a /publishers/ segment
  std::string_view model;
  std::string_view method;
};

std::optional<ModelCall> model_call(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string_view last = path.substr(slash == std::string_view::npos ? 0 : slash + 1);
  const auto colon = last.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  ModelCall call{{}, last.substr(0, colon), last.substr(colon + 1)};
  constexpr std::string_view kPublishers = "/publishers/";
  if (const auto p = path.find(kPublishers); p != std::string_view::npos) {
    const std::string_view rest = path.substr(p + kPublishers.size());
    call.publisher = rest.substr(0, rest.find('/'));
  }
  return call;
}

// Gemini's generate methods (Gemini API reference, "models.generateContent" and
// "models.streamGenerateContent"); countTokens and embedContent report no usage to meter.
bool is_gemini_generate(std::string_view method) {
  return method == "generateContent" || method == "streamGenerateContent";
}

// Which API a prefix provider speaks, for its usage format.
enum class Api : std::uint8_t {
  kOpenAiCompatible,  // OpenAI's paths
  kAnthropic,         // /v1/messages, plus Anthropic's OpenAI SDK compatibility endpoint
  kGoogleAiStudio,    // Gemini model methods, plus /v1beta/openai/... compatibility
  kCohere,            // /v1|v2/chat and /embed, plus /compatibility/v1/... endpoints
  kOther,             // nothing metered (Replicate's predictions report no tokens)
};

struct UsageTraits {
  Api api = Api::kOpenAiCompatible;
  // See ProviderAdapter::include_usage_supported: only where streams need it AND the
  // provider accepts it.
  bool include_usage = false;
};

UsageFormat usage_format_for(Api api, std::string_view path) {
  switch (api) {
    case Api::kOpenAiCompatible:
      return openai_compatible_format(path);
    case Api::kAnthropic:
      if (ends_with(path, "/messages")) return UsageFormat::kAnthropicMessages;
      return openai_compatible_format(path);
    case Api::kGoogleAiStudio:
      if (auto call = model_call(path); call && is_gemini_generate(call->method)) {
        return UsageFormat::kGemini;
      }
      return openai_compatible_format(path);
    case Api::kCohere:
      if (ends_with(path, "/v1/chat") || ends_with(path, "/v2/chat") ||
          ends_with(path, "/v1/embed") || ends_with(path, "/v2/embed")) {
        return UsageFormat::kCohere;
      }
      return openai_compatible_format(path);
    case Api::kOther:
      break;
  }
  return UsageFormat::kNone;
}

class PrefixAdapter final : public ProviderAdapter {
 public:
  PrefixAdapter(std::string slug, bool dedupe_v1, UsageTraits usage)
      : slug_(std::move(slug)), dedupe_(dedupe_v1), usage_(usage) {}
  std::string_view slug() const noexcept override { return slug_; }
  UsageFormat usage_format(std::string_view upstream_path) const override {
    return usage_format_for(usage_.api, path_only(upstream_path));
  }
  bool include_usage_supported() const override { return usage_.include_usage; }

 protected:
  Result<UpstreamTarget> map_path(const MapInput& in, const Url& base) const override {
    std::string_view rest = in.rest;
    if (dedupe_ && base.path.size() >= 3 &&
        std::string_view(base.path).substr(base.path.size() - 3) == "/v1") {
      if (rest == "v1") {
        rest = {};
      } else if (rest.substr(0, 3) == "v1/") {
        rest.remove_prefix(3);
      }
    }
    return make_target(base, base.host, base.path, rest, in.query);
  }

 private:
  std::string slug_;
  bool dedupe_;
  UsageTraits usage_;
};

// /azure-openai/{resource}/{deployment}/{rest}
//   → https://{resource}.openai.azure.com/openai/deployments/{deployment}/{rest}
// stream_options is accepted only from some api-versions on (2024-09-01-preview and later
// GA versions); clients still on an older api-version would get a 400 for a field they never
// sent, so the gateway does not add it here (providers.azure-openai.include_usage can).
class AzureOpenAiAdapter final : public ProviderAdapter {
 public:
  std::string_view slug() const noexcept override { return "azure-openai"; }
  UsageFormat usage_format(std::string_view upstream_path) const override {
    return openai_compatible_format(path_only(upstream_path));
  }

 protected:
  Result<UpstreamTarget> map_path(const MapInput& in, const Url& base) const override {
    auto [resource, after] = split_first(in.rest);
    auto [deployment, rest] = split_first(after);
    if (resource.empty() || deployment.empty() || rest.empty()) {
      return invalid_path(
          "azure-openai paths are /azure-openai/{resource}/{deployment}/..., e.g. "
          "/azure-openai/my-resource/gpt-4o/chat/completions?api-version=2024-10-21");
    }
    if (!is_dns_label(resource)) {
      return invalid_path("azure-openai resource name '" + std::string(resource) +
                          "' must be letters, digits and '-' (it becomes part of the host name)");
    }
    if (!is_safe_segment(deployment)) {
      return invalid_path("azure-openai deployment name '" + std::string(deployment) +
                          "' must be letters, digits, '-', '_' or '.'");
    }
    std::string host = base.host;
    std::string path = base.path;
    const std::string res = lower(resource);
    replace_all(host, "{resource}", res);
    replace_all(path, "{resource}", res);
    replace_all(path, "{deployment}", deployment);
    return make_target(base, std::move(host), std::move(path), rest, in.query);
  }
};

// /google-vertex-ai/v1/projects/{p}/locations/{region}/... → https://{region}-aiplatform...
// The region is read from the path (not consumed); "global" uses the region-less host.
//
// Usage: Gemini model methods; Claude through :rawPredict / :streamRawPredict, which answer in
// Anthropic's Messages format (Vertex AI docs, "Use Anthropic's Claude models"); Mistral's
// models the same way in its (OpenAI-shaped) chat format; and the OpenAI-compatible
// .../endpoints/openapi/chat/completions.
class VertexAdapter final : public ProviderAdapter {
 public:
  std::string_view slug() const noexcept override { return "google-vertex-ai"; }
  UsageFormat usage_format(std::string_view upstream_path) const override {
    const std::string_view path = path_only(upstream_path);
    if (auto call = model_call(path)) {
      if (is_gemini_generate(call->method)) return UsageFormat::kGemini;
      const bool raw = call->method == "rawPredict" || call->method == "streamRawPredict";
      if (raw && call->publisher == "anthropic" && call->model != "count-tokens") {
        return UsageFormat::kAnthropicMessages;
      }
      if (raw && call->publisher == "mistralai") return UsageFormat::kOpenAiChat;
      return UsageFormat::kNone;
    }
    return openai_compatible_format(path);
  }

 protected:
  Result<UpstreamTarget> map_path(const MapInput& in, const Url& base) const override {
    std::string host = base.host;
    std::string path = base.path;
    if (contains(base, "{region}")) {
      std::string_view region;
      std::string_view walk = in.rest;
      while (!walk.empty()) {
        auto [segment, next] = split_first(walk);
        if (segment == "locations") {
          region = split_first(next).first;
          break;
        }
        walk = next;
      }
      if (region.empty()) {
        return invalid_path(
            "google-vertex-ai paths name their region: /google-vertex-ai/v1/projects/{project}"
            "/locations/{region}/publishers/google/models/{model}:generateContent");
      }
      if (!is_dns_label(region)) {
        return invalid_path("google-vertex-ai region '" + std::string(region) +
                            "' must be letters, digits and '-'");
      }
      const std::string r = lower(region);
      if (r == "global") replace_all(host, "{region}-", "");
      replace_all(host, "{region}", r);
      replace_all(path, "{region}", r);
    }
    return make_target(base, std::move(host), std::move(path), in.rest, in.query);
  }
};

// /aws-bedrock/{service}/{region}/{rest} → https://{service}.{region}.amazonaws.com/{rest}.
// The client signs with SigV4 against that original URL; the gateway sends the same host and
// path, so the signature stays valid.
class BedrockAdapter final : public ProviderAdapter {
 public:
  std::string_view slug() const noexcept override { return "aws-bedrock"; }
  // Bedrock names a model by ARN in the path, percent-encoded (…/model/arn%3Aaws%3A…
  // inference-profile%2Fname/converse, AWS Bedrock API reference).
  bool encoded_slashes_in_path() const noexcept override { return true; }

 protected:
  Result<UpstreamTarget> map_path(const MapInput& in, const Url& base) const override {
    auto [service, after] = split_first(in.rest);
    auto [region, rest] = split_first(after);
    static constexpr std::string_view kServices[] = {"bedrock", "bedrock-agent",
                                                     "bedrock-agent-runtime", "bedrock-runtime"};
    if (std::find(std::begin(kServices), std::end(kServices), service) == std::end(kServices)) {
      return invalid_path(
          "aws-bedrock paths are /aws-bedrock/{service}/{region}/..., service one of bedrock, "
          "bedrock-agent, bedrock-agent-runtime, bedrock-runtime (got '" +
          std::string(service) + "')");
    }
    if (!is_dns_label(region)) {
      return invalid_path("aws-bedrock region '" + std::string(region) +
                          "' must be letters, digits and '-', e.g. us-east-1");
    }
    std::string host = base.host;
    std::string path = base.path;
    const std::string r = lower(region);
    replace_all(host, "{service}", service);
    replace_all(host, "{region}", r);
    replace_all(path, "{region}", r);
    return make_target(base, std::move(host), std::move(path), rest, in.query);
  }
};

// /workers-ai/{model}         → {base}/run/{model}   (base: .../accounts/{account}/ai)
// /workers-ai/v1/{openai path} → {base}/v1/{path}     (Workers AI's OpenAI-compatible API)
// The account comes from Cloudflare's long URL form or from a base_url that names it.
// Its streams always end with a usage event, so include_usage is never needed.
class WorkersAiAdapter final : public ProviderAdapter {
 public:
  std::string_view slug() const noexcept override { return "workers-ai"; }
  UsageFormat usage_format(std::string_view upstream_path) const override {
    const std::string_view path = path_only(upstream_path);
    if (path.find("/run/") != std::string_view::npos) return UsageFormat::kWorkersAi;
    return openai_compatible_format(path);
  }

 protected:
  Result<UpstreamTarget> map_path(const MapInput& in, const Url& base) const override {
    std::string path = base.path;
    if (contains(base, "{account}")) {
      if (in.account.empty()) {
        return invalid_path(
            "workers-ai needs a Cloudflare account id: call "
            "/v1/{account}/{gateway}/workers-ai/... or set providers.workers-ai.base_url to "
            "https://api.cloudflare.com/client/v4/accounts/<id>/ai");
      }
      if (!is_safe_segment(in.account) || in.account.find('.') != std::string_view::npos) {
        return invalid_path("workers-ai account id '" + std::string(in.account) +
                            "' must be letters, digits, '-' or '_'");
      }
      replace_all(path, "{account}", in.account);
    }
    if (in.rest.empty()) {
      return invalid_path(
          "workers-ai paths name a model: /workers-ai/@cf/meta/llama-3.1-8b-instruct");
    }
    const bool compat = in.rest.substr(0, 3) == "v1/";
    if (!compat) path += "/run";
    return make_target(base, base.host, std::move(path), in.rest, in.query);
  }
};

}  // namespace
}  // namespace aigw::providers

namespace aigw {

Result<UpstreamTarget> ProviderAdapter::map(const MapInput& in, const Url& base) const {
  if (auto bad = providers::forwarded_path_error(in.rest, encoded_slashes_in_path())) return *bad;
  return map_path(in, base);
}

UsageFormat ProviderAdapter::usage_format(std::string_view /*upstream_path*/) const {
  return UsageFormat::kNone;
}

}  // namespace aigw

namespace aigw::providers {

// Custom providers are OpenAI-compatible servers (vLLM, Ollama, LM Studio, TGI, LiteLLM...)
// whose streams report usage only when asked, and which accept stream_options.
std::shared_ptr<const ProviderAdapter> make_prefix_adapter(std::string slug, bool dedupe_v1) {
  return std::make_shared<PrefixAdapter>(std::move(slug), dedupe_v1,
                                         UsageTraits{Api::kOpenAiCompatible, true});
}

std::vector<std::string> placeholders_in(std::string_view text) {
  std::vector<std::string> out;
  for (auto open = text.find('{'); open != std::string_view::npos;
       open = text.find('{', open + 1)) {
    const auto close = text.find('}', open);
    if (close == std::string_view::npos) {
      out.emplace_back(text.substr(open));
      break;
    }
    out.emplace_back(text.substr(open, close - open + 1));
  }
  return out;
}

const std::vector<Builtin>& builtins() {
  // Defaults follow Cloudflare's provider table (reference §2.2). Providers whose base ends
  // in /v1 accept paths with or without the leading v1/ (dedupe), as Cloudflare's do.
  //
  // Usage: include_usage is asked for only where streams lack usage without it and the
  // provider accepts stream_options — OpenAI and DeepSeek (both document the option and send
  // usage only with it). The others report usage in streams anyway: Groq (x_groq.usage),
  // Mistral, Perplexity, xAI and Cerebras (on the last or every chunk), OpenRouter (always, in
  // the last chunk), Workers AI (a final usage event); Mistral also rejects unknown fields.
  static const std::vector<Builtin> table = [] {
    auto prefix = [](std::string_view slug, bool dedupe, UsageTraits usage = {}) {
      return std::make_shared<PrefixAdapter>(std::string(slug), dedupe, usage);
    };
    std::vector<Builtin> t{
        {"anthropic",
         "https://api.anthropic.com",
         {},
         prefix("anthropic", false, {Api::kAnthropic}),
         "x-api-key",
         ""},
        {"aws-bedrock",
         "https://{service}.{region}.amazonaws.com",
         {"{service}", "{region}"},
         std::make_shared<BedrockAdapter>(),
         "",  // SigV4: the client signs each request
         ""},
        {"azure-openai",
         "https://{resource}.openai.azure.com/openai/deployments/{deployment}",
         {"{resource}", "{deployment}"},
         std::make_shared<AzureOpenAiAdapter>(),
         "api-key",
         ""},
        {"cerebras", "https://api.cerebras.ai/v1", {}, prefix("cerebras", true)},
        {"cohere", "https://api.cohere.ai", {}, prefix("cohere", false, {Api::kCohere})},
        {"deepseek",
         "https://api.deepseek.com",
         {},
         prefix("deepseek", false, {Api::kOpenAiCompatible, true})},
        {"google-ai-studio",
         "https://generativelanguage.googleapis.com",
         {},
         prefix("google-ai-studio", false, {Api::kGoogleAiStudio}),
         "x-goog-api-key",
         ""},
        {"google-vertex-ai",
         "https://{region}-aiplatform.googleapis.com",
         {"{region}"},
         std::make_shared<VertexAdapter>(),
         "",  // OAuth access tokens that expire within the hour
         ""},
        {"grok", "https://api.x.ai/v1", {}, prefix("grok", true)},
        {"groq", "https://api.groq.com/openai/v1", {}, prefix("groq", true)},
        {"huggingface",
         "https://api-inference.huggingface.co/models",
         {},
         prefix("huggingface", false)},
        {"mistral", "https://api.mistral.ai", {}, prefix("mistral", false)},
        {"openai",
         "https://api.openai.com/v1",
         {},
         prefix("openai", true, {Api::kOpenAiCompatible, true})},
        {"openrouter", "https://openrouter.ai/api/v1", {}, prefix("openrouter", true)},
        {"perplexity-ai", "https://api.perplexity.ai", {}, prefix("perplexity-ai", false)},
        {"replicate", "https://api.replicate.com/v1", {}, prefix("replicate", true, {Api::kOther})},
        {"workers-ai",
         "https://api.cloudflare.com/client/v4/accounts/{account}/ai",
         {"{account}"},
         std::make_shared<WorkersAiAdapter>()},
    };
    std::sort(t.begin(), t.end(),
              [](const Builtin& a, const Builtin& b) { return a.slug < b.slug; });
    return t;
  }();
  return table;
}

const Builtin* find_builtin(std::string_view slug) noexcept {
  const auto& table = builtins();
  const auto it = std::lower_bound(table.begin(), table.end(), slug,
                                   [](const Builtin& b, std::string_view s) { return b.slug < s; });
  return it != table.end() && it->slug == slug ? &*it : nullptr;
}

}  // namespace aigw::providers
