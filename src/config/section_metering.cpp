// The metering: and the price table sections of the config (docs/configuration.md).

#include "config/loader.hpp"
#include "config/price_table.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace aigw::config::detail {

void Loader::read_price(const Entry& e, ModelPrice& out) {
  bool input = false, output = false;
  read_fields(e, {
                     {"input",
                      [&](const Entry& f) {
                        input = true;
                        read_dollars(f, out.input);
                      }},
                     {"output",
                      [&](const Entry& f) {
                        output = true;
                        read_dollars(f, out.output);
                      }},
                     {"cached_input",
                      [&](const Entry& f) {
                        double d = -1;
                        read_dollars(f, d);
                        if (d >= 0) out.cached_input = d;
                      }},
                     {"cache_write",
                      [&](const Entry& f) {
                        double d = -1;
                        read_dollars(f, d);
                        if (d >= 0) out.cache_write = d;
                      }},
                 });
  if (e.value.IsMap() && (!input || !output)) {
    error(e, std::string("needs ") +
                 (!input && !output ? "input and output"
                  : !input          ? "input"
                                    : "output") +
                 " (US dollars per million tokens)");
  }
}

void Loader::read_prices(const Entry& e, std::map<std::string, ModelPrice>& out) {
  for_each_entry(e, false, "duplicate model", [&](const Entry& m) {
    const std::string& name = m.key.Scalar();
    const auto slash = name.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == name.size()) {
      error(mark_of(m.key.Mark()), m.path,
            "a price key is provider/model, such as openai/gpt-4o (got '" + printable(name) + "')");
      return;
    }
    ModelPrice price;
    read_price(m, price);
    out[name] = price;
  });
}

void Loader::read_metering(const Entry& e, MeteringConfig& out) {
  read_fields(
      e, {
             {"enabled", [&](const Entry& f) { read_bool(f, out.enabled); }},
             {"include_usage", [&](const Entry& f) { read_bool(f, out.include_usage); }},
             {"trust_client_cost", [&](const Entry& f) { read_bool(f, out.trust_client_cost); }},
             {"pricing_file",
              [&](const Entry& f) {
                const auto v = scalar(f, "a path");
                if (!v) return;
                if (v->text.empty()) {  // "" turns the table off
                  pricing_file_mark_ = at(f);
                  out.pricing_file = "-";
                  return;
                }
                const auto path = resolve_path(*v);
                if (path) {
                  out.pricing_file = path->text;
                  pricing_file_mark_ = at(f);
                }
              }},
             // Read into a side map: they apply over the file's, which is read later.
             {"prices", [&](const Entry& f) { read_prices(f, inline_prices_); }},
         });
}

void Loader::read_price_table(const YAML::Node& root, MeteringConfig& out) {
  const Entry top{YAML::Node(), root, ""};
  read_fields(top, {
                       {"taken",
                        [&](const Entry& f) {
                          const auto v = scalar(f, "a date (YYYY-MM-DD)");
                          if (!v) return;
                          if (!parse_date(v->text)) {
                            error(f, "must be a date YYYY-MM-DD, such as 2025-11-30 (got " +
                                         quoted(*v) + ")");
                            return;
                          }
                          out.prices_taken = v->text;
                        }},
                       {"currency",
                        [&](const Entry& f) {
                          const auto v = scalar(f, "USD");
                          if (v && v->text != "USD") error(f, "only USD is supported");
                        }},
                       {"prices", [&](const Entry& f) { read_prices(f, out.prices); }},
                   });
}

}  // namespace aigw::config::detail
