#pragma once
// The built-in provider table and the adapter kinds behind it. Internal to the providers
// layer: the rest of the gateway sees only ProviderAdapter and ProviderRegistry.

#include "aigw/provider.hpp"

#include <memory>
#include <string_view>
#include <vector>

namespace aigw::providers {

struct Builtin {
  std::string_view slug;
  // Default upstream base. May be a template: {name} placeholders are filled per request
  // from the client's path (see each adapter). Overridden by providers.<slug>.base_url.
  std::string_view default_base;
  // Placeholders a base_url of this provider may contain.
  std::vector<std::string_view> placeholders;
  std::shared_ptr<const ProviderAdapter> adapter;
  // The header its API key goes in; name "" where a static key cannot be sent (requests are
  // signed, or take short-lived OAuth tokens).
  std::string_view key_header = "authorization";
  std::string_view key_prefix = "Bearer ";
};

// Every built-in provider, sorted by slug.
const std::vector<Builtin>& builtins();
const Builtin* find_builtin(std::string_view slug) noexcept;

// `{base path}/{rest}?{query}`: what most providers and every custom-* provider use. With
// `dedupe_v1`, a base path ending in /v1 absorbs a leading "v1/" of the rest, so SDKs
// configured with either ".../openai" or ".../openai/v1" reach the same upstream URL.
std::shared_ptr<const ProviderAdapter> make_prefix_adapter(std::string slug, bool dedupe_v1);

// Every "{name}" in `text`, in order (for validating templates).
std::vector<std::string> placeholders_in(std::string_view text);

}  // namespace aigw::providers
