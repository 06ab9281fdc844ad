#include "router/retry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>

namespace aigw::retry {

bool fails_over(unsigned status) noexcept {
  return status == 429 || (status >= 500 && status < 600);
}

bool fails_over(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kUpstreamDns:
    case ErrorCode::kUpstreamConnect:
    case ErrorCode::kUpstreamTls:
    case ErrorCode::kUpstreamReset:
    case ErrorCode::kUpstreamProtocol:
    case ErrorCode::kUpstreamTimeout:
      return true;
    default:
      return false;
  }
}

Duration backoff_delay(Backoff backoff, Duration delay, unsigned attempt, double jitter,
                       Duration cap) noexcept {
  const unsigned retry = attempt > 1 ? attempt - 1 : 1;  // 1 for the first retry
  double ms = static_cast<double>(delay.count());
  switch (backoff) {
    case Backoff::kConstant:
      break;
    case Backoff::kLinear:
      ms *= retry;
      break;
    case Backoff::kExponential:
      ms *= std::ldexp(1.0, static_cast<int>(std::min(retry - 1, 30u)));
      break;
  }
  ms = std::min(ms, static_cast<double>(cap.count())) * std::clamp(jitter, 0.0, 2.0);
  return Duration(static_cast<Duration::rep>(std::llround(ms)));
}

std::optional<Duration> parse_retry_after(std::string_view value,
                                          std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t seconds = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || ptr != value.data() + value.size()) {
      seconds = 365ull * 24 * 3600;  // too many digits: "much later", which no cap admits
    }
    seconds = std::min<std::uint64_t>(seconds, 365ull * 24 * 3600);
    return std::chrono::duration_cast<Duration>(std::chrono::seconds(seconds));
  }
  // IMF-fixdate, the form RFC 9110 requires senders to use: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const std::time_t at = timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  const auto when = std::chrono::system_clock::from_time_t(at);
  if (when <= now) return Duration(0);
  return std::chrono::duration_cast<Duration>(when - now);
}

}  // namespace aigw::retry
