#include "core/text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace aigw::text {
namespace {

// Case and '-' vs '_' are the commonest slips (max-body-bytes, Listen, google_ai_studio).
std::string fold(std::string_view s) {
  std::string out = lower(s);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

}  // namespace

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string_view> closest(std::string_view typed,
                                        const std::vector<std::string_view>& known) {
  const std::string folded = fold(typed);
  // Two edits turn short names into almost anything, so they get only one.
  const std::size_t max_distance = typed.size() <= 4 ? 1 : 2;
  std::optional<std::string_view> best;
  std::size_t best_distance = max_distance + 1;
  for (std::string_view k : known) {
    const std::string folded_k = fold(k);
    // The length difference bounds the distance from below; checking it first also keeps a
    // pathological megabyte-long name from costing a megabyte-sized table.
    const std::size_t gap =
        folded.size() > k.size() ? folded.size() - k.size() : k.size() - folded.size();
    if (gap > max_distance && folded_k != folded) continue;
    const std::size_t d = folded_k == folded ? 0 : edit_distance(folded, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best;
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms == 0) return "0";
  if (ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

namespace {

// Whether every byte is printable ASCII (0x20-0x7e), eight bytes at a time: clip() runs on
// several values of every request.
bool printable_ascii(std::string_view s) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  const char* p = s.data();
  std::size_t n = s.size();
  while (n >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    const std::uint64_t del = x ^ (kOnes * 0x7f);
    const std::uint64_t special = ((x - kOnes * 0x20) & ~x)  // a byte below 0x20
                                  | ((del - kOnes) & ~del)   // 0x7f
                                  | x;                       // 0x80 or more
    if ((special & kHighs) != 0) return false;
    p += 8;
    n -= 8;
  }
  for (; n > 0; ++p, --n) {
    const auto u = static_cast<unsigned char>(*p);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

}  // namespace

std::string_view clip(std::string_view value, std::size_t max_bytes, std::string& scratch) {
  const std::string_view head = value.substr(0, max_bytes);
  if (printable_ascii(head)) return head;
  scratch = clip(value, max_bytes);
  return scratch;
}

std::string clip(std::string_view value, std::size_t max_bytes) {
  // Nearly every value is short printable ASCII (a model name, a path): one branch-free
  // pass, which the compiler vectorises, then one copy.
  const std::string_view head = value.substr(0, max_bytes);
  if (printable_ascii(head)) return std::string(head);  // an ASCII cut is a character boundary
  std::string out;
  out.reserve(std::min(value.size(), max_bytes));
  std::size_t i = 0;
  while (i < value.size()) {
    const auto c = static_cast<unsigned char>(value[i]);
    // The length of the UTF-8 sequence starting here (RFC 3629 §4), 0 when it is invalid:
    // overlong forms, surrogates and code points past U+10FFFF included.
    std::size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
    }
    bool valid = len > 0 && i + len <= value.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(value[i + k]) & 0xc0) == 0x80;
    }
    if (valid && len == 3) {
      const auto c1 = static_cast<unsigned char>(value[i + 1]);
      valid = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    } else if (valid && len == 4) {
      const auto c1 = static_cast<unsigned char>(value[i + 1]);
      valid = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (!valid) len = 1;
    if (out.size() + len > max_bytes) break;
    if (!valid || c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out.append(value.substr(i, len));
    }
    i += len;
  }
  return out;
}

}  // namespace aigw::text
