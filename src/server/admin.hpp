#pragma once
// The admin listener: /healthz (process alive), /readyz (accepting traffic; 503 while
// draining), /metrics, the request-log API (server/admin_api.hpp), POST /api/reload and the
// console. Separate port and thread so health checks answer even when workers are busy.
// With admin.tokens, everything but /healthz and /readyz needs a token (admin_auth.hpp).

#include "pipeline/pipeline.hpp"
#include "server/worker.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

namespace aigw {

// What the admin listener reads from the process as it is now: config and routes change
// with a reload (any thread; each call returns the current one).
struct AdminHooks {
  std::function<std::shared_ptr<const Config>()> config;
  std::function<std::shared_ptr<const RouteTable>()> routes;
  // POST /api/reload: re-reads the config file; the status and JSON body to answer with.
  std::function<std::pair<unsigned, std::string>()> reload;
};

class AdminServer {
 public:
  AdminServer(ServerState& state, Telemetry telemetry, AdminHooks hooks);
  ~AdminServer();
  // Binds; throws boost::system::system_error. Returns the bound port.
  std::uint16_t listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // Thread-safe (a reload that changed admin.listen): binds `endpoint` now (throws, keeping the
  // old one), then accepts there and closes the old listener. Returns the bound port.
  std::uint16_t rebind(const boost::asio::ip::tcp::endpoint& endpoint);
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop(
      std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor);
  std::shared_ptr<boost::asio::ip::tcp::acceptor> bind(
      const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  // The answer to an authorized request whose body has been read.
  void respond(const boost::beast::http::request<boost::beast::http::string_body>& req,
               std::string_view path,
               boost::beast::http::response<boost::beast::http::string_body>& res);

  static constexpr std::size_t kMaxBodyBytes = 64 * 1024;

  ServerState& state_;
  Telemetry telemetry_;
  AdminHooks hooks_;
  boost::asio::io_context io_;
  std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
};

}  // namespace aigw
