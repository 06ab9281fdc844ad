#include "core/retry_settings.hpp"

#include <charconv>

namespace aigw {

std::string_view retry_header_name(RetrySetting setting) noexcept {
  switch (setting) {
    case RetrySetting::kMaxAttempts:
      return "cf-aig-max-attempts";
    case RetrySetting::kDelay:
      return "cf-aig-retry-delay";
    case RetrySetting::kBackoff:
      return "cf-aig-backoff";
    case RetrySetting::kRequestTimeout:
      return "cf-aig-request-timeout";
  }
  return {};
}

std::optional<RetrySetting> retry_setting_of_header(std::string_view name) noexcept {
  for (const RetrySetting s : kRetrySettings) {
    if (retry_header_name(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<RetrySetting> retry_setting_of_config_key(std::string_view key) noexcept {
  if (key == "maxAttempts") return RetrySetting::kMaxAttempts;
  if (key == "retryDelay") return RetrySetting::kDelay;
  if (key == "backoff") return RetrySetting::kBackoff;
  if (key == "requestTimeout") return RetrySetting::kRequestTimeout;
  return std::nullopt;
}

std::optional<Backoff> backoff_named(std::string_view name) noexcept {
  if (name == "constant") return Backoff::kConstant;
  if (name == "linear") return Backoff::kLinear;
  if (name == "exponential") return Backoff::kExponential;
  return std::nullopt;
}

std::optional<std::string> apply_retry_setting(RetrySetting setting, RetryValue value,
                                               RetryConfig& policy) {
  const std::uint64_t* n = std::get_if<std::uint64_t>(&value);
  const auto ms = [](Duration d) { return std::to_string(d.count()); };
  switch (setting) {
    case RetrySetting::kMaxAttempts:
      if (n == nullptr || *n < 1 || *n > kMaxRetryAttempts) {
        return "a whole number from 1 to " + std::to_string(kMaxRetryAttempts);
      }
      policy.max_attempts = static_cast<unsigned>(*n);
      return std::nullopt;
    case RetrySetting::kDelay:
      if (n == nullptr || *n > static_cast<std::uint64_t>(kMaxRetryDelay.count())) {
        return "milliseconds from 0 to " + ms(kMaxRetryDelay);
      }
      policy.delay = Duration(static_cast<Duration::rep>(*n));
      return std::nullopt;
    case RetrySetting::kRequestTimeout:
      if (n == nullptr || *n < 1 || *n > static_cast<std::uint64_t>(kMaxRequestTimeout.count())) {
        return "milliseconds from 1 to " + ms(kMaxRequestTimeout);
      }
      policy.request_timeout = Duration(static_cast<Duration::rep>(*n));
      return std::nullopt;
    case RetrySetting::kBackoff: {
      const std::string_view* name = std::get_if<std::string_view>(&value);
      const auto backoff = name != nullptr ? backoff_named(*name) : std::nullopt;
      if (!backoff) return "constant, linear or exponential";
      policy.backoff = *backoff;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<std::string> apply_retry_header(RetrySetting setting, std::string_view text,
                                              RetryConfig& policy) {
  if (setting == RetrySetting::kBackoff) return apply_retry_setting(setting, text, policy);
  std::uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  const bool whole = !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
  return apply_retry_setting(setting, whole ? RetryValue(n) : RetryValue(), policy);
}

}  // namespace aigw
