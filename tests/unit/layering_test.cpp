// The layers of docs/architecture.md, checked on the sources: every #include "dir/..." of a
// file under src/ names its own layer or one below it. CMake links each layer only to those
// below (CMakeLists.txt), so a call the wrong way fails to link; this test also catches an
// include the wrong way that calls nothing (a type, an inline function), and a stage that
// includes another stage.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Each layer and the layers it may include (itself, and below; transitively closed here).
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> below = [] {
    const std::map<std::string, std::vector<std::string>> direct = {
        {"core", {}},
        {"contracts", {"core"}},
        {"json", {"core"}},
        {"config", {"core"}},
        {"providers", {"contracts", "json"}},
        {"pricing", {"contracts"}},
        {"store", {"json"}},
        {"net", {"contracts"}},
        {"redis", {"contracts"}},
        {"request", {"providers", "json", "contracts"}},
        {"translate", {"providers", "json", "contracts"}},
        {"router", {"request", "providers", "config", "translate", "redis"}},
        {"upstream", {"providers", "net"}},
        {"telemetry", {"store", "contracts"}},
        {"pipeline", {"router", "telemetry", "net"}},
        {"stage", {"request", "net", "pricing", "store", "config", "redis"}},
        {"server", {"pipeline", "upstream", "telemetry", "store"}},
        {"app", {"server", "stage"}},
        {"main", {"app"}},
    };
    std::map<std::string, std::set<std::string>> closed;
    for (const auto& [layer, deps] : direct) {
      std::set<std::string>& out = closed[layer];
      std::vector<std::string> todo = {layer};
      while (!todo.empty()) {
        const std::string next = todo.back();
        todo.pop_back();
        if (!out.insert(next).second) continue;
        for (const auto& d : direct.at(next)) todo.push_back(d);
      }
    }
    return closed;
  }();
  return below;
}

// The layer of a path under src/ ("stages/cache/key.cpp" → "stage:cache"), or "" for files
// outside the layers (the precompiled header, Asio's compilation unit).
std::string layer_of(const std::string& path) {
  const auto first = path.substr(0, path.find('/'));
  if (path.rfind("upstream/providers/", 0) == 0) return "providers";
  if (path.rfind("stages/", 0) == 0) {
    const std::string rest = path.substr(7);
    return "stage:" + rest.substr(0, rest.find('/'));
  }
  if (first == "http") return "net";
  if (path == "main.cpp") return "main";
  if (path.find('/') == std::string::npos) return "";
  return first;
}

bool may_include(const std::string& from, const std::string& to) {
  if (to.empty() || from == to) return true;
  const auto strip = [](const std::string& l) { return l.rfind("stage:", 0) == 0 ? "stage" : l; };
  // A stage sees its own folder and the layers below the pipeline, never another stage.
  if (to.rfind("stage:", 0) == 0 && from.rfind("stage:", 0) == 0) return false;
  const auto it = allowed().find(strip(from));
  return it != allowed().end() && it->second.count(strip(to)) != 0;
}

TEST(Layering, EveryIncludeNamesItsOwnLayerOrOneBelow) {
  const fs::path src = fs::path(AIGW_SOURCE_DIR) / "src";
  const std::regex include(R"re(^\s*#\s*include\s+"([^"]+)")re");
  std::vector<std::string> wrong;
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (ext != ".cpp" && ext != ".hpp") continue;
    const std::string rel = fs::relative(entry.path(), src).generic_string();
    const std::string from = layer_of(rel);
    if (from.empty()) continue;
    ++files;
    std::ifstream in(entry.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      const std::string target = m[1];
      if (target.rfind("aigw/", 0) == 0) continue;  // the contracts: every layer's
      const std::string to = layer_of(target);
      ASSERT_TRUE(allowed().count(to.rfind("stage:", 0) == 0 ? "stage" : to) != 0 || to.empty())
          << rel << ":" << n << ": unknown layer of \"" << target << "\"";
      if (!may_include(from, to)) {
        wrong.push_back(rel + ":" + std::to_string(n) + ": " + from + " includes \"" + target +
                        "\" (" + to + ")");
      }
    }
  }
  EXPECT_GT(files, 100);
  EXPECT_TRUE(wrong.empty()) << [&] {
    std::string out;
    for (const auto& w : wrong) out += w + "\n";
    return out;
  }();
}

// The contracts name no router or stage type: the context holds stages' state behind
// StageState, and attempts reach a route target only through the plan's opaque pointer.
TEST(Layering, TheRequestContextNamesNoStage) {
  std::ifstream in(fs::path(AIGW_SOURCE_DIR) / "include/aigw/request_context.hpp");
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  for (const char* name : {"CacheCapture", "MeterState", "RateLimitState", "Router", "Planner"}) {
    EXPECT_EQ(text.find(name), std::string::npos) << name;
  }
}

TEST(Layering, ALayerViolationIsCaught) {
  EXPECT_FALSE(may_include("router", "pipeline"));
  EXPECT_FALSE(may_include("stage:cache", "stage:meter"));
  EXPECT_FALSE(may_include("pipeline", "stage:auth"));
  EXPECT_FALSE(may_include("core", "json"));
  EXPECT_TRUE(may_include("stage:cache", "net"));
  EXPECT_TRUE(may_include("app", "stage:auth"));
  EXPECT_TRUE(may_include("server", "core"));
}

}  // namespace
