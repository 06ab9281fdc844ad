#pragma once
// The request log's on-disk format and how its connections are opened.

#include "aigw/error.hpp"

#include "store/sqlite.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace aigw::store {

// PRAGMA user_version of a database this build writes. A file with a higher version was
// written by a newer aigw and is refused rather than misread; a lower one is migrated in
// place when the writer opens it (schema.cpp lists each step).
inline constexpr std::int64_t kSchemaVersion = 5;

// The writer's connection: WAL journal, synchronous=NORMAL, foreign keys on, schema created
// on first open and checked on every later one. Errors name the path: "log store <path>:
// is a directory", "...: not an SQLite database (file is not a database)", "...: schema
// version 3 is newer than this aigw supports (2)...", "...: cannot open: ...".
Result<Database> open_writer_connection(const std::string& path,
                                        std::chrono::milliseconds busy_timeout);

// A connection for the queries, opened after the writer's (so the schema exists). It is
// query_only: a bug in a query path cannot write to the log.
Result<Database> open_reader_connection(const std::string& path,
                                        std::chrono::milliseconds busy_timeout);

}  // namespace aigw::store
