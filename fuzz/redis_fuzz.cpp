// libFuzzer target: what a Redis server (or anything on its port) sends, and redis.url.
// Mode 0: the bytes as a server's replies, fed to the reader split at the input's cuts and
// whole. Checked: nothing crashes, hangs or leaks; the replies (and whether the bytes broke
// the stream) do not depend on where the bytes were cut. Mode 1: the bytes as a URL: parsed
// or refused with a reason, and a parsed one displays without its user information.

#include "core/redis_url.hpp"
#include "pieces.hpp"
#include "redis/reply.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using aigw::redis::Reply;

// The replies of `parts` as text (type, payload, elements), and whether the stream broke.
std::string replies_of(const std::vector<std::string_view>& parts) {
  aigw::redis::ReplyReader reader;
  std::string out;
  std::vector<const Reply*> stack;
  const auto render = [&out](const Reply& r, const auto& self) -> void {
    out += static_cast<char>('0' + static_cast<int>(r.type));
    out += std::to_string(r.integer) + ":" + std::to_string(r.text.size()) + ":" + r.text;
    out += "[" + std::to_string(r.elements.size());
    for (const Reply& e : r.elements) self(e, self);
    out += "]";
  };
  for (const auto part : parts) {
    if (!reader.feed(part)) return out + "|oom";
    for (;;) {
      bool broken = false;
      auto reply = reader.next(broken);
      if (broken) return out + "|broken";
      if (!reply) break;
      render(*reply, render);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const bool url = fdp.ConsumeBool();
  const aigw::fuzz::Pieces in = aigw::fuzz::take_pieces(fdp);
  if (url) {
    std::string problem;
    const auto endpoint = aigw::redis::parse_url(in.payload, problem);
    if (!endpoint && problem.empty()) {
      std::fprintf(stderr, "redis_fuzz: a refused URL without a reason\n");
      std::abort();
    }
    // No user information in what is logged (a host cannot hold an '@').
    if (endpoint && endpoint->display().find('@') != std::string::npos) {
      std::fprintf(stderr, "redis_fuzz: the display shows user information\n");
      std::abort();
    }
    return 0;
  }
  const std::string split = replies_of(in.parts);
  const std::string whole = replies_of({in.payload});
  if (split != whole) {
    std::fprintf(stderr, "redis_fuzz: the replies depend on the cuts\n");
    std::abort();
  }
  return 0;
}
