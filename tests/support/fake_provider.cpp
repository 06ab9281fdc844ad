#include "support/fake_provider.hpp"

#include "support/test_pki.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

template <class Stream>
class StreamExchange final : public Exchange {
 public:
  StreamExchange(Stream& stream, tcp::socket& socket) : stream_(stream), socket_(socket) {}

  asio::awaitable<void> respond(unsigned status, std::string body, Headers headers) override {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    for (auto& [n, v] : headers) res.set(n, v);
    if (!res.has_content_length() && res.find(http::field::content_type) == res.end()) {
      res.set(http::field::content_type, "application/json");
    }
    res.body() = std::move(body);
    res.keep_alive(!close_after_);
    res.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    if (ec) dead_ = true;
  }

  asio::awaitable<void> start_stream(unsigned status, Headers headers) override {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " OK\r\n";
    for (auto& [n, v] : headers) head += n + ": " + v + "\r\n";
    head += "Transfer-Encoding: chunked\r\n";
    if (close_after_) head += "Connection: close\r\n";
    head += "\r\n";
    co_await send_raw(std::move(head));
  }

  asio::awaitable<bool> send_chunk(std::string data) override {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    co_await send_raw(std::string(size) + data + "\r\n");
    co_return !dead_;
  }

  asio::awaitable<void> end_stream() override { co_await send_raw("0\r\n\r\n"); }

  asio::awaitable<void> send_raw(std::string bytes) override {
    if (dead_) co_return;
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), kTuple);
    if (ec) dead_ = true;
  }

  asio::awaitable<void> sleep(std::chrono::milliseconds d) override {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(kTuple);
  }

  asio::awaitable<bool> wait(const Gate& gate, std::chrono::milliseconds limit) override {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!gate.is_open() && std::chrono::steady_clock::now() < until) {
      co_await sleep(std::chrono::milliseconds(2));
    }
    co_return gate.is_open();
  }

  void reset() override {
    boost::system::error_code ec;
    socket_.set_option(asio::socket_base::linger(true, 0), ec);
    socket_.close(ec);
    dead_ = true;
  }

  void close_now() override {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    dead_ = true;
  }

  void close_after() override { close_after_ = true; }

  bool dead() const { return dead_; }
  bool closing() const { return close_after_; }

 private:
  Stream& stream_;
  tcp::socket& socket_;
  bool dead_ = false;
  bool close_after_ = false;
};

}  // namespace

std::string sse(const std::string& payload) { return "data: " + payload + "\n\n"; }

Exchange::Headers sse_headers() { return {{"Content-Type", "text/event-stream"}}; }

std::string chat_completion(const std::string& model) {
  return R"({"id":"c","object":"chat.completion","model":")" + model +
         R"(","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}})";
}

Handler answers(std::shared_ptr<std::atomic<unsigned>> status) {
  return [status](const FakeRequest& req, Exchange& ex) -> boost::asio::awaitable<void> {
    const unsigned now = status->load();
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    // Worked out before the co_await: GCC 12 destroys the temporaries of a ?: inside one twice.
    std::string text = R"({"error":{"message":"unavailable"}})";
    if (now == 200) text = chat_completion(body.is_object() ? body.value("model", "") : "");
    co_await ex.respond(now, std::move(text), json_headers());
  };
}

Handler answers(unsigned status) {
  return answers(std::make_shared<std::atomic<unsigned>>(status));
}

FakeProvider::FakeProvider(Handler handler) : FakeProvider(std::move(handler), Options{}) {}

FakeProvider::FakeProvider(Handler handler, Options options)
    : handler_(std::move(handler)),
      options_(std::move(options)),
      io_(1),
      ssl_(asio::ssl::context::tls_server),
      acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  if (options_.tls) {
    const auto& pki = test_pki();
    ssl_.use_certificate_chain_file(options_.cert_file.empty() ? pki.server_cert
                                                               : options_.cert_file);
    ssl_.use_private_key_file(options_.key_file.empty() ? pki.server_key : options_.key_file,
                              asio::ssl::context::pem);
  }
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

FakeProvider::~FakeProvider() {
  io_.stop();
  thread_.join();
}

std::string FakeProvider::base_url() const {
  return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<FakeRequest> FakeProvider::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

bool FakeProvider::wait_closed(int n, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, limit, [&] { return closed_.load() >= n; });
}

void FakeProvider::record(FakeRequest request) {
  std::lock_guard lock(mutex_);
  received_.push_back(std::move(request));
  ++requests_;
}

void FakeProvider::note_closed() {
  {
    std::lock_guard lock(mutex_);
    ++closed_;
  }
  cv_.notify_all();
}

asio::awaitable<void> FakeProvider::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) co_return;
    // Like a real provider's front end: each event leaves at once (no Nagle delay, which
    // with delayed ACKs would add ~40 ms between small SSE writes).
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    ++opened_;
    asio::co_spawn(io_, serve_connection(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> FakeProvider::serve_connection(tcp::socket socket) {
  if (options_.tls) {
    beast::ssl_stream<tcp::socket> stream(std::move(socket), ssl_);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (!ec && SSL_session_reused(stream.native_handle()) == 1) ++resumed_;
    if (!ec) co_await serve(stream);
  } else {
    co_await serve(socket);
  }
  note_closed();
}

template <class Stream>
asio::awaitable<void> FakeProvider::serve(Stream& stream) {
  auto& socket = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (ec) break;
    auto req = parser.release();
    FakeRequest fr;
    fr.method = std::string(req.method_string());
    fr.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      fr.headers[name] = std::string(f.value());
    }
    fr.body = std::move(req.body());
    record(fr);
    StreamExchange<Stream> exchange(stream, socket);
    co_await handler_(fr, exchange);
    if (exchange.dead() || exchange.closing() || !req.keep_alive()) break;
  }
  boost::system::error_code ignored;
  if (socket.is_open()) {
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
}

}  // namespace aigw::test
