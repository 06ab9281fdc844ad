#include "store/schema.hpp"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <sqlite3.h>
#include <system_error>

namespace aigw::store {
namespace {

// Version 5. Column names follow Cloudflare AI Gateway's log fields (reference §6.1).
//
// - Timestamps are Unix milliseconds (INTEGER): they compare, bucket and index as numbers.
// - Optional figures (ttfb, tokens, cost) are NULL when absent. cost in particular is NULL
//   when the request was not priced, never 0, so SUM(cost) is the cost of what was priced.
// - metadata and attempts are JSON texts, read back whole with the record.
// - Bodies are BLOBs and come last: a listing never selects them, and SQLite stops decoding
//   a row at the last column a query needs, so large bodies in overflow pages are not read.
// - One index on the table, (created_at, id): the keyset order of the listing, the time
//   range of every query and retention's oldest-first deletes. Provider, model, status and
//   cached filters are checked row by row along it, newest first, until a page fills: a
//   filter that matches often reads little more than the page; one that matches nothing reads
//   the whole time range (narrow it with from/to). Version 1 also had (provider, created_at,
//   id) and (model, created_at, id). They made those rare-match listings index lookups, but
//   every insert paid for two more B-tree insertions in the middle of their trees, and that
//   doubled the writer's cost per record (bench/README.md). The log is written on every
//   request and read by an operator now and then, so version 2 dropped them.
//
// Metadata filters use a side table rather than JSON1 over logs.metadata: "key = value" is
// then an index lookup (log_metadata_key_value) however old the match is, where
// json_extract() would have to parse the metadata of every row in the time range until a page
// fills. The price is up to five small index entries per record (cf-aig-metadata allows five
// keys); the cascade keeps the side table in step with retention deletes.
constexpr const char* kCreateSchema = R"sql(
CREATE TABLE logs (
  id TEXT PRIMARY KEY NOT NULL,
  event_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  status_code INTEGER NOT NULL,
  success INTEGER NOT NULL,
  cached INTEGER NOT NULL,
  cache_status TEXT NOT NULL,
  outcome TEXT NOT NULL,
  error_code TEXT NOT NULL,
  streamed INTEGER NOT NULL,
  duration REAL NOT NULL,
  ttfb REAL,
  upstream_duration REAL,
  tokens_in INTEGER,
  tokens_out INTEGER,
  cached_tokens INTEGER,
  cache_write_tokens INTEGER,
  reasoning_tokens INTEGER,
  cost REAL,
  estimated INTEGER NOT NULL,
  unpriced INTEGER NOT NULL,
  custom_cost INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  request_content_type TEXT NOT NULL,
  response_content_type TEXT NOT NULL,
  request_size INTEGER NOT NULL,
  response_size INTEGER NOT NULL,
  attempts TEXT NOT NULL,
  key_name TEXT NOT NULL DEFAULT '',
  accounting_only INTEGER NOT NULL DEFAULT 0,
  account TEXT NOT NULL DEFAULT '',
  gateway TEXT NOT NULL DEFAULT '',
  feedback INTEGER,
  score INTEGER,
  request_body BLOB,
  response_body BLOB
);
CREATE INDEX logs_created_at ON logs (created_at, id);
CREATE TABLE log_metadata (
  log_id TEXT NOT NULL REFERENCES logs (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (log_id, key)
) WITHOUT ROWID;
CREATE INDEX log_metadata_key_value ON log_metadata (key, value);
PRAGMA user_version = 5;
)sql";

// Each migration takes a file from the version before it to the next one, in the same
// transaction as the version check. A new version changes kCreateSchema and appends one.
constexpr const char* kMigrations[] = {
    // 1 -> 2: the provider and model indexes are gone (see above); the rows are unchanged.
    R"sql(
DROP INDEX IF EXISTS logs_provider_created_at;
DROP INDEX IF EXISTS logs_model_created_at;
PRAGMA user_version = 2;
)sql",
    // 2 -> 3: the virtual key's name (budgets per key are rebuilt from it). Added at the end
    // of the row, after the bodies, where new files have it before them; every statement
    // names its columns, so the order does not matter.
    R"sql(
ALTER TABLE logs ADD COLUMN key_name TEXT NOT NULL DEFAULT '';
PRAGMA user_version = 3;
)sql",
    // 3 -> 4: records kept for their spend only (cf-aig-collect-log: false, LogRecord).
    R"sql(
ALTER TABLE logs ADD COLUMN accounting_only INTEGER NOT NULL DEFAULT 0;
PRAGMA user_version = 4;
)sql",
    // 4 -> 5: Cloudflare's account and gateway from the URL, and feedback set after the fact
    // (PATCH /api/logs/{id}); NULL feedback and score mean none was given.
    R"sql(
ALTER TABLE logs ADD COLUMN account TEXT NOT NULL DEFAULT '';
ALTER TABLE logs ADD COLUMN gateway TEXT NOT NULL DEFAULT '';
ALTER TABLE logs ADD COLUMN feedback INTEGER;
ALTER TABLE logs ADD COLUMN score INTEGER;
PRAGMA user_version = 5;
)sql",
};
static_assert(kSchemaVersion == 5 && std::size(kMigrations) == kSchemaVersion - 1);

constexpr const char* kWriterPragmas =
    // Durability. In WAL mode a COMMIT appends the transaction's pages to the -wal file with
    // write(2), the last frame marked as a commit, before it returns. With synchronous=NORMAL
    // SQLite does not fsync that file on each commit (only at checkpoints), so a committed
    // transaction is in the kernel's page cache, not yet on the disk. Killing the process
    // (kill -9, a crash, the OOM killer) therefore loses nothing committed: the kernel still
    // owns those pages and writes them back, and the next open replays the WAL up to the last
    // commit frame whose checksum holds. A power loss or kernel panic is different: the
    // transactions committed since the last WAL sync (at most the last checkpoint interval,
    // ~1000 pages by default) may be lost, but never half of one, and the database stays
    // consistent, because frames after a torn or missing one fail their checksums and are
    // ignored. That is the right trade for a request log: FULL would add an fsync to every
    // batch for records that a power cut would make moot anyway.
    "PRAGMA synchronous = NORMAL;"
    // log_metadata rows go with their record on every delete (retention), in SQL.
    "PRAGMA foreign_keys = ON;"
    // After a checkpoint the WAL is truncated back to 64 MiB, so a burst does not leave a
    // large file behind for good.
    "PRAGMA journal_size_limit = 67108864;"
    // The writer touches the right edges of its three B-trees (the table, the id and the
    // created_at indexes) and, for retention, their left edges. SQLite's default 2 MiB page
    // cache fills with pages written once and never read again: 2 MiB of the process's RSS.
    // 512 KiB holds a whole batch (LogStoreOptions::max_batch, 512 records), so a batch does
    // not spill to the WAL before its commit and read pages back (bench/README.md, "Cost per
    // request and memory after load").
    "PRAGMA cache_size = -512;";

int busy_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, 1 << 30));
}

bool is_not_a_database(int code) { return (code & 0xff) == SQLITE_NOTADB; }

Error not_a_database(const std::string& path) {
  return store_error(path, "not an SQLite database (file is not a database)");
}

Error newer_schema(const std::string& path, std::int64_t version) {
  return store_error(path, "schema version " + std::to_string(version) +
                               " is newer than this aigw supports (" +
                               std::to_string(kSchemaVersion) +
                               "); run a newer aigw or point the log store at another file");
}

Result<std::int64_t> user_version(Database& db) {
  auto version = db.query_int("PRAGMA user_version", "cannot read the schema version");
  if (!version && is_not_a_database(db.error_code())) return not_a_database(db.path());
  return version;
}

// Creates the schema in an empty file, or checks the version of an existing one, inside one
// write transaction so two processes opening a new file at once cannot both create it.
Result<void> ensure_schema(Database& db) {
  if (auto begun = db.exec("BEGIN IMMEDIATE", "cannot create the schema"); !begun) return begun;
  auto result = [&]() -> Result<void> {
    auto version = user_version(db);
    if (!version) return version.error();
    if (*version > kSchemaVersion) return newer_schema(db.path(), *version);
    if (*version == kSchemaVersion) return {};
    if (*version > 0) {
      for (auto v = *version; v < kSchemaVersion; ++v) {
        const auto step = static_cast<std::size_t>(v - 1);
        if (auto migrated = db.exec(kMigrations[step], "cannot migrate the schema"); !migrated) {
          return migrated;
        }
      }
      return {};
    }
    // Version 0: a new file, unless it already holds someone else's tables.
    auto tables = db.query_int("SELECT count(*) FROM sqlite_schema", "cannot read the schema");
    if (!tables) return tables.error();
    if (*tables != 0) {
      return store_error(db.path(),
                         "not an aigw log store: the database has tables but no schema version");
    }
    return db.exec(kCreateSchema, "cannot create the schema");
  }();
  if (!result) {
    if (db.in_transaction()) (void)db.exec("ROLLBACK", "cannot roll back");
    return result;
  }
  return db.exec("COMMIT", "cannot create the schema");
}

}  // namespace

Result<Database> open_writer_connection(const std::string& path,
                                        std::chrono::milliseconds busy_timeout) {
  // SQLite's own message for a directory is "unable to open database file"; say what it is.
  if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
    return store_error(path, "is a directory, not a database file");
  }
  auto db = Database::open(path);
  if (!db) return db.error();
  db->busy_timeout(busy_ms(busy_timeout));

  // The version first: a file from a newer aigw is refused before anything (even the
  // journal mode) is changed in it.
  auto version = user_version(*db);
  if (!version) return version.error();
  if (*version > kSchemaVersion) return newer_schema(path, *version);

  auto mode = db->query_text("PRAGMA journal_mode = WAL", "cannot set the journal mode");
  if (!mode) {
    if (is_not_a_database(db->error_code())) return not_a_database(path);
    return mode.error();
  }
  // WAL needs shared memory next to the file; a file system without it (some network
  // mounts) keeps the old mode, and then readers would block the writer.
  if (*mode != "wal") {
    return store_error(path, "cannot use WAL journal mode (the file system kept \"" + *mode +
                                 "\"); put the log store on a local file system");
  }
  if (auto pragmas = db->exec(kWriterPragmas, "cannot configure the connection"); !pragmas) {
    return pragmas.error();
  }
  if (auto schema = ensure_schema(*db); !schema) return schema.error();
  return db;
}

Result<Database> open_reader_connection(const std::string& path,
                                        std::chrono::milliseconds busy_timeout) {
  auto db = Database::open(path);
  if (!db) return db.error();
  db->busy_timeout(busy_ms(busy_timeout));
  if (auto pragmas = db->exec("PRAGMA query_only = ON;", "cannot configure the connection");
      !pragmas) {
    return pragmas.error();
  }
  if (auto functions = register_query_functions(*db); !functions) return functions.error();
  return db;
}

}  // namespace aigw::store
