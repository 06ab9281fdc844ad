// The fake provider's HTTP/2 mode (FakeProvider::Options::http2), checked on its own with a
// small blocking HTTP/2 client of this file's (nghttp2's client session over an Asio TLS
// connection that offers h2 in ALPN): responses, streams as DATA frames, multiplexing, flow
// control both ways, RST_STREAM and GOAWAY both ways, and HTTP/1.1 clients of the same fake.

#include "support/fake_provider.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <nghttp2/nghttp2.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using TlsSocket = ssl::stream<tcp::socket>;

// A TLS connection to 127.0.0.1:port offering `alpn` (wire format; empty: no ALPN).
void tls_connect(TlsSocket& s, std::uint16_t port, std::string_view alpn) {
  s.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  if (!alpn.empty()) {
    SSL_set_alpn_protos(s.native_handle(), reinterpret_cast<const unsigned char*>(alpn.data()),
                        static_cast<unsigned>(alpn.size()));
  }
  s.handshake(ssl::stream_base::client);
}

std::string negotiated(TlsSocket& s) {
  const unsigned char* p = nullptr;
  unsigned n = 0;
  SSL_get0_alpn_selected(s.native_handle(), &p, &n);
  return std::string(reinterpret_cast<const char*>(p), n);
}

// One HTTP/1.1 request over TLS offering `alpn`; returns the negotiated protocol and the raw
// response (read until the server closes: the request says Connection: close).
std::pair<std::string, std::string> https_h1(std::uint16_t port, std::string_view alpn) {
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  TlsSocket s(io, ctx);
  tls_connect(s, port, alpn);
  const std::string req = "GET /h1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string raw;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(raw), ec);  // ends with EOF or a TLS truncation
  return {negotiated(s), raw};
}

// A blocking HTTP/2 client, driven on the test thread by run_until().
class H2Client {
 public:
  struct Stream {
    unsigned status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    std::vector<std::size_t> data_frames;  // each DATA frame's length
    bool ended = false;                    // END_STREAM received
    bool closed = false;
    std::uint32_t close_code = 0;
    bool rst = false;
    std::uint32_t rst_code = 0;
    std::string request_body;
    std::size_t request_sent = 0;
  };

  // `window`: the client's SETTINGS_INITIAL_WINDOW_SIZE (what the server may send per stream).
  explicit H2Client(std::uint16_t port, std::uint32_t window = 65535)
      : ctx_(ssl::context::tls_client), socket_(io_, ctx_) {
    tls_connect(socket_, port, std::string_view("\x02h2", 3));
    if (negotiated(socket_) != "h2") throw std::runtime_error("h2 not negotiated");
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1);
  }
  ~H2Client() {
    boost::system::error_code ignored;
    socket_.next_layer().close(ignored);
    nghttp2_session_del(session_);
  }
  H2Client(const H2Client&) = delete;
  H2Client& operator=(const H2Client&) = delete;

  std::int32_t submit(const std::string& method, const std::string& path, std::string body = {},
                      const Exchange::Headers& extra = {}) {
    Exchange::Headers fields{
        {":method", method}, {":scheme", "https"}, {":authority", "fake.test"}, {":path", path}};
    for (const auto& f : extra) fields.push_back(f);
    std::vector<nghttp2_nv> nva;
    for (const auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                     v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    auto s = std::make_unique<Stream>();
    s->request_body = std::move(body);
    nghttp2_data_provider provider{};
    provider.source.ptr = s.get();
    provider.read_callback = &read_body;
    const bool has_body = !s->request_body.empty();
    const std::int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                                   has_body ? &provider : nullptr, nullptr);
    if (id < 0) throw std::runtime_error("nghttp2_submit_request failed");
    streams_[id] = std::move(s);
    return id;
  }

  void rst(std::int32_t id, std::uint32_t code) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code);
  }

  Stream& stream(std::int32_t id) { return *streams_.at(id); }
  bool done(std::int32_t id) { return stream(id).closed; }
  std::uint32_t peer_setting(nghttp2_settings_id id) {
    return nghttp2_session_get_remote_settings(session_, id);
  }

  // Writes what nghttp2 has to send and reads, until `done()` holds; throws after `limit`.
  void run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      flush();
      if (done()) return;
      if (std::chrono::steady_clock::now() >= until) throw std::runtime_error("h2 client: timeout");
      if (!reading_ && !eof) {
        reading_ = true;
        socket_.async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec,
                                                           std::size_t n) {
          reading_ = false;
          if (ec) {
            eof = true;
            return;
          }
          nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(buf_.data()), n);
        });
      }
      io_.restart();
      io_.run_for(20ms);
    }
  }

  bool eof = false;  // the server closed the connection
  bool goaway = false;
  std::uint32_t goaway_code = 0;
  std::int32_t goaway_last_id = -1;

 private:
  void flush() {
    std::string out;
    for (;;) {
      const std::uint8_t* data = nullptr;
      const auto n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    if (out.empty() || eof) return;
    bool written = false;
    asio::async_write(socket_, asio::buffer(out), [&](boost::system::error_code ec, std::size_t) {
      written = true;
      if (ec) eof = true;
    });
    io_.restart();
    while (!written) io_.run_one();
  }

  static H2Client& self(void* user) { return *static_cast<H2Client*>(user); }
  Stream* find(std::int32_t id) {
    const auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    Stream* s = self(user).find(frame->hd.stream_id);
    if (s == nullptr) return 0;
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      s->status = static_cast<unsigned>(std::stoul(v));
    } else {
      s->headers[n] = v;
    }
    return 0;
  }

  static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                     std::size_t len, void* user) {
    if (Stream* s = self(user).find(id)) s->body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = self(user);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway = true;
      c.goaway_code = frame->goaway.error_code;
      c.goaway_last_id = frame->goaway.last_stream_id;
      return 0;
    }
    Stream* s = c.find(frame->hd.stream_id);
    if (s == nullptr) return 0;
    if (frame->hd.type == NGHTTP2_DATA) s->data_frames.push_back(frame->hd.length);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      s->rst = true;
      s->rst_code = frame->rst_stream.error_code;
    }
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      s->ended = true;
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
    if (Stream* s = self(user).find(id)) {
      s->closed = true;
      s->close_code = code;
    }
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto& s = *static_cast<Stream*>(source->ptr);
    const std::size_t n = std::min(length, s.request_body.size() - s.request_sent);
    std::memcpy(buf, s.request_body.data() + s.request_sent, n);
    s.request_sent += n;
    if (s.request_sent == s.request_body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  asio::io_context io_;
  ssl::context ctx_;
  TlsSocket socket_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::unique_ptr<Stream>> streams_;
  std::array<char, 16384> buf_{};
  bool reading_ = false;
};

FakeProvider::Options h2_options() {
  FakeProvider::Options o;
  o.http2 = true;
  return o;
}

TEST(FakeProviderH2, RespondsWithHeadersAndBody) {
  auto options = h2_options();
  options.max_concurrent_streams = 7;
  FakeProvider fake(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        const Exchange::Headers headers{
            {"X-Test", "yes"}, {"Content-Type", "text/plain"}, {"Connection", "keep-alive"}};
        co_await ex.respond(201, "hello h2", headers);
      },
      options);
  H2Client client(fake.port());
  const auto id = client.submit("POST", "/v1/chat/completions?x=1", R"({"model":"m"})",
                                {{"x-client", "c"}, {"content-type", "application/json"}});
  client.run_until([&] { return client.done(id); });

  const auto& s = client.stream(id);
  EXPECT_EQ(s.close_code, 0u);
  EXPECT_EQ(s.status, 201u);
  EXPECT_EQ(s.body, "hello h2");
  EXPECT_EQ(s.headers.at("x-test"), "yes");
  EXPECT_EQ(s.headers.at("content-type"), "text/plain");
  EXPECT_EQ(s.headers.at("content-length"), "8");
  EXPECT_EQ(s.headers.count("connection"), 0u);
  EXPECT_EQ(client.peer_setting(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 7u);

  const auto received = fake.received();
  ASSERT_EQ(received.size(), 1u);
  const auto& r = received[0];
  EXPECT_EQ(r.protocol, "HTTP/2");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/chat/completions?x=1");
  EXPECT_EQ(r.headers.at("host"), "fake.test");  // from :authority
  EXPECT_EQ(r.headers.at("x-client"), "c");
  EXPECT_EQ(r.body, R"({"model":"m"})");
  EXPECT_EQ(fake.h2_connections(), 1);
  EXPECT_EQ(fake.requests(), 1);
}

TEST(FakeProviderH2, StreamsEachChunkAsDataFrames) {
  const std::vector<std::string> events = {sse(R"({"n":1})"), sse(R"({"n":2})"), sse("[DONE]")};
  std::atomic<int> sent{0};
  FakeProvider fake(
      [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.start_stream(200, sse_headers());
        for (const auto& e : events) {
          if (co_await ex.send_chunk(e)) ++sent;
        }
        co_await ex.end_stream();
      },
      h2_options());
  H2Client client(fake.port());
  const auto id = client.submit("GET", "/stream");
  client.run_until([&] { return client.done(id); });

  const auto& s = client.stream(id);
  EXPECT_EQ(s.status, 200u);
  EXPECT_EQ(s.headers.at("content-type"), "text/event-stream");
  EXPECT_EQ(s.headers.count("content-length"), 0u);
  EXPECT_EQ(s.body, events[0] + events[1] + events[2]);
  // One DATA frame per chunk, then an empty one with END_STREAM.
  EXPECT_EQ(s.data_frames,
            (std::vector<std::size_t>{events[0].size(), events[1].size(), events[2].size(), 0}));
  EXPECT_TRUE(s.ended);
  EXPECT_EQ(sent.load(), 3);
}

TEST(FakeProviderH2, MultiplexesStreamsOnOneConnection) {
  auto both = std::make_shared<Gate>();
  auto arrived = std::make_shared<std::atomic<int>>(0);
  FakeProvider fake(
      [both, arrived](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        if (++*arrived == 2) both->open();
        // Neither answers before both are open at once.
        const bool opened = co_await ex.wait(*both, 5s);
        co_await ex.respond(opened ? 200 : 504, req.target);
      },
      h2_options());
  H2Client client(fake.port());
  const auto a = client.submit("GET", "/a");
  const auto b = client.submit("GET", "/b");
  client.run_until([&] { return client.done(a) && client.done(b); });

  EXPECT_EQ(client.stream(a).status, 200u);
  EXPECT_EQ(client.stream(a).body, "/a");
  EXPECT_EQ(client.stream(b).status, 200u);
  EXPECT_EQ(client.stream(b).body, "/b");
  EXPECT_EQ(fake.max_concurrent_seen(), 2);
  EXPECT_EQ(fake.connections_opened(), 1);
  EXPECT_EQ(fake.h2_connections(), 1);
}

TEST(FakeProviderH2, ServesHttp11ClientsOverHttp11) {
  FakeProvider fake(
      [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.respond(200, req.protocol);
      },
      h2_options());
  // Offering only http/1.1, and offering nothing: HTTP/1.1 as without http2.
  for (const std::string_view alpn : {std::string_view("\x08http/1.1", 9), std::string_view()}) {
    const auto [protocol, raw] = https_h1(fake.port(), alpn);
    EXPECT_EQ(protocol, alpn.empty() ? "" : "http/1.1");
    EXPECT_TRUE(raw.starts_with("HTTP/1.1 200 OK\r\n")) << raw;
    EXPECT_TRUE(raw.ends_with("\r\n\r\nHTTP/1.1")) << raw;
  }
  const auto received = fake.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].protocol, "HTTP/1.1");
  EXPECT_EQ(received[1].protocol, "HTTP/1.1");
  EXPECT_EQ(fake.h2_connections(), 0);
}

TEST(FakeProviderH2, WithoutHttp2OffersNoAlpn) {
  FakeProvider fake(answers(200));
  const auto [protocol, raw] = https_h1(fake.port(), std::string_view("\x02h2\x08http/1.1", 12));
  EXPECT_EQ(protocol, "");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 200 OK\r\n")) << raw;
  ASSERT_EQ(fake.received().size(), 1u);
  EXPECT_EQ(fake.received()[0].protocol, "HTTP/1.1");
}

TEST(FakeProviderH2, ResetStreamSendsRstStreamWithTheCode) {
  FakeProvider fake(
      [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        if (req.target == "/reset") {
          ex.reset_stream(NGHTTP2_ENHANCE_YOUR_CALM);
          co_return;
        }
        co_await ex.respond(200, "ok");
      },
      h2_options());
  H2Client client(fake.port());
  const auto id = client.submit("GET", "/reset");
  client.run_until([&] { return client.done(id); });
  EXPECT_TRUE(client.stream(id).rst);
  EXPECT_EQ(client.stream(id).rst_code, static_cast<std::uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(client.stream(id).status, 0u);

  // The connection goes on.
  const auto next = client.submit("GET", "/ok");
  client.run_until([&] { return client.done(next); });
  EXPECT_EQ(client.stream(next).status, 200u);
  EXPECT_EQ(fake.connections_opened(), 1);
}

TEST(FakeProviderH2, GoawayRefusingTheStreamLeavesItUnprocessed) {
  FakeProvider fake(
      [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        if (req.target == "/refuse") {
          ex.goaway(NGHTTP2_NO_ERROR, true);
          co_return;
        }
        co_await ex.respond(200, "ok");
      },
      h2_options());
  H2Client client(fake.port());
  const auto first = client.submit("GET", "/ok");
  client.run_until([&] { return client.done(first); });
  const auto refused = client.submit("GET", "/refuse");
  ASSERT_EQ(refused, 3);
  client.run_until([&] { return client.done(refused) && client.eof; });
  EXPECT_TRUE(client.goaway);
  EXPECT_EQ(client.goaway_code, 0u);
  EXPECT_EQ(client.goaway_last_id, 1);  // stream 3 was not processed: the client may retry it
  EXPECT_EQ(client.stream(refused).status, 0u);
  EXPECT_EQ(client.stream(refused).close_code, static_cast<std::uint32_t>(NGHTTP2_REFUSED_STREAM));
  EXPECT_TRUE(fake.wait_closed(1, 5s));
}

TEST(FakeProviderH2, CloseAfterSendsGoawayAndClosesOnceStreamsFinish) {
  FakeProvider fake(
      [](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        ex.close_after();
        co_await ex.respond(200, "last");
      },
      h2_options());
  H2Client client(fake.port());
  const auto id = client.submit("GET", "/");
  client.run_until([&] { return client.done(id) && client.eof; });
  EXPECT_EQ(client.stream(id).body, "last");
  EXPECT_TRUE(client.goaway);
  EXPECT_EQ(client.goaway_code, 0u);
  EXPECT_EQ(client.goaway_last_id, id);
  EXPECT_TRUE(fake.wait_closed(1, 5s));
}

// The client's window of 100 bytes per stream: each chunk of 250 bytes waits for
// WINDOW_UPDATEs and arrives in frames of at most 100 bytes.
TEST(FakeProviderH2, ChunksWaitForTheClientsWindow) {
  const std::string chunk(250, 'z');
  std::atomic<int> sent{0};
  FakeProvider fake(
      [&](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.start_stream(200, sse_headers());
        for (int i = 0; i < 3; ++i) {
          if (co_await ex.send_chunk(chunk)) ++sent;
        }
        co_await ex.end_stream();
      },
      h2_options());
  H2Client client(fake.port(), 100);
  const auto id = client.submit("GET", "/");
  client.run_until([&] { return client.done(id); });
  EXPECT_EQ(client.stream(id).body, chunk + chunk + chunk);
  const auto& frames = client.stream(id).data_frames;
  EXPECT_GE(frames.size(), 8u);  // 750 bytes in windows of 100
  for (const auto n : frames) EXPECT_LE(n, 100u);
  EXPECT_EQ(sent.load(), 3);
}

// The server's SETTINGS_INITIAL_WINDOW_SIZE of 100 bytes: an upload of 1000 bytes still
// arrives whole (the fake's WINDOW_UPDATEs let it through).
TEST(FakeProviderH2, UploadsPassTheServersSmallWindow) {
  auto options = h2_options();
  options.initial_window_size = 100;
  FakeProvider fake(
      [](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.respond(200, std::to_string(req.body.size()));
      },
      options);
  H2Client client(fake.port());
  const auto id = client.submit("POST", "/upload", std::string(1000, 'u'));
  client.run_until([&] { return client.done(id); });
  EXPECT_EQ(client.stream(id).body, "1000");
  EXPECT_EQ(client.peer_setting(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE), 100u);
}

TEST(FakeProviderH2, CountsTheClientsRstStreamAndSendChunkFails) {
  auto result = std::make_shared<std::atomic<int>>(-1);  // 1: a send_chunk failed
  FakeProvider fake(
      [result](const FakeRequest&, Exchange& ex) -> asio::awaitable<void> {
        co_await ex.start_stream(200, sse_headers());
        for (int i = 0; i < 1000; ++i) {
          if (!co_await ex.send_chunk(sse("tick"))) {
            *result = 1;
            co_return;
          }
          co_await ex.sleep(5ms);
        }
        *result = 0;
      },
      h2_options());
  H2Client client(fake.port());
  const auto id = client.submit("GET", "/");
  client.run_until([&] { return !client.stream(id).body.empty(); });
  client.rst(id, NGHTTP2_CANCEL);
  client.run_until([&] { return result->load() != -1; });
  EXPECT_EQ(result->load(), 1);
  EXPECT_EQ(fake.rst_streams_received(), 1);
}

}  // namespace
}  // namespace aigw::test
