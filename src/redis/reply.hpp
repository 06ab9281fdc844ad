#pragma once
// Redis's protocol (RESP2) for the gateway: commands encoded here, replies
// parsed with hiredis's reader into this value type, so nothing above src/redis sees hiredis.
// The reader is fed whatever the socket returned (a reply may span reads, a read may hold
// many replies) and yields replies in order; its memory is bounded by the caller, which
// refuses a reply larger than it allows.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::redis {

struct Reply {
  enum class Type : std::uint8_t { kString, kStatus, kError, kInteger, kNil, kArray };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus ("OK"), kError ("ERR ...", "NOSCRIPT ...")
  long long integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_error() const noexcept { return type == Type::kError; }
  bool is_nil() const noexcept { return type == Type::kNil; }
};

// One command, each argument binary-safe, as RESP's array of bulk strings.
std::string encode(const std::vector<std::string_view>& args);
// encode()'s parts, for a command built piece by piece: "*count", then each argument.
void append_array_header(std::string& out, std::size_t count);
void append_bulk(std::string& out, std::string_view arg);

class ReplyReader {
 public:
  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  // Adds bytes from the socket. False when the reader failed (out of memory).
  bool feed(std::string_view bytes);
  // The next complete reply; nullopt when more bytes are needed. `broken` is set when the
  // bytes are not RESP (the connection must be closed: nothing after can be trusted).
  std::optional<Reply> next(bool& broken);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aigw::redis
