#include "translate/translate.hpp"

#include <utility>

namespace aigw::translate {
namespace {

// Two translators in a row (Gemini → OpenAI chat → Anthropic): the first's output is the
// second's input, event by event, so the chain streams as each half does.
class Chain final : public StreamTranslator {
 public:
  Chain(std::unique_ptr<StreamTranslator> first, std::unique_ptr<StreamTranslator> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  void feed(std::string_view bytes, std::string& out) override {
    middle_.clear();
    first_->feed(bytes, middle_);
    if (!middle_.empty()) second_->feed(middle_, out);
  }
  void finish(std::string& out) override {
    middle_.clear();
    first_->finish(middle_);
    if (!middle_.empty()) second_->feed(middle_, out);
    second_->finish(out);
  }

 private:
  std::unique_ptr<StreamTranslator> first_;
  std::unique_ptr<StreamTranslator> second_;
  std::string middle_;
};

Error same_dialect(Dialect dialect) {
  return Error{ErrorCode::kInternal,
               "no translation from " + std::string(dialect_name(dialect)) + " to itself"};
}

}  // namespace

std::string_view dialect_name(Dialect dialect) noexcept {
  switch (dialect) {
    case Dialect::kOpenAiChat:
      return "openai-chat";
    case Dialect::kAnthropicMessages:
      return "anthropic-messages";
    case Dialect::kGemini:
      return "gemini";
  }
  return "openai-chat";
}

Result<TranslatedRequest> request(Dialect client, Dialect provider, std::string_view body,
                                  const RequestOptions& options) {
  if (client == provider) return same_dialect(client);
  if (client == Dialect::kOpenAiChat) {
    return provider == Dialect::kAnthropicMessages ? openai_to_anthropic(body, options)
                                                   : openai_to_gemini(body, options);
  }
  if (client == Dialect::kAnthropicMessages) {
    auto openai = anthropic_to_openai(body, options);
    if (!openai || provider == Dialect::kOpenAiChat) return openai;
    auto gemini = openai_to_gemini(openai->body, options);
    if (!gemini) return gemini.error();
    gemini->include_usage = openai->include_usage;
    return gemini;
  }
  return Error{ErrorCode::kInternal, "no translation from gemini clients"};
}

Result<std::string> response(Dialect provider, Dialect client, std::string_view body,
                             const ResponseOptions& options) {
  if (client == provider) return same_dialect(client);
  if (client == Dialect::kOpenAiChat) {
    return provider == Dialect::kAnthropicMessages ? anthropic_response_to_openai(body, options)
                                                   : gemini_response_to_openai(body, options);
  }
  if (client == Dialect::kAnthropicMessages) {
    if (provider == Dialect::kOpenAiChat) return openai_response_to_anthropic(body, options);
    auto openai = gemini_response_to_openai(body, options);
    if (!openai) return openai;
    return openai_response_to_anthropic(*openai, options);
  }
  return Error{ErrorCode::kInternal, "no translation to gemini clients"};
}

std::unique_ptr<StreamTranslator> stream(Dialect provider, Dialect client,
                                         const ResponseOptions& options) {
  if (client == provider) return nullptr;
  if (client == Dialect::kOpenAiChat) {
    return provider == Dialect::kAnthropicMessages ? anthropic_stream_to_openai(options)
                                                   : gemini_stream_to_openai(options);
  }
  if (client == Dialect::kAnthropicMessages) {
    if (provider == Dialect::kOpenAiChat) return openai_stream_to_anthropic(options);
    // The middle stream carries usage whatever the client asked: Anthropic's message_delta
    // reports it.
    ResponseOptions middle = options;
    middle.include_usage = true;
    return std::make_unique<Chain>(gemini_stream_to_openai(middle),
                                   openai_stream_to_anthropic(options));
  }
  return nullptr;
}

std::string error(Dialect provider, Dialect client, unsigned status, std::string_view body) {
  if (client == provider) return std::string(body);
  if (client == Dialect::kOpenAiChat) {
    return provider == Dialect::kAnthropicMessages ? anthropic_error_to_openai(status, body)
                                                   : gemini_error_to_openai(status, body);
  }
  if (client == Dialect::kAnthropicMessages) {
    if (provider == Dialect::kOpenAiChat) return openai_error_to_anthropic(status, body);
    return openai_error_to_anthropic(status, gemini_error_to_openai(status, body));
  }
  // A Gemini client hears the gateway's own errors (OpenAI-shaped) in Google's shape.
  if (provider == Dialect::kOpenAiChat) return openai_error_to_gemini(status, body);
  return openai_error_to_gemini(status, anthropic_error_to_openai(status, body));
}

}  // namespace aigw::translate
