#include "core/path_rules.hpp"

#include <algorithm>
#include <array>

namespace aigw::path_rules {
namespace {

constexpr std::array<std::string_view, 6> kMethods = {"GET",   "POST",   "PUT",
                                                      "PATCH", "DELETE", "HEAD"};

// `text` against a pattern segment where '*' matches any run of characters.
bool segment_matches(std::string_view pattern, std::string_view text) noexcept {
  // Iterative wildcard match with one backtrack point: linear in practice, no recursion.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty()) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Segments of `pattern` from `p` against segments of `path` from `s`. "**" may take any
// number of segments; bounded by the sizes (at most a few segments each, from the config and
// one request path).
bool segments_match(const std::vector<std::string_view>& pattern, std::size_t p,
                    const std::vector<std::string_view>& path, std::size_t s) noexcept {
  for (; p < pattern.size(); ++p, ++s) {
    if (pattern[p] == "**") {
      for (std::size_t skip = s; skip <= path.size(); ++skip) {
        if (segments_match(pattern, p + 1, path, skip)) return true;
      }
      return false;
    }
    if (s >= path.size() || !segment_matches(pattern[p], path[s])) return false;
  }
  return s == path.size();
}

}  // namespace

std::optional<PathRule> parse(std::string_view text, std::string& why) {
  PathRule rule;
  const auto space = text.find(' ');
  if (space != std::string_view::npos) {
    const std::string_view method = text.substr(0, space);
    if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end()) {
      why = "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD";
      return std::nullopt;
    }
    rule.method = std::string(method);
    text.remove_prefix(space + 1);
  }
  if (text.empty() || text.find_first_of(" ?#\\") != std::string_view::npos) {
    why = "expected \"[METHOD ]pattern\" such as \"POST **/chat/completions\"";
    return std::nullopt;
  }
  rule.pattern = std::string(text);
  return rule;
}

bool matches(const PathRule& rule, std::string_view method, std::string_view path) noexcept {
  if (rule.method.empty() ? (method != "GET" && method != "POST") : method != rule.method) {
    return false;
  }
  return segments_match(split(rule.pattern), 0, split(path), 0);
}

bool allowed(const std::vector<PathRule>& rules, std::string_view method,
             std::string_view path) noexcept {
  return std::any_of(rules.begin(), rules.end(),
                     [&](const PathRule& rule) { return matches(rule, method, path); });
}

const std::vector<PathRule>& defaults() {
  static const std::vector<PathRule> rules = [] {
    std::vector<PathRule> out;
    for (const char* post :
         {"**/chat/completions", "**/completions", "**/responses", "**/embeddings", "**/messages",
          "**/messages/count_tokens", "**/complete", "**/moderations", "**/images/generations",
          "**/images/edits", "**/images/variations", "**/audio/speech", "**/audio/transcriptions",
          "**/audio/translations",
          // Gemini and Vertex (models/{m}:generateContent...), Hugging Face (models/{org}/{m})
          "**/models/*", "**/models/*/*",
          // Cohere
          "**/chat", "**/embed", "**/rerank",
          // Bedrock
          "**/converse", "**/converse-stream", "**/invoke", "**/invoke-with-response-stream",
          // Workers AI (ai/run/@cf/...), Replicate
          "**/run/**", "**/predictions", "**/models/*/*/predictions"}) {
      out.push_back(PathRule{"POST", post});
    }
    for (const char* get : {"**/models", "**/models/*", "**/models/*/*"}) {
      out.push_back(PathRule{"GET", get});
    }
    return out;
  }();
  return rules;
}

}  // namespace aigw::path_rules
