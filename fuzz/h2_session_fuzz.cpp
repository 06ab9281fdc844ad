// libFuzzer target: what a provider sends on an HTTP/2 connection (src/upstream/h2.cpp).
// Three requests are open on a client session (one with a body); the input, cut into pieces
// (fuzz/pieces.hpp), is what the provider answers. After each piece the gateway side does
// what an attempt would: relays and gives back every stream's received bytes, and lets go of
// the second stream halfway. Checked: nothing crashes, hangs or leaks; a stream's header
// fields never exceed the bound; a stream never holds more unrelayed bytes than its window;
// a refused or failed session never leaves a stream open.

#include "pieces.hpp"
#include "upstream/h2.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kMaxHeaderBytes = 1024;
constexpr std::size_t kStreamWindow = 64 * 1024;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "h2_session_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static boost::asio::io_context io;
  FuzzedDataProvider fdp(data, size);
  const auto pieces = aigw::fuzz::take_pieces(fdp);

  aigw::H2Settings settings;
  settings.max_header_bytes = kMaxHeaderBytes;
  aigw::H2Session session(io.get_executor(), settings, [] {});
  std::string out;
  std::string why;
  using Fields = std::vector<std::pair<std::string_view, std::string_view>>;
  const Fields fields{{":method", "POST"},           {":scheme", "https"},
                      {":authority", "provider"},    {":path", "/v1/chat/completions"},
                      {"authorization", "Bearer k"}, {"content-type", "application/json"}};
  const std::string body(70000, 'b');  // more than the provider's first window
  std::vector<std::shared_ptr<aigw::H2Stream>> streams;
  streams.push_back(session.submit(fields, body));
  streams.push_back(session.submit(fields, {}));
  streams.push_back(session.submit(fields, "{}"));
  for (const auto& s : streams) check(s != nullptr, "a new session refused a stream");
  check(session.produce(out, why), "the preface and requests could not be framed");

  bool broken = false;
  std::size_t piece = 0;
  for (const auto part : pieces.parts) {
    if (!session.receive(reinterpret_cast<const std::uint8_t*>(part.data()), part.size(), why)) {
      broken = true;
      break;
    }
    out.clear();
    if (!session.produce(out, why)) {
      broken = true;
      break;
    }
    for (std::size_t i = 0; i < streams.size(); ++i) {
      auto& s = streams[i];
      if (!s) continue;
      check(s->header_bytes <= kMaxHeaderBytes || s->header_overflow,
            "header fields past the bound were kept");
      check(s->data.size() <= kStreamWindow, "a stream holds more than its window");
      const std::size_t n = s->data.size();
      s->data.clear();
      session.consume(*s, n);
      if (i == 1 && ++piece == pieces.parts.size() / 2) {
        session.release(*s, false);
        s.reset();
      }
    }
  }
  if (broken) {
    session.fail_streams(why);
    for (const auto& s : streams) check(!s || s->closed, "a failed session left a stream open");
  }
  for (auto& s : streams) {
    if (s) session.release(*s, s->ended);
  }
  out.clear();
  session.produce(out, why);
  io.poll();
  io.restart();
  return 0;
}
