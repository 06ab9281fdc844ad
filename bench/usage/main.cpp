// aigw-bench-usage: how long GET /api/usage takes over a large request log (issue 19's
// benchmark: 1M records), through the same admin::handle the admin listener calls.
//
//   aigw-bench-usage --path DB [--records N] [--days D] [--runs R]
//
// Fills DB (when it holds fewer than N records) with N records spread evenly over the last
// D days (3 providers, 8 models, 20 keys, 10% errors, 5% feedback), then runs each of a few
// typical dashboard queries R times and prints one line per query:
//
//   query=<target> rows=<result rows> p50_ms=.. p99_ms=.. max_ms=..
//
// The database is kept, so a second run measures queries only.

#include "aigw/ids.hpp"
#include "aigw/log_record.hpp"

#include "core/metrics.hpp"
#include "pipeline/pipeline.hpp"
#include "server/admin_api.hpp"
#include "store/log_store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string path;
  std::size_t records = 1'000'000;
  int days = 7;
  int runs = 20;
};

[[noreturn]] void usage_and_exit() {
  std::fputs("usage: aigw-bench-usage --path DB [--records N] [--days D] [--runs R]\n", stderr);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) usage_and_exit();
    if (a == "--path") {
      o.path = argv[++i];
    } else if (a == "--records") {
      o.records = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--days") {
      o.days = std::atoi(argv[++i]);
    } else if (a == "--runs") {
      o.runs = std::atoi(argv[++i]);
    } else {
      usage_and_exit();
    }
  }
  if (o.path.empty() || o.records == 0 || o.days < 1 || o.runs < 1) usage_and_exit();
  return o;
}

aigw::LogRecord record(std::size_t i, std::int64_t start_ms, std::int64_t span_ms,
                       std::size_t total) {
  static const char* providers[] = {"openai", "anthropic", "groq"};
  static const char* models[] = {"gpt-4o-mini",   "gpt-4o",  "claude-sonnet-4-5", "claude-haiku",
                                 "llama-3.3-70b", "gpt-4.1", "gpt-5-mini",        "mixtral"};
  aigw::LogRecord r;
  r.id = aigw::make_uuid_v7();
  r.event_id = r.id;
  r.created_at = start_ms + static_cast<std::int64_t>(i) * span_ms /
                                static_cast<std::int64_t>(std::max<std::size_t>(total, 1));
  r.provider = providers[i % 3];
  r.model = models[i % 8];
  r.method = "POST";
  r.path = "/" + r.provider + "/v1/chat/completions";
  r.success = i % 10 != 0;
  r.status_code = r.success ? 200 : 429;
  r.outcome = r.success ? "success" : "provider_error";
  r.cached = i % 7 == 0;
  r.cache_status = r.cached ? "HIT" : "MISS";
  r.duration_ms = 20.0 + static_cast<double>((i * 7919) % 2000);
  r.ttfb_ms = r.duration_ms / 3;
  r.tokens_in = 200 + i % 1000;
  r.tokens_out = 50 + i % 300;
  r.cost = 0.000001 * static_cast<double>(i % 5000);
  r.key = "key-" + std::to_string(i % 20);
  if (i % 20 == 0) r.feedback = static_cast<std::int8_t>(i % 40 == 0 ? 1 : -1);
  r.user_agent = "OpenAI/Python 1.54.0";
  r.request_content_type = "application/json";
  r.response_content_type = "application/json";
  r.attempts.push_back(aigw::LogAttempt{r.provider, r.status_code, r.duration_ms, "", ""});
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  aigw::store::LogStoreOptions options;
  options.path = o.path;
  options.max_rows = 0;
  options.max_age = std::chrono::seconds(0);
  auto opened = aigw::store::LogStore::open(std::move(options));
  if (!opened) {
    std::fprintf(stderr, "aigw-bench-usage: %s\n", opened.error().detail.c_str());
    return 1;
  }
  std::shared_ptr<aigw::store::LogStore> log = std::move(*opened);
  aigw::Telemetry telemetry;
  telemetry.log = log;
  telemetry.metrics = std::make_shared<aigw::metrics::Registry>();

  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t span_ms = std::int64_t{o.days} * 86'400'000;
  // How many are there already (a kept database from an earlier run)?
  const auto counted = aigw::admin::handle("/api/usage", telemetry);
  std::size_t have = 0;
  if (counted && counted->status == 200) {
    const auto body = nlohmann::json::parse(counted->body, nullptr, false);
    if (body.contains("result") && !body["result"].empty()) {
      have = body["result"][0].value("requests", std::size_t{0});
    }
  }
  if (have < o.records) {
    const auto t0 = Clock::now();
    for (std::size_t i = have; i < o.records; ++i) {
      auto r = record(i, now_ms - span_ms, span_ms, o.records);
      while (!log->submit(r)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    log->flush();
    std::printf("filled records=%zu seconds=%.1f\n", o.records - have,
                std::chrono::duration<double>(Clock::now() - t0).count());
  }

  const std::string from = std::to_string(now_ms - span_ms);
  const std::string day_ago = std::to_string(now_ms - 86'400'000);
  // What the console asks for: the tiles, the charts split by provider / model / key.
  const std::vector<std::string> queries = {
      "/api/usage?from=" + from,
      "/api/usage?from=" + from + "&bucket=hour&group_by=provider",
      "/api/usage?from=" + from + "&bucket=hour&group_by=model",
      "/api/usage?from=" + day_ago + "&bucket=minute&group_by=key",
      "/api/logs?limit=50",
      "/api/logs?limit=50&provider=groq&success=false",
  };
  for (const auto& q : queries) {
    std::vector<double> ms;
    std::size_t rows = 0;
    for (int run = 0; run < o.runs; ++run) {
      const auto t0 = Clock::now();
      const auto res = aigw::admin::handle(q, telemetry);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (!res || res->status != 200) {
        std::fprintf(stderr, "aigw-bench-usage: %s failed: %s\n", q.c_str(),
                     res ? res->body.c_str() : "no route");
        return 1;
      }
      if (run == 0) {
        rows = nlohmann::json::parse(res->body, nullptr, false)["result"].size();
      }
    }
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double p) {
      return ms[std::min(ms.size() - 1,
                         static_cast<std::size_t>(p * static_cast<double>(ms.size())))];
    };
    std::printf("query=%s rows=%zu p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n", q.c_str(), rows,
                at(0.50), at(0.99), ms.back());
  }
  return 0;
}
