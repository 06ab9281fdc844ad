// The loader's generic readers: mappings, scalars with ${VAR} expansion, units, paths.

#include "config/loader.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace aigw::config::detail {

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

void Loader::read_fields(const Entry& parent, const std::vector<Field>& fields) {
  for_each_entry(parent, false, "duplicate key", [&](const Entry& child) {
    const std::string& name = child.key.Scalar();
    const auto field =
        std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == name; });
    if (field == fields.end()) {
      std::vector<std::string_view> known;
      for (const Field& f : fields) {
        if (f.listed) known.push_back(f.name);
      }
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

void Loader::read_optional_duration(const Entry& e, std::optional<Duration>& out, Duration max) {
  Duration d{-1};
  read_duration(e, d, false, max);
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

}  // namespace aigw::config::detail
