// The log store's read side against a real SQLite file: every listing filter alone and
// combined (checked against the same filter applied in C++ to the records written), metadata
// matching, keyset pagination while rows arrive, and usage totals per bucket and group.

#include "store/log_store.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <stdlib.h>
#include <string>
#include <tuple>
#include <vector>

namespace aigw::store {
namespace {

using namespace std::chrono_literals;

using test::TempDir;

constexpr std::int64_t kBase = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

// A varied data set: three providers, four models, several statuses, cache hits, priced and
// unpriced requests, metadata on most records, several records per millisecond (ties).
std::vector<LogRecord> data_set() {
  const char* providers[] = {"openai", "anthropic", "groq"};
  const char* models[] = {"gpt-4o", "claude-3-5", "llama-3", "gpt-4o-mini"};
  const std::uint16_t statuses[] = {200, 200, 200, 429, 500, 200, 400};
  const char* users[] = {"\"alice\"", "\"bob\"", "42", "\"42\"", "true"};
  std::vector<LogRecord> records;
  for (int i = 0; i < 120; ++i) {
    LogRecord r;
    char id[16];
    std::snprintf(id, sizeof id, "id-%04d", i);
    r.id = id;
    r.created_at = kBase + (i / 3) * 7 * kMinute;  // three per timestamp, every 7 minutes
    r.provider = providers[i % 3];
    r.model = models[i % 4];
    r.method = "POST";
    r.path = "/" + r.provider + "/v1/chat/completions";
    r.status_code = statuses[i % 7];
    r.success = r.status_code == 200;
    r.cached = i % 5 == 0;
    r.cache_status = r.cached ? "HIT" : "MISS";
    r.tokens_in = 100 + i;
    r.tokens_out = i % 6 == 0 ? std::nullopt : std::optional<std::uint64_t>(10 + i);
    r.cached_tokens = r.cached ? std::optional<std::uint64_t>(50) : std::nullopt;
    if (i % 4 == 3) {
      r.unpriced = true;  // no cost at all
    } else {
      r.cost = 0.25 * (i % 8);  // exact in binary, so sums compare exactly
    }
    if (i % 6 != 5) r.metadata.emplace_back("user", users[i % 5]);
    if (i % 2 == 0) r.metadata.emplace_back("team", "\"core\"");
    r.key = i % 3 == 0 ? "" : i % 3 == 1 ? "team-a" : "team-b";
    r.request_body = "req-" + r.id;
    r.response_body = "resp-" + r.id;
    records.push_back(std::move(r));
  }
  return records;
}

class LogQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LogStoreOptions o;
    o.path = dir_.file("logs.db");
    o.flush_interval = 1h;
    auto store = LogStore::open(o);
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    records_ = data_set();
    for (const auto& r : records_) ASSERT_TRUE(store_->submit(r));
    store_->flush();
  }

  // The ids `q` should return, all pages, by the same rule in C++.
  std::vector<std::string> expected(const std::function<bool(const LogRecord&)>& keep,
                                    LogOrder order = LogOrder::kNewestFirst) const {
    std::vector<const LogRecord*> kept;
    for (const auto& r : records_) {
      if (keep(r)) kept.push_back(&r);
    }
    std::sort(kept.begin(), kept.end(), [&](const LogRecord* a, const LogRecord* b) {
      const auto ka = std::tie(a->created_at, a->id);
      const auto kb = std::tie(b->created_at, b->id);
      return order == LogOrder::kNewestFirst ? kb < ka : ka < kb;
    });
    std::vector<std::string> ids;
    for (const auto* r : kept) ids.push_back(r->id);
    return ids;
  }

  // Every page of `q`, followed through next_cursor.
  std::vector<std::string> all_pages(LogQuery q) const {
    std::vector<std::string> ids;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = store_->query(q);
      EXPECT_TRUE(page) << page.error().detail;
      if (!page) break;
      EXPECT_LE(page->records.size(), q.limit);
      for (const auto& r : page->records) ids.push_back(r.id);
      if (page->next_cursor.empty()) break;
      q.cursor = page->next_cursor;
    }
    return ids;
  }

  void walk_while_rows_arrive(LogOrder order);

  TempDir dir_;
  std::unique_ptr<LogStore> store_;
  std::vector<LogRecord> records_;
};

bool has_metadata(const LogRecord& r, std::string_view key, std::string_view value = {}) {
  return std::any_of(r.metadata.begin(), r.metadata.end(), [&](const auto& entry) {
    return entry.first == key && (value.empty() || entry.second == value);
  });
}

TEST_F(LogQueryTest, NoFilterListsEverythingNewestFirst) {
  LogQuery q;
  q.limit = 1000;
  auto page = store_->query(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->records.size(), records_.size());
  EXPECT_EQ(page->next_cursor, "");
  std::vector<std::string> ids;
  for (const auto& r : page->records) ids.push_back(r.id);
  EXPECT_EQ(ids, expected([](const LogRecord&) { return true; }));
  // Ties on created_at go by id, descending too.
  EXPECT_EQ(ids[0], "id-0119");
  EXPECT_EQ(ids[1], "id-0118");
}

TEST_F(LogQueryTest, EachFilterAlone) {
  const auto check = [&](LogQuery q, const std::function<bool(const LogRecord&)>& keep,
                         const char* what) {
    q.limit = 7;
    const auto want = expected(keep);
    EXPECT_FALSE(want.empty()) << what;
    EXPECT_EQ(all_pages(q), want) << what;
  };
  LogQuery q;
  q.from = kBase + 30 * kMinute;
  check(
      q, [](const LogRecord& r) { return r.created_at >= kBase + 30 * kMinute; }, "from");
  q = {};
  q.to = kBase + 28 * kMinute;  // exclusive: the records at +28m are out
  check(
      q, [](const LogRecord& r) { return r.created_at < kBase + 28 * kMinute; }, "to");
  q = {};
  q.provider = "anthropic";
  check(
      q, [](const LogRecord& r) { return r.provider == "anthropic"; }, "provider");
  q = {};
  q.model = "gpt-4o";
  check(
      q, [](const LogRecord& r) { return r.model == "gpt-4o"; }, "model");
  q = {};
  q.status_code = 429;
  check(
      q, [](const LogRecord& r) { return r.status_code == 429; }, "status_code");
  q = {};
  q.success = false;
  check(
      q, [](const LogRecord& r) { return !r.success; }, "success=false");
  q = {};
  q.success = true;
  check(
      q, [](const LogRecord& r) { return r.success; }, "success=true");
  q = {};
  q.cached = true;
  check(
      q, [](const LogRecord& r) { return r.cached; }, "cached");
  q = {};
  q.metadata_key = "team";
  check(
      q, [](const LogRecord& r) { return has_metadata(r, "team"); }, "metadata key");
}

TEST_F(LogQueryTest, FiltersCombine) {
  LogQuery q;
  q.from = kBase + 14 * kMinute;
  q.to = kBase + 200 * kMinute;
  q.provider = "openai";
  q.success = true;
  q.metadata_key = "team";
  q.limit = 3;
  const auto want = expected([](const LogRecord& r) {
    return r.created_at >= kBase + 14 * kMinute && r.created_at < kBase + 200 * kMinute &&
           r.provider == "openai" && r.success && has_metadata(r, "team");
  });
  ASSERT_GT(want.size(), 3u);
  EXPECT_EQ(all_pages(q), want);

  q = {};
  q.model = "claude-3-5";
  q.cached = false;
  q.status_code = 200;
  q.order = LogOrder::kOldestFirst;
  EXPECT_EQ(all_pages(q), expected(
                              [](const LogRecord& r) {
                                return r.model == "claude-3-5" && !r.cached && r.status_code == 200;
                              },
                              LogOrder::kOldestFirst));

  q = {};
  q.provider = "no-such-provider";
  auto page = store_->query(q);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->records.empty());
  EXPECT_EQ(page->next_cursor, "");
}

TEST_F(LogQueryTest, MetadataValueMatchesJsonTextOrString) {
  LogQuery q;
  q.limit = 1000;
  q.metadata_key = "user";
  const auto ids = [&](std::string value) {
    q.metadata_value = std::move(value);
    return all_pages(q);
  };
  const auto alice =
      expected([](const LogRecord& r) { return has_metadata(r, "user", "\"alice\""); });
  ASSERT_FALSE(alice.empty());
  EXPECT_EQ(ids("alice"), alice);      // the unquoted string
  EXPECT_EQ(ids("\"alice\""), alice);  // the JSON text
  EXPECT_EQ(ids("ALICE"), std::vector<std::string>{});
  // 42 matches both the number and the string "42"; "42" only the string.
  EXPECT_EQ(ids("42"), expected([](const LogRecord& r) {
              return has_metadata(r, "user", "42") || has_metadata(r, "user", "\"42\"");
            }));
  EXPECT_EQ(ids("\"42\""),
            expected([](const LogRecord& r) { return has_metadata(r, "user", "\"42\""); }));
  EXPECT_EQ(ids("true"),
            expected([](const LogRecord& r) { return has_metadata(r, "user", "true"); }));
  // The key scopes the value: "core" is a team, not a user.
  EXPECT_EQ(ids("core"), std::vector<std::string>{});
}

TEST_F(LogQueryTest, ListingLeavesBodiesOutAndGetBringsThem) {
  LogQuery q;
  q.limit = 5;
  auto page = store_->query(q);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->records.size(), 5u);
  for (const auto& r : page->records) {
    EXPECT_FALSE(r.request_body) << r.id;
    EXPECT_FALSE(r.response_body) << r.id;
    const auto original = std::find_if(records_.begin(), records_.end(),
                                       [&](const LogRecord& o) { return o.id == r.id; });
    ASSERT_NE(original, records_.end());
    EXPECT_EQ(r.metadata, original->metadata) << r.id;  // everything else is there
    EXPECT_EQ(r.cost, original->cost) << r.id;
    EXPECT_EQ(r.tokens_out, original->tokens_out) << r.id;
  }
  auto full = store_->get(page->records[0].id);
  ASSERT_TRUE(full && full->has_value());
  EXPECT_EQ((*full)->request_body, "req-" + page->records[0].id);
  EXPECT_EQ((*full)->response_body, "resp-" + page->records[0].id);
}

// Walks every page of the openai records in `order` while rows arrive between two fetches:
// newer than everything, and (requests that finished late) at the very timestamp of the
// page's last row, on both sides of its id (while that row is one of the originals). Every row
// present at the start must come exactly once and in order; a new row appears exactly when it lies
// ahead of the cursor.
void LogQueryTest::walk_while_rows_arrive(LogOrder order) {
  LogQuery q;
  q.limit = 7;  // pages end in the middle of a created_at tie (three rows per timestamp)
  q.order = order;
  q.provider = "openai";
  std::vector<std::string> seen;
  std::set<std::string> unique;
  int added = 0;
  int late_added = 0;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = store_->query(q);
    ASSERT_TRUE(page) << page.error().detail;
    for (const auto& r : page->records) {
      seen.push_back(r.id);
      EXPECT_TRUE(unique.insert(r.id).second) << "duplicate " << r.id;
    }
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
    const LogRecord& last = page->records.back();
    const auto add = [&](std::string id, std::int64_t created_at) {
      LogRecord r = records_[0];
      r.id = std::move(id);
      r.provider = "openai";
      r.created_at = created_at;
      ASSERT_TRUE(store_->submit(r));
    };
    const auto n = std::to_string(added++);
    add("new-" + n, kBase + 10 * kDay + added);
    if (last.id.starts_with("id-")) {
      add("a-late-" + n, last.created_at);  // sorts before every "id-..." at that timestamp
      add("late-" + n, last.created_at);    // and this one after
      ++late_added;
    }
    store_->flush();
  }
  ASSERT_GT(late_added, 3);

  std::vector<std::string> original;
  std::copy_if(seen.begin(), seen.end(), std::back_inserter(original),
               [](const std::string& id) { return id.starts_with("id-"); });
  EXPECT_EQ(original, expected([](const LogRecord& r) { return r.provider == "openai"; }, order));
  const auto count = [&](std::string_view prefix) {
    return std::count_if(seen.begin(), seen.end(),
                         [&](const std::string& id) { return id.starts_with(prefix); });
  };
  if (order == LogOrder::kNewestFirst) {
    EXPECT_EQ(count("new-"), 0);  // behind the first page
    EXPECT_EQ(count("late-"), 0);
    EXPECT_EQ(count("a-late-"), late_added);
  } else {
    EXPECT_EQ(count("new-"), added);
    EXPECT_EQ(count("late-"), late_added);
    EXPECT_EQ(count("a-late-"), 0);
    // The newest rows come after every row that was there at the start.
    EXPECT_TRUE(seen.back().starts_with("new-"));
  }
}

TEST_F(LogQueryTest, NewestFirstPagesStayStableWhileRowsArrive) {
  walk_while_rows_arrive(LogOrder::kNewestFirst);
}

TEST_F(LogQueryTest, OldestFirstPagesStayStableWhileRowsArrive) {
  walk_while_rows_arrive(LogOrder::kOldestFirst);
}

TEST_F(LogQueryTest, TiesOnCreatedAtAreSplitByIdAcrossPages) {
  // Ten records with the same timestamp, pages of three.
  for (int i = 0; i < 10; ++i) {
    LogRecord r = records_[0];
    r.id = "tie-" + std::to_string(i);
    r.created_at = kBase - kDay;
    ASSERT_TRUE(store_->submit(r));
  }
  store_->flush();
  LogQuery q;
  q.to = kBase;
  q.limit = 3;
  const std::vector<std::string> want = {"tie-9", "tie-8", "tie-7", "tie-6", "tie-5",
                                         "tie-4", "tie-3", "tie-2", "tie-1", "tie-0"};
  EXPECT_EQ(all_pages(q), want);
}

TEST_F(LogQueryTest, RefusesBadInput) {
  LogQuery q;
  q.limit = 0;
  auto page = store_->query(q);
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(page.error().detail, "limit must be between 1 and 1000 (got 0)");
  q.limit = 1001;
  page = store_->query(q);
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().detail, "limit must be between 1 and 1000 (got 1001)");

  q = {};
  for (const char* cursor : {"not a cursor!", "AAAA", "MTp4OmlkLTE", "eDox"}) {
    q.cursor = cursor;
    page = store_->query(q);
    ASSERT_FALSE(page) << cursor;
    EXPECT_EQ(page.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(page.error().detail, "invalid cursor");
  }

  q = {};
  q.metadata_value = "alice";
  page = store_->query(q);
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().detail, "a metadata value filter needs a metadata key");

  UsageQuery u;
  u.group_by = UsageGroup::kMetadata;
  auto usage = store_->usage(u);
  ASSERT_FALSE(usage);
  EXPECT_EQ(usage.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(usage.error().detail, "grouping by metadata needs a metadata key");
}

TEST_F(LogQueryTest, ValuesAreBoundNotSpliced) {
  LogQuery q;
  q.provider = "openai' OR '1'='1";
  auto page = store_->query(q);
  ASSERT_TRUE(page) << page.error().detail;
  EXPECT_TRUE(page->records.empty());
  q = {};
  q.metadata_key = "user') OR 1=1 --";
  page = store_->query(q);
  ASSERT_TRUE(page) << page.error().detail;
  EXPECT_TRUE(page->records.empty());
}

// --- usage -------------------------------------------------------------------------------

// The same totals, computed in C++ from the records written.
std::vector<UsageRow> expected_usage(const std::vector<LogRecord>& records,
                                     const std::function<bool(const LogRecord&)>& keep,
                                     const std::function<std::int64_t(const LogRecord&)>& bucket,
                                     const std::function<std::string(const LogRecord&)>& group) {
  std::map<std::pair<std::int64_t, std::string>, UsageRow> rows;
  for (const auto& r : records) {
    if (!keep(r)) continue;
    auto& row = rows[{bucket(r), group(r)}];
    row.bucket_start = bucket(r);
    row.group = group(r);
    ++row.requests;
    row.tokens_in += r.tokens_in.value_or(0);
    row.tokens_out += r.tokens_out.value_or(0);
    row.cached_tokens += r.cached_tokens.value_or(0);
    row.cost += r.cost.value_or(0);
    row.unpriced_requests += r.unpriced ? 1 : 0;
    row.cache_hits += r.cached ? 1 : 0;
    row.errors += r.success ? 0 : 1;
  }
  std::vector<UsageRow> out;
  for (auto& [key, row] : rows) out.push_back(row);
  return out;
}

void expect_rows(const Result<std::vector<UsageRow>>& got, const std::vector<UsageRow>& want) {
  ASSERT_TRUE(got) << got.error().detail;
  ASSERT_EQ(got->size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& g = (*got)[i];
    const auto& w = want[i];
    SCOPED_TRACE("row " + std::to_string(i) + " group " + w.group);
    EXPECT_EQ(g.bucket_start, w.bucket_start);
    EXPECT_EQ(g.group, w.group);
    EXPECT_EQ(g.requests, w.requests);
    EXPECT_EQ(g.tokens_in, w.tokens_in);
    EXPECT_EQ(g.tokens_out, w.tokens_out);
    EXPECT_EQ(g.cached_tokens, w.cached_tokens);
    EXPECT_EQ(g.cost, w.cost);  // quarters: exact
    EXPECT_EQ(g.unpriced_requests, w.unpriced_requests);
    EXPECT_EQ(g.cache_hits, w.cache_hits);
    EXPECT_EQ(g.errors, w.errors);
  }
}

std::int64_t floor_to(std::int64_t t, std::int64_t width) { return t - t % width; }

const auto kAll = [](const LogRecord&) { return true; };
const auto kNoBucket = [](const LogRecord&) -> std::int64_t { return 0; };
const auto kNoGroup = [](const LogRecord&) { return std::string(); };

TEST_F(LogQueryTest, UsageTotalsWithoutGrouping) {
  UsageQuery q;
  const auto want = expected_usage(records_, kAll, kNoBucket, kNoGroup);
  ASSERT_EQ(want.size(), 1u);
  EXPECT_EQ(want[0].requests, 120u);
  EXPECT_EQ(want[0].unpriced_requests, 30u);
  expect_rows(store_->usage(q), want);

  q.from = kBase + 1000 * kDay;  // nothing there: no rows, not a row of zeros
  auto empty = store_->usage(q);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_F(LogQueryTest, UsageByProviderAndModel) {
  UsageQuery q;
  q.group_by = UsageGroup::kProvider;
  expect_rows(store_->usage(q), expected_usage(records_, kAll, kNoBucket,
                                               [](const LogRecord& r) { return r.provider; }));
  q.group_by = UsageGroup::kModel;
  q.provider = "openai";
  q.from = kBase + kHour;
  q.to = kBase + 3 * kHour;
  expect_rows(store_->usage(q), expected_usage(
                                    records_,
                                    [](const LogRecord& r) {
                                      return r.provider == "openai" &&
                                             r.created_at >= kBase + kHour &&
                                             r.created_at < kBase + 3 * kHour;
                                    },
                                    kNoBucket, [](const LogRecord& r) { return r.model; }));
  q = {};
  q.model = "llama-3";
  expect_rows(
      store_->usage(q),
      expected_usage(
          records_, [](const LogRecord& r) { return r.model == "llama-3"; }, kNoBucket, kNoGroup));
}

TEST_F(LogQueryTest, UsageByMetadataValue) {
  UsageQuery q;
  q.group_by = UsageGroup::kMetadata;
  q.metadata_key = "user";
  // Groups are the value without JSON quotes; 42 and "42" are one group; no key is "".
  const auto label = [](const LogRecord& r) -> std::string {
    for (const auto& [key, value] : r.metadata) {
      if (key != "user") continue;
      if (value.front() == '"') return value.substr(1, value.size() - 2);
      return value;
    }
    return "";
  };
  const auto want = expected_usage(records_, kAll, kNoBucket, label);
  ASSERT_EQ(want.size(), 5u);  // "", 42, alice, bob, true
  EXPECT_EQ(want[0].group, "");
  expect_rows(store_->usage(q), want);
}

// Budgets are rebuilt from these: per virtual key, one key alone, and slot-sized buckets.
TEST_F(LogQueryTest, UsageByKeyAndInBucketsOfAnyWidth) {
  UsageQuery q;
  q.group_by = UsageGroup::kKey;
  const auto want =
      expected_usage(records_, kAll, kNoBucket, [](const LogRecord& r) { return r.key; });
  ASSERT_EQ(want.size(), 3u);  // "", team-a, team-b
  expect_rows(store_->usage(q), want);

  UsageQuery one;
  one.key = "team-b";
  one.from = kBase + 3 * kHour;
  one.bucket_ms = 11 * kMinute;
  const auto keep = [](const LogRecord& r) {
    return r.key == "team-b" && r.created_at >= kBase + 3 * kHour;
  };
  expect_rows(
      store_->usage(one),
      expected_usage(
          records_, keep, [](const LogRecord& r) { return floor_to(r.created_at, 11 * kMinute); },
          kNoGroup));
  UsageQuery none;
  none.key = "";
  expect_rows(store_->usage(none),
              expected_usage(
                  records_, [](const LogRecord& r) { return r.key.empty(); }, kNoBucket, kNoGroup));
  UsageQuery bad;
  bad.bucket_ms = 0;
  ASSERT_FALSE(store_->usage(bad));
  EXPECT_EQ(store_->usage(bad).error().detail, "a bucket must be at least 1 ms");
}

TEST_F(LogQueryTest, UsageBucketsByMinuteHourAndDay) {
  // Spread records over three UTC days to exercise day buckets.
  std::vector<LogRecord> spread;
  for (int i = 0; i < 30; ++i) {
    LogRecord r = records_[static_cast<std::size_t>(i)];
    r.id = "spread-" + std::to_string(i);
    r.created_at = kBase + 100 * kDay + i * 5 * kHour + i * 61'001;
    spread.push_back(r);
    ASSERT_TRUE(store_->submit(r));
  }
  store_->flush();
  const auto in_spread = [](const LogRecord& r) { return r.created_at >= kBase + 100 * kDay; };
  for (const auto& [bucket, width] :
       {std::pair{UsageBucket::kMinute, kMinute}, std::pair{UsageBucket::kHour, kHour},
        std::pair{UsageBucket::kDay, kDay}}) {
    UsageQuery q;
    q.from = kBase + 100 * kDay;
    q.bucket = bucket;
    const auto w = width;
    expect_rows(store_->usage(q),
                expected_usage(
                    spread, in_spread,
                    [w](const LogRecord& r) { return floor_to(r.created_at, w); }, kNoGroup));
    // Bucket and group together: sorted by bucket, then group.
    q.group_by = UsageGroup::kProvider;
    expect_rows(store_->usage(q), expected_usage(
                                      spread, in_spread,
                                      [w](const LogRecord& r) { return floor_to(r.created_at, w); },
                                      [](const LogRecord& r) { return r.provider; }));
  }
  // Day buckets start at UTC midnight.
  UsageQuery q;
  q.from = kBase + 100 * kDay;
  q.bucket = UsageBucket::kDay;
  auto days = store_->usage(q);
  ASSERT_TRUE(days);
  ASSERT_FALSE(days->empty());
  for (const auto& row : *days) EXPECT_EQ(row.bucket_start % kDay, 0);
  EXPECT_GE(days->size(), 3u);
}

}  // namespace
}  // namespace aigw::store
