#pragma once
// The gateway's Prometheus metrics (`/metrics` on the admin listener, text format 0.0.4).
//
// Workers record one RequestSample per request at its end; the admin thread renders. Samples
// land in one of 16 shards picked by thread, each with its own mutex, so workers almost never
// wait on each other and a scrape takes each lock once. Label values come from requests
// (model names), so each shard keeps at most kMaxSeries label sets per family; further
// models are counted under model="other" — memory stays bounded whatever clients send.
// Nothing here ever holds a credential: labels are provider slugs, model names, status
// codes and cache statuses.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace aigw::metrics {

// One finished request, as the metering stage saw it.
struct RequestSample {
  std::string_view provider;      // "" when no route matched
  std::string_view model;         // "" when unknown
  unsigned status = 0;            // sent to the client
  std::string_view cache_status;  // "HIT", "MISS", "BYPASS", "COALESCED", ""
  std::uint64_t tokens_in = 0, tokens_out = 0, tokens_cached = 0, tokens_cache_write = 0,
                tokens_reasoning = 0;
  std::optional<double> cost;  // USD; empty when unpriced
  bool unpriced = false;       // the response had usage but the model no price
  bool estimated = false;
  double duration_s = 0;
  std::optional<double> upstream_s;  // time with the provider (none for local answers)
  std::optional<double> ttfb_s;      // arrival to response head sent
  // The provider of each upstream attempt, in order, when there was more than one: a repeat
  // of the previous provider is a retry, another provider a fallback.
  std::vector<std::string_view> attempt_providers;
};

// Cumulative buckets (seconds) shared by every latency histogram: from half a millisecond
// (the gateway's own overhead) to two minutes (a slow first token).
inline constexpr std::array<double, 16> kBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120};

struct Histogram {
  std::array<std::uint64_t, kBuckets.size()> counts{};  // per bucket, not cumulative
  std::uint64_t count = 0;                              // all observations (+Inf)
  double sum = 0;
  void observe(double seconds) noexcept;
  void merge(const Histogram& other) noexcept;
};

// A gauge read when /metrics is rendered (in-flight requests, queue depth, cache bytes...).
struct Gauge {
  std::string name;  // full name, aigw_ prefix included
  std::string help;
  std::string type = "gauge";  // or "counter" for totals kept elsewhere (log drops...)
  std::function<double()> read;
};

class Registry {
 public:
  static constexpr std::size_t kMaxSeries = 1000;     // label sets per family
  static constexpr std::size_t kMaxLabelBytes = 128;  // per label value; longer ones are cut

  void record(const RequestSample& sample);
  // Registered once at start-up, before the first render.
  void add_gauge(Gauge gauge);
  // Requests currently being served and, of those, streams being relayed (the session
  // moves these; they are rendered as gauges).
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> streams_in_flight{0};

  // Prometheus text exposition format 0.0.4, families sorted by name.
  std::string render() const;

 private:
  using RequestKey = std::tuple<std::string, std::string, unsigned, std::string>;
  using ModelKey = std::pair<std::string, std::string>;  // provider, model
  struct Tokens {
    std::uint64_t in = 0, out = 0, cached = 0, cache_write = 0, reasoning = 0;
    double cost = 0;
    std::uint64_t unpriced = 0, estimated = 0;
  };
  // Orders owned keys and their string_view look-alikes together, so a request's sample is
  // found without building (allocating) a key; one is built only for a new label set.
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return views(a) < views(b);
    }
    static std::string_view views(std::string_view s) { return s; }
    static unsigned views(unsigned n) { return n; }
    template <class... T>
    static auto views(const std::tuple<T...>& t) {
      return std::apply([](const auto&... x) { return std::tuple{views(x)...}; }, t);
    }
    template <class A, class B>
    static auto views(const std::pair<A, B>& p) {
      return std::tuple{views(p.first), views(p.second)};
    }
  };
  template <class K, class V>
  using Map = std::map<K, V, KeyLess>;
  struct Shard {
    mutable std::mutex mutex;
    Map<RequestKey, std::uint64_t> requests;
    Map<ModelKey, Tokens> tokens;
    Map<std::string, Histogram> upstream;                               // by provider
    Map<std::string, Histogram> ttfb;                                   // by provider
    Map<std::string, std::uint64_t> retries;                            // by provider
    Map<std::pair<std::string, std::string>, std::uint64_t> fallbacks;  // from, to
    Histogram overhead;  // duration minus upstream time
    Histogram duration;
  };
  Shard& shard() noexcept;

  std::array<Shard, 16> shards_;
  // Label sets per family over all shards: requests, tokens, upstream, ttfb, retries,
  // fallbacks.
  std::array<std::atomic<std::size_t>, 6> series_{};
  std::vector<Gauge> gauges_;
};

// A label value escaped for the text format (backslash, double quote, newline).
std::string escape_label(std::string_view value);

}  // namespace aigw::metrics
