// Named routes without sockets: the circuit breaker's state machine on a fake clock, the
// planner's priority order and weighted draw, the dynamic/{name} reader, and the problems
// RouteTable::build reports with the line:column a user would see from --check-config.

#include "router/routes.hpp"

#include "config/load.hpp"
#include "json/members.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace aigw {
namespace {

using namespace std::chrono_literals;
using Admit = CircuitBreaker::Admit;
using Change = CircuitBreaker::Change;
using State = CircuitBreaker::State;

const CircuitBreaker::TimePoint t0 = CircuitBreaker::TimePoint{} + 1000s;

CircuitBreaker breaker(unsigned failures = 3, Duration window = 10s, Duration cooldown = 5s) {
  return CircuitBreaker(BreakerConfig{true, failures, window, cooldown});
}

// ---- breaker --------------------------------------------------------------------------

TEST(Breaker, OpensAfterNFailuresWithinTheWindow) {
  auto b = breaker();
  EXPECT_EQ(b.admit(t0), Admit::kYes);
  EXPECT_EQ(b.record(false, false, t0), Change::kNone);
  EXPECT_EQ(b.record(true, false, t0 + 1s), Change::kNone);  // a success does not reset
  EXPECT_EQ(b.record(false, false, t0 + 2s), Change::kNone);
  EXPECT_EQ(b.state(t0 + 2s), State::kClosed);
  EXPECT_EQ(b.record(false, false, t0 + 3s), Change::kOpened);
  EXPECT_EQ(b.state(t0 + 3s), State::kOpen);
  EXPECT_EQ(b.admit(t0 + 3s), Admit::kNo);
  EXPECT_FALSE(b.would_admit(t0 + 7999ms));
  EXPECT_EQ(b.admit(t0 + 7999ms), Admit::kNo);  // cooldown 5s from t0+3s
  EXPECT_EQ(b.open_until(), t0 + 8s);
  EXPECT_EQ(b.opens(), 1u);
}

TEST(Breaker, FailuresOlderThanTheWindowDoNotCount) {
  auto b = breaker();
  b.record(false, false, t0);
  b.record(false, false, t0 + 5s);
  // t0 is out of the 10s window at t0 + 10s: two failures inside it, not three.
  EXPECT_EQ(b.record(false, false, t0 + 10s), Change::kNone);
  EXPECT_EQ(b.state(t0 + 10s), State::kClosed);
  EXPECT_EQ(b.record(false, false, t0 + 11s), Change::kOpened);
}

TEST(Breaker, AfterTheCooldownOneProbeAndItsAnswerDecides) {
  auto b = breaker(1);
  ASSERT_EQ(b.record(false, false, t0), Change::kOpened);
  EXPECT_EQ(b.state(t0 + 5s), State::kHalfOpen);
  EXPECT_TRUE(b.would_admit(t0 + 5s));
  EXPECT_EQ(b.admit(t0 + 5s), Admit::kProbe);
  // While the probe is out, everyone else skips the target.
  EXPECT_FALSE(b.would_admit(t0 + 5s));
  EXPECT_EQ(b.admit(t0 + 6s), Admit::kNo);
  EXPECT_EQ(b.record(true, true, t0 + 6s), Change::kClosed);
  EXPECT_EQ(b.state(t0 + 6s), State::kClosed);
  EXPECT_EQ(b.admit(t0 + 6s), Admit::kYes);
  // Closed again with a clean slate: one failure opens it (failures = 1).
  EXPECT_EQ(b.record(false, false, t0 + 7s), Change::kOpened);
  EXPECT_EQ(b.opens(), 2u);
}

TEST(Breaker, AFailedProbeReopensForAnotherCooldown) {
  auto b = breaker(1);
  b.record(false, false, t0);
  ASSERT_EQ(b.admit(t0 + 5s), Admit::kProbe);
  EXPECT_EQ(b.record(false, true, t0 + 6s), Change::kReopened);
  EXPECT_EQ(b.admit(t0 + 10s), Admit::kNo);  // open until t0 + 11s
  EXPECT_EQ(b.admit(t0 + 11s), Admit::kProbe);
}

TEST(Breaker, AnAbandonedProbeGoesToTheNextRequest) {
  auto b = breaker(1);
  b.record(false, false, t0);
  ASSERT_EQ(b.admit(t0 + 5s), Admit::kProbe);
  EXPECT_EQ(b.admit(t0 + 5s), Admit::kNo);
  b.abandon_probe();
  EXPECT_EQ(b.admit(t0 + 5s), Admit::kProbe);
}

TEST(Breaker, OutcomesOfAttemptsAdmittedBeforeItOpenedChangeNothing) {
  auto b = breaker(1);
  b.record(false, false, t0);
  EXPECT_EQ(b.record(true, false, t0 + 1s), Change::kNone);
  EXPECT_EQ(b.record(false, false, t0 + 1s), Change::kNone);
  EXPECT_EQ(b.state(t0 + 1s), State::kOpen);
  EXPECT_EQ(b.open_until(), t0 + 5s);
}

TEST(Breaker, DisabledAlwaysAdmits) {
  CircuitBreaker b(BreakerConfig{false, 1, 10s, 5s});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.record(false, false, t0), Change::kNone);
  EXPECT_EQ(b.admit(t0), Admit::kYes);
  EXPECT_EQ(b.state(t0), State::kClosed);
}

// ---- planning -------------------------------------------------------------------------

Route route_of(std::vector<std::pair<unsigned, unsigned>> priority_weight) {
  Route r;
  r.name = "r";
  for (const auto& [priority, weight] : priority_weight) {
    RouteTarget t;
    t.config.priority = priority;
    t.config.weight = weight;
    r.targets.push_back(std::move(t));
  }
  return r;
}

TEST(Plan, LowerPriorityFirstWhateverTheWeights) {
  const Route r = route_of({{2, 1000}, {0, 1}, {1, 1000}});
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(plan_order(r, [&] { return u(rng); }), (std::vector<std::size_t>{1, 2, 0}));
  }
}

TEST(Plan, TheDrawFollowsTheUniformNumber) {
  const Route r = route_of({{0, 3}, {0, 1}});
  // 3:1 — below 0.75 the first target leads, from 0.75 on the second.
  EXPECT_EQ(plan_order(r, [] { return 0.74; }), (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(plan_order(r, [] { return 0.75; }), (std::vector<std::size_t>{1, 0}));
  EXPECT_EQ(plan_order(r, [] { return 0.9999; }), (std::vector<std::size_t>{1, 0}));
}

TEST(Plan, WeightsShareTheFirstPlaceAndEveryTargetIsListedOnce) {
  const Route r = route_of({{0, 1}, {0, 2}, {0, 7}, {1, 5}});
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  constexpr int kDraws = 20000;
  std::map<std::size_t, int> first;
  for (int i = 0; i < kDraws; ++i) {
    const auto order = plan_order(r, [&] { return u(rng); });
    ASSERT_EQ(order.size(), 4u);
    std::vector<std::size_t> sorted(order.begin(), order.end() - 1);
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, (std::vector<std::size_t>{0, 1, 2}));
    ASSERT_EQ(order.back(), 3u);  // the only priority-1 target comes last
    ++first[order[0]];
  }
  // Expected shares 10%, 20%, 70%; 5 standard deviations of a binomial over 20 000 draws.
  const auto near = [&](std::size_t target, double share) {
    const double expected = share * kDraws;
    const double sd = std::sqrt(kDraws * share * (1 - share));
    EXPECT_NEAR(first[target], expected, 5 * sd) << "target " << target;
  };
  near(0, 0.1);
  near(1, 0.2);
  near(2, 0.7);
}

// ---- dynamic/{name} and the body's model ----------------------------------------------

TEST(DynamicRoute, NamesTheRouteAfterThePrefix) {
  EXPECT_EQ(dynamic_route_name("dynamic/support"), "support");
  EXPECT_EQ(dynamic_route_name("gpt-4o"), std::nullopt);
  EXPECT_EQ(dynamic_route_name("x/dynamic/support"), std::nullopt);
  // Which member of the body is the model: tests/unit/router/planner_test.cpp.
}

TEST(RouteModel, WrittenIntoTheTopLevelModelOnly) {
  std::string body = R"({"messages":[{"model":"keep"}], "model" : "dynamic/x","n":1})";
  write_model(body, "gpt-4o");
  EXPECT_EQ(body, R"({"messages":[{"model":"keep"}], "model" : "gpt-4o","n":1})");
  std::string none = R"({"messages":[]})";
  write_model(none, "gpt-4o");
  EXPECT_EQ(none, R"({"messages":[]})");
}

TEST(JsonMembers, QuoteEscapesWhatJsonRequires) {
  const auto quote = [](std::string_view text) {
    std::string out;
    json::append_quoted(out, text);
    return out;
  };
  EXPECT_EQ(quote("gpt-4o"), "\"gpt-4o\"");
  EXPECT_EQ(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
}

// ---- what RouteTable::build refuses ----------------------------------------------------

std::vector<std::string> problems(std::string_view yaml) {
  auto loaded = config::load_string(yaml, "test.yaml", [](std::string_view name) {
    return name == "KEY" ? std::optional<std::string>("k") : std::nullopt;
  });
  std::vector<std::string> out;
  for (const auto& d : loaded.diagnostics) out.push_back(d.str());
  if (!loaded.ok()) return out;
  std::vector<ProviderRegistry::Problem> found;
  const auto registry = ProviderRegistry::build(*loaded.config, found);
  RouteTable::build(*loaded.config, *registry, found);
  for (const auto& p : found) {
    out.push_back(config::Diagnostic{p.mark, p.path, p.message}.str());
  }
  return out;
}

TEST(RouteTable, UnknownProviderAndEndpointsOutsideTheBase) {
  EXPECT_EQ(problems(R"(routes:
  chat:
    share_client_credentials: true
    targets:
      - provider: opnai
        model: gpt-4o
      - provider: openai
        model: gpt-4o-mini
        endpoint: https://evil.example/v1/chat
      - provider: google-ai-studio
        model: ../x
        endpoint: v1beta/models/{model}:generateContent
)"),
            (std::vector<std::string>{
                "test.yaml:5:19: routes.chat.targets[0].provider: unknown provider 'opnai'; "
                "known providers: " +
                    [] {
                      std::string known;
                      for (const auto& s : ProviderRegistry::builtin_slugs()) {
                        known += (known.empty() ? "" : ", ") + s;
                      }
                      return known;
                    }(),
                "test.yaml:9:19: routes.chat.targets[1].endpoint: 'https://evil.example/v1/chat' "
                "is an absolute URL; it must be a path under the provider's base URL, like "
                "chat/completions",
                "test.yaml:12:19: routes.chat.targets[2].endpoint: "
                "'v1beta/models/../x:generateContent' contains a '.' or '..' segment; it must be "
                "a path under the provider's base URL, like chat/completions"}));
}

TEST(RouteTable, SeveralProvidersNeedTheirOwnCredentials) {
  const std::string targets = R"(
    targets:
      - provider: openai
        model: gpt-4o
      - provider: groq
        model: llama-3.3-70b-versatile
)";
  EXPECT_EQ(problems("routes:\n  chat:" + targets),
            (std::vector<std::string>{
                "test.yaml:4:9: routes.chat.targets[0]: this route calls 2 providers, so the "
                "client's credential would reach all of them: give 'openai' a key of its own "
                "(providers.openai.keys.default, or its credential header in the target's "
                "headers), or set routes.chat.share_client_credentials: true if every provider "
                "takes the same key",
                "test.yaml:6:9: routes.chat.targets[1]: this route calls 2 providers, so the "
                "client's credential would reach all of them: give 'groq' a key of its own "
                "(providers.groq.keys.default, or its credential header in the target's "
                "headers), or set routes.chat.share_client_credentials: true if every provider "
                "takes the same key"}));
  // Either one's own credential (a provider header, a target header), or sharing on purpose.
  EXPECT_EQ(problems(R"(auth:
  allow_anonymous_credentials: true
providers:
  openai:
    headers:
      Authorization: Bearer ${KEY}
routes:
  chat:
    targets:
      - provider: openai
        model: gpt-4o
      - provider: groq
        model: llama-3.3-70b-versatile
        headers:
          authorization: Bearer ${KEY}
)"),
            std::vector<std::string>{});
  EXPECT_EQ(problems("routes:\n  chat:\n    share_client_credentials: true" + targets),
            std::vector<std::string>{});
  // One provider, several models: the client's key is the right one for every target.
  EXPECT_EQ(problems(R"(routes:
  chat:
    targets:
      - {provider: openai, model: gpt-4o}
      - {provider: openai, model: gpt-4o-mini}
)"),
            std::vector<std::string>{});
}

// The routes of the docs' examples (and of the shipped config) load, providers included: the
// config tests load the files, this adds what a start checks of routes.
TEST(RouteTable, DocumentedRoutesLoad) {
  const auto any_env = [](std::string_view) -> std::optional<std::string> { return "x"; };
  int routes = 0;
  for (const char* doc : {"README.md", "docs/routing.md", "config/aigw.yaml"}) {
    std::ifstream in(std::filesystem::path(AIGW_SOURCE_DIR) / doc);
    ASSERT_TRUE(in) << doc;
    const bool whole = std::string_view(doc).ends_with(".yaml");
    std::string line, block;
    std::vector<std::string> blocks;
    bool inside = false;
    while (std::getline(in, line)) {
      if (whole) {
        block += line + "\n";
      } else if (!inside && line == "```yaml") {
        inside = true;
        block.clear();
      } else if (inside && line == "```") {
        inside = false;
        blocks.push_back(block);
      } else if (inside) {
        block += line + "\n";
      }
    }
    if (whole) blocks.push_back(block);
    for (const auto& text : blocks) {
      if (text.find("routes:") == std::string::npos) continue;
      // Named by their absolute path: relative paths in them (log.path) resolve next to them.
      const std::string file = (std::filesystem::path(AIGW_SOURCE_DIR) / doc).string();
      auto loaded = config::load_string(text, file, any_env);
      for (const auto& d : loaded.diagnostics) ADD_FAILURE() << d.str();
      if (!loaded.ok()) continue;
      std::vector<ProviderRegistry::Problem> found;
      const auto registry = ProviderRegistry::build(*loaded.config, found);
      const auto table = RouteTable::build(*loaded.config, *registry, found);
      for (const auto& p : found) ADD_FAILURE() << doc << ": " << p.path << ": " << p.message;
      routes += static_cast<int>(table->routes().size());
    }
  }
  EXPECT_GE(routes, 3);
}

}  // namespace
}  // namespace aigw
