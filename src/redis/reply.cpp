#include "redis/reply.hpp"

#include <hiredis/hiredis.h>

namespace aigw::redis {
namespace {

Reply convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    default:  // REDIS_REPLY_NIL
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

}  // namespace

std::string encode(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string_view a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* command = nullptr;
  const int n =
      redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv.data(), lengths.data());
  if (n < 0 || command == nullptr) return {};
  std::string out(command, static_cast<std::size_t>(n));
  redisFreeCommand(command);
  return out;
}

struct ReplyReader::Impl {
  redisReader* reader = redisReaderCreate();
  ~Impl() {
    if (reader != nullptr) redisReaderFree(reader);
  }
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
  const auto* reply = static_cast<const redisReply*>(raw);
  Reply out = convert(*reply);
  freeReplyObject(raw);
  return out;
}

}  // namespace aigw::redis
