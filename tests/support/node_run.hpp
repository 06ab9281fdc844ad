#pragma once
// A Node.js script (the SDK drop-in test, the console's browser test) as a child process:
// output captured, bounded in time, killed with everything it started when over.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::test {

struct NodeRun {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string output;
  std::string error;  // set when node could not be started or was killed
};

// Runs `args` (args[0] looked up on PATH) with our environment minus the variables starting
// with one of `drop_env`, plus `set_env` ("NAME=value"). stdout and stderr are captured
// together; stdin is /dev/null; no other descriptor of ours is inherited. The child leads its
// own process group, so a timeout kills what it started too (Chromium under playwright).
NodeRun run_node(const std::vector<std::string>& args, const std::vector<std::string>& set_env,
                 std::chrono::milliseconds limit,
                 const std::vector<std::string_view>& drop_env = {});

}  // namespace aigw::test
