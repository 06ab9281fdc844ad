#pragma once
// Token counts of one response, as the provider reported them (or as the gateway estimated
// them, which the record then says). Shared by the usage parsers (src/upstream/providers/
// usage), the metering stage, the request log and, later, token limits.

#include <cstdint>
#include <optional>
#include <string>

namespace aigw {

// Every field is optional: a provider that did not report a figure leaves it empty, never 0.
// The counts are normalised across providers so that cost is computed one way:
// - `input` is every input token, including those read from or written to the provider's
//   prompt cache (Anthropic reports those apart from input_tokens; its parser adds them in);
// - `cached_input` and `cache_write` are the parts of `input` read from / written to the
//   provider's prompt cache;
// - `output` is every output token, including `reasoning`.
struct TokenUsage {
  std::optional<std::uint64_t> input;
  std::optional<std::uint64_t> output;
  std::optional<std::uint64_t> cached_input;
  std::optional<std::uint64_t> cache_write;
  std::optional<std::uint64_t> reasoning;

  bool empty() const noexcept {
    return !input && !output && !cached_input && !cache_write && !reasoning;
  }
};

// The gateway's estimate of the tokens in `chars` code points of text, where a provider
// reported none (an aborted stream) or before the call (token limits): about four characters
// a token, the usual figure for English with OpenAI's and Anthropic's tokenizers.
inline std::uint64_t estimate_tokens(std::uint64_t chars) { return (chars + 3) / 4; }

// What a complete 2xx response reported, as the metering stage read it. A cached response
// keeps it, so a hit is metered without parsing the body again, and a replayed stream whose
// usage event the gateway removed for the client still logs the tokens it represents.
struct ResponseUsage {
  std::string model;  // named in the response, "" if none
  TokenUsage tokens;  // as reported; never estimated
};

}  // namespace aigw
