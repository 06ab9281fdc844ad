#pragma once
// Translation between the providers' chat APIs, for /compat (docs/compat.md): a client speaks
// one dialect (OpenAI chat completions, or Anthropic Messages on /compat/v1/messages), the
// provider that answers may speak another. Each pair has four pure functions: the request,
// a whole response, a stream (event by event, never buffered), and an error body. The
// planner calls the request's; the pipeline's translating downstream the others, after the
// stages have seen the provider's own bytes (metering reads native usage).
//
// Nothing here does I/O or keeps state between requests. Inputs are untrusted: every
// function is bounded by its input's size and returns an error value (never throws) for a
// request it cannot translate.

#include "aigw/dialect.hpp"
#include "aigw/error.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace aigw::translate {

// OpenAI chat completions, Anthropic Messages, Gemini (include/aigw/dialect.hpp).
using Dialect = aigw::Dialect;

std::string_view dialect_name(Dialect dialect) noexcept;

struct RequestOptions {
  // The provider's own model id, without the client's "{provider}/" prefix. Written into the
  // body (OpenAI, Anthropic); Gemini names it in the path instead.
  std::string model;
  // Anthropic requires max_tokens; a client that sets neither max_tokens nor
  // max_completion_tokens gets this (docs/compat.md).
  std::uint64_t default_max_tokens = 4096;
};

struct TranslatedRequest {
  std::string body;            // the provider's request body (JSON)
  bool stream = false;         // the client asked for a stream
  bool include_usage = false;  // OpenAI client: stream_options.include_usage was true
};

struct ResponseOptions {
  // The model the client's response names when the provider's response has none.
  std::string model;
  // OpenAI client streams: end with the usage chunk (choices: []) before [DONE].
  bool include_usage = false;
  // The response id when the provider's has none, and "created" (Unix seconds).
  std::string id;
  std::int64_t created = 0;
};

// Translates one streamed response as it arrives. feed() takes any split of the provider's
// bytes (mid-line, mid-UTF-8) and appends to `out` every client event it can complete;
// finish() is called once at the end of the provider's body (complete or cut short) and
// appends what closes the client's stream. Memory is bounded by the largest event, which is
// capped (an oversized provider event is dropped, as the usage parsers do).
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  virtual void feed(std::string_view bytes, std::string& out) = 0;
  virtual void finish(std::string& out) = 0;
};

// --- OpenAI chat completions client, Anthropic Messages provider (anthropic.cpp) ---
Result<TranslatedRequest> openai_to_anthropic(std::string_view openai_request,
                                              const RequestOptions& options);
Result<std::string> anthropic_response_to_openai(std::string_view anthropic_response,
                                                 const ResponseOptions& options);
std::unique_ptr<StreamTranslator> anthropic_stream_to_openai(const ResponseOptions& options);
// An Anthropic error body ({"type":"error","error":{...}}) as OpenAI's error shape; the status
// is kept by the caller. A body that is not Anthropic's is wrapped as the message.
std::string anthropic_error_to_openai(unsigned status, std::string_view anthropic_error);

// --- OpenAI chat completions client, Gemini provider (gemini.cpp) ---
Result<TranslatedRequest> openai_to_gemini(std::string_view openai_request,
                                           const RequestOptions& options);
Result<std::string> gemini_response_to_openai(std::string_view gemini_response,
                                              const ResponseOptions& options);
std::unique_ptr<StreamTranslator> gemini_stream_to_openai(const ResponseOptions& options);
std::string gemini_error_to_openai(unsigned status, std::string_view gemini_error);
// The other way, for a Gemini client of the gateway's own errors (status kept): Google's
// google.rpc.Status shape, the OpenAI error's code as its ErrorInfo reason.
std::string openai_error_to_gemini(unsigned status, std::string_view openai_error);

// --- Anthropic Messages client, OpenAI chat completions provider (anthropic_inbound.cpp) ---
Result<TranslatedRequest> anthropic_to_openai(std::string_view anthropic_request,
                                              const RequestOptions& options);
Result<std::string> openai_response_to_anthropic(std::string_view openai_response,
                                                 const ResponseOptions& options);
std::unique_ptr<StreamTranslator> openai_stream_to_anthropic(const ResponseOptions& options);
std::string openai_error_to_anthropic(unsigned status, std::string_view openai_error);

// --- Any pair (translate.cpp): what the pipeline and the planner call ---
// A client on Anthropic Messages reaching Gemini goes through OpenAI chat (both halves
// exist); a pair of equal dialects is not translated (the caller passes bytes through).
Result<TranslatedRequest> request(Dialect client, Dialect provider, std::string_view body,
                                  const RequestOptions& options);
Result<std::string> response(Dialect provider, Dialect client, std::string_view body,
                             const ResponseOptions& options);
std::unique_ptr<StreamTranslator> stream(Dialect provider, Dialect client,
                                         const ResponseOptions& options);
std::string error(Dialect provider, Dialect client, unsigned status, std::string_view body);

}  // namespace aigw::translate
