#include "store/record_codec.hpp"

#include "json/members.hpp"

#include <nlohmann/json.hpp>

namespace aigw::store {
namespace {

using nlohmann::ordered_json;

// Column positions in kListColumns + kBodyColumns order; they are also the insert's
// parameters (plus one).
enum Column : int {
  kId,
  kEventId,
  kCreatedAt,
  kProvider,
  kModel,
  kMethod,
  kPath,
  kStatusCode,
  kSuccess,
  kCached,
  kCacheStatus,
  kOutcome,
  kErrorCode,
  kStreamed,
  kDuration,
  kTtfb,
  kUpstreamDuration,
  kTokensIn,
  kTokensOut,
  kCachedTokens,
  kCacheWriteTokens,
  kReasoningTokens,
  kCost,
  kEstimated,
  kUnpriced,
  kCustomCost,
  kMetadata,
  kUserAgent,
  kRequestContentType,
  kResponseContentType,
  kRequestSize,
  kResponseSize,
  kAttempts,
  kKeyName,
  kAccountingOnly,
  kAccount,
  kGateway,
  kFeedback,
  kScore,
  kRequestBody,
  kResponseBody,
  kColumnCount,
};
static_assert(kRequestBody == kRequestBodyColumn && kResponseBody == kResponseBodyColumn);

// Client-supplied text (metadata, a user agent copied into an error) may hold bytes that are
// not UTF-8; nlohmann's default is to throw on dumping them.
std::string dump(const ordered_json& value) {
  return value.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

ordered_json parse_json_value(std::string_view text) {
  auto value = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return ordered_json(std::string(text));
  return value;
}

std::string string_field(const ordered_json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

double number_field(const ordered_json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::uint16_t status_field(const ordered_json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_number_unsigned()) return 0;
  const auto status = it->get<std::uint64_t>();
  return status <= 0xffff ? static_cast<std::uint16_t>(status) : 0;
}

}  // namespace

std::string insert_sql(int rows) {
  std::string sql = "INSERT INTO logs (";
  sql.append(kListColumns).append(", ").append(kBodyColumns).append(") VALUES ");
  for (int row = 0; row < rows; ++row) {
    sql += row == 0 ? "(" : ", (";
    for (int i = 1; i <= kColumnCount; ++i) {
      if (i > 1) sql += ", ";
      sql += '?';
      sql += std::to_string(row * kColumnCount + i);
    }
    sql += ')';
  }
  return sql;
}

namespace {

// The attempts column, written directly: this runs for every request on the writer thread,
// and nlohmann's object building cost more than the rest of the encoding together.
std::string attempts_json(const std::vector<LogAttempt>& attempts) {
  if (attempts.empty()) return "[]";
  std::string out = "[";
  for (const auto& a : attempts) {
    if (out.size() > 1) out += ',';
    out += "{\"provider\":";
    json::append_quoted(out, a.provider);
    if (!a.model.empty()) {  // a named route's target
      out += ",\"model\":";
      json::append_quoted(out, a.model);
    }
    out += ",\"status\":";
    out += std::to_string(a.status);
    out += ",\"duration\":";
    out += dump(ordered_json(a.duration_ms));  // nlohmann's spelling of doubles, as read back
    out += ",\"error\":";
    json::append_quoted(out, a.error);
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace

EncodedRecord encode_record(const LogRecord& record) {
  EncodedRecord encoded;
  encoded.attempts_json = attempts_json(record.attempts);
  if (record.metadata.empty()) {  // the common case: no cf-aig-metadata
    encoded.metadata_json = "{}";
    return encoded;
  }
  auto metadata = ordered_json::object();
  for (const auto& [key, value] : record.metadata) metadata[key] = parse_json_value(value);
  encoded.metadata_json = dump(metadata);
  encoded.metadata.reserve(metadata.size());
  for (const auto& item : metadata.items()) {
    encoded.metadata.emplace_back(item.key(), dump(item.value()));
  }

  return encoded;
}

void bind_record(Statement& insert, const LogRecord& record, const EncodedRecord& encoded,
                 int row) {
  const int base = row * kColumnCount + 1;  // parameter numbers start at 1
  const auto flag = [](bool b) { return static_cast<std::int64_t>(b ? 1 : 0); };
  const auto uint = [](std::uint64_t n) { return static_cast<std::int64_t>(n); };
  insert.bind_text(base + kId, record.id);
  insert.bind_text(base + kEventId, record.event_id);
  insert.bind(base + kCreatedAt, record.created_at);
  insert.bind_text(base + kProvider, record.provider);
  insert.bind_text(base + kModel, record.model);
  insert.bind_text(base + kMethod, record.method);
  insert.bind_text(base + kPath, record.path);
  insert.bind(base + kStatusCode, static_cast<std::int64_t>(record.status_code));
  insert.bind(base + kSuccess, flag(record.success));
  insert.bind(base + kCached, flag(record.cached));
  insert.bind_text(base + kCacheStatus, record.cache_status);
  insert.bind_text(base + kOutcome, record.outcome);
  insert.bind_text(base + kErrorCode, record.error_code);
  insert.bind(base + kStreamed, flag(record.streamed));
  insert.bind(base + kDuration, record.duration_ms);
  insert.bind(base + kTtfb, record.ttfb_ms);
  insert.bind(base + kUpstreamDuration, record.upstream_ms);
  insert.bind(base + kTokensIn, record.tokens_in);
  insert.bind(base + kTokensOut, record.tokens_out);
  insert.bind(base + kCachedTokens, record.cached_tokens);
  insert.bind(base + kCacheWriteTokens, record.cache_write_tokens);
  insert.bind(base + kReasoningTokens, record.reasoning_tokens);
  insert.bind(base + kCost, record.cost);  // NULL when unpriced: a sum must skip it, not add 0
  insert.bind(base + kEstimated, flag(record.estimated));
  insert.bind(base + kUnpriced, flag(record.unpriced));
  insert.bind(base + kCustomCost, flag(record.custom_cost));
  insert.bind_text(base + kMetadata, encoded.metadata_json);
  insert.bind_text(base + kUserAgent, record.user_agent);
  insert.bind_text(base + kRequestContentType, record.request_content_type);
  insert.bind_text(base + kResponseContentType, record.response_content_type);
  insert.bind(base + kRequestSize, uint(record.request_size));
  insert.bind(base + kResponseSize, uint(record.response_size));
  insert.bind_text(base + kAttempts, encoded.attempts_json);
  insert.bind_text(base + kKeyName, record.key);
  insert.bind(base + kAccountingOnly, flag(record.accounting_only));
  insert.bind_text(base + kAccount, record.account);
  insert.bind_text(base + kGateway, record.gateway);
  if (record.feedback) {
    insert.bind(base + kFeedback, static_cast<std::int64_t>(*record.feedback));
  } else {
    insert.bind_null(base + kFeedback);
  }
  if (record.score) {
    insert.bind(base + kScore, static_cast<std::int64_t>(*record.score));
  } else {
    insert.bind_null(base + kScore);
  }
  // Bodies as blobs: a payload need not be UTF-8 (multipart audio, a truncated stream), and a
  // blob keeps its bytes exactly.
  if (record.request_body) {
    insert.bind_blob(base + kRequestBody, *record.request_body);
  } else {
    insert.bind_null(base + kRequestBody);
  }
  if (record.response_body) {
    insert.bind_blob(base + kResponseBody, *record.response_body);
  } else {
    insert.bind_null(base + kResponseBody);
  }
}

LogRecord read_record(const Statement& row, bool with_bodies) {
  LogRecord r;
  r.id = row.text(kId);
  r.event_id = row.text(kEventId);
  r.created_at = row.int64(kCreatedAt);
  r.provider = row.text(kProvider);
  r.model = row.text(kModel);
  r.method = row.text(kMethod);
  r.path = row.text(kPath);
  r.status_code = static_cast<std::uint16_t>(row.int64(kStatusCode));
  r.success = row.int64(kSuccess) != 0;
  r.cached = row.int64(kCached) != 0;
  r.cache_status = row.text(kCacheStatus);
  r.outcome = row.text(kOutcome);
  r.error_code = row.text(kErrorCode);
  r.streamed = row.int64(kStreamed) != 0;
  r.duration_ms = row.real(kDuration);
  r.ttfb_ms = row.optional_real(kTtfb);
  r.upstream_ms = row.optional_real(kUpstreamDuration);
  r.tokens_in = row.optional_uint64(kTokensIn);
  r.tokens_out = row.optional_uint64(kTokensOut);
  r.cached_tokens = row.optional_uint64(kCachedTokens);
  r.cache_write_tokens = row.optional_uint64(kCacheWriteTokens);
  r.reasoning_tokens = row.optional_uint64(kReasoningTokens);
  r.cost = row.optional_real(kCost);
  r.estimated = row.int64(kEstimated) != 0;
  r.unpriced = row.int64(kUnpriced) != 0;
  r.custom_cost = row.int64(kCustomCost) != 0;
  if (const auto metadata = ordered_json::parse(row.text(kMetadata), nullptr, false);
      metadata.is_object()) {
    for (const auto& item : metadata.items())
      r.metadata.emplace_back(item.key(), dump(item.value()));
  }
  r.user_agent = row.text(kUserAgent);
  r.request_content_type = row.text(kRequestContentType);
  r.response_content_type = row.text(kResponseContentType);
  r.request_size = static_cast<std::uint64_t>(row.int64(kRequestSize));
  r.response_size = static_cast<std::uint64_t>(row.int64(kResponseSize));
  if (const auto attempts = ordered_json::parse(row.text(kAttempts), nullptr, false);
      attempts.is_array()) {
    for (const auto& a : attempts) {
      if (!a.is_object()) continue;
      r.attempts.push_back(LogAttempt{string_field(a, "provider"), status_field(a, "status"),
                                      number_field(a, "duration"), string_field(a, "error"),
                                      string_field(a, "model")});
    }
  }
  r.key = row.text(kKeyName);
  r.accounting_only = row.int64(kAccountingOnly) != 0;
  r.account = row.text(kAccount);
  r.gateway = row.text(kGateway);
  // Written only through PATCH /api/logs/{id}, which bounds them; a hand edit out of range
  // reads as unset.
  if (const auto f = row.optional_real(kFeedback); f && (*f == -1 || *f == 0 || *f == 1)) {
    r.feedback = static_cast<std::int8_t>(*f);
  }
  if (const auto s = row.optional_real(kScore); s && *s >= 0 && *s <= 100) {
    r.score = static_cast<std::uint8_t>(*s);
  }
  if (with_bodies) {
    r.request_body = row.optional_blob(kRequestBody);
    r.response_body = row.optional_blob(kResponseBody);
  }
  return r;
}

std::string canonical_metadata_value(std::string_view text) { return dump(parse_json_value(text)); }

std::pair<std::string, std::string> metadata_match_values(std::string_view value) {
  return {canonical_metadata_value(value), dump(ordered_json(std::string(value)))};
}

std::string metadata_label(std::string_view stored) {
  if (stored.empty() || stored.front() != '"') return std::string(stored);
  const auto value = ordered_json::parse(stored, nullptr, false);
  return value.is_string() ? value.get<std::string>() : std::string(stored);
}

}  // namespace aigw::store
