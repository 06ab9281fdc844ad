#include "server/admin_api.hpp"

#include "aigw/error.hpp"

#include "core/metrics.hpp"
#include "core/text.hpp"
#include "router/routes.hpp"
#include "store/log_store.hpp"

#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <vector>

namespace aigw::admin {
namespace {

using json = nlohmann::json;

ApiResponse bad_request(std::string detail) {
  return ApiResponse{400, "application/json",
                     error_body(Error{ErrorCode::kBadRequest, std::move(detail)})};
}

// A client's text in an error message, bytes outside printable ASCII written %XX as in a URL,
// after at most `max` bytes of it. The error body's serializer throws on invalid UTF-8, which
// a percent-decoded query can hold and a cut can make of valid text: the admin thread then
// terminated the process (found by fuzzing, fuzz/admin_query_fuzz.cpp).
std::string shown(std::string_view text, std::size_t max = 64) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text.substr(0, max)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && b != '%') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

ApiResponse json_response(unsigned status, const json& body) {
  return ApiResponse{status, "application/json",
                     body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

// application/x-www-form-urlencoded decoding of one query component.
std::optional<std::string> url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size() || text::hex_digit(in[i + 1]) < 0 || text::hex_digit(in[i + 2]) < 0) {
        return std::nullopt;
      }
      out += static_cast<char>(text::hex_digit(in[i + 1]) * 16 + text::hex_digit(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

using Params = std::map<std::string, std::string>;

std::optional<ApiResponse> parse_query(std::string_view query, Params& out) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = url_decode(pair.substr(0, eq));
    auto value = url_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!key || !value) return bad_request("malformed percent-encoding in the query string");
    if (out.count(*key)) return bad_request("query parameter " + shown(*key) + " is given twice");
    out.emplace(std::move(*key), std::move(*value));
  }
  return std::nullopt;
}

// Unix milliseconds, or an RFC 3339 UTC time: 2026-12-02T10:00:00Z (fraction optional).
std::optional<std::int64_t> parse_time(const std::string& text) {
  std::int64_t ms = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && ptr == text.data() + text.size()) return ms;
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
          6 ||
      consumed != 19) {
    return std::nullopt;
  }
  std::string_view rest = std::string_view(text).substr(19);
  int frac_ms = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (rest.front() - '0');
      ++digits;
      rest.remove_prefix(1);
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) frac_ms *= 10;
  }
  if (rest != "Z" || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + frac_ms;
}

std::string iso8601(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the compiler cannot rule out
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

template <class T>
json optional_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// Reads the filters /api/logs and /api/usage share into `q` (a LogQuery or a UsageQuery).
// Returns an error response, or nothing.
template <class Query>
std::optional<ApiResponse> read_common(const Params& p, Query& q) {
  for (const char* name : {"from", "to"}) {
    const auto it = p.find(name);
    if (it == p.end()) continue;
    const auto t = parse_time(it->second);
    if (!t) {
      return bad_request(std::string(name) +
                         " must be Unix milliseconds or an RFC 3339 UTC time such as "
                         "2026-12-02T10:00:00Z (got '" +
                         shown(it->second, 40) + "')");
    }
    (std::string_view(name) == "from" ? q.from : q.to) = *t;
  }
  if (auto it = p.find("provider"); it != p.end()) q.provider = it->second;
  if (auto it = p.find("model"); it != p.end()) q.model = it->second;
  if (auto it = p.find("key"); it != p.end()) q.key = it->second;
  if (auto it = p.find("gateway"); it != p.end()) q.gateway = it->second;
  return std::nullopt;
}

// A whole number from `min` to `max`, the whole text; nullopt otherwise.
std::optional<std::uint64_t> whole_number(const std::string& text, std::uint64_t min,
                                          std::uint64_t max) {
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

// A database failure: the store's message, with status 500.
ApiResponse internal_error(const Error& error) {
  return ApiResponse{500, "application/json", error_body(error)};
}

std::optional<ApiResponse> check_known(const Params& p,
                                       std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : p) {
    bool ok = false;
    for (auto k : known) ok = ok || key == k;
    if (!ok) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return bad_request("unknown query parameter " + shown(key) + " (known: " + list + ")");
    }
  }
  return std::nullopt;
}

std::optional<bool> parse_bool(const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return std::nullopt;
}

ApiResponse logs(const Params& p, store::LogStore& log) {
  if (auto e = check_known(p, {"from", "to", "provider", "model", "key", "gateway", "status",
                               "success", "cached", "metadata.key", "metadata.value", "feedback",
                               "min_score", "max_score", "order", "limit", "cursor"})) {
    return *e;
  }
  store::LogQuery q;
  if (auto e = read_common(p, q)) return *e;
  if (auto it = p.find("status"); it != p.end()) {
    const auto v = whole_number(it->second, 100, 599);
    if (!v) return bad_request("status must be an HTTP status code from 100 to 599");
    q.status_code = static_cast<std::uint16_t>(*v);
  }
  for (const char* name : {"success", "cached"}) {
    const auto it = p.find(name);
    if (it == p.end()) continue;
    const auto b = parse_bool(it->second);
    if (!b) return bad_request(std::string(name) + " must be true or false");
    (std::string_view(name) == "success" ? q.success : q.cached) = *b;
  }
  if (auto it = p.find("feedback"); it != p.end()) {
    if (it->second != "-1" && it->second != "0" && it->second != "1") {
      return bad_request("feedback must be -1, 0 or 1");
    }
    q.feedback = static_cast<std::int8_t>(std::stoi(it->second));
  }
  for (const char* name : {"min_score", "max_score"}) {
    const auto it = p.find(name);
    if (it == p.end()) continue;
    const auto v = whole_number(it->second, 0, 100);
    if (!v) return bad_request(std::string(name) + " must be a whole number from 0 to 100");
    (std::string_view(name) == "min_score" ? q.min_score : q.max_score) =
        static_cast<std::uint8_t>(*v);
  }
  if (auto it = p.find("metadata.key"); it != p.end()) q.metadata_key = it->second;
  if (auto it = p.find("metadata.value"); it != p.end()) {
    if (!q.metadata_key) return bad_request("metadata.value needs metadata.key");
    q.metadata_value = it->second;
  }
  if (auto it = p.find("order"); it != p.end()) {
    if (it->second == "asc") {
      q.order = store::LogOrder::kOldestFirst;
    } else if (it->second != "desc") {
      return bad_request("order must be asc or desc");
    }
  }
  if (auto it = p.find("limit"); it != p.end()) {
    const auto v = whole_number(it->second, 1, store::LogQuery::kMaxLimit);
    if (!v) {
      return bad_request("limit must be a whole number from 1 to " +
                         std::to_string(store::LogQuery::kMaxLimit));
    }
    q.limit = static_cast<std::size_t>(*v);
  }
  if (auto it = p.find("cursor"); it != p.end()) q.cursor = it->second;
  auto page = log.query(q);
  if (!page) {
    return page.error().code == ErrorCode::kInternal ? internal_error(page.error())
                                                     : bad_request(page.error().detail);
  }
  json records = json::array();
  for (const auto& r : page->records) records.push_back(record_json(r));
  json body = {
      {"result", std::move(records)},
      {"next_cursor", page->next_cursor.empty() ? json(nullptr) : json(page->next_cursor)}};
  return json_response(200, body);
}

ApiResponse usage(const Params& p, store::LogStore& log) {
  if (auto e = check_known(
          p, {"from", "to", "provider", "model", "key", "gateway", "group_by", "bucket"})) {
    return *e;
  }
  store::UsageQuery q;
  if (auto e = read_common(p, q)) return *e;
  if (auto it = p.find("group_by"); it != p.end()) {
    const std::string& g = it->second;
    if (g == "provider") {
      q.group_by = store::UsageGroup::kProvider;
    } else if (g == "model") {
      q.group_by = store::UsageGroup::kModel;
    } else if (g == "key") {
      q.group_by = store::UsageGroup::kKey;
    } else if (g == "gateway") {
      q.group_by = store::UsageGroup::kGateway;
    } else if (g.rfind("metadata.", 0) == 0 && g.size() > 9) {
      q.group_by = store::UsageGroup::kMetadata;
      q.metadata_key = g.substr(9);
    } else {
      return bad_request("group_by must be provider, model, key, gateway or metadata.<key>");
    }
  }
  if (auto it = p.find("bucket"); it != p.end()) {
    const std::string& b = it->second;
    if (b == "minute") {
      q.bucket = store::UsageBucket::kMinute;
    } else if (b == "hour") {
      q.bucket = store::UsageBucket::kHour;
    } else if (b == "day") {
      q.bucket = store::UsageBucket::kDay;
    } else {
      return bad_request("bucket must be minute, hour or day");
    }
  }
  auto rows = log.usage(q);
  if (!rows) return internal_error(rows.error());
  json result = json::array();
  for (const auto& r : *rows) {
    json row = {{"requests", r.requests},
                {"tokens_in", r.tokens_in},
                {"tokens_out", r.tokens_out},
                {"cached_tokens", r.cached_tokens},
                {"cost", r.cost},
                {"unpriced_requests", r.unpriced_requests},
                {"cache_hits", r.cache_hits},
                {"errors", r.errors},
                {"duration_p50", r.duration_p50},
                {"duration_p99", r.duration_p99},
                {"feedback_positive", r.feedback_positive},
                {"feedback_negative", r.feedback_negative},
                {"scored", r.scored},
                {"score_avg", optional_json(r.score_avg)}};
    if (q.bucket != store::UsageBucket::kNone) row["bucket_start"] = iso8601(r.bucket_start);
    if (q.group_by != store::UsageGroup::kNone) row["group"] = r.group;
    result.push_back(std::move(row));
  }
  return json_response(200, {{"result", std::move(result)}});
}

}  // namespace

json record_json(const LogRecord& r) {
  json metadata = json::object();
  for (const auto& [key, value] : r.metadata) {
    metadata[key] = json::parse(value, nullptr, false);
  }
  json attempts = json::array();
  for (const auto& a : r.attempts) {
    json attempt = {{"provider", a.provider},
                    {"status_code", a.status == 0 ? json(nullptr) : json(a.status)},
                    {"duration", a.duration_ms},
                    {"error", a.error.empty() ? json(nullptr) : json(a.error)}};
    if (!a.model.empty()) attempt["model"] = a.model;  // a named route's target
    attempts.push_back(std::move(attempt));
  }
  json out = {
      {"id", r.id},
      {"event_id", r.event_id},
      {"created_at", iso8601(r.created_at)},
      {"provider", r.provider},
      {"model", r.model},
      {"method", r.method},
      {"path", r.path},
      {"status_code", r.status_code},
      {"success", r.success},
      {"cached", r.cached},
      {"cache_status", r.cache_status.empty() ? json(nullptr) : json(r.cache_status)},
      {"outcome", r.outcome},
      {"error_code", r.error_code.empty() ? json(nullptr) : json(r.error_code)},
      {"streamed", r.streamed},
      {"duration", r.duration_ms},
      {"time_to_first_byte", optional_json(r.ttfb_ms)},
      {"upstream_duration", optional_json(r.upstream_ms)},
      {"tokens_in", optional_json(r.tokens_in)},
      {"tokens_out", optional_json(r.tokens_out)},
      {"cached_tokens", optional_json(r.cached_tokens)},
      {"cache_write_tokens", optional_json(r.cache_write_tokens)},
      {"reasoning_tokens", optional_json(r.reasoning_tokens)},
      {"cost", optional_json(r.cost)},
      {"estimated", r.estimated},
      {"unpriced", r.unpriced},
      {"custom_cost", r.custom_cost},
      {"metadata", std::move(metadata)},
      {"key", r.key.empty() ? json(nullptr) : json(r.key)},
      {"user_agent", r.user_agent},
      {"request_content_type", r.request_content_type},
      {"response_content_type", r.response_content_type},
      {"request_size", r.request_size},
      {"response_size", r.response_size},
      {"attempts", std::move(attempts)},
      {"account", r.account.empty() ? json(nullptr) : json(r.account)},
      {"gateway", r.gateway.empty() ? json(nullptr) : json(r.gateway)},
      {"feedback", optional_json(r.feedback)},
      {"score", optional_json(r.score)},
  };
  if (r.request_body) out["request_body"] = *r.request_body;
  if (r.response_body) out["response_body"] = *r.response_body;
  return out;
}

namespace {

// GET /api/routes: each named route's targets in config order, with their breaker's state.
ApiResponse routes(const RouteTable* table) {
  json out = json::array();
  const auto now = CircuitBreaker::Clock::now();
  if (table != nullptr) {
    for (const auto& route : table->routes()) {
      json targets = json::array();
      for (const RouteTarget& t : route->targets) {
        json breaker = {{"state", "disabled"}};
        if (t.breaker) {
          const auto state = t.breaker->state(now);
          breaker = {{"state", state == CircuitBreaker::State::kClosed ? "closed"
                               : state == CircuitBreaker::State::kOpen ? "open"
                                                                       : "half_open"},
                     {"opens", t.breaker->opens()}};
          if (state == CircuitBreaker::State::kOpen) {
            breaker["probe_in_ms"] =
                std::chrono::duration_cast<std::chrono::milliseconds>(t.breaker->open_until() - now)
                    .count();
          }
        }
        targets.push_back({{"provider", t.config.provider},
                           {"model", t.config.model},
                           {"priority", t.config.priority},
                           {"weight", t.config.weight},
                           {"breaker", std::move(breaker)}});
      }
      out.push_back({{"name", route->name}, {"targets", std::move(targets)}});
    }
  }
  return json_response(200, {{"result", std::move(out)}});
}

}  // namespace

std::optional<ApiResponse> handle(std::string_view target, const Telemetry& telemetry) {
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query = qmark == std::string_view::npos ? "" : target.substr(qmark + 1);
  if (path == "/metrics") {
    return ApiResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                       telemetry.metrics ? telemetry.metrics->render() : std::string()};
  }
  if (path == "/api/routes") {
    if (!query.empty()) return bad_request("/api/routes takes no query parameters");
    return routes(telemetry.routes.get());
  }
  constexpr std::string_view kLogs = "/api/logs";
  const bool is_logs = path == kLogs || path.substr(0, kLogs.size() + 1) == "/api/logs/";
  if (!is_logs && path != "/api/usage") return std::nullopt;
  if (!telemetry.log) {
    return ApiResponse{404, "application/json",
                       error_body(Error{ErrorCode::kRouteNotFound,
                                        "the request log is off (request_log.enabled is false)"})};
  }
  Params params;
  if (auto e = parse_query(query, params)) return *e;
  if (path == "/api/usage") return usage(params, *telemetry.log);
  if (path == kLogs) return logs(params, *telemetry.log);
  const std::string_view id = path.substr(kLogs.size() + 1);
  if (!params.empty()) return bad_request("/api/logs/{id} takes no query parameters");
  auto found = telemetry.log->get(id);
  if (!found) return internal_error(found.error());
  if (!*found) {
    return ApiResponse{404, "application/json",
                       error_body(Error{ErrorCode::kRouteNotFound, "no log record " + shown(id)})};
  }
  return json_response(200, {{"result", record_json(**found)}});
}

namespace {

// PATCH /api/logs/{id}'s body, Cloudflare's shape: {"feedback": -1|0|1, "score": 0-100,
// "metadata": {flat entries}}, each optional but at least one. Bounded as cf-aig-metadata is.
Result<store::FeedbackUpdate> read_feedback(std::string_view body) {
  const auto fail = [](std::string detail) {
    return Error{ErrorCode::kBadRequest, std::move(detail)};
  };
  const auto in = json::parse(body, nullptr, false);
  if (in.is_discarded() || !in.is_object()) {
    return fail(R"(the body must be a JSON object such as {"feedback":1,"score":90})");
  }
  store::FeedbackUpdate out;
  for (const auto& [name, value] : in.items()) {
    if (name == "feedback") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < -1 ||
          value.get<std::int64_t>() > 1) {
        return fail("feedback must be -1, 0 or 1");
      }
      out.feedback = static_cast<std::int8_t>(value.get<std::int64_t>());
    } else if (name == "score") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
          value.get<std::int64_t>() > 100) {
        return fail("score must be a whole number from 0 to 100");
      }
      out.score = static_cast<std::uint8_t>(value.get<std::int64_t>());
    } else if (name == "metadata") {
      if (!value.is_object()) return fail("metadata must be an object");
      if (value.size() > store::FeedbackUpdate::kMaxMetadataEntries) {
        return fail("metadata has " + std::to_string(value.size()) +
                    " entries; a record keeps at most 5");
      }
      for (const auto& [key, v] : value.items()) {
        if (key.empty() || key.size() > 64) {
          return fail("a metadata key must have 1 to 64 bytes");
        }
        if (!v.is_string() && !v.is_number() && !v.is_boolean()) {
          return fail("metadata value of '" + shown(key) +
                      "' must be a string, a number or a boolean");
        }
        if (v.is_string() && v.get_ref<const std::string&>().size() > text::kMaxLabelBytes) {
          return fail("metadata value of '" + shown(key) + "' is over 256 bytes");
        }
        out.metadata.emplace_back(key, v.dump(-1, ' ', false, json::error_handler_t::replace));
      }
    } else {
      return fail("unknown field " + shown(name) + " (known: feedback, score, metadata)");
    }
  }
  if (!out.feedback && !out.score && out.metadata.empty()) {
    return fail("nothing to change: give feedback, score or metadata");
  }
  return out;
}

constexpr std::string_view kLogsPrefix = "/api/logs/";

}  // namespace

std::optional<ApiResponse> handle_patch(std::string_view target, std::string_view body,
                                        const Telemetry& telemetry) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (!path.starts_with(kLogsPrefix) || path.size() == kLogsPrefix.size()) return std::nullopt;
  if (path.size() != target.size()) return bad_request("PATCH /api/logs/{id} takes no query");
  if (!telemetry.log) {
    return ApiResponse{404, "application/json",
                       error_body(Error{ErrorCode::kRouteNotFound,
                                        "the request log is off (request_log.enabled is false)"})};
  }
  auto update = read_feedback(body);
  if (!update) return bad_request(update.error().detail);
  const std::string_view id = path.substr(kLogsPrefix.size());
  auto updated = telemetry.log->update(id, *update);
  if (!updated) {
    return updated.error().code == ErrorCode::kBadRequest ? bad_request(updated.error().detail)
                                                          : internal_error(updated.error());
  }
  if (!*updated) {
    return ApiResponse{404, "application/json",
                       error_body(Error{ErrorCode::kRouteNotFound, "no log record " + shown(id)})};
  }
  (*updated)->request_body.reset();  // the answer shows the fields that can change
  (*updated)->response_body.reset();
  return json_response(200, {{"result", record_json(**updated)}});
}

bool known_path(std::string_view path) {
  return path == "/metrics" || path == "/api/routes" || path == "/api/usage" ||
         path == "/api/logs" || path.starts_with(kLogsPrefix);
}

std::string_view allowed_methods(std::string_view path) {
  return path.starts_with(kLogsPrefix) ? "GET, HEAD, PATCH" : "GET, HEAD";
}

}  // namespace aigw::admin
