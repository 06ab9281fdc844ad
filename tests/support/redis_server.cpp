#include "support/redis_server.hpp"

#include "support/ports.hpp"
#include "support/test_pki.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace aigw::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

RedisServer::RedisServer() : RedisServer(Options{}) {}

RedisServer::RedisServer(Options options) : options_(std::move(options)) {
  dir_ = make_temp_dir();
  port_ = free_port();
  start();
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string RedisServer::url() const {
  return std::string(options_.tls ? "rediss" : "redis") + "://127.0.0.1:" + std::to_string(port_);
}

void RedisServer::start() {
  if (pid_ > 0) return;
  const std::string log = dir_ + "/redis-" + std::to_string(++starts_) + ".log";
  std::vector<std::string> args = {
      "redis-server", "--bind", "127.0.0.1", "--save",    "", "--appendonly", "no", "--daemonize",
      "no",           "--dir",  dir_,        "--logfile", log};
  if (options_.tls) {
    const TestPki& pki = test_pki();
    args.insert(args.end(), {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file",
                             pki.server_cert, "--tls-key-file", pki.server_key,
                             "--tls-ca-cert-file", pki.ca_file, "--tls-auth-clients", "no"});
  } else {
    args.insert(args.end(), {"--port", std::to_string(port_)});
  }
  if (!options_.password.empty()) args.insert(args.end(), {"--requirepass", options_.password});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // The child: no inherited descriptors beyond the standard ones (the gateway's sockets).
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execvp("redis-server", argv.data());
    std::fprintf(stderr, "cannot run redis-server (scripts/install-deps.sh installs it)\n");
    ::_exit(127);
  }
  // Ready when it says so in its log (bounded).
  for (int i = 0; i < 500; ++i) {
    if (read_file(log).find("Ready to accept connections") != std::string::npos) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at start: " + read_file(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("redis-server was not ready within 5 s: " + read_file(log));
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string RedisServer::cli(const std::string& args) const {
  std::string command = "redis-cli -h 127.0.0.1 -p " + std::to_string(port_);
  if (options_.tls) command += " --tls --cacert " + test_pki().ca_file;
  if (!options_.password.empty()) command += " --no-auth-warning -a " + options_.password;
  command += " " + args + " 2>&1";
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    ::pclose(pipe);
  }
  return out;
}

}  // namespace aigw::test
