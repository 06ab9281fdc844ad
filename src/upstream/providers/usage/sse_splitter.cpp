// The non-template halves of the splitters (see sse_splitter.hpp).

#include "upstream/providers/usage/sse_splitter.hpp"

namespace aigw::usage {

void SseSplitter::begin_value(std::string_view name) {
  strip_space_ = true;
  if (name == "data") {
    field_ = Field::kData;
    // Data lines of one event are joined with LF (HTML §9.2.6: append the value, then LF,
    // and drop the final LF at dispatch — the same bytes).
    if (data_lines_ > 0) append_data("\n");
    ++data_lines_;
  } else if (name == "event") {
    field_ = Field::kEvent;
    event_.clear();
  } else {
    field_ = Field::kIgnore;  // comment (empty name), id, retry, unknown fields
  }
}

void SseSplitter::append_data(std::string_view value) {
  if (oversized_) return;
  if (data_.size() + value.size() > max_event_bytes_) {
    oversized_ = true;
    std::string().swap(data_);  // give the memory back now, not at the event's end
    return;
  }
  data_.append(value);
}

void JsonArraySplitter::keep(std::string_view part) {
  if (oversized_) return;
  if (element_.size() + part.size() > max_element_bytes_) {
    oversized_ = true;
    std::string().swap(element_);
    return;
  }
  element_.append(part);
}

}  // namespace aigw::usage
