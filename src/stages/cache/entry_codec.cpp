#include "stages/cache/entry_codec.hpp"

#include <array>
#include <limits>

namespace aigw::cache {

namespace {

constexpr std::string_view kMagic = "AGWC";
constexpr std::uint8_t kStream = 1;
constexpr std::uint8_t kUsage = 2;
constexpr std::uint8_t kTranslation = 4;
constexpr std::uint8_t kKnownFlags = kStream | kUsage | kTranslation;
constexpr std::uint8_t kKnownCounts = 0x1F;
constexpr std::uint8_t kLastDialect = static_cast<std::uint8_t>(Dialect::kGemini);

// RFC 9110 5.6.2: a field name is a token.
bool is_tchar(unsigned char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// RFC 9110 5.5: a field value never holds CR, LF or NUL (a replayed one could otherwise
// split the response it is written into).
bool is_field_value(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

class Writer {
 public:
  void u8(std::uint8_t v) { out_ += static_cast<char>(v); }
  void uint(std::uint64_t v, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF);
  }
  void text(std::string_view s, std::size_t length_bytes) {
    uint(s.size(), length_bytes);
    out_.append(s);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool uint(std::size_t bytes, std::uint64_t& v) {
    if (in_.size() - pos_ < bytes) return false;
    v = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      v |= std::uint64_t{static_cast<unsigned char>(in_[pos_ + i])} << (8 * i);
    }
    pos_ += bytes;
    return true;
  }
  bool u8(std::uint8_t& v) {
    std::uint64_t x = 0;
    if (!uint(1, x)) return false;
    v = static_cast<std::uint8_t>(x);
    return true;
  }
  // A length of `length_bytes`, then that many bytes (never more than are left).
  bool text(std::size_t length_bytes, std::string_view& s) {
    std::uint64_t n = 0;
    if (!uint(length_bytes, n) || n > in_.size() - pos_) return false;
    s = in_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  std::size_t pos() const noexcept { return pos_; }
  std::size_t left() const noexcept { return in_.size() - pos_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

std::optional<DecodedEntry> refuse(std::string& problem, std::string why) {
  problem = std::move(why);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> encode_entry(const CachedResponse& r, std::int64_t stored_unix_ms) {
  if (r.status < 200 || r.status > 299 || stored_unix_ms < 0) return std::nullopt;
  if (r.headers.size() > kMaxEntryHeaders || !is_field_value(r.content_type) ||
      r.content_type.size() > std::numeric_limits<std::uint16_t>::max()) {
    return std::nullopt;
  }
  const std::string_view body = r.body ? std::string_view(*r.body) : std::string_view();
  if (body.size() > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  std::size_t head = 64 + r.content_type.size();
  for (const auto& [name, value] : r.headers) {
    if (!is_token(name) || !is_field_value(value) ||
        name.size() > std::numeric_limits<std::uint16_t>::max()) {
      return std::nullopt;
    }
    head += 6 + name.size() + value.size();
  }
  if (r.usage) {
    if (r.usage->model.size() > std::numeric_limits<std::uint16_t>::max()) return std::nullopt;
    head += 3 + r.usage->model.size() + 5 * 8;
  }
  if (head > kMaxEntryHeadBytes) return std::nullopt;

  Writer w;
  w.out().reserve(head + 4 + body.size());
  w.out().append(kMagic);
  w.u8(kEntryVersion);
  w.u8(static_cast<std::uint8_t>((r.stream ? kStream : 0) | (r.usage ? kUsage : 0) |
                                 (r.translation ? kTranslation : 0)));
  w.uint(r.status, 2);
  w.uint(static_cast<std::uint64_t>(stored_unix_ms), 8);
  w.text(r.content_type, 2);
  w.uint(r.headers.size(), 2);
  for (const auto& [name, value] : r.headers) {
    w.text(name, 2);
    w.text(value, 4);
  }
  if (r.usage) {
    const TokenUsage& t = r.usage->tokens;
    const std::array<const std::optional<std::uint64_t>*, 5> counts = {
        &t.input, &t.output, &t.cached_input, &t.cache_write, &t.reasoning};
    w.text(r.usage->model, 2);
    std::uint8_t present = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      if (counts[i]->has_value()) present |= static_cast<std::uint8_t>(1u << i);
    }
    w.u8(present);
    for (const auto* count : counts) {
      if (count->has_value()) w.uint(**count, 8);
    }
  }
  if (r.translation) {
    w.u8(static_cast<std::uint8_t>(r.translation->from));
    w.u8(static_cast<std::uint8_t>(r.translation->to));
    w.u8(r.translation->include_usage ? 1 : 0);
  }
  w.text(body, 4);
  return std::move(w.out());
}

std::optional<DecodedEntry> decode_entry(std::string_view bytes, std::size_t max_body_bytes,
                                         std::string& problem) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic) {
    return refuse(problem, "not a cache entry (no AGWC magic)");
  }
  Reader in(bytes.substr(kMagic.size()));
  std::uint8_t version = 0;
  std::uint8_t flags = 0;
  if (!in.u8(version)) return refuse(problem, "truncated in the version");
  if (version != kEntryVersion) {
    return refuse(problem, "version " + std::to_string(version) + " is unknown");
  }
  if (!in.u8(flags)) return refuse(problem, "truncated in the flags");
  if ((flags & ~kKnownFlags) != 0) return refuse(problem, "unknown flags");

  DecodedEntry out;
  CachedResponse& r = out.response;
  r.stream = (flags & kStream) != 0;
  std::uint64_t status = 0;
  std::uint64_t stored = 0;
  if (!in.uint(2, status) || !in.uint(8, stored)) return refuse(problem, "truncated in the head");
  if (status < 200 || status > 299) {
    return refuse(problem, "status " + std::to_string(status) + " is not a 2xx");
  }
  if (stored > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return refuse(problem, "a negative time of storing");
  }
  r.status = static_cast<unsigned>(status);
  out.stored_unix_ms = static_cast<std::int64_t>(stored);

  std::string_view content_type;
  if (!in.text(2, content_type)) return refuse(problem, "truncated in the content type");
  if (!is_field_value(content_type)) return refuse(problem, "a content type with CR, LF or NUL");
  r.content_type = content_type;

  std::uint64_t count = 0;
  if (!in.uint(2, count)) return refuse(problem, "truncated in the headers");
  if (count > kMaxEntryHeaders) {
    return refuse(problem, std::to_string(count) + " headers (at most " +
                               std::to_string(kMaxEntryHeaders) + ")");
  }
  r.headers.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string_view name;
    std::string_view value;
    if (!in.text(2, name) || !in.text(4, value)) return refuse(problem, "truncated in the headers");
    if (!is_token(name)) return refuse(problem, "a header name that is not a token");
    if (!is_field_value(value)) return refuse(problem, "a header value with CR, LF or NUL");
    if (in.pos() > kMaxEntryHeadBytes) return refuse(problem, "a head over 256 KiB");
    r.headers.emplace_back(name, value);
  }

  if ((flags & kUsage) != 0) {
    std::string_view model;
    std::uint8_t present = 0;
    if (!in.text(2, model) || !in.u8(present)) return refuse(problem, "truncated in the usage");
    if ((present & ~kKnownCounts) != 0) return refuse(problem, "unknown usage counts");
    ResponseUsage usage;
    usage.model = model;
    TokenUsage& t = usage.tokens;
    const std::array<std::optional<std::uint64_t>*, 5> counts = {
        &t.input, &t.output, &t.cached_input, &t.cache_write, &t.reasoning};
    for (std::size_t i = 0; i < counts.size(); ++i) {
      if ((present & (1u << i)) == 0) continue;
      std::uint64_t v = 0;
      if (!in.uint(8, v)) return refuse(problem, "truncated in the usage");
      *counts[i] = v;
    }
    r.usage = std::move(usage);
  }
  if ((flags & kTranslation) != 0) {
    std::uint8_t from = 0;
    std::uint8_t to = 0;
    std::uint8_t include_usage = 0;
    if (!in.u8(from) || !in.u8(to) || !in.u8(include_usage)) {
      return refuse(problem, "truncated in the translation");
    }
    if (from > kLastDialect || to > kLastDialect || include_usage > 1) {
      return refuse(problem, "an unknown translation");
    }
    r.translation =
        Translation{static_cast<Dialect>(from), static_cast<Dialect>(to), include_usage == 1};
  }
  if (in.pos() > kMaxEntryHeadBytes) return refuse(problem, "a head over 256 KiB");

  std::uint64_t body_size = 0;
  if (!in.uint(4, body_size)) return refuse(problem, "truncated in the body");
  if (body_size > max_body_bytes) {
    return refuse(problem, "a body of " + std::to_string(body_size) + " bytes (at most " +
                               std::to_string(max_body_bytes) + ")");
  }
  if (body_size > in.left()) return refuse(problem, "truncated in the body");
  if (body_size < in.left()) return refuse(problem, "bytes after the body");
  r.body = std::make_shared<const std::string>(bytes.substr(bytes.size() - body_size));
  return out;
}

}  // namespace aigw::cache
