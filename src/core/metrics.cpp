#include "core/metrics.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <thread>

namespace aigw::metrics {
namespace {

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    out += std::to_string(static_cast<long long>(v));
  } else {
    std::array<char, 32> buf{};
    const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    out.append(buf.data(), r.ptr);
  }
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

void sample(std::string& out, std::string_view name, const Labels& labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      out += labels[i].first;
      out += "=\"";
      out += escape_label(labels[i].second);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  append_number(out, value);
  out += '\n';
}

void histogram(std::string& out, std::string_view name, Labels labels, const Histogram& h) {
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  labels.emplace_back("le", "");
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += h.counts[i];
    std::string le;
    append_number(le, kBuckets[i]);
    labels.back().second = le;
    sample(out, bucket, labels, static_cast<double>(cumulative));
  }
  labels.back().second = "+Inf";
  sample(out, bucket, labels, static_cast<double>(h.count));
  labels.pop_back();
  sample(out, std::string(name) + "_sum", labels, h.sum);
  sample(out, std::string(name) + "_count", labels, static_cast<double>(h.count));
}

// A bounded map: a new label set beyond kMaxSeries is folded into the one `overflow()`
// makes (only then: it is the rare path). `series` counts the family's label sets over all
// shards, so the bound holds for the process, not per shard.
template <class Map, class Key, class Overflow>
typename Map::mapped_type& bounded(Map& map, const Key& key, Overflow overflow,
                                   std::atomic<std::size_t>& series) {
  if (auto it = map.find(key); it != map.end()) return it->second;
  if (series.fetch_add(1, std::memory_order_relaxed) >= Registry::kMaxSeries) {
    series.fetch_sub(1, std::memory_order_relaxed);
    return map[overflow()];
  }
  return map.try_emplace(typename Map::key_type(key)).first->second;
}

}  // namespace

void Histogram::observe(double seconds) noexcept {
  const auto it = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds);
  if (it != kBuckets.end()) ++counts[static_cast<std::size_t>(it - kBuckets.begin())];
  ++count;
  sum += seconds;
}

void Histogram::merge(const Histogram& other) noexcept {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  count += other.count;
  sum += other.sum;
}

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Registry::Shard& Registry::shard() noexcept {
  thread_local const std::size_t index =
      std::hash<std::thread::id>{}(std::this_thread::get_id()) % 16;
  return shards_[index];
}

void Registry::record(const RequestSample& s) {
  // Label values are bounded in bytes as the label sets are in number, so /metrics is
  // bounded in bytes whatever clients name (docs/security.md).
  std::string provider_scratch, model_scratch;
  const std::string_view provider = text::clip(s.provider, kMaxLabelBytes, provider_scratch);
  const std::string_view model = text::clip(s.model, kMaxLabelBytes, model_scratch);
  Shard& sh = shard();
  std::lock_guard lock(sh.mutex);
  ++bounded(
      sh.requests, std::tuple{provider, model, s.status, s.cache_status},
      [&] {
        return RequestKey{provider, "other", s.status, s.cache_status};
      },
      series_[0]);
  Tokens& t = bounded(
      sh.tokens, std::pair{provider, model},
      [&] {
        return ModelKey{provider, "other"};
      },
      series_[1]);
  t.in += s.tokens_in;
  t.out += s.tokens_out;
  t.cached += s.tokens_cached;
  t.cache_write += s.tokens_cache_write;
  t.reasoning += s.tokens_reasoning;
  if (s.cost) t.cost += *s.cost;
  t.unpriced += s.unpriced ? 1 : 0;
  t.estimated += s.estimated ? 1 : 0;
  sh.duration.observe(s.duration_s);
  if (s.upstream_s) {
    bounded(
        sh.upstream, provider, [] { return std::string("other"); }, series_[2])
        .observe(*s.upstream_s);
    sh.overhead.observe(std::max(0.0, s.duration_s - *s.upstream_s));
  } else {
    sh.overhead.observe(s.duration_s);
  }
  if (s.ttfb_s) {
    bounded(
        sh.ttfb, provider, [] { return std::string("other"); }, series_[3])
        .observe(*s.ttfb_s);
  }
  for (std::size_t i = 1; i < s.attempt_providers.size(); ++i) {
    std::string from_scratch, to_scratch;
    const std::string_view from =
        text::clip(s.attempt_providers[i - 1], kMaxLabelBytes, from_scratch);
    const std::string_view to = text::clip(s.attempt_providers[i], kMaxLabelBytes, to_scratch);
    if (from == to) {
      ++bounded(
          sh.retries, from, [] { return std::string("other"); }, series_[4]);
    } else {
      ++bounded(
          sh.fallbacks, std::pair{from, to},
          [] {
            return std::pair<std::string, std::string>{"other", "other"};
          },
          series_[5]);
    }
  }
}

void Registry::add_gauge(Gauge gauge) { gauges_.push_back(std::move(gauge)); }

std::string Registry::render() const {
  std::map<RequestKey, std::uint64_t> requests;
  std::map<ModelKey, Tokens> tokens;
  std::map<std::string, Histogram> upstream, ttfb;
  std::map<std::string, std::uint64_t> retries;
  std::map<std::pair<std::string, std::string>, std::uint64_t> fallbacks;
  Histogram overhead, duration;
  for (const Shard& sh : shards_) {
    std::lock_guard lock(sh.mutex);
    for (const auto& [k, v] : sh.requests) requests[k] += v;
    for (const auto& [k, v] : sh.tokens) {
      Tokens& t = tokens[k];
      t.in += v.in;
      t.out += v.out;
      t.cached += v.cached;
      t.cache_write += v.cache_write;
      t.reasoning += v.reasoning;
      t.cost += v.cost;
      t.unpriced += v.unpriced;
      t.estimated += v.estimated;
    }
    for (const auto& [k, v] : sh.upstream) upstream[k].merge(v);
    for (const auto& [k, v] : sh.retries) retries[k] += v;
    for (const auto& [k, v] : sh.fallbacks) fallbacks[k] += v;
    for (const auto& [k, v] : sh.ttfb) ttfb[k].merge(v);
    overhead.merge(sh.overhead);
    duration.merge(sh.duration);
  }

  std::string out;
  out.reserve(8192);
  header(out, "aigw_requests_total", "counter",
         "Requests answered, by provider, model, status and cache status.");
  for (const auto& [k, v] : requests) {
    const auto& [provider, model, status, cache] = k;
    const std::string code = std::to_string(status);
    sample(out, "aigw_requests_total",
           {{"provider", provider}, {"model", model}, {"status", code}, {"cache", cache}},
           static_cast<double>(v));
  }
  header(out, "aigw_tokens_total", "counter",
         "Tokens metered, by provider, model and kind (input includes cached and cache_write; "
         "output includes reasoning).");
  for (const auto& [k, t] : tokens) {
    const auto& [provider, model] = k;
    const std::pair<std::string_view, std::uint64_t> kinds[] = {{"input", t.in},
                                                                {"output", t.out},
                                                                {"cached_input", t.cached},
                                                                {"cache_write", t.cache_write},
                                                                {"reasoning", t.reasoning}};
    for (const auto& [kind, n] : kinds) {
      sample(out, "aigw_tokens_total", {{"provider", provider}, {"model", model}, {"kind", kind}},
             static_cast<double>(n));
    }
  }
  header(out, "aigw_cost_usd_total", "counter", "Cost of priced requests in US dollars.");
  for (const auto& [k, t] : tokens) {
    sample(out, "aigw_cost_usd_total", {{"provider", k.first}, {"model", k.second}}, t.cost);
  }
  header(out, "aigw_unpriced_requests_total", "counter",
         "Requests whose model has no price (cost logged as null).");
  for (const auto& [k, t] : tokens) {
    sample(out, "aigw_unpriced_requests_total", {{"provider", k.first}, {"model", k.second}},
           static_cast<double>(t.unpriced));
  }
  header(out, "aigw_estimated_requests_total", "counter",
         "Requests with a token figure estimated by the gateway (aborted or usage-less streams).");
  for (const auto& [k, t] : tokens) {
    sample(out, "aigw_estimated_requests_total", {{"provider", k.first}, {"model", k.second}},
           static_cast<double>(t.estimated));
  }
  header(out, "aigw_upstream_retries_total", "counter",
         "Upstream attempts beyond the first made to the same provider (docs/routing.md).");
  for (const auto& [provider, n] : retries) {
    sample(out, "aigw_upstream_retries_total", {{"provider", provider}}, static_cast<double>(n));
  }
  header(out, "aigw_fallbacks_total", "counter",
         "Universal requests that moved from one step's provider to the next one's.");
  for (const auto& [k, n] : fallbacks) {
    sample(out, "aigw_fallbacks_total", {{"from", k.first}, {"to", k.second}},
           static_cast<double>(n));
  }
  header(out, "aigw_upstream_duration_seconds", "histogram",
         "Time spent with the provider: request sent to last byte received.");
  for (const auto& [provider, h] : upstream) {
    histogram(out, "aigw_upstream_duration_seconds", {{"provider", provider}}, h);
  }
  header(out, "aigw_time_to_first_byte_seconds", "histogram",
         "Request arrival to response head sent to the client.");
  for (const auto& [provider, h] : ttfb) {
    histogram(out, "aigw_time_to_first_byte_seconds", {{"provider", provider}}, h);
  }
  header(out, "aigw_request_duration_seconds", "histogram",
         "Request arrival to last byte sent to the client.");
  histogram(out, "aigw_request_duration_seconds", {}, duration);
  header(out, "aigw_gateway_overhead_seconds", "histogram",
         "The gateway's own share of each request: duration minus time with the provider.");
  histogram(out, "aigw_gateway_overhead_seconds", {}, overhead);
  header(out, "aigw_requests_in_flight", "gauge", "Requests being served.");
  sample(out, "aigw_requests_in_flight", {}, static_cast<double>(in_flight.load()));
  header(out, "aigw_streams_in_flight", "gauge", "Streamed responses being relayed.");
  sample(out, "aigw_streams_in_flight", {}, static_cast<double>(streams_in_flight.load()));
  std::vector<const Gauge*> sorted;
  for (const auto& g : gauges_) sorted.push_back(&g);
  std::sort(sorted.begin(), sorted.end(),
            [](const Gauge* a, const Gauge* b) { return a->name < b->name; });
  for (const Gauge* g : sorted) {
    header(out, g->name, g->type, g->help);
    sample(out, g->name, {}, g->read ? g->read() : 0);
  }
  return out;
}

}  // namespace aigw::metrics
