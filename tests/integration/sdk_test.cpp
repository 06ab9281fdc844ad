// Drop-in proof: the official `openai` and `@anthropic-ai/sdk` npm packages, with only their
// base URL pointed at the gateway, run against a fake provider that answers in OpenAI's and
// Anthropic's real wire formats (JSON bodies, SSE streams, errors). tests/sdk/sdk_test.mjs
// asserts what the SDKs return; this file asserts what the SDKs sent through the gateway.
//
// Needs Node.js >= 20 and `npm ci --prefix tests/sdk` (scripts/test.sh runs it).

#include "support/fake_provider.hpp"
#include "support/gateway.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace aigw::test {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;  // keeps the providers' field order on the wire

constexpr const char* kApiKey = "sk-test-key";
constexpr std::int64_t kCreated = 1767225600;

// ---------------------------------------------------------------------------------------
// The fake provider. It checks what the SDK sent the way the real APIs do (a wrong key is a
// 401 in the provider's error shape) and notes anything no real API would accept, so that
// both the SDK run and the test fail.

class Problems {
 public:
  void note(std::string problem) {
    std::lock_guard lock(mutex_);
    problems_.push_back(std::move(problem));
  }
  std::vector<std::string> all() const {
    std::lock_guard lock(mutex_);
    return problems_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> problems_;
};

std::string header(const FakeRequest& req, const std::string& name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? std::string() : it->second;
}

Exchange::Headers openai_headers(const std::string& request_id, bool stream) {
  return {{"Content-Type", stream ? "text/event-stream; charset=utf-8" : "application/json"},
          {"x-request-id", request_id},
          {"openai-version", "2020-10-01"},
          {"openai-processing-ms", "42"}};
}

Exchange::Headers anthropic_headers(const std::string& request_id, bool stream) {
  Exchange::Headers h = {
      {"Content-Type", stream ? "text/event-stream; charset=utf-8" : "application/json"},
      {"request-id", request_id},
      {"anthropic-organization-id", "org-aigw-sdk"}};
  if (stream) h.emplace_back("Cache-Control", "no-cache");
  return h;
}

std::string openai_sse(const OJson& chunk) { return "data: " + chunk.dump() + "\n\n"; }

std::string anthropic_sse(const OJson& event) {
  return "event: " + event["type"].get<std::string>() + "\ndata: " + event.dump() + "\n\n";
}

// OpenAI's error shape, e.g. {"error":{"message":...,"type":...,"param":null,"code":...}}.
std::string openai_error_body(const std::string& message, const std::string& code) {
  OJson error = {{"message", message},
                 {"type", "invalid_request_error"},
                 {"param", nullptr},
                 {"code", code.empty() ? OJson(nullptr) : OJson(code)}};
  return OJson{{"error", error}}.dump();
}

// Anthropic's: {"type":"error","error":{"type":...,"message":...},"request_id":...}.
std::string anthropic_error_body(const std::string& type, const std::string& message,
                                 const std::string& request_id) {
  OJson error = {{"type", type}, {"message", message}};
  return OJson{{"type", "error"}, {"error", error}, {"request_id", request_id}}.dump();
}

asio::awaitable<void> openai_error(Exchange& ex, unsigned status, const std::string& message,
                                   const std::string& code) {
  const std::string request_id = "req_openai_" + std::to_string(status);
  co_await ex.respond(status, openai_error_body(message, code), openai_headers(request_id, false));
}

asio::awaitable<void> anthropic_error(Exchange& ex, unsigned status, const std::string& type,
                                      const std::string& message) {
  const std::string request_id = "req_anthropic_" + std::to_string(status);
  co_await ex.respond(status, anthropic_error_body(type, message, request_id),
                      anthropic_headers(request_id, false));
}

// The SSE body of a streamed chat completion, as the chunks the provider writes: each event
// in its own chunk except at the end, where two events share one chunk and the second is
// split inside a multi-byte UTF-8 character (the provider's TCP segments are arbitrary and
// must reach the SDK byte for byte). Built outside the coroutine: GCC 12 rejects some
// braced lists inside coroutines ("array used as initializer").
std::vector<std::string> chat_completion_chunks(const std::string& model, bool include_usage) {
  auto chunk = [&](OJson delta, const char* finish_reason) {
    OJson choice = {
        {"index", 0},
        {"delta", std::move(delta)},
        {"logprobs", nullptr},
        {"finish_reason", finish_reason == nullptr ? OJson(nullptr) : OJson(finish_reason)}};
    OJson c = {{"id", "chatcmpl-aigw-sdk-stream"},
               {"object", "chat.completion.chunk"},
               {"created", kCreated},
               {"model", model},
               {"service_tier", "default"},
               {"system_fingerprint", "fp_aigw_sdk"},
               {"choices", OJson::array({std::move(choice)})}};
    if (include_usage) c["usage"] = nullptr;
    return openai_sse(c);
  };
  auto content = [&](const char* text) { return chunk({{"content", text}}, nullptr); };

  std::vector<std::string> chunks;
  chunks.push_back(chunk({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr));
  for (const char* piece : {"Hel", "lo", " from", " the", " stream", " — ça"}) {
    chunks.push_back(content(piece));
  }
  const std::string last = content(" marche") + content(" 🚀");
  const std::size_t split = last.find("🚀") + 2;
  chunks.push_back(last.substr(0, split));
  chunks.push_back(last.substr(split));
  chunks.push_back(chunk(OJson::object(), "stop"));
  if (include_usage) {
    OJson usage = {
        {"id", "chatcmpl-aigw-sdk-stream"},
        {"object", "chat.completion.chunk"},
        {"created", kCreated},
        {"model", model},
        {"service_tier", "default"},
        {"system_fingerprint", "fp_aigw_sdk"},
        {"choices", OJson::array()},
        {"usage", {{"prompt_tokens", 19}, {"completion_tokens", 8}, {"total_tokens", 27}}}};
    chunks.push_back(openai_sse(usage));
  }
  chunks.push_back("data: [DONE]\n\n");
  return chunks;
}

// POST /v1/chat/completions, JSON or (stream: true) SSE chunks ending with data: [DONE].
asio::awaitable<void> chat_completions(const Json& request, Exchange& ex) {
  const std::string model = request.value("model", "");
  if (!request.value("stream", false)) {
    OJson completion = OJson::parse(R"({
      "id": "chatcmpl-aigw-sdk-1",
      "object": "chat.completion",
      "created": 0,
      "model": "",
      "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Hello! How can I help you today? 👋",
                    "refusal": null, "annotations": []},
        "logprobs": null,
        "finish_reason": "stop"
      }],
      "usage": {
        "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0}
      },
      "service_tier": "default",
      "system_fingerprint": "fp_aigw_sdk"
    })");
    completion["created"] = kCreated;
    completion["model"] = model;
    co_await ex.respond(200, completion.dump(), openai_headers("req_openai_chat", false));
    co_return;
  }
  const bool include_usage =
      request.contains("stream_options") && request["stream_options"].value("include_usage", false);
  const auto chunks = chat_completion_chunks(model, include_usage);
  co_await ex.start_stream(200, openai_headers("req_openai_stream", true));
  for (const auto& c : chunks) co_await ex.send_chunk(c);
  co_await ex.end_stream();
}

// POST /v1/embeddings; the SDK asks for base64 (little-endian float32) unless told otherwise.
asio::awaitable<void> embeddings(const Json& request, Exchange& ex) {
  OJson response = OJson::parse(R"({
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": null}],
    "model": "",
    "usage": {"prompt_tokens": 4, "total_tokens": 4}
  })");
  response["model"] = request.value("model", "");
  if (request.value("encoding_format", "float") == "base64") {
    response["data"][0]["embedding"] = "AAAAPgAAAL8AAIA+AACAPw==";  // 0.125 -0.5 0.25 1
  } else {
    response["data"][0]["embedding"] = {0.125, -0.5, 0.25, 1.0};
  }
  co_await ex.respond(200, response.dump(), openai_headers("req_openai_embeddings", false));
}

// The SSE body of a streamed message with Anthropic's event sequence: message_start and
// content_block_start share a chunk (as the API often sends them), a ping, the text deltas
// (one split across chunks inside a multi-byte UTF-8 character), content_block_stop,
// message_delta, message_stop.
std::vector<std::string> message_stream_chunks(const std::string& model) {
  OJson start = OJson::parse(R"({"type": "message_start", "message": {
      "id": "msg_aigw_sdk_stream", "type": "message", "role": "assistant", "model": "",
      "content": [], "stop_reason": null, "stop_sequence": null,
      "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 1, "service_tier": "standard"}}})");
  start["message"]["model"] = model;
  const OJson block_start = OJson::parse(
      R"({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})");
  auto delta = [](const char* text) {
    OJson d = {{"type", "text_delta"}, {"text", text}};
    return anthropic_sse(OJson{{"type", "content_block_delta"}, {"index", 0}, {"delta", d}});
  };

  std::vector<std::string> chunks;
  chunks.push_back(anthropic_sse(start) + anthropic_sse(block_start));
  chunks.push_back(anthropic_sse(OJson{{"type", "ping"}}));
  for (const char* piece : {"Streaming", " through", " aigw"}) chunks.push_back(delta(piece));
  const std::string split_event = delta(" — ünïcödé");
  const std::size_t split = split_event.find("ü") + 1;
  chunks.push_back(split_event.substr(0, split));
  chunks.push_back(split_event.substr(split));
  for (const char* piece : {" intact", " ✅"}) chunks.push_back(delta(piece));
  chunks.push_back(anthropic_sse(OJson{{"type", "content_block_stop"}, {"index", 0}}));
  chunks.push_back(anthropic_sse(OJson::parse(R"({"type": "message_delta",
      "delta": {"stop_reason": "end_turn", "stop_sequence": null},
      "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 15}})")));
  chunks.push_back(anthropic_sse(OJson{{"type", "message_stop"}}));
  return chunks;
}

// POST /v1/messages, JSON or (stream: true) SSE.
asio::awaitable<void> messages(const Json& request, Exchange& ex) {
  const std::string model = request.value("model", "");
  if (!request.value("stream", false)) {
    OJson message = OJson::parse(R"({
      "id": "msg_aigw_sdk_1",
      "type": "message",
      "role": "assistant",
      "model": "",
      "content": [{"type": "text", "text": "Hi! I'm Claude — reached through aigw. ✨"}],
      "stop_reason": "end_turn",
      "stop_sequence": null,
      "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 14, "service_tier": "standard"}
    })");
    message["model"] = model;
    co_await ex.respond(200, message.dump(), anthropic_headers("req_anthropic_msg", false));
    co_return;
  }
  const auto chunks = message_stream_chunks(model);
  co_await ex.start_stream(200, anthropic_headers("req_anthropic_stream", true));
  for (const auto& c : chunks) co_await ex.send_chunk(c);
  co_await ex.end_stream();
}

Handler fake_provider(Problems& problems) {
  return [&problems](const FakeRequest& req, Exchange& ex) -> asio::awaitable<void> {
    const std::string what = req.method + " " + req.target;
    const bool openai = req.target == "/v1/chat/completions" || req.target == "/v1/embeddings";
    const bool anthropic = req.target == "/v1/messages";
    if (req.method != "POST" || (!openai && !anthropic)) {
      problems.note("unexpected request: " + what);
      co_await openai_error(ex, 404, "Unknown request URL: " + what, "unknown_url");
      co_return;
    }
    const Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      problems.note(what + ": body is not a JSON object: " + req.body);
    }
    if (header(req, "content-type") != "application/json") {
      problems.note(what + ": content-type is '" + header(req, "content-type") + "'");
    }
    if (body.is_discarded() || !body.is_object()) {
      co_await openai_error(ex, 400, "We could not parse the JSON body of your request.", "");
      co_return;
    }

    if (openai) {
      const std::string auth = header(req, "authorization");
      if (auth != std::string("Bearer ") + kApiKey) {
        const std::string key = auth.starts_with("Bearer ") ? auth.substr(7) : auth;
        co_await openai_error(ex, 401, "Incorrect API key provided: " + key + ".",
                              "invalid_api_key");
      } else if (req.target == "/v1/embeddings") {
        co_await embeddings(body, ex);
      } else {
        co_await chat_completions(body, ex);
      }
      co_return;
    }
    // The key is accepted as x-api-key (the classic header) or as a bearer token (what
    // @anthropic-ai/sdk >= 1.0 sends), never both.
    const std::string key = header(req, "x-api-key");
    const std::string bearer = header(req, "authorization");
    if (header(req, "anthropic-version").empty()) {
      problems.note(what + ": no anthropic-version header");
      co_await anthropic_error(ex, 400, "invalid_request_error",
                               "anthropic-version: header is required");
    } else if (!key.empty() && !bearer.empty()) {
      problems.note(what + ": both x-api-key and authorization");
      co_await anthropic_error(ex, 401, "authentication_error", "invalid x-api-key");
    } else if (key != kApiKey && bearer != std::string("Bearer ") + kApiKey) {
      co_await anthropic_error(ex, 401, "authentication_error", "invalid x-api-key");
    } else {
      co_await messages(body, ex);
    }
  };
}

// ---------------------------------------------------------------------------------------
// Running tests/sdk/sdk_test.mjs under node, bounded in time, output captured.

struct NodeRun {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string output;
  std::string error;  // set when node could not be started or was killed
};

NodeRun run_node(const std::vector<std::string>& args, const std::vector<std::string>& set_env,
                 std::chrono::milliseconds limit) {
  NodeRun run;
  // The child's environment: ours minus anything that would steer the SDKs elsewhere
  // (OPENAI_BASE_URL, OPENAI_ORG_ID, ANTHROPIC_AUTH_TOKEN, ...), plus `set_env`.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view var(*e);
    if (var.starts_with("OPENAI_") || var.starts_with("ANTHROPIC_") ||
        var.starts_with("AIGW_URL=")) {
      continue;
    }
    env.emplace_back(var);
  }
  env.insert(env.end(), set_env.begin(), set_env.end());
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = args;
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    run.error = std::string("pipe2: ") + std::strerror(errno);
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // The gateway's and the fake's sockets stay with us.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    run.error = "cannot start '" + args[0] + "': " + std::strerror(rc) +
                " (scripts/install-deps.sh installs Node.js)";
    return run;
  }

  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      ::kill(pid, SIGKILL);
      run.error = "node was killed after " + std::to_string(limit.count()) + " ms";
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // timeout: handled at the top of the loop
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: node exited (or closed its output)
    run.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus)) {
    run.status = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus) && run.error.empty()) {
    run.error = "node died of signal " + std::to_string(WTERMSIG(wstatus));
  }
  return run;
}

const fs::path kSdkDir = fs::path(AIGW_SOURCE_DIR) / "tests" / "sdk";

// The gateway with openai and anthropic pointing at the fake, and the SDK script run
// against it.
struct SdkFixture {
  SdkFixture() : fake(fake_provider(problems)) {
    Config c = test_config();
    add_provider(c, "openai", fake.base_url() + "/v1");
    add_provider(c, "anthropic", fake.base_url());
    gateway = std::make_unique<TestGateway>(std::move(c));
  }

  // Runs one suite of sdk_test.mjs; fails the test (with node's output) unless it passes.
  void run_sdk(const std::string& suite) {
    for (const char* package : {"openai", "@anthropic-ai/sdk"}) {
      ASSERT_TRUE(fs::exists(kSdkDir / "node_modules" / package / "package.json"))
          << "The SDK test needs the npm packages in " << (kSdkDir / "node_modules").string()
          << ", and " << package << " is missing. Run:\n  npm ci --prefix tests/sdk\n"
          << "(scripts/test.sh does it)";
    }
    const std::string url = "http://127.0.0.1:" + std::to_string(gateway->port());
    const auto started = std::chrono::steady_clock::now();
    // The node on PATH; scripts/test.sh puts a Node.js >= 20 first when the system's is
    // older (Debian 12 ships 18).
    NodeRun run = run_node({"node", (kSdkDir / "sdk_test.mjs").string(), suite},
                           {"AIGW_URL=" + url, "NO_COLOR=1"}, 60s);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    ASSERT_TRUE(run.error.empty()) << run.error << "\n" << run.output;
    EXPECT_EQ(run.status, 0) << "node tests/sdk/sdk_test.mjs " << suite << " (AIGW_URL=" << url
                             << ") failed:\n"
                             << run.output;
    if (run.status == 0) {
      std::printf("[   SDK    ] %s suite passed in %lld ms\n", suite.c_str(),
                  static_cast<long long>(took.count()));
    }
    EXPECT_TRUE(problems.all().empty()) << ::testing::PrintToString(problems.all());
  }

  Problems problems;
  FakeProvider fake;
  std::unique_ptr<TestGateway> gateway;
};

Json body_of(const FakeRequest& req) { return Json::parse(req.body, nullptr, false); }

// What every SDK request must look like at the provider: the SDK's own headers arrive, the
// gateway's do not leak, and Host is the provider's.
void expect_sdk_request(const FakeRequest& req, const SdkFixture& f, const std::string& target,
                        const std::string& user_agent_prefix) {
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, target);
  EXPECT_EQ(header(req, "host"), "127.0.0.1:" + std::to_string(f.fake.port()));
  EXPECT_EQ(header(req, "content-type"), "application/json");
  EXPECT_TRUE(header(req, "user-agent").starts_with(user_agent_prefix))
      << header(req, "user-agent");
  EXPECT_EQ(header(req, "x-stainless-lang"), "js");
  EXPECT_EQ(header(req, "x-stainless-retry-count"), "0");
  EXPECT_EQ(header(req, "content-length"), std::to_string(req.body.size()));
  for (const auto& [name, value] : req.headers) {
    EXPECT_FALSE(name.starts_with("cf-aig-")) << name << ": " << value << " was forwarded";
  }
  EXPECT_FALSE(req.has("transfer-encoding"));
}

TEST(Sdk, OpenAiNodeSdkWorksThroughTheGatewayByBaseUrlAlone) {
  SdkFixture f;
  ASSERT_NO_FATAL_FAILURE(f.run_sdk("openai"));

  const auto received = f.fake.received();
  ASSERT_EQ(received.size(), 5u);
  const std::string bearer = std::string("Bearer ") + kApiKey;
  for (std::size_t i = 0; i < received.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    const auto& req = received[i];
    expect_sdk_request(req, f, i == 2 ? "/v1/embeddings" : "/v1/chat/completions", "OpenAI/JS ");
    EXPECT_EQ(header(req, "authorization"), i == 4 ? "Bearer sk-wrong" : bearer);
    EXPECT_FALSE(req.has("x-api-key"));
  }

  const Json chat = body_of(received[0]);
  EXPECT_EQ(chat["model"], "gpt-4o-mini");
  EXPECT_EQ(chat["temperature"], 0);
  EXPECT_FALSE(chat.contains("stream"));
  EXPECT_EQ(chat["messages"][1]["content"], "Say hello, ünïcödé included ✓");

  const Json streamed = body_of(received[1]);
  EXPECT_EQ(streamed["stream"], true);
  EXPECT_EQ(streamed["stream_options"]["include_usage"], true);

  const Json embed = body_of(received[2]);
  EXPECT_EQ(embed["model"], "text-embedding-3-small");
  EXPECT_EQ(embed["input"], "The quick brown fox");
  EXPECT_EQ(embed["encoding_format"], "base64");

  // The long form /v1/{account}/{gateway}/openai reaches the same upstream path.
  EXPECT_EQ(body_of(received[3])["model"], "gpt-4.1-nano");
}

TEST(Sdk, AnthropicNodeSdkWorksThroughTheGatewayByBaseUrlAlone) {
  SdkFixture f;
  ASSERT_NO_FATAL_FAILURE(f.run_sdk("anthropic"));

  const auto received = f.fake.received();
  ASSERT_EQ(received.size(), 5u);
  const std::string sdk_version = header(received[0], "anthropic-version");
  for (std::size_t i = 0; i < received.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    const auto& req = received[i];
    expect_sdk_request(req, f, "/v1/messages", "Anthropic/JS ");
    const Json body = body_of(req);
    EXPECT_EQ(body["model"], "claude-sonnet-4-6");
    EXPECT_EQ(body["messages"][0]["content"], "Say hello, ünïcödé included ✓");
    if (i == 3) continue;  // the classic x-api-key request, below
    EXPECT_EQ(header(req, "authorization"),
              std::string("Bearer ") + (i == 4 ? "sk-wrong" : kApiKey));
    EXPECT_FALSE(req.has("x-api-key"));
    EXPECT_EQ(header(req, "anthropic-version"), sdk_version);
  }
  // The SDK's own API version (a date), not overridden by the gateway.
  EXPECT_EQ(sdk_version.size(), 10u) << sdk_version;
  EXPECT_EQ(header(received[3], "x-api-key"), kApiKey);
  EXPECT_EQ(header(received[3], "anthropic-version"), "2023-06-01");
  EXPECT_FALSE(received[3].has("authorization"));

  EXPECT_FALSE(body_of(received[0]).contains("stream"));
  EXPECT_EQ(body_of(received[0])["max_tokens"], 256);
  EXPECT_EQ(body_of(received[1])["stream"], true);  // messages.create({stream: true})
  EXPECT_EQ(body_of(received[2])["stream"], true);  // messages.stream()
}

TEST(Sdk, CompatLetsEachSdkReachTheOtherProvidersModels) {
  SdkFixture f;
  ASSERT_NO_FATAL_FAILURE(f.run_sdk("compat"));

  // What the providers received: each in its own API, the SDK's key in its own header.
  int anthropic = 0;
  int openai = 0;
  for (const auto& req : f.fake.received()) {
    const Json body = body_of(req);
    if (req.target == "/v1/messages") {
      ++anthropic;
      EXPECT_EQ(body["model"], "claude-sonnet-4-6");
      EXPECT_TRUE(body.contains("max_tokens"));
      EXPECT_FALSE(req.has("authorization"));
      EXPECT_TRUE(req.has("x-api-key"));
    } else {
      ++openai;
      EXPECT_EQ(req.target, "/v1/chat/completions");
      EXPECT_EQ(body["model"], "gpt-4o-mini");
      EXPECT_EQ(header(req, "authorization"), std::string("Bearer ") + kApiKey);
      EXPECT_FALSE(req.has("x-api-key"));
    }
  }
  EXPECT_EQ(anthropic, 3);  // text, stream, the wrong key
  EXPECT_EQ(openai, 2);     // text, stream (the model without a provider never left)
}

}  // namespace
}  // namespace aigw::test
