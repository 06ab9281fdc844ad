#pragma once
// For the request's body facts, the usage parsers and the universal step reader: parsing a
// JSON text with simdjson's DOM parser into a tape that is read in any order (the formats
// look members up by name, as the providers' API references describe them, not in document
// order), at a few instructions per byte. A library that includes this must link simdjson (its
// compile definitions shape the thread-local parser below).
//
// One parser and one padded input buffer per thread are reused, so a small body or event
// costs no allocation. A text larger than kMaxKeptBytes is parsed with a parser of its own,
// freed afterwards, so a thread does not keep the buffers of its largest body. Nesting deeper
// than simdjson's default (1024) is parsed again with a parser sized for it (nlohmann, used
// before, had no depth limit). Errors are returned, never thrown.

#include <cstddef>
#include <cstring>
#include <memory>
#include <simdjson.h>
#include <string>
#include <string_view>

namespace aigw::json {

inline constexpr std::size_t kMaxKeptBytes = std::size_t{256} << 10;

namespace detail {

struct ThreadParser {
  simdjson::dom::parser parser;
  std::unique_ptr<char[]> buffer;  // the input, padded with SIMDJSON_PADDING bytes
  std::size_t capacity = 0;        // of buffer, without the padding
  bool busy = false;               // a document of `parser` is being read
};

inline ThreadParser& thread_parser() {
  thread_local ThreadParser p;
  return p;
}

// Copies `text` into `buffer` (grown as needed) with zeroed padding.
inline const char* padded(std::string_view text, std::unique_ptr<char[]>& buffer,
                          std::size_t& capacity) {
  if (buffer == nullptr || capacity < text.size()) {
    capacity = text.size() < 4096 ? 4096 : text.size();
    buffer = std::make_unique<char[]>(capacity + simdjson::SIMDJSON_PADDING);
  }
  if (!text.empty()) std::memcpy(buffer.get(), text.data(), text.size());
  std::memset(buffer.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
  return buffer.get();
}

template <class F>
simdjson::error_code parse_alone(std::string_view text, std::size_t max_depth, F& f) {
  simdjson::dom::parser parser;
  if (const auto error = parser.allocate(text.size(), max_depth)) return error;
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;
  const char* in = padded(text, buffer, capacity);
  simdjson::dom::element root;
  if (const auto error = parser.parse(in, text.size(), false).get(root)) return error;
  f(root);
  return simdjson::SUCCESS;
}

template <class F>
simdjson::error_code parse_with(std::string_view text, F& f) {
  ThreadParser& tp = thread_parser();
  simdjson::error_code error = simdjson::SUCCESS;
  if (text.size() > kMaxKeptBytes || tp.busy) {
    error = parse_alone(text, simdjson::DEFAULT_MAX_DEPTH, f);
  } else {
    const char* in = padded(text, tp.buffer, tp.capacity);
    simdjson::dom::element root;
    error = tp.parser.parse(in, text.size(), false).get(root);
    if (error == simdjson::SUCCESS) {
      tp.busy = true;
      struct Release {
        bool& busy;
        ~Release() { busy = false; }
      } release{tp.busy};
      f(root);
    }
  }
  // Too deep for the default parser: again with one sized for it (a depth of n takes at
  // least 2n bytes).
  if (error == simdjson::DEPTH_ERROR) error = parse_alone(text, text.size() / 2 + 2, f);
  return error;
}

// A copy of `text` in `out` where every JSON integer beyond 64 bits (which simdjson rejects,
// where nlohmann, used before, read it as a double) is "1e99" or "-1e99" padded with spaces:
// a double as far out of any count's range. False when there is none (the error was
// something else).
bool tame_numbers(std::string_view text, std::string& out);

}  // namespace detail

// Parses `text` as one JSON value and calls f(simdjson::dom::element root) with it; the
// element and every string view read from it are valid only during the call. Returns false,
// without calling f, when `text` is not one JSON value. May be called from within f (another
// parser is then used).
template <class F>
bool with_dom(std::string_view text, F&& f) {
  simdjson::error_code error = detail::parse_with(text, f);
  if (error == simdjson::NUMBER_ERROR) {
    std::string tamed;
    if (detail::tame_numbers(text, tamed)) error = detail::parse_with(tamed, f);
  }
  return error == simdjson::SUCCESS;
}

}  // namespace aigw::json
