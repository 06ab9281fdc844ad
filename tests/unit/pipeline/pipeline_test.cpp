// The pipeline without sockets: a recording stage, a scripted forwarder and an in-memory
// downstream.

#include "pipeline/pipeline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace aigw {
namespace {

namespace asio = boost::asio;

class RecordingStage final : public Stage {
 public:
  RecordingStage(std::string name, std::vector<std::string>& log, bool respond = false)
      : name_(std::move(name)), log_(log), respond_(respond) {}
  std::string_view name() const noexcept override { return name_; }
  asio::awaitable<Verdict> on_request(RequestContext& ctx) override {
    log_.push_back(name_ + ".request");
    if (respond_) {
      LocalResponse local;
      local.headers = {{"x-local", "1"}};
      local.body = "local";
      local.content_type = "text/plain";
      ctx.local_response = std::move(local);
      co_return Verdict::kRespond;
    }
    co_return Verdict::kContinue;
  }
  std::optional<Error> on_attempt(RequestContext&, Attempt& attempt) override {
    log_.push_back(name_ + ".attempt." + attempt.slug);
    return std::nullopt;
  }
  void on_response_head(RequestContext& ctx, const ResponseHead& head) override {
    log_.push_back(name_ + ".head." + std::to_string(head.status));
    ctx.response_headers.emplace_back("x-" + name_, "seen");
  }
  void on_response_body(RequestContext&, std::string_view chunk, bool last) override {
    log_.push_back(name_ + ".body." + (last ? std::string("last") : std::string(chunk)));
  }
  void on_complete(RequestContext& ctx) noexcept override {
    log_.push_back(name_ + ".complete." + std::string(outcome_name(ctx.outcome)));
  }

 private:
  std::string name_;
  std::vector<std::string>& log_;
  bool respond_;
};

class MemoryDownstream final : public Downstream {
 public:
  asio::awaitable<bool> send_head(const http::response_header<>& head, const AddedHeaders& added,
                                  std::optional<std::uint64_t> length, bool) override {
    status = head.result_int();
    for (const auto& f : head) headers[std::string(f.name_string())] = std::string(f.value());
    headers["cf-aig-request-id"] = std::string(added.request_id);
    headers["cf-aig-log-id"] = std::string(added.request_id);
    headers["cf-aig-event-id"] = std::string(added.event_id);
    if (added.stage_headers != nullptr) {
      for (const auto& [name, value] : *added.stage_headers) headers[name] = value;
    }
    content_length = length;
    co_return true;
  }
  asio::awaitable<bool> send_body(std::string_view chunk) override {
    body += chunk;
    co_return true;
  }
  asio::awaitable<bool> finish() override {
    finished = true;
    co_return true;
  }
  void abort() noexcept override { aborted = true; }
  void watch_disconnect(std::function<void()>) override {}
  void unwatch() noexcept override {}

  unsigned status = 0;
  std::map<std::string, std::string> headers;
  std::optional<std::uint64_t> content_length;
  std::string body;
  bool finished = false;
  bool aborted = false;
};

class ScriptedForwarder final : public Forwarder {
 public:
  std::optional<Error> fail;
  std::vector<std::string> chunks{"he", "llo"};
  int calls = 0;
  std::string seen_target;
  asio::awaitable<Result<void>> forward(RequestContext&, const Attempt& attempt, ResponseSink& sink,
                                        Downstream&) override {
    ++calls;
    seen_target = attempt.target.target;
    if (fail) co_return *fail;
    http::response_header<> head;
    head.result(200);
    head.set("content-type", "text/event-stream");
    if (!co_await sink.on_head(head, std::nullopt, false)) co_return Result<void>{};
    for (const auto& c : chunks) co_await sink.on_body(c);
    co_await sink.on_end();
    co_return Result<void>{};
  }
};

struct Harness {
  explicit Harness(std::vector<std::shared_ptr<Stage>> stages) {
    auto config = std::make_shared<Config>();
    std::vector<ProviderRegistry::Problem> problems;
    auto registry = ProviderRegistry::build(*config, problems);
    pipeline = std::make_unique<Pipeline>(config, registry, std::move(stages));
  }
  void run(RequestContext& ctx) {
    asio::io_context io;
    auto done = asio::co_spawn(io, pipeline->run(ctx, forwarder, downstream), asio::use_future);
    io.run();
    done.get();
  }
  std::unique_ptr<Pipeline> pipeline;
  ScriptedForwarder forwarder;
  MemoryDownstream downstream;
};

RequestContext make_ctx(const std::string& target, const std::string& body = "{}") {
  RequestContext ctx;
  ctx.id = "0190f0e4-7c1a-7b3e-9f2d-000000000001";
  ctx.event_id = ctx.id;
  ctx.request.method(http::verb::post);
  ctx.request.target(target);
  ctx.request.set(http::field::content_type, "application/json");
  ctx.request.body() = body;
  return ctx;
}

TEST(Pipeline, StagesRunInOrderAroundTheForwarder) {
  std::vector<std::string> log;
  Harness h(
      {std::make_shared<RecordingStage>("a", log), std::make_shared<RecordingStage>("b", log)});
  auto ctx = make_ctx("/openai/chat/completions?x=1");
  h.run(ctx);
  EXPECT_EQ(log, (std::vector<std::string>{
                     "a.request", "b.request", "a.attempt.openai", "b.attempt.openai", "a.head.200",
                     "b.head.200", "a.body.he", "b.body.he", "a.body.llo", "b.body.llo",
                     "a.body.last", "b.body.last", "a.complete.success", "b.complete.success"}));
  EXPECT_EQ(h.forwarder.seen_target, "/v1/chat/completions?x=1");
  ASSERT_TRUE(ctx.attempt);
  EXPECT_EQ(ctx.attempt->target.host, "api.openai.com");
  EXPECT_EQ(ctx.provider_slug, "openai");
  EXPECT_EQ(ctx.path, "/openai/chat/completions");
  EXPECT_EQ(h.downstream.body, "hello");
  EXPECT_EQ(h.downstream.headers["x-a"], "seen");
  EXPECT_EQ(h.downstream.headers["cf-aig-log-id"], ctx.id);
  EXPECT_EQ(h.downstream.content_length, std::nullopt);
  EXPECT_TRUE(ctx.committed);
  EXPECT_TRUE(ctx.streamed);
  EXPECT_EQ(ctx.response_bytes, 5u);
}

// A stage that throws (a bug) must not cost the request its answer or its record: every
// stage's on_complete still runs (in-flight counters, reservations), and the client gets a 500.
class ThrowingStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "throwing"; }
  asio::awaitable<Verdict> on_request(RequestContext&) override {
    throw std::runtime_error("bug");
    co_return Verdict::kContinue;
  }
};

TEST(Pipeline, AThrowingStageStillAnswersAndCompletesEveryStage) {
  std::vector<std::string> log;
  Harness h({std::make_shared<RecordingStage>("a", log), std::make_shared<ThrowingStage>(),
             std::make_shared<RecordingStage>("b", log)});
  auto ctx = make_ctx("/openai/chat/completions");
  h.run(ctx);
  EXPECT_EQ(h.forwarder.calls, 0);
  EXPECT_EQ(h.downstream.status, 500u);
  EXPECT_EQ(h.downstream.body,
            R"({"error":{"code":"internal_error","message":"internal error","param":null,)"
            R"("type":"gateway_error"}})");
  EXPECT_EQ(log.back(), "b.complete.gateway_error");
  EXPECT_EQ(log[log.size() - 2], "a.complete.gateway_error");
  EXPECT_EQ(ctx.outcome, Outcome::kGatewayError);
}

TEST(Pipeline, RespondingStageSkipsLaterStagesButEveryoneCompletes) {
  std::vector<std::string> log;
  Harness h({std::make_shared<RecordingStage>("a", log, /*respond=*/true),
             std::make_shared<RecordingStage>("b", log)});
  auto ctx = make_ctx("/openai/chat/completions");
  h.run(ctx);
  EXPECT_EQ(h.forwarder.calls, 0);
  EXPECT_EQ(log, (std::vector<std::string>{"a.request", "a.head.200", "b.head.200", "a.body.local",
                                           "b.body.local", "a.body.last", "b.body.last",
                                           "a.complete.local", "b.complete.local"}));
  EXPECT_EQ(h.downstream.body, "local");
  EXPECT_EQ(h.downstream.headers["x-local"], "1");
  EXPECT_EQ(h.downstream.content_length, 5u);
}

TEST(Pipeline, RouteErrorsAnswerLocallyAndAreStillCompleted) {
  std::vector<std::string> log;
  Harness h({std::make_shared<RecordingStage>("a", log)});
  auto ctx = make_ctx("/nope/x");
  h.run(ctx);
  EXPECT_EQ(h.forwarder.calls, 0);
  EXPECT_EQ(h.downstream.status, 404u);
  auto body = nlohmann::json::parse(h.downstream.body);
  EXPECT_EQ(body["error"]["code"], "unknown_provider");
  EXPECT_EQ(log.back(), "a.complete.gateway_error");
  EXPECT_EQ(ctx.outcome, Outcome::kGatewayError);
}

TEST(Pipeline, InvalidJsonIsRejectedBeforeAnyStage) {
  std::vector<std::string> log;
  Harness h({std::make_shared<RecordingStage>("a", log)});
  auto ctx = make_ctx("/openai/chat/completions", "{\"model\": ");
  h.run(ctx);
  EXPECT_EQ(h.downstream.status, 400u);
  EXPECT_EQ(log.front(), "a.head.400");
  auto not_json = make_ctx("/openai/chat/completions", "plain text");
  not_json.request.set(http::field::content_type, "text/plain");
  Harness h2({});
  h2.run(not_json);
  EXPECT_EQ(h2.forwarder.calls, 1);  // only bodies declared as JSON are checked
}

TEST(Pipeline, ForwarderFailureBeforeCommitBecomesAGatewayError) {
  Harness h({});
  h.forwarder.fail = Error{ErrorCode::kUpstreamTimeout, "provider slow"};
  auto ctx = make_ctx("/v1/acct/gw/anthropic/v1/messages");
  h.run(ctx);
  EXPECT_EQ(ctx.plan.account, "acct");
  EXPECT_EQ(ctx.plan.gateway, "gw");
  EXPECT_EQ(h.forwarder.seen_target, "/v1/messages");
  EXPECT_EQ(h.downstream.status, 504u);
  EXPECT_EQ(nlohmann::json::parse(h.downstream.body)["error"]["message"], "provider slow");
  EXPECT_EQ(ctx.outcome, Outcome::kGatewayError);
}

}  // namespace
}  // namespace aigw
