// Every config the repository ships must load without a single diagnostic, so a schema change
// that breaks config/aigw.yaml or an example fails here rather than for a user.

#include "config/load.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace aigw::config {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = AIGW_SOURCE_DIR;

std::vector<fs::path> yaml_files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ShippedConfigs, DefaultConfigRunsWithoutEnvironment) {
  // No variable is set: the default config must not need any.
  const EnvLookup no_env = [](std::string_view) -> std::optional<std::string> {
    return std::nullopt;
  };
  const LoadResult r = load_file((kSourceDir / "config" / "aigw.yaml").string(), no_env);
  for (const auto& d : r.diagnostics) ADD_FAILURE() << d.str();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->server.listen.host, "0.0.0.0");
  EXPECT_EQ(r.config->server.listen.port, 8080);
  EXPECT_EQ(r.config->admin.listen.host, "127.0.0.1");
  EXPECT_EQ(r.config->admin.listen.port, 8081);
  EXPECT_EQ(r.config->server.workers, 0u);
}

TEST(ShippedConfigs, EveryShippedConfigLoadsCleanly) {
  // The examples read a CA file and keys from the environment; give them harmless values.
  const fs::path ca = fs::temp_directory_path() / "aigw_shipped_configs_test_ca.pem";
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
  const std::map<std::string, std::string> vars = {
      {"OPENAI_API_KEY", "sk-test"},         {"ANTHROPIC_API_KEY", "sk-ant-test"},
      {"VLLM_API_KEY", "vllm-test"},         {"MINE_API_KEY", "mine-test"},
      {"INTERNAL_LLM_KEY", "internal-test"}, {"INTERNAL_CA_FILE", ca.string()},
      {"AIGW_TOKEN", "gateway-token"},       {"REDIS_PASSWORD", "redis-password"},
      {"AIGW_ADMIN_TOKEN", "admin-token"},
  };
  const EnvLookup env = [&vars](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };

  std::vector<fs::path> files = yaml_files_in(kSourceDir / "config");
  // The price table is not a gateway config: the metering tests load it (through aigw.yaml).
  std::erase_if(files, [](const fs::path& p) { return p.filename() == "pricing.yaml"; });
  const auto examples = yaml_files_in(kSourceDir / "config" / "examples");
  files.insert(files.end(), examples.begin(), examples.end());
  ASSERT_GE(files.size(), 3u) << "expected config/aigw.yaml and at least two examples";

  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const LoadResult r = load_file(file.string(), env);
    for (const auto& d : r.diagnostics) ADD_FAILURE() << d.str();
    EXPECT_TRUE(r.ok());
  }
  std::error_code ec;
  fs::remove(ca, ec);
}

// The ```yaml blocks of the README and the docs a user copies from must load as they are
// (any ${VAR} set). A flow list such as [${TOKEN}] is not even YAML: this caught one.
TEST(ShippedConfigs, DocumentedYamlExamplesLoad) {
  const EnvLookup any_env = [](std::string_view) -> std::optional<std::string> {
    return std::string("x");
  };
  for (const char* doc :
       {"README.md", "docs/auth-and-limits.md", "docs/caching.md", "docs/routing.md"}) {
    std::ifstream in(kSourceDir / doc);
    ASSERT_TRUE(in) << doc;
    std::string line;
    std::string block;
    int line_no = 0;
    int block_start = 0;
    bool inside = false;
    int blocks = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (!inside && line == "```yaml") {
        inside = true;
        block.clear();
        block_start = line_no + 1;
      } else if (inside && line == "```") {
        inside = false;
        ++blocks;
        const LoadResult r =
            load_string(block, std::string(doc) + ":" + std::to_string(block_start), any_env);
        for (const auto& d : r.diagnostics) ADD_FAILURE() << d.str();
      } else if (inside) {
        block += line + "\n";
      }
    }
    EXPECT_GT(blocks, 0) << doc;
  }
}

}  // namespace
}  // namespace aigw::config
