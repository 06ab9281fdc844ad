#pragma once
// Blocking HTTP/1.1 clients for tests, over plain TCP to the gateway on 127.0.0.1.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aigw::test {

struct HttpResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names (last value wins)
  std::string body;
  bool chunked = false;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection; throws on I/O errors.
HttpResponse http_request(std::uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = {}, const Headers& headers = {},
                          bool chunked_body = false);

// Sends raw bytes and returns everything read until the server closes (or `limit`).
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds limit = std::chrono::seconds(10));

// The status line, headers and body of one raw HTTP/1.1 response (as raw_exchange returns).
HttpResponse parse_raw(const std::string& raw);

// A streaming reader: sends a request, then reads the body piece by piece as it arrives.
class StreamingClient {
 public:
  StreamingClient(std::uint16_t port, const std::string& method, const std::string& target,
                  const std::string& body, const Headers& headers = {});
  ~StreamingClient();
  const HttpResponse& head() const;  // status and headers (body empty)
  // Next piece of the body, or nullopt at its end. Throws on I/O error / timeout.
  std::optional<std::string> next(std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Reads until `needle` appears in the accumulated body; returns the accumulation.
  std::string read_until(const std::string& needle,
                         std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Reads to the end; throws std::runtime_error if the body ends incomplete.
  std::string read_all(std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Closes the connection abruptly (client abort).
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aigw::test
