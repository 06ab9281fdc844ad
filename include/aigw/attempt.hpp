#pragma once
// A request's plan and its attempts (docs/architecture.md, "Life of a request").
//
// The planner (src/router/planner.hpp) turns the client's request into a Plan: the ordered
// steps the gateway may take — the provider the URL names, a universal request's steps, or a
// named route's targets — before any stage runs. The router makes each step it enters into an
// Attempt: the request to send to that step's provider, built from the client's request
// (which is never changed), and every stage's on_attempt acts on it before it is sent.

#include "aigw/config.hpp"
#include "aigw/dialect.hpp"
#include "aigw/provider.hpp"
#include "aigw/usage.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aigw {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;

// Value of the first `name` field, or "": a pass of enum compares, which on the dozen fields
// of a request or response costs a tenth of Beast's find() (a case-insensitive compare at
// each node of its ordered index). For fields Beast knows by name (not http::field::unknown).
inline std::string_view field_value(const http::fields& fields, http::field name) noexcept {
  for (const auto& field : fields) {
    if (field.name() == name) return field.value();
  }
  return {};
}

// What a JSON request body says, read in one pass (read_body_facts, src/request/body.hpp):
// whether it is JSON at all, and what the stages before the provider call need to know.
struct BodyFacts {
  bool json = false;                     // one JSON text (RFC 8259)
  std::string duplicate_key;             // a key the top-level object has twice, "" when none
  std::string model;                     // the top-level "model" string; "" when absent
  bool stream = false;                   // "stream": true (Gemini streams by path instead)
  bool include_usage_requested = false;  // stream_options.include_usage is true
  // The output cap the client set: max_completion_tokens, max_tokens, max_output_tokens or
  // generationConfig.maxOutputTokens (the first present, in that order).
  std::optional<std::uint64_t> max_output_tokens;
  // Unicode code points of the text the model reads (messages, system prompts, tool
  // definitions...): the prompt's size before the provider reports it. Read only when asked
  // for (`prompt_read`): walking every value costs several times the parse itself.
  std::uint64_t prompt_chars = 0;
  bool prompt_read = false;
};

struct RouteTarget;  // src/router/routes.hpp: a named route's target (its config, its breaker)
struct Route;

// One step the plan may take. Written by the planner; read-only afterwards.
struct PlannedStep {
  const Provider* provider = nullptr;
  std::string slug;
  UpstreamTarget target;
  std::string path;  // a universal step's own /{provider}/{endpoint}; "" for the others (the
                     // plan's path is theirs)
  RetryConfig retry;
  UsageFormat usage_format{};  // kNone until set  // the adapter's, for target's path
  std::string path_model;      // the model the upstream path names (Gemini), "" otherwise

  // What the step changes in the client's request; nothing for the URL's own provider.
  std::optional<http::verb> method;  // a universal step: POST
  // A universal step's body (its "query", minified) and what it says, read with the list.
  std::shared_ptr<const std::string> body;
  std::shared_ptr<const BodyFacts> body_facts;
  // Headers set over the client's: a universal step's own (pinned: they also win over the
  // provider's configured headers) and defaults (Content-Type).
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> pinned;  // lower-case names
  std::string model;                // a named route target's model, written into the body's "model"
  const RouteTarget* route_target = nullptr;  // a named route's target, else null
  // The plan spans providers: the client's own credential headers are not sent (one
  // provider's key must never reach another); the step's own headers or a stored key are.
  bool strip_client_credentials = false;
  // Set when the step's provider speaks another API than the client (/compat, a route or
  // universal step across formats): the body above is already in the provider's, and the
  // answer is translated back (src/pipeline/translating_downstream.hpp).
  std::optional<Translation> translation;
};

enum class PlanKind : std::uint8_t {
  kProvider,   // /{provider}/... or /v1/{account}/{gateway}/{provider}/...
  kUniversal,  // POST / or /v1/{account}/{gateway} with a list of steps
  kRoute,      // a named route: /route/{name}/... or "model": "dynamic/{name}"
  kCompat,     // /compat/chat/completions or /compat/v1/messages: "model": "{provider}/{model}"
  kModels,     // GET /compat/models (/compat/v1/models): the gateway's own list, no step
};

struct Plan {
  PlanKind kind = PlanKind::kProvider;
  // The request as logged: its path without the query (which may carry a credential);
  // /route/{name}/... for a named route however it was called.
  std::string path;
  std::string account;  // long form /v1/{account}/{gateway}/...
  std::string gateway;
  const Route* route = nullptr;  // kRoute
  // The API the client speaks, when the gateway knows it and it is not OpenAI's alone:
  // the gateway's own errors take its shape (an Anthropic SDK on /anthropic/... or
  // /compat/v1/messages reads Anthropic's error shape, a Gemini client Google's). Each
  // step's answer is shaped by its own `translation`.
  std::optional<Dialect> client_dialect;
  std::vector<PlannedStep> steps;  // in order; empty only in a kModels plan
};

// The request one attempt sends: the client's request with the attempt's edits, applied when
// the head is written, so that nothing the attempt does not change is copied.
class OutgoingRequest {
 public:
  OutgoingRequest() = default;
  explicit OutgoingRequest(const HttpRequest& base) : base_(&base) {}

  const HttpRequest& base() const noexcept { return *base_; }
  http::verb method() const noexcept { return method_ ? *method_ : base_->method(); }
  std::string_view method_string() const noexcept;
  void method(http::verb verb) { method_ = verb; }

  const std::string& body() const noexcept {
    return own_body_ ? *own_body_ : shared_body_ ? *shared_body_ : base_->body();
  }
  bool body_replaced() const noexcept { return own_body_ || shared_body_; }
  // The body to edit in place: the first call copies the client's.
  std::string& edit_body();
  void body(std::shared_ptr<const std::string> shared);  // replaced without a copy

  // The value of header `name` as it will be sent (the provider's configured headers aside).
  std::optional<std::string_view> header(std::string_view name) const;
  // Sets `name` (replacing the client's and any earlier set of it).
  void set(std::string_view name, std::string value);
  // Removes `name`: neither the client's nor an earlier set one is sent.
  void erase(std::string_view name);

  // Every header to send, in order: the client's not erased or replaced, then the set ones.
  // f(http::field, std::string_view name, std::string_view value); the field is
  // http::field::unknown for the set ones (compare their names).
  template <class F>
  void for_each_header(F&& f) const {
    for (const auto& field : *base_) {
      if (hidden_.empty() || !hidden(field.name_string())) {
        f(field.name(), field.name_string(), field.value());
      }
    }
    for (const auto& [name, value] : set_) {
      f(http::field::unknown, std::string_view(name), std::string_view(value));
    }
  }

 private:
  bool hidden(std::string_view name) const noexcept;

  const HttpRequest* base_ = nullptr;
  std::optional<http::verb> method_;
  std::optional<std::string> own_body_;
  std::shared_ptr<const std::string> shared_body_;
  std::vector<std::pair<std::string, std::string>> set_;
  std::vector<std::string> hidden_;  // lower-case names of the client's headers not sent
};

// One step entered: made by the router from the plan (src/router/attempt.hpp), acted on by
// every stage's on_attempt, then sent (and retried as its policy allows). The fields are the
// router's until on_attempt; a stage writes only what its comment names.
struct Attempt {
  std::size_t step = 0;  // index in the plan
  const PlannedStep* planned = nullptr;
  const Provider* provider = nullptr;
  std::string slug;
  UpstreamTarget target;
  OutgoingRequest request;
  std::vector<std::string> pinned;  // lower-case: headers set over the provider's configured
  RetryConfig retry;
  UsageFormat usage_format{};  // kNone until set
  // The model this attempt asks for: a route target's, else its body's, else its path's.
  std::string model;
  // What its body says (before any stage's edit); shared with the request or its step.
  std::shared_ptr<const BodyFacts> body_facts;
  // writer = the metering stage: stream_options.include_usage was added to the body.
  bool usage_injected = false;
};

}  // namespace aigw
