// ProviderRegistry: which slugs exist and every problem a providers: section can have.

#include "aigw/provider.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aigw {
namespace {

using Lines = std::vector<std::string>;

struct Built {
  std::shared_ptr<const ProviderRegistry> registry;
  Lines problems;  // "line:col: path: message"
};

Built build(std::vector<ProviderConfig> entries) {
  Config config;
  int line = 2;
  for (auto& e : entries) {
    e.mark = {"t.yaml", line, 3};
    if (e.base_url) e.base_url_mark = {"t.yaml", line + 1, 15};
    line += 2;
    config.providers.emplace(e.name, e);
  }
  std::vector<ProviderRegistry::Problem> problems;
  Built out;
  out.registry = ProviderRegistry::build(config, problems);
  for (const auto& p : problems) {
    out.problems.push_back(std::to_string(p.mark.line) + ":" + std::to_string(p.mark.column) +
                           ": " + p.path + ": " + p.message);
  }
  return out;
}

ProviderConfig entry(std::string name, std::optional<std::string> base = std::nullopt) {
  ProviderConfig pc;
  pc.name = std::move(name);
  pc.base_url = std::move(base);
  return pc;
}

TEST(ProviderRegistry, EveryBuiltinIsAvailableWithoutConfig) {
  const Lines expected{"anthropic", "aws-bedrock", "azure-openai",     "cerebras",
                       "cohere",    "deepseek",    "google-ai-studio", "google-vertex-ai",
                       "grok",      "groq",        "huggingface",      "mistral",
                       "openai",    "openrouter",  "perplexity-ai",    "replicate",
                       "workers-ai"};
  EXPECT_EQ(ProviderRegistry::builtin_slugs(), expected);
  auto b = build({});
  EXPECT_TRUE(b.problems.empty());
  EXPECT_EQ(b.registry->slugs(), expected);
  for (const auto& slug : expected) {
    const Provider* p = b.registry->find(slug);
    ASSERT_NE(p, nullptr) << slug;
    EXPECT_EQ(p->adapter->slug(), slug);
    EXPECT_EQ(p->config.name, slug);
    EXPECT_TRUE(p->config.base_url.has_value());
    EXPECT_TRUE(p->base.tls) << slug;
  }
  EXPECT_EQ(b.registry->find("nope"), nullptr);
  EXPECT_EQ(b.registry->find(""), nullptr);
}

TEST(ProviderRegistry, CustomProvidersJoinTheSortedList) {
  auto b = build({entry("custom-zeta", "http://127.0.0.1:9/v1"),
                  entry("custom-alpha", "https://llm.internal/api")});
  ASSERT_TRUE(b.problems.empty());
  const auto& slugs = b.registry->slugs();
  EXPECT_TRUE(std::is_sorted(slugs.begin(), slugs.end()));
  ASSERT_NE(b.registry->find("custom-alpha"), nullptr);
  EXPECT_EQ(b.registry->find("custom-alpha")->base.host, "llm.internal");
  EXPECT_EQ(b.registry->find("custom-zeta")->adapter->slug(), "custom-zeta");
}

TEST(ProviderRegistry, Problems) {
  EXPECT_EQ(build({entry("opneai")}).problems,
            (Lines{"2:3: providers.opneai: unknown provider 'opneai' (did you mean 'openai'?); "
                   "built-in providers: anthropic, aws-bedrock, azure-openai, cerebras, cohere, "
                   "deepseek, google-ai-studio, google-vertex-ai, grok, groq, huggingface, "
                   "mistral, openai, openrouter, perplexity-ai, replicate, workers-ai; a custom "
                   "provider's name starts with custom-"}));
  EXPECT_EQ(build({entry("custom-mine")}).problems,
            (Lines{"2:3: providers.custom-mine.base_url: required for a custom provider (the "
                   "upstream URL that /custom-mine/... maps to)"}));
  EXPECT_EQ(build({entry("custom-")}).problems,
            (Lines{"2:3: providers.custom-: a custom provider needs a name after custom-"}));
  EXPECT_EQ(build({entry("openai", "https://user@api.openai.com/v1")}).problems,
            (Lines{"3:15: providers.openai.base_url: invalid URL 'https://user@api.openai.com/v1': "
                   "credentials in the URL are not allowed; use headers with ${ENV}"}));
  EXPECT_EQ(build({entry("openai", "https://{region}.example.com")}).problems,
            (Lines{"3:15: providers.openai.base_url: unknown placeholder {region} (this "
                   "provider takes none)"}));
  EXPECT_EQ(build({entry("azure-openai", "https://{tenant}.example.com/{deployment}")}).problems,
            (Lines{"3:15: providers.azure-openai.base_url: unknown placeholder {tenant} (this "
                   "provider takes {resource}, {deployment})"}));
  EXPECT_EQ(build({entry("custom-x", "https://{host}/v1")}).problems,
            (Lines{"3:15: providers.custom-x.base_url: unknown placeholder {host} (this "
                   "provider takes none)"}));
}

// Stored keys go in each provider's own header; key_header overrides it.
TEST(ProviderRegistry, StoredKeysGoInTheProvidersOwnHeader) {
  auto with_key = [](std::string name, std::optional<std::string> base = std::nullopt) {
    ProviderConfig pc = entry(std::move(name), std::move(base));
    pc.keys.emplace_back("default", Secret("k", true));
    pc.keys_mark = {"t.yaml", 9, 5};
    return pc;
  };
  ProviderConfig custom_header = with_key("custom-b", "http://127.0.0.1:9");
  custom_header.key_header = "x-key";
  ProviderConfig custom_bearer = with_key("custom-c", "http://127.0.0.1:9");
  custom_bearer.key_header = "authorization";
  auto b = build({with_key("openai"), with_key("anthropic"), with_key("azure-openai"),
                  with_key("google-ai-studio"), with_key("custom-a", "http://127.0.0.1:9"),
                  custom_header, custom_bearer});
  EXPECT_EQ(b.problems, Lines{});
  auto header = [&](std::string_view slug) {
    const Provider* p = b.registry->find(slug);
    return p == nullptr ? std::string("?") : p->credential.name + "|" + p->credential.prefix;
  };
  EXPECT_EQ(header("openai"), "authorization|Bearer ");
  EXPECT_EQ(header("groq"), "authorization|Bearer ");
  EXPECT_EQ(header("anthropic"), "x-api-key|");
  EXPECT_EQ(header("azure-openai"), "api-key|");
  EXPECT_EQ(header("google-ai-studio"), "x-goog-api-key|");
  EXPECT_EQ(header("custom-a"), "authorization|Bearer ");
  EXPECT_EQ(header("custom-b"), "x-key|");
  EXPECT_EQ(header("custom-c"), "authorization|Bearer ");

  EXPECT_EQ(build({with_key("aws-bedrock")}).problems,
            (Lines{"9:5: providers.aws-bedrock.keys: stored keys are not supported for "
                   "aws-bedrock (each request is SigV4-signed by the client)"}));
  EXPECT_EQ(build({with_key("google-vertex-ai")}).problems,
            (Lines{"9:5: providers.google-vertex-ai.keys: stored keys are not supported for "
                   "google-vertex-ai (it takes short-lived OAuth access tokens)"}));
  ProviderConfig clash = with_key("anthropic");
  clash.headers.emplace_back("X-Api-Key", Secret("other", true));
  EXPECT_EQ(build({clash}).problems,
            (Lines{"9:5: providers.anthropic.keys: providers.anthropic.headers sets X-Api-Key, "
                   "the header the stored keys go in; remove one of them"}));
}

TEST(ProviderRegistry, AllProblemsAreCollected) {
  // Entries are marked in the order given (lines 2, 4, 6); problems come back in that order
  // although the registry visits built-ins first.
  auto b = build({entry("custom-a"), entry("bogus"), entry("openai", "http://:80")});
  ASSERT_EQ(b.problems.size(), 3u);
  EXPECT_EQ(b.problems[0].rfind("2:3: providers.custom-a.base_url", 0), 0u) << b.problems[0];
  EXPECT_EQ(b.problems[1].rfind("4:3: providers.bogus:", 0), 0u) << b.problems[1];
  EXPECT_EQ(b.problems[2].rfind("7:15: providers.openai.base_url:", 0), 0u) << b.problems[2];
}

}  // namespace
}  // namespace aigw
