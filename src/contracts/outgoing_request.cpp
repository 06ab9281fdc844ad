// OutgoingRequest (include/aigw/attempt.hpp): the client's request with one attempt's edits.

#include "aigw/attempt.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace aigw {
namespace {

namespace beast = boost::beast;

std::string lower(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

}  // namespace

std::string_view OutgoingRequest::method_string() const noexcept {
  return method_ ? http::to_string(*method_) : base_->method_string();
}

std::string& OutgoingRequest::edit_body() {
  if (!own_body_) {
    own_body_ = body();
    shared_body_.reset();
  }
  return *own_body_;
}

void OutgoingRequest::body(std::shared_ptr<const std::string> shared) {
  own_body_.reset();
  shared_body_ = std::move(shared);
}

bool OutgoingRequest::hidden(std::string_view name) const noexcept {
  return std::any_of(hidden_.begin(), hidden_.end(),
                     [&](const std::string& h) { return beast::iequals(h, name); });
}

std::optional<std::string_view> OutgoingRequest::header(std::string_view name) const {
  for (const auto& [n, v] : set_) {
    if (beast::iequals(n, name)) return std::string_view(v);
  }
  if (hidden(name)) return std::nullopt;
  const auto it = base_->find(name);
  if (it == base_->end()) return std::nullopt;
  return it->value();
}

void OutgoingRequest::set(std::string_view name, std::string value) {
  erase(name);
  set_.emplace_back(std::string(name), std::move(value));
}

void OutgoingRequest::erase(std::string_view name) {
  std::erase_if(set_, [&](const auto& entry) { return beast::iequals(entry.first, name); });
  if (!hidden(name)) hidden_.push_back(lower(name));
}

}  // namespace aigw
