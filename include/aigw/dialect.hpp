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

}  // namespace aigw
