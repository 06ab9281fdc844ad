#include "json/members.hpp"

namespace aigw::json {
namespace {

// End of the string starting at s[i] == '"', or kNpos.
std::size_t skip_string(std::string_view s, std::size_t i) noexcept {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return kNpos;
}

}  // namespace

bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::size_t skip_ws(std::string_view s, std::size_t i) noexcept {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

// Containers are skipped by counting brackets outside strings, without recursion.
std::size_t skip_value(std::string_view s, std::size_t i) noexcept {
  if (i >= s.size()) return kNpos;
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    std::size_t depth = 0;
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        if (i == kNpos) return kNpos;
        --i;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return kNpos;
  }
  const std::size_t begin = i;
  while (i < s.size() && !is_ws(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i == begin ? kNpos : i;
}

std::size_t scan_object(std::string_view s, std::size_t i, std::vector<Member>& out) {
  out.clear();
  if (i >= s.size() || s[i] != '{') return kNpos;
  i = skip_ws(s, i + 1);
  if (i < s.size() && s[i] == '}') return i + 1;
  while (i < s.size() && s[i] == '"') {
    Member m{};
    m.key_begin = i;
    m.key_end = skip_string(s, i);
    if (m.key_end == kNpos) return kNpos;
    i = skip_ws(s, m.key_end);
    if (i >= s.size() || s[i] != ':') return kNpos;
    m.value_begin = skip_ws(s, i + 1);
    m.value_end = skip_value(s, m.value_begin);
    if (m.value_end == kNpos) return kNpos;
    out.push_back(m);
    i = skip_ws(s, m.value_end);
    if (i >= s.size()) return kNpos;
    if (s[i] == '}') return i + 1;
    if (s[i] != ',') return kNpos;
    i = skip_ws(s, i + 1);
  }
  return kNpos;
}

const Member* last_named(const std::vector<Member>& members, std::string_view s,
                         std::string_view key) {
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->key(s) == key) return &*it;
  }
  return nullptr;
}

std::optional<std::vector<Member>> top_level_members(std::string_view body) {
  std::size_t start = 0;
  if (body.starts_with("\xEF\xBB\xBF")) start = 3;  // a BOM json::valid accepts
  start = skip_ws(body, start);
  std::vector<Member> members;
  if (scan_object(body, start, members) == kNpos) return std::nullopt;
  return members;
}

std::optional<std::string_view> top_level_string(std::string_view body, std::string_view key) {
  const auto members = top_level_members(body);
  if (!members) return std::nullopt;
  const Member* m = last_named(*members, body, key);
  if (m == nullptr) return std::nullopt;
  const std::string_view v = m->value(body);
  if (v.size() < 2 || v.front() != '"' || v.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  return v.substr(1, v.size() - 2);
}

void append_quoted(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace aigw::json
