// Request framing through the real server: one App (worker, session, pipeline, every stage
// the default config builds) on 127.0.0.1:0, started once, with small limits
// (max_header_bytes 4 KiB, max_body_bytes 16 KiB) so that 431 and 413 are reached. Every
// provider points at a closed loopback port, so upstream attempts fail at once and nothing
// leaves the machine.
//
// Each input is written over a new loopback connection, which is then half-closed; the
// response is read to EOF. Layout: byte 0 is flags (bit 0: repeat the tail), bytes 1-2 a
// little-endian offset that splits the rest into a head, sent once, and a tail. With the
// repeat bit the tail is sent over and over (up to 64 MiB) for as long as the server reads
// without answering: a server that buffers what it cannot parse yet (an endless chunk
// extension or trailer) grows until libFuzzer's -malloc_limit_mb or this target's own check
// of the heap stops it, instead of staying within a few limits' worth of bytes.
//
// Checked: the server always ends the exchange (libFuzzer's -timeout), answers with an HTTP
// status line when it answers at all, keeps its heap bounded while reading a request, and
// does not leak connections (file descriptors).

#include "app/app.hpp"

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sanitizer/allocator_interface.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kAmplifyBytes = std::size_t{64} << 20;
// The server may hold a request's header and body, the cache and metrics some more; this is
// far above all of it and far below what an unbounded buffer reaches with kAmplifyBytes.
constexpr std::size_t kMaxHeapGrowth = std::size_t{24} << 20;
constexpr auto kAmplifyFor = 5s;      // then half-close anyway
constexpr auto kExchangeBound = 30s;  // libFuzzer's -timeout reports long before

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "http_request_fuzz: %s %s\n", what, detail.c_str());
  std::abort();
}

// A loopback port nobody listens on: bound, then released.
std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    fail("cannot find a closed port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

aigw::Config fuzz_config() {
  aigw::Config c;
  c.source = "http_request_fuzz";
  c.server.listen = {"127.0.0.1", 0};
  c.server.workers = 1;
  c.server.max_header_bytes = 4096;
  c.server.max_body_bytes = 16384;
  c.server.request_timeout = 5s;
  c.server.idle_timeout = 5s;
  c.server.drain_timeout = 1s;
  c.admin.enabled = false;
  c.server.log_level = "off";
  c.access_log.path = "off";
  c.request_log.enabled = false;  // metering runs; its records go nowhere (no SQLite growth)
  c.cache.enabled = true;
  c.cache.max_bytes = 1 << 20;
  c.upstream.connect_timeout = 1s;
  c.upstream.first_byte_timeout = 2s;
  c.upstream.read_timeout = 2s;
  const std::string base = "http://127.0.0.1:" + std::to_string(closed_port());
  for (const auto& slug : aigw::ProviderRegistry::builtin_slugs()) {
    aigw::ProviderConfig p;
    p.name = slug;
    p.base_url = base + "/v1";
    c.providers[slug] = p;
  }
  aigw::ProviderConfig local;
  local.name = "custom-local";
  local.base_url = base + "/v1";
  c.providers[local.name] = local;
  return c;
}

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

struct Gateway {
  std::unique_ptr<aigw::App> app;
  std::size_t fds_at_start = 0;
  Gateway() {
    spdlog::set_level(spdlog::level::off);
    app = std::make_unique<aigw::App>(fuzz_config());
    app->start();
    fds_at_start = open_fds();
  }
  ~Gateway() { app->drain_and_stop(); }
};

Gateway& gateway() {
  static Gateway g;
  return g;
}

// Heap bytes in use, all threads (ASan's allocator).
std::size_t heap() { return __sanitizer_get_current_allocated_bytes(); }

// A bounded exchange: sends head and tail (repeated, see the top of the file), half-closes,
// reads to EOF. Returns the first bytes of the response.
std::string exchange(std::uint16_t port, std::string_view head, std::string_view tail,
                     bool amplify) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  // Non-blocking from the start: libFuzzer's -timeout alarm (SIGALRM) can interrupt a
  // blocking connect() with EINTR while the handshake goes on, and a connect that is not
  // done yet is finished by waiting for writability and reading SO_ERROR.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) fail("connect", std::strerror(errno));
    const auto connect_start = std::chrono::steady_clock::now();
    for (;;) {
      if (std::chrono::steady_clock::now() - connect_start > kExchangeBound) {
        fail("connect", "did not complete");
      }
      pollfd p{fd, POLLOUT, 0};
      const int r = ::poll(&p, 1, 100);
      if (r < 0 && errno != EINTR) fail("poll (connect)", std::strerror(errno));
      if (r > 0) break;
    }
    int err = 0;
    socklen_t err_len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) {
      fail("connect", std::strerror(err != 0 ? err : errno));
    }
  }

  std::string block;  // the tail repeated, so a 1-byte tail is not one syscall a byte
  if (amplify && !tail.empty()) {
    while (block.size() < 65536) block.append(tail);
  } else {
    block.assign(tail);
    amplify = false;
  }
  std::string out = std::string(head);
  std::size_t off = 0;       // into `out`, the bytes being sent now
  std::size_t sent = 0;      // all bytes sent
  std::size_t answered = 0;  // response bytes beyond an interim 100 Continue
  bool tail_queued = false;
  bool sending = true;
  std::string response;
  const std::size_t heap_before = heap();
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now - start > kExchangeBound) fail("the server never closed the connection");
    if (sending && off == out.size()) {
      const bool more = !tail_queued || (amplify && answered == 0 && sent < kAmplifyBytes &&
                                         now - start < kAmplifyFor);
      if (more) {
        out.assign(block);
        off = 0;
        tail_queued = true;
      } else {
        ::shutdown(fd, SHUT_WR);
        sending = false;
      }
    }
    if (amplify && sending && heap() > heap_before + kMaxHeapGrowth) {
      fail("the server's heap grew without bound while reading one request; bytes sent:",
           std::to_string(sent));
    }
    pollfd p{fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 100) < 0 && errno != EINTR) fail("poll", std::strerror(errno));
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16384];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n < 0 && errno != EAGAIN && errno != EINTR) break;  // reset: the server gave up on us
      if (n > 0) {
        if (response.size() < 4096) response.append(buf, std::min<std::size_t>(n, 4096));
        answered += static_cast<std::size_t>(n);
        if (response.starts_with("HTTP/1.1 100 ") && answered == response.size()) {
          const auto end = response.find("\r\n\r\n");
          if (end != std::string::npos) answered -= end + 4;
        }
      }
    }
    if (sending && (p.revents & POLLOUT) && off < out.size()) {
      const ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        sending = false;  // the server closed its side: read what it said
      }
    }
  }
  ::close(fd);
  return response;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gateway();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  // AIGW_FUZZ_NO_REPEAT=1 looks past a known buffering bug for others.
  static const bool no_repeat = std::getenv("AIGW_FUZZ_NO_REPEAT") != nullptr;
  const bool amplify = (data[0] & 1) != 0 && !no_repeat;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::size_t split = (data[1] | (std::size_t{data[2]} << 8)) % (rest.size() + 1);
  Gateway& g = gateway();
  const std::string response =
      exchange(g.app->port(), rest.substr(0, split), rest.substr(split), amplify);
  // Reproducing a finding: AIGW_FUZZ_SHOW=1 prints what the server answered.
  static const bool show = std::getenv("AIGW_FUZZ_SHOW") != nullptr;
  if (show) std::fprintf(stderr, "--- response:\n%s\n---\n", response.c_str());
  if (!response.empty() && !response.starts_with("HTTP/1.1 ")) {
    fail("a response without a status line:", response.substr(0, 200));
  }
  static unsigned runs = 0;
  // Sessions close just after the client sees EOF; a few may still be closing.
  if (++runs % 256 == 0 && open_fds() > g.fds_at_start + 64) {
    fail("file descriptors leak:", std::to_string(open_fds() - g.fds_at_start));
  }
  return 0;
}
