#include "server/admin.hpp"

#include "aigw/error.hpp"

#include "server/admin_api.hpp"
#include "server/admin_auth.hpp"
#include "server/console.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
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

AdminServer::AdminServer(ServerState& state, Telemetry telemetry, AdminHooks hooks)
    : state_(state), telemetry_(std::move(telemetry)), hooks_(std::move(hooks)), io_(1) {}

AdminServer::~AdminServer() { stop(); }

std::shared_ptr<tcp::acceptor> AdminServer::bind(const tcp::endpoint& endpoint) {
  auto acceptor = std::make_shared<tcp::acceptor>(io_);
  acceptor->open(endpoint.protocol());
  acceptor->set_option(tcp::acceptor::reuse_address(true));
  acceptor->bind(endpoint);
  acceptor->listen();
  return acceptor;
}

std::uint16_t AdminServer::listen(const tcp::endpoint& endpoint) {
  acceptor_ = bind(endpoint);
  return acceptor_->local_endpoint().port();
}

std::uint16_t AdminServer::rebind(const tcp::endpoint& endpoint) {
  auto next = bind(endpoint);
  const auto port = next->local_endpoint().port();
  asio::post(io_, [this, next = std::move(next)]() mutable {
    boost::system::error_code ignored;
    acceptor_->close(ignored);  // its accept loop ends; connections open on it stay
    acceptor_ = std::move(next);
    asio::co_spawn(io_, accept_loop(acceptor_), asio::detached);
  });
  return port;
}

void AdminServer::start() {
  asio::co_spawn(io_, accept_loop(acceptor_), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

asio::awaitable<void> AdminServer::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kTuple);
    if (ec) {
      if (!acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    // PATCH /api/logs/{id} bodies are a few fields; nothing else reads one.
    parser.body_limit(kMaxBodyBytes);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    // A Content-Length over the limit is refused with the header, before any body byte.
    if (ec && ec != http::error::body_limit) break;
    const auto& head = parser.get();
    const std::string_view target = head.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const bool keep_alive = head.keep_alive();

    http::response<http::string_body> res;
    res.version(11);
    res.set(http::field::content_type, "application/json");
    const auto config = hooks_.config ? hooks_.config() : nullptr;
    const bool allowed = admin::open_path(path) || config == nullptr ||
                         admin::authorized(config->admin, head[http::field::authorization]);
    bool close = !keep_alive;
    bool too_large = ec == http::error::body_limit;
    if (!too_large && !allowed) {
      // The body (if any) is never read: the connection closes after the answer.
      res.result(http::status::unauthorized);
      res.set(http::field::www_authenticate, admin::kChallenge);
      res.body() = error_body(
          {ErrorCode::kUnauthorized,
           "the admin listener needs a token (admin.tokens): Authorization: Bearer <token>"});
      close = close || !parser.is_done();
    } else {
      if (!too_large && !parser.is_done()) {
        std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
        too_large = ec == http::error::body_limit;
        if (ec && !too_large) break;
      }
      if (too_large) {
        res.result(http::status::payload_too_large);
        res.body() =
            error_body({ErrorCode::kBodyTooLarge, "admin request bodies are limited to " +
                                                      std::to_string(kMaxBodyBytes) + " bytes"});
        close = true;
      } else {
        respond(parser.get(), path, res);
      }
    }
    res.keep_alive(!close);
    res.prepare_payload();
    // RFC 9110 §8.6: a 304's Content-Length would be the 200's, not 0; none is simpler.
    if (res.result() == http::status::not_modified) res.erase(http::field::content_length);
    std::tie(ec, n) = co_await http::async_write(stream, res, kTuple);
    if (ec || close) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

void AdminServer::respond(const http::request<http::string_body>& req, std::string_view path,
                          http::response<http::string_body>& res) {
  const std::string_view target = req.target();
  const auto method = req.method();
  const auto answer = [&](unsigned status, std::string body,
                          std::string_view type = "application/json") {
    res.result(static_cast<http::status>(status));
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
  };
  if (path == "/healthz" || path == "/readyz") {
    if (method != http::verb::get && method != http::verb::head) {
      res.set(http::field::allow, "GET, HEAD");
      return answer(405, error_body({ErrorCode::kMethodNotAllowed,
                                     std::string(path) + " accepts GET and HEAD"}));
    }
    if (path == "/healthz") return answer(200, R"({"status":"ok"})");
    const bool draining = state_.draining.load();
    return answer(draining ? 503 : 200,
                  draining ? R"({"status":"draining"})" : R"({"status":"ready"})");
  }
  if (path == "/api/reload") {
    if (method != http::verb::post) {
      res.set(http::field::allow, "POST");
      return answer(405,
                    error_body({ErrorCode::kMethodNotAllowed, "/api/reload accepts POST only"}));
    }
    if (!hooks_.reload) {
      return answer(404, error_body({ErrorCode::kRouteNotFound, "reload is not available"}));
    }
    // Builds the new config's state on this thread: requests keep flowing meanwhile.
    auto [status, body] = hooks_.reload();
    return answer(status, std::move(body));
  }
  if (method == http::verb::get || method == http::verb::head) {
    if (auto page = console::serve(path, req[http::field::if_none_match],
                                   req[http::field::accept_encoding])) {
      res.result(static_cast<http::status>(page->status));  // the console (docs/console.md)
      for (const auto& [name, value] : page->headers) res.set(name, value);
      res.body().assign(page->body);
      return;
    }
  }
  Telemetry telemetry = telemetry_;
  if (hooks_.routes) telemetry.routes = hooks_.routes();
  std::optional<admin::ApiResponse> api;
  if (method == http::verb::get || method == http::verb::head) {
    // Queries read SQLite on this thread: the admin listener is not on the request path.
    api = admin::handle(target, telemetry);
  } else if (method == http::verb::patch) {
    api = admin::handle_patch(target, req.body(), telemetry);
  } else if (admin::known_path(path)) {
    res.set(http::field::allow, admin::allowed_methods(path));
    return answer(405, error_body({ErrorCode::kMethodNotAllowed,
                                   std::string(path) + " accepts " +
                                       std::string(admin::allowed_methods(path))}));
  }
  if (api) {
    for (auto& [name, value] : api->headers) res.set(name, value);
    return answer(api->status, std::move(api->body), api->content_type);
  }
  answer(404, error_body({ErrorCode::kRouteNotFound,
                          "no admin endpoint " + std::string(path.substr(0, 128)) +
                              "; available: /healthz, /readyz, /metrics, /api/logs, "
                              "/api/logs/{id}, /api/usage, /api/routes, /api/reload"}));
}

}  // namespace aigw
