#include "translate/json_io.hpp"

#include "json/dom.hpp"

#include <cstring>

namespace aigw::translate::detail {

int nesting_depth(std::string_view text) noexcept {
  int depth = 0;
  int deepest = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    const char c = *p++;
    if (c == '"') {
      // Most bytes are inside strings: jump to each next quote (memchr) and look back over
      // the backslashes before it; an odd run escapes it.
      for (;;) {
        const auto* quote = static_cast<const char*>(std::memchr(p, '"', end - p));
        if (quote == nullptr) return deepest;  // unterminated: the parser refuses it
        const char* back = quote;
        while (back > p && back[-1] == '\\') --back;
        p = quote + 1;
        if ((quote - back) % 2 == 0) break;
      }
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > kMaxDepth) return kMaxDepth + 1;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

namespace {

using Element = simdjson::dom::element;
using Type = simdjson::dom::element_type;

// The value of `e` as nlohmann's parser would have built it: non-negative integers unsigned,
// a repeated key in its first place with its last value. False when arrays and objects nest
// deeper than kMaxDepth (`depth`: the containers around `e`).
bool from_dom(Element e, int depth, Json& out) {
  switch (e.type()) {
    case Type::ARRAY: {
      if (depth >= kMaxDepth) return false;
      out = Json::array();
      simdjson::dom::array array;
      if (e.get_array().get(array) != simdjson::SUCCESS) return false;
      for (const Element item : array) {
        out.push_back(Json());
        if (!from_dom(item, depth + 1, out.back())) return false;
      }
      return true;
    }
    case Type::OBJECT: {
      if (depth >= kMaxDepth) return false;
      out = Json::object();
      simdjson::dom::object object;
      if (e.get_object().get(object) != simdjson::SUCCESS) return false;
      for (const auto field : object) {
        if (!from_dom(field.value, depth + 1, out[std::string(field.key)])) return false;
      }
      return true;
    }
    case Type::STRING: {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) return false;
      out = std::string(s);
      return true;
    }
    case Type::INT64: {
      std::int64_t n = 0;
      if (e.get_int64().get(n) != simdjson::SUCCESS) return false;
      if (n >= 0) {
        out = static_cast<std::uint64_t>(n);
      } else {
        out = n;
      }
      return true;
    }
    case Type::UINT64: {
      std::uint64_t n = 0;
      if (e.get_uint64().get(n) != simdjson::SUCCESS) return false;
      out = n;
      return true;
    }
    case Type::DOUBLE: {
      double d = 0;
      if (e.get_double().get(d) != simdjson::SUCCESS) return false;
      out = d;
      return true;
    }
    case Type::BOOL: {
      bool b = false;
      if (e.get_bool().get(b) != simdjson::SUCCESS) return false;
      out = b;
      return true;
    }
    case Type::NULL_VALUE:
      out = nullptr;
      return true;
  }
  return false;
}

}  // namespace

std::optional<Json> parse(std::string_view text) {
  // simdjson reads the text at a few instructions per byte where nlohmann's lexer took tens;
  // the tree is then built from its tape. A text simdjson refuses (beyond its number range, a
  // byte-order mark) goes to nlohmann's parser, whose verdict it was before.
  std::optional<Json> built;
  bool refused = false;  // too deep
  auto build = [&](Element root) {
    Json value;
    if (from_dom(root, 0, value)) {
      built = std::move(value);
    } else {
      refused = true;
    }
  };
  if (json::detail::parse_with(text, build) == simdjson::SUCCESS) {
    if (refused) return std::nullopt;
    return built;
  }
  if (nesting_depth(text) > kMaxDepth) return std::nullopt;
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view clip_utf8(std::string_view text, std::size_t max_bytes) noexcept {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  // Back off over continuation bytes (10xxxxxx) so the cut never splits a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) --cut;
  return text.substr(0, cut);
}

}  // namespace aigw::translate::detail
