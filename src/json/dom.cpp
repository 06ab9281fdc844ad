// Numbers out of simdjson's range, for json_dom.hpp.

#include "json/dom.hpp"

#include <charconv>
#include <cstdint>

namespace aigw::json::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Whether `t` is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool valid_number(std::string_view t, bool& integer) {
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  if (i >= t.size() || !is_digit(t[i])) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  integer = true;
  if (i < t.size() && t[i] == '.') {
    integer = false;
    ++i;
    if (i >= t.size() || !is_digit(t[i])) return false;
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    integer = false;
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= t.size() || !is_digit(t[i])) return false;
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  return i == t.size();
}

// Whether nlohmann would have read the valid number `t` as a double where simdjson fails: an
// integer beyond 64 bits. (A float beyond a double's range is an error for both.)
bool out_of_range(std::string_view t, bool integer) {
  if (!integer) return false;
  const char* end = t.data() + t.size();
  if (t.front() == '-') {
    std::int64_t v = 0;
    return std::from_chars(t.data(), end, v).ec == std::errc::result_out_of_range;
  }
  std::uint64_t v = 0;
  return std::from_chars(t.data(), end, v).ec == std::errc::result_out_of_range;
}

bool is_number_char(char c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

}  // namespace

bool tame_numbers(std::string_view text, std::string& out) {
  out.assign(text);
  bool changed = false;
  std::size_t pos = 0;
  while (pos < out.size()) {
    const char c = out[pos];
    if (c == '"') {  // a string or key: skipped with its escapes
      ++pos;
      while (pos < out.size()) {
        if (out[pos] == '\\') {
          pos += 2;
        } else if (out[pos++] == '"') {
          break;
        }
      }
      continue;
    }
    if (c != '-' && !is_digit(c)) {
      ++pos;
      continue;
    }
    const std::size_t start = pos;
    while (pos < out.size() && is_number_char(out[pos])) ++pos;
    const std::string_view token(out.data() + start, pos - start);
    bool integer = false;
    if (!valid_number(token, integer) || !out_of_range(token, integer)) continue;
    const std::string_view far = token.front() == '-' ? "-1e99" : "1e99";
    if (far.size() > token.size()) continue;
    out.replace(start, far.size(), far);
    for (std::size_t i = start + far.size(); i < pos; ++i) out[i] = ' ';
    changed = true;
  }
  return changed;
}

}  // namespace aigw::json::detail
