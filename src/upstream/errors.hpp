#pragma once
// How the upstream client words its errors, shared by its HTTP/1.1 and HTTP/2 paths.

#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/provider.hpp"

#include <string>

namespace aigw::upstream {

inline std::string ms_text(Duration d) { return std::to_string(d.count()) + "ms"; }

// The upstream's address goes to the operator's log only (Error::internal).
inline Error upstream_error(ErrorCode code, std::string detail, std::string internal = {}) {
  return Error{code, std::move(detail), std::move(internal)};
}

inline std::string endpoint_of(const UpstreamTarget& target) {
  return target.host + ":" + std::to_string(target.port);
}

}  // namespace aigw::upstream
