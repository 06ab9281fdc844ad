// Every usage parser (each UsageFormat, with and without text/event-stream) fed one input in
// pieces cut where the input says, with result() read between pieces as the metering stage
// may. Checked: the final result does not depend on the cuts or on the reads in between,
// and a stream's counted output never goes down.

#include "pieces.hpp"
#include "upstream/providers/usage/usage_parser.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>

namespace {

using aigw::UsageFormat;
using aigw::usage::UsageResult;

[[noreturn]] void fail(const char* what, UsageFormat format, bool event_stream) {
  std::fprintf(stderr, "usage_parser_fuzz: %s (format %d, event_stream %d)\n", what,
               static_cast<int>(format), event_stream ? 1 : 0);
  std::abort();
}

constexpr std::array kFormats = {
    UsageFormat::kOpenAiChat,      UsageFormat::kOpenAiCompletions, UsageFormat::kOpenAiEmbeddings,
    UsageFormat::kOpenAiResponses, UsageFormat::kAnthropicMessages, UsageFormat::kGemini,
    UsageFormat::kCohere,          UsageFormat::kWorkersAi,
};

bool same(const UsageResult& a, const UsageResult& b) {
  const auto& x = a.usage;
  const auto& y = b.usage;
  return x.input == y.input && x.output == y.output && x.cached_input == y.cached_input &&
         x.cache_write == y.cache_write && x.reasoning == y.reasoning && a.model == b.model &&
         a.output_chars == b.output_chars && a.saw_end == b.saw_end;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  // One format per input keeps each run short; the input picks it, so all are covered.
  const UsageFormat format = kFormats[fdp.ConsumeIntegralInRange<std::size_t>(0, 7)];
  const bool event_stream = fdp.ConsumeBool();
  const bool read_between = fdp.ConsumeBool();
  const aigw::fuzz::Pieces in = aigw::fuzz::take_pieces(fdp);

  if (aigw::usage::make_usage_parser(UsageFormat::kNone, event_stream) != nullptr) {
    fail("kNone has a parser", format, event_stream);
  }
  auto split = aigw::usage::make_usage_parser(format, event_stream);
  auto whole = aigw::usage::make_usage_parser(format, event_stream);
  if (!split || !whole) fail("no parser", format, event_stream);

  std::uint64_t streamed = 0;
  for (const auto part : in.parts) {
    split->feed(part);
    if (split->streamed_output_chars() < streamed) {
      fail("streamed_output_chars went down", format, event_stream);
    }
    streamed = split->streamed_output_chars();
    if (read_between) (void)split->result();
  }
  whole->feed(in.payload);
  const UsageResult a = split->result();
  if (!same(a, whole->result())) fail("result depends on the cuts", format, event_stream);
  if (!same(a, split->result())) fail("result() changed without input", format, event_stream);
  if (split->streamed_output_chars() != whole->streamed_output_chars()) {
    fail("streamed_output_chars depends on the cuts", format, event_stream);
  }
  return 0;
}
