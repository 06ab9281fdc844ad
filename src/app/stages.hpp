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
std::vector<std::shared_ptr<Stage>> build_stages(const Config& config,
                                                 const Telemetry& telemetry = {},
                                                 const std::shared_ptr<redis::Client>& redis = {});

}  // namespace aigw
