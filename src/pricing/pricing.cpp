#include "pricing/pricing.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

namespace aigw::pricing {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `model` without its version suffix, or nullopt when it has none of the known forms.
std::optional<std::string_view> strip_version(std::string_view model) {
  auto ends_with_digits = [&](std::size_t n, char sep) -> bool {
    return model.size() > n + 1 && model[model.size() - n - 1] == sep &&
           all_digits(model.substr(model.size() - n));
  };
  // "-YYYY-MM-DD": dashes 11, 6 and 3 places from the end.
  if (model.size() > 11 && model[model.size() - 11] == '-' && model[model.size() - 6] == '-' &&
      model[model.size() - 3] == '-' && all_digits(model.substr(model.size() - 10, 4)) &&
      all_digits(model.substr(model.size() - 5, 2)) && all_digits(model.substr(model.size() - 2))) {
    return model.substr(0, model.size() - 11);  // gpt-4o-2024-08-06
  }
  if (ends_with_digits(8, '-') || ends_with_digits(8, '@')) {
    return model.substr(0, model.size() - 9);  // claude-3-5-haiku-20241022, ...@20241022
  }
  constexpr std::string_view kLatest = "-latest";
  if (model.size() > kLatest.size() && model.substr(model.size() - kLatest.size()) == kLatest) {
    return model.substr(0, model.size() - kLatest.size());
  }
  if (ends_with_digits(3, '-')) return model.substr(0, model.size() - 4);  // gemini-1.5-pro-002
  // gemini-2.5-flash-preview-05-20
  constexpr std::string_view kPreview = "-preview-";
  if (model.size() > kPreview.size() + 5 && all_digits(model.substr(model.size() - 2)) &&
      model[model.size() - 3] == '-' && all_digits(model.substr(model.size() - 5, 2)) &&
      model.substr(model.size() - 5 - kPreview.size(), kPreview.size()) == kPreview) {
    return model.substr(0, model.size() - 5 - kPreview.size());
  }
  return std::nullopt;
}

}  // namespace

const ModelPrice* PriceTable::exact(std::string_view provider, std::string_view model) const {
  // "provider/model", on the stack unless it is unusually long (no allocation per request).
  std::array<char, 128> stack;
  std::string heap;
  const std::size_t size = provider.size() + 1 + model.size();
  char* key = stack.data();
  if (size > stack.size()) {
    heap.resize(size);
    key = heap.data();
  }
  std::copy(provider.begin(), provider.end(), key);
  key[provider.size()] = '/';
  std::copy(model.begin(), model.end(), key + provider.size() + 1);
  const auto it = prices_.find(std::string_view(key, size));
  return it == prices_.end() ? nullptr : &it->second;
}

const ModelPrice* PriceTable::versioned(std::string_view provider, std::string_view model) const {
  if (const auto* p = exact(provider, model)) return p;
  if (const auto base = strip_version(model)) return exact(provider, *base);
  return nullptr;
}

const ModelPrice* PriceTable::find(std::string_view provider, std::string_view model) const {
  if (model.empty() || prices_.empty()) return nullptr;
  constexpr std::string_view kModels = "models/";  // Gemini's resource-name form
  if (model.substr(0, kModels.size()) == kModels) model.remove_prefix(kModels.size());
  if (const auto* p = versioned(provider, model)) return p;
  if (provider == "azure-openai") return versioned("openai", model);
  if (provider == "google-vertex-ai") return versioned("google-ai-studio", model);
  if (provider == "openrouter") {
    const auto slash = model.find('/');
    if (slash == std::string_view::npos) return nullptr;
    std::string_view vendor = model.substr(0, slash);
    if (vendor == "mistralai") vendor = "mistral";
    if (vendor == "google") vendor = "google-ai-studio";
    return versioned(vendor, model.substr(slash + 1));
  }
  return nullptr;
}

Result<CustomCost> parse_custom_cost(std::string_view header) {
  auto bad = [](std::string why) {
    return Error{ErrorCode::kInvalidHeader, "cf-aig-custom-cost " + std::move(why)};
  };
  const auto json = nlohmann::json::parse(header, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return bad(
        "must be a JSON object such as {\"per_token_in\":0.000001,\"per_token_out\":"
        "0.000002}");
  }
  CustomCost out;
  bool in = false, out_set = false;
  for (const auto& [key, value] : json.items()) {
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
      return bad("field " + key + " must be a number >= 0 (US dollars per token)");
    }
    const double v = value.get<double>();
    if (key == "per_token_in") {
      out.per_token_in = v;
      in = true;
    } else if (key == "per_token_out") {
      out.per_token_out = v;
      out_set = true;
    } else if (key == "per_cache_read_token") {
      out.per_cache_read_token = v;
    } else if (key == "per_cache_write_token") {
      out.per_cache_write_token = v;
    } else {
      return bad("has an unknown field " + key +
                 " (known: per_token_in, per_token_out, per_cache_read_token, "
                 "per_cache_write_token)");
    }
  }
  if (!in || !out_set) return bad("needs per_token_in and per_token_out");
  return out;
}

Cost cost_of(const TokenUsage& usage, const ModelPrice* price, const CustomCost* custom) {
  Cost cost;
  if (!usage.input && !usage.output) return cost;  // nothing reported: nothing to price
  const double input = static_cast<double>(usage.input.value_or(0));
  const double cached = static_cast<double>(usage.cached_input.value_or(0));
  const double written = static_cast<double>(usage.cache_write.value_or(0));
  const double output = static_cast<double>(usage.output.value_or(0));
  const double uncached = std::max(0.0, input - cached - written);
  if (custom != nullptr) {
    cost.custom = true;
    cost.usd = uncached * custom->per_token_in +
               cached * custom->per_cache_read_token.value_or(custom->per_token_in) +
               written * custom->per_cache_write_token.value_or(custom->per_token_in) +
               output * custom->per_token_out;
    return cost;
  }
  if (price == nullptr) {
    cost.unpriced = true;
    return cost;
  }
  cost.usd = (uncached * price->input + cached * price->cached_input.value_or(price->input) +
              written * price->cache_write.value_or(price->input) + output * price->output) /
             1e6;
  return cost;
}

}  // namespace aigw::pricing
