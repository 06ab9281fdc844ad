#include "aigw/ids.hpp"

#include "aigw/error.hpp"

#include <gtest/gtest.h>

#include <set>

namespace aigw {
namespace {

TEST(Ids, Uuid7ShapeVersionAndVariant) {
  const std::string id = make_uuid_v7();
  EXPECT_TRUE(is_uuid_v7(id)) << id;
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '7');
  EXPECT_FALSE(is_uuid_v7("0190f0e4-7c1a-4b3e-9f2d-000000000000"));  // v4
  EXPECT_FALSE(is_uuid_v7("0190F0E4-7C1A-7B3E-9F2D-000000000000"));  // upper case
  EXPECT_FALSE(is_uuid_v7("0190f0e4-7c1a-7b3e-cf2d-000000000000"));  // wrong variant
  EXPECT_FALSE(is_uuid_v7("not-a-uuid"));
}

TEST(Ids, UniqueAndOrderedWithinAThread) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 20000; ++i) {
    std::string id = make_uuid_v7();
    EXPECT_GT(id, previous);
    previous = id;
    seen.insert(std::move(id));
  }
  EXPECT_EQ(seen.size(), 20000u);
}

TEST(Ids, TimestampIsNow) {
  const std::string id = make_uuid_v7();
  std::string hex = id.substr(0, 8) + id.substr(9, 4);
  const auto ms = std::stoull(hex, nullptr, 16);
  const auto now =
      static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  EXPECT_LE(ms, now + 5);
  EXPECT_GE(ms + 5000, now);
}

TEST(Errors, StatusAndStableCodes) {
  EXPECT_EQ(http_status(ErrorCode::kBadRequest), 400u);
  EXPECT_EQ(http_status(ErrorCode::kInvalidJson), 400u);
  EXPECT_EQ(http_status(ErrorCode::kUnknownProvider), 404u);
  EXPECT_EQ(http_status(ErrorCode::kRequestTimeout), 408u);
  EXPECT_EQ(http_status(ErrorCode::kBodyTooLarge), 413u);
  EXPECT_EQ(http_status(ErrorCode::kHeadersTooLarge), 431u);
  EXPECT_EQ(http_status(ErrorCode::kUpstreamConnect), 502u);
  EXPECT_EQ(http_status(ErrorCode::kUpstreamTls), 502u);
  EXPECT_EQ(http_status(ErrorCode::kUpstreamReset), 502u);
  EXPECT_EQ(http_status(ErrorCode::kUpstreamTimeout), 504u);
  EXPECT_EQ(http_status(ErrorCode::kDraining), 503u);
  EXPECT_EQ(error_body({ErrorCode::kUnknownProvider, "unknown provider 'x'"}),
            R"({"error":{"code":"unknown_provider","message":"unknown provider 'x'",)"
            R"("param":null,"type":"invalid_request_error"}})");
  EXPECT_EQ(error_body({ErrorCode::kUpstreamTimeout, ""}),
            R"({"error":{"code":"upstream_timeout","message":"upstream_timeout",)"
            R"("param":null,"type":"gateway_error"}})");
}

}  // namespace
}  // namespace aigw
