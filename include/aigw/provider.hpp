#pragma once
// Provider adapters: everything that differs between providers lives behind this interface
// (the URL mapping, which usage format a path answers in, which header carries its API key),
// so stages never branch on a provider's name.

#include "aigw/config.hpp"
#include "aigw/error.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aigw {

// The shape token usage takes in a provider's response body. Declared here so adapters can
// name it; the enumerators and the parsers are in upstream/providers/usage/usage_parser.hpp.
enum class UsageFormat : std::uint8_t;

// A parsed absolute http(s) URL. Path has no trailing '/' ("" for the root).
struct Url {
  bool tls = true;
  std::string host;  // may hold {placeholders} in a base-URL template
  std::uint16_t port = 443;
  std::string path;

  // Accepts http:// and https:// only; no userinfo, no fragment, no query.
  static Result<Url> parse(std::string_view text);
};

// Where one request goes upstream.
struct UpstreamTarget {
  bool tls = true;
  std::string host;  // DNS name or IP literal; also the SNI name and Host header
  std::uint16_t port = 443;
  std::string target;  // origin-form request target: "/v1/chat/completions?x=1"

  // Value for the Host header: host, plus ":port" when not the scheme's default.
  std::string host_header() const;
};

// What the router knows about one request when it asks an adapter for the upstream URL.
struct MapInput {
  std::string_view rest;     // path after "/{provider}/", no leading '/', still %-encoded
  std::string_view query;    // raw query without '?', "" when absent
  std::string_view account;  // from /v1/{account}/{gateway}/..., "" for the short form
  std::string_view gateway;
};

class ProviderAdapter {
 public:
  virtual ~ProviderAdapter() = default;
  // The URL slug, e.g. "openai". For custom providers the full "custom-xyz".
  virtual std::string_view slug() const noexcept = 0;
  // Called once per request, before any stage runs, on the worker thread; never suspends.
  // `base` is the configured base_url (or the adapter default) already parsed. Applies the
  // rules every provider shares (no "." or ".." segment, also %2e-encoded, that could climb
  // out of the base path), then the provider's own map_path. Returns the upstream target, or
  // kInvalidPath when a rule fails.
  Result<UpstreamTarget> map(const MapInput& in, const Url& base) const;

  // Called by the metering stage once per request, after map(), with the upstream path
  // (UpstreamTarget::target; a query is ignored); never suspends. Says in which format the
  // response to that path reports token usage: kNone when the path is not a generation or
  // embedding endpoint the gateway can meter (the default for providers without a parser).
  virtual UsageFormat usage_format(std::string_view upstream_path) const;
  // Whether the gateway should add stream_options.include_usage to this provider's
  // OpenAI-compatible stream requests (and strip the extra usage event for the client): true
  // only where the provider accepts the option AND its streams carry no usage without it.
  // Providers that always report usage in streams (Groq, Mistral, xAI...) say false, so their
  // requests are never rewritten. The config's providers.<name>.include_usage overrides it.
  virtual bool include_usage_supported() const { return false; }
  // Whether the provider's paths may hold %2F / %5C (refused elsewhere: a proxy or server
  // that decodes them reads another path). Called by map(), never suspends.
  virtual bool encoded_slashes_in_path() const noexcept { return false; }

 protected:
  // The provider's own mapping, called by map() after the shared checks passed. Returns
  // kInvalidPath when the path lacks a segment the provider needs or a segment that would
  // become part of a host name is not a DNS label.
  virtual Result<UpstreamTarget> map_path(const MapInput& in, const Url& base) const = 0;
};

// The headers a provider credential travels in, whichever provider it is for (lower-case, in
// this order: the cache's credential scope hashes them so). The gateway keeps a client's from
// another provider's request, scopes cache entries by them, and refuses them in a provider's
// configured headers when auth is off.
inline constexpr std::string_view kCredentialHeaders[] = {"authorization", "x-api-key", "api-key",
                                                          "x-goog-api-key"};

// How a provider takes its API key: the header, and what comes before the key in it.
struct CredentialHeader {
  std::string name;    // lower-case; "" = the gateway cannot send a stored key (SigV4, OAuth)
  std::string prefix;  // "Bearer " in Authorization, else ""
};

// One configured provider: its adapter plus its effective settings.
struct Provider {
  std::shared_ptr<const ProviderAdapter> adapter;
  CredentialHeader credential;  // providers.<name>.key_header, else the provider's own
  ProviderConfig config;        // name always set; base_url always set (default filled in)
  Url base;

  // The stored key a request uses (providers.<name>.keys): the one named by its
  // cf-aig-byok-alias (`alias`), else "default"; null when there is none. Read by the
  // stored-keys stage, which sends it, and the cache, which scopes entries by it.
  const Secret* stored_key(std::optional<std::string_view> alias) const noexcept {
    const std::string_view name = alias ? *alias : std::string_view("default");
    for (const auto& [n, key] : config.keys) {
      if (n == name) return &key;
    }
    return nullptr;
  }
};

// All providers a request may name: every built-in slug (with its default base URL unless
// overridden) plus every custom-* entry of the config. Immutable after construction and
// shared by all worker threads.
class ProviderRegistry {
 public:
  struct Problem {
    SourceMark mark;
    std::string path;  // config key path, e.g. "providers.openai.base_url"
    std::string message;
  };

  // Builds the registry; problems (bad base_url, unknown non-custom slug, custom provider
  // without base_url) are returned instead of throwing so the loader can print them all.
  static std::shared_ptr<const ProviderRegistry> build(const Config& config,
                                                       std::vector<Problem>& problems);

  const Provider* find(std::string_view slug) const noexcept;
  // Sorted list of every slug a client may use, for the 404 message.
  const std::vector<std::string>& slugs() const noexcept { return slugs_; }
  // Every built-in slug, sorted (without custom ones).
  static std::vector<std::string> builtin_slugs();

 private:
  std::vector<std::pair<std::string, Provider>> providers_;  // sorted by slug
  std::vector<std::string> slugs_;
};

}  // namespace aigw
