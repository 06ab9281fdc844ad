// SseSplitter and JsonArraySplitter fed one input in pieces cut where the input says.
// Checked: the events do not depend on where the stream was cut; they match a plain,
// non-incremental reading of HTML §9.2.6 with the splitter's documented bounds; no event is
// larger than the bound; a valid JSON array yields only valid JSON elements.

#include "json/check.hpp"
#include "pieces.hpp"
#include "upstream/providers/usage/sse_splitter.hpp"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using aigw::usage::JsonArraySplitter;
using aigw::usage::SseSplitter;
using Events = std::vector<std::pair<std::string, std::string>>;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "sse_splitter_fuzz: %s\n", what);
  std::abort();
}

constexpr std::size_t kMaxEventName = 128;

// The whole stream at once, line by line, as the standard describes it: the reference the
// incremental splitter must agree with.
struct Reference {
  Events events;
  std::optional<std::pair<std::string, std::string>> pending;
};

Reference reference_sse(std::string_view s, std::size_t max_event_bytes) {
  Reference out;
  std::string data, name;
  std::size_t lines = 0;
  bool oversized = false;
  auto append = [&](std::string_view v) {
    if (oversized) return;
    if (data.size() + v.size() > max_event_bytes) {
      oversized = true;
      data.clear();
      return;
    }
    data.append(v);
  };
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t end = i;
    while (end < s.size() && s[end] != '\r' && s[end] != '\n') ++end;
    if (end == s.size()) {  // a last line without its end is not a line yet
      const std::string_view line = s.substr(i);
      const auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        const std::string_view field = line.substr(0, colon);
        if (field == "data") {
          if (lines > 0) append("\n");
          ++lines;
          append(value);
        } else if (field == "event") {
          name.assign(value.substr(0, kMaxEventName));
        }
      }
      break;
    }
    const std::string_view line = s.substr(i, end - i);
    i = end + 1;
    if (s[end] == '\r' && i < s.size() && s[i] == '\n') ++i;
    if (line.empty()) {
      if (lines > 0 && !oversized) out.events.emplace_back(name, data);
      data.clear();
      name.clear();
      lines = 0;
      oversized = false;
      continue;
    }
    const auto colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      if (lines > 0) append("\n");
      ++lines;
      append(value);
    } else if (field == "event") {
      name.assign(value.substr(0, kMaxEventName));
    }
  }
  if (lines > 0 && !oversized) out.pending.emplace(name, data);
  return out;
}

Reference run_sse(const std::vector<std::string_view>& parts, std::size_t max_event_bytes) {
  SseSplitter splitter(max_event_bytes);
  Reference out;
  for (const auto part : parts) {
    splitter.feed(part, [&](std::string_view name, std::string_view data) {
      if (data.size() > max_event_bytes) fail("event over max_event_bytes");
      if (name.size() > kMaxEventName) fail("event name over its bound");
      out.events.emplace_back(std::string(name), std::string(data));
    });
  }
  splitter.peek_pending([&](std::string_view name, std::string_view data) {
    out.pending.emplace(std::string(name), std::string(data));
  });
  return out;
}

std::vector<std::string> run_array(const std::vector<std::string_view>& parts,
                                   std::size_t max_element_bytes, bool& closed) {
  JsonArraySplitter splitter(max_element_bytes);
  std::vector<std::string> out;
  for (const auto part : parts) {
    splitter.feed(part, [&](std::string_view element) {
      if (element.size() > max_element_bytes) fail("element over max_element_bytes");
      if (element.empty() || (element.front() != '{' && element.front() != '[')) {
        fail("element does not start an object or array");
      }
      out.emplace_back(element);
    });
  }
  closed = splitter.closed();
  return out;
}

bool same(const Reference& a, const Reference& b) {
  return a.events == b.events && a.pending == b.pending;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  // Small bounds too, so that the oversized path runs as often as the normal one.
  const std::size_t max_bytes = fdp.ConsumeIntegralInRange<std::size_t>(0, 4096);
  const aigw::fuzz::Pieces in = aigw::fuzz::take_pieces(fdp);
  const std::vector<std::string_view> whole{in.payload};

  const Reference split_sse = run_sse(in.parts, max_bytes);
  if (!same(split_sse, run_sse(whole, max_bytes))) fail("SSE events depend on the cuts");
  if (!same(split_sse, reference_sse(in.payload, max_bytes))) {
    fail("SSE events differ from the reference reading");
  }

  bool closed_split = false, closed_whole = false;
  const auto elements = run_array(in.parts, max_bytes, closed_split);
  if (elements != run_array(whole, max_bytes, closed_whole) || closed_split != closed_whole) {
    fail("array elements depend on the cuts");
  }
  if (aigw::json::valid(in.payload)) {
    for (const auto& e : elements) {
      if (!aigw::json::valid(e)) fail("a valid array gave an invalid element");
    }
  }
  return 0;
}
