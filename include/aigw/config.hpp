#pragma once
// The typed, validated configuration. Built once by config::load_* from one YAML file; every
// field has a default (documented in docs/configuration.md) and bounds checked at load time,
// so code that reads a Config never re-validates it.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aigw {

using Duration = std::chrono::milliseconds;

// A value that came from a `${ENV_VAR}` reference (or is otherwise sensitive). It converts
// to its value only explicitly, and prints as *** wherever the config is shown.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value, bool from_env = false)
      : value_(std::move(value)), from_env_(from_env) {}
  const std::string& reveal() const noexcept { return value_; }
  bool from_env() const noexcept { return from_env_; }
  static constexpr const char* kMasked = "***";

 private:
  std::string value_;
  bool from_env_ = false;
};

// Where a value was written, for diagnostics raised after loading (e.g. by the provider
// registry when it validates a base_url).
struct SourceMark {
  std::string file;
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
};

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;  // 0 = any free port (tests)
};

struct ServerConfig {
  ListenAddress listen{"0.0.0.0", 8080};
  std::string log_level = "info";  // the daemon's own log: trace, debug, info, warn, error, off
  unsigned workers = 0;            // 0 = one per core
  std::size_t max_header_bytes = 16 * 1024;            // request line + headers; over → 431
  std::size_t max_body_bytes = 32 * 1024 * 1024;       // request body; over → 413
  Duration request_timeout{std::chrono::seconds(30)};  // to receive a whole request → 408
  Duration idle_timeout{std::chrono::seconds(75)};     // keep-alive wait for the next request
  Duration drain_timeout{std::chrono::seconds(30)};    // grace period on SIGTERM/SIGINT
  std::size_t max_connections = 10000;                 // per process; excess are refused
  // Open connections from one client address; 0 = no limit. At either limit an idle
  // keep-alive connection (of that address) is closed to make room before a new one is
  // refused. Behind a load balancer every client shares its address: raise or turn off.
  std::size_t max_connections_per_address = 256;
  // A new connection must send the first byte of its first request within this; after a
  // response, idle_timeout applies instead (docs/security.md).
  Duration first_request_timeout{std::chrono::seconds(10)};
  bool validate_json = true;  // 400 when a JSON body does not parse
};

// The admin listener (docs/operations.md, docs/console.md). With tokens, every endpoint but
// /healthz and /readyz needs one (Bearer, or Basic with the token as password); tokens are
// required when the listener is not on loopback. Kept as SHA-256 digests, as auth.tokens.
struct AdminConfig {
  bool enabled = true;
  ListenAddress listen{"127.0.0.1", 8081};
  std::vector<std::array<std::uint8_t, 32>> token_sha256;
};

// Upstream defaults; each provider may override the timeouts.
// How the wait between two attempts grows (docs/routing.md).
enum class Backoff : std::uint8_t { kConstant, kLinear, kExponential };

// Attempts per request: the gateway's defaults (upstream.*), and per request the same with
// the cf-aig-max-attempts, -retry-delay, -backoff and -request-timeout headers applied.
struct RetryConfig {
  unsigned max_attempts = 1;  // 1-5, the first attempt included; 1 = no retries
  Duration delay{100};        // before the first retry (0-5s)
  Backoff backoff = Backoff::kExponential;
  std::optional<Duration> request_timeout;             // to the response head, per attempt
  Duration max_retry_after{std::chrono::seconds(10)};  // a longer Retry-After: not retried
};

struct UpstreamConfig {
  Duration connect_timeout{std::chrono::seconds(10)};      // DNS + TCP connect
  Duration tls_timeout{std::chrono::seconds(10)};          // TLS handshake
  Duration first_byte_timeout{std::chrono::seconds(120)};  // request sent → response head
  Duration read_timeout{std::chrono::seconds(300)};        // gap between body chunks
  std::size_t pool_max_idle_per_host = 32;                 // per worker
  Duration pool_idle_timeout{std::chrono::seconds(60)};
  std::size_t max_response_header_bytes = 64 * 1024;
  // Offer HTTP/2 (ALPN "h2") on TLS connections to providers: a provider that accepts it
  // carries many requests over one connection (src/upstream/h2.hpp). Per provider: http2.
  bool http2 = true;
  // Requests at once on one HTTP/2 connection, at most (the provider's own limit may be lower).
  std::size_t http2_max_streams = 100;
  RetryConfig retry;
  std::size_t max_steps = 5;  // steps of one universal request (1-20)
};

// Where the gateway's own credentials may be used (core/path_rules.hpp): a method ("" = GET
// or POST) and a path pattern.
struct PathRule {
  std::string method;
  std::string pattern;
};

struct ProviderConfig {
  std::string name;                     // slug: "openai", "custom-mine"
  std::optional<std::string> base_url;  // unset = the adapter's default
  std::optional<std::string> ca_file;   // extra trust anchor (PEM) on top of the system store
  bool tls_verify = true;               // false is allowed but warned about at start
  std::optional<bool> http2;            // offer HTTP/2 to this provider; unset = upstream.http2
  std::vector<std::pair<std::string, Secret>> headers;  // added to every upstream request
  std::optional<Duration> connect_timeout;
  std::optional<Duration> first_byte_timeout;
  std::optional<Duration> read_timeout;
  // Add stream_options.include_usage to OpenAI-compatible stream requests (and remove the
  // extra usage event from what the client gets); unset = metering.include_usage.
  std::optional<bool> include_usage;
  // Stored provider keys (BYOK, docs/auth-and-limits.md): alias → key, always from ${ENV}.
  // The gateway sends the one chosen by cf-aig-byok-alias (default alias "default") in the
  // provider's credential header, in place of whatever credential the client sent.
  std::vector<std::pair<std::string, Secret>> keys;
  // The header a stored key goes in (lower-case); unset = the provider's own (Authorization:
  // Bearer for custom providers). Written "authorization", the key gets the Bearer scheme.
  std::optional<std::string> key_header;
  // Methods and paths a request may use this provider with when the credential is the
  // gateway's (a stored key, a credential in `headers`) or the request carries a virtual key;
  // unset = path_rules::defaults(), the inference endpoints.
  std::optional<std::vector<PathRule>> key_paths;
  SourceMark mark;  // where the provider's entry starts
  SourceMark base_url_mark;
  SourceMark keys_mark;
};

// The access log (access_log:): one JSON line per request.
struct AccessLogConfig {
  std::string path = "-";    // "-" = stdout, "off", or a file path
  std::size_t queue = 8192;  // lines buffered before the oldest are dropped
};

// Where a feature keeps its counters or entries when a `redis:` section is set
// (docs/scaling.md). kDefault: in Redis when the config has a `redis:` section, in process
// memory otherwise.
enum class StateStore : std::uint8_t { kDefault, kLocal, kRedis };
// What a feature whose state is in Redis does while Redis cannot answer (down, slow,
// restarting): admit as if nothing were counted, or refuse (503).
enum class OnStoreError : std::uint8_t { kOpen, kClosed };

// The shared store of many gateway instances (`redis:`, docs/scaling.md).
struct RedisConfig {
  std::string url;  // redis://[user:password@]host[:port][/db], or rediss:// for TLS
  Secret password;  // over the URL's (a ${ENV} reference belongs here, not in the URL)
  Duration connect_timeout{std::chrono::seconds(1)};         // TCP, TLS, AUTH and SELECT
  Duration command_timeout{std::chrono::milliseconds(250)};  // a reply's wait, then on_error
  unsigned pool = 1;  // connections per worker (1-16); each pipelines every caller on it
  std::string key_prefix = "aigw:";    // before every key: several gateways can share a server
  std::optional<std::string> ca_file;  // rediss://: trust anchor over the system store
  SourceMark mark;                     // where the section starts
};

// Response cache (docs/caching.md).
struct CacheConfig {
  bool enabled = false;                           // off by default, as on Cloudflare
  Duration ttl{std::chrono::seconds(300)};        // default time to live
  Duration max_ttl{std::chrono::hours(24 * 30)};  // cap on cf-aig-cache-ttl
  std::size_t max_entry_bytes = 2 * 1024 * 1024;  // larger responses are not stored
  std::size_t max_bytes = 64 * 1024 * 1024;       // memory budget, all entries
  bool share_across_keys = false;                 // true: entries shared by all credentials
  bool coalesce = true;  // identical requests in flight wait for the first one's response
  // How long a coalesced request waits for the first one's response head, and then between
  // two of its chunks, before it goes to the provider itself (or, mid-body, is cut off).
  Duration coalesce_wait{std::chrono::seconds(120)};
  // Entries in Redis too (`store: redis`, the default with a `redis:` section), in front of
  // which the in-process entries (max_bytes) are a first tier. While Redis cannot answer,
  // the cache is bypassed (as cf-aig-skip-cache).
  StateStore store = StateStore::kDefault;
  bool operator==(const CacheConfig&) const = default;  // a reload keeps the entries when equal
};

// The request log: one record per request in an embedded SQLite file (docs/metering.md).
struct RequestLogConfig {
  bool enabled = true;
  std::string path = "aigw.db";  // relative paths: to the config file's directory
  Duration flush_interval{std::chrono::milliseconds(200)};  // kill -9 loses at most this much
  std::size_t queue = 65536;  // records waiting for the writer; beyond, dropped and counted
  std::uint64_t max_rows = 1'000'000;             // 0 = unlimited; oldest deleted first
  Duration max_age{std::chrono::hours(24 * 30)};  // 0 = unlimited
  bool payloads = false;                          // store request and response bodies
  std::size_t max_payload_bytes = 256 * 1024;     // per body; larger bodies are cut to this
};

// A model's price in US dollars per million tokens.
struct ModelPrice {
  double input = 0;
  double output = 0;
  std::optional<double> cached_input;  // unset: the input price
  std::optional<double> cache_write;   // unset: the input price
};

// Token metering and cost (docs/metering.md).
struct MeteringConfig {
  // false: no meter stage at all: no usage parsing, cost, request log records or per-request
  // metrics, and no include_usage rewrite; requests pass through unmetered.
  bool enabled = true;
  bool include_usage = true;  // default of providers.<name>.include_usage
  // cf-aig-custom-cost prices requests (cost logged, budgets charged). Off: the header is
  // validated but the price table prices the request, so a client cannot lower what a budget
  // charges it (docs/security.md). keys.<name>.trust_client_cost trusts one key.
  bool trust_client_cost = false;
  std::string pricing_file;  // resolved path of the price table; "" = none
  std::string prices_taken;  // the table's `taken:` date, shown in logs and /metrics
  // "provider/model" → price: the table's entries, then metering.prices over them.
  std::map<std::string, ModelPrice> prices;
};

// Gateway authentication (docs/auth-and-limits.md): with `enabled`, every proxied request
// must carry cf-aig-authorization: Bearer <token> for one of these tokens. Only their
// SHA-256 digests are kept: a token is written in the config as ${ENV_VAR} (hashed at load)
// or as sha256:<64 hex digits>.
struct AuthConfig {
  bool enabled = false;
  std::vector<std::array<std::uint8_t, 32>> token_sha256;
  // Lets a credential header in providers.*.headers or a route target's headers load with
  // auth off: for a deliberately open local setup, where anyone who reaches the gateway may
  // spend that credential (docs/security.md).
  bool allow_anonymous_credentials = false;
};

// A virtual key (`keys.<name>`, docs/auth-and-limits.md): a gateway token of its own with
// what it may use and the metadata its requests are logged with. Accepted in
// cf-aig-authorization like auth.tokens (keys need auth.enabled).
struct VirtualKey {
  std::string name;
  std::array<std::uint8_t, 32> token_sha256{};
  std::vector<std::string> providers;  // allowed provider slugs; empty = all
  std::vector<std::string> models;     // allowed models (the request's); empty = all
  // Added to every record of its requests, over the client's cf-aig-metadata entries of the
  // same name; values as JSON text (strings keep their quotes), like LogRecord::metadata.
  std::vector<std::pair<std::string, std::string>> metadata;
  // cf-aig-custom-cost prices this key's requests for budgets (over metering.trust_client_cost).
  bool trust_client_cost = false;
};

// One rule of `rate_limits` (docs/auth-and-limits.md). A request is counted against every
// rule that applies to it and refused (429) by the first one without room.
struct RateLimitRule {
  enum class Technique : std::uint8_t {
    kFixed,    // windows aligned to the Unix epoch (12:00-12:10, 12:10-12:20 ...)
    kSliding,  // at most `limit` in any trailing `window`
  };
  enum class Unit : std::uint8_t {
    kRequests,  // one per request
    kTokens,    // input + output tokens: an estimate reserved at admission, settled when metered
    kCost,      // US dollars in millionths (budgets): reserved and settled like tokens
  };
  enum class Scope : std::uint8_t {
    kGateway,   // one counter for every request
    kIp,        // per client IP address
    kHeader,    // per value of the request header `scope_name`
    kMetadata,  // per value of cf-aig-metadata's key `scope_name`
    kKey,       // per virtual key (requests without one share a counter)
  };
  std::string name;  // shown in the 429; "rate_limits[i]" when not named
  std::uint64_t limit = 0;
  Duration window{0};
  Technique technique = Technique::kFixed;
  Unit unit = Unit::kRequests;
  // Tokens: the output reserved for a request that sets no max_tokens / max_output_tokens.
  std::uint64_t default_max_tokens = 1024;
  Scope scope = Scope::kGateway;
  std::string scope_name;               // header (lower-case) or metadata key
  std::optional<std::string> provider;  // only requests to this provider
  std::optional<std::string> model;     // only requests naming this model
  std::optional<std::string> key;       // only requests made with this virtual key
  // Scope values tracked at once; beyond, new values share one counter (memory stays bounded,
  // and a flood of new values is still limited together).
  std::size_t max_keys = 100'000;
  // Budgets only. The fixed window is the UTC calendar month (window: month) rather than a
  // multiple of `window` since the epoch.
  bool calendar_month = false;
  // A request whose model has no price: refused (403) rather than admitted uncharged.
  bool refuse_unpriced = false;
  // Counted in Redis (shared by every instance) or per instance; and, in Redis, what happens
  // while Redis cannot answer: rate limits admit by default, budgets refuse.
  StateStore store = StateStore::kDefault;
  OnStoreError on_error = OnStoreError::kOpen;
  // A reload keeps the counters of a rule equal to one of the old config's.
  bool operator==(const RateLimitRule&) const = default;
};

// A named route (`routes.<name>`, docs/routing.md): targets tried in order of priority, with
// weights balancing the targets of one priority. Reached by /route/{name}/... or by a body
// naming "model": "dynamic/{name}".
struct RouteTargetConfig {
  std::string provider;  // slug; checked against the providers when the registry is built
  std::string model;     // written into the body's "model" (and for {model} in endpoint)
  std::optional<std::string> endpoint;  // path under the provider's base; unset = the request's
  std::vector<std::pair<std::string, Secret>> headers;  // over the request's and the provider's
  unsigned weight = 1;                                  // 1-1000, among targets of one priority
  unsigned priority = 0;                                // 0-100; lower is tried first
  std::optional<unsigned> max_attempts;                 // over the request's retry policy
  std::optional<Duration> request_timeout;
  SourceMark mark;  // where the target's entry starts
  SourceMark provider_mark;
  SourceMark endpoint_mark;
};

// Per target: after `failures` failed attempts within `window` the target is skipped for
// `cooldown`; then one request probes it, and its answer closes or reopens the breaker.
struct BreakerConfig {
  bool enabled = true;
  unsigned failures = 5;  // 1-1000
  Duration window{std::chrono::seconds(60)};
  Duration cooldown{std::chrono::seconds(30)};
  // Shared through Redis: one instance's failures count for all, an open breaker is open on
  // every instance, and one probe goes out for the whole fleet.
  StateStore store = StateStore::kDefault;
  bool operator==(const BreakerConfig&) const = default;  // a reload keeps a breaker when equal
};

struct RouteConfig {
  std::string name;                        // [a-z0-9][a-z0-9-]*
  std::vector<RouteTargetConfig> targets;  // 1-20
  BreakerConfig breaker;
  // Send the client's own provider credential to every target's provider. Off: a route whose
  // targets span several providers needs a stored key (providers.<name>.keys) for each.
  bool share_client_credentials = false;
  SourceMark mark;
};

struct Config {
  std::string source;  // file the config was loaded from ("" for built-in defaults)
  ServerConfig server;
  AdminConfig admin;
  AuthConfig auth;
  std::vector<VirtualKey> keys;
  UpstreamConfig upstream;
  std::map<std::string, ProviderConfig> providers;  // by slug
  AccessLogConfig access_log;
  CacheConfig cache;
  std::vector<RateLimitRule> rate_limits;
  // Spend budgets (`budgets`, docs/auth-and-limits.md): rules with unit kCost, limit in
  // millionths of a US dollar; scope gateway, key or metadata.
  std::vector<RateLimitRule> budgets;
  RequestLogConfig request_log;
  MeteringConfig metering;
  std::vector<RouteConfig> routes;   // sorted by name
  std::optional<RedisConfig> redis;  // unset: every feature keeps its state in process

  // Whether a feature set to `store` keeps its state in Redis.
  bool in_redis(StateStore store) const noexcept {
    return redis.has_value() && store != StateStore::kLocal;
  }
};

}  // namespace aigw
