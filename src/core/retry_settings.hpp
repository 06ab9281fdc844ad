#pragma once
// The retry settings a client may choose, with one set of names and bounds for the three
// places that take them: the config (upstream.*, routes' targets), the cf-aig-* request
// headers and a universal step's headers or config object (Cloudflare's names). Limits:
// docs/routing.md.

#include "aigw/config.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace aigw {

inline constexpr unsigned kMaxRetryAttempts = 5;
inline constexpr Duration kMaxRetryDelay{std::chrono::seconds(5)};
inline constexpr Duration kMaxRequestTimeout{std::chrono::hours(1)};

enum class RetrySetting : std::uint8_t { kMaxAttempts, kDelay, kBackoff, kRequestTimeout };

// Every setting, in the order the headers are read.
inline constexpr RetrySetting kRetrySettings[] = {RetrySetting::kMaxAttempts, RetrySetting::kDelay,
                                                  RetrySetting::kBackoff,
                                                  RetrySetting::kRequestTimeout};

// cf-aig-max-attempts, cf-aig-retry-delay, cf-aig-backoff, cf-aig-request-timeout.
std::string_view retry_header_name(RetrySetting setting) noexcept;
// The setting a lower-case header name sets, or nullopt.
std::optional<RetrySetting> retry_setting_of_header(std::string_view name) noexcept;
// The setting a universal step's config key sets (maxAttempts, retryDelay, backoff,
// requestTimeout), or nullopt.
std::optional<RetrySetting> retry_setting_of_config_key(std::string_view key) noexcept;

// "constant", "linear", "exponential".
std::optional<Backoff> backoff_named(std::string_view name) noexcept;

// A value as the client wrote it: a whole number (JSON), a string, or something else.
using RetryValue = std::variant<std::monostate, std::uint64_t, std::string_view>;

// Applies `value` to `policy`; on a value the gateway cannot use, what it must be instead
// ("a whole number from 1 to 5"), and `policy` is unchanged. Durations are milliseconds.
std::optional<std::string> apply_retry_setting(RetrySetting setting, RetryValue value,
                                               RetryConfig& policy);

// The same for a header's text: digits are a whole number.
std::optional<std::string> apply_retry_header(RetrySetting setting, std::string_view text,
                                              RetryConfig& policy);

}  // namespace aigw
