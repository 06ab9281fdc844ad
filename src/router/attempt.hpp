#pragma once
// Making a planned step into an attempt: the request it sends, built over the client's
// (which is never changed) with the step's edits — a universal step's method, body and
// headers, a route target's model and headers, the client's credentials left out where the
// plan spans providers. The stages' on_attempt acts on it next (stored keys, usage).

#include "aigw/attempt.hpp"
#include "aigw/request_context.hpp"

#include <cstddef>

namespace aigw {

// Step `index` of ctx.plan as an attempt. Reads the client's body facts (ctx.body) when the
// step sends the client's body. Never suspends.
Attempt make_attempt(RequestContext& ctx, std::size_t index);

}  // namespace aigw
