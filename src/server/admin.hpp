#pragma once
// The admin listener: /healthz (process alive), /readyz (accepting traffic; 503 while
// draining), /metrics and the request-log API (server/admin_api.hpp). Separate port and
// thread so health checks answer even when workers are busy.

#include "pipeline/pipeline.hpp"
#include "server/worker.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <thread>

namespace aigw {

class AdminServer {
 public:
  AdminServer(ServerState& state, Telemetry telemetry);
  ~AdminServer();
  // Binds; throws boost::system::system_error. Returns the bound port.
  std::uint16_t listen(const boost::asio::ip::tcp::endpoint& endpoint);
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  ServerState& state_;
  Telemetry telemetry_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace aigw
