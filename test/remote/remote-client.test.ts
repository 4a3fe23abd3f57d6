import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { createRemoteClient, RemoteDurableClient } from "../../src/client/remote-client.js";
import { InstanceNotFoundError, InvalidArgumentError, InvalidInstanceStateError } from "../../src/core/errors.js";
import * as df from "../../src/index.js";
import type { Host } from "../../src/host/host.js";
import { eventually, forEachStore, type TestHostOptions } from "../helpers/hosts.js";

const KEY = "k";
const BASE = "/runtime/webhooks/durabletask";

function registerBasics(app: DurableApp): void {
  app.activity("echo", { handler: (x: unknown) => x });
  app.orchestration("echoOnce", function* (ctx) {
    return yield ctx.df.callActivity("echo", ctx.df.getInput());
  });
  app.orchestration("waitForGo", function* (ctx) {
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
  app.orchestration("failsNow", function* () {
    throw new Error("boom");
  });
}

interface Seen {
  method: string;
  url: string;
  headers: Headers;
}

const urlOf = (input: string | URL | Request): string => (typeof input === "string" ? input : input instanceof URL ? input.href : input.url);

/** A fetch that records every request, then sends it on. */
function spyFetch(): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const f: typeof fetch = (input, init) => {
    seen.push({ method: init?.method ?? "GET", url: urlOf(input), headers: new Headers(init?.headers) });
    return fetch(input, init);
  };
  return { fetch: f, seen };
}

forEachStore("remote client", (startHost) => {
  /** A real host on a free port with key "k", and a RemoteDurableClient pointed at it. */
  const start = async (register: (app: DurableApp) => void, options: TestHostOptions = {}): Promise<{ host: Host; client: RemoteDurableClient }> => {
    const host = await startHost(register, { port: 0, key: KEY, ...options });
    assert.ok(host.url, "the host listens");
    return { host, client: new RemoteDurableClient(host.url, { key: KEY }) };
  };

  it("startNew generates 32-hex ids, accepts given ids, refuses running ones and replaces finished ones", async () => {
    const { client } = await start(registerBasics);
    const generated = await client.startNew("echoOnce", { input: 1 });
    assert.match(generated, /^[0-9a-f]{32}$/);
    const id = await client.startNew("waitForGo", { instanceId: "fixed" });
    assert.equal(id, "fixed");
    const refused = await client.startNew("waitForGo", { instanceId: "fixed" }).then(
      () => assert.fail("a running instance must not be replaced"),
      (e: unknown) => e,
    );
    assert.ok(refused instanceof df.InstanceAlreadyExistsError);
    assert.equal(refused.code, "INSTANCE_ALREADY_EXISTS");
    assert.match(refused.message, /'fixed'/, "the server's message is kept");
    await client.raiseEvent("fixed", "go", "first");
    assert.equal((await client.waitForCompletion("fixed")).output, "first");
    await client.startNew("echoOnce", { instanceId: "fixed", input: "second run" });
    const status = await client.waitForCompletion("fixed");
    assert.equal(status.name, "echoOnce");
    assert.equal(status.output, "second run");
    const history = (await client.getStatus("fixed", { showHistory: true })).history!;
    assert.equal(history.filter((e) => e.EventType === "ExecutionStarted").length, 1, "the old history is gone");
    await client.waitForCompletion(generated);
  });

  it("rejects bad input with clear errors (typed, with the local client's codes)", async () => {
    const { client } = await start(registerBasics);
    const nope = await client.startNew("nope").catch((e: unknown) => e);
    assert.ok(nope instanceof df.FunctionNotFoundError);
    assert.equal(nope.code, "FUNCTION_NOT_FOUND");
    assert.match(nope.message, /'nope' doesn't exist.*'echoOnce'/);
    await assert.rejects(client.startNew(""), { code: "INVALID_ARGUMENT", message: "orchestratorFunctionName must be a valid string." });
    for (const bad of ["", "a/b", "a\\b", "a#b", "a?b", "tab\there", "@entity", "x".repeat(257)]) {
      await assert.rejects(client.startNew("echoOnce", { instanceId: bad }), { code: "INVALID_ARGUMENT" }, `instance id ${JSON.stringify(bad)}`);
    }
    await assert.rejects(client.startNew("echoOnce", { input: { big: 1n } }), { code: "PAYLOAD_NOT_SERIALIZABLE" });
    const missing = await client.getStatus("missing").catch((e: unknown) => e);
    assert.ok(missing instanceof InstanceNotFoundError);
    assert.equal(missing.instanceId, "missing");
    assert.equal(missing.message, "No instance with ID 'missing' found.");
    await assert.rejects(client.raiseEvent("missing", "go"), { code: "INSTANCE_NOT_FOUND" });
    await assert.rejects(client.terminate("missing", "r"), { code: "INSTANCE_NOT_FOUND" });
    await assert.rejects(client.suspend("missing", "r"), { code: "INSTANCE_NOT_FOUND" });
    await assert.rejects(client.resume("missing", "r"), { code: "INSTANCE_NOT_FOUND" });
    await assert.rejects(client.restart("missing"), { code: "INSTANCE_NOT_FOUND" });
    await assert.rejects(client.raiseEvent("missing", ""), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.getStatus("a/b"), { code: "INVALID_ARGUMENT" });
    // Rejected by the server (the token is checked by the store), mapped back to INVALID_ARGUMENT.
    const badToken = await client.listInstances({ continuationToken: "not-a-token" }).catch((e: unknown) => e);
    assert.ok(badToken instanceof InvalidArgumentError);
    assert.match(badToken.message, /continuation token is not valid/);
    await assert.rejects(client.listInstances({ continuationToken: "caf\u00e9\n" }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.listInstances({ runtimeStatus: ["Sleeping" as never] }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.listInstances({ pageSize: 0 }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.listInstances({ createdTimeFrom: new Date(NaN) }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.purgeInstanceHistoryBy({} as never), /createdTimeFrom/);
    // The server's INVALID_QUERY_PARAMETER becomes INVALID_ARGUMENT, as the local client would say.
    await assert.rejects(client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), runtimeStatus: ["Sleeping" as never] }), { code: "INVALID_ARGUMENT", message: /Unknown runtime status 'Sleeping'/ });
  });

  it("validates instance ids and event names before sending anything", async () => {
    const { host } = await start(registerBasics);
    const spy = spyFetch();
    const client = new RemoteDurableClient(host.url!, { key: KEY, fetch: spy.fetch });
    await assert.rejects(client.getStatus("a?b"), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.raiseEvent("x", "bad\u0001name"), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.terminate("#x", "r"), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.purgeInstanceHistory("@e@k"), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.raiseEvent("x", "go", () => 1), { code: "PAYLOAD_NOT_SERIALIZABLE" });
    // A URL would read "." and ".." as relative references and reach another route (GET instances/.
    // is the list; POST orchestrators/w/. starts a new ID), so they are refused as IDs and names.
    for (const dots of [".", ".."]) {
      await assert.rejects(client.getStatus(dots), { code: "INVALID_ARGUMENT", message: /cannot be used in URLs/ });
      await assert.rejects(client.startNew("waitForGo", { instanceId: dots }), { code: "INVALID_ARGUMENT" });
      await assert.rejects(client.purgeInstanceHistory(dots), { code: "INVALID_ARGUMENT" });
      await assert.rejects(client.raiseEvent("x", dots), { code: "INVALID_ARGUMENT" });
      await assert.rejects(client.startNew(dots), { code: "INVALID_ARGUMENT" });
    }
    assert.deepEqual(spy.seen, [], "no request went out");
  });

  it("encodes every path segment: ids and event names with spaces, %, +, unicode and slashes round-trip", async () => {
    const { client } = await start(registerBasics);
    const id = "odd id %41+é&x=1";
    assert.equal(await client.startNew("waitForGo", { instanceId: id }), id);
    await eventually(async () => (await client.getStatus(id)).runtimeStatus === "Running");
    await client.raiseEvent(id, "other/event name", "ignored");
    await client.raiseEvent(id, "go", { v: "ü" });
    const status = await client.waitForCompletion(id);
    assert.equal(status.instanceId, id);
    assert.deepEqual(status.output, { v: "ü" });
    const raised = (await client.getStatus(id, { showHistory: true })).history!.filter((e) => e.EventType === "EventRaised").map((e) => e.Name);
    assert.deepEqual(raised.sort(), ["go", "other/event name"]);
    assert.deepEqual(await client.purgeInstanceHistory(id), { instancesDeleted: 1 });
  });

  it("getHistoryPage pages the stored history, up to its largest page (5000), as the local client does", async () => {
    const { host, client } = await start(registerBasics);
    const id = await client.startNew("echoOnce", { input: 1 });
    await client.waitForCompletion(id);
    const local = await host.client.getHistoryPage(id, { limit: 5_000 });
    const remote = await client.getHistoryPage(id, { limit: 5_000 });
    assert.deepEqual(remote, local);
    assert.equal(remote.nextFrom, undefined);
    const first = await client.getHistoryPage(id, { limit: 2 });
    assert.equal(first.events.length, 2);
    assert.equal(first.nextFrom, 2);
    assert.deepEqual((await client.getHistoryPage(id, { from: 2, limit: 5_000 })).events, local.events.slice(2));
  });

  it("getStatus honours showInput, showHistory and showHistoryOutput", async () => {
    const { client } = await start(registerBasics);
    const id = await client.startNew("echoOnce", { input: { secret: 1 } });
    await client.waitForCompletion(id);
    const plain = await client.getStatus(id);
    assert.deepEqual(plain.input, { secret: 1 });
    assert.equal(plain.history, undefined);
    assert.equal(plain.runtimeStatus, "Completed");
    assert.deepEqual(plain.output, { secret: 1 });
    assert.ok(plain.createdTime instanceof Date && plain.lastUpdatedTime instanceof Date && plain.lastUpdatedTime >= plain.createdTime);
    assert.equal((await client.getStatus(id, { showInput: false })).input, null);
    const withHistory = await client.getStatus(id, { showHistory: true });
    const types = withHistory.history!.map((e) => e.EventType);
    assert.deepEqual(types, ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"], "the historyEvents projection (scheduled rows merged, no OrchestratorStarted rows)");
    const completed = withHistory.history!.find((e) => e.EventType === "TaskCompleted")! as Record<string, unknown>;
    assert.equal("Result" in completed, false, "results only with showHistoryOutput");
    assert.equal(completed.FunctionName, "echo");
    assert.deepEqual(completed.Input, { secret: 1 });
    const withOutput = await client.getStatus(id, { showHistory: true, showHistoryOutput: true });
    assert.deepEqual(withOutput.history!.find((e) => e.EventType === "TaskCompleted")!.Result, { secret: 1 });
    const noInput = await client.getStatus(id, { showHistory: true, showInput: false });
    assert.equal("Input" in noInput.history!.find((e) => e.EventType === "ExecutionStarted")!, false);
    // A running instance answers 202: still an answer.
    const running = await client.startNew("waitForGo");
    assert.ok(["Pending", "Running"].includes((await client.getStatus(running)).runtimeStatus));
    await client.terminate(running, "cleanup");
    await client.waitForCompletion(running);
  });

  it("queries by status, creation time and id prefix, with paging through the continuation token", async () => {
    const { host } = await start(registerBasics);
    const spy = spyFetch();
    const client = createRemoteClient(`${host.url!}/`, { key: KEY, fetch: spy.fetch });
    const before = new Date(Date.now() - 1000);
    for (let i = 0; i < 7; i++) await client.startNew("echoOnce", { instanceId: `batch-${i}`, input: i });
    await client.startNew("waitForGo", { instanceId: "other-1" });
    for (let i = 0; i < 7; i++) await client.waitForCompletion(`batch-${i}`);
    await eventually(async () => (await client.getStatus("other-1")).runtimeStatus === "Running");

    const all = await client.getStatusAll();
    assert.equal(all.length, 8);
    assert.ok(all.every((s) => s.createdTime instanceof Date && s.history === undefined));
    const completed = await client.getStatusBy({ runtimeStatus: ["Completed"] });
    assert.deepEqual(completed.map((s) => s.instanceId).sort(), [0, 1, 2, 3, 4, 5, 6].map((i) => `batch-${i}`));
    assert.equal((await client.getStatusBy({ runtimeStatus: ["Running", "Pending"] })).length, 1);
    assert.equal((await client.getStatusBy({ instanceIdPrefix: "other" })).length, 1);
    assert.equal((await client.getStatusBy({ createdTimeFrom: new Date(Date.now() + 60_000) })).length, 0);
    assert.equal((await client.getStatusBy({ createdTimeFrom: before, createdTimeTo: new Date(Date.now() + 1000) })).length, 8);
    assert.ok((await client.getStatusBy({ instanceIdPrefix: "batch-", showInput: false })).every((s) => s.input === null));

    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    spy.seen.length = 0;
    do {
      const page = await client.listInstances(token ? { instanceIdPrefix: "batch-", pageSize: 3, continuationToken: token } : { instanceIdPrefix: "batch-", pageSize: 3 });
      assert.ok(page.instances.length <= 3);
      seen.push(...page.instances.map((s) => s.instanceId));
      token = page.continuationToken;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5, 6].map((i) => `batch-${i}`));
    assert.equal(spy.seen.length, 3, "one request per page");
    assert.equal(new URL(spy.seen[0]!.url).searchParams.get("top"), "3");
    assert.equal(spy.seen[0]!.headers.get("x-ms-continuation-token"), null);
    assert.ok(spy.seen[1]!.headers.get("x-ms-continuation-token"), "the token travels in the request header");

    // getStatusBy follows the token across pages by itself (pages of 1000 here, so: a filter that pages is needed).
    spy.seen.length = 0;
    assert.equal((await client.getStatusBy({ instanceIdPrefix: "batch-" })).length, 7);
    assert.equal(spy.seen.length, 1);
    await client.terminate("other-1", "done testing");
    await client.waitForCompletion("other-1");
  });

  it("getStatusAll and getStatusBy follow x-ms-continuation-token until it is absent", async () => {
    // A stub server that pages by hand, to see the client concatenate pages.
    const requests: { url: string; token: string | null }[] = [];
    const row = (id: string): Record<string, unknown> => ({
      name: "o", instanceId: id, runtimeStatus: "Completed", input: null, customStatus: null, output: 1, createdTime: "2026-01-01T00:00:00Z", lastUpdatedTime: "2026-01-01T00:00:01Z",
    });
    const fakeFetch: typeof fetch = async (input, init) => {
      const token = new Headers(init?.headers).get("x-ms-continuation-token");
      requests.push({ url: urlOf(input), token });
      const pages: Record<string, [string[], string | undefined]> = { first: [["a", "b"], "t1"], t1: [["c"], "t2"], t2: [["d"], undefined] };
      const [ids, next] = pages[token ?? "first"]!;
      return new Response(JSON.stringify(ids.map(row)), { status: 200, headers: next ? { "x-ms-continuation-token": next } : {} });
    };
    const client = new RemoteDurableClient("http://perdure.invalid:7071", { fetch: fakeFetch });
    const all = await client.getStatusAll();
    assert.deepEqual(all.map((s) => s.instanceId), ["a", "b", "c", "d"]);
    assert.deepEqual(all[0]!.createdTime, new Date("2026-01-01T00:00:00Z"));
    assert.deepEqual(requests.map((r) => r.token), [null, "t1", "t2"]);
    assert.ok(requests.every((r) => r.url.startsWith(`http://perdure.invalid:7071${BASE}/instances/`)));
    requests.length = 0;
    await client.getStatusBy({ runtimeStatus: ["Completed", "Failed"], createdTimeFrom: new Date("2026-01-01T00:00:00Z") });
    const q = new URL(requests[0]!.url).searchParams;
    assert.equal(q.get("runtimeStatus"), "Completed,Failed");
    assert.equal(q.get("createdTimeFrom"), "2026-01-01T00:00:00.000Z");
    assert.equal(requests.length, 3);
  });

  it("terminates a running instance with the reason as output, and ignores terminating a finished one (410)", async () => {
    const { host, client } = await start(registerBasics);
    const id = await client.startNew("waitForGo");
    await client.terminate(id, "operator said stop");
    const status = await client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Terminated");
    assert.equal(status.output, "operator said stop");
    await client.terminate(id, "again");
    await client.raiseEvent(id, "go", "late");
    await client.suspend(id, "too late");
    await client.resume(id, "too late");
    assert.equal((await client.getStatus(id)).output, "operator said stop");
    // The server does answer 410 to these (the client resolves as durable-functions does).
    const res = await fetch(`${host.url!}${BASE}/instances/${id}/terminate?reason=x`, { method: "POST", headers: { "x-functions-key": KEY } });
    assert.equal(res.status, 410);
  });

  it("suspends and resumes; events raised while suspended are held, not lost", async () => {
    const { client } = await start(registerBasics);
    const id = await client.startNew("waitForGo");
    await eventually(async () => (await client.getStatus(id)).runtimeStatus === "Running");
    await client.suspend(id, "maintenance");
    await eventually(async () => (await client.getStatus(id)).runtimeStatus === "Suspended", 10_000, "suspended");
    // Over HTTP, suspending a suspended instance is a 409 (as the Durable Functions API answers).
    const again = await client.suspend(id, "twice").catch((e: unknown) => e);
    assert.ok(again instanceof InvalidInstanceStateError);
    assert.match(again.message, /Cannot suspend the orchestration instance .* Suspended state/);
    await client.raiseEvent(id, "go", "held");
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await client.getStatus(id)).runtimeStatus, "Suspended");
    await client.resume(id, "back");
    const status = await client.waitForCompletion(id);
    assert.equal(status.output, "held");
    const history = (await client.getStatus(id, { showHistory: true })).history!;
    const types = history.map((e) => e.EventType);
    assert.ok(types.indexOf("ExecutionSuspended") < types.indexOf("ExecutionResumed"));
    assert.equal((history.find((e) => e.EventType === "ExecutionSuspended") as { Reason?: string }).Reason, "maintenance");
  });

  it("resuming a running instance is a 409 INVALID_INSTANCE_STATE", async () => {
    const { client } = await start(registerBasics);
    const id = await client.startNew("waitForGo");
    await eventually(async () => (await client.getStatus(id)).runtimeStatus === "Running");
    await assert.rejects(client.resume(id, "not suspended"), { code: "INVALID_INSTANCE_STATE", message: /Cannot resume .* Running state/ });
    await client.terminate(id, "cleanup");
    await client.waitForCompletion(id);
  });

  it("restarts with the original input, under a new id or the same one", async () => {
    const { client } = await start(registerBasics);
    const id = await client.startNew("echoOnce", { input: "original" });
    await client.waitForCompletion(id);
    const newId = await client.restart(id);
    assert.notEqual(newId, id);
    assert.match(newId, /^[0-9a-f]{32}$/);
    assert.equal((await client.waitForCompletion(newId)).output, "original");
    const sameId = await client.restart(id, { restartWithNewInstanceId: false });
    assert.equal(sameId, id);
    assert.equal((await client.waitForCompletion(id)).output, "original");
  });

  it("rewinds a failed instance: the failed activity runs again and the instance completes", async () => {
    let healthy = false;
    let calls = 0;
    const { client } = await start((app) => {
      app.activity("first", { handler: () => "one" });
      app.activity("fragile", {
        handler: () => {
          calls++;
          if (!healthy) throw new Error("downstream is down");
          return "two";
        },
      });
      app.orchestration("rewindable", function* (ctx) {
        const a: unknown = yield ctx.df.callActivity("first");
        const b: unknown = yield ctx.df.callActivity("fragile");
        return [a, b];
      });
      app.orchestration("waitForGo", function* (ctx) {
        return yield ctx.df.waitForExternalEvent("go");
      });
    });
    const id = await client.startNew("rewindable");
    const failed = await client.waitForCompletion(id);
    assert.equal(failed.runtimeStatus, "Failed");
    assert.match(String(failed.output), /downstream is down/);
    const failedRow = (await client.getStatus(id, { showHistory: true })).history!.find((e) => e.EventType === "TaskFailed") as Record<string, unknown>;
    assert.equal(failedRow.FunctionName, "fragile");
    assert.match(String(failedRow.Reason), /downstream is down/);
    await assert.rejects(client.rewind("missing-instance", "r"), { code: "INSTANCE_NOT_FOUND" });
    healthy = true;
    await client.rewind(id, "downstream fixed");
    await eventually(async () => (await client.getStatus(id)).runtimeStatus !== "Failed", 10_000, "rewind picked up");
    const status = await client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Completed");
    assert.deepEqual(status.output, ["one", "two"]);
    assert.equal(calls, 2);
    const history = (await client.getStatus(id, { showHistory: true })).history!;
    assert.equal(history.filter((e) => e.EventType === "TaskFailed").length, 0, "the failure record was rewound");
    assert.equal(history.filter((e) => e.EventType === "ExecutionRewound").length, 1);
    // Completed: the server answers 410; the client says what durable-functions says.
    const done = await client.rewind(id, "not failed").catch((e: unknown) => e);
    assert.ok(done instanceof InvalidInstanceStateError);
    assert.equal(done.code, "INVALID_INSTANCE_STATE");
    assert.match(done.message, /^The rewind operation is only supported on failed orchestration instances\./);
    // Running: the server answers 409.
    const running = await client.startNew("waitForGo");
    await assert.rejects(client.rewind(running, "not failed"), { code: "INVALID_INSTANCE_STATE", message: /only supported on failed/ });
    await client.terminate(running, "cleanup");
    await client.waitForCompletion(running);
  });

  it("rewinds a failed sub-orchestration through its parent", async () => {
    let healthy = false;
    const { client } = await start((app) => {
      app.activity("fragile", {
        handler: () => {
          if (!healthy) throw new Error("not yet");
          return "fixed";
        },
      });
      app.orchestration("childOf", function* (ctx) {
        return yield ctx.df.callActivity("fragile");
      });
      app.orchestration("parentOf", function* (ctx) {
        return yield ctx.df.callSubOrchestrator("childOf", undefined, "rewind-child");
      });
    });
    const id = await client.startNew("parentOf");
    assert.equal((await client.waitForCompletion(id)).runtimeStatus, "Failed");
    healthy = true;
    await client.rewind(id, "retry all");
    await eventually(async () => (await client.getStatus(id)).runtimeStatus !== "Failed", 10_000, "rewind picked up");
    assert.equal((await client.waitForCompletion(id)).output, "fixed");
    assert.equal((await client.getStatus("rewind-child")).runtimeStatus, "Completed");
  });

  it("purges one instance and purges by filter (finished instances only)", async () => {
    const { client } = await start(registerBasics);
    const from = new Date(Date.now() - 1000);
    const done = [];
    for (let i = 0; i < 3; i++) done.push(await client.startNew("echoOnce", { input: i }));
    for (const id of done) await client.waitForCompletion(id);
    const running = await client.startNew("waitForGo");
    assert.deepEqual(await client.purgeInstanceHistory(done[0]!), { instancesDeleted: 1 });
    assert.deepEqual(await client.purgeInstanceHistory(done[0]!), { instancesDeleted: 0 });
    await assert.rejects(client.getStatus(done[0]!), { code: "INSTANCE_NOT_FOUND" });
    assert.deepEqual(await client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: ["Failed"] }), { instancesDeleted: 0 });
    assert.deepEqual(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(Date.now() + 60_000) }), { instancesDeleted: 0 });
    assert.deepEqual(await client.purgeInstanceHistoryBy({ createdTimeFrom: from, createdTimeTo: new Date(Date.now() + 1000) }), { instancesDeleted: 2 });
    assert.equal((await client.getStatus(running)).instanceId, running, "running instances are not purged by filter");
    await client.terminate(running, "cleanup");
    await client.waitForCompletion(running);
  });

  it("waitForCompletion times out with a typed error", async () => {
    const { client } = await start(registerBasics);
    const id = await client.startNew("waitForGo");
    const t0 = Date.now();
    const err = await client.waitForCompletion(id, { timeoutInMilliseconds: 100 }).catch((e: unknown) => e);
    assert.ok(err instanceof df.WaitTimeoutError);
    assert.equal(err.code, "WAIT_TIMEOUT");
    assert.ok(Date.now() - t0 >= 95);
    await client.terminate(id, "cleanup");
    await client.waitForCompletion(id);
  });

  it("a wrong or missing key is UNAUTHORIZED, and no key ever shows up in a message or a request URL", async () => {
    const { host } = await start(registerBasics);
    const wrong = new RemoteDurableClient(host.url!, { key: "wrong-secret-123" });
    for (const call of [() => wrong.getStatus("x"), () => wrong.startNew("echoOnce"), () => wrong.getStatusAll(), () => wrong.purgeInstanceHistory("x"), () => wrong.raiseEvent("x", "go")]) {
      const err = await call().catch((e: unknown) => e);
      assert.ok(err instanceof df.DurableError, String(err));
      assert.equal(err.code, "UNAUTHORIZED");
      assert.doesNotMatch(err.message, /wrong-secret-123/);
      assert.doesNotMatch(err.stack ?? "", /wrong-secret-123/);
    }
    await assert.rejects(new RemoteDurableClient(host.url!).getStatus("x"), { code: "UNAUTHORIZED" });

    const spy = spyFetch();
    const client = new RemoteDurableClient(host.url!, { key: KEY, fetch: spy.fetch });
    const id = await client.startNew("echoOnce", { input: "x" });
    await client.waitForCompletion(id);
    await client.getStatusAll();
    await client.purgeInstanceHistory(id);
    assert.ok(spy.seen.length >= 4);
    for (const s of spy.seen) {
      assert.equal(new URL(s.url).searchParams.get("code"), null, `no key in ${s.url}`);
      assert.equal(s.headers.get("x-functions-key"), KEY);
    }
  });

  it("management payload URLs carry the key and point at the base URL (or at the request's origin)", async () => {
    const { host, client } = await start(registerBasics);
    const id = await client.startNew("echoOnce", { input: "payload" });
    await client.waitForCompletion(id);
    const p = client.createHttpManagementPayload(id);
    assert.equal(p.id, id);
    for (const [name, url] of Object.entries(p)) {
      if (name === "id") continue;
      assert.ok((url as string).startsWith(`${host.url!}${BASE}/instances/${id}`), `${name}: ${url}`);
      assert.equal(new URL(url as string).searchParams.get("code"), KEY, `${name} carries the key`);
      assert.equal(new URL(url as string).searchParams.get("taskHub"), "perdure");
    }
    assert.match(p.sendEventPostUri, /\/raiseEvent\/\{eventName\}\?/);
    assert.match(p.terminatePostUri, /\/terminate\?reason=\{text\}&/);
    // The URLs work as they are: no other credentials needed.
    const res = await fetch(p.statusQueryGetUri);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { output: unknown }).output, "payload");
    // Same payload as the host's own client.
    assert.deepEqual(host.client.createHttpManagementPayload(id), p);

    const viaRequest = client.createHttpManagementPayload(id, new Request("https://public.example:8443/api/start"));
    assert.ok(viaRequest.statusQueryGetUri.startsWith(`https://public.example:8443${BASE}/instances/${id}?`));
    assert.equal(new URL(viaRequest.statusQueryGetUri).searchParams.get("code"), KEY);

    const check = client.createCheckStatusResponse(undefined, id);
    assert.equal(check.status, 202);
    assert.equal(check.headers.get("location"), p.statusQueryGetUri);
    assert.equal(check.headers.get("retry-after"), "10");
    assert.deepEqual(await check.json(), p);

    // A client given the webhook base or a trailing slash talks to the same host.
    const hub = new RemoteDurableClient(`${host.url!}${BASE}/`, { key: KEY, taskHub: "hub2" });
    assert.equal(hub.baseUrl, host.url);
    assert.equal((await hub.getStatus(id)).output, "payload");
    assert.equal(new URL(hub.createHttpManagementPayload(id).statusQueryGetUri).searchParams.get("taskHub"), "hub2");
    // A key-less client builds key-less URLs.
    assert.equal(new URL(new RemoteDurableClient(host.url!).createHttpManagementPayload(id).statusQueryGetUri).searchParams.get("code"), null);
  });

  it("waitForCompletionOrCreateCheckStatusResponse answers 200 / 500 / 202 as durable-functions does", async () => {
    const { host, client } = await start(registerBasics);
    const done = await client.startNew("echoOnce", { input: { n: 1 } });
    const ok = await client.waitForCompletionOrCreateCheckStatusResponse(undefined, done, { timeoutInMilliseconds: 10_000, retryIntervalInMilliseconds: 20 });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { n: 1 });

    const failing = await client.startNew("failsNow");
    const failed = await client.waitForCompletionOrCreateCheckStatusResponse(undefined, failing, { timeoutInMilliseconds: 10_000, retryIntervalInMilliseconds: 20 });
    assert.equal(failed.status, 500);
    const body = (await failed.json()) as { runtimeStatus: string; instanceId: string };
    assert.equal(body.runtimeStatus, "Failed");
    assert.equal(body.instanceId, failing);

    const waiting = await client.startNew("waitForGo");
    const pending = await client.waitForCompletionOrCreateCheckStatusResponse(new Request("http://front.example/api/x"), waiting, { timeoutInMilliseconds: 100, retryIntervalInMilliseconds: 20 });
    assert.equal(pending.status, 202);
    assert.equal(pending.headers.get("location"), client.createHttpManagementPayload(waiting, new Request("http://front.example/api/x")).statusQueryGetUri);
    assert.ok(pending.headers.get("location")!.startsWith("http://front.example/"));
    await assert.rejects(client.waitForCompletionOrCreateCheckStatusResponse(undefined, waiting, { timeoutInMilliseconds: 10, retryIntervalInMilliseconds: 20 }), {
      code: "INVALID_ARGUMENT",
      message: "Total timeout 10 (ms) should be bigger than retry timeout 20 (ms)",
    });
    await client.terminate(waiting, "cleanup");
    const terminated = await client.waitForCompletionOrCreateCheckStatusResponse(undefined, waiting, { timeoutInMilliseconds: 10_000, retryIntervalInMilliseconds: 20 });
    assert.equal(terminated.status, 200);
    assert.equal(((await terminated.json()) as { runtimeStatus: string }).runtimeStatus, "Terminated");
    assert.ok(host.url);
  });

  it("other answers become HTTP_ERROR with the status and body; an unreachable host too", async () => {
    const { host } = await start(registerBasics);
    // A path prefix the host does not serve: its 404 NOT_FOUND is not "instance not found".
    const misrouted = new RemoteDurableClient(`${host.url!}/not-perdure`, { key: KEY });
    const err = await misrouted.getStatus("x").catch((e: unknown) => e);
    assert.ok(err instanceof df.DurableError);
    assert.equal(err.code, "HTTP_ERROR");
    assert.match(err.message, /^The operation failed with an unexpected status code: 404\. Details: \{.*"NOT_FOUND"/);
    assert.equal((err as unknown as { status: number }).status, 404);
    await assert.rejects(misrouted.purgeInstanceHistory("x"), { code: "HTTP_ERROR" });

    const unavailable: typeof fetch = async () => new Response("<html>upstream down, key=secret-xyz</html>", { status: 503 });
    const viaProxy = new RemoteDurableClient("http://proxy.invalid", { key: "secret-xyz", fetch: unavailable });
    const e503 = await viaProxy.terminate("x", "r").catch((e: unknown) => e);
    assert.equal((e503 as df.DurableError).code, "HTTP_ERROR");
    assert.match((e503 as Error).message, /^The operation failed with an unexpected status code: 503\. Details: <html>upstream down, key=\*\*\*<\/html>$/);

    const nobody = new RemoteDurableClient("http://127.0.0.1:1", { key: "secret-xyz" });
    const down = await nobody.getStatus("x").catch((e: unknown) => e);
    assert.equal((down as df.DurableError).code, "HTTP_ERROR");
    assert.match((down as Error).message, /Could not reach the Perdure host at http:\/\/127\.0\.0\.1:1/);
    assert.doesNotMatch((down as Error).message, /secret-xyz/);

    assert.throws(() => new RemoteDurableClient("not a url"), { code: "INVALID_ARGUMENT" });
    assert.throws(() => new RemoteDurableClient("http://h/?code=abc"), { code: "INVALID_ARGUMENT" });
    assert.throws(() => new RemoteDurableClient("http://h", { key: "bad\nkey" }), (e: Error) => (e as df.DurableError).code === "INVALID_ARGUMENT" && !e.message.includes("bad\nkey"));
  });
});
