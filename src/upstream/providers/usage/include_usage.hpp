#pragma once
// Asking an OpenAI-compatible provider for usage in a stream it would otherwise send without
// any (stream_options.include_usage, OpenAI API reference "Create chat completion"), and
// hiding that from the client: with the option the provider adds one event before [DONE],
//   data: {...,"choices":[],"usage":{...}}
// and writes "usage":null into every other chunk. The metering stage feeds the upstream bytes
// to the usage parser and the stripped bytes to the client, who gets byte for byte the stream
// it asked for.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::usage {

// For a JSON request object with "stream": true whose stream_options.include_usage is not
// already true, sets it: adds "stream_options":{"include_usage":true} after the last member,
// or "include_usage":true to an existing stream_options object, or replaces a false/null
// include_usage (or a null stream_options). Every other byte of the body stays as it was.
// Returns whether the body changed; a body that is not JSON, not an object, not a stream,
// already asking, or whose stream_options is not an object or null is left alone (false).
bool add_include_usage(std::string& body);

// Removes what include_usage added to a stream, as it passes. One per response whose request
// add_include_usage changed (never when the client asked for usage itself), fed every
// upstream chunk in order. Events are held back only until they are complete (the client
// could not use half an event anyway), at most one at a time and at most kMaxHeldEventBytes;
// a larger event passes through unchanged.
//
// What is removed, and nothing else:
// - an event made of exactly one data line whose JSON object has "choices": [] and a "usage"
//   object — the extra usage event — with its blank line;
// - a top-level "usage": null member of any other single-data-line event, with its comma.
// Events with usage next to non-empty choices (providers that always report usage) pass
// unchanged.
class UsageChunkStripper {
 public:
  static constexpr std::size_t kMaxHeldEventBytes = std::size_t{1} << 20;

  // The bytes to send to the client for `in`, the next upstream chunk. A view of `in` itself
  // when nothing in it changed (the common case: no copy), else of `scratch` (overwritten).
  // Valid until the next call or until `scratch` changes. `in` must not alias `scratch`.
  std::string_view filter(std::string_view in, std::string& scratch);

  // At the end of the upstream body: whatever is still held back (an event without its
  // closing blank line), filtered the same way, in `scratch`.
  std::string_view finish(std::string& scratch);

 private:
  enum class Verdict : std::uint8_t { kPass, kDrop, kRewrite };
  class Out;

  Verdict judge(std::string_view event);
  void end_event(Out& out, std::size_t begin, std::size_t end);
  void reset_event();

  std::string held_;       // the start of an event whose end has not arrived yet
  std::string rewritten_;  // judge()'s output for kRewrite
  std::size_t line_len_ = 0;
  bool event_has_lines_ = false;
  bool after_cr_ = false;      // the last byte was a CR (an LF next is part of that line end)
  bool last_dropped_ = false;  // the last complete event was dropped
  bool passing_ = false;       // the current event outgrew the bound: passes unchanged
};

}  // namespace aigw::usage
