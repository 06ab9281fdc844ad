#pragma once
// Token usage read from provider responses, buffered or streamed.
//
// The metering stage makes one parser per response (make_usage_parser, with the format the
// provider's adapter names for the upstream path) and feeds it the response body exactly as
// it came from upstream — before any UsageChunkStripper edits what the client gets — in
// chunks of any size. At the end (or after an abort) result() says what the provider
// reported, and how much text was generated so far, for estimating what it did not report.
//
// Memory per response is bounded and independent of the stream's length: a stream keeps only
// its current event (at most kMaxEventBytes); a buffered body is kept whole up to
// kMaxBufferedBytes, past which the parser gives up on it.

#include "aigw/provider.hpp"
#include "aigw/usage.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace aigw {

// Where a response reports token usage (ProviderAdapter::usage_format picks one per path).
enum class UsageFormat : std::uint8_t {
  kNone,               // nothing to meter (unknown path, provider without a parser)
  kOpenAiChat,         // /chat/completions, and every OpenAI-compatible provider's
  kOpenAiCompletions,  // /completions (legacy text completions)
  kOpenAiEmbeddings,   // /embeddings
  kOpenAiResponses,    // /responses
  kAnthropicMessages,  // Anthropic /v1/messages, also Vertex :rawPredict for Claude
  kGemini,             // :generateContent / :streamGenerateContent (AI Studio and Vertex)
  kCohere,             // Cohere /v2/chat (and /v1/chat, /v1|v2/embed)
  kWorkersAi,          // Workers AI /run/{model}
};

}  // namespace aigw

namespace aigw::usage {

// Bounds, in bytes, of what one parser keeps (see the top of this file).
inline constexpr std::size_t kMaxBufferedBytes = std::size_t{4} << 20;
inline constexpr std::size_t kMaxEventBytes = std::size_t{1} << 20;

struct UsageResult {
  TokenUsage usage;   // what the provider reported; fields it did not report stay empty
  std::string model;  // the model named in the response, "" if none
  // Unicode code points of generated text seen: content, text deltas, tool-call arguments,
  // reasoning text. Used to estimate the output tokens of streams that end without usage.
  std::uint64_t output_chars = 0;
  // The format's end marker was seen: [DONE], message_stop, response.completed, a finishReason,
  // message-end, or a complete JSON body. False means the response was cut short.
  bool saw_end = false;
};

class UsageParser {
 public:
  virtual ~UsageParser() = default;
  // Called for every chunk of the response body as relayed from upstream, in order; chunks
  // may be split anywhere (inside an SSE line or a UTF-8 sequence). Never suspends.
  virtual void feed(std::string_view bytes) = 0;
  // What the bytes fed so far say; callable at any time, also mid-stream or after an abort.
  // An event still missing its closing blank line counts as if the stream had ended there.
  virtual UsageResult result() const = 0;
  // A stream's generated text so far, in complete events (0 for a buffered body): what
  // result().output_chars says without its cost, for charging a stream as it runs.
  virtual std::uint64_t streamed_output_chars() const noexcept = 0;
};

// A parser for a response in `format`; `event_stream` when its Content-Type is
// text/event-stream. Without it the body is sniffed: a JSON array is read element by element
// (Gemini's streamGenerateContent without alt=sse), "data:"/"event:" lines as SSE, anything
// else as one JSON body (or, failing that, newline-delimited JSON as Cohere v1 streams).
// nullptr for kNone.
std::unique_ptr<UsageParser> make_usage_parser(UsageFormat format, bool event_stream);

// Unicode code points in UTF-8 text (bytes that do not continue a sequence).
std::uint64_t code_points(std::string_view utf8) noexcept;

}  // namespace aigw::usage
