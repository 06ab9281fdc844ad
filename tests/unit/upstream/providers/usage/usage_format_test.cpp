// Which usage format each provider's paths answer in, and which providers get
// stream_options.include_usage added. Paths go through the adapter's own mapping first, so
// the formats are checked on the upstream targets the metering stage will see.

#include "aigw/provider.hpp"

#include "../test_registry.hpp"
#include "upstream/providers/usage/usage_parser.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace aigw {
namespace {

const ProviderRegistry& registry() { return test::test_registry(); }

UsageFormat format(std::string_view slug, std::string_view rest, std::string_view query = "",
                   std::string_view account = "acct0123") {
  const Provider* p = registry().find(slug);
  EXPECT_NE(p, nullptr) << slug;
  if (p == nullptr) return UsageFormat::kNone;
  auto target = p->adapter->map(MapInput{rest, query, account, "gw"}, p->base);
  EXPECT_TRUE(target) << slug << "/" << rest;
  if (!target) return UsageFormat::kNone;
  return p->adapter->usage_format(target->target);
}

bool include_usage(std::string_view slug) {
  const Provider* p = registry().find(slug);
  return p != nullptr && p->adapter->include_usage_supported();
}

constexpr auto kNone = UsageFormat::kNone;
constexpr auto kChat = UsageFormat::kOpenAiChat;
constexpr auto kCompletions = UsageFormat::kOpenAiCompletions;
constexpr auto kEmbeddings = UsageFormat::kOpenAiEmbeddings;
constexpr auto kResponses = UsageFormat::kOpenAiResponses;
constexpr auto kAnthropic = UsageFormat::kAnthropicMessages;
constexpr auto kGemini = UsageFormat::kGemini;
constexpr auto kCohere = UsageFormat::kCohere;
constexpr auto kWorkersAi = UsageFormat::kWorkersAi;

TEST(UsageFormat, OpenAi) {
  EXPECT_EQ(format("openai", "chat/completions"), kChat);
  EXPECT_EQ(format("openai", "v1/chat/completions", "x=1"), kChat);
  EXPECT_EQ(format("openai", "completions"), kCompletions);
  EXPECT_EQ(format("openai", "embeddings"), kEmbeddings);
  EXPECT_EQ(format("openai", "responses"), kResponses);
  EXPECT_EQ(format("openai", "responses/"), kResponses);
  EXPECT_EQ(format("openai", "responses/resp_123/input_items"), kNone);
  EXPECT_EQ(format("openai", "audio/speech"), kNone);
  EXPECT_EQ(format("openai", "models"), kNone);
  EXPECT_TRUE(include_usage("openai"));
}

TEST(UsageFormat, AzureOpenAi) {
  EXPECT_EQ(format("azure-openai", "res/gpt-4o/chat/completions", "api-version=2024-10-21"), kChat);
  EXPECT_EQ(format("azure-openai", "res/instruct/completions"), kCompletions);
  EXPECT_EQ(format("azure-openai", "res/ada/embeddings"), kEmbeddings);
  EXPECT_EQ(format("azure-openai", "res/gpt-4o/responses"), kResponses);
  EXPECT_EQ(format("azure-openai", "res/whisper/audio/transcriptions"), kNone);
  EXPECT_FALSE(include_usage("azure-openai"));  // depends on the client's api-version
}

TEST(UsageFormat, OpenAiCompatibleProviders) {
  for (const char* slug :
       {"groq", "mistral", "deepseek", "openrouter", "perplexity-ai", "grok", "cerebras"}) {
    EXPECT_EQ(format(slug, "chat/completions"), kChat) << slug;
    EXPECT_EQ(format(slug, "v1/chat/completions"), kChat) << slug;
    EXPECT_EQ(format(slug, "v1/models"), kNone) << slug;
  }
  EXPECT_EQ(format("mistral", "v1/embeddings"), kEmbeddings);
  EXPECT_EQ(format("mistral", "v1/fim/completions"), kCompletions);
  EXPECT_EQ(format("deepseek", "beta/completions"), kCompletions);
  EXPECT_EQ(format("grok", "v1/responses"), kResponses);
  EXPECT_EQ(format("openrouter", "completions"), kCompletions);
  // Only where streams carry no usage unless asked, and the option is accepted.
  EXPECT_TRUE(include_usage("deepseek"));
  for (const char* slug : {"groq", "mistral", "openrouter", "perplexity-ai", "grok", "cerebras"}) {
    EXPECT_FALSE(include_usage(slug)) << slug;
  }
}

TEST(UsageFormat, HuggingFace) {
  EXPECT_EQ(format("huggingface", "meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions"), kChat);
  EXPECT_EQ(format("huggingface", "bigcode/starcoder"), kNone);
  EXPECT_FALSE(include_usage("huggingface"));
}

TEST(UsageFormat, WorkersAi) {
  EXPECT_EQ(format("workers-ai", "@cf/meta/llama-3.1-8b-instruct"), kWorkersAi);
  EXPECT_EQ(format("workers-ai", "%40cf/meta/llama-3.1-8b-instruct"), kWorkersAi);
  EXPECT_EQ(format("workers-ai", "v1/chat/completions"), kChat);
  EXPECT_EQ(format("workers-ai", "v1/embeddings"), kEmbeddings);
  EXPECT_EQ(format("workers-ai", "v1/responses"), kResponses);
  EXPECT_FALSE(include_usage("workers-ai"));
}

TEST(UsageFormat, Anthropic) {
  EXPECT_EQ(format("anthropic", "v1/messages"), kAnthropic);
  EXPECT_EQ(format("anthropic", "v1/messages/count_tokens"), kNone);
  EXPECT_EQ(format("anthropic", "v1/messages/batches"), kNone);
  EXPECT_EQ(format("anthropic", "v1/complete"), kNone);
  EXPECT_EQ(format("anthropic", "v1/chat/completions"), kChat);  // OpenAI SDK compatibility
  EXPECT_FALSE(include_usage("anthropic"));
}

TEST(UsageFormat, GoogleAiStudio) {
  EXPECT_EQ(format("google-ai-studio", "v1beta/models/gemini-2.5-flash:generateContent"), kGemini);
  EXPECT_EQ(
      format("google-ai-studio", "v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse"),
      kGemini);
  EXPECT_EQ(format("google-ai-studio", "v1/tunedModels/mine:generateContent"), kGemini);
  EXPECT_EQ(format("google-ai-studio", "v1beta/models/gemini-2.5-flash:countTokens"), kNone);
  EXPECT_EQ(format("google-ai-studio", "v1beta/models/text-embedding-004:embedContent"), kNone);
  EXPECT_EQ(format("google-ai-studio", "v1beta/openai/chat/completions"), kChat);
  EXPECT_EQ(format("google-ai-studio", "v1beta/openai/embeddings"), kEmbeddings);
  EXPECT_FALSE(include_usage("google-ai-studio"));
}

TEST(UsageFormat, GoogleVertexAi) {
  const std::string base = "v1/projects/my-proj/locations/us-east5/";
  EXPECT_EQ(
      format("google-vertex-ai",
             base + "publishers/google/models/gemini-2.5-pro:streamGenerateContent", "alt=sse"),
      kGemini);
  EXPECT_EQ(
      format("google-vertex-ai", base + "publishers/google/models/gemini-2.5-pro:generateContent"),
      kGemini);
  EXPECT_EQ(format("google-vertex-ai", base + "endpoints/987654321:generateContent"), kGemini);
  EXPECT_EQ(format("google-vertex-ai",
                   base + "publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict"),
            kAnthropic);
  EXPECT_EQ(format("google-vertex-ai",
                   base + "publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict"),
            kAnthropic);
  EXPECT_EQ(
      format("google-vertex-ai", base + "publishers/anthropic/models/count-tokens:rawPredict"),
      kNone);
  EXPECT_EQ(format("google-vertex-ai",
                   base + "publishers/mistralai/models/mistral-large-2411:rawPredict"),
            kChat);
  EXPECT_EQ(format("google-vertex-ai", base + "endpoints/openapi/chat/completions"), kChat);
  EXPECT_EQ(
      format("google-vertex-ai", base + "publishers/google/models/text-embedding-005:predict"),
      kNone);
  EXPECT_EQ(
      format("google-vertex-ai", base + "publishers/google/models/gemini-2.5-pro:countTokens"),
      kNone);
  EXPECT_FALSE(include_usage("google-vertex-ai"));
}

TEST(UsageFormat, Cohere) {
  EXPECT_EQ(format("cohere", "v2/chat"), kCohere);
  EXPECT_EQ(format("cohere", "v1/chat"), kCohere);
  EXPECT_EQ(format("cohere", "v2/embed"), kCohere);
  EXPECT_EQ(format("cohere", "v1/embed"), kCohere);
  EXPECT_EQ(format("cohere", "v2/rerank"), kNone);
  EXPECT_EQ(format("cohere", "compatibility/v1/chat/completions"), kChat);
  EXPECT_FALSE(include_usage("cohere"));
}

TEST(UsageFormat, ProvidersWithoutUsageParsing) {
  EXPECT_EQ(format("replicate", "predictions"), kNone);
  EXPECT_EQ(format("replicate", "models/meta/llama/predictions"), kNone);
  EXPECT_EQ(format("aws-bedrock", "bedrock-runtime/us-east-1/model/anthropic.claude-v2/invoke"),
            kNone);
  EXPECT_FALSE(include_usage("replicate"));
  EXPECT_FALSE(include_usage("aws-bedrock"));
}

TEST(UsageFormat, CustomProvidersAreOpenAiCompatibleByPath) {
  EXPECT_EQ(format("custom-mine", "chat/completions"), kChat);
  EXPECT_EQ(format("custom-mine", "completions"), kCompletions);
  EXPECT_EQ(format("custom-mine", "embeddings"), kEmbeddings);
  EXPECT_EQ(format("custom-mine", "responses", "stream=true"), kResponses);
  EXPECT_EQ(format("custom-mine", "api/generate"), kNone);
  EXPECT_TRUE(include_usage("custom-mine"));
}

TEST(UsageFormat, EveryBuiltinProviderHasAMapping) {
  // One generation path per built-in provider, so a provider added to the table without a
  // decision about its usage format fails here.
  struct One {
    const char* slug;
    const char* rest;
    UsageFormat expected;
  };
  const One kOnes[] = {
      {"anthropic", "v1/messages", kAnthropic},
      {"aws-bedrock", "bedrock-runtime/us-east-1/model/m/invoke", kNone},
      {"azure-openai", "res/dep/chat/completions", kChat},
      {"cerebras", "chat/completions", kChat},
      {"cohere", "v2/chat", kCohere},
      {"deepseek", "chat/completions", kChat},
      {"google-ai-studio", "v1beta/models/gemini-2.0-flash:generateContent", kGemini},
      {"google-vertex-ai",
       "v1/projects/p/locations/global/publishers/google/models/gemini-2.0-flash:generateContent",
       kGemini},
      {"grok", "chat/completions", kChat},
      {"groq", "chat/completions", kChat},
      {"huggingface", "org/model/v1/chat/completions", kChat},
      {"mistral", "v1/chat/completions", kChat},
      {"openai", "chat/completions", kChat},
      {"openrouter", "chat/completions", kChat},
      {"perplexity-ai", "chat/completions", kChat},
      {"replicate", "predictions", kNone},
      {"workers-ai", "@cf/meta/llama-3.1-8b-instruct", kWorkersAi},
  };
  std::set<std::string> listed;
  for (const One& one : kOnes) {
    listed.insert(one.slug);
    EXPECT_EQ(format(one.slug, one.rest), one.expected) << one.slug;
  }
  for (const auto& slug : ProviderRegistry::builtin_slugs()) {
    EXPECT_EQ(listed.count(slug), 1u) << slug << " has no usage format test";
  }
}

TEST(UsageFormat, TheDefaultIsNone) {
  struct Bare final : ProviderAdapter {
    std::string_view slug() const noexcept override { return "bare"; }

   protected:
    Result<UpstreamTarget> map_path(const MapInput&, const Url&) const override {
      return UpstreamTarget{};
    }
  } bare;
  EXPECT_EQ(bare.usage_format("/v1/chat/completions"), kNone);
  EXPECT_FALSE(bare.include_usage_supported());
}

}  // namespace
}  // namespace aigw
