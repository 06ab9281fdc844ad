// The redis: section of the config and the per-feature `store` / `on_error` keys
// (docs/configuration.md, docs/scaling.md).

#include "config/loader.hpp"
#include "core/redis_url.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace aigw::config::detail {

void Loader::read_readable_file(const Entry& f, std::optional<std::string>& out) {
  const auto v = scalar(f, "a path");
  if (!v) return;
  const auto path = resolve_path(*v);
  if (!path) {
    error(f, "must not be empty");
    return;
  }
  // Checked now so that --check-config catches it, not the first TLS handshake.
  std::error_code ec;
  if (std::filesystem::is_directory(path->text, ec)) {
    error(f, "cannot read " + quoted(*path) + ": is a directory");
    return;
  }
  std::FILE* file = std::fopen(path->text.c_str(), "rb");
  if (file == nullptr) {
    error(f, "cannot read " + quoted(*path) + ": " + std::strerror(errno));
    return;
  }
  std::fclose(file);
  out = path->text;
}

void Loader::read_store(const Entry& e, StateStore& out) {
  const auto v = scalar(e, "local or redis");
  if (!v) return;
  if (v->text == "local") {
    out = StateStore::kLocal;
  } else if (v->text == "redis") {
    out = StateStore::kRedis;
    redis_store_marks_.emplace_back(at(e), e.path);
  } else {
    error(e, "must be local or redis (got " + quoted(*v) + ")");
  }
}

void Loader::read_on_error(const Entry& e, OnStoreError& out) {
  const auto v = scalar(e, "open or closed");
  if (!v) return;
  if (v->text == "open") {
    out = OnStoreError::kOpen;
  } else if (v->text == "closed") {
    out = OnStoreError::kClosed;
  } else {
    error(e, "must be open (admit while Redis cannot answer) or closed (refuse) (got " +
                 quoted(*v) + ")");
  }
}

void Loader::read_redis(const Entry& e, RedisConfig& out) {
  out.mark = at(e);
  bool has_url = false;
  read_fields(e, {
                     {"url",
                      [&](const Entry& f) {
                        const auto v = scalar(f, "a redis:// or rediss:// URL");
                        if (!v) return;
                        has_url = true;
                        std::string problem;
                        if (!redis::parse_url(v->text, problem)) {
                          // The URL itself is not repeated: it may hold a password.
                          error(f, problem);
                          return;
                        }
                        out.url = v->text;
                      }},
                     {"password",
                      [&](const Entry& f) {
                        const auto v = scalar(f, "a password, best a ${ENV_VAR} reference");
                        if (v) out.password = Secret(v->text, v->secret);
                      }},
                     {"connect_timeout",
                      [&](const Entry& f) { read_duration(f, out.connect_timeout, false); }},
                     {"command_timeout",
                      [&](const Entry& f) { read_duration(f, out.command_timeout, false); }},
                     {"pool", [&](const Entry& f) { read_uint(f, out.pool, 1, 16); }},
                     {"key_prefix",
                      [&](const Entry& f) {
                        const auto v = scalar(f, "a key prefix");
                        if (!v) return;
                        // Printable and short: it starts every key, and keys show up in Redis's
                        // tools.
                        const bool printable_ascii =
                            std::all_of(v->text.begin(), v->text.end(),
                                        [](char c) { return c > ' ' && c < 0x7f; });
                        if (v->text.size() > 64 || !printable_ascii) {
                          error(f, "must be at most 64 printable characters without spaces (got " +
                                       quoted(*v) + ")");
                          return;
                        }
                        out.key_prefix = v->text;
                      }},
                     {"ca_file", [&](const Entry& f) { read_readable_file(f, out.ca_file); }},
                 });
  if (!has_url) error(at(e), e.path + ".url", "the redis: section needs a url");
}

}  // namespace aigw::config::detail
