// libFuzzer target: a cache entry read back from Redis (cache::decode_entry), which another
// process wrote and clients' responses shaped. Checked: nothing crashes, reads past the
// input or allocates by a length the bytes claim; a refusal has a reason; an accepted entry
// has a 2xx status, header text without CR, LF or NUL and a body within the cap, encodes
// back to exactly the same bytes (the format has one spelling), and is refused when the cap
// is one byte below its body.

#include "stages/cache/entry_codec.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "cache_entry_fuzz: %s\n", what);
  std::abort();
}

bool splits(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kCap = 1 << 20;
  std::string problem;
  const auto entry = aigw::cache::decode_entry(bytes, kCap, problem);
  if (!entry) {
    if (problem.empty()) fail("a refusal without a reason");
    return 0;
  }
  const aigw::cache::CachedResponse& r = entry->response;
  if (r.status < 200 || r.status > 299) fail("a status that is not a 2xx");
  if (!r.body || r.body->size() > kCap || r.body->size() > size) fail("a body over the cap");
  if (splits(r.content_type)) fail("a content type that could split a response");
  if (r.headers.size() > aigw::cache::kMaxEntryHeaders) fail("too many headers");
  for (const auto& [name, value] : r.headers) {
    if (name.empty() || splits(name) || splits(value)) fail("a header that could split");
  }
  const auto again = aigw::cache::encode_entry(r, entry->stored_unix_ms);
  if (!again || *again != bytes) fail("an accepted entry does not encode back to its bytes");
  if (!r.body->empty()) {
    std::string smaller;
    if (aigw::cache::decode_entry(bytes, r.body->size() - 1, smaller) || smaller.empty()) {
      fail("a body over the cap accepted");
    }
  }
  return 0;
}
