#pragma once
// Request identifiers.

#include <string>

namespace aigw {

// A lowercase RFC 9562 UUIDv7 ("0190f0e4-7c1a-7b3e-9f2d-..."): millisecond timestamp, then
// a per-thread counter within the millisecond (so ids from one thread sort by creation),
// then random bits. Cloudflare returns UUIDv7 for cf-aig-log-id since 2026-10.
std::string make_uuid_v7();

// True for a lowercase canonical UUIDv7.
bool is_uuid_v7(std::string_view text) noexcept;

}  // namespace aigw
