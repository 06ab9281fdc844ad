#include "net/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>

#include <cerrno>
#include <new>
#include <sys/socket.h>

namespace aigw::net {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE on a connection the peer has
// closed, and keeps the descriptor's number for the SSL object's life. This one sends with
// MSG_NOSIGNAL and asks the Asio socket for its descriptor at each call: once the socket is
// closed that is -1, never a number the kernel has given to another connection since.
tcp::socket& socket_of(BIO* bio) { return *static_cast<tcp::socket*>(BIO_get_data(bio)); }

int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  const ssize_t n =
      ::send(socket_of(bio).native_handle(), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(bio);
  return -1;
}

int bio_read(BIO* bio, char* out, int size) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::recv(socket_of(bio).native_handle(), out, static_cast<std::size_t>(size), 0);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(bio);
  return -1;
}

long bio_ctrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered here
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "aigw socket");
    if (m == nullptr || BIO_meth_set_write(m, bio_write) != 1 ||
        BIO_meth_set_read(m, bio_read) != 1 || BIO_meth_set_ctrl(m, bio_ctrl) != 1 ||
        BIO_meth_set_create(m, bio_create) != 1) {
      throw std::bad_alloc();
    }
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(asio::io_context& io, SSL_CTX* context) : socket_(io), ssl_(SSL_new(context)) {
  if (ssl_ == nullptr) throw std::bad_alloc();
  // A connection waiting for its next record gives its buffers back (a stream between two
  // events, a pooled connection). Writes may complete in parts (try_write reports them).
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE);
  // A read takes what the socket has, up to a record buffer, in one recv: not a record's
  // 5-byte header and then its body in two.
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_connect_state(ssl_);
}

TlsStream::~TlsStream() {
  // No close_notify (nor did Asio's stream send one unless asked): the socket closes next.
  // The BIO leaves the descriptor to the socket.
  SSL_free(ssl_);
}

std::size_t TlsStream::pending() const noexcept {
  return static_cast<std::size_t>(SSL_pending(ssl_));
}

error_code TlsStream::failure(int result) {
  const int error = SSL_get_error(ssl_, result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    want_write_ = error == SSL_ERROR_WANT_WRITE;
    ERR_clear_error();
    return asio::error::would_block;
  }
  if (error == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  const int saved = errno;
  const unsigned long queued = ERR_get_error();
  ERR_clear_error();
  if (error == SSL_ERROR_SYSCALL && queued == 0) {
    // The peer closed without close_notify (OpenSSL 1.1 says so here; 3.x as below).
    if (saved == 0) return asio::ssl::error::stream_truncated;
    return error_code(saved, asio::error::get_system_category());
  }
  if (ERR_GET_LIB(queued) == ERR_LIB_SSL &&
      ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return asio::ssl::error::stream_truncated;
  }
  if (queued == 0) return asio::error::fault;  // OpenSSL failed without saying why
  return error_code(static_cast<int>(queued), asio::error::get_ssl_category());
}

template <class Call>
std::size_t TlsStream::attempt(std::size_t size, error_code& ec, Call call) {
  ec = {};
  if (!socket_.is_open()) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  if (size == 0) return 0;
  std::size_t done = 0;
  ERR_clear_error();  // SSL_get_error reads the queue: nothing stale in it
  const int result = call(done);
  if (result == 1) return done;
  ec = failure(result);
  return 0;
}

std::size_t TlsStream::try_read(asio::mutable_buffer buffer, error_code& ec) {
  return attempt(buffer.size(), ec, [&](std::size_t& got) {
    return SSL_read_ex(ssl_, buffer.data(), buffer.size(), &got);
  });
}

std::size_t TlsStream::try_write(asio::const_buffer data, error_code& ec) {
  return attempt(data.size(), ec, [&](std::size_t& done) {
    return SSL_write_ex(ssl_, data.data(), data.size(), &done);
  });
}

asio::awaitable<error_code> TlsStream::wait() {
  // The read that found nothing has just allocated a record buffer (16 KB and more) to read
  // into; SSL_MODE_RELEASE_BUFFERS frees it only after a record is consumed. Waiting may last
  // the seconds between two events of a stream: give it back now (a no-op when it holds
  // bytes).
  if (!want_write_) SSL_free_buffers(ssl_);
  // Safe after would_block only: the socket is registered edge-triggered, and the try that
  // found nothing guarantees the next arrival is a new edge.
  auto [ec] = co_await socket_.async_wait(
      want_write_ ? asio::ip::tcp::socket::wait_write : asio::ip::tcp::socket::wait_read, kTuple);
  if (!ec && !socket_.is_open()) ec = asio::error::operation_aborted;
  co_return ec;
}

asio::awaitable<error_code> TlsStream::handshake() {
  error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) co_return ec;
  BIO* bio = BIO_new(socket_method());
  if (bio == nullptr) co_return asio::error::no_memory;
  BIO_set_data(bio, &socket_);
  SSL_set_bio(ssl_, bio, bio);  // one reference, for reading and writing
  for (;;) {
    if (!socket_.is_open()) co_return asio::error::operation_aborted;
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl_);
    if (result == 1) co_return error_code{};
    ec = failure(result);
    if (ec != asio::error::would_block) co_return ec;
    if (auto wec = co_await wait()) co_return wec;
  }
}

}  // namespace aigw::net
