#pragma once
// A thin RAII layer over the SQLite C API for the log store: a connection and a prepared
// statement. Errors become aigw::Error values whose detail names the database file, so an
// operator reading "log store /var/lib/aigw/logs.db: ..." knows which file to look at.
// Neither class is thread-safe: each connection is used by one thread at a time (the writer
// thread owns its own, the readers' one sits behind a mutex).

#include "aigw/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

struct sqlite3;
struct sqlite3_stmt;

namespace aigw::store {

// The error every store failure is reported with: "log store <path>: <what>".
Error store_error(std::string_view path, std::string_view what);

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) noexcept : stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite. Text and blobs are bound without a copy: the bytes
  // must stay alive until the next reset().
  void bind(int index, std::int64_t value) noexcept;
  void bind(int index, double value) noexcept;
  void bind_text(int index, std::string_view value) noexcept;
  void bind_blob(int index, std::string_view value) noexcept;
  void bind_null(int index) noexcept;
  void bind(int index, const std::optional<double>& value) noexcept;
  void bind(int index, const std::optional<std::uint64_t>& value) noexcept;

  // SQLITE_ROW, SQLITE_DONE or an (extended) error code.
  int step() noexcept;
  // Ready to run again, with every parameter unbound. Ends the statement's read transaction,
  // which matters in WAL mode: an open reader pins the WAL and stops checkpoints.
  void reset() noexcept;

  // Columns are 0-based. A NULL reads as 0, "" or nullopt.
  bool is_null(int column) const noexcept;
  std::int64_t int64(int column) const noexcept;
  double real(int column) const noexcept;
  std::string text(int column) const;
  std::optional<double> optional_real(int column) const noexcept;
  std::optional<std::uint64_t> optional_uint64(int column) const noexcept;
  std::optional<std::string> optional_blob(int column) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Opens `path` read-write, creating the file when it does not exist. Does not read it yet:
  // a file that is not a database fails on the first statement.
  static Result<Database> open(const std::string& path);

  Database() = default;
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more statements that return no rows we need.
  Result<void> exec(const char* sql, std::string_view what);
  Result<Statement> prepare(std::string_view sql);
  // The single value of the first row, e.g. of a PRAGMA.
  Result<std::int64_t> query_int(const char* sql, std::string_view what);
  Result<std::string> query_text(const char* sql, std::string_view what);

  // "log store <path>: <what>: <SQLite's message for rc>[ (<errno text>)]".
  Error error(std::string_view what, int rc) const;
  // The (extended) code of the connection's most recent failure, SQLITE_OK when none.
  int error_code() const noexcept;
  int busy_timeout(int ms) noexcept;
  // Rows changed by the last INSERT/UPDATE/DELETE (not counting cascades).
  std::int64_t changes() const noexcept;
  // True between BEGIN and COMMIT/ROLLBACK (also after SQLite rolled back on its own: false).
  bool in_transaction() const noexcept;
  const std::string& path() const noexcept { return path_; }
  bool is_open() const noexcept { return db_ != nullptr; }
  // For registering SQL functions (the store's queries); null when not open.
  sqlite3* native() noexcept { return db_; }

 private:
  Database(sqlite3* db, std::string path) noexcept : db_(db), path_(std::move(path)) {}

  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace aigw::store
