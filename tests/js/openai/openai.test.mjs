// The official OpenAI JS SDK (`openai`, pinned in package.json) against a real promptops gateway:
// proves that an application can point its OpenAI baseURL at promptops and use models, aliases
// and prompt references ("prompt:NAME@LABEL") unmodified, with OpenAI's error classes.
//
// The server runs with a config file naming three kinds of upstream: the built-in simulated
// provider (deterministic answers, no network), a simulated provider that always fails, and an
// OpenAI-compatible provider pointing at a fake upstream this test runs with node:http, which
// records what the gateway sends it.
//
// Needs PROMPTOPS_BINARY (the promptops executable); run.sh sets it from ctest.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, stopServer } from "../common/promptops-server.mjs";
import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from "openai";

const ADMIN_KEY = "sk-po-0123456789abcdefghijklmnopqrstuvwx"; // 40 characters
const UPSTREAM_KEY = "sk-fake-upstream-key-do-not-leak-42";
const TRACE_POLL_MS = 3000;

// ---------------------------------------------------------------------------------------------
// Fake OpenAI-compatible upstream. Answers by the last user message:
//   "say hi"        -> a chat.completion
//   "stream please" -> an SSE stream of chat.completion.chunk, a usage chunk, data: [DONE]
//   "fail 503"      -> 503 with an OpenAI error body
//   "fail 429"      -> 429 with Retry-After: 1
// POST /v1/embeddings answers fixed vectors (base64 when asked, as OpenAI does).
// ---------------------------------------------------------------------------------------------
const FAKE_HI = "Hi from the fake upstream!";
const FAKE_STREAM_PARTS = ["Streaming", " from", " the fake", " upstream."];
const FAKE_TOOL_PIECES = [
  [{ index: 0, id: "call_w", type: "function", function: { name: "get_weather", arguments: "" } }],
  [{ index: 0, function: { arguments: '{"city":' } }],
  [{ index: 1, id: "call_t", type: "function", function: { name: "get_time", arguments: "" } }],
  [{ index: 0, function: { arguments: '"서울"}' } }],
  [{ index: 1, function: { arguments: '{"tz":"Asia/Seoul"}' } }],
];
const FAKE_USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
const FAKE_STREAM_USAGE = { prompt_tokens: 13, completion_tokens: 4, total_tokens: 17 };
const FAKE_VECTORS = [
  [0.25, -0.5, 1],
  [0.125, 0.75, -2],
];

function lastUserText(body) {
  const msgs = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = msgs.length - 1; i >= 0; --i) {
    if (msgs[i].role === "user") return typeof msgs[i].content === "string" ? msgs[i].content : JSON.stringify(msgs[i].content);
  }
  return "";
}

function sendJson(res, status, obj, headers = {}) {
  const text = JSON.stringify(obj);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function openAiError(message, type, code) {
  return { error: { message, type, param: null, code } };
}

function float32Base64(vec) {
  return Buffer.from(new Float32Array(vec).buffer).toString("base64");
}

function handleFake(req, body, res) {
  const path = new URL(req.url, "http://x").pathname;
  if (req.method === "POST" && path === "/v1/embeddings") {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const b64 = body.encoding_format === "base64";
    return sendJson(res, 200, {
      object: "list",
      data: inputs.map((_, i) => ({
        object: "embedding",
        index: i,
        embedding: b64 ? float32Base64(FAKE_VECTORS[i % 2]) : FAKE_VECTORS[i % 2],
      })),
      model: body.model,
      usage: { prompt_tokens: 5, total_tokens: 5 },
    });
  }
  if (req.method !== "POST" || path !== "/v1/chat/completions") {
    return sendJson(res, 404, openAiError(`no route ${req.method} ${path}`, "invalid_request_error", "not_found"));
  }
  const created = Math.floor(Date.now() / 1000);
  const text = lastUserText(body);
  if (text.includes("fail 503")) {
    return sendJson(res, 503, openAiError("The server is overloaded", "server_error", "overloaded"));
  }
  if (text.includes("fail 429")) {
    return sendJson(res, 429, openAiError("Rate limit reached", "rate_limit_error", "rate_limit_exceeded"), {
      "retry-after": "1",
    });
  }
  if (text.includes("tool please")) {
    // Two tool calls streamed the way OpenAI does: each call's first piece has its id and name,
    // its arguments follow in pieces, the two calls' pieces interleaved.
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const base = { id: "chatcmpl-fake-tools", object: "chat.completion.chunk", created, model: body.model };
    const deltas = FAKE_TOOL_PIECES.map((tool_calls, i) => (i === 0 ? { role: "assistant", content: null, tool_calls } : { tool_calls }));
    for (const delta of deltas) {
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })}\n\n`);
    }
    res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "tool_calls" }] })}\n\n`);
    res.end("data: [DONE]\n\n");
    return;
  }
  if (text.includes("stream please")) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const base = { id: "chatcmpl-fake-stream", object: "chat.completion.chunk", created, model: body.model };
    const events = [];
    FAKE_STREAM_PARTS.forEach((part, i) => {
      const delta = i === 0 ? { role: "assistant", content: part } : { content: part };
      events.push({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] });
    });
    events.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }] });
    events.push({ ...base, choices: [], usage: FAKE_STREAM_USAGE });
    for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
    res.end("data: [DONE]\n\n");
    return;
  }
  // "say hi" and anything else: a plain completion.
  return sendJson(res, 200, {
    id: "chatcmpl-fake-1",
    object: "chat.completion",
    created,
    model: body.model,
    choices: [{ index: 0, message: { role: "assistant", content: FAKE_HI }, logprobs: null, finish_reason: "stop" }],
    usage: FAKE_USAGE,
  });
}

// Starts an HTTP server on 127.0.0.1:0 that records every request; resolves {server, url, requests}.
function startRecorder(handler) {
  const requests = [];
  const server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      let body = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, body, res);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, url: `http://127.0.0.1:${server.address().port}`, requests });
    });
  });
}

function stopRecorder(r) {
  if (!r) return Promise.resolve();
  r.server.closeAllConnections?.();
  return new Promise((resolve) => r.server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// The promptops server.
// ---------------------------------------------------------------------------------------------
function configYaml(fakeUrl) {
  return `providers:
  sim: {type: simulated, simulated: {seed: 7, latency_median_ms: 5, latency_p99_ms: 20, ttft_median_ms: 5, ttft_p99_ms: 20, tokens_per_second: 2000}}
  sim-broken: {type: simulated, simulated: {error_rate: 1.0, error_kinds: ["500"], latency_median_ms: 1, latency_p99_ms: 2}}
  fake: {type: openai, base_url: "${fakeUrl}/v1", api_key_env: FAKE_UPSTREAM_KEY}
models:
  demo-chat: {provider: sim}
  broken: {provider: sim-broken}
  upstream-model: {provider: fake, model: real-upstream-name}
aliases:
  chat-default: demo-chat
gateway:
  retries: {max: 0}
  limits: {per_key: {requests_per_minute: 0}}
`;
}

// Asserts that `promise` rejects with an instance of `cls` (an openai error class) and `status`;
// returns the error for further checks.
async function expectApiError(promise, cls, status) {
  let caught;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, `expected ${cls.name} (${status}), but the call succeeded`);
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${caught?.constructor?.name}: ${caught?.message}`);
  if (status !== undefined) assert.equal(caught.status, status, caught.message);
  return caught;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("openai SDK against the promptops gateway", () => {
  let server;
  let dataDir;
  let fake; // the fake OpenAI upstream
  let trap; // a server only a client-supplied URL would reach
  let client;
  const traceIds = {}; // what -> x-promptops-trace-id, checked against the traces API at the end
  // Also stop the server if the test process is interrupted.
  const onExit = () => server?.proc.kill("SIGKILL");

  // The admin API (/api/v1), authenticated with the same key.
  async function admin(method, path, body) {
    const res = await fetch(`${server.baseUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, json, text };
  }

  function fakeChatRequests() {
    return fake.requests.filter((r) => r.url.endsWith("/chat/completions"));
  }

  before(async () => {
    process.on("exit", onExit);
    fake = await startRecorder(handleFake);
    trap = await startRecorder((req, body, res) => sendJson(res, 200, { trapped: true }));
    dataDir = mkdtempSync(join(tmpdir(), "promptops-openai-"));
    const configPath = join(dataDir, "promptops.yaml");
    writeFileSync(configPath, configYaml(fake.url));
    server = await startServer(dataDir, {
      extraArgs: ["--config", configPath],
      env: { PROMPTOPS_ADMIN_KEY: ADMIN_KEY, FAKE_UPSTREAM_KEY: UPSTREAM_KEY },
    });
    client = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${server.baseUrl}/v1`, maxRetries: 0, timeout: 15000 });

    const prompts = [
      {
        name: "support/refund-bot",
        type: "chat",
        prompt: [
          { role: "system", content: "You help {{company}} customers." },
          { role: "user", content: "{{question}}" },
        ],
        config: { model: "demo-chat", temperature: 0 },
        labels: ["production"],
      },
      {
        name: "support/upstream-bot",
        type: "chat",
        prompt: [
          { role: "system", content: "You help {{company}} customers." },
          { role: "user", content: "{{question}}" },
        ],
        config: { model: "upstream-model", temperature: 0.2 },
        labels: ["production"],
      },
    ];
    for (const p of prompts) {
      const r = await admin("POST", "/prompts", p);
      assert.equal(r.status, 201, `creating ${p.name}: ${r.text}`);
    }
  });

  after(async () => {
    await stopServer(server?.proc);
    await stopRecorder(fake);
    await stopRecorder(trap);
    process.off("exit", onExit);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("models.list returns the configured models and aliases", async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      ids.push(m.id);
      assert.equal(m.object, "model");
      assert.equal(typeof m.created, "number");
      assert.equal(typeof m.owned_by, "string");
    }
    for (const id of ["demo-chat", "broken", "upstream-model", "chat-default"]) {
      assert.ok(ids.includes(id), `${id} missing from ${JSON.stringify(ids)}`);
    }
  });

  test("models.retrieve returns one model, and NotFoundError for an unknown one", async () => {
    const m = await client.models.retrieve("upstream-model");
    assert.equal(m.id, "upstream-model");
    assert.equal(m.object, "model");
    assert.equal(m.owned_by, "fake");
    assert.equal((await client.models.retrieve("chat-default")).owned_by, "alias:demo-chat");
    await assert.rejects(client.models.retrieve("no-such-model"), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.code, "model_not_found");
      return true;
    });
  });

  test("chat completion on the simulated model, with promptops headers", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "demo-chat", messages: [{ role: "user", content: "What is a refund?" }] })
      .withResponse();
    assert.equal(data.object, "chat.completion");
    assert.equal(typeof data.id, "string");
    assert.equal(data.choices.length, 1);
    const choice = data.choices[0];
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, "assistant");
    assert.ok(choice.message.content.startsWith("Simulated answer"), choice.message.content);
    assert.equal(typeof choice.finish_reason, "string");
    assert.ok(data.usage.prompt_tokens > 0);
    assert.ok(data.usage.completion_tokens > 0);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);

    const traceId = response.headers.get("x-promptops-trace-id");
    assert.ok(traceId, "x-promptops-trace-id missing");
    traceIds.plain = traceId;
    assert.equal(response.headers.get("x-promptops-model"), "demo-chat");
    // Without temperature 0 the request is not cacheable: "off".
    assert.match(response.headers.get("x-promptops-cache") ?? "", /^(hit|miss|off)$/);
    assert.equal(response.headers.get("x-promptops-prompt"), null, "no prompt header without a prompt ref");
  });

  test("an alias resolves to its model", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "chat-default", messages: [{ role: "user", content: "Hello via alias" }] })
      .withResponse();
    assert.ok(data.choices[0].message.content.startsWith("Simulated answer"));
    assert.equal(response.headers.get("x-promptops-model"), "demo-chat");
  });

  test("identical temperature-0 requests: miss, then a cache hit with the same answer", async () => {
    const req = {
      model: "demo-chat",
      temperature: 0,
      messages: [{ role: "user", content: `cache me ${process.pid}-${Date.now()}` }],
    };
    const first = await client.chat.completions.create(req).withResponse();
    assert.equal(first.response.headers.get("x-promptops-cache"), "miss");
    const second = await client.chat.completions.create(req).withResponse();
    assert.equal(second.response.headers.get("x-promptops-cache"), "hit");
    assert.equal(second.data.choices[0].message.content, first.data.choices[0].message.content);
    assert.notEqual(
      second.response.headers.get("x-promptops-trace-id"),
      first.response.headers.get("x-promptops-trace-id"),
      "every request gets its own trace id",
    );
    // The cached answer replayed as a stream.
    const { data: stream, response } = await client.chat.completions
      .create({ ...req, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    assert.equal(response.headers.get("x-promptops-cache"), "hit");
    let text = "";
    let usage;
    for await (const chunk of stream) {
      for (const c of chunk.choices) text += c.delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, first.data.choices[0].message.content);
    assert.equal(usage?.total_tokens, first.data.usage.total_tokens);
  });

  test("streaming assembles the same text as the non-streamed answer, usage last", async () => {
    const req = {
      model: "demo-chat",
      seed: 1234,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Explain streaming in one paragraph." },
      ],
    };
    const plain = await client.chat.completions.create(req);
    const expected = plain.choices[0].message.content;
    assert.ok(expected.startsWith("Simulated answer"));

    const { data: stream, response } = await client.chat.completions
      .create({ ...req, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.ok(response.headers.get("x-promptops-trace-id"), "x-promptops-trace-id missing on a stream");
    const chunks = [];
    let text = "";
    for await (const chunk of stream) {
      chunks.push(chunk);
      assert.equal(chunk.object, "chat.completion.chunk");
      for (const c of chunk.choices) text += c.delta?.content ?? "";
    }
    assert.ok(chunks.length >= 3, `only ${chunks.length} chunks`);
    assert.equal(text, expected);
    assert.equal(chunks[0].choices[0]?.delta?.role, "assistant");
    assert.ok(
      chunks.some((c) => c.choices.some((x) => typeof x.finish_reason === "string")),
      "no chunk carries a finish_reason",
    );
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage, "last chunk has no usage");
    assert.ok(last.usage.total_tokens > 0);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    assert.equal(last.usage.completion_tokens, plain.usage.completion_tokens);
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1, "all chunks share one id");
  });

  test("streaming without include_usage sends no usage chunk", async () => {
    const stream = await client.chat.completions.create({
      model: "demo-chat",
      stream: true,
      messages: [{ role: "user", content: "No usage please." }],
    });
    let text = "";
    for await (const chunk of stream) {
      assert.ok(chunk.usage == null, `unexpected usage: ${JSON.stringify(chunk)}`);
      assert.equal(chunk.choices.length, 1);
      text += chunk.choices[0].delta?.content ?? "";
    }
    assert.ok(text.startsWith("Simulated answer"), text);
  });

  test("reasoning_effort: the reasoning reaches the SDK, plain and as streamed chunks", async () => {
    const ask = { model: "demo-chat", reasoning_effort: "low", messages: [{ role: "user", content: "왜 하늘은 파래요?" }] };
    const plain = await client.chat.completions.create(ask);
    const reasoning = plain.choices[0].message.reasoning_content;
    assert.ok(reasoning.startsWith("Thinking about: 왜 하늘은 파래요? "), reasoning);
    assert.ok(plain.choices[0].message.content.startsWith("Simulated answer to: 왜 하늘은 파래요?"));
    // The raw chunks carry the pieces, reasoning first. (The SDK's stream helper keeps only the
    // last piece of a member it does not know, so it is read from the chunks.)
    const stream = await client.chat.completions.create({ ...ask, stream: true });
    let streamed = "";
    let text = "";
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta ?? {};
      if (delta.reasoning_content !== undefined) {
        assert.equal(text, "", "reasoning after the text");
        streamed += delta.reasoning_content;
      }
      text += delta.content ?? "";
    }
    assert.equal(streamed, reasoning);
    assert.equal(text, plain.choices[0].message.content);
  });

  test("the chat stream helper (chat.completions.stream) works too", async () => {
    const runner = client.chat.completions.stream({
      model: "demo-chat",
      messages: [{ role: "user", content: "Use the helper." }],
      stream_options: { include_usage: true },
    });
    const final = await runner.finalChatCompletion();
    assert.ok(final.choices[0].message.content.startsWith("Simulated answer"));
    assert.ok(final.usage?.total_tokens > 0);
  });

  test("prompt:NAME renders the production version with variables", async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: "prompt:support/refund-bot",
        messages: [],
        variables: { company: "Acme", question: "Where is my refund?" },
      })
      .withResponse();
    assert.ok(data.choices[0].message.content.startsWith("Simulated answer"));
    assert.equal(response.headers.get("x-promptops-prompt"), "support/refund-bot@1");
    assert.equal(response.headers.get("x-promptops-model"), "demo-chat");
    traceIds.prompt = response.headers.get("x-promptops-trace-id");
  });

  test("prompt:NAME@LABEL and prompt:NAME#VERSION pick the version", async () => {
    const v2 = await admin("POST", "/prompts/support%2Frefund-bot/versions", {
      type: "chat",
      prompt: [
        { role: "system", content: "You help {{company}} customers politely." },
        { role: "user", content: "{{question}}" },
      ],
      config: { model: "demo-chat", temperature: 0 },
      labels: ["staging"],
    });
    assert.equal(v2.status, 201, v2.text);
    const vars = { company: "Acme", question: "Refund status?" };
    const cases = [
      ["prompt:support/refund-bot", "support/refund-bot@1"],
      ["prompt:support/refund-bot@production", "support/refund-bot@1"],
      ["prompt:support/refund-bot@staging", "support/refund-bot@2"],
      ["prompt:support/refund-bot@latest", "support/refund-bot@2"],
      ["prompt:support/refund-bot#1", "support/refund-bot@1"],
      ["prompt:support/refund-bot#2", "support/refund-bot@2"],
    ];
    for (const [model, header] of cases) {
      const { data, response } = await client.chat.completions
        .create({ model, messages: [], variables: vars })
        .withResponse();
      assert.equal(response.headers.get("x-promptops-prompt"), header, model);
      assert.ok(data.choices[0].message.content.startsWith("Simulated answer"), model);
    }
  });

  test("prompt reference with missing variables is a 400 naming them", async () => {
    const err = await expectApiError(
      client.chat.completions.create({
        model: "prompt:support/refund-bot",
        messages: [],
        variables: { company: "Acme" },
      }),
      BadRequestError,
      400,
    );
    assert.match(err.message, /missing variables: .*question/);
    assert.ok(!/company/.test(err.message.split("missing variables:")[1] ?? ""), err.message);
  });

  test("unknown prompt, label or version is a 404", async () => {
    await expectApiError(
      client.chat.completions.create({ model: "prompt:no/such-prompt", messages: [], variables: {} }),
      NotFoundError,
      404,
    );
    await expectApiError(
      client.chat.completions.create({
        model: "prompt:support/refund-bot@no-such-label",
        messages: [],
        variables: { company: "A", question: "q" },
      }),
      NotFoundError,
      404,
    );
    await expectApiError(
      client.chat.completions.create({
        model: "prompt:support/refund-bot#99",
        messages: [],
        variables: { company: "A", question: "q" },
      }),
      NotFoundError,
      404,
    );
  });

  test("OpenAI-compatible upstream: upstream model name, configured key, answer passed through", async () => {
    const before = fakeChatRequests().length;
    const { data, response } = await client.chat.completions
      .create({ model: "upstream-model", messages: [{ role: "user", content: "say hi" }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, FAKE_HI);
    assert.equal(data.choices[0].finish_reason, "stop");
    assert.deepEqual(
      { p: data.usage.prompt_tokens, c: data.usage.completion_tokens, t: data.usage.total_tokens },
      { p: FAKE_USAGE.prompt_tokens, c: FAKE_USAGE.completion_tokens, t: FAKE_USAGE.total_tokens },
    );
    assert.equal(response.headers.get("x-promptops-model"), "upstream-model");
    const sent = fakeChatRequests().slice(before);
    assert.equal(sent.length, 1, "exactly one upstream request");
    const r = sent[0];
    assert.equal(r.method, "POST");
    assert.equal(new URL(r.url, "http://x").pathname, "/v1/chat/completions");
    assert.equal(r.body.model, "real-upstream-name");
    assert.equal(r.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    assert.ok(!JSON.stringify(r).includes(ADMIN_KEY), "the client's gateway key leaked upstream");
    assert.deepEqual(
      r.body.messages.map((m) => [m.role, m.content]),
      [["user", "say hi"]],
    );
    traceIds.upstream = response.headers.get("x-promptops-trace-id");
  });

  test("prompt reference on an upstream model: rendered messages and prompt config are sent", async () => {
    const before = fakeChatRequests().length;
    const { data, response } = await client.chat.completions
      .create({ model: "prompt:support/upstream-bot", messages: [], variables: { company: "Acme", question: "say hi" } })
      .withResponse();
    assert.equal(data.choices[0].message.content, FAKE_HI);
    assert.equal(response.headers.get("x-promptops-prompt"), "support/upstream-bot@1");
    const sent = fakeChatRequests().slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].body.model, "real-upstream-name");
    assert.equal(sent[0].body.temperature, 0.2);
    assert.deepEqual(
      sent[0].body.messages.map((m) => [m.role, m.content]),
      [
        ["system", "You help Acme customers."],
        ["user", "say hi"],
      ],
    );
  });

  test("OpenAI-compatible upstream: streaming relays chunks and the usage chunk", async () => {
    const before = fakeChatRequests().length;
    const stream = await client.chat.completions.create({
      model: "upstream-model",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "stream please" }],
    });
    let text = "";
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      for (const c of chunk.choices) text += c.delta?.content ?? "";
    }
    assert.equal(text, FAKE_STREAM_PARTS.join(""));
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage?.total_tokens, FAKE_STREAM_USAGE.total_tokens);
    assert.ok(chunks.some((c) => c.choices.some((x) => x.finish_reason === "stop")));
    const sent = fakeChatRequests().slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].body.model, "real-upstream-name");
    assert.equal(sent[0].body.stream, true);
    assert.equal(sent[0].body.stream_options?.include_usage, true);
    assert.equal(sent[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  });

  test("streamed tool calls reach the SDK, whose stream helper assembles them", async () => {
    const before = fakeChatRequests().length;
    const tools = [
      { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
      { type: "function", function: { name: "get_time", parameters: { type: "object", properties: { tz: { type: "string" } } } } },
    ];
    const runner = client.chat.completions.stream({
      model: "upstream-model",
      messages: [{ role: "user", content: "tool please" }],
      tools,
    });
    const pieces = [];
    runner.on("chunk", (chunk) => {
      for (const c of chunk.choices) if (c.delta?.tool_calls) pieces.push(c.delta.tool_calls);
    });
    const final = await runner.finalChatCompletion();
    // Every piece passed through as the upstream sent it...
    assert.deepEqual(pieces, FAKE_TOOL_PIECES);
    // ...so the SDK's own accumulation gives the complete calls.
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    const calls = final.choices[0].message.tool_calls.map((c) => [c.id, c.type, c.function.name, c.function.arguments]);
    assert.deepEqual(calls, [
      ["call_w", "function", "get_weather", '{"city":"서울"}'],
      ["call_t", "function", "get_time", '{"tz":"Asia/Seoul"}'],
    ]);
    const sent = fakeChatRequests().slice(before);
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].body.tools, tools);
  });

  test("the SDK's tool runner completes a tool round trip with the simulated model, streamed", async () => {
    const calls = [];
    const runner = client.chat.completions.runTools({
      model: "demo-chat",
      stream: true,
      messages: [{ role: "user", content: "제주 날씨 어때?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Current weather of a city",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
            parse: JSON.parse,
            function: (args) => {
              calls.push(args);
              return { city: args.city, sky: "맑음" };
            },
          },
        },
      ],
    });
    const text = await runner.finalContent();
    // The simulated model called the tool with the user's words, got its result, then answered.
    assert.deepEqual(calls, [{ city: "제주 날씨 어때?" }]);
    assert.ok(text.startsWith("Simulated answer to: 제주 날씨 어때?"), text);
    const messages = runner.messages;
    assert.equal(messages.at(-2).role, "tool");
    assert.deepEqual(JSON.parse(messages.at(-2).content), { city: "제주 날씨 어때?", sky: "맑음" });
  });

  test("structured outputs: the SDK's parse() reads the simulated model's JSON answer", async () => {
    const completion = await client.chat.completions.parse({
      model: "demo-chat",
      messages: [{ role: "user", content: "부산의 인구" }],
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "city",
          strict: true,
          schema: {
            type: "object",
            properties: { city: { type: "string" }, population: { type: "integer" } },
            required: ["city", "population"],
            additionalProperties: false,
          },
        },
      },
    });
    const parsed = completion.choices[0].message.parsed;
    assert.equal(parsed.city, "부산의 인구");
    assert.equal(typeof parsed.population, "number");
    assert.equal(completion.choices[0].finish_reason, "stop");
  });

  test("client-supplied upstream URLs and keys are refused and never contacted", async () => {
    const fakeBefore = fake.requests.length;
    for (const field of ["base_url", "api_base", "api_key"]) {
      const value = field === "api_key" ? "sk-client-chosen" : `${trap.url}/v1`;
      const err = await expectApiError(
        client.chat.completions.create({
          model: "upstream-model",
          messages: [{ role: "user", content: "say hi" }],
          [field]: value,
        }),
        BadRequestError,
        400,
      );
      assert.match(err.message, new RegExp(field));
    }
    assert.equal(trap.requests.length, 0, "the gateway connected to a client-supplied URL");
    assert.equal(fake.requests.length, fakeBefore, "a refused request reached the upstream");
  });

  test("upstream 503 surfaces as a 5xx APIError", async () => {
    const err = await expectApiError(
      client.chat.completions.create({ model: "upstream-model", messages: [{ role: "user", content: "fail 503" }] }),
      APIError,
    );
    assert.ok(err.status >= 500, `status ${err.status}`);
    assert.ok(err instanceof InternalServerError);
    assert.equal(typeof err.error?.message, "string");
  });

  test("upstream 429 with retries disabled surfaces as a RateLimitError", async () => {
    const before = fakeChatRequests().length;
    const err = await expectApiError(
      client.chat.completions.create({ model: "upstream-model", messages: [{ role: "user", content: "fail 429" }] }),
      RateLimitError,
      429,
    );
    assert.equal(err.headers.get("retry-after"), "1", "the upstream's Retry-After is passed on");
    assert.ok(err.headers.get("x-promptops-trace-id"), "error responses carry a trace id too");
    assert.equal(fakeChatRequests().length - before, 1, "retries.max 0: the upstream is asked once");
    // The upstream still answers after the failures (its circuit did not open).
    const ok = await client.chat.completions.create({
      model: "upstream-model",
      messages: [{ role: "user", content: "say hi" }],
    });
    assert.equal(ok.choices[0].message.content, FAKE_HI);
  });

  test("embeddings on the simulated provider are deterministic", async () => {
    const a = await client.embeddings.create({
      model: "demo-chat",
      input: ["refund policy", "shipping times"],
      encoding_format: "float",
    });
    assert.equal(a.object, "list");
    assert.equal(a.data.length, 2);
    a.data.forEach((d, i) => {
      assert.equal(d.object, "embedding");
      assert.equal(d.index, i);
      assert.ok(Array.isArray(d.embedding) && d.embedding.length > 0);
      assert.ok(d.embedding.every((x) => typeof x === "number" && Number.isFinite(x)));
    });
    assert.equal(a.data[0].embedding.length, a.data[1].embedding.length);
    assert.notDeepEqual(a.data[0].embedding, a.data[1].embedding);
    assert.ok(a.usage.prompt_tokens > 0);

    const again = await client.embeddings.create({ model: "demo-chat", input: "refund policy", encoding_format: "float" });
    assert.deepEqual(again.data[0].embedding, a.data[0].embedding);

    // Without encoding_format the SDK asks for base64 and decodes it (or accepts floats).
    const dflt = await client.embeddings.create({ model: "demo-chat", input: "refund policy" });
    const v = Array.from(dflt.data[0].embedding);
    assert.equal(v.length, a.data[0].embedding.length);
    v.forEach((x, i) => {
      const want = a.data[0].embedding[i];
      assert.ok(Math.abs(x - want) <= 1e-6 * Math.max(1, Math.abs(want)), `component ${i}: ${x} vs ${want}`);
    });
  });

  test("embeddings on an OpenAI-compatible upstream are forwarded", async () => {
    const before = fake.requests.length;
    const res = await client.embeddings.create({ model: "upstream-model", input: ["one", "two"], encoding_format: "float" });
    assert.equal(res.data.length, 2);
    assert.deepEqual(res.data[0].embedding, FAKE_VECTORS[0]);
    assert.deepEqual(res.data[1].embedding, FAKE_VECTORS[1]);
    const sent = fake.requests.slice(before);
    assert.equal(sent.length, 1);
    assert.equal(new URL(sent[0].url, "http://x").pathname, "/v1/embeddings");
    assert.equal(sent[0].body.model, "real-upstream-name");
    assert.deepEqual(sent[0].body.input, ["one", "two"]);
    assert.equal(sent[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`);

    // Default (base64 on the wire): the SDK still hands back the numbers.
    const dflt = await client.embeddings.create({ model: "upstream-model", input: "one" });
    assert.deepEqual(Array.from(dflt.data[0].embedding), FAKE_VECTORS[0]);
  });

  test("a wrong key is a 401 AuthenticationError", async () => {
    const intruder = new OpenAI({
      apiKey: "sk-po-wrong-wrong-wrong-wrong-wrong-wrong",
      baseURL: `${server.baseUrl}/v1`,
      maxRetries: 0,
    });
    await expectApiError(
      intruder.chat.completions.create({ model: "demo-chat", messages: [{ role: "user", content: "hi" }] }),
      AuthenticationError,
      401,
    );
    await expectApiError(intruder.models.list(), AuthenticationError, 401);
  });

  test("an unknown model is a 404 NotFoundError", async () => {
    const err = await expectApiError(
      client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }),
      NotFoundError,
      404,
    );
    assert.match(err.message, /no-such-model/);
    await expectApiError(client.embeddings.create({ model: "no-such-model", input: "x" }), NotFoundError, 404);
  });

  test("an invalid request is a 400 BadRequestError in OpenAI's error shape", async () => {
    const err = await expectApiError(
      client.chat.completions.create({ model: "demo-chat", temperature: 5, messages: [{ role: "user", content: "hi" }] }),
      BadRequestError,
      400,
    );
    assert.match(err.message, /temperature/);
    assert.equal(err.type, "invalid_request_error");
    await expectApiError(client.chat.completions.create({ model: "demo-chat", messages: [] }), BadRequestError, 400);
    await expectApiError(
      client.chat.completions.create({ model: "demo-chat", messages: [{ role: "wizard", content: "hi" }] }),
      BadRequestError,
      400,
    );
  });

  test("a failing provider is a 502 InternalServerError", async () => {
    const err = await expectApiError(
      client.chat.completions.create({ model: "broken", messages: [{ role: "user", content: "hi" }] }),
      InternalServerError,
      502,
    );
    assert.equal(typeof err.error?.message, "string");
    traceIds.broken = err.headers?.get("x-promptops-trace-id");
    const s = await expectApiError(
      client.chat.completions.create({ model: "broken", stream: true, messages: [{ role: "user", content: "hi" }] }),
      APIError,
    );
    assert.equal(s.status, 502);
  });

  test("requests are traced and listed by the admin API", async () => {
    for (const what of ["plain", "prompt", "upstream", "broken"]) {
      assert.ok(traceIds[what], `no trace id collected for ${what}: ${JSON.stringify(traceIds)}`);
    }
    const wanted = Object.values(traceIds);
    // The trace writer is asynchronous: poll.
    const deadline = Date.now() + TRACE_POLL_MS;
    let page;
    for (;;) {
      page = await admin("GET", "/traces?limit=500");
      assert.equal(page.status, 200, page.text);
      const listed = new Set(page.json.data.map((t) => t.id));
      if (wanted.every((id) => listed.has(id)) || Date.now() > deadline) break;
      await sleep(100);
    }
    const byId = new Map(page.json.data.map((t) => [t.id, t]));
    for (const [what, id] of Object.entries(traceIds)) {
      assert.ok(byId.has(id), `${what} trace ${id} not listed: ${page.text.slice(0, 1500)}`);
    }

    const plain = byId.get(traceIds.plain);
    assert.equal(plain.model, "demo-chat");
    assert.equal(plain.provider, "sim");
    assert.equal(plain.status, 200);
    assert.equal(plain.prompt, null);
    assert.ok(plain.usage.input_tokens > 0 && plain.usage.output_tokens > 0, JSON.stringify(plain));

    const prompt = byId.get(traceIds.prompt);
    assert.equal(prompt.status, 200);
    assert.equal(prompt.prompt?.name, "support/refund-bot");
    assert.equal(prompt.prompt?.version, 1);

    const upstream = byId.get(traceIds.upstream);
    assert.equal(upstream.model, "upstream-model");
    assert.equal(upstream.provider, "fake");
    assert.equal(upstream.upstream_model, "real-upstream-name");
    assert.equal(upstream.status, 200);
    assert.equal(upstream.usage.input_tokens, FAKE_USAGE.prompt_tokens);
    assert.equal(upstream.usage.output_tokens, FAKE_USAGE.completion_tokens);

    const broken = byId.get(traceIds.broken);
    assert.equal(broken.status, 502);
    assert.ok(broken.error_class, JSON.stringify(broken));

    const small = await admin("GET", "/traces?limit=10");
    assert.equal(small.status, 200, small.text);
    assert.ok(small.json.data.length > 0 && small.json.data.length <= 10, `limit=10 returned ${small.json.data.length} rows`);
    assert.ok(small.json.total >= wanted.length);

    const one = await admin("GET", `/traces/${encodeURIComponent(traceIds.upstream)}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.id, traceIds.upstream);
  });

  test("the traces API rejects a wrong key", async () => {
    const res = await fetch(`${server.baseUrl}/api/v1/traces?limit=1`, {
      headers: { authorization: "Bearer sk-po-wrong-wrong-wrong-wrong-wrong-wrong" },
    });
    assert.equal(res.status, 401);
  });
});
