import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { APPROVAL_EVENT, LONG_ORCHESTRATOR, QUICK_ORCHESTRATOR, register, type ReportInput, type ReportOutput } from "../../examples/async-http/functions.js";
import type { StatusPayload } from "../../src/client/wire.js";
import type { HttpManagementPayload } from "../../src/client/management-urls.js";
import { createApp, createHost, type Host } from "../../src/index.js";
import { assertAllReplayCleanly } from "../helpers/determinism.js";
import { STORES, type StoreKind } from "./harness.js";

const quiet = { info: (): void => undefined, warn: (): void => undefined, error: (): void => undefined };

/**
 * As `withExampleHost`, but the host listens for real (port 0 on 127.0.0.1), since this example is
 * driven over HTTP; ends with the determinism self-check on every instance.
 */
async function withHttpHost(kind: StoreKind, body: (host: Host & { url: string }) => Promise<void>, key?: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "perdure-example-"));
  const app = createApp();
  register(app);
  const store = kind === "memory" ? "memory:" : `sqlite:${join(dir, "store", "perdure.db")}`;
  const host = createHost({ app, store, port: 0, logger: quiet, ...(key ? { key } : {}) });
  await host.start();
  try {
    assert.match(host.url ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
    await body(host as Host & { url: string });
    const replayed = await assertAllReplayCleanly(host.provider, app.registry);
    assert.ok(replayed > 0, "the determinism self-check replayed at least one instance");
  } finally {
    await host.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const PAYLOAD_KEYS = ["id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "rewindPostUri", "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"];

function post(url: string, json?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: json === undefined ? headers : { "content-type": "application/json", ...headers },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
}

/** Checks a 202 check-status answer (headers and all 9 URLs) and returns its payload. */
async function acceptedPayload(res: Response, origin: string, suffix = "taskHub=perdure&connection=Storage"): Promise<HttpManagementPayload> {
  assert.equal(res.status, 202);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const payload = (await res.json()) as HttpManagementPayload;
  assert.deepEqual(Object.keys(payload), PAYLOAD_KEYS);
  assert.match(payload.id, /^[0-9a-f]{32}$/, "generated IDs are GUIDs without dashes");
  const base = `${origin}/runtime/webhooks/durabletask/instances/${payload.id}`;
  assert.deepEqual(payload, {
    id: payload.id,
    statusQueryGetUri: `${base}?${suffix}`,
    sendEventPostUri: `${base}/raiseEvent/{eventName}?${suffix}`,
    terminatePostUri: `${base}/terminate?reason={text}&${suffix}`,
    rewindPostUri: `${base}/rewind?reason={text}&${suffix}`,
    purgeHistoryDeleteUri: `${base}?${suffix}`,
    restartPostUri: `${base}/restart?${suffix}`,
    suspendPostUri: `${base}/suspend?reason={text}&${suffix}`,
    resumePostUri: `${base}/resume?reason={text}&${suffix}`,
  });
  assert.equal(res.headers.get("location"), payload.statusQueryGetUri);
  assert.equal(res.headers.get("retry-after"), "10");
  return payload;
}

/** Polls a status URL as an HTTP client would (following Location) until it stops answering 202. */
async function pollUntilDone(url: string, timeoutMs = 10_000): Promise<{ status: number; body: StatusPayload; accepted: number }> {
  const deadline = Date.now() + timeoutMs;
  let accepted = 0;
  for (;;) {
    const res = await fetch(url);
    const body = (await res.json()) as StatusPayload;
    if (res.status !== 202) return { status: res.status, body, accepted };
    accepted++;
    assert.ok(["Pending", "Running"].includes(body.runtimeStatus), `202 while ${body.runtimeStatus}`);
    assert.equal(res.headers.get("retry-after"), "5");
    url = res.headers.get("location") ?? assert.fail("a 202 status answer has a Location header");
    if (Date.now() > deadline) assert.fail(`still 202 after ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function expectedReport(report: string, approvedBy?: string): ReportOutput {
  return {
    report,
    rows: 4,
    total: 446,
    summary: `${report}: 446 units over 4 regions, best East (143)`,
    location: `reports/${report.toLowerCase().replace(/[^a-z0-9]+/g, "-")}.txt`,
    ...(approvedBy ? { approvedBy } : {}),
  };
}

async function errorOf(res: Response, status: number, code: string): Promise<string> {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = (await res.json()) as { Message: string; error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  assert.equal(body.Message, body.error.message);
  return body.Message;
}

async function instanceCount(host: Host): Promise<number> {
  return (await host.client.getStatusAll()).length;
}

for (const store of STORES) {
  describe(`example async-http (${store})`, () => {
    it("POST /api/orchestrators/processReport: 202 + Location + payload; the status URL answers 202, then 200 with the output", async () => {
      await withHttpHost(store, async (host) => {
        const input: ReportInput = { report: "Q3 sales", stepDelayMs: 150 };
        const payload = await acceptedPayload(await post(`${host.url}/api/orchestrators/${LONG_ORCHESTRATOR}`, input), host.url);

        const first = await fetch(payload.statusQueryGetUri);
        assert.equal(first.status, 202, "the instance is still running right after the start");
        assert.equal(first.headers.get("location"), payload.statusQueryGetUri);
        assert.equal(first.headers.get("retry-after"), "5");
        const running = (await first.json()) as StatusPayload;
        assert.equal(running.name, LONG_ORCHESTRATOR);
        assert.equal(running.instanceId, payload.id);
        assert.deepEqual(running.input, input);
        assert.equal(running.output, null);
        assert.match(running.createdTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

        const done = await pollUntilDone(payload.statusQueryGetUri);
        assert.equal(done.status, 200);
        assert.equal(done.body.runtimeStatus, "Completed");
        assert.deepEqual(done.body.output, expectedReport("Q3 sales"));
        assert.deepEqual(done.body.customStatus, { stage: "done", stepsDone: 3, steps: 3 });
        assert.equal(done.body.historyEvents, undefined, "no history unless asked for");

        // The two pauses are durable timers between the three activities.
        const history = await fetch(`${payload.statusQueryGetUri}&showHistory=true`);
        const events = ((await history.json()) as StatusPayload).historyEvents!.map((e) => (typeof e.FunctionName === "string" ? `${String(e.EventType)}:${e.FunctionName}` : String(e.EventType)));
        assert.deepEqual(events.filter((e) => e !== "TimerCreated"), [
          `ExecutionStarted:${LONG_ORCHESTRATOR}`,
          "TaskCompleted:collectData",
          "TimerFired",
          "TaskCompleted:renderReport",
          "TimerFired",
          "TaskCompleted:publishReport",
          "ExecutionCompleted",
        ]);
      });
    });

    it("an empty body means no input; a non-JSON body answers 400 with a JSON error and starts nothing", async () => {
      await withHttpHost(store, async (host) => {
        const bad = await fetch(`${host.url}/api/orchestrators/${LONG_ORCHESTRATOR}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
        assert.match(await errorOf(bad, 400, "INVALID_JSON"), /must be JSON/);
        const unknown = await post(`${host.url}/api/orchestrators/noSuchOrchestrator`, {});
        assert.match(await errorOf(unknown, 400, "FUNCTION_NOT_FOUND"), /noSuchOrchestrator/);
        const wrongMethod = await fetch(`${host.url}/api/orchestrators/${QUICK_ORCHESTRATOR}`);
        await errorOf(wrongMethod, 405, "METHOD_NOT_ALLOWED");
        assert.equal(await instanceCount(host), 0);

        const payload = await acceptedPayload(await post(`${host.url}/api/orchestrators/${QUICK_ORCHESTRATOR}`), host.url);
        const done = await pollUntilDone(payload.statusQueryGetUri);
        assert.equal(done.status, 200);
        assert.equal(done.body.input, null);
        assert.deepEqual(done.body.output, ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]);
      });
    });

    it("httpSyncStart: 200 with the bare output when done in time, the 202 payload when not", async () => {
      await withHttpHost(store, async (host) => {
        const quick = await post(`${host.url}/api/orchestrators/wait/${QUICK_ORCHESTRATOR}`);
        assert.equal(quick.status, 200);
        assert.deepEqual(await quick.json(), ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]);

        const t0 = Date.now();
        const slow = await post(`${host.url}/api/orchestrators/wait/${LONG_ORCHESTRATOR}?timeout=0.3&retryInterval=0.05`, { stepDelayMs: 60_000 });
        const elapsed = Date.now() - t0;
        assert.ok(elapsed >= 250 && elapsed < 5_000, `answered after the 0.3 s timeout (${elapsed} ms)`);
        const payload = await acceptedPayload(slow, host.url);
        assert.equal((await fetch(payload.statusQueryGetUri)).status, 202);

        // The payload's URLs manage the instance: terminate it instead of waiting a minute.
        const terminated = await fetch(payload.terminatePostUri.replace("{text}", encodeURIComponent("no need")), { method: "POST" });
        assert.equal(terminated.status, 202);
        const done = await pollUntilDone(payload.statusQueryGetUri);
        assert.equal(done.status, 200);
        assert.equal(done.body.runtimeStatus, "Terminated");
        assert.equal(done.body.output, "no need");

        // Bad waits are refused before anything starts.
        const before = await instanceCount(host);
        await errorOf(await post(`${host.url}/api/orchestrators/wait/${QUICK_ORCHESTRATOR}?timeout=soon`), 400, "INVALID_QUERY_PARAMETER");
        await errorOf(await post(`${host.url}/api/orchestrators/wait/${QUICK_ORCHESTRATOR}?timeout=1&retryInterval=2`), 400, "INVALID_QUERY_PARAMETER");
        await errorOf(await fetch(`${host.url}/api/orchestrators/wait/${QUICK_ORCHESTRATOR}`, { method: "POST", body: "nope" }), 400, "INVALID_JSON");
        assert.equal(await instanceCount(host), before);
      });
    });

    it("the payload's sendEventPostUri delivers the Approve event that processReport waits for", async () => {
      await withHttpHost(store, async (host) => {
        const input: ReportInput = { report: "Budget 2027", stepDelayMs: 0, requireApproval: true };
        const payload = await acceptedPayload(await post(`${host.url}/api/orchestrators/${LONG_ORCHESTRATOR}`, input), host.url);
        const raised = await post(payload.sendEventPostUri.replace("{eventName}", APPROVAL_EVENT), { by: "alice" });
        assert.equal(raised.status, 202);
        const done = await pollUntilDone(payload.statusQueryGetUri);
        assert.equal(done.status, 200);
        assert.deepEqual(done.body.output, expectedReport("Budget 2027", "alice"));

        const late = await post(payload.sendEventPostUri.replace("{eventName}", APPROVAL_EVENT), { by: "bob" });
        await errorOf(late, 410, "INSTANCE_GONE");
      });
    });

    it("with a key, the starters and the status URL need it, and the payload URLs carry it", async () => {
      const key = "s3cret key/+";
      await withHttpHost(
        store,
        async (host) => {
          const start = `${host.url}/api/orchestrators/${QUICK_ORCHESTRATOR}`;
          await errorOf(await post(start), 401, "UNAUTHORIZED");
          await errorOf(await post(`${start}?code=wrong`), 401, "UNAUTHORIZED");
          await errorOf(await post(`${host.url}/api/orchestrators/wait/${QUICK_ORCHESTRATOR}`), 401, "UNAUTHORIZED");
          assert.equal(await instanceCount(host), 0);

          const byHeader = await acceptedPayload(await post(start, undefined, { "x-functions-key": key }), host.url, `taskHub=perdure&connection=Storage&code=${encodeURIComponent(key).replace(/%20/g, "+")}`);
          const byQuery = await post(`${start}?code=${encodeURIComponent(key)}`);
          assert.equal(byQuery.status, 202);
          await byQuery.body?.cancel();

          const bare = byHeader.statusQueryGetUri.replace(/&code=.*$/, "");
          await errorOf(await fetch(bare), 401, "UNAUTHORIZED");
          const done = await pollUntilDone(byHeader.statusQueryGetUri);
          assert.equal(done.status, 200);
          assert.deepEqual(done.body.output, ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]);

          const sync = await post(`${host.url}/api/orchestrators/wait/${QUICK_ORCHESTRATOR}`, undefined, { "x-functions-key": key });
          assert.equal(sync.status, 200);
          assert.deepEqual(await sync.json(), ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]);
        },
        key,
      );
    });
  });
}
