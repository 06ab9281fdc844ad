#include "config/price_table.hpp"

namespace aigw::config {

std::optional<std::chrono::sys_days> parse_date(std::string_view text) {
  const auto digits = [&](std::size_t from, std::size_t n, unsigned& out) {
    out = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return true;
  };
  unsigned y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !digits(0, 4, y) ||
      !digits(5, 2, m) || !digits(8, 2, d)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day day{std::chrono::year(static_cast<int>(y)),
                                        std::chrono::month(m), std::chrono::day(d)};
  if (!day.ok()) return std::nullopt;
  return std::chrono::sys_days(day);
}

std::string price_table_source(const MeteringConfig& metering) {
  if (metering.pricing_file == kBuiltinPriceTable) return "the built-in table";
  if (metering.pricing_file.empty()) return "the config (metering.prices)";
  return metering.pricing_file;
}

std::optional<std::string> stale_price_table_warning(const MeteringConfig& metering,
                                                     std::chrono::sys_days today) {
  if (metering.pricing_file.empty() || metering.prices_taken.empty()) return std::nullopt;
  const auto taken = parse_date(metering.prices_taken);
  if (!taken) return std::nullopt;  // the loader refuses such a date
  const auto age = today - *taken;
  if (age <= kPriceTableMaxAge) return std::nullopt;
  const bool builtin = metering.pricing_file == kBuiltinPriceTable;
  std::string out = (builtin ? std::string("the built-in price table")
                             : "the price table " + metering.pricing_file) +
                    " was taken " + metering.prices_taken + ", " + std::to_string(age.count()) +
                    " days ago (more than " + std::to_string(kPriceTableMaxAge.count()) +
                    "): costs and budgets may use outdated prices. ";
  if (builtin) {
    out +=
        "Update aigw, or copy config/pricing.yaml, check its prices and taken: date against "
        "the providers' pricing pages and set metering.pricing_file to it; metering.prices "
        "overrides single models (docs/metering.md#the-price-table)";
  } else {
    out +=
        "Check its prices against the providers' pricing pages and update them and its "
        "taken: date; metering.prices overrides single models "
        "(docs/metering.md#the-price-table)";
  }
  return out;
}

}  // namespace aigw::config
