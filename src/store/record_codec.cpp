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

std::string insert_sql() {
  std::string sql = "INSERT INTO logs (";
  sql.append(kListColumns).append(", ").append(kBodyColumns).append(") VALUES (");
  for (int i = 1; i <= kColumnCount; ++i) {
    if (i > 1) sql += ", ";
    sql += '?';
    sql += std::to_string(i);
  }
  sql += ')';
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

void bind_record(Statement& insert, const LogRecord& record, const EncodedRecord& encoded) {
  const auto flag = [](bool b) { return static_cast<std::int64_t>(b ? 1 : 0); };
  const auto uint = [](std::uint64_t n) { return static_cast<std::int64_t>(n); };
  insert.bind_text(kId + 1, record.id);
  insert.bind_text(kEventId + 1, record.event_id);
  insert.bind(kCreatedAt + 1, record.created_at);
  insert.bind_text(kProvider + 1, record.provider);
  insert.bind_text(kModel + 1, record.model);
  insert.bind_text(kMethod + 1, record.method);
  insert.bind_text(kPath + 1, record.path);
  insert.bind(kStatusCode + 1, static_cast<std::int64_t>(record.status_code));
  insert.bind(kSuccess + 1, flag(record.success));
  insert.bind(kCached + 1, flag(record.cached));
  insert.bind_text(kCacheStatus + 1, record.cache_status);
  insert.bind_text(kOutcome + 1, record.outcome);
  insert.bind_text(kErrorCode + 1, record.error_code);
  insert.bind(kStreamed + 1, flag(record.streamed));
  insert.bind(kDuration + 1, record.duration_ms);
  insert.bind(kTtfb + 1, record.ttfb_ms);
  insert.bind(kUpstreamDuration + 1, record.upstream_ms);
  insert.bind(kTokensIn + 1, record.tokens_in);
  insert.bind(kTokensOut + 1, record.tokens_out);
  insert.bind(kCachedTokens + 1, record.cached_tokens);
  insert.bind(kCacheWriteTokens + 1, record.cache_write_tokens);
  insert.bind(kReasoningTokens + 1, record.reasoning_tokens);
  insert.bind(kCost + 1, record.cost);  // NULL when unpriced: a sum must skip it, not add 0
  insert.bind(kEstimated + 1, flag(record.estimated));
  insert.bind(kUnpriced + 1, flag(record.unpriced));
  insert.bind(kCustomCost + 1, flag(record.custom_cost));
  insert.bind_text(kMetadata + 1, encoded.metadata_json);
  insert.bind_text(kUserAgent + 1, record.user_agent);
  insert.bind_text(kRequestContentType + 1, record.request_content_type);
  insert.bind_text(kResponseContentType + 1, record.response_content_type);
  insert.bind(kRequestSize + 1, uint(record.request_size));
  insert.bind(kResponseSize + 1, uint(record.response_size));
  insert.bind_text(kAttempts + 1, encoded.attempts_json);
  insert.bind_text(kKeyName + 1, record.key);
  insert.bind(kAccountingOnly + 1, flag(record.accounting_only));
  insert.bind_text(kAccount + 1, record.account);
  insert.bind_text(kGateway + 1, record.gateway);
  if (record.feedback) {
    insert.bind(kFeedback + 1, static_cast<std::int64_t>(*record.feedback));
  } else {
    insert.bind_null(kFeedback + 1);
  }
  if (record.score) {
    insert.bind(kScore + 1, static_cast<std::int64_t>(*record.score));
  } else {
    insert.bind_null(kScore + 1);
  }
  // Bodies as blobs: a payload need not be UTF-8 (multipart audio, a truncated stream), and a
  // blob keeps its bytes exactly.
  if (record.request_body) {
    insert.bind_blob(kRequestBody + 1, *record.request_body);
  } else {
    insert.bind_null(kRequestBody + 1);
  }
  if (record.response_body) {
    insert.bind_blob(kResponseBody + 1, *record.response_body);
  } else {
    insert.bind_null(kResponseBody + 1);
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
