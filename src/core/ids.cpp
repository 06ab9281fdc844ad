#include "aigw/ids.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

namespace aigw {
namespace {

// splitmix64: a fast, well-distributed generator for id bits. Ids need uniqueness, not
// unpredictability against an attacker; they are not secrets.
struct IdRandom {
  std::uint64_t state;
  IdRandom()
      : state((static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {
  }
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

struct IdState {
  IdRandom random;
  std::uint64_t last_ms = 0;
  std::uint16_t counter = 0;  // 12-bit rand_a used as a counter (RFC 9562 §6.2 method 1)
};

thread_local IdState t_state;

}  // namespace

std::string make_uuid_v7() {
  auto& st = t_state;
  auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  if (ms <= st.last_ms) {
    // Same millisecond (or the clock stepped back): keep ordering by bumping the counter;
    // on counter overflow borrow the next millisecond.
    ms = st.last_ms;
    if (++st.counter > 0x0FFF) {
      ++ms;
      st.counter = static_cast<std::uint16_t>(st.random.next() & 0x01FF);
    }
  } else {
    // Start low in the counter space so a burst within one ms rarely overflows.
    st.counter = static_cast<std::uint16_t>(st.random.next() & 0x01FF);
  }
  st.last_ms = ms;

  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<std::uint8_t>(0x70 | ((st.counter >> 8) & 0x0F));
  b[7] = static_cast<std::uint8_t>(st.counter & 0xFF);
  const std::uint64_t r = st.random.next();
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<std::uint8_t>(r >> (56 - 8 * i));
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));  // variant 10xx

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  char* o = out.data();
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++o;  // the dash already there
    *o++ = kHex[b[i] >> 4];
    *o++ = kHex[b[i] & 0x0F];
  }
  return out;
}

bool is_uuid_v7(std::string_view s) noexcept {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  const char variant = s[19];
  return s[14] == '7' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
}

}  // namespace aigw
