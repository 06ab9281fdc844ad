#include "redis/reply.hpp"

#include <algorithm>
#include <charconv>
#include <hiredis/hiredis.h>

namespace aigw::redis {
namespace {

// The reader builds our Reply tree itself (hiredis's object functions): hiredis 0.14's own
// builder allocates an array's element pointers as soon as it reads "*N", so one line from
// the server could ask for gigabytes. Here an array grows as its elements arrive, and a reply
// of more than kMaxNodes values is refused, so memory follows the bytes received (which the
// connection bounds).
constexpr std::size_t kMaxNodes = std::size_t{1} << 18;

struct Budget {
  std::size_t nodes = 0;  // values of the reply being read
};

void* place(const redisReadTask* task, Reply&& value) {
  auto* budget = static_cast<Budget*>(task->privdata);
  if (budget != nullptr && ++budget->nodes > kMaxNodes) return nullptr;  // hiredis: an error
  if (task->parent != nullptr) {
    auto* parent = static_cast<Reply*>(task->parent->obj);
    parent->elements.push_back(std::move(value));
    return &parent->elements.back();
  }
  return new Reply(std::move(value));
}

void* create_string(const redisReadTask* task, char* text, std::size_t length) {
  Reply r;
  r.type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::kError
           : task->type == REDIS_REPLY_STATUS ? Reply::Type::kStatus
                                              : Reply::Type::kString;
  r.text.assign(text, length);
  return place(task, std::move(r));
}

void* create_array(const redisReadTask* task, int elements) {
  Reply r;
  r.type = Reply::Type::kArray;
  r.elements.reserve(static_cast<std::size_t>(std::clamp(elements, 0, 64)));
  return place(task, std::move(r));
}

void* create_integer(const redisReadTask* task, long long value) {
  Reply r;
  r.type = Reply::Type::kInteger;
  r.integer = value;
  return place(task, std::move(r));
}

void* create_nil(const redisReadTask* task) { return place(task, Reply{}); }

// Only a reply's root is ever freed by hiredis (its values belong to it).
void free_object(void* object) { delete static_cast<Reply*>(object); }

redisReplyObjectFunctions kFunctions = {create_string, create_array, create_integer, create_nil,
                                        free_object};

}  // namespace

namespace {

void append_length(std::string& out, char kind, std::size_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out += kind;
  out.append(digits, end);
  out += "\r\n";
}

}  // namespace

void append_array_header(std::string& out, std::size_t count) { append_length(out, '*', count); }

void append_bulk(std::string& out, std::string_view arg) {
  append_length(out, '$', arg.size());
  out.append(arg);
  out += "\r\n";
}

// RESP's array of bulk strings, written directly: on every decision's path, and hiredis's
// formatter (sprintf for each length, a buffer of its own copied out) took several times as
// long. tests/unit/redis/reply_test.cpp holds it to the protocol's bytes.
std::string encode(const std::vector<std::string_view>& args) {
  std::size_t size = 16;
  for (const std::string_view a : args) size += a.size() + 16;
  std::string out;
  out.reserve(size);
  append_array_header(out, args.size());
  for (const std::string_view a : args) append_bulk(out, a);
  return out;
}

struct ReplyReader::Impl {
  Impl() {
    if (reader != nullptr) reader->privdata = &budget;
  }
  ~Impl() {
    if (reader != nullptr) redisReaderFree(reader);
  }
  Budget budget;
  redisReader* reader = redisReaderCreateWithFunctions(&kFunctions);
};

ReplyReader::ReplyReader() : impl_(std::make_unique<Impl>()) {}
ReplyReader::~ReplyReader() = default;

bool ReplyReader::feed(std::string_view bytes) {
  if (impl_->reader == nullptr) return false;
  return redisReaderFeed(impl_->reader, bytes.data(), bytes.size()) == REDIS_OK;
}

std::optional<Reply> ReplyReader::next(bool& broken) {
  broken = false;
  if (impl_->reader == nullptr) {
    broken = true;
    return std::nullopt;
  }
  void* raw = nullptr;
  if (redisReaderGetReply(impl_->reader, &raw) != REDIS_OK) {
    broken = true;
    return std::nullopt;
  }
  if (raw == nullptr) return std::nullopt;
  impl_->budget.nodes = 0;
  std::unique_ptr<Reply> reply(static_cast<Reply*>(raw));
  return std::move(*reply);
}

}  // namespace aigw::redis
