#pragma once
// Stage tests without sockets (Envoy's filter-test style): a request planned from a config
// as the pipeline would, then a stage's hooks driven by hand — on_request, on_attempt for
// each step, the response head, body chunks, on_complete — with the context inspected in
// between. The request log, the router and the network are not involved.

#include "aigw/stage.hpp"

#include "config/load.hpp"
#include "request/body.hpp"
#include "router/attempt.hpp"
#include "router/planner.hpp"
#include "router/routes.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aigw::test {

inline std::string usage_fixture(const std::string& name) {
  std::ifstream in(std::string(AIGW_SOURCE_DIR) + "/tests/fixtures/usage/" + name,
                   std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class StageHarness {
 public:
  // `yaml`: the gateway's config; ${KEY} and every other variable read as "k-<name>".
  explicit StageHarness(const std::string& yaml) {
    auto loaded = config::load_string(yaml, "stage.yaml", [](std::string_view name) {
      return std::optional<std::string>("k-" + std::string(name));
    });
    if (!loaded.ok()) throw std::runtime_error(loaded.diagnostics.front().str());
    config = std::make_shared<Config>(*loaded.config);
    std::vector<ProviderRegistry::Problem> problems;
    providers = ProviderRegistry::build(*config, problems);
    routes = RouteTable::build(*config, *providers, problems);
    if (!problems.empty()) throw std::runtime_error(problems.front().message);
  }

  // A new request, planned: `control` are its cf-aig-* headers (lower-case).
  RequestContext& request(std::string target, std::string body,
                          std::vector<std::pair<std::string, std::string>> headers = {},
                          std::vector<std::pair<std::string, std::string>> control = {}) {
    ctx = std::make_unique<RequestContext>();
    ctx->id = "0190f0e4-7c1a-7b3e-9f2d-000000000001";
    ctx->started = std::chrono::steady_clock::now();
    ctx->request.method(http::verb::post);
    ctx->request.target(target);
    ctx->request.set(http::field::content_type, "application/json");
    for (auto& [name, value] : headers) ctx->request.set(name, value);
    ctx->request.body() = std::move(body);
    ctx->control = std::move(control);
    RequestContext& c = *ctx;
    const std::function<const BodyFacts&()> read = [&c]() -> const BodyFacts& {
      return body_facts(c);
    };
    auto planned = plan(PlanInput{*config, *providers, *routes, c.request, c.control, read,
                                  CircuitBreaker::Clock::now()});
    if (!planned) throw std::runtime_error(planned.error().detail);
    c.plan = std::move(*planned);
    c.path = c.plan.path;
    c.provider = c.plan.steps.front().provider;
    c.provider_slug = c.plan.steps.front().slug;
    return c;
  }

  Verdict on_request(Stage& stage) {
    boost::asio::io_context io;
    auto done = boost::asio::co_spawn(io, stage.on_request(*ctx), boost::asio::use_future);
    io.run();
    return done.get();
  }

  // Enters step `index` of the plan as the router would, and runs the stages' on_attempt.
  std::optional<Error> attempt(std::vector<Stage*> stages, std::size_t index = 0) {
    ctx->attempt.emplace(make_attempt(*ctx, index));
    for (Stage* s : stages) {
      if (auto refused = s->on_attempt(*ctx, *ctx->attempt)) return refused;
    }
    return std::nullopt;
  }

  // The response head, as the pipeline hands it to the stages.
  void head(std::vector<Stage*> stages, unsigned status, std::string content_type, bool streamed) {
    fields.clear();
    fields.set(http::field::content_type, content_type);
    ctx->status = status;
    ctx->streamed = streamed;
    ctx->response_content_type = content_type;
    ctx->head_sent = std::chrono::steady_clock::now();
    ctx->upstream_started = ctx->started;
    const ResponseHead view{status, streamed, &fields};
    for (Stage* s : stages) s->on_response_head(*ctx, view);
    ctx->committed = true;
  }

  // One upstream chunk through the response filter (if a stage set one) to the stages;
  // returns what the client would get.
  std::string chunk(std::vector<Stage*> stages, std::string_view data) {
    std::string_view out = data;
    if (ctx->response_filter) out = ctx->response_filter->filter(data);
    const std::string sent(out);
    if (!sent.empty()) {
      for (Stage* s : stages) s->on_response_body(*ctx, sent, false);
    }
    return sent;
  }

  std::string end(std::vector<Stage*> stages) {
    std::string tail;
    if (ctx->response_filter) tail = std::string(ctx->response_filter->finish());
    if (!tail.empty()) {
      for (Stage* s : stages) s->on_response_body(*ctx, tail, false);
    }
    for (Stage* s : stages) s->on_response_body(*ctx, {}, true);
    return tail;
  }

  void complete(std::vector<Stage*> stages, Outcome outcome = Outcome::kSuccess) {
    ctx->finished = std::chrono::steady_clock::now();
    if (ctx->outcome == Outcome::kPending) ctx->outcome = outcome;
    for (Stage* s : stages) s->on_complete(*ctx);
  }

  std::shared_ptr<Config> config;
  std::shared_ptr<const ProviderRegistry> providers;
  std::shared_ptr<const RouteTable> routes;
  std::unique_ptr<RequestContext> ctx;
  http::fields fields;
};

}  // namespace aigw::test
