// Request inspection with nlohmann's SAX interface: the body is walked once, keeping only
// the path from the root to the current value, so memory is proportional to nesting depth
// (nlohmann's parser is iterative) rather than to the size of the body. Which members hold
// text the model reads comes from each API's request reference (OpenAI Chat Completions,
// Completions, Embeddings and Responses; Anthropic Messages; Gemini generateContent; Cohere
// v1/v2 Chat; Workers AI text generation); they do not collide, so one table serves all.

#include "upstream/providers/usage/request_info.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <string>
#include <vector>

namespace aigw::usage {
namespace {

using Json = nlohmann::json;

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

bool matches(std::string_view pattern, const std::string_view* path, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const auto slash = pattern.find('/');
    if (pattern.substr(0, slash) != path[i]) return false;
    if (slash == std::string_view::npos) return i + 1 == n;
    pattern.remove_prefix(slash + 1);
  }
  return false;
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
  bool number_float(double /*v*/, const std::string& raw) { return scalar(raw.size(), 4); }
  bool string(std::string& s) {
    const std::uint64_t n = code_points(s);
    if (at({"model"})) info_.model = s;
    return scalar(n + 2, n);
  }
  bool binary(Json::binary_t& /*b*/) { return true; }
  bool start_object(std::size_t /*elements*/) { return open(false); }
  bool start_array(std::size_t /*elements*/) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    Frame& top = stack_.back();
    top.key = k;
    if (top.count == Count::kJson) {
      info_.prompt_chars += code_points(k) + 3 + (top.first ? 0 : 1);  // "k": and a comma
      top.first = false;
    }
    return true;
  }
  template <class Exception>
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const Exception&) {
    return false;
  }

  std::optional<std::uint64_t> max_completion_tokens, max_tokens_, max_output_tokens, gemini_max;

 private:
  struct Frame {
    bool array = false;
    Count count = Count::kNone;
    bool first = true;  // no member or element read yet (for counting commas)
    std::string key;    // the member being read, for objects
  };

  // The path of the value about to be read: the parents' current members.
  std::size_t path(std::array<std::string_view, kMaxPath>& out) const {
    if (stack_.size() > kMaxPath) return kMaxPath + 1;
    for (std::size_t i = 0; i < stack_.size(); ++i) {
      out[i] = stack_[i].array ? std::string_view("*") : std::string_view(stack_[i].key);
    }
    return stack_.size();
  }

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
    if (!stack_.empty() && stack_.back().count == Count::kJson) {
      Frame& parent = stack_.back();
      if (parent.array) {
        if (!parent.first) info_.prompt_chars += 1;
        parent.first = false;
      }
      return Count::kJson;
    }
    std::array<std::string_view, kMaxPath> p;
    const std::size_t n = path(p);
    if (n == 0 || n > kMaxPath) return Count::kNone;
    for (const Rule& rule : kRules) {
      if (matches(rule.path, p.data(), n)) return rule.count;
    }
    return Count::kNone;
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
    stack_.push_back(Frame{array, count, true, {}});
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

RequestInfo inspect_request(UsageFormat /*format*/, std::string_view body) {
  RequestInfo info;
  Inspector inspector(info);
  if (!Json::sax_parse(body.data(), body.data() + body.size(), &inspector)) return RequestInfo{};
  // OpenAI deprecated max_tokens for max_completion_tokens; a body never sensibly has both.
  for (const auto& v : {inspector.max_completion_tokens, inspector.max_tokens_,
                        inspector.max_output_tokens, inspector.gemini_max}) {
    if (v) {
      info.max_output_tokens = v;
      break;
    }
  }
  return info;
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
