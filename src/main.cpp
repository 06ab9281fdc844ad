// aigw — a self-hosted AI gateway. CLI entry point: serve, --check-config, --version.

#include "aigw/provider.hpp"

#include "app/app.hpp"
#include "config/load.hpp"
#include "router/routes.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kUsage =
    "usage: aigw [--config FILE]        serve (default config/aigw.yaml)\n"
    "       aigw --check-config FILE    validate FILE; print every problem; exit 0 or 1\n"
    "       aigw --version\n";

// Loads and validates everything a start would check, printing each problem as
// FILE:LINE:COL: key.path: message. Returns the config only when there was none.
std::optional<aigw::Config> load_and_check(const std::string& path) {
  auto loaded = aigw::config::load_file(path);
  for (const auto& d : loaded.diagnostics) std::fprintf(stderr, "%s\n", d.str().c_str());
  if (!loaded.ok()) return std::nullopt;
  std::vector<aigw::ProviderRegistry::Problem> problems;
  const auto providers = aigw::ProviderRegistry::build(*loaded.config, problems);
  aigw::RouteTable::build(*loaded.config, *providers, problems);
  for (const auto& p : problems) {
    const aigw::config::Diagnostic d{p.mark.file.empty() ? aigw::SourceMark{path, 0, 0} : p.mark,
                                     p.path, p.message};
    std::fprintf(stderr, "%s\n", d.str().c_str());
  }
  if (!problems.empty()) return std::nullopt;
  return std::move(loaded.config);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "config/aigw.yaml";
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--version" || arg == "-v") {
      std::printf("aigw %s\n", AIGW_VERSION);
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage.data(), stdout);
      return 0;
    }
    if ((arg == "--config" || arg == "-c" || arg == "--check-config") && i + 1 < argc) {
      check_only = check_only || arg == "--check-config";
      config_path = argv[++i];
      continue;
    }
    std::fprintf(stderr, "aigw: unknown argument '%s'\n%s", argv[i], kUsage.data());
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("aigw");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);

  auto config = load_and_check(config_path);
  if (!config) return 1;
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config->server.log_level));
  try {
    aigw::App app(std::move(*config));
    return app.run_until_signal();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
