#include "upstream/client.hpp"

#include "http/headers.hpp"
#include "net/io.hpp"
#include "upstream/errors.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_cat.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <span>
#include <string>
#include <sys/socket.h>
#include <type_traits>
#include <variant>

namespace aigw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using upstream::endpoint_of;
using upstream::ms_text;
using upstream::upstream_error;

// Relay buffer per in-flight response. Small on purpose: memory per stream stays flat, and
// SSE events are far smaller than this.
constexpr std::size_t kRelayBuffer = 8 * 1024;
// A turned-away response whose body is at most this long, and arrives within kDrainWait, is
// read to its end so that its connection can be pooled (see exchange()).
constexpr std::uint64_t kDrainLimit = 64 * 1024;
constexpr Duration kDrainWait{std::chrono::seconds(1)};
// Request bodies up to this size are sent to a TLS upstream in the head's buffer.
constexpr std::size_t kCoalesceLimit = 16 * 1024;

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Errors that mean "the connection was already dead when we reused it": nothing reached the
// provider's application, so a fresh connection may be tried once.
bool is_stale_connection_error(const error_code& ec) {
  return ec == asio::error::eof || ec == http::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

Error read_error(const error_code& ec, const Attempt& attempt, const Duration& first_byte) {
  std::string where = endpoint_of(attempt.target);
  if (ec == beast::error::timeout) {
    return upstream_error(
        ErrorCode::kUpstreamTimeout,
        "provider " + attempt.slug + " sent no response within " + ms_text(first_byte),
        std::move(where));
  }
  if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return upstream_error(
        ErrorCode::kUpstreamProtocol,
        "provider " + attempt.slug + " sent an invalid HTTP response: " + ec.message(),
        std::move(where));
  }
  return upstream_error(
      ErrorCode::kUpstreamReset,
      "provider " + attempt.slug + " closed the connection before responding: " + ec.message(),
      std::move(where));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// UpstreamClient

UpstreamClient::UpstreamClient(asio::io_context& io, std::shared_ptr<const Config> config,
                               std::shared_ptr<const TlsContexts> tls)
    : io_(io),
      config_(std::move(config)),
      tls_(std::move(tls)),
      pool_(io, config_->upstream.pool_max_idle_per_host, config_->upstream.pool_idle_timeout) {}

void UpstreamClient::serve_with(std::shared_ptr<const Config> config,
                                std::shared_ptr<const TlsContexts> tls) {
  config_ = std::move(config);
  tls_ = std::move(tls);
}

asio::awaitable<Result<std::unique_ptr<UpstreamConnection>>> UpstreamClient::connect(
    const Attempt& attempt, const Timeouts& timeouts, std::string key, bool offer_h2,
    std::function<void()>& cancel_current) {
  using namespace asio::experimental::awaitable_operators;
  const UpstreamTarget& target = attempt.target;
  const std::string endpoint = endpoint_of(target);
  const std::string who = "provider " + attempt.slug;

  // An IP literal (a local server, a test) needs no resolver: that saves a hand-off to the
  // resolver thread and back on every new connection.
  std::vector<tcp::endpoint> endpoints;
  error_code literal_ec;
  const asio::ip::address literal = asio::ip::make_address(target.host, literal_ec);
  if (!literal_ec) {
    endpoints.emplace_back(literal, target.port);
  } else {
    // Resolution runs on Asio's resolver thread (getaddrinfo), raced against the connect
    // deadline so a hung DNS server cannot hold the request.
    tcp::resolver resolver(io_);
    asio::steady_timer deadline(io_);
    deadline.expires_after(timeouts.connect);
    cancel_current = [&] {
      resolver.cancel();
      deadline.cancel();
    };
    auto resolved =
        co_await (resolver.async_resolve(target.host, std::to_string(target.port), kTuple) ||
                  deadline.async_wait(kTuple));
    cancel_current = nullptr;
    if (resolved.index() == 1) {
      co_return upstream_error(ErrorCode::kUpstreamTimeout,
                               "resolving " + who + " timed out after " + ms_text(timeouts.connect),
                               endpoint);
    }
    auto [rec, results] = std::get<0>(std::move(resolved));
    if (rec) {
      co_return upstream_error(ErrorCode::kUpstreamDns,
                               "resolving " + who + " failed: " + rec.message(), endpoint);
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }

  auto conn = std::make_unique<UpstreamConnection>();
  conn->key = std::move(key);
  // An empty flat_buffer makes Beast read 512 bytes at a time for the connection's whole
  // life: a typical response then takes two reads and reaches the client in two writes
  // (bench/README.md measured +40% requests per CPU-second from this line).
  conn->buffer.reserve(kRelayBuffer);
  TlsContexts::Client* tls_client = nullptr;
  if (target.tls) {
    tls_client = &tls_->for_provider(*attempt.provider);
    conn->tls = std::make_unique<net::TlsStream>(io_, tls_client->context.native_handle());
  } else {
    conn->plain = std::make_unique<tcp::socket>(io_);
  }
  auto& lowest = conn->lowest();
  conn->deadline = std::make_unique<net::Deadline>(
      lowest, net::Deadline::OnExpiry::kClose,
      std::min({timeouts.connect, timeouts.tls, timeouts.first_byte, timeouts.read}));
  // Closed, not cancelled: a cancelled range connect would go on to the next address.
  cancel_current = [&lowest] {
    error_code ignored;
    lowest.close(ignored);
  };
  conn->deadline->expires_after(timeouts.connect);
  auto [cec, ep] = co_await asio::async_connect(lowest, endpoints, kTuple);
  if (cec) {
    cancel_current = nullptr;
    if (conn->deadline->expired()) {
      co_return upstream_error(
          ErrorCode::kUpstreamTimeout,
          "connecting to " + who + " timed out after " + ms_text(timeouts.connect), endpoint);
    }
    co_return upstream_error(ErrorCode::kUpstreamConnect,
                             "connecting to " + who + " failed: " + cec.message(), endpoint);
  }
  lowest.set_option(tcp::no_delay(true));
  // Plain requests are written with one try that does not wait (net::try_write).
  if (!conn->tls) lowest.non_blocking(true);

  if (conn->tls) {
    SSL* ssl_handle = conn->tls->native_handle();
    // SNI carries DNS names only (RFC 6066 §3); certificate checks cover names and IPs.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    if (is_ip_literal(target.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, target.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_handle, target.host.c_str());
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, target.host.c_str(), 0);
    }
    // The last session this provider address gave: resumed, the handshake skips the
    // certificate chain and its verification (as nginx's proxy_ssl_session_reuse).
    tls_client->sessions.prepare(ssl_handle, &conn->key);
    if (offer_h2) {
      // h2 first; a provider that does not speak it picks http/1.1 (or ignores ALPN).
      static constexpr unsigned char kProtocols[] = "\x02h2\x08http/1.1";
      SSL_set_alpn_protos(ssl_handle, kProtocols, sizeof kProtocols - 1);
    }
    conn->deadline->expires_after(timeouts.tls);
    const error_code hec = co_await conn->tls->handshake();
    cancel_current = nullptr;
    if (hec) {
      std::string why = hec.message();
      const long verify = SSL_get_verify_result(ssl_handle);
      if (verify != X509_V_OK) why = X509_verify_cert_error_string(verify);
      if (conn->deadline->expired()) why = "timed out after " + ms_text(timeouts.tls);
      co_return upstream_error(ErrorCode::kUpstreamTls,
                               "TLS handshake with " + who + " failed: " + why, endpoint);
    }
    const unsigned char* chosen = nullptr;
    unsigned chosen_size = 0;
    SSL_get0_alpn_selected(ssl_handle, &chosen, &chosen_size);
    conn->h2 = offer_h2 && chosen_size == 2 && chosen[0] == 'h' && chosen[1] == '2';
  }
  cancel_current = nullptr;
  conn->deadline->expires_never();
  co_return std::move(conn);
}

template <class Stream>
asio::awaitable<UpstreamClient::Exchange> UpstreamClient::exchange(
    Stream& stream, UpstreamConnection& conn, RequestContext& ctx, const Attempt& attempt,
    ResponseSink& sink, Downstream& downstream, const Timeouts& timeouts, const bool& client_gone) {
  net::Deadline& deadline = *conn.deadline;
  std::string head = headers::serialize_upstream_head(attempt);
  const std::string& body = attempt.request.body();
  // Not a std::array of two buffers: with Asio 1.81's ssl::stream, async_write over that type
  // completed after the head alone and a large body never reached the provider
  // (Proxy.LargeAndChunkedRequestBodiesArriveIntact). buffers_cat copies nothing either way.
  const auto request = beast::buffers_cat(asio::buffer(head), asio::buffer(body));

  // The first-byte deadline covers sending the request and waiting for the response head.
  deadline.expires_after(timeouts.first_byte);
  error_code wec;
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    std::size_t done = 0;
    if (!net::try_write(stream, request, done, wec)) {
      wec = co_await net::write(stream, request, deadline, done);
    }
  } else if (body.size() <= kCoalesceLimit) {
    // One buffer, so one TLS record for head and body.
    head += body;
    wec = co_await net::write(stream, asio::buffer(head), deadline);
  } else {
    wec = co_await net::write(stream, request, deadline);
  }
  if (wec) {
    co_return Exchange{read_error(wec, attempt, timeouts.first_byte),
                       is_stale_connection_error(wec), false};
  }
  std::string().swap(head);  // sent: not held for the response's (a stream's) whole life

  if (conn.buffer.size() == 0) co_await net::yield_before_read();
  // A client that hung up during the yield found no read to cancel: its cancel is this flag.
  if (client_gone) co_return Exchange{{}, false, false};

  // Interim 1xx responses (103 Early Hints, a stray 100 Continue) are consumed here: the
  // client gets the final response only. 101 would be a protocol switch we never ask for.
  std::optional<http::response_parser<http::buffer_body>> parser_slot;
  const bool is_head = attempt.request.method() == http::verb::head;
  for (bool first = true;; first = false) {
    auto& p = parser_slot.emplace();
    p.header_limit(static_cast<std::uint32_t>(config_->upstream.max_response_header_bytes));
    p.body_limit(boost::none);  // streams are unbounded; memory is bounded by kRelayBuffer
    if (is_head) p.skip(true);
    const error_code hec = co_await net::read_header(stream, conn.buffer, p, deadline,
                                                     config_->upstream.max_response_header_bytes);
    if (hec) {
      co_return Exchange{read_error(hec, attempt, timeouts.first_byte),
                         first && !p.got_some() && is_stale_connection_error(hec), false};
    }
    const unsigned interim = p.get().result_int();
    if (interim / 100 != 1 || interim == 101) break;
  }
  auto& parser = *parser_slot;
  ctx.upstream_first_byte = std::chrono::steady_clock::now();
  if (parser.get().result_int() == 101) {
    // We never ask for an upgrade: what follows a 101 is not HTTP, so the connection can
    // neither carry this response nor be pooled (its bytes would answer the next request).
    co_return Exchange{upstream_error(ErrorCode::kUpstreamProtocol,
                                      "provider " + attempt.slug +
                                          " answered 101 Switching Protocols to a request that "
                                          "asked for no upgrade"),
                       false, false};
  }

  auto& response = parser.get();
  const unsigned status = response.result_int();
  const bool head_only = is_head || status == 204 || status == 304 || status / 100 == 1;
  // The parser's own header is edited in place and handed on: no copy of the fields.
  http::response_header<>& response_head = response.base();
  headers::strip_hop_by_hop(response_head);
  // The client's framing is the session's (it replaces Content-Length/Transfer-Encoding).
  std::optional<std::uint64_t> length;
  if (!head_only && !response.chunked() && parser.content_length()) {
    length = *parser.content_length();
  }
  const bool upstream_keep_alive = response.keep_alive();
  if (!sink.accept(response_head)) {
    // Turned away (a 429 or 5xx the router retries). A short body (an error's JSON) is read
    // and dropped, so that the connection goes back to the pool and the next attempt to this
    // provider skips a new connect and TLS handshake; anything else is closed unread.
    if (!upstream_keep_alive) co_return Exchange{{}, false, false};
    if (head_only) co_return Exchange{{}, false, true};
    if (!length || *length > kDrainLimit) co_return Exchange{{}, false, false};
    if (!conn.relay) conn.relay = std::make_unique_for_overwrite<char[]>(kRelayBuffer);
    deadline.expires_after(std::min<Duration>(timeouts.read, kDrainWait));
    while (!parser.is_done()) {
      response.body().data = conn.relay.get();
      response.body().size = kRelayBuffer;
      error_code rec = co_await net::read_some(stream, conn.buffer, parser, deadline,
                                               config_->upstream.max_response_header_bytes);
      if (rec == http::error::need_buffer) rec = {};
      if (rec || client_gone) co_return Exchange{{}, false, false};
    }
    deadline.expires_never();
    co_return Exchange{{}, false, true};
  }

  if (!co_await sink.on_head(response_head, length, head_only) && !sink.continue_without_client()) {
    ctx.outcome = Outcome::kClientAbort;
    co_return Exchange{{}, false, false};
  }

  // The relay is per connection, not in this coroutine's frame: an 8 KB frame is a slow
  // allocation.
  // Waiting for the provider's next bytes (a stream between two events), the connection
  // holds neither buffer: they go back to the allocator, and the parser asks for the relay
  // again (need_buffer) before it takes body bytes. Thousands of open streams then cost
  // only what is in flight (bench/README.md, "Open streams").
  auto release = [&conn, &response] {
    response.body().data = nullptr;
    response.body().size = 0;
    conn.relay.reset();
  };
  while (!head_only && !parser.is_done()) {
    if (!conn.relay) conn.relay = std::make_unique_for_overwrite<char[]>(kRelayBuffer);
    response.body().data = conn.relay.get();
    response.body().size = kRelayBuffer;
    deadline.expires_after(timeouts.read);
    error_code rec = co_await net::read_some(stream, conn.buffer, parser, deadline,
                                             config_->upstream.max_response_header_bytes, release);
    if (rec == http::error::need_buffer) rec = {};
    // Every chunk already read goes into the same relay, so into one write to the client:
    // put() stops after each chunk, and a provider that sends each SSE event as a chunk of
    // its own otherwise costs a client write per event however many arrived in one read (200
    // writes for 7 reads of an unpaced 200-event stream; bench/README.md, "Unpaced stream").
    while (!rec && response.body().data != nullptr && response.body().size > 0 &&
           conn.buffer.size() > 0 && !parser.is_done()) {
      error_code pec;
      const std::size_t used = parser.put(conn.buffer.data(), pec);
      conn.buffer.consume(used);
      if (pec == http::error::need_more || pec == http::error::need_buffer) break;
      if (pec) rec = pec;
      if (used == 0) break;
    }
    const std::size_t got =
        response.body().data == nullptr ? 0 : kRelayBuffer - response.body().size;
    // The co_await in a statement of its own: GCC 12 miscompiled one inside a short-circuit
    // condition (translating_downstream.cpp).
    bool relayed = true;
    if (got > 0) relayed = co_await sink.on_body({conn.relay.get(), got});
    if (!relayed && !sink.continue_without_client()) {
      ctx.outcome = Outcome::kClientAbort;
      co_return Exchange{{}, false, false};
    }
    if (rec) {
      if (client_gone) {
        ctx.outcome = Outcome::kClientAbort;
      } else {
        // After the commit point nothing can be retried: end the client's response as
        // visibly incomplete and record why.
        ctx.outcome = Outcome::kUpstreamAbort;
        ctx.error =
            rec == beast::error::timeout
                ? upstream_error(ErrorCode::kUpstreamTimeout,
                                 "provider stalled for " + ms_text(timeouts.read) + " mid-response")
                : upstream_error(ErrorCode::kUpstreamReset,
                                 "provider connection broke mid-response: " + rec.message());
        downstream.abort();
      }
      co_return Exchange{{}, false, false};
    }
  }
  if (!co_await sink.on_end()) {
    ctx.outcome = Outcome::kClientAbort;
    co_return Exchange{{}, false, false};
  }
  deadline.expires_never();
  co_return Exchange{{}, false, upstream_keep_alive && parser.is_done()};
}

asio::awaitable<Result<void>> UpstreamClient::forward(RequestContext& ctx, const Attempt& attempt,
                                                      ResponseSink& sink, Downstream& downstream) {
  const ProviderConfig& pc = attempt.provider->config;
  const Timeouts timeouts{pc.connect_timeout.value_or(config_->upstream.connect_timeout),
                          config_->upstream.tls_timeout,
                          attempt.retry.request_timeout.value_or(
                              pc.first_byte_timeout.value_or(config_->upstream.first_byte_timeout)),
                          pc.read_timeout.value_or(config_->upstream.read_timeout)};
  std::string key = pc.name + (attempt.target.tls ? "|https://" : "|http://") +
                    attempt.target.host + ":" + std::to_string(attempt.target.port);
  // The first attempt's start: upstream time covers every attempt of the request.
  if (!ctx.upstream_started) ctx.upstream_started = std::chrono::steady_clock::now();

  // A client that hangs up while we wait on the provider cancels the upstream I/O in flight;
  // the connection is then closed rather than pooled, freeing the provider's side too.
  bool client_gone = false;
  std::function<void()> cancel_current;
  downstream.watch_disconnect([&] {
    if (sink.continue_without_client()) return;  // a stage still needs the response
    client_gone = true;
    if (cancel_current) cancel_current();
  });
  struct Unwatch {
    Downstream& d;
    ~Unwatch() { d.unwatch(); }
  } unwatch{downstream};

  const bool offer_h2 = attempt.target.tls && pc.http2.value_or(config_->upstream.http2);
  for (int connection = 0;; ++connection) {
    std::shared_ptr<H2Connection> h2;
    if (offer_h2) {
      h2 = find_h2(key);
      // Looked up here first: a coroutine call per request would cost a frame for nothing
      // on the common path (no connect in flight).
      const auto in_flight = h2 ? joins_->connecting.end() : joins_->connecting.find(key);
      if (in_flight != joins_->connecting.end()) {
        const Joined joined = co_await join_connect(in_flight->second, cancel_current);
        if (joined.waited && client_gone) {
          ctx.outcome = Outcome::kClientAbort;
          co_return Result<void>{};
        }
        if (joined.failure) co_return *joined.failure;
        if (joined.waited) h2 = find_h2(key);  // none when it chose HTTP/1.1 or filled up
      }
    }
    std::unique_ptr<UpstreamConnection> conn;
    if (!h2) conn = pool_.take(key);
    const bool reused = conn != nullptr;  // an HTTP/2 one says so itself (exchange_h2)
    if (!h2 && !conn) {
      ConnectTicket ticket =
          offer_h2 ? announce_connect(key, timeouts.connect + timeouts.tls) : ConnectTicket();
      auto connected = co_await connect(attempt, timeouts, key, offer_h2, cancel_current);
      if (client_gone) {
        ctx.outcome = Outcome::kClientAbort;
        co_return Result<void>{};
      }
      if (!connected) {
        ticket.fail(connected.error());
        co_return connected.error();
      }
      conn = std::move(*connected);
      if (conn->h2) {
        const H2Connection::Settings settings{config_->upstream.http2_max_streams,
                                              config_->upstream.max_response_header_bytes,
                                              config_->upstream.pool_idle_timeout};
        h2 = H2Connection::start(io_, std::move(conn->tls), key, settings);
        conn.reset();
        h2_[key].push_back(h2);
      }
      ticket.settle(h2 != nullptr);
    }
    if (h2) {
      Exchange ex = co_await exchange_h2(*h2, ctx, attempt, sink, downstream, timeouts, client_gone,
                                         cancel_current);
      cancel_current = nullptr;
      if (client_gone && !ctx.committed) {
        ctx.outcome = Outcome::kClientAbort;
        co_return Result<void>{};
      }
      // A refused request, or one a dead connection took down unanswered: once more, on
      // another (or a new) connection.
      if (!ex.result && ex.stale && connection < 2) continue;
      co_return ex.result;
    }
    auto& lowest = conn->lowest();
    cancel_current = [&lowest] {
      error_code ignored;
      lowest.cancel(ignored);
    };
    // (No co_await inside ?: — GCC 12 destroys the temporaries of such an expression twice.)
    Exchange ex;
    if (conn->tls) {
      ex = co_await exchange(*conn->tls, *conn, ctx, attempt, sink, downstream, timeouts,
                             client_gone);
    } else {
      ex = co_await exchange(*conn->plain, *conn, ctx, attempt, sink, downstream, timeouts,
                             client_gone);
    }
    cancel_current = nullptr;
    if (client_gone && !ctx.committed) {
      ctx.outcome = Outcome::kClientAbort;
      co_return Result<void>{};
    }
    if (!ex.result && ex.stale && reused && connection == 0) continue;  // dead pooled connection
    // Bytes left over after a complete response were never asked for: they would be read as
    // the answer to the next request on this connection, so it is closed instead.
    const bool leftover = conn->buffer.size() != 0 || (conn->tls && conn->tls->pending() != 0);
    if (ex.reusable && !leftover) pool_.put(std::move(conn));
    co_return ex.result;
  }
}

}  // namespace aigw
