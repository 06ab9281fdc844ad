#include "router/router.hpp"

#include "router/attempt.hpp"
#include "router/fleet_breakers.hpp"
#include "router/retry.hpp"
#include "router/routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <random>
#include <string>

namespace aigw {
namespace {

namespace asio = boost::asio;

// The longest wait between two attempts that backoff alone produces (a provider's Retry-After
// is capped by upstream.max_retry_after instead).
constexpr Duration kMaxBackoff{std::chrono::seconds(10)};
// Between the forwarder and the pipeline's sink: turns away a response head that fails over
// while another attempt remains, and remembers what it turned away.
class AttemptSink final : public ResponseSink {
 public:
  // `executor`: the request's, where a fleet breaker's outcome is sent to Redis.
  AttemptSink(RequestContext& ctx, ResponseSink& inner, asio::any_io_executor executor)
      : ctx_(ctx), inner_(inner), executor_(std::move(executor)) {}

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
      record_breaker(*ctx_.plan.route, *target_, !failed, probe_, executor_);
      recorded_ = true;
    }
    if (last_ || !failed) return true;
    // The last step, and its breaker just opened: no attempt follows this one.
    if (last_step_ && target_ != nullptr && target_->breaker &&
        !target_->breaker->would_admit(CircuitBreaker::Clock::now())) {
      return true;
    }
    if (const auto value = field_value(head, http::field::retry_after); !value.empty()) {
      retry_after_ = retry::parse_retry_after(value, std::chrono::system_clock::now());
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
    if (ctx_.plan.kind != PlanKind::kProvider && ctx_.attempt) {
      // What answered, for clients that parse by provider (Cloudflare's cf-aig-step).
      ctx_.response_headers.emplace_back("cf-aig-step", std::to_string(ctx_.attempt->step));
      ctx_.response_headers.emplace_back("cf-aig-provider", ctx_.attempt->slug);
      if (!ctx_.attempt->model.empty()) {
        ctx_.response_headers.emplace_back("cf-aig-model", ctx_.attempt->model);
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
  asio::any_io_executor executor_;
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

namespace {

// Whether a step after `step` could still be tried: universal steps always, a named route's
// target unless its breaker is open.
bool step_follows(const RequestContext& ctx, std::size_t step) {
  const auto now = CircuitBreaker::Clock::now();
  for (std::size_t next = step + 1; next < ctx.plan.steps.size(); ++next) {
    const RouteTarget* target = ctx.plan.steps[next].route_target;
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
                                              ResponseSink& sink, Downstream& downstream,
                                              AttemptPreparer& preparer) const {
  const std::size_t steps = ctx.plan.steps.size();
  AttemptSink attempt_sink(ctx, sink, co_await asio::this_coro::executor);
  // Breakers shared by the fleet: this instance's mirror is brought up to date (when due)
  // before the steps are walked, so an outage another instance found is skipped here too.
  if (const Route* route = ctx.plan.route; route != nullptr && route->fleet != nullptr) {
    co_await route->fleet->refresh(*route);
  }
  Result<void> result;
  unsigned last_status = 0;  // of the last response turned away
  for (std::size_t step = 0; step < steps; ++step) {
    const RouteTarget* target = ctx.plan.steps[step].route_target;
    if (target != nullptr && target->breaker &&
        !target->breaker->would_admit(CircuitBreaker::Clock::now())) {
      continue;  // opened since the route was planned: not even entered
    }
    ctx.attempt.emplace(make_attempt(ctx, step));
    // Every stage acts on the attempt (stored keys, usage, credentials) before it is sent.
    if (auto refused = preparer.prepare(ctx, *ctx.attempt)) {
      ctx.attempt_log.push_back(AttemptRecord{
          ctx.attempt->slug, 0, {}, refused->code, target != nullptr ? target->config.model : ""});
      result = std::move(*refused);
      continue;
    }
    const Attempt& made = *ctx.attempt;
    const bool last_step = !step_follows(ctx, step);
    const RetryConfig& policy = made.retry;
    for (unsigned attempt = 1;; ++attempt) {
      ProbeGuard probe;
      if (target != nullptr && target->breaker) {
        auto admit = target->breaker->admit(CircuitBreaker::Clock::now());
        if (admit == CircuitBreaker::Admit::kProbe && target->fleet) {
          // The fleet has one probe per target: this instance's, or another's.
          admit = co_await ctx.plan.route->fleet->probe(*ctx.plan.route, *target);
        }
        if (admit == CircuitBreaker::Admit::kNo) break;  // opened meanwhile: next step
        if (admit == CircuitBreaker::Admit::kProbe) probe.target = target;
      }
      const bool last = last_step && attempt >= policy.max_attempts;
      attempt_sink.start(last, last_step, policy.max_retry_after);
      attempt_sink.watch(target, probe.target != nullptr);
      ctx.upstream_first_byte.reset();
      const auto started = std::chrono::steady_clock::now();
      result = co_await forwarder.forward(ctx, made, attempt_sink, downstream);

      AttemptRecord record;
      record.provider = made.slug;
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
        const auto executor = co_await asio::this_coro::executor;
        record_breaker(*ctx.plan.route, *target, false, probe.target != nullptr, executor);
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
    const std::string name =
        ctx.plan.route != nullptr ? ctx.plan.route->name : std::string("universal");
    result =
        Error{ErrorCode::kRouteUnavailable,
              "route '" + name + "': no target left to try (circuit breaker open)" +
                  (last_status != 0 ? "; the last one tried answered " + std::to_string(last_status)
                                    : std::string())};
  }
  co_return result;
}

}  // namespace aigw
