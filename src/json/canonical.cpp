#include "json/canonical.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <utility>
#include <vector>

namespace aigw::json {
namespace {

using Byte = unsigned char;

constexpr int kMaxDepth = 512;

// Bytes written as they are inside a canonical string: all but '"', '\\' and controls.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x100; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return plain;
}();

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Canonicalizer {
 public:
  explicit Canonicalizer(std::string_view text) noexcept
      : p_(text.data()), end_(text.data() + text.size()) {}

  bool run(std::string& out) {
    if (end_ - p_ >= 3 && std::string_view(p_, 3) == "\xEF\xBB\xBF") p_ += 3;  // BOM
    skip_ws();
    if (!value(out, 0)) return false;
    skip_ws();
    return p_ == end_;
  }

 private:
  void skip_ws() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool value(std::string& out, int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(out, depth + 1);
      case '[':
        return array(out, depth + 1);
      case '"':
        return string(out);
      case 't':
        return literal("true", out);
      case 'f':
        return literal("false", out);
      case 'n':
        return literal("null", out);
      default:
        return number(out);
    }
  }

  bool literal(std::string_view word, std::string& out) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::string_view(p_, word.size()) != word) {
      return false;
    }
    out += word;
    p_ += word.size();
    return true;
  }

  // The string at p_ (its opening quote), decoded into `decoded`. Most strings have no
  // escapes: their bytes are taken as they are.
  bool decode(std::string& decoded) {
    const char* start = ++p_;
    while (p_ != end_ && kPlain[static_cast<Byte>(*p_)]) ++p_;
    if (p_ == end_) return false;
    decoded.assign(start, p_);
    while (true) {
      if (p_ == end_) return false;
      const auto c = static_cast<Byte>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // a raw control character is not JSON
      if (c != '\\') {
        decoded += static_cast<char>(c);
        ++p_;
        continue;
      }
      if (++p_ == end_) return false;
      switch (*p_++) {
        case '"':
          decoded += '"';
          break;
        case '\\':
          decoded += '\\';
          break;
        case '/':
          decoded += '/';
          break;
        case 'b':
          decoded += '\b';
          break;
        case 'f':
          decoded += '\f';
          break;
        case 'n':
          decoded += '\n';
          break;
        case 'r':
          decoded += '\r';
          break;
        case 't':
          decoded += '\t';
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
          if (cp >= 0xD800 && cp <= 0xDBFF) {              // must pair with a low one
            std::uint32_t low = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(decoded, cp);
          break;
        }
        default:
          return false;
      }
    }
  }

  bool hex4(std::uint32_t& cp) noexcept {
    if (end_ - p_ < 4) return false;
    for (int i = 0; i < 4; ++i) {
      const int v = text::hex_digit(*p_++);
      if (v < 0) return false;
      cp = (cp << 4) | static_cast<std::uint32_t>(v);
    }
    return true;
  }

  bool string(std::string& out) {
    // Fast path: no escapes and nothing to escape, so the text is already canonical.
    const char* start = p_ + 1;
    const char* q = start;
    while (q != end_ && kPlain[static_cast<Byte>(*q)]) ++q;
    if (q != end_ && *q == '"') {
      out.append(start - 1, q + 1);
      p_ = q + 1;
      return true;
    }
    std::string decoded;
    if (!decode(decoded)) return false;
    append_string(out, decoded);
    return true;
  }

  bool number(std::string& out) {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return false;
    }
    bool integer = true;
    if (p_ != end_ && *p_ == '.') {
      integer = false;
      if (++p_ == end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      if (++p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    const std::string_view text(start, static_cast<std::size_t>(p_ - start));
    if (integer) {
      out += text == "-0" ? std::string_view("0") : text;
      return true;
    }
    double d = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), d);
    if (parsed.ec != std::errc() || !std::isfinite(d)) {
      out += text;  // beyond a double: its text is the best spelling there is
      return true;
    }
    std::array<char, 32> buf{};
    std::to_chars_result written{};
    constexpr double kExact = 9007199254740992.0;  // 2^53: integers below are exact
    if (d == std::trunc(d) && std::fabs(d) < kExact) {
      written = std::to_chars(buf.data(), buf.data() + buf.size(), static_cast<std::int64_t>(d));
    } else {
      written = std::to_chars(buf.data(), buf.data() + buf.size(), d);
    }
    out.append(buf.data(), written.ptr);
    return true;
  }

  bool array(std::string& out, int depth) {
    if (depth > kMaxDepth) return false;
    ++p_;
    skip_ws();
    out += '[';
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      out += ']';
      return true;
    }
    while (true) {
      skip_ws();
      if (!value(out, depth)) return false;
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == ']') {
        ++p_;
        out += ']';
        return true;
      }
      if (*p_++ != ',') return false;
      out += ',';
    }
  }

  bool object(std::string& out, int depth) {
    if (depth > kMaxDepth) return false;
    ++p_;
    skip_ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      out += "{}";
      return true;
    }
    // Members are canonicalized into one scratch string in the order they come, then
    // written out sorted by name. A name without escapes is used where it lies in the input.
    struct Member {
      std::string_view quoted;  // the name as written, quotes included, when it is plain
      std::size_t name_begin = 0, name_end = 0;  // otherwise: decoded, in `names`
      std::string_view name;
      std::size_t begin = 0, end = 0;  // the value's canonical bytes in `values`
    };
    std::vector<Member> members;
    std::string values;
    std::string names;
    std::string decoded;
    while (true) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') return false;
      Member& m = members.emplace_back();
      const char* start = p_;
      const char* q = p_ + 1;
      while (q != end_ && kPlain[static_cast<Byte>(*q)]) ++q;
      if (q != end_ && *q == '"') {
        p_ = q + 1;
        m.quoted = std::string_view(start, static_cast<std::size_t>(p_ - start));
        m.name = m.quoted.substr(1, m.quoted.size() - 2);
      } else {
        if (!decode(decoded)) return false;
        m.name_begin = names.size();
        names += decoded;
        m.name_end = names.size();
      }
      skip_ws();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      skip_ws();
      m.begin = values.size();
      if (!value(values, depth)) return false;
      m.end = values.size();
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        break;
      }
      if (*p_++ != ',') return false;
    }
    for (auto& m : members) {  // `names` no longer grows
      if (m.quoted.empty()) {
        m.name = std::string_view(names).substr(m.name_begin, m.name_end - m.name_begin);
      }
    }
    const auto by_name = [](const Member& a, const Member& b) { return a.name < b.name; };
    if (members.size() <= 16) {  // insertion sort: stable, and no buffer to allocate
      for (std::size_t i = 1; i < members.size(); ++i) {
        for (std::size_t j = i; j > 0 && by_name(members[j], members[j - 1]); --j) {
          std::swap(members[j], members[j - 1]);
        }
      }
    } else {
      std::stable_sort(members.begin(), members.end(), by_name);
    }
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < members.size(); ++i) {
      // Of equal names the last one wins; the sort kept them in document order.
      if (i + 1 < members.size() && members[i + 1].name == members[i].name) continue;
      if (!first) out += ',';
      first = false;
      if (members[i].quoted.empty()) {
        append_string(out, members[i].name);
      } else {
        out += members[i].quoted;
      }
      out += ':';
      out.append(values, members[i].begin, members[i].end - members[i].begin);
    }
    out += '}';
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

void append_string(std::string& out, std::string_view decoded) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the plain bytes not yet copied
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    const auto c = static_cast<Byte>(decoded[i]);
    if (kPlain[c]) continue;
    out.append(decoded.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0x0F];
    }
  }
  out.append(decoded.data() + run, decoded.size() - run);
  out += '"';
}

std::optional<std::string> canonical(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (!Canonicalizer(text).run(out)) return std::nullopt;
  return out;
}

}  // namespace aigw::json
