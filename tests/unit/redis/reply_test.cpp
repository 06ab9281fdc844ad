// RESP as src/redis reads and writes it: commands encoded binary-safe, replies of every type
// rebuilt whatever the byte splits, and a server's "*N" never turned into an allocation of
// N of anything (hiredis 0.14's own builder would allocate the N pointers at once).

#include "redis/reply.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aigw::redis {
namespace {

TEST(RedisReply, CommandsAreArraysOfBulkStrings) {
  EXPECT_EQ(encode({"SET", "k", std::string_view("a\0b", 3)}),
            std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\0b\r\n", 29));
  EXPECT_EQ(encode({"PING"}), "*1\r\n$4\r\nPING\r\n");
}

TEST(RedisReply, EveryTypeWhateverTheSplit) {
  const std::string bytes =
      "+OK\r\n-ERR "
      "wrong\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n$-1\r\n";
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    ReplyReader reader;
    std::vector<Reply> replies;
    for (const std::string_view part :
         {std::string_view(bytes).substr(0, cut), std::string_view(bytes).substr(cut)}) {
      ASSERT_TRUE(reader.feed(part));
      for (;;) {
        bool broken = false;
        auto r = reader.next(broken);
        ASSERT_FALSE(broken);
        if (!r) break;
        replies.push_back(std::move(*r));
      }
    }
    ASSERT_EQ(replies.size(), 6u) << "cut at " << cut;
    EXPECT_EQ(replies[0].type, Reply::Type::kStatus);
    EXPECT_EQ(replies[0].text, "OK");
    EXPECT_TRUE(replies[1].is_error());
    EXPECT_EQ(replies[1].text, "ERR wrong");
    EXPECT_EQ(replies[2].integer, 42);
    EXPECT_EQ(replies[3].text, "he\r\no");
    EXPECT_TRUE(replies[4].is_nil());
    ASSERT_EQ(replies[5].elements.size(), 3u);
    EXPECT_EQ(replies[5].elements[0].integer, 1);
    ASSERT_EQ(replies[5].elements[1].elements.size(), 2u);
    EXPECT_EQ(replies[5].elements[1].elements[0].text, "a");
    EXPECT_EQ(replies[5].elements[1].elements[1].text, "b");
    EXPECT_TRUE(replies[5].elements[2].is_nil());
  }
}

TEST(RedisReply, AHugeCountAllocatesNothingAndTooManyValuesBreakTheStream) {
  ReplyReader reader;
  ASSERT_TRUE(reader.feed("*2147483647\r\n"));
  bool broken = false;
  EXPECT_FALSE(reader.next(broken).has_value());  // waits for its elements
  EXPECT_FALSE(broken);
  // 2^18 values in one reply are allowed; one more breaks the stream.
  std::string many;
  for (int i = 0; i < (1 << 18); ++i) many += ":1\r\n";
  ASSERT_TRUE(reader.feed(many));
  EXPECT_FALSE(reader.next(broken).has_value());
  EXPECT_TRUE(broken);

  ReplyReader fine;
  ASSERT_TRUE(fine.feed("*3\r\n:1\r\n:2\r\n:3\r\n"));
  auto r = fine.next(broken);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->elements.size(), 3u);
}

TEST(RedisReply, BytesThatAreNotRespBreakTheStream) {
  ReplyReader reader;
  ASSERT_TRUE(reader.feed("HTTP/1.1 400 Bad Request\r\n"));
  bool broken = false;
  EXPECT_FALSE(reader.next(broken).has_value());
  EXPECT_TRUE(broken);
}

}  // namespace
}  // namespace aigw::redis
