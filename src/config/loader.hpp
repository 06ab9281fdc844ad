#pragma once
// The config loader's own parts, shared by its files (not part of its interface, which is
// config/load.hpp): the Loader that walks the YAML and collects diagnostics, its Entry and
// Value, and the text helpers of its messages. load.cpp holds the entry points and the
// checks across sections; loader.cpp the generic readers (scalars, units, ${VAR}, paths);
// load_server.cpp, load_providers.cpp and load_limits.cpp one group of sections each.

#include "config/load.hpp"
#include "core/retry_settings.hpp"
#include "core/text.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::config::detail {

using text::format_duration;
using text::is_tchar;
using text::lower;

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * kKiB;
inline constexpr std::size_t kGiB = 1024 * kMiB;
// A config is a few KiB; the cap only keeps a wrong path (a log, a device) from being read.
inline constexpr std::size_t kMaxFileBytes = 1 * kMiB;
// Longer values are cut in diagnostics so one bad line cannot flood the terminal.
inline constexpr std::size_t kMaxShownChars = 80;
inline constexpr Duration kMaxTimeout = std::chrono::hours(1);
inline constexpr Duration kMaxCacheTtl = std::chrono::hours(24 * 365);

inline constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
// Provider headers the gateway itself owns: Host and the framing headers are computed per
// request, and the rest are hop-by-hop (RFC 9110 §7.6.1), meaningless on a pooled connection.
inline constexpr std::string_view kRefusedHeaders[] = {
    "host",       "content-length", "transfer-encoding",
    "connection", "keep-alive",     "proxy-connection",
    "te",         "trailer",        "upgrade"};

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// "unknown key (did you mean 'x'?)", or the list of the known ones.
std::string unknown_key_message(std::string_view key, std::vector<std::string_view> known);
// For diagnostics: control characters escaped and long text cut (at a UTF-8 boundary).
std::string printable(std::string_view s);
// 2097152 -> "2MiB"; sizes that are no whole unit in bytes.
std::string format_size(std::size_t bytes);
// "<digits>[.<digits>]<unit>" scaled by the unit's multiplier; nullopt unless the result is
// a whole number of base units that fits in `max`.
std::optional<std::uint64_t> parse_scaled(
    std::string_view text, std::initializer_list<std::pair<std::string_view, std::uint64_t>> units,
    std::uint64_t max);
// [a-z0-9][a-z0-9-]*: provider, key and route names.
bool valid_slug(std::string_view s);
// An environment variable's name: letters, digits and '_', not starting with a digit.
bool valid_env_name(std::string_view s);
inline bool is_wildcard_host(std::string_view host) { return host == "0.0.0.0" || host == "::"; }
// 127.0.0.0/8, ::1 or localhost: reachable from this machine only.
inline bool is_loopback_host(std::string_view host) {
  return host.starts_with("127.") || host == "::1" || host == "localhost";
}

// One key/value pair of a mapping (the document root has a null key), with its dotted path.
struct Entry {
  YAML::Node key;
  YAML::Node value;
  std::string path;
};

// A scalar after ${VAR} expansion. `secret` values are shown as *** in diagnostics.
struct Value {
  std::string text;
  bool secret = false;
};

inline std::string quoted(const Value& v) {
  return v.secret ? std::string(Secret::kMasked) : "'" + printable(v.text) + "'";
}
inline std::string shown(const Value& v) {
  return v.secret ? std::string(Secret::kMasked) : printable(v.text);
}

class Loader {
 public:
  Loader(std::string file, const EnvLookup& env)
      : file_(std::move(file)), base_dir_(std::filesystem::path(file_).parent_path()), env_(env) {}

  void read(const YAML::Node& root, Config& config);
  void error(const SourceMark& mark, std::string path, std::string message) {
    diagnostics_.push_back(Diagnostic{mark, std::move(path), std::move(message)});
  }
  SourceMark mark_of(const YAML::Mark& m) const {
    if (m.is_null()) return SourceMark{file_, 0, 0};
    return SourceMark{file_, m.line + 1, m.column + 1};
  }
  std::vector<Diagnostic> take() { return std::move(diagnostics_); }

  // The price table file (metering.pricing_file, or pricing.yaml next to the config): its
  // problems are reported against its own name and lines.
  void read_price_table(const YAML::Node& root, MeteringConfig& out);
  // metering.prices, applied over the table's entries once the table is read.
  void apply_inline_prices(MeteringConfig& out) const {
    for (const auto& [name, price] : inline_prices_) out.prices[name] = price;
  }
  const SourceMark& pricing_file_mark() const noexcept { return pricing_file_mark_; }
  const std::filesystem::path& base_dir() const noexcept { return base_dir_; }

 private:
  using Reader = std::function<void(const Entry&)>;
  struct Field {
    std::string_view name;
    Reader read;
    bool listed = true;  // offered in "did you mean" and "expected one of" (not a renamed key)
  };

  // Where a problem with the entry's value is reported: the value itself, or its key when the
  // value is empty (yaml-cpp marks an empty value at the next token, often the next line).
  SourceMark at(const Entry& e) const {
    if (!e.value.IsNull() && !e.value.Mark().is_null()) return mark_of(e.value.Mark());
    if (e.key.IsDefined() && !e.key.Mark().is_null()) return mark_of(e.key.Mark());
    return mark_of(e.value.Mark());
  }
  void error(const Entry& e, std::string message) { error(at(e), e.path, std::move(message)); }

  template <class Visit>
  void for_each_entry(const Entry& parent, bool fold_case, std::string_view duplicate, Visit visit);
  void read_fields(const Entry& parent, const std::vector<Field>& fields);

  std::optional<Value> expand(const Entry& e, const std::string& raw);
  std::optional<Value> scalar(const Entry& e, std::string_view expected);

  template <class T>
  void read_uint(const Entry& e, T& out, std::uint64_t min, std::uint64_t max);
  void read_size(const Entry& e, std::size_t& out, std::size_t min, std::size_t max);
  void read_duration(const Entry& e, Duration& out, bool allow_zero, Duration max = kMaxTimeout);
  void read_optional_duration(const Entry& e, std::optional<Duration>& out,
                              Duration max = kMaxTimeout);
  void read_bool(const Entry& e, bool& out);
  void read_listen(const Entry& e, ListenAddress& out, SourceMark* mark);
  std::optional<Value> resolve_path(Value v) const;
  // A file aigw creates at start (access log, request log): resolved, and its directory
  // checked now so that --check-config reports a missing one. nullopt after an error.
  std::optional<std::string> output_path(const Entry& e, const Value& v,
                                         std::string_view when_empty);

  void read_server(const Entry& e, ServerConfig& out);
  void read_admin(const Entry& e, AdminConfig& out);
  void read_upstream(const Entry& e, UpstreamConfig& out);
  void read_providers(const Entry& e, std::map<std::string, ProviderConfig>& out);
  void read_provider(const Entry& e, ProviderConfig& out);
  void read_provider_keys(const Entry& e, ProviderConfig& out);
  void read_headers(const Entry& e, std::vector<std::pair<std::string, Secret>>& out);
  void read_access_log(const Entry& e, AccessLogConfig& out);
  void read_cache(const Entry& e, CacheConfig& out);
  void read_request_log(const Entry& e, RequestLogConfig& out);
  // A top-level section renamed in 0.2: an error naming its new place.
  void renamed(const Entry& e, std::string_view now);
  void read_metering(const Entry& e, MeteringConfig& out);
  void read_auth(const Entry& e, AuthConfig& out);
  void read_rate_limits(const Entry& e, std::vector<RateLimitRule>& out);
  void read_keys(const Entry& e, std::vector<VirtualKey>& out);
  std::optional<std::array<std::uint8_t, 32>> token_digest(const Entry& e);
  void read_rate_limit(const Entry& e, std::size_t index, RateLimitRule& out);
  std::vector<Field> rule_fields(RateLimitRule& out, bool budget, bool& has_window);
  void read_budgets(const Entry& e, std::vector<RateLimitRule>& out);
  void read_routes(const Entry& e, std::vector<RouteConfig>& out);
  void read_route(const Entry& e, RouteConfig& out);
  void read_route_target(const Entry& e, RouteTargetConfig& out);
  void read_breaker(const Entry& e, BreakerConfig& out);
  void read_redis(const Entry& e, RedisConfig& out);
  // `store: local | redis` of a feature; `redis` is checked against the redis: section once
  // every section is read.
  void read_store(const Entry& e, StateStore& out);
  void read_on_error(const Entry& e, OnStoreError& out);
  // A file that must be readable now (a CA bundle): resolved against the config's directory.
  void read_readable_file(const Entry& e, std::optional<std::string>& out);
  void read_token(const Entry& e, AuthConfig& out);
  void read_price(const Entry& e, ModelPrice& out);
  void read_prices(const Entry& e, std::map<std::string, ModelPrice>& out);
  void read_dollars(const Entry& e, double& out);

  std::string file_;
  std::filesystem::path base_dir_;  // relative paths in the config are relative to its file
  const EnvLookup& env_;
  std::vector<Diagnostic> diagnostics_;
  std::map<std::string, ModelPrice> inline_prices_;  // metering.prices
  SourceMark pricing_file_mark_;  // where metering.pricing_file was set (line 0: not set)
  // Checked once every section is read (keys are tokens too; they need auth).
  SourceMark auth_mark_;
  std::size_t auth_tokens_listed_ = 0;
  SourceMark keys_mark_;
  bool log_path_given_ = false;  // request_log.path is in the file (resolved when read)
  // providers.*.keys
  std::vector<std::pair<SourceMark, std::string>> stored_keys_marks_;
  // Credential headers in providers.*.headers and route targets' headers.
  std::vector<std::pair<SourceMark, std::string>> credential_header_marks_;
  struct KeyRef {  // rate_limits[i].key, budgets[i].key: checked against keys once read
    std::string path;
    SourceMark mark;
    std::string name;
  };
  std::vector<KeyRef> rule_key_refs_;
  // rate_limits[i].unit: tokens, checked against metering.enabled once both are read.
  std::vector<std::pair<std::string, SourceMark>> metered_rule_marks_;
  // `store: redis` entries, refused when the config has no redis: section.
  std::vector<std::pair<SourceMark, std::string>> redis_store_marks_;
  SourceMark server_listen_mark_;
  SourceMark admin_listen_mark_;
  SourceMark admin_tokens_mark_;
  bool listen_failed_ = false;  // then the server/admin port overlap check is skipped
};

template <class Visit>
void Loader::for_each_entry(const Entry& parent, bool fold_case, std::string_view duplicate,
                            Visit visit) {
  const YAML::Node& node = parent.value;
  if (node.IsNull()) return;  // `section:` with nothing under it = all defaults
  if (!node.IsMap()) {
    error(parent, "expected a mapping");
    return;
  }
  std::map<std::string, SourceMark> seen;  // by key (lowercased with fold_case)
  for (auto it = node.begin(); it != node.end(); ++it) {
    Entry child{it->first, it->second, ""};
    const SourceMark key_mark = mark_of(child.key.Mark());
    if (!child.key.IsScalar()) {
      error(key_mark, parent.path, "keys must be plain strings");
      continue;
    }
    const std::string& name = child.key.Scalar();
    child.path = parent.path.empty() ? name : parent.path + "." + name;
    // yaml-cpp keeps both entries of a repeated key; silently taking either would hide a typo.
    std::string id = fold_case ? lower(name) : name;
    if (const auto first = seen.find(id); first != seen.end()) {
      error(key_mark, child.path,
            std::string(duplicate) + " (first at " + std::to_string(first->second.line) + ":" +
                std::to_string(first->second.column) + ")");
      continue;
    }
    seen.emplace(std::move(id), key_mark);
    visit(child);
  }
}

template <class T>
void Loader::read_uint(const Entry& e, T& out, std::uint64_t min, std::uint64_t max) {
  const auto v = scalar(e, "an unsigned integer");
  if (!v) return;
  const std::string& t = v->text;
  if (t.empty() || !std::all_of(t.begin(), t.end(), is_digit)) {
    error(e, "expected an unsigned integer (got " + quoted(*v) + ")");
    return;
  }
  // Too many digits for 64 bits is simply "too large".
  const auto n = parse_scaled(t, {{"", 1}}, std::numeric_limits<std::uint64_t>::max());
  if (!n || *n > max) {
    error(e, "must be <= " + std::to_string(max) + " (got " + shown(*v) + ")");
  } else if (*n < min) {
    error(e, "must be >= " + std::to_string(min) + " (got " + shown(*v) + ")");
  } else {
    out = static_cast<T>(*n);
  }
}

}  // namespace aigw::config::detail
