#pragma once
// Inside the usage parsers (usage_parser.cpp frames the bytes, formats.cpp reads each
// provider's format): a JSON value of the document being read, small helpers over it, and
// the state each format keeps. Not for use outside src/upstream/providers/usage.

#include "json/dom.hpp"
#include "upstream/providers/usage/usage_parser.hpp"

#include <array>
#include <cmath>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace aigw::usage::detail {

using Element = simdjson::dom::element;
using Type = simdjson::dom::element_type;

// --- small JSON helpers ---------------------------------------------------------------------

// A JSON value of the document being read, or nothing (a member that is absent).
class Json {
 public:
  Json() = default;
  explicit Json(Element e) : e_(e), present_(true) {}
  explicit operator bool() const { return present_; }
  bool is(Type t) const { return present_ && e_.type() == t; }
  bool is_object() const { return is(Type::OBJECT); }
  bool is_array() const { return is(Type::ARRAY); }
  bool is_string() const { return is(Type::STRING); }
  Element element() const { return e_; }

 private:
  Element e_;
  bool present_ = false;
};

// The elements of an array value (none for anything else), for range-for.
class Items {
 public:
  explicit Items(const Json& j) {
    if (j.is_array()) {
      const simdjson::dom::array a(j.element().get_array().value_unsafe());
      begin_ = a.begin();
      end_ = a.end();
    }
  }
  class Iterator {
   public:
    explicit Iterator(simdjson::dom::array::iterator it) : it_(it) {}
    Json operator*() const { return Json(*it_); }
    Iterator& operator++() {
      ++it_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return it_ != o.it_; }

   private:
    simdjson::dom::array::iterator it_;
  };
  Iterator begin() const { return Iterator(begin_); }
  Iterator end() const { return Iterator(end_); }

 private:
  simdjson::dom::array::iterator begin_{};
  simdjson::dom::array::iterator end_{};
};

// Of duplicate keys the last counts, as it did with nlohmann.
inline Json member(const Json& j, std::string_view key) {
  if (!j.is_object()) return {};
  Json found;
  const simdjson::dom::object o = j.element().get_object().value_unsafe();
  for (const auto field : o) {
    if (field.key == key) found = Json(field.value);
  }
  return found;
}

// Several members of an object in one pass over it (each as member() would find it).
template <std::size_t N>
inline std::array<Json, N> members(const Json& j, const std::array<std::string_view, N>& keys) {
  std::array<Json, N> found{};
  if (!j.is_object()) return found;
  const simdjson::dom::object o = j.element().get_object().value_unsafe();
  for (const auto field : o) {
    for (std::size_t k = 0; k < N; ++k) {
      if (field.key == keys[k]) {
        found[k] = Json(field.value);
        break;
      }
    }
  }
  return found;
}

inline std::string_view string_of(const Json& j) {
  return j.is_string() ? j.element().get_string().value_unsafe() : std::string_view();
}

// A token count: a non-negative integer (or a float that is one, as some proxies write).
inline std::optional<std::uint64_t> count_of(const Json& j) {
  if (!j) return std::nullopt;
  const Element e = j.element();
  switch (e.type()) {
    case Type::UINT64:
      return e.get_uint64().value_unsafe();
    case Type::INT64: {
      const std::int64_t v = e.get_int64().value_unsafe();
      if (v >= 0) return static_cast<std::uint64_t>(v);
      return std::nullopt;
    }
    case Type::DOUBLE: {
      const double v = e.get_double().value_unsafe();
      if (std::isfinite(v) && v >= 0 && v < 1.8e19) return static_cast<std::uint64_t>(v);
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

inline std::optional<std::uint64_t> sum(std::optional<std::uint64_t> a,
                                        std::optional<std::uint64_t> b) {
  if (!a) return b;
  if (!b) return a;
  return *a + *b;
}

// The length of a value's compact JSON text (tool arguments sent as objects): exact but for
// escapes and numbers, which count 4. Walks with an explicit stack: nesting depth is the
// sender's choice.
inline std::uint64_t json_chars(const Json& root) {
  if (!root) return 0;
  std::uint64_t n = 0;
  std::vector<Element> todo{root.element()};
  while (!todo.empty()) {
    const Element j = todo.back();
    todo.pop_back();
    switch (j.type()) {
      case Type::OBJECT: {
        const simdjson::dom::object o = j.get_object().value_unsafe();
        const std::size_t size = o.size();
        n += size == 0 ? 2 : size + 1;  // braces and commas
        for (const auto field : o) {
          n += code_points(field.key) + 3;  // quotes and colon
          todo.push_back(field.value);
        }
        break;
      }
      case Type::ARRAY: {
        const simdjson::dom::array a = j.get_array().value_unsafe();
        const std::size_t size = a.size();
        n += size == 0 ? 2 : size + 1;
        for (const Element e : a) todo.push_back(e);
        break;
      }
      case Type::STRING:
        n += code_points(j.get_string().value_unsafe()) + 2;
        break;
      case Type::BOOL:
        n += j.get_bool().value_unsafe() ? 4 : 5;
        break;
      default:
        n += 4;  // numbers (a typical argument number; exactness does not matter for an
                 // estimate) and null
        break;
    }
  }
  return n;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// --- formats ---------------------------------------------------------------------------------

class FormatState {
 public:
  virtual ~FormatState() = default;
  virtual std::unique_ptr<FormatState> clone() const = 0;

  // One event of a stream: SSE data, an element of a JSON array stream, or an NDJSON line.
  void on_event(std::string_view name, std::string_view data) {
    // OpenAI-style streams end with a literal "[DONE]" data line (OpenAI API reference,
    // "Chat Completions streaming"); Workers AI and most compatible servers copy it.
    if (trim(data) == "[DONE]") {
      result_.saw_end = true;
      return;
    }
    json::with_dom(data, [&](Element root) {
      const Json j(root);
      if (j.is_object()) on_event_json(name, j);
    });
  }
  // A complete buffered body.
  virtual void on_body(const Json& body) = 0;
  virtual UsageResult result() const { return result_; }
  std::uint64_t output_chars() const noexcept { return result_.output_chars; }

 protected:
  virtual void on_event_json(std::string_view name, const Json& event) = 0;

  void add_text(Json j) { result_.output_chars += code_points(string_of(j)); }
  void set_model(Json j) {
    const std::string_view m = string_of(j);
    if (!m.empty()) result_.model = std::string(m);
  }

  UsageResult result_;
};

template <class Derived>
class Cloneable : public FormatState {
 public:
  std::unique_ptr<FormatState> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// xAI counts reasoning apart from completion_tokens ("reasoning token consumption will be
// counted separately from completion_tokens, but will be counted in the total_tokens", xAI
// docs, consumption and rate limits), where OpenAI includes it. The total tells them apart
// without naming the provider: when it is input + output + reasoning, output lacks reasoning.

// The state of `format`'s parser, or null for a format without one (formats.cpp).
std::unique_ptr<FormatState> make_state(UsageFormat format);

}  // namespace aigw::usage::detail
