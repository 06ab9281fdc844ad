#pragma once
// Incremental splitters that turn a streamed body into its events without keeping more than
// the current one: SseSplitter for text/event-stream, JsonArraySplitter for a JSON array whose
// elements arrive one after another (Gemini's streamGenerateContent without alt=sse).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace aigw::usage {

// The first CR or LF of `bytes` at or after `from`, else bytes.size(). Two memchr scans
// (vectorised) rather than find_first_of, which calls memchr on the two-byte set once per
// byte of `bytes` (ten times the cost on a 200-byte event).
inline std::size_t line_end(std::string_view bytes, std::size_t from) {
  const char* begin = bytes.data() + from;
  std::size_t len = bytes.size() - from;
  if (const void* lf = std::memchr(begin, '\n', len)) {
    len = static_cast<std::size_t>(static_cast<const char*>(lf) - begin);
  }
  if (const void* cr = std::memchr(begin, '\r', len)) {
    len = static_cast<std::size_t>(static_cast<const char*>(cr) - begin);
  }
  return from + len;
}

// Server-sent events as the HTML standard reads them (§9.2.6 "Interpreting an event
// stream"): lines end in CRLF, LF or a lone CR; "data:" lines of one event are joined with
// LF; "event:" names it; comments (":...") and other fields (id, retry) are ignored; a blank
// line dispatches the event, unless it had no data line. One space after the colon is not
// part of the value. An event whose data exceeds `max_event_bytes` is dropped whole, so a
// misbehaving upstream cannot make the splitter grow.
class SseSplitter {
 public:
  explicit SseSplitter(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

  // Splits `bytes`, the next part of the stream, calling on_event(std::string_view name,
  // std::string_view data) for every event it completes. `name` is "" without an event line.
  template <class OnEvent>
  void feed(std::string_view bytes, OnEvent&& on_event);

  // If the stream ended now, without the blank line HTML requires, the event it was in the
  // middle of: calls on_event at most once, with the data received so far, and changes
  // nothing. (A proxy that closes right after "data: [DONE]" still meant that event.)
  template <class OnEvent>
  void peek_pending(OnEvent&& on_event) const {
    if (data_lines_ > 0 && !oversized_) on_event(std::string_view(event_), std::string_view(data_));
  }

 private:
  enum class Field : std::uint8_t { kName, kData, kEvent, kIgnore };
  static constexpr std::size_t kMaxName = 8;         // longer field names are not ours
  static constexpr std::size_t kMaxEventName = 128;  // event types are short identifiers

  void begin_value(std::string_view name);
  void append_data(std::string_view value);
  template <class OnEvent>
  void end_line(OnEvent& on_event);

  std::size_t max_event_bytes_;
  Field field_ = Field::kName;
  std::array<char, kMaxName> name_{};
  std::size_t name_len_ = 0;    // bytes of the field name seen on this line (may pass kMaxName)
  bool strip_space_ = false;    // the value's first byte is still to come
  bool after_cr_ = false;       // a CR ended the last line: an LF right after belongs to it
  std::size_t data_lines_ = 0;  // data lines in the current event
  bool oversized_ = false;      // the current event passed max_event_bytes_
  std::string data_;
  std::string event_;
};

template <class OnEvent>
void SseSplitter::feed(std::string_view bytes, OnEvent&& on_event) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    const char c = bytes[i];
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') {
        ++i;
        continue;
      }
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      end_line(on_event);
      ++i;
      continue;
    }
    if (field_ == Field::kName) {
      ++i;
      if (c == ':') {
        // A truncated long name never equals "data" or "event", so it is ignored as it should.
        begin_value(std::string_view(name_.data(), std::min(name_len_, kMaxName)));
        continue;
      }
      if (name_len_ < kMaxName) name_[name_len_] = c;
      ++name_len_;
      continue;
    }
    // Inside a value: take everything up to the end of the line at once.
    const std::size_t end = line_end(bytes, i);
    std::string_view value = bytes.substr(i, end - i);
    i = end;
    if (strip_space_) {
      strip_space_ = false;
      if (value.front() == ' ') value.remove_prefix(1);
    }
    if (field_ == Field::kData) {
      append_data(value);
    } else if (field_ == Field::kEvent) {
      event_.append(value.substr(0, kMaxEventName - std::min(kMaxEventName, event_.size())));
    }
  }
}

template <class OnEvent>
void SseSplitter::end_line(OnEvent& on_event) {
  if (field_ == Field::kName) {
    if (name_len_ == 0) {  // blank line: dispatch
      if (data_lines_ > 0 && !oversized_) {
        on_event(std::string_view(event_), std::string_view(data_));
      }
      data_.clear();
      event_.clear();
      data_lines_ = 0;
      oversized_ = false;
      return;
    }
    // A field name alone on its line is that field with an empty value.
    begin_value(std::string_view(name_.data(), std::min(name_len_, kMaxName)));
  }
  field_ = Field::kName;
  name_len_ = 0;
  strip_space_ = false;
}

// A JSON array streamed element by element: `[{...},\r\n{...}]`. Each top-level element that
// is an object or array is handed over once complete (strings and numbers at the top level
// are skipped); elements over `max_element_bytes` are dropped. Whitespace and commas between
// elements are not checked: the parser of each element does that.
class JsonArraySplitter {
 public:
  explicit JsonArraySplitter(std::size_t max_element_bytes)
      : max_element_bytes_(max_element_bytes) {}

  // Calls on_element(std::string_view json) for each element `bytes` completes.
  template <class OnElement>
  void feed(std::string_view bytes, OnElement&& on_element);

  // The closing ']' of the array was seen.
  bool closed() const noexcept { return closed_; }

 private:
  void keep(std::string_view part);

  std::size_t max_element_bytes_;
  std::size_t depth_ = 0;  // 0 outside the array, 1 between elements, 2+ inside one
  bool in_string_ = false;
  bool escape_ = false;
  bool closed_ = false;
  bool oversized_ = false;
  std::string element_;
};

template <class OnElement>
void JsonArraySplitter::feed(std::string_view bytes, OnElement&& on_element) {
  std::size_t start = std::string_view::npos;  // where the current element's bytes begin here
  if (depth_ >= 2) start = 0;
  for (std::size_t i = 0; i < bytes.size() && !closed_; ++i) {
    const char c = bytes[i];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '{':
      case '[':
        if (depth_ == 1) start = i;
        ++depth_;
        break;
      case '}':
      case ']':
        if (depth_ == 1) {  // the array's own ']'
          closed_ = true;
          depth_ = 0;
          break;
        }
        if (depth_ == 0) break;
        if (--depth_ == 1) {
          keep(bytes.substr(start, i + 1 - start));
          if (!oversized_) on_element(std::string_view(element_));
          element_.clear();
          oversized_ = false;
          start = std::string_view::npos;
        }
        break;
      default:
        break;
    }
  }
  if (start != std::string_view::npos && depth_ >= 2) keep(bytes.substr(start));
}

}  // namespace aigw::usage
