#pragma once
// A scripted fake LLM provider for integration tests: a real HTTPS (or HTTP) server on
// 127.0.0.1:0, on its own thread. Each request runs the test's handler coroutine, which
// answers through an Exchange: whole responses, chunked/SSE streams event by event, pauses,
// waits on a Gate the test opens, abrupt resets, or silence.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aigw::test {

struct FakeRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) != 0; }
};

// A flag a test thread sets and a handler awaits.
class Gate {
 public:
  void open() { open_ = true; }
  bool is_open() const { return open_.load(); }

 private:
  std::atomic<bool> open_{false};
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  using Headers = std::vector<std::pair<std::string, std::string>>;
  // Complete response with Content-Length.
  virtual boost::asio::awaitable<void> respond(unsigned status, std::string body,
                                               Headers headers = {}) = 0;
  // Chunked response: head, then one chunk per call (each flushed), then the last chunk.
  virtual boost::asio::awaitable<void> start_stream(unsigned status, Headers headers) = 0;
  virtual boost::asio::awaitable<bool> send_chunk(std::string data) = 0;  // false: peer gone
  virtual boost::asio::awaitable<void> end_stream() = 0;
  // Raw bytes on the wire (for malformed responses).
  virtual boost::asio::awaitable<void> send_raw(std::string bytes) = 0;
  virtual boost::asio::awaitable<void> sleep(std::chrono::milliseconds d) = 0;
  // Waits (polling) until the gate opens or `limit` passes; returns whether it opened.
  virtual boost::asio::awaitable<bool> wait(const Gate& gate, std::chrono::milliseconds limit) = 0;
  // Ends the connection with a TCP RST (SO_LINGER 0). Unread data at the peer is lost.
  virtual void reset() = 0;
  // Closes the connection now (FIN, no TLS close_notify): what was sent still arrives.
  virtual void close_now() = 0;
  // Closes the connection after this response instead of keeping it alive.
  virtual void close_after() = 0;
};

using Handler = std::function<boost::asio::awaitable<void>(const FakeRequest&, Exchange&)>;

// Content-Type: application/json, for respond(). A function rather than a braced list at the
// call site: GCC 12 cannot build a braced header list inside co_await.
inline Exchange::Headers json_headers() { return {{"Content-Type", "application/json"}}; }

class FakeProvider {
 public:
  struct Options {
    bool tls = true;
    std::string cert_file;  // default: test_pki().server_cert
    std::string key_file;
  };
  explicit FakeProvider(Handler handler);
  FakeProvider(Handler handler, Options options);
  ~FakeProvider();

  std::uint16_t port() const noexcept { return port_; }
  // https://127.0.0.1:PORT (or http://)
  std::string base_url() const;

  int requests() const noexcept { return requests_.load(); }
  int connections_opened() const noexcept { return opened_.load(); }
  int connections_closed() const noexcept { return closed_.load(); }
  // TLS handshakes that resumed an earlier session (an abbreviated handshake).
  int sessions_resumed() const noexcept { return resumed_.load(); }
  std::vector<FakeRequest> received() const;
  // Blocks until connections_closed() >= n or `limit` passes; returns whether reached.
  bool wait_closed(int n, std::chrono::milliseconds limit);

 private:
  struct Impl;
  boost::asio::awaitable<void> accept_loop();
  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& stream);
  boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket);
  void record(FakeRequest request);
  void note_closed();

  Handler handler_;
  Options options_;
  boost::asio::io_context io_;
  boost::asio::ssl::context ssl_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  std::atomic<int> opened_{0};
  std::atomic<int> closed_{0};
  std::atomic<int> resumed_{0};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<FakeRequest> received_;
  std::thread thread_;
};

// Builds one SSE event line: "data: <payload>\n\n".
std::string sse(const std::string& payload);
// Content-Type: text/event-stream. (GCC 12 cannot build braced header lists inside a
// co_await expression, so handlers take them from functions like this one.)
Exchange::Headers sse_headers();

// A chat completion (OpenAI's shape) that names `model` and reports 7 prompt and 3
// completion tokens.
std::string chat_completion(const std::string& model);
// A handler answering with the status `status` holds when each request arrives (a test may
// change it to heal a provider): 200 with chat_completion(the body's model), any other
// status with an error body.
Handler answers(std::shared_ptr<std::atomic<unsigned>> status);
Handler answers(unsigned status);

}  // namespace aigw::test
