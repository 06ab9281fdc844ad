// aigw-bench-soak — the closed-loop load of bench/soak.sh: a fixed mix of requests through
// aigw, every response checked, aigw's RSS and open file descriptors sampled along the way.
//
//   aigw-bench-soak --port P [--host 127.0.0.1] [--path /openai/chat/completions]
//                   --requests N [--connections 32] [--pid PID] [--interval 2]
//                   [--warmup 0.1] [--events 20] [--samples FILE] [--timeout 10]
//
// Request i has the kind mix[i % 100], a fixed shuffle of (per 100 requests):
//   54 miss    buffered chat completion, a body of its own ("#i"): a cache miss (MISS)
//   15 hit     buffered, one fixed body: a cache hit (HIT) once the first one is stored
//   15 stream  "stream": true, a body of its own: --events events, then data: [DONE]
//    4 err500  model "error-500": the fake provider answers 500 with an OpenAI error body
//    4 err429  model "error-429": 429, likewise
//    7 abort   model "delay-2ms", a stream: the client closes its connection after the first
//              event (aigw is then still relaying) and the next request opens a new one
//    1 badjson a body that is not JSON: aigw answers 400 itself
// --connections keep-alive connections send them back to back, as fast as aigw answers
// (closed loop). Every response is checked against its kind (status, body, cache status, the
// stream's events and its end); a mismatch is an error, printed (the first 20) on stderr.
//
// With --pid, VmRSS (/proc/PID/status) and the entries of /proc/PID/fd are read every
// --interval seconds, when the first --warmup of the requests is done (the end of warm-up),
// and when the last is done. --samples FILE gets every sample: seconds completed rss_kib fds
// anon_kib (RssAnon). --only KIND sends that kind alone; --no-cache checks no cache status
// (for an aigw without a cache): both to find which requests a drift comes from.
// Output: key=value lines on stdout. Exit status 0 when every request was answered as
// expected.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string path = "/openai/chat/completions";
  std::uint64_t requests = 0;
  unsigned connections = 32;
  long pid = 0;
  double interval = 2;
  double warmup = 0.1;
  unsigned events = 20;
  std::string samples;
  double timeout = 10;
  int only = -1;      // --only KIND: every request of that kind (to isolate one)
  bool cache = true;  // --no-cache: aigw runs without a cache; no cache status is checked
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "aigw-bench-soak: %s\n"
               "usage: aigw-bench-soak --port P [--host H] [--path /openai/chat/completions]\n"
               "         --requests N [--connections 32] [--pid PID] [--interval 2]\n"
               "         [--warmup 0.1] [--events 20] [--samples FILE] [--timeout 10]\n"
               "         [--only KIND] [--no-cache]\n",
               why.c_str());
  std::exit(2);
}

// ---------------------------------------------------------------------------------------
// The mix

enum Kind : std::uint8_t { kMiss, kHit, kStream, kErr500, kErr429, kAbort, kBadJson, kKinds };
constexpr std::array<const char*, kKinds> kKindNames = {"miss",   "hit",   "stream", "err500",
                                                        "err429", "abort", "badjson"};
constexpr std::array<unsigned, kKinds> kPerHundred = {54, 15, 15, 4, 4, 7, 1};

// 100 kinds in a fixed order: the counts above, shuffled by a seeded Fisher-Yates (mt19937's
// sequence is fixed by the standard, and the shuffle is ours, so every build sends the same).
std::array<Kind, 100> build_mix() {
  std::array<Kind, 100> mix{};
  std::size_t at = 0;
  for (std::size_t k = 0; k < kKinds; ++k) {
    for (unsigned n = 0; n < kPerHundred[k]; ++n) mix[at++] = static_cast<Kind>(k);
  }
  std::mt19937 rng(20);
  for (std::size_t i = mix.size() - 1; i > 0; --i) {
    std::swap(mix[i], mix[rng() % (i + 1)]);
  }
  return mix;
}

// The body of request i of kind k.
void make_body(std::string& out, Kind k, std::uint64_t i) {
  const std::string n = std::to_string(i);
  const std::string_view system = R"({"role":"system","content":"You are a helpful assistant."},)";
  out.clear();
  switch (k) {
    case kMiss:
      out = R"({"model":"gpt-4o-mini","messages":[)" + std::string(system) +
            R"({"role":"user","content":"Soak request #)" + n +
            R"(: how are you today?"}],"temperature":0.7,"max_tokens":64})";
      break;
    case kHit:
      out = R"({"model":"gpt-4o-mini","messages":[)" + std::string(system) +
            R"({"role":"user","content":"Soak: the one question asked again and again."}],)"
            R"("temperature":0.7,"max_tokens":64})";
      break;
    case kStream:
      out = R"({"model":"gpt-4o-mini","messages":[)" + std::string(system) +
            R"({"role":"user","content":"Soak stream #)" + n +
            R"(: tell me more."}],"temperature":0.7,"max_tokens":64,"stream":true})";
      break;
    case kErr500:
    case kErr429:
      out = std::string(R"({"model":")") + (k == kErr500 ? "error-500" : "error-429") +
            R"(","messages":[{"role":"user","content":"Soak error #)" + n + R"("}]})";
      break;
    case kAbort:
      out = R"({"model":"delay-2ms","messages":[{"role":"user","content":"Soak abort #)" + n +
            R"("}],"stream":true})";
      break;
    case kBadJson:  // cut short: not JSON
      out = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Soak bad #)" + n +
            R"("})";
      break;
    case kKinds:
      break;
  }
}

// ---------------------------------------------------------------------------------------
// /proc

struct Sample {
  double seconds = 0;
  std::uint64_t completed = 0;
  long rss_kib = -1;
  long anon_kib = -1;  // RssAnon: the heap, without the mapped files and libraries
  long fds = -1;
};

// VmRSS and RssAnon of /proc/PID/status, in KiB (-1 when unreadable).
std::pair<long, long> read_rss_kib(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::pair<long, long> out{-1, -1};
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) out.first = std::strtol(line.c_str() + 6, nullptr, 10);
    if (line.starts_with("RssAnon:")) out.second = std::strtol(line.c_str() + 8, nullptr, 10);
  }
  return out;
}

long count_fds(long pid) {
  std::error_code ec;
  long n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

// ---------------------------------------------------------------------------------------
// The load

struct Connection {
  explicit Connection(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  beast::flat_buffer buffer;
};

struct Worker {
  std::unique_ptr<Connection> conn;
  std::string body;
  std::string request;
  std::array<char, 16 * 1024> sink{};
  Clock::time_point busy_since{};  // a request in flight since; {} when idle
  bool timed_out = false;
};

class Soak {
 public:
  explicit Soak(Options opt) : opt_(std::move(opt)), mix_(build_mix()) {
    head_ = "POST " + opt_.path + " HTTP/1.1\r\nHost: " + opt_.host + ":" + opt_.port +
            "\r\nContent-Type: application/json\r\n"
            "Authorization: Bearer sk-soak-000000000000000000000000000000000000000000000000\r\n"
            "Content-Length: ";
    warmup_at_ = static_cast<std::uint64_t>(static_cast<double>(opt_.requests) * opt_.warmup);
  }

  int run() {
    tcp::resolver resolver(io_);
    endpoints_ = resolver.resolve(opt_.host, opt_.port);
    start_ = Clock::now();
    take_sample();  // the start
    workers_.resize(opt_.connections);
    running_ = opt_.connections;
    for (auto& w : workers_) asio::co_spawn(io_, work(w), asio::detached);
    asio::co_spawn(io_, tick(), asio::detached);
    io_.run();
    return report();
  }

 private:
  void take_sample() {
    if (opt_.pid <= 0) return;
    Sample s;
    s.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    s.completed = completed_;
    std::tie(s.rss_kib, s.anon_kib) = read_rss_kib(opt_.pid);
    s.fds = count_fds(opt_.pid);
    if (s.rss_kib < 0) ++sample_failures_;
    samples_.push_back(s);
  }

  void fail(std::uint64_t i, Kind k, const std::string& what) {
    ++errors_[k];
    if (printed_ < 20) {
      ++printed_;
      std::fprintf(stderr, "aigw-bench-soak: request #%llu (%s): %s\n",
                   static_cast<unsigned long long>(i), kKindNames[k], what.c_str());
    }
  }

  asio::awaitable<std::unique_ptr<Connection>> connect() {
    for (unsigned attempt = 0; attempt < 100; ++attempt) {
      auto conn = std::make_unique<Connection>(io_);
      auto [ec, ep] = co_await asio::async_connect(conn->socket, endpoints_, kTuple);
      if (!ec) {
        conn->socket.set_option(tcp::no_delay(true));
        ++connects_;
        co_return conn;
      }
      ++connect_errors_;
      asio::steady_timer wait(io_, std::chrono::milliseconds(10));
      co_await wait.async_wait(kTuple);
    }
    co_return nullptr;
  }

  // One request on w's connection. Returns whether the connection may be used again.
  asio::awaitable<bool> exchange(Worker& w, std::uint64_t i, Kind k) {
    auto& conn = *w.conn;
    make_body(w.body, k, i);
    w.request = head_;
    w.request += std::to_string(w.body.size());
    w.request += "\r\n\r\n";
    w.request += w.body;
    auto [wec, written] = co_await asio::async_write(conn.socket, asio::buffer(w.request), kTuple);
    if (wec) {
      fail(i, k, "write: " + wec.message());
      co_return false;
    }
    if (k == kAbort) co_return co_await abort_after_first_event(w, i, k);

    http::response_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    parser.header_limit(64 * 1024);
    auto [rec, n] = co_await http::async_read(conn.socket, conn.buffer, parser, kTuple);
    if (rec) {
      fail(i, k, std::string(w.timed_out ? "timed out: " : "read: ") + rec.message());
      co_return false;
    }
    const auto& res = parser.get();
    const unsigned status = res.result_int();
    const std::string_view body = res.body();
    const std::string_view cache = [&]() -> std::string_view {
      const auto it = res.find("cf-aig-cache-status");
      return it == res.end() ? std::string_view{} : std::string_view(it->value());
    }();
    auto expect_status = [&](unsigned want) {
      if (status == want) return true;
      fail(i, k,
           "status " + std::to_string(status) + ", expected " + std::to_string(want) + ": " +
               std::string(body.substr(0, 200)));
      return false;
    };
    switch (k) {
      case kMiss:
        if (!expect_status(200)) break;
        if (body.find("\"chat.completion\"") == std::string_view::npos) {
          fail(i, k, "not a chat.completion: " + std::string(body.substr(0, 200)));
        } else if (opt_.cache && cache != "MISS") {
          fail(i, k, "cf-aig-cache-status '" + std::string(cache) + "', expected MISS");
        }
        break;
      case kHit:
        if (!expect_status(200)) break;
        if (body.find("\"chat.completion\"") == std::string_view::npos) {
          fail(i, k, "not a chat.completion: " + std::string(body.substr(0, 200)));
        } else if (!opt_.cache) {
          break;
        } else if (cache == "HIT") {
          ++hits_;
          hit_seen_ = true;
        } else if (hit_seen_ || cache != "MISS") {
          // Before the first HIT the entry may still be on its way into the cache.
          fail(i, k, "cf-aig-cache-status '" + std::string(cache) + "', expected HIT");
        } else {
          ++hit_kind_misses_;
        }
        break;
      case kStream: {
        if (!expect_status(200)) break;
        std::size_t events = 0;
        for (auto at = body.find("data: "); at != std::string_view::npos;
             at = body.find("data: ", at + 1)) {
          ++events;
        }
        if (!body.ends_with("data: [DONE]\n\n")) {
          fail(i, k,
               "the stream does not end with data: [DONE] (" + std::to_string(events) + " events)");
        } else if (events != opt_.events + 1) {
          fail(i, k,
               std::to_string(events) + " events with [DONE], expected " +
                   std::to_string(opt_.events + 1));
        }
        break;
      }
      case kErr500:
      case kErr429:
        if (!expect_status(k == kErr500 ? 500 : 429)) break;
        if (body.find("\"error\"") == std::string_view::npos) {
          fail(i, k, "no error object: " + std::string(body.substr(0, 200)));
        }
        break;
      case kBadJson:
        if (!expect_status(400)) break;
        if (body.find("invalid_json") == std::string_view::npos) {
          fail(i, k, "not invalid_json: " + std::string(body.substr(0, 200)));
        }
        break;
      case kAbort:
      case kKinds:
        break;
    }
    if (!res.keep_alive()) ++server_closes_;
    co_return res.keep_alive();
  }

  // Reads the head and the first event of a stream, then closes the connection.
  asio::awaitable<bool> abort_after_first_event(Worker& w, std::uint64_t i, Kind k) {
    auto& conn = *w.conn;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    auto [hec, head_bytes] =
        co_await http::async_read_header(conn.socket, conn.buffer, parser, kTuple);
    if (hec) {
      fail(i, k, std::string(w.timed_out ? "timed out: " : "read head: ") + hec.message());
      co_return false;
    }
    if (parser.get().result_int() != 200) {
      fail(i, k, "status " + std::to_string(parser.get().result_int()) + ", expected 200");
      co_return false;
    }
    std::string seen;
    while (seen.find("\n\n") == std::string::npos) {
      if (parser.is_done()) {
        fail(i, k, "the stream ended before the client could abort it");
        co_return false;
      }
      parser.get().body().data = w.sink.data();
      parser.get().body().size = w.sink.size();
      auto [rec, n] = co_await http::async_read_some(conn.socket, conn.buffer, parser, kTuple);
      if (rec == http::error::need_buffer) rec = {};
      if (rec) {
        fail(i, k, std::string(w.timed_out ? "timed out: " : "read: ") + rec.message());
        co_return false;
      }
      seen.append(w.sink.data(), w.sink.size() - parser.get().body().size);
    }
    if (!seen.starts_with("data: ")) fail(i, k, "first event: " + seen.substr(0, 200));
    co_return false;  // closed by the caller: the abort
  }

  asio::awaitable<void> work(Worker& w) {
    for (;;) {
      if (next_ >= opt_.requests || give_up_) break;
      if (!w.conn) {
        w.conn = co_await connect();
        if (!w.conn) {
          std::fprintf(stderr, "aigw-bench-soak: cannot connect to %s:%s; giving up\n",
                       opt_.host.c_str(), opt_.port.c_str());
          give_up_ = true;
          break;
        }
        continue;  // next_ may have moved while connecting
      }
      const std::uint64_t i = next_++;
      const Kind k = opt_.only >= 0 ? static_cast<Kind>(opt_.only) : mix_[i % mix_.size()];
      ++sent_[k];
      w.busy_since = Clock::now();
      w.timed_out = false;
      const bool keep = co_await exchange(w, i, k);
      w.busy_since = {};
      if (!keep) {
        boost::system::error_code ignored;
        w.conn->socket.close(ignored);
        w.conn.reset();
      }
      ++completed_;
      if (completed_ == warmup_at_ && warmup_at_ > 0) {
        take_sample();
        warmup_sample_ = samples_.size() - 1;
      }
      if (completed_ == opt_.requests) {
        end_ = Clock::now();
        take_sample();
      }
    }
    if (w.conn) {
      boost::system::error_code ignored;
      w.conn->socket.close(ignored);
      w.conn.reset();
    }
    if (--running_ == 0) {
      if (end_ == Clock::time_point{}) end_ = Clock::now();
      ticker_.cancel();
    }
  }

  // Samples every --interval seconds; closes connections with a request older than --timeout.
  asio::awaitable<void> tick() {
    auto next_sample = start_ + to_duration(opt_.interval);
    for (;;) {
      ticker_.expires_after(std::chrono::milliseconds(100));
      auto [ec] = co_await ticker_.async_wait(kTuple);
      if (ec || running_ == 0) co_return;
      const auto now = Clock::now();
      if (now >= next_sample) {
        take_sample();
        next_sample += to_duration(opt_.interval);
      }
      for (auto& w : workers_) {
        if (w.conn && w.busy_since != Clock::time_point{} &&
            now - w.busy_since > to_duration(opt_.timeout) && !w.timed_out) {
          w.timed_out = true;
          boost::system::error_code ignored;
          w.conn->socket.close(ignored);
        }
      }
    }
  }

  static Clock::duration to_duration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  int report() {
    std::uint64_t errors = 0;
    std::uint64_t sent = 0;
    for (std::size_t k = 0; k < kKinds; ++k) {
      errors += errors_[k];
      sent += sent_[k];
    }
    const std::uint64_t unsent = opt_.requests - std::min(opt_.requests, completed_);
    errors += unsent;
    const double seconds = std::chrono::duration<double>(end_ - start_).count();
    std::printf("requests=%llu completed=%llu errors=%llu unsent=%llu seconds=%.2f rps=%.0f\n",
                static_cast<unsigned long long>(opt_.requests),
                static_cast<unsigned long long>(completed_),
                static_cast<unsigned long long>(errors), static_cast<unsigned long long>(unsent),
                seconds, seconds > 0 ? static_cast<double>(completed_) / seconds : 0.0);
    for (std::size_t k = 0; k < kKinds; ++k) {
      std::printf("kind_%s_sent=%llu kind_%s_errors=%llu\n", kKindNames[k],
                  static_cast<unsigned long long>(sent_[k]), kKindNames[k],
                  static_cast<unsigned long long>(errors_[k]));
    }
    std::printf(
        "cache_hits=%llu hit_kind_misses=%llu connects=%llu connect_errors=%llu "
        "server_closes=%llu\n",
        static_cast<unsigned long long>(hits_), static_cast<unsigned long long>(hit_kind_misses_),
        static_cast<unsigned long long>(connects_),
        static_cast<unsigned long long>(connect_errors_),
        static_cast<unsigned long long>(server_closes_));
    report_samples();
    return errors == 0 && sample_failures_ == 0 ? 0 : 1;
  }

  void report_samples() {
    if (opt_.pid <= 0 || samples_.empty()) return;
    if (!opt_.samples.empty()) {
      if (std::FILE* f = std::fopen(opt_.samples.c_str(), "w")) {
        for (const auto& s : samples_) {
          std::fprintf(f, "%.2f %llu %ld %ld %ld\n", s.seconds,
                       static_cast<unsigned long long>(s.completed), s.rss_kib, s.fds, s.anon_kib);
        }
        std::fclose(f);
      }
    }
    // Post-warm-up: from the warm-up's end sample (or the first sample past warmup_at_).
    std::size_t from = warmup_sample_.value_or(samples_.size() - 1);
    if (!warmup_sample_) {
      for (std::size_t s = 0; s < samples_.size(); ++s) {
        if (samples_[s].completed >= warmup_at_) {
          from = s;
          break;
        }
      }
    }
    const Sample& first = samples_.front();
    const Sample& warm = samples_[from];
    const Sample& last = samples_.back();
    long max_rss = 0;
    long max_fds = 0;
    for (std::size_t s = from; s < samples_.size(); ++s) {
      max_rss = std::max(max_rss, samples_[s].rss_kib);
      max_fds = std::max(max_fds, samples_[s].fds);
    }
    // Least squares of RSS (or RssAnon) against requests completed, post-warm-up: KiB/request.
    auto slope_of = [&](long Sample::*field) {
      double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
      for (std::size_t s = from; s < samples_.size(); ++s) {
        const double cx = static_cast<double>(samples_[s].completed);
        const double cy = static_cast<double>(samples_[s].*field);
        n += 1;
        sx += cx;
        sy += cy;
        sxx += cx * cx;
        sxy += cx * cy;
      }
      const double denom = n * sxx - sx * sx;
      return denom > 0 ? (n * sxy - sx * sy) / denom : 0.0;
    };
    const double slope = slope_of(&Sample::rss_kib);
    const double anon_slope = slope_of(&Sample::anon_kib);
    const double drift = warm.rss_kib > 0
                             ? 100.0 * static_cast<double>(last.rss_kib - warm.rss_kib) /
                                   static_cast<double>(warm.rss_kib)
                             : 0.0;
    std::printf(
        "samples=%zu post_warmup_samples=%zu warmup_requests=%llu rss_start_kib=%ld "
        "rss_warm_kib=%ld rss_max_kib=%ld rss_final_kib=%ld drift_pct=%.2f "
        "slope_kib_per_100k=%.1f anon_warm_kib=%ld anon_final_kib=%ld "
        "anon_slope_kib_per_100k=%.1f fds_start=%ld fds_warm=%ld fds_max=%ld fds_end=%ld\n",
        samples_.size(), samples_.size() - from, static_cast<unsigned long long>(warm.completed),
        first.rss_kib, warm.rss_kib, max_rss, last.rss_kib, drift, slope * 100000.0, warm.anon_kib,
        last.anon_kib, anon_slope * 100000.0, first.fds, warm.fds, max_fds, last.fds);
  }

  Options opt_;
  std::array<Kind, 100> mix_;
  asio::io_context io_{1};
  asio::steady_timer ticker_{io_};
  tcp::resolver::results_type endpoints_;
  std::string head_;
  std::vector<Worker> workers_;
  std::vector<Sample> samples_;
  std::optional<std::size_t> warmup_sample_;
  Clock::time_point start_{};
  Clock::time_point end_{};
  std::uint64_t warmup_at_ = 0;
  std::uint64_t next_ = 0;
  std::uint64_t completed_ = 0;
  unsigned running_ = 0;
  bool give_up_ = false;
  bool hit_seen_ = false;
  std::array<std::uint64_t, kKinds> sent_{};
  std::array<std::uint64_t, kKinds> errors_{};
  std::uint64_t hits_ = 0;
  std::uint64_t hit_kind_misses_ = 0;
  std::uint64_t connects_ = 0;
  std::uint64_t connect_errors_ = 0;
  std::uint64_t server_closes_ = 0;
  std::uint64_t sample_failures_ = 0;
  unsigned printed_ = 0;
};

double number(const std::string& flag, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= 0) || v > 1e12) {
    usage(flag + ": bad value '" + text + "'");
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--no-cache") {
      opt.cache = false;
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + arg);
    const char* value = argv[++i];
    if (arg == "--host") {
      opt.host = value;
    } else if (arg == "--port") {
      opt.port = value;
    } else if (arg == "--path") {
      opt.path = value;
    } else if (arg == "--requests") {
      opt.requests = static_cast<std::uint64_t>(number(arg, value));
    } else if (arg == "--connections") {
      opt.connections = std::max(1u, static_cast<unsigned>(number(arg, value)));
    } else if (arg == "--pid") {
      opt.pid = static_cast<long>(number(arg, value));
    } else if (arg == "--interval") {
      opt.interval = std::max(0.1, number(arg, value));
    } else if (arg == "--warmup") {
      opt.warmup = std::min(0.9, number(arg, value));
    } else if (arg == "--events") {
      opt.events = static_cast<unsigned>(number(arg, value));
    } else if (arg == "--samples") {
      opt.samples = value;
    } else if (arg == "--only") {
      const auto it = std::find(kKindNames.begin(), kKindNames.end(), std::string_view(value));
      if (it == kKindNames.end()) usage("--only: unknown kind '" + std::string(value) + "'");
      opt.only = static_cast<int>(it - kKindNames.begin());
    } else if (arg == "--timeout") {
      opt.timeout = std::max(0.1, number(arg, value));
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (opt.port.empty() || opt.requests == 0) usage("--port and --requests are required");
  try {
    return Soak(std::move(opt)).run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aigw-bench-soak: %s\n", e.what());
    return 1;
  }
}
