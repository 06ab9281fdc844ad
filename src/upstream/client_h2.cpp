// The HTTP/2 side of UpstreamClient: its pool of H2Connections per provider address, and one
// attempt sent as a stream of one of them (docs/architecture.md, "Upstream connections").

#include "http/headers.hpp"
#include "upstream/client.hpp"
#include "upstream/errors.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <chrono>
#include <nghttp2/nghttp2.h>
#include <string>

namespace aigw {
namespace {

namespace asio = boost::asio;
using upstream::endpoint_of;
using upstream::ms_text;
using upstream::upstream_error;

}  // namespace

std::shared_ptr<H2Connection> UpstreamClient::find_h2(const std::string& key) {
  const auto it = h2_.find(key);
  if (it == h2_.end()) return nullptr;
  auto& list = it->second;
  std::erase_if(list, [](const auto& c) { return !c->alive(); });
  std::shared_ptr<H2Connection> best;
  for (const auto& c : list) {
    if (c->can_take() && (!best || c->open_streams() > best->open_streams())) best = c;
  }
  if (list.empty()) h2_.erase(it);
  return best;
}

UpstreamClient::ConnectTicket UpstreamClient::announce_connect(const std::string& key,
                                                               Duration limit) {
  if (const auto it = joins_->speaks_h2.find(key); it != joins_->speaks_h2.end() && !it->second) {
    return {};
  }
  auto [it, inserted] = joins_->connecting.try_emplace(key);
  if (!inserted) return {};  // one is in flight, and full: this request opens its own
  it->second = std::make_shared<Joins::Pending>(io_);
  it->second->wake.expires_after(limit);
  return ConnectTicket(joins_, key, it->second);
}

void UpstreamClient::ConnectTicket::settle(std::optional<bool> h2) {
  if (!pending_) return;
  // Expired: the client is gone with its worker, and so are the waiters.
  if (const auto joins = joins_.lock()) {
    if (h2) joins->speaks_h2[key_] = *h2;
    if (const auto it = joins->connecting.find(key_);
        it != joins->connecting.end() && it->second == pending_) {
      joins->connecting.erase(it);
    }
    pending_->wake.cancel();  // each waiter then looks for a connection with room
  }
  pending_.reset();
}

void UpstreamClient::ConnectTicket::fail(const Error& error) {
  if (pending_) pending_->failure = error;
  settle(std::nullopt);
}

asio::awaitable<UpstreamClient::Joined> UpstreamClient::join_connect(
    std::shared_ptr<Joins::Pending> pending, std::function<void()>& cancel_current) {
  // The connecting request takes one stream; past the stream limit, waiting gains nothing.
  if (pending->joined + 1 >= config_->upstream.http2_max_streams) co_return Joined{};
  ++pending->joined;
  // Its own cancellation: a client that leaves ends its wait, not the others'.
  asio::cancellation_signal leave;
  cancel_current = [&leave] { leave.emit(asio::cancellation_type::terminal); };
  co_await pending->wake.async_wait(
      asio::bind_cancellation_slot(leave.slot(), asio::as_tuple(asio::use_awaitable)));
  cancel_current = nullptr;
  co_return Joined{true, pending->failure};
}

void UpstreamClient::drain() {
  pool_.close_all();
  for (auto& [key, list] : h2_) {
    for (const auto& c : list) c->shutdown();
  }
  h2_.clear();
}

void UpstreamClient::trim() {
  for (auto& [key, list] : h2_) {
    bool kept = false;
    for (const auto& c : list) {
      if (!c->alive() || c->open_streams() != 0) continue;
      if (kept) {
        c->close();
      } else {
        kept = true;
      }
    }
    std::erase_if(list, [](const auto& c) { return !c->alive(); });
  }
  std::erase_if(h2_, [](const auto& entry) { return entry.second.empty(); });
}

asio::awaitable<UpstreamClient::Exchange> UpstreamClient::exchange_h2(
    H2Connection& conn, RequestContext& ctx, const Attempt& attempt, ResponseSink& sink,
    Downstream& downstream, const Timeouts& timeouts, const bool& client_gone,
    std::function<void()>& cancel_current) {
  using Clock = std::chrono::steady_clock;
  // A failure on a connection that has carried requests before may be a dead connection
  // (stale, as a pooled HTTP/1 one); on a new one it is the provider's answer.
  const bool reused = conn.completed() > 0;
  const std::string who = "provider " + attempt.slug;
  auto stream = conn.submit(attempt);
  if (!stream) {
    co_return Exchange{
        upstream_error(ErrorCode::kUpstreamReset, who + " closed the connection before responding"),
        true, false};
  }
  H2Stream& s = *stream;
  cancel_current = [&s] { s.signal.cancel(); };
  // However the attempt leaves, the stream is let go: reset when still open, so that the
  // provider stops generating for a client that left or a response turned away.
  bool completed = false;
  struct Release {
    H2Connection& c;
    H2Stream& s;
    const bool& completed;
    ~Release() { c.release(s, completed); }
  } release{conn, s, completed};

  const auto started = Clock::now();
  const auto first_byte_deadline = started + timeouts.first_byte;
  while (!s.head_done && !s.closed && !client_gone) {
    if (Clock::now() >= first_byte_deadline) {
      // Nothing at all on the connection since this request went out: presumed dead, so
      // that later requests do not wait on it too.
      if (!s.got_frame && conn.silent_since(started)) conn.close();
      co_return Exchange{
          upstream_error(ErrorCode::kUpstreamTimeout,
                         who + " sent no response within " + ms_text(timeouts.first_byte),
                         endpoint_of(attempt.target)),
          false, false};
    }
    co_await s.wait(first_byte_deadline);
  }
  if (client_gone) co_return Exchange{{}, false, false};
  if (!s.head_done) {
    if (s.header_overflow) {
      co_return Exchange{
          upstream_error(ErrorCode::kUpstreamProtocol,
                         who +
                             " sent an invalid HTTP response: header fields "
                             "larger than " +
                             std::to_string(config_->upstream.max_response_header_bytes) +
                             " bytes"),
          false, false};
    }
    if (s.refused) {
      // REFUSED_STREAM, or above a GOAWAY's last stream: not processed, safe to send again.
      co_return Exchange{
          upstream_error(ErrorCode::kUpstreamReset, who + " refused the request (HTTP/2)"), true,
          false};
    }
    if (!s.connection_error.empty()) {
      co_return Exchange{
          upstream_error(ErrorCode::kUpstreamReset,
                         who + " closed the connection before responding: " + s.connection_error,
                         endpoint_of(attempt.target)),
          reused && !s.got_frame, false};
    }
    co_return Exchange{
        upstream_error(ErrorCode::kUpstreamReset, who + " reset the request before responding: " +
                                                      nghttp2_http2_strerror(s.close_code)),
        false, false};
  }
  ctx.upstream_first_byte = Clock::now();

  http::response_header<>& head = s.head;
  const bool head_only =
      attempt.request.method() == http::verb::head || s.status == 204 || s.status == 304;
  headers::strip_hop_by_hop(head);
  std::optional<std::uint64_t> length;
  if (!head_only) {
    const auto it = head.find(http::field::content_length);
    std::uint64_t n = 0;
    if (it != head.end()) {
      const std::string_view v = it->value();
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc{} && end == v.data() + v.size()) length = n;
    }
  }
  // Turned away: nothing to drain, the stream is reset and the connection goes on.
  if (!sink.accept(head)) co_return Exchange{{}, false, false};
  if (!co_await sink.on_head(head, length, head_only) && !sink.continue_without_client()) {
    ctx.outcome = Outcome::kClientAbort;
    co_return Exchange{{}, false, false};
  }

  while (!head_only) {
    if (!s.data.empty()) {
      // Everything that arrived since the last write goes out in one write; its window is
      // given back once the client has it.
      const std::string chunk = std::exchange(s.data, std::string());
      const bool relayed = co_await sink.on_body(chunk);
      conn.consume(s, chunk.size());
      if (!relayed && !sink.continue_without_client()) {
        ctx.outcome = Outcome::kClientAbort;
        co_return Exchange{{}, false, false};
      }
      continue;
    }
    if (s.ended) break;
    if (client_gone) {
      ctx.outcome = Outcome::kClientAbort;
      co_return Exchange{{}, false, false};
    }
    if (s.closed) {
      // After the commit point nothing can be retried: end the client's response as visibly
      // incomplete and record why.
      ctx.outcome = Outcome::kUpstreamAbort;
      ctx.error =
          upstream_error(ErrorCode::kUpstreamReset,
                         s.connection_error.empty()
                             ? "provider reset the stream mid-response: " +
                                   std::string(nghttp2_http2_strerror(s.close_code))
                             : "provider connection broke mid-response: " + s.connection_error);
      downstream.abort();
      co_return Exchange{{}, false, false};
    }
    const auto deadline = Clock::now() + timeouts.read;
    co_await s.wait(deadline);
    if (s.data.empty() && !s.ended && !s.closed && !client_gone && Clock::now() >= deadline) {
      ctx.outcome = Outcome::kUpstreamAbort;
      ctx.error =
          upstream_error(ErrorCode::kUpstreamTimeout,
                         "provider stalled for " + ms_text(timeouts.read) + " mid-response");
      downstream.abort();
      co_return Exchange{{}, false, false};
    }
  }
  if (!co_await sink.on_end()) {
    ctx.outcome = Outcome::kClientAbort;
    co_return Exchange{{}, false, false};
  }
  completed = true;
  co_return Exchange{{}, false, false};
}

}  // namespace aigw
