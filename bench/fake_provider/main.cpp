// aigw-fake-provider — a fast fake OpenAI chat-completions server for bench/run.sh.
//
//   aigw-fake-provider --port 9000 [--host 127.0.0.1] [--tls CERT KEY [--http2]]
//                      [--h2-max-streams 100] [--threads 1] [--sse-chunks 20] [--sse-delay-ms 0]
//
// POST .../chat/completions answers a fixed ~500-byte chat.completion JSON (Content-Length,
// keep-alive); a request body containing "stream": true gets an SSE stream (text/event-stream,
// chunked) of --sse-chunks chat.completion.chunk events and `data: [DONE]`. POST .../v1/messages
// answers the same in Anthropic's Messages format (a message; a stream of message_start,
// content_block_start, --sse-chunks - 2 text deltas, content_block_stop, message_delta,
// message_stop), for the /compat translation runs. GET /healthz answers 200. Everything else
// is a 404 in OpenAI's error shape.
//
// Two model names change the answer (for bench/soak.sh; any other model gets the above):
//   "error-NNN"  (NNN 400-599): status NNN with an error body in the API's shape (OpenAI's
//                {"error": {...}}, or Anthropic's {"type": "error", ...} on /v1/messages);
//   "delay-Nms"  (N <= 60000): N ms between two events of a stream (instead of --sse-delay-ms),
//                or N ms before a whole response.
//
// The benchmark measures the proxy in front of this server, so the hot path is minimal: every
// response is serialized once at startup, each connection reuses one read buffer, requests are
// parsed by hand (request line, Content-Length / chunked, Connection) and the body is only
// searched for "stream": true. Each thread runs its own io_context with its own SO_REUSEPORT
// acceptor.
//
// --http2 (with --tls): ALPN offers h2 and http/1.1, so a client offering h2 (aigw) gets HTTP/2
// (RFC 9113, framed by nghttp2) and one offering only http/1.1 or no ALPN (nginx's upstream
// connections, wrk) gets the HTTP/1.1 above. Over HTTP/2 each stream gets the same answers
// (same paths, bodies, models, pacing), serialized once at startup as header fields and bodies:
// a stream as one DATA frame per event (the last also carries `data: [DONE]` and END_STREAM),
// each stream paced by its own timer. What nghttp2 produces is written in one buffer per
// connection flush (the timers that fire together share one). --h2-max-streams is the
// SETTINGS_MAX_CONCURRENT_STREAMS the server announces.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <nghttp2/nghttp2.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::size_t kInitialBuffer = 16 * 1024;
constexpr std::size_t kMaxRequest = 4 * 1024 * 1024;

struct Options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string cert;
  std::string key;
  unsigned threads = 1;
  unsigned sse_chunks = 20;
  unsigned sse_delay_ms = 0;
  bool http2 = false;  // with TLS: ALPN h2 and http/1.1
  unsigned h2_max_streams = 100;
  bool quiet = false;
};

// ---------------------------------------------------------------------------------------
// Responses, serialized once.

std::string chunk_encode(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out(size);
  out += data;
  out += "\r\n";
  return out;
}

// An HTTP/2 response head: :status first, then lower-case names.
using Fields = std::vector<std::pair<std::string, std::string>>;

// One API's answers: a whole response and a stream.
struct Format {
  std::string json;                     // head + body, keep-alive
  std::string json_close;               // head + body, Connection: close
  std::vector<std::string> sse_chunks;  // each chunk-encoded; the last one ends the body
  std::string sse_all;                  // every chunk in one piece (used when there is no delay)
  // HTTP/2: the same whole response, and the events unframed (one DATA frame each).
  Fields h2_json_head;
  std::string h2_json;
  std::vector<std::string> h2_events;
};

struct Responses {
  Format openai;
  Format anthropic;
  std::string sse_head;        // keep-alive
  std::string sse_head_close;  // Connection: close
  std::string not_found;
  std::string not_found_close;
  std::string health;
  std::string bad_request;  // always Connection: close
  std::string too_large;    // always Connection: close
  // HTTP/2 heads and bodies of the same answers.
  Fields h2_sse_head;
  Fields h2_not_found_head;
  std::string h2_not_found;
  Fields h2_health_head;
  std::string h2_health;
  Fields h2_too_large_head;
  std::string h2_too_large;
};

std::string head(std::string_view status, std::string_view content_type,
                 std::optional<std::size_t> length, bool close, std::string_view extra = {}) {
  std::string h = "HTTP/1.1 ";
  h += status;
  h += "\r\nContent-Type: ";
  h += content_type;
  h += "\r\n";
  if (length) {
    h += "Content-Length: " + std::to_string(*length) + "\r\n";
  } else {
    h += "Transfer-Encoding: chunked\r\n";
  }
  h += extra;
  if (close) h += "Connection: close\r\n";
  h += "\r\n";
  return h;
}

// The HTTP/2 form of head(): :status, content-type, content-length (when given) and the
// `extra` lines ("Name: value\r\n"), names lower-cased.
Fields h2_head(unsigned status, std::string_view content_type, std::optional<std::size_t> length,
               std::string_view extra = {}) {
  Fields f{{":status", std::to_string(status)}, {"content-type", std::string(content_type)}};
  if (length) f.emplace_back("content-length", std::to_string(*length));
  while (!extra.empty()) {
    const std::size_t eol = std::min(extra.find("\r\n"), extra.size());
    const std::string_view line = extra.substr(0, eol);
    const std::size_t colon = std::min(line.find(':'), line.size());
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(std::min(colon + 1, line.size()));
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    f.emplace_back(std::move(name), std::string(value));
    extra.remove_prefix(std::min(eol + 2, extra.size()));
  }
  return f;
}

// Anthropic's Messages API: the same answer as a message and as a stream of n + 4 events.
Format anthropic_format(const Options& opt, const char* const* words, std::size_t word_count) {
  using json = nlohmann::ordered_json;  // keys in Anthropic's order
  constexpr std::string_view kId = "msg_01XFDUDYJgAACzvnptvVoYEL";
  constexpr std::string_view kModel = "claude-bench-4-5";
  constexpr std::string_view kHeaders =
      "request-id: req_011CSHoEeqs5C35K2UUqR7Fy\r\n"
      "anthropic-organization-id: bench-org\r\n"
      "anthropic-ratelimit-requests-remaining: 9999\r\n";
  const json usage = {{"input_tokens", 19},
                      {"cache_creation_input_tokens", 0},
                      {"cache_read_input_tokens", 0},
                      {"output_tokens", 16},
                      {"service_tier", "standard"}};
  const json message = {
      {"id", kId},
      {"type", "message"},
      {"role", "assistant"},
      {"model", kModel},
      {"content",
       json::array({{{"type", "text"},
                     {"text", "Hello! I'm doing well, thank you. How can I help you today?"}}})},
      {"stop_reason", "end_turn"},
      {"stop_sequence", nullptr},
      {"usage", usage}};
  const std::string body = message.dump();
  Format f;
  f.json = head("200 OK", "application/json", body.size(), false, kHeaders) + body;
  f.json_close = head("200 OK", "application/json", body.size(), true, kHeaders) + body;
  f.h2_json_head = h2_head(200, "application/json", body.size(), kHeaders);
  f.h2_json = body;
  auto event = [&f](std::string_view type, const json& data) {
    f.h2_events.push_back("event: " + std::string(type) + "\ndata: " + data.dump() + "\n\n");
    f.sse_chunks.push_back(chunk_encode(f.h2_events.back()));
  };
  json start = message;
  start["content"] = json::array();
  start["stop_reason"] = nullptr;
  start["usage"]["output_tokens"] = 1;
  event("message_start", {{"type", "message_start"}, {"message", start}});
  event("content_block_start", {{"type", "content_block_start"},
                                {"index", 0},
                                {"content_block", {{"type", "text"}, {"text", ""}}}});
  const unsigned deltas = opt.sse_chunks > 2 ? opt.sse_chunks - 2 : 1u;
  for (unsigned i = 0; i < deltas; ++i) {
    event("content_block_delta",
          {{"type", "content_block_delta"},
           {"index", 0},
           {"delta", {{"type", "text_delta"}, {"text", words[i % word_count]}}}});
  }
  event("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}});
  event("message_delta", {{"type", "message_delta"},
                          {"delta", {{"stop_reason", "end_turn"}, {"stop_sequence", nullptr}}},
                          {"usage", {{"output_tokens", 16}}}});
  event("message_stop", {{"type", "message_stop"}});
  f.sse_chunks.back() += "0\r\n\r\n";
  for (const auto& c : f.sse_chunks) f.sse_all += c;
  return f;
}

Responses build_responses(const Options& opt) {
  using json = nlohmann::ordered_json;  // keys in OpenAI's order
  constexpr std::string_view kId = "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT";
  constexpr std::string_view kModel = "gpt-4o-mini-2024-07-18";
  constexpr std::string_view kFingerprint = "fp_06737a9306";
  constexpr long kCreated = 1741569952;
  // Headers an OpenAI response carries (a proxy has to parse and forward them).
  constexpr std::string_view kOpenAiHeaders =
      "openai-organization: bench-org\r\n"
      "openai-processing-ms: 312\r\n"
      "openai-version: 2020-10-01\r\n"
      "x-ratelimit-remaining-requests: 9999\r\n"
      "x-request-id: req_5f0a8a2f3c1e4d6b9a7e2c1d0b3a4f5e\r\n";

  const json completion = {
      {"id", kId},
      {"object", "chat.completion"},
      {"created", kCreated},
      {"model", kModel},
      {"choices",
       json::array({{{"index", 0},
                     {"message",
                      {{"role", "assistant"},
                       {"content", "Hello! I'm doing well, thank you. How can I help you today?"},
                       {"refusal", nullptr},
                       {"annotations", json::array()}}},
                     {"logprobs", nullptr},
                     {"finish_reason", "stop"}}})},
      {"usage",
       {{"prompt_tokens", 19},
        {"completion_tokens", 16},
        {"total_tokens", 35},
        {"prompt_tokens_details", {{"cached_tokens", 0}}},
        {"completion_tokens_details", {{"reasoning_tokens", 0}}}}},
      {"service_tier", "default"},
      {"system_fingerprint", kFingerprint}};
  const std::string body = completion.dump();

  Responses r;
  r.openai.json = head("200 OK", "application/json", body.size(), false, kOpenAiHeaders) + body;
  r.openai.json_close =
      head("200 OK", "application/json", body.size(), true, kOpenAiHeaders) + body;
  r.openai.h2_json_head = h2_head(200, "application/json", body.size(), kOpenAiHeaders);
  r.openai.h2_json = body;

  constexpr std::string_view kSseExtra =
      "Cache-Control: no-cache\r\n"
      "openai-processing-ms: 97\r\n"
      "x-request-id: req_5f0a8a2f3c1e4d6b9a7e2c1d0b3a4f5e\r\n";
  r.sse_head = head("200 OK", "text/event-stream; charset=utf-8", std::nullopt, false, kSseExtra);
  r.sse_head_close =
      head("200 OK", "text/event-stream; charset=utf-8", std::nullopt, true, kSseExtra);
  r.h2_sse_head = h2_head(200, "text/event-stream; charset=utf-8", std::nullopt, kSseExtra);

  static constexpr const char* kWords[] = {"Hello", "!",      " I",   "'m",     " doing", " well",
                                           ",",     " thank", " you", ".",      " How",   " can",
                                           " I",    " help",  " you", " today", "?"};
  const unsigned n = std::max(1u, opt.sse_chunks);
  for (unsigned i = 0; i < n; ++i) {
    json delta = json::object();
    json finish = nullptr;
    if (i == 0) {
      delta = {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}};
    } else if (i + 1 == n && n > 1) {
      finish = "stop";
    } else {
      delta = {{"content", kWords[(i - 1) % std::size(kWords)]}};
    }
    const json chunk = {{"id", kId},
                        {"object", "chat.completion.chunk"},
                        {"created", kCreated},
                        {"model", kModel},
                        {"service_tier", "default"},
                        {"system_fingerprint", kFingerprint},
                        {"choices", json::array({{{"index", 0},
                                                  {"delta", delta},
                                                  {"logprobs", nullptr},
                                                  {"finish_reason", finish}}})}};
    r.openai.h2_events.push_back("data: " + chunk.dump() + "\n\n");
    r.openai.sse_chunks.push_back(chunk_encode(r.openai.h2_events.back()));
  }
  r.openai.sse_chunks.back() += chunk_encode("data: [DONE]\n\n") + "0\r\n\r\n";
  r.openai.h2_events.back() += "data: [DONE]\n\n";
  for (const auto& c : r.openai.sse_chunks) r.openai.sse_all += c;
  r.anthropic = anthropic_format(opt, kWords, std::size(kWords));

  const std::string nf =
      R"({"error":{"message":"Unknown request URL. Please check the URL.","type":"invalid_request_error","param":null,"code":"unknown_url"}})";
  r.not_found = head("404 Not Found", "application/json", nf.size(), false) + nf;
  r.not_found_close = head("404 Not Found", "application/json", nf.size(), true) + nf;
  r.health = head("200 OK", "text/plain", 3, false) + "ok\n";
  r.h2_not_found_head = h2_head(404, "application/json", nf.size());
  r.h2_not_found = nf;
  r.h2_health_head = h2_head(200, "text/plain", 3);
  r.h2_health = "ok\n";
  const std::string bad = R"({"error":{"message":"bad request","type":"invalid_request_error"}})";
  r.bad_request = head("400 Bad Request", "application/json", bad.size(), true) + bad;
  const std::string big =
      R"({"error":{"message":"request too large","type":"invalid_request_error"}})";
  r.too_large = head("413 Payload Too Large", "application/json", big.size(), true) + big;
  r.h2_too_large_head = h2_head(413, "application/json", big.size());
  r.h2_too_large = big;
  return r;
}

// ---------------------------------------------------------------------------------------
// Minimal HTTP/1.1 request parsing over a byte range.

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Where the value of a `key` found at `at` starts: after `"key"`, optional whitespace, `:` and
// optional whitespace. npos when no colon follows (the text was not a key).
std::size_t value_start(std::string_view body, std::size_t at, std::size_t key_size) {
  std::size_t i = at + key_size;
  while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
  if (i >= body.size() || body[i] != ':') return std::string_view::npos;
  ++i;
  while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
  return i;
}

// `"stream"` followed by optional whitespace, `:`, optional whitespace and `true`.
bool wants_stream(std::string_view body) {
  constexpr std::string_view kKey = "\"stream\"";
  for (std::size_t at = body.find(kKey); at != std::string_view::npos;
       at = body.find(kKey, at + 1)) {
    const std::size_t i = value_start(body, at, kKey.size());
    if (i != std::string_view::npos && body.substr(i, 4) == "true") return true;
  }
  return false;
}

// The model named by `"model": "<prefix>N<suffix>"`, as N; nullopt when the body names no such
// model (or N is out of 0..max).
std::optional<unsigned> model_number(std::string_view body, std::string_view prefix,
                                     std::string_view suffix, unsigned max) {
  constexpr std::string_view kKey = "\"model\"";
  for (std::size_t at = body.find(kKey); at != std::string_view::npos;
       at = body.find(kKey, at + 1)) {
    std::size_t i = value_start(body, at, kKey.size());
    if (i >= body.size() || body[i] != '"') continue;
    ++i;
    if (body.substr(i, prefix.size()) != prefix) continue;
    i += prefix.size();
    unsigned n = 0;
    const std::size_t digits = i;
    for (; i < body.size() && body[i] >= '0' && body[i] <= '9' && i - digits < 6; ++i) {
      n = n * 10 + static_cast<unsigned>(body[i] - '0');
    }
    if (i == digits || n > max || body.substr(i, suffix.size()) != suffix) continue;
    if (body.substr(i + suffix.size(), 1) != "\"") continue;
    return n;
  }
  return std::nullopt;
}

enum class Route { kChat, kMessages, kHealth, kNotFound };

struct Request {
  std::size_t consumed = 0;  // bytes of the whole request, head and body
  Route route = Route::kNotFound;
  bool stream = false;
  bool close = false;
  unsigned error_status = 0;  // "model": "error-NNN"
  int delay_ms = -1;          // "model": "delay-Nms"; -1: none asked for
};

enum class Parse { kDone, kNeedMore, kBad, kTooLarge };

void route_request(std::string_view method, std::string_view target, std::string_view body,
                   Request& req);

// Finds the end of a chunked body starting at `p`; appends the data to `out`. Returns the
// offset just past the body, 0 when incomplete, npos when malformed.
std::size_t parse_chunked(std::string_view data, std::size_t p, std::string& out) {
  for (;;) {
    const std::size_t eol = data.find("\r\n", p);
    if (eol == std::string_view::npos) return 0;
    std::size_t size = 0;
    std::size_t i = p;
    for (; i < eol && std::isxdigit(static_cast<unsigned char>(data[i])); ++i) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(data[i])));
      size = size * 16 + static_cast<std::size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      if (size > kMaxRequest) return std::string_view::npos;
    }
    if (i == p) return std::string_view::npos;
    p = eol + 2;
    if (size == 0) {  // trailers until an empty line
      for (;;) {
        const std::size_t end = data.find("\r\n", p);
        if (end == std::string_view::npos) return 0;
        if (end == p) return end + 2;
        p = end + 2;
      }
    }
    if (data.size() < p + size + 2) return 0;
    out.append(data.substr(p, size));
    if (data.substr(p + size, 2) != "\r\n") return std::string_view::npos;
    p += size + 2;
  }
}

Parse parse_request(std::string_view data, Request& req, std::string& scratch) {
  const std::size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    return data.size() > 64 * 1024 ? Parse::kTooLarge : Parse::kNeedMore;
  }
  const std::string_view head = data.substr(0, head_end + 2);
  std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) return Parse::kBad;
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (const auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);

  bool http10 = version == "HTTP/1.0";
  bool close = http10;
  bool chunked = false;
  std::optional<std::size_t> length;
  for (std::size_t p = line_end + 2; p < head.size(); p = line_end + 2) {
    line_end = head.find("\r\n", p);
    const std::string_view field = head.substr(p, line_end - p);
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) return Parse::kBad;
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim(field.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::size_t n = 0;
      if (value.empty()) return Parse::kBad;
      for (char c : value) {
        if (c < '0' || c > '9') return Parse::kBad;
        n = n * 10 + static_cast<std::size_t>(c - '0');
        if (n > kMaxRequest) return Parse::kTooLarge;
      }
      length = n;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = icontains(value, "chunked");
    } else if (iequals(name, "connection")) {
      if (icontains(value, "close")) close = true;
      if (http10 && icontains(value, "keep-alive")) close = false;
    }
  }

  const std::size_t body_start = head_end + 4;
  std::string_view body;
  if (chunked) {
    scratch.clear();
    const std::size_t end = parse_chunked(data, body_start, scratch);
    if (end == std::string_view::npos) return Parse::kBad;
    if (end == 0) return data.size() > kMaxRequest ? Parse::kTooLarge : Parse::kNeedMore;
    body = scratch;
    req.consumed = end;
  } else {
    const std::size_t n = length.value_or(0);
    if (data.size() < body_start + n) return Parse::kNeedMore;
    body = data.substr(body_start, n);
    req.consumed = body_start + n;
  }

  req.close = close;
  route_request(method, target, body, req);
  return Parse::kDone;
}

// What a request asks for, from its method, target (no query) and body: the route, a stream,
// and the "error-NNN" / "delay-Nms" models. The same over HTTP/1.1 and HTTP/2.
void route_request(std::string_view method, std::string_view target, std::string_view body,
                   Request& req) {
  req.stream = false;
  req.error_status = 0;
  req.delay_ms = -1;
  constexpr std::string_view kChat = "/chat/completions";
  constexpr std::string_view kMessages = "/v1/messages";
  if (method == "POST" && target.ends_with(kChat)) {
    req.route = Route::kChat;
    req.stream = wants_stream(body);
  } else if (method == "POST" && target.ends_with(kMessages)) {
    req.route = Route::kMessages;
    req.stream = wants_stream(body);
  } else if (method == "GET" && target == "/healthz") {
    req.route = Route::kHealth;
  } else {
    req.route = Route::kNotFound;
  }
  if (req.route == Route::kChat || req.route == Route::kMessages) {
    const auto status = model_number(body, "error-", "", 599);
    if (status && *status >= 400) req.error_status = *status;
    if (const auto delay = model_number(body, "delay-", "ms", 60000)) {
      req.delay_ms = static_cast<int>(*delay);
    }
  }
}

constexpr std::string_view kErrorHeaders = "x-request-id: req_5f0a8a2f3c1e4d6b9a7e2c1d0b3a4f5e\r\n";

struct ErrorAnswer {
  std::string status_line;  // "429 Too Many Requests"
  std::string body;
};

// The answer to a model named "error-NNN": status NNN with the API's error body. Built per
// request (the soak sends a few percent of these; the hot path is the fixed responses).
ErrorAnswer error_answer(unsigned status, bool anthropic) {
  std::string_view reason = "Error";
  std::string_view type = anthropic ? "api_error" : "server_error";
  std::string_view code = "null";
  switch (status) {
    case 400:
      reason = "Bad Request";
      type = "invalid_request_error";
      break;
    case 401:
      reason = "Unauthorized";
      type = anthropic ? "authentication_error" : "invalid_request_error";
      code = anthropic ? "null" : "\"invalid_api_key\"";
      break;
    case 404:
      reason = "Not Found";
      type = anthropic ? "not_found_error" : "invalid_request_error";
      break;
    case 429:
      reason = "Too Many Requests";
      type = anthropic ? "rate_limit_error" : "requests";
      code = anthropic ? "null" : "\"rate_limit_exceeded\"";
      break;
    case 500:
      reason = "Internal Server Error";
      break;
    case 502:
      reason = "Bad Gateway";
      break;
    case 503:
      reason = "Service Unavailable";
      type = anthropic ? "overloaded_error" : "server_error";
      break;
    case 529:
      reason = "Overloaded";
      type = "overloaded_error";
      break;
    default:
      break;
  }
  const std::string message = "The fake provider answers error-" + std::to_string(status) + ".";
  std::string body;
  if (anthropic) {
    body = R"({"type":"error","error":{"type":")" + std::string(type) + R"(","message":")" +
           message + R"("}})";
  } else {
    body = R"({"error":{"message":")" + message + R"(","type":")" + std::string(type) +
           R"(","param":null,"code":)" + std::string(code) + "}}";
  }
  return {std::to_string(status) + " " + std::string(reason), std::move(body)};
}

std::string error_response(unsigned status, bool anthropic, bool close) {
  const ErrorAnswer e = error_answer(status, anthropic);
  return head(e.status_line, "application/json", e.body.size(), close, kErrorHeaders) + e.body;
}

// ---------------------------------------------------------------------------------------
// Connections

struct Shared {
  Options options;
  Responses responses;
};

tcp::socket& lowest(tcp::socket& s) { return s; }
tcp::socket& lowest(ssl::stream<tcp::socket>& s) { return s.next_layer(); }

// ---------------------------------------------------------------------------------------
// HTTP/2 (--http2): nghttp2 frames; the I/O is ours. Each connection reads into one buffer and
// writes what nghttp2 produced in one buffer per flush; each stream owns a timer for pacing.

// ALPN (RFC 7301): h2 when offered, else http/1.1, else none (HTTP/1.1 all the same).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  for (const std::string_view want : {std::string_view("h2"), std::string_view("http/1.1")}) {
    for (unsigned i = 0; i < inlen; i += 1u + in[i]) {
      const std::string_view offered(reinterpret_cast<const char*>(in + i + 1),
                                     std::min<unsigned>(in[i], inlen - i - 1));
      if (offered == want) {
        *out = in + i + 1;
        *outlen = in[i];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool negotiated_h2(ssl::stream<tcp::socket>& stream) {
  const unsigned char* alpn = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(stream.native_handle(), &alpn, &len);
  return std::string_view(reinterpret_cast<const char*>(alpn), len) == "h2";
}

class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  H2Connection(ssl::stream<tcp::socket> stream, const Shared& shared, std::uint64_t& served)
      : stream_(std::move(stream)), shared_(shared), served_(served), in_(kInitialBuffer) {
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_closed_streams(option, 1);  // no priority tree to keep them for
    nghttp2_session_server_new2(&session_, callbacks(), this, option);
    nghttp2_option_del(option);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, shared.options.h2_max_streams}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  }
  ~H2Connection() { nghttp2_session_del(session_); }
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  void start() {
    read();
    flush();
  }

 private:
  // One request stream and the answer it gets.
  struct Stream {
    explicit Stream(const asio::any_io_executor& ex) : timer(ex) {}
    std::string method;
    std::string path;  // without the query
    std::string body;
    bool too_large = false;
    const Fields* head = nullptr;  // a whole response held back by "delay-Nms", until the timer
    std::string_view whole;
    std::string_view pending;                          // DATA nghttp2 has not taken yet
    const std::vector<std::string>* events = nullptr;  // a stream: events[next] comes next
    std::size_t next = 0;
    unsigned delay_ms = 0;
    bool timer_armed = false;
    ErrorAnswer error;  // "error-NNN"
    Fields error_head;
    asio::steady_timer timer;
  };

  static nghttp2_session_callbacks* callbacks() {
    static nghttp2_session_callbacks* const cbs = [] {
      nghttp2_session_callbacks* c = nullptr;
      nghttp2_session_callbacks_new(&c);
      nghttp2_session_callbacks_set_on_begin_headers_callback(c, &on_begin_headers);
      nghttp2_session_callbacks_set_on_header_callback(c, &on_header);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, &on_data);
      nghttp2_session_callbacks_set_on_frame_recv_callback(c, &on_frame_recv);
      nghttp2_session_callbacks_set_on_stream_close_callback(c, &on_stream_close);
      nghttp2_session_callbacks_set_error_callback2(c, &on_error);
      return c;
    }();
    return cbs;
  }

  static H2Connection& self(void* user) { return *static_cast<H2Connection*>(user); }

  // nghttp2's reason for a connection error it answers with GOAWAY (a peer's protocol error,
  // or this side failing), so a bench run shows why a connection ended.
  static int on_error(nghttp2_session*, int lib_error_code, const char* msg, std::size_t len,
                      void*) {
    std::fprintf(stderr, "fake_provider: HTTP/2 error %d (%s): %.*s\n", lib_error_code,
                 nghttp2_strerror(lib_error_code), static_cast<int>(len), msg);
    return 0;
  }

  Stream* find(std::int32_t id) {
    const auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  void read() {
    stream_.async_read_some(
        asio::buffer(in_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
          if (ec) {
            self->stop();
            return;
          }
          const auto rv = nghttp2_session_mem_recv(
              self->session_, reinterpret_cast<const std::uint8_t*>(self->in_.data()), n);
          if (rv < 0) {
            self->stop();
            return;
          }
          self->flush();
          if (!self->dead_) self->read();
        });
  }

  // Writes everything nghttp2 has to send in one buffer; again when that write completes.
  void flush() {
    if (writing_ || dead_) return;
    out_.clear();
    for (;;) {
      const std::uint8_t* data = nullptr;
      const auto n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        stop();
        return;
      }
      if (n == 0) break;
      out_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    if (out_.empty()) {
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) stop();
      return;
    }
    writing_ = true;
    asio::async_write(stream_, asio::buffer(out_),
                      [self = shared_from_this()](const error_code& ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) {
                          self->stop();
                          return;
                        }
                        self->flush();
                      });
  }

  // A flush after the handlers ready now (the timers expiring together share it).
  void schedule_flush() {
    if (flush_posted_ || writing_ || dead_) return;
    flush_posted_ = true;
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->flush();
    });
  }

  void stop() {
    if (dead_) return;
    dead_ = true;
    for (auto& [id, s] : streams_) s->timer.cancel();
    error_code ignored;
    stream_.next_layer().close(ignored);
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto& c = self(user);
    c.streams_.emplace(frame->hd.stream_id, std::make_unique<Stream>(c.stream_.get_executor()));
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    Stream* s = self(user).find(frame->hd.stream_id);
    if (s == nullptr) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
      s->method = v;
    } else if (n == ":path") {
      s->path = v.substr(0, v.find('?'));
    }
    return 0;
  }

  static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                     std::size_t len, void* user) {
    Stream* s = self(user).find(id);
    if (s == nullptr) return 0;
    if (s->body.size() + len > kMaxRequest) {
      s->too_large = true;
    } else {
      s->body.append(reinterpret_cast<const char*>(data), len);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    const bool request = frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
    if (!request || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    auto& c = self(user);
    if (Stream* s = c.find(frame->hd.stream_id)) c.answer(frame->hd.stream_id, *s);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user) {
    self(user).streams_.erase(id);  // its timer's wait ends with operation_aborted
    return 0;
  }

  // The same answers as HTTP/1.1's Connection::process().
  void answer(std::int32_t id, Stream& s) {
    ++served_;
    const Responses& r = shared_.responses;
    if (s.too_large) {
      submit(id, s, r.h2_too_large_head, r.h2_too_large);
      return;
    }
    Request req;
    route_request(s.method, s.path, s.body, req);
    switch (req.route) {
      case Route::kChat:
      case Route::kMessages: {
        const Format& f = req.route == Route::kChat ? r.openai : r.anthropic;
        s.delay_ms =
            req.delay_ms >= 0 ? static_cast<unsigned>(req.delay_ms) : shared_.options.sse_delay_ms;
        if (req.error_status != 0) {
          s.error = error_answer(req.error_status, req.route == Route::kMessages);
          s.error_head =
              h2_head(req.error_status, "application/json", s.error.body.size(), kErrorHeaders);
          submit(id, s, s.error_head, s.error.body);
        } else if (req.stream) {
          s.events = &f.h2_events;
          s.next = 1;
          submit(id, s, r.h2_sse_head, f.h2_events.front());
        } else if (req.delay_ms > 0) {
          s.head = &f.h2_json_head;
          s.whole = f.h2_json;
          arm(id, s);
        } else {
          submit(id, s, f.h2_json_head, f.h2_json);
        }
        return;
      }
      case Route::kHealth:
        submit(id, s, r.h2_health_head, r.h2_health);
        return;
      case Route::kNotFound:
        submit(id, s, r.h2_not_found_head, r.h2_not_found);
        return;
    }
  }

  // HEADERS, then `body` (and, for a stream, the events after it) as DATA. The fields are not
  // copied: they live as long as the program (or, for an error, the stream).
  void submit(std::int32_t id, Stream& s, const Fields& head, std::string_view body) {
    std::array<nghttp2_nv, 16> nva;
    std::size_t n = 0;
    for (const auto& [name, value] : head) {
      if (n == nva.size()) break;
      nva[n++] = {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                  reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                  value.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    }
    s.pending = body;
    nghttp2_data_provider provider{};
    provider.source.ptr = &s;
    provider.read_callback = &read_data;
    nghttp2_submit_response(session_, id, nva.data(), n, &provider);
  }

  // nghttp2 asks for the stream's next DATA (as far as the windows allow): one event per frame.
  static ssize_t read_data(nghttp2_session*, std::int32_t id, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void* user) {
    auto& s = *static_cast<Stream*>(source->ptr);
    const bool more = s.events != nullptr && s.next < s.events->size();
    if (s.pending.empty()) {
      if (!more) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
      }
      self(user).arm(id, s);
      return NGHTTP2_ERR_DEFERRED;
    }
    const std::size_t n = std::min(length, s.pending.size());
    std::memcpy(buf, s.pending.data(), n);
    s.pending.remove_prefix(n);
    if (s.pending.empty()) {
      if (!more) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      } else if (s.delay_ms == 0) {
        s.pending = (*s.events)[s.next++];  // the next frame, in this same flush
      } else {
        self(user).arm(id, s);
      }
    }
    return static_cast<ssize_t>(n);
  }

  // After delay_ms: the next event of a stream, or a held-back whole response.
  void arm(std::int32_t id, Stream& s) {
    if (s.timer_armed) return;
    s.timer_armed = true;
    s.timer.expires_after(std::chrono::milliseconds(s.delay_ms));
    s.timer.async_wait([self = shared_from_this(), id](const error_code& ec) {
      if (ec || self->dead_) return;
      Stream* st = self->find(id);
      if (st == nullptr) return;
      st->timer_armed = false;
      if (st->head != nullptr) {
        self->submit(id, *st, *std::exchange(st->head, nullptr), st->whole);
      } else {
        st->pending = (*st->events)[st->next++];
        nghttp2_session_resume_data(self->session_, id);
      }
      self->schedule_flush();
    });
  }

  ssl::stream<tcp::socket> stream_;
  const Shared& shared_;
  std::uint64_t& served_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<char> in_;
  std::string out_;
  bool writing_ = false;
  bool flush_posted_ = false;
  bool dead_ = false;
};

template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
 public:
  template <class... Args>
  Connection(const Shared& shared, std::uint64_t& served, Args&&... args)
      : stream_(std::forward<Args>(args)...),
        timer_(stream_.get_executor()),
        shared_(shared),
        served_(served),
        buffer_(kInitialBuffer) {}

  void start() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      read();
    } else {
      stream_.async_handshake(
          ssl::stream_base::server, [self = this->shared_from_this()](const error_code& ec) {
            if (ec) return;
            if (self->shared_.options.http2 && negotiated_h2(self->stream_)) {
              std::make_shared<H2Connection>(std::move(self->stream_), self->shared_, self->served_)
                  ->start();
              return;
            }
            self->read();
          });
    }
  }

 private:
  void read() {
    if (end_ == buffer_.size()) {
      if (begin_ > 0) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      } else {
        buffer_.resize(buffer_.size() * 2);
      }
    }
    stream_.async_read_some(
        asio::buffer(buffer_.data() + end_, buffer_.size() - end_),
        [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
          if (ec) return;  // EOF or reset: the connection ends with its last reference
          self->end_ += n;
          self->process();
        });
  }

  // Answers every complete request in the buffer, one at a time, then reads more.
  void process() {
    if (begin_ == end_) {
      begin_ = end_ = 0;
      read();
      return;
    }
    Request req;
    const std::string_view data(buffer_.data() + begin_, end_ - begin_);
    switch (parse_request(data, req, scratch_)) {
      case Parse::kNeedMore:
        read();
        return;
      case Parse::kBad:
        write_and_close(shared_.responses.bad_request);
        return;
      case Parse::kTooLarge:
        write_and_close(shared_.responses.too_large);
        return;
      case Parse::kDone:
        break;
    }
    begin_ += req.consumed;
    ++served_;
    const Responses& r = shared_.responses;
    close_ = req.close;
    switch (req.route) {
      case Route::kChat:
      case Route::kMessages:
        format_ = req.route == Route::kChat ? &r.openai : &r.anthropic;
        delay_ms_ =
            req.delay_ms >= 0 ? static_cast<unsigned>(req.delay_ms) : shared_.options.sse_delay_ms;
        if (req.error_status != 0) {
          error_ = error_response(req.error_status, req.route == Route::kMessages, close_);
          write(error_);
        } else if (req.stream) {
          start_stream();
        } else if (req.delay_ms > 0) {
          write_later(close_ ? format_->json_close : format_->json);
        } else {
          write(close_ ? format_->json_close : format_->json);
        }
        return;
      case Route::kHealth:
        write(r.health);
        return;
      case Route::kNotFound:
        write(close_ ? r.not_found_close : r.not_found);
        return;
    }
  }

  void write(const std::string& bytes) {
    asio::async_write(stream_, asio::buffer(bytes),
                      [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                        if (!ec) self->next();
                      });
  }

  // A whole response after delay_ms_ (the "delay-Nms" model).
  void write_later(const std::string& bytes) {
    timer_.expires_after(std::chrono::milliseconds(delay_ms_));
    timer_.async_wait([self = this->shared_from_this(), &bytes](const error_code& ec) {
      if (!ec) self->write(bytes);
    });
  }

  void write_and_close(const std::string& bytes) {
    close_ = true;
    write(bytes);
  }

  void next() {
    if (close_) {
      error_code ignored;
      lowest(stream_).shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    process();
  }

  void start_stream() {
    const Responses& r = shared_.responses;
    const std::string& head = close_ ? r.sse_head_close : r.sse_head;
    if (delay_ms_ == 0) {
      const std::array<asio::const_buffer, 2> both{asio::buffer(head),
                                                   asio::buffer(format_->sse_all)};
      asio::async_write(stream_, both,
                        [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                          if (!ec) self->next();
                        });
      return;
    }
    // Head and first event at once, then one event per delay.
    chunk_ = 1;
    const std::array<asio::const_buffer, 2> first{asio::buffer(head),
                                                  asio::buffer(format_->sse_chunks.front())};
    asio::async_write(stream_, first,
                      [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                        if (!ec) self->stream_next();
                      });
  }

  void stream_next() {
    if (chunk_ >= format_->sse_chunks.size()) {
      next();
      return;
    }
    timer_.expires_after(std::chrono::milliseconds(delay_ms_));
    timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
      if (ec) return;
      const std::string& chunk = self->format_->sse_chunks[self->chunk_++];
      asio::async_write(self->stream_, asio::buffer(chunk),
                        [self](const error_code& wec, std::size_t) {
                          if (!wec) self->stream_next();
                        });
    });
  }

  Stream stream_;
  asio::steady_timer timer_;
  const Shared& shared_;
  std::uint64_t& served_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::string scratch_;
  std::size_t chunk_ = 0;
  unsigned delay_ms_ = 0;           // between two events of the stream being answered
  std::string error_;               // the "error-NNN" response being written
  const Format* format_ = nullptr;  // the API of the request being answered
  bool close_ = false;
};

class Worker {
 public:
  Worker(const Shared& shared, ssl::context* tls, const tcp::endpoint& endpoint)
      : io_(1), acceptor_(io_), shared_(shared), tls_(tls) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    const int one = 1;
    if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      throw std::runtime_error("SO_REUSEPORT failed");
    }
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  asio::io_context& io() { return io_; }
  std::uint64_t served() const { return served_; }

  void run() {
    accept();
    io_.run();
  }

 private:
  void accept() {
    acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        if (tls_ != nullptr) {
          std::make_shared<Connection<ssl::stream<tcp::socket>>>(shared_, served_,
                                                                 std::move(socket), *tls_)
              ->start();
        } else {
          std::make_shared<Connection<tcp::socket>>(shared_, served_, std::move(socket))->start();
        }
      }
      accept();
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  const Shared& shared_;
  ssl::context* tls_;
  std::uint64_t served_ = 0;  // this thread only
};

constexpr std::string_view kUsage =
    "usage: aigw-fake-provider --port N [--host 127.0.0.1] [--tls CERT KEY [--http2]]\n"
    "                          [--h2-max-streams N] [--threads N] [--sse-chunks N]\n"
    "                          [--sse-delay-ms MS] [--quiet]\n";

unsigned parse_unsigned(std::string_view flag, const char* text, unsigned max) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (end == text || *end != '\0' || v > max) {
    std::fprintf(stderr, "aigw-fake-provider: %.*s: bad value '%s'\n%s",
                 static_cast<int>(flag.size()), flag.data(), text, kUsage.data());
    std::exit(2);
  }
  return static_cast<unsigned>(v);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--port" && has_value) {
      opt.port = static_cast<unsigned short>(parse_unsigned(arg, argv[++i], 65535));
      have_port = true;
    } else if (arg == "--host" && has_value) {
      opt.host = argv[++i];
    } else if (arg == "--tls" && i + 2 < argc) {
      opt.cert = argv[++i];
      opt.key = argv[++i];
    } else if (arg == "--threads" && has_value) {
      opt.threads = std::max(1u, parse_unsigned(arg, argv[++i], 256));
    } else if (arg == "--sse-chunks" && has_value) {
      opt.sse_chunks = std::max(1u, parse_unsigned(arg, argv[++i], 100000));
    } else if (arg == "--sse-delay-ms" && has_value) {
      opt.sse_delay_ms = parse_unsigned(arg, argv[++i], 60000);
    } else if (arg == "--http2") {
      opt.http2 = true;
    } else if (arg == "--h2-max-streams" && has_value) {
      opt.h2_max_streams = std::max(1u, parse_unsigned(arg, argv[++i], 1000000));
    } else if (arg == "--quiet") {
      opt.quiet = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage.data(), stdout);
      return 0;
    } else {
      std::fprintf(stderr, "aigw-fake-provider: unknown argument '%s'\n%s", argv[i], kUsage.data());
      return 2;
    }
  }
  if (!have_port) {
    std::fputs(kUsage.data(), stderr);
    return 2;
  }
  if (opt.http2 && opt.cert.empty()) {
    std::fprintf(stderr, "aigw-fake-provider: --http2 needs --tls (h2 is chosen by ALPN)\n%s",
                 kUsage.data());
    return 2;
  }

  try {
    Shared shared{opt, build_responses(opt)};
    std::unique_ptr<ssl::context> tls;
    if (!opt.cert.empty()) {
      tls = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      tls->use_certificate_chain_file(opt.cert);
      tls->use_private_key_file(opt.key, ssl::context::pem);
      if (opt.http2) SSL_CTX_set_alpn_select_cb(tls->native_handle(), &select_alpn, nullptr);
    }

    tcp::endpoint endpoint(asio::ip::make_address(opt.host), opt.port);
    std::vector<std::unique_ptr<Worker>> workers;
    workers.push_back(std::make_unique<Worker>(shared, tls.get(), endpoint));
    endpoint.port(workers.front()->port());  // --port 0: the others share the picked port
    for (unsigned i = 1; i < opt.threads; ++i) {
      workers.push_back(std::make_unique<Worker>(shared, tls.get(), endpoint));
    }

    asio::signal_set signals(workers.front()->io(), SIGINT, SIGTERM);
    signals.async_wait([&workers](const error_code& ec, int) {
      if (ec) return;
      for (auto& w : workers) w->io().stop();
    });

    if (!opt.quiet) {
      std::fprintf(stderr,
                   "aigw-fake-provider: %s://%s:%u%s, %u thread(s), JSON response %zu bytes, sse "
                   "%u events every %u ms\n",
                   tls ? "https" : "http", opt.host.c_str(), endpoint.port(),
                   opt.http2 ? " (h2 and http/1.1)" : "", opt.threads,
                   shared.responses.openai.json.size(), opt.sse_chunks, opt.sse_delay_ms);
    }
    std::printf("%u\n", endpoint.port());
    std::fflush(stdout);

    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < workers.size(); ++i) {
      threads.emplace_back([w = workers[i].get()] { w->run(); });
    }
    workers.front()->run();
    for (auto& t : threads) t.join();

    std::uint64_t served = 0;
    for (auto& w : workers) served += w->served();
    if (!opt.quiet) {
      std::fprintf(stderr, "aigw-fake-provider: served %llu requests\n",
                   static_cast<unsigned long long>(served));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aigw-fake-provider: %s\n", e.what());
    return 1;
  }
  return 0;
}
