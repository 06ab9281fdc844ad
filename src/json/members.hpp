#pragma once
// Where the members of a JSON object begin and end in its text, for editing a request body
// in place (the include_usage rewrite, a named route's model) instead of parsing and
// re-serialising it: the rest of the body keeps its members' order, spacing and number
// spellings. The scanner trusts its input to be JSON (callers check with json::valid first);
// on anything else it answers "not an object" rather than reading out of bounds.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::json {

inline constexpr std::size_t kNpos = std::string_view::npos;

bool is_ws(char c) noexcept;
std::size_t skip_ws(std::string_view s, std::size_t i) noexcept;
// End of the JSON value starting at s[i], or kNpos.
std::size_t skip_value(std::string_view s, std::size_t i) noexcept;

struct Member {
  std::size_t key_begin;  // the key's opening quote
  std::size_t key_end;    // after its closing quote
  std::size_t value_begin;
  std::size_t value_end;

  std::string_view key(std::string_view s) const {
    return s.substr(key_begin + 1, key_end - key_begin - 2);
  }
  std::string_view value(std::string_view s) const {
    return s.substr(value_begin, value_end - value_begin);
  }
};

// The members of the object starting at s[i] == '{', in order. Returns the index after its
// '}', or kNpos when the text is not such an object. Keys are compared as written: the
// members looked for are never spelled with escapes.
std::size_t scan_object(std::string_view s, std::size_t i, std::vector<Member>& out);

// Of duplicate keys the last counts, as for nlohmann and the providers' JSON parsers.
const Member* last_named(const std::vector<Member>& members, std::string_view s,
                         std::string_view key);

// The members of the top-level object of `body` (after an optional BOM and whitespace), or
// nullopt when the body is not a JSON object. Does not validate: call json::valid first.
std::optional<std::vector<Member>> top_level_members(std::string_view body);

// The top-level string member `key` of a JSON object body, unescaped only when it has no
// escapes (a value written with escapes is returned as nullopt, like a missing one).
std::optional<std::string_view> top_level_string(std::string_view body, std::string_view key);

// Appends `text` to `out` as a JSON string literal, quotes included: '"' and '\\' escaped,
// control characters as \u00XX, everything else (UTF-8 included) as it is.
void append_quoted(std::string& out, std::string_view text);

}  // namespace aigw::json
