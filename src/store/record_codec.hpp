#pragma once
// LogRecord <-> a row of the `logs` table (schema.cpp), and the JSON texts of its metadata
// and attempts columns. Shared by the writer (insert) and the queries (read back).

#include "aigw/log_record.hpp"

#include "store/sqlite.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::store {

// The columns of `logs` a listing returns, in the order read_record() reads them: every
// column but the two bodies, which follow at kRequestBodyColumn and kResponseBodyColumn.
inline constexpr std::string_view kListColumns =
    "id, event_id, created_at, provider, model, method, path, status_code, success, cached, "
    "cache_status, outcome, error_code, streamed, duration, ttfb, upstream_duration, tokens_in, "
    "tokens_out, cached_tokens, cache_write_tokens, reasoning_tokens, cost, estimated, unpriced, "
    "custom_cost, metadata, user_agent, request_content_type, response_content_type, "
    "request_size, response_size, attempts, key_name, accounting_only, account, gateway, "
    "feedback, score";
inline constexpr std::string_view kBodyColumns = "request_body, response_body";
inline constexpr int kRequestBodyColumn = 39;
inline constexpr int kResponseBodyColumn = 40;

// "INSERT INTO logs (<every column>) VALUES (?1, ..., ?41)", with `rows` rows of values
// (row r takes ?(41r+1) to ?(41r+41)).
std::string insert_sql(int rows = 1);

// What a record's JSON columns hold, computed once per insert.
struct EncodedRecord {
  std::string metadata_json;  // {"key":value,...}, in the record's order, last duplicate wins
  std::vector<std::pair<std::string, std::string>> metadata;  // (key, canonical value text)
  std::string attempts_json;  // [{"provider","status","duration","error"},...]
};

// May throw std::bad_alloc only: text that is not valid UTF-8 is repaired (U+FFFD), not
// refused, because a log record must not be lost over a byte in a client's header.
EncodedRecord encode_record(const LogRecord& record);

// Binds `record` as the parameters of row `row` of insert_sql(). `encoded` and `record` must
// outlive the statement's next reset() (the text is bound without a copy).
void bind_record(Statement& insert, const LogRecord& record, const EncodedRecord& encoded,
                 int row = 0);

// The record on the statement's current row, selected as kListColumns (then kBodyColumns
// when `with_bodies`). A JSON column that does not parse (edited by hand) reads as empty.
LogRecord read_record(const Statement& row, bool with_bodies);

// A metadata value as the store keeps and compares it: the canonical text of the JSON value
// `text` holds (`"alice"`, `42`, `true`), or, when `text` is not JSON, the JSON string of it.
std::string canonical_metadata_value(std::string_view text);

// The texts a metadata filter value matches: its canonical JSON text when it is JSON, and
// the JSON string of it as typed (so `alice` and `"alice"` both find "alice", and `42` finds
// both 42 and "42").
std::pair<std::string, std::string> metadata_match_values(std::string_view value);

// A stored metadata value as a usage group label: a JSON string without its quotes and
// escapes, any other JSON text as is ("alice", "42", "true").
std::string metadata_label(std::string_view stored);

}  // namespace aigw::store
