// The access log's line, made from the request's one summary: the fields, the timings as
// the request log has them, and nothing of the query or the headers.

#include "telemetry/access_log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace aigw::telemetry {
namespace {

RequestContext finished_request() {
  RequestContext ctx;
  ctx.id = "0190f0e4-7c1a-7b3e-9f2d-000000000001";
  ctx.event_id = "evt";
  ctx.client_ip = "10.0.0.1";
  ctx.started = std::chrono::steady_clock::now();
  ctx.started_wall =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  ctx.request.method(http::verb::post);
  ctx.request.target("/google-ai-studio/v1/models/x:generateContent?key=SECRET");
  ctx.request.set(http::field::authorization, "Bearer SECRET");
  ctx.path = "/google-ai-studio/v1/models/x:generateContent";
  ctx.status = 200;
  ctx.outcome = Outcome::kSuccess;
  ctx.request_bytes = 10;
  ctx.response_bytes = 20;
  ctx.upstream_started = ctx.started + std::chrono::milliseconds(1);
  ctx.upstream_first_byte = ctx.started + std::chrono::milliseconds(5);
  ctx.head_sent = ctx.started + std::chrono::milliseconds(6);
  ctx.finished = ctx.started + std::chrono::milliseconds(9);
  return ctx;
}

TEST(AccessLog, LineHasTheFieldsAndNoQueryOrHeaders) {
  RequestContext ctx = finished_request();
  Attempt attempt;
  attempt.slug = "google-ai-studio";
  ctx.attempt = std::move(attempt);
  ctx.attempt_log.push_back(AttemptRecord{"google-ai-studio", 200, {}, {}, {}});
  ctx.metered = RequestContext::Metered{"gemini-x", TokenUsage{12, 3, {}, {}, {}}, 0.5};

  const RequestSummary summary = summarize(ctx, false);
  const std::string line = AccessLog::format(summary);
  EXPECT_EQ(line.find("SECRET"), std::string::npos) << line;
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["id"], ctx.id);
  EXPECT_EQ(j["event_id"], "evt");
  EXPECT_EQ(j["client_ip"], "10.0.0.1");
  EXPECT_EQ(j["provider"], "google-ai-studio");
  EXPECT_EQ(j["path"], ctx.path);
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["outcome"], "success");
  EXPECT_EQ(j["bytes_in"], 10);
  EXPECT_EQ(j["bytes_out"], 20);
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_EQ(j["tokens_in"], 12);
  EXPECT_EQ(j["tokens_out"], 3);
  EXPECT_EQ(j["cost"], 0.5);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 9.0);
  EXPECT_DOUBLE_EQ(j["upstream_ms"].get<double>(), 8.0);
  // The client's time to the first byte, as the request log and the metrics have it.
  EXPECT_DOUBLE_EQ(j["ttfb_ms"].get<double>(), 6.0);
  EXPECT_EQ(*summary.record.ttfb_ms, j["ttfb_ms"].get<double>());
  EXPECT_EQ(summary.record.attempts.size(), 1u);
  EXPECT_FALSE(j.contains("error"));
}

TEST(AccessLog, ErrorsAndUnroutedRequests) {
  RequestContext ctx;
  ctx.error = Error{ErrorCode::kUnknownProvider, "x", "configured providers: a"};
  ctx.outcome = Outcome::kGatewayError;
  ctx.status = 404;
  auto j = nlohmann::json::parse(AccessLog::format(summarize(ctx, false)));
  EXPECT_TRUE(j["provider"].is_null());
  EXPECT_EQ(j["error"], "unknown_provider");
  EXPECT_EQ(j["error_detail"], "x [configured providers: a]");
  EXPECT_EQ(j["outcome"], "gateway_error");
  EXPECT_EQ(j["attempts"], 0);
  EXPECT_FALSE(j.contains("upstream_ms"));
}

TEST(AccessLog, OffMeansNone) {
  AccessLogConfig c;
  c.path = "off";
  EXPECT_EQ(AccessLog::create(c), nullptr);
}

}  // namespace
}  // namespace aigw::telemetry
