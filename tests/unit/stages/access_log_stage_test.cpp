#include "stages/access_log/access_log_stage.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace aigw {
namespace {

TEST(AccessLog, LineHasTheFieldsAndNoQueryOrHeaders) {
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
  ctx.provider_slug = "google-ai-studio";
  ctx.status = 200;
  ctx.outcome = Outcome::kSuccess;
  ctx.request_bytes = 10;
  ctx.response_bytes = 20;
  ctx.attempts = 1;
  ctx.upstream_started = ctx.started + std::chrono::milliseconds(1);
  ctx.upstream_first_byte = ctx.started + std::chrono::milliseconds(5);
  ctx.finished = ctx.started + std::chrono::milliseconds(9);

  const std::string line = AccessLogStage::format(ctx);
  EXPECT_EQ(line.find("SECRET"), std::string::npos) << line;
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["id"], ctx.id);
  EXPECT_EQ(j["event_id"], "evt");
  EXPECT_EQ(j["provider"], "google-ai-studio");
  EXPECT_EQ(j["path"], ctx.path);
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["outcome"], "success");
  EXPECT_EQ(j["bytes_in"], 10);
  EXPECT_EQ(j["bytes_out"], 20);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 9.0);
  EXPECT_DOUBLE_EQ(j["upstream_ms"].get<double>(), 8.0);
  EXPECT_DOUBLE_EQ(j["ttfb_ms"].get<double>(), 4.0);
  EXPECT_FALSE(j.contains("error"));
}

TEST(AccessLog, ErrorsAndUnroutedRequests) {
  RequestContext ctx;
  ctx.error = Error{ErrorCode::kUnknownProvider, "x", false};
  ctx.outcome = Outcome::kGatewayError;
  ctx.status = 404;
  auto j = nlohmann::json::parse(AccessLogStage::format(ctx));
  EXPECT_TRUE(j["provider"].is_null());
  EXPECT_EQ(j["error"], "unknown_provider");
  EXPECT_EQ(j["outcome"], "gateway_error");
  EXPECT_FALSE(j.contains("upstream_ms"));
}

TEST(AccessLog, OffMeansNoStage) {
  LoggingConfig c;
  c.access_log = "off";
  EXPECT_EQ(AccessLogStage::create(c), nullptr);
}

}  // namespace
}  // namespace aigw
