#include "store/log_store.hpp"

#include "store/record_codec.hpp"
#include "store/schema.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <pthread.h>
#include <sqlite3.h>
#include <system_error>
#include <utility>

namespace aigw::store {
namespace {

using namespace std::chrono_literals;

// Rows one retention transaction deletes at most. Deleting a row costs about as much as
// inserting it (three indexes, the metadata cascade), so this keeps a pass to a few
// milliseconds; a bigger backlog is worked off one chunk per writer iteration, after any
// queued records.
constexpr std::int64_t kRetentionChunk = 2000;
// Without new records, retention only matters for max_age; no need to look more often.
constexpr auto kIdleRetentionPeriod = 1s;
// A batch whose commit fails is retried this many times in all, waiting 100 ms, 200 ms...
// up to 1 s in between (about 4.5 s plus the busy timeouts): enough to ride out a lock held
// by an operator's shell or a moment of a full disk. After that it is given up, so the
// records behind it get their turn; the queue meanwhile drops what does not fit.
constexpr int kMaxWriteAttempts = 8;
constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 1000ms;
constexpr auto kMaxFlushInterval = std::chrono::hours(24);
// Records per INSERT statement when a batch has that many. Each statement execution has a
// fixed cost in SQLite (opening cursors, halting the VM, resetting) of about 4 500
// instructions, as much as a sixth of a record's whole insert; one statement for 16 records
// pays it once (bench/README.md, "Cost per request and memory after load"). 16 x 41
// parameters stay far below SQLite's limit of 32 766.
constexpr std::size_t kRowsPerInsert = 16;

constexpr const char* kInsertMetadata =
    "INSERT OR REPLACE INTO log_metadata (log_id, key, value) VALUES (?1, ?2, ?3)";
// The subquery walks logs_created_at from the oldest entry: oldest first, and only as many
// index entries as rows deleted.
constexpr const char* kDeleteExpired =
    "DELETE FROM logs WHERE rowid IN "
    "(SELECT rowid FROM logs WHERE created_at < ?1 ORDER BY created_at, id LIMIT ?2)";
constexpr const char* kDeleteOldest =
    "DELETE FROM logs WHERE rowid IN "
    "(SELECT rowid FROM logs ORDER BY created_at, id LIMIT ?1)";

std::string count_of(std::size_t n, std::string_view noun) {
  std::string text = std::to_string(n);
  text.append(" ").append(noun);
  if (n != 1) text += 's';
  return text;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<void> validate(const LogStoreOptions& o) {
  const auto bad = [&](std::string what) { return store_error(o.path, what); };
  if (o.path.empty()) return store_error("\"\"", "the path is empty");
  if (o.flush_interval < 1ms || o.flush_interval > kMaxFlushInterval) {
    return bad("flush_interval must be between 1ms and 24h (got " +
               std::to_string(o.flush_interval.count()) + "ms)");
  }
  if (o.queue_capacity == 0) return bad("queue_capacity must be > 0");
  if (o.max_batch == 0) return bad("max_batch must be > 0");
  if (o.max_age.count() < 0) return bad("max_age must be >= 0");
  if (o.retention_interval.count() < 0) return bad("retention_interval must be >= 0");
  if (o.busy_timeout.count() < 0) return bad("busy_timeout must be >= 0");
  return {};
}

// Runs a statement that returns no row, then makes it reusable. The error is built before
// the reset, while SQLite's message still describes it.
Result<void> execute(Database& db, Statement& stmt, std::string_view what) {
  const int rc = stmt.step();
  Result<void> result;
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) result = db.error(what, rc);
  stmt.reset();
  return result;
}

}  // namespace

struct LogStore::Writer {
  Database db;
  Statement begin;
  Statement commit;
  Statement rollback;
  Statement insert_log;
  Statement insert_logs;  // kRowsPerInsert records at once
  Statement insert_metadata;
  Statement delete_expired;
  Statement delete_oldest;
  Statement count_rows;
  // Rows in logs as this writer counts them (counted once when max_rows needs it, then kept
  // up to date), so max_rows does not cost a full count per pass.
  std::optional<std::uint64_t> row_count;
  // The epoch of the steady clock: the first pass is due at once.
  Clock::time_point last_retention{};
  bool retention_pending = false;  // the last pass hit kRetentionChunk: more to delete
};

Result<std::unique_ptr<LogStore>> LogStore::open(LogStoreOptions options) {
  if (auto valid = validate(options); !valid) return valid.error();
  auto db = open_writer_connection(options.path, options.busy_timeout);
  if (!db) return db.error();

  auto writer = std::make_unique<Writer>();
  writer->db = std::move(*db);
  const std::string insert = insert_sql();
  const std::string insert_many = insert_sql(static_cast<int>(kRowsPerInsert));
  const std::pair<Statement*, std::string_view> statements[] = {
      {&writer->begin, "BEGIN IMMEDIATE"},
      {&writer->commit, "COMMIT"},
      {&writer->rollback, "ROLLBACK"},
      {&writer->insert_log, insert},
      {&writer->insert_logs, insert_many},
      {&writer->insert_metadata, kInsertMetadata},
      {&writer->delete_expired, kDeleteExpired},
      {&writer->delete_oldest, kDeleteOldest},
      {&writer->count_rows, "SELECT count(*) FROM logs"},
  };
  for (const auto& [stmt, sql] : statements) {
    auto prepared = writer->db.prepare(sql);
    if (!prepared) return prepared.error();
    *stmt = std::move(*prepared);
  }

  auto reader = open_reader_connection(options.path, options.busy_timeout);
  if (!reader) return reader.error();

  std::unique_ptr<LogStore> store(
      new LogStore(std::move(options), std::move(writer), std::move(*reader)));
  try {
    store->thread_ = std::thread([s = store.get()] { s->run(); });
  } catch (const std::system_error& e) {
    return store_error(store->options_.path,
                       std::string("cannot start the writer thread: ") + e.what());
  }
  return store;
}

LogStore::LogStore(LogStoreOptions options, std::unique_ptr<Writer> writer, Database reader)
    : options_(std::move(options)), writer_(std::move(writer)), reader_(std::move(reader)) {}

LogStore::~LogStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool LogStore::submit(LogRecord record) noexcept {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.queue_capacity) {
      ++stats_.dropped;
      return false;
    }
    try {
      queue_.push_back(std::move(record));
    } catch (...) {  // std::bad_alloc: the bound is the queue, not the allocator, but be safe
      ++stats_.dropped;
      return false;
    }
    ++accepted_seq_;
    ++stats_.submitted;
    // The writer sleeps without a deadline while the queue is empty: start its clock. Past
    // that, wake it only when a full batch is ready; the deadline covers the rest.
    if (queue_.size() == 1) {
      oldest_queued_ = Clock::now();
      wake = true;
    } else if (queue_.size() == options_.max_batch) {
      wake = true;
    }
  }
  if (wake) wake_writer_.notify_one();
  return true;
}

void LogStore::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = accepted_seq_;
  if (done_seq_ >= target) return;
  flush_target_ = std::max(flush_target_, target);
  wake_writer_.notify_one();
  batch_done_.wait(lock, [&] { return done_seq_ >= target; });
}

LogStoreStats LogStore::stats() const {
  std::lock_guard lock(mutex_);
  LogStoreStats stats = stats_;
  stats.queued = queue_.size();
  return stats;
}

bool LogStore::retention_due_idle(Clock::time_point now) const noexcept {
  // max_rows only changes with inserts, which run a pass after their batch.
  if (writer_->retention_pending) return true;
  if (options_.max_age.count() == 0) return false;
  return now - writer_->last_retention >=
         std::max<Clock::duration>(options_.retention_interval, kIdleRetentionPeriod);
}

void LogStore::run() noexcept {
  pthread_setname_np(pthread_self(), "aigw-logstore");
  const bool retention = options_.max_rows > 0 || options_.max_age.count() > 0;
  std::vector<LogRecord> batch;
  for (;;) {
    std::uint64_t batch_end = 0;
    bool idle_retention = false;
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        const auto now = Clock::now();
        stopping = stopping_;
        if (!queue_.empty() &&
            (stopping || flush_target_ > taken_seq_ || queue_.size() >= options_.max_batch ||
             now >= oldest_queued_ + options_.flush_interval)) {
          break;
        }
        if (stopping) return;  // the queue is empty: everything accepted is done
        if (retention && retention_due_idle(now)) {
          idle_retention = true;
          break;
        }
        auto until = Clock::time_point::max();
        if (!queue_.empty()) until = oldest_queued_ + options_.flush_interval;
        if (retention && options_.max_age.count() > 0) {
          until = std::min(until, writer_->last_retention +
                                      std::max<Clock::duration>(options_.retention_interval,
                                                                kIdleRetentionPeriod));
        }
        if (until == Clock::time_point::max()) {
          wake_writer_.wait(lock);
        } else {
          wake_writer_.wait_until(lock, until);
        }
      }
      if (!idle_retention) {
        // What stays queued keeps oldest_queued_, which has passed or is near: it goes in the
        // next iteration, so a backlog drains at full speed.
        const std::size_t n = std::min(queue_.size(), options_.max_batch);
        try {
          batch.reserve(n);
        } catch (...) {  // the batch then grows one by one, or the loop below gives up
        }
        for (std::size_t i = 0; i < n; ++i) {
          try {
            batch.push_back(std::move(queue_.front()));
          } catch (...) {  // out of memory: the record cannot be written; it is lost
            ++stats_.lost;
          }
          queue_.pop_front();
        }
        taken_seq_ += n;
        batch_end = taken_seq_;
      }
    }

    try {
      if (!batch.empty()) write_batch(batch);
      const auto now = Clock::now();
      if (retention && !stopping &&
          (idle_retention || writer_->retention_pending ||
           now - writer_->last_retention >= options_.retention_interval)) {
        apply_retention(now);
      }
    } catch (const std::exception& e) {
      // Only std::bad_alloc gets here (write errors are values). The writer carries on:
      // dying would leave every later record queued forever and flush() waiting.
      report_error("log store " + options_.path + ": writer: " + e.what());
    }
    batch.clear();

    if (batch_end != 0) {
      {
        std::lock_guard lock(mutex_);
        // write_batch() may have finished more than this batch (records abandoned at
        // shutdown).
        done_seq_ = std::max(done_seq_, batch_end);
      }
      batch_done_.notify_all();
    }
  }
}

void LogStore::write_batch(const std::vector<LogRecord>& batch) {
  auto& w = *writer_;
  for (int attempt = 1;; ++attempt) {
    const auto started = Clock::now();
    std::uint64_t inserted = 0;
    std::vector<std::string> rejected;
    auto write = [&]() -> Result<void> {
      if (auto begun = execute(w.db, w.begin, "cannot begin a batch"); !begun) return begun;
      auto insert_metadata = [&](const LogRecord& record,
                                 const EncodedRecord& encoded) -> Result<void> {
        for (const auto& [key, value] : encoded.metadata) {
          w.insert_metadata.bind_text(1, record.id);
          w.insert_metadata.bind_text(2, key);
          w.insert_metadata.bind_text(3, value);
          if (auto ok = execute(w.db, w.insert_metadata, "cannot insert metadata"); !ok) return ok;
        }
        return {};
      };
      // Steps an INSERT of logs rows and resets it: true when its rows went in, false when
      // one's id was already there (a constraint aborts the whole statement: none went in).
      // The error is built before the reset, while SQLite's message still describes it.
      auto insert_rows = [&](Statement& insert) -> Result<bool> {
        const int rc = insert.step();
        Result<bool> inserted_rows = rc == SQLITE_DONE;
        if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT_PRIMARYKEY) {
          inserted_rows = w.db.error("cannot insert a record", rc);
        }
        insert.reset();
        return inserted_rows;
      };
      std::array<EncodedRecord, kRowsPerInsert> encoded;
      std::size_t next = 0;
      // Records from here on up to `singly_until` go one per statement: the last group of
      // kRowsPerInsert held a duplicate id, and one by one only the duplicate is refused.
      std::size_t singly_until = 0;
      while (next < batch.size()) {
        if (next >= singly_until && batch.size() - next >= kRowsPerInsert) {
          for (std::size_t row = 0; row < kRowsPerInsert; ++row) {
            encoded[row] = encode_record(batch[next + row]);
            bind_record(w.insert_logs, batch[next + row], encoded[row], static_cast<int>(row));
          }
          const auto group = insert_rows(w.insert_logs);
          if (!group) return group.error();
          if (!*group) {
            singly_until = next + kRowsPerInsert;
            continue;
          }
          for (std::size_t row = 0; row < kRowsPerInsert; ++row) {
            if (auto ok = insert_metadata(batch[next + row], encoded[row]); !ok) return ok;
          }
          inserted += kRowsPerInsert;
          next += kRowsPerInsert;
          continue;
        }
        const LogRecord& record = batch[next++];
        encoded[0] = encode_record(record);
        bind_record(w.insert_log, record, encoded[0]);
        const auto one = insert_rows(w.insert_log);
        if (!one) return one.error();
        // UUIDv7 ids do not collide; a duplicate is a bug upstream. Keep the first record,
        // reject this one alone: the rest of the batch is fine.
        if (!*one) {
          rejected.push_back(record.id);
          continue;
        }
        if (auto ok = insert_metadata(record, encoded[0]); !ok) return ok;
        ++inserted;
      }
      return execute(w.db, w.commit, "cannot commit a batch");
    };

    Result<void> result;
    try {
      result = write();
    } catch (const std::exception& e) {  // std::bad_alloc while encoding
      result = store_error(options_.path, std::string("cannot write a batch: ") + e.what());
    }
    if (result) {
      const auto elapsed = std::chrono::duration<double, std::milli>(Clock::now() - started);
      if (w.row_count) *w.row_count += inserted;
      {
        std::lock_guard lock(mutex_);
        stats_.written += inserted;
        stats_.lost += rejected.size();
        ++stats_.batches;
        stats_.last_batch_ms = elapsed.count();
      }
      for (const auto& id : rejected) {
        report_error("log store " + options_.path + ": record " + id +
                     " not written: a record with this id already exists");
      }
      return;
    }

    // FULL, IOERR and BUSY may have rolled the transaction back already; otherwise do it, so
    // the next attempt starts clean.
    if (w.db.in_transaction()) (void)execute(w.db, w.rollback, "cannot roll back");
    bool stopping = false;
    {
      std::lock_guard lock(mutex_);
      ++stats_.write_errors;
      stopping = stopping_;
    }
    if (attempt >= kMaxWriteAttempts || stopping) {
      std::uint64_t abandoned = 0;
      {
        std::lock_guard lock(mutex_);
        stats_.lost += batch.size();
        // Shutting down with a store that fails: the queue would fail the same way, one
        // batch (and busy timeout) at a time. Give it up at once so the process can exit.
        if (stopping) {
          abandoned = queue_.size();
          stats_.lost += abandoned;
          queue_.clear();
          taken_seq_ = accepted_seq_;
        }
      }
      std::string message = result.error().detail + "; gave up " +
                            count_of(batch.size(), "record") + " after " +
                            count_of(static_cast<std::size_t>(attempt), "attempt");
      if (abandoned != 0)
        message += " and " + count_of(abandoned, "queued record") + " at shutdown";
      report_error(std::move(message));
      if (abandoned != 0) {
        // run() marks only this batch done; the abandoned ones are done too.
        std::lock_guard lock(mutex_);
        done_seq_ = taken_seq_;
      }
      return;
    }
    report_error(result.error().detail + " (attempt " + std::to_string(attempt) + " of " +
                 std::to_string(kMaxWriteAttempts) + ", will retry)");
    const auto backoff =
        std::min<std::chrono::milliseconds>(kFirstBackoff * (1 << (attempt - 1)), kMaxBackoff);
    std::unique_lock lock(mutex_);
    wake_writer_.wait_for(lock, backoff, [&] { return stopping_; });
  }
}

void LogStore::apply_retention(Clock::time_point now) {
  auto& w = *writer_;
  w.last_retention = now;
  w.retention_pending = false;

  if (options_.max_rows > 0 && !w.row_count) {
    const int rc = w.count_rows.step();
    if (rc == SQLITE_ROW) {
      w.row_count = static_cast<std::uint64_t>(w.count_rows.int64(0));
    } else {
      auto error = w.db.error("cannot count the rows for max_rows", rc);
      w.count_rows.reset();
      {
        std::lock_guard lock(mutex_);
        ++stats_.write_errors;
      }
      report_error(std::move(error).detail);
      return;
    }
    w.count_rows.reset();
  }
  const bool over_rows = options_.max_rows > 0 && *w.row_count > options_.max_rows;
  if (options_.max_age.count() == 0 && !over_rows) return;

  std::int64_t deleted = 0;
  auto pass = [&]() -> Result<void> {
    if (auto begun = execute(w.db, w.begin, "cannot begin retention"); !begun) return begun;
    if (options_.max_age.count() > 0) {
      const auto cutoff =
          unix_ms_now() -
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_age).count();
      w.delete_expired.bind(1, cutoff);
      w.delete_expired.bind(2, kRetentionChunk);
      if (auto ok = execute(w.db, w.delete_expired, "cannot delete expired records"); !ok)
        return ok;
      deleted += w.db.changes();
    }
    if (options_.max_rows > 0 && deleted < kRetentionChunk) {
      const auto remaining = *w.row_count - std::min<std::uint64_t>(*w.row_count, deleted);
      if (remaining > options_.max_rows) {
        const auto excess =
            std::min<std::uint64_t>(remaining - options_.max_rows, kRetentionChunk - deleted);
        w.delete_oldest.bind(1, static_cast<std::int64_t>(excess));
        if (auto ok = execute(w.db, w.delete_oldest, "cannot delete the oldest records"); !ok) {
          return ok;
        }
        deleted += w.db.changes();
      }
    }
    return execute(w.db, w.commit, "cannot commit retention");
  };

  if (auto result = pass(); !result) {
    if (w.db.in_transaction()) (void)execute(w.db, w.rollback, "cannot roll back");
    {
      std::lock_guard lock(mutex_);
      ++stats_.write_errors;
    }
    // Retried at the next pass; nothing is lost by waiting.
    report_error(result.error().detail);
    return;
  }
  if (w.row_count) *w.row_count -= std::min<std::uint64_t>(*w.row_count, deleted);
  w.retention_pending = deleted >= kRetentionChunk;
  std::lock_guard lock(mutex_);
  stats_.retention_deleted += static_cast<std::uint64_t>(deleted);
}

void LogStore::report_error(std::string message) noexcept {
  try {
    {
      std::lock_guard lock(mutex_);
      stats_.last_error = message;
    }
    if (options_.on_error) options_.on_error(message);
  } catch (...) {  // a throwing callback (or no memory for the message) must not kill the writer
  }
}

}  // namespace aigw::store
