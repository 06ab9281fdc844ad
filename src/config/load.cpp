// YAML → Config: a closed schema walked by hand so that every problem is reported (not just
// the first) at the line and column where it was written. Format of the diagnostics and the
// meaning of every key: docs/configuration.md.

#include "config/load.hpp"

#include "core/path_rules.hpp"
#include "core/sha256.hpp"
#include "core/text.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <utility>

namespace aigw::config {
namespace {

using text::lower;

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;
constexpr std::size_t kGiB = 1024 * kMiB;
// A config is a few KiB; the cap only keeps a wrong path (a log, a device) from being read.
constexpr std::size_t kMaxFileBytes = 1 * kMiB;
// Longer values are cut in diagnostics so one bad line cannot flood the terminal.
constexpr std::size_t kMaxShownChars = 80;
constexpr Duration kMaxTimeout = std::chrono::hours(1);
constexpr Duration kMaxCacheTtl = std::chrono::hours(24 * 365);

constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
// Provider headers the gateway itself owns: Host and the framing headers are computed per
// request, and the rest are hop-by-hop (RFC 9110 §7.6.1), meaningless on a pooled connection.
constexpr std::string_view kRefusedHeaders[] = {"host",       "content-length", "transfer-encoding",
                                                "connection", "keep-alive",     "proxy-connection",
                                                "te",         "trailer",        "upgrade"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string unknown_key_message(std::string_view key, std::vector<std::string_view> known) {
  std::sort(known.begin(), known.end());
  if (auto best = text::closest(key, known)) {
    return "unknown key (did you mean '" + std::string(*best) + "'?)";
  }
  std::string out = "unknown key (expected one of: ";
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (i > 0) out += ", ";
    out += known[i];
  }
  return out + ")";
}

// For diagnostics: control characters escaped and long text cut (at a UTF-8 boundary).
std::string printable(std::string_view s) {
  std::size_t limit = std::min(s.size(), kMaxShownChars);
  while (limit > 0 && limit < s.size() && (static_cast<unsigned char>(s[limit]) & 0xc0) == 0x80) {
    --limit;
  }
  std::string out;
  for (std::size_t i = 0; i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (limit < s.size()) out += "...";
  return out;
}

std::string format_size(std::size_t bytes) {
  if (bytes != 0 && bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "GiB";
  if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes);
}

// "<digits>[.<digits>]<unit>" scaled by the unit's multiplier; nullopt unless the result is
// a whole number of base units that fits in `max`.
std::optional<std::uint64_t> parse_scaled(
    std::string_view text, std::initializer_list<std::pair<std::string_view, std::uint64_t>> units,
    std::uint64_t max) {
  std::size_t i = 0;
  std::uint64_t mantissa = 0;
  std::uint64_t divisor = 1;
  std::size_t int_digits = 0;
  std::size_t frac_digits = 0;
  auto push_digit = [&](char c) {
    return !__builtin_mul_overflow(mantissa, 10u, &mantissa) &&
           !__builtin_add_overflow(mantissa, static_cast<std::uint64_t>(c - '0'), &mantissa);
  };
  for (; i < text.size() && is_digit(text[i]); ++i, ++int_digits) {
    if (!push_digit(text[i])) return std::nullopt;
  }
  if (int_digits == 0) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && is_digit(text[i]); ++i, ++frac_digits) {
      if (!push_digit(text[i]) || __builtin_mul_overflow(divisor, 10u, &divisor)) {
        return std::nullopt;
      }
    }
    if (frac_digits == 0) return std::nullopt;
  }
  const std::string_view unit = text.substr(i);
  for (const auto& [name, multiplier] : units) {
    if (unit != name) continue;
    std::uint64_t scaled = 0;
    if (__builtin_mul_overflow(mantissa, multiplier, &scaled)) return std::nullopt;
    if (scaled % divisor != 0) return std::nullopt;  // a fraction of a millisecond or byte
    if (scaled / divisor > max) return std::nullopt;
    return scaled / divisor;
  }
  return std::nullopt;
}

using text::format_duration;

using text::is_tchar;

bool valid_slug(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || is_digit(c) || (c == '-' && i > 0);
    if (!ok) return false;
  }
  return true;
}

bool valid_env_name(std::string_view s) {
  if (s.empty() || is_digit(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

bool is_wildcard_host(std::string_view host) { return host == "0.0.0.0" || host == "::"; }

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

std::string quoted(const Value& v) {
  return v.secret ? std::string(Secret::kMasked) : "'" + printable(v.text) + "'";
}
std::string shown(const Value& v) {
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
  void read_optional_duration(const Entry& e, std::optional<Duration>& out);
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
  void read_logging(const Entry& e, LoggingConfig& out);
  void read_cache(const Entry& e, CacheConfig& out);
  void read_log(const Entry& e, RequestLogConfig& out);
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
  bool log_path_given_ = false;  // log.path is in the file (resolved when read)
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
  SourceMark server_listen_mark_;
  SourceMark admin_listen_mark_;
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

void Loader::read_fields(const Entry& parent, const std::vector<Field>& fields) {
  for_each_entry(parent, false, "duplicate key", [&](const Entry& child) {
    const std::string& name = child.key.Scalar();
    const auto field =
        std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == name; });
    if (field == fields.end()) {
      std::vector<std::string_view> known;
      for (const Field& f : fields) known.push_back(f.name);
      error(mark_of(child.key.Mark()), child.path, unknown_key_message(name, std::move(known)));
      return;
    }
    field->read(child);
  });
}

// ${NAME} is replaced by the variable's value; $${ is a literal ${. The result is not
// re-scanned, so a secret that happens to contain ${ stays as it is.
std::optional<Value> Loader::expand(const Entry& e, const std::string& raw) {
  Value out;
  bool ok = true;
  for (std::size_t i = 0; i < raw.size();) {
    if (raw.compare(i, 3, "$${") == 0) {
      out.text += "${";
      i += 3;
      continue;
    }
    if (raw.compare(i, 2, "${") != 0) {
      out.text += raw[i++];
      continue;
    }
    const std::size_t close = raw.find('}', i + 2);
    if (close == std::string::npos) {
      error(e, "unterminated '${' (write '$${' for a literal '${')");
      return std::nullopt;
    }
    const std::string name = raw.substr(i + 2, close - i - 2);
    i = close + 1;
    if (!valid_env_name(name)) {
      // The text between the braces is not echoed: a pasted key is the likeliest culprit.
      error(e,
            "invalid environment variable reference (a name is letters, digits and '_', "
            "not starting with a digit)");
      ok = false;
    } else if (auto value = env_(name)) {
      out.text += *value;
      out.secret = true;
    } else {
      error(e, "environment variable " + name + " is not set");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Value> Loader::scalar(const Entry& e, std::string_view expected) {
  const char* got = nullptr;
  if (e.value.IsNull()) got = "an empty value";
  if (e.value.IsSequence()) got = "a sequence";
  if (e.value.IsMap()) got = "a mapping";
  if (got != nullptr) {
    error(e, "expected " + std::string(expected) + " (got " + got + ")");
    return std::nullopt;
  }
  return expand(e, e.value.Scalar());
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

void Loader::read_size(const Entry& e, std::size_t& out, std::size_t min, std::size_t max) {
  const auto v = scalar(e, "a size");
  if (!v) return;
  const auto n = parse_size(v->text);
  if (!n) {
    error(e, "must be a size such as 512, 64KiB, 8MiB (got " + quoted(*v) + ")");
  } else if (*n > max) {
    error(e, "must be <= " + format_size(max) + " (got " + shown(*v) + ")");
  } else if (*n < min) {
    error(e, "must be >= " + format_size(min) + " (got " + shown(*v) + ")");
  } else {
    out = *n;
  }
}

void Loader::read_duration(const Entry& e, Duration& out, bool allow_zero, Duration max) {
  const auto v = scalar(e, "a duration");
  if (!v) return;
  const auto d = parse_duration(v->text);
  if (!d) {
    error(e, "must be a duration with a unit such as 250ms, 30s, 5m (got " + quoted(*v) + ")");
  } else if (*d > max) {
    error(e, "must be <= " + format_duration(max) + " (got " + shown(*v) + ")");
  } else if (!allow_zero && d->count() == 0) {
    error(e, "must be > 0 (got " + shown(*v) + ")");
  } else {
    out = *d;
  }
}

void Loader::read_optional_duration(const Entry& e, std::optional<Duration>& out) {
  Duration d{-1};
  read_duration(e, d, false);
  if (d.count() >= 0) out = d;
}

void Loader::read_bool(const Entry& e, bool& out) {
  const auto v = scalar(e, "true or false");
  if (!v) return;
  // Only YAML 1.2's spelling: yes/no/on/off (YAML 1.1) are the classic "Norway problem".
  if (v->text == "true") {
    out = true;
  } else if (v->text == "false") {
    out = false;
  } else {
    error(e, "expected true or false (got " + quoted(*v) + ")");
  }
}

void Loader::read_listen(const Entry& e, ListenAddress& out, SourceMark* mark) {
  const auto v = scalar(e, "an address");
  if (!v) {
    listen_failed_ = true;
    return;
  }
  if (auto a = parse_listen(v->text)) {
    out = std::move(*a);
    *mark = at(e);
  } else {
    error(e, "must be host:port, [ipv6]:port or :port with a port from 0 to 65535 (got " +
                 quoted(*v) + ")");
    listen_failed_ = true;
  }
}

// A file path, made absolute against the config file's directory so the meaning of the config
// does not depend on the directory aigw was started from.
std::optional<Value> Loader::resolve_path(Value v) const {
  if (v.text.empty()) return std::nullopt;
  const std::filesystem::path p(v.text);
  if (!p.is_absolute() && !base_dir_.empty()) v.text = (base_dir_ / p).lexically_normal().string();
  return v;
}

std::optional<std::string> Loader::output_path(const Entry& e, const Value& v,
                                               std::string_view when_empty) {
  const auto path = resolve_path(v);
  if (!path) {
    error(e, std::string(when_empty));
    return std::nullopt;
  }
  const auto dir = std::filesystem::path(path->text).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    error(e, "directory " + quoted(Value{dir.string(), v.secret}) + " does not exist");
    return std::nullopt;
  }
  return path->text;
}

void Loader::read(const YAML::Node& root, Config& config) {
  const Entry top{YAML::Node(), root, ""};
  read_fields(top,
              {
                  {"server", [&](const Entry& e) { read_server(e, config.server); }},
                  {"admin", [&](const Entry& e) { read_admin(e, config.admin); }},
                  {"auth", [&](const Entry& e) { read_auth(e, config.auth); }},
                  {"keys", [&](const Entry& e) { read_keys(e, config.keys); }},
                  {"upstream", [&](const Entry& e) { read_upstream(e, config.upstream); }},
                  {"providers", [&](const Entry& e) { read_providers(e, config.providers); }},
                  {"logging", [&](const Entry& e) { read_logging(e, config.logging); }},
                  {"cache", [&](const Entry& e) { read_cache(e, config.cache); }},
                  {"rate_limits", [&](const Entry& e) { read_rate_limits(e, config.rate_limits); }},
                  {"budgets", [&](const Entry& e) { read_budgets(e, config.budgets); }},
                  {"log", [&](const Entry& e) { read_log(e, config.log); }},
                  {"metering", [&](const Entry& e) { read_metering(e, config.metering); }},
                  {"routes", [&](const Entry& e) { read_routes(e, config.routes); }},
              });
  if (config.auth.enabled && auth_tokens_listed_ == 0 && config.keys.empty()) {
    error(auth_mark_, "auth.tokens", "auth.enabled is true but no token or key is configured");
  }
  if (!config.keys.empty() && !config.auth.enabled) {
    error(keys_mark_, "keys", "virtual keys need auth.enabled: true");
  }
  if (!config.auth.enabled) {
    for (const auto& [mark, path] : stored_keys_marks_) {
      error(mark, path,
            "stored provider keys need auth.enabled: true (without it, anyone who reaches the "
            "gateway spends them)");
    }
    if (!config.auth.allow_anonymous_credentials) {
      for (const auto& [mark, path] : credential_header_marks_) {
        error(mark, path,
              "a credential in headers needs auth.enabled: true (without it, anyone who "
              "reaches the gateway spends it); for a deliberately open local setup set "
              "auth.allow_anonymous_credentials: true");
      }
    }
  }
  for (const auto& ref : rule_key_refs_) {
    if (std::none_of(config.keys.begin(), config.keys.end(),
                     [&](const VirtualKey& k) { return k.name == ref.name; })) {
      error(ref.mark, ref.path, "no key named '" + ref.name + "' in keys");
    }
  }
  if (!config.metering.enabled) {
    for (const auto& [path, mark] : metered_rule_marks_) {
      error(mark, path,
            std::string(path.starts_with("budgets") ? "budgets" : "token limits") +
                " need metering (metering.enabled is false)");
    }
  }
  // The default (log.path not in the file) is next to the config file, as a given path is
  // once read; a given path is resolved already and must not be resolved twice.
  if (const std::filesystem::path p(config.log.path);
      !log_path_given_ && p.is_relative() && !base_dir_.empty()) {
    config.log.path = (base_dir_ / p).lexically_normal().string();  // the default, unset
  }
  // With SO_REUSEPORT a second bind to the same port does not fail: the kernel would quietly
  // spread client connections over the admin listener. Refuse the overlap instead.
  const ListenAddress& s = config.server.listen;
  const ListenAddress& a = config.admin.listen;
  if (!listen_failed_ && config.admin.enabled && s.port != 0 && s.port == a.port &&
      (s.host == a.host || is_wildcard_host(s.host) || is_wildcard_host(a.host))) {
    error(admin_listen_mark_.line != 0 ? admin_listen_mark_ : server_listen_mark_,
          admin_listen_mark_.line != 0 ? "admin.listen" : "server.listen",
          "admin.listen and server.listen must not share port " + std::to_string(s.port));
  }
}

void Loader::read_server(const Entry& e, ServerConfig& out) {
  read_fields(
      e,
      {
          {"listen", [&](const Entry& f) { read_listen(f, out.listen, &server_listen_mark_); }},
          {"workers", [&](const Entry& f) { read_uint(f, out.workers, 0, 1024); }},
          {"max_header_bytes",
           [&](const Entry& f) { read_size(f, out.max_header_bytes, kKiB, kMiB); }},
          {"max_body_bytes", [&](const Entry& f) { read_size(f, out.max_body_bytes, kKiB, kGiB); }},
          {"request_timeout",
           [&](const Entry& f) { read_duration(f, out.request_timeout, false); }},
          {"idle_timeout", [&](const Entry& f) { read_duration(f, out.idle_timeout, false); }},
          {"drain_timeout", [&](const Entry& f) { read_duration(f, out.drain_timeout, true); }},
          {"max_connections",
           [&](const Entry& f) { read_uint(f, out.max_connections, 1, 1'000'000); }},
          {"max_connections_per_address",
           [&](const Entry& f) { read_uint(f, out.max_connections_per_address, 0, 1'000'000); }},
          {"first_request_timeout",
           [&](const Entry& f) { read_duration(f, out.first_request_timeout, false); }},
          {"validate_json", [&](const Entry& f) { read_bool(f, out.validate_json); }},
      });
}

void Loader::read_admin(const Entry& e, AdminConfig& out) {
  read_fields(
      e, {
             {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
             {"listen", [&](const Entry& f) { read_listen(f, out.listen, &admin_listen_mark_); }},
         });
}

void Loader::read_upstream(const Entry& e, UpstreamConfig& out) {
  read_fields(
      e, {
             {"connect_timeout",
              [&](const Entry& f) { read_duration(f, out.connect_timeout, false); }},
             {"tls_timeout", [&](const Entry& f) { read_duration(f, out.tls_timeout, false); }},
             {"first_byte_timeout",
              [&](const Entry& f) { read_duration(f, out.first_byte_timeout, false); }},
             {"read_timeout", [&](const Entry& f) { read_duration(f, out.read_timeout, false); }},
             {"pool_max_idle_per_host",
              [&](const Entry& f) { read_uint(f, out.pool_max_idle_per_host, 0, 10'000); }},
             {"pool_idle_timeout",
              [&](const Entry& f) { read_duration(f, out.pool_idle_timeout, false); }},
             {"max_response_header_bytes",
              [&](const Entry& f) { read_size(f, out.max_response_header_bytes, kKiB, kMiB); }},
             {"max_attempts", [&](const Entry& f) { read_uint(f, out.retry.max_attempts, 1, 5); }},
             {"retry_delay",
              [&](const Entry& f) {
                read_duration(f, out.retry.delay, true, std::chrono::seconds(5));
              }},
             {"backoff",
              [&](const Entry& f) {
                const auto v = scalar(f, "constant, linear or exponential");
                if (!v) return;
                if (v->text == "constant") {
                  out.retry.backoff = Backoff::kConstant;
                } else if (v->text == "linear") {
                  out.retry.backoff = Backoff::kLinear;
                } else if (v->text == "exponential") {
                  out.retry.backoff = Backoff::kExponential;
                } else {
                  error(f, "must be constant, linear or exponential (got " + quoted(*v) + ")");
                }
              }},
             {"request_timeout",
              [&](const Entry& f) { read_optional_duration(f, out.retry.request_timeout); }},
             {"max_steps", [&](const Entry& f) { read_uint(f, out.max_steps, 1, 20); }},
             {"max_retry_after",
              [&](const Entry& f) {
                read_duration(f, out.retry.max_retry_after, true, std::chrono::hours(1));
              }},
         });
}

void Loader::read_providers(const Entry& e, std::map<std::string, ProviderConfig>& out) {
  for_each_entry(e, false, "duplicate key", [&](const Entry& p) {
    const std::string& slug = p.key.Scalar();
    ProviderConfig provider;
    provider.name = slug;
    provider.mark = mark_of(p.key.Mark());
    const bool valid = valid_slug(slug);
    if (!valid) {
      std::string message = "provider name must match [a-z0-9][a-z0-9-]*";
      std::string fixed = lower(slug);
      std::replace(fixed.begin(), fixed.end(), '_', '-');
      if (valid_slug(fixed)) message += " (did you mean '" + fixed + "'?)";
      error(provider.mark, p.path, std::move(message));
    }
    // An invalid entry is still read so that its other problems show in the same run.
    read_provider(p, provider);
    if (valid) out.emplace(slug, std::move(provider));
  });
}

void Loader::read_provider(const Entry& e, ProviderConfig& out) {
  read_fields(
      e,
      {
          {"base_url",
           [&](const Entry& f) {
             const auto v = scalar(f, "a URL");
             if (!v) return;
             // Only the scheme here; the registry parses the URL (and knows templates).
             const std::string scheme = lower(v->text.substr(0, 8));
             if (!scheme.starts_with("http://") && !scheme.starts_with("https://")) {
               error(f, "must start with http:// or https:// (got " + quoted(*v) + ")");
               return;
             }
             out.base_url = v->text;
             out.base_url_mark = at(f);
           }},
          {"ca_file",
           [&](const Entry& f) {
             const auto v = scalar(f, "a path");
             if (!v) return;
             const auto path = resolve_path(*v);
             if (!path) {
               error(f, "must not be empty");
               return;
             }
             // Checked now so that --check-config catches it, not the first TLS handshake.
             std::error_code ec;
             if (std::filesystem::is_directory(path->text, ec)) {
               error(f, "cannot read " + quoted(*path) + ": is a directory");
               return;
             }
             std::FILE* file = std::fopen(path->text.c_str(), "rb");
             if (file == nullptr) {
               error(f, "cannot read " + quoted(*path) + ": " + std::strerror(errno));
               return;
             }
             std::fclose(file);
             out.ca_file = path->text;
           }},
          {"tls_verify", [&](const Entry& f) { read_bool(f, out.tls_verify); }},
          {"headers", [&](const Entry& f) { read_headers(f, out.headers); }},
          {"connect_timeout",
           [&](const Entry& f) { read_optional_duration(f, out.connect_timeout); }},
          {"first_byte_timeout",
           [&](const Entry& f) { read_optional_duration(f, out.first_byte_timeout); }},
          {"read_timeout", [&](const Entry& f) { read_optional_duration(f, out.read_timeout); }},
          {"include_usage",
           [&](const Entry& f) {
             bool b = true;
             read_bool(f, b);
             out.include_usage = b;
           }},
          {"keys", [&](const Entry& f) { read_provider_keys(f, out); }},
          {"key_paths",
           [&](const Entry& f) {
             if (!f.value.IsSequence()) {
               error(f, "expected a list such as [\"POST **/chat/completions\"]");
               return;
             }
             auto& rules = out.key_paths.emplace();
             for (std::size_t i = 0; i < f.value.size(); ++i) {
               const Entry item{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"};
               const auto v = scalar(item, "a method and path pattern");
               if (!v) continue;
               std::string why;
               if (auto rule = path_rules::parse(v->text, why)) {
                 rules.push_back(std::move(*rule));
               } else {
                 error(item, why + " (got " + quoted(*v) + ")");
               }
             }
           }},
          {"key_header",
           [&](const Entry& f) {
             const auto v = scalar(f, "a header name");
             if (!v) return;
             if (v->text.empty() || !std::all_of(v->text.begin(), v->text.end(), is_tchar)) {
               error(f, "not a valid HTTP header name (got " + quoted(*v) + ")");
               return;
             }
             out.key_header = lower(v->text);
           }},
      });
}

// alias: ${ENV_VAR}, one entry per stored key. A key is never written in the file: the file
// is shared and committed far more often than the environment.
void Loader::read_provider_keys(const Entry& e, ProviderConfig& out) {
  out.keys_mark = at(e);
  stored_keys_marks_.emplace_back(at(e), e.path);
  for_each_entry(e, false, "duplicate alias", [&](const Entry& k) {
    const std::string& alias = k.key.Scalar();
    if (!valid_slug(alias)) {
      error(mark_of(k.key.Mark()), k.path, "an alias must match [a-z0-9][a-z0-9-]*");
      return;
    }
    const auto v = scalar(k, "a key");
    if (!v) return;
    if (!v->secret) {
      error(k, "a provider key must not be written in the config file: use ${ENV_VAR}");
      return;
    }
    if (v->text.empty()) {
      error(k, "the key is empty");
      return;
    }
    if (v->text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      error(k, "the key must not contain CR, LF or NUL");
      return;
    }
    out.keys.emplace_back(alias, Secret(v->text, true));
  });
}

void Loader::read_headers(const Entry& e, std::vector<std::pair<std::string, Secret>>& out) {
  // Header names are case-insensitive (RFC 9110 §5.1), so Authorization and authorization
  // are the same header twice.
  for_each_entry(e, true, "duplicate header", [&](const Entry& h) {
    const std::string& name = h.key.Scalar();
    bool ok = true;
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
      error(mark_of(h.key.Mark()), h.path, "not a valid HTTP header name");
      ok = false;
    } else if (std::find(std::begin(kRefusedHeaders), std::end(kRefusedHeaders), lower(name)) !=
               std::end(kRefusedHeaders)) {
      error(mark_of(h.key.Mark()), h.path, "this header is managed by aigw and cannot be set here");
      ok = false;
    }
    // Header values are never echoed, whether or not they came from the environment.
    const auto v = scalar(h, "a string");
    if (!v || !ok) return;
    if (v->text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      error(h, "value must not contain CR, LF or NUL");
      return;
    }
    // A provider's credential in its headers is checked against auth.enabled once the
    // whole file is read, like stored keys.
    const std::string lname = lower(name);
    if (lname == "authorization" || lname == "x-api-key" || lname == "api-key" ||
        lname == "x-goog-api-key" || lname == "proxy-authorization") {
      credential_header_marks_.emplace_back(mark_of(h.key.Mark()), h.path);
    }
    out.emplace_back(name, Secret(v->text, v->secret));
  });
}

void Loader::read_cache(const Entry& e, CacheConfig& out) {
  SourceMark ttl_mark;
  read_fields(
      e,
      {
          {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
          {"ttl",
           [&](const Entry& f) {
             ttl_mark = at(f);
             read_duration(f, out.ttl, false, kMaxCacheTtl);
           }},
          {"max_ttl", [&](const Entry& f) { read_duration(f, out.max_ttl, false, kMaxCacheTtl); }},
          {"max_entry_bytes",
           [&](const Entry& f) { read_size(f, out.max_entry_bytes, 1, 1 * kGiB); }},
          {"max_bytes", [&](const Entry& f) { read_size(f, out.max_bytes, 0, 64 * kGiB); }},
          {"share_across_keys", [&](const Entry& f) { read_bool(f, out.share_across_keys); }},
          {"coalesce", [&](const Entry& f) { read_bool(f, out.coalesce); }},
          {"coalesce_wait", [&](const Entry& f) { read_duration(f, out.coalesce_wait, false); }},
      });
  if (out.ttl > out.max_ttl) {
    error(ttl_mark.line != 0 ? ttl_mark : at(e), e.path.empty() ? "cache.ttl" : e.path + ".ttl",
          "must not exceed cache.max_ttl");
  }
}

void Loader::read_log(const Entry& e, RequestLogConfig& out) {
  read_fields(
      e,
      {
          {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
          {"path",
           [&](const Entry& f) {
             const auto v = scalar(f, "a path");
             if (!v) return;
             if (auto path = output_path(f, *v, "must not be empty")) {
               out.path = std::move(*path);
               log_path_given_ = true;
             }
           }},
          {"flush_interval",
           [&](const Entry& f) {
             read_duration(f, out.flush_interval, false, std::chrono::seconds(1));
           }},
          {"queue", [&](const Entry& f) { read_uint(f, out.queue, 16, 16'777'216); }},
          {"max_rows", [&](const Entry& f) { read_uint(f, out.max_rows, 0, 10'000'000'000ULL); }},
          {"max_age",
           [&](const Entry& f) { read_duration(f, out.max_age, true, kMaxCacheTtl * 10); }},
          {"payloads", [&](const Entry& f) { read_bool(f, out.payloads); }},
          {"max_payload_bytes",
           [&](const Entry& f) { read_size(f, out.max_payload_bytes, 0, 16 * kMiB); }},
      });
}

void Loader::read_dollars(const Entry& e, double& out) {
  const auto v = scalar(e, "a price in US dollars per million tokens");
  if (!v) return;
  double d = 0;
  const char* end = v->text.data() + v->text.size();
  const auto [ptr, ec] = std::from_chars(v->text.data(), end, d);
  if (ec != std::errc() || ptr != end || !std::isfinite(d)) {
    error(e, "must be a number of US dollars per million tokens, such as 2.5 (got " + quoted(*v) +
                 ")");
  } else if (d < 0) {
    error(e, "must be >= 0 (got " + shown(*v) + ")");
  } else {
    out = d;
  }
}

void Loader::read_price(const Entry& e, ModelPrice& out) {
  bool input = false, output = false;
  read_fields(e, {
                     {"input",
                      [&](const Entry& f) {
                        input = true;
                        read_dollars(f, out.input);
                      }},
                     {"output",
                      [&](const Entry& f) {
                        output = true;
                        read_dollars(f, out.output);
                      }},
                     {"cached_input",
                      [&](const Entry& f) {
                        double d = -1;
                        read_dollars(f, d);
                        if (d >= 0) out.cached_input = d;
                      }},
                     {"cache_write",
                      [&](const Entry& f) {
                        double d = -1;
                        read_dollars(f, d);
                        if (d >= 0) out.cache_write = d;
                      }},
                 });
  if (e.value.IsMap() && (!input || !output)) {
    error(e, std::string("needs ") +
                 (!input && !output ? "input and output"
                  : !input          ? "input"
                                    : "output") +
                 " (US dollars per million tokens)");
  }
}

void Loader::read_prices(const Entry& e, std::map<std::string, ModelPrice>& out) {
  for_each_entry(e, false, "duplicate model", [&](const Entry& m) {
    const std::string& name = m.key.Scalar();
    const auto slash = name.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == name.size()) {
      error(mark_of(m.key.Mark()), m.path,
            "a price key is provider/model, such as openai/gpt-4o (got '" + printable(name) + "')");
      return;
    }
    ModelPrice price;
    read_price(m, price);
    out[name] = price;
  });
}

void Loader::read_rate_limits(const Entry& e, std::vector<RateLimitRule>& out) {
  if (!e.value.IsSequence()) {
    error(e, "expected a list of rules (each with limit and window)");
    return;
  }
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    RateLimitRule rule;
    read_rate_limit(Entry{YAML::Node(), e.value[i], e.path + "[" + std::to_string(i) + "]"}, i,
                    rule);
    out.push_back(std::move(rule));
  }
}

// The fields rate limits and budgets share: name, window, technique, scope and narrowing.
// `budget`: window also takes day and month, and per only what the request log records
// (gateway, key, metadata), since budgets are rebuilt from it.
std::vector<Loader::Field> Loader::rule_fields(RateLimitRule& out, bool budget, bool& has_window) {
  constexpr Duration kMaxWindow{std::chrono::hours(24 * 366)};
  return {
      {"name",
       [&](const Entry& f) {
         if (const auto v = scalar(f, "a name")) out.name = v->text;
       }},
      {"window",
       [&, budget](const Entry& f) {
         has_window = true;
         if (budget) {
           // A month is calendar-aligned when fixed; sliding, the trailing 30 days.
           const auto v = scalar(f, "day, month or a duration");
           if (!v) return;
           if (v->text == "month" || v->text == "day") {
             out.calendar_month = v->text == "month";
             out.window = std::chrono::hours(v->text == "month" ? 24 * 30 : 24);
             return;
           }
           if (!parse_duration(v->text)) {
             error(f, "must be day, month or a duration such as 12h (got " + quoted(*v) + ")");
             return;
           }
         }
         read_duration(f, out.window, false, kMaxWindow);
         if (out.window.count() > 0 && out.window < std::chrono::seconds(1)) {
           error(f, "must be >= 1s (got " + format_duration(out.window) + ")");
         }
       }},
      {"technique",
       [&](const Entry& f) {
         const auto v = scalar(f, "fixed or sliding");
         if (!v) return;
         if (v->text == "fixed") {
           out.technique = RateLimitRule::Technique::kFixed;
         } else if (v->text == "sliding") {
           out.technique = RateLimitRule::Technique::kSliding;
         } else {
           error(f, "must be fixed or sliding (got " + quoted(*v) + ")");
         }
       }},
      {"per",
       [&, budget](const Entry& f) {
         const std::string expected = budget ? "gateway, key or metadata:<key>"
                                             : "gateway, key, ip, header:<name> or metadata:<key>";
         const auto v = scalar(f, expected);
         if (!v) return;
         const std::string_view t = v->text;
         const auto colon = t.find(':');
         const std::string_view kind = t.substr(0, colon);
         const std::string_view arg =
             colon == std::string_view::npos ? std::string_view() : t.substr(colon + 1);
         if (t == "gateway") {
           out.scope = RateLimitRule::Scope::kGateway;
         } else if (t == "ip" && !budget) {
           out.scope = RateLimitRule::Scope::kIp;
         } else if (t == "key") {
           out.scope = RateLimitRule::Scope::kKey;
         } else if (kind == "header" && !budget && !arg.empty() &&
                    std::all_of(arg.begin(), arg.end(), is_tchar)) {
           out.scope = RateLimitRule::Scope::kHeader;
           out.scope_name = text::lower(arg);
         } else if (kind == "metadata" && !arg.empty()) {
           out.scope = RateLimitRule::Scope::kMetadata;
           out.scope_name = std::string(arg);
         } else {
           error(f, "must be " + expected + " (got " + quoted(*v) + ")");
         }
       }},
      {"provider",
       [&](const Entry& f) {
         const auto v = scalar(f, "a provider name");
         if (!v) return;
         if (!valid_slug(v->text)) {
           error(f, "provider name must match [a-z0-9][a-z0-9-]* (got " + quoted(*v) + ")");
           return;
         }
         out.provider = v->text;
       }},
      {"model",
       [&](const Entry& f) {
         const auto v = scalar(f, "a model name");
         if (v && v->text.empty()) {
           error(f, "must not be empty");
         } else if (v) {
           out.model = v->text;
         }
       }},
      {"max_keys", [&](const Entry& f) { read_uint(f, out.max_keys, 1, 10'000'000); }},
      {"key",
       [&](const Entry& f) {
         const auto v = scalar(f, "a key name");
         if (!v) return;
         out.key = v->text;
         rule_key_refs_.push_back({f.path, at(f), v->text});
       }},
      {"default_max_tokens",
       [&](const Entry& f) { read_uint(f, out.default_max_tokens, 1, 10'000'000); }},
  };
}

void Loader::read_rate_limit(const Entry& e, std::size_t index, RateLimitRule& out) {
  bool has_limit = false;
  bool has_window = false;
  auto fields = rule_fields(out, /*budget=*/false, has_window);
  fields.push_back({"limit", [&](const Entry& f) {
                      has_limit = true;
                      read_uint(f, out.limit, 1, 1'000'000'000);
                    }});
  fields.push_back({"unit", [&](const Entry& f) {
                      const auto v = scalar(f, "requests or tokens");
                      if (!v) return;
                      if (v->text == "requests") {
                        out.unit = RateLimitRule::Unit::kRequests;
                      } else if (v->text == "tokens") {
                        out.unit = RateLimitRule::Unit::kTokens;
                        metered_rule_marks_.emplace_back(f.path, at(f));
                      } else {
                        error(f, "must be requests or tokens (got " + quoted(*v) + ")");
                      }
                    }});
  read_fields(e, fields);
  if (!has_limit) error(at(e), e.path + ".limit", "a rate limit needs a limit");
  if (!has_window) error(at(e), e.path + ".window", "a rate limit needs a window");
  if (out.name.empty()) out.name = "rate_limits[" + std::to_string(index) + "]";
}

void Loader::read_budgets(const Entry& e, std::vector<RateLimitRule>& out) {
  if (!e.value.IsSequence()) {
    error(e, "expected a list of budgets (each with limit_usd and window)");
    return;
  }
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const Entry item{YAML::Node(), e.value[i], e.path + "[" + std::to_string(i) + "]"};
    RateLimitRule rule;
    rule.unit = RateLimitRule::Unit::kCost;
    bool has_limit = false;
    bool has_window = false;
    auto fields = rule_fields(rule, /*budget=*/true, has_window);
    fields.push_back({"limit_usd", [&](const Entry& f) {
                        has_limit = true;
                        const auto v = scalar(f, "an amount in US dollars");
                        if (!v) return;
                        double usd = 0;
                        const char* end = v->text.data() + v->text.size();
                        const auto [ptr, ec] = std::from_chars(v->text.data(), end, usd);
                        // Counted in millionths of a dollar; at most $1e9.
                        if (ec != std::errc() || ptr != end || !(usd >= 0.000001) || usd > 1e9) {
                          error(f, "must be an amount in US dollars from 0.000001 to 1e9 (got " +
                                       quoted(*v) + ")");
                          return;
                        }
                        rule.limit = static_cast<std::uint64_t>(std::llround(usd * 1e6));
                      }});
    fields.push_back({"unpriced", [&](const Entry& f) {
                        const auto v = scalar(f, "allow or refuse");
                        if (!v) return;
                        if (v->text == "allow" || v->text == "refuse") {
                          rule.refuse_unpriced = v->text == "refuse";
                        } else {
                          error(f, "must be allow or refuse (got " + quoted(*v) + ")");
                        }
                      }});
    metered_rule_marks_.emplace_back(item.path, at(item));
    read_fields(item, fields);
    if (!has_limit) error(at(item), item.path + ".limit_usd", "a budget needs limit_usd");
    if (!has_window) error(at(item), item.path + ".window", "a budget needs a window");
    if (rule.name.empty()) rule.name = "budgets[" + std::to_string(i) + "]";
    out.push_back(std::move(rule));
  }
}

// routes.<name>: the targets of a named route and its breaker. That each target's provider
// exists, and what its endpoint may be, is checked with the providers (src/router/routes.cpp).
void Loader::read_routes(const Entry& e, std::vector<RouteConfig>& out) {
  for_each_entry(e, false, "duplicate route", [&](const Entry& r) {
    RouteConfig route;
    route.name = r.key.Scalar();
    route.mark = mark_of(r.key.Mark());
    if (!valid_slug(route.name)) {
      error(route.mark, r.path, "a route name must match [a-z0-9][a-z0-9-]*");
    }
    read_route(r, route);
    out.push_back(std::move(route));
  });
  std::sort(out.begin(), out.end(),
            [](const RouteConfig& a, const RouteConfig& b) { return a.name < b.name; });
}

void Loader::read_route(const Entry& e, RouteConfig& out) {
  bool has_targets = false;
  read_fields(
      e,
      {
          {"targets",
           [&](const Entry& f) {
             has_targets = true;
             if (!f.value.IsSequence() || f.value.size() == 0) {
               error(f, "expected a list of targets (each with provider and model)");
               return;
             }
             if (f.value.size() > 20) {
               error(f, "at most 20 targets (got " + std::to_string(f.value.size()) + ")");
               return;
             }
             for (std::size_t i = 0; i < f.value.size(); ++i) {
               const Entry item{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"};
               RouteTargetConfig target;
               target.mark = at(item);
               read_route_target(item, target);
               out.targets.push_back(std::move(target));
             }
           }},
          {"breaker", [&](const Entry& f) { read_breaker(f, out.breaker); }},
          {"share_client_credentials",
           [&](const Entry& f) { read_bool(f, out.share_client_credentials); }},
      });
  if (!has_targets) error(at(e), e.path + ".targets", "a route needs targets");
}

void Loader::read_route_target(const Entry& e, RouteTargetConfig& out) {
  bool has_provider = false;
  bool has_model = false;
  const auto text = [&](const Entry& f, std::string_view expected) -> std::optional<std::string> {
    const auto v = scalar(f, expected);
    if (!v) return std::nullopt;
    if (v->text.empty()) {
      error(f, "must not be empty");
      return std::nullopt;
    }
    return v->text;
  };
  if (!e.value.IsMap()) {
    error(e, "expected a target (a mapping with provider and model)");
    return;
  }
  read_fields(e, {
                     {"provider",
                      [&](const Entry& f) {
                        has_provider = true;
                        if (auto v = text(f, "a provider name")) {
                          out.provider = std::move(*v);
                          out.provider_mark = at(f);
                        }
                      }},
                     {"model",
                      [&](const Entry& f) {
                        has_model = true;
                        if (auto v = text(f, "a model name")) out.model = std::move(*v);
                      }},
                     {"endpoint",
                      [&](const Entry& f) {
                        if (auto v = text(f, "a path under the provider's base URL")) {
                          out.endpoint = std::move(*v);
                          out.endpoint_mark = at(f);
                        }
                      }},
                     {"headers", [&](const Entry& f) { read_headers(f, out.headers); }},
                     {"weight", [&](const Entry& f) { read_uint(f, out.weight, 1, 1000); }},
                     {"priority", [&](const Entry& f) { read_uint(f, out.priority, 0, 100); }},
                     {"max_attempts",
                      [&](const Entry& f) {
                        unsigned n = 1;
                        read_uint(f, n, 1, 5);
                        out.max_attempts = n;
                      }},
                     {"request_timeout",
                      [&](const Entry& f) { read_optional_duration(f, out.request_timeout); }},
                 });
  if (!has_provider) error(at(e), e.path + ".provider", "a target needs a provider");
  if (!has_model) error(at(e), e.path + ".model", "a target needs a model");
}

void Loader::read_breaker(const Entry& e, BreakerConfig& out) {
  read_fields(e, {
                     {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
                     {"failures", [&](const Entry& f) { read_uint(f, out.failures, 1, 1000); }},
                     {"window", [&](const Entry& f) { read_duration(f, out.window, false); }},
                     {"cooldown", [&](const Entry& f) { read_duration(f, out.cooldown, false); }},
                 });
}

void Loader::read_auth(const Entry& e, AuthConfig& out) {
  std::size_t& tokens_listed = auth_tokens_listed_;
  auth_mark_ = at(e);
  read_fields(
      e, {
             {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
             {"allow_anonymous_credentials",
              [&](const Entry& f) { read_bool(f, out.allow_anonymous_credentials); }},
             {"tokens",
              [&](const Entry& f) {
                if (!f.value.IsSequence()) {
                  error(f, "expected a list of tokens");
                  tokens_listed = 1;  // reported already
                  return;
                }
                tokens_listed = f.value.size();
                for (std::size_t i = 0; i < f.value.size(); ++i) {
                  read_token(
                      Entry{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"}, out);
                }
              }},
         });
}

// A token is never written in the file itself: either ${ENV_VAR} (its SHA-256 is kept, the
// text dropped) or sha256:<64 hex digits> (what `printf %s "$TOKEN" | sha256sum` prints).
void Loader::read_token(const Entry& e, AuthConfig& out) {
  if (auto digest = token_digest(e)) out.token_sha256.push_back(*digest);
}

std::optional<std::array<std::uint8_t, 32>> Loader::token_digest(const Entry& e) {
  const auto v = scalar(e, "a token");
  if (!v) return std::nullopt;
  constexpr std::string_view kPrefix = "sha256:";
  const std::string_view text = v->text;
  if (text.starts_with(kPrefix)) {
    const std::string_view hex = text.substr(kPrefix.size());
    std::array<std::uint8_t, 32> digest{};
    bool ok = hex.size() == 64;
    for (std::size_t i = 0; ok && i < 32; ++i) {
      const int hi = text::hex_digit(hex[2 * i]);
      const int lo = text::hex_digit(hex[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      if (ok) digest[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    if (!ok) {
      error(e, "a sha256: token needs exactly 64 hex digits after the prefix");
      return std::nullopt;
    }
    return digest;
  }
  if (!v->secret) {
    error(e,
          "a token must not be written in the config file: use ${ENV_VAR} or "
          "sha256:<64 hex digits of its SHA-256>");
    return std::nullopt;
  }
  if (text.empty()) {
    error(e, "the token is empty");
    return std::nullopt;
  }
  return sha256(text);
}

void Loader::read_keys(const Entry& e, std::vector<VirtualKey>& out) {
  keys_mark_ = at(e);
  const auto names = [&](const Entry& f, std::vector<std::string>& list, bool slugs) {
    if (!f.value.IsSequence()) {
      error(f, slugs ? "expected a list of provider names" : "expected a list of model names");
      return;
    }
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const Entry item{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"};
      const auto v = scalar(item, slugs ? "a provider name" : "a model name");
      if (!v) continue;
      if (slugs && !valid_slug(v->text)) {
        error(item, "provider name must match [a-z0-9][a-z0-9-]* (got " + quoted(*v) + ")");
      } else if (v->text.empty()) {
        error(item, "must not be empty");
      } else {
        list.push_back(v->text);
      }
    }
  };
  for_each_entry(e, false, "duplicate key name", [&](const Entry& k) {
    VirtualKey key;
    key.name = k.key.Scalar();
    if (!valid_slug(key.name)) {
      error(mark_of(k.key.Mark()), k.path, "a key name must match [a-z0-9][a-z0-9-]*");
    }
    bool has_token = false;
    SourceMark token_mark;
    read_fields(
        k, {
               {"token",
                [&](const Entry& f) {
                  has_token = true;
                  token_mark = at(f);
                  if (auto d = token_digest(f)) key.token_sha256 = *d;
                }},
               {"providers", [&](const Entry& f) { names(f, key.providers, true); }},
               {"models", [&](const Entry& f) { names(f, key.models, false); }},
               {"trust_client_cost", [&](const Entry& f) { read_bool(f, key.trust_client_cost); }},
               {"metadata",
                [&](const Entry& f) {
                  for_each_entry(f, false, "duplicate metadata key", [&](const Entry& m) {
                    const auto v = scalar(m, "a string");
                    if (!v) return;
                    // Kept as a JSON string, as cf-aig-metadata values are logged.
                    key.metadata.emplace_back(
                        m.key.Scalar(),
                        nlohmann::json(v->text).dump(-1, ' ', false,
                                                     nlohmann::json::error_handler_t::replace));
                  });
                }},
           });
    if (!has_token) error(at(k), k.path + ".token", "a key needs a token");
    for (const auto& other : out) {
      if (has_token && other.token_sha256 == key.token_sha256) {
        error(token_mark, k.path + ".token", "the same token as key '" + other.name + "'");
      }
    }
    out.push_back(std::move(key));
  });
}

void Loader::read_metering(const Entry& e, MeteringConfig& out) {
  read_fields(
      e, {
             {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
             {"include_usage", [&](const Entry& f) { read_bool(f, out.include_usage); }},
             {"trust_client_cost", [&](const Entry& f) { read_bool(f, out.trust_client_cost); }},
             {"pricing_file",
              [&](const Entry& f) {
                const auto v = scalar(f, "a path");
                if (!v) return;
                if (v->text.empty()) {  // "" turns the table off
                  pricing_file_mark_ = at(f);
                  out.pricing_file = "-";
                  return;
                }
                const auto path = resolve_path(*v);
                if (path) {
                  out.pricing_file = path->text;
                  pricing_file_mark_ = at(f);
                }
              }},
             // Read into a side map: they apply over the file's, which is read later.
             {"prices", [&](const Entry& f) { read_prices(f, inline_prices_); }},
         });
}

void Loader::read_price_table(const YAML::Node& root, MeteringConfig& out) {
  const Entry top{YAML::Node(), root, ""};
  read_fields(top, {
                       {"taken",
                        [&](const Entry& f) {
                          const auto v = scalar(f, "a date (YYYY-MM-DD)");
                          if (v) out.prices_taken = v->text;
                        }},
                       {"currency",
                        [&](const Entry& f) {
                          const auto v = scalar(f, "USD");
                          if (v && v->text != "USD") error(f, "only USD is supported");
                        }},
                       {"prices", [&](const Entry& f) { read_prices(f, out.prices); }},
                   });
}

void Loader::read_logging(const Entry& e, LoggingConfig& out) {
  read_fields(e, {
                     {"level",
                      [&](const Entry& f) {
                        const auto v = scalar(f, "a string");
                        if (!v) return;
                        if (std::find(std::begin(kLevels), std::end(kLevels), v->text) ==
                            std::end(kLevels)) {
                          error(f, "must be one of trace, debug, info, warn, error, off (got " +
                                       quoted(*v) + ")");
                          return;
                        }
                        out.level = v->text;
                      }},
                     {"access_log",
                      [&](const Entry& f) {
                        const auto v = scalar(f, "a string");
                        if (!v) return;
                        if (v->text == "-" || v->text == "off") {
                          out.access_log = v->text;
                          return;
                        }
                        if (auto path = output_path(
                                f, *v, "must not be empty (use '-' for stdout or 'off')")) {
                          out.access_log = std::move(*path);
                        }
                      }},
                     {"access_log_queue",
                      [&](const Entry& f) { read_uint(f, out.access_log_queue, 16, 1'048'576); }},
                 });
}

// Reads a whole small file; nullopt with `error` set when it cannot.
std::optional<std::string> read_small_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "cannot read file: is a directory";
    return std::nullopt;
  }
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = std::string("cannot read file: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[16 * 1024];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0 && text.size() <= kMaxFileBytes) {
    text.append(buf, n);
  }
  const int read_error = std::ferror(file) != 0 ? errno : 0;
  std::fclose(file);
  if (read_error != 0) {
    error = std::string("cannot read file: ") + std::strerror(read_error);
    return std::nullopt;
  }
  if (text.size() > kMaxFileBytes) {
    error = "cannot read file: larger than " + format_size(kMaxFileBytes);
    return std::nullopt;
  }
  return text;
}

// The price table: metering.pricing_file if set, else pricing.yaml next to the config file
// when there is one (the shipped config/pricing.yaml). Its diagnostics name its own file.
void load_price_table(Loader& main, Config& config, const EnvLookup& env) {
  MeteringConfig& metering = config.metering;
  const bool set = main.pricing_file_mark().line != 0;
  std::string path = metering.pricing_file;
  metering.pricing_file.clear();
  if (path == "-") {  // pricing_file: "" — no table
    main.apply_inline_prices(metering);
    return;
  }
  if (!set) {
    std::error_code ec;
    const auto candidate = main.base_dir() / "pricing.yaml";
    if (config.source.empty() || !std::filesystem::is_regular_file(candidate, ec)) {
      main.apply_inline_prices(metering);
      return;
    }
    path = candidate.string();
  }
  std::string problem;
  const auto text = read_small_file(path, problem);
  if (!text) {
    main.error(main.pricing_file_mark(), "metering.pricing_file",
               "'" + printable(path) + "': " + problem);
    return;
  }
  Loader table(path, env);
  try {
    table.read_price_table(YAML::Load(*text), metering);
  } catch (const YAML::Exception& e) {
    table.error(table.mark_of(e.mark), "", "invalid YAML: " + e.msg);
  }
  for (auto& d : table.take()) main.error(d.mark, std::move(d.path), std::move(d.message));
  metering.pricing_file = path;
  main.apply_inline_prices(metering);
}

// Where each document of a stream begins: the mark of its root node. yaml-cpp 0.7 (Debian 12)
// reports a document without consuming anything when the stream is at a stray ',' (a file
// that is just ",", or "{a: 1}\n,"), so YAML::LoadAll never returns and fills memory with
// empty documents (found by fuzzing, fuzz/config_fuzz.cpp). Documents are therefore counted
// here, at most two, and a document that begins where the previous one did is that case.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark&) override { in_document_ = true; }
  void OnDocumentEnd() override { in_document_ = false; }
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& m) {
    if (in_document_) marks.push_back(m);
    in_document_ = false;  // only the root's mark
  }
  bool in_document_ = false;
};

}  // namespace

std::string Diagnostic::str() const {
  std::string out = mark.file.empty() ? "<config>" : mark.file;
  out += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
  std::string problem;
  const auto text = read_small_file(path, problem);
  if (!text) {
    LoadResult result;
    result.diagnostics.push_back(Diagnostic{SourceMark{path, 0, 0}, "", std::move(problem)});
    return result;
  }
  return load_string(*text, path, env);
}

LoadResult load_string(std::string_view yaml, const std::string& file_name, const EnvLookup& env) {
  LoadResult result;
  Loader loader(file_name, env);
  DocumentStarts documents;
  YAML::Node root;
  try {
    std::istringstream in{std::string(yaml)};
    YAML::Parser parser(in);
    while (documents.marks.size() < 2 && parser.HandleNextDocument(documents)) {
    }
    if (documents.marks.size() == 1) root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    loader.error(loader.mark_of(e.mark), "", "invalid YAML: " + e.msg);
    result.diagnostics = loader.take();
    return result;
  }
  Config config;
  config.source = file_name;
  const auto& marks = documents.marks;
  if (marks.size() > 1 && marks[1].pos == marks[0].pos) {
    const auto at = std::min(static_cast<std::size_t>(marks[1].pos), yaml.size());
    loader.error(loader.mark_of(marks[1]), "",
                 "invalid YAML: unexpected '" + printable(yaml.substr(at, 1)) + "'");
  } else if (marks.size() > 1) {
    loader.error(loader.mark_of(marks[1]), "", "expected one YAML document (found a second one)");
  } else if (marks.size() == 1) {
    loader.read(root, config);
  }
  load_price_table(loader, config, env);
  result.diagnostics = loader.take();
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::pair(a.mark.line, a.mark.column) <
                            std::pair(b.mark.line, b.mark.column);
                   });
  if (result.diagnostics.empty()) result.config = std::move(config);
  return result;
}

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration{0};
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  const auto ms = parse_scaled(
      text, {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}, kMax);
  if (!ms) return std::nullopt;
  return Duration{static_cast<Duration::rep>(*ms)};
}

std::optional<std::size_t> parse_size(std::string_view text) {
  return parse_scaled(text,
                      {{"", 1},
                       {"B", 1},
                       {"KiB", kKiB},
                       {"MiB", kMiB},
                       {"GiB", kGiB},
                       {"KB", 1000},
                       {"kB", 1000},
                       {"MB", 1'000'000},
                       {"GB", 1'000'000'000}},
                      std::numeric_limits<std::size_t>::max());
}

std::optional<ListenAddress> parse_listen(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    // An IPv6 literal, optionally with a %zone (fe80::1%eth0).
    const std::string_view addr = host.substr(0, host.find('%'));
    if (addr.find(':') == std::string_view::npos ||
        !std::all_of(addr.begin(), addr.end(), [](char c) {
          return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                 c == '.';
        })) {
      return std::nullopt;
    }
    if (addr.size() != host.size()) {
      const std::string_view zone = host.substr(addr.size() + 1);
      if (zone.empty() || !std::all_of(zone.begin(), zone.end(), [](char c) {
            return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.';
          })) {
        return std::nullopt;
      }
    }
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty()) host = "0.0.0.0";
    // A name or an IPv4 literal; a bare IPv6 literal would be ambiguous without brackets.
    if (!std::all_of(host.begin(), host.end(), [](char c) {
          return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
        })) {
      return std::nullopt;
    }
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) {
    return std::nullopt;
  }
  const int number = std::stoi(std::string(port));
  if (number > 65535) return std::nullopt;
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(number)};
}

}  // namespace aigw::config
