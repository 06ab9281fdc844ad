// The request_log: and access_log: sections of the config (docs/configuration.md).

#include "config/loader.hpp"

namespace aigw::config::detail {

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
