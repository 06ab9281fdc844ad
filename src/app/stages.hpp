#pragma once
// The one place that decides which stages run, in which order (docs/architecture.md). Only
// the app knows the stages; the pipeline runs whatever list it is given.

#include "aigw/config.hpp"
#include "aigw/stage.hpp"

#include "pipeline/pipeline.hpp"

#include <memory>
#include <vector>

namespace aigw {

namespace redis {
class Client;
}

// `redis`: the shared store of the features whose state is in Redis (null: none is).
// `previous` (a reload): the pipeline whose state carries over where its rules are unchanged:
// the cache (entries, flights) when the cache section is equal and Redis the same client,
// limiter and budget counters rule by rule.
std::vector<std::shared_ptr<Stage>> build_stages(const Config& config,
                                                 const Telemetry& telemetry = {},
                                                 const std::shared_ptr<redis::Client>& redis = {},
                                                 const Pipeline* previous = nullptr);

}  // namespace aigw
