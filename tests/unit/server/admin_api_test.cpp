// The admin API's error messages echo what the client wrote in the query; whatever its bytes
// (a percent-decoded query need not be UTF-8, and a cut can split a character), the answer is
// the exact 400 with those bytes written %XX, never an exception (found by fuzzing).

#include "server/admin_api.hpp"

#include "../store/temp_dir.hpp"
#include "store/log_store.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace aigw::admin {
namespace {

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::LogStoreOptions o;
    o.path = dir_.file("logs.db");
    auto store = store::LogStore::open(o);
    ASSERT_TRUE(store) << store.error().detail;
    telemetry_.log = std::move(*store);
  }

  // The status and the error message of GET `target`.
  std::pair<unsigned, std::string> get(const std::string& target) {
    const auto r = handle(target, telemetry_);
    if (!r) return {0, ""};
    const auto body = nlohmann::json::parse(r->body, nullptr, false);
    if (body.is_discarded()) return {r->status, "(not JSON) " + r->body};
    return {r->status, body["error"].value("message", "")};
  }

  store::test::TempDir dir_;
  Telemetry telemetry_;
};

TEST_F(AdminApiTest, UnknownParameterThatIsNotUtf8) {
  EXPECT_EQ(get("/api/usage?group_by\xBDkey&key=team-a"),
            (std::pair<unsigned, std::string>{
                400,
                "unknown query parameter group_by%BDkey (known: from, to, provider, model, key, "
                "gateway, group_by, bucket)"}));
  EXPECT_EQ(get("/api/logs?%FF%25=1"),
            (std::pair<unsigned, std::string>{
                400,
                "unknown query parameter %FF%25 (known: from, to, provider, model, key, gateway, "
                "status, success, cached, metadata.key, metadata.value, feedback, min_score, "
                "max_score, order, limit, cursor)"}));
}

TEST_F(AdminApiTest, RepeatedParameterThatIsNotUtf8) {
  EXPECT_EQ(get("/api/logs?%C3=1&%C3=2"),
            (std::pair<unsigned, std::string>{400, "query parameter %C3 is given twice"}));
}

TEST_F(AdminApiTest, EchoCutInsideACharacter) {
  // 39 bytes, then the two bytes of U+00E9: the echo keeps 40 bytes, half of the character.
  const std::string value(39, 'a');
  EXPECT_EQ(get("/api/logs?from=" + value + "%C3%A9"),
            (std::pair<unsigned, std::string>{
                400,
                "from must be Unix milliseconds or an RFC 3339 UTC time such as "
                "2026-12-02T10:00:00Z (got '" +
                    value + "%C3')"}));
}

}  // namespace
}  // namespace aigw::admin
