#pragma once
// Method and path patterns that say where the gateway's own credentials may be used
// (providers.<name>.key_paths, docs/security.md). A stored key or a credential in a
// provider's headers reaches the inference endpoints only by default, never account
// administration (files, fine-tuning jobs, organization keys...).

#include "aigw/config.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::path_rules {

// "POST **/chat/completions", "GET **/models", or a pattern alone (GET and POST). Patterns are
// matched against the whole upstream path (no query), segment by segment: "**" matches any
// number of segments (none included), "*" any run of characters within one segment. Returns
// nullopt with `why` set when the text is not a rule.
std::optional<PathRule> parse(std::string_view text, std::string& why);

// Whether `rule` allows `method` on `path`.
bool matches(const PathRule& rule, std::string_view method, std::string_view path) noexcept;

// Whether any of `rules` allows it.
bool allowed(const std::vector<PathRule>& rules, std::string_view method,
             std::string_view path) noexcept;

// The default: every provider's inference endpoints (chat, completions, responses,
// embeddings, messages, models, images, audio, moderations, and the native forms of Gemini,
// Cohere, Bedrock, Workers AI and Replicate).
const std::vector<PathRule>& defaults();

}  // namespace aigw::path_rules
