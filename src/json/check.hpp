#pragma once
// Is this byte string one JSON text (RFC 8259)? Answered without building anything.
//
// The gateway checks every JSON request body before it spends a provider call on it
// (server.validate_json). nlohmann::json::accept did that at about 90 instructions per byte,
// a quarter of all user-space work per proxied request (bench/README.md); this scanner does
// one pass, allocates nothing below 64 levels of nesting, and is tested against
// nlohmann::json::accept on generated inputs (tests/unit/core/json_check_test.cpp).
//
// What it accepts: exactly RFC 8259's grammar, with the text in UTF-8 (well-formed: no
// overlong forms, surrogates or code points above U+10FFFF), an optional UTF-8 BOM first
// (nlohmann accepts one too), \u escapes whose surrogates pair up, and insignificant
// whitespace around the value. One difference from nlohmann: a number outside the range of
// a double (1e400) is valid JSON here, as the grammar says; nlohmann rejects it.

#include <string>
#include <string_view>

namespace aigw::json {

bool valid(std::string_view text) noexcept;

// valid(), and a key the top-level object has more than once (compared after unescaping),
// or "" when none does. Two "model" members are read as the last by some parsers and as the
// first by others: the gateway would check one model and the provider use another.
struct Checked {
  bool valid = false;
  std::string duplicate_key;
};
Checked check(std::string_view text);

}  // namespace aigw::json
