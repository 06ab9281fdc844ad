// The universal endpoint's body reader (read_universal) on any body, on "/" or on the long
// form /v1/{account}/{gateway}, then every step made into an attempt as the router would and
// its upstream head written. Checked: a list it accepts has 1..max_steps steps, each on a
// known provider with a path under it, a body that is valid JSON and headers without line
// breaks (nothing a client writes may split the upstream request).

#include "aigw/request_context.hpp"

#include "http/headers.hpp"
#include "json/check.hpp"
#include "router/attempt.hpp"
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
  ctx.request.body() = fdp.ConsumeRemainingBytesAsString();
  ctx.request.prepare_payload();

  const aigw::RetryConfig policy;
  auto steps = aigw::read_universal(aigw::UniversalInput{
      ctx.request, registry(), policy, max_steps, long_form ? "acct" : "", long_form ? "gw" : ""});
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
    if (!step.body || !aigw::json::valid(*step.body)) fail("a step's body is not valid JSON");
    for (const auto& [name, value] : step.headers) {
      if (has_line_break(name) || has_line_break(value)) fail("a step header has a line break");
    }
    if (step.retry.max_attempts < 1 || step.retry.max_attempts > 5) fail("max_attempts");
  }
  ctx.plan.kind = aigw::PlanKind::kUniversal;
  ctx.plan.steps = std::move(*steps);
  for (std::size_t i = 0; i < ctx.plan.steps.size(); ++i) {
    const aigw::Attempt attempt = aigw::make_attempt(ctx, i);
    if (attempt.provider == nullptr || attempt.step != i) fail("make_attempt lost the step");
    // The head sent upstream: exactly one blank line, at its end.
    const std::string head = aigw::headers::serialize_upstream_head(attempt);
    if (head.find("\r\n\r\n") != head.size() - 4) fail("a line break inside the head");
  }
  // The client's request is never changed by its attempts.
  if (ctx.request[http::field::authorization] != "Bearer sk-fuzz") fail("the client's request");
  return 0;
}
