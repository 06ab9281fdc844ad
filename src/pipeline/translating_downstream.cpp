#include "pipeline/translating_downstream.hpp"

#include "router/compat.hpp"

#include <boost/beast/core/string.hpp>

#include <chrono>

namespace aigw {
namespace {

namespace http = boost::beast::http;

boost::asio::awaitable<bool> ready(bool value) { co_return value; }

bool is_event_stream(const http::response_header<>& head) {
  const std::string_view type = field_value(head, http::field::content_type);
  return boost::beast::iequals(type.substr(0, type.find(';')), "text/event-stream");
}

}  // namespace

bool needs_translation(const RequestContext& ctx) {
  if (ctx.plan.client_dialect) return true;
  for (const PlannedStep& step : ctx.plan.steps) {
    if (step.translation) return true;
  }
  if (!ctx.error || !ctx.plan.steps.empty()) return false;
  // Planning failed: only the path tells who is asking.
  const std::string_view target = ctx.request.target();
  return path_client_dialect(target.substr(0, target.find('?'))).has_value();
}

std::optional<Translation> TranslatingDownstream::translation_now() const {
  if (ctx_.error) {
    // error_body(): OpenAI's error shape, into the client's. A plan is not made when
    // planning failed: then the path says who the client is.
    std::optional<Dialect> client = ctx_.plan.client_dialect;
    if (!client && ctx_.plan.steps.empty()) {
      const std::string_view target = ctx_.request.target();
      client = path_client_dialect(target.substr(0, target.find('?')));
    }
    if (!client || *client == Dialect::kOpenAiChat) return std::nullopt;
    return Translation{Dialect::kOpenAiChat, *client, false};
  }
  if (ctx_.local_response) return ctx_.local_response->translation;
  if (ctx_.attempt && ctx_.attempt->planned != nullptr) return ctx_.attempt->planned->translation;
  return std::nullopt;
}

translate::ResponseOptions TranslatingDownstream::response_options() const {
  translate::ResponseOptions options;
  if (ctx_.attempt) options.model = ctx_.attempt->model;
  options.include_usage = translation_.include_usage;
  options.id = (translation_.to == Dialect::kAnthropicMessages ? "msg_" : "chatcmpl-") + ctx_.id;
  options.created =
      std::chrono::duration_cast<std::chrono::seconds>(ctx_.started_wall.time_since_epoch())
          .count();
  return options;
}

boost::asio::awaitable<bool> TranslatingDownstream::send_head(
    const http::response_header<>& head, const AddedHeaders& added,
    std::optional<std::uint64_t> content_length, bool head_only) {
  const auto translation = translation_now();
  status_ = head.result_int();
  if (!translation || translation->from == translation->to || head_only) {
    mode_ = Mode::kPass;
    return inner_.send_head(head, added, content_length, head_only);
  }
  translation_ = *translation;
  if (status_ >= 200 && status_ < 300 && is_event_stream(head)) {
    stream_ = translate::stream(translation_.from, translation_.to, response_options());
    if (stream_) {
      mode_ = Mode::kStream;
      head_ = head;  // its framing is the session's: no Content-Length goes out with it
      return inner_.send_head(head_, added, std::nullopt, false);
    }
  }
  mode_ = Mode::kBuffer;
  head_ = head;
  added_ = added;
  return ready(true);
}

boost::asio::awaitable<bool> TranslatingDownstream::send_body(std::string_view chunk) {
  switch (mode_) {
    case Mode::kPass:
      return inner_.send_body(chunk);
    case Mode::kStream:
      return stream_body(chunk);
    case Mode::kBuffer:
      if (held_.size() + chunk.size() > kMaxBufferedBytes) {
        overflow_ = true;
      } else {
        held_.append(chunk);
      }
      return ready(true);
  }
  return ready(true);
}

boost::asio::awaitable<bool> TranslatingDownstream::finish() {
  switch (mode_) {
    case Mode::kPass:
      return inner_.finish();
    case Mode::kStream:
      return stream_finish();
    case Mode::kBuffer:
      return buffered_finish();
  }
  return inner_.finish();
}

boost::asio::awaitable<bool> TranslatingDownstream::stream_body(std::string_view chunk) {
  out_.clear();
  stream_->feed(chunk, out_);
  // Empty in the middle of an event: nothing is written. (Each co_await here has its own
  // statement and result: with GCC 12, a co_await inside a short-circuit condition left a
  // frame that was resumed after its end.)
  const bool sent = co_await inner_.send_body(out_);
  co_return sent;
}

boost::asio::awaitable<bool> TranslatingDownstream::stream_finish() {
  out_.clear();
  stream_->finish(out_);
  const bool sent = co_await inner_.send_body(out_);  // nothing written when empty
  if (!sent) co_return false;
  const bool finished = co_await inner_.finish();
  co_return finished;
}

boost::asio::awaitable<bool> TranslatingDownstream::buffered_finish() {
  std::string body;
  if (overflow_) {
    status_ = 502;
    body = translate::error(
        Dialect::kOpenAiChat, translation_.to, status_,
        error_body(Error{ErrorCode::kUpstreamProtocol,
                         "the provider's response is larger than the gateway translates (" +
                             std::to_string(kMaxBufferedBytes >> 20) + " MiB)"}));
  } else if (status_ < 200 || status_ >= 300) {
    // The provider's error (or the gateway's own), status kept: an SDK raises the error
    // class that status means (429 stays 429, 529 stays 529).
    body = translate::error(translation_.from, translation_.to, status_, held_);
  } else if (auto translated = translate::response(translation_.from, translation_.to, held_,
                                                   response_options())) {
    body = std::move(*translated);
  } else {
    status_ = 502;
    Error error = translated.error();
    error.code = ErrorCode::kUpstreamProtocol;
    body = translate::error(Dialect::kOpenAiChat, translation_.to, status_, error_body(error));
  }
  held_.clear();
  head_.result(status_);
  head_.set(http::field::content_type, "application/json");
  out_ = std::move(body);
  const bool head_sent = co_await inner_.send_head(head_, added_, out_.size(), false);
  if (!head_sent) co_return false;
  const bool body_sent = co_await inner_.send_body(out_);
  if (!body_sent) co_return false;
  const bool finished = co_await inner_.finish();
  co_return finished;
}

}  // namespace aigw
