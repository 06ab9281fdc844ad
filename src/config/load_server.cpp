// server, admin, upstream, cache, request_log and access_log.

#include "config/loader.hpp"

#include <algorithm>

namespace aigw::config::detail {

void Loader::read_server(const Entry& e, ServerConfig& out) {
  read_fields(
      e,
      {
          {"listen", [&](const Entry& f) { read_listen(f, out.listen, &server_listen_mark_); }},
          {"workers", [&](const Entry& f) { read_uint(f, out.workers, 0, 1024); }},
          {"log_level",
           [&](const Entry& f) {
             const auto v = scalar(f, "a string");
             if (!v) return;
             if (std::find(std::begin(kLevels), std::end(kLevels), v->text) == std::end(kLevels)) {
               error(f, "must be one of trace, debug, info, warn, error, off (got " + quoted(*v) +
                            ")");
               return;
             }
             out.log_level = v->text;
           }},
          {"max_header_bytes",
           [&](const Entry& f) { read_size(f, out.max_header_bytes, kKiB, kMiB); }},
          {"max_body_bytes", [&](const Entry& f) { read_size(f, out.max_body_bytes, kKiB, kGiB); }},
          {"request_timeout",
           [&](const Entry& f) { read_duration(f, out.request_timeout, false); }},
          {"idle_timeout", [&](const Entry& f) { read_duration(f, out.idle_timeout, false); }},
          {"drain_timeout", [&](const Entry& f) { read_duration(f, out.drain_timeout, true); }},
          {"max_connections",
           [&](const Entry& f) { read_uint(f, out.max_connections, 1, 1'000'000); }},
          {"max_connections_per_address",
           [&](const Entry& f) { read_uint(f, out.max_connections_per_address, 0, 1'000'000); }},
          {"first_request_timeout",
           [&](const Entry& f) { read_duration(f, out.first_request_timeout, false); }},
          {"validate_json", [&](const Entry& f) { read_bool(f, out.validate_json); }},
      });
}

void Loader::read_admin(const Entry& e, AdminConfig& out) {
  read_fields(
      e, {
             {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
             {"listen", [&](const Entry& f) { read_listen(f, out.listen, &admin_listen_mark_); }},
         });
}

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

void Loader::read_cache(const Entry& e, CacheConfig& out) {
  SourceMark ttl_mark;
  read_fields(
      e,
      {
          {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
          {"ttl",
           [&](const Entry& f) {
             ttl_mark = at(f);
             read_duration(f, out.ttl, false, kMaxCacheTtl);
           }},
          {"max_ttl", [&](const Entry& f) { read_duration(f, out.max_ttl, false, kMaxCacheTtl); }},
          {"max_entry_bytes",
           [&](const Entry& f) { read_size(f, out.max_entry_bytes, 1, 1 * kGiB); }},
          {"max_bytes", [&](const Entry& f) { read_size(f, out.max_bytes, 0, 64 * kGiB); }},
          {"share_across_keys", [&](const Entry& f) { read_bool(f, out.share_across_keys); }},
          {"coalesce", [&](const Entry& f) { read_bool(f, out.coalesce); }},
          {"coalesce_wait", [&](const Entry& f) { read_duration(f, out.coalesce_wait, false); }},
      });
  if (out.ttl > out.max_ttl) {
    error(ttl_mark.line != 0 ? ttl_mark : at(e), e.path.empty() ? "cache.ttl" : e.path + ".ttl",
          "must not exceed cache.max_ttl");
  }
}

void Loader::read_request_log(const Entry& e, RequestLogConfig& out) {
  read_fields(
      e,
      {
          {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
          {"path",
           [&](const Entry& f) {
             const auto v = scalar(f, "a path");
             if (!v) return;
             if (auto path = output_path(f, *v, "must not be empty")) {
               out.path = std::move(*path);
               log_path_given_ = true;
             }
           }},
          {"flush_interval",
           [&](const Entry& f) {
             read_duration(f, out.flush_interval, false, std::chrono::seconds(1));
           }},
          {"queue", [&](const Entry& f) { read_uint(f, out.queue, 16, 16'777'216); }},
          {"max_rows", [&](const Entry& f) { read_uint(f, out.max_rows, 0, 10'000'000'000ULL); }},
          {"max_age",
           [&](const Entry& f) { read_duration(f, out.max_age, true, kMaxCacheTtl * 10); }},
          {"payloads", [&](const Entry& f) { read_bool(f, out.payloads); }},
          {"max_payload_bytes",
           [&](const Entry& f) { read_size(f, out.max_payload_bytes, 0, 16 * kMiB); }},
      });
}

void Loader::read_access_log(const Entry& e, AccessLogConfig& out) {
  read_fields(e, {
                     {"path",
                      [&](const Entry& f) {
                        const auto v = scalar(f, "a string");
                        if (!v) return;
                        if (v->text == "-" || v->text == "off") {
                          out.path = v->text;
                          return;
                        }
                        if (auto path = output_path(
                                f, *v, "must not be empty (use '-' for stdout or 'off')")) {
                          out.path = std::move(*path);
                        }
                      }},
                     {"queue", [&](const Entry& f) { read_uint(f, out.queue, 16, 1'048'576); }},
                 });
}

}  // namespace aigw::config::detail
