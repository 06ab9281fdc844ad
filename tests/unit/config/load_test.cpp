// The loader's diagnostics are a user interface: every test asserts the exact text and the
// line:column a user would see from `aigw --check-config`.

#include "config/load.hpp"

#include "core/sha256.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace aigw::config {
namespace {

using Lines = std::vector<std::string>;

EnvLookup fake_env(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::vector<std::string> diagnostics(std::string_view yaml, const EnvLookup& env = fake_env()) {
  const LoadResult result = load_string(yaml, "test.yaml", env);
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) out.push_back(d.str());
  EXPECT_EQ(result.ok(), out.empty());
  return out;
}

Config load_ok(std::string_view yaml, const EnvLookup& env = fake_env()) {
  LoadResult result = load_string(yaml, "test.yaml", env);
  for (const auto& d : result.diagnostics) ADD_FAILURE() << d.str();
  if (!result.ok()) return Config{};
  return std::move(*result.config);
}

// A scratch directory removed at the end of each test that uses it.
class TempDir {
 public:
  TempDir() {
    path_ =
        std::filesystem::temp_directory_path() /
        ("aigw_config_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, std::string_view content) const {
    const auto p = path_ / name;
    std::ofstream(p) << content;
    return p.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// ---- defaults -------------------------------------------------------------------------

TEST(ConfigDefaults, EmptyDocumentsGiveAllDefaults) {
  for (std::string_view yaml : {"", "\n", "# only a comment\n", "~\n", "---\n"}) {
    SCOPED_TRACE(std::string(yaml));
    const aigw::Config c = load_ok(yaml);
    EXPECT_EQ(c.source, "test.yaml");
    EXPECT_EQ(c.server.listen.host, "0.0.0.0");
    EXPECT_EQ(c.server.listen.port, 8080);
    EXPECT_EQ(c.server.workers, 0u);
    EXPECT_EQ(c.server.max_header_bytes, 16u * 1024);
    EXPECT_EQ(c.server.max_body_bytes, 32u * 1024 * 1024);
    EXPECT_EQ(c.server.request_timeout, std::chrono::seconds(30));
    EXPECT_EQ(c.server.idle_timeout, std::chrono::seconds(75));
    EXPECT_EQ(c.server.drain_timeout, std::chrono::seconds(30));
    EXPECT_EQ(c.server.max_connections, 10000u);
    EXPECT_TRUE(c.server.validate_json);
    EXPECT_TRUE(c.admin.enabled);
    EXPECT_EQ(c.admin.listen.host, "127.0.0.1");
    EXPECT_EQ(c.admin.listen.port, 8081);
    EXPECT_EQ(c.upstream.connect_timeout, std::chrono::seconds(10));
    EXPECT_EQ(c.upstream.tls_timeout, std::chrono::seconds(10));
    EXPECT_EQ(c.upstream.first_byte_timeout, std::chrono::seconds(120));
    EXPECT_EQ(c.upstream.read_timeout, std::chrono::seconds(300));
    EXPECT_EQ(c.upstream.pool_max_idle_per_host, 32u);
    EXPECT_EQ(c.upstream.pool_idle_timeout, std::chrono::seconds(60));
    EXPECT_EQ(c.upstream.max_response_header_bytes, 64u * 1024);
    EXPECT_TRUE(c.upstream.http2);
    EXPECT_EQ(c.upstream.http2_max_streams, 100u);
    EXPECT_EQ(c.upstream.retry.max_attempts, 1u);  // no retries unless asked for
    EXPECT_EQ(c.upstream.retry.delay, std::chrono::milliseconds(100));
    EXPECT_EQ(c.upstream.retry.backoff, aigw::Backoff::kExponential);
    EXPECT_FALSE(c.upstream.retry.request_timeout);
    EXPECT_EQ(c.upstream.retry.max_retry_after, std::chrono::seconds(10));
    EXPECT_TRUE(c.providers.empty());
    EXPECT_EQ(c.server.log_level, "info");
    EXPECT_EQ(c.access_log.path, "-");
    EXPECT_EQ(c.access_log.queue, 8192u);
  }
}

TEST(ConfigDefaults, EmptySectionsKeepDefaults) {
  const aigw::Config c =
      load_ok("server:\nadmin:\nupstream:\nproviders:\naccess_log:\nrequest_log:\n");
  EXPECT_EQ(c.server.listen.port, 8080);
  EXPECT_TRUE(c.providers.empty());
}

// ---- values ---------------------------------------------------------------------------

TEST(ConfigValues, EveryKeyIsRead) {
  const aigw::Config c = load_ok(R"(
server:
  listen: "[::1]:9000"
  log_level: debug
  workers: 4
  max_header_bytes: 32KiB
  max_body_bytes: 1048576
  request_timeout: 1.5s
  idle_timeout: 2m
  drain_timeout: 0
  max_connections: 500
  validate_json: false
admin:
  enabled: false
  listen: :9001
upstream:
  connect_timeout: 250ms
  tls_timeout: 3s
  first_byte_timeout: 1h
  read_timeout: 10m
  pool_max_idle_per_host: 0
  pool_idle_timeout: 90s
  max_response_header_bytes: 128KB
  http2: false
  http2_max_streams: 16
  max_attempts: 4
  retry_delay: 250ms
  backoff: linear
  request_timeout: 20s
  max_retry_after: 0
access_log:
  path: "off"
  queue: 16
)");
  EXPECT_EQ(c.server.listen.host, "::1");
  EXPECT_EQ(c.server.listen.port, 9000);
  EXPECT_EQ(c.server.workers, 4u);
  EXPECT_EQ(c.server.max_header_bytes, 32u * 1024);
  EXPECT_EQ(c.server.max_body_bytes, 1048576u);
  EXPECT_EQ(c.server.request_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.server.idle_timeout, std::chrono::minutes(2));
  EXPECT_EQ(c.server.drain_timeout, Duration(0));
  EXPECT_EQ(c.server.max_connections, 500u);
  EXPECT_FALSE(c.server.validate_json);
  EXPECT_FALSE(c.admin.enabled);
  EXPECT_EQ(c.admin.listen.host, "0.0.0.0");
  EXPECT_EQ(c.admin.listen.port, 9001);
  EXPECT_EQ(c.upstream.connect_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c.upstream.tls_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c.upstream.first_byte_timeout, std::chrono::hours(1));
  EXPECT_EQ(c.upstream.read_timeout, std::chrono::minutes(10));
  EXPECT_EQ(c.upstream.pool_max_idle_per_host, 0u);
  EXPECT_EQ(c.upstream.pool_idle_timeout, std::chrono::seconds(90));
  EXPECT_EQ(c.upstream.max_response_header_bytes, 128000u);
  EXPECT_FALSE(c.upstream.http2);
  EXPECT_EQ(c.upstream.http2_max_streams, 16u);
  EXPECT_EQ(c.upstream.retry.max_attempts, 4u);
  EXPECT_EQ(c.upstream.retry.delay, std::chrono::milliseconds(250));
  EXPECT_EQ(c.upstream.retry.backoff, aigw::Backoff::kLinear);
  EXPECT_EQ(c.upstream.retry.request_timeout, std::chrono::seconds(20));
  EXPECT_EQ(c.upstream.retry.max_retry_after, std::chrono::seconds(0));
  EXPECT_EQ(c.server.log_level, "debug");
  EXPECT_EQ(c.access_log.path, "off");
  EXPECT_EQ(c.access_log.queue, 16u);
}

TEST(ConfigValues, ProvidersWithMarks) {
  const aigw::Config c = load_ok(R"(providers:
  openai:
  custom-local:
    base_url: http://127.0.0.1:8000/v1
    tls_verify: false
    http2: false
    headers:
      x-team: research
    connect_timeout: 2s
    first_byte_timeout: 5m
    read_timeout: 30s
)");
  ASSERT_EQ(c.providers.size(), 2u);
  const ProviderConfig& openai = c.providers.at("openai");
  EXPECT_EQ(openai.name, "openai");
  EXPECT_FALSE(openai.base_url.has_value());
  EXPECT_TRUE(openai.tls_verify);
  EXPECT_FALSE(openai.http2.has_value());
  EXPECT_EQ(openai.mark.file, "test.yaml");
  EXPECT_EQ(openai.mark.line, 2);
  EXPECT_EQ(openai.mark.column, 3);

  const ProviderConfig& local = c.providers.at("custom-local");
  EXPECT_EQ(local.name, "custom-local");
  EXPECT_EQ(local.base_url, "http://127.0.0.1:8000/v1");
  EXPECT_EQ(local.mark.line, 3);
  EXPECT_EQ(local.mark.column, 3);
  EXPECT_EQ(local.base_url_mark.file, "test.yaml");
  EXPECT_EQ(local.base_url_mark.line, 4);
  EXPECT_EQ(local.base_url_mark.column, 15);
  EXPECT_FALSE(local.tls_verify);
  EXPECT_EQ(local.http2, false);
  ASSERT_EQ(local.headers.size(), 1u);
  EXPECT_EQ(local.headers[0].first, "x-team");
  EXPECT_EQ(local.headers[0].second.reveal(), "research");
  EXPECT_FALSE(local.headers[0].second.from_env());
  EXPECT_EQ(local.connect_timeout, std::chrono::seconds(2));
  EXPECT_EQ(local.first_byte_timeout, std::chrono::minutes(5));
  EXPECT_EQ(local.read_timeout, std::chrono::seconds(30));
}

TEST(ConfigValues, QuotedScalarsAreAcceptedForNumbersAndBooleans) {
  const aigw::Config c = load_ok("server:\n  workers: \"8\"\n  validate_json: 'false'\n");
  EXPECT_EQ(c.server.workers, 8u);
  EXPECT_FALSE(c.server.validate_json);
}

// ---- unknown keys ---------------------------------------------------------------------

TEST(ConfigUnknownKeys, NearMissGetsAHint) {
  EXPECT_EQ(diagnostics("server:\n  lisen: 0.0.0.0:8080\n"),
            (Lines{"test.yaml:2:3: server.lisen: unknown key (did you mean 'listen'?)"}));
  EXPECT_EQ(diagnostics("servr:\n  workers: 1\n"),
            (Lines{"test.yaml:1:1: servr: unknown key (did you mean 'server'?)"}));
  // A transposition is one edit.
  EXPECT_EQ(diagnostics("access_log:\n  pahth: x\n"),
            (Lines{"test.yaml:2:3: access_log.pahth: unknown key (did you mean 'path'?)"}));
}

TEST(ConfigAdmin, TokensAreRequiredOffLoopbackAndKeptAsDigests) {
  EXPECT_EQ(diagnostics("admin:\n  listen: 0.0.0.0:8081\n"),
            (Lines{"test.yaml:2:11: admin.listen: the admin listener on 0.0.0.0 is not on "
                   "loopback: set admin.tokens (${ENV_VAR} or sha256:...), or listen on "
                   "127.0.0.1"}));
  EXPECT_EQ(diagnostics("admin:\n  listen: :8081\n  tokens: []\n"),
            (Lines{"test.yaml:3:11: admin.tokens: the admin listener on 0.0.0.0 is not on "
                   "loopback: set admin.tokens (${ENV_VAR} or sha256:...), or listen on "
                   "127.0.0.1"}));
  EXPECT_EQ(diagnostics("admin:\n  tokens: [plain-text]\n"),
            (Lines{"test.yaml:2:12: admin.tokens[0]: a token must not be written in the config "
                   "file: use ${ENV_VAR} or sha256:<64 hex digits of its SHA-256>"}));
  // Loopback needs none; off loopback, a token from the environment is enough.
  EXPECT_TRUE(load_ok("admin:\n  listen: 127.0.0.1:8081\n").admin.token_sha256.empty());
  EXPECT_TRUE(load_ok("admin:\n  listen: \"[::1]:8081\"\n").admin.token_sha256.empty());
  EXPECT_TRUE(
      load_ok("admin:\n  enabled: false\n  listen: 0.0.0.0:8081\n").admin.token_sha256.empty());
  const Config c =
      load_ok("admin:\n  listen: 0.0.0.0:8081\n  tokens: [\"${AIGW_ADMIN_TEST_TOKEN}\"]\n",
              fake_env({{"AIGW_ADMIN_TEST_TOKEN", "t0ken"}}));
  ASSERT_EQ(c.admin.token_sha256.size(), 1u);
  EXPECT_EQ(c.admin.token_sha256[0], sha256("t0ken"));
}

TEST(ConfigUnknownKeys, DashesAndCaseAreClearNearMisses) {
  EXPECT_EQ(
      diagnostics("server:\n  Max-Body-Bytes: 1MiB\n"),
      (Lines{
          "test.yaml:2:3: server.Max-Body-Bytes: unknown key (did you mean 'max_body_bytes'?)"}));
}

TEST(ConfigUnknownKeys, FarMissListsTheKeys) {
  EXPECT_EQ(diagnostics("admin:\n  port: 1\n"),
            (Lines{"test.yaml:2:3: admin.port: unknown key (expected one of: enabled, listen, "
                   "tokens)"}));
  EXPECT_EQ(diagnostics("pipeline: {}\n"),
            (Lines{"test.yaml:1:1: pipeline: unknown key (expected one of: access_log, admin, "
                   "auth, budgets, cache, keys, metering, providers, rate_limits, redis, "
                   "request_log, routes, server, upstream)"}));
  EXPECT_EQ(diagnostics("cache:\n  size: 1\n"),
            (Lines{"test.yaml:2:3: cache.size: unknown key (expected one of: coalesce, "
                   "coalesce_wait, enabled, max_bytes, max_entry_bytes, max_ttl, "
                   "share_across_keys, store, ttl)"}));
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    api_key: x\n"),
            (Lines{"test.yaml:3:5: providers.openai.api_key: unknown key (expected one of: "
                   "base_url, ca_file, connect_timeout, first_byte_timeout, headers, http2, "
                   "include_usage, key_header, key_paths, keys, read_timeout, tls_verify)"}));
}

TEST(ConfigUnknownKeys, DuplicateKeysAreErrors) {
  EXPECT_EQ(diagnostics("server:\n  workers: 1\n  workers: 2\n"),
            (Lines{"test.yaml:3:3: server.workers: duplicate key (first at 2:3)"}));
  EXPECT_EQ(diagnostics("server: {}\nserver: {}\n"),
            (Lines{"test.yaml:2:1: server: duplicate key (first at 1:1)"}));
}

TEST(ConfigUnknownKeys, NonScalarKeys) {
  EXPECT_EQ(diagnostics("server:\n  ? [a, b]\n  : 1\n"),
            (Lines{"test.yaml:2:5: server: keys must be plain strings"}));
}

// ---- types ----------------------------------------------------------------------------

TEST(ConfigTypes, WrongTypes) {
  EXPECT_EQ(diagnostics("server:\n  workers: abc\n"),
            (Lines{"test.yaml:2:12: server.workers: expected an unsigned integer (got 'abc')"}));
  EXPECT_EQ(diagnostics("server:\n  workers: -1\n"),
            (Lines{"test.yaml:2:12: server.workers: expected an unsigned integer (got '-1')"}));
  EXPECT_EQ(
      diagnostics("server:\n  validate_json: yes please\n"),
      (Lines{"test.yaml:2:18: server.validate_json: expected true or false (got 'yes please')"}));
  // YAML 1.1 booleans are refused: `no` meaning false surprises people.
  EXPECT_EQ(diagnostics("admin:\n  enabled: no\n"),
            (Lines{"test.yaml:2:12: admin.enabled: expected true or false (got 'no')"}));
  EXPECT_EQ(diagnostics("upstream:\n  http2: h2\n"),
            (Lines{"test.yaml:2:10: upstream.http2: expected true or false (got 'h2')"}));
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    http2: 1\n"),
            (Lines{"test.yaml:3:12: providers.openai.http2: expected true or false (got '1')"}));
  EXPECT_EQ(diagnostics("providers: [openai]\n"),
            (Lines{"test.yaml:1:12: providers: expected a mapping"}));
  EXPECT_EQ(diagnostics("server: 8080\n"), (Lines{"test.yaml:1:9: server: expected a mapping"}));
  EXPECT_EQ(diagnostics("- server\n"), (Lines{"test.yaml:1:1: expected a mapping"}));
  EXPECT_EQ(diagnostics("providers:\n  openai: yes\n"),
            (Lines{"test.yaml:2:11: providers.openai: expected a mapping"}));
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    headers: [a]\n"),
            (Lines{"test.yaml:3:14: providers.openai.headers: expected a mapping"}));
}

TEST(ConfigTypes, NonScalarsAndEmptyValues) {
  // An empty value is reported at its key: yaml-cpp marks it at the next token.
  EXPECT_EQ(diagnostics("server:\n  workers:\n  listen: :80\n"),
            (Lines{"test.yaml:2:3: server.workers: expected an unsigned integer (got an "
                   "empty value)"}));
  EXPECT_EQ(diagnostics("server:\n  listen: [a]\n"),
            (Lines{"test.yaml:2:11: server.listen: expected an address (got a sequence)"}));
  EXPECT_EQ(diagnostics("server:\n  log_level: {a: 1}\n"),
            (Lines{"test.yaml:2:14: server.log_level: expected a string (got a mapping)"}));
  EXPECT_EQ(diagnostics("upstream:\n  read_timeout: ~\n"),
            (Lines{"test.yaml:2:3: upstream.read_timeout: expected a duration (got an "
                   "empty value)"}));
}

// ---- ranges ---------------------------------------------------------------------------

TEST(ConfigRanges, Integers) {
  EXPECT_EQ(diagnostics("server:\n  workers: 5000\n"),
            (Lines{"test.yaml:2:12: server.workers: must be <= 1024 (got 5000)"}));
  EXPECT_EQ(diagnostics("server:\n  workers: 99999999999999999999999\n"),
            (Lines{"test.yaml:2:12: server.workers: must be <= 1024 (got "
                   "99999999999999999999999)"}));
  EXPECT_EQ(diagnostics("server:\n  max_connections: 0\n"),
            (Lines{"test.yaml:2:20: server.max_connections: must be >= 1 (got 0)"}));
  EXPECT_EQ(diagnostics("server:\n  max_connections: 1000001\n"),
            (Lines{"test.yaml:2:20: server.max_connections: must be <= 1000000 (got 1000001)"}));
  EXPECT_EQ(diagnostics("upstream:\n  pool_max_idle_per_host: 10001\n"),
            (Lines{"test.yaml:2:27: upstream.pool_max_idle_per_host: must be <= 10000 (got "
                   "10001)"}));
  EXPECT_EQ(diagnostics("upstream:\n  http2_max_streams: 0\n"),
            (Lines{"test.yaml:2:22: upstream.http2_max_streams: must be >= 1 (got 0)"}));
  EXPECT_EQ(diagnostics("upstream:\n  http2_max_streams: 1001\n"),
            (Lines{"test.yaml:2:22: upstream.http2_max_streams: must be <= 1000 (got 1001)"}));
  EXPECT_EQ(diagnostics("access_log:\n  queue: 15\n"),
            (Lines{"test.yaml:2:10: access_log.queue: must be >= 16 (got 15)"}));
  EXPECT_EQ(diagnostics("access_log:\n  queue: 1048577\n"),
            (Lines{"test.yaml:2:10: access_log.queue: must be <= 1048576 (got 1048577)"}));
  EXPECT_TRUE(diagnostics("server:\n  workers: 1024\n  max_connections: 1000000\n").empty());
}

TEST(ConfigRanges, Sizes) {
  EXPECT_EQ(diagnostics("server:\n  max_body_bytes: 10\n"),
            (Lines{"test.yaml:2:19: server.max_body_bytes: must be >= 1KiB (got 10)"}));
  EXPECT_EQ(diagnostics("server:\n  max_body_bytes: 2GiB\n"),
            (Lines{"test.yaml:2:19: server.max_body_bytes: must be <= 1GiB (got 2GiB)"}));
  EXPECT_EQ(diagnostics("server:\n  max_header_bytes: 1025KiB\n"),
            (Lines{"test.yaml:2:21: server.max_header_bytes: must be <= 1MiB (got 1025KiB)"}));
  EXPECT_EQ(diagnostics("upstream:\n  max_response_header_bytes: 1000\n"),
            (Lines{"test.yaml:2:30: upstream.max_response_header_bytes: must be >= 1KiB "
                   "(got 1000)"}));
  EXPECT_EQ(diagnostics("server:\n  max_body_bytes: 8 MiB\n"),
            (Lines{"test.yaml:2:19: server.max_body_bytes: must be a size such as 512, "
                   "64KiB, 8MiB (got '8 MiB')"}));
  EXPECT_TRUE(diagnostics("server:\n  max_body_bytes: 1GiB\n  max_header_bytes: 1KiB\n").empty());
}

TEST(ConfigRanges, Durations) {
  EXPECT_EQ(diagnostics("server:\n  request_timeout: 30\n"),
            (Lines{"test.yaml:2:20: server.request_timeout: must be a duration with a unit "
                   "such as 250ms, 30s, 5m (got '30')"}));
  EXPECT_EQ(diagnostics("server:\n  idle_timeout: 1w\n"),
            (Lines{"test.yaml:2:17: server.idle_timeout: must be a duration with a unit such "
                   "as 250ms, 30s, 5m (got '1w')"}));
  EXPECT_EQ(diagnostics("server:\n  idle_timeout: 1d\n"),
            (Lines{"test.yaml:2:17: server.idle_timeout: must be <= 1h (got 1d)"}));
  EXPECT_EQ(diagnostics("server:\n  request_timeout: 0s\n"),
            (Lines{"test.yaml:2:20: server.request_timeout: must be > 0 (got 0s)"}));
  EXPECT_EQ(diagnostics("upstream:\n  read_timeout: 61m\n"),
            (Lines{"test.yaml:2:17: upstream.read_timeout: must be <= 1h (got 61m)"}));
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    connect_timeout: 0\n"),
            (Lines{"test.yaml:3:22: providers.openai.connect_timeout: must be > 0 (got 0)"}));
  // drain_timeout 0 means "close everything at once" and is allowed.
  EXPECT_TRUE(diagnostics("server:\n  drain_timeout: 0\n").empty());
  EXPECT_EQ(diagnostics("server:\n  drain_timeout: 2h\n"),
            (Lines{"test.yaml:2:18: server.drain_timeout: must be <= 1h (got 2h)"}));
}

TEST(ConfigRanges, LogLevel) {
  EXPECT_EQ(diagnostics("server:\n  log_level: verbose\n"),
            (Lines{"test.yaml:2:14: server.log_level: must be one of trace, debug, info, warn, "
                   "error, off (got 'verbose')"}));
  for (std::string_view level : {"trace", "debug", "info", "warn", "error", "off"}) {
    EXPECT_EQ(load_ok("server:\n  log_level: " + std::string(level) + "\n").server.log_level,
              level);
  }
}

// The sections renamed in 0.2 are refused with their new names, not silently ignored.
TEST(ConfigRenamed, OldSectionNamesSayWhereTheyWent) {
  EXPECT_EQ(diagnostics("logging:\n  level: info\n"),
            (Lines{"test.yaml:2:3: logging: this section is now access_log (path, queue) and "
                   "server.log_level (level); rename it (docs/configuration.md)"}));
  EXPECT_EQ(diagnostics("log:\n  enabled: false\n"),
            (Lines{"test.yaml:2:3: log: this section is now request_log; rename it "
                   "(docs/configuration.md)"}));
}

TEST(ConfigRanges, Listen) {
  EXPECT_EQ(diagnostics("server:\n  listen: localhost\n"),
            (Lines{"test.yaml:2:11: server.listen: must be host:port, [ipv6]:port or :port "
                   "with a port from 0 to 65535 (got 'localhost')"}));
  EXPECT_EQ(diagnostics("server:\n  listen: 0.0.0.0:65536\n"),
            (Lines{"test.yaml:2:11: server.listen: must be host:port, [ipv6]:port or :port "
                   "with a port from 0 to 65535 (got '0.0.0.0:65536')"}));
}

TEST(ConfigRanges, AdminMustNotShareTheServerPort) {
  EXPECT_EQ(diagnostics("server:\n  listen: 0.0.0.0:9000\nadmin:\n  listen: 127.0.0.1:9000\n"),
            (Lines{"test.yaml:4:11: admin.listen: admin.listen and server.listen must not "
                   "share port 9000"}));
  EXPECT_EQ(
      diagnostics("admin:\n  listen: :8080\n  tokens: [\"sha256:" + std::string(64, 'a') + "\"]\n"),
      (Lines{"test.yaml:2:11: admin.listen: admin.listen and server.listen must not "
             "share port 8080"}));
  // Different hosts, a disabled admin listener and port 0 (tests) are fine.
  EXPECT_TRUE(
      diagnostics("server:\n  listen: 127.0.0.1:9000\nadmin:\n  listen: 127.0.0.2:9000\n").empty());
  EXPECT_TRUE(diagnostics("admin:\n  enabled: false\n  listen: :8080\n").empty());
  // No overlap is reported against a listen address that did not parse.
  EXPECT_EQ(diagnostics("server:\n  listen: nope\nadmin:\n  listen: :8080\n"),
            (Lines{"test.yaml:2:11: server.listen: must be host:port, [ipv6]:port or :port with a "
                   "port from 0 to 65535 (got 'nope')"}));
  EXPECT_TRUE(
      diagnostics("server:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n").empty());
}

// ---- providers ------------------------------------------------------------------------

TEST(ConfigProviders, SlugMustBeLowercase) {
  EXPECT_EQ(diagnostics("providers:\n  OpenAI: {}\n"),
            (Lines{"test.yaml:2:3: providers.OpenAI: provider name must match "
                   "[a-z0-9][a-z0-9-]* (did you mean 'openai'?)"}));
  EXPECT_EQ(diagnostics("providers:\n  -x: {}\n"),
            (Lines{"test.yaml:2:3: providers.-x: provider name must match [a-z0-9][a-z0-9-]*"}));
  // The entry's own problems are still reported in the same run.
  EXPECT_EQ(diagnostics("providers:\n  my_llm:\n    base_url: ftp://x\n"),
            (Lines{"test.yaml:2:3: providers.my_llm: provider name must match "
                   "[a-z0-9][a-z0-9-]* (did you mean 'my-llm'?)",
                   "test.yaml:3:15: providers.my_llm.base_url: must start with http:// or "
                   "https:// (got 'ftp://x')"}));
}

TEST(ConfigProviders, UnknownSlugsAreLeftToTheRegistry) {
  const aigw::Config c = load_ok("providers:\n  not-a-provider: {}\n");
  EXPECT_EQ(c.providers.count("not-a-provider"), 1u);
}

TEST(ConfigProviders, BaseUrlScheme) {
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    base_url: api.openai.com\n"),
            (Lines{"test.yaml:3:15: providers.openai.base_url: must start with http:// or "
                   "https:// (got 'api.openai.com')"}));
  EXPECT_EQ(load_ok("providers:\n  openai:\n    base_url: HTTPS://Example.com\n")
                .providers.at("openai")
                .base_url,
            "HTTPS://Example.com");
}

TEST(ConfigProviders, Headers) {
  EXPECT_EQ(diagnostics(R"(providers:
  openai:
    headers:
      "bad name": x
      Host: example.com
      content-length: 5
      Transfer-Encoding: chunked
      connection: close
      upgrade: h2c
      x-ok: 1
      X-OK: 2
      x-empty:
)"),
            (Lines{"test.yaml:4:7: providers.openai.headers.bad name: not a valid HTTP header "
                   "name",
                   "test.yaml:5:7: providers.openai.headers.Host: this header is managed by "
                   "aigw and cannot be set here",
                   "test.yaml:6:7: providers.openai.headers.content-length: this header is "
                   "managed by aigw and cannot be set here",
                   "test.yaml:7:7: providers.openai.headers.Transfer-Encoding: this header is "
                   "managed by aigw and cannot be set here",
                   "test.yaml:8:7: providers.openai.headers.connection: this header is "
                   "managed by aigw and cannot be set here",
                   "test.yaml:9:7: providers.openai.headers.upgrade: this header is managed "
                   "by aigw and cannot be set here",
                   "test.yaml:11:7: providers.openai.headers.X-OK: duplicate header (first "
                   "at 10:7)",
                   "test.yaml:12:7: providers.openai.headers.x-empty: expected a string (got "
                   "an empty value)"}));
}

TEST(ConfigProviders, HeaderValuesMustNotContainLineBreaks) {
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    headers:\n      x-a: \"a\\r\\nb: c\"\n"),
            (Lines{"test.yaml:4:12: providers.openai.headers.x-a: value must not contain CR, "
                   "LF or NUL"}));
  // Also when the line break comes from the environment.
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    headers:\n      x-a: ${V}\n",
                        fake_env({{"V", "sk-123\nx-evil: 1"}})),
            (Lines{"test.yaml:4:12: providers.openai.headers.x-a: value must not contain CR, "
                   "LF or NUL"}));
  // An empty value is a valid HTTP field value when written explicitly.
  EXPECT_EQ(load_ok("providers:\n  openai:\n    headers:\n      x-a: \"\"\n")
                .providers.at("openai")
                .headers.at(0)
                .second.reveal(),
            "");
}

TEST(ConfigProviders, CaFileMustBeReadable) {
  TempDir dir;
  const std::string ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const aigw::Config c = load_ok("providers:\n  custom-x:\n    ca_file: " + ca + "\n");
  EXPECT_EQ(c.providers.at("custom-x").ca_file, ca);

  const std::string missing = (dir.path() / "missing.pem").string();
  EXPECT_EQ(diagnostics("providers:\n  custom-x:\n    ca_file: " + missing + "\n"),
            (Lines{"test.yaml:3:14: providers.custom-x.ca_file: cannot read '" + missing +
                   "': " + std::strerror(ENOENT)}));
  EXPECT_EQ(diagnostics("providers:\n  custom-x:\n    ca_file: " + dir.path().string() + "\n"),
            (Lines{"test.yaml:3:14: providers.custom-x.ca_file: cannot read '" +
                   dir.path().string() + "': is a directory"}));
}

TEST(ConfigProviders, RelativePathsAreRelativeToTheConfigFile) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "certs");
  const std::string ca = dir.write("certs/ca.pem", "pem");
  const std::string file = dir.write("aigw.yaml",
                                     "providers:\n  custom-x:\n    ca_file: certs/ca.pem\n"
                                     "access_log:\n  path: access.log\n");
  const LoadResult r = load_file(file, fake_env());
  ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
  EXPECT_EQ(r.config->source, file);
  EXPECT_EQ(r.config->providers.at("custom-x").ca_file, ca);
  EXPECT_EQ(r.config->access_log.path, (dir.path() / "access.log").string());
}

TEST(ConfigLogging, AccessLogDirectoryMustExist) {
  EXPECT_EQ(diagnostics("access_log:\n  path: /nonexistent-aigw-dir/access.log\n"),
            (Lines{"test.yaml:2:9: access_log.path: directory '/nonexistent-aigw-dir' "
                   "does not exist"}));
  EXPECT_EQ(diagnostics("access_log:\n  path: \"\"\n"),
            (Lines{"test.yaml:2:9: access_log.path: must not be empty (use '-' for "
                   "stdout or 'off')"}));
}

// ---- environment references -----------------------------------------------------------

TEST(ConfigEnv, ExpandsReferencesIntoSecrets) {
  const aigw::Config c = load_ok(R"(providers:
  openai:
    headers:
      authorization: Bearer ${OPENAI_KEY}
      x-both: ${A}-${B}
      x-literal: cost $${NOT_A_VAR} and $5
  custom-local:
    base_url: ${LOCAL_URL}/v1
server:
  workers: ${WORKERS}
auth:
  allow_anonymous_credentials: true
)",
                                 fake_env({{"OPENAI_KEY", "sk-secret"},
                                           {"A", "1"},
                                           {"B", "2"},
                                           {"LOCAL_URL", "http://10.0.0.1:8000"},
                                           {"WORKERS", "3"}}));
  const auto& headers = c.providers.at("openai").headers;
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[0].first, "authorization");
  EXPECT_EQ(headers[0].second.reveal(), "Bearer sk-secret");
  EXPECT_TRUE(headers[0].second.from_env());
  EXPECT_EQ(headers[1].second.reveal(), "1-2");
  EXPECT_TRUE(headers[1].second.from_env());
  EXPECT_EQ(headers[2].second.reveal(), "cost ${NOT_A_VAR} and $5");
  EXPECT_FALSE(headers[2].second.from_env());
  EXPECT_EQ(c.providers.at("custom-local").base_url, "http://10.0.0.1:8000/v1");
  EXPECT_EQ(c.server.workers, 3u);
}

TEST(ConfigEnv, ExpandedValuesAreNotRescanned) {
  const aigw::Config c = load_ok("providers:\n  openai:\n    headers:\n      x-a: ${V}\n",
                                 fake_env({{"V", "${OTHER}"}}));
  EXPECT_EQ(c.providers.at("openai").headers.at(0).second.reveal(), "${OTHER}");
}

TEST(ConfigEnv, UnsetVariablesAreEachReported) {
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    headers:\n      authorization: Bearer "
                        "${OPENAI_KEY}\n      x-pair: ${A}:${B}\n",
                        fake_env({{"A", "a"}})),
            (Lines{"test.yaml:4:22: providers.openai.headers.authorization: environment "
                   "variable OPENAI_KEY is not set",
                   "test.yaml:5:15: providers.openai.headers.x-pair: environment variable B "
                   "is not set"}));
}

TEST(ConfigEnv, MalformedReferences) {
  EXPECT_EQ(diagnostics("access_log:\n  path: ${LOG\n"),
            (Lines{"test.yaml:2:9: access_log.path: unterminated '${' (write '$${' for "
                   "a literal '${')"}));
  // The text between the braces is not echoed: it may be a pasted key.
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    headers:\n      authorization: "
                        "Bearer ${sk-live-123}\n"),
            (Lines{"test.yaml:4:22: providers.openai.headers.authorization: invalid "
                   "environment variable reference (a name is letters, digits and '_', not "
                   "starting with a digit)"}));
}

TEST(ConfigEnv, SecretsNeverAppearInDiagnostics) {
  const std::string secret = "sk-very-secret-value";
  const auto env = fake_env({{"S", secret}});
  const std::vector<std::string> got = diagnostics(R"(server:
  workers: ${S}
  listen: ${S}
  max_body_bytes: ${S}
  request_timeout: ${S}
  validate_json: ${S}
access_log:
  queue: ${S}
  path: /nonexistent-aigw-dir/${S}
providers:
  openai:
    base_url: ${S}
    ca_file: /nonexistent/${S}
    headers:
      authorization: "${S}\n"
)",
                                                   env);
  EXPECT_EQ(
      got,
      (Lines{
          "test.yaml:2:12: server.workers: expected an unsigned integer (got ***)",
          "test.yaml:3:11: server.listen: must be host:port, [ipv6]:port or :port with a port from "
          "0 to 65535 (got ***)",
          "test.yaml:4:19: server.max_body_bytes: must be a size such as 512, 64KiB, 8MiB (got "
          "***)",
          "test.yaml:5:20: server.request_timeout: must be a duration with a unit such as 250ms, "
          "30s, 5m (got ***)",
          "test.yaml:6:18: server.validate_json: expected true or false (got ***)",
          "test.yaml:8:10: access_log.queue: expected an unsigned integer (got ***)",
          "test.yaml:9:9: access_log.path: directory *** does not exist",
          "test.yaml:12:15: providers.openai.base_url: must start with http:// or https:// (got "
          "***)",
          "test.yaml:13:14: providers.openai.ca_file: cannot read ***: " +
              std::string(std::strerror(ENOENT)),
          "test.yaml:15:22: providers.openai.headers.authorization: value must not contain CR, LF "
          "or NUL"}));
  for (const auto& line : got) EXPECT_EQ(line.find("very-secret"), std::string::npos) << line;
}

TEST(ConfigEnv, ProcessEnvReadsTheEnvironment) {
  ::setenv("AIGW_CONFIG_TEST_VAR", "value", 1);
  const EnvLookup env = process_env();
  EXPECT_EQ(env("AIGW_CONFIG_TEST_VAR"), "value");
  ::unsetenv("AIGW_CONFIG_TEST_VAR");
  EXPECT_EQ(env("AIGW_CONFIG_TEST_VAR"), std::nullopt);
}

// ---- files and syntax -----------------------------------------------------------------

TEST(ConfigFiles, MissingFile) {
  const LoadResult r = load_file("/nonexistent-aigw-dir/aigw.yaml", fake_env());
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].str(), "/nonexistent-aigw-dir/aigw.yaml:0:0: cannot read file: " +
                                        std::string(std::strerror(ENOENT)));
  EXPECT_EQ(r.diagnostics[0].path, "");
}

TEST(ConfigFiles, DirectoryInsteadOfFile) {
  TempDir dir;
  const LoadResult r = load_file(dir.path().string(), fake_env());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].str(), dir.path().string() + ":0:0: cannot read file: is a directory");
}

TEST(ConfigFiles, YamlSyntaxError) {
  EXPECT_EQ(diagnostics("server:\n  listen: [a,\n"),
            (Lines{"test.yaml:3:1: invalid YAML: end of sequence flow not found"}));
  EXPECT_EQ(diagnostics("server:\n  workers: 1\n listen: :80\n"),
            (Lines{"test.yaml:3:2: invalid YAML: end of map not found"}));
  EXPECT_EQ(diagnostics("server: *nope\n"),
            (Lines{"test.yaml:1:9: invalid YAML: the referenced anchor is not defined"}));
}

TEST(ConfigFiles, OnlyOneDocument) {
  EXPECT_EQ(diagnostics("server: {}\n---\nadmin: {}\n"),
            (Lines{"test.yaml:3:1: expected one YAML document (found a second one)"}));
}

// yaml-cpp 0.7 yields empty documents forever at a stray ',' (its LoadAll never returned and
// filled memory; found by fuzz/config_fuzz.cpp).
TEST(ConfigFiles, StrayCommaEndsWithAnError) {
  EXPECT_EQ(diagnostics(","), (Lines{"test.yaml:1:1: invalid YAML: unexpected ','"}));
  EXPECT_EQ(diagnostics(",a"), (Lines{"test.yaml:1:1: invalid YAML: unexpected ','"}));
  EXPECT_EQ(diagnostics("{server: {}}\n,\n"),
            (Lines{"test.yaml:2:1: expected one YAML document (found a second one)"}));
}

// ---- collection -----------------------------------------------------------------------

TEST(ConfigCollect, AllErrorsInOneRunInDocumentOrder) {
  EXPECT_EQ(diagnostics(R"(server:
  lisen: :80
  workers: 5000
  validate_json: yes please
admin:
  enabled: maybe
upstream:
  read_timeout: 30
providers:
  Bad_Slug: {}
  openai:
    base_url: api.openai.com
    headers:
      authorization: ${OPENAI_KEY}
access_log:
  queue: loud
colour: blue
)"),
            (Lines{"test.yaml:2:3: server.lisen: unknown key (did you mean 'listen'?)",
                   "test.yaml:3:12: server.workers: must be <= 1024 (got 5000)",
                   "test.yaml:4:18: server.validate_json: expected true or false (got 'yes "
                   "please')",
                   "test.yaml:6:12: admin.enabled: expected true or false (got 'maybe')",
                   "test.yaml:8:17: upstream.read_timeout: must be a duration with a unit "
                   "such as 250ms, 30s, 5m (got '30')",
                   "test.yaml:10:3: providers.Bad_Slug: provider name must match "
                   "[a-z0-9][a-z0-9-]* (did you mean 'bad-slug'?)",
                   "test.yaml:12:15: providers.openai.base_url: must start with http:// or "
                   "https:// (got 'api.openai.com')",
                   "test.yaml:14:22: providers.openai.headers.authorization: environment "
                   "variable OPENAI_KEY is not set",
                   "test.yaml:16:10: access_log.queue: expected an unsigned integer (got 'loud')",
                   "test.yaml:17:1: colour: unknown key (expected one of: access_log, admin, "
                   "auth, budgets, cache, keys, metering, providers, rate_limits, redis, "
                   "request_log, routes, server, upstream)"}));
}

// ---- Diagnostic::str ------------------------------------------------------------------

TEST(ConfigDiagnostic, Str) {
  EXPECT_EQ(
      (Diagnostic{SourceMark{"aigw.yaml", 14, 5}, "server.workers", "must be <= 1024 (got 5000)"})
          .str(),
      "aigw.yaml:14:5: server.workers: must be <= 1024 (got 5000)");
  EXPECT_EQ((Diagnostic{SourceMark{"aigw.yaml", 3, 1}, "", "invalid YAML: x"}).str(),
            "aigw.yaml:3:1: invalid YAML: x");
}

TEST(ConfigDiagnostic, LongValuesAreShortenedAndEscaped) {
  const std::string long_value(100, 'x');
  EXPECT_EQ(diagnostics("server:\n  workers: " + long_value + "\n"),
            (Lines{"test.yaml:2:12: server.workers: expected an unsigned integer (got '" +
                   std::string(80, 'x') + "...')"}));
  EXPECT_EQ(diagnostics("server:\n  log_level: \"a\\tb\\x01\"\n"),
            (Lines{"test.yaml:2:14: server.log_level: must be one of trace, debug, info, warn, "
                   "error, off (got 'a\\tb\\x01')"}));
}

TEST(ConfigCache, KeysAndBounds) {
  const aigw::Config c = load_ok("cache:\n  enabled: true\n  ttl: 300s\n");
  EXPECT_TRUE(c.cache.enabled);
  EXPECT_EQ(c.cache.ttl, std::chrono::seconds(300));
  EXPECT_TRUE(c.cache.coalesce);
  EXPECT_EQ(diagnostics("cache:\n  ttl: 2d\n  max_ttl: 1d\n"),
            (Lines{"test.yaml:2:8: cache.ttl: must not exceed cache.max_ttl"}));
  EXPECT_EQ(diagnostics("cache:\n  ttl: 0s\n"),
            (Lines{"test.yaml:2:8: cache.ttl: must be > 0 (got 0s)"}));
  EXPECT_EQ(diagnostics("cache:\n  coalesce: sometimes\n"),
            (Lines{"test.yaml:2:13: cache.coalesce: expected true or false (got 'sometimes')"}));
}

}  // namespace
}  // namespace aigw::config

namespace aigw::config {
namespace {

// scripts/run.sh passes a relative config path (config/aigw.yaml), whose request_log.path: aigw.db
// must become config/aigw.db, not config/config/aigw.db.
TEST(ConfigLog, APathGivenInAConfigFoundByARelativePathIsResolvedOnce) {
  TempDir dir;
  dir.write("given.yaml", "request_log:\n  path: aigw.db\n");
  dir.write("default.yaml", "request_log:\n  enabled: true\n");
  const auto relative_dir = std::filesystem::relative(dir.path());
  ASSERT_TRUE(relative_dir.is_relative());
  for (const char* name : {"given.yaml", "default.yaml"}) {
    const LoadResult r = load_file((relative_dir / name).string(), fake_env());
    ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
    EXPECT_EQ(r.config->request_log.path, (relative_dir / "aigw.db").string()) << name;
  }
}

TEST(ConfigLog, KeysBoundsAndDefaultPath) {
  TempDir dir;
  const std::string file = dir.write("aigw.yaml", "request_log:\n  flush_interval: 500ms\n");
  const LoadResult r = load_file(file, fake_env());
  ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
  EXPECT_TRUE(r.config->request_log.enabled);
  EXPECT_EQ(r.config->request_log.path, (dir.path() / "aigw.db").string());  // next to the config
  EXPECT_EQ(r.config->request_log.flush_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(r.config->request_log.max_rows, 1'000'000u);
  EXPECT_FALSE(r.config->request_log.payloads);

  const aigw::Config c = load_ok("request_log:\n  max_rows: 0\n  max_age: 0\n  payloads: true\n");
  EXPECT_EQ(c.request_log.max_rows, 0u);
  EXPECT_EQ(c.request_log.max_age.count(), 0);
  EXPECT_TRUE(c.request_log.payloads);
  EXPECT_EQ(diagnostics("request_log:\n  flush_interval: 5s\n"),
            (Lines{"test.yaml:2:19: request_log.flush_interval: must be <= 1s (got 5s)"}));
  EXPECT_EQ(
      diagnostics("request_log:\n  path: /nonexistent-dir/x.db\n"),
      (Lines{"test.yaml:2:9: request_log.path: directory '/nonexistent-dir' does not exist"}));
  EXPECT_EQ(diagnostics("request_log:\n  queue: 1\n"),
            (Lines{"test.yaml:2:10: request_log.queue: must be >= 16 (got 1)"}));
}

TEST(ConfigMetering, PriceTableNextToTheConfigAndInlineOverrides) {
  TempDir dir;
  dir.write("pricing.yaml",
            "taken: 2026-11-30\ncurrency: USD\nprices:\n"
            "  openai/gpt-4o: {input: 2.5, output: 10, cached_input: 1.25}\n"
            "  anthropic/claude-x: {input: 3, output: 15, cache_write: 3.75}\n");
  const std::string file =
      dir.write("aigw.yaml",
                "metering:\n  prices:\n    openai/gpt-4o: {input: 1, output: 2}\n"
                "providers:\n  groq:\n    include_usage: false\n");
  const LoadResult r = load_file(file, fake_env());
  ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
  const auto& m = r.config->metering;
  EXPECT_TRUE(m.enabled);
  EXPECT_TRUE(m.include_usage);
  EXPECT_EQ(m.pricing_file, (dir.path() / "pricing.yaml").string());
  EXPECT_EQ(m.prices_taken, "2026-11-30");
  ASSERT_EQ(m.prices.size(), 2u);
  EXPECT_EQ(m.prices.at("openai/gpt-4o").input, 1);  // the config's own price wins
  EXPECT_FALSE(m.prices.at("openai/gpt-4o").cached_input.has_value());
  EXPECT_EQ(m.prices.at("anthropic/claude-x").cache_write, 3.75);
  EXPECT_EQ(r.config->providers.at("groq").include_usage, false);
}

TEST(ConfigMetering, CanBeTurnedOffAndTheSwitchIsABoolean) {
  TempDir dir;
  const LoadResult off =
      load_file(dir.write("off.yaml", "metering:\n  enabled: false\n"), fake_env());
  ASSERT_TRUE(off.ok()) << off.diagnostics.at(0).str();
  EXPECT_FALSE(off.config->metering.enabled);
  const std::string bad = dir.write("bad.yaml", "metering:\n  enabled: sometimes\n");
  const LoadResult r = load_file(bad, fake_env());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].str(),
            bad + ":2:12: metering.enabled: expected true or false (got 'sometimes')");
}

TEST(ConfigMetering, PriceTableProblemsNameTheirOwnFile) {
  TempDir dir;
  const std::string table =
      dir.write("prices.yaml",
                "prices:\n  gpt-4o: {input: 1, output: 2}\n  openai/x: {input: -1, output: cheap}\n"
                "  openai/y: {input: 1}\n");
  const std::string file = dir.write("aigw.yaml", "metering:\n  pricing_file: prices.yaml\n");
  const LoadResult r = load_file(file, fake_env());
  std::vector<std::string> lines;
  for (const auto& d : r.diagnostics) lines.push_back(d.str());
  EXPECT_EQ(lines,
            (Lines{table + ":2:3: prices.gpt-4o: a price key is provider/model, such as "
                           "openai/gpt-4o (got 'gpt-4o')",
                   table + ":3:21: prices.openai/x.input: must be >= 0 (got -1)",
                   table + ":3:33: prices.openai/x.output: must be a number of US dollars per "
                           "million tokens, such as 2.5 (got 'cheap')",
                   table + ":4:13: prices.openai/y: needs output (US dollars per million "
                           "tokens)"}));
  // A table that cannot be read is reported where it is named.
  const std::string missing = dir.write("aigw2.yaml", "metering:\n  pricing_file: nope.yaml\n");
  const LoadResult m = load_file(missing, fake_env());
  ASSERT_EQ(m.diagnostics.size(), 1u);
  EXPECT_EQ(m.diagnostics[0].str(), missing + ":2:17: metering.pricing_file: '" +
                                        (dir.path() / "nope.yaml").string() +
                                        "': cannot read file: " + std::strerror(ENOENT));
  // pricing_file: "" turns the table off.
  const std::string off = dir.write("aigw3.yaml", "metering:\n  pricing_file: \"\"\n");
  dir.write("pricing.yaml", "prices:\n  openai/a: {input: 1, output: 1}\n");
  const LoadResult o = load_file(off, fake_env());
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o.config->metering.prices.empty());
}

TEST(ConfigMetering, TheShippedPriceTableLoads) {
  const LoadResult r = load_file(std::string(AIGW_SOURCE_DIR) + "/config/aigw.yaml", fake_env());
  ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
  EXPECT_FALSE(r.config->metering.prices_taken.empty());
  EXPECT_GE(r.config->metering.prices.size(), 20u);
  for (const char* model :
       {"openai/gpt-4o", "anthropic/claude-sonnet-4-5", "google-ai-studio/gemini-2.5-pro",
        "mistral/mistral-large-latest", "groq/llama-3.3-70b-versatile", "deepseek/deepseek-chat"}) {
    EXPECT_EQ(r.config->metering.prices.count(model), 1u) << model;
  }
}

}  // namespace
}  // namespace aigw::config

namespace aigw::config {
namespace {

TEST(ConfigAuth, TokensComeFromTheEnvironmentOrAsDigestsNeverInPlainText) {
  const std::string digest(64, 'a');
  const Config c = load_ok(
      "auth:\n  enabled: true\n  tokens:\n    - ${AIGW_TOKEN}\n    - sha256:" + digest + "\n",
      fake_env({{"AIGW_TOKEN", "s3cret"}}));
  EXPECT_TRUE(c.auth.enabled);
  ASSERT_EQ(c.auth.token_sha256.size(), 2u);
  EXPECT_EQ(c.auth.token_sha256[0], sha256("s3cret"));
  Sha256Digest aa;
  aa.fill(0xaa);
  EXPECT_EQ(c.auth.token_sha256[1], aa);
  EXPECT_FALSE(load_ok("{}").auth.enabled);
}

TEST(ConfigAuth, BadTokensAreReportedWithoutEchoingThem) {
  EXPECT_EQ(diagnostics("auth:\n  enabled: true\n  tokens:\n    - my-plain-token\n"),
            (std::vector<std::string>{
                "test.yaml:4:7: auth.tokens[0]: a token must not be written in the config "
                "file: use ${ENV_VAR} or sha256:<64 hex digits of its SHA-256>"}));
  EXPECT_EQ(diagnostics("auth:\n  tokens:\n    - sha256:abc\n"),
            (std::vector<std::string>{"test.yaml:3:7: auth.tokens[0]: a sha256: token needs "
                                      "exactly 64 hex digits after the prefix"}));
  EXPECT_EQ(
      diagnostics("auth:\n  enabled: true\n"),
      (std::vector<std::string>{
          "test.yaml:2:3: auth.tokens: auth.enabled is true but no token or key is configured"}));
  EXPECT_EQ(
      diagnostics("auth:\n  enabled: true\n  tokens: []\n"),
      (std::vector<std::string>{
          "test.yaml:2:3: auth.tokens: auth.enabled is true but no token or key is configured"}));
  EXPECT_EQ(diagnostics("auth:\n  tokens: ${T}\n", fake_env({{"T", "x"}})),
            (std::vector<std::string>{"test.yaml:2:11: auth.tokens: expected a list of tokens"}));
  EXPECT_EQ(diagnostics("auth:\n  tokens:\n    - ${EMPTY}\n", fake_env({{"EMPTY", ""}})),
            (std::vector<std::string>{"test.yaml:3:7: auth.tokens[0]: the token is empty"}));
}

TEST(ConfigRateLimits, RulesAreReadWithTheirDefaults) {
  const Config c = load_ok(
      "rate_limits:\n  - limit: 10\n    window: 60s\n    technique: fixed\n"
      "  - name: per-user\n    limit: 5\n    window: 1h\n    technique: sliding\n"
      "    per: header:X-User-Id\n    provider: openai\n    model: gpt-4o\n    max_keys: 50\n"
      "  - limit: 1\n    window: 1d\n    per: metadata:team\n  - limit: 2\n    window: 2s\n"
      "    per: ip\n");
  ASSERT_EQ(c.rate_limits.size(), 4u);
  const auto& a = c.rate_limits[0];
  EXPECT_EQ(a.name, "rate_limits[0]");
  EXPECT_EQ(a.limit, 10u);
  EXPECT_EQ(a.window, std::chrono::seconds(60));
  EXPECT_EQ(a.technique, RateLimitRule::Technique::kFixed);
  EXPECT_EQ(a.scope, RateLimitRule::Scope::kGateway);
  EXPECT_FALSE(a.provider || a.model);
  EXPECT_EQ(a.max_keys, 100'000u);
  const auto& b = c.rate_limits[1];
  EXPECT_EQ(b.name, "per-user");
  EXPECT_EQ(b.technique, RateLimitRule::Technique::kSliding);
  EXPECT_EQ(b.scope, RateLimitRule::Scope::kHeader);
  EXPECT_EQ(b.scope_name, "x-user-id");
  EXPECT_EQ(b.provider, "openai");
  EXPECT_EQ(b.model, "gpt-4o");
  EXPECT_EQ(b.max_keys, 50u);
  EXPECT_EQ(c.rate_limits[2].scope, RateLimitRule::Scope::kMetadata);
  EXPECT_EQ(c.rate_limits[2].scope_name, "team");
  EXPECT_EQ(c.rate_limits[3].scope, RateLimitRule::Scope::kIp);
  EXPECT_EQ(a.unit, RateLimitRule::Unit::kRequests);
  const Config t = load_ok(
      "rate_limits:\n  - limit: 100000\n    window: 1m\n    unit: tokens\n"
      "    default_max_tokens: 256\n");
  EXPECT_EQ(t.rate_limits.at(0).unit, RateLimitRule::Unit::kTokens);
  EXPECT_EQ(t.rate_limits.at(0).default_max_tokens, 256u);
}

TEST(ConfigRateLimits, BadRulesAreReportedWhereTheyAre) {
  EXPECT_EQ(diagnostics("rate_limits:\n  - window: 60s\n  - limit: 1\n"),
            (Lines{"test.yaml:2:5: rate_limits[0].limit: a rate limit needs a limit",
                   "test.yaml:3:5: rate_limits[1].window: a rate limit needs a window"}));
  EXPECT_EQ(diagnostics("rate_limits:\n  - limit: 0\n    window: 500ms\n    technique: leaky\n"
                        "    per: user\n"),
            (Lines{"test.yaml:2:12: rate_limits[0].limit: must be >= 1 (got 0)",
                   "test.yaml:3:13: rate_limits[0].window: must be >= 1s (got 500ms)",
                   "test.yaml:4:16: rate_limits[0].technique: must be fixed or sliding (got "
                   "'leaky')",
                   "test.yaml:5:10: rate_limits[0].per: must be gateway, key, ip, header:<name> or "
                   "metadata:<key> (got 'user')"}));
  EXPECT_EQ(
      diagnostics("metering:\n  enabled: false\nrate_limits:\n  - limit: 1000\n"
                  "    window: 1m\n    unit: tokens\n  - limit: 1\n    window: 1m\n"
                  "    unit: calls\n"),
      (Lines{"test.yaml:6:11: rate_limits[0].unit: token limits need metering "
             "(metering.enabled is false)",
             "test.yaml:9:11: rate_limits[1].unit: must be requests or tokens (got 'calls')"}));
  EXPECT_EQ(diagnostics("rate_limits:\n  limit: 10\n"),
            (Lines{"test.yaml:2:3: rate_limits: expected a list of rules (each with limit and "
                   "window)"}));
  EXPECT_EQ(diagnostics("rate_limits:\n  - limit: 1\n    window: 1s\n    windw: 2s\n"),
            (Lines{"test.yaml:4:5: rate_limits[0].windw: unknown key (did you mean 'window'?)"}));
}

TEST(ConfigRetries, BadRetrySettingsAreReportedWhereTheyAre) {
  EXPECT_EQ(diagnostics("upstream:\n  max_attempts: 6\n  retry_delay: 6s\n  backoff: random\n"
                        "  request_timeout: 0\n  max_retry_after: 2h\n"),
            (Lines{"test.yaml:2:17: upstream.max_attempts: must be <= 5 (got 6)",
                   "test.yaml:3:16: upstream.retry_delay: must be <= 5s (got 6s)",
                   "test.yaml:4:12: upstream.backoff: must be constant, linear or exponential "
                   "(got 'random')",
                   "test.yaml:5:20: upstream.request_timeout: must be > 0 (got 0)",
                   "test.yaml:6:20: upstream.max_retry_after: must be <= 1h (got 2h)"}));
}

TEST(ConfigRoutes, RoutesAreReadWithTheirTargetsAndBreaker) {
  const Config c = load_ok(R"(routes:
  support:
    targets:
      - provider: openai
        model: gpt-4o
        weight: 3
      - provider: openai
        model: gpt-4o-mini
        priority: 1
        endpoint: chat/completions
        headers:
          X-Team: support
        max_attempts: 2
        request_timeout: 5s
    breaker:
      failures: 3
      window: 30s
      cooldown: 10s
  a-first:
    share_client_credentials: true
    breaker:
      enabled: false
    targets:
      - {provider: groq, model: llama}
)");
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].name, "a-first");  // sorted by name
  EXPECT_TRUE(c.routes[0].share_client_credentials);
  EXPECT_FALSE(c.routes[0].breaker.enabled);
  const RouteConfig& r = c.routes[1];
  EXPECT_EQ(r.name, "support");
  EXPECT_FALSE(r.share_client_credentials);
  EXPECT_TRUE(r.breaker.enabled);
  EXPECT_EQ(r.breaker.failures, 3u);
  EXPECT_EQ(r.breaker.window, std::chrono::seconds(30));
  EXPECT_EQ(r.breaker.cooldown, std::chrono::seconds(10));
  ASSERT_EQ(r.targets.size(), 2u);
  EXPECT_EQ(r.targets[0].provider, "openai");
  EXPECT_EQ(r.targets[0].model, "gpt-4o");
  EXPECT_EQ(r.targets[0].weight, 3u);
  EXPECT_EQ(r.targets[0].priority, 0u);
  EXPECT_FALSE(r.targets[0].endpoint);
  EXPECT_FALSE(r.targets[0].max_attempts);
  EXPECT_EQ(r.targets[0].provider_mark.line, 4);
  EXPECT_EQ(r.targets[1].priority, 1u);
  EXPECT_EQ(r.targets[1].weight, 1u);
  EXPECT_EQ(r.targets[1].endpoint, "chat/completions");
  ASSERT_EQ(r.targets[1].headers.size(), 1u);
  EXPECT_EQ(r.targets[1].headers[0].first, "X-Team");
  EXPECT_EQ(r.targets[1].max_attempts, 2u);
  EXPECT_EQ(r.targets[1].request_timeout, std::chrono::seconds(5));
  // Defaults of a breaker not written.
  const BreakerConfig defaults;
  EXPECT_EQ(defaults.failures, 5u);
  EXPECT_EQ(defaults.window, std::chrono::seconds(60));
  EXPECT_EQ(defaults.cooldown, std::chrono::seconds(30));
}

TEST(ConfigRoutes, BadRoutesAreReportedWhereTheyAre) {
  EXPECT_EQ(diagnostics(R"(routes:
  Bad_Name:
    targets:
      - provider: openai
  empty:
    targets: []
  none:
    breaker:
      failures: 0
      cooldown: 0s
      wait: 1s
  odd:
    targets:
      - provider: openai
        model: ""
        weight: 0
        priority: 101
        max_attempts: 9
        colour: red
      - just-a-string
)"),
            (Lines{"test.yaml:2:3: routes.Bad_Name: a route name must match [a-z0-9][a-z0-9-]*",
                   "test.yaml:4:9: routes.Bad_Name.targets[0].model: a target needs a model",
                   "test.yaml:6:14: routes.empty.targets: expected a list of targets (each with "
                   "provider and model)",
                   "test.yaml:8:5: routes.none.targets: a route needs targets",
                   "test.yaml:9:17: routes.none.breaker.failures: must be >= 1 (got 0)",
                   "test.yaml:10:17: routes.none.breaker.cooldown: must be > 0 (got 0s)",
                   "test.yaml:11:7: routes.none.breaker.wait: unknown key (expected one of: "
                   "cooldown, enabled, failures, store, window)",
                   "test.yaml:15:16: routes.odd.targets[0].model: must not be empty",
                   "test.yaml:16:17: routes.odd.targets[0].weight: must be >= 1 (got 0)",
                   "test.yaml:17:19: routes.odd.targets[0].priority: must be <= 100 (got 101)",
                   "test.yaml:18:23: routes.odd.targets[0].max_attempts: must be <= 5 (got 9)",
                   "test.yaml:19:9: routes.odd.targets[0].colour: unknown key (expected one of: "
                   "endpoint, headers, max_attempts, model, priority, provider, request_timeout, "
                   "weight)",
                   "test.yaml:20:9: routes.odd.targets[1]: expected a target (a mapping with "
                   "provider and model)"}));
}

TEST(ConfigBudgets, BudgetsAreReadInMillionthsOfADollar) {
  const Config c = load_ok(
      "budgets:\n  - limit_usd: 50\n    window: month\n  - name: team\n    limit_usd: 0.25\n"
      "    window: day\n    technique: sliding\n    per: metadata:team\n    model: gpt-4o\n"
      "    unpriced: refuse\n  - limit_usd: 1.5\n    window: 6h\n    per: key\n");
  ASSERT_EQ(c.budgets.size(), 3u);
  const auto& a = c.budgets[0];
  EXPECT_EQ(a.name, "budgets[0]");
  EXPECT_EQ(a.unit, RateLimitRule::Unit::kCost);
  EXPECT_EQ(a.limit, 50'000'000u);
  EXPECT_TRUE(a.calendar_month);
  EXPECT_EQ(a.window, std::chrono::hours(24 * 30));
  EXPECT_EQ(a.technique, RateLimitRule::Technique::kFixed);
  EXPECT_EQ(a.scope, RateLimitRule::Scope::kGateway);
  EXPECT_FALSE(a.refuse_unpriced);  // unpriced models pass by default
  const auto& b = c.budgets[1];
  EXPECT_EQ(b.name, "team");
  EXPECT_EQ(b.limit, 250'000u);
  EXPECT_FALSE(b.calendar_month);
  EXPECT_EQ(b.window, std::chrono::hours(24));
  EXPECT_EQ(b.technique, RateLimitRule::Technique::kSliding);
  EXPECT_EQ(b.scope, RateLimitRule::Scope::kMetadata);
  EXPECT_EQ(b.scope_name, "team");
  EXPECT_EQ(b.model, "gpt-4o");
  EXPECT_TRUE(b.refuse_unpriced);
  EXPECT_EQ(c.budgets[2].limit, 1'500'000u);
  EXPECT_EQ(c.budgets[2].window, std::chrono::hours(6));
  EXPECT_EQ(c.budgets[2].scope, RateLimitRule::Scope::kKey);
  EXPECT_TRUE(c.rate_limits.empty());  // budgets are their own list
}

TEST(ConfigBudgets, BadBudgetsAreReportedWhereTheyAre) {
  EXPECT_EQ(diagnostics("budgets:\n  - window: day\n  - limit_usd: 5\n"),
            (Lines{"test.yaml:2:5: budgets[0].limit_usd: a budget needs limit_usd",
                   "test.yaml:3:5: budgets[1].window: a budget needs a window"}));
  EXPECT_EQ(
      diagnostics("budgets:\n  - limit_usd: $5\n    window: week\n    per: ip\n"
                  "    unpriced: maybe\n  - limit_usd: 0\n    window: 1d\n    limit: 3\n"),
      (Lines{"test.yaml:2:16: budgets[0].limit_usd: must be an amount in US dollars from "
             "0.000001 to 1e9 (got '$5')",
             "test.yaml:3:13: budgets[0].window: must be day, month or a duration such as 12h (got "
             "'week')",
             "test.yaml:4:10: budgets[0].per: must be gateway, key or metadata:<key> (got 'ip')",
             "test.yaml:5:15: budgets[0].unpriced: must be allow or refuse (got 'maybe')",
             "test.yaml:6:16: budgets[1].limit_usd: must be an amount in US dollars from "
             "0.000001 to 1e9 (got '0')",
             "test.yaml:8:5: budgets[1].limit: unknown key (expected one of: "
             "default_max_tokens, key, limit_usd, max_keys, model, name, on_error, per, "
             "provider, store, technique, unpriced, window)"}));
  EXPECT_EQ(
      diagnostics("metering:\n  enabled: false\nbudgets:\n  - limit_usd: 1\n"
                  "    window: day\n"),
      (Lines{"test.yaml:4:5: budgets[0]: budgets need metering (metering.enabled is false)"}));
  EXPECT_EQ(diagnostics("budgets:\n  limit_usd: 10\n"),
            (Lines{"test.yaml:2:3: budgets: expected a list of budgets (each with limit_usd and "
                   "window)"}));
  EXPECT_EQ(diagnostics("budgets:\n  - limit_usd: 1\n    window: day\n    key: nobody\n"),
            (Lines{"test.yaml:4:10: budgets[0].key: no key named 'nobody' in keys"}));
}

TEST(ConfigKeys, KeysAreReadWithTheirListsAndMetadata) {
  const Config c = load_ok(
      "auth:\n  enabled: true\nkeys:\n  app:\n    token: ${APP}\n    providers: [openai, groq]\n"
      "    models: [gpt-4o]\n    metadata: {team: search, tier: 2}\n  other:\n"
      "    token: sha256:" +
          std::string(64, 'b') + "\n",
      fake_env({{"APP", "app-token"}}));
  ASSERT_EQ(c.keys.size(), 2u);
  EXPECT_EQ(c.keys[0].name, "app");
  EXPECT_EQ(c.keys[0].token_sha256, sha256("app-token"));
  EXPECT_EQ(c.keys[0].providers, (std::vector<std::string>{"openai", "groq"}));
  EXPECT_EQ(c.keys[0].models, (std::vector<std::string>{"gpt-4o"}));
  EXPECT_EQ(c.keys[0].metadata, (std::vector<std::pair<std::string, std::string>>{
                                    {"team", "\"search\""}, {"tier", "\"2\""}}));
  EXPECT_TRUE(c.keys[1].providers.empty());
  EXPECT_TRUE(c.auth.token_sha256.empty());  // keys alone are enough
}

TEST(ConfigKeys, BadKeysAreReported) {
  EXPECT_EQ(diagnostics("keys:\n  app:\n    token: ${T}\n", fake_env({{"T", "x"}})),
            (Lines{"test.yaml:2:3: keys: virtual keys need auth.enabled: true"}));
  EXPECT_EQ(diagnostics("auth:\n  enabled: true\nkeys:\n  app:\n    token: hunter2\n"),
            (Lines{"test.yaml:5:12: keys.app.token: a token must not be written in the config "
                   "file: use ${ENV_VAR} or sha256:<64 hex digits of its SHA-256>"}));
  EXPECT_EQ(diagnostics("auth:\n  enabled: true\nkeys:\n  a:\n    token: ${T}\n  b:\n"
                        "    token: ${T}\n  c:\n    providers: [Open_AI]\n",
                        fake_env({{"T", "same"}})),
            (Lines{"test.yaml:7:12: keys.b.token: the same token as key 'a'",
                   "test.yaml:9:5: keys.c.token: a key needs a token",
                   "test.yaml:9:17: keys.c.providers[0]: provider name must match "
                   "[a-z0-9][a-z0-9-]* (got 'Open_AI')"}));
  EXPECT_EQ(diagnostics("auth:\n  enabled: true\n  tokens:\n    - ${T}\nrate_limits:\n"
                        "  - limit: 1\n    window: 1s\n    key: nobody\n",
                        fake_env({{"T", "x"}})),
            (Lines{"test.yaml:8:10: rate_limits[0].key: no key named 'nobody' in keys"}));
}

TEST(ConfigProviderKeys, StoredKeysComeFromTheEnvironment) {
  const Config c = load_ok(
      "auth:\n  enabled: true\n  tokens: [\"${T}\"]\nproviders:\n  openai:\n    keys:\n"
      "      default: ${OPENAI_A}\n      team-b: ${OPENAI_B}\n  custom-x:\n"
      "    base_url: http://127.0.0.1:9\n    key_header: X-Key\n",
      fake_env({{"T", "t"}, {"OPENAI_A", "sk-a"}, {"OPENAI_B", "sk-b"}}));
  const auto& keys = c.providers.at("openai").keys;
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].first, "default");
  EXPECT_EQ(keys[0].second.reveal(), "sk-a");
  EXPECT_EQ(keys[1].first, "team-b");
  EXPECT_EQ(keys[1].second.reveal(), "sk-b");
  EXPECT_EQ(c.providers.at("custom-x").key_header, "x-key");
}

TEST(ConfigProviderKeys, BadStoredKeysAreReportedWithoutEchoingThem) {
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    keys:\n      default: ${K}\n",
                        fake_env({{"K", "sk"}})),
            (Lines{"test.yaml:4:7: providers.openai.keys: stored provider keys need "
                   "auth.enabled: true (without it, anyone who reaches the gateway spends them)"}));
  EXPECT_EQ(diagnostics("auth:\n  enabled: true\n  tokens: [\"${T}\"]\nproviders:\n  openai:\n"
                        "    keys:\n      default: sk-plain-secret\n      Team_B: ${K}\n"
                        "      empty: ${EMPTY}\n    key_header: \"bad header\"\n",
                        fake_env({{"T", "t"}, {"K", "sk"}, {"EMPTY", ""}})),
            (Lines{"test.yaml:7:16: providers.openai.keys.default: a provider key must not be "
                   "written in the config file: use ${ENV_VAR}",
                   "test.yaml:8:7: providers.openai.keys.Team_B: an alias must match "
                   "[a-z0-9][a-z0-9-]*",
                   "test.yaml:9:14: providers.openai.keys.empty: the key is empty",
                   "test.yaml:10:17: providers.openai.key_header: not a valid HTTP header name "
                   "(got 'bad header')"}));
}

// ---- issue 15: the operator's credentials and connection limits -------------------------

TEST(ConfigCredentials, ACredentialInHeadersNeedsAuthOrAnExplicitOptOut) {
  const std::string yaml =
      "providers:\n  custom-x:\n    base_url: https://x.example\n    headers:\n"
      "      Authorization: Bearer ${K}\n";
  EXPECT_EQ(diagnostics(yaml, fake_env({{"K", "sk"}})),
            (Lines{"test.yaml:5:7: providers.custom-x.headers.Authorization: a credential in "
                   "headers needs auth.enabled: true (without it, anyone who reaches the gateway "
                   "spends it); for a deliberately open local setup set "
                   "auth.allow_anonymous_credentials: true"}));
  const Config open =
      load_ok(yaml + "auth:\n  allow_anonymous_credentials: true\n", fake_env({{"K", "sk"}}));
  EXPECT_TRUE(open.auth.allow_anonymous_credentials);
  load_ok(yaml + "auth:\n  enabled: true\n  tokens: [\"sha256:" + std::string(64, 'a') + "\"]\n",
          fake_env({{"K", "sk"}}));
  // Other headers are no credential.
  load_ok("providers:\n  openai:\n    headers:\n      openai-organization: org-1\n");
}

TEST(ConfigCredentials, KeyPathsAreMethodAndPatternRules) {
  const Config c = load_ok(
      "providers:\n  openai:\n    key_paths: [\"POST **/chat/completions\", \"**/models\"]\n");
  const auto& rules = *c.providers.at("openai").key_paths;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].method, "POST");
  EXPECT_EQ(rules[0].pattern, "**/chat/completions");
  EXPECT_EQ(rules[1].method, "");
  EXPECT_EQ(diagnostics("providers:\n  openai:\n    key_paths: [\"FETCH /x\"]\n"),
            (Lines{"test.yaml:3:17: providers.openai.key_paths[0]: method must be one of GET, "
                   "POST, PUT, PATCH, DELETE, HEAD (got 'FETCH /x')"}));
}

TEST(ConfigCredentials, ConnectionLimitsAndTrustedPrices) {
  const Config c = load_ok(
      "server:\n  max_connections_per_address: 16\n  first_request_timeout: 2s\n"
      "metering:\n  trust_client_cost: true\n");
  EXPECT_EQ(c.server.max_connections_per_address, 16u);
  EXPECT_EQ(c.server.first_request_timeout, std::chrono::seconds(2));
  EXPECT_TRUE(c.metering.trust_client_cost);
  const Config d = load_ok("");
  EXPECT_EQ(d.server.max_connections_per_address, 256u);
  EXPECT_EQ(d.server.first_request_timeout, std::chrono::seconds(10));
  EXPECT_FALSE(d.metering.trust_client_cost);
}

}  // namespace
}  // namespace aigw::config

namespace aigw::config {
namespace {

TEST(ConfigRedis, SectionAndPerFeatureStores) {
  const Config none = load_ok("cache:\n  enabled: true\n");
  EXPECT_FALSE(none.redis);
  EXPECT_FALSE(none.in_redis(none.cache.store));

  const Config c = load_ok(
      "redis:\n  url: redis://10.0.0.5:6380/2\n  password: ${REDIS_PASSWORD}\n"
      "  command_timeout: 100ms\n  pool: 2\n  key_prefix: \"team-a:\"\n"
      "cache:\n  store: local\n"
      "rate_limits:\n  - limit: 10\n    window: 1m\n  - limit: 5\n    window: 1m\n"
      "    store: local\n"
      "budgets:\n  - limit_usd: 5\n    window: day\n  - limit_usd: 5\n    window: day\n"
      "    on_error: open\n"
      "routes:\n  r:\n    targets:\n      - provider: openai\n        model: m\n"
      "    breaker:\n      store: redis\n",
      fake_env({{"REDIS_PASSWORD", "s3cret"}}));
  ASSERT_TRUE(c.redis);
  EXPECT_EQ(c.redis->url, "redis://10.0.0.5:6380/2");
  EXPECT_EQ(c.redis->password.reveal(), "s3cret");
  EXPECT_EQ(c.redis->command_timeout, std::chrono::milliseconds(100));
  EXPECT_EQ(c.redis->connect_timeout, std::chrono::seconds(1));
  EXPECT_EQ(c.redis->pool, 2u);
  EXPECT_EQ(c.redis->key_prefix, "team-a:");
  EXPECT_FALSE(c.in_redis(c.cache.store));
  EXPECT_TRUE(c.in_redis(c.rate_limits[0].store));
  EXPECT_FALSE(c.in_redis(c.rate_limits[1].store));
  // Rate limits admit while Redis cannot answer, budgets refuse, unless told otherwise.
  EXPECT_EQ(c.rate_limits[0].on_error, OnStoreError::kOpen);
  EXPECT_EQ(c.budgets[0].on_error, OnStoreError::kClosed);
  EXPECT_EQ(c.budgets[1].on_error, OnStoreError::kOpen);
  EXPECT_TRUE(c.in_redis(c.routes.at(0).breaker.store));
}

TEST(ConfigRedis, BadSectionsAreReportedWhereTheyAre) {
  EXPECT_EQ(diagnostics("redis:\n  url: http://cache:6379\n  pool: 0\n  key_prefix: a b\n"
                        "  tls: true\n"),
            (Lines{"test.yaml:2:8: redis.url: must start with redis:// or rediss://",
                   "test.yaml:3:9: redis.pool: must be >= 1 (got 0)",
                   "test.yaml:4:15: redis.key_prefix: must be at most 64 printable characters "
                   "without spaces (got 'a b')",
                   "test.yaml:5:3: redis.tls: unknown key (expected one of: ca_file, "
                   "command_timeout, connect_timeout, key_prefix, password, pool, url)"}));
  // The URL is not repeated: it may hold a password.
  EXPECT_EQ(diagnostics("redis:\n  url: redis://:hunter2@cache:99999\n"),
            (Lines{"test.yaml:2:8: redis.url: has a port that is not a number from 1 to 65535"}));
  // Nor is the part read as a port, which a URL without its '@' fills with the password
  // (the config fuzzer's finding).
  EXPECT_EQ(diagnostics("redis:\n  url: redis://default:hunter2\n"),
            (Lines{"test.yaml:2:8: redis.url: has a port that is not a number from 1 to 65535"}));
  EXPECT_EQ(diagnostics("redis:\n  password: x\n"),
            (Lines{"test.yaml:2:3: redis.url: the redis: section needs a url"}));
  EXPECT_EQ(diagnostics("cache:\n  store: redis\nrate_limits:\n  - limit: 1\n    window: 1m\n"
                        "    store: memcached\n    on_error: maybe\n"),
            (Lines{"test.yaml:2:10: cache.store: is redis, but the config has no redis: section "
                   "(docs/scaling.md)",
                   "test.yaml:6:12: rate_limits[0].store: must be local or redis (got 'memcached')",
                   "test.yaml:7:15: rate_limits[0].on_error: must be open (admit while Redis "
                   "cannot answer) or closed (refuse) (got 'maybe')"}));
}

}  // namespace
}  // namespace aigw::config
