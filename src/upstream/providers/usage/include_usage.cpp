// Both directions edit JSON text in place instead of parsing and re-serialising it: a request
// keeps its members' order, spacing and number spellings, and a stream chunk keeps every byte
// the provider wrote except the ones include_usage added. The editing needs only where each
// top-level member's key and value begin and end, which a small scanner finds.

#include "upstream/providers/usage/include_usage.hpp"

#include "json/check.hpp"
#include "json/members.hpp"
#include "upstream/providers/usage/sse_splitter.hpp"

#include <string.h>  // memmem (GNU)
#include <vector>

namespace aigw::usage {
namespace {

using json::kNpos;
using json::last_named;
using json::Member;
using json::scan_object;
using json::skip_ws;

// Whether [begin, end) of s is an empty array, spaces allowed inside.
bool is_empty_array(std::string_view v) {
  if (v.size() < 2 || v.front() != '[' || v.back() != ']') return false;
  return skip_ws(v, 1) == v.size() - 1;
}

}  // namespace

bool add_include_usage(std::string& body) {
  if (!aigw::json::valid(body)) return false;
  std::size_t start = 0;
  if (body.compare(0, 3, "\xEF\xBB\xBF") == 0) start = 3;  // a BOM json::valid accepts
  start = skip_ws(body, start);
  std::vector<Member> members;
  if (scan_object(body, start, members) == kNpos) return false;

  const Member* stream = last_named(members, body, "stream");
  if (stream == nullptr || stream->value(body) != "true") return false;

  constexpr std::string_view kOption = "\"include_usage\":true";
  const Member* options = last_named(members, body, "stream_options");
  if (options == nullptr) {
    body.insert(members.back().value_end,
                std::string(",\"stream_options\":{").append(kOption).append("}"));
    return true;
  }
  const std::string_view value = options->value(body);
  if (value == "null") {
    body.replace(options->value_begin, value.size(), std::string("{").append(kOption) + "}");
    return true;
  }
  if (value.front() != '{') return false;
  std::vector<Member> inner;
  if (scan_object(body, options->value_begin, inner) == kNpos) return false;
  if (const Member* include = last_named(inner, body, "include_usage")) {
    if (include->value(body) == "true") return false;
    body.replace(include->value_begin, include->value_end - include->value_begin, "true");
    return true;
  }
  if (inner.empty()) {
    body.insert(options->value_begin + 1, kOption);
  } else {
    body.insert(inner.back().value_end, std::string(",").append(kOption));
  }
  return true;
}

// Collects what filter() returns: while everything kept is one contiguous run of `in`, a view
// of it; from the first edit on, a copy in scratch.
class UsageChunkStripper::Out {
 public:
  Out(std::string_view in, std::string& scratch) : in_(in), scratch_(scratch) {}

  void keep(std::size_t begin, std::size_t end) {
    if (begin == end) return;
    if (!copying_) {
      if (!any_) {
        run_begin_ = begin;
        run_end_ = end;
        any_ = true;
        return;
      }
      if (run_end_ == begin) {
        run_end_ = end;
        return;
      }
      start_copy();
    }
    scratch_.append(in_.substr(begin, end - begin));
  }

  void add(std::string_view bytes) {
    if (bytes.empty()) return;
    if (!copying_) start_copy();
    scratch_.append(bytes);
  }

  std::string_view in() const { return in_; }

  std::string_view view() const {
    if (copying_) return scratch_;
    return in_.substr(run_begin_, run_end_ - run_begin_);
  }

 private:
  void start_copy() {
    copying_ = true;
    scratch_.assign(in_.substr(run_begin_, run_end_ - run_begin_));
  }

  std::string_view in_;
  std::string& scratch_;
  std::size_t run_begin_ = 0;
  std::size_t run_end_ = 0;
  bool any_ = false;
  bool copying_ = false;
};

std::string_view UsageChunkStripper::filter(std::string_view in, std::string& scratch) {
  Out out(in, scratch);
  std::size_t begin = 0;  // where the current event's bytes start in `in`
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') {
        // The LF of a CRLF. If that CR ended an event, the LF belongs to it and shares its
        // fate; otherwise it is inside the current event.
        if (begin == i && !event_has_lines_ && held_.empty() && !passing_) {
          if (!last_dropped_) out.keep(i, i + 1);
          begin = i + 1;
        }
        continue;
      }
    }
    if (c != '\r' && c != '\n') {  // inside a line: skip to its end at once
      const std::size_t eol = line_end(in, i);
      line_len_ += eol - i;
      i = eol - 1;
      continue;
    }
    after_cr_ = c == '\r';
    if (line_len_ > 0) {
      line_len_ = 0;
      event_has_lines_ = true;
      continue;
    }
    end_event(out, begin, i + 1);  // a blank line ends the event
    begin = i + 1;
  }
  if (begin < in.size()) {
    if (passing_) {
      out.keep(begin, in.size());
    } else {
      held_.append(in.substr(begin));
      if (held_.size() > kMaxHeldEventBytes) {
        out.add(held_);
        std::string().swap(held_);
        passing_ = true;
      }
    }
  }
  return out.view();
}

void UsageChunkStripper::end_event(Out& out, std::size_t begin, std::size_t end) {
  const std::string_view in = out.in();
  last_dropped_ = false;
  if (passing_ || !event_has_lines_) {  // stray blank lines, or an event over the bound
    out.keep(begin, end);
    reset_event();
    return;
  }
  if (held_.size() + (end - begin) > kMaxHeldEventBytes) {
    // Over the bound, whether it arrived in pieces or in one chunk: passes as it is.
    out.add(held_);
    out.keep(begin, end);
    reset_event();
    return;
  }
  std::string_view event = in.substr(begin, end - begin);
  if (!held_.empty()) {
    held_.append(event);
    event = held_;
  }
  switch (judge(event)) {
    case Verdict::kPass:
      if (held_.empty()) {
        out.keep(begin, end);
      } else {
        out.add(held_);
      }
      break;
    case Verdict::kDrop:
      last_dropped_ = true;
      break;
    case Verdict::kRewrite:
      out.add(rewritten_);
      break;
  }
  reset_event();
}

void UsageChunkStripper::reset_event() {
  held_.clear();
  event_has_lines_ = false;
  passing_ = false;
  line_len_ = 0;
}

std::string_view UsageChunkStripper::finish(std::string& scratch) {
  scratch.clear();
  if (!held_.empty()) {
    switch (judge(held_)) {
      case Verdict::kPass:
        scratch = held_;
        break;
      case Verdict::kDrop:
        break;
      case Verdict::kRewrite:
        scratch = rewritten_;
        break;
    }
  }
  reset_event();
  after_cr_ = false;
  return scratch;
}

UsageChunkStripper::Verdict UsageChunkStripper::judge(std::string_view event) {
  // Exactly one non-blank line, a data line.
  std::string_view data;
  std::size_t data_at = 0;
  for (std::size_t i = 0; i < event.size();) {
    const std::size_t end = line_end(event, i);
    if (end > i) {
      if (!data.empty() || event.compare(i, 5, "data:") != 0) return Verdict::kPass;
      data_at = i + 5;
      if (data_at < end && event[data_at] == ' ') ++data_at;
      data = event.substr(data_at, end - data_at);
      if (data.empty()) return Verdict::kPass;
    }
    i = end + 1;
  }
  // memmem, not string_view::find: find calls memchr once per '"' of the event (thirty-odd
  // in a chunk), this is one vectorised pass.
  static constexpr std::string_view kUsageKey = "\"usage\"";
  if (::memmem(data.data(), data.size(), kUsageKey.data(), kUsageKey.size()) == nullptr) {
    return Verdict::kPass;
  }

  // Reused: with include_usage nearly every chunk names "usage" and comes through here.
  thread_local std::vector<Member> members;
  const std::size_t open = skip_ws(data, 0);
  const std::size_t close = scan_object(data, open, members);
  if (close == kNpos || skip_ws(data, close) != data.size()) return Verdict::kPass;

  const Member* usage = last_named(members, data, "usage");
  if (usage == nullptr) return Verdict::kPass;
  const Member* choices = last_named(members, data, "choices");
  if (choices != nullptr && is_empty_array(choices->value(data)) &&
      usage->value(data).front() == '{') {
    return Verdict::kDrop;
  }
  if (usage->value(data) != "null") return Verdict::kPass;

  // Remove the member with the comma that joins it to its neighbour: the one before it, or,
  // for the first member, the one after it.
  const std::size_t k = static_cast<std::size_t>(usage - members.data());
  std::size_t cut_begin = usage->key_begin;
  std::size_t cut_end = usage->value_end;
  if (k > 0) {
    cut_begin = members[k - 1].value_end;
  } else if (k + 1 < members.size()) {
    cut_end = members[k + 1].key_begin;
  }
  rewritten_.assign(event.substr(0, data_at + cut_begin));
  rewritten_.append(event.substr(data_at + cut_end));
  return Verdict::kRewrite;
}

}  // namespace aigw::usage
