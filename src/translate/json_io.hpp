#pragma once
// JSON in and out for the translators. nlohmann's parser recurses once per nesting level and
// has no limit of its own, so a body of a few megabytes of "[" would exhaust the stack: every
// text is measured first and refused past kMaxDepth (no provider schema nests near it).
// Output replaces invalid UTF-8 (U+FFFD) instead of throwing.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aigw::translate::detail {

using Json = nlohmann::ordered_json;

inline constexpr int kMaxDepth = 128;

// The deepest nesting of arrays and objects in `text`, strings skipped; stops counting (and
// returns kMaxDepth + 1) as soon as the limit is passed.
int nesting_depth(std::string_view text) noexcept;

// `text` as one JSON value; nullopt when it is not one, or nests deeper than kMaxDepth.
std::optional<Json> parse(std::string_view text);

// Compact JSON; invalid UTF-8 in strings becomes U+FFFD.
std::string dump(const Json& value);

// At most `max_bytes` of `text`, not cutting a UTF-8 sequence in two (dump() replaces any
// other invalid byte): a provider's error text quoted in a client's error message.
std::string_view clip_utf8(std::string_view text, std::size_t max_bytes) noexcept;

}  // namespace aigw::translate::detail
