// Usage parsers: the Parser around a format's state (formats.cpp) decides how the bytes are
// framed (SSE, a streamed JSON array, NDJSON, a buffered body) and bounds memory.

#include "upstream/providers/usage/usage_parser.hpp"

#include "upstream/providers/usage/format_state.hpp"
#include "upstream/providers/usage/sse_splitter.hpp"

#include <optional>
#include <utility>
#include <vector>

namespace aigw::usage {
namespace {

using namespace detail;

class Parser final : public UsageParser {
 public:
  Parser(std::unique_ptr<FormatState> state, bool event_stream)
      : state_(std::move(state)),
        mode_(event_stream ? Mode::kSse : Mode::kSniff),
        sse_(kMaxEventBytes),
        array_(kMaxEventBytes) {}

  void feed(std::string_view bytes) override {
    cached_.reset();
    if (mode_ == Mode::kSniff) {
      const auto first = bytes.find_first_not_of(" \t\r\n");
      if (first == std::string_view::npos) return;
      bytes.remove_prefix(first);
      mode_ = sniff(bytes.front());
    }
    switch (mode_) {
      case Mode::kSse:
        sse_.feed(bytes, [this](std::string_view name, std::string_view data) {
          state_->on_event(name, data);
        });
        break;
      case Mode::kArray:
        array_.feed(bytes, [this](std::string_view element) { state_->on_event("", element); });
        break;
      case Mode::kBuffered:
        if (overflow_) return;
        if (body_.size() + bytes.size() > kMaxBufferedBytes) {
          overflow_ = true;  // usage of a body this large is not worth the memory
          std::string().swap(body_);
          return;
        }
        body_.append(bytes);
        break;
      case Mode::kSniff:
        break;
    }
  }

  std::uint64_t streamed_output_chars() const noexcept override {
    return mode_ == Mode::kSse || mode_ == Mode::kArray ? state_->output_chars() : 0;
  }

  UsageResult result() const override {
    switch (mode_) {
      case Mode::kSniff:
        return state_->result();
      case Mode::kSse: {
        std::unique_ptr<FormatState> with_pending;
        sse_.peek_pending([&](std::string_view name, std::string_view data) {
          with_pending = state_->clone();
          with_pending->on_event(name, data);
        });
        return with_pending ? with_pending->result() : state_->result();
      }
      case Mode::kArray: {
        UsageResult r = state_->result();
        if (array_.closed()) r.saw_end = true;
        return r;
      }
      case Mode::kBuffered:
        break;
    }
    if (overflow_) return UsageResult{};
    if (!cached_) cached_ = parse_body();
    return *cached_;
  }

 private:
  enum class Mode : std::uint8_t { kSniff, kSse, kArray, kBuffered };

  // The first byte of a body that does not say it is an event stream: JSON starts a value
  // with one of {["-0-9tfn; SSE starts with a field name ("data", "event", "id") or ':'.
  static Mode sniff(char first) {
    if (first == '[') return Mode::kArray;
    if (first == 'd' || first == 'e' || first == 'i' || first == ':') return Mode::kSse;
    return Mode::kBuffered;
  }

  UsageResult parse_body() const {
    auto state = state_->clone();
    if (json::with_dom(body_, [&](Element root) { state->on_body(Json(root)); })) {
      UsageResult r = state->result();
      r.saw_end = true;
      return r;
    }
    // Not one JSON text: newline-delimited JSON (Cohere v1 streams, application/stream+json),
    // or a body cut short, whose lines mostly fail to parse and are skipped.
    std::string_view rest = body_;
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      if (!trim(line).empty()) state->on_event("", line);
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
    return state->result();
  }

  std::unique_ptr<FormatState> state_;
  Mode mode_;
  SseSplitter sse_;
  JsonArraySplitter array_;
  std::string body_;
  bool overflow_ = false;
  mutable std::optional<UsageResult> cached_;  // a buffered body is parsed once per change
};

}  // namespace

std::uint64_t code_points(std::string_view utf8) noexcept {
  std::uint64_t n = 0;
  for (const char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::unique_ptr<UsageParser> make_usage_parser(UsageFormat format, bool event_stream) {
  auto state = make_state(format);
  if (!state) return nullptr;
  return std::make_unique<Parser>(std::move(state), event_stream);
}

}  // namespace aigw::usage
