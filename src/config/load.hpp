#pragma once
// YAML → Config. The schema is closed: unknown keys, wrong types and out-of-range values are
// all collected (not just the first) with the file:line:col where they were written.

#include "aigw/config.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::config {

struct Diagnostic {
  SourceMark mark;
  std::string path;     // dotted key path, e.g. "server.listen" or "providers.openai.base_url"
  std::string message;  // never contains a secret's value

  // "FILE:LINE:COL: key.path: message" (the format --check-config prints).
  std::string str() const;
};

struct LoadResult {
  std::optional<Config> config;  // set only when diagnostics is empty
  std::vector<Diagnostic> diagnostics;
  bool ok() const noexcept { return config.has_value(); }
};

// Looks up an environment variable for ${VAR} references; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

// Loads and validates `path`. A missing or unreadable file is a single diagnostic at 0:0.
LoadResult load_file(const std::string& path, const EnvLookup& env = process_env());
// Same, from text; `file_name` is used in diagnostics and Config::source.
LoadResult load_string(std::string_view yaml, const std::string& file_name,
                       const EnvLookup& env = process_env());

// The top-level sections (server, cache, routes...) whose YAML differs between two texts of a
// config file, in the order of `after`, then sections only `before` had. For the reload's
// log and answer; a text that does not parse counts as all of its sections changed.
std::vector<std::string> changed_sections(const std::string& before, const std::string& after);

// Parsers for the unit-carrying scalars, exposed for tests and for header values such as
// cf-aig-request-timeout. Durations: "250ms", "30s", "5m", "1h" (a bare 0 is allowed).
// Sizes: "512", "16KiB", "8MiB", "1GiB" (also KB/MB/GB as powers of 1000).
std::optional<Duration> parse_duration(std::string_view text);
std::optional<std::size_t> parse_size(std::string_view text);
// "host:port", "[v6]:port" or ":port" (= 0.0.0.0).
std::optional<ListenAddress> parse_listen(std::string_view text);

}  // namespace aigw::config
