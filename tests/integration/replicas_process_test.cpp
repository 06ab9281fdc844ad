// Two real aigw processes (the binary, each with its own config file, workers and Redis
// connections) sharing one real redis-server (issue 18, docs/scaling.md): 40 concurrent
// requests split across both against a limit of 10 admit exactly 10, whichever technique.
// Each process ends with exit code 0 on SIGTERM; a failing test kills both (AigwProcess).

#include "support/aigw_process.hpp"
#include "support/fake_provider.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/test_pki.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"Say hello"}]})";

Handler answers() {
  return [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
    co_await ex.respond(
        200,
        R"({"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[],)"
        R"("usage":{"prompt_tokens":3,"completion_tokens":10,"total_tokens":13}})",
        json_headers());
  };
}

// One aigw process: its listeners, and its config (in a directory of its own) sharing
// `redis` and the provider `fake` with the others.
struct Instance {
  Instance(const RedisServer& redis, const FakeProvider& fake, const std::string& technique)
      : dir(make_temp_dir()), port(free_port()), admin(free_port()) {
    {
      std::ofstream cfg(dir + "/aigw.yaml");
      cfg << "server:\n  listen: 127.0.0.1:" << port << "\n  workers: 2\n  drain_timeout: 5s\n"
          << "admin:\n  listen: 127.0.0.1:" << admin << "\n"
          << "access_log:\n  path: " << dir << "/access.log\n"
          << "request_log:\n  path: " << dir << "/aigw.db\n"
          << "redis:\n  url: " << redis.url() << "\n"
          << "providers:\n  openai:\n    base_url: " << fake.base_url() << "/v1\n"
          << "    ca_file: " << test_pki().ca_file << "\n"
          << "rate_limits:\n  - limit: 10\n    window: 1m\n    technique: " << technique << "\n";
    }
    process = std::make_unique<AigwProcess>(dir + "/aigw.yaml", dir + "/stderr.log");
  }
  HttpResponse post() const {
    return http_request(port, "POST", "/openai/chat/completions", kChat,
                        {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-p"}});
  }

  std::string dir;
  std::uint16_t port;
  std::uint16_t admin;
  std::unique_ptr<AigwProcess> process;  // killed, if still running, when the test ends
};

void forty_requests_against_a_limit_of_ten(const std::string& technique) {
  RedisServer redis;
  FakeProvider fake(answers());
  // Both started before either is waited for: they come up side by side.
  Instance a(redis, fake, technique);
  Instance b(redis, fake, technique);
  ASSERT_TRUE(a.process->wait_ready(a.admin))
      << "the first aigw is not ready: " << a.process->log();
  ASSERT_TRUE(b.process->wait_ready(b.admin))
      << "the second aigw is not ready: " << b.process->log();

  std::mutex mutex;
  std::map<unsigned, int> statuses;
  std::vector<std::thread> clients;
  for (int i = 0; i < 40; ++i) {
    clients.emplace_back([&, i] {
      unsigned status = 0;  // 0: no answer
      try {
        status = (i % 2 == 0 ? a : b).post().status;
      } catch (const std::exception&) {
      }
      std::lock_guard lock(mutex);
      ++statuses[status];
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[200], 10);
  EXPECT_EQ(statuses[429], 30);
  EXPECT_EQ(fake.requests(), 10);
  // Each process, after the burst, sees the spent limit.
  EXPECT_EQ(a.post().status, 429u);
  EXPECT_EQ(b.post().status, 429u);

  EXPECT_EQ(a.process->terminate(10s), 0) << a.process->log();
  EXPECT_EQ(b.process->terminate(10s), 0) << b.process->log();
}

TEST(ReplicaProcesses, FortyConcurrentRequestsOnTwoProcessesAdmitExactlyTenInAFixedWindow) {
  forty_requests_against_a_limit_of_ten("fixed");
}

TEST(ReplicaProcesses, FortyConcurrentRequestsOnTwoProcessesAdmitExactlyTenInASlidingWindow) {
  forty_requests_against_a_limit_of_ten("sliding");
}

}  // namespace
}  // namespace aigw::test
