#pragma once
// The I/O the request path does on its sockets, with the fewest trips through the scheduler.
//
// - Parsing runs on bytes already buffered first; a read is started only when the parser
//   needs more. Beast's composed async_read ops post their completion even when the bytes
//   were already there.
// - Writes to a plain TCP socket are tried once without waiting (try_write; the socket is in
//   non-blocking mode); only what the kernel did not take goes through an async write.
// - Timeouts come from a net::Deadline on the socket: a helper that finds the deadline passed
//   fails with beast::error::timeout, and a read it cancelled is reported the same way.

#include "net/deadline.hpp"
#include "net/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace aigw::net {

namespace detail {

inline boost::system::error_code timeout_or(const Deadline& deadline,
                                            const boost::system::error_code& ec) {
  if (deadline.expired()) return boost::beast::error::timeout;
  return ec;
}

struct NoIdle {
  void operator()() const noexcept {}
};

// Reads some bytes into `buffer`. A TLS stream tries at once and waits only when OpenSSL asks
// to. A plain socket in non-blocking mode does the same when an `idle` hook is given: before
// waiting, idle() runs and `buffer` gives its storage back, so a stream between two events
// holds no read buffer. Otherwise Asio's async_read_some (which also tries first).
template <class Stream, class Idle>
boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_into(
    Stream& stream, boost::beast::flat_buffer& buffer, std::size_t size, Idle& idle) {
  constexpr bool release = !std::is_same_v<Idle, NoIdle>;
  boost::system::error_code ec;
  for (;;) {
    std::size_t n = 0;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      n = stream.try_read(buffer.prepare(size), ec);
    } else {
      if (!release || !stream.non_blocking()) {
        auto [rec, got] = co_await stream.async_read_some(
            buffer.prepare(size), boost::asio::as_tuple(boost::asio::use_awaitable));
        co_return std::pair{rec, got};
      }
      n = stream.read_some(buffer.prepare(size), ec);
    }
    if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
      co_return std::pair{ec, n};
    }
    if constexpr (release) {
      idle();
      // Usually empty; else a few bytes the parser has not taken yet (a chunk's closing
      // CRLF waits for the next chunk's size line), kept in an allocation of their size.
      buffer.shrink_to_fit();
    }
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      ec = co_await stream.wait();
    } else {
      auto [wec] = co_await stream.async_wait(boost::asio::socket_base::wait_read,
                                              boost::asio::as_tuple(boost::asio::use_awaitable));
      ec = wec;
    }
    if (ec) co_return std::pair{ec, std::size_t{0}};
  }
}

}  // namespace detail

// Lets every other ready handler run once before this coroutine goes on. Used between writing
// a message and reading its answer: Asio tries every read at once, and right after our write
// the answer cannot be there yet, so that try is a wasted syscall (EAGAIN). After one round
// through the scheduler (other connections' work) it usually is there. Measured: two futile
// recv per proxied request under load without it (bench/README.md).
inline boost::asio::awaitable<void> yield_before_read() {
  co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
}

// Feeds the buffered bytes to `parser` and, while it needs more, reads once more from
// `stream` and feeds again. Returns after one successful put() (same contract as Beast's
// http::read_some): the header, or some body. At end of stream: end_of_stream if nothing of
// this message arrived, else whatever put_eof() says (a close-delimited body ends cleanly).
//
// `max_pending` bounds the bytes the parser may leave unconsumed while it waits for the end
// of a line: past it, http::error::header_limit. Beast bounds the header itself
// (header_limit) and the body (body_limit), but not a chunk-size line with its extensions,
// nor the trailer section: without this bound a peer sending "5;a=xxxx..." with no CRLF
// grows `buffer` until memory runs out. Body bytes are consumed as they arrive, so what stays
// buffered on need_more is always one unfinished line or header block.
//
// `idle` (a response body being relayed): called before the read waits for the peer, which
// then holds no read buffer of ours (detail::read_into); the body's buffer may be released
// too, as the parser then asks for one (need_buffer) before it takes body bytes.
template <class Stream, bool isRequest, class Idle = detail::NoIdle>
boost::asio::awaitable<boost::system::error_code> read_some(
    Stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::basic_parser<isRequest>& parser, const Deadline& deadline,
    std::size_t max_pending, Idle idle = {}) {
  namespace http = boost::beast::http;
  constexpr bool kRelease = !std::is_same_v<Idle, detail::NoIdle>;
  // A buffer released while idle would otherwise be read into 512 bytes at a time.
  constexpr std::size_t kMinRead = kRelease ? 8192 : 0;
  boost::system::error_code ec;
  if (buffer.size() > 0) {
    buffer.consume(parser.put(buffer.data(), ec));
    if (ec != http::error::need_more) co_return ec;
    if (buffer.size() >= max_pending) co_return http::error::header_limit;
  }
  for (;;) {
    if (deadline.expired()) co_return boost::beast::error::timeout;
    const std::size_t size = std::max(boost::beast::read_size(buffer, 65536), kMinRead);
    if (size == 0) co_return boost::beast::http::error::buffer_overflow;
    auto [rec, n] = co_await detail::read_into(stream, buffer, size, idle);
    buffer.commit(n);
    if (rec == boost::asio::error::eof) {
      if (!parser.got_some()) co_return http::error::end_of_stream;
      ec = {};
      parser.put_eof(ec);
      co_return ec;
    }
    if (rec) co_return detail::timeout_or(deadline, rec);
    buffer.consume(parser.put(buffer.data(), ec));
    if (ec != http::error::need_more) co_return ec;
    if (buffer.size() >= max_pending) co_return http::error::header_limit;
  }
}

// Reads until the parser has the whole header.
template <class Stream, bool isRequest>
boost::asio::awaitable<boost::system::error_code> read_header(
    Stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::basic_parser<isRequest>& parser, const Deadline& deadline,
    std::size_t max_pending) {
  while (!parser.is_header_done()) {
    if (auto ec = co_await read_some(stream, buffer, parser, deadline, max_pending)) co_return ec;
  }
  co_return boost::system::error_code{};
}

// Reads until the parser has the whole message (eager: one put() takes every buffered chunk).
template <class Stream, bool isRequest>
boost::asio::awaitable<boost::system::error_code> read_message(
    Stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::basic_parser<isRequest>& parser, const Deadline& deadline,
    std::size_t max_pending) {
  parser.eager(true);
  while (!parser.is_done()) {
    if (auto ec = co_await read_some(stream, buffer, parser, deadline, max_pending)) co_return ec;
  }
  co_return boost::system::error_code{};
}

// One write that does not wait, on a socket in non-blocking mode. True when it settled the
// write: all of `buffers` went out, or `ec` is a hard error. False: the kernel took only
// `written` bytes; pass them as `skip` to write() for the rest. Not a coroutine, so a response
// that fits the socket buffer costs one syscall and no suspension.
template <class ConstBufferSequence>
bool try_write(tcp::socket& socket, const ConstBufferSequence& buffers, std::size_t& written,
               boost::system::error_code& ec) {
  written = socket.write_some(buffers, ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    ec = {};
    written = 0;
    return false;
  }
  return ec || written == boost::asio::buffer_size(buffers);
}

// Writes `buffers` after their first `skip` bytes, waiting as long as the deadline allows.
template <class Stream, class ConstBufferSequence>
boost::asio::awaitable<boost::system::error_code> write(Stream& stream,
                                                        const ConstBufferSequence& buffers,
                                                        const Deadline& deadline,
                                                        std::size_t skip = 0) {
  if (deadline.expired()) co_return boost::beast::error::timeout;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    // Each buffer as TLS records (a request's head and body usually come as one buffer).
    boost::beast::buffers_suffix<ConstBufferSequence> rest(buffers);
    rest.consume(skip);
    for (const boost::asio::const_buffer piece : boost::beast::buffers_range_ref(rest)) {
      boost::asio::const_buffer left = piece;
      while (left.size() > 0) {
        boost::system::error_code ec;
        left += stream.try_write(left, ec);
        if (ec == boost::asio::error::would_block) ec = co_await stream.wait();
        if (ec) co_return detail::timeout_or(deadline, ec);
      }
    }
    co_return boost::system::error_code{};
  } else {
    constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    if (skip == 0) {
      auto [ec, n] = co_await boost::asio::async_write(stream, buffers, kTuple);
      co_return detail::timeout_or(deadline, ec);
    }
    boost::beast::buffers_suffix<ConstBufferSequence> rest(buffers);
    rest.consume(skip);
    auto [ec, n] = co_await boost::asio::async_write(stream, rest, kTuple);
    co_return detail::timeout_or(deadline, ec);
  }
}

}  // namespace aigw::net
