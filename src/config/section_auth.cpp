// The auth: and keys: (virtual keys) sections of the config (docs/configuration.md).

#include "config/loader.hpp"
#include "core/sha256.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace aigw::config::detail {

void Loader::read_auth(const Entry& e, AuthConfig& out) {
  std::size_t& tokens_listed = auth_tokens_listed_;
  auth_mark_ = at(e);
  read_fields(
      e, {
             {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
             {"allow_anonymous_credentials",
              [&](const Entry& f) { read_bool(f, out.allow_anonymous_credentials); }},
             {"tokens",
              [&](const Entry& f) {
                if (!f.value.IsSequence()) {
                  error(f, "expected a list of tokens");
                  tokens_listed = 1;  // reported already
                  return;
                }
                tokens_listed = f.value.size();
                for (std::size_t i = 0; i < f.value.size(); ++i) {
                  read_token(
                      Entry{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"}, out);
                }
              }},
         });
}

// A token is never written in the file itself: either ${ENV_VAR} (its SHA-256 is kept, the
// text dropped) or sha256:<64 hex digits> (what `printf %s "$TOKEN" | sha256sum` prints).
void Loader::read_token(const Entry& e, AuthConfig& out) {
  if (auto digest = token_digest(e)) out.token_sha256.push_back(*digest);
}

std::optional<std::array<std::uint8_t, 32>> Loader::token_digest(const Entry& e) {
  const auto v = scalar(e, "a token");
  if (!v) return std::nullopt;
  constexpr std::string_view kPrefix = "sha256:";
  const std::string_view text = v->text;
  if (text.starts_with(kPrefix)) {
    const std::string_view hex = text.substr(kPrefix.size());
    std::array<std::uint8_t, 32> digest{};
    bool ok = hex.size() == 64;
    for (std::size_t i = 0; ok && i < 32; ++i) {
      const int hi = text::hex_digit(hex[2 * i]);
      const int lo = text::hex_digit(hex[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      if (ok) digest[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    if (!ok) {
      error(e, "a sha256: token needs exactly 64 hex digits after the prefix");
      return std::nullopt;
    }
    return digest;
  }
  if (!v->secret) {
    error(e,
          "a token must not be written in the config file: use ${ENV_VAR} or "
          "sha256:<64 hex digits of its SHA-256>");
    return std::nullopt;
  }
  if (text.empty()) {
    error(e, "the token is empty");
    return std::nullopt;
  }
  return sha256(text);
}

void Loader::read_keys(const Entry& e, std::vector<VirtualKey>& out) {
  keys_mark_ = at(e);
  const auto names = [&](const Entry& f, std::vector<std::string>& list, bool slugs) {
    if (!f.value.IsSequence()) {
      error(f, slugs ? "expected a list of provider names" : "expected a list of model names");
      return;
    }
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const Entry item{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"};
      const auto v = scalar(item, slugs ? "a provider name" : "a model name");
      if (!v) continue;
      if (slugs && !valid_slug(v->text)) {
        error(item, "provider name must match [a-z0-9][a-z0-9-]* (got " + quoted(*v) + ")");
      } else if (v->text.empty()) {
        error(item, "must not be empty");
      } else {
        list.push_back(v->text);
      }
    }
  };
  for_each_entry(e, false, "duplicate key name", [&](const Entry& k) {
    VirtualKey key;
    key.name = k.key.Scalar();
    if (!valid_slug(key.name)) {
      error(mark_of(k.key.Mark()), k.path, "a key name must match [a-z0-9][a-z0-9-]*");
    }
    bool has_token = false;
    SourceMark token_mark;
    read_fields(
        k, {
               {"token",
                [&](const Entry& f) {
                  has_token = true;
                  token_mark = at(f);
                  if (auto d = token_digest(f)) key.token_sha256 = *d;
                }},
               {"providers", [&](const Entry& f) { names(f, key.providers, true); }},
               {"models", [&](const Entry& f) { names(f, key.models, false); }},
               {"trust_client_cost", [&](const Entry& f) { read_bool(f, key.trust_client_cost); }},
               {"metadata",
                [&](const Entry& f) {
                  for_each_entry(f, false, "duplicate metadata key", [&](const Entry& m) {
                    const auto v = scalar(m, "a string");
                    if (!v) return;
                    // Kept as a JSON string, as cf-aig-metadata values are logged.
                    key.metadata.emplace_back(
                        m.key.Scalar(),
                        nlohmann::json(v->text).dump(-1, ' ', false,
                                                     nlohmann::json::error_handler_t::replace));
                  });
                }},
           });
    if (!has_token) error(at(k), k.path + ".token", "a key needs a token");
    for (const auto& other : out) {
      if (has_token && other.token_sha256 == key.token_sha256) {
        error(token_mark, k.path + ".token", "the same token as key '" + other.name + "'");
      }
    }
    out.push_back(std::move(key));
  });
}

}  // namespace aigw::config::detail
