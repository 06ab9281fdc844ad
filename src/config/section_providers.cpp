// The providers: base URLs, headers, stored keys, key_paths section of the config
// (docs/configuration.md).

#include "aigw/provider.hpp"

#include "config/loader.hpp"
#include "core/path_rules.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace aigw::config::detail {

void Loader::read_providers(const Entry& e, std::map<std::string, ProviderConfig>& out) {
  for_each_entry(e, false, "duplicate key", [&](const Entry& p) {
    const std::string& slug = p.key.Scalar();
    ProviderConfig provider;
    provider.name = slug;
    provider.mark = mark_of(p.key.Mark());
    const bool valid = valid_slug(slug);
    if (!valid) {
      std::string message = "provider name must match [a-z0-9][a-z0-9-]*";
      std::string fixed = lower(slug);
      std::replace(fixed.begin(), fixed.end(), '_', '-');
      if (valid_slug(fixed)) message += " (did you mean '" + fixed + "'?)";
      error(provider.mark, p.path, std::move(message));
    }
    // An invalid entry is still read so that its other problems show in the same run.
    read_provider(p, provider);
    if (valid) out.emplace(slug, std::move(provider));
  });
}

void Loader::read_provider(const Entry& e, ProviderConfig& out) {
  read_fields(
      e,
      {
          {"base_url",
           [&](const Entry& f) {
             const auto v = scalar(f, "a URL");
             if (!v) return;
             // Only the scheme here; the registry parses the URL (and knows templates).
             const std::string scheme = lower(v->text.substr(0, 8));
             if (!scheme.starts_with("http://") && !scheme.starts_with("https://")) {
               error(f, "must start with http:// or https:// (got " + quoted(*v) + ")");
               return;
             }
             out.base_url = v->text;
             out.base_url_mark = at(f);
           }},
          {"ca_file", [&](const Entry& f) { read_readable_file(f, out.ca_file); }},
          {"tls_verify", [&](const Entry& f) { read_bool(f, out.tls_verify); }},
          {"http2",
           [&](const Entry& f) {
             bool b = true;
             read_bool(f, b);
             out.http2 = b;
           }},
          {"headers", [&](const Entry& f) { read_headers(f, out.headers); }},
          {"connect_timeout",
           [&](const Entry& f) { read_optional_duration(f, out.connect_timeout); }},
          {"first_byte_timeout",
           [&](const Entry& f) { read_optional_duration(f, out.first_byte_timeout); }},
          {"read_timeout", [&](const Entry& f) { read_optional_duration(f, out.read_timeout); }},
          {"include_usage",
           [&](const Entry& f) {
             bool b = true;
             read_bool(f, b);
             out.include_usage = b;
           }},
          {"keys", [&](const Entry& f) { read_provider_keys(f, out); }},
          {"key_paths",
           [&](const Entry& f) {
             if (!f.value.IsSequence()) {
               error(f, "expected a list such as [\"POST **/chat/completions\"]");
               return;
             }
             auto& rules = out.key_paths.emplace();
             for (std::size_t i = 0; i < f.value.size(); ++i) {
               const Entry item{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"};
               const auto v = scalar(item, "a method and path pattern");
               if (!v) continue;
               std::string why;
               if (auto rule = path_rules::parse(v->text, why)) {
                 rules.push_back(std::move(*rule));
               } else {
                 error(item, why + " (got " + quoted(*v) + ")");
               }
             }
           }},
          {"key_header",
           [&](const Entry& f) {
             const auto v = scalar(f, "a header name");
             if (!v) return;
             if (v->text.empty() || !std::all_of(v->text.begin(), v->text.end(), is_tchar)) {
               error(f, "not a valid HTTP header name (got " + quoted(*v) + ")");
               return;
             }
             out.key_header = lower(v->text);
           }},
      });
}

// alias: ${ENV_VAR}, one entry per stored key. A key is never written in the file: the file
// is shared and committed far more often than the environment.
void Loader::read_provider_keys(const Entry& e, ProviderConfig& out) {
  out.keys_mark = at(e);
  stored_keys_marks_.emplace_back(at(e), e.path);
  for_each_entry(e, false, "duplicate alias", [&](const Entry& k) {
    const std::string& alias = k.key.Scalar();
    if (!valid_slug(alias)) {
      error(mark_of(k.key.Mark()), k.path, "an alias must match [a-z0-9][a-z0-9-]*");
      return;
    }
    const auto v = scalar(k, "a key");
    if (!v) return;
    if (!v->secret) {
      error(k, "a provider key must not be written in the config file: use ${ENV_VAR}");
      return;
    }
    if (v->text.empty()) {
      error(k, "the key is empty");
      return;
    }
    if (v->text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      error(k, "the key must not contain CR, LF or NUL");
      return;
    }
    out.keys.emplace_back(alias, Secret(v->text, true));
  });
}

void Loader::read_headers(const Entry& e, std::vector<std::pair<std::string, Secret>>& out) {
  // Header names are case-insensitive (RFC 9110 §5.1), so Authorization and authorization
  // are the same header twice.
  for_each_entry(e, true, "duplicate header", [&](const Entry& h) {
    const std::string& name = h.key.Scalar();
    bool ok = true;
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
      error(mark_of(h.key.Mark()), h.path, "not a valid HTTP header name");
      ok = false;
    } else if (std::find(std::begin(kRefusedHeaders), std::end(kRefusedHeaders), lower(name)) !=
               std::end(kRefusedHeaders)) {
      error(mark_of(h.key.Mark()), h.path, "this header is managed by aigw and cannot be set here");
      ok = false;
    }
    // Header values are never echoed, whether or not they came from the environment.
    const auto v = scalar(h, "a string");
    if (!v || !ok) return;
    if (v->text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      error(h, "value must not contain CR, LF or NUL");
      return;
    }
    // A provider's credential in its headers is checked against auth.enabled once the
    // whole file is read, like stored keys.
    const std::string lname = lower(name);
    if (lname == "proxy-authorization" ||
        std::find(std::begin(kCredentialHeaders), std::end(kCredentialHeaders), lname) !=
            std::end(kCredentialHeaders)) {
      credential_header_marks_.emplace_back(mark_of(h.key.Mark()), h.path);
    }
    out.emplace_back(name, Secret(v->text, v->secret));
  });
}

}  // namespace aigw::config::detail
