// aigw-bench-logwriter: how many request-log records per second the log store's one writer
// thread commits, against the same SQLite schema, batching and retention aigw runs with.
//
//   aigw-bench-logwriter --path DB [--records N] [--max-rows N] [--seconds S]
//
// One producer thread submits realistic records (the shape the meter stage makes for a
// metered chat completion: ids, model, timings, tokens, cost, one attempt, a user agent) as
// fast as the store accepts them. When the queue is full, submit() refuses and the producer
// backs off and retries the same record, so every record is written and none is lost: the
// figure is the writer's sustained rate, with retention deleting the oldest rows once the
// table holds --max-rows. Stops after --records or --seconds, whichever comes first, then
// flushes and prints one line of key=value figures:
//
//   records=.. seconds=.. records_per_s=.. writer_cpu_s=.. records_per_writer_cpu_s=..
//   queue_full_retries=.. lost=.. retention_deleted=.. batches=..
//
// writer_cpu_s is the process's CPU time minus the producer thread's: the writer thread's
// (SQLite runs on it) plus the store's bookkeeping.

#include "aigw/ids.hpp"
#include "aigw/log_record.hpp"

#include "store/log_store.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>

namespace {

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

aigw::LogRecord make_record(std::uint64_t i) {
  aigw::LogRecord r;
  r.id = aigw::make_uuid_v7();
  r.event_id = r.id;
  r.created_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  static constexpr std::string_view kProviders[] = {"openai", "anthropic", "google-ai-studio"};
  static constexpr std::string_view kModels[] = {"gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06",
                                                 "claude-sonnet-4-5-20250929", "gemini-2.5-flash"};
  r.provider = kProviders[i % 3];
  r.model = kModels[i % 4];
  r.method = "POST";
  r.path = "/openai/chat/completions";
  r.status_code = 200;
  r.success = true;
  r.cache_status = "MISS";
  r.outcome = "success";
  r.duration_ms = 412.5 + static_cast<double>(i % 97);
  r.ttfb_ms = 398.25;
  r.upstream_ms = 410.0;
  r.tokens_in = 31 + i % 500;
  r.tokens_out = 9 + i % 200;
  r.cached_tokens = 0;
  r.reasoning_tokens = 0;
  r.cost = 0.0000102;
  r.user_agent = "OpenAI/Python 1.54.4";
  r.request_content_type = "application/json";
  r.response_content_type = "application/json";
  r.request_size = 181;
  r.response_size = 553;
  r.attempts.push_back({"openai", 200, 410.0, "", ""});
  return r;
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: aigw-bench-logwriter --path DB [--records N] [--max-rows N] "
               "[--seconds S]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  std::uint64_t records = 1'000'000;
  std::uint64_t max_rows = 200'000;
  double seconds = 30;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage();
    const char* value = argv[++i];
    if (arg == "--path") {
      path = value;
    } else if (arg == "--records") {
      records = std::strtoull(value, nullptr, 10);
    } else if (arg == "--max-rows") {
      max_rows = std::strtoull(value, nullptr, 10);
    } else if (arg == "--seconds") {
      seconds = std::strtod(value, nullptr);
    } else {
      usage();
    }
  }
  if (path.empty() || records == 0 || seconds <= 0) usage();

  // aigw's defaults (config: log.flush_interval, log.queue), with retention on.
  aigw::store::LogStoreOptions options;
  options.path = path;
  options.max_rows = max_rows;
  options.on_error = [](std::string_view message) {
    std::fprintf(stderr, "log store: %.*s\n", static_cast<int>(message.size()), message.data());
  };
  auto opened = aigw::store::LogStore::open(std::move(options));
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().detail.c_str());
    return 1;
  }
  auto& store = **opened;

  const double process_cpu0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  std::uint64_t sent = 0;
  std::uint64_t retries = 0;
  double producer_cpu = 0;
  std::thread producer([&] {
    const double cpu0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    while (sent < records && std::chrono::steady_clock::now() < deadline) {
      aigw::LogRecord r = make_record(sent);
      // submit() takes the record by value: a refused one is gone, so keep a copy to retry.
      while (!store.submit(r)) {
        ++retries;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (std::chrono::steady_clock::now() >= deadline) break;
      }
      ++sent;
    }
    producer_cpu = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  });
  producer.join();
  store.flush();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double writer_cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process_cpu0 - producer_cpu;
  const auto stats = store.stats();
  std::printf(
      "records=%llu seconds=%.3f records_per_s=%.0f writer_cpu_s=%.3f "
      "records_per_writer_cpu_s=%.0f queue_full_retries=%llu lost=%llu "
      "retention_deleted=%llu batches=%llu\n",
      static_cast<unsigned long long>(stats.written), wall,
      static_cast<double>(stats.written) / wall, writer_cpu,
      writer_cpu > 0 ? static_cast<double>(stats.written) / writer_cpu : 0.0,
      static_cast<unsigned long long>(retries), static_cast<unsigned long long>(stats.lost),
      static_cast<unsigned long long>(stats.retention_deleted),
      static_cast<unsigned long long>(stats.batches));
  return stats.lost == 0 ? 0 : 1;
}
