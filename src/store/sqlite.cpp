#include "store/sqlite.hpp"

#include <cerrno>
#include <filesystem>
#include <sqlite3.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace aigw::store {

namespace {

// Why `path` cannot be opened read-write, as an errno (0 when the file system sees no reason).
// SQLite's own errno is not it: refused read-write (EACCES in a directory the process cannot
// write), its unix VFS retries read-only, and for a file that does not exist yet that retry
// fails with ENOENT, which is what sqlite3_system_errno() then reports. So the file system is
// asked again: the file itself when it exists, else the directory it would be created in.
int open_failure_errno(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return EISDIR;
    return ::access(path.c_str(), R_OK | W_OK) == 0 ? 0 : errno;
  }
  if (errno != ENOENT) return errno;
  const auto parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  return ::access(dir.c_str(), W_OK | X_OK) == 0 ? 0 : errno;
}

}  // namespace

Error store_error(std::string_view path, std::string_view what) {
  std::string detail = "log store ";
  detail.append(path).append(": ").append(what);
  return Error{ErrorCode::kInternal, std::move(detail)};
}

Statement::Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind(int index, std::int64_t value) noexcept {
  sqlite3_bind_int64(stmt_, index, value);
}

void Statement::bind(int index, double value) noexcept { sqlite3_bind_double(stmt_, index, value); }

// SQLite binds NULL for a null pointer, so an empty view must still point somewhere: an empty
// body that was stored is "", not NULL.
void Statement::bind_text(int index, std::string_view value) noexcept {
  sqlite3_bind_text64(stmt_, index, value.empty() ? "" : value.data(), value.size(), SQLITE_STATIC,
                      SQLITE_UTF8);
}

void Statement::bind_blob(int index, std::string_view value) noexcept {
  sqlite3_bind_blob64(stmt_, index, value.empty() ? "" : value.data(), value.size(), SQLITE_STATIC);
}

void Statement::bind_null(int index) noexcept { sqlite3_bind_null(stmt_, index); }

void Statement::bind(int index, const std::optional<double>& value) noexcept {
  if (value) {
    bind(index, *value);
  } else {
    bind_null(index);
  }
}

// Counts are stored as SQLite's signed 64-bit integers; the cast round-trips every value
// (a count above 2^63 would read back intact but sort as negative, which no token count
// reaches).
void Statement::bind(int index, const std::optional<std::uint64_t>& value) noexcept {
  if (value) {
    bind(index, static_cast<std::int64_t>(*value));
  } else {
    bind_null(index);
  }
}

int Statement::step() noexcept { return sqlite3_step(stmt_); }

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const noexcept {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::int64(int column) const noexcept {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::real(int column) const noexcept { return sqlite3_column_double(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<double> Statement::optional_real(int column) const noexcept {
  if (is_null(column)) return std::nullopt;
  return real(column);
}

std::optional<std::uint64_t> Statement::optional_uint64(int column) const noexcept {
  if (is_null(column)) return std::nullopt;
  return static_cast<std::uint64_t>(int64(column));
}

std::optional<std::string> Statement::optional_blob(int column) const {
  if (is_null(column)) return std::nullopt;
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
  if (data == nullptr) return std::string();
  return std::string(data, size);
}

Result<Database> Database::open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: every connection is used by one thread at a time (see the header), so SQLite's
  // own per-connection mutex would only add a lock per call.
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database database(db, path);
  if (db == nullptr) return store_error(path, "cannot open: out of memory");
  sqlite3_extended_result_codes(db, 1);
  if ((rc & 0xff) == SQLITE_CANTOPEN) {
    if (const int err = open_failure_errno(path); err != 0) {
      return store_error(path, std::string("cannot open: ") + sqlite3_errmsg(db) + " (" +
                                   std::system_category().message(err) + ")");
    }
  }
  if (rc != SQLITE_OK) return database.error("cannot open", rc);
  return database;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Database::~Database() { sqlite3_close_v2(db_); }

Result<void> Database::exec(const char* sql, std::string_view what) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(what, rc);
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return error("cannot prepare a statement", rc);
  return Statement(stmt);
}

Result<std::int64_t> Database::query_int(const char* sql, std::string_view what) {
  auto stmt = prepare(sql);
  if (!stmt) return error(what, sqlite3_errcode(db_));
  const int rc = stmt->step();
  if (rc == SQLITE_ROW) return stmt->int64(0);
  if (rc == SQLITE_DONE) return store_error(path_, std::string(what) + ": no result");
  return error(what, rc);
}

Result<std::string> Database::query_text(const char* sql, std::string_view what) {
  auto stmt = prepare(sql);
  if (!stmt) return error(what, sqlite3_errcode(db_));
  const int rc = stmt->step();
  if (rc == SQLITE_ROW) return stmt->text(0);
  if (rc == SQLITE_DONE) return store_error(path_, std::string(what) + ": no result");
  return error(what, rc);
}

Error Database::error(std::string_view what, int rc) const {
  std::string detail(what);
  detail += ": ";
  // sqlite3_errmsg describes the connection's most recent failure, which is `rc` here: every
  // caller reports the error of the call it just made, on the thread that owns the connection.
  detail += db_ != nullptr && sqlite3_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  // For I/O failures the OS reason ("Permission denied", "No space left on device") is what
  // an operator needs; SQLite keeps it apart from its own message.
  const int primary = rc & 0xff;
  if (db_ != nullptr && (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR ||
                         primary == SQLITE_FULL || primary == SQLITE_READONLY)) {
    if (const int err = sqlite3_system_errno(db_); err != 0) {
      detail.append(" (").append(std::system_category().message(err)).append(")");
    }
  }
  return store_error(path_, detail);
}

int Database::error_code() const noexcept {
  return db_ != nullptr ? sqlite3_extended_errcode(db_) : SQLITE_OK;
}

int Database::busy_timeout(int ms) noexcept { return sqlite3_busy_timeout(db_, ms); }

std::int64_t Database::changes() const noexcept { return sqlite3_changes64(db_); }

bool Database::in_transaction() const noexcept {
  return db_ != nullptr && sqlite3_get_autocommit(db_) == 0;
}

}  // namespace aigw::store
