// ProviderRegistry: the built-in table plus the config's overrides and custom-* providers,
// validated once at start (and by --check-config) so requests never meet a bad base URL.

#include "core/text.hpp"
#include "upstream/providers/adapters.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cstddef>
#include <tuple>

namespace aigw {
namespace {

constexpr std::string_view kCustomPrefix = "custom-";

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

SourceMark mark_or(const SourceMark& preferred, const SourceMark& fallback) {
  return preferred.line != 0 ? preferred : fallback;
}

}  // namespace

std::vector<std::string> ProviderRegistry::builtin_slugs() {
  std::vector<std::string> out;
  for (const auto& b : providers::builtins()) out.emplace_back(b.slug);
  return out;  // the table is sorted
}

std::shared_ptr<const ProviderRegistry> ProviderRegistry::build(const Config& config,
                                                                std::vector<Problem>& problems) {
  auto registry = std::make_shared<ProviderRegistry>();

  // Parses and checks one base URL; on failure records a problem and returns false.
  auto resolve = [&](const ProviderConfig& pc, std::string_view text,
                     const std::vector<std::string_view>& allowed, Url& out) {
    const std::string key = "providers." + pc.name + ".base_url";
    auto parsed = Url::parse(text);
    if (!parsed) {
      problems.push_back({mark_or(pc.base_url_mark, pc.mark), key, parsed.error().detail});
      return false;
    }
    for (const auto& found : providers::placeholders_in(parsed->host + parsed->path)) {
      if (std::find(allowed.begin(), allowed.end(), found) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        problems.push_back({mark_or(pc.base_url_mark, pc.mark), key,
                            "unknown placeholder " + found +
                                (names.empty() ? " (this provider takes none)"
                                               : " (this provider takes " + join(names) + ")")});
        return false;
      }
    }
    out = std::move(*parsed);
    return true;
  };

  // The header stored keys go in: key_header, else the provider's own. A stored key where
  // none can be sent, or a configured header that would overwrite it, is a problem.
  auto credential = [&](Provider& p, std::string_view header, std::string_view prefix) {
    const ProviderConfig& pc = p.config;
    if (pc.key_header) {
      p.credential = {*pc.key_header, *pc.key_header == "authorization" ? "Bearer " : ""};
    } else {
      p.credential = {std::string(header), std::string(prefix)};
    }
    if (pc.keys.empty()) return;
    const std::string key = "providers." + pc.name + ".keys";
    if (p.credential.name.empty()) {
      problems.push_back(
          {pc.keys_mark, key,
           "stored keys are not supported for " + pc.name +
               (pc.name == "aws-bedrock" ? " (each request is SigV4-signed by the client)"
                                         : " (it takes short-lived OAuth access tokens)")});
      return;
    }
    for (const auto& [name, value] : pc.headers) {
      if (boost::beast::iequals(name, p.credential.name)) {
        problems.push_back({pc.keys_mark, key,
                            "providers." + pc.name + ".headers sets " + name +
                                ", the header the stored keys go in; remove one of them"});
      }
    }
  };

  for (const auto& b : providers::builtins()) {
    Provider p;
    p.adapter = b.adapter;
    const auto configured = config.providers.find(std::string(b.slug));
    if (configured != config.providers.end()) {
      p.config = configured->second;
    }
    p.config.name = std::string(b.slug);
    if (!p.config.base_url) p.config.base_url = std::string(b.default_base);
    if (!resolve(p.config, *p.config.base_url, b.placeholders, p.base)) continue;
    credential(p, b.key_header, b.key_prefix);
    registry->providers_.emplace_back(std::string(b.slug), std::move(p));
  }

  const auto known = builtin_slugs();
  for (const auto& [slug, pc] : config.providers) {
    if (providers::find_builtin(slug) != nullptr) continue;
    const std::string key = "providers." + slug;
    if (slug.rfind(kCustomPrefix, 0) != 0) {
      std::string message = "unknown provider '" + slug + "'";
      const std::vector<std::string_view> candidates(known.begin(), known.end());
      if (auto best = text::closest(slug, candidates)) {
        message += " (did you mean '" + std::string(*best) + "'?)";
      }
      message +=
          "; built-in providers: " + join(known) + "; a custom provider's name starts with custom-";
      problems.push_back({pc.mark, key, std::move(message)});
      continue;
    }
    if (slug.size() == kCustomPrefix.size()) {
      problems.push_back({pc.mark, key, "a custom provider needs a name after custom-"});
      continue;
    }
    if (!pc.base_url) {
      problems.push_back(
          {pc.mark, key + ".base_url",
           "required for a custom provider (the upstream URL that /" + slug + "/... maps to)"});
      continue;
    }
    Provider p;
    p.adapter = providers::make_prefix_adapter(slug, /*dedupe_v1=*/false);
    p.config = pc;
    if (!resolve(p.config, *pc.base_url, {}, p.base)) continue;
    credential(p, "authorization", "Bearer ");
    registry->providers_.emplace_back(slug, std::move(p));
  }

  // Diagnostics read top to bottom, like the loader's.
  std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
  });
  std::sort(registry->providers_.begin(), registry->providers_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& entry : registry->providers_) registry->slugs_.push_back(entry.first);
  return registry;
}

const Provider* ProviderRegistry::find(std::string_view slug) const noexcept {
  const auto it =
      std::lower_bound(providers_.begin(), providers_.end(), slug,
                       [](const auto& entry, std::string_view s) { return entry.first < s; });
  return it != providers_.end() && it->first == slug ? &it->second : nullptr;
}

}  // namespace aigw
