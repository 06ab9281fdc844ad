// The upstream: timeouts, pool and the retry defaults sections of the config
// (docs/configuration.md).

#include "config/loader.hpp"

namespace aigw::config::detail {

void Loader::read_upstream(const Entry& e, UpstreamConfig& out) {
  read_fields(
      e, {
             {"connect_timeout",
              [&](const Entry& f) { read_duration(f, out.connect_timeout, false); }},
             {"tls_timeout", [&](const Entry& f) { read_duration(f, out.tls_timeout, false); }},
             {"first_byte_timeout",
              [&](const Entry& f) { read_duration(f, out.first_byte_timeout, false); }},
             {"read_timeout", [&](const Entry& f) { read_duration(f, out.read_timeout, false); }},
             {"pool_max_idle_per_host",
              [&](const Entry& f) { read_uint(f, out.pool_max_idle_per_host, 0, 10'000); }},
             {"pool_idle_timeout",
              [&](const Entry& f) { read_duration(f, out.pool_idle_timeout, false); }},
             {"max_response_header_bytes",
              [&](const Entry& f) { read_size(f, out.max_response_header_bytes, kKiB, kMiB); }},
             {"http2", [&](const Entry& f) { read_bool(f, out.http2); }},
             {"http2_max_streams",
              [&](const Entry& f) { read_uint(f, out.http2_max_streams, 1, 1'000); }},
             {"max_attempts",
              [&](const Entry& f) { read_uint(f, out.retry.max_attempts, 1, kMaxRetryAttempts); }},
             {"retry_delay",
              [&](const Entry& f) { read_duration(f, out.retry.delay, true, kMaxRetryDelay); }},
             {"backoff",
              [&](const Entry& f) {
                const auto v = scalar(f, "constant, linear or exponential");
                if (!v) return;
                if (const auto backoff = backoff_named(v->text)) {
                  out.retry.backoff = *backoff;
                } else {
                  error(f, "must be constant, linear or exponential (got " + quoted(*v) + ")");
                }
              }},
             {"request_timeout",
              [&](const Entry& f) {
                read_optional_duration(f, out.retry.request_timeout, kMaxRequestTimeout);
              }},
             {"max_steps", [&](const Entry& f) { read_uint(f, out.max_steps, 1, 20); }},
             {"max_retry_after",
              [&](const Entry& f) {
                read_duration(f, out.retry.max_retry_after, true, std::chrono::hours(1));
              }},
         });
}

}  // namespace aigw::config::detail
