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
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <nghttp2/nghttp2.h>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// sleep() and wait(), the same over both protocols.
class TimedExchange : public Exchange {
 public:
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
};

template <class Stream>
class StreamExchange final : public TimedExchange {
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

  // HTTP/1.1 has neither streams nor GOAWAY: the nearest things end the connection.
  void reset_stream(std::uint32_t) override { reset(); }
  void goaway(std::uint32_t, bool) override { close_now(); }

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

// ---------------------------------------------------------------------------------------
// HTTP/2 (RFC 9113): nghttp2's session does the framing, HPACK and flow control; the I/O is
// ours. One coroutine reads and feeds nghttp2, one writes what nghttp2 produces (one buffer per
// flush), and each request stream's handler runs in its own coroutine.

namespace {

using TlsStream = beast::ssl_stream<tcp::socket>;

// ALPN (RFC 7301) with Options::http2: h2 when the client offers it, else http/1.1, else no
// ALPN at all (HTTP/1.1 then too).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  for (const std::string_view want : {std::string_view("h2"), std::string_view("http/1.1")}) {
    for (unsigned i = 0; i < inlen; i += 1u + in[i]) {
      const std::string_view offered(reinterpret_cast<const char*>(in + i + 1),
                                     std::min<unsigned>(in[i], inlen - i - 1));
      if (offered == want) {
        *out = in + i + 1;
        *outlen = in[i];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool negotiated_h2(TlsStream& stream) {
  const unsigned char* alpn = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(stream.native_handle(), &alpn, &len);
  return std::string_view(reinterpret_cast<const char*>(alpn), len) == "h2";
}

// One request stream.
struct H2Stream {
  std::int32_t id = 0;
  FakeRequest request;
  std::string authority;
  bool started = false;   // the request ended and its handler runs
  bool answered = false;  // HEADERS, RST_STREAM or a refusing GOAWAY submitted
  bool closed = false;    // nghttp2 closed the stream (finished, reset or refused)
  std::string out;        // response DATA nghttp2 has not taken yet
  std::size_t out_pos = 0;
  bool ended = false;          // the handler ended the body
  bool eof_taken = false;      // nghttp2 took the END_STREAM
  std::uint64_t taken_in = 0;  // the write batch that took the last of `out` (or the EOF)
};

bool is_connection_field(std::string_view name) {
  return name == "connection" || name == "transfer-encoding" || name == "keep-alive" ||
         name == "proxy-connection" || name == "upgrade";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The response HEADERS: :status, the handler's fields (lower-case, minus those RFC 9113 §8.2.2
// forbids) and, for a whole body, content-length (and content-type, as over HTTP/1.1).
Exchange::Headers response_fields(unsigned status, const Exchange::Headers& given,
                                  const std::string* body) {
  Exchange::Headers fields{{":status", std::to_string(status)}};
  bool has_type = false;
  for (const auto& [n, v] : given) {
    std::string name = lower(n);
    if (is_connection_field(name) || (body != nullptr && name == "content-length")) continue;
    has_type = has_type || name == "content-type";
    fields.emplace_back(std::move(name), v);
  }
  if (body != nullptr) {
    if (!has_type) fields.emplace_back("content-type", "application/json");
    fields.emplace_back("content-length", std::to_string(body->size()));
  }
  return fields;
}

}  // namespace

struct FakeProvider::Impl {
  class H2Connection;
  class H2Exchange;
  static asio::awaitable<void> serve_h2(FakeProvider& owner, TlsStream& stream);
};

class FakeProvider::Impl::H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  H2Connection(FakeProvider& owner, TlsStream& stream)
      : owner_(owner), stream_(stream), wake_(stream.get_executor()) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
    nghttp2_session_server_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, owner.options_.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
         static_cast<std::uint32_t>(owner.options_.initial_window_size)}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  }
  ~H2Connection() { nghttp2_session_del(session_); }
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Serves the connection; returns once it is closed and every handler has finished.
  asio::awaitable<void> run() {
    asio::co_spawn(stream_.get_executor(), write_loop(shared_from_this()), asio::detached);
    std::array<char, 16384> buf;
    while (!dead_) {
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buf), kTuple);
      if (ec) break;
      const auto rv =
          nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(buf.data()), n);
      if (rv < 0) break;  // fatal (e.g. not the connection preface)
      kick();
    }
    close(false);
    while (writing_ || handlers_ > 0) co_await changed();
  }

  // --- for H2Exchange

  bool dead() const { return dead_; }

  void submit_response(H2Stream& s, unsigned status, const Exchange::Headers& headers,
                       const std::string* body) {
    const auto fields = response_fields(status, headers, body);
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                     v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.source.ptr = &s;
    provider.read_callback = &read_body;
    const bool no_body = body != nullptr && body->empty();
    if (no_body) s.eof_taken = true;
    s.answered = true;
    nghttp2_submit_response(session_, s.id, nva.data(), nva.size(), no_body ? nullptr : &provider);
  }

  void resume(H2Stream& s) {
    if (!s.closed) nghttp2_session_resume_data(session_, s.id);
  }

  // Returns once what was submitted for `s` so far is written: true, or false when the stream
  // or the connection died first.
  asio::awaitable<bool> flush(const H2Stream& s) {
    const std::uint64_t next = batch_ + 1;
    kick();
    for (;;) {
      if (dead_) co_return false;
      const bool taken = s.out_pos >= s.out.size() && (!s.ended || s.eof_taken);
      if (taken && written_ >= std::max(next, s.taken_in)) co_return true;
      if (!taken && s.closed) co_return false;
      co_await changed();
    }
  }

  asio::awaitable<void> write_raw(std::string bytes) {
    raw_ += bytes;
    const std::uint64_t next = batch_ + 1;
    kick();
    while (!dead_ && written_ < next) co_await changed();
  }

  void rst_stream(H2Stream& s, std::uint32_t code) {
    s.answered = true;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, code);
    kick();
  }

  // GOAWAY with `last_id` (-1: the highest stream received). NO_ERROR lets the streams it
  // covers finish (nghttp2 then stops wanting to read or write); any other code closes the
  // connection once it is written.
  void goaway(std::uint32_t code, std::int32_t last_id) {
    if (last_id < 0) last_id = nghttp2_session_get_last_proc_stream_id(session_);
    goaway_sent_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, last_id, code, nullptr, 0);
    if (code != NGHTTP2_NO_ERROR) close_when_flushed_ = true;
    kick();
  }
  bool goaway_sent() const { return goaway_sent_; }

  // Ends the connection: with a TCP RST (`rst`) or a FIN.
  void close(bool rst) {
    if (dead_) return;
    dead_ = true;
    boost::system::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream_);
    if (rst) {
      socket.set_option(asio::socket_base::linger(true, 0), ignored);
    } else {
      socket.shutdown(tcp::socket::shutdown_both, ignored);
    }
    socket.close(ignored);
    wake_.cancel();
    notify();
  }

 private:
  static H2Connection& self(void* user) { return *static_cast<H2Connection*>(user); }

  std::shared_ptr<H2Stream> find(std::int32_t id) {
    const auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto& c = self(user);
    auto s = std::make_shared<H2Stream>();
    s->id = frame->hd.stream_id;
    c.streams_[s->id] = s;
    c.owner_.note_concurrent(static_cast<int>(c.streams_.size()));
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    const auto s = self(user).find(frame->hd.stream_id);
    if (!s) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    auto& r = s->request;
    if (n == ":method") {
      r.method = std::move(v);
    } else if (n == ":path") {
      r.target = std::move(v);
    } else if (n == ":authority") {
      s->authority = std::move(v);
    } else if (!n.starts_with(':')) {
      std::string& field = r.headers[std::string(n)];
      if (n == "cookie" && !field.empty()) {  // RFC 9113 §8.2.3: a cookie may come in crumbs
        field += "; ";
        field += v;
      } else {
        field = std::move(v);  // the last wins, as over HTTP/1.1
      }
    }
    return 0;
  }

  static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                     std::size_t len, void* user) {
    if (const auto s = self(user).find(id)) {
      s->request.body.append(reinterpret_cast<const char*>(data), len);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = self(user);
    if (frame->hd.type == NGHTTP2_RST_STREAM) ++c.owner_.rst_received_;
    const bool request_part = frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
    if (!request_part || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    const auto s = c.find(frame->hd.stream_id);
    if (!s || s->started) return 0;
    s->started = true;
    s->request.protocol = "HTTP/2";
    if (!s->request.has("host") && !s->authority.empty()) {
      s->request.headers["host"] = s->authority;
    }
    asio::co_spawn(c.stream_.get_executor(), handle(c.shared_from_this(), s), asio::detached);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user) {
    auto& c = self(user);
    if (const auto s = c.find(id)) {
      s->closed = true;
      c.streams_.erase(id);
      c.notify();
    }
    return 0;
  }

  // nghttp2 asks for the next piece of a response body, as far as the windows allow.
  static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void* user) {
    auto& s = *static_cast<H2Stream*>(source->ptr);
    const std::size_t n = std::min(length, s.out.size() - s.out_pos);
    std::memcpy(buf, s.out.data() + s.out_pos, n);
    s.out_pos += n;
    if (s.out_pos == s.out.size()) {
      s.out.clear();
      s.out_pos = 0;
      s.taken_in = self(user).batch_;
      if (s.ended) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        s.eof_taken = true;
      } else if (n == 0) {
        return NGHTTP2_ERR_DEFERRED;  // until the handler sends more (resume())
      }
    }
    return static_cast<ssize_t>(n);
  }

  static asio::awaitable<void> handle(std::shared_ptr<H2Connection> c, std::shared_ptr<H2Stream> s);

  static asio::awaitable<void> write_loop(std::shared_ptr<H2Connection> c) {
    c->writing_ = true;
    std::string out;
    while (!c->dead_) {
      if (!c->flush_wanted_) {
        c->wake_.expires_at(asio::steady_timer::time_point::max());
        co_await c->wake_.async_wait(kTuple);
        continue;
      }
      c->flush_wanted_ = false;
      const std::uint64_t batch = ++c->batch_;
      out.clear();
      for (;;) {
        const std::uint8_t* data = nullptr;
        const auto n = nghttp2_session_mem_send(c->session_, &data);
        if (n <= 0) break;
        out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
      }
      out += c->raw_;
      c->raw_.clear();
      if (!out.empty()) {
        auto [ec, n] = co_await asio::async_write(c->stream_, asio::buffer(out), kTuple);
        if (ec) break;
        c->flush_wanted_ = true;  // what became ready meanwhile
      }
      c->written_ = batch;
      c->notify();
      const bool done =
          !nghttp2_session_want_read(c->session_) && !nghttp2_session_want_write(c->session_);
      if (out.empty() && (done || c->close_when_flushed_)) break;
    }
    c->close(false);
    c->writing_ = false;
    c->notify();
  }

  void kick() {
    flush_wanted_ = true;
    wake_.cancel();
  }

  // Waits until notify(): whatever a waiter waits for may have changed.
  asio::awaitable<void> changed() {
    asio::steady_timer t(stream_.get_executor(), asio::steady_timer::time_point::max());
    waiters_.push_back(&t);
    co_await t.async_wait(kTuple);
    std::erase(waiters_, &t);
  }

  void notify() {
    for (auto* t : std::exchange(waiters_, {})) t->cancel();
  }

  FakeProvider& owner_;
  TlsStream& stream_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::shared_ptr<H2Stream>> streams_;
  asio::steady_timer wake_;  // the writer's
  std::vector<asio::steady_timer*> waiters_;
  std::string raw_;
  std::uint64_t batch_ = 0;    // write batches collected
  std::uint64_t written_ = 0;  // the last batch written
  int handlers_ = 0;
  bool flush_wanted_ = true;  // the server's SETTINGS
  bool writing_ = false;
  bool dead_ = false;
  bool goaway_sent_ = false;
  bool close_when_flushed_ = false;
};

class FakeProvider::Impl::H2Exchange final : public TimedExchange {
 public:
  H2Exchange(std::shared_ptr<H2Connection> c, std::shared_ptr<H2Stream> s)
      : c_(std::move(c)), s_(std::move(s)) {}

  asio::awaitable<void> respond(unsigned status, std::string body, Headers headers) override {
    if (!can_answer()) co_return;
    s_->out = std::move(body);
    s_->ended = true;
    c_->submit_response(*s_, status, headers, &s_->out);
    co_await c_->flush(*s_);
    finish();
  }

  asio::awaitable<void> start_stream(unsigned status, Headers headers) override {
    if (!can_answer()) co_return;
    c_->submit_response(*s_, status, headers, nullptr);
    co_await c_->flush(*s_);
  }

  asio::awaitable<bool> send_chunk(std::string data) override {
    if (c_->dead() || s_->closed || !s_->answered || s_->ended) co_return false;
    s_->out += data;
    c_->resume(*s_);
    co_return co_await c_->flush(*s_);
  }

  asio::awaitable<void> end_stream() override {
    if (c_->dead() || s_->closed || !s_->answered || s_->ended) co_return;
    s_->ended = true;
    c_->resume(*s_);
    co_await c_->flush(*s_);
    finish();
  }

  asio::awaitable<void> send_raw(std::string bytes) override {
    if (!c_->dead()) co_await c_->write_raw(std::move(bytes));
  }

  void reset() override { c_->close(true); }
  void close_now() override { c_->close(false); }
  void close_after() override { close_after_ = true; }

  void reset_stream(std::uint32_t error_code) override {
    if (!c_->dead() && !s_->closed) c_->rst_stream(*s_, error_code);
  }

  void goaway(std::uint32_t error_code, bool refuse_this_stream) override {
    if (c_->dead()) return;
    if (refuse_this_stream) s_->answered = true;  // nghttp2 closes it once the GOAWAY is sent
    c_->goaway(error_code, refuse_this_stream ? std::max(0, s_->id - 2) : -1);
  }

  // After the handler: close_after() asked for a GOAWAY the response did not send yet.
  void finish() {
    if (close_after_ && !c_->goaway_sent() && !c_->dead()) c_->goaway(NGHTTP2_NO_ERROR, -1);
  }

 private:
  bool can_answer() const { return !c_->dead() && !s_->closed && !s_->answered; }

  std::shared_ptr<H2Connection> c_;
  std::shared_ptr<H2Stream> s_;
  bool close_after_ = false;
};

asio::awaitable<void> FakeProvider::Impl::H2Connection::handle(std::shared_ptr<H2Connection> c,
                                                               std::shared_ptr<H2Stream> s) {
  ++c->handlers_;
  c->owner_.record(s->request);
  H2Exchange exchange(c, s);
  co_await c->owner_.handler_(s->request, exchange);
  exchange.finish();
  --c->handlers_;
  c->notify();
}

asio::awaitable<void> FakeProvider::Impl::serve_h2(FakeProvider& owner, TlsStream& stream) {
  ++owner.h2_;
  auto connection = std::make_shared<H2Connection>(owner, stream);
  co_await connection->run();
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
    if (options_.http2) SSL_CTX_set_alpn_select_cb(ssl_.native_handle(), &select_alpn, nullptr);
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

void FakeProvider::note_concurrent(int open) {
  int seen = max_concurrent_.load();
  while (open > seen && !max_concurrent_.compare_exchange_weak(seen, open)) {
  }
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
    if (options_.handshake_delay.count() > 0) {
      asio::steady_timer delay(io_, options_.handshake_delay);
      co_await delay.async_wait(kTuple);
    }
    beast::ssl_stream<tcp::socket> stream(std::move(socket), ssl_);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (!ec && SSL_session_reused(stream.native_handle()) == 1) ++resumed_;
    if (!ec && negotiated_h2(stream)) {
      co_await Impl::serve_h2(*this, stream);
    } else if (!ec) {
      co_await serve(stream);
    }
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
    fr.protocol = req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
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
