#include "support/gateway.hpp"

#include "support/test_pki.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace aigw::test {

Config test_config() {
  Config c;
  c.source = "test";
  c.server.listen = {"127.0.0.1", 0};
  c.server.workers = 1;
  c.admin.listen = {"127.0.0.1", 0};
  const std::string dir = make_temp_dir();
  c.access_log.path = dir + "/access.log";
  c.request_log.path = dir + "/aigw.db";
  c.server.log_level = "warn";
  c.server.drain_timeout = std::chrono::seconds(5);
  return c;
}

ProviderConfig& add_provider(Config& config, const std::string& slug, const std::string& base_url) {
  ProviderConfig p;
  p.name = slug;
  p.base_url = base_url;
  p.ca_file = test_pki().ca_file;
  config.providers[slug] = p;
  return config.providers[slug];
}

TestGateway::TestGateway(Config config)
    : access_log_(config.access_log.path), app_(std::make_unique<App>(std::move(config))) {
  app_->start();
}

TestGateway::~TestGateway() { app_->drain_and_stop(); }

HttpResponse TestGateway::admin(const std::string& target) {
  app_->telemetry().log->flush();
  return http_request(admin_port(), "GET", target);
}

nlohmann::json TestGateway::log_record(const std::string& id) {
  HttpResponse res;
  for (int i = 0; i < 1000; ++i) {
    res = admin("/api/logs/" + id);
    if (res.status != 404) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(res.status, 200u) << res.body;
  return nlohmann::json::parse(res.body, nullptr, false).value("result", nlohmann::json());
}

std::vector<std::string> TestGateway::access_log_lines(std::size_t n) {
  std::vector<std::string> lines;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    lines.clear();
    std::ifstream in(access_log_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    if (lines.size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return lines;
}

}  // namespace aigw::test
