#pragma once
// The fallback router: walks the plan's steps (planner.hpp) until an attempt answers, within
// each step's retry policy (upstream.* defaults, cf-aig-* headers over them). It makes each
// step it enters into an Attempt (attempt.hpp), hands it to the stages (AttemptPreparer),
// sends it through the forwarder and decides, from each response head, whether that
// response goes to the client or the next attempt is made; once a head has gone to the
// client (the commit point) nothing is retried. docs/routing.md has the table of what fails
// over. The router knows no stage.

#include "aigw/attempt.hpp"
#include "aigw/error.hpp"
#include "aigw/forwarder.hpp"
#include "aigw/request_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>

namespace aigw {

// What acts on each attempt before it is sent: the pipeline runs every stage's on_attempt.
class AttemptPreparer {
 public:
  virtual ~AttemptPreparer() = default;
  // An Error refuses the attempt: it is listed with that error and the next step is tried;
  // with none left, the error is the answer. Never suspends.
  virtual std::optional<Error> prepare(RequestContext& ctx, Attempt& attempt) = 0;
};

class Router {
 public:
  // Relays the request through `forwarder` as ctx.plan and each step's policy allow; returns
  // what the last attempt returned. Every attempt is listed in ctx.attempt_log; ctx.attempt
  // is the one being made, and afterwards the one that answered. Suspends (also between
  // attempts).
  boost::asio::awaitable<Result<void>> forward(RequestContext& ctx, Forwarder& forwarder,
                                               ResponseSink& sink, Downstream& downstream,
                                               AttemptPreparer& preparer) const;
};

}  // namespace aigw
