// aigw-bench-load — an open-loop, fixed-rate HTTP/1.1 load generator for bench/run.sh.
//
//   aigw-bench-load --url http://127.0.0.1:8080/openai/chat/completions
//                   (--body JSON | --body-file FILE) [--header "Name: value"]...
//                   --rate 1000 (--duration 10 | --count N) [--warmup 1]
//                   [--connections 8] [--timeout 10]
//
// wrk measures the most a server can do; it has no fixed-rate mode. This tool sends request i
// at start + i/rate whatever happened to the ones before (open loop). A request that finds no
// free keep-alive connection waits for one (or for a new one, up to --connections), and that
// wait counts: latency runs from the scheduled send time to the response's last byte, so a
// stall is not hidden by the requests it held back (coordinated omission, as in wrk2). For SSE
// responses the time to the first body byte (the first event) is recorded as well.
//
// One thread, one io_context. Requests scheduled in the first --warmup seconds are sent but
// not recorded. Output: one line of key=value pairs on stdout (times in microseconds).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/prctl.h>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Options {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;
  std::string body;
  std::vector<std::string> headers;
  double rate = 1000;
  double duration = 10;
  std::uint64_t count = 0;  // when set, overrides duration
  double warmup = 1;
  unsigned connections = 8;
  double timeout = 10;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "aigw-bench-load: %s\n"
               "usage: aigw-bench-load --url URL (--body JSON | --body-file FILE)\n"
               "         [--header 'Name: value']... --rate R (--duration S | --count N)\n"
               "         [--warmup S] [--connections N] [--timeout S]\n",
               why);
  std::exit(2);
}

void parse_url(std::string_view url, Options& opt) {
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    opt.tls = true;
    rest = url.substr(8);
  } else {
    usage("--url must start with http:// or https://");
  }
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  opt.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    opt.host = authority;
    opt.port = opt.tls ? "443" : "80";
  } else {
    opt.host = authority.substr(0, colon);
    opt.port = authority.substr(colon + 1);
  }
}

struct Sample {
  double first_us;  // scheduled send → first body byte (or end, for an empty body)
  double total_us;  // scheduled send → last byte
};

enum class Outcome { kKeepAlive, kClose, kError };

class Load {
 public:
  explicit Load(Options opt) : opt_(std::move(opt)), tls_(ssl::context::tls_client) {
    tls_.set_verify_mode(ssl::verify_none);  // loopback benchmark: the fake's throwaway cert
    request_ = "POST " + opt_.target + " HTTP/1.1\r\nHost: " + opt_.host + ":" + opt_.port +
               "\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(opt_.body.size()) + "\r\n";
    for (const auto& h : opt_.headers) request_ += h + "\r\n";
    request_ += "\r\n" + opt_.body;
  }

  int run() {
    ::prctl(PR_SET_TIMERSLACK, 1UL);  // 1 ns: fire send timers on time, not up to 50 µs late
    tcp::resolver resolver(io_);
    endpoints_ = resolver.resolve(opt_.host, opt_.port);
    const auto total =
        opt_.count ? static_cast<double>(opt_.count) / opt_.rate : opt_.warmup + opt_.duration;
    samples_.reserve(static_cast<std::size_t>(total * opt_.rate) + 16);
    for (unsigned i = 0; i < opt_.connections; ++i) spawn_worker();
    asio::co_spawn(io_, schedule(), asio::detached);
    io_.run();
    return report();
  }

 private:
  struct Connection {
    std::unique_ptr<tcp::socket> plain;
    std::unique_ptr<ssl::stream<tcp::socket>> tls;
    beast::flat_buffer buffer;
  };

  void spawn_worker() {
    ++workers_;
    asio::co_spawn(io_, worker(), asio::detached);
  }

  asio::awaitable<std::unique_ptr<Connection>> connect() {
    auto conn = std::make_unique<Connection>();
    tcp::socket socket(io_);
    auto [ec, ep] = co_await asio::async_connect(socket, endpoints_, kTuple);
    if (ec) co_return nullptr;
    socket.set_option(tcp::no_delay(true));
    if (!opt_.tls) {
      conn->plain = std::make_unique<tcp::socket>(std::move(socket));
      co_return conn;
    }
    conn->tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(socket), tls_);
    SSL_set_tlsext_host_name(conn->tls->native_handle(), opt_.host.c_str());
    auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kTuple);
    if (hec) co_return nullptr;
    co_return conn;
  }

  template <class Stream>
  asio::awaitable<Outcome> exchange(Stream& stream, beast::flat_buffer& buffer,
                                    Clock::time_point scheduled) {
    auto [wec, written] = co_await asio::async_write(stream, asio::buffer(request_), kTuple);
    if (wec) co_return Outcome::kError;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    auto [hec, head_bytes] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (hec) co_return Outcome::kError;
    std::array<char, 16 * 1024> sink;
    Clock::time_point first{};
    while (!parser.is_done()) {
      parser.get().body().data = sink.data();
      parser.get().body().size = sink.size();
      auto [rec, n] = co_await http::async_read_some(stream, buffer, parser, kTuple);
      if (rec == http::error::need_buffer) rec = {};
      if (rec) co_return Outcome::kError;
      if (first == Clock::time_point{} && parser.get().body().size < sink.size()) {
        first = Clock::now();
      }
    }
    const auto end = Clock::now();
    if (first == Clock::time_point{}) first = end;
    if (parser.get().result_int() / 100 != 2) ++non2xx_;
    if (scheduled >= record_from_) {
      const auto us = [&](Clock::time_point t) {
        return std::chrono::duration<double, std::micro>(t - scheduled).count();
      };
      samples_.push_back({us(first), us(end)});
    }
    co_return parser.get().keep_alive() ? Outcome::kKeepAlive : Outcome::kClose;
  }

  asio::awaitable<void> worker() {
    asio::steady_timer wake(io_);
    std::unique_ptr<Connection> conn;
    for (;;) {
      if (!conn) {
        conn = co_await connect();
        if (!conn) {
          ++connect_errors_;
          if (done_ || connect_errors_ > 1000) break;
          wake.expires_after(std::chrono::milliseconds(10));
          co_await wake.async_wait(kTuple);
          continue;
        }
        ++connected_;
      }
      while (queue_.empty() && !done_) {
        wake.expires_at(Clock::time_point::max());
        idle_.push_back(&wake);
        co_await wake.async_wait(kTuple);
      }
      if (queue_.empty()) break;  // schedule finished and drained
      const auto scheduled = queue_.front();
      queue_.pop_front();
      Outcome outcome;
      if (conn->tls) {
        outcome = co_await exchange(*conn->tls, conn->buffer, scheduled);
      } else {
        outcome = co_await exchange(*conn->plain, conn->buffer, scheduled);
      }
      ++completed_;
      if (outcome == Outcome::kError) ++errors_;
      if (outcome != Outcome::kKeepAlive) conn.reset();
    }
    // Leave the idle list if a wake-up never came (the schedule ended while connecting).
    std::erase(idle_, &wake);
    if (--workers_ == 0 && done_) deadline_.cancel();
  }

  asio::awaitable<void> schedule() {
    asio::steady_timer timer(io_);
    // Let the initial connections open first (bounded wait): connect time is not latency.
    for (int i = 0; i < 2000 && connected_ < opt_.connections && connect_errors_ == 0; ++i) {
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(kTuple);
    }
    const auto start = Clock::now() + std::chrono::milliseconds(5);
    record_from_ = start + to_duration(opt_.warmup);
    const auto stop = start + to_duration(opt_.warmup + opt_.duration);
    const double interval_ns = 1e9 / opt_.rate;
    for (std::uint64_t i = 0;; ++i) {
      const auto at = start + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                  std::llround(static_cast<double>(i) * interval_ns)));
      if (opt_.count ? i >= opt_.count : at >= stop) break;
      timer.expires_at(at);
      co_await timer.async_wait(kTuple);
      queue_.push_back(at);
      ++scheduled_;
      if (!idle_.empty()) {
        auto* w = idle_.back();  // most recently idle: the warmest connection
        idle_.pop_back();
        w->cancel();
      } else if (workers_ < opt_.connections) {
        spawn_worker();  // a worker lost its connection and ended; replace it
      }
    }
    ended_ = Clock::now();
    done_ = true;
    for (auto* w : idle_) w->cancel();
    idle_.clear();
    // Responses still in flight get --timeout seconds; then everything stops.
    deadline_.expires_after(to_duration(opt_.timeout));
    auto [ec] = co_await deadline_.async_wait(kTuple);
    if (!ec) io_.stop();
  }

  static Clock::duration to_duration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  static double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
  }

  int report() {
    std::vector<double> total;
    std::vector<double> first;
    total.reserve(samples_.size());
    first.reserve(samples_.size());
    for (const auto& s : samples_) {
      total.push_back(s.total_us);
      first.push_back(s.first_us);
    }
    std::sort(total.begin(), total.end());
    std::sort(first.begin(), first.end());
    const double seconds =
        std::chrono::duration<double>(ended_ - record_from_).count();  // recorded window
    const std::uint64_t lost = scheduled_ - completed_;                // never finished
    std::printf(
        "requests=%zu errors=%llu non2xx=%llu lost=%llu rate=%.1f lat_p50_us=%.1f "
        "lat_p90_us=%.1f lat_p99_us=%.1f lat_p999_us=%.1f lat_max_us=%.1f first_p50_us=%.1f "
        "first_p99_us=%.1f\n",
        total.size(), static_cast<unsigned long long>(errors_ + connect_errors_),
        static_cast<unsigned long long>(non2xx_), static_cast<unsigned long long>(lost),
        seconds > 0 ? static_cast<double>(total.size()) / seconds : 0.0, percentile(total, 0.50),
        percentile(total, 0.90), percentile(total, 0.99), percentile(total, 0.999),
        total.empty() ? 0.0 : total.back(), percentile(first, 0.50), percentile(first, 0.99));
    return errors_ + connect_errors_ + non2xx_ + lost == 0 && !total.empty() ? 0 : 1;
  }

  Options opt_;
  asio::io_context io_{1};
  ssl::context tls_;
  tcp::resolver::results_type endpoints_;
  std::string request_;
  std::deque<Clock::time_point> queue_;
  std::vector<asio::steady_timer*> idle_;
  asio::steady_timer deadline_{io_};
  std::vector<Sample> samples_;
  Clock::time_point record_from_ = Clock::time_point::max();
  Clock::time_point ended_{};
  bool done_ = false;
  unsigned workers_ = 0;
  unsigned connected_ = 0;
  std::uint64_t scheduled_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t connect_errors_ = 0;
  std::uint64_t non2xx_ = 0;
};

double positive(const char* flag, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= 0) || v > 1e9) {
    usage((std::string(flag) + ": bad value '" + text + "'").c_str());
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool have_url = false;
  bool have_body = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + std::string(arg)).c_str());
    const char* value = argv[++i];
    if (arg == "--url") {
      parse_url(value, opt);
      have_url = true;
    } else if (arg == "--body") {
      opt.body = value;
      have_body = true;
    } else if (arg == "--body-file") {
      std::ifstream in(value, std::ios::binary);
      if (!in) usage((std::string("cannot read ") + value).c_str());
      std::ostringstream text;
      text << in.rdbuf();
      opt.body = text.str();
      have_body = true;
    } else if (arg == "--header") {
      opt.headers.emplace_back(value);
    } else if (arg == "--rate") {
      opt.rate = positive("--rate", value);
    } else if (arg == "--duration") {
      opt.duration = positive("--duration", value);
    } else if (arg == "--count") {
      opt.count = static_cast<std::uint64_t>(positive("--count", value));
    } else if (arg == "--warmup") {
      opt.warmup = positive("--warmup", value);
    } else if (arg == "--connections") {
      opt.connections = std::max(1u, static_cast<unsigned>(positive("--connections", value)));
    } else if (arg == "--timeout") {
      opt.timeout = positive("--timeout", value);
    } else {
      usage(("unknown argument " + std::string(arg)).c_str());
    }
  }
  if (!have_url || !have_body) usage("--url and a body are required");
  if (opt.rate <= 0) usage("--rate must be > 0");
  if (opt.count) opt.duration = static_cast<double>(opt.count) / opt.rate;
  if (opt.count) opt.warmup = 0;  // a fixed count is recorded whole
  try {
    return Load(std::move(opt)).run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aigw-bench-load: %s\n", e.what());
    return 1;
  }
}
