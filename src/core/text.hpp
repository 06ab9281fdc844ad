#pragma once
// Small text helpers shared by the config loader, the provider registry and the pipeline:
// ASCII case folding and the near-miss suggestion behind every "did you mean" diagnostic.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::text {

// The value of one hex digit (either case), or -1.
constexpr int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `s` without the spaces and tabs around it (HTTP's optional whitespace, RFC 9110 §5.6.3).
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A character of an HTTP token (header names; RFC 9110 §5.6.2).
constexpr bool is_tchar(char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// ASCII lower case (header names, schemes, host names); other bytes are left alone.
std::string lower(std::string_view s);

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so "lsiten"
// is one edit from "listen" like a human would count it.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The entry of `known` a human most likely meant by `typed`, if any is close enough: case
// and '-' vs '_' differences always match; otherwise one edit for names of up to 4
// characters, two for longer ones. Ties go to the first entry of `known`.
std::optional<std::string_view> closest(std::string_view typed,
                                        const std::vector<std::string_view>& known);

// A client-chosen value made fit for a metric label or a log column: at most `max_bytes`
// bytes of it, cut at a character boundary, with invalid UTF-8 and control characters each
// replaced by '?'. Without this bound a client sends a 1 MiB "model" and the gateway keeps
// it as a label and a row (docs/security.md).
std::string clip(std::string_view value, std::size_t max_bytes);
// The same, without a copy when none is needed: `value`'s first max_bytes when they are
// printable ASCII (nearly always), else clip()'s result, kept in `scratch`.
std::string_view clip(std::string_view value, std::size_t max_bytes, std::string& scratch);

// The cap clip() is used with for names that reach labels and log columns (model, provider
// path, user agent, metadata values).
inline constexpr std::size_t kMaxLabelBytes = 256;

// A duration in the config's own spelling, in the largest unit that divides it exactly:
// 90000ms -> "90s", 600000 -> "10m", 250 -> "250ms", 0 -> "0".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace aigw::text
