// The server: and admin: sections of the config (docs/configuration.md).

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
      e,
      {
          {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
          {"listen", [&](const Entry& f) { read_listen(f, out.listen, &admin_listen_mark_); }},
          {"tokens",
           [&](const Entry& f) {
             admin_tokens_mark_ = at(f);
             if (!f.value.IsSequence()) {
               error(f, "expected a list of tokens");
               return;
             }
             for (std::size_t i = 0; i < f.value.size(); ++i) {
               const Entry token{YAML::Node(), f.value[i], f.path + "[" + std::to_string(i) + "]"};
               if (auto digest = token_digest(token)) out.token_sha256.push_back(*digest);
             }
           }},
      });
}

}  // namespace aigw::config::detail
