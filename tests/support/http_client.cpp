#include "support/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <stdexcept>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

template <class Fields>
void copy_headers(const Fields& fields, HttpResponse& out) {
  for (const auto& f : fields) out.headers[lower(std::string(f.name_string()))] = f.value();
}

http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                              const std::string& body, const Headers& headers) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [n, v] : headers) req.insert(n, v);
  req.body() = body;
  if (!body.empty() || method == "POST") req.prepare_payload();
  return req;
}

}  // namespace

HttpResponse http_request(std::uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body, const Headers& headers, bool chunked_body) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  auto req = make_request(method, target, body, headers);
  if (chunked_body) {
    req.chunked(true);
    http::request_serializer<http::string_body> sr(req);
    http::write_header(stream, sr);
    // Send the body in several chunks to exercise the chunked request path.
    const std::size_t piece = std::max<std::size_t>(1, body.size() / 7);
    for (std::size_t off = 0; off < body.size(); off += piece) {
      const auto n = std::min(piece, body.size() - off);
      asio::write(stream, http::make_chunk(asio::buffer(body.data() + off, n)));
    }
    asio::write(stream, http::make_chunk_last());
  } else {
    http::write(stream, req);
  }
  beast::flat_buffer buffer;
  // Skip interim 1xx responses (100 Continue) like a real client.
  std::optional<http::response_parser<http::string_body>> parser;
  do {
    parser.emplace();
    parser->body_limit(boost::none);
    if (method == "HEAD") parser->skip(true);
    http::read(stream, buffer, *parser);
  } while (parser->get().result_int() / 100 == 1);
  HttpResponse out;
  out.status = parser->get().result_int();
  out.chunked = parser->get().chunked();
  copy_headers(parser->get(), out);
  out.body = parser->get().body();
  return out;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds limit) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.expires_after(limit);
  boost::system::error_code ec;
  asio::write(stream, asio::buffer(bytes), ec);
  std::string out;
  char buf[4096];
  for (;;) {
    const auto n = stream.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

HttpResponse parse_raw(const std::string& raw) {
  HttpResponse out;
  if (raw.rfind("HTTP/1.1 ", 0) == 0 && raw.size() > 12)
    out.status = static_cast<unsigned>(std::stoi(raw.substr(9, 3)));
  const auto split = raw.find("\r\n\r\n");
  if (split != std::string::npos) {
    out.body = raw.substr(split + 4);
    std::string head = raw.substr(0, split);
    std::size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
      const auto next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next - pos - 2);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = line.substr(colon + 2);
      }
      pos = next;
    }
  }
  return out;
}

struct StreamingClient::Impl {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  HttpResponse head;
  std::string accumulated;
};

StreamingClient::StreamingClient(std::uint16_t port, const std::string& method,
                                 const std::string& target, const std::string& body,
                                 const Headers& headers)
    : impl_(std::make_unique<Impl>()) {
  impl_->stream.expires_after(std::chrono::seconds(30));
  impl_->stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  auto req = make_request(method, target, body, headers);
  http::write(impl_->stream, req);
  impl_->parser.body_limit(boost::none);
  http::read_header(impl_->stream, impl_->buffer, impl_->parser);
  impl_->head.status = impl_->parser.get().result_int();
  impl_->head.chunked = impl_->parser.get().chunked();
  copy_headers(impl_->parser.get(), impl_->head);
}

StreamingClient::~StreamingClient() = default;

const HttpResponse& StreamingClient::head() const { return impl_->head; }

std::optional<std::string> StreamingClient::next(std::chrono::milliseconds limit) {
  auto& p = impl_->parser;
  if (p.is_done()) return std::nullopt;
  char buf[4096];
  p.get().body().data = buf;
  p.get().body().size = sizeof buf;
  impl_->stream.expires_after(limit);
  boost::system::error_code ec;
  http::read_some(impl_->stream, impl_->buffer, p, ec);
  if (ec == http::error::need_buffer) ec = {};
  if (ec) throw std::runtime_error("stream read failed: " + ec.message());
  const auto got = sizeof buf - p.get().body().size;
  std::string piece(buf, got);
  impl_->accumulated += piece;
  return piece;
}

std::string StreamingClient::read_until(const std::string& needle,
                                        std::chrono::milliseconds limit) {
  while (impl_->accumulated.find(needle) == std::string::npos) {
    if (!next(limit)) throw std::runtime_error("stream ended before '" + needle + "'");
  }
  return impl_->accumulated;
}

std::string StreamingClient::read_all(std::chrono::milliseconds limit) {
  while (next(limit)) {
  }
  return impl_->accumulated;
}

void StreamingClient::close() {
  boost::system::error_code ec;
  impl_->stream.socket().set_option(asio::socket_base::linger(true, 0), ec);
  impl_->stream.socket().close(ec);
}

}  // namespace aigw::test
