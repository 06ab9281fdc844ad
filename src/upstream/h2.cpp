#include "upstream/h2.hpp"

#include "aigw/provider.hpp"

#include "http/headers.hpp"
#include "upstream/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <new>
#include <nghttp2/nghttp2.h>
#include <vector>

namespace aigw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// A stream's window: what a provider may send ahead of a slow client. The connection's is
// large enough that no stream waits for another's client.
constexpr std::int32_t kStreamWindow = 64 * 1024;
constexpr std::int32_t kConnectionWindow = 16 * 1024 * 1024;
// Records are read into this, one worker-wide buffer: nothing between a read and the end of
// nghttp2's processing of it suspends, so no connection holds it while it waits.
constexpr std::size_t kReadBuffer = 16 * 1024;

// Credentials are never put in HPACK's dynamic table: on a connection shared by many
// clients, a header one of them controls must not be compressed against another's key.
// The provider credential headers (kCredentialHeaders), and the other two that carry secrets.
bool is_credential(std::string_view lower_name) {
  for (const std::string_view name : kCredentialHeaders) {
    if (lower_name == name) return true;
  }
  return lower_name == "proxy-authorization" || lower_name == "cookie";
}

// Headers HTTP/2 forbids (RFC 9113 §8.2.2), and the ones the pseudo-headers replace.
bool is_connection_specific(std::string_view lower_name, std::string_view value) {
  if (lower_name == "te") return !beast::iequals(value, "trailers");
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade" || lower_name == "host";
}

std::string_view view(const std::uint8_t* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

H2Stream* stream_of(nghttp2_session* session, std::int32_t id) {
  return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session, id));
}

}  // namespace

asio::awaitable<void> H2Stream::wait(Clock::time_point deadline) {
  signal.expires_at(deadline);
  co_await signal.async_wait(kTuple);
}

// nghttp2's callbacks, with access to the session (user_data).
struct H2Callbacks {
  static H2Session& conn(void* user) { return *static_cast<H2Session*>(user); }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame,
                       const std::uint8_t* name, std::size_t namelen, const std::uint8_t* value,
                       std::size_t valuelen, std::uint8_t /*flags*/, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2Stream* s = stream_of(session, frame->hd.stream_id);
    if (s == nullptr || !s->attached || s->head_done) return 0;  // a trailer: not relayed
    s->got_frame = true;
    const std::string_view n = view(name, namelen);
    const std::string_view v = view(value, valuelen);
    if (n == ":status") {
      unsigned status = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), status);
      if (ec != std::errc{} || end != v.data() + v.size() || status < 100 || status > 999) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 checks this too
      }
      s->status = status;
      s->interim = status < 200;
      return 0;
    }
    if (s->interim || n.empty() || n.front() == ':') return 0;
    s->header_bytes += namelen + valuelen + 4;  // as HTTP/1 would count ": " and CRLF
    if (s->header_bytes > conn(user).settings_.max_header_bytes) {
      s->header_overflow = true;
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    }
    s->head.insert(n, v);
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    H2Session& c = conn(user);
    c.last_frame_ = Clock::now();
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway_ = true;  // no new stream here; those above its last id are closed as refused
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    H2Stream* s = stream_of(session, frame->hd.stream_id);
    if (s == nullptr) return 0;
    bool wake = false;
    if (frame->hd.type == NGHTTP2_HEADERS && !s->head_done) {
      if (s->interim) {
        // 103 Early Hints and the like: the client gets the final response only.
        s->interim = false;
        s->status = 0;
        s->header_bytes = 0;
        s->head = {};
      } else if (s->status != 0) {
        s->head.result(s->status);
        s->head.version(11);
        s->head_done = true;
        wake = true;
      }
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      s->ended = true;
      wake = true;
    }
    if (wake && s->attached) s->signal.cancel();
    return 0;
  }

  static int on_data(nghttp2_session* session, std::uint8_t /*flags*/, std::int32_t id,
                     const std::uint8_t* data, std::size_t len, void* user) {
    H2Session& c = conn(user);
    c.last_frame_ = Clock::now();
    H2Stream* s = stream_of(session, id);
    if (s == nullptr || !s->attached) {
      // Nobody will relay these: their window goes back at once.
      nghttp2_session_consume(session, id, len);
      return 0;
    }
    s->got_frame = true;
    const bool was_empty = s->data.empty();
    s->data.append(reinterpret_cast<const char*>(data), len);
    if (was_empty) s->signal.cancel();
    return 0;
  }

  static int on_stream_close(nghttp2_session* /*session*/, std::int32_t id, std::uint32_t code,
                             void* user) {
    H2Session& c = conn(user);
    const auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    H2Stream& s = *it->second;
    s.closed = true;
    s.close_code = code;
    s.refused = code == NGHTTP2_REFUSED_STREAM;
    if (s.attached) s.signal.cancel();
    c.streams_.erase(it);  // may destroy the stream: its attempt has left
    if (c.streams_.empty() && c.on_idle_) c.on_idle_();
    return 0;
  }

  static ssize_t read_body(nghttp2_session* /*session*/, std::int32_t /*id*/, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void* /*user*/) {
    auto& s = *static_cast<H2Stream*>(source->ptr);
    if (!s.attached) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    const std::size_t n = std::min(length, s.body.size() - s.body_sent);
    std::copy_n(s.body.data() + s.body_sent, n, buf);
    s.body_sent += n;
    if (s.body_sent == s.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

namespace {

nghttp2_session_callbacks* callbacks() {
  static nghttp2_session_callbacks* const cbs = [] {
    nghttp2_session_callbacks* c = nullptr;
    if (nghttp2_session_callbacks_new(&c) != 0) throw std::bad_alloc();
    nghttp2_session_callbacks_set_on_header_callback(c, &H2Callbacks::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, &H2Callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, &H2Callbacks::on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(c, &H2Callbacks::on_stream_close);
    return c;
  }();
  return cbs;
}

nghttp2_option* options() {
  static nghttp2_option* const opts = [] {
    nghttp2_option* o = nullptr;
    if (nghttp2_option_new(&o) != 0) throw std::bad_alloc();
    // Windows are given back as the client takes the bytes (consume()), not on arrival.
    nghttp2_option_set_no_auto_window_update(o, 1);
    // Until the provider's SETTINGS say otherwise, assume the common limit (RFC 9113
    // recommends no less than 100), not "unlimited".
    nghttp2_option_set_peer_max_concurrent_streams(o, 100);
    // Closed streams are not kept for the priority tree (we send no priorities): a burst of
    // streams leaves nothing behind.
    nghttp2_option_set_no_closed_streams(o, 1);
    return o;
  }();
  return opts;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// H2Session

H2Session::H2Session(asio::any_io_executor executor, const H2Settings& settings,
                     std::function<void()> on_idle)
    : executor_(std::move(executor)),
      settings_(settings),
      on_idle_(std::move(on_idle)),
      last_frame_(Clock::now()) {
  if (nghttp2_session_client_new2(&session_, callbacks(), this, options()) != 0) {
    throw std::bad_alloc();
  }
  const std::array<nghttp2_settings_entry, 4> entries{{
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<std::uint32_t>(std::min<std::size_t>(settings.max_header_bytes, 1u << 24))},
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 0},  // we accept no pushed streams
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries.data(), entries.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

H2Session::~H2Session() {
  on_idle_ = nullptr;
  nghttp2_session_del(session_);
}

bool H2Session::can_take() const noexcept {
  if (goaway_ || draining_) return false;
  const std::size_t limit = std::min<std::size_t>(
      settings_.max_streams,
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
  return streams_.size() < limit;
}

bool H2Session::finished() const noexcept {
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

std::shared_ptr<H2Stream> H2Session::submit(const Attempt& attempt) {
  // Lower-case names (HTTP/2 requires them), in one arena sized first so that no view into
  // it moves.
  using Fields = std::vector<std::pair<std::string_view, std::string_view>>;
  Fields given;
  given.reserve(24);
  headers::for_each_upstream_header(
      attempt,
      [](void* user, std::string_view name, std::string_view value) {
        static_cast<Fields*>(user)->emplace_back(name, value);
      },
      &given);
  std::size_t arena_size = 0;
  for (const auto& f : given) arena_size += f.first.size();
  std::string arena;
  arena.reserve(arena_size);

  const UpstreamTarget& target = attempt.target;
  const std::string authority = target.host_header();
  const std::string length = std::to_string(attempt.request.body().size());
  Fields fields;
  fields.reserve(given.size() + 5);
  fields.emplace_back(":method", attempt.request.method_string());
  fields.emplace_back(":scheme", "https");
  fields.emplace_back(":authority", authority);
  fields.emplace_back(":path", target.target);
  for (const auto& [name, value] : given) {
    const std::size_t at = arena.size();
    for (const char ch : name) {
      arena.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch | 0x20) : ch);
    }
    const std::string_view lower(arena.data() + at, name.size());
    if (!is_connection_specific(lower, value)) fields.emplace_back(lower, value);
  }
  if (headers::upstream_request_has_length(attempt)) fields.emplace_back("content-length", length);
  return submit(fields, attempt.request.body());
}

std::shared_ptr<H2Stream> H2Session::submit(
    const std::vector<std::pair<std::string_view, std::string_view>>& fields,
    std::string_view body) {
  if (goaway_ || draining_) return nullptr;
  std::vector<nghttp2_nv> nva;
  nva.reserve(fields.size());
  for (const auto& [n, v] : fields) {
    // Credentials are never indexed (is_credential): nghttp2 copies the fields.
    nva.push_back(nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                             reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                             v.size(),
                             static_cast<std::uint8_t>(is_credential(n) ? NGHTTP2_NV_FLAG_NO_INDEX
                                                                        : NGHTTP2_NV_FLAG_NONE)});
  }
  auto stream = std::make_shared<H2Stream>(executor_);
  stream->body = body;
  nghttp2_data_provider provider{};
  provider.source.ptr = stream.get();
  provider.read_callback = &H2Callbacks::read_body;
  const std::int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                                 body.empty() ? nullptr : &provider, stream.get());
  if (id < 0) return nullptr;
  stream->id = id;
  streams_.emplace(id, stream);
  return stream;
}

bool H2Session::receive(const std::uint8_t* data, std::size_t size, std::string& why) {
  const ssize_t used = nghttp2_session_mem_recv(session_, data, size);
  if (used >= 0) return true;
  why = std::string("the provider broke HTTP/2: ") + nghttp2_strerror(static_cast<int>(used));
  return false;
}

bool H2Session::produce(std::string& out, std::string& why) {
  for (;;) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      why = std::string("HTTP/2 framing failed: ") + nghttp2_strerror(static_cast<int>(n));
      return false;
    }
    if (n == 0) return true;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
}

void H2Session::consume(H2Stream& stream, std::size_t n) {
  if (n > 0) nghttp2_session_consume(session_, stream.id, n);
}

void H2Session::release(H2Stream& stream, bool completed) {
  if (completed) ++completed_;
  stream.attached = false;
  stream.body = {};
  // Bytes received and never relayed still count against the connection's window.
  if (!stream.data.empty()) nghttp2_session_consume(session_, stream.id, stream.data.size());
  std::string().swap(stream.data);
  if (!stream.closed) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_CANCEL);
  }
}

void H2Session::terminate() { nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR); }

void H2Session::fail_streams(const std::string& why) {
  // The map lets go of them (their attempts still hold theirs).
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    s->closed = true;
    s->connection_error = why;
    if (s->attached) s->signal.cancel();
  }
}

// ---------------------------------------------------------------------------------------
// H2Connection

H2Connection::H2Connection(asio::io_context& io, std::unique_ptr<net::TlsStream> tls,
                           std::string key, const Settings& settings)
    : io_(io),
      key_(std::move(key)),
      tls_(std::move(tls)),
      settings_(settings),
      session_(io.get_executor(), settings, [this] { on_idle(); }),
      idle_(io) {
  // Tickets that arrive later are kept under this connection's copy of the name.
  TlsSessionCache::rename(tls_->native_handle(), &key_);
}

std::shared_ptr<H2Connection> H2Connection::start(asio::io_context& io,
                                                  std::unique_ptr<net::TlsStream> tls,
                                                  std::string key, const Settings& settings) {
  std::shared_ptr<H2Connection> c(new H2Connection(io, std::move(tls), std::move(key), settings));
  c->flush();  // the preface and our SETTINGS
  asio::co_spawn(io, c->read_loop(c), asio::detached);
  return c;
}

std::shared_ptr<H2Stream> H2Connection::submit(const Attempt& attempt) {
  if (dead_) return nullptr;
  auto stream = session_.submit(attempt);
  if (stream) flush();
  return stream;
}

void H2Connection::consume(H2Stream& stream, std::size_t n) {
  if (dead_) return;
  session_.consume(stream, n);
  flush();
}

void H2Connection::release(H2Stream& stream, bool completed) {
  if (dead_) {
    stream.attached = false;
    return;
  }
  session_.release(stream, completed);
  flush();
}

void H2Connection::close() {
  if (dead_) return;
  session_.terminate();
  flush();
  fail("connection closed by the gateway");
}

void H2Connection::shutdown() {
  session_.stop_taking();
  if (session_.open_streams() == 0) close();
}

void H2Connection::fail(const std::string& why) {
  if (dead_) return;
  dead_ = true;
  session_.fail_streams(why);
  error_code ignored;
  tls_->next_layer().close(ignored);
  idle_.cancel();
  std::string().swap(out_);
}

void H2Connection::on_idle() {
  if (dead_) return;
  // Called from nghttp2's callback (inside receive()): nothing here may close the connection
  // before nghttp2 has returned.
  if (session_.draining()) {
    asio::post(io_, [self = shared_from_this()] { self->close(); });
    return;
  }
  idle_since_ = Clock::now();
  if (!idle_armed_) arm_idle(settings_.idle_timeout);
}

void H2Connection::arm_idle(Duration after) {
  // One wait at a time, checked when it fires: a connection that has been busy since waits
  // for the rest of its idle time from its last stream (not a timer reset per request).
  idle_armed_ = true;
  idle_.expires_after(after);
  idle_.async_wait([weak = weak_from_this()](const error_code& ec) {
    auto self = weak.lock();
    if (!self) return;
    self->idle_armed_ = false;
    if (ec || self->dead_ || self->session_.open_streams() != 0) return;
    const auto idle = Clock::now() - self->idle_since_;
    if (idle >= self->settings_.idle_timeout) {
      self->close();
    } else {
      self->arm_idle(std::chrono::duration_cast<Duration>(self->settings_.idle_timeout - idle) +
                     Duration(1));
    }
  });
}

void H2Connection::flush() {
  if (dead_ || writing_) return;  // the writer sends what is queued when the socket drains
  for (;;) {
    if (out_.empty()) {
      // Everything nghttp2 has, in one buffer: one TLS record and one send for a request's
      // HEADERS and DATA, or for a batch of WINDOW_UPDATEs.
      std::string why;
      if (!session_.produce(out_, why)) {
        fail(why);
        return;
      }
      if (out_.empty()) return;
    }
    error_code ec;
    const std::size_t n = tls_->try_write(asio::buffer(out_), ec);
    if (ec == asio::error::would_block) {
      writing_ = true;
      asio::co_spawn(io_, write_loop(shared_from_this()), asio::detached);
      return;
    }
    if (ec) {
      fail("writing to the provider failed: " + ec.message());
      return;
    }
    out_.erase(0, n);
    if (out_.empty() && out_.capacity() > kReadBuffer) std::string().swap(out_);
  }
}

// `self` keeps the connection alive while the coroutine runs.
asio::awaitable<void> H2Connection::write_loop(std::shared_ptr<H2Connection> /*self*/) {
  while (!dead_) {
    error_code ec;
    const std::size_t n = tls_->try_write(asio::buffer(out_), ec);
    if (ec == asio::error::would_block) {
      if (auto wec = co_await tls_->wait()) {
        fail("writing to the provider failed: " + wec.message());
        break;
      }
      continue;
    }
    if (ec) {
      fail("writing to the provider failed: " + ec.message());
      break;
    }
    out_.erase(0, n);
    if (!out_.empty()) continue;
    writing_ = false;
    flush();  // what nghttp2 queued meanwhile
    break;
  }
  writing_ = false;
}

asio::awaitable<void> H2Connection::read_loop(std::shared_ptr<H2Connection> /*self*/) {
  thread_local std::unique_ptr<std::uint8_t[]> buffer;
  if (!buffer) buffer = std::make_unique_for_overwrite<std::uint8_t[]>(kReadBuffer);
  while (!dead_) {
    error_code ec;
    const std::size_t n = tls_->try_read(asio::buffer(buffer.get(), kReadBuffer), ec);
    if (ec == asio::error::would_block) {
      if (session_.finished()) {
        fail("the provider ended the connection (GOAWAY)");
        break;
      }
      ec = co_await tls_->wait();
      if (!ec) continue;
    }
    if (ec) {
      fail(ec == asio::error::eof ? "the provider closed the connection"
                                  : "reading from the provider failed: " + ec.message());
      break;
    }
    std::string why;
    if (!session_.receive(buffer.get(), n, why)) {
      flush();  // nghttp2 queued a GOAWAY saying what was wrong
      fail(why);
      break;
    }
    flush();
  }
  co_return;
}

}  // namespace aigw
