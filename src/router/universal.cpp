#include "router/universal.hpp"

#include "core/text.hpp"
#include "router/router.hpp"
#include "router/routes.hpp"
#include "stages/byok/byok_stage.hpp"
#include "upstream/providers/usage/include_usage.hpp"
#include "upstream/providers/usage/json_dom.hpp"

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
  return Error{ErrorCode::kInvalidUniversal, std::move(message), false};
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

std::optional<std::uint64_t> whole_number(Element v) {
  std::uint64_t n = 0;
  if (v.is_uint64() && v.get_uint64().get(n) == simdjson::SUCCESS) return n;
  return std::nullopt;
}

// A step's config object (Cloudflare's names) over its policy.
std::optional<Error> read_step_config(Element config, const std::string& where,
                                      RetryConfig& policy) {
  simdjson::dom::object fields;
  if (config.get_object().get(fields) != simdjson::SUCCESS) {
    return invalid(where + ": config must be an object");
  }
  for (const auto field : fields) {
    const std::string_view key = field.key;
    const auto n = whole_number(field.value);
    if (key == "maxAttempts") {
      if (!n || *n < 1 || *n > 5) {
        return invalid(where + ": config.maxAttempts must be a whole number from 1 to 5");
      }
      policy.max_attempts = static_cast<unsigned>(*n);
    } else if (key == "retryDelay") {
      if (!n || *n > 5000) {
        return invalid(where + ": config.retryDelay must be milliseconds from 0 to 5000");
      }
      policy.delay = Duration(static_cast<Duration::rep>(*n));
    } else if (key == "requestTimeout") {
      if (!n || *n < 1 || *n > 3'600'000) {
        return invalid(where + ": config.requestTimeout must be milliseconds from 1 to 3600000");
      }
      policy.request_timeout = Duration(static_cast<Duration::rep>(*n));
    } else if (key == "backoff") {
      std::string_view b;
      if (field.value.get_string().get(b) != simdjson::SUCCESS) b = {};
      if (b == "constant") {
        policy.backoff = Backoff::kConstant;
      } else if (b == "linear") {
        policy.backoff = Backoff::kLinear;
      } else if (b == "exponential") {
        policy.backoff = Backoff::kExponential;
      } else {
        return invalid(where + ": config.backoff must be constant, linear or exponential");
      }
    } else {
      return invalid(where + ": unknown config key '" + std::string(key.substr(0, 100)) +
                     "' (expected maxAttempts, retryDelay, requestTimeout, backoff)");
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

// One step of the list (an element of the body's array).
Result<RouteStep> read_step(const RequestContext& ctx, const ProviderRegistry& providers,
                            const RetryConfig& policy, Element element, std::size_t index) {
  const std::string where = "step " + std::to_string(index);
  simdjson::dom::object s;
  if (element.get_object().get(s) != simdjson::SUCCESS)
    return invalid(where + " must be an object");
  std::optional<Element> provider, endpoint, headers, query, config;
  for (const auto field : s) {
    const std::string_view key = field.key;
    if (key == "provider") {
      provider = field.value;
    } else if (key == "endpoint") {
      endpoint = field.value;
    } else if (key == "headers") {
      headers = field.value;
    } else if (key == "query") {
      query = field.value;
    } else if (key == "config") {
      config = field.value;
    } else {
      return invalid(where + ": unknown key '" + std::string(key.substr(0, 100)) +
                     "' (expected provider, endpoint, headers, query, config)");
    }
  }
  RouteStep step;
  std::string_view slug;
  if (!provider || provider->get_string().get(slug) != simdjson::SUCCESS) {
    return invalid(where + ": provider is required (a provider slug)");
  }
  step.slug = std::string(slug);
  step.provider = providers.find(step.slug);
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
  auto mapped = step.provider->adapter->map(MapInput{rest, query_string, ctx.account, ctx.gateway},
                                            step.provider->base);
  if (!mapped) return invalid(where + ": " + mapped.error().detail);
  step.target = std::move(*mapped);
  step.path = "/" + step.slug + "/" + std::string(rest);
  if (!query) return invalid(where + ": query is required (the request body)");
  step.retry = policy;
  // The request's headers (not its body, the list of steps, which each step replaces).
  step.request.version(ctx.request.version());
  for (const auto& field : ctx.request) step.request.insert(field.name_string(), field.value());
  step.request.method(http::verb::post);
  step.request.target("/");
  step.request.body() = simdjson::minify(*query);
  if (headers) {
    simdjson::dom::object fields;
    if (headers->get_object().get(fields) != simdjson::SUCCESS) {
      return invalid(where + ": headers must be an object of strings");
    }
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
      if (lname.starts_with("cf-aig-")) {
        // A step may carry the retry headers (they become its policy); other cf-aig-*
        // headers act on the whole request and belong on it.
        if (std::find(std::begin(kRetryHeaders), std::end(kRetryHeaders), lname) ==
            std::end(kRetryHeaders)) {
          return invalid(where + ": header '" + name +
                         "' applies to the whole request; send it on the request itself");
        }
        // The same rules as on the request.
        if (auto error = apply_retry_header(lname, v, step.retry)) {
          return invalid(where + ": " + error->detail);
        }
        continue;
      }
      step.request.set(field.key, v);
      step.pinned.push_back(lname);
    }
  }
  if (step.request.find(http::field::content_type) == step.request.end()) {
    step.request.set(http::field::content_type, "application/json");
  }
  if (config) {
    if (auto error = read_step_config(*config, where, step.retry)) return *error;
  }
  return step;
}

}  // namespace

Result<std::vector<RouteStep>> parse_universal(const RequestContext& ctx,
                                               const ProviderRegistry& providers,
                                               const RetryConfig& policy, std::size_t max_steps) {
  const Error not_a_list = invalid(
      "the universal endpoint takes a JSON array of steps, each {\"provider\", \"endpoint\", "
      "\"headers\", \"query\"}");
  Result<std::vector<RouteStep>> out = not_a_list;
  usage::json::with_dom(ctx.request.body(), [&](Element root) {
    simdjson::dom::array list;
    if (root.get_array().get(list) != simdjson::SUCCESS) return;
    if (list.size() == 0) {
      out = invalid("the universal request has no steps");
      return;
    }
    if (list.size() > max_steps) {
      out =
          invalid("the universal request has " + std::to_string(list.size()) + " steps; at most " +
                  std::to_string(max_steps) + " are allowed (upstream.max_steps)");
      return;
    }
    std::vector<RouteStep> steps;
    steps.reserve(list.size());
    std::size_t index = 0;
    for (const Element element : list) {
      auto step = read_step(ctx, providers, policy, element, index++);
      if (!step) {
        out = step.error();
        return;
      }
      steps.push_back(std::move(*step));
    }
    // The rule named routes follow: a request whose steps go to more than one provider sends
    // no step the client's own credential headers (one provider's key must not reach
    // another); each step brings its own in `headers`, or a stored key is used.
    const bool one_provider = std::all_of(steps.begin(), steps.end(), [&](const RouteStep& s) {
      return s.provider == steps.front().provider;
    });
    if (!one_provider) {
      for (RouteStep& s : steps) {
        for (const std::string_view name : kClientCredentials) {
          if (std::find(s.pinned.begin(), s.pinned.end(), name) == s.pinned.end()) {
            s.request.erase(name);
          }
        }
      }
    }
    out = std::move(steps);
  });
  return out;
}

void enter_step(RequestContext& ctx, std::size_t index) {
  RouteStep& step = ctx.steps[index];
  if (ctx.usage_injected && ctx.step == 0) ctx.route_usage_provider = ctx.provider;
  ctx.step = index;
  ctx.provider = step.provider;
  ctx.provider_slug = step.slug;
  ctx.target = step.target;
  ctx.path = step.path;
  ctx.retry = step.retry;
  if (step.route_target != nullptr) {
    // A named route's target: its request is made now, from the client's.
    ctx.pinned_headers = step.route_target->pinned;
    build_route_request(ctx, step);
  } else {
    // Each step is entered once: its request and headers move into the context.
    ctx.pinned_headers = std::move(step.pinned);
    ctx.request = std::move(step.request);
  }
  ctx.facts.reset();  // the model and sizes are the new body's
  // Only step 0's body went through the stages (the metering stage's include_usage rewrite).
  if (index > 0) ctx.usage_injected = false;
  // A route target on the provider whose stream the metering stage asked for usage is asked
  // the same way (same provider, same body but the model: the stage's decision holds), so a
  // fallback to another model of that provider is metered exactly too.
  if (index > 0 && step.route_target != nullptr && step.provider == ctx.route_usage_provider &&
      usage::add_include_usage(ctx.request.body())) {
    ctx.usage_injected = true;
    ctx.request.prepare_payload();
  }
}

}  // namespace aigw
