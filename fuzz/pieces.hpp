#pragma once
// The streaming parsers are fed a response in chunks that may be cut anywhere: inside a line,
// between CR and LF, inside a UTF-8 sequence or a JSON string. Each target that drives one
// lets the input choose the cuts, so that every such split is reachable.
//
// Layout (FuzzedDataProvider takes integers from the end, bytes from the front): the last
// byte is the number of cuts (mod 16), the two bytes before it per cut its offset (mod the
// payload's size + 1), and whatever comes first is the payload. fuzz/seeds.py writes seeds
// in this form.

#include <algorithm>
#include <cstdint>
#include <fuzzer/FuzzedDataProvider.h>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::fuzz {

struct Pieces {
  std::string payload;
  std::vector<std::string_view> parts;  // views of payload, in order, covering all of it
};

inline Pieces take_pieces(FuzzedDataProvider& fdp) {
  const unsigned cuts = fdp.ConsumeIntegralInRange<unsigned>(0, 15);
  std::vector<std::uint16_t> at;
  for (unsigned i = 0; i < cuts; ++i) at.push_back(fdp.ConsumeIntegral<std::uint16_t>());
  Pieces out;
  out.payload = fdp.ConsumeRemainingBytesAsString();
  const std::string_view all(out.payload);
  std::vector<std::size_t> offsets;
  for (const auto a : at) offsets.push_back(a % (all.size() + 1));
  std::sort(offsets.begin(), offsets.end());
  std::size_t from = 0;
  for (const std::size_t to : offsets) {
    out.parts.push_back(all.substr(from, to - from));  // empty pieces are fed too
    from = to;
  }
  out.parts.push_back(all.substr(from));
  return out;
}

}  // namespace aigw::fuzz
