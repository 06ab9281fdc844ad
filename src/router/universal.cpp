#include "router/universal.hpp"

#include "core/retry_settings.hpp"
#include "core/text.hpp"
#include "json/dom.hpp"
#include "router/compat.hpp"
#include "upstream/providers/usage/request_info.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <charconv>
#include <string>

namespace aigw {
namespace {

// simdjson's DOM: the list of steps is read once and each step's query is written out
// minified, a few instructions per byte (nlohmann's parse and dump took ~90 000 instructions
// for a three-step request; bench/README.md).
using Element = simdjson::dom::element;

// Headers the gateway owns on the way upstream.
constexpr std::string_view kReservedHeaders[] = {
    "host", "content-length", "transfer-encoding", "connection", "expect", "upgrade", "te"};

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidUniversal, std::move(message)};
}

// "%2e" and "%2E" are a dot to a server that decodes the path before resolving it.
std::string decoded_dots(std::string_view segment) {
  std::string out;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size() && segment[i + 1] == '2' &&
        (segment[i + 2] == 'e' || segment[i + 2] == 'E')) {
      out += '.';
      i += 2;
    } else {
      out += segment[i];
    }
  }
  return out;
}

}  // namespace

std::string endpoint_problem(std::string_view endpoint) {
  if (endpoint.empty()) return "is empty";
  if (endpoint.find("://") != std::string_view::npos) return "is an absolute URL";
  if (endpoint.starts_with("//")) return "is a network-path reference (//host)";
  const std::string_view path = endpoint.substr(0, endpoint.find('?'));
  const auto colon = path.find(':');
  const auto slash = path.find('/');
  // A colon in the first segment reads as a scheme (mailto:, https:). Later colons are
  // ordinary path characters (Gemini's models/x:generateContent).
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) {
    return "starts with a scheme";
  }
  if (endpoint.find('@') != std::string_view::npos) return "contains '@'";
  if (endpoint.find('\\') != std::string_view::npos) return "contains a backslash";
  for (char c : endpoint) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#') {
      return "contains a character not allowed in a path";
    }
  }
  std::string_view rest = path;
  while (!rest.empty()) {
    const auto end = rest.find('/');
    const std::string segment = decoded_dots(rest.substr(0, end));
    if (segment == ".." || segment == ".") return "contains a '.' or '..' segment";
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return {};
}

namespace {

// A step's config object (Cloudflare's names) over its policy, with the rules of the
// cf-aig-* retry headers (retry_policy.hpp).
std::optional<Error> read_step_config(Element config, const std::string& where,
                                      RetryConfig& policy) {
  simdjson::dom::object fields;
  if (config.get_object().get(fields) != simdjson::SUCCESS) {
    return invalid(where + ": config must be an object");
  }
  for (const auto field : fields) {
    const auto setting = retry_setting_of_config_key(field.key);
    if (!setting) {
      return invalid(where + ": unknown config key '" + std::string(field.key.substr(0, 100)) +
                     "' (expected maxAttempts, retryDelay, requestTimeout, backoff)");
    }
    RetryValue value;
    std::uint64_t n = 0;
    std::string_view text;
    if (field.value.is_uint64() && field.value.get_uint64().get(n) == simdjson::SUCCESS) {
      value = n;
    } else if (field.value.get_string().get(text) == simdjson::SUCCESS) {
      value = text;
    }
    if (auto problem = apply_retry_setting(*setting, value, policy)) {
      return invalid(where + ": config." + std::string(field.key) + " must be " + *problem);
    }
  }
  return std::nullopt;
}

}  // namespace

bool is_universal_path(std::string_view path) noexcept {
  if (path == "/") return true;
  if (!path.starts_with("/v1/")) return false;
  std::string_view rest = path.substr(4);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  const std::string_view gateway = rest.substr(slash + 1);
  return !gateway.empty() && gateway.find('/') == std::string_view::npos;
}

namespace {

bool has_header(const HttpRequest& request, std::string_view name,
                const std::vector<std::pair<std::string, std::string>>& set) {
  if (request.find(name) != request.end()) return true;
  return std::any_of(set.begin(), set.end(),
                     [&](const auto& h) { return boost::beast::iequals(h.first, name); });
}

// A step on a provider's own API: its endpoint under the provider's base, its query as is.
Result<PlannedStep> native_universal_step(const UniversalInput& in, const std::string& where,
                                          std::string_view slug, std::optional<Element> endpoint,
                                          std::optional<Element> query) {
  PlannedStep step;
  step.slug = std::string(slug);
  step.provider = in.providers.find(step.slug);
  if (step.provider == nullptr) {
    std::string known;
    for (const auto& name : ProviderRegistry::builtin_slugs()) {
      known += (known.empty() ? "" : ", ") + name;
    }
    return invalid(where + ": unknown provider '" + text::clip(step.slug, 100) +
                   "'; built-in providers: " + known +
                   ", or a custom-{name} provider configured on this gateway");
  }
  std::string_view e;
  if (!endpoint || endpoint->get_string().get(e) != simdjson::SUCCESS) {
    return invalid(where + ": endpoint is required (a path under the provider's base URL)");
  }
  if (const std::string problem = endpoint_problem(e); !problem.empty()) {
    return invalid(where + ": endpoint '" + std::string(e.substr(0, 200)) + "' " + problem +
                   "; it must be a path under the provider's base URL, like chat/completions");
  }
  if (e.starts_with('/')) e.remove_prefix(1);
  const auto qmark = e.find('?');
  const std::string_view rest = e.substr(0, qmark);
  const std::string_view query_string = qmark == std::string_view::npos ? "" : e.substr(qmark + 1);
  auto mapped = step.provider->adapter->map(MapInput{rest, query_string, in.account, in.gateway},
                                            step.provider->base);
  if (!mapped) return invalid(where + ": " + mapped.error().detail);
  step.target = std::move(*mapped);
  step.path = "/" + step.slug + "/" + std::string(rest);
  const std::string_view upstream_path =
      std::string_view(step.target.target).substr(0, step.target.target.find('?'));
  step.usage_format = step.provider->adapter->usage_format(upstream_path);
  step.path_model = usage::model_from_path(step.usage_format, upstream_path);
  if (!query) return invalid(where + ": query is required (the request body)");
  step.retry = in.policy;
  step.method = http::verb::post;
  // The step's body, and what it says, read here with the list: never parsed again.
  auto body = std::make_shared<std::string>(simdjson::minify(*query));
  auto facts = std::make_shared<BodyFacts>(usage::read_element(*query, *body));
  if (!facts->duplicate_key.empty()) {
    return invalid(where + ": query has the key '" + text::clip(facts->duplicate_key, 100) +
                   "' more than once; send each key once");
  }
  step.body = std::move(body);
  step.body_facts = std::move(facts);
  return step;
}

// A "compat" step (docs/compat.md): Cloudflare's unified API inside the list. Its endpoint
// names the client's API (chat/completions, v1/messages), its query says "model":
// "{provider}/{model}", and it becomes a step to that provider's own chat endpoint with the
// query translated, as /compat plans it.
Result<PlannedStep> compat_universal_step(const UniversalInput& in, const std::string& where,
                                          std::optional<Element> endpoint,
                                          std::optional<Element> query) {
  std::string_view e;
  if (!endpoint || endpoint->get_string().get(e) != simdjson::SUCCESS) {
    return invalid(where + ": endpoint is required (chat/completions or v1/messages for compat)");
  }
  if (e.starts_with('/')) e.remove_prefix(1);
  const auto client = compat_dialect(e);
  if (!client) {
    return invalid(where + ": endpoint '" + text::clip(e, 100) +
                   "' is not a compat endpoint (chat/completions or v1/messages)");
  }
  if (!query) return invalid(where + ": query is required (the request body)");
  const std::string body = simdjson::minify(*query);
  const BodyFacts facts = usage::read_element(*query, body);
  if (!facts.duplicate_key.empty()) {
    return invalid(where + ": query has the key '" + text::clip(facts.duplicate_key, 100) +
                   "' more than once; send each key once");
  }
  const std::string_view named = facts.model;
  const auto slash = named.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == named.size()) {
    return invalid(where + ": query.model '" + text::clip(named, 100) +
                   "' must be \"{provider}/{model}\", e.g. \"anthropic/claude-sonnet-4-5\"");
  }
  const std::string_view slug = named.substr(0, slash);
  const Provider* provider = in.providers.find(slug);
  if (provider == nullptr) {
    return invalid(where + ": unknown provider '" + text::clip(slug, 100) + "' in query.model");
  }
  auto step = compat_step(CompatStepInput{
      *provider, slug, named.substr(slash + 1), *client, body, facts, in.policy, in.account,
      in.gateway, in.request.find("anthropic-version") != in.request.end()});
  if (!step) return invalid(where + ": " + step.error().detail);
  step->path = "/compat/" + std::string(e);
  return step;
}

// A compat step's key, given in its headers in the client's SDK's header (Authorization:
// Bearer, x-api-key, x-goog-api-key), goes in the provider's own header instead.
void move_compat_key(PlannedStep& step) {
  const CredentialHeader& credential = step.provider->credential;
  for (auto it = step.headers.begin(); it != step.headers.end(); ++it) {
    const std::string name = text::lower(it->first);
    std::string_view key = it->second;
    if (name == "authorization") {
      constexpr std::string_view kBearer = "bearer ";
      if (key.size() <= kBearer.size() ||
          !boost::beast::iequals(key.substr(0, kBearer.size()), kBearer)) {
        continue;
      }
      key = text::trim_ows(key.substr(kBearer.size()));
    } else if (name != "x-api-key" && name != "x-goog-api-key") {
      continue;
    }
    if (credential.name.empty() || name == credential.name) return;
    std::string value = credential.prefix + std::string(key);
    step.headers.erase(it);
    std::erase(step.pinned, name);
    step.headers.emplace_back(credential.name, std::move(value));
    step.pinned.push_back(credential.name);
    return;
  }
}

// One step of the list (an element of the body's array).
Result<PlannedStep> read_step(const UniversalInput& in, Element element, std::size_t index) {
  const std::string where = "step " + std::to_string(index);
  simdjson::dom::object s;
  if (element.get_object().get(s) != simdjson::SUCCESS) {
    return invalid(where + " must be an object");
  }
  std::optional<Element> provider, endpoint, headers, query, config;
  for (const auto field : s) {
    const std::string_view key = field.key;
    std::optional<Element>* slot = key == "provider"   ? &provider
                                   : key == "endpoint" ? &endpoint
                                   : key == "headers"  ? &headers
                                   : key == "query"    ? &query
                                   : key == "config"   ? &config
                                                       : nullptr;
    if (slot == nullptr) {
      return invalid(where + ": unknown key '" + std::string(key.substr(0, 100)) +
                     "' (expected provider, endpoint, headers, query, config)");
    }
    if (*slot) return invalid(where + ": '" + std::string(key) + "' is given more than once");
    *slot = field.value;
  }
  PlannedStep step;
  std::string_view slug;
  if (!provider || provider->get_string().get(slug) != simdjson::SUCCESS) {
    return invalid(where + ": provider is required (a provider slug)");
  }
  if (slug == "compat") {
    auto compat = compat_universal_step(in, where, endpoint, query);
    if (!compat) return compat.error();
    step = std::move(*compat);
  } else {
    auto native = native_universal_step(in, where, slug, endpoint, query);
    if (!native) return native.error();
    step = std::move(*native);
  }
  if (headers) {
    simdjson::dom::object fields;
    if (headers->get_object().get(fields) != simdjson::SUCCESS) {
      return invalid(where + ": headers must be an object of strings");
    }
    std::vector<std::string> seen;  // lower-case names: one value per header
    for (const auto field : fields) {
      const std::string name(field.key.substr(0, 100));
      std::string_view v;
      if (field.value.get_string().get(v) != simdjson::SUCCESS) {
        return invalid(where + ": header '" + name + "' must be a string");
      }
      if (field.key.empty() || !std::all_of(field.key.begin(), field.key.end(), text::is_tchar)) {
        return invalid(where + ": '" + name + "' is not a header name");
      }
      if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        return invalid(where + ": header '" + name + "' has a line break or NUL in its value");
      }
      const std::string lname = text::lower(field.key);
      if (std::find(std::begin(kReservedHeaders), std::end(kReservedHeaders), lname) !=
          std::end(kReservedHeaders)) {
        return invalid(where + ": header '" + name + "' is set by the gateway");
      }
      if (std::find(seen.begin(), seen.end(), lname) != seen.end()) {
        return invalid(where + ": header '" + name + "' is given more than once");
      }
      seen.push_back(lname);
      if (lname.starts_with("cf-aig-")) {
        // A step may carry the retry headers (they become its policy); other cf-aig-*
        // headers act on the whole request and belong on it.
        const auto setting = retry_setting_of_header(lname);
        if (!setting) {
          return invalid(where + ": header '" + name +
                         "' applies to the whole request; send it on the request itself");
        }
        // The same rules as on the request.
        if (auto problem = apply_retry_header(*setting, v, step.retry)) {
          return invalid(where + ": " + lname + " must be " + *problem + " (got '" +
                         std::string(v.substr(0, 64)) + "')");
        }
        continue;
      }
      step.headers.emplace_back(std::string(field.key), std::string(v));
      step.pinned.push_back(lname);
    }
  }
  if (slug == "compat") move_compat_key(step);
  if (!has_header(in.request, "content-type", step.headers)) {
    step.headers.emplace_back("Content-Type", "application/json");
  }
  if (config) {
    if (auto error = read_step_config(*config, where, step.retry)) return *error;
  }
  return step;
}

}  // namespace

Result<std::vector<PlannedStep>> read_universal(const UniversalInput& in) {
  const Error not_a_list = invalid(
      "the universal endpoint takes a JSON array of steps, each {\"provider\", \"endpoint\", "
      "\"headers\", \"query\"}");
  Result<std::vector<PlannedStep>> out = not_a_list;
  json::with_dom(in.request.body(), [&](Element root) {
    simdjson::dom::array list;
    if (root.get_array().get(list) != simdjson::SUCCESS) return;
    if (list.size() == 0) {
      out = invalid("the universal request has no steps");
      return;
    }
    if (list.size() > in.max_steps) {
      out =
          invalid("the universal request has " + std::to_string(list.size()) + " steps; at most " +
                  std::to_string(in.max_steps) + " are allowed (upstream.max_steps)");
      return;
    }
    std::vector<PlannedStep> steps;
    steps.reserve(list.size());
    std::size_t index = 0;
    for (const Element element : list) {
      auto step = read_step(in, element, index++);
      if (!step) {
        out = step.error();
        return;
      }
      steps.push_back(std::move(*step));
    }
    // The rule named routes follow: a request whose steps go to more than one provider sends
    // no step the client's own credential headers (one provider's key must not reach
    // another); each step brings its own in `headers`, or a stored key is used.
    const bool one_provider = std::all_of(steps.begin(), steps.end(), [&](const PlannedStep& s) {
      return s.provider == steps.front().provider;
    });
    for (PlannedStep& s : steps) s.strip_client_credentials = !one_provider;
    out = std::move(steps);
  });
  return out;
}

}  // namespace aigw
