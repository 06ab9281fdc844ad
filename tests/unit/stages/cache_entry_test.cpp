// A cached response as the bytes stored in Redis (src/stages/cache/entry_codec.hpp): whole
// and streamed entries with usage and translation come back as they were stored; every
// truncation, a garbled or unknown-version entry, header text that could split a response
// and a body over the cap are refused with a reason. No sockets.

#include "stages/cache/entry_codec.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace aigw::cache {
namespace {

constexpr std::int64_t kStoredAt = 1'718'000'000'123;

CachedResponse buffered() {
  CachedResponse r;
  r.status = 200;
  r.content_type = "application/json";
  r.headers = {{"x-request-id", "req_1"}, {"openai-processing-ms", "42"}, {"x-empty", ""}};
  r.body = std::make_shared<const std::string>(R"({"answer":1})");
  ResponseUsage usage;
  usage.model = "gpt-4o-mini-2024-07-18";
  usage.tokens.input = 12;
  usage.tokens.output = 34;
  usage.tokens.cached_input = 0;
  r.usage = usage;
  return r;
}

CachedResponse streamed() {
  CachedResponse r;
  r.status = 200;
  r.content_type = "text/event-stream; charset=utf-8";
  r.headers = {{"cache-control", "no-cache"}};
  r.body = std::make_shared<const std::string>(
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"
      "data: [DONE]\n\n");
  r.stream = true;
  ResponseUsage usage;
  usage.tokens.input = 5;
  usage.tokens.output = 2;
  usage.tokens.cache_write = 7;
  usage.tokens.reasoning = 1;
  r.usage = usage;
  r.translation = Translation{Dialect::kAnthropicMessages, Dialect::kOpenAiChat, true};
  return r;
}

std::string encoded(const CachedResponse& r) {
  auto bytes = encode_entry(r, kStoredAt);
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or("");
}

// The problem decoding `bytes` states ("" when it decodes).
std::string problem_of(std::string_view bytes, std::size_t max_body = 1 << 20) {
  std::string problem;
  const auto entry = decode_entry(bytes, max_body, problem);
  EXPECT_EQ(entry.has_value(), problem.empty());
  return entry ? "" : problem;
}

void expect_same(const CachedResponse& a, const CachedResponse& b) {
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.content_type, b.content_type);
  EXPECT_EQ(a.headers, b.headers);
  ASSERT_TRUE(a.body && b.body);
  EXPECT_EQ(*a.body, *b.body);
  EXPECT_EQ(a.stream, b.stream);
  ASSERT_EQ(a.usage.has_value(), b.usage.has_value());
  if (a.usage) {
    EXPECT_EQ(a.usage->model, b.usage->model);
    EXPECT_EQ(a.usage->tokens.input, b.usage->tokens.input);
    EXPECT_EQ(a.usage->tokens.output, b.usage->tokens.output);
    EXPECT_EQ(a.usage->tokens.cached_input, b.usage->tokens.cached_input);
    EXPECT_EQ(a.usage->tokens.cache_write, b.usage->tokens.cache_write);
    EXPECT_EQ(a.usage->tokens.reasoning, b.usage->tokens.reasoning);
  }
  EXPECT_EQ(a.translation, b.translation);
}

TEST(CacheEntry, BufferedEntryRoundTrips) {
  const CachedResponse r = buffered();
  const std::string bytes = encoded(r);
  std::string problem;
  const auto back = decode_entry(bytes, 1 << 20, problem);
  ASSERT_TRUE(back.has_value()) << problem;
  EXPECT_EQ(back->stored_unix_ms, kStoredAt);
  expect_same(r, back->response);
  EXPECT_FALSE(back->response.usage->tokens.cache_write.has_value());  // absent stays absent
  EXPECT_EQ(back->response.usage->tokens.cached_input, 0u);            // 0 stays 0
}

TEST(CacheEntry, StreamedEntryWithTranslationRoundTrips) {
  const CachedResponse r = streamed();
  std::string problem;
  const auto back = decode_entry(encoded(r), 1 << 20, problem);
  ASSERT_TRUE(back.has_value()) << problem;
  expect_same(r, back->response);
  EXPECT_TRUE(back->response.stream);
}

TEST(CacheEntry, MinimalEntryRoundTrips) {
  CachedResponse r;
  r.status = 204;
  r.body = std::make_shared<const std::string>();
  std::string problem;
  const auto back = decode_entry(encoded(r), 0, problem);
  ASSERT_TRUE(back.has_value()) << problem;
  EXPECT_EQ(back->response.status, 204u);
  EXPECT_EQ(*back->response.body, "");
  EXPECT_FALSE(back->response.usage);
  EXPECT_FALSE(back->response.translation);
  EXPECT_FALSE(back->response.stream);
}

TEST(CacheEntry, EveryTruncationIsRefused) {
  for (const CachedResponse& r : {buffered(), streamed()}) {
    const std::string bytes = encoded(r);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_NE(problem_of(std::string_view(bytes).substr(0, n)), "") << "prefix of " << n;
    }
    EXPECT_EQ(problem_of(bytes), "");
  }
  EXPECT_EQ(problem_of(""), "not a cache entry (no AGWC magic)");
  EXPECT_EQ(problem_of("AGWC"), "truncated in the version");
  const std::string bytes = encoded(buffered());
  EXPECT_EQ(problem_of(std::string_view(bytes).substr(0, bytes.size() - 1)),
            "truncated in the body");
  EXPECT_EQ(problem_of(bytes + "x"), "bytes after the body");
}

TEST(CacheEntry, GarbledOrUnknownEntriesAreRefused) {
  const std::string good = encoded(buffered());
  auto with = [&](std::size_t at, char c) {
    std::string b = good;
    b[at] = c;
    return b;
  };
  EXPECT_EQ(problem_of(with(0, 'X')), "not a cache entry (no AGWC magic)");
  EXPECT_EQ(problem_of(with(4, 2)), "version 2 is unknown");
  EXPECT_EQ(problem_of(with(5, 0x08)), "unknown flags");
  std::string status = with(6, static_cast<char>(0xF4));  // 0x01F4
  status[7] = 0x01;
  EXPECT_EQ(problem_of(status), "status 500 is not a 2xx");
  EXPECT_EQ(problem_of(with(15, static_cast<char>(0x80))), "a negative time of storing");
  EXPECT_EQ(problem_of("{\"status\":200}"), "not a cache entry (no AGWC magic)");
  // A flipped byte anywhere is refused or decodes to something bounded; never a crash.
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string b = good;
    b[i] = static_cast<char>(b[i] ^ 0x5A);
    std::string problem;
    const auto entry = decode_entry(b, 1 << 20, problem);
    if (entry) {
      EXPECT_LE(entry->response.body->size(), b.size());
    }
  }
}

TEST(CacheEntry, HeaderTextThatCouldSplitAResponseIsRefused) {
  // Encoding refuses it...
  CachedResponse r = buffered();
  r.headers.emplace_back("x-evil", "a\r\nSet-Cookie: s=1");
  EXPECT_FALSE(encode_entry(r, kStoredAt));
  r = buffered();
  r.headers.emplace_back("bad name", "v");
  EXPECT_FALSE(encode_entry(r, kStoredAt));
  r = buffered();
  r.content_type = std::string("text/plain\0x", 12);
  EXPECT_FALSE(encode_entry(r, kStoredAt));
  r = buffered();
  r.status = 404;
  EXPECT_FALSE(encode_entry(r, kStoredAt));
  // ...and so does decoding what another writer put there: the same lengths, a CR inside.
  r = buffered();
  r.headers = {{"x-evil", "a-b"}};
  std::string bytes = encoded(r);
  bytes[bytes.find("a-b") + 1] = '\n';
  EXPECT_EQ(problem_of(bytes), "a header value with CR, LF or NUL");
  bytes = encoded(r);
  bytes[bytes.find("x-evil") + 1] = ':';
  EXPECT_EQ(problem_of(bytes), "a header name that is not a token");
}

TEST(CacheEntry, LengthsAreBounded) {
  const CachedResponse r = buffered();
  const std::string bytes = encoded(r);
  EXPECT_EQ(problem_of(bytes, r.body->size()), "");
  EXPECT_EQ(problem_of(bytes, r.body->size() - 1), "a body of 12 bytes (at most 11)");
  // A header count, or a length, larger than what follows is a truncation, never a read past
  // the end or an allocation of the size claimed.
  std::string many = bytes;
  const std::size_t count_at = 4 + 1 + 1 + 2 + 8 + 2 + r.content_type.size();
  many[count_at] = static_cast<char>(0xFF);
  many[count_at + 1] = static_cast<char>(0xFF);
  EXPECT_EQ(problem_of(many), "65535 headers (at most 512)");
  many[count_at] = static_cast<char>(0xFF);
  many[count_at + 1] = 0x01;  // 511 headers claimed, 3 present
  EXPECT_EQ(problem_of(many), "truncated in the headers");
  std::string long_body = bytes;
  const std::size_t body_length_at = bytes.size() - r.body->size() - 4;
  long_body[body_length_at + 3] = 0x7F;
  EXPECT_EQ(problem_of(long_body, std::size_t{1} << 31), "truncated in the body");
  // Too many headers, or a head over its cap, are not encoded.
  CachedResponse big = buffered();
  big.headers.assign(kMaxEntryHeaders + 1, {"x-a", "b"});
  EXPECT_FALSE(encode_entry(big, kStoredAt));
  big = buffered();
  big.headers = {{"x-a", std::string(kMaxEntryHeadBytes, 'b')}};
  EXPECT_FALSE(encode_entry(big, kStoredAt));
}

TEST(CacheEntry, UnknownUsageCountsAndDialectsAreRefused) {
  const CachedResponse r = streamed();
  const std::string good = encoded(r);
  // The translation is the three bytes before the body's length.
  const std::size_t translation_at = good.size() - r.body->size() - 4 - 3;
  std::string bad = good;
  bad[translation_at] = 9;
  EXPECT_EQ(problem_of(bad), "an unknown translation");
  bad = good;
  bad[translation_at + 2] = 2;
  EXPECT_EQ(problem_of(bad), "an unknown translation");
  // The usage: model (empty: two zero bytes), then the mask of counts present.
  const std::size_t mask_at = translation_at - 4 * 8 - 1;
  bad = good;
  ASSERT_EQ(bad[mask_at], 0x01 | 0x02 | 0x08 | 0x10);
  bad[mask_at] = 0x20 | 0x01 | 0x02 | 0x08 | 0x10;
  EXPECT_EQ(problem_of(bad), "unknown usage counts");
}

}  // namespace
}  // namespace aigw::cache
