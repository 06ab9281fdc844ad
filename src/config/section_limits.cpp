// The rate_limits: and budgets: sections of the config (docs/configuration.md).

#include "config/loader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace aigw::config::detail {

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
  // Static: the readers outlive this call, and a local would be captured by reference (the
  // config fuzzer found one read after return).
  static constexpr Duration kMaxWindow{std::chrono::hours(24 * 366)};
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
      {"store", [&](const Entry& f) { read_store(f, out.store); }},
      {"on_error", [&](const Entry& f) { read_on_error(f, out.on_error); }},
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
    // Money: while Redis cannot say what was spent, refuse rather than overspend.
    rule.on_error = OnStoreError::kClosed;
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

}  // namespace aigw::config::detail
