// The cache: section of the config (docs/configuration.md).

#include "config/loader.hpp"

namespace aigw::config::detail {

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
          {"store", [&](const Entry& f) { read_store(f, out.store); }},
      });
  if (out.ttl > out.max_ttl) {
    error(ttl_mark.line != 0 ? ttl_mark : at(e), e.path.empty() ? "cache.ttl" : e.path + ".ttl",
          "must not exceed cache.max_ttl");
  }
}

}  // namespace aigw::config::detail
