// The Prometheus registry: exact values after known samples, a strict check of the text
// format (every line a HELP, TYPE or sample line of a declared family; histograms
// cumulative), label escaping and the bound on label sets.

#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace aigw::metrics {
namespace {

// Checks `text` against the exposition format 0.0.4 and returns sample values by their
// full series text (name plus labels as rendered).
std::map<std::string, double> parse(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")"
      R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? )"
      R"((-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?|\+Inf|-Inf|NaN))");
  std::map<std::string, double> values;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kHelp)) continue;
    if (std::regex_match(line, m, kType)) {
      EXPECT_EQ(types.count(m[1]), 0u) << "family declared twice: " << m[1];
      types[m[1]] = m[2];
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "not a sample line: " << line;
      continue;
    }
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (!types.count(family) && family.size() > s.size() &&
          family.compare(family.size() - s.size(), s.size(), s) == 0) {
        family.resize(family.size() - s.size());
      }
    }
    EXPECT_EQ(types.count(family), 1u) << "sample of an undeclared family: " << line;
    values[line.substr(0, line.rfind(' '))] = std::stod(m[3] == "+Inf" ? "inf" : m[3].str());
  }
  return values;
}

RequestSample chat(std::string_view model, unsigned status, std::string_view cache) {
  RequestSample s;
  s.provider = "openai";
  s.model = model;
  s.status = status;
  s.cache_status = cache;
  s.tokens_in = 100;
  s.tokens_out = 20;
  s.tokens_cached = 50;
  s.tokens_reasoning = 5;
  s.cost = 0.001;
  s.duration_s = 0.3;
  s.upstream_s = 0.29;
  s.ttfb_s = 0.1;
  return s;
}

TEST(Metrics, RendersExactValuesInTheTextFormat) {
  Registry r;
  r.record(chat("gpt-4o", 200, "MISS"));
  r.record(chat("gpt-4o", 200, "MISS"));
  auto unpriced = chat("mystery", 200, "");
  unpriced.cost.reset();
  unpriced.unpriced = true;
  r.record(unpriced);
  r.in_flight = 3;
  int depth = 7;
  r.add_gauge({"aigw_log_queue_depth", "Records waiting.", "gauge", [&] { return depth; }});

  const auto v = parse(r.render());
  EXPECT_EQ(
      v.at(R"(aigw_requests_total{provider="openai",model="gpt-4o",status="200",cache="MISS"})"),
      2);
  EXPECT_EQ(v.at(R"(aigw_tokens_total{provider="openai",model="gpt-4o",kind="input"})"), 200);
  EXPECT_EQ(v.at(R"(aigw_tokens_total{provider="openai",model="gpt-4o",kind="cached_input"})"),
            100);
  EXPECT_EQ(v.at(R"(aigw_tokens_total{provider="openai",model="gpt-4o",kind="reasoning"})"), 10);
  EXPECT_DOUBLE_EQ(v.at(R"(aigw_cost_usd_total{provider="openai",model="gpt-4o"})"), 0.002);
  EXPECT_EQ(v.at(R"(aigw_cost_usd_total{provider="openai",model="mystery"})"), 0);
  EXPECT_EQ(v.at(R"(aigw_unpriced_requests_total{provider="openai",model="mystery"})"), 1);
  EXPECT_EQ(v.at("aigw_requests_in_flight"), 3);
  EXPECT_EQ(v.at("aigw_log_queue_depth"), 7);
  // Histograms: cumulative, +Inf equals _count, and the sum adds up.
  EXPECT_EQ(v.at(R"(aigw_upstream_duration_seconds_bucket{provider="openai",le="0.25"})"), 0);
  EXPECT_EQ(v.at(R"(aigw_upstream_duration_seconds_bucket{provider="openai",le="0.5"})"), 3);
  EXPECT_EQ(v.at(R"(aigw_upstream_duration_seconds_bucket{provider="openai",le="+Inf"})"), 3);
  EXPECT_EQ(v.at(R"(aigw_upstream_duration_seconds_count{provider="openai"})"), 3);
  EXPECT_NEAR(v.at(R"(aigw_upstream_duration_seconds_sum{provider="openai"})"), 0.87, 1e-9);
  EXPECT_EQ(v.at(R"(aigw_gateway_overhead_seconds_bucket{le="0.01"})"), 0);
  EXPECT_EQ(v.at(R"(aigw_gateway_overhead_seconds_bucket{le="0.025"})"), 3);
  std::vector<double> cumulative;
  for (const auto& [series, value] : v) {
    if (series.rfind("aigw_request_duration_seconds_bucket", 0) == 0) cumulative.push_back(value);
  }
  ASSERT_EQ(cumulative.size(), kBuckets.size() + 1);  // every bound and +Inf
  EXPECT_EQ(*std::max_element(cumulative.begin(), cumulative.end()), 3);
  EXPECT_EQ(v.at(R"(aigw_request_duration_seconds_bucket{le="0.25"})"), 0);
  EXPECT_EQ(v.at(R"(aigw_request_duration_seconds_bucket{le="0.5"})"), 3);
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Registry r;
  r.record(chat("we\"ird\nmodel\\", 200, "MISS"));
  const auto v = parse(r.render());
  // A control character in a label is replaced (text::clip) before it could be escaped.
  EXPECT_EQ(
      v.count(
          R"(aigw_requests_total{provider="openai",model="we\"ird?model\\",status="200",cache="MISS"})"),
      1u);
}

TEST(Metrics, LabelSetsAreBoundedAndTheRestCountAsOther) {
  Registry r;
  const std::size_t n = Registry::kMaxSeries + 50;
  std::vector<std::string> models;
  for (std::size_t i = 0; i < n; ++i) models.push_back("model-" + std::to_string(i));
  for (const auto& m : models) r.record(chat(m, 200, "MISS"));
  const auto v = parse(r.render());
  std::size_t series = 0;
  for (const auto& [key, value] : v) series += key.rfind("aigw_requests_total{", 0) == 0;
  EXPECT_EQ(series, Registry::kMaxSeries + 1);
  EXPECT_EQ(
      v.at(R"(aigw_requests_total{provider="openai",model="other",status="200",cache="MISS"})"),
      50);
}

TEST(Metrics, ConcurrentRecordsAllCount) {
  Registry r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) r.record(chat("gpt-4o", 200, "HIT"));
    });
  }
  for (auto& t : threads) t.join();
  const auto v = parse(r.render());
  EXPECT_EQ(
      v.at(R"(aigw_requests_total{provider="openai",model="gpt-4o",status="200",cache="HIT"})"),
      4000);
}

}  // namespace
}  // namespace aigw::metrics
