#pragma once
// A scripted fake LLM provider for integration tests: a real HTTPS (or HTTP) server on
// 127.0.0.1:0, on its own thread. Each request runs the test's handler coroutine, which
// answers through an Exchange: whole responses, chunked/SSE streams event by event, pauses,
// waits on a Gate the test opens, abrupt resets, or silence.
//
// With Options::http2 (TLS only) a client that offers "h2" in ALPN gets HTTP/2 (RFC 9113):
// each request stream runs the handler, concurrently with the connection's other streams, and
// the Exchange answers with HEADERS and DATA frames within the client's flow-control windows.
// A client offering only http/1.1 (or no ALPN) is served over HTTP/1.1 as without it.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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
  // Lower-case names. Over HTTP/2 the regular fields, plus "host" from :authority when the
  // request has no host field.
  std::map<std::string, std::string> headers;
  std::string body;
  std::string protocol;  // "HTTP/1.1" (or "HTTP/1.0") or "HTTP/2"
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

// How a handler answers one request. Every awaitable returns once what it sent is written to
// the socket. Over HTTP/2 header names are sent lower-cased and the connection-specific fields
// HTTP/2 forbids (Connection, Transfer-Encoding, Keep-Alive, Proxy-Connection, Upgrade) are
// dropped.
class Exchange {
 public:
  virtual ~Exchange() = default;
  using Headers = std::vector<std::pair<std::string, std::string>>;
  // Complete response with Content-Length (HTTP/2: HEADERS, then DATA with END_STREAM).
  virtual boost::asio::awaitable<void> respond(unsigned status, std::string body,
                                               Headers headers = {}) = 0;
  // Chunked response: head, then one chunk per call (each flushed), then the last chunk.
  // HTTP/2: HEADERS; each chunk as DATA frame(s), waiting for the client's flow-control window
  // (WINDOW_UPDATE) when it is exhausted; end_stream() sends END_STREAM (an empty DATA).
  virtual boost::asio::awaitable<void> start_stream(unsigned status, Headers headers) = 0;
  // false: the peer is gone (HTTP/2: also the stream, e.g. the client sent RST_STREAM).
  virtual boost::asio::awaitable<bool> send_chunk(std::string data) = 0;
  virtual boost::asio::awaitable<void> end_stream() = 0;
  // Raw bytes on the wire (for malformed responses; over HTTP/2 they break the connection).
  virtual boost::asio::awaitable<void> send_raw(std::string bytes) = 0;
  virtual boost::asio::awaitable<void> sleep(std::chrono::milliseconds d) = 0;
  // Waits (polling) until the gate opens or `limit` passes; returns whether it opened.
  virtual boost::asio::awaitable<bool> wait(const Gate& gate, std::chrono::milliseconds limit) = 0;
  // Ends the connection with a TCP RST (SO_LINGER 0). Unread data at the peer is lost. Over
  // HTTP/2 this ends every stream of the connection.
  virtual void reset() = 0;
  // Closes the connection now (FIN, no TLS close_notify): what was sent still arrives.
  virtual void close_now() = 0;
  // Closes the connection after this response instead of keeping it alive. HTTP/2: GOAWAY
  // (NO_ERROR, last-stream-id the highest stream received) after this response; the connection
  // closes once its streams have finished.
  virtual void close_after() = 0;
  // HTTP/2: RST_STREAM on this request's stream with `error_code` (RFC 9113 §7, e.g. 0x2
  // INTERNAL_ERROR, 0x7 REFUSED_STREAM), sent right after; nothing more is sent on the stream.
  // HTTP/1.1 has no streams: the nearest thing is reset() (a TCP RST of the connection).
  virtual void reset_stream(std::uint32_t error_code) = 0;
  // HTTP/2: GOAWAY with `error_code`, sent right after. Its last-stream-id is the highest stream
  // received or, with `refuse_this_stream`, this stream's id - 2: the client learns that this
  // request (and any later stream) was not processed and may be retried, and this stream is not
  // answered. With NO_ERROR the connection closes once the streams the GOAWAY still covers have
  // finished; with any other code, as soon as the GOAWAY is written (a connection error, RFC
  // 9113 §5.4.1). HTTP/1.1: close_now().
  virtual void goaway(std::uint32_t error_code, bool refuse_this_stream) = 0;
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
    // TLS only: ALPN offers "h2" and "http/1.1"; false: no ALPN, HTTP/1.1 only.
    bool http2 = false;
    // HTTP/2: the server's SETTINGS_MAX_CONCURRENT_STREAMS and SETTINGS_INITIAL_WINDOW_SIZE
    // (the window the client's request bodies get, per stream; lower it to make flow control
    // bite on uploads).
    std::uint32_t max_concurrent_streams = 100;
    std::int32_t initial_window_size = 65535;
    // TLS only: how long each accepted connection waits before its handshake (a far
    // provider), so that requests can arrive while a connection is being opened.
    std::chrono::milliseconds handshake_delay{0};
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
  // Connections that negotiated HTTP/2.
  int h2_connections() const noexcept { return h2_.load(); }
  // The most HTTP/2 streams open at once on one connection (multiplexing).
  int max_concurrent_seen() const noexcept { return max_concurrent_.load(); }
  // RST_STREAM frames received from clients (a client cancelling a stream).
  int rst_streams_received() const noexcept { return rst_received_.load(); }
  // Every request received, HTTP/1.1 and HTTP/2, in the order their handlers started.
  std::vector<FakeRequest> received() const;
  // Blocks until connections_closed() >= n or `limit` passes; returns whether reached.
  bool wait_closed(int n, std::chrono::milliseconds limit);

 private:
  struct Impl;  // the HTTP/2 connection and exchange (fake_provider.cpp)
  boost::asio::awaitable<void> accept_loop();
  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& stream);
  boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket);
  void record(FakeRequest request);
  void note_closed();
  void note_concurrent(int open);

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
  std::atomic<int> h2_{0};
  std::atomic<int> max_concurrent_{0};
  std::atomic<int> rst_received_{0};
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
