#pragma once
// The real `aigw` binary (AIGW_BINARY) as a child process of a test, with a config file of
// the test's: started with fork/exec, its stderr to a file, and always gone when the object
// goes (SIGKILL and reaped if it is still running), even when the test fails half-way.

#include "support/ports.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>

namespace aigw::test {

class AigwProcess {
 public:
  // Starts `aigw --config config_path`, its stderr to `log_path`.
  AigwProcess(const std::string& config_path, std::string log_path);
  ~AigwProcess();
  AigwProcess(const AigwProcess&) = delete;
  AigwProcess& operator=(const AigwProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // Polls GET /readyz on `admin_port` until it answers 200 (true) or `limit` passes, or the
  // process ends (false).
  bool wait_ready(std::uint16_t admin_port,
                  std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Sends `signal` (while the process runs).
  bool signal(int signal);
  // Waits for the process to end: its exit code, -1 if a signal ended it, -2 if it was still
  // running after `limit` (then it is killed).
  int wait_exit(std::chrono::milliseconds limit);
  // SIGTERM, then wait_exit(limit).
  int terminate(std::chrono::milliseconds limit = std::chrono::seconds(10));
  // SIGKILL, reaped.
  void kill_now();
  // What it wrote to stderr so far.
  std::string log() const;

 private:
  std::string log_path_;
  pid_t pid_ = -1;  // -1 once reaped
};

}  // namespace aigw::test
