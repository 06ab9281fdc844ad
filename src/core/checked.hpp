#pragma once
// Arithmetic on counters that clients influence (token estimates, output caps, costs):
// saturating instead of wrapping, and double → integer conversions that are defined for every
// input. A max_tokens of 2^64-1 once wrapped a reservation to almost nothing and let the
// request past a token limit (issue 15).

#include <cstdint>
#include <limits>

namespace aigw::checked {

inline constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// a + b, or kMax when that does not fit.
constexpr std::uint64_t add(std::uint64_t a, std::uint64_t b) noexcept {
  return b > kMax - a ? kMax : a + b;
}

// a - b, or 0 when b > a.
constexpr std::uint64_t sub(std::uint64_t a, std::uint64_t b) noexcept { return b > a ? 0 : a - b; }

// `v` truncated to an integer: 0 for NaN and negatives, kMax for anything at or past 2^64
// (a plain cast of those is undefined behaviour).
constexpr std::uint64_t to_u64(double v) noexcept {
  if (!(v > 0)) return 0;
  if (v >= 18446744073709551616.0) return kMax;
  return static_cast<std::uint64_t>(v);
}

}  // namespace aigw::checked
