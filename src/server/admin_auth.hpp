#pragma once
// Who may use the admin listener (admin.tokens, docs/operations.md). A token is presented as
// `Authorization: Bearer <token>` (curl, scripts) or HTTP Basic auth with any user name and
// the token as password (a browser opening the console prompts once, then sends it with
// every request of the page).

#include "aigw/config.hpp"

#include <string_view>

namespace aigw::admin {

// True when no token is configured, or the header carries one of them. Compares SHA-256
// digests in constant time and checks every configured token, so timing tells nothing about
// which one (or how much of one) matched.
bool authorized(const AdminConfig& config, std::string_view authorization_header);

// The endpoints anyone who reaches the listener may call: orchestrators probe them without
// credentials.
inline bool open_path(std::string_view path) { return path == "/healthz" || path == "/readyz"; }

// The challenge sent with a 401, so browsers ask for the token.
inline constexpr std::string_view kChallenge = R"(Basic realm="aigw admin", charset="UTF-8")";

}  // namespace aigw::admin
