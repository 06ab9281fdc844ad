// json::valid (the request-body check) and json::canonical (the cache key's spelling) on the
// same input, checked against each other and against nlohmann::json:
// - nlohmann accepts ⇒ valid; valid but nlohmann refuses ⇒ the text has a number nlohmann
//   cannot hold (documented difference);
// - valid and nested at most 512 deep ⇒ canonical succeeds, its output is valid, is its own
//   canonical form, and nlohmann reads it as the same value as the input.
// canonical alone may accept invalid UTF-8 in strings (documented), so it is held to its
// own rules only: its output is canonical again.

#include "json/canonical.hpp"
#include "json/check.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "json_fuzz: %s\n", what);
  std::abort();
}

struct Shape {
  std::size_t depth = 0;     // deepest nesting of [ and {
  bool wide_number = false;  // a number with an exponent or of 300+ characters
};

// Only meaningful for valid JSON: strings are skipped by their quotes and escapes.
Shape shape_of(std::string_view s) {
  Shape out;
  std::size_t depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\') ++i;
      }
    } else if (c == '[' || c == '{') {
      out.depth = std::max(out.depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const std::size_t start = i;
      bool exponent = false;
      while (i + 1 < s.size() &&
             std::string_view("0123456789.eE+-").find(s[i + 1]) != std::string_view::npos) {
        ++i;
        exponent = exponent || s[i] == 'e' || s[i] == 'E';
      }
      if (exponent || i + 1 - start >= 300) out.wide_number = true;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = aigw::json::valid(text);
  const auto canonical = aigw::json::canonical(text);

  if (canonical) {
    const auto again = aigw::json::canonical(*canonical);
    if (!again || *again != *canonical) fail("canonical form is not canonical");
  }

  // nlohmann's lexer takes a NUL byte for the end of the input ("0\0" is accepted): no
  // comparison with it for such text.
  if (text.find('\0') != std::string_view::npos) return 0;
  const bool accepted = nlohmann::json::accept(text);
  if (accepted && !valid) fail("nlohmann accepts what json::valid refuses");
  if (!valid) return 0;

  const Shape shape = shape_of(text);
  if (!accepted && !shape.wide_number) fail("json::valid accepts what nlohmann refuses");
  if (shape.depth > 512) return 0;
  if (!canonical) fail("valid JSON has no canonical form");
  if (!aigw::json::valid(*canonical)) fail("canonical form of valid JSON is invalid");
  if (accepted) {
    const auto a = nlohmann::json::parse(text, nullptr, false);
    const auto b = nlohmann::json::parse(*canonical, nullptr, false);
    if (b.is_discarded()) fail("nlohmann refuses the canonical form of what it accepts");
    if (a != b) fail("canonical form is another value");
  }
  return 0;
}
