#include "stages/request_log/request_log_stage.hpp"

#include "core/text.hpp"

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace aigw {
namespace {

bool is_false(std::string_view v) { return boost::beast::iequals(v, "false"); }

Error bad_header(std::string detail) { return Error{ErrorCode::kInvalidHeader, std::move(detail)}; }

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> RequestLogStage::parse_metadata(
    std::string_view header) {
  constexpr std::size_t kMaxEntries = 5;
  const auto json = nlohmann::json::parse(header, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return bad_header(R"(cf-aig-metadata must be a JSON object such as {"user":"alice","team":7})");
  }
  if (json.size() > kMaxEntries) {
    return bad_header("cf-aig-metadata has " + std::to_string(json.size()) +
                      " entries; at most 5 are allowed");
  }
  // Keys and values are log columns and budget scopes: bounded, so that a client cannot
  // make the log (or a limiter's table) hold what it likes.
  constexpr std::size_t kMaxKeyBytes = 64;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : json.items()) {
    if (key.size() > kMaxKeyBytes) {
      return bad_header("cf-aig-metadata key '" + text::clip(key, kMaxKeyBytes) + "...' is " +
                        std::to_string(key.size()) + " bytes; at most 64 are allowed");
    }
    if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
      return bad_header("cf-aig-metadata value of '" + key +
                        "' must be a string, a number or a boolean");
    }
    if (value.is_string() && value.get_ref<const std::string&>().size() > text::kMaxLabelBytes) {
      return bad_header("cf-aig-metadata value of '" + key + "' is " +
                        std::to_string(value.get_ref<const std::string&>().size()) +
                        " bytes; at most 256 are allowed");
    }
    // Cloudflare's own keys, dropped as there.
    if (key.rfind("cf.", 0) == 0) continue;
    out.emplace_back(key, value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return out;
}

bool RequestLogStage::wants_request(const RequestContext& ctx) const noexcept {
  if (config_.payloads) return true;
  if (ctx.virtual_key != nullptr && !ctx.virtual_key->metadata.empty()) return true;
  for (const auto& [name, value] : ctx.control) {
    if (name == "cf-aig-metadata" || name == "cf-aig-collect-log" ||
        name == "cf-aig-collect-log-payload") {
      return true;
    }
  }
  return false;
}

boost::asio::awaitable<Verdict> RequestLogStage::on_request(RequestContext& ctx) {
  auto& log = ctx.log;
  log.collect_payload = config_.payloads;
  if (auto v = ctx.control_header("cf-aig-collect-log")) log.collect = !is_false(*v);
  if (auto v = ctx.control_header("cf-aig-collect-log-payload")) {
    log.collect_payload = log.collect_payload && !is_false(*v);
  }
  if (auto v = ctx.control_header("cf-aig-metadata")) {
    auto parsed = parse_metadata(*v);
    if (!parsed) {
      ctx.error = parsed.error();
      co_return Verdict::kRespond;
    }
    log.metadata = std::move(*parsed);
  }
  // The virtual key's own metadata, over the client's entries of the same name.
  if (ctx.virtual_key != nullptr) {
    for (const auto& [name, value] : ctx.virtual_key->metadata) {
      auto it = std::find_if(log.metadata.begin(), log.metadata.end(),
                             // Clang 14 cannot capture a structured binding implicitly.
                             [&key = name](const auto& entry) { return entry.first == key; });
      if (it != log.metadata.end()) {
        it->second = value;
      } else {
        log.metadata.emplace_back(name, value);
      }
    }
  }
  if (log.collect && log.collect_payload) {
    log.request_body = ctx.request.body().substr(0, config_.max_payload_bytes);
  }
  co_return Verdict::kContinue;
}

void RequestLogStage::on_response_body(RequestContext& ctx, std::string_view chunk, bool /*last*/) {
  auto& log = ctx.log;
  if (chunk.empty() || !log.collect || !log.collect_payload || log.response_cut) return;
  const std::size_t room = config_.max_payload_bytes - log.response_body.size();
  log.response_body.append(chunk.substr(0, room));
  log.response_cut = chunk.size() > room;
}

}  // namespace aigw
