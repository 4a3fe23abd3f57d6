/**
 * Big payloads: 5 MB inputs, outputs, event data and entity state go through every store byte for
 * byte; a payload over the host's limit (maxPayloadBytes, default 16 MiB) is refused with
 * PAYLOAD_TOO_LARGE where it is produced, and an exception's megabyte message is stored cut, with a
 * marker.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { EntityId } from "../../src/core/entity-id.js";
import { type EntityOperationFailedError, type TaskFailedError } from "../../src/core/errors.js";
import { MAX_FAILURE_TEXT } from "../../src/core/failure.js";
import { forEachStore, storedHistory } from "../helpers/hosts.js";

const MB = 1024 * 1024;

/** A 5 MB string of every kind of character JSON and UTF-8 must carry: ASCII, escapes, accents, emoji. */
function bigText(bytes: number): string {
  const parts = ["plain ascii ", 'quote " backslash \\ newline \n tab \t ', "é à ü ñ ", "日本語 ", "😀🚀 ", randomBytes(48).toString("base64")];
  let s = "";
  for (let i = 0; s.length < bytes; i++) s += parts[i % parts.length];
  return s;
}
const digest = (value: unknown): string => createHash("sha256").update(JSON.stringify(value)).digest("hex");

function register(app: DurableApp): void {
  app.activity("echo", { handler: (x: unknown) => x });
  app.activity("huge", { handler: () => "x".repeat(20 * MB) });
  app.activity("loud", {
    handler: () => {
      throw new Error(`boom ${"!".repeat(MB)}`);
    },
  });
  app.entity<unknown>("box", (ctx) => {
    if (ctx.df.operationName === "set") ctx.df.setState(ctx.df.getInput());
    if (ctx.df.operationName === "get") ctx.df.return(ctx.df.getState());
    if (ctx.df.operationName === "grow") ctx.df.setState("y".repeat(ctx.df.getInput<number>()));
  });
  app.orchestration("roundTrip", function* (ctx) {
    const input = ctx.df.getInput<{ text: string }>();
    const echoed = (yield ctx.df.callActivity("echo", input)) as { text: string };
    const event = (yield ctx.df.waitForExternalEvent("data")) as { text: string };
    const box = new EntityId("box", ctx.df.instanceId);
    yield ctx.df.callEntity(box, "set", event);
    const state = (yield ctx.df.callEntity(box, "get")) as { text: string };
    // The output is 5 MB too; the other two are compared here, after their trip through the store.
    return { state, echoedIsInput: echoed.text === input.text, stateIsEvent: state.text === event.text, eventText: event.text.length };
  });
  app.orchestration("catchesHugeResult", function* (ctx) {
    try {
      yield ctx.df.callActivity("huge");
      return "no error";
    } catch (err) {
      const f = (err as TaskFailedError).failureDetails;
      return { code: f.code, errorType: f.errorType, message: f.errorMessage };
    }
  });
  app.orchestration("oversizedCalls", function* (ctx) {
    const big = "z".repeat(200 * 1024);
    const seen: Record<string, string | undefined> = {};
    const code = (err: unknown): string | undefined => (err as { code?: string }).code;
    try {
      yield ctx.df.callActivity("echo", big);
    } catch (err) {
      seen.activity = code(err);
    }
    try {
      ctx.df.sendEvent("elsewhere", "e", big);
    } catch (err) {
      seen.sendEvent = code(err);
    }
    try {
      yield ctx.df.callSubOrchestrator("roundTrip", { text: big });
    } catch (err) {
      seen.subOrchestration = code(err);
    }
    try {
      ctx.df.signalEntity(new EntityId("box", "k"), "set", big);
    } catch (err) {
      seen.signal = code(err);
    }
    try {
      ctx.df.continueAsNew(big);
    } catch (err) {
      seen.continueAsNew = code(err);
    }
    // What is under the limit still goes.
    seen.small = (yield ctx.df.callActivity("echo", "fine")) as string;
    return seen;
  });
  app.orchestration("oversizedOutput", function* () {
    return "o".repeat(200 * 1024);
  });
  app.orchestration("growsEntity", function* (ctx) {
    const box = new EntityId("box", "grow");
    yield ctx.df.callEntity(box, "set", "before");
    try {
      yield ctx.df.callEntity(box, "grow", 200 * 1024);
      return "no error";
    } catch (err) {
      const e = err as EntityOperationFailedError;
      return { code: e.failureDetails.code, state: (yield ctx.df.callEntity(box, "get")) as unknown };
    }
  });
  app.orchestration("catchesLoud", function* (ctx) {
    try {
      yield ctx.df.callActivity("loud");
      return "no error";
    } catch (err) {
      return (err as TaskFailedError).failureDetails.errorMessage;
    }
  });
}

forEachStore("payload limits", (start) => {
  it("5 MB of input, activity result, event data, entity state and output round-trip exactly", async () => {
    const host = await start(register);
    const text = bigText(5 * MB);
    assert.ok(Buffer.byteLength(JSON.stringify({ text })) > 5 * MB);
    const id = await host.client.startNew("roundTrip", { input: { text } });
    await host.client.raiseEvent(id, "data", { text: `${text}!` });
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 60_000 });
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output).slice(0, 500));
    const out = status.output as { state: { text: string }; echoedIsInput: boolean; stateIsEvent: boolean; eventText: number };
    assert.equal(digest(out.state), digest({ text: `${text}!` }));
    assert.deepEqual([out.echoedIsInput, out.stateIsEvent, out.eventText], [true, true, text.length + 1]);
    assert.equal(digest((await host.client.getStatus(id)).input), digest({ text }));
    const state = await host.client.readEntityState(new EntityId("box", id));
    assert.equal(digest(state.entityState), digest({ text: `${text}!` }));
  });

  it("a 20 MB activity result fails that activity with PAYLOAD_TOO_LARGE, which the orchestrator catches", async () => {
    const host = await start(register);
    const id = await host.client.startNew("catchesHugeResult");
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 60_000 });
    assert.equal(status.runtimeStatus, "Completed");
    const out = status.output as { code: string; errorType: string; message: string };
    assert.equal(out.code, "PAYLOAD_TOO_LARGE");
    assert.equal(out.errorType, "PayloadTooLargeError");
    assert.match(out.message, /^The result of activity 'huge' is 20\.0 MiB \(20,971,522 bytes\), over the payload limit of 16 MiB \(16,777,216 bytes\) \(maxPayloadBytes\)\. Keep large data elsewhere/);
  });

  it("with a smaller limit: each oversized payload the code makes throws at its call; an oversized output fails the instance", async () => {
    const host = await start(register, { maxPayloadBytes: 100 * 1024 });
    const id = await host.client.startNew("oversizedCalls");
    const status = await host.client.waitForCompletion(id);
    assert.deepEqual(status.output, { activity: "PAYLOAD_TOO_LARGE", sendEvent: "PAYLOAD_TOO_LARGE", subOrchestration: "PAYLOAD_TOO_LARGE", signal: "PAYLOAD_TOO_LARGE", continueAsNew: "PAYLOAD_TOO_LARGE", small: "fine" });
    // Nothing oversized was recorded: the only activity scheduled is the small one.
    const scheduled = (await storedHistory(host, id)).filter((e) => e.type === "TaskScheduled");
    assert.deepEqual(scheduled.map((e) => (e as { input?: unknown }).input), ["fine"]);

    const out = await host.client.startNew("oversizedOutput");
    const failed = await host.client.waitForCompletion(out);
    assert.equal(failed.runtimeStatus, "Failed");
    assert.equal(failed.failureDetails?.code, "PAYLOAD_TOO_LARGE");
    assert.match(String(failed.output), /The output of orchestrator 'oversizedOutput' is 204,802 bytes, over the payload limit of 102,400 bytes/);

    const grows = await host.client.startNew("growsEntity");
    assert.deepEqual((await host.client.waitForCompletion(grows)).output, { code: "PAYLOAD_TOO_LARGE", state: "before" }, "the operation failed and its state change was not kept");
  });

  it("the client refuses an oversized start input, event or signal with PAYLOAD_TOO_LARGE and stores nothing", async () => {
    const host = await start(register, { maxPayloadBytes: 100 * 1024 });
    const big = "b".repeat(150 * 1024);
    await assert.rejects(host.client.startNew("roundTrip", { instanceId: "too-big", input: big }), { code: "PAYLOAD_TOO_LARGE", message: /^The orchestration input is 153,602 bytes, over the payload limit of 102,400 bytes/ });
    assert.equal((await host.client.getStatusAll()).length, 0);
    const id = await host.client.startNew("roundTrip", { input: { text: "small" } });
    await assert.rejects(host.client.raiseEvent(id, "data", big), { code: "PAYLOAD_TOO_LARGE", message: /^The data of event 'data' is/ });
    await assert.rejects(host.client.signalEntity(new EntityId("box", "k"), "set", big), { code: "PAYLOAD_TOO_LARGE", message: /^The input of entity operation 'set' is/ });
    assert.equal((await host.client.readEntityState(new EntityId("box", "k"))).entityExists, false);
    await host.client.terminate(id, "done");
  });

  it("over HTTP, an oversized start input or event is 413 PAYLOAD_TOO_LARGE: over the body limit, or over the payload limit under it", async () => {
    const host = await start(register, { port: 0, maxBodyBytes: 4 * MB, maxPayloadBytes: MB });
    const base = `${host.url!}/runtime/webhooks/durabletask`;
    const body = JSON.stringify({ text: "p".repeat(2 * MB) });
    const refused = async (r: Response, message: RegExp): Promise<void> => {
      assert.equal(r.status, 413);
      const answer = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(answer.error.code, "PAYLOAD_TOO_LARGE");
      assert.match(answer.error.message, message);
    };
    const json = { "content-type": "application/json" };
    await refused(await fetch(`${base}/orchestrators/roundTrip/http-big`, { method: "POST", headers: json, body }), /^The orchestration input is 2\.0 MiB \(2,097,163 bytes\), over the payload limit of 1 MiB/);
    assert.equal((await fetch(`${base}/instances/http-big`)).status, 404, "nothing was started");
    const id = await host.client.startNew("roundTrip", { input: { text: "small" } });
    await refused(await fetch(`${base}/instances/${id}/raiseEvent/data`, { method: "POST", headers: json, body }), /^The data of event 'data' is 2\.0 MiB/);
    await refused(await fetch(`${base}/orchestrators/roundTrip`, { method: "POST", headers: json, body: JSON.stringify("q".repeat(5 * MB)) }), /^The request body is larger than the limit of 4194304 bytes/);
    await host.client.terminate(id, "done");
  });

  it("an exception with a 1 MB message is stored cut, with a marker, and the instance goes on", async () => {
    const host = await start(register);
    const id = await host.client.startNew("catchesLoud");
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 30_000 });
    assert.equal(status.runtimeStatus, "Completed");
    const message = status.output as string;
    assert.ok(message.length < MAX_FAILURE_TEXT + 100, `cut: ${message.length} characters`);
    assert.ok(message.startsWith("boom !!!!"));
    assert.match(message, /!… \[truncated: 1,048,581 characters in all\]$/);
    const failed = (await storedHistory(host, id)).find((e) => e.type === "TaskFailed") as { failureDetails: { errorMessage: string; stackTrace?: string } };
    assert.equal(failed.failureDetails.errorMessage, message);
    assert.ok(failed.failureDetails.stackTrace !== undefined, "the stack is kept");
    assert.ok(failed.failureDetails.stackTrace.length < MAX_FAILURE_TEXT + 100, "the stack (which repeats the message) is cut too");
    assert.match(failed.failureDetails.stackTrace, /… \[truncated: [\d,]+ characters in all\]$/);
  });
});
