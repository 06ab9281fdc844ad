#pragma once
// Token counts of one response, as the provider reported them (or as the gateway estimated
// them, which the record then says). Shared by the usage parsers (src/upstream/providers/
// usage), the metering stage, the request log and, later, token limits.

#include <cstdint>
#include <optional>

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

}  // namespace aigw
