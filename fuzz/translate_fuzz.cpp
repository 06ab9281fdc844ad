// The /compat translators (src/translate) on arbitrary input: a request, a whole response, an
// error body or a stream, for every pair of dialects the gateway translates. Checked: nothing
// crashes or throws; what a request or response translation returns is one JSON value; an
// error translation always gives one; a stream's output does not depend on where its input
// was cut (the pieces), and its finish() always closes it.

#include "pieces.hpp"
#include "translate/json_io.hpp"
#include "translate/translate.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace {

using aigw::Dialect;
namespace translate = aigw::translate;

[[noreturn]] void fail(const char* what, int mode, int pair) {
  std::fprintf(stderr, "translate_fuzz: %s (mode %d, pair %d)\n", what, mode, pair);
  std::abort();
}

// {client, provider}: every pair /compat plans.
constexpr std::array<std::pair<Dialect, Dialect>, 4> kPairs = {{
    {Dialect::kOpenAiChat, Dialect::kAnthropicMessages},
    {Dialect::kOpenAiChat, Dialect::kGemini},
    {Dialect::kAnthropicMessages, Dialect::kOpenAiChat},
    {Dialect::kAnthropicMessages, Dialect::kGemini},
}};

bool is_json(const std::string& text) { return translate::detail::parse(text).has_value(); }

std::string run_stream(const translate::ResponseOptions& options, Dialect provider, Dialect client,
                       const std::vector<std::string_view>& parts) {
  auto stream = translate::stream(provider, client, options);
  std::string out;
  for (const auto part : parts) stream->feed(part, out);
  stream->finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const int mode = fdp.ConsumeIntegralInRange<int>(0, 3);
  const int pair = fdp.ConsumeIntegralInRange<int>(0, 3);
  const bool usage = fdp.ConsumeBool();
  const aigw::fuzz::Pieces in = aigw::fuzz::take_pieces(fdp);
  const auto [client, provider] = kPairs[static_cast<std::size_t>(pair)];

  translate::ResponseOptions options;
  options.model = "fuzz-model";
  options.id = "fuzz-id";
  options.created = 1;
  options.include_usage = usage;
  try {
    switch (mode) {
      case 0: {
        translate::RequestOptions request_options;
        request_options.model = "fuzz-model";
        const auto out = translate::request(client, provider, in.payload, request_options);
        if (out && !is_json(out->body)) fail("request output is not JSON", mode, pair);
        break;
      }
      case 1: {
        const auto out = translate::response(provider, client, in.payload, options);
        if (out && !is_json(*out)) fail("response output is not JSON", mode, pair);
        break;
      }
      case 2: {
        const std::string body = translate::error(provider, client, 429, in.payload);
        if (!is_json(body)) fail("error output is not JSON", mode, pair);
        // The gateway's own (OpenAI-shaped) errors for a Gemini client, on Google's paths.
        const std::string google =
            translate::error(Dialect::kOpenAiChat, Dialect::kGemini, 400, in.payload);
        if (!is_json(google)) fail("Google-shaped error output is not JSON", mode, pair);
        break;
      }
      default: {
        const std::string split = run_stream(options, provider, client, in.parts);
        const std::string whole = run_stream(options, provider, client, {in.payload});
        if (split != whole) fail("stream output depends on the cuts", mode, pair);
        break;
      }
    }
  } catch (...) {
    fail("an exception escaped", mode, pair);
  }
  return 0;
}
