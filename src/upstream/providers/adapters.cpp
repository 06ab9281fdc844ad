// Provider URL mapping, after Cloudflare AI Gateway's provider table: the gateway prefix
// /{provider} stands in for the provider's API base, so everything after the slug is appended
// to that base. A few providers put part of the path into the host name (Azure resource,
// Vertex and Bedrock region, Workers AI account); their segments are validated as DNS labels
// before they are used, so a client can never steer the gateway to a host the config did not
// name a pattern for.

#include "upstream/providers/adapters.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

namespace aigw::providers {
namespace {

using text::lower;

Error invalid_path(std::string detail) {
  return Error{ErrorCode::kInvalidPath, std::move(detail), false};
}

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
std::optional<Error> dot_segment_error(std::string_view rest) {
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

class PrefixAdapter final : public ProviderAdapter {
 public:
  PrefixAdapter(std::string slug, bool dedupe_v1) : slug_(std::move(slug)), dedupe_(dedupe_v1) {}
  std::string_view slug() const noexcept override { return slug_; }

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
};

// /azure-openai/{resource}/{deployment}/{rest}
//   → https://{resource}.openai.azure.com/openai/deployments/{deployment}/{rest}
class AzureOpenAiAdapter final : public ProviderAdapter {
 public:
  std::string_view slug() const noexcept override { return "azure-openai"; }

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
class VertexAdapter final : public ProviderAdapter {
 public:
  std::string_view slug() const noexcept override { return "google-vertex-ai"; }

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
class WorkersAiAdapter final : public ProviderAdapter {
 public:
  std::string_view slug() const noexcept override { return "workers-ai"; }

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
  if (auto bad = providers::dot_segment_error(in.rest)) return *bad;
  return map_path(in, base);
}

}  // namespace aigw

namespace aigw::providers {

std::shared_ptr<const ProviderAdapter> make_prefix_adapter(std::string slug, bool dedupe_v1) {
  return std::make_shared<PrefixAdapter>(std::move(slug), dedupe_v1);
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
  static const std::vector<Builtin> table = [] {
    auto prefix = [](std::string_view slug, bool dedupe) {
      return make_prefix_adapter(std::string(slug), dedupe);
    };
    std::vector<Builtin> t{
        {"anthropic", "https://api.anthropic.com", {}, prefix("anthropic", false)},
        {"aws-bedrock",
         "https://{service}.{region}.amazonaws.com",
         {"{service}", "{region}"},
         std::make_shared<BedrockAdapter>()},
        {"azure-openai",
         "https://{resource}.openai.azure.com/openai/deployments/{deployment}",
         {"{resource}", "{deployment}"},
         std::make_shared<AzureOpenAiAdapter>()},
        {"cerebras", "https://api.cerebras.ai/v1", {}, prefix("cerebras", true)},
        {"cohere", "https://api.cohere.ai", {}, prefix("cohere", false)},
        {"deepseek", "https://api.deepseek.com", {}, prefix("deepseek", false)},
        {"google-ai-studio",
         "https://generativelanguage.googleapis.com",
         {},
         prefix("google-ai-studio", false)},
        {"google-vertex-ai",
         "https://{region}-aiplatform.googleapis.com",
         {"{region}"},
         std::make_shared<VertexAdapter>()},
        {"grok", "https://api.x.ai/v1", {}, prefix("grok", true)},
        {"groq", "https://api.groq.com/openai/v1", {}, prefix("groq", true)},
        {"huggingface",
         "https://api-inference.huggingface.co/models",
         {},
         prefix("huggingface", false)},
        {"mistral", "https://api.mistral.ai", {}, prefix("mistral", false)},
        {"openai", "https://api.openai.com/v1", {}, prefix("openai", true)},
        {"openrouter", "https://openrouter.ai/api/v1", {}, prefix("openrouter", true)},
        {"perplexity-ai", "https://api.perplexity.ai", {}, prefix("perplexity-ai", false)},
        {"replicate", "https://api.replicate.com/v1", {}, prefix("replicate", true)},
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
