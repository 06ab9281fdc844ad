// Every built-in provider's URL mapping (Cloudflare's table, reference §2.2), custom
// providers, and the inputs that must be refused before they can reach a host name.

#include "aigw/provider.hpp"

#include "test_registry.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aigw {
namespace {

struct Mapped {
  bool ok = false;
  std::string url;    // scheme://host[:port]/target
  std::string error;  // detail when !ok
};

const ProviderRegistry& registry() { return test::test_registry(); }

Mapped map(std::string_view slug, std::string_view rest, std::string_view query = "",
           std::string_view account = "") {
  const Provider* p = registry().find(slug);
  if (p == nullptr) return {false, "", "no provider " + std::string(slug)};
  auto t = p->adapter->map(MapInput{rest, query, account, account.empty() ? "" : "gw"}, p->base);
  if (!t) {
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidPath);
    return {false, "", t.error().detail};
  }
  UpstreamTarget up = *t;
  return {true, (up.tls ? "https://" : "http://") + up.host_header() + up.target, ""};
}

std::string url(std::string_view slug, std::string_view rest, std::string_view query = "",
                std::string_view account = "") {
  const Mapped m = map(slug, rest, query, account);
  EXPECT_TRUE(m.ok) << m.error;
  return m.url;
}

TEST(ProviderMapping, OpenAiCompatiblePrefixes) {
  EXPECT_EQ(url("openai", "chat/completions", "x=1"),
            "https://api.openai.com/v1/chat/completions?x=1");
  EXPECT_EQ(url("openai", "responses"), "https://api.openai.com/v1/responses");
  EXPECT_EQ(url("groq", "chat/completions"), "https://api.groq.com/openai/v1/chat/completions");
  EXPECT_EQ(url("cerebras", "chat/completions"), "https://api.cerebras.ai/v1/chat/completions");
  EXPECT_EQ(url("grok", "chat/completions"), "https://api.x.ai/v1/chat/completions");
  EXPECT_EQ(url("openrouter", "chat/completions"), "https://openrouter.ai/api/v1/chat/completions");
  EXPECT_EQ(url("replicate", "predictions"), "https://api.replicate.com/v1/predictions");
  EXPECT_EQ(url("deepseek", "chat/completions"), "https://api.deepseek.com/chat/completions");
  EXPECT_EQ(url("perplexity-ai", "chat/completions"), "https://api.perplexity.ai/chat/completions");
  EXPECT_EQ(url("mistral", "v1/chat/completions"), "https://api.mistral.ai/v1/chat/completions");
}

TEST(ProviderMapping, ALeadingV1IsAbsorbedByBasesEndingInV1) {
  // Cloudflare's examples use both /grok/chat/completions and /grok/v1/chat/completions, and
  // SDKs are configured with either ".../openai" or ".../openai/v1".
  EXPECT_EQ(url("openai", "v1/chat/completions"), "https://api.openai.com/v1/chat/completions");
  EXPECT_EQ(url("grok", "v1/chat/completions"), "https://api.x.ai/v1/chat/completions");
  EXPECT_EQ(url("openrouter", "v1/chat/completions"),
            "https://openrouter.ai/api/v1/chat/completions");
  EXPECT_EQ(url("openai", "v1"), "https://api.openai.com/v1");
  // Only a whole segment: "v10/x" is not "v1/".
  EXPECT_EQ(url("openai", "v10/x"), "https://api.openai.com/v1/v10/x");
  // Custom providers append verbatim, as Cloudflare documents.
  EXPECT_EQ(url("custom-mine", "v1/models"), "http://127.0.0.1:8000/v1/v1/models");
}

TEST(ProviderMapping, NativeApis) {
  EXPECT_EQ(url("anthropic", "v1/messages"), "https://api.anthropic.com/v1/messages");
  EXPECT_EQ(
      url("google-ai-studio", "v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse"),
      "https://generativelanguage.googleapis.com/v1beta/models/"
      "gemini-2.5-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(url("cohere", "v2/chat"), "https://api.cohere.ai/v2/chat");
  EXPECT_EQ(url("cohere", "v1/chat"), "https://api.cohere.ai/v1/chat");
  EXPECT_EQ(url("huggingface", "bigcode/starcoder"),
            "https://api-inference.huggingface.co/models/bigcode/starcoder");
}

TEST(ProviderMapping, AzureOpenAiTakesResourceAndDeploymentFromThePath) {
  EXPECT_EQ(url("azure-openai", "my-res/gpt-4o/chat/completions", "api-version=2024-10-21"),
            "https://my-res.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
            "?api-version=2024-10-21");
  EXPECT_EQ(url("azure-openai", "MyRes/gpt-4.1_mini/embeddings"),
            "https://myres.openai.azure.com/openai/deployments/gpt-4.1_mini/embeddings");

  EXPECT_EQ(map("azure-openai", "chat/completions").error,
            "azure-openai paths are /azure-openai/{resource}/{deployment}/..., e.g. "
            "/azure-openai/my-resource/gpt-4o/chat/completions?api-version=2024-10-21");
  EXPECT_FALSE(map("azure-openai", "res/dep").ok);
  // Refused before the resource name is read: no forwarded path holds an encoded slash.
  EXPECT_EQ(map("azure-openai", "evil.com%2F/dep/chat/completions").error,
            "path 'evil.com%2F/dep/chat/completions' contains an encoded slash or backslash");
  EXPECT_EQ(map("azure-openai", "evil.com%40x/dep/chat/completions").error,
            "azure-openai resource name 'evil.com%40x' must be letters, digits and '-' (it "
            "becomes part of the host name)");
  EXPECT_FALSE(map("azure-openai", "a.b/dep/chat").ok);
  EXPECT_FALSE(map("azure-openai", "-res/dep/chat").ok);
  EXPECT_FALSE(map("azure-openai", std::string(64, 'a') + "/dep/chat").ok);
  EXPECT_EQ(map("azure-openai", "res/../chat/completions").error,
            "path segment '..' is not allowed (no . or .. segments)");
  EXPECT_EQ(map("azure-openai", "res/d~p/chat/completions").error,
            "azure-openai deployment name 'd~p' must be letters, digits, '-', '_' or '.'");
  EXPECT_FALSE(map("azure-openai", "res/a%2Fb/chat").ok);
}

TEST(ProviderMapping, VertexReadsTheRegionFromThePath) {
  const std::string path =
      "v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro:"
      "generateContent";
  EXPECT_EQ(url("google-vertex-ai", path), "https://us-central1-aiplatform.googleapis.com/" + path);
  const std::string global =
      "v1/projects/p1/locations/global/publishers/google/models/gemini-2.5-pro:generateContent";
  EXPECT_EQ(url("google-vertex-ai", global), "https://aiplatform.googleapis.com/" + global);
  EXPECT_FALSE(map("google-vertex-ai", "v1/projects/p1/models/x").ok);
  EXPECT_EQ(map("google-vertex-ai", "v1/projects/p/locations/evil.com%23/x").error,
            "google-vertex-ai region 'evil.com%23' must be letters, digits and '-'");
}

TEST(ProviderMapping, BedrockTakesServiceAndRegionFromThePath) {
  EXPECT_EQ(url("aws-bedrock", "bedrock-runtime/us-east-1/model/anthropic.claude-v2/invoke"),
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-v2/invoke");
  EXPECT_EQ(url("aws-bedrock", "bedrock-runtime/eu-west-3/model/m/converse-stream"),
            "https://bedrock-runtime.eu-west-3.amazonaws.com/model/m/converse-stream");
  EXPECT_EQ(map("aws-bedrock", "s3/us-east-1/bucket").error,
            "aws-bedrock paths are /aws-bedrock/{service}/{region}/..., service one of bedrock, "
            "bedrock-agent, bedrock-agent-runtime, bedrock-runtime (got 's3')");
  EXPECT_FALSE(map("aws-bedrock", "bedrock-runtime/us-east-1.evil.com/x").ok);
  EXPECT_FALSE(map("aws-bedrock", "bedrock-runtime").ok);
}

TEST(ProviderMapping, WorkersAiNeedsAnAccount) {
  EXPECT_EQ(url("workers-ai", "@cf/meta/llama-3.1-8b-instruct", "", "abc123"),
            "https://api.cloudflare.com/client/v4/accounts/abc123/ai/run/"
            "@cf/meta/llama-3.1-8b-instruct");
  EXPECT_EQ(url("workers-ai", "v1/chat/completions", "", "abc123"),
            "https://api.cloudflare.com/client/v4/accounts/abc123/ai/v1/chat/completions");
  EXPECT_EQ(map("workers-ai", "@cf/meta/llama-3.1-8b-instruct").error,
            "workers-ai needs a Cloudflare account id: call /v1/{account}/{gateway}/workers-ai/... "
            "or set providers.workers-ai.base_url to "
            "https://api.cloudflare.com/client/v4/accounts/<id>/ai");
  EXPECT_FALSE(map("workers-ai", "@cf/x", "", "..").ok);
  EXPECT_FALSE(map("workers-ai", "", "", "abc").ok);
}

TEST(ProviderMapping, CustomProvidersAppendEverythingVerbatim) {
  EXPECT_EQ(url("custom-mine", "chat/completions", "a=1&b=%20"),
            "http://127.0.0.1:8000/v1/chat/completions?a=1&b=%20");
  EXPECT_EQ(url("custom-mine", ""), "http://127.0.0.1:8000/v1");
}

TEST(ProviderMapping, DotSegmentsCannotClimbOutOfTheBasePath) {
  EXPECT_EQ(map("custom-mine", "../admin").error,
            "path segment '..' is not allowed (no . or .. segments)");
  EXPECT_EQ(map("openai", "chat/%2E%2e/x").error,
            "path segment '%2E%2e' is not allowed (no . or .. segments)");
  EXPECT_EQ(map("anthropic", "v1/./messages").error,
            "path segment '.' is not allowed (no . or .. segments)");
  EXPECT_FALSE(map("google-vertex-ai", "v1/projects/p/locations/us-east1/..").ok);
  EXPECT_EQ(url("openai", "files/a..b/content"), "https://api.openai.com/v1/files/a..b/content");
}

TEST(ProviderMapping, BaseUrlOverridesKeepTheMappingRules) {
  Config config;
  auto add = [&](const std::string& name, const std::string& base) {
    ProviderConfig pc;
    pc.name = name;
    pc.base_url = base;
    config.providers.emplace(name, pc);
  };
  add("openai", "https://127.0.0.1:9443/v1/");
  add("azure-openai", "http://[::1]:8080/openai/deployments/{deployment}");
  add("workers-ai", "https://api.cloudflare.com/client/v4/accounts/fixed/ai");
  std::vector<ProviderRegistry::Problem> problems;
  auto r = ProviderRegistry::build(config, problems);
  ASSERT_TRUE(problems.empty());

  const Provider* openai = r->find("openai");
  auto t = openai->adapter->map(MapInput{"v1/chat/completions", "", "", ""}, openai->base);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 9443);
  EXPECT_EQ(t->target, "/v1/chat/completions");
  EXPECT_EQ(t->host_header(), "127.0.0.1:9443");

  const Provider* azure = r->find("azure-openai");
  auto a = azure->adapter->map(MapInput{"res/dep/chat/completions", "", "", ""}, azure->base);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->tls);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->host_header(), "[::1]:8080");
  EXPECT_EQ(a->target, "/openai/deployments/dep/chat/completions");

  // A base_url that names the account serves the short form too.
  const Provider* workers = r->find("workers-ai");
  auto w = workers->adapter->map(MapInput{"@cf/m", "", "", ""}, workers->base);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->target, "/client/v4/accounts/fixed/ai/run/@cf/m");
}

TEST(Url, Parse) {
  auto u = Url::parse("HTTPS://Example.COM:8443/a/b/");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/a/b");
  auto plain = Url::parse("http://localhost");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->port, 80);
  EXPECT_EQ(plain->path, "");

  auto error_of = [](std::string_view text) {
    auto r = Url::parse(text);
    return r ? std::string("ok") : r.error().detail;
  };
  EXPECT_EQ(error_of("ftp://x"), "invalid URL 'ftp://x': must start with http:// or https://");
  EXPECT_EQ(error_of("https://user:pw@host/v1"),
            "invalid URL 'https://user:pw@host/v1': credentials in the URL are not allowed; use "
            "headers with ${ENV}");
  EXPECT_EQ(error_of("https://host/v1?x=1"),
            "invalid URL 'https://host/v1?x=1': a base URL takes no query or fragment");
  EXPECT_EQ(error_of("https://host:0"), "invalid URL 'https://host:0': port must be 1-65535");
  EXPECT_EQ(error_of("https://host:99999"),
            "invalid URL 'https://host:99999': port must be 1-65535");
  EXPECT_EQ(error_of("https://host:"), "invalid URL 'https://host:': port must be 1-65535");
  EXPECT_EQ(error_of("https:///v1"), "invalid URL 'https:///v1': missing host");
  EXPECT_EQ(error_of("https://ho st"), "invalid URL 'https://ho st': invalid character in host");
  EXPECT_EQ(error_of("https://[::1"), "invalid URL 'https://[::1': unterminated IPv6 literal");
}

TEST(UpstreamTarget, HostHeaderOmitsTheDefaultPort) {
  EXPECT_EQ((UpstreamTarget{true, "api.openai.com", 443, "/"}).host_header(), "api.openai.com");
  EXPECT_EQ((UpstreamTarget{false, "api.openai.com", 80, "/"}).host_header(), "api.openai.com");
  EXPECT_EQ((UpstreamTarget{false, "h", 443, "/"}).host_header(), "h:443");
  EXPECT_EQ((UpstreamTarget{true, "::1", 443, "/"}).host_header(), "[::1]");
}

}  // namespace
}  // namespace aigw
