#pragma once
// The durable request log: every LogRecord the gateway produces, in an embedded SQLite file.
//
// Requests hand their record to submit(), which only moves it into a bounded queue. One
// writer thread, with its own connection, commits the queue in batches (one transaction
// each) and applies retention. The admin API reads through a second connection; in WAL mode
// readers and the writer do not wait for each other.

#include "aigw/error.hpp"
#include "aigw/log_record.hpp"

#include "store/sqlite.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace aigw::store {

struct LogStoreOptions {
  std::string path;  // the database file; created when missing, its directory must exist
  // A batch commits at least this often while records are queued (and sooner when
  // max_batch records are waiting or flush() is called). 1 ms .. 24 h.
  std::chrono::milliseconds flush_interval{200};
  // Records waiting for the writer; beyond it submit() drops the record and counts it.
  std::size_t queue_capacity = 65536;
  // Records per transaction. 512 records (about 0.4 MB queued, and 512 KiB of pages) fit
  // the writer's page cache, so a batch never spills to the WAL before its commit; 2 048
  // held 3 MB more at full load and cost the writer more (bench/README.md, "Cost per request
  // and memory after load").
  std::size_t max_batch = 512;
  std::uint64_t max_rows = 0;       // 0 = unlimited; the oldest (by created_at) go first
  std::chrono::seconds max_age{0};  // 0 = unlimited; by created_at
  // Retention runs after a batch when this long has passed since the last pass (and on its
  // own, at least a second apart, for max_age while no records arrive). Each pass deletes
  // at most a few thousand rows per transaction, between batches, so inserts never wait
  // long; the table can thus exceed max_rows by up to this interval's worth of records.
  std::chrono::milliseconds retention_interval{5000};
  // How long a statement waits for a lock held by another connection (another process on
  // the same file, an operator's sqlite3 shell) before it fails with "database is locked".
  std::chrono::milliseconds busy_timeout{5000};
  // Called on the writer thread with a one-line message whenever a write fails, a batch is
  // given up or a record is rejected; the message is also kept as stats().last_error. The
  // store itself has no logger.
  std::function<void(std::string_view message)> on_error;
};

struct LogStoreStats {
  std::uint64_t submitted = 0;  // records accepted by submit()
  std::uint64_t written = 0;    // records committed
  std::uint64_t dropped = 0;    // records refused by submit(): queue full, or shutting down
  // Accepted records that will never be written: given up after write errors, or rejected
  // (a duplicate id). submitted = written + lost + queued + the batch being written.
  std::uint64_t lost = 0;
  std::size_t queued = 0;               // records waiting for the writer now
  std::uint64_t batches = 0;            // committed transactions of records
  std::uint64_t write_errors = 0;       // failed attempts to commit a batch or a retention pass
  std::uint64_t retention_deleted = 0;  // rows deleted by max_rows / max_age
  double last_batch_ms = 0;             // wall time of the last committed batch
  std::string last_error;               // the last on_error message, "" when none
};

enum class LogOrder : std::uint8_t { kNewestFirst, kOldestFirst };

// A listing: every filter is optional and they combine with AND.
struct LogQuery {
  std::optional<std::int64_t> from;  // created_at >= from (Unix ms)
  std::optional<std::int64_t> to;    // created_at < to (Unix ms)
  std::optional<std::string> provider;
  std::optional<std::string> model;
  std::optional<std::string> key;  // the virtual key's name; "" = requests without one
  std::optional<std::uint16_t> status_code;
  std::optional<bool> success;
  std::optional<bool> cached;
  // Records whose metadata has this key, and when metadata_value is set, a value equal to it
  // as JSON text or as a string: "alice" and alice both match "alice"; 42 matches 42 and "42".
  std::optional<std::string> metadata_key;
  std::optional<std::string> metadata_value;  // only with metadata_key
  std::optional<std::string> gateway;         // /v1/{account}/{gateway}/...; "" = short form
  std::optional<std::int8_t> feedback;        // -1, 0 or 1 (PATCH /api/logs/{id})
  std::optional<std::uint8_t> min_score;      // score >= this (records without one never match)
  std::optional<std::uint8_t> max_score;
  LogOrder order = LogOrder::kNewestFirst;  // by (created_at, id)
  std::size_t limit = 50;                   // 1 .. kMaxLimit
  std::string cursor;                       // "" = first page, else a next_cursor
  static constexpr std::size_t kMaxLimit = 1000;
};

struct LogPage {
  std::vector<LogRecord> records;  // without request_body / response_body
  // Pass as LogQuery::cursor (with the same filters and order) for the next page; "" when
  // this page is the last. Keyset-based: rows added later never shift a page.
  std::string next_cursor;
};

enum class UsageGroup : std::uint8_t { kNone, kProvider, kModel, kMetadata, kKey, kGateway };
enum class UsageBucket : std::uint8_t { kNone, kMinute, kHour, kDay };

struct UsageQuery {
  std::optional<std::int64_t> from;  // created_at >= from (Unix ms)
  std::optional<std::int64_t> to;    // created_at < to (Unix ms)
  std::optional<std::string> provider;
  std::optional<std::string> model;
  std::optional<std::string> key;  // the virtual key's name; "" = requests without one
  std::optional<std::string> gateway;
  UsageGroup group_by = UsageGroup::kNone;
  std::string metadata_key;  // the key whose value groups, with UsageGroup::kMetadata
  UsageBucket bucket = UsageBucket::kNone;
  // Buckets of this many ms (from the epoch) instead of `bucket`: budgets rebuild sliding
  // windows slot by slot with it.
  std::optional<std::int64_t> bucket_ms;
};

struct UsageRow {
  std::int64_t bucket_start = 0;  // Unix ms of the UTC minute/hour/day; 0 with kNone
  // The provider, model, key name or metadata value (a JSON string without its quotes:
  // alice, 42, true); "" without grouping and for records without the key or metadata key.
  std::string group;
  std::uint64_t requests = 0;
  std::uint64_t tokens_in = 0;  // sums of the reported figures (absent counts as 0)
  std::uint64_t tokens_out = 0;
  std::uint64_t cached_tokens = 0;
  double cost = 0;                      // sum of priced requests' cost, USD
  std::uint64_t unpriced_requests = 0;  // records flagged unpriced: their cost is unknown
  std::uint64_t cache_hits = 0;         // answered by the gateway's cache
  std::uint64_t errors = 0;             // not success
  // Milliseconds, arrival to last byte: nearest-rank percentiles read off logarithmic bins
  // (within ~2% of the value + 1 ms).
  double duration_p50 = 0;
  double duration_p99 = 0;
  std::uint64_t feedback_positive = 0;  // feedback 1
  std::uint64_t feedback_negative = 0;  // feedback -1
  std::uint64_t scored = 0;             // records with a score
  std::optional<double> score_avg;      // mean score of those
};

// PATCH /api/logs/{id}: what to change; unset fields stay as they are.
struct FeedbackUpdate {
  std::optional<std::int8_t> feedback;  // -1, 0, 1
  std::optional<std::uint8_t> score;    // 0 - 100
  // Entries to add to the record's metadata or replace in it (JSON scalars' text, as
  // LogRecord::metadata); the result must still have at most kMaxMetadataEntries.
  std::vector<std::pair<std::string, std::string>> metadata;
  static constexpr std::size_t kMaxMetadataEntries = 5;
};

class LogStore {
 public:
  // Opens (or creates) the database and starts the writer thread. Errors name the path:
  // "log store <path>: is a directory, not a database file", "...: not an SQLite database
  // (file is not a database)", "...: schema version N is newer than this aigw supports
  // (1)...", "...: cannot open: unable to open database file (No such file or directory)",
  // or an option out of range. Blocking; call at start-up.
  static Result<std::unique_ptr<LogStore>> open(LogStoreOptions options);

  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;
  // Commits what is queued, stops the writer thread and closes the database. Should the
  // database fail meanwhile, the batch in hand and the whole queue are given up at once
  // (counted in lost, reported to on_error) rather than retried: shutdown does not hang on a
  // broken disk or a lock held elsewhere.
  ~LogStore();

  // Hands `record` to the writer. Any thread; takes a short lock, never waits for I/O.
  // False when the queue is full or the store is closing: the record is then dropped and
  // counted in stats().dropped.
  bool submit(LogRecord record) noexcept;

  // Blocks until every record accepted before the call is committed (or given up after write
  // errors, see stats().lost). Committed means it survives the process being killed, not
  // necessarily a power cut (schema.cpp). For tests and shutdown; never from a request path.
  void flush();

  // Counters since open(), for metrics. Any thread; takes the queue lock briefly.
  LogStoreStats stats() const;

  // Queries, for the admin API. Any thread; they share one read connection behind a mutex,
  // run concurrently with the writer, and block for the query's duration. Invalid input
  // (limit out of range, a malformed cursor, metadata_value without metadata_key, kMetadata
  // without a key) is ErrorCode::kBadRequest with a detail fit for the client; a database
  // failure is kInternal.
  Result<LogPage> query(const LogQuery& q) const;
  // The whole record, bodies included; nullopt when no record has this id (or it was
  // deleted by retention).
  Result<std::optional<LogRecord>> get(std::string_view id) const;
  // Totals per (bucket, group), ordered by bucket_start then group (bytewise).
  Result<std::vector<UsageRow>> usage(const UsageQuery& q) const;
  // Applies `update` to record `id` after committing what is queued (a request that just
  // ended is found). The updated record, or nullopt when no record has this id; kBadRequest
  // when the metadata would exceed its entries. Any thread; blocks for the write.
  Result<std::optional<LogRecord>> update(std::string_view id, const FeedbackUpdate& update);

 private:
  struct Writer;
  using Clock = std::chrono::steady_clock;

  LogStore(LogStoreOptions options, std::unique_ptr<Writer> writer, Database reader);
  void run() noexcept;
  // One iteration's work on the writer thread, outside the queue lock.
  void write_batch(const std::vector<LogRecord>& batch);
  void apply_retention(Clock::time_point now);
  bool retention_due_idle(Clock::time_point now) const noexcept;
  void report_error(std::string message) noexcept;

  const LogStoreOptions options_;

  // The writer thread's state: its connection, prepared statements, retention bookkeeping.
  // Touched by that thread only (and by open() before it starts).
  std::unique_ptr<Writer> writer_;

  mutable std::mutex reader_mutex_;
  mutable Database reader_;
  std::mutex updater_mutex_;
  std::unique_ptr<Database> updater_;  // update()'s connection, opened on first use

  // Everything below is guarded by mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_writer_;  // records to write, a flush, or stop
  std::condition_variable batch_done_;   // done_seq_ advanced (flush waits on it)
  std::deque<LogRecord> queue_;
  Clock::time_point oldest_queued_{};  // when the queue last went from empty to non-empty
  // Sequence numbers of accepted records: the writer has taken [1, taken_seq_] from the
  // queue and finished (committed or given up) [1, done_seq_].
  std::uint64_t accepted_seq_ = 0;
  std::uint64_t taken_seq_ = 0;
  std::uint64_t done_seq_ = 0;
  std::uint64_t flush_target_ = 0;  // a flush() waits for this sequence number
  bool stopping_ = false;
  LogStoreStats stats_;

  std::thread thread_;  // last: started once everything above exists
};

}  // namespace aigw::store
