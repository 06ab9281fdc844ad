#include "stages/cache/cache_stage.hpp"

#include "aigw/provider.hpp"

#include "http/headers.hpp"
#include "stages/cache/key.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <charconv>

namespace aigw {

// The response being relayed, kept while it may still be stored. Its flight is in the
// flight table (identical requests follow it) when `registered`.
// With the Redis tier, it exists from the lookup on (its flight from the response head) and
// says whether the entry is to be shared.
struct CacheCapture final : StageState {
  std::shared_ptr<cache::Flight> flight;
  bool registered = false;
  bool complete = false;                  // the body's end was seen
  bool share = false;                     // also written to Redis (which answered the lookup)
  boost::asio::any_io_executor executor;  // the request's worker: the write runs there
};

CacheCapture* capture_of(const RequestContext& ctx) {
  return static_cast<CacheCapture*>(ctx.cache.capture.get());
}

namespace {

namespace beast = boost::beast;
using namespace std::string_view_literals;

bool is_true(std::string_view v) { return beast::iequals(v, "true") || v == "1"; }

// Cache-Control directives of the request, as far as the cache cares.
struct RequestCacheControl {
  bool no_store = false;  // do not store the response
  bool no_cache = false;  // do not answer from the cache (but the response may be stored)
};

RequestCacheControl request_cache_control(const http::fields& fields) {
  RequestCacheControl out;
  for (const auto& field : fields) {
    if (field.name() != http::field::cache_control) continue;
    std::string_view v = field.value();
    while (!v.empty()) {
      const auto comma = v.find(',');
      std::string_view token = v.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      token = token.substr(0, token.find_first_of(" \t="));
      if (beast::iequals(token, "no-store")) out.no_store = true;
      if (beast::iequals(token, "no-cache")) out.no_cache = true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return out;
}

// Response headers a hit must not repeat: framing is recomputed, cookies belong to the
// response they came with, and the gateway's own headers are added per request.
// A credential header in a response (no provider sends one) is dropped too: an entry, which
// may be shared through Redis, never holds one.
bool stored_header(const http::fields::value_type& field) {
  switch (field.name()) {
    case http::field::content_length:
    case http::field::transfer_encoding:
    case http::field::content_type:
    case http::field::set_cookie:
    case http::field::set_cookie2:
    case http::field::age:
    case http::field::authorization:
    case http::field::proxy_authorization:
      return false;
    default:
      break;
  }
  const std::string_view name = field.name_string();
  for (const std::string_view credential : kCredentialHeaders) {
    if (beast::iequals(name, credential)) return false;
  }
  return !(name.size() > 7 && beast::iequals(name.substr(0, 7), "cf-aig-"));
}

// A coalesced stream follower's body: the leader's bytes as they arrive.
class FollowerSource final : public BodySource {
 public:
  FollowerSource(std::shared_ptr<cache::Flight> flight, std::shared_ptr<cache::Waiter> waiter,
                 Duration wait)
      : flight_(std::move(flight)), waiter_(std::move(waiter)), wait_(wait) {}

  boost::asio::awaitable<Chunk> next() override {
    for (;;) {
      buffer_.clear();
      std::shared_ptr<const cache::CachedResponse> final;
      const auto state = flight_->read(offset_, buffer_, final);
      if (state == cache::Flight::State::kComplete) {
        const std::string& body = *final->body;
        final_ = std::move(final);  // keeps the bytes of the view alive
        const std::size_t from = std::min(offset_, body.size());
        offset_ = body.size();
        co_return Chunk{std::string_view(body).substr(from), true, false};
      }
      if (state == cache::Flight::State::kFailed) co_return Chunk{{}, false, true};
      if (!buffer_.empty()) {
        offset_ += buffer_.size();
        co_return Chunk{buffer_, false, false};
      }
      if (!co_await waiter_->wait(std::chrono::steady_clock::now() + wait_)) {
        co_return Chunk{{}, false, true};  // the leader's provider stalled
      }
    }
  }

 private:
  std::shared_ptr<cache::Flight> flight_;
  std::shared_ptr<cache::Waiter> waiter_;
  Duration wait_;
  std::size_t offset_ = 0;
  std::string buffer_;
  std::shared_ptr<const cache::CachedResponse> final_;
};

}  // namespace

CacheStage::CacheStage(const CacheConfig& config, std::shared_ptr<cache::CacheStore> store,
                       cache::Clock clock, std::shared_ptr<cache::RedisCacheStore> shared)
    : config_(config),
      store_(std::move(store)),
      clock_(std::move(clock)),
      shared_(std::move(shared)) {}

std::shared_ptr<CacheStage> CacheStage::create(const CacheConfig& config,
                                               std::shared_ptr<redis::Client> redis) {
  if (config.max_bytes == 0) return nullptr;
  std::shared_ptr<cache::RedisCacheStore> shared;
  if (redis) {
    shared = std::make_shared<cache::RedisCacheStore>(redis, config.max_entry_bytes);
  }
  auto stage = std::make_shared<CacheStage>(
      config, std::make_shared<cache::MemoryCacheStore>(config.max_bytes), cache::Clock{},
      std::move(shared));
  stage->redis_ = std::move(redis);
  return stage;
}

void CacheStage::answer(RequestContext& ctx, const cache::CachedResponse& hit) const {
  ctx.cache.status = CacheStatus::kHit;
  ctx.cache.store = false;
  LocalResponse response;
  response.status = hit.status;
  response.headers = hit.headers;
  response.shared_body = hit.body;
  response.content_type = hit.content_type;
  response.stream = hit.stream;
  response.translation = hit.translation;
  ctx.response_usage = hit.usage;
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now() - hit.stored_at);
  ctx.response_headers.emplace_back("cf-aig-cache-status", "HIT");
  ctx.response_headers.emplace_back("age", std::to_string(std::max<long long>(age.count(), 0)));
  ctx.local_response = std::move(response);
}

bool CacheStage::wants_request(const RequestContext& ctx) const noexcept {
  const auto method = ctx.request.method();
  if (method != http::verb::post && method != http::verb::get) return false;
  return config_.enabled || ctx.control_header("cf-aig-cache-key").has_value();
}

boost::asio::awaitable<Verdict> CacheStage::on_request(RequestContext& ctx) {
  const auto custom_key = ctx.control_header("cf-aig-cache-key");

  // Per-request TTL in seconds (cf-cache-ttl is Cloudflare's older spelling), capped.
  ctx.cache.ttl = config_.ttl;
  auto ttl_header = ctx.control_header("cf-aig-cache-ttl");
  std::string_view ttl_name = "cf-aig-cache-ttl";
  if (!ttl_header) {
    ttl_header = ctx.control_header("cf-cache-ttl");
    ttl_name = "cf-cache-ttl";
  }
  if (ttl_header) {
    std::uint64_t seconds = 0;
    const auto* end = ttl_header->data() + ttl_header->size();
    const auto [ptr, ec] = std::from_chars(ttl_header->data(), end, seconds);
    if (ec != std::errc() || ptr != end || seconds == 0) {
      ctx.error = Error{ErrorCode::kInvalidHeader,
                        std::string(ttl_name) + " must be a whole number of seconds >= 1 (got '" +
                            std::string(ttl_header->substr(0, 40)) + "')"};
      co_return Verdict::kRespond;
    }
    const auto max_seconds = static_cast<std::uint64_t>(config_.max_ttl.count() / 1000);
    ctx.cache.ttl = Duration(std::min(seconds, max_seconds) * 1000);
  }

  bool skip = false;
  if (auto v = ctx.control_header("cf-aig-skip-cache")) skip = is_true(*v);
  if (auto v = ctx.control_header("cf-skip-cache")) skip = skip || is_true(*v);
  const RequestCacheControl cc = request_cache_control(ctx.request);

  ctx.cache.key = cache::cache_key(ctx, config_.share_across_keys, custom_key);
  ctx.cache.store = !cc.no_store;
  bool share = shared_ != nullptr;
  if (skip || cc.no_cache) {
    ctx.cache.status = CacheStatus::kBypass;
  } else {
    auto hit = store_->get(ctx.cache.key);
    if (!hit && shared_) {
      // The second tier: one round trip. A hit is kept in the first for what is left of its
      // time to live in Redis; Redis not answering bypasses it for this request (the response
      // is still stored here, not shared).
      const SteadyTime asked = now();
      cache::SharedLookup found = co_await shared_->get(ctx.cache.key, asked);
      if (found.failed) share = false;
      // What was left when Redis answered, less the way back: never longer than in Redis.
      const auto left = found.remaining - std::chrono::duration_cast<Duration>(now() - asked);
      if (found.hit && found.remaining.count() > 0 && left.count() > 0) {
        store_->put(ctx.cache.key, found.hit, left);
      }
      hit = std::move(found.hit);
    }
    if (hit) {
      answer(ctx, *hit);
      co_return Verdict::kRespond;
    }
    ctx.cache.status = CacheStatus::kMiss;
    if (config_.coalesce) {
      // Only a request that may store leads: its followers' answer is what it stores.
      auto joined = flights_.join_or_lead(ctx.cache.key, ctx.cache.store, config_.max_entry_bytes);
      if (joined.leader) {
        auto capture = std::make_shared<CacheCapture>();
        capture->flight = std::move(joined.flight);
        capture->registered = true;
        ctx.cache.capture = std::move(capture);
      } else if (joined.flight) {
        if (auto answer = co_await follow(std::move(joined.flight))) {
          ctx.cache.status = CacheStatus::kCoalesced;
          ctx.cache.store = false;
          ctx.response_headers.emplace_back("cf-aig-cache-status", "HIT");
          ctx.response_headers.emplace_back("age", "0");
          ctx.local_response = std::move(*answer);
          co_return Verdict::kRespond;
        }
        // The flight failed or took too long: this request goes to the provider itself.
      }
    }
  }
  if (share && ctx.cache.store) {
    if (!ctx.cache.capture) ctx.cache.capture = std::make_shared<CacheCapture>();
    CacheCapture* capture = capture_of(ctx);
    capture->share = true;
    capture->executor = co_await boost::asio::this_coro::executor;
  }
  ctx.response_headers.emplace_back("cf-aig-cache-status",
                                    std::string(cache_status_name(ctx.cache.status)));
  co_return Verdict::kContinue;
}

boost::asio::awaitable<std::optional<LocalResponse>> CacheStage::follow(
    std::shared_ptr<cache::Flight> flight) {
  using State = cache::Flight::State;
  auto waiter = std::make_shared<cache::Waiter>(co_await boost::asio::this_coro::executor);
  flight->subscribe(waiter);
  // A stream follower starts at the head and relays the rest live; a buffered one waits for
  // the whole response. The wait restarts whenever the flight makes progress.
  for (;;) {
    const State state = flight->state();
    if (state == State::kFailed) co_return std::nullopt;
    if (state == State::kComplete || (state == State::kRelaying && flight->streamed())) break;
    if (!co_await waiter->wait(std::chrono::steady_clock::now() + config_.coalesce_wait)) {
      co_return std::nullopt;
    }
  }
  const auto head = flight->head();
  LocalResponse response;
  response.status = head->status;
  response.headers = head->headers;
  response.content_type = head->content_type;
  response.translation = head->translation;
  std::string ignored;
  std::shared_ptr<const cache::CachedResponse> final;
  if (flight->read(0, ignored, final) == State::kComplete) {
    response.shared_body = final->body;
    response.stream = final->stream;
  } else {
    response.source = std::make_shared<FollowerSource>(std::move(flight), std::move(waiter),
                                                       config_.coalesce_wait);
  }
  co_return response;
}

void CacheStage::on_response_head(RequestContext& ctx, const ResponseHead& head) {
  // Only a provider's 2xx is stored or shared; never the gateway's own answers or errors.
  if (!ctx.cache.store || ctx.cache.key.empty() || ctx.local_response || ctx.error ||
      head.status < 200 || head.status >= 300 || head.fields == nullptr) {
    CacheCapture* c = capture_of(ctx);
    if (c != nullptr && c->flight) {
      c->flight->fail();  // followers go their own way
      // And the key is free for the next request: on_complete finds no capture to do it
      // (a flight left in the table was a leak per provider error, and every later identical
      // request joined the dead flight; found by bench/soak.sh).
      if (c->registered) flights_.finish(ctx.cache.key, c->flight.get());
    }
    ctx.cache.capture.reset();
    return;
  }
  if (!ctx.cache.capture) ctx.cache.capture = std::make_shared<CacheCapture>();
  CacheCapture* capture = capture_of(ctx);
  if (!capture->flight) {  // not coalescing: a flight of its own, nobody follows it
    capture->flight = std::make_shared<cache::Flight>(config_.max_entry_bytes);
  }
  cache::CachedResponse r;
  r.status = head.status;
  r.content_type = std::string(field_value(*head.fields, http::field::content_type));
  for (const auto& field : *head.fields) {
    if (stored_header(field)) r.headers.emplace_back(field.name_string(), field.value());
  }
  const std::string_view media =
      std::string_view(r.content_type).substr(0, r.content_type.find(';'));
  r.stream = beast::iequals(media, "text/event-stream");
  if (ctx.attempt && ctx.attempt->planned != nullptr)
    r.translation = ctx.attempt->planned->translation;
  capture->flight->publish_head(std::move(r), head.streamed);
}

void CacheStage::on_response_body(RequestContext& ctx, std::string_view chunk, bool last) {
  CacheCapture* capture = capture_of(ctx);
  if (capture == nullptr || !capture->flight) return;
  if (!chunk.empty() && !capture->flight->append(chunk)) {
    // Too large to store or share: the flight has failed (followers notified); stop copying.
    if (capture->registered) flights_.finish(ctx.cache.key, capture->flight.get());
    ctx.cache.capture.reset();
    return;
  }
  if (last) capture->complete = true;
}

bool CacheStage::needs_rest_of_response(const RequestContext& ctx) const noexcept {
  const CacheCapture* capture = capture_of(ctx);
  return capture != nullptr && capture->registered && capture->flight->has_followers();
}

void CacheStage::on_complete(RequestContext& ctx) noexcept {
  const auto owned = std::move(ctx.cache.capture);
  auto* capture = static_cast<CacheCapture*>(owned.get());
  if (capture == nullptr || !capture->flight) return;
  // Stored only when the whole response arrived and went out: not when the provider broke
  // off or the gateway failed it. A response read to its end for followers after its own
  // client left is complete, and is stored.
  const bool whole = capture->complete &&
                     (ctx.outcome == Outcome::kSuccess || ctx.outcome == Outcome::kClientAbort);
  try {
    if (whole) {
      // The metering stage's on_complete ran first and left the response's usage.
      if (auto response = capture->flight->complete(now(), ctx.response_usage)) {
        store_->put(ctx.cache.key, response, ctx.cache.ttl);
        if (capture->share && shared_) {
          const auto stored_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count();
          shared_->put(capture->executor, ctx.cache.key, response, ctx.cache.ttl, stored_unix_ms);
        }
      }
    }
  } catch (...) {
    // Out of memory while storing: the response was delivered; the entry is just not kept.
  }
  capture->flight->fail();  // no-op once complete
  if (capture->registered) flights_.finish(ctx.cache.key, capture->flight.get());
}

}  // namespace aigw
