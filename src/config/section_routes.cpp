// The routes: named routes, their targets and breakers sections of the config
// (docs/configuration.md).

#include "config/loader.hpp"

#include <algorithm>

namespace aigw::config::detail {

// routes.<name>: the targets of a named route and its breaker. That each target's provider
// exists, and what its endpoint may be, is checked with the providers (src/router/routes.cpp).
void Loader::read_routes(const Entry& e, std::vector<RouteConfig>& out) {
  for_each_entry(e, false, "duplicate route", [&](const Entry& r) {
    RouteConfig route;
    route.name = r.key.Scalar();
    route.mark = mark_of(r.key.Mark());
    if (!valid_slug(route.name)) {
      error(route.mark, r.path, "a route name must match [a-z0-9][a-z0-9-]*");
    }
    read_route(r, route);
    out.push_back(std::move(route));
  });
  std::sort(out.begin(), out.end(),
            [](const RouteConfig& a, const RouteConfig& b) { return a.name < b.name; });
}

void Loader::read_route(const Entry& e, RouteConfig& out) {
  bool has_targets = false;
  read_fields(
      e,
      {
          {"targets",
           [&](const Entry& f) {
             has_targets = true;
             if (!f.value.IsSequence() || f.value.size() == 0) {
               error(f, "expected a list of targets (each with provider and model)");
               return;
             }
             if (f.value.size() > 20) {
               error(f, "at most 20 targets (got " + std::to_string(f.value.size()) + ")");
               return;
             }
             for (std::size_t i = 0; i < f.value.size(); ++i) {
               const Entry item{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"};
               RouteTargetConfig target;
               target.mark = at(item);
               read_route_target(item, target);
               out.targets.push_back(std::move(target));
             }
           }},
          {"breaker", [&](const Entry& f) { read_breaker(f, out.breaker); }},
          {"share_client_credentials",
           [&](const Entry& f) { read_bool(f, out.share_client_credentials); }},
      });
  if (!has_targets) error(at(e), e.path + ".targets", "a route needs targets");
}

void Loader::read_route_target(const Entry& e, RouteTargetConfig& out) {
  bool has_provider = false;
  bool has_model = false;
  const auto text = [&](const Entry& f, std::string_view expected) -> std::optional<std::string> {
    const auto v = scalar(f, expected);
    if (!v) return std::nullopt;
    if (v->text.empty()) {
      error(f, "must not be empty");
      return std::nullopt;
    }
    return v->text;
  };
  if (!e.value.IsMap()) {
    error(e, "expected a target (a mapping with provider and model)");
    return;
  }
  read_fields(e, {
                     {"provider",
                      [&](const Entry& f) {
                        has_provider = true;
                        if (auto v = text(f, "a provider name")) {
                          out.provider = std::move(*v);
                          out.provider_mark = at(f);
                        }
                      }},
                     {"model",
                      [&](const Entry& f) {
                        has_model = true;
                        if (auto v = text(f, "a model name")) out.model = std::move(*v);
                      }},
                     {"endpoint",
                      [&](const Entry& f) {
                        if (auto v = text(f, "a path under the provider's base URL")) {
                          out.endpoint = std::move(*v);
                          out.endpoint_mark = at(f);
                        }
                      }},
                     {"headers", [&](const Entry& f) { read_headers(f, out.headers); }},
                     {"weight", [&](const Entry& f) { read_uint(f, out.weight, 1, 1000); }},
                     {"priority", [&](const Entry& f) { read_uint(f, out.priority, 0, 100); }},
                     {"max_attempts",
                      [&](const Entry& f) {
                        unsigned n = 1;
                        read_uint(f, n, 1, kMaxRetryAttempts);
                        out.max_attempts = n;
                      }},
                     {"request_timeout",
                      [&](const Entry& f) {
                        read_optional_duration(f, out.request_timeout, kMaxRequestTimeout);
                      }},
                 });
  if (!has_provider) error(at(e), e.path + ".provider", "a target needs a provider");
  if (!has_model) error(at(e), e.path + ".model", "a target needs a model");
}

void Loader::read_breaker(const Entry& e, BreakerConfig& out) {
  read_fields(e, {
                     {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
                     {"failures", [&](const Entry& f) { read_uint(f, out.failures, 1, 1000); }},
                     {"window", [&](const Entry& f) { read_duration(f, out.window, false); }},
                     {"cooldown", [&](const Entry& f) { read_duration(f, out.cooldown, false); }},
                     {"store", [&](const Entry& f) { read_store(f, out.store); }},
                 });
}

}  // namespace aigw::config::detail
