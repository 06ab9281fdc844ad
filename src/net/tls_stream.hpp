#pragma once
// A TLS client connection whose records OpenSSL reads and writes on the socket itself.
//
// Asio's ssl::stream passes every byte through a BIO pair and two staging vectors of 17 KB
// each: with OpenSSL's own record buffers that is about 70 KB per upstream connection, held for
// its whole life, and each record is copied twice on its way. Here the SSL object works on the
// non-blocking socket through a BIO of ours; when OpenSSL would block, the coroutine waits
// for the socket to become readable or writable (a reactor wait, no buffer), then calls
// OpenSSL again. With SSL_MODE_RELEASE_BUFFERS (set by make_ssl) a connection with nothing to
// read, such as a stream between two events, holds no record buffer at all
// (bench/README.md, "Open streams").
//
// One thread per stream, as everything on a worker. A deadline or a cancel may close the
// socket while an operation waits: every call checks first, and the BIO asks the socket for
// its descriptor each time (-1 once closed), so OpenSSL never reaches a descriptor number the
// kernel has given to another connection since.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <openssl/ssl.h>

#include <cstddef>
#include <utility>

namespace aigw::net {

class TlsStream {
 public:
  // A client SSL object on `context`. The socket is opened and connected later, through
  // next_layer(), then handshake() binds the SSL object to it.
  TlsStream(boost::asio::io_context& io, SSL_CTX* context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  boost::asio::ip::tcp::socket& next_layer() noexcept { return socket_; }
  SSL* native_handle() noexcept { return ssl_; }

  // The client handshake, on the connected socket (non-blocking from here on). Errors: the
  // socket's, or OpenSSL's (boost::asio::error::get_ssl_category()).
  boost::asio::awaitable<boost::system::error_code> handshake();

  // One attempt each, without waiting. would_block: OpenSSL needs the socket readable (or
  // writable: TLS may write while reading, and read while writing); co_await wait(), then try
  // again with the same arguments. A read at the peer's close_notify fails with eof, at a
  // close without one with ssl::error::stream_truncated. A write may take part of `data`.
  std::size_t try_read(boost::asio::mutable_buffer buffer, boost::system::error_code& ec);
  std::size_t try_write(boost::asio::const_buffer data, boost::system::error_code& ec);
  boost::asio::awaitable<boost::system::error_code> wait();

  // Decrypted bytes OpenSSL holds that no read has taken yet.
  std::size_t pending() const noexcept;

 private:
  // After an OpenSSL call failed with `result`: would_block (want_write_ says for what), or
  // how it failed.
  boost::system::error_code failure(int result);
  // One OpenSSL read or write of `size` bytes, `call(done)`, with the checks both need.
  template <class Call>
  std::size_t attempt(std::size_t size, boost::system::error_code& ec, Call call);

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_;
  bool want_write_ = false;
};

}  // namespace aigw::net
