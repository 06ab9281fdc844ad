#pragma once
// A cached response as bytes, for a store that instances share (Redis,
// docs/caching.md#shared-across-instances). What comes back from that store was written by
// another process, from responses clients caused, so the decoder trusts nothing: every
// length is bounded by what is left and by the limits below, header text that could split a
// response (CR, LF, NUL) is refused, and an unknown version, flag or dialect, a truncated or
// over-long input, is a refusal with a reason (the stage treats it as a miss).
//
// Version 1, integers little-endian:
//   "AGWC"  version:u8=1  flags:u8 (1 stream, 2 usage, 4 translation; others 0)
//   status:u16 (2xx)  stored:i64 (Unix ms, >= 0)
//   content_type:u16 len + bytes
//   headers:u16 count, each name:u16 len + bytes (an HTTP token), value:u32 len + bytes
//   [usage]  model:u16 len + bytes, present:u8 (1 input, 2 output, 4 cached_input,
//            8 cache_write, 16 reasoning), then a u64 per present count in that order
//   [translation]  from:u8  to:u8  include_usage:u8 (0 or 1)
//   body:u32 len + bytes, which end the input

#include "stages/cache/store.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aigw::cache {

inline constexpr std::uint8_t kEntryVersion = 1;
// Everything of an entry but its body: the provider's headers (far below this in practice;
// the upstream client bounds a response head too), content type and usage.
inline constexpr std::size_t kMaxEntryHeadBytes = 256 * 1024;
inline constexpr std::size_t kMaxEntryHeaders = 512;

// `response` as an entry stored at `stored_unix_ms` (its stored_at is not used: a steady
// clock means nothing in another process). nullopt when it cannot be one: not a 2xx, a
// header that is not valid HTTP, more headers or head bytes than the limits.
std::optional<std::string> encode_entry(const CachedResponse& response,
                                        std::int64_t stored_unix_ms);

struct DecodedEntry {
  CachedResponse response;  // stored_at unset: the reader derives it from stored_unix_ms
  std::int64_t stored_unix_ms = 0;
};

// The entry in `bytes`, or nullopt with `problem` saying why not ("truncated in the
// headers", "version 2 is unknown", ...). A body longer than `max_body_bytes` is refused.
std::optional<DecodedEntry> decode_entry(std::string_view bytes, std::size_t max_body_bytes,
                                         std::string& problem);

}  // namespace aigw::cache
