// The price table that ships in the binary (config/pricing.yaml compiled in), which table a
// config ends up with, and the start-up warning about a table older than 90 days.

#include "config/price_table.hpp"

#include "config/load.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace aigw::config {
namespace {

namespace fs = std::filesystem;
using std::chrono::days;
using std::chrono::sys_days;

const EnvLookup no_env = [](std::string_view) -> std::optional<std::string> {
  return std::nullopt;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() /
              ("aigw_price_table_test_" +
               std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, std::string_view content) const {
    std::ofstream(path_ / name) << content;
    return (path_ / name).string();
  }

 private:
  fs::path path_;
};

sys_days day(int y, unsigned m, unsigned d) {
  return sys_days(std::chrono::year(y) / std::chrono::month(m) / std::chrono::day(d));
}

bool same(const ModelPrice& a, const ModelPrice& b) {
  return a.input == b.input && a.output == b.output && a.cached_input == b.cached_input &&
         a.cache_write == b.cache_write;
}

// The built-in table is config/pricing.yaml byte for byte, and it parses without a single
// problem into the same prices as the file: an error in it cannot first show at run time.
TEST(BuiltinPriceTable, IsTheShippedFileAndParsesToItsPrices) {
  const fs::path shipped = fs::path(AIGW_SOURCE_DIR) / "config" / "pricing.yaml";
  EXPECT_EQ(builtin_price_table(), read_text(shipped));

  const LoadResult builtin = load_string("metering:\n  enabled: true\n", "", no_env);
  for (const auto& d : builtin.diagnostics) ADD_FAILURE() << d.str();
  ASSERT_TRUE(builtin.ok());
  const MeteringConfig& b = builtin.config->metering;
  EXPECT_EQ(b.pricing_file, kBuiltinPriceTable);
  EXPECT_TRUE(parse_date(b.prices_taken).has_value()) << b.prices_taken;

  TempDir dir;
  const LoadResult file = load_file(
      dir.write("aigw.yaml", "metering:\n  pricing_file: " + shipped.string() + "\n"), no_env);
  for (const auto& d : file.diagnostics) ADD_FAILURE() << d.str();
  ASSERT_TRUE(file.ok());
  const MeteringConfig& f = file.config->metering;
  EXPECT_EQ(f.pricing_file, shipped.string());
  EXPECT_EQ(b.prices_taken, f.prices_taken);
  ASSERT_EQ(b.prices.size(), f.prices.size());
  EXPECT_GE(b.prices.size(), 20u);
  for (const auto& [model, price] : f.prices) {
    const auto it = b.prices.find(model);
    ASSERT_NE(it, b.prices.end()) << model;
    EXPECT_TRUE(same(it->second, price)) << model;
  }
  for (const char* model :
       {"openai/gpt-4o", "anthropic/claude-sonnet-4-5", "google-ai-studio/gemini-2.5-pro",
        "mistral/mistral-large-latest", "groq/llama-3.3-70b-versatile", "deepseek/deepseek-chat"}) {
    EXPECT_EQ(b.prices.count(model), 1u) << model;
  }
}

// explicit metering.pricing_file > pricing.yaml next to the config > the built-in table;
// pricing_file: "" is no table; metering.prices apply over whichever table is in use.
TEST(BuiltinPriceTable, PrecedenceOfTheTables) {
  TempDir dir;
  // No file next to it: the built-in table, with the config's own price over it.
  const std::string lone =
      dir.write("aigw.yaml",
                "metering:\n  prices:\n    openai/gpt-4o: {input: 1, output: 2}\n"
                "    custom-mine/m: {input: 3, output: 4}\n");
  LoadResult r = load_file(lone, no_env);
  ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
  EXPECT_EQ(r.config->metering.pricing_file, kBuiltinPriceTable);
  EXPECT_EQ(r.config->metering.prices.at("openai/gpt-4o").input, 1);
  EXPECT_FALSE(r.config->metering.prices.at("openai/gpt-4o").cached_input.has_value());
  EXPECT_EQ(r.config->metering.prices.at("custom-mine/m").output, 4);
  EXPECT_EQ(r.config->metering.prices.count("anthropic/claude-sonnet-4-5"), 1u);

  // pricing.yaml next to the config replaces the built-in table (not merged with it).
  dir.write("pricing.yaml", "taken: 2026-01-02\nprices:\n  openai/a: {input: 1, output: 1}\n");
  r = load_file(lone, no_env);
  ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
  EXPECT_EQ(r.config->metering.pricing_file,
            (fs::path(lone).parent_path() / "pricing.yaml").string());
  EXPECT_EQ(r.config->metering.prices_taken, "2026-01-02");
  EXPECT_EQ(r.config->metering.prices.size(), 3u);  // openai/a and the two inline prices

  // An explicit file wins over the one next to the config.
  dir.write("mine.yaml", "taken: 2026-03-04\nprices:\n  openai/b: {input: 1, output: 1}\n");
  r = load_file(dir.write("explicit.yaml", "metering:\n  pricing_file: mine.yaml\n"), no_env);
  ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
  EXPECT_EQ(r.config->metering.prices_taken, "2026-03-04");
  EXPECT_EQ(r.config->metering.prices.count("openai/b"), 1u);
  EXPECT_EQ(r.config->metering.prices.size(), 1u);

  // "" is no table at all, not even the built-in one.
  r = load_file(dir.write("off.yaml", "metering:\n  pricing_file: \"\"\n"), no_env);
  ASSERT_TRUE(r.ok()) << r.diagnostics.at(0).str();
  EXPECT_TRUE(r.config->metering.prices.empty());
  EXPECT_TRUE(r.config->metering.pricing_file.empty());
  EXPECT_EQ(price_table_source(r.config->metering), "the config (metering.prices)");
}

TEST(BuiltinPriceTable, TakenMustBeADate) {
  TempDir dir;
  const std::string table = dir.write("t.yaml", "taken: last week\nprices: {}\n");
  const LoadResult r =
      load_file(dir.write("aigw.yaml", "metering:\n  pricing_file: t.yaml\n"), no_env);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].str(),
            table + ":1:8: taken: must be a date YYYY-MM-DD, such as 2025-11-30 (got 'last week')");
  EXPECT_TRUE(parse_date("2025-11-30") == day(2025, 11, 30));
  EXPECT_FALSE(parse_date("2025-02-30"));
  EXPECT_FALSE(parse_date("2025-1-30"));
  EXPECT_FALSE(parse_date("2025/11/30"));
}

MeteringConfig make_table(std::string file, std::string taken) {
  MeteringConfig m;
  m.pricing_file = std::move(file);
  m.prices_taken = std::move(taken);
  m.prices["openai/gpt-4o"] = ModelPrice{1, 2, std::nullopt, std::nullopt};
  return m;
}

TEST(StalePriceTable, WarnsOnlyPastNinetyDaysNamingTheDateAndTheWayOut) {
  const MeteringConfig builtin = make_table(std::string(kBuiltinPriceTable), "2025-11-30");
  EXPECT_FALSE(stale_price_table_warning(builtin, day(2025, 11, 30)));
  EXPECT_FALSE(stale_price_table_warning(builtin, day(2025, 11, 30) + days(90)));
  const auto warning = stale_price_table_warning(builtin, day(2025, 11, 30) + days(91));
  ASSERT_TRUE(warning);
  EXPECT_EQ(*warning,
            "the built-in price table was taken 2025-11-30, 91 days ago (more than "
            "90): costs and budgets may use outdated prices. Update aigw, or copy "
            "config/pricing.yaml, check its prices and taken: date against the providers' "
            "pricing pages and set metering.pricing_file to it; metering.prices overrides "
            "single models (docs/metering.md#the-price-table)");

  const MeteringConfig file = make_table("/etc/aigw/pricing.yaml", "2026-01-01");
  EXPECT_FALSE(stale_price_table_warning(file, day(2026, 3, 31)));  // 89 days
  const auto old = stale_price_table_warning(file, day(2027, 1, 1));
  ASSERT_TRUE(old);
  EXPECT_EQ(*old,
            "the price table /etc/aigw/pricing.yaml was taken 2026-01-01, 365 days ago (more "
            "than 90): costs and budgets may use outdated prices. Check its prices against the "
            "providers' pricing pages and update them and its taken: date; metering.prices "
            "overrides single models (docs/metering.md#the-price-table)");

  // No table, or a table without a date: nothing to say.
  EXPECT_FALSE(stale_price_table_warning(make_table("", ""), day(2030, 1, 1)));
  EXPECT_FALSE(stale_price_table_warning(make_table("/x/pricing.yaml", ""), day(2030, 1, 1)));
}

}  // namespace
}  // namespace aigw::config
