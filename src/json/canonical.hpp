#pragma once
// One spelling for every JSON value, so that equal values compare (and hash) equal.
//
// The response cache keys requests by their body in this form: the same request sent with
// other spacing, key order or escapes is the same entry. It used to be nlohmann::json's
// parse + dump, which cost about 32 000 instructions per chat request, a third of a cache
// hit (bench/README.md); this is one recursive pass that builds no tree.
//
// The canonical form:
// - no insignificant whitespace, no byte order mark;
// - object members sorted by the bytes of their decoded (UTF-8) names; of members with the
//   same name only the last is kept (as nlohmann and JavaScript's JSON.parse do);
// - strings with every escape decoded, then written escaping only '"', '\\' and control
//   characters (\b \f \n \r \t by name, others as \u00xx); all other characters as UTF-8;
// - integers (no fraction, no exponent) as written, except "-0" which becomes "0";
//   other numbers as the shortest decimal that reads back as the same double, without a
//   fraction when integral and below 2^53, so 1.0, 1e0 and 1 are one spelling ("1") and 0.70
//   is "0.7". A number beyond the range of a double keeps its text.

#include <optional>
#include <string>
#include <string_view>

namespace aigw::json {

// `text` in canonical form, or nothing when it is not one JSON text (RFC 8259) or nests
// deeper than 512 levels. Bytes inside strings are copied, not checked as UTF-8.
std::optional<std::string> canonical(std::string_view text);

// Appends `decoded` (the characters, no escapes) as a JSON string in the canonical spelling
// above, quotes included. For valid UTF-8 that is byte for byte what nlohmann's dump()
// writes, which the /compat translators' fast paths rely on (their output must not depend
// on which path wrote it).
void append_string(std::string& out, std::string_view decoded);

}  // namespace aigw::json
