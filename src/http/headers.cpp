#include "http/headers.hpp"

#include "core/text.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace aigw::headers {
namespace {

using text::lower;
using namespace std::string_view_literals;

namespace beast = boost::beast;

bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && beast::iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace

bool is_hop_by_hop(http::field name) noexcept {
  switch (name) {
    case http::field::connection:
    case http::field::proxy_connection:
    case http::field::keep_alive:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::proxy_authorization:
    case http::field::proxy_authenticate:
      return true;
    default:
      return false;
  }
}

bool is_hop_by_hop(std::string_view name) noexcept {
  return is_hop_by_hop(http::string_to_field(name));
}

void strip_hop_by_hop(http::fields& fields) {
  // Every hop-by-hop name is one Beast knows, so the common case (none present) is one pass
  // of enum compares.
  bool any = false;
  for (const auto& field : fields) {
    if (is_hop_by_hop(field.name())) {
      any = true;
      break;
    }
  }
  if (!any) return;
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
    if (is_hop_by_hop(it->name())) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
}

void extract_control(http::fields& fields,
                     std::vector<std::pair<std::string, std::string>>& control) {
  for (auto it = fields.begin(); it != fields.end();) {
    // A field Beast knows by name (Content-Type...) is never one of ours.
    const std::string_view name = it->name_string();
    if (it->name() != http::field::unknown || name.empty() ||
        (name.front() != 'c' && name.front() != 'C')) {
      ++it;
      continue;
    }
    if (starts_with_icase(name, "cf-aig-") || beast::iequals(name, "cf-cache-ttl") ||
        beast::iequals(name, "cf-skip-cache")) {
      control.emplace_back(lower(name), std::string(it->value()));
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
}

void for_each_upstream_header(const Attempt& attempt, HeaderVisitor visit, void* user) {
  const OutgoingRequest& req = attempt.request;
  const auto* configured =
      attempt.provider != nullptr ? &attempt.provider->config.headers : nullptr;
  // A universal step's or route target's own headers win over the provider's configured ones.
  auto pinned = [&](std::string_view name) {
    for (const auto& p : attempt.pinned) {
      if (beast::iequals(p, name)) return true;
    }
    return false;
  };
  auto overridden = [&](std::string_view name) {
    if (configured == nullptr || pinned(name)) return false;
    for (const auto& entry : *configured) {
      if (beast::iequals(entry.first, name)) return true;
    }
    return false;
  };
  req.for_each_header([&](http::field field, std::string_view name, std::string_view value) {
    // Host is the upstream's; Expect was answered by us; framing is recomputed below.
    switch (field) {
      case http::field::host:
      case http::field::expect:
      case http::field::content_length:
        return;
      case http::field::unknown:
        if (beast::iequals(name, "host") || beast::iequals(name, "expect") ||
            beast::iequals(name, "content-length")) {
          return;
        }
        break;
      default:
        break;
    }
    if (!overridden(name)) visit(user, name, value);
  });
  if (configured != nullptr) {
    for (const auto& [name, value] : *configured) {
      if (!pinned(name)) visit(user, name, value.reveal());
    }
  }
}

bool upstream_request_has_length(const Attempt& attempt) noexcept {
  const auto method = attempt.request.method();
  return !attempt.request.body().empty() || method == http::verb::post ||
         method == http::verb::put || method == http::verb::patch;
}

std::string serialize_upstream_head(const Attempt& attempt) {
  // One "Name: value\r\n" line; a visitor, so that for_each_upstream_header can call it.
  constexpr HeaderVisitor append = [](void* user, std::string_view name, std::string_view value) {
    auto& out = *static_cast<std::string*>(user);
    out.append(name);
    out.append(": "sv);
    out.append(value);
    out.append("\r\n"sv);
  };
  const UpstreamTarget& target = attempt.target;
  std::string out;
  out.reserve(512 + target.target.size());
  out.append(attempt.request.method_string());
  out.push_back(' ');
  out.append(target.target);
  out.append(" HTTP/1.1\r\n"sv);
  append(&out, "Host", target.host_header());
  for_each_upstream_header(attempt, append, &out);
  if (upstream_request_has_length(attempt)) {
    append(&out, "Content-Length", std::to_string(attempt.request.body().size()));
  }
  out.append("\r\n"sv);
  return out;
}

}  // namespace aigw::headers
