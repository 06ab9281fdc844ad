// The config loader on any text: yaml-cpp's parser, the closed schema, units, ${VAR}
// expansion, the price table. Checked: it returns (no crash, no exception escapes) with a
// config exactly when it has no diagnostics, and a value that came from the environment
// never shows in a diagnostic (secrets print as ***).

#include "config/load.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "config_fuzz: %s %s\n", what, detail.c_str());
  std::abort();
}

constexpr std::string_view kSecret = "zz-SECRET-zz";

// A fixed environment: some names unset, some holding values that fit where a number, a
// duration or a URL is expected, the rest a value that must never be printed.
std::optional<std::string> env(std::string_view name) {
  if (name.starts_with("UNSET")) return std::nullopt;
  if (name.starts_with("NUM")) return "8080";
  if (name.starts_with("DUR")) return "30s";
  if (name.starts_with("URL")) return "http://127.0.0.1:9/v1";
  return std::string(kSecret);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  // A directory that does not exist: relative paths (pricing.yaml, log.path) resolve under
  // it and find nothing, so no input reads files next to the fuzzer.
  const auto result = aigw::config::load_string(yaml, "/nonexistent-aigw-fuzz/aigw.yaml", env);
  if (result.ok() != result.diagnostics.empty()) fail("ok() disagrees with the diagnostics");
  const bool secret_in_input = yaml.find(kSecret) != std::string_view::npos;
  for (const auto& d : result.diagnostics) {
    const std::string line = d.str();
    if (d.message.empty()) fail("a diagnostic without a message", line);
    if (!secret_in_input && line.find(kSecret) != std::string::npos) {
      fail("a secret in a diagnostic:", line);
    }
  }
  return 0;
}
