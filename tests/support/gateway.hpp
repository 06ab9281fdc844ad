#pragma once
// The real gateway, in-process, on 127.0.0.1:0 with one worker, for integration tests.

#include "aigw/config.hpp"

#include "app/app.hpp"
#include "support/http_client.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace aigw::test {

// A config for tests: loopback listeners on port 0, one worker, access log to a temp file.
Config test_config();

// Adds (or replaces) a provider pointing at `base_url`, trusting the test CA.
ProviderConfig& add_provider(Config& config, const std::string& slug, const std::string& base_url);

class TestGateway {
 public:
  explicit TestGateway(Config config);
  ~TestGateway();
  std::uint16_t port() const { return app_->port(); }
  std::uint16_t admin_port() const { return app_->admin_port(); }
  App& app() { return *app_; }
  const std::string& access_log() const { return access_log_; }
  // Waits (bounded) until the access log holds at least `n` lines; returns them.
  std::vector<std::string> access_log_lines(std::size_t n);
  // GET on the admin listener, after the request log wrote what it holds.
  HttpResponse admin(const std::string& target);
  // The request log's record `id`, as GET /api/logs/{id} returns it (waiting, bounded, for
  // it); null when it never appears (the test fails).
  nlohmann::json log_record(const std::string& id);

 private:
  std::string access_log_;
  std::unique_ptr<App> app_;
};

}  // namespace aigw::test
