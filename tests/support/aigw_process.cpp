#include "support/aigw_process.hpp"

#include "support/http_client.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace aigw::test {

using namespace std::chrono_literals;

AigwProcess::AigwProcess(const std::string& config_path, std::string log_path)
    : log_path_(std::move(log_path)) {
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    FILE* out = std::freopen(log_path_.c_str(), "w", stderr);
    (void)out;
    execl(AIGW_BINARY, AIGW_BINARY, "--config", config_path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
}

AigwProcess::~AigwProcess() { kill_now(); }

bool AigwProcess::wait_ready(std::uint16_t admin_port, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (pid_ > 0 && std::chrono::steady_clock::now() < until) {
    try {
      if (http_request(admin_port, "GET", "/readyz").status == 200) return true;
    } catch (const std::exception&) {
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;  // it ended (a config it refused, a port taken)
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

bool AigwProcess::signal(int signal) { return pid_ > 0 && ::kill(pid_, signal) == 0; }

int AigwProcess::wait_exit(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  kill_now();
  return -2;
}

int AigwProcess::terminate(std::chrono::milliseconds limit) {
  if (!signal(SIGTERM)) return -1;
  return wait_exit(limit);
}

void AigwProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string AigwProcess::log() const {
  std::ifstream in(log_path_);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace aigw::test
