#pragma once
// One client connection: reads HTTP/1.1 requests (keep-alive, limits, deadlines), hands each
// to the pipeline, and implements Downstream so the pipeline can write the response.

#include "aigw/downstream.hpp"

#include "net/deadline.hpp"

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <chrono>
#include <list>
#include <memory>

namespace aigw {

class Worker;
struct RequestContext;

struct Serving;

class Session final : public Downstream {
 public:
  // `address`: the client's IP address as text ("" when unknown).
  Session(boost::asio::ip::tcp::socket socket, std::string address, Worker& worker);
  ~Session() override;

  // Serves requests until the connection closes. Suspends.
  boost::asio::awaitable<void> run();
  // Drain, or room for a new connection: closes the connection now if it is waiting for a
  // (next) request.
  void close_if_idle() noexcept;
  bool idle() const noexcept { return idle_; }
  const std::string& address() const noexcept { return address_; }
  // End of the drain grace period: closes the connection whatever it is doing.
  void force_close() noexcept;

  boost::asio::awaitable<bool> send_head(const boost::beast::http::response_header<>& head,
                                         const AddedHeaders& added,
                                         std::optional<std::uint64_t> content_length,
                                         bool head_only) override;
  boost::asio::awaitable<bool> send_body(std::string_view chunk) override;
  boost::asio::awaitable<bool> finish() override;
  void abort() noexcept override { broken_ = true; }
  void watch_disconnect(std::function<void()> on_gone) override;
  void unwatch() noexcept override;

  // --- the worker's deferred-watch queue (Worker::defer_watch) ---
  using WatchHook = boost::intrusive::list_member_hook<
      boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;
  WatchHook watch_hook;                                // linked while the watch is deferred
  std::chrono::steady_clock::time_point watch_wanted;  // when watch_disconnect was called
  void arm_deferred_watch();                           // the delay passed: watch now

 private:
  struct Watch {
    std::function<void()> on_gone;
    bool active = false;  // wanted (deferred or armed) for the current request
    bool armed = false;   // the one-byte peek is pending
    bool gone = false;    // the peek saw the client's EOF or reset
    char peek = 0;
    boost::asio::cancellation_signal signal;
  };
  void arm_watch();
  boost::asio::awaitable<bool> read_request(RequestContext& ctx, bool& body_unread);
  boost::asio::awaitable<void> linger_close();

  boost::asio::ip::tcp::socket socket_;
  std::string address_;
  // Idle, request-read and write deadlines. Expiry cancels rather than closes: a slow client
  // must still receive its 408.
  net::Deadline deadline_;
  boost::beast::flat_buffer buffer_;
  Worker& worker_;
  std::list<Session*>::iterator registration_;
  // The config and pipeline of the request being served (Worker::serving()).
  std::shared_ptr<const Serving> serving_;
  std::shared_ptr<Watch> watch_;
  std::string pending_head_;  // serialized response head not yet written
  bool idle_ = false;
  bool close_after_ = false;  // send Connection: close and close after this response
  bool chunked_ = false;      // current response body uses chunked framing
  bool broken_ = false;       // current response cannot be completed: close now
  bool client_http10_ = false;
};

}  // namespace aigw
