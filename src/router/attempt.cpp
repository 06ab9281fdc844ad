#include "router/attempt.hpp"

#include "request/body.hpp"
#include "router/routes.hpp"

#include <algorithm>
#include <memory>

namespace aigw {

Attempt make_attempt(RequestContext& ctx, std::size_t index) {
  const PlannedStep& step = ctx.plan.steps[index];
  Attempt a;
  a.step = index;
  a.planned = &step;
  a.provider = step.provider;
  a.slug = step.slug;
  a.target = step.target;
  a.request = OutgoingRequest(ctx.request);
  a.pinned = step.pinned;
  a.retry = step.retry;
  a.usage_format = step.usage_format;
  if (step.method) a.request.method(*step.method);
  if (step.body) a.request.body(step.body);
  if (step.strip_client_credentials) {
    // One provider's key must not reach another: the step's own credential (pinned) or a
    // stored key (the stored-keys stage) goes instead.
    for (const std::string_view name : kCredentialHeaders) {
      if (std::find(a.pinned.begin(), a.pinned.end(), name) == a.pinned.end()) {
        a.request.erase(name);
      }
    }
  }
  for (const auto& [name, value] : step.headers) a.request.set(name, value);
  if (step.route_target != nullptr) {
    // A named route's target: its model in the body, its headers over the client's.
    if (step.body_facts == nullptr && !ctx.request.body().empty() &&
        body_facts(ctx).model != step.model) {
      write_model(a.request.edit_body(), step.model);
    }
    for (const auto& [name, value] : step.route_target->config.headers) {
      a.request.set(name, value.reveal());
    }
  }
  a.body_facts = step.body_facts ? step.body_facts : ctx.body;
  if (!step.model.empty()) {
    a.model = step.model;
  } else if (a.body_facts && !a.body_facts->model.empty()) {
    a.model = a.body_facts->model;
  } else {
    a.model = step.path_model;
  }
  return a;
}

}  // namespace aigw
