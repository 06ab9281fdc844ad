// The official OpenAI and Anthropic SDKs, pointed at aigw by base URL alone, must behave
// exactly as against the providers themselves. Driven by tests/integration/sdk_test.cpp,
// which starts aigw in front of a fake provider that answers in the providers' real wire
// formats; every expected value below is what that fake sends.
//
//   AIGW_URL=http://127.0.0.1:PORT node tests/sdk/sdk_test.mjs [openai|anthropic|compat|all]
//
// Prints one "ok - ..." line per passed check and "not ok - ..." with the reason per failed
// one; exits 1 if any check failed, 2 on a usage or setup error.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const major = Number(process.versions.node.split(".")[0]);
if (major < 20) {
  console.error(`not ok - node ${process.versions.node} is too old: the SDKs need Node.js >= 20`);
  process.exit(2);
}

const base = process.env.AIGW_URL;
if (!base) {
  console.error("not ok - AIGW_URL is not set (e.g. AIGW_URL=http://127.0.0.1:8080)");
  process.exit(2);
}
const suite = process.argv[2] ?? "all";
if (!["openai", "anthropic", "compat", "all"].includes(suite)) {
  console.error(`not ok - unknown suite "${suite}" (openai, anthropic, compat or all)`);
  process.exit(2);
}

// A hung request must fail the run, never hang it.
setTimeout(() => {
  console.error("not ok - sdk_test.mjs did not finish within 30 s");
  process.exit(1);
}, 30_000).unref();

const { default: OpenAI } = await import("openai");
const { default: Anthropic } = await import("@anthropic-ai/sdk");

const KEY = "sk-test-key";
const common = { apiKey: KEY, maxRetries: 0, timeout: 10_000 };
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${name}`);
    const detail = err?.stack ?? String(err);
    console.log(detail.replace(/^/gm, "    "));
  }
}

// The installed SDKs are the ones package.json pins (a stale node_modules would test others).
const pins = JSON.parse(readFileSync(new URL("./package.json", import.meta.url))).dependencies;
for (const name of Object.keys(pins)) {
  await check(`installed ${name} is the pinned ${pins[name]}`, () => {
    const url = new URL(`./node_modules/${name}/package.json`, import.meta.url);
    assert.equal(JSON.parse(readFileSync(url)).version, pins[name],
                 "run: npm ci --prefix tests/sdk");
  });
}

// ---------------------------------------------------------------------------------------
// OpenAI: baseURL <aigw>/openai (and Cloudflare's long form <aigw>/v1/{account}/{gateway}/openai)

const OPENAI_TEXT = "Hello! How can I help you today? 👋";
const OPENAI_STREAM_PIECES = ["", "Hel", "lo", " from", " the", " stream", " — ça", " marche", " 🚀"];
const USER_MESSAGES = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Say hello, ünïcödé included ✓" },
];

function expectedCompletion(model, id) {
  return {
    id,
    object: "chat.completion",
    created: 1767225600,
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: OPENAI_TEXT, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: {
      prompt_tokens: 19,
      completion_tokens: 10,
      total_tokens: 29,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: "default",
    system_fingerprint: "fp_aigw_sdk",
  };
}

async function openaiSuite() {
  const openai = new OpenAI({ ...common, baseURL: `${base}/openai` });

  await check("openai chat.completions.create (not streamed)", async () => {
    const { data, response, request_id } = await openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: USER_MESSAGES, temperature: 0 })
      .withResponse();
    assert.deepEqual(data, expectedCompletion("gpt-4o-mini", "chatcmpl-aigw-sdk-1"));
    assert.equal(data.choices[0].message.content, OPENAI_TEXT);
    assert.equal(request_id, "req_openai_chat");
    assert.equal(data._request_id, "req_openai_chat");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("openai-version"), "2020-10-01");
    assert.match(response.headers.get("cf-aig-log-id") ?? "", UUID_V7);
  });

  await check("openai chat.completions.create (streamed)", async () => {
    const { data: stream, request_id } = await openai.chat.completions
      .create({
        model: "gpt-4o-mini",
        messages: USER_MESSAGES,
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    assert.equal(request_id, "req_openai_stream");
    const pieces = [];
    const ids = new Set();
    let finish = null;
    let usage = null;
    let role = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      assert.equal(chunk.object, "chat.completion.chunk");
      assert.equal(chunk.model, "gpt-4o-mini");
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.delta.role) role = choice.delta.role;
      if (choice.delta.content !== undefined) pieces.push(choice.delta.content);
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    assert.deepEqual(pieces, OPENAI_STREAM_PIECES);
    assert.equal(pieces.join(""), "Hello from the stream — ça marche 🚀");
    assert.deepEqual([...ids], ["chatcmpl-aigw-sdk-stream"]);
    assert.equal(role, "assistant");
    assert.equal(finish, "stop");
    assert.deepEqual(usage, { prompt_tokens: 19, completion_tokens: 8, total_tokens: 27 });
  });

  await check("openai embeddings.create (SDK default base64 encoding)", async () => {
    const res = await openai.embeddings.create({
      model: "text-embedding-3-small",
      input: "The quick brown fox",
    });
    assert.equal(res.object, "list");
    assert.equal(res.model, "text-embedding-3-small");
    assert.equal(res.data.length, 1);
    assert.deepEqual(res.data[0].embedding, [0.125, -0.5, 0.25, 1]);
    assert.deepEqual(res.usage, { prompt_tokens: 4, total_tokens: 4 });
  });

  await check("openai through Cloudflare's long form /v1/{account}/{gateway}/openai", async () => {
    const longForm = new OpenAI({ ...common, baseURL: `${base}/v1/acct/gw/openai` });
    const data = await longForm.chat.completions.create({
      model: "gpt-4.1-nano",
      messages: USER_MESSAGES,
    });
    assert.deepEqual(data, expectedCompletion("gpt-4.1-nano", "chatcmpl-aigw-sdk-1"));
    assert.equal(data._request_id, "req_openai_chat");
  });

  await check("openai provider error reaches the SDK as AuthenticationError", async () => {
    const wrong = new OpenAI({ ...common, apiKey: "sk-wrong", baseURL: `${base}/openai` });
    await assert.rejects(
      wrong.chat.completions.create({ model: "gpt-4o-mini", messages: USER_MESSAGES }),
      (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}`);
        assert.equal(err.status, 401);
        assert.equal(err.code, "invalid_api_key");
        assert.equal(err.type, "invalid_request_error");
        assert.equal(err.requestID, "req_openai_401");
        return true;
      },
    );
  });
}

// ---------------------------------------------------------------------------------------
// Anthropic: baseURL <aigw>/anthropic

const ANTHROPIC_TEXT = "Hi! I'm Claude — reached through aigw. ✨";
const ANTHROPIC_STREAM_PIECES = ["Streaming", " through", " aigw", " — ünïcödé", " intact", " ✅"];
const ANTHROPIC_EVENTS = [
  "message_start",
  "content_block_start",
  ...ANTHROPIC_STREAM_PIECES.map(() => "content_block_delta"),
  "content_block_stop",
  "message_delta",
  "message_stop",
];
const ANTHROPIC_MODEL = "claude-sonnet-4-6";
const ANTHROPIC_MESSAGES = [{ role: "user", content: "Say hello, ünïcödé included ✓" }];

async function anthropicSuite() {
  const anthropic = new Anthropic({ ...common, baseURL: `${base}/anthropic` });

  await check("anthropic messages.create (not streamed)", async () => {
    const { data, response, request_id } = await anthropic.messages
      .create({ model: ANTHROPIC_MODEL, max_tokens: 256, messages: ANTHROPIC_MESSAGES })
      .withResponse();
    assert.deepEqual(data, {
      id: "msg_aigw_sdk_1",
      type: "message",
      role: "assistant",
      model: ANTHROPIC_MODEL,
      content: [{ type: "text", text: ANTHROPIC_TEXT }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: 12,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 14,
        service_tier: "standard",
      },
    });
    assert.equal(request_id, "req_anthropic_msg");
    assert.equal(data._request_id, "req_anthropic_msg");
    assert.equal(response.headers.get("anthropic-organization-id"), "org-aigw-sdk");
    assert.match(response.headers.get("cf-aig-log-id") ?? "", UUID_V7);
  });

  await check("anthropic messages.create (stream: true, raw events)", async () => {
    const { data: stream, request_id } = await anthropic.messages
      .create({
        model: ANTHROPIC_MODEL,
        max_tokens: 256,
        messages: ANTHROPIC_MESSAGES,
        stream: true,
      })
      .withResponse();
    assert.equal(request_id, "req_anthropic_stream");
    const types = [];
    const pieces = [];
    let start = null;
    let delta = null;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "message_start") start = event.message;
      if (event.type === "content_block_delta") {
        assert.equal(event.index, 0);
        assert.equal(event.delta.type, "text_delta");
        pieces.push(event.delta.text);
      }
      if (event.type === "message_delta") delta = event;
    }
    // The ping event between content_block_start and the first delta is not surfaced.
    assert.deepEqual(types, ANTHROPIC_EVENTS);
    assert.deepEqual(pieces, ANTHROPIC_STREAM_PIECES);
    assert.equal(start.id, "msg_aigw_sdk_stream");
    assert.equal(start.model, ANTHROPIC_MODEL);
    assert.equal(delta.delta.stop_reason, "end_turn");
    assert.equal(delta.usage.output_tokens, 15);
  });

  await check("anthropic messages.stream() helper (text events, finalMessage)", async () => {
    const stream = anthropic.messages.stream({
      model: ANTHROPIC_MODEL,
      max_tokens: 256,
      messages: ANTHROPIC_MESSAGES,
    });
    const texts = [];
    stream.on("text", (text) => texts.push(text));
    const final = await stream.finalMessage();
    assert.deepEqual(texts, ANTHROPIC_STREAM_PIECES);
    assert.equal(final.id, "msg_aigw_sdk_stream");
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].type, "text");
    assert.equal(final.content[0].text, "Streaming through aigw — ünïcödé intact ✅");
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(final.usage.input_tokens, 12);
    assert.equal(final.usage.output_tokens, 15);
  });

  await check("anthropic with the classic x-api-key + anthropic-version 2023-06-01 headers", async () => {
    // What older SDKs and curl send (this SDK sends its key as a bearer token): headers
    // set by hand, Authorization removed.
    const classic = new Anthropic({
      ...common,
      baseURL: `${base}/anthropic`,
      defaultHeaders: { "X-Api-Key": KEY, "anthropic-version": "2023-06-01", Authorization: null },
    });
    const data = await classic.messages.create({
      model: ANTHROPIC_MODEL,
      max_tokens: 256,
      messages: ANTHROPIC_MESSAGES,
    });
    assert.equal(data.id, "msg_aigw_sdk_1");
    assert.deepEqual(data.content, [{ type: "text", text: ANTHROPIC_TEXT }]);
  });

  await check("anthropic provider error reaches the SDK as AuthenticationError", async () => {
    const wrong = new Anthropic({ ...common, apiKey: "sk-wrong", baseURL: `${base}/anthropic` });
    await assert.rejects(
      wrong.messages.create({ model: ANTHROPIC_MODEL, max_tokens: 16, messages: ANTHROPIC_MESSAGES }),
      (err) => {
        assert.ok(err instanceof Anthropic.AuthenticationError, `got ${err?.constructor?.name}`);
        assert.equal(err.status, 401);
        assert.equal(err.error?.error?.type, "authentication_error");
        assert.equal(err.error?.error?.message, "invalid x-api-key");
        assert.equal(err.requestID, "req_anthropic_401");
        return true;
      },
    );
  });
}

// ---------------------------------------------------------------------------------------
// /compat: each SDK at <aigw>/compat reaches the other provider's model, translated both ways
// (docs/compat.md). The fake answers in its own format; the SDKs must see their own.

const GEMINI_MODEL = "gemini-2.5-flash";
const GEMINI_TEXT = "Hello from Gemini — reached through aigw. ✨"; // two parts, joined
// The fake's stream: one text part per event (the first event's CRLF end split between two
// writes, the last piece split inside the 🚀), then an empty part with finishReason STOP.
const GEMINI_STREAM_PIECES = ["Gemini", " streams", " through aigw — ça marche 🚀"];

// An OpenAI function tool. additionalProperties is kept for Anthropic (its input_schema is
// JSON Schema) and must be dropped for Gemini (its Schema rejects it).
const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in a city",
    parameters: {
      type: "object",
      properties: {
        location: { type: "string", description: "City and country, e.g. Paris, France" },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
      },
      required: ["location"],
      additionalProperties: false,
    },
  },
};
const WEATHER_MESSAGES = [{ role: "user", content: "What's the weather in Paris?" }];
// What every fake tool call carries, and the ids of the fake Anthropic's tool_use blocks.
const WEATHER_INPUT = { location: "Paris, France", unit: "celsius" };
const TOOL_USE_ID = "toolu_01AigwSdkWeatherQ7xv9";
const STREAMED_TOOL_USE_ID = "toolu_01AigwSdkStreamed4Kpz";
const TOOL_PREAMBLE = "I'll check the weather in Paris.";
const TOOL_RESULT_ANSWER = "It's 18 °C and sunny in Paris. ☀️";

// Reads an OpenAI chat completion stream as a client does: text pieces, tool calls assembled
// from their deltas by index, the finish reason and the usage chunk.
async function readChatStream(stream) {
  const out = { ids: new Set(), models: new Set(), pieces: [], calls: [], finish: null, usage: null };
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    out.ids.add(chunk.id);
    out.models.add(chunk.model);
    if (chunk.usage) out.usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    assert.equal(choice.index, 0);
    if (choice.delta.content) out.pieces.push(choice.delta.content);
    for (const delta of choice.delta.tool_calls ?? []) {
      out.calls[delta.index] ??= { id: null, type: null, name: "", fragments: [] };
      const call = out.calls[delta.index];
      if (delta.id) call.id = delta.id;
      if (delta.type) call.type = delta.type;
      if (delta.function?.name) call.name += delta.function.name;
      if (delta.function?.arguments) call.fragments.push(delta.function.arguments);
    }
    if (choice.finish_reason) {
      assert.equal(out.finish, null, "a second finish_reason");
      out.finish = choice.finish_reason;
    }
  }
  return out;
}

// A cf-aig-max-attempts the gateway cannot read: its own 400 invalid_header, answered before
// any provider is asked, in the shape of the path's API.
const BAD_ATTEMPTS_HEADER = { "cf-aig-max-attempts": "nope" };

async function compatSuite() {
  const openai = new OpenAI({ ...common, baseURL: `${base}/compat` });
  const anthropic = new Anthropic({ ...common, baseURL: `${base}/compat` });

  await check("compat: the OpenAI SDK reaches an Anthropic model (not streamed)", async () => {
    const data = await openai.chat.completions.create({
      model: `anthropic/${ANTHROPIC_MODEL}`,
      messages: USER_MESSAGES,
    });
    assert.equal(data.object, "chat.completion");
    assert.equal(data.model, ANTHROPIC_MODEL);
    assert.equal(data.choices[0].message.role, "assistant");
    assert.equal(data.choices[0].message.content, ANTHROPIC_TEXT);
    assert.equal(data.choices[0].finish_reason, "stop");
    assert.equal(data.usage.prompt_tokens, 12);
    assert.equal(data.usage.completion_tokens, 14);
  });

  await check("compat: the OpenAI SDK streams from an Anthropic model", async () => {
    const stream = await openai.chat.completions.create({
      model: `anthropic/${ANTHROPIC_MODEL}`,
      messages: USER_MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces = [];
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, "chat.completion.chunk");
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length === 0) continue;
      if (chunk.choices[0].delta.content) pieces.push(chunk.choices[0].delta.content);
      if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
    }
    assert.equal(pieces.join(""), ANTHROPIC_STREAM_PIECES.join(""));
    assert.equal(finish, "stop");
    assert.ok(usage && usage.completion_tokens > 0, `usage: ${JSON.stringify(usage)}`);
  });

  await check("compat: Anthropic's 401 reaches the OpenAI SDK as AuthenticationError", async () => {
    const wrong = new OpenAI({ ...common, apiKey: "sk-wrong", baseURL: `${base}/compat` });
    await assert.rejects(
      wrong.chat.completions.create({ model: `anthropic/${ANTHROPIC_MODEL}`, messages: USER_MESSAGES }),
      (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}`);
        assert.equal(err.status, 401);
        assert.equal(err.error?.message, "invalid x-api-key");
        return true;
      },
    );
  });

  await check("compat: the Anthropic SDK reaches an OpenAI model (not streamed)", async () => {
    const data = await anthropic.messages.create({
      model: "openai/gpt-4o-mini",
      max_tokens: 256,
      messages: ANTHROPIC_MESSAGES,
    });
    assert.equal(data.type, "message");
    assert.equal(data.role, "assistant");
    assert.deepEqual(data.content, [{ type: "text", text: OPENAI_TEXT }]);
    assert.equal(data.stop_reason, "end_turn");
    assert.equal(data.usage.input_tokens, 19);
    assert.equal(data.usage.output_tokens, 10);
  });

  await check("compat: the Anthropic SDK's stream helper on an OpenAI model", async () => {
    const stream = anthropic.messages.stream({
      model: "openai/gpt-4o-mini",
      max_tokens: 256,
      messages: ANTHROPIC_MESSAGES,
    });
    const texts = [];
    stream.on("text", (t) => texts.push(t));
    const final = await stream.finalMessage();
    assert.equal(texts.join(""), OPENAI_STREAM_PIECES.join(""));
    assert.equal(final.content[0].text, OPENAI_STREAM_PIECES.join(""));
    assert.equal(final.stop_reason, "end_turn");
    assert.ok(final.usage.output_tokens > 0, JSON.stringify(final.usage));
  });

  await check("compat: the OpenAI SDK reaches a Gemini model (not streamed)", async () => {
    const data = await openai.chat.completions.create({
      model: `google-ai-studio/${GEMINI_MODEL}`,
      messages: USER_MESSAGES,
    });
    assert.equal(data.object, "chat.completion");
    assert.equal(data.id, "aigw-sdk-gemini-1");
    assert.equal(data.model, GEMINI_MODEL);
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, "assistant");
    assert.equal(data.choices[0].message.content, GEMINI_TEXT);
    assert.equal(data.choices[0].message.tool_calls, undefined);
    assert.equal(data.choices[0].finish_reason, "stop");
    assert.equal(data.usage.prompt_tokens, 9);
    assert.equal(data.usage.completion_tokens, 11);
    assert.equal(data.usage.total_tokens, 20);
  });

  await check("compat: the OpenAI SDK streams from a Gemini model", async () => {
    const stream = await openai.chat.completions.create({
      model: `google-ai-studio/${GEMINI_MODEL}`,
      messages: USER_MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const got = await readChatStream(stream);
    assert.deepEqual(got.pieces, GEMINI_STREAM_PIECES);
    assert.deepEqual([...got.ids], ["aigw-sdk-gemini-stream"]);
    assert.deepEqual([...got.models], [GEMINI_MODEL]);
    assert.deepEqual(got.calls, []);
    assert.equal(got.finish, "stop");
    assert.ok(got.usage, "no usage chunk");
    assert.equal(got.usage.prompt_tokens, 9);
    assert.equal(got.usage.completion_tokens, 14);
    assert.equal(got.usage.total_tokens, 23);
  });

  await check("compat: Gemini's 400 for a bad key reaches the OpenAI SDK as BadRequestError", async () => {
    const wrong = new OpenAI({ ...common, apiKey: "sk-wrong", baseURL: `${base}/compat` });
    await assert.rejects(
      wrong.chat.completions.create({ model: `google-ai-studio/${GEMINI_MODEL}`, messages: USER_MESSAGES }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}`);
        assert.equal(err.status, 400);
        assert.equal(err.error?.message, "API key not valid. Please pass a valid API key.");
        assert.equal(err.code, "INVALID_ARGUMENT"); // google.rpc.Status's name (docs/compat.md)
        return true;
      },
    );
  });

  // Kept for the round trip below: the call as the SDK returned it.
  let weatherCall = null;

  await check("compat: the OpenAI SDK gets an Anthropic model's tool call (not streamed)", async () => {
    const data = await openai.chat.completions.create({
      model: `anthropic/${ANTHROPIC_MODEL}`,
      messages: WEATHER_MESSAGES,
      tools: [WEATHER_TOOL],
    });
    const { message, finish_reason } = data.choices[0];
    assert.equal(finish_reason, "tool_calls");
    assert.equal(message.role, "assistant");
    assert.equal(message.content, TOOL_PREAMBLE);
    assert.equal(message.tool_calls?.length, 1, JSON.stringify(message));
    const [call] = message.tool_calls;
    weatherCall = call;
    assert.equal(call.id, TOOL_USE_ID);
    assert.equal(call.type, "function");
    assert.equal(call.function.name, "get_weather");
    assert.equal(typeof call.function.arguments, "string");
    assert.deepEqual(JSON.parse(call.function.arguments), WEATHER_INPUT);
    assert.equal(data.usage.prompt_tokens, 402);
    assert.equal(data.usage.completion_tokens, 58);
  });

  await check("compat: the OpenAI SDK streams an Anthropic model's tool call", async () => {
    const stream = await openai.chat.completions.create({
      model: `anthropic/${ANTHROPIC_MODEL}`,
      messages: WEATHER_MESSAGES,
      tools: [WEATHER_TOOL],
      stream: true,
      stream_options: { include_usage: true },
    });
    const got = await readChatStream(stream);
    assert.equal(got.pieces.join(""), TOOL_PREAMBLE);
    assert.equal(got.calls.length, 1, JSON.stringify(got.calls));
    const [call] = got.calls;
    assert.equal(call.id, STREAMED_TOOL_USE_ID);
    assert.equal(call.type, "function");
    assert.equal(call.name, "get_weather");
    // The arguments arrive in fragments as Anthropic's input_json_delta events do, not
    // buffered into one.
    assert.ok(call.fragments.length > 1, JSON.stringify(call.fragments));
    assert.deepEqual(JSON.parse(call.fragments.join("")), WEATHER_INPUT);
    assert.equal(got.finish, "tool_calls");
    assert.equal(got.usage?.prompt_tokens, 402);
    assert.equal(got.usage?.completion_tokens, 61);
  });

  await check("compat: the OpenAI SDK sends an Anthropic model its tool's result", async () => {
    assert.ok(weatherCall, "needs the tool call the not-streamed tool check got");
    const data = await openai.chat.completions.create({
      model: `anthropic/${ANTHROPIC_MODEL}`,
      messages: [
        ...WEATHER_MESSAGES,
        { role: "assistant", content: TOOL_PREAMBLE, tool_calls: [weatherCall] },
        { role: "tool", tool_call_id: weatherCall.id, content: "18 °C, sunny" },
      ],
      tools: [WEATHER_TOOL],
    });
    assert.equal(data.choices[0].message.content, TOOL_RESULT_ANSWER);
    assert.equal(data.choices[0].message.tool_calls, undefined);
    assert.equal(data.choices[0].finish_reason, "stop");
  });

  await check("compat: the OpenAI SDK gets a Gemini model's function call (not streamed)", async () => {
    const data = await openai.chat.completions.create({
      model: `google-ai-studio/${GEMINI_MODEL}`,
      messages: WEATHER_MESSAGES,
      tools: [WEATHER_TOOL],
    });
    const { message, finish_reason } = data.choices[0];
    assert.equal(finish_reason, "tool_calls");
    assert.equal(message.content, null);
    assert.equal(message.tool_calls?.length, 1, JSON.stringify(message));
    const [call] = message.tool_calls;
    assert.equal(call.id, "call_0"); // Gemini gave none (docs/compat.md)
    assert.equal(call.type, "function");
    assert.equal(call.function.name, "get_weather");
    assert.deepEqual(JSON.parse(call.function.arguments), WEATHER_INPUT);
    assert.equal(data.usage.prompt_tokens, 31);
    assert.equal(data.usage.completion_tokens, 7);
  });

  await check("compat: the OpenAI SDK's stream helper on a Gemini model's function call", async () => {
    // chat.completions.stream() assembles the chunks itself and rejects ones out of order.
    const stream = openai.chat.completions.stream({
      model: `google-ai-studio/${GEMINI_MODEL}`,
      messages: WEATHER_MESSAGES,
      tools: [WEATHER_TOOL],
    });
    const done = [];
    stream.on("tool_calls.function.arguments.done", (event) => done.push(event));
    const final = await stream.finalChatCompletion();
    const { message, finish_reason } = final.choices[0];
    assert.equal(finish_reason, "tool_calls");
    assert.equal(message.tool_calls?.length, 1, JSON.stringify(message));
    assert.equal(message.tool_calls[0].id, "call_0");
    assert.equal(message.tool_calls[0].function.name, "get_weather");
    assert.deepEqual(JSON.parse(message.tool_calls[0].function.arguments), WEATHER_INPUT);
    assert.equal(done.length, 1);
    assert.equal(done[0].name, "get_weather");
  });

  await check("compat: the Anthropic SDK reaches a Gemini model (not streamed)", async () => {
    // Anthropic → OpenAI → Gemini and back (docs/compat.md).
    const data = await anthropic.messages.create({
      model: `google-ai-studio/${GEMINI_MODEL}`,
      max_tokens: 256,
      system: "You are terse.",
      messages: ANTHROPIC_MESSAGES,
    });
    assert.equal(data.type, "message");
    assert.equal(data.role, "assistant");
    assert.deepEqual(data.content, [{ type: "text", text: GEMINI_TEXT }]);
    assert.equal(data.stop_reason, "end_turn");
    assert.equal(data.usage.input_tokens, 9);
    assert.equal(data.usage.output_tokens, 11);
  });

  await check("compat: the Anthropic SDK's stream helper on a Gemini model", async () => {
    const stream = anthropic.messages.stream({
      model: `google-ai-studio/${GEMINI_MODEL}`,
      max_tokens: 256,
      system: "You are terse.",
      messages: ANTHROPIC_MESSAGES,
    });
    const texts = [];
    stream.on("text", (t) => texts.push(t));
    const final = await stream.finalMessage();
    assert.equal(texts.join(""), GEMINI_STREAM_PIECES.join(""));
    assert.deepEqual(final.content, [{ type: "text", text: GEMINI_STREAM_PIECES.join("") }]);
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(final.usage.output_tokens, 14);
  });

  await check("compat: a model without its provider is the SDK's BadRequestError", async () => {
    await assert.rejects(
      anthropic.messages.create({ model: "gpt-4o-mini", max_tokens: 16, messages: ANTHROPIC_MESSAGES }),
      (err) => {
        assert.ok(err instanceof Anthropic.BadRequestError, `got ${err?.constructor?.name}`);
        assert.equal(err.error?.type, "error");
        assert.equal(err.error?.error?.type, "invalid_request_error");
        return true;
      },
    );
  });

  await check("the gateway's own 400 is Anthropic's shape for the Anthropic SDK", async () => {
    // On the native path and on /compat/v1/messages alike; nothing reaches the provider.
    const paths = [
      ["anthropic", ANTHROPIC_MODEL],
      ["compat", "openai/gpt-4o-mini"],
    ];
    for (const [path, model] of paths) {
      const client = new Anthropic({
        ...common,
        baseURL: `${base}/${path}`,
        defaultHeaders: BAD_ATTEMPTS_HEADER,
      });
      await assert.rejects(
        client.messages.create({ model, max_tokens: 16, messages: ANTHROPIC_MESSAGES }),
        (err) => {
          assert.ok(err instanceof Anthropic.BadRequestError, `${path}: got ${err?.constructor?.name}`);
          assert.equal(err.status, 400);
          assert.equal(err.error?.type, "error", `${path}: ${JSON.stringify(err.error)}`);
          assert.equal(err.error?.error?.type, "invalid_request_error");
          assert.match(err.error?.error?.message ?? "", /cf-aig-max-attempts/);
          return true;
        },
      );
    }
  });

  await check("the gateway's own 400 keeps OpenAI's shape for the OpenAI SDK", async () => {
    const paths = [
      ["openai", "gpt-4o-mini"],
      ["compat", `google-ai-studio/${GEMINI_MODEL}`],
    ];
    for (const [path, model] of paths) {
      const client = new OpenAI({
        ...common,
        baseURL: `${base}/${path}`,
        defaultHeaders: BAD_ATTEMPTS_HEADER,
      });
      await assert.rejects(
        client.chat.completions.create({ model, messages: USER_MESSAGES }),
        (err) => {
          assert.ok(err instanceof OpenAI.BadRequestError, `${path}: got ${err?.constructor?.name}`);
          assert.equal(err.status, 400);
          assert.equal(err.code, "invalid_header", `${path}: ${JSON.stringify(err.error)}`);
          assert.match(err.message, /cf-aig-max-attempts/);
          return true;
        },
      );
    }
  });
}

if (suite === "openai" || suite === "all") await openaiSuite();
if (suite === "anthropic" || suite === "all") await anthropicSuite();
if (suite === "compat" || suite === "all") await compatSuite();

if (failed > 0) {
  console.log(`${failed} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
