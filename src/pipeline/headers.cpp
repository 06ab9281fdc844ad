#include "pipeline/headers.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace aigw::headers {
namespace {

namespace beast = boost::beast;

constexpr std::array<std::string_view, 9> kHopByHop = {
    "connection", "proxy-connection",    "keep-alive",        "te", "trailer", "transfer-encoding",
    "upgrade",    "proxy-authorization", "proxy-authenticate"};

bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && beast::iequals(s.substr(0, prefix.size()), prefix);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool is_hop_by_hop(std::string_view name) noexcept {
  return std::any_of(kHopByHop.begin(), kHopByHop.end(),
                     [&](std::string_view h) { return beast::iequals(name, h); });
}

void strip_hop_by_hop(http::fields& fields) {
  // Headers listed in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  std::vector<std::string> listed;
  for (auto it = fields.find(http::field::connection);
       it != fields.end() && it->name() == http::field::connection; ++it) {
    std::string_view v = it->value();
    while (!v.empty()) {
      const auto comma = v.find(',');
      std::string_view token = v.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (!token.empty()) listed.emplace_back(token);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  for (const auto& name : listed) fields.erase(name);
  for (auto it = fields.begin(); it != fields.end();) {
    if (is_hop_by_hop(it->name_string())) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
}

void extract_control(http::fields& fields,
                     std::vector<std::pair<std::string, std::string>>& control) {
  for (auto it = fields.begin(); it != fields.end();) {
    const std::string_view name = it->name_string();
    if (starts_with_icase(name, "cf-aig-") || beast::iequals(name, "cf-cache-ttl") ||
        beast::iequals(name, "cf-skip-cache")) {
      control.emplace_back(lower(name), std::string(it->value()));
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
}

UpstreamRequest make_upstream_request(const RequestContext& ctx) {
  const auto& req = ctx.request;
  UpstreamRequest up;
  if (req.method() == http::verb::unknown) {
    up.method_string(req.method_string());
  } else {
    up.method(req.method());
  }
  up.target(ctx.target.target);
  up.version(11);
  for (const auto& field : req) {
    // Host is the upstream's; Expect was answered by us; framing is recomputed below.
    switch (field.name()) {
      case http::field::host:
      case http::field::expect:
      case http::field::content_length:
        continue;
      default:
        up.insert(field.name_string(), field.value());
    }
  }
  if (ctx.provider != nullptr) {
    for (const auto& [name, value] : ctx.provider->config.headers) up.set(name, value.reveal());
  }
  up.set(http::field::host, ctx.target.host_header());
  up.body() = {req.body().data(), req.body().size()};
  const auto method = req.method();
  if (!req.body().empty() || method == http::verb::post || method == http::verb::put ||
      method == http::verb::patch) {
    up.content_length(req.body().size());
  }
  return up;
}

}  // namespace aigw::headers
