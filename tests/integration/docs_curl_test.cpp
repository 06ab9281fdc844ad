// Every `curl` example in README.md and docs/*.md, run as written (with /bin/sh and the real
// curl) against a test gateway whose providers all point at one TLS fake on 127.0.0.1, so
// the docs cannot drift from the code unnoticed. No real provider is ever contacted: every
// built-in slug (and the custom-* ones the docs use) is routed to the fake, and an example
// whose URL is not the gateway's is refused rather than run.
//
// Before running, an example's gateway address (localhost:8080, 127.0.0.1:8080, 0.0.0.0:8080,
// [::1]:8080) and admin address (the same with 8081) become the test gateway's, and every
// $VAR or ${VAR} it uses gets a value: *URL/*HOST/GATEWAY-like names the gateway's address
// (the admin listener's when the name has ADMIN in it), *_ID / ID the cf-aig-log-id of the
// last response, anything else "test-<name>".
//
// An example must answer 2xx unless its doc says otherwise (tests/support/doc_examples.hpp):
//   <!-- curl-test: expect 401 -->        before the block (one status, or one per curl)
//   curl ... # → 429                      after the command, or on the line after it
//   <!-- curl-test: skip <reason> -->     before the block: not run, reason reported
// A failure names the file:line of the example.

#include "aigw/provider.hpp"

#include "config/load.hpp"
#include "support/doc_examples.hpp"
#include "support/fake_provider.hpp"
#include "support/gateway.hpp"
#include "support/test_pki.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

namespace aigw::test {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using json = nlohmann::json;
using Lines = std::vector<std::string>;

// ---- The extractor, on text written for it ----

TEST(DocsCurlExtractor, FindsCommandsContinuationsAndExpectations) {
  const std::string md =
      "# Title\n"                                                                          // 1
      "Inline `curl localhost:8081/api/logs` or `<!-- curl-test: skip x -->` is prose.\n"  // 2
      "```sh\n"                                                                            // 3
      "curl http://localhost:8080/openai/chat/completions \\\n"                            // 4
      "  -H \"Authorization: Bearer $OPENAI_API_KEY\" \\\n"                                // 5
      "  -d '{\"model\":\"gpt-4o-mini\",\n"                                                // 6
      "       \"messages\":[]}'\n"                                                         // 7
      "echo done\n"                                                                        // 8
      "$ curl -s localhost:8081/metrics   # → 200\n"                                       // 9
      "```\n"                                                                              // 10
      "<!-- curl-test: expect 401 -->\n"                                                   // 11
      "\n"                                                                                 // 12
      "   ```\n"                                                                           // 13
      "   curl ${AIGW_URL}/openai/models\n"                                                // 14
      "   # -> 401 (no token)\n"                                                           // 15
      "   curl localhost:8080/x\n"                                                         // 16
      "   ```\n"                                                                           // 17
      "<!-- curl-test: skip calls api.openai.com directly -->\n"                           // 18
      "```bash\n"                                                                          // 19
      "curl https://api.openai.com/v1/models  # => 200\n"                                  // 20
      "```\n"                                                                              // 21
      "```yaml\n"                                                                          // 22
      "key: value  # curl is not a command here\n"                                         // 23
      "```\n";                                                                             // 24
  const ExtractedExamples got = extract_curl_examples(md, "x.md");
  EXPECT_EQ(got.problems, Lines{});
  ASSERT_EQ(got.examples.size(), 5u);
  const auto& a = got.examples[0];
  EXPECT_EQ(a.where(), "x.md:4");
  EXPECT_EQ(a.command,
            "curl http://localhost:8080/openai/chat/completions \\\n"
            "  -H \"Authorization: Bearer $OPENAI_API_KEY\" \\\n"
            "  -d '{\"model\":\"gpt-4o-mini\",\n"
            "       \"messages\":[]}'");
  EXPECT_FALSE(a.expect);
  EXPECT_FALSE(a.skip);
  EXPECT_EQ(got.examples[1].where(), "x.md:9");
  EXPECT_EQ(got.examples[1].command, "curl -s localhost:8081/metrics   # → 200");
  EXPECT_EQ(got.examples[1].expect, 200u);
  EXPECT_EQ(got.examples[2].where(), "x.md:14");
  EXPECT_EQ(got.examples[2].expect, 401u);  // the marker, and the comment after it
  EXPECT_EQ(got.examples[3].where(), "x.md:16");
  EXPECT_EQ(got.examples[3].expect, 401u);
  EXPECT_EQ(got.examples[3].command, "curl localhost:8080/x");
  EXPECT_EQ(got.examples[3].skip, std::nullopt);
  EXPECT_EQ(got.examples[4].where(), "x.md:20");
  EXPECT_EQ(got.examples[4].skip, "calls api.openai.com directly");
  EXPECT_EQ(got.examples[4].expect, 200u);

  const auto skipped = extract_curl_examples(
      "<!-- curl-test: skip needs a real key -->\n```\ncurl "
      "https://api.openai.com/v1/models\n```\n",
      "y.md");
  ASSERT_EQ(skipped.examples.size(), 1u);
  EXPECT_EQ(skipped.examples[0].skip, "needs a real key");

  // Markers that apply to nothing, or do not say what they mean, are problems, not silence.
  const auto bad = extract_curl_examples(
      "<!-- curl-test: expect 2xx -->\n"
      "<!-- curl-test: expect 401 -->\n```yaml\na: 1\n```\n"
      "<!-- curl-test: expect 200 201 202 -->\n```\ncurl a\ncurl b\n```\n"
      "```\ncurl -d 'open\n```\n",
      "z.md");
  EXPECT_EQ(bad.problems,
            (Lines{"z.md:1: curl-test marker must be 'expect <status>...' or 'skip <reason>' "
                   "(got 'expect 2xx')",
                   "z.md:2: curl-test marker before a block without curl",
                   "z.md:6: curl-test marker lists 3 statuses for 2 curl commands",
                   "z.md:12: curl command not terminated in its block"}));
}

TEST(DocsCurlExtractor, ShellWordsAndUrls) {
  const std::map<std::string, std::string> vars = {{"GW", "http://127.0.0.1:1"}, {"KEY", "k y"}};
  const auto words = shell_words(
      "curl -sS $GW/openai/x \\\n  -H \"Authorization: Bearer $KEY\" -XPOST -d '{\"a\":\"$KEY\"}'"
      " --url \"${GW}/b\" -o out.json | jq .   # comment",
      vars);
  EXPECT_EQ(words, (Lines{"curl", "-sS", "http://127.0.0.1:1/openai/x", "-H",
                          "Authorization: Bearer k y", "-XPOST", "-d", "{\"a\":\"$KEY\"}", "--url",
                          "http://127.0.0.1:1/b", "-o", "out.json"}));
  EXPECT_EQ(curl_urls(words), (Lines{"http://127.0.0.1:1/openai/x", "http://127.0.0.1:1/b"}));
  EXPECT_EQ(curl_urls(shell_words("curl -H 'a: b' -d x localhost:8081/api/logs # c", vars)),
            Lines{"localhost:8081/api/logs"});
  EXPECT_EQ(variables_in("curl $A ${B_C} '$A' \"$D\""), (Lines{"A", "B_C", "D"}));
}

// ---- The documentation, against a test gateway ----

// What the fake provider answers, in the wire format the path speaks: enough for the
// gateway to relay, meter and translate it.
const char* const kChat =
    R"({"id":"chatcmpl-docs","object":"chat.completion","created":1700000000,)"
    R"("model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant",)"
    R"("content":"Hello"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})";
const char* const kAnthropic =
    R"({"id":"msg_docs","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
    R"("content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn",)"
    R"("stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":2}})";
const char* const kGemini =
    R"({"candidates":[{"content":{"parts":[{"text":"Hello"}],"role":"model"},)"
    R"("finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,)"
    R"("candidatesTokenCount":2,"totalTokenCount":11},"modelVersion":"gemini-2.5-flash"})";
const char* const kEmbedding =
    R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],)"
    R"("model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}})";

struct Answer {
  bool stream = false;
  std::string body;                 // a whole response
  std::vector<std::string> events;  // a stream's
};

Answer answer_for(const FakeRequest& req) {
  const json body = json::parse(req.body, nullptr, false);
  const bool stream = body.is_object() && body.value("stream", false);
  const std::string& t = req.target;
  Answer a;
  auto event = [](const std::string& type, const std::string& data) {
    return "event: " + type + "\ndata: " + data + "\n\n";
  };
  if (t.find(":streamGenerateContent") != std::string::npos) {
    a.stream = true;
    a.events.push_back(sse(kGemini));
  } else if (t.find(":generateContent") != std::string::npos) {
    a.body = kGemini;
  } else if (t.find("/messages") != std::string::npos) {
    if (!stream) {
      a.body = kAnthropic;
      return a;
    }
    a.stream = true;
    a.events = {
        event("message_start",
              R"({"type":"message_start","message":{"id":"msg_docs","type":"message",)"
              R"("role":"assistant","model":"claude-sonnet-4-5","content":[],)"
              R"("stop_reason":null,"usage":{"input_tokens":9,"output_tokens":1}}})"),
        event("content_block_start", R"({"type":"content_block_start","index":0,)"
                                     R"("content_block":{"type":"text","text":""}})"),
        event("content_block_delta", R"({"type":"content_block_delta","index":0,)"
                                     R"("delta":{"type":"text_delta","text":"Hello"}})"),
        event("content_block_stop", R"({"type":"content_block_stop","index":0})"),
        event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn",)"
                               R"("stop_sequence":null},"usage":{"output_tokens":2}})"),
        event("message_stop", R"({"type":"message_stop"})"),
    };
  } else if (t.find("/embeddings") != std::string::npos) {
    a.body = kEmbedding;
  } else if (req.method == "GET") {
    a.body = R"({"object":"list","data":[]})";
  } else if (stream) {
    a.stream = true;
    const std::string head =
        R"({"id":"chatcmpl-docs","object":"chat.completion.chunk","created":1700000000,)"
        R"("model":"gpt-4o-mini",)";
    a.events = {
        sse(head + R"("choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},)"
                   R"("finish_reason":null}],"usage":null})"),
        sse(head + R"("choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})"),
        sse(head + R"("choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,)"
                   R"("total_tokens":11}})"),
        sse("[DONE]"),
    };
  } else {
    a.body = kChat;
  }
  return a;
}

// The value an example's $NAME gets.
std::string value_for(const std::string& name, const std::string& gateway, const std::string& admin,
                      const std::string& last_log_id) {
  std::string upper = name;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const bool is_admin = upper.find("ADMIN") != std::string::npos;
  const auto has = [&](const char* part) { return upper.find(part) != std::string::npos; };
  const std::string& base = is_admin ? admin : gateway;
  if (has("URL") || upper == "GATEWAY" || upper == "AIGW" || upper == "ADMIN" || has("ENDPOINT")) {
    return base;
  }
  if (has("HOST") || has("ADDR")) return base.substr(base.find("//") + 2);
  if (has("PORT")) return base.substr(base.rfind(':') + 1);
  if (upper == "ID" || upper.ends_with("_ID")) return last_log_id;
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "test-" + lower;
}

// The example with the documented addresses of the gateway (8080) and its admin listener
// (8081) replaced by the test gateway's.
std::string rewrite_ports(const std::string& command, std::uint16_t port, std::uint16_t admin) {
  static const std::regex gateway(R"((localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]):8080\b)");
  static const std::regex admin_re(R"((localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]):8081\b)");
  std::string out = std::regex_replace(command, gateway, "127.0.0.1:" + std::to_string(port));
  return std::regex_replace(out, admin_re, "127.0.0.1:" + std::to_string(admin));
}

// host:port of a URL as curl reads it (the scheme is optional).
std::string authority_of(std::string url) {
  if (const auto p = url.find("://"); p != std::string::npos) url = url.substr(p + 3);
  return url.substr(0, url.find_first_of("/?#"));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string excerpt(const std::string& s) {
  return s.size() <= 600 ? s : s.substr(0, 600) + "... (" + std::to_string(s.size()) + " bytes)";
}

TEST(DocsCurl, EveryCurlExampleInTheDocsAnswersAsDocumented) {
  const fs::path root = AIGW_SOURCE_DIR;
  std::vector<fs::path> files = {root / "README.md"};
  for (const auto& entry : fs::directory_iterator(root / "docs")) {
    if (entry.is_regular_file() && entry.path().extension() == ".md") files.push_back(entry.path());
  }
  std::sort(files.begin() + 1, files.end());
  std::vector<CurlExample> examples;
  for (const auto& file : files) {
    const std::string name = fs::relative(file, root).string();
    ExtractedExamples found = extract_curl_examples(read_text(file), name);
    for (const auto& problem : found.problems) ADD_FAILURE() << problem;
    for (auto& ex : found.examples) examples.push_back(std::move(ex));
  }
  // So that a change to the extractor or the docs cannot make this pass by finding nothing.
  ASSERT_GT(examples.size(), 0u) << "no curl example found in README.md and docs/*.md";
  ASSERT_EQ(std::system("command -v curl >/dev/null 2>&1"), 0)
      << "the docs test runs the real curl: install it (apt-get install curl)";

  FakeProvider fake([](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const Answer a = answer_for(req);
    if (!a.stream) {
      co_await ex.respond(200, a.body, json_headers());
      co_return;
    }
    co_await ex.start_stream(200, sse_headers());
    for (const auto& e : a.events) co_await ex.send_chunk(e);
    co_await ex.end_stream();
  });
  // The gateway's config is a file, loaded as aigw loads one (so the admin API can re-read
  // it). Every provider a doc can name goes to the fake: the built-in slugs, and the custom
  // providers the examples use.
  const std::string dir = make_temp_dir();
  std::string yaml =
      "server:\n  listen: 127.0.0.1:0\n  workers: 1\n  log_level: warn\n  drain_timeout: 5s\n"
      "admin:\n  listen: 127.0.0.1:0\n"
      "access_log:\n  path: " +
      dir +
      "/access.log\n"
      "request_log:\n  path: " +
      dir +
      "/aigw.db\n"
      "cache:\n  enabled: true\n"  // README: "cache: {enabled: true, ttl: 300s}"
      "providers:\n";
  std::vector<std::string> slugs = ProviderRegistry::builtin_slugs();
  for (const char* custom : {"custom-local", "custom-internal", "custom-mine"}) {
    slugs.emplace_back(custom);
  }
  for (const auto& slug : slugs) {
    yaml += "  " + slug + ":\n    base_url: " + fake.base_url() +
            "\n    ca_file: " + test_pki().ca_file + "\n";
  }
  const std::string config_path = dir + "/aigw.yaml";
  std::ofstream(config_path) << yaml;
  config::LoadResult loaded = config::load_file(config_path);
  for (const auto& d : loaded.diagnostics) ADD_FAILURE() << d.str();
  ASSERT_TRUE(loaded.ok()) << yaml;
  TestGateway gw(std::move(*loaded.config));
  const std::string gateway = "http://127.0.0.1:" + std::to_string(gw.port());
  const std::string admin = "http://127.0.0.1:" + std::to_string(gw.admin_port());

  std::size_t ran = 0;
  std::vector<std::string> skipped;
  std::string last_log_id = "00000000-0000-0000-0000-000000000000";
  for (const auto& ex : examples) {
    if (ex.skip) {
      skipped.push_back(ex.where() + " (" + *ex.skip + ")");
      continue;
    }
    const std::string command = rewrite_ports(ex.command, gw.port(), gw.admin_port());
    std::map<std::string, std::string> env;
    for (const auto& name : variables_in(command)) {
      env[name] = value_for(name, gateway, admin, last_log_id);
    }
    // Only the test gateway may be called: anything else would reach a real host.
    const auto urls = curl_urls(shell_words(command, env));
    bool local = !urls.empty();
    for (const auto& url : urls) {
      const std::string at = authority_of(url);
      if (at != authority_of(gateway) && at != authority_of(admin)) {
        local = false;
        ADD_FAILURE() << ex.where() << ": the example calls " << url
                      << ", not the gateway (localhost:8080) or its admin listener "
                         "(localhost:8081); use those, or mark the block "
                         "<!-- curl-test: skip <reason> -->\n"
                      << ex.command;
      }
    }
    if (urls.empty()) ADD_FAILURE() << ex.where() << ": no URL in\n" << ex.command;
    if (!local) continue;
    gw.app().telemetry().log->flush();  // the admin API sees every earlier request
    const CurlRun run = run_curl_command(command, env, std::chrono::seconds(20));
    ++ran;
    if (!run.log_id.empty()) last_log_id = run.log_id;
    const bool ok = ex.expect ? run.status == *ex.expect : run.status >= 200 && run.status < 300;
    if (!ok) {
      ADD_FAILURE() << ex.where() << ": got HTTP " << run.status << ", the doc shows "
                    << (ex.expect ? std::to_string(*ex.expect) : std::string("a 2xx"))
                    << " (mark another status with <!-- curl-test: expect NNN --> or `# → NNN`)"
                    << "\n--- command (as run) ---\n"
                    << command << "\n--- output (shell exit " << run.exit_code << ") ---\n"
                    << excerpt(run.output);
    }
  }
  std::string summary = std::to_string(examples.size()) + " curl examples in " +
                        std::to_string(files.size()) + " files: " + std::to_string(ran) + " run, " +
                        std::to_string(skipped.size()) + " skipped";
  for (const auto& s : skipped) summary += "\n  skipped " + s;
  std::printf("%s\n", summary.c_str());
  RecordProperty("curl_examples", static_cast<int>(examples.size()));
  RecordProperty("curl_examples_run", static_cast<int>(ran));
  EXPECT_GT(ran, 0u) << "every curl example is skipped";
  std::printf("the fake provider answered %d requests\n", fake.requests());
}

}  // namespace
}  // namespace aigw::test
