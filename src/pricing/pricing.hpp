#pragma once
// Cost of a request: the price table (config/pricing.yaml plus metering.prices), the rules
// that match a response's model name to an entry, and cf-aig-custom-cost. docs/metering.md
// has the rules for users.

#include "aigw/config.hpp"
#include "aigw/error.hpp"
#include "aigw/usage.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace aigw::pricing {

class PriceTable {
 public:
  explicit PriceTable(const std::map<std::string, ModelPrice>& prices)
      : prices_(prices.begin(), prices.end()) {}

  // The price of `model` as served by `provider` (the URL slug), or nullptr (unpriced). Tried
  // in order, first match wins:
  //  1. "provider/model" exactly;
  //  2. the model without a version suffix: -YYYY-MM-DD, -YYYYMMDD, @YYYYMMDD, -latest, a
  //     three-digit -NNN, -preview-MM-DD (a leading "models/" is dropped too);
  //  3. both again under the provider whose list prices this one charges: azure-openai →
  //     openai, google-vertex-ai → google-ai-studio; for openrouter a "vendor/model" name is
  //     looked up under that vendor (mistralai → mistral, google → google-ai-studio).
  const ModelPrice* find(std::string_view provider, std::string_view model) const;

  std::size_t size() const noexcept { return prices_.size(); }

 private:
  const ModelPrice* exact(std::string_view provider, std::string_view model) const;
  const ModelPrice* versioned(std::string_view provider, std::string_view model) const;

  // Looked up for every metered request, by a key built on the stack of the lookup: hashed,
  // with string_view lookups, it costs one hash and one compare where the ordered map of the
  // first version compared strings some 9 times for each of the two lookups of a dated model
  // name (1 400 instructions per request, bench/README.md).
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, ModelPrice, Hash, std::equal_to<>> prices_;
};

// cf-aig-custom-cost: US dollars per token (not per million), Cloudflare's field names.
struct CustomCost {
  double per_token_in = 0;
  double per_token_out = 0;
  std::optional<double> per_cache_read_token;   // unset: per_token_in
  std::optional<double> per_cache_write_token;  // unset: per_token_in
};

// Parses the header's JSON object. Errors name the problem (kInvalidHeader).
Result<CustomCost> parse_custom_cost(std::string_view header);

// Whether cf-aig-custom-cost prices a request (its logged cost, what budgets charge):
// `gateway_trusts` (metering.trust_client_cost), or the request's virtual key trusts it.
// Otherwise the price table does, so a client cannot lower its own budget's charge.
inline bool client_cost_trusted(bool gateway_trusts, const VirtualKey* key) noexcept {
  return gateway_trusts || (key != nullptr && key->trust_client_cost);
}

struct Cost {
  std::optional<double> usd;  // empty: no usage to price, or no price
  bool unpriced = false;      // usage was reported but the model has no price
  bool custom = false;        // priced by cf-aig-custom-cost
};

// Cached and cache-write tokens are part of usage.input (include/aigw/usage.hpp), so they
// are taken out of it before the input price applies: nothing is charged twice.
Cost cost_of(const TokenUsage& usage, const ModelPrice* price, const CustomCost* custom);

}  // namespace aigw::pricing
