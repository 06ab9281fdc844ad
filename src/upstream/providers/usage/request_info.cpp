// Request inspection: the body is parsed with simdjson (json_dom.hpp) and its tape walked
// once in document order without recursion, keeping only the path from the root to the
// current value, as a SAX reader would. Which members hold
// text the model reads comes from each API's request reference (OpenAI Chat Completions,
// Completions, Embeddings and Responses; Anthropic Messages; Gemini generateContent; Cohere
// v1/v2 Chat; Workers AI text generation); they do not collide, so one table serves all.

#include "upstream/providers/usage/request_info.hpp"

#include "json/dom.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <iterator>
#include <span>
#include <string>
#include <vector>

namespace aigw::usage {
namespace {

enum class Count : std::uint8_t {
  kNone,
  kText,  // a string here is read by the model; a number is a token id (about 4 characters)
  kJson,  // this value's whole JSON text is read (tool definitions, tool inputs)
};

struct Rule {
  std::string_view path;  // members separated by '/', '*' for any array element
  Count count;
};

constexpr Rule kRules[] = {
    // OpenAI Chat Completions, Cohere v2, Workers AI, Anthropic messages.
    {"messages/*/content", Count::kText},
    {"messages/*/content/*", Count::kText},
    {"messages/*/content/*/text", Count::kText},
    {"messages/*/content/*/thinking", Count::kText},
    {"messages/*/content/*/content", Count::kText},  // Anthropic tool_result
    {"messages/*/content/*/content/*/text", Count::kText},
    {"messages/*/content/*/input", Count::kJson},  // Anthropic tool_use in the history
    {"messages/*/tool_calls/*/function/arguments", Count::kText},
    {"system", Count::kText},  // Anthropic
    {"system/*/text", Count::kText},
    // OpenAI Responses and Embeddings.
    {"instructions", Count::kText},
    {"input", Count::kText},
    {"input/*", Count::kText},
    {"input/*/*", Count::kText},  // token arrays
    {"input/*/content", Count::kText},
    {"input/*/content/*/text", Count::kText},
    {"input/*/output", Count::kText},     // function_call_output
    {"input/*/arguments", Count::kText},  // function_call
    {"input/*/summary/*/text", Count::kText},
    // OpenAI Completions, Workers AI.
    {"prompt", Count::kText},
    {"prompt/*", Count::kText},
    {"prompt/*/*", Count::kText},
    // Gemini.
    {"contents/*/parts/*/text", Count::kText},
    {"contents/*/parts/*/functionCall", Count::kJson},
    {"contents/*/parts/*/functionResponse", Count::kJson},
    {"systemInstruction/parts/*/text", Count::kText},
    {"system_instruction/parts/*/text", Count::kText},
    // Cohere v1.
    {"message", Count::kText},
    {"preamble", Count::kText},
    {"chat_history/*/message", Count::kText},
    // Definitions the model reads as JSON.
    {"tools", Count::kJson},
    {"functions", Count::kJson},
    {"documents", Count::kJson},  // Cohere RAG documents
};

constexpr std::size_t kMaxPath = 8;  // no rule is deeper

constexpr std::size_t kRuleCount = std::size(kRules);
static_assert(kRuleCount <= 64, "rule sets are bit masks");
constexpr std::uint64_t kAllRules =
    kRuleCount == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << kRuleCount) - 1;

// The rules split into their members, once.
struct SplitRule {
  std::array<std::string_view, kMaxPath> member{};
  std::size_t size = 0;
};

const std::array<SplitRule, kRuleCount>& split_rules() {
  static const std::array<SplitRule, kRuleCount> split = [] {
    std::array<SplitRule, kRuleCount> out{};
    for (std::size_t r = 0; r < kRuleCount; ++r) {
      std::string_view pattern = kRules[r].path;
      while (true) {
        const auto slash = pattern.find('/');
        out[r].member[out[r].size++] = pattern.substr(0, slash);
        if (slash == std::string_view::npos) break;
        pattern.remove_prefix(slash + 1);
      }
    }
    return out;
  }();
  return split;
}

std::uint64_t digits(std::uint64_t v) {
  std::uint64_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

class Inspector {
 public:
  explicit Inspector(RequestInfo& info) : info_(info) {}

  bool null() { return scalar(4, 0); }
  bool boolean(bool v) {
    if (at({"stream"})) info_.stream = v;
    if (at({"stream_options", "include_usage"})) info_.include_usage_requested = v;
    return scalar(v ? 4 : 5, 0);
  }
  bool number_integer(std::int64_t v) {
    if (v >= 0) max_tokens(static_cast<std::uint64_t>(v));
    return scalar(std::to_string(v).size(), 4);
  }
  bool number_unsigned(std::uint64_t v) {
    max_tokens(v);
    return scalar(digits(v), 4);
  }
  // `raw_size()`: the length of the number's text, found only when it counts.
  template <class RawSize>
  bool number_float(RawSize raw_size) {
    switch (count_here()) {
      case Count::kJson:
        info_.prompt_chars += raw_size();
        break;
      case Count::kText:
        info_.prompt_chars += 4;
        break;
      case Count::kNone:
        break;
    }
    return true;
  }
  bool string(std::string_view s) {
    const std::uint64_t n = code_points(s);
    if (at({"model"})) info_.model = std::string(s);
    return scalar(n + 2, n);
  }
  bool start_object(std::size_t /*elements*/) { return open(false); }
  bool start_array(std::size_t /*elements*/) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string_view k) {
    Frame& top = stack_.back();
    if (stack_.size() == 1) top_keys.push_back(k);
    top.key = k;
    if (top.count == Count::kJson) {
      info_.prompt_chars += code_points(k) + 3 + (top.first ? 0 : 1);  // "k": and a comma
      top.first = false;
    }
    return true;
  }
  std::optional<std::uint64_t> max_completion_tokens, max_tokens_, max_output_tokens, gemini_max;
  std::vector<std::string_view> top_keys;  // the top-level object's, in order (unescaped)

 private:
  struct Frame {
    bool array = false;
    Count count = Count::kNone;
    bool first = true;  // no member or element read yet (for counting commas)
    // The rules whose first members are the path to this container and that go deeper.
    std::uint64_t rules = 0;
    std::string_view key;  // the member being read, for objects (a view of the document)
  };

  std::uint64_t next_rules_ = 0;  // count_here's: the rules of a container opened there

  bool at(std::initializer_list<std::string_view> expected) const {
    if (stack_.size() != expected.size()) return false;
    std::size_t i = 0;
    for (const std::string_view e : expected) {
      if (stack_[i].array || stack_[i].key != e) return false;
      ++i;
    }
    return true;
  }

  // How the value about to be read counts. Inside JSON read whole, an array element after
  // the first also brings its comma, so that the count is the compact JSON text's length.
  Count count_here() {
    next_rules_ = 0;
    if (!stack_.empty() && stack_.back().count == Count::kJson) {
      Frame& parent = stack_.back();
      if (parent.array) {
        if (!parent.first) info_.prompt_chars += 1;
        parent.first = false;
      }
      return Count::kJson;
    }
    if (stack_.empty()) {
      next_rules_ = kAllRules;
      return Count::kNone;
    }
    // The path's last member narrows down its container's rules (in rule order, as listed).
    const Frame& top = stack_.back();
    const std::size_t i = stack_.size() - 1;
    const std::string_view member = top.array ? std::string_view("*") : top.key;
    const auto& split = split_rules();
    Count count = Count::kNone;
    bool found = false;
    for (std::uint64_t rules = top.rules; rules != 0; rules &= rules - 1) {
      const auto r = static_cast<std::size_t>(std::countr_zero(rules));
      if (split[r].member[i] != member) continue;
      if (split[r].size == i + 1) {
        if (!found) count = kRules[r].count;
        found = true;
      } else {
        next_rules_ |= std::uint64_t{1} << r;
      }
    }
    return count;
  }

  // A scalar: `json_chars` when inside JSON that is read whole, `text_chars` when it is text.
  bool scalar(std::uint64_t json_chars, std::uint64_t text_chars) {
    switch (count_here()) {
      case Count::kJson:
        info_.prompt_chars += json_chars;
        break;
      case Count::kText:
        info_.prompt_chars += text_chars;
        break;
      case Count::kNone:
        break;
    }
    return true;
  }

  bool open(bool array) {
    const Count count = count_here();
    if (count == Count::kJson) info_.prompt_chars += 2;
    stack_.push_back(Frame{array, count, true, next_rules_, {}});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  void max_tokens(std::uint64_t v) {
    if (at({"max_completion_tokens"})) max_completion_tokens = v;
    if (at({"max_tokens"})) max_tokens_ = v;
    if (at({"max_output_tokens"})) max_output_tokens = v;
    if (at({"generationConfig", "maxOutputTokens"}) ||
        at({"generation_config", "max_output_tokens"})) {
      gemini_max = v;
    }
  }

  RequestInfo& info_;
  std::vector<Frame> stack_;
};

// Walks a document in order, calling the inspector as a SAX parser would, with an explicit
// stack of open containers instead of recursion.
class Walker {
 public:
  Walker(Inspector& inspector, std::string_view text) : in_(inspector), numbers_(text) {}

  void walk(simdjson::dom::element root) {
    visit(root);
    while (!open_.empty()) {
      Open& top = open_.back();
      simdjson::dom::element next;
      if (top.array) {
        if (!(top.element != top.element_end)) {
          close();
          continue;
        }
        next = *top.element;
        ++top.element;
      } else {
        if (!(top.field != top.field_end)) {
          close();
          continue;
        }
        in_.key(top.field.key());
        next = top.field.value();
        ++top.field;
      }
      visit(next);  // may add to open_: `top` is not used after this
    }
  }

 private:
  struct Open {
    bool array = false;
    simdjson::dom::array::iterator element{}, element_end{};
    simdjson::dom::object::iterator field{}, field_end{};
  };

  void visit(simdjson::dom::element e) {
    using Type = simdjson::dom::element_type;
    switch (e.type()) {
      case Type::OBJECT: {
        const simdjson::dom::object o = e.get_object().value_unsafe();
        in_.start_object(0);
        Open open;
        open.field = o.begin();
        open.field_end = o.end();
        open_.push_back(open);
        break;
      }
      case Type::ARRAY: {
        const simdjson::dom::array a = e.get_array().value_unsafe();
        in_.start_array(0);
        Open open;
        open.array = true;
        open.element = a.begin();
        open.element_end = a.end();
        open_.push_back(open);
        break;
      }
      case Type::INT64: {
        ++number_;
        const std::int64_t v = e.get_int64().value_unsafe();
        if (v >= 0) {
          in_.number_unsigned(static_cast<std::uint64_t>(v));
        } else {
          in_.number_integer(v);
        }
        break;
      }
      case Type::UINT64:
        ++number_;
        in_.number_unsigned(e.get_uint64().value_unsafe());
        break;
      case Type::DOUBLE: {
        const std::size_t index = number_++;
        in_.number_float([&] { return numbers_.length_of(index); });
        break;
      }
      case Type::STRING:
        in_.string(e.get_string().value_unsafe());
        break;
      case Type::BOOL:
        in_.boolean(e.get_bool().value_unsafe());
        break;
      case Type::NULL_VALUE:
        in_.null();
        break;
    }
  }

  void close() {
    const bool array = open_.back().array;
    open_.pop_back();
    if (array) {
      in_.end_array();
    } else {
      in_.end_object();
    }
  }

  // The tape keeps a number's value, not its text: the text of the n-th number of the
  // document is found by scanning the document forwards, only as far as a float asks.
  class NumberScanner {
   public:
    explicit NumberScanner(std::string_view text) : text_(text) {}

    // The length of the text of the document's number `index` (0-based, asked in order).
    std::uint64_t length_of(std::size_t index) {
      while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c == '"') {  // a string or key: skipped with its escapes
          ++pos_;
          while (pos_ < text_.size()) {
            if (text_[pos_] == '\\') {
              pos_ += 2;
            } else if (text_[pos_++] == '"') {
              break;
            }
          }
          continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
          const std::size_t start = pos_;
          while (pos_ < text_.size() && is_number_char(text_[pos_])) ++pos_;
          if (seen_++ == index) return pos_ - start;
          continue;
        }
        ++pos_;
      }
      return 4;  // not reached for a document simdjson accepted
    }

   private:
    static bool is_number_char(char c) {
      return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t seen_ = 0;  // number tokens passed
  };

  Inspector& in_;
  NumberScanner numbers_;
  std::size_t number_ = 0;  // numbers visited
  std::vector<Open> open_;
};

char hex_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<char>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<char>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<char>(c - 'A' + 10);
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const char hi = hex_value(s[i + 1]);
      const char lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

namespace {

// A key the top-level object has more than once ("" when none): the first, in document order,
// that repeats an earlier one. Keys are compared unescaped, as the providers' parsers do.
std::string duplicate_of(std::span<std::string_view> keys) {
  constexpr std::size_t kQuadratic = 64;  // below this, pairwise in order is the cheaper
  if (keys.size() <= kQuadratic) {
    for (std::size_t i = 1; i < keys.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (keys[i] == keys[j]) return std::string(keys[i]);
      }
    }
    return {};
  }
  std::sort(keys.begin(), keys.end());
  const auto it = std::adjacent_find(keys.begin(), keys.end());
  return it == keys.end() ? std::string() : std::string(*it);
}

BodyFacts read_walked(simdjson::dom::element root, std::string_view text) {
  BodyFacts facts;
  Inspector inspector(facts);
  Walker(inspector, text).walk(root);
  facts.json = true;
  facts.prompt_read = true;
  facts.duplicate_key = duplicate_of(std::span(inspector.top_keys));
  // OpenAI deprecated max_tokens for max_completion_tokens; a body never sensibly has both.
  for (const auto& v : {inspector.max_completion_tokens, inspector.max_tokens_,
                        inspector.max_output_tokens, inspector.gemini_max}) {
    if (v) {
      facts.max_output_tokens = v;
      break;
    }
  }
  return facts;
}

std::optional<std::uint64_t> whole_number(simdjson::dom::element v) {
  std::uint64_t n = 0;
  if (v.get_uint64().get(n) == simdjson::SUCCESS) return n;
  return std::nullopt;
}

// The top level only (what every request needs): the members the walk would find there,
// without visiting the values below them.
BodyFacts read_top(simdjson::dom::element root) {
  BodyFacts facts;
  facts.json = true;
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return facts;
  // The keys, for the duplicate check: a request body has a handful, so they are kept
  // without an allocation until there are more.
  constexpr std::size_t kInline = 16;
  std::array<std::string_view, kInline> inline_keys;
  std::vector<std::string_view> keys;
  std::size_t count = 0;
  std::optional<std::uint64_t> caps[4];  // in read_walked's order of preference
  for (const auto field : object) {
    const std::string_view key = field.key;
    if (count < kInline) {
      inline_keys[count] = key;
    } else {
      if (count == kInline) keys.assign(inline_keys.begin(), inline_keys.end());
      keys.push_back(key);
    }
    ++count;
    const simdjson::dom::element v = field.value;
    if (key == "model") {
      std::string_view model;
      if (v.get_string().get(model) == simdjson::SUCCESS) facts.model = std::string(model);
    } else if (key == "stream") {
      bool stream = false;
      if (v.get_bool().get(stream) == simdjson::SUCCESS) facts.stream = stream;
    } else if (key == "stream_options") {
      bool include = false;
      if (v["include_usage"].get_bool().get(include) == simdjson::SUCCESS) {
        facts.include_usage_requested = include;
      }
    } else if (key == "max_completion_tokens") {
      caps[0] = whole_number(v);
    } else if (key == "max_tokens") {
      caps[1] = whole_number(v);
    } else if (key == "max_output_tokens") {
      caps[2] = whole_number(v);
    } else if (key == "generationConfig" || key == "generation_config") {
      const char* name = key == "generationConfig" ? "maxOutputTokens" : "max_output_tokens";
      simdjson::dom::element cap;
      if (v[name].get(cap) == simdjson::SUCCESS) caps[3] = whole_number(cap);
    }
  }
  facts.duplicate_key = count <= kInline ? duplicate_of(std::span(inline_keys.data(), count))
                                         : duplicate_of(std::span(keys));
  for (const auto& v : caps) {
    if (v) {
      facts.max_output_tokens = v;
      break;
    }
  }
  return facts;
}

}  // namespace

BodyFacts read_body(std::string_view body, bool prompt) {
  // RFC 8259 §8.1 lets a parser ignore a byte order mark; simdjson does not skip one.
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (body.starts_with(kBom)) body.remove_prefix(kBom.size());
  BodyFacts facts;
  json::with_dom(body, [&](simdjson::dom::element root) {
    facts = prompt ? read_walked(root, body) : read_top(root);
  });
  return facts;
}

BodyFacts read_element(simdjson::dom::element element, std::string_view text) {
  return read_walked(element, text);
}

RequestInfo inspect_request(UsageFormat /*format*/, std::string_view body) {
  return read_body(body);
}

std::string model_from_path(UsageFormat format, std::string_view upstream_path) {
  std::string_view path = upstream_path.substr(0, upstream_path.find('?'));
  if (format == UsageFormat::kWorkersAi) {
    // Workers AI REST API: POST /accounts/{account_id}/ai/run/{model_name}.
    constexpr std::string_view kRun = "/run/";
    const auto run = path.find(kRun);
    return run == std::string_view::npos ? std::string()
                                         : percent_decode(path.substr(run + kRun.size()));
  }
  // Google's model methods: .../models/{model}:{method} (AI Studio, Vertex publishers).
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return {};
  const std::string_view last = path.substr(slash + 1);
  const auto colon = last.find(':');
  const std::string_view parent = path.substr(0, slash);
  if (colon == std::string_view::npos || colon == 0 ||
      !(ends_with(parent, "/models") || ends_with(parent, "/tunedModels"))) {
    return {};
  }
  return percent_decode(last.substr(0, colon));
}

}  // namespace aigw::usage
