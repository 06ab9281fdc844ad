// The log store's write side against real SQLite files in a fresh temp dir: round trips,
// batching and stats, a full queue, write errors, retention, opening errors, and kill -9 of
// a process that is writing.

#include "store/log_store.hpp"

#include "store/sqlite.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <numeric>
#include <random>
#include <signal.h>
#include <stdlib.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace aigw::store {
namespace {

using namespace std::chrono_literals;

using test::TempDir;

// Polls `done` until it holds or `timeout` passes: for states only the writer thread reaches
// (it has taken a record, it has failed once), where there is nothing to wait on.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

LogRecord record(std::string id, std::int64_t created_at = 1'700'000'000'000) {
  LogRecord r;
  r.id = std::move(id);
  r.event_id = "evt-" + r.id;
  r.created_at = created_at;
  r.provider = "openai";
  r.model = "gpt-4o-mini";
  r.method = "POST";
  r.path = "/openai/v1/chat/completions";
  r.status_code = 200;
  r.success = true;
  r.outcome = "success";
  r.metadata = {{"user", "\"alice\""}};
  return r;
}

LogRecord full_record() {
  LogRecord r;
  r.id = "0190f0e4-7c1a-7b3e-9f2d-0123456789ab";
  r.event_id = "0190f0e4-7c1a-7b3e-9f2d-ba9876543210";
  r.created_at = 1'700'000'123'456;
  r.provider = "openai";
  r.model = "gpt-4o-mini-2024-07-18";
  r.method = "POST";
  r.path = "/v1/acct/gw/openai/chat/completions";
  r.status_code = 200;
  r.success = true;
  r.cached = true;
  r.cache_status = "HIT";
  r.outcome = "success";
  r.error_code = "none_really";
  r.streamed = true;
  r.duration_ms = 1234.5;
  r.ttfb_ms = 87.25;
  r.upstream_ms = 1200.125;
  r.tokens_in = 1500;
  r.tokens_out = 320;
  r.cached_tokens = 1024;
  r.cache_write_tokens = 0;  // set to 0 is not absent
  r.reasoning_tokens = 64;
  r.cost = 0.000123456789;
  r.estimated = true;
  r.unpriced = false;
  r.custom_cost = true;
  r.metadata = {{"user", "\"alice\""},
                {"n", "42"},
                {"flag", "true"},
                {"ratio", "-0.5"},
                {"quote", R"("say \"hi\" ⚡")"}};
  r.key = "search-app";
  r.user_agent = "OpenAI/Python 1.40.0";
  r.request_content_type = "application/json";
  r.response_content_type = "text/event-stream; charset=utf-8";
  r.request_size = 2048;
  r.response_size = 65536;
  r.attempts = {{"openai", 503, 12.5, "", "gpt-4o"},
                {"openai", 0, 30000, "upstream_timeout", ""},
                {"azure-openai", 200, 900.75, "", "gpt-4o-mini"}};
  r.request_body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";
  r.response_body = std::string("data: {\"x\":1}\n\n\0\xff\xfe binary tail", 30);
  return r;
}

void expect_same(const LogRecord& a, const LogRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.event_id, b.event_id);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.provider, b.provider);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.status_code, b.status_code);
  EXPECT_EQ(a.success, b.success);
  EXPECT_EQ(a.cached, b.cached);
  EXPECT_EQ(a.cache_status, b.cache_status);
  EXPECT_EQ(a.outcome, b.outcome);
  EXPECT_EQ(a.error_code, b.error_code);
  EXPECT_EQ(a.streamed, b.streamed);
  EXPECT_EQ(a.duration_ms, b.duration_ms);
  EXPECT_EQ(a.ttfb_ms, b.ttfb_ms);
  EXPECT_EQ(a.upstream_ms, b.upstream_ms);
  EXPECT_EQ(a.tokens_in, b.tokens_in);
  EXPECT_EQ(a.tokens_out, b.tokens_out);
  EXPECT_EQ(a.cached_tokens, b.cached_tokens);
  EXPECT_EQ(a.cache_write_tokens, b.cache_write_tokens);
  EXPECT_EQ(a.reasoning_tokens, b.reasoning_tokens);
  EXPECT_EQ(a.cost, b.cost);
  EXPECT_EQ(a.estimated, b.estimated);
  EXPECT_EQ(a.unpriced, b.unpriced);
  EXPECT_EQ(a.custom_cost, b.custom_cost);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.user_agent, b.user_agent);
  EXPECT_EQ(a.request_content_type, b.request_content_type);
  EXPECT_EQ(a.response_content_type, b.response_content_type);
  EXPECT_EQ(a.request_size, b.request_size);
  EXPECT_EQ(a.response_size, b.response_size);
  ASSERT_EQ(a.attempts.size(), b.attempts.size());
  for (std::size_t i = 0; i < a.attempts.size(); ++i) {
    EXPECT_EQ(a.attempts[i].provider, b.attempts[i].provider) << i;
    EXPECT_EQ(a.attempts[i].status, b.attempts[i].status) << i;
    EXPECT_EQ(a.attempts[i].duration_ms, b.attempts[i].duration_ms) << i;
    EXPECT_EQ(a.attempts[i].error, b.attempts[i].error) << i;
    EXPECT_EQ(a.attempts[i].model, b.attempts[i].model) << i;
  }
  EXPECT_EQ(a.request_body, b.request_body);
  EXPECT_EQ(a.response_body, b.response_body);
}

class LogStoreTest : public ::testing::Test {
 protected:
  LogStoreOptions options(std::string_view file = "logs.db") const {
    LogStoreOptions o;
    o.path = dir_.file(file);
    // Batches commit on flush() (or a full batch), never on the timer: what a test submits
    // before flush() is one batch.
    o.flush_interval = 1h;
    return o;
  }

  std::unique_ptr<LogStore> open(LogStoreOptions o) {
    auto store = LogStore::open(std::move(o));
    EXPECT_TRUE(store) << (store ? "" : store.error().detail);
    return store ? std::move(*store) : nullptr;
  }

  // A second, plain connection to the same file, as an operator's shell would be.
  Database raw(std::string_view file = "logs.db") const {
    auto db = Database::open(dir_.file(file));
    EXPECT_TRUE(db) << (db ? "" : db.error().detail);
    db->busy_timeout(5000);
    return std::move(*db);
  }

  std::int64_t scalar(Database& db, const std::string& sql) const {
    auto value = db.query_int(sql.c_str(), "test query");
    EXPECT_TRUE(value) << (value ? "" : value.error().detail);
    return value ? *value : -1;
  }

  std::vector<std::string> ids_by_age(LogStore& store) const {
    LogQuery q;
    q.order = LogOrder::kOldestFirst;
    q.limit = LogQuery::kMaxLimit;
    auto page = store.query(q);
    EXPECT_TRUE(page);
    std::vector<std::string> ids;
    if (page) {
      for (const auto& r : page->records) ids.push_back(r.id);
    }
    return ids;
  }

  TempDir dir_;
};

TEST_F(LogStoreTest, RoundTripsEveryField) {
  auto store = open(options());
  ASSERT_TRUE(store);
  const LogRecord full = full_record();
  ASSERT_TRUE(store->submit(full));
  store->flush();

  auto got = store->get(full.id);
  ASSERT_TRUE(got) << got.error().detail;
  ASSERT_TRUE(got->has_value());
  expect_same(**got, full);
}

TEST_F(LogStoreTest, RoundTripsAbsentOptionalsAndEmptyBodies) {
  auto store = open(options());
  ASSERT_TRUE(store);
  LogRecord bare;
  bare.id = "bare";  // every other field at its default: optionals absent, no metadata
  LogRecord empty_bodies = record("empty-bodies");
  empty_bodies.request_body = "";
  empty_bodies.response_body = "";
  ASSERT_TRUE(store->submit(bare));
  ASSERT_TRUE(store->submit(empty_bodies));
  store->flush();

  auto got = store->get("bare");
  ASSERT_TRUE(got && got->has_value());
  expect_same(**got, bare);
  EXPECT_FALSE((*got)->ttfb_ms);
  EXPECT_FALSE((*got)->tokens_in);
  EXPECT_FALSE((*got)->request_body);

  got = store->get("empty-bodies");
  ASSERT_TRUE(got && got->has_value());
  expect_same(**got, empty_bodies);
  EXPECT_EQ((*got)->request_body, std::optional<std::string>(""));

  auto db = raw();
  EXPECT_EQ(scalar(db,
                   "SELECT count(*) FROM logs WHERE id = 'bare' AND request_body IS NULL AND "
                   "ttfb IS NULL AND tokens_in IS NULL AND cost IS NULL"),
            1);
  EXPECT_EQ(scalar(db,
                   "SELECT count(*) FROM logs WHERE id = 'empty-bodies' AND "
                   "request_body IS NOT NULL AND length(request_body) = 0"),
            1);
  auto missing = store->get("no-such-id");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_F(LogStoreTest, UnpricedCostIsNullNeverZero) {
  auto store = open(options());
  ASSERT_TRUE(store);
  LogRecord unpriced = record("unpriced");
  unpriced.tokens_in = 100;
  unpriced.unpriced = true;  // cost stays empty
  LogRecord free = record("free");
  free.cost = 0.0;  // priced at zero: a real 0
  ASSERT_TRUE(store->submit(unpriced));
  ASSERT_TRUE(store->submit(free));
  store->flush();

  auto db = raw();
  EXPECT_EQ(scalar(db, "SELECT typeof(cost) = 'null' FROM logs WHERE id = 'unpriced'"), 1);
  EXPECT_EQ(scalar(db, "SELECT typeof(cost) = 'real' FROM logs WHERE id = 'free'"), 1);
  auto got = store->get("unpriced");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_FALSE((*got)->cost.has_value());
  got = store->get("free");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->cost, std::optional<double>(0.0));
}

TEST_F(LogStoreTest, MetadataIsKeptAsCanonicalJsonScalars) {
  auto store = open(options());
  ASSERT_TRUE(store);
  LogRecord r = record("meta");
  r.metadata = {{"user", R"("\u0061lice")"},  // the same string as "alice"
                {"n", " 42 "},
                {"raw", "not json"},   // not JSON text at all: kept as a string
                {"user", "\"bob\""}};  // a repeated key: the last one wins
  ASSERT_TRUE(store->submit(r));
  store->flush();
  auto got = store->get("meta");
  ASSERT_TRUE(got && got->has_value());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"user", "\"bob\""}, {"n", "42"}, {"raw", "\"not json\""}};
  EXPECT_EQ((*got)->metadata, expected);
  auto db = raw();
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM log_metadata WHERE log_id = 'meta'"), 3);
  EXPECT_EQ(scalar(db,
                   "SELECT count(*) FROM log_metadata WHERE key = 'user' AND value = "
                   "'\"bob\"'"),
            1);
}

TEST_F(LogStoreTest, StatsCountBatchesAndRecords) {
  auto o = options();
  o.max_batch = 4;
  auto store = open(o);
  ASSERT_TRUE(store);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->submit(record("a" + std::to_string(i))));
  store->flush();
  auto stats = store->stats();
  EXPECT_EQ(stats.submitted, 3u);
  EXPECT_EQ(stats.written, 3u);
  EXPECT_EQ(stats.batches, 1u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.lost, 0u);
  EXPECT_EQ(stats.write_errors, 0u);
  EXPECT_GT(stats.last_batch_ms, 0.0);
  EXPECT_EQ(stats.last_error, "");

  // Ten more with batches of four: the writer takes at most four per transaction.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->submit(record("b" + std::to_string(i))));
  store->flush();
  stats = store->stats();
  EXPECT_EQ(stats.submitted, 13u);
  EXPECT_EQ(stats.written, 13u);
  EXPECT_GE(stats.batches, 4u);  // at least ceil(10 / 4) more
  auto db = raw();
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM logs"), 13);
}

TEST_F(LogStoreTest, TheTimerCommitsWithoutAFlush) {
  auto o = options();
  o.flush_interval = 10ms;
  auto store = open(o);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->submit(record("timed")));
  EXPECT_TRUE(eventually([&] { return store->stats().written == 1; }));
}

TEST_F(LogStoreTest, DestructorCommitsWhatIsQueued) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(store->submit(record("q" + std::to_string(i))));
    EXPECT_EQ(store->stats().written, 0u);  // the timer is an hour away and nobody flushed
  }
  auto db = raw();
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM logs"), 100);
}

TEST_F(LogStoreTest, SubmitsFromManyThreadsAreAllWritten) {
  auto store = open(options());
  ASSERT_TRUE(store);
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_TRUE(store->submit(record(std::to_string(t) + "-" + std::to_string(i))));
      }
    });
  }
  for (auto& t : threads) t.join();
  store->flush();
  EXPECT_EQ(store->stats().written, std::uint64_t{kThreads * kEach});
  auto db = raw();
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM logs"), kThreads * kEach);
}

TEST_F(LogStoreTest, FullQueueDropsAndCountsExactly) {
  auto o = options();
  o.queue_capacity = 4;
  o.flush_interval = 1ms;
  auto store = open(o);
  ASSERT_TRUE(store);

  // Another connection holds the write lock, so the writer's next transaction waits.
  auto blocker = raw();
  ASSERT_TRUE(blocker.exec("BEGIN IMMEDIATE", "lock"));
  ASSERT_TRUE(store->submit(record("first")));
  ASSERT_TRUE(eventually([&] { return store->stats().queued == 0; }));  // taken, now waiting

  for (int i = 0; i < 4; ++i) EXPECT_TRUE(store->submit(record("fits" + std::to_string(i))));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(store->submit(record("over" + std::to_string(i))));
  auto stats = store->stats();
  EXPECT_EQ(stats.submitted, 5u);
  EXPECT_EQ(stats.dropped, 3u);
  EXPECT_EQ(stats.queued, 4u);
  EXPECT_EQ(stats.written, 0u);

  ASSERT_TRUE(blocker.exec("COMMIT", "unlock"));
  store->flush();
  stats = store->stats();
  EXPECT_EQ(stats.written, 5u);
  EXPECT_EQ(stats.dropped, 3u);
  EXPECT_EQ(stats.lost, 0u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(scalar(blocker, "SELECT count(*) FROM logs"), 5);
  EXPECT_EQ(scalar(blocker, "SELECT count(*) FROM logs WHERE id LIKE 'over%'"), 0);
}

TEST_F(LogStoreTest, WriteErrorsAreReportedAndTheBatchRetried) {
  std::mutex mutex;
  std::vector<std::string> errors;
  auto o = options();
  o.flush_interval = 1ms;
  o.busy_timeout = 20ms;
  o.on_error = [&](std::string_view message) {
    std::lock_guard lock(mutex);
    errors.emplace_back(message);
  };
  auto store = open(o);
  ASSERT_TRUE(store);

  auto blocker = raw();
  ASSERT_TRUE(blocker.exec("BEGIN IMMEDIATE", "lock"));
  ASSERT_TRUE(store->submit(record("retried")));
  ASSERT_TRUE(eventually([&] { return store->stats().write_errors >= 1; }));
  ASSERT_TRUE(blocker.exec("COMMIT", "unlock"));
  store->flush();

  const auto stats = store->stats();
  EXPECT_EQ(stats.written, 1u);
  EXPECT_EQ(stats.lost, 0u);
  EXPECT_GE(stats.write_errors, 1u);
  const std::string prefix = "log store " + o.path + ": cannot begin a batch: database is locked";
  EXPECT_EQ(stats.last_error.substr(0, prefix.size()), prefix);
  std::lock_guard lock(mutex);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors.front().substr(0, prefix.size()), prefix);
  EXPECT_NE(errors.front().find("will retry"), std::string::npos) << errors.front();
}

TEST_F(LogStoreTest, ShutdownGivesUpOnAFailingDatabase) {
  std::mutex mutex;
  std::vector<std::string> errors;
  auto o = options();
  o.flush_interval = 1ms;
  o.busy_timeout = 20ms;
  o.on_error = [&](std::string_view message) {
    std::lock_guard lock(mutex);
    errors.emplace_back(message);
  };
  auto blocker = raw();
  {
    auto store = open(o);
    ASSERT_TRUE(store);
    ASSERT_TRUE(blocker.exec("BEGIN IMMEDIATE", "lock"));
    ASSERT_TRUE(store->submit(record("in-flight")));
    ASSERT_TRUE(eventually([&] { return store->stats().write_errors >= 1; }));
    ASSERT_TRUE(store->submit(record("queued")));
  }  // the destructor must return although the database stays locked
  ASSERT_TRUE(blocker.exec("COMMIT", "unlock"));
  EXPECT_EQ(scalar(blocker, "SELECT count(*) FROM logs"), 0);
  std::lock_guard lock(mutex);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.back().find("gave up 1 record after"), std::string::npos) << errors.back();
  EXPECT_NE(errors.back().find("and 1 queued record at shutdown"), std::string::npos)
      << errors.back();
}

TEST_F(LogStoreTest, ADuplicateIdIsRejectedAlone) {
  std::vector<std::string> errors;
  auto o = options();
  o.on_error = [&](std::string_view message) { errors.emplace_back(message); };
  auto store = open(o);
  ASSERT_TRUE(store);
  LogRecord first = record("dup");
  first.model = "first";
  LogRecord second = record("dup");
  second.model = "second";
  ASSERT_TRUE(store->submit(first));
  ASSERT_TRUE(store->submit(second));
  ASSERT_TRUE(store->submit(record("other")));
  store->flush();
  const auto stats = store->stats();
  EXPECT_EQ(stats.written, 2u);
  EXPECT_EQ(stats.lost, 1u);
  auto got = store->get("dup");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->model, "first");
  ASSERT_EQ(errors.size(), 1u);  // flush() returned after the writer reported it
  EXPECT_EQ(errors[0], "log store " + o.path +
                           ": record dup not written: a record with this id already exists");
}

// A batch's records go 16 to an INSERT; a duplicate id among 16 makes that statement insert
// none of them, and those 16 go again one by one, so only the duplicate is refused. Every
// other record, its fields and its metadata rows, is written once.
TEST_F(LogStoreTest, ALargeBatchIsWrittenWholeWithADuplicateAmongItRejectedAlone) {
  std::vector<std::string> errors;
  auto o = options();
  o.on_error = [&](std::string_view message) { errors.emplace_back(message); };
  auto store = open(o);
  ASSERT_TRUE(store);
  constexpr int kRecords = 53;  // with the duplicate, three groups of 16, then 6 alone
  for (int i = 0; i < kRecords; ++i) {
    LogRecord r = record("r" + std::to_string(i), 1'700'000'000'000 + i);
    r.tokens_in = static_cast<std::uint64_t>(i);
    if (i % 2 == 0) r.metadata.clear();
    ASSERT_TRUE(store->submit(std::move(r)));
    if (i == 30) {  // the 32nd record: in the second group with the first r20
      LogRecord dup = record("r20");
      dup.model = "second";
      ASSERT_TRUE(store->submit(std::move(dup)));
    }
  }
  store->flush();
  const auto stats = store->stats();
  EXPECT_EQ(stats.written, static_cast<std::uint64_t>(kRecords));
  EXPECT_EQ(stats.lost, 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "log store " + o.path +
                           ": record r20 not written: a record with this id already exists");
  auto db = raw();
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM logs"), kRecords);
  EXPECT_EQ(scalar(db, "SELECT sum(tokens_in) FROM logs"), kRecords * (kRecords - 1) / 2);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM logs WHERE model = 'second'"), 0);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM log_metadata"), kRecords / 2);
  for (int i : {0, 15, 16, 20, 47, 48, 52}) {
    auto got = store->get("r" + std::to_string(i));
    ASSERT_TRUE(got && got->has_value()) << i;
    EXPECT_EQ((*got)->tokens_in, static_cast<std::uint64_t>(i));
    EXPECT_EQ((*got)->created_at, 1'700'000'000'000 + i);
    EXPECT_EQ((*got)->metadata.size(), i % 2 == 0 ? 0u : 1u) << i;
  }
}

TEST_F(LogStoreTest, MaxRowsDeletesTheOldestFirst) {
  auto o = options();
  o.max_rows = 5;
  o.retention_interval = 0ms;  // a pass after every batch
  auto store = open(o);
  ASSERT_TRUE(store);
  // Submitted out of created_at order: oldest means created_at, not arrival.
  std::vector<int> order(10);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  for (const int i : order) {
    ASSERT_TRUE(store->submit(record("r" + std::to_string(i), 1'000'000 + i * 1000)));
  }
  store->flush();
  EXPECT_EQ(ids_by_age(*store), (std::vector<std::string>{"r5", "r6", "r7", "r8", "r9"}));
  EXPECT_EQ(store->stats().retention_deleted, 5u);

  for (int i = 10; i < 13; ++i) {
    ASSERT_TRUE(store->submit(record("r" + std::to_string(i), 1'000'000 + i * 1000)));
  }
  store->flush();
  EXPECT_EQ(ids_by_age(*store), (std::vector<std::string>{"r8", "r9", "r10", "r11", "r12"}));
  auto db = raw();
  // The metadata of deleted records went with them.
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM log_metadata"), 5);
  EXPECT_EQ(scalar(db,
                   "SELECT count(*) FROM log_metadata WHERE log_id NOT IN "
                   "(SELECT id FROM logs)"),
            0);
}

TEST_F(LogStoreTest, MaxAgeDeletesExpiredRecords) {
  auto o = options();
  o.max_age = std::chrono::hours(1);
  o.retention_interval = 0ms;
  auto store = open(o);
  ASSERT_TRUE(store);
  const auto now = now_ms();
  const std::int64_t hour = 3'600'000;
  ASSERT_TRUE(store->submit(record("3h", now - 3 * hour)));
  ASSERT_TRUE(store->submit(record("now", now)));
  ASSERT_TRUE(store->submit(record("61m", now - hour - 60'000)));
  ASSERT_TRUE(store->submit(record("30m", now - hour / 2)));
  ASSERT_TRUE(store->submit(record("2h", now - 2 * hour)));
  store->flush();
  EXPECT_EQ(ids_by_age(*store), (std::vector<std::string>{"30m", "now"}));
  EXPECT_EQ(store->stats().retention_deleted, 3u);
}

TEST_F(LogStoreTest, RetentionWorksOffABacklogInChunks) {
  constexpr int kRows = 4500;
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    for (int i = 0; i < kRows; ++i) {
      ASSERT_TRUE(store->submit(record("b" + std::to_string(i), 1'000'000 + i)));
    }
  }
  auto o = options();
  o.max_rows = 100;
  o.retention_interval = 0ms;
  auto store = open(o);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->submit(record("newest", 9'000'000)));
  store->flush();
  // More than one transaction's worth: the rest goes in later passes of the writer.
  EXPECT_TRUE(eventually([&] { return store->stats().retention_deleted == kRows + 1 - 100; }));
  auto db = raw();
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM logs"), 100);
  EXPECT_EQ(scalar(db, "SELECT min(created_at) FROM logs"), 1'000'000 + kRows - 99);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM logs WHERE id = 'newest'"), 1);
}

TEST_F(LogStoreTest, ReopensAnExistingStore) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->submit(full_record()));
  }
  auto store = open(options());
  ASSERT_TRUE(store);
  auto got = store->get(full_record().id);
  ASSERT_TRUE(got && got->has_value());
  expect_same(**got, full_record());
  auto db = raw();
  EXPECT_EQ(scalar(db, "PRAGMA user_version"), 5);
  auto mode = db.query_text("PRAGMA journal_mode", "mode");
  ASSERT_TRUE(mode);
  EXPECT_EQ(*mode, "wal");
}

TEST_F(LogStoreTest, MigratesAVersionOneStoreAndKeepsItsRecords) {
  // A version 1 file: today's table without the columns of versions 3 to 5, plus the two indexes
  // version 2 dropped.
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->submit(full_record()));
  }
  {
    auto db = raw();
    ASSERT_TRUE(
        db.exec("ALTER TABLE logs DROP COLUMN key_name;"
                "ALTER TABLE logs DROP COLUMN accounting_only;"
                "ALTER TABLE logs DROP COLUMN account;"
                "ALTER TABLE logs DROP COLUMN gateway;"
                "ALTER TABLE logs DROP COLUMN feedback;"
                "ALTER TABLE logs DROP COLUMN score;"
                "CREATE INDEX logs_provider_created_at ON logs (provider, created_at, id);"
                "CREATE INDEX logs_model_created_at ON logs (model, created_at, id);"
                "PRAGMA user_version = 1;",
                "setup"));
  }
  auto store = open(options());
  ASSERT_TRUE(store);
  auto got = store->get(full_record().id);
  ASSERT_TRUE(got && got->has_value());
  LogRecord before_keys = full_record();
  before_keys.key.clear();  // version 1 had no key column: its records read as keyless
  expect_same(**got, before_keys);
  LogQuery by_provider;
  by_provider.provider = full_record().provider;
  auto page = store->query(by_provider);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->records.size(), 1u);
  // New records keep their key.
  LogRecord keyed = record("after-migration");
  keyed.key = "batch";
  ASSERT_TRUE(store->submit(keyed));
  store->flush();
  auto got_keyed = store->get("after-migration");
  ASSERT_TRUE(got_keyed && got_keyed->has_value());
  EXPECT_EQ((*got_keyed)->key, "batch");
  auto db = raw();
  EXPECT_EQ(scalar(db, "PRAGMA user_version"), 5);
  EXPECT_EQ(scalar(db,
                   "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
                   "('logs_provider_created_at', 'logs_model_created_at')"),
            0);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'logs_created_at'"), 1);
}

// --- Opening errors ----------------------------------------------------------------------

std::string open_error(LogStoreOptions o) {
  auto store = LogStore::open(std::move(o));
  if (store) return "(opened)";
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
  return store.error().detail;
}

TEST_F(LogStoreTest, RefusesADirectory) {
  auto o = options();
  o.path = dir_.path();
  EXPECT_EQ(open_error(o), "log store " + dir_.path() + ": is a directory, not a database file");
}

TEST_F(LogStoreTest, RefusesAFileThatIsNotADatabase) {
  for (const std::string& content : {std::string(4096, 'x'), std::string("hello, world\n")}) {
    const auto path = dir_.file("text.db");
    std::ofstream(path, std::ios::trunc) << content;
    auto o = options();
    o.path = path;
    const std::string prefix = "log store " + path + ": not an SQLite database";
    const auto error = open_error(o);
    EXPECT_EQ(error.substr(0, prefix.size()), prefix) << error;
    std::ifstream in(path);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), content);  // untouched
  }
}

TEST_F(LogStoreTest, RefusesANewerSchemaWithoutTouchingIt) {
  {
    auto db = raw("newer.db");
    ASSERT_TRUE(db.exec("CREATE TABLE logs (id TEXT); PRAGMA user_version = 6;", "setup"));
  }
  auto o = options("newer.db");
  EXPECT_EQ(open_error(o), "log store " + o.path +
                               ": schema version 6 is newer than this aigw supports (5); run a "
                               "newer aigw or point the log store at another file");
  auto db = raw("newer.db");
  auto mode = db.query_text("PRAGMA journal_mode", "mode");
  ASSERT_TRUE(mode);
  EXPECT_EQ(*mode, "delete");  // not switched to WAL
}

TEST_F(LogStoreTest, RefusesAnotherApplicationsDatabase) {
  {
    auto db = raw("other.db");
    ASSERT_TRUE(db.exec("CREATE TABLE accounts (id INTEGER)", "setup"));
  }
  auto o = options("other.db");
  EXPECT_EQ(open_error(o), "log store " + o.path +
                               ": not an aigw log store: the database has tables but no schema "
                               "version");
}

TEST_F(LogStoreTest, ReportsAnUnopenablePath) {
  auto o = options();
  o.path = dir_.file("missing-dir/logs.db");
  EXPECT_EQ(open_error(o), "log store " + o.path +
                               ": cannot open: unable to open database file (No such file or "
                               "directory)");
}

// A directory the process may not write: the reason is EACCES, not the ENOENT of SQLite's
// read-only retry. The tests run as root, for whom permissions do not apply, so the store is
// opened by a child that has dropped to an unprivileged user (nobody) first.
TEST_F(LogStoreTest, ReportsADirectoryItMayNotWrite) {
  const std::string locked = dir_.file("locked");
  std::filesystem::create_directory(locked);
  using std::filesystem::perms;
  std::filesystem::permissions(dir_.path(), perms::owner_all | perms::group_read |
                                                perms::group_exec | perms::others_read |
                                                perms::others_exec);
  std::filesystem::permissions(locked, perms::owner_read | perms::owner_exec | perms::group_read |
                                           perms::group_exec | perms::others_read |
                                           perms::others_exec);
  auto o = options();
  o.path = locked + "/logs.db";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    const std::string error = open_error(o);
    _exit(write(fds[1], error.data(), error.size()) == static_cast<ssize_t>(error.size()) ? 0 : 3);
  }
  close(fds[1]);
  std::string error;
  char buffer[256];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;)
    error.append(buffer, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "2: cannot drop to uid 65534, 3: pipe";
  EXPECT_EQ(error, "log store " + o.path +
                       ": cannot open: unable to open database file (Permission denied)");
  EXPECT_FALSE(std::filesystem::exists(o.path));
}

TEST_F(LogStoreTest, RefusesOptionsOutOfRange) {
  auto o = options();
  o.queue_capacity = 0;
  EXPECT_EQ(open_error(o), "log store " + o.path + ": queue_capacity must be > 0");
  o = options();
  o.max_batch = 0;
  EXPECT_EQ(open_error(o), "log store " + o.path + ": max_batch must be > 0");
  o = options();
  o.flush_interval = 0ms;
  EXPECT_EQ(open_error(o),
            "log store " + o.path + ": flush_interval must be between 1ms and 24h (got 0ms)");
  EXPECT_FALSE(std::filesystem::exists(o.path));  // refused before creating anything
}

// --- kill -9 -----------------------------------------------------------------------------

constexpr int kFlushedThrough = 2000;

std::string crash_id(int i) {
  char id[32];
  std::snprintf(id, sizeof id, "crash-%08d", i);
  return id;
}

// The child: writes records as fast as it can (a batch is being committed most of the
// time), flushes once after record kFlushedThrough and says so on the pipe, then carries on
// until it is killed. It runs nothing of gtest's and ends with _exit().
[[noreturn]] void crash_child(const std::string& path, int fd) {
  LogStoreOptions o;
  o.path = path;
  o.flush_interval = 1ms;
  auto store = LogStore::open(o);
  if (!store) _exit(2);
  const auto give_up = std::chrono::steady_clock::now() + 60s;  // the parent died
  for (int i = 0;; ++i) {
    LogRecord r = record(crash_id(i), 1'700'000'000'000 + i);
    r.request_body = std::string(512, 'b');
    r.metadata = {{"i", std::to_string(i)}};
    // A full queue: let the writer have the core rather than spin against it.
    while (!(*store)->submit(r)) std::this_thread::sleep_for(50us);
    if (i == kFlushedThrough) {
      (*store)->flush();
      const std::string line = std::to_string(i) + "\n";
      if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
    }
    if (std::chrono::steady_clock::now() > give_up) _exit(4);
  }
}

TEST_F(LogStoreTest, KillNineLosesNothingCommitted) {
  const std::string path = dir_.file("crash.db");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  // This process has no other thread now (earlier tests joined their writers), so the child
  // starts from a clean copy; it opens its own store after the fork.
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    close(fds[0]);
    crash_child(path, fds[1]);
  }
  close(fds[1]);
  std::string line;
  char c = 0;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line += c;
  close(fds[0]);
  if (line == std::to_string(kFlushedThrough)) {
    // Kill it in full flow rather than right after the flush: once thousands more records
    // are committed, the writer spends nearly all its time inside a transaction.
    auto watcher = raw("crash.db");
    const std::string later =
        "SELECT count(*) FROM logs WHERE id = '" + crash_id(2 * kFlushedThrough) + "'";
    EXPECT_TRUE(eventually([&] {
      auto n = watcher.query_int(later.c_str(), "count");  // a primary key lookup: cheap
      return n && *n == 1;
    }));
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(line, std::to_string(kFlushedThrough)) << "child exit status " << status;
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  {
    auto db = raw("crash.db");  // the first connection replays the WAL
    auto check = db.query_text("PRAGMA integrity_check", "check");
    ASSERT_TRUE(check) << check.error().detail;
    EXPECT_EQ(*check, "ok");
    EXPECT_EQ(
        scalar(db, "SELECT count(*) FROM logs WHERE id <= '" + crash_id(kFlushedThrough) + "'"),
        kFlushedThrough + 1);
    const auto total = scalar(db, "SELECT count(*) FROM logs");
    EXPECT_GE(total, kFlushedThrough + 1);
    // Whole transactions only: every record has its metadata row, and ids have no holes.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM log_metadata"), total);
    auto last = db.query_text("SELECT max(id) FROM logs", "max");
    ASSERT_TRUE(last);
    EXPECT_EQ(*last, crash_id(static_cast<int>(total) - 1));
  }
  auto store = open(options("crash.db"));
  ASSERT_TRUE(store);
  auto got = store->get(crash_id(kFlushedThrough));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->request_body, std::string(512, 'b'));
}

}  // namespace
}  // namespace aigw::store
