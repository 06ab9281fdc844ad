// Both halves of the include_usage rewrite, the input choosing which:
// - add_include_usage on a request body: a body it leaves alone is byte for byte the same;
//   one it changes was valid JSON, still is, and reads (nlohmann, last duplicate wins, as
//   providers read it) as the same value with stream true and
//   stream_options.include_usage true added — nothing else;
// - UsageChunkStripper on a stream cut in pieces where the input says: what the client gets
//   does not depend on the cuts, and a stream that never names "usage" passes unchanged.

#include "json/check.hpp"
#include "pieces.hpp"
#include "upstream/providers/usage/include_usage.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "include_usage_fuzz: %s\n", what);
  std::abort();
}

void check_request(const std::string& original) {
  std::string body = original;
  const bool changed = aigw::usage::add_include_usage(body);
  if (!changed) {
    if (body != original) fail("body edited but reported unchanged");
    return;
  }
  if (!aigw::json::valid(original)) fail("changed a body that is not valid JSON");
  if (!aigw::json::valid(body)) fail("the rewrite made valid JSON invalid");
  auto before = nlohmann::json::parse(original, nullptr, false);
  const auto after = nlohmann::json::parse(body, nullptr, false);
  if (before.is_discarded() || after.is_discarded()) return;  // numbers nlohmann cannot hold
  if (!before.is_object() || !before.contains("stream") || before["stream"] != true) {
    fail("changed a request that is not a stream");
  }
  auto& options = before["stream_options"];
  if (options.is_null()) options = nlohmann::json::object();
  if (!options.is_object()) fail("changed a non-object stream_options");
  if (options.contains("include_usage") && options["include_usage"] == true) {
    fail("changed a request already asking");
  }
  options["include_usage"] = true;
  if (before != after) fail("the rewrite changed more than stream_options.include_usage");
}

std::string strip(const std::vector<std::string_view>& parts) {
  aigw::usage::UsageChunkStripper stripper;
  std::string out, scratch;
  for (const auto part : parts) {
    const std::string copy(part);  // `in` must not alias scratch; a copy also ends its lifetime
    out += stripper.filter(copy, scratch);
  }
  out += stripper.finish(scratch);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const bool stream = fdp.ConsumeBool();
  const aigw::fuzz::Pieces in = aigw::fuzz::take_pieces(fdp);
  if (!stream) {
    check_request(in.payload);
    return 0;
  }
  const std::string split = strip(in.parts);
  if (split != strip({in.payload})) fail("stripped stream depends on the cuts");
  if (in.payload.find("usage") == std::string::npos && split != in.payload) {
    fail("a stream without usage was changed");
  }
  if (split.size() > in.payload.size()) fail("stripping made the stream longer");
  return 0;
}
