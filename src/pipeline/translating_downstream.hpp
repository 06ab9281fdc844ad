#pragma once
// The client's side of a /compat request (docs/compat.md): what the stages pass on — the
// provider's response as it came, or the gateway's own answer — goes out in the client's
// dialect. It sits between the pipeline's sink and the session, so metering, the cache and
// the request log see the provider's own bytes (native usage, exact for streams), and a
// cached entry is translated again when it is replayed.
//
//   streamed 2xx (text/event-stream)   translated event by event, never held back
//   other 2xx                          held until the end (bounded), translated whole
//   4xx/5xx                            held, turned into the client's error shape, status kept
//   same dialect on both sides         passed through untouched

#include "aigw/downstream.hpp"
#include "aigw/request_context.hpp"

#include "translate/translate.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace aigw {

class TranslatingDownstream final : public Downstream {
 public:
  // A buffered response larger than this is answered with a 502 in the client's dialect
  // rather than held (streams are not held at all).
  static constexpr std::size_t kMaxBufferedBytes = std::size_t{32} << 20;

  TranslatingDownstream(RequestContext& ctx, Downstream& inner) : ctx_(ctx), inner_(inner) {}

  boost::asio::awaitable<bool> send_head(const boost::beast::http::response_header<>& head,
                                         const AddedHeaders& added,
                                         std::optional<std::uint64_t> content_length,
                                         bool head_only) override;
  boost::asio::awaitable<bool> send_body(std::string_view chunk) override;
  boost::asio::awaitable<bool> finish() override;
  void abort() noexcept override { inner_.abort(); }
  void watch_disconnect(std::function<void()> on_gone) override {
    inner_.watch_disconnect(std::move(on_gone));
  }
  void unwatch() noexcept override { inner_.unwatch(); }

 private:
  enum class Mode : std::uint8_t { kPass, kStream, kBuffer };

  // What is about to go out needs: the gateway's own errors are OpenAI-shaped, into the
  // plan's client dialect; a provider's response takes its step's translation, a cached or
  // coalesced one the translation stored with it. nullopt: passed through.
  std::optional<Translation> translation_now() const;
  translate::ResponseOptions response_options() const;
  boost::asio::awaitable<bool> stream_body(std::string_view chunk);
  boost::asio::awaitable<bool> stream_finish();
  boost::asio::awaitable<bool> buffered_finish();

  RequestContext& ctx_;
  Downstream& inner_;
  Translation translation_;  // of the response going out (kStream, kBuffer)
  Mode mode_ = Mode::kPass;
  unsigned status_ = 200;
  boost::beast::http::response_header<> head_;  // held (kBuffer) or rewritten (kStream)
  AddedHeaders added_;
  std::unique_ptr<translate::StreamTranslator> stream_;
  std::string held_;  // kBuffer: the provider's body so far
  bool overflow_ = false;
  std::string out_;  // what goes out next; lives until the write completes
};

// Whether `ctx`'s response may need the translating downstream: a plan with a client
// dialect (its own errors take that shape) or a step that translates; when planning failed,
// a path that names a dialect other than OpenAI's (/anthropic/..., /compat/v1/messages,
// Gemini's), so even those errors reach the client's SDK in its shape.
bool needs_translation(const RequestContext& ctx);

}  // namespace aigw
