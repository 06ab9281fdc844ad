#include "router/router.hpp"

#include "pipeline/request_facts.hpp"
#include "router/retry.hpp"
#include "router/routes.hpp"
#include "router/universal.hpp"
#include "stages/byok/byok_stage.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <chrono>
#include <random>
#include <string>

namespace aigw {
namespace {

namespace asio = boost::asio;

// The longest wait between two attempts that backoff alone produces (a provider's Retry-After
// is capped by upstream.max_retry_after instead).
constexpr Duration kMaxBackoff{std::chrono::seconds(10)};
constexpr unsigned kMaxAttempts = 5;

std::optional<std::uint64_t> whole_number(std::string_view text) {
  std::uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return n;
}

Error bad_header(std::string_view name, std::string_view expected, std::string_view got) {
  return Error{ErrorCode::kInvalidHeader,
               std::string(name) + " must be " + std::string(expected) + " (got '" +
                   std::string(got.substr(0, 64)) + "')",
               false};
}

// Between the forwarder and the pipeline's sink: turns away a response head that fails over
// while another attempt remains, and remembers what it turned away.
class AttemptSink final : public ResponseSink {
 public:
  AttemptSink(RequestContext& ctx, ResponseSink& inner) : ctx_(ctx), inner_(inner) {}

  // `last`: the request's last attempt, whose answer goes to the client whatever it is;
  // `last_step`: no step follows this one.
  void start(bool last, bool last_step, Duration max_retry_after) {
    last_ = last;
    last_step_ = last_step;
    max_retry_after_ = max_retry_after;
    rejected_ = false;
    skip_step_ = false;
    status_ = 0;
    retry_after_.reset();
  }
  bool rejected() const noexcept { return rejected_; }
  bool skip_step() const noexcept { return skip_step_; }
  unsigned status() const noexcept { return status_; }
  std::optional<Duration> retry_after() const noexcept { return retry_after_; }

  // A named route's target: its breaker hears of the answer as soon as the head is in, so
  // that a response after which the breaker allows no further attempt goes to the client.
  void watch(const RouteTarget* target, bool probe) {
    target_ = target;
    probe_ = probe;
    recorded_ = false;
  }
  bool recorded() const noexcept { return recorded_; }

  bool accept(const http::response_header<>& head) override {
    const unsigned status = head.result_int();
    const bool failed = retry::fails_over(status);
    if (target_ != nullptr) {
      record_breaker(*target_, !failed, probe_, ctx_.route->name);
      recorded_ = true;
    }
    if (last_ || !failed) return true;
    // The last step, and its breaker just opened: no attempt follows this one.
    if (last_step_ && target_ != nullptr && target_->breaker &&
        !target_->breaker->would_admit(CircuitBreaker::Clock::now())) {
      return true;
    }
    if (const auto it = head.find(http::field::retry_after); it != head.end()) {
      retry_after_ = retry::parse_retry_after(it->value(), std::chrono::system_clock::now());
      if (retry_after_ && *retry_after_ > max_retry_after_) {
        // Asked to wait longer than we would: the next step, if there is one, now; else this
        // answer is the client's to act on.
        if (last_step_) return true;
        skip_step_ = true;
      }
    }
    rejected_ = true;
    status_ = status;
    return false;
  }
  asio::awaitable<bool> on_head(http::response_header<>& head,
                                std::optional<std::uint64_t> content_length,
                                bool head_only) override {
    if (!ctx_.steps.empty()) {
      // What answered, for clients that parse by provider (Cloudflare's cf-aig-step).
      ctx_.response_headers.emplace_back("cf-aig-step", std::to_string(ctx_.step));
      ctx_.response_headers.emplace_back("cf-aig-provider", ctx_.provider_slug);
      // A route's target names its model; a universal step's body does (read only here).
      if (target_ != nullptr) {
        ctx_.response_headers.emplace_back("cf-aig-model", target_->config.model);
      } else if (const std::string& model = request_facts(ctx_).model; !model.empty()) {
        ctx_.response_headers.emplace_back("cf-aig-model", model);
      }
    }
    return inner_.on_head(head, content_length, head_only);
  }
  asio::awaitable<bool> on_body(std::string_view chunk) override { return inner_.on_body(chunk); }
  asio::awaitable<bool> on_end() override { return inner_.on_end(); }
  bool continue_without_client() override { return inner_.continue_without_client(); }

 private:
  RequestContext& ctx_;
  ResponseSink& inner_;
  const RouteTarget* target_ = nullptr;
  bool probe_ = false;
  bool recorded_ = false;
  Duration max_retry_after_{};
  bool last_ = true;
  bool last_step_ = true;
  bool rejected_ = false;
  bool skip_step_ = false;
  unsigned status_ = 0;
  std::optional<Duration> retry_after_;
};

double jitter() {
  thread_local std::minstd_rand rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.8, 1.2)(rng);
}

}  // namespace

std::optional<Error> apply_retry_header(std::string_view name, std::string_view v, RetryConfig& p) {
  if (name == "cf-aig-max-attempts") {
    const auto n = whole_number(v);
    if (!n || *n < 1 || *n > kMaxAttempts) {
      return bad_header(name, "a whole number from 1 to 5", v);
    }
    p.max_attempts = static_cast<unsigned>(*n);
  } else if (name == "cf-aig-retry-delay") {
    const auto n = whole_number(v);
    if (!n || *n > 5000) return bad_header(name, "milliseconds from 0 to 5000", v);
    p.delay = Duration(static_cast<Duration::rep>(*n));
  } else if (name == "cf-aig-backoff") {
    if (v == "constant") {
      p.backoff = Backoff::kConstant;
    } else if (v == "linear") {
      p.backoff = Backoff::kLinear;
    } else if (v == "exponential") {
      p.backoff = Backoff::kExponential;
    } else {
      return bad_header(name, "constant, linear or exponential", v);
    }
  } else if (name == "cf-aig-request-timeout") {
    const auto n = whole_number(v);
    if (!n || *n < 1 || *n > 3'600'000) {
      return bad_header(name, "milliseconds from 1 to 3600000", v);
    }
    p.request_timeout = Duration(static_cast<Duration::rep>(*n));
  }
  return std::nullopt;
}

Result<RetryConfig> retry_policy(const RequestContext& ctx, const RetryConfig& defaults) {
  RetryConfig p = defaults;
  for (const std::string_view name : kRetryHeaders) {
    if (const auto v = ctx.control_header(name)) {
      if (auto error = apply_retry_header(name, *v, p)) return *error;
    }
  }
  return p;
}

namespace {

// Whether a step after `step` could still be tried: universal steps always, a named route's
// target unless its breaker is open.
bool step_follows(const RequestContext& ctx, std::size_t step) {
  const auto now = CircuitBreaker::Clock::now();
  for (std::size_t next = step + 1; next < ctx.steps.size(); ++next) {
    const RouteTarget* target = ctx.steps[next].route_target;
    if (target == nullptr || !target->breaker || target->breaker->would_admit(now)) return true;
  }
  return false;
}

// A probe admitted but never given an outcome (the client left, a gateway error) hands the
// probe to the next request.
struct ProbeGuard {
  const RouteTarget* target = nullptr;
  ~ProbeGuard() {
    if (target != nullptr) target->breaker->abandon_probe();
  }
};

}  // namespace

asio::awaitable<Result<void>> Router::forward(RequestContext& ctx, Forwarder& forwarder,
                                              ResponseSink& sink, Downstream& downstream) const {
  const std::size_t steps = std::max<std::size_t>(ctx.steps.size(), 1);
  AttemptSink attempt_sink(ctx, sink);
  Result<void> result;
  unsigned last_status = 0;  // of the last response turned away
  for (std::size_t step = 0; step < steps; ++step) {
    const RouteTarget* target = step < ctx.steps.size() ? ctx.steps[step].route_target : nullptr;
    if (target != nullptr && target->breaker &&
        !target->breaker->would_admit(CircuitBreaker::Clock::now())) {
      continue;  // opened since the route was planned: not even entered
    }
    if (step > 0) {
      enter_step(ctx, step);
      // Stored keys are the next provider's, as the stage gave step 0 its own.
      if (auto error = ByokStage::apply(ctx)) {
        ctx.attempt_log.push_back(AttemptRecord{ctx.provider_slug, 0, {}, error->code, {}});
        result = *error;
        continue;
      }
    }
    const bool last_step = !step_follows(ctx, step);
    const RetryConfig& policy = ctx.retry;
    for (unsigned attempt = 1;; ++attempt) {
      ProbeGuard probe;
      if (target != nullptr && target->breaker) {
        const auto admit = target->breaker->admit(CircuitBreaker::Clock::now());
        if (admit == CircuitBreaker::Admit::kNo) break;  // opened meanwhile: next step
        if (admit == CircuitBreaker::Admit::kProbe) probe.target = target;
      }
      const bool last = last_step && attempt >= policy.max_attempts;
      attempt_sink.start(last, last_step, policy.max_retry_after);
      attempt_sink.watch(target, probe.target != nullptr);
      ctx.first_byte_timeout = policy.request_timeout;
      ctx.upstream_first_byte.reset();
      const auto started = std::chrono::steady_clock::now();
      result = co_await forwarder.forward(ctx, attempt_sink, downstream);

      AttemptRecord record;
      record.provider = ctx.provider_slug;
      if (target != nullptr) record.model = target->config.model;
      record.duration = std::chrono::steady_clock::now() - started;
      if (attempt_sink.rejected()) {
        record.status = attempt_sink.status();
        last_status = record.status;
      } else if (ctx.upstream_first_byte) {
        record.status = ctx.status;
      }
      if (!result) record.error = result.error().code;
      ctx.attempt_log.push_back(std::move(record));
      // A failure before any response head is the breaker's to count too.
      if (target != nullptr && !attempt_sink.recorded() && !result &&
          retry::fails_over(result.error().code) && ctx.outcome == Outcome::kPending) {
        record_breaker(*target, false, probe.target != nullptr, ctx.route->name);
        probe.target = nullptr;
      }
      if (attempt_sink.recorded()) probe.target = nullptr;

      // Answered (or the client left): that is the outcome, whatever it was.
      if (ctx.committed || ctx.outcome != Outcome::kPending) co_return result;
      const bool failed_over =
          attempt_sink.rejected() || (!result && !last && retry::fails_over(result.error().code));
      if (!failed_over) co_return result;
      // The step's attempts are spent, or its provider asked for a longer wait than we give
      // it: on to the next step, at once.
      if (attempt >= policy.max_attempts || attempt_sink.skip_step()) break;
      Duration wait =
          retry::backoff_delay(policy.backoff, policy.delay, attempt + 1, jitter(), kMaxBackoff);
      if (const auto asked = attempt_sink.retry_after()) wait = std::max(wait, *asked);
      if (wait.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(wait);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
  }
  // Every response was turned away and no step was left to try (a breaker opened while this
  // request was under way): the client still gets an answer.
  if (result && !ctx.committed && ctx.outcome == Outcome::kPending) {
    const std::string name = ctx.route != nullptr ? ctx.route->name : std::string("universal");
    result =
        Error{ErrorCode::kRouteUnavailable,
              "route '" + name + "': no target left to try (circuit breaker open)" +
                  (last_status != 0 ? "; the last one tried answered " + std::to_string(last_status)
                                    : std::string()),
              true};
  }
  co_return result;
}

}  // namespace aigw
