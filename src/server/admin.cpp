#include "server/admin.hpp"

#include "aigw/error.hpp"

#include "server/admin_api.hpp"
#include "server/console.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace aigw {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

AdminServer::AdminServer(ServerState& state, Telemetry telemetry)
    : state_(state), telemetry_(std::move(telemetry)), io_(1), acceptor_(io_) {}

AdminServer::~AdminServer() { stop(); }

std::uint16_t AdminServer::listen(const tcp::endpoint& endpoint) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  return acceptor_.local_endpoint().port();
}

void AdminServer::start() {
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

asio::awaitable<void> AdminServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (!acceptor_.is_open() || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (ec) break;
    const auto& req = parser.get();
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));

    http::response<http::string_body> res;
    res.version(11);
    res.set(http::field::content_type, "application/json");
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.body() = error_body({ErrorCode::kRouteNotFound, "admin endpoints accept GET only"});
    } else if (path == "/healthz") {
      res.result(http::status::ok);
      res.body() = R"({"status":"ok"})";
    } else if (path == "/readyz") {
      const bool draining = state_.draining.load();
      res.result(draining ? http::status::service_unavailable : http::status::ok);
      res.body() = draining ? R"({"status":"draining"})" : R"({"status":"ready"})";
    } else if (auto page = console::serve(path, req[http::field::if_none_match],
                                          req[http::field::accept_encoding])) {
      res.result(static_cast<http::status>(page->status));  // the console (docs/console.md)
      for (const auto& [name, value] : page->headers) res.set(name, value);
      res.body().assign(page->body);
    } else if (auto api = admin::handle(target, telemetry_)) {
      // Queries read SQLite on this thread: the admin listener is not on the request path.
      res.result(static_cast<http::status>(api->status));
      res.set(http::field::content_type, api->content_type);
      res.body() = std::move(api->body);
    } else {
      res.result(http::status::not_found);
      res.body() = error_body(
          {ErrorCode::kRouteNotFound, "no admin endpoint " + std::string(path) +
                                          "; available: /healthz, /readyz, /metrics, /api/logs, "
                                          "/api/logs/{id}, /api/usage, /api/routes"});
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    // RFC 9110 §8.6: a 304's Content-Length would be the 200's, not 0; none is simpler.
    if (res.result() == http::status::not_modified) res.erase(http::field::content_length);
    std::tie(ec, n) = co_await http::async_write(stream, res, kTuple);
    if (ec || !req.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace aigw
