#pragma once
// HTTP/2 to providers: many requests of one worker over one TLS connection.
//
// A TLS connection whose handshake chose "h2" (ALPN; offered when upstream.http2 is on)
// becomes an H2Connection. nghttp2 does the framing, HPACK and flow control; the I/O is ours,
// on the connection's net::TlsStream:
//
// - one reader coroutine per connection reads records, hands the bytes to nghttp2 and, from
//   its callbacks, fills each stream's H2Stream (head, body bytes, end, reset) and wakes the
//   attempt waiting on it. Between two frames it holds no buffer (the worker's one read
//   buffer is shared, and TlsStream::wait gives OpenSSL's back);
// - what nghttp2 has to send (requests, WINDOW_UPDATE, RST_STREAM, SETTINGS acks) is written
//   at once by whoever caused it (flush()); only when the socket is full does a writer
//   coroutine wait for it to drain;
// - flow control follows the client: a stream's window is given back (consume()) only after
//   its bytes were written to the client, so a slow client holds at most one window (64 KiB)
//   of its stream at the gateway, and the provider waits instead.
//
// What an open stream costs here is its H2Stream and nghttp2's stream (well under 1 KB) in
// place of a TLS connection of its own (about 13 KB of OpenSSL state; bench/README.md,
// "Open streams"). One thread per connection, as everything on a worker.

#include "aigw/attempt.hpp"
#include "aigw/config.hpp"

#include "net/tls_stream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

struct nghttp2_session;

namespace aigw {

// One request on an H2Connection, as its attempt sees it. Written by the connection's
// callbacks; the attempt reads it after each wake-up (wait()).
struct H2Stream {
  explicit H2Stream(boost::asio::any_io_executor executor) : signal(std::move(executor)) {}

  std::int32_t id = -1;
  // The request body nghttp2 reads from (the attempt's, alive while `attached`).
  std::string_view body;
  std::size_t body_sent = 0;
  // False once the attempt has left: bytes that still arrive are dropped (and their window
  // given back), the body is no longer read.
  bool attached = true;

  http::response_header<> head;
  unsigned status = 0;
  bool interim = false;          // the header block being read is a 1xx
  bool head_done = false;        // the final response's header block is complete
  std::size_t header_bytes = 0;  // of the final header block, bounded
  bool header_overflow = false;
  std::string data;    // body bytes received, not yet relayed
  bool ended = false;  // END_STREAM received: `data` is the rest of the body
  bool closed = false;
  std::uint32_t close_code = 0;  // nghttp2's error code when it closed (0: NO_ERROR)
  // The provider did not process the request (REFUSED_STREAM, or above a GOAWAY's last
  // stream): it may be sent again, on another connection.
  bool refused = false;
  // The connection failed while this stream was open (its error, for the log).
  std::string connection_error;
  bool got_frame = false;  // anything of the response arrived

  // Expires at the attempt's deadline; the connection cancels it to wake the attempt.
  boost::asio::steady_timer signal;
  // Waits until woken or `deadline`; the caller then looks at the state again.
  boost::asio::awaitable<void> wait(std::chrono::steady_clock::time_point deadline);
};

struct H2Settings {
  std::size_t max_streams = 100;  // ours; the provider's SETTINGS may lower it
  std::size_t max_header_bytes = 64 * 1024;
  Duration idle_timeout{std::chrono::seconds(60)};
};

// The protocol state of one HTTP/2 client connection, without its I/O: nghttp2's session and
// the streams open on it. Bytes from the provider go in through receive(), what to send comes
// out of produce(). fuzz/h2_session_fuzz.cpp drives it with arbitrary provider bytes.
class H2Session {
 public:
  // `on_idle` runs (from receive()) when the last open stream has closed.
  H2Session(boost::asio::any_io_executor executor, const H2Settings& settings,
            std::function<void()> on_idle);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // A stream slot free, no GOAWAY received, not closing.
  bool can_take() const noexcept;
  std::size_t open_streams() const noexcept { return streams_.size(); }
  std::uint64_t completed() const noexcept { return completed_; }
  std::chrono::steady_clock::time_point last_frame() const noexcept { return last_frame_; }
  // Both sides are done (after a GOAWAY, every stream closed): the connection can go.
  bool finished() const noexcept;

  // `attempt`'s request as a new stream; null when the session takes no new stream.
  std::shared_ptr<H2Stream> submit(const Attempt& attempt);
  // A request from its header fields (lower-case names, pseudo-headers first) and body.
  std::shared_ptr<H2Stream> submit(
      const std::vector<std::pair<std::string_view, std::string_view>>& fields,
      std::string_view body);
  // Bytes read from the provider. False on a protocol error (`why`): the connection must end
  // after what produce() still gives (a GOAWAY saying so) is sent.
  bool receive(const std::uint8_t* data, std::size_t size, std::string& why);
  // Appends what nghttp2 has to send to `out`. False on failure (`why`).
  bool produce(std::string& out, std::string& why);
  // `n` bytes of the stream's body reached the client: its window opens by as much.
  void consume(H2Stream& stream, std::size_t n);
  // The attempt leaves: a stream still open is reset (CANCEL); what still arrives is dropped.
  void release(H2Stream& stream, bool completed);
  // No new stream from now on (drain).
  void stop_taking() noexcept { draining_ = true; }
  bool draining() const noexcept { return draining_; }
  // Queues a GOAWAY (NO_ERROR) ending the session.
  void terminate();
  // The connection ended: every open stream is closed with `why`.
  void fail_streams(const std::string& why);

 private:
  friend struct H2Callbacks;
  boost::asio::any_io_executor executor_;
  H2Settings settings_;
  std::function<void()> on_idle_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::shared_ptr<H2Stream>> streams_;
  bool goaway_ = false;
  bool draining_ = false;
  std::uint64_t completed_ = 0;
  std::chrono::steady_clock::time_point last_frame_;
};

// An H2Session on a TLS connection: its reader and writer.
class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  using Settings = H2Settings;

  // Takes over a TLS connection whose handshake chose h2, sends the connection preface and
  // starts the reader. `key` is the pool key (provider + address).
  static std::shared_ptr<H2Connection> start(boost::asio::io_context& io,
                                             std::unique_ptr<net::TlsStream> tls, std::string key,
                                             const Settings& settings);
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  const std::string& key() const noexcept { return key_; }
  bool can_take() const noexcept { return !dead_ && session_.can_take(); }
  bool alive() const noexcept { return !dead_; }
  // Requests completed on this connection (a new one has 0: a failure there is not stale).
  std::uint64_t completed() const noexcept { return session_.completed(); }
  std::size_t open_streams() const noexcept { return session_.open_streams(); }

  std::shared_ptr<H2Stream> submit(const Attempt& attempt);
  // `n` bytes of the stream's body were written to the client: the provider may send more.
  void consume(H2Stream& stream, std::size_t n);
  // The attempt leaves (H2Session::release).
  void release(H2Stream& stream, bool completed);
  // Closes the connection (idle, or presumed dead): GOAWAY, then the socket.
  void close();
  // Drain: no new stream; closed once the open ones have finished.
  void shutdown();
  // Nothing at all arrived on the connection since `since`.
  bool silent_since(std::chrono::steady_clock::time_point since) const noexcept {
    return session_.last_frame() < since;
  }

 private:
  H2Connection(boost::asio::io_context& io, std::unique_ptr<net::TlsStream> tls, std::string key,
               const Settings& settings);
  boost::asio::awaitable<void> read_loop(std::shared_ptr<H2Connection> self);
  boost::asio::awaitable<void> write_loop(std::shared_ptr<H2Connection> self);
  // Writes what nghttp2 has to send, without waiting; the writer takes over a full socket.
  void flush();
  // The connection ended (`why`): every open stream learns it, the socket closes.
  void fail(const std::string& why);
  // The last stream closed: closed after the idle timeout (or now, when draining).
  void on_idle();
  void arm_idle(Duration after);

  boost::asio::io_context& io_;
  std::string key_;  // before tls_: its SSL object names its sessions with it until freed
  std::unique_ptr<net::TlsStream> tls_;
  Settings settings_;
  H2Session session_;
  std::string out_;  // bytes nghttp2 produced that the socket has not taken yet
  bool writing_ = false;
  bool dead_ = false;
  bool idle_armed_ = false;
  std::chrono::steady_clock::time_point idle_since_;
  boost::asio::steady_timer idle_;
};

}  // namespace aigw
