// YAML → Config: a closed schema walked by hand so that every problem is reported (not just
// the first) at the line and column where it was written. Format of the diagnostics and the
// meaning of every key: docs/configuration.md.

#include "config/load.hpp"

#include "config/loader.hpp"
#include "config/price_table.hpp"
#include "core/text.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

namespace aigw::config {

using namespace detail;

namespace detail {

void Loader::renamed(const Entry& e, std::string_view now) {
  error(e, "this section is now " + std::string(now) + "; rename it (docs/configuration.md)");
}

void Loader::read(const YAML::Node& root, Config& config) {
  const Entry top{YAML::Node(), root, ""};
  read_fields(top,
              {
                  {"server", [&](const Entry& e) { read_server(e, config.server); }},
                  {"admin", [&](const Entry& e) { read_admin(e, config.admin); }},
                  {"auth", [&](const Entry& e) { read_auth(e, config.auth); }},
                  {"keys", [&](const Entry& e) { read_keys(e, config.keys); }},
                  {"upstream", [&](const Entry& e) { read_upstream(e, config.upstream); }},
                  {"providers", [&](const Entry& e) { read_providers(e, config.providers); }},
                  {"access_log", [&](const Entry& e) { read_access_log(e, config.access_log); }},
                  {"logging",
                   [&](const Entry& e) {
                     renamed(e, "access_log (path, queue) and server.log_level (level)");
                   },
                   false},
                  {"cache", [&](const Entry& e) { read_cache(e, config.cache); }},
                  {"rate_limits", [&](const Entry& e) { read_rate_limits(e, config.rate_limits); }},
                  {"budgets", [&](const Entry& e) { read_budgets(e, config.budgets); }},
                  {"request_log", [&](const Entry& e) { read_request_log(e, config.request_log); }},
                  {"log", [&](const Entry& e) { renamed(e, "request_log"); }, false},
                  {"metering", [&](const Entry& e) { read_metering(e, config.metering); }},
                  {"routes", [&](const Entry& e) { read_routes(e, config.routes); }},
                  {"redis",
                   [&](const Entry& e) {
                     config.redis.emplace();
                     read_redis(e, *config.redis);
                   }},
              });
  if (!config.redis) {
    for (const auto& [mark, path] : redis_store_marks_) {
      error(mark, path, "is redis, but the config has no redis: section (docs/scaling.md)");
    }
  }
  if (config.auth.enabled && auth_tokens_listed_ == 0 && config.keys.empty()) {
    error(auth_mark_, "auth.tokens", "auth.enabled is true but no token or key is configured");
  }
  if (!config.keys.empty() && !config.auth.enabled) {
    error(keys_mark_, "keys", "virtual keys need auth.enabled: true");
  }
  if (!config.auth.enabled) {
    for (const auto& [mark, path] : stored_keys_marks_) {
      error(mark, path,
            "stored provider keys need auth.enabled: true (without it, anyone who reaches the "
            "gateway spends them)");
    }
    if (!config.auth.allow_anonymous_credentials) {
      for (const auto& [mark, path] : credential_header_marks_) {
        error(mark, path,
              "a credential in headers needs auth.enabled: true (without it, anyone who "
              "reaches the gateway spends it); for a deliberately open local setup set "
              "auth.allow_anonymous_credentials: true");
      }
    }
  }
  for (const auto& ref : rule_key_refs_) {
    if (std::none_of(config.keys.begin(), config.keys.end(),
                     [&](const VirtualKey& k) { return k.name == ref.name; })) {
      error(ref.mark, ref.path, "no key named '" + ref.name + "' in keys");
    }
  }
  if (!config.metering.enabled) {
    for (const auto& [path, mark] : metered_rule_marks_) {
      error(mark, path,
            std::string(path.starts_with("budgets") ? "budgets" : "token limits") +
                " need metering (metering.enabled is false)");
    }
  }
  // The default (request_log.path not in the file) is next to the config file, as a given path is
  // once read; a given path is resolved already and must not be resolved twice.
  if (const std::filesystem::path p(config.request_log.path);
      !log_path_given_ && p.is_relative() && !base_dir_.empty()) {
    config.request_log.path = (base_dir_ / p).lexically_normal().string();  // the default, unset
  }
  // With SO_REUSEPORT a second bind to the same port does not fail: the kernel would quietly
  // spread client connections over the admin listener. Refuse the overlap instead.
  const ListenAddress& s = config.server.listen;
  const ListenAddress& a = config.admin.listen;
  if (!listen_failed_ && config.admin.enabled && s.port != 0 && s.port == a.port &&
      (s.host == a.host || is_wildcard_host(s.host) || is_wildcard_host(a.host))) {
    error(admin_listen_mark_.line != 0 ? admin_listen_mark_ : server_listen_mark_,
          admin_listen_mark_.line != 0 ? "admin.listen" : "server.listen",
          "admin.listen and server.listen must not share port " + std::to_string(s.port));
  }
  // The admin listener shows every request's metadata and bodies and can reload the config:
  // beyond loopback it needs tokens.
  if (!listen_failed_ && config.admin.enabled && config.admin.token_sha256.empty() &&
      !is_loopback_host(a.host)) {
    error(admin_tokens_mark_.line != 0 ? admin_tokens_mark_ : admin_listen_mark_,
          admin_tokens_mark_.line != 0 ? "admin.tokens" : "admin.listen",
          "the admin listener on " + a.host +
              " is not on loopback: set admin.tokens (${ENV_VAR} or sha256:...), or listen on "
              "127.0.0.1");
  }
}

}  // namespace detail

namespace {

// Reads a whole small file; nullopt with `error` set when it cannot.
std::optional<std::string> read_small_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "cannot read file: is a directory";
    return std::nullopt;
  }
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = std::string("cannot read file: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[16 * 1024];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0 && text.size() <= kMaxFileBytes) {
    text.append(buf, n);
  }
  const int read_error = std::ferror(file) != 0 ? errno : 0;
  std::fclose(file);
  if (read_error != 0) {
    error = std::string("cannot read file: ") + std::strerror(read_error);
    return std::nullopt;
  }
  if (text.size() > kMaxFileBytes) {
    error = "cannot read file: larger than " + format_size(kMaxFileBytes);
    return std::nullopt;
  }
  return text;
}

// The built-in table (config/pricing.yaml compiled in), read once: what every config without
// a table of its own starts from. A unit test checks it has no problems; were it to have
// some, they would be every load's errors, named after it.
struct BuiltinTable {
  std::map<std::string, ModelPrice> prices;
  std::string taken;
  std::vector<Diagnostic> diagnostics;
};

const BuiltinTable& builtin_table() {
  static const BuiltinTable table = [] {
    BuiltinTable out;
    const EnvLookup no_env = [](std::string_view) { return std::optional<std::string>(); };
    Loader loader(std::string(kBuiltinPriceTable), no_env);
    MeteringConfig m;
    try {
      loader.read_price_table(YAML::Load(std::string(builtin_price_table())), m);
    } catch (const YAML::Exception& e) {
      loader.error(loader.mark_of(e.mark), "", "invalid YAML: " + e.msg);
    }
    out.prices = std::move(m.prices);
    out.taken = std::move(m.prices_taken);
    out.diagnostics = loader.take();
    return out;
  }();
  return table;
}

// The price table, first that applies: metering.pricing_file when set (`""`: none), else
// pricing.yaml next to the config file when there is one, else the built-in table;
// metering.prices then apply over it. A file's diagnostics name the file.
void load_price_table(Loader& main, Config& config, const EnvLookup& env) {
  MeteringConfig& metering = config.metering;
  const bool set = main.pricing_file_mark().line != 0;
  std::string path = metering.pricing_file;
  metering.pricing_file.clear();
  if (path == "-") {  // pricing_file: "" — no table
    main.apply_inline_prices(metering);
    return;
  }
  if (!set) {
    std::error_code ec;
    const auto candidate = main.base_dir() / "pricing.yaml";
    if (config.source.empty() || !std::filesystem::is_regular_file(candidate, ec)) {
      const BuiltinTable& builtin = builtin_table();
      for (const auto& d : builtin.diagnostics) main.error(d.mark, d.path, d.message);
      metering.prices = builtin.prices;
      metering.prices_taken = builtin.taken;
      metering.pricing_file = std::string(kBuiltinPriceTable);
      main.apply_inline_prices(metering);
      return;
    }
    path = candidate.string();
  }
  std::string problem;
  const auto text = read_small_file(path, problem);
  if (!text) {
    main.error(main.pricing_file_mark(), "metering.pricing_file",
               "'" + printable(path) + "': " + problem);
    return;
  }
  Loader table(path, env);
  try {
    table.read_price_table(YAML::Load(*text), metering);
  } catch (const YAML::Exception& e) {
    table.error(table.mark_of(e.mark), "", "invalid YAML: " + e.msg);
  }
  for (auto& d : table.take()) main.error(d.mark, std::move(d.path), std::move(d.message));
  metering.pricing_file = path;
  main.apply_inline_prices(metering);
}

// Where each document of a stream begins: the mark of its root node. yaml-cpp 0.7 (Debian 12)
// reports a document without consuming anything when the stream is at a stray ',' (a file
// that is just ",", or "{a: 1}\n,"), so YAML::LoadAll never returns and fills memory with
// empty documents (found by fuzzing, fuzz/config_fuzz.cpp). Documents are therefore counted
// here, at most two, and a document that begins where the previous one did is that case.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark&) override { in_document_ = true; }
  void OnDocumentEnd() override { in_document_ = false; }
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& m) {
    if (in_document_) marks.push_back(m);
    in_document_ = false;  // only the root's mark
  }
  bool in_document_ = false;
};

}  // namespace

std::string Diagnostic::str() const {
  std::string out = mark.file.empty() ? "<config>" : mark.file;
  out += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
  std::string problem;
  const auto text = read_small_file(path, problem);
  if (!text) {
    LoadResult result;
    result.diagnostics.push_back(Diagnostic{SourceMark{path, 0, 0}, "", std::move(problem)});
    return result;
  }
  return load_string(*text, path, env);
}

LoadResult load_string(std::string_view yaml, const std::string& file_name, const EnvLookup& env) {
  LoadResult result;
  Loader loader(file_name, env);
  DocumentStarts documents;
  YAML::Node root;
  try {
    std::istringstream in{std::string(yaml)};
    YAML::Parser parser(in);
    while (documents.marks.size() < 2 && parser.HandleNextDocument(documents)) {
    }
    if (documents.marks.size() == 1) root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    loader.error(loader.mark_of(e.mark), "", "invalid YAML: " + e.msg);
    result.diagnostics = loader.take();
    return result;
  }
  Config config;
  config.source = file_name;
  const auto& marks = documents.marks;
  if (marks.size() > 1 && marks[1].pos == marks[0].pos) {
    const auto at = std::min(static_cast<std::size_t>(marks[1].pos), yaml.size());
    loader.error(loader.mark_of(marks[1]), "",
                 "invalid YAML: unexpected '" + printable(yaml.substr(at, 1)) + "'");
  } else if (marks.size() > 1) {
    loader.error(loader.mark_of(marks[1]), "", "expected one YAML document (found a second one)");
  } else if (marks.size() == 1) {
    loader.read(root, config);
  }
  load_price_table(loader, config, env);
  result.diagnostics = loader.take();
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::pair(a.mark.line, a.mark.column) <
                            std::pair(b.mark.line, b.mark.column);
                   });
  if (result.diagnostics.empty()) result.config = std::move(config);
  return result;
}

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration{0};
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  const auto ms = parse_scaled(
      text, {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}, kMax);
  if (!ms) return std::nullopt;
  return Duration{static_cast<Duration::rep>(*ms)};
}

std::optional<std::size_t> parse_size(std::string_view text) {
  return parse_scaled(text,
                      {{"", 1},
                       {"B", 1},
                       {"KiB", kKiB},
                       {"MiB", kMiB},
                       {"GiB", kGiB},
                       {"KB", 1000},
                       {"kB", 1000},
                       {"MB", 1'000'000},
                       {"GB", 1'000'000'000}},
                      std::numeric_limits<std::size_t>::max());
}

std::optional<ListenAddress> parse_listen(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    // An IPv6 literal, optionally with a %zone (fe80::1%eth0).
    const std::string_view addr = host.substr(0, host.find('%'));
    if (addr.find(':') == std::string_view::npos ||
        !std::all_of(addr.begin(), addr.end(), [](char c) {
          return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                 c == '.';
        })) {
      return std::nullopt;
    }
    if (addr.size() != host.size()) {
      const std::string_view zone = host.substr(addr.size() + 1);
      if (zone.empty() || !std::all_of(zone.begin(), zone.end(), [](char c) {
            return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.';
          })) {
        return std::nullopt;
      }
    }
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty()) host = "0.0.0.0";
    // A name or an IPv4 literal; a bare IPv6 literal would be ambiguous without brackets.
    if (!std::all_of(host.begin(), host.end(), [](char c) {
          return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
        })) {
      return std::nullopt;
    }
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) {
    return std::nullopt;
  }
  const int number = std::stoi(std::string(port));
  if (number > 65535) return std::nullopt;
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(number)};
}

std::vector<std::string> changed_sections(const std::string& before, const std::string& after) {
  const auto sections = [](const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    try {
      const YAML::Node root = YAML::Load(text);
      if (!root.IsMap()) return out;
      for (const auto& entry : root) {
        YAML::Emitter emitter;
        emitter << entry.second;
        out.emplace_back(entry.first.as<std::string>(""), emitter.c_str());
      }
    } catch (const YAML::Exception&) {
      out.clear();
    }
    return out;
  };
  const auto old_sections = sections(before);
  const auto new_sections = sections(after);
  const auto find = [](const auto& list, const std::string& key) -> const std::string* {
    for (const auto& [k, v] : list) {
      if (k == key) return &v;
    }
    return nullptr;
  };
  std::vector<std::string> changed;
  for (const auto& [key, value] : new_sections) {
    const std::string* old = find(old_sections, key);
    if (old == nullptr || *old != value) changed.push_back(key);
  }
  for (const auto& [key, value] : old_sections) {
    if (find(new_sections, key) == nullptr) changed.push_back(key);
  }
  return changed;
}

}  // namespace aigw::config
