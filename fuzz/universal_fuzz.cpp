// The universal endpoint's body reader (parse_universal) on any body, on "/" or on the long
// form /v1/{account}/{gateway}, then every step entered as the router would. Checked: a list
// it accepts has 1..max_steps steps, each on a known provider with a path under it, a body
// that is valid JSON and header values without line breaks (nothing a client writes may
// split the upstream request).

#include "aigw/request_context.hpp"

#include "json/check.hpp"
#include "router/universal.hpp"

#include <cstdio>
#include <cstdlib>
#include <fuzzer/FuzzedDataProvider.h>
#include <string>

namespace {

namespace http = boost::beast::http;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "universal_fuzz: %s\n", what);
  std::abort();
}

// Every built-in provider at its default base URL, and one custom provider.
const aigw::ProviderRegistry& registry() {
  static const auto built = [] {
    aigw::Config config;
    aigw::ProviderConfig mine;
    mine.name = "custom-local";
    mine.base_url = "http://127.0.0.1:9/v1";
    config.providers.emplace(mine.name, mine);
    std::vector<aigw::ProviderRegistry::Problem> problems;
    auto r = aigw::ProviderRegistry::build(config, problems);
    if (!problems.empty()) fail("the registry has problems");
    return r;
  }();
  return *built;
}

bool has_line_break(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const bool long_form = fdp.ConsumeBool();
  const std::size_t max_steps = fdp.ConsumeIntegralInRange<std::size_t>(1, 20);

  aigw::RequestContext ctx;
  ctx.request.method(http::verb::post);
  ctx.request.version(11);
  ctx.request.target(long_form ? "/v1/acct/gw" : "/");
  ctx.request.set(http::field::authorization, "Bearer sk-fuzz");
  ctx.request.set(http::field::content_type, "application/json");
  if (long_form) {
    ctx.account = "acct";
    ctx.gateway = "gw";
  }
  ctx.request.body() = fdp.ConsumeRemainingBytesAsString();
  ctx.request.prepare_payload();

  const aigw::RetryConfig policy;
  auto steps = aigw::parse_universal(ctx, registry(), policy, max_steps);
  if (!steps) {
    if (steps.error().detail.empty()) fail("an error without a message");
    return 0;
  }
  if (steps->empty() || steps->size() > max_steps) fail("step count out of bounds");
  for (const auto& step : *steps) {
    if (step.provider == nullptr || registry().find(step.slug) != step.provider) {
      fail("a step without its provider");
    }
    if (!step.path.starts_with("/" + step.slug + "/")) fail("a step's path is not under it");
    if (!aigw::json::valid(step.request.body())) fail("a step's body is not valid JSON");
    for (const auto& field : step.request) {
      if (has_line_break(field.name_string()) || has_line_break(field.value())) {
        fail("a step header has a line break");
      }
    }
    if (step.retry.max_attempts < 1 || step.retry.max_attempts > 5) fail("max_attempts");
  }
  ctx.steps = std::move(*steps);
  for (std::size_t i = 0; i < ctx.steps.size(); ++i) {
    aigw::enter_step(ctx, i);
    if (ctx.provider == nullptr || ctx.step != i) fail("enter_step did not enter the step");
  }
  return 0;
}
