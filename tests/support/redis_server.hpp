#pragma once
// A real redis-server for tests (issue 18): Debian's binary, started by the test on a free
// loopback port with no persistence, in a temporary directory, and killed when the object
// goes. It can be stopped and started again on the same port (a restart), or paused with
// SIGSTOP (a server that accepts connections and answers nothing).

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace aigw::test {

class RedisServer {
 public:
  struct Options {
    std::string password;  // --requirepass
    bool tls = false;      // TLS only, with the test PKI's server certificate
  };
  RedisServer();  // default options
  explicit RedisServer(Options options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  // redis://127.0.0.1:PORT (rediss:// with TLS), without the password.
  std::string url() const;

  void stop();    // SIGKILL, as a crash would
  void start();   // again, on the same port, empty
  void pause();   // SIGSTOP
  void resume();  // SIGCONT

  // Runs redis-cli against the server (password and TLS as configured); its output.
  std::string cli(const std::string& args) const;

 private:
  Options options_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  int starts_ = 0;
};

}  // namespace aigw::test
