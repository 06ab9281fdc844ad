#pragma once
// What the Gemini translators share. The request: gemini.cpp (entry point, parameters) and
// gemini_request.cpp (messages). The responses, gemini_response.cpp: reading an untrusted
// GenerateContentResponse part by part, and the OpenAI shapes a whole response and a stream
// both produce (finish reasons, usage, tool calls, logprobs, errors). Private to
// src/translate; the public API is translate.hpp.

#include "aigw/error.hpp"

#include "translate/json_io.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aigw::translate::gemini {

using detail::Json;

// The member `key` of `object`, or nullptr when `object` is not an object or lacks it. Keys
// are std::string so that nlohmann 3.10 (no heterogeneous lookup) finds them too.
const Json* member(const Json& object, const std::string& key);

// The string member `key`, or "" when it is missing or not a string.
std::string_view string_member(const Json& object, const std::string& key);

// --- request --------------------------------------------------------------------------------

// The error of one step of the request's translation, or nullopt when it went through.
using Failure = std::optional<Error>;

// A parameter the Gemini provider cannot honour (400 unsupported_parameter, error.param).
Error unsupported(std::string param, std::string message);

// A field of the wrong type or shape: not a valid chat completion request (400 bad_request,
// error.param).
Error malformed(std::string param, std::string message);

// A client value quoted in an error message, bounded (an id may be megabytes long).
std::string shown(std::string_view value);

// A member that is present and not null: OpenAI SDKs send null for "not set".
const Json* given(const Json& object, const std::string& key);

// "base[i]", the way OpenAI's error.param names an array element.
std::string at(std::string_view base, std::size_t i);

// request.messages → out.contents and out.systemInstruction.
Failure translate_messages(const Json& request, Json& out);

// --- both ------------------------------------------------------------------------------------

// The first `max_bytes` of `text`, cut back to a UTF-8 character boundary (invalid bytes that
// remain are replaced when the JSON is dumped). Bounds what a client or provider can make
// the gateway echo.
std::string clip_utf8(std::string_view text, std::size_t max_bytes);

// --- responses -------------------------------------------------------------------------------

// One part of a candidate's content (Gemini API reference, "Part"), as the translators use
// it: text (thought or not), a function call, or something /compat does not carry (inline
// images the model produced, executable code), which is skipped.
struct Part {
  enum class Kind : std::uint8_t { kText, kThought, kFunctionCall, kOther };
  Kind kind = Kind::kOther;
  std::string_view text;                // kText, kThought
  const Json* function_call = nullptr;  // kFunctionCall: the functionCall object
  std::string_view thought_signature;   // kFunctionCall: the part's thoughtSignature (Gemini 3)
};

// A function call's thoughtSignature rides in the OpenAI tool call's id after this mark
// ("call_0__thought__<signature>"): OpenAI's format has no field for it, and Gemini 3 needs
// it back with the call in the next turn. The client resends the id untouched, and the
// request translation splits it off again. Stateless: nothing is kept between requests.
inline constexpr std::string_view kThoughtMark = "__thought__";
Part classify_part(const Json& part);

// The candidate's index (Gemini omits it when it is 0, proto3 JSON leaving defaults out), or
// nullopt when it is present but not a small non-negative integer.
std::optional<std::uint32_t> candidate_index(const Json& candidate);

// OpenAI's finish_reason for Gemini's Candidate.finishReason ("" when absent). STOP becomes
// tool_calls when the candidate called a function, as OpenAI reports a turn that ends in
// calls.
std::string_view finish_reason(std::string_view gemini_reason, bool has_function_calls);

// OpenAI's tool call for a Gemini functionCall, the k-th call of its choice:
// {id, type: "function", function: {name, arguments: compact JSON of args}}. Gemini's
// functionCall.id is used when present; otherwise the id is "call_<k>", deterministic, so
// a whole response and its stream name the same calls alike (docs/compat.md explains why
// round trips need no stable id: the request side resolves results by the resent id).
// A thoughtSignature is appended to the id after kThoughtMark.
Json tool_call(const Json& function_call, std::size_t k, std::string_view thought_signature = {});

// OpenAI's usage object for Gemini's usageMetadata.
Json usage(const Json& usage_metadata);

// OpenAI's choice logprobs ({content: [...], refusal: null}) for a candidate's
// logprobsResult, or null when it has none.
Json logprobs(const Json* logprobs_result);

// Error messages taken from a provider's body are clipped to this.
inline constexpr std::size_t kMaxErrorMessageBytes = 1000;

// OpenAI's error object ({message, type, code}) for the "error" member of Google's error
// body (google.rpc.Status as JSON: code, message, status, details). `status` is the HTTP
// status, used when the body names no status of its own.
Json error_object(const Json& google_error, unsigned status);

}  // namespace aigw::translate::gemini
