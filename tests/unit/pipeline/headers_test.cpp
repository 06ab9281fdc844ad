#include "http/headers.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

namespace aigw {
namespace {

TEST(Headers, HopByHopNamesPerRfc9110) {
  for (const char* name : {"Connection", "keep-alive", "Proxy-Connection", "TE", "Trailer",
                           "Transfer-Encoding", "Upgrade", "Proxy-Authorization"}) {
    EXPECT_TRUE(headers::is_hop_by_hop(name)) << name;
  }
  for (const char* name : {"Authorization", "Content-Type", "x-api-key", "Host", "Accept"}) {
    EXPECT_FALSE(headers::is_hop_by_hop(name)) << name;
  }
}

TEST(Headers, StripRemovesHeadersNamedInConnection) {
  http::fields f;
  f.insert("Connection", "keep-alive, X-Secret-Hop ,x-other");
  f.insert("X-Secret-Hop", "1");
  f.insert("X-Other", "2");
  f.insert("Keep-Alive", "timeout=5");
  f.insert("Upgrade", "websocket");
  f.insert("Authorization", "Bearer k");
  f.insert("X-Kept", "3");
  headers::strip_hop_by_hop(f);
  std::vector<std::string> left;
  for (const auto& h : f) left.emplace_back(h.name_string());
  EXPECT_EQ(left, (std::vector<std::string>{"Authorization", "X-Kept"}));
}

TEST(Headers, ControlHeadersAreExtractedLowerCased) {
  http::fields f;
  f.insert("CF-AIG-Cache-TTL", "60");
  f.insert("cf-aig-metadata", "{}");
  f.insert("cf-skip-cache", "true");
  f.insert("cf-ray", "kept");  // not a gateway control header
  f.insert("Authorization", "Bearer k");
  std::vector<std::pair<std::string, std::string>> control;
  headers::extract_control(f, control);
  EXPECT_EQ(control,
            (std::vector<std::pair<std::string, std::string>>{
                {"cf-aig-cache-ttl", "60"}, {"cf-aig-metadata", "{}"}, {"cf-skip-cache", "true"}}));
  EXPECT_EQ(f.count("cf-aig-metadata"), 0u);
  EXPECT_EQ(f.count("cf-ray"), 1u);
  EXPECT_EQ(f.count("authorization"), 1u);
}

// Parses a serialized head back into a message, as the provider would.
http::request<http::empty_body> parse_head(const std::string& head) {
  http::request_parser<http::empty_body> parser;
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(head), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(parser.is_header_done());
  return parser.release();
}

TEST(Headers, UpstreamRequestSetsHostFramingAndProviderHeaders) {
  Provider provider;
  provider.config.name = "custom-x";
  provider.config.headers.emplace_back("x-api-key", Secret("from-config", true));
  HttpRequest client;
  client.method(http::verb::post);
  client.target("/custom-x/chat?x=1");
  client.set(http::field::host, "gateway:8080");
  client.set(http::field::expect, "100-continue");
  client.set("x-api-key", "from-client");
  client.set("Content-Length", "999");
  client.body() = "{\"a\":1}";
  Attempt attempt;
  attempt.provider = &provider;
  attempt.target = UpstreamTarget{true, "llm.internal", 8443, "/v1/chat?x=1"};
  attempt.request = OutgoingRequest(client);
  const std::string head = headers::serialize_upstream_head(attempt);
  EXPECT_EQ(head.rfind("POST /v1/chat?x=1 HTTP/1.1\r\nHost: llm.internal:8443\r\n", 0), 0u) << head;
  auto up = parse_head(head);
  EXPECT_EQ(up.target(), "/v1/chat?x=1");
  EXPECT_EQ(up[http::field::host], "llm.internal:8443");
  EXPECT_EQ(up["x-api-key"], "from-config");
  EXPECT_EQ(up.count("x-api-key"), 1u);
  EXPECT_EQ(up.count(http::field::expect), 0u);
  EXPECT_EQ(up[http::field::content_length], "7");
}

TEST(Headers, GetWithoutBodyHasNoContentLength) {
  Provider provider;
  provider.config.name = "openai";
  HttpRequest client;
  client.method(http::verb::get);
  Attempt attempt;
  attempt.provider = &provider;
  attempt.target = UpstreamTarget{true, "api.openai.com", 443, "/v1/models"};
  attempt.request = OutgoingRequest(client);
  auto up = parse_head(headers::serialize_upstream_head(attempt));
  EXPECT_EQ(up.method(), http::verb::get);
  EXPECT_EQ(up[http::field::host], "api.openai.com");
  EXPECT_EQ(up.count(http::field::content_length), 0u);
}

// An attempt's edits (a stored key, a step's headers, a rewritten body) go upstream; the
// client's request they were made over is left as it came.
TEST(Headers, AnAttemptsEditsGoUpstreamAndTheClientsRequestStays) {
  Provider provider;
  provider.config.name = "openai";
  provider.config.headers.emplace_back("x-team", Secret("configured", false));
  HttpRequest client;
  client.method(http::verb::post);
  client.set(http::field::authorization, "Bearer client-key");
  client.set("x-keep", "1");
  client.set("x-team", "client");
  client.body() = R"({"model":"a"})";
  Attempt attempt;
  attempt.provider = &provider;
  attempt.target = UpstreamTarget{true, "api.openai.com", 443, "/v1/chat/completions"};
  attempt.request = OutgoingRequest(client);
  attempt.request.erase("authorization");
  attempt.request.set("Authorization", "Bearer stored");
  attempt.request.edit_body() = R"({"model":"b"})";
  EXPECT_EQ(attempt.request.header("authorization"), "Bearer stored");
  auto up = parse_head(headers::serialize_upstream_head(attempt));
  EXPECT_EQ(up[http::field::authorization], "Bearer stored");
  EXPECT_EQ(up.count(http::field::authorization), 1u);
  EXPECT_EQ(up["x-keep"], "1");
  EXPECT_EQ(up["x-team"], "configured");  // the provider's configured header wins...
  EXPECT_EQ(up[http::field::content_length], "13");
  EXPECT_EQ(client[http::field::authorization], "Bearer client-key");
  EXPECT_EQ(client.body(), R"({"model":"a"})");
  // ...unless the step pinned its own.
  attempt.pinned.push_back("x-team");
  attempt.request.set("X-Team", "step");
  up = parse_head(headers::serialize_upstream_head(attempt));
  EXPECT_EQ(up["x-team"], "step");
  EXPECT_EQ(up.count("x-team"), 1u);
}

}  // namespace
}  // namespace aigw
