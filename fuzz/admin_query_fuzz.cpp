// The admin API (admin::handle) on any request target: the path router, the query-string
// decoder, every filter, cursor and group_by parser, and the SQL they build, against a real
// SQLite request log in a temp dir holding a few varied records. Checked: a JSON response is
// valid JSON, and no target makes a query fail (500) on a healthy database.
// Inputs starting "PATCH " are `PATCH <target>\n<body>` (feedback, admin::handle_patch);
// inputs starting "AUTH " are an Authorization header for admin::authorized (which must
// accept exactly the configured token, and nothing else).

#include "config/load.hpp"
#include "core/metrics.hpp"
#include "core/sha256.hpp"
#include "json/check.hpp"
#include "router/routes.hpp"
#include "server/admin_api.hpp"
#include "server/admin_auth.hpp"
#include "store/log_store.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdlib.h>
#include <string>

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "admin_query_fuzz: %s %s\n", what, detail.c_str());
  std::abort();
}

// Varied enough that every filter and group has rows to match and to miss.
std::vector<aigw::LogRecord> records() {
  const char* providers[] = {"openai", "anthropic", "groq"};
  const char* models[] = {"gpt-4o", "claude-3-5", "llama-3", ""};
  const std::uint16_t statuses[] = {200, 429, 500, 200, 400};
  const char* users[] = {"\"alice\"", "42", "\"42\"", "true", "{\"a\":[1]}"};
  std::vector<aigw::LogRecord> out;
  for (int i = 0; i < 24; ++i) {
    aigw::LogRecord r;
    char id[16];
    std::snprintf(id, sizeof id, "id-%04d", i);
    r.id = id;
    r.event_id = id;
    r.created_at = 1'700'000'000'000 + (i / 2) * 3'600'000;  // two per hour: ties
    r.provider = providers[i % 3];
    r.model = models[i % 4];
    r.method = "POST";
    r.path = "/" + r.provider + "/v1/chat/completions";
    r.status_code = statuses[i % 5];
    r.success = r.status_code == 200;
    r.cached = i % 4 == 0;
    r.cache_status = r.cached ? "HIT" : "MISS";
    r.outcome = r.success ? "success" : "provider_error";
    r.tokens_in = 10 + i;
    if (i % 3 != 0) r.tokens_out = 5 + i;
    if (i % 5 == 0) {
      r.unpriced = true;
    } else {
      r.cost = 0.5 * i;
    }
    if (i % 6 != 5) r.metadata.emplace_back("user", users[i % 5]);
    if (i % 2 == 0) r.metadata.emplace_back("team", "\"core\"");
    r.key = i % 3 == 0 ? "" : "team-a";
    r.request_body = "{\"model\":\"x\"}";
    r.attempts.push_back(aigw::LogAttempt{r.provider, r.status_code, 12.5, "", ""});
    out.push_back(std::move(r));
  }
  return out;
}

struct World {
  std::string dir;
  aigw::Telemetry telemetry;
};

World* world() {
  static World* w = [] {
    auto* out = new World;  // lives for the process: LeakSanitizer sees it reachable
    std::string pattern = (std::filesystem::temp_directory_path() / "aigw-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) fail("mkdtemp failed");
    out->dir = pattern;
    aigw::store::LogStoreOptions options;
    options.path = out->dir + "/logs.db";
    auto store = aigw::store::LogStore::open(std::move(options));
    if (!store) fail("cannot open the log store", store.error().detail);
    for (auto& r : records()) {
      if (!(*store)->submit(std::move(r))) fail("submit refused a record");
    }
    (*store)->flush();
    out->telemetry.log = std::move(*store);
    out->telemetry.metrics = std::make_shared<aigw::metrics::Registry>();
    // One named route, so /api/routes has targets and breakers to show.
    auto loaded = aigw::config::load_string(
        "routes:\n  chat:\n    targets:\n      - {provider: openai, model: gpt-4o, weight: 3}\n"
        "      - {provider: groq, model: llama-3, priority: 1}\n    share_client_credentials: "
        "true\n",
        "/nonexistent-aigw-fuzz/aigw.yaml", [](std::string_view) { return std::nullopt; });
    if (!loaded.ok()) fail("the route config does not load");
    std::vector<aigw::ProviderRegistry::Problem> problems;
    const auto providers = aigw::ProviderRegistry::build(*loaded.config, problems);
    out->telemetry.routes = aigw::RouteTable::build(*loaded.config, *providers, problems);
    if (!problems.empty()) fail("the route config has problems:", problems[0].message);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(world()->dir, ec);
    });
    return out;
  }();
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  if (target.starts_with("AUTH ")) {
    static const aigw::AdminConfig config = [] {
      aigw::AdminConfig c;
      c.token_sha256.push_back(aigw::sha256("fuzz-admin-token"));
      return c;
    }();
    const std::string_view header = target.substr(5);
    if (!aigw::admin::authorized(config, header)) return 0;
    // Accepted: the token must be there, as such (Bearer) or base64-encoded after a user
    // name and a colon (Basic).
    if (header.find("fuzz-admin-token") != std::string_view::npos) return 0;
    const std::string_view last = header.substr(header.find_last_of(" \t") + 1);
    std::string decoded(last.size() / 4 * 3 + 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                  reinterpret_cast<const unsigned char*>(last.data()),
                                  static_cast<int>(last.size()));
    if (n < 0 || decoded.find(":fuzz-admin-token") == std::string::npos) {
      fail("an Authorization header without the token was accepted:", std::string(header));
    }
    return 0;
  }
  std::optional<aigw::admin::ApiResponse> response;
  if (target.starts_with("PATCH ")) {
    target.remove_prefix(6);
    const auto newline = target.find('\n');
    const std::string_view path = target.substr(0, newline);
    const std::string_view body =
        newline == std::string_view::npos ? std::string_view() : target.substr(newline + 1);
    response = aigw::admin::handle_patch(path, body, world()->telemetry);
  } else {
    response = aigw::admin::handle(target, world()->telemetry);
  }
  if (!response) return 0;
  if (response->status == 500) fail("a query failed on a healthy database:", response->body);
  if (response->status != 200 && response->status != 400 && response->status != 404) {
    fail("unexpected status", std::to_string(response->status));
  }
  if (response->content_type == "application/json" && !aigw::json::valid(response->body)) {
    fail("a JSON response is not valid JSON:", response->body);
  }
  return 0;
}
