// The official Langfuse JS SDK (@langfuse/client, pinned in package.json) against a real
// promptops server: proves that an application can switch its Langfuse baseUrl to promptops.
//
// Needs PROMPTOPS_BINARY (the promptops executable); run.sh sets it from ctest.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, stopServer } from "../common/promptops-server.mjs";
import { LangfuseClient } from "@langfuse/client";

const PUBLIC_KEY = "pk-lf-test";
const SECRET_KEY = "sk-lf-0123456789abcdefghijklmnopqrstuvwxyz"; // 40 characters

describe("@langfuse/client against promptops", () => {
  let server;
  let dataDir;
  let langfuse;
  // Also stop the server if the test process is interrupted.
  const onExit = () => server?.proc.kill("SIGKILL");

  before(async () => {
    process.on("exit", onExit);
    dataDir = mkdtempSync(join(tmpdir(), "promptops-langfuse-"));
    server = await startServer(dataDir, {
      env: { PROMPTOPS_ADMIN_KEY: SECRET_KEY, PROMPTOPS_ADMIN_PUBLIC_KEY: PUBLIC_KEY },
    });
    langfuse = new LangfuseClient({
      publicKey: PUBLIC_KEY,
      secretKey: SECRET_KEY,
      baseUrl: server.baseUrl,
    });
  });

  after(async () => {
    await langfuse?.shutdown?.().catch(() => {});
    await stopServer(server?.proc);
    process.off("exit", onExit);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("creates a text prompt and compiles it with Korean variables", async () => {
    const created = await langfuse.prompt.create({
      name: "greeting",
      prompt: "안녕하세요 {{name}}님, {{city}}에 오신 것을 환영합니다!",
      labels: ["production"],
      tags: ["onboarding"],
      config: { model: "gpt-4o-mini", temperature: 0.3 },
      commitMessage: "first version",
    });
    assert.equal(created.name, "greeting");
    assert.equal(created.version, 1);
    assert.equal(created.type, "text");
    assert.deepEqual([...created.labels].sort(), ["latest", "production"]);
    assert.equal(created.commitMessage, "first version");

    const prompt = await langfuse.prompt.get("greeting", { label: "production" });
    assert.equal(prompt.version, 1);
    assert.equal(prompt.isFallback, false);
    assert.deepEqual(prompt.config, { model: "gpt-4o-mini", temperature: 0.3 });
    assert.deepEqual(prompt.tags, ["onboarding"]);
    assert.equal(
      prompt.compile({ name: "김민준", city: "서울" }),
      "안녕하세요 김민준님, 서울에 오신 것을 환영합니다!",
    );

    // No label and no version: Langfuse's default, the "production" label.
    const byDefault = await langfuse.prompt.get("greeting", { cacheTtlSeconds: 0 });
    assert.equal(byDefault.version, 1);
  });

  test("creates a chat prompt with a placeholder and compiles it", async () => {
    await langfuse.prompt.create({
      name: "assistant",
      type: "chat",
      prompt: [
        { role: "system", content: "당신은 {{persona}}입니다." },
        { type: "placeholder", name: "history" },
        { role: "user", content: "{{question}}" },
      ],
      labels: ["production"],
    });
    const prompt = await langfuse.prompt.get("assistant", { type: "chat" });
    assert.equal(prompt.type, "chat");
    const messages = prompt.compile(
      { persona: "친절한 상담원", question: "환불은 어떻게 하나요?" },
      { history: [{ role: "user", content: "안녕하세요" }, { role: "assistant", content: "네, 안녕하세요!" }] },
    );
    assert.deepEqual(messages, [
      { role: "system", content: "당신은 친절한 상담원입니다." },
      { role: "user", content: "안녕하세요" },
      { role: "assistant", content: "네, 안녕하세요!" },
      { role: "user", content: "환불은 어떻게 하나요?" },
    ]);
  });

  test("gets a specific version and moves labels with prompt.update", async () => {
    const v2 = await langfuse.prompt.create({ name: "greeting", prompt: "Hi {{name}}!" });
    assert.equal(v2.version, 2);
    assert.deepEqual(v2.labels, ["latest"]);

    const first = await langfuse.prompt.get("greeting", { version: 1 });
    assert.equal(first.version, 1);
    const second = await langfuse.prompt.get("greeting", { version: 2 });
    assert.equal(second.compile({ name: "Ada" }), "Hi Ada!");

    const updated = await langfuse.prompt.update({
      name: "greeting",
      version: 2,
      newLabels: ["production", "canary"],
    });
    assert.equal(updated.version, 2);
    assert.deepEqual([...updated.labels].sort(), ["canary", "latest", "production"]);

    const production = await langfuse.prompt.get("greeting", { cacheTtlSeconds: 0 });
    assert.equal(production.version, 2);
    const oldOne = await langfuse.prompt.get("greeting", { version: 1, cacheTtlSeconds: 0 });
    assert.deepEqual(oldOne.labels, []);
  });

  test("serves names with folders (the SDK encodes '/' as %2F)", async () => {
    await langfuse.prompt.create({
      name: "support/refund-bot",
      prompt: "주문 {{order_id}} 환불을 도와드릴게요.",
      labels: ["production", "staging"],
    });
    const prompt = await langfuse.prompt.get("support/refund-bot", { label: "staging" });
    assert.equal(prompt.name, "support/refund-bot");
    assert.equal(prompt.compile({ order_id: "A-1001" }), "주문 A-1001 환불을 도와드릴게요.");

    const list = await langfuse.api.prompts.list({ name: "support/refund-bot" });
    assert.equal(list.meta.totalItems, 1);
    assert.equal(list.data[0].name, "support/refund-bot");
    assert.deepEqual(list.data[0].versions, [1]);
  });

  test("lists prompts with pagination meta", async () => {
    const page = await langfuse.api.prompts.list({ page: 1, limit: 2 });
    assert.deepEqual(page.meta, { page: 1, limit: 2, totalItems: 3, totalPages: 2 });
    assert.deepEqual(
      page.data.map((p) => p.name),
      ["assistant", "greeting"],
    );
    const greeting = page.data[1];
    assert.deepEqual(greeting.versions, [1, 2]);
    assert.equal(greeting.type, "text");
  });

  test("rejects unknown prompts, labels and versions with a 404", async () => {
    await assert.rejects(langfuse.prompt.get("does-not-exist"), (err) => {
      assert.equal(err.statusCode, 404);
      assert.equal(err.body.error, "LangfuseNotFoundError");
      assert.match(err.body.message, /Prompt not found: 'does-not-exist'/);
      return true;
    });
    await assert.rejects(langfuse.prompt.get("greeting", { label: "no-such-label" }), { statusCode: 404 });
    await assert.rejects(langfuse.prompt.get("greeting", { version: 99 }), { statusCode: 404 });
  });

  test("returns the fallback when the prompt is missing", async () => {
    const prompt = await langfuse.prompt.get("missing", { fallback: "기본 {{x}}" });
    assert.equal(prompt.isFallback, true);
    assert.equal(prompt.compile({ x: "값" }), "기본 값");
  });

  test("rejects wrong credentials with a 401", async () => {
    const intruder = new LangfuseClient({
      publicKey: PUBLIC_KEY,
      secretKey: "sk-lf-wrong-wrong-wrong-wrong-wrong-wrong",
      baseUrl: server.baseUrl,
    });
    try {
      await assert.rejects(intruder.prompt.get("greeting"), (err) => {
        assert.equal(err.statusCode, 401);
        assert.equal(err.body.error, "UnauthorizedError");
        return true;
      });
    } finally {
      await intruder.shutdown?.().catch(() => {});
    }
  });

  test("deletes a prompt", async () => {
    await langfuse.prompt.create({ name: "temporary", prompt: "bye", labels: ["production"] });
    await langfuse.prompt.delete("temporary");
    await assert.rejects(langfuse.prompt.get("temporary", { cacheTtlSeconds: 0 }), { statusCode: 404 });
  });
});
