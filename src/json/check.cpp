#include "json/check.hpp"

#include "core/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace aigw::json {
namespace {

using Byte = unsigned char;

bool is_digit(Byte c) noexcept { return c >= '0' && c <= '9'; }

// Bytes that need no attention inside a string: printable ASCII other than '"' and '\\'.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return plain;
}();

int hex_value(Byte c) noexcept { return text::hex_digit(static_cast<char>(c)); }

// The open arrays and objects, innermost last. The first 64 levels live inline.
class Nesting {
 public:
  void push(Byte c) {
    if (depth_ < inline_.size()) {
      inline_[depth_] = c;
    } else {
      spill_.push_back(static_cast<char>(c));
    }
    ++depth_;
  }
  void pop() noexcept {
    --depth_;
    if (depth_ >= inline_.size()) spill_.pop_back();
  }
  Byte top() const noexcept {
    return depth_ > inline_.size() ? static_cast<Byte>(spill_.back()) : inline_[depth_ - 1];
  }
  bool empty() const noexcept { return depth_ == 0; }
  std::size_t depth() const noexcept { return depth_; }

 private:
  std::array<Byte, 64> inline_{};
  std::string spill_;
  std::size_t depth_ = 0;
};

class Scanner {
 public:
  // `keys`: when set, receives the raw text (between the quotes) of every key of the
  // top-level object.
  explicit Scanner(std::string_view text, std::vector<std::string_view>* keys = nullptr) noexcept
      : p_(reinterpret_cast<const Byte*>(text.data())), end_(p_ + text.size()), keys_(keys) {}

  bool run() {
    if (end_ - p_ >= 3 && p_[0] == 0xEF && p_[1] == 0xBB && p_[2] == 0xBF) p_ += 3;
    Nesting open;
    enum class Next { kValue, kKey, kAfterValue } next = Next::kValue;
    for (;;) {
      skip_whitespace();
      switch (next) {
        case Next::kValue:
          if (p_ == end_) return false;
          if (*p_ == '{' || *p_ == '[') {
            const Byte close = *p_ == '{' ? '}' : ']';
            const bool object = *p_ == '{';
            ++p_;
            skip_whitespace();
            if (p_ != end_ && *p_ == close) {
              ++p_;
              next = Next::kAfterValue;
            } else {
              open.push(close);
              next = object ? Next::kKey : Next::kValue;
            }
          } else {
            if (!scalar()) return false;
            next = Next::kAfterValue;
          }
          break;
        case Next::kKey: {
          const Byte* key = p_;
          if (p_ == end_ || *p_ != '"' || !string()) return false;
          if (keys_ != nullptr && open.depth() == 1) {
            keys_->emplace_back(reinterpret_cast<const char*>(key) + 1,
                                static_cast<std::size_t>(p_ - key) - 2);
          }
          skip_whitespace();
          if (p_ == end_ || *p_ != ':') return false;
          ++p_;
          next = Next::kValue;
          break;
        }
        case Next::kAfterValue:
          if (open.empty()) return p_ == end_;
          if (p_ == end_) return false;
          if (*p_ == ',') {
            ++p_;
            next = open.top() == '}' ? Next::kKey : Next::kValue;
          } else if (*p_ == open.top()) {
            ++p_;
            open.pop();
          } else {
            return false;
          }
          break;
      }
    }
  }

 private:
  void skip_whitespace() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool scalar() noexcept {
    switch (*p_) {
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  bool digits() noexcept {  // one or more
    if (p_ == end_ || !is_digit(*p_)) return false;
    while (p_ != end_ && is_digit(*p_)) ++p_;
    return true;
  }

  bool number() noexcept {
    if (*p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;  // no leading zeros: "01" ends the number after the 0 and fails later
    } else if (!digits()) {
      return false;
    }
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
    }
    return true;
  }

  int hex4() noexcept {  // after "\u": the code unit, or -1
    if (end_ - p_ < 4) return -1;
    int value = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(*p_++);
      if (h < 0) return -1;
      value = value * 16 + h;
    }
    return value;
  }

  // Skips bytes that need no attention inside a string (printable ASCII other than '"' and
  // '\\'), eight at a time while eight remain: string contents are most of a chat body.
  void skip_plain() noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
    while (end_ - p_ >= 8) {
      std::uint64_t x;
      std::memcpy(&x, p_, 8);
      const std::uint64_t quote = x ^ (kOnes * '"');
      const std::uint64_t backslash = x ^ (kOnes * '\\');
      const std::uint64_t special = ((x - kOnes * 0x20) & ~x)  // a byte below 0x20
                                    | ((quote - kOnes) & ~quote) |
                                    ((backslash - kOnes) & ~backslash) |
                                    x;  // a byte of 0x80 or more
      if ((special & kHighs) != 0) break;
      p_ += 8;
    }
  }

  bool string() noexcept {  // at the opening quote
    ++p_;
    for (;;) {
      // Byte by byte first (most keys and values are short), eight at a time once a run of
      // plain bytes proves long.
      int run = 0;
      while (p_ != end_ && kPlain[*p_]) {
        ++p_;
        if (++run == 8) {
          skip_plain();
          run = 0;
        }
      }
      if (p_ == end_) break;
      const Byte c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (!escape()) return false;
      } else if (c < 0x20) {
        return false;  // control characters must be escaped
      } else if (c < 0x80) {
        ++p_;
      } else if (!utf8_sequence()) {
        return false;
      }
    }
    return false;  // unterminated
  }

  bool escape() noexcept {  // at the backslash
    ++p_;
    if (p_ == end_) return false;
    switch (*p_++) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return true;
      case 'u': {
        const int unit = hex4();
        if (unit < 0) return false;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a low surrogate alone
        if (unit < 0xD800 || unit > 0xDBFF) return true;
        // A high surrogate must be followed by an escaped low one.
        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
        p_ += 2;
        const int low = hex4();
        return low >= 0xDC00 && low <= 0xDFFF;
      }
      default:
        return false;
    }
  }

  // One well-formed multi-byte UTF-8 sequence (RFC 3629 §4), at its lead byte.
  bool utf8_sequence() noexcept {
    const Byte lead = *p_;
    Byte lo = 0x80;
    Byte hi = 0xBF;
    int continuation = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      continuation = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      continuation = 2;
      if (lead == 0xE0) lo = 0xA0;  // no overlong forms
      if (lead == 0xED) hi = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      continuation = 3;
      if (lead == 0xF0) lo = 0x90;  // no overlong forms
      if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (end_ - p_ <= continuation) return false;
    ++p_;
    // Only the first continuation byte has the narrowed range.
    if (*p_ < lo || *p_ > hi) return false;
    ++p_;
    for (int i = 1; i < continuation; ++i, ++p_) {
      if (*p_ < 0x80 || *p_ > 0xBF) return false;
    }
    return true;
  }

  const Byte* p_;
  const Byte* end_;
  std::vector<std::string_view>* keys_;
};

}  // namespace

bool valid(std::string_view text) noexcept {
  try {
    return Scanner(text).run();
  } catch (...) {  // only an allocation failure past 64 levels of nesting
    return false;
  }
}

Checked check(std::string_view text) {
  Checked out;
  std::vector<std::string_view> keys;
  keys.reserve(8);
  try {
    out.valid = Scanner(text, &keys).run();
  } catch (...) {
    return out;
  }
  if (!out.valid || keys.size() < 2) return out;
  const auto first_duplicate = [&](const auto& names) {
    // Top-level objects usually have a handful of keys: comparing each pair costs less than
    // sorting. A client may send millions, though: then sorted, O(n log n).
    if (names.size() <= 16) {
      for (std::size_t i = 1; i < names.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
          if (names[i] == names[j]) {
            out.duplicate_key = std::string(names[i]);
            return;
          }
        }
      }
      return;
    }
    std::vector<std::string_view> sorted(names.begin(), names.end());
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end()) out.duplicate_key = std::string(*twice);
  };
  if (std::none_of(keys.begin(), keys.end(),
                   [](std::string_view k) { return k.find('\\') != std::string_view::npos; })) {
    first_duplicate(keys);
    return out;
  }
  // A key written with escapes ("mo\u0064el") is compared by what it means.
  std::vector<std::string> decoded;
  decoded.reserve(keys.size());
  for (const std::string_view key : keys) {
    decoded.push_back(nlohmann::json::parse("\"" + std::string(key) + "\"").get<std::string>());
  }
  first_duplicate(decoded);
  return out;
}

}  // namespace aigw::json
