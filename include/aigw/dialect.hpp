#pragma once
// The chat APIs the gateway translates between (/compat, docs/compat.md): which one a client
// speaks, and which one the provider of an attempt speaks.

#include <cstdint>

namespace aigw {

enum class Dialect : std::uint8_t {
  kOpenAiChat,         // POST /v1/chat/completions
  kAnthropicMessages,  // POST /v1/messages
  kGemini,             // POST /v1beta/models/{model}:generateContent | :streamGenerateContent
};

// What one step's answer goes through on its way to the client: the provider's API (the
// step's body is already in it) into the client's. A step without one is passed through.
struct Translation {
  Dialect from = Dialect::kOpenAiChat;  // the provider's
  Dialect to = Dialect::kOpenAiChat;    // the client's
  // An OpenAI client's stream asked for the usage chunk (stream_options.include_usage).
  bool include_usage = false;

  friend bool operator==(const Translation&, const Translation&) = default;
};

}  // namespace aigw
